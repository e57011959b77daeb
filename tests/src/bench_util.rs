//! Helpers shared by the benchmarks.

use std::io::Write;

/// Any benchmark failure.
pub type BenchError = Box<dyn std::error::Error + Send + Sync>;

/// Rounds to three decimals.
pub(crate) fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

/// Progress lines on stderr, when asked for.
pub(crate) struct Progress {
    pub(crate) on: bool,
}

impl Progress {
    pub(crate) fn say(&self, msg: std::fmt::Arguments<'_>) {
        if self.on {
            let mut err = std::io::stderr().lock();
            let _ = writeln!(err, "{msg}");
        }
    }
}
