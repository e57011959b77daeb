//! Times Tesseract on PNG/JPEG files: `ocr_timing card|page FILE...` prints one JSON object
//! with the OCR time of every file and the median, and whether `OMP_THREAD_LIMIT` was set
//! when the process started (OpenMP reads it only then). `OCR_TIMING_TEXT=1` also prints
//! the lines read.
//!
//! ```sh
//! cargo build --release -p outpost-core --features scan --example ocr_timing
//! OMP_THREAD_LIMIT=1 target/release/examples/ocr_timing page contract-*.png
//! env -u OMP_THREAD_LIMIT target/release/examples/ocr_timing page contract-*.png
//! ```

use outpost_core::scan::ocr::{thread_limit, Ocr, OcrOptions, PageLayout};
use std::time::Instant;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let started_with = thread_limit();
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
    let init = Instant::now();
    let mut ocr = Ocr::new(&OcrOptions::default())?;
    let init_ms = init.elapsed().as_secs_f64() * 1000.0;
    let mut times = Vec::new();
    for file in &files {
        let image = image::open(file)?.to_luma8();
        let t = Instant::now();
        let page = ocr.recognize(&image, layout)?;
        let ms = t.elapsed().as_secs_f64() * 1000.0;
        eprintln!("{file}: {ms:.0} ms, {} lines", page.lines.len());
        if std::env::var_os("OCR_TIMING_TEXT").is_some() {
            for line in &page.lines {
                eprintln!("  {:?} {:.2} {:?}", line.text, line.confidence, line.bbox);
            }
        }
        times.push(ms);
    }
    let mut sorted = times.clone();
    sorted.sort_by(f64::total_cmp);
    let p50 = sorted[sorted.len() / 2];
    println!(
        "{{\"layout\": \"{layout:?}\", \"omp_thread_limit_at_start\": {:?}, \"init_ms\": {init_ms:.0}, \"ocr_ms_p50\": {p50:.0}, \"ocr_ms\": {:?}}}",
        started_with.unwrap_or_else(|| "unset".into()),
        times.iter().map(|t| t.round()).collect::<Vec<_>>()
    );
    Ok(())
}
