//! Times PP-OCR on PNG/JPEG files: `ocr_timing card|page FILE...` prints one JSON object with
//! the model load time, the OCR time of every file and the median. `OCR_TIMING_TEXT=1` also
//! prints the lines read; `OCR_THREADS=N` limits inference to N threads.
//!
//! ```sh
//! scripts/fetch-models.sh
//! cargo build --release -p outpost-core --features scan --example ocr_timing
//! OCR_THREADS=1 target/release/examples/ocr_timing page contract-*.png
//! ```

use outpost_core::scan::ocr::{Ocr, OcrOptions, PageLayout};
use std::time::Instant;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let layout = match args.next().as_deref() {
        Some("card") => PageLayout::Card,
        Some("page") => PageLayout::Page,
        other => return Err(format!("first argument must be card or page, not {other:?}").into()),
    };
    let files: Vec<String> = args.collect();
    if files.is_empty() {
        return Err("no image files given".into());
    }
    let threads = std::env::var("OCR_THREADS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let ocr = Ocr::new(&OcrOptions {
        models: None,
        threads,
    })?;
    let mut times = Vec::new();
    for file in &files {
        let image = image::open(file)?.to_rgb8();
        let t = Instant::now();
        let read = ocr.read(image, layout)?;
        let ms = t.elapsed().as_secs_f64() * 1000.0;
        eprintln!(
            "{file}: {ms:.0} ms, {} lines, rotation {}",
            read.page.lines.len(),
            read.rotation
        );
        if std::env::var_os("OCR_TIMING_TEXT").is_some() {
            for line in &read.page.lines {
                eprintln!("  {:?} {:.2} {:?}", line.text, line.confidence, line.bbox);
            }
        }
        times.push(ms);
    }
    let mut sorted = times.clone();
    sorted.sort_by(f64::total_cmp);
    let p50 = sorted[sorted.len() / 2];
    println!(
        "{{\"layout\": \"{layout:?}\", \"threads\": {threads}, \"load_ms\": {:.0}, \"ocr_ms_p50\": {p50:.0}, \"ocr_ms\": {:?}}}",
        ocr.load_ms(),
        times.iter().map(|t| t.round()).collect::<Vec<_>>()
    );
    Ok(())
}
