//! Scans photo files and prints corners, timings and peak memory; writes the flat image.
//!
//! `cargo run --release -p outpost-core --features scan --example scan_file -- PHOTO.jpg [OUT.png]`

use outpost_core::scan::{self, DocKind};

fn vm_hwm_mb() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines().find(|l| l.starts_with("VmHWM:")).and_then(|l| {
                l.split_whitespace()
                    .nth(1)
                    .and_then(|v| v.parse::<f64>().ok())
            })
        })
        .map_or(0.0, |kb| kb / 1024.0)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(path) = args.first() else {
        return Err("usage: scan_file PHOTO.jpg [OUT.png]".into());
    };
    let bytes = std::fs::read(path)?;
    let before = vm_hwm_mb();
    let p = scan::prepare(&bytes, DocKind::Auto)?;
    let peak = vm_hwm_mb();
    let frame_mb = f64::from(p.oriented_width) * f64::from(p.oriented_height) * 3.0 / 1_048_576.0;
    println!(
        "{{\"width\":{},\"height\":{},\"found\":{},\"confidence\":{:.3},\"corners\":{:?},\"flat\":[{},{}],\"upscale\":{:.2},\"decode_ms\":{:.1},\"detect_ms\":{:.1},\"enhance_ms\":{:.1},\"rss_before_mb\":{:.1},\"peak_rss_mb\":{:.1},\"frame_mb\":{:.1}}}",
        p.oriented_width, p.oriented_height, p.document_found, p.corner_confidence, p.corners,
        p.flat.width(), p.flat.height(), p.upscale, p.timings.decode_ms, p.timings.detect_ms,
        p.timings.enhance_ms, before, peak, frame_mb
    );
    if let Some(out) = args.get(1) {
        p.flat_colour.save(out)?;
    }
    Ok(())
}
