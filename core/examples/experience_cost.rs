//! What recording an action's duration costs, beside a baseline measured in the same run: the
//! same event written as its own transaction (what a per-action INSERT outside the action's
//! transaction would cost).
//!
//! `cargo run --release -p outpost-core --example experience_cost [N]`

use outpost_core::{Store, StoreOptions};
use std::time::Instant;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|v| v.parse().ok())
        .unwrap_or(6_400);
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("cost.db");
    let store = Store::open(&path, StoreOptions::default())?;
    let started = Instant::now();
    for _ in 0..n {
        store.note_sync(Instant::now());
    }
    store.experience()?;
    let buffered = started.elapsed();
    drop(store);

    // Baseline: one transaction per event, same table, same file settings.
    let mut conn = rusqlite::Connection::open(&path)?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    let started = Instant::now();
    for i in 0..n {
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        tx.execute(
            "INSERT INTO experience_events(at_ms, kind, name, ms) VALUES (?1, 'action', 'sync', 0)",
            [i as i64],
        )?;
        tx.commit()?;
    }
    let per_commit = started.elapsed();
    let us = |d: std::time::Duration| d.as_secs_f64() * 1e6 / n as f64;
    println!(
        "{{\"events\": {n}, \"buffered_us_per_action\": {:.2}, \"own_transaction_us_per_action\": {:.2}}}",
        us(buffered),
        us(per_commit)
    );
    Ok(())
}
