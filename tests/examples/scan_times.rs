//! Times every stage of the scan on a directory of photos (as `scan_cases` writes them:
//! `photo-NN-card-…jpg`, `photo-NN-contract-…jpg`) with the benchmark's one-thread scanner,
//! and prints the per-stage medians of cards and of contracts: a tool for working on the
//! scanner's speed. `cargo run --release -p outpost-tests --example scan_times -- DIR`

use outpost_core::scan::pipeline::ScanTimings;
use outpost_core::scan::DocKind;
use outpost_tests::bench_scan::one_thread_scanner;

fn stages(t: &ScanTimings) -> [(&'static str, f64); 10] {
    [
        ("decode", t.decode),
        ("detect", t.detect),
        ("detect_text", t.detect_text),
        ("enhance", t.enhance),
        ("ocr", t.ocr),
        ("ocr_detect", t.ocr_detect),
        ("ocr_orient", t.ocr_orient),
        ("ocr_recognize", t.ocr_recognize),
        ("extract", t.extract),
        ("total", t.decode + t.detect + t.enhance + t.ocr + t.extract),
    ]
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    if v.is_empty() {
        0.0
    } else {
        v[v.len() / 2]
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = std::env::args()
        .nth(1)
        .ok_or("usage: scan_times DIR (photos written by scan_cases)")?;
    let scanner = one_thread_scanner()?;
    let mut paths: Vec<_> = std::fs::read_dir(&dir)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "jpg"))
        .collect();
    paths.sort();
    for kind in ["card", "contract"] {
        let mut all: Vec<ScanTimings> = Vec::new();
        for p in paths.iter().filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.contains(&format!("-{kind}-")))
        }) {
            let r = scanner.scan(&std::fs::read(p)?, DocKind::Auto)?;
            let line: Vec<String> = stages(&r.timings_ms)
                .iter()
                .map(|(k, v)| format!("{k} {v:.0}"))
                .collect();
            println!(
                "{:<40} rot {:>3} {}",
                p.file_name().and_then(|n| n.to_str()).unwrap_or(""),
                r.rotation,
                line.join(" ")
            );
            all.push(r.timings_ms);
        }
        let names = stages(&ScanTimings::default());
        let med: Vec<String> = names
            .iter()
            .enumerate()
            .map(|(i, (k, _))| {
                let mut v: Vec<f64> = all.iter().map(|t| stages(t)[i].1).collect();
                format!("{k} {:.0}", median(&mut v))
            })
            .collect();
        println!("MEDIAN {kind} ({} photos): {}", all.len(), med.join(" "));
    }
    Ok(())
}
