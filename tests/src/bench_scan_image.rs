//! Measuring the image half of scanning: corner accuracy on synthetic photos, enhancement time
//! on 12 MP photos, and peak memory in a fresh child process.
//!
//! The `scan` benchmark calls [`corner_accuracy`], [`enhance_timing`] and [`peak_rss`]; the
//! child side of [`peak_rss`] is [`rss_child_main_if_requested`], which `outpost-bench` runs
//! first thing in `main`.

use crate::scan_photo::{self, SyntheticPhoto};
use outpost_core::scan::{self, quad_iou, DocKind};
use std::path::Path;
use std::time::Instant;

/// Environment variable naming the JPEG a child process should scan for [`peak_rss`].
pub const RSS_CHILD_ENV: &str = "OUTPOST_SCAN_RSS_CHILD";

/// Corner IoU over a set of photos.
#[derive(Debug, Clone, serde::Serialize)]
pub struct CornerAccuracy {
    /// Photos measured.
    pub photos: usize,
    /// Mean IoU of detected vs true quadrilateral (0 for photos that errored).
    pub corner_iou_mean: f64,
    /// Worst IoU.
    pub corner_iou_min: f64,
    /// Photos where a document was reported found.
    pub found: usize,
    /// Per photo: IoU, in corpus order.
    pub per_photo: Vec<f64>,
    /// Median detection time (ms).
    pub detect_ms_p50: f64,
}

/// Runs [`scan::prepare`] on every photo and compares the corners with the ground truth.
pub fn corner_accuracy(photos: &[SyntheticPhoto]) -> CornerAccuracy {
    let mut ious = Vec::with_capacity(photos.len());
    let mut detect = Vec::new();
    let mut found = 0;
    for p in photos {
        match scan::prepare(&p.jpeg, DocKind::Auto) {
            Ok(prep) => {
                ious.push(f64::from(quad_iou(&prep.corners, &p.corners)));
                detect.push(prep.timings.detect_ms);
                found += usize::from(prep.document_found);
            }
            Err(_) => ious.push(0.0),
        }
    }
    let n = ious.len().max(1) as f64;
    CornerAccuracy {
        photos: photos.len(),
        corner_iou_mean: ious.iter().sum::<f64>() / n,
        corner_iou_min: ious.iter().copied().fold(f64::INFINITY, f64::min).min(1.0),
        found,
        detect_ms_p50: median(&mut detect),
        per_photo: ious,
    }
}

/// Median of `v` (0 when empty).
pub fn median(v: &mut [f64]) -> f64 {
    if v.is_empty() {
        return 0.0;
    }
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// Timings of [`scan::prepare`] on large photos.
#[derive(Debug, Clone, serde::Serialize)]
pub struct EnhanceTiming {
    /// Photos measured.
    pub photos: usize,
    /// Photo size in megapixels.
    pub megapixels: f64,
    /// Median warp + flatten + sharpen time (ms).
    pub enhance_ms_p50: f64,
    /// Median decode time (ms).
    pub decode_ms_p50: f64,
    /// Median corner detection time (ms).
    pub detect_ms_p50: f64,
    /// Baseline in the same run: one plain copy of the decoded frame, then a grey conversion
    /// of it, with no warp (ms, median). The enhancement touches each output pixel a few times;
    /// this says what touching the input frame once costs on this machine.
    pub baseline_copy_grey_ms_p50: f64,
}

/// Times [`scan::prepare`] on `n` synthetic photos of `width x height` (12 MP: 4000 x 3000).
pub fn enhance_timing(n: usize, width: u32, height: u32, seed: u64) -> EnhanceTiming {
    let photos = scan_photo::corpus(n, width, height, seed);
    let (mut enh, mut dec, mut det, mut base) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for p in &photos {
        if let Ok(prep) = scan::prepare(&p.jpeg, DocKind::Auto) {
            enh.push(prep.timings.enhance_ms);
            dec.push(prep.timings.decode_ms);
            det.push(prep.timings.detect_ms);
        }
        if let Ok(img) = image::load_from_memory(&p.jpeg) {
            let t = Instant::now();
            let rgb = img.to_rgb8();
            let grey = image::DynamicImage::ImageRgb8(rgb).to_luma8();
            std::hint::black_box(&grey);
            base.push(t.elapsed().as_secs_f64() * 1000.0);
        }
    }
    EnhanceTiming {
        photos: n,
        megapixels: f64::from(width) * f64::from(height) / 1e6,
        enhance_ms_p50: median(&mut enh),
        decode_ms_p50: median(&mut dec),
        detect_ms_p50: median(&mut det),
        baseline_copy_grey_ms_p50: median(&mut base),
    }
}

/// Peak memory of one scan, measured in a fresh child process.
#[derive(Debug, Clone, serde::Serialize)]
pub struct PeakRss {
    /// VmHWM of the child just before scanning (its own code, libraries and the JPEG bytes).
    pub before_mb: f64,
    /// VmHWM after [`scan::prepare`].
    pub peak_rss_mb: f64,
    /// The decoded RGB frame: width * height * 3 bytes.
    pub frame_mb: f64,
    /// `(peak_rss_mb - before_mb) / frame_mb`: what scanning itself added, in frames.
    pub scan_over_frame: f64,
    /// `peak_rss_mb / frame_mb`: the whole process, in frames.
    pub total_over_frame: f64,
}

fn vm_hwm_kb() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

/// If this process was started by [`peak_rss`] (the [`RSS_CHILD_ENV`] variable is set), scans the
/// named file, prints `before_kb peak_kb width height` on stdout and exits. Otherwise returns.
pub fn rss_child_main_if_requested() {
    let Some(path) = std::env::var_os(RSS_CHILD_ENV) else {
        return;
    };
    let code = match std::fs::read(&path) {
        Ok(bytes) => {
            let before = vm_hwm_kb().unwrap_or(0);
            match scan::prepare(&bytes, DocKind::Auto) {
                Ok(p) => {
                    let peak = vm_hwm_kb().unwrap_or(0);
                    println!("{before} {peak} {} {}", p.oriented_width, p.oriented_height);
                    0
                }
                Err(e) => {
                    eprintln!("scan failed: {e}");
                    2
                }
            }
        }
        Err(e) => {
            eprintln!("cannot read {}: {e}", path.to_string_lossy());
            2
        }
    };
    std::process::exit(code);
}

/// Scans `jpeg` in a fresh child process (this executable, which must call
/// [`rss_child_main_if_requested`] first thing) and reports its peak memory.
pub fn peak_rss(exe: &Path, jpeg: &Path) -> Result<PeakRss, String> {
    let out = std::process::Command::new(exe)
        .env(RSS_CHILD_ENV, jpeg)
        .output()
        .map_err(|e| format!("cannot start {}: {e}", exe.display()))?;
    if !out.status.success() {
        return Err(format!(
            "child failed: {}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let nums: Vec<f64> = text
        .lines()
        .last()
        .unwrap_or("")
        .split_whitespace()
        .filter_map(|s| s.parse().ok())
        .collect();
    let [before, peak, w, h] = nums[..] else {
        return Err(format!("unexpected child output {text:?}"));
    };
    let frame_mb = w * h * 3.0 / 1_048_576.0;
    let (before_mb, peak_rss_mb) = (before / 1024.0, peak / 1024.0);
    Ok(PeakRss {
        before_mb,
        peak_rss_mb,
        frame_mb,
        scan_over_frame: (peak_rss_mb - before_mb) / frame_mb,
        total_over_frame: peak_rss_mb / frame_mb,
    })
}
