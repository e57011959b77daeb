//! Prints the corner IoU of each synthetic photo: `cargo run -p outpost-tests --example scan_iou -- N W H SEED`.

use outpost_tests::bench_scan_image::corner_accuracy;
use outpost_tests::scan_photo::corpus;

fn main() {
    let a: Vec<u64> = std::env::args()
        .skip(1)
        .filter_map(|s| s.parse().ok())
        .collect();
    let (n, w, h, seed) = (
        a.first().copied().unwrap_or(24),
        a.get(1).copied().unwrap_or(1600),
        a.get(2).copied().unwrap_or(1200),
        a.get(3).copied().unwrap_or(7),
    );
    let t = std::time::Instant::now();
    let photos = corpus(n as usize, w as u32, h as u32, seed);
    eprintln!("synth {:.1}s", t.elapsed().as_secs_f64());
    let t = std::time::Instant::now();
    let acc = corner_accuracy(&photos);
    eprintln!("scan {:.1}s", t.elapsed().as_secs_f64());
    for (i, (iou, p)) in acc.per_photo.iter().zip(&photos).enumerate() {
        let pr = &p.params;
        println!(
            "{i:2} {iou:.4} {:?} rot {:.0} tilt {:.0},{:.0} edge {} shadow {} exif {}",
            pr.background,
            pr.rotation_deg,
            pr.tilt_deg[0],
            pr.tilt_deg[1],
            pr.at_edge,
            pr.shadow,
            pr.exif_orientation
        );
    }
    println!(
        "mean {:.4} min {:.4} found {}/{}",
        acc.corner_iou_mean, acc.corner_iou_min, acc.found, acc.photos
    );
}
