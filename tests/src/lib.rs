//! # outpost-tests
//!
//! Cross-crate tests and the `outpost-bench` benchmark of Outpost.
//!
//! - [`fixtures`]: realistic, deterministic contacts (Chinese and English names, companies,
//!   mobile and landline numbers, e-mails, addresses, notes) from a seeded generator.
//! - [`bench_store`]: the device-store benchmark (save, search, size), each number next to a
//!   baseline measured in the same run. Run it with
//!   `cargo run --release -p outpost-tests --bin outpost-bench -- store --json`.

pub mod bench_store;
pub mod fixtures;
pub mod procs;
