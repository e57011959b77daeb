//! Writes synthetic photos as JPEG files with their true corners:
//! `cargo run -p outpost-tests --example scan_synth -- DIR N W H SEED`

use outpost_tests::scan_photo::corpus;

fn main() -> std::io::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let dir = std::path::PathBuf::from(
        args.first()
            .cloned()
            .unwrap_or_else(|| "/tmp/scan-photos".into()),
    );
    let num = |i: usize, d: u64| args.get(i).and_then(|s| s.parse().ok()).unwrap_or(d);
    let (n, w, h, seed) = (num(1, 4), num(2, 4000), num(3, 3000), num(4, 12));
    std::fs::create_dir_all(&dir)?;
    for (i, p) in corpus(n as usize, w as u32, h as u32, seed)
        .iter()
        .enumerate()
    {
        let path = dir.join(format!("photo-{i}.jpg"));
        std::fs::write(&path, &p.jpeg)?;
        println!(
            "{} corners {:?} {:?}",
            path.display(),
            p.corners,
            p.params.background
        );
    }
    Ok(())
}
