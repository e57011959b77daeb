//! The scan benchmark's outside baselines, run on the same raw photos as our scanner, one
//! thread each, in the same run:
//!
//! - RapidOCR (`rapidocr-onnxruntime` 1.4.4 on `onnxruntime`, Python) in the virtualenv that
//!   `scripts/bench-scan-baselines.sh` creates; `scripts/bench_rapidocr.py` (compiled into this
//!   binary) reads the photos and prints each one's time and text as JSON;
//! - raw Tesseract (`OMP_THREAD_LIMIT=1 tesseract PHOTO - -l chi_sim+eng`), one process per
//!   photo, timed from outside as a caller would run it.
//!
//! Neither downloads anything: both are installed beforehand by the script. When one cannot
//! run, the reason is returned and the benchmark reports it instead of a number.

use serde::Deserialize;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

/// The Python runner, written next to the photos at run time.
const RAPIDOCR_RUNNER: &str = include_str!("../../scripts/bench_rapidocr.py");

/// Why a baseline could not be measured.
#[derive(Debug, thiserror::Error)]
pub enum BaselineError {
    /// The virtualenv's Python is not there.
    #[error("{python} not found: run scripts/bench-scan-baselines.sh (or make bench-scan) first")]
    NoVenv {
        /// The interpreter looked for.
        python: PathBuf,
    },
    /// The `tesseract` command is not installed.
    #[error("tesseract cannot be started ({source}): run scripts/bench-scan-baselines.sh first")]
    NoTesseract {
        /// What starting it said.
        source: std::io::Error,
    },
    /// A process failed.
    #[error("{what} failed: {detail}")]
    Failed {
        /// Which baseline.
        what: &'static str,
        /// Exit status and the end of its stderr.
        detail: String,
    },
    /// The RapidOCR runner printed something that is not its JSON.
    #[error("the RapidOCR runner's output is not the expected JSON: {0}")]
    Output(#[from] serde_json::Error),
    /// Writing the runner or the list of photos.
    #[error("writing {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// What the file system said.
        source: std::io::Error,
    },
}

/// One photo read by a baseline.
#[derive(Debug, Clone, Deserialize)]
pub struct BaselineRead {
    /// Milliseconds.
    pub ms: f64,
    /// The text read.
    pub text: String,
}

/// RapidOCR over the photos.
#[derive(Debug, Clone, Deserialize)]
pub struct RapidOcrRun {
    /// `rapidocr-onnxruntime`'s version.
    pub rapidocr_version: String,
    /// `onnxruntime`'s version.
    pub onnxruntime_version: String,
    /// The detection session's intra-op threads, as onnxruntime reports them.
    pub intra_op_num_threads: Option<i64>,
    /// Loading the three models, ms.
    pub load_ms: f64,
    /// Per photo, in the order given.
    pub images: Vec<BaselineRead>,
}

/// The virtualenv the script creates: `$OUTPOST_BENCH_VENV`, else
/// `${XDG_CACHE_HOME:-$HOME/.cache}/outpost/bench-venv`.
pub fn default_venv() -> PathBuf {
    if let Some(v) = std::env::var_os("OUTPOST_BENCH_VENV") {
        return PathBuf::from(v);
    }
    let cache = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
        .unwrap_or_else(std::env::temp_dir);
    cache.join("outpost").join("bench-venv")
}

fn stderr_tail(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(6)..].join(" | ")
}

/// Runs RapidOCR with one thread on `photos` (paths), in the virtualenv `venv`; `work` holds
/// the runner and the list.
pub fn rapidocr(
    venv: &Path,
    photos: &[PathBuf],
    work: &Path,
) -> Result<RapidOcrRun, BaselineError> {
    let python = venv.join("bin").join("python");
    if !python.is_file() {
        return Err(BaselineError::NoVenv { python });
    }
    let write = |path: PathBuf, text: &str| {
        std::fs::write(&path, text).map_err(|source| BaselineError::Io { path, source })
    };
    let runner = work.join("bench_rapidocr.py");
    write(runner.clone(), RAPIDOCR_RUNNER)?;
    let list = work.join("photos.txt");
    let names: Vec<String> = photos.iter().map(|p| p.display().to_string()).collect();
    write(list.clone(), &names.join("\n"))?;
    let out = Command::new(&python)
        .arg(&runner)
        .arg(&list)
        .env("OMP_NUM_THREADS", "1")
        .stdin(Stdio::null())
        .output()
        .map_err(|e| BaselineError::Failed {
            what: "RapidOCR",
            detail: format!("cannot start {}: {e}", python.display()),
        })?;
    if !out.status.success() {
        return Err(BaselineError::Failed {
            what: "RapidOCR",
            detail: format!("{}: {}", out.status, stderr_tail(&out.stderr)),
        });
    }
    let run: RapidOcrRun = serde_json::from_slice(&out.stdout)?;
    if run.images.len() != photos.len() {
        return Err(BaselineError::Failed {
            what: "RapidOCR",
            detail: format!("read {} of {} photos", run.images.len(), photos.len()),
        });
    }
    Ok(run)
}

/// Raw Tesseract over the photos.
#[derive(Debug, Clone)]
pub struct TesseractRun {
    /// `tesseract --version`'s first line.
    pub version: String,
    /// One `tesseract` process on a 64 x 64 blank image: what starting and loading the language
    /// data costs, included in each photo's time.
    pub startup_ms: f64,
    /// Per photo, in the order given.
    pub images: Vec<BaselineRead>,
}

fn tesseract_once(photo: &Path) -> Result<BaselineRead, BaselineError> {
    let started = Instant::now();
    let out = Command::new("tesseract")
        .arg(photo)
        .arg("-")
        .args(["-l", "chi_sim+eng"])
        .env("OMP_THREAD_LIMIT", "1")
        .stdin(Stdio::null())
        .output()
        .map_err(|source| BaselineError::NoTesseract { source })?;
    let ms = started.elapsed().as_secs_f64() * 1000.0;
    if !out.status.success() {
        return Err(BaselineError::Failed {
            what: "tesseract",
            detail: format!(
                "{} on {}: {}",
                out.status,
                photo.display(),
                stderr_tail(&out.stderr)
            ),
        });
    }
    Ok(BaselineRead {
        ms,
        text: String::from_utf8_lossy(&out.stdout).into_owned(),
    })
}

/// Runs raw Tesseract, one process and one thread per photo, on `photos`; `work` holds the
/// blank image of the start-up measurement.
pub fn tesseract(photos: &[PathBuf], work: &Path) -> Result<TesseractRun, BaselineError> {
    let version = Command::new("tesseract")
        .arg("--version")
        .output()
        .map_err(|source| BaselineError::NoTesseract { source })?;
    let version = String::from_utf8_lossy(&version.stdout)
        .lines()
        .chain(String::from_utf8_lossy(&version.stderr).lines())
        .find(|l| l.starts_with("tesseract"))
        .unwrap_or("tesseract")
        .to_string();
    let blank = work.join("blank.png");
    image::GrayImage::from_pixel(64, 64, image::Luma([255]))
        .save(&blank)
        .map_err(|e| BaselineError::Io {
            path: blank.clone(),
            source: std::io::Error::other(e.to_string()),
        })?;
    let startup_ms = tesseract_once(&blank)?.ms;
    let images = photos
        .iter()
        .map(|p| tesseract_once(p))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(TesseractRun {
        version,
        startup_ms,
        images,
    })
}
