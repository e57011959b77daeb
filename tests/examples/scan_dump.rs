//! Writes synthetic photo I with the true (green) and detected (red) corners drawn:
//! `cargo run -p outpost-tests --example scan_dump -- I [N W H SEED]` -> /tmp/scan-dump-I.png

use image::Rgb;
use outpost_core::scan::{self, DocKind};
use outpost_tests::scan_photo::corpus;

fn main() {
    let a: Vec<u64> = std::env::args()
        .skip(1)
        .filter_map(|s| s.parse().ok())
        .collect();
    let i = a.first().copied().unwrap_or(0) as usize;
    let (n, w, h, seed) = (
        a.get(1).copied().unwrap_or(24),
        a.get(2).copied().unwrap_or(1600),
        a.get(3).copied().unwrap_or(1200),
        a.get(4).copied().unwrap_or(7),
    );
    let photos = corpus(n as usize, w as u32, h as u32, seed);
    let p = &photos[i];
    let mut img = image::load_from_memory(&p.jpeg)
        .map(|d| d.to_rgb8())
        .unwrap_or_default();
    if let Ok(mut dec) = image::codecs::jpeg::JpegDecoder::new(std::io::Cursor::new(&p.jpeg)) {
        use image::ImageDecoder;
        let mut d = image::DynamicImage::ImageRgb8(img);
        d.apply_orientation(
            dec.orientation()
                .unwrap_or(image::metadata::Orientation::NoTransforms),
        );
        img = d.to_rgb8();
    }
    let res = scan::prepare(&p.jpeg, DocKind::Auto);
    let draw = |img: &mut image::RgbImage, c: &[[f32; 2]; 4], col: Rgb<u8>| {
        for k in 0..4 {
            let (a, b) = (c[k], c[(k + 1) % 4]);
            imageproc::drawing::draw_line_segment_mut(img, (a[0], a[1]), (b[0], b[1]), col);
            imageproc::drawing::draw_line_segment_mut(
                img,
                (a[0] + 1.0, a[1]),
                (b[0] + 1.0, b[1]),
                col,
            );
        }
    };
    draw(&mut img, &p.corners, Rgb([0, 255, 0]));
    match &res {
        Ok(r) => {
            draw(&mut img, &r.corners, Rgb([255, 0, 0]));
            println!(
                "found {} conf {:.2} corners {:?} truth {:?}",
                r.document_found, r.corner_confidence, r.corners, p.corners
            );
            let _ = r.flat_colour.save(format!("/tmp/scan-flat-{i}.png"));
        }
        Err(e) => println!("error {e}"),
    }
    let _ = image::imageops::resize(
        &img,
        img.width() / 2,
        img.height() / 2,
        image::imageops::FilterType::Triangle,
    )
    .save(format!("/tmp/scan-dump-{i}.png"));
}
