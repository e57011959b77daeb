//! # outpost-tests
//!
//! Cross-crate tests and the `outpost-bench` benchmark of Outpost.
//!
//! - [`fixtures`]: realistic, deterministic contacts (Chinese and English names, companies,
//!   mobile and landline numbers, e-mails, addresses, notes) from a seeded generator.
//! - [`bench_store`]: the device-store benchmark (save, search, size), each number next to a
//!   baseline measured in the same run. Run it with
//!   `cargo run --release -p outpost-tests --bin outpost-bench -- store --json`.
//! - [`bench_sync`]: the sync benchmark (bootstrap, no-change reconnect, one-field edit, server
//!   throughput) against the real server on loopback, next to plain Automerge per-document sync.
//!   Run it with `cargo run --release -p outpost-tests --bin outpost-bench -- sync --json`.
//! - [`bench_dedup`]: duplicate checks at 100,000 contacts, and CSV import speed next to a raw
//!   insert of the same rows. `cargo run --release -p outpost-tests --bin outpost-bench -- dedup --json`.
//! - [`bench_scan`]: the scan benchmark on the hard cases of [`scan_cases`], beside PP-OCR on
//!   the raw photo, RapidOCR and raw Tesseract ([`bench_scan_baselines`]) in the same run.
//!   `make bench-scan`.

pub mod bench_dedup;
pub mod bench_plain;
pub mod bench_scan;
pub mod bench_scan_baselines;
pub mod bench_scan_image;
pub mod bench_store;
pub mod bench_sync;
mod bench_util;
pub mod fixtures;
pub mod inproc;
pub mod procs;
pub mod scan_accuracy;
mod scan_card_content;
mod scan_card_layout;
pub mod scan_cases;
pub mod scan_photo;
pub mod scan_render;
pub mod scan_stats;
pub mod test_ca;
