//! The duplicate and import benchmark, each number next to a baseline measured in the same run:
//!
//! - `import_rows_per_s`: `Store::import_file` of a generated CSV of `contacts` rows (Chinese
//!   headers, UTF-8) into an empty store: parsing, validation, duplicate checks within the file
//!   and against the store, documents, projections, search tokens, match keys and outbox, in
//!   one transaction; beside `raw_insert_rows_per_s`, the same rows (already parsed) inserted
//!   into a plain SQLite table in one transaction with one prepared statement, and
//!   `plain_import_rows_per_s`, the same rows saved by a plain SQLite app without sync
//!   ([`crate::bench_plain`]: phones split into an indexed table, an FTS5 trigram index) in one
//!   transaction.
//! - `dup_check_p50_ms` / `dup_check_p99_ms`: `Store::find_duplicates` at that store size, for
//!   contacts that are in the store (typed differently: phone with spaces and +86) and for
//!   contacts that are not.
//!
//! `cargo run --release -p outpost-tests --bin outpost-bench -- dedup --json`

use crate::bench_plain::{PlainApp, PlainContact};
use crate::bench_util::{round3, BenchError, Progress};
use crate::fixtures;
use outpost_core::{DupQuery, ImportOptions, NewContact, Store, StoreOptions};
use serde::Serialize;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// What to run.
#[derive(Debug, Clone)]
pub struct DedupBenchConfig {
    /// Rows in the imported CSV (= contacts in the store for the duplicate checks).
    pub contacts: usize,
    /// Timed duplicate checks (half of stored contacts, half of new ones).
    pub checks: usize,
    /// Seed of the generated contacts.
    pub seed: u64,
    /// Where to make the temporary directory.
    pub parent_dir: PathBuf,
    /// Progress lines on stderr.
    pub progress: bool,
    /// Keep the files afterwards.
    pub keep: bool,
}

/// The targets of issue 7.
#[derive(Debug, Clone, Serialize)]
pub struct DedupTargets {
    /// dup-check p99 at most this (ms).
    pub dup_check_p99_ms_max: f64,
    /// Import at least this many rows per second.
    pub import_rows_per_s_min: f64,
    /// Import within this factor of the raw insert.
    pub import_vs_raw_max: f64,
    /// Import within this factor of the plain app's (issue 21).
    pub import_vs_plain_max: f64,
}

/// The numbers.
#[derive(Debug, Clone, Serialize)]
pub struct DedupReport {
    /// Contacts in the store during the checks.
    pub contacts: u64,
    /// Median duplicate-check time (ms).
    pub dup_check_p50_ms: f64,
    /// 99th percentile duplicate-check time (ms).
    pub dup_check_p99_ms: f64,
    /// Checks timed.
    pub dup_checks: u64,
    /// Checks of stored contacts that found them.
    pub dup_check_hits: u64,
    /// Import speed (rows per second, whole `import_file` call).
    pub import_rows_per_s: f64,
    /// Baseline: the same parsed rows into a plain table, one transaction.
    pub raw_insert_rows_per_s: f64,
    /// `raw_insert_rows_per_s / import_rows_per_s`.
    pub import_vs_raw: f64,
    /// The honest peer: the same rows saved by a plain SQLite app without sync (row, phone
    /// index, FTS5 trigram index), one transaction.
    pub plain_import_rows_per_s: f64,
    /// `plain_import_rows_per_s / import_rows_per_s`.
    pub import_vs_plain: f64,
    /// Rows in the file.
    pub rows: u64,
    /// Contacts the import created.
    pub imported: u64,
    /// Rows it found to be duplicates (the generator repeats some phones and names).
    pub duplicates: u64,
    /// Rows it refused.
    pub skipped: u64,
    /// Whole import (s).
    pub import_secs: f64,
    /// The targets.
    pub targets: DedupTargets,
}

/// The CSV columns, as a Chinese spreadsheet names them.
const HEADERS: [&str; 9] = [
    "姓名", "公司", "职位", "手机", "邮箱", "地址", "来源", "备注", "微信",
];

fn row(c: &NewContact) -> [String; 9] {
    [
        c.name.clone(),
        c.company.clone().unwrap_or_default(),
        c.title.clone().unwrap_or_default(),
        c.phones.join("; "),
        c.emails.join("; "),
        c.address.clone().unwrap_or_default(),
        c.source.clone().unwrap_or_default(),
        c.notes.clone().unwrap_or_default(),
        c.extra.get("wechat").cloned().unwrap_or_default(),
    ]
}

fn write_csv(path: &Path, seed: u64, n: usize) -> Result<Vec<[String; 9]>, BenchError> {
    let mut w = csv::Writer::from_path(path)?;
    w.write_record(HEADERS)?;
    let mut rows = Vec::with_capacity(n);
    for i in 0..n {
        let r = row(&fixtures::contact_at(seed, i));
        w.write_record(&r)?;
        rows.push(r);
    }
    w.flush()?;
    Ok(rows)
}

fn raw_insert(path: &Path, rows: &[[String; 9]]) -> Result<f64, BenchError> {
    let mut conn = crate::bench_util::open_wal(path)?;
    conn.execute_batch(
        "CREATE TABLE raw(name TEXT, company TEXT, title TEXT, phones TEXT, emails TEXT, \
         address TEXT, source TEXT, notes TEXT, wechat TEXT)",
    )?;
    let t = Instant::now();
    let tx = conn.transaction()?;
    {
        let mut stmt = tx.prepare("INSERT INTO raw VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)")?;
        for r in rows {
            stmt.execute(rusqlite::params_from_iter(r.iter()))?;
        }
    }
    tx.commit()?;
    Ok(t.elapsed().as_secs_f64())
}

/// The rows as the plain app saves them: phones and emails split on `;`, WeChat in `extra`, a
/// UUIDv7 each (made before the clock starts, like the parsing).
fn plain_rows(rows: &[[String; 9]]) -> Result<Vec<PlainContact>, BenchError> {
    let split = |s: &str| -> Vec<String> {
        s.split(';')
            .map(str::trim)
            .filter(|p| !p.is_empty())
            .map(str::to_string)
            .collect()
    };
    let text = |s: &str| (!s.is_empty()).then(|| s.to_string());
    let now = "2026-12-06T00:00:00Z".to_string();
    rows.iter()
        .map(|r| {
            let extra = if r[8].is_empty() {
                "{}".to_string()
            } else {
                serde_json::to_string(&serde_json::json!({ "wechat": r[8] }))?
            };
            Ok(PlainContact {
                id: uuid::Uuid::now_v7().to_string(),
                name: r[0].clone(),
                company: text(&r[1]),
                title: text(&r[2]),
                phones: split(&r[3]),
                emails: split(&r[4]),
                address: text(&r[5]),
                source: text(&r[6]),
                owner: Some("bench".into()),
                notes: text(&r[7]),
                extra,
                created_at: now.clone(),
                updated_at: now.clone(),
            })
        })
        .collect()
}

/// Seconds the plain app takes to save `rows` in one transaction into a new database.
fn plain_import(path: &Path, rows: &[PlainContact]) -> Result<f64, BenchError> {
    let mut app = PlainApp::create(path)?;
    let t = Instant::now();
    app.save_all(rows)?;
    Ok(t.elapsed().as_secs_f64())
}

/// Nearest-rank percentile of sorted values.
fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// A phone typed the other way: `+86 138-0013-8000` for `13800138000`.
fn retyped(phone: &str) -> String {
    let digits: String = phone.chars().filter(char::is_ascii_digit).collect();
    if digits.len() == 11 && digits.starts_with('1') {
        format!("+86 {}-{}-{}", &digits[..3], &digits[3..7], &digits[7..])
    } else {
        phone.to_string()
    }
}

/// Runs the benchmark.
pub fn run(config: &DedupBenchConfig) -> Result<DedupReport, BenchError> {
    let progress = Progress {
        on: config.progress,
    };
    let dir = tempfile::Builder::new()
        .prefix("outpost-bench-dedup-")
        .tempdir_in(&config.parent_dir)?;
    let csv_path = dir.path().join("contacts.csv");
    progress.say(format_args!(
        "outpost-bench dedup: {} rows in {}",
        config.contacts,
        dir.path().display()
    ));
    let rows = write_csv(&csv_path, config.seed, config.contacts)?;

    let raw_secs = raw_insert(&dir.path().join("raw.db"), &rows)?;
    progress.say(format_args!("  raw insert: {raw_secs:.2} s"));
    let plain_secs = plain_import(&dir.path().join("plain.db"), &plain_rows(&rows)?)?;
    progress.say(format_args!("  plain app import: {plain_secs:.2} s"));

    let mut store = Store::open(
        dir.path().join("store.db"),
        StoreOptions {
            user: "bench".into(),
            ..StoreOptions::default()
        },
    )?;
    let t = Instant::now();
    let mut last = Instant::now();
    let mut report_progress = |p: outpost_core::ImportProgress| {
        if last.elapsed().as_secs_f64() > 2.0 {
            progress.say(format_args!("  importing {}/{}", p.done, p.total));
            last = Instant::now();
        }
    };
    let summary = store.import_file(&csv_path, &ImportOptions::default(), &mut report_progress)?;
    let import_secs = t.elapsed().as_secs_f64();
    progress.say(format_args!(
        "  import: {import_secs:.2} s, {} imported, {} duplicates, {} skipped",
        summary.imported, summary.duplicates, summary.skipped
    ));

    // Checks: stored contacts typed differently, and contacts that are not there.
    let mut times = Vec::with_capacity(config.checks);
    let mut hits = 0u64;
    let stride = (config.contacts / (config.checks / 2).max(1)).max(1);
    for k in 0..config.checks {
        let stored = k % 2 == 0;
        let i = if stored {
            (k / 2 * stride) % config.contacts.max(1)
        } else {
            config.contacts + k
        };
        let c = fixtures::contact_at(config.seed, i);
        let query = DupQuery {
            name: Some(c.name.clone()),
            company: c.company.clone(),
            phones: c.phones.iter().map(|p| retyped(p)).collect(),
            emails: c.emails.clone(),
        };
        let t = Instant::now();
        let found = store.find_duplicates(&query)?;
        times.push(t.elapsed().as_secs_f64() * 1000.0);
        if stored && !found.is_empty() {
            hits += 1;
        }
    }
    times.sort_by(f64::total_cmp);
    drop(store);
    if config.keep {
        let kept = dir.keep();
        progress.say(format_args!("  kept {}", kept.display()));
    }

    let n = config.contacts as f64;
    let import_rows_per_s = n / import_secs.max(1e-9);
    let raw_insert_rows_per_s = n / raw_secs.max(1e-9);
    let plain_import_rows_per_s = n / plain_secs.max(1e-9);
    Ok(DedupReport {
        contacts: summary.imported,
        dup_check_p50_ms: round3(percentile(&times, 50.0)),
        dup_check_p99_ms: round3(percentile(&times, 99.0)),
        dup_checks: times.len() as u64,
        dup_check_hits: hits,
        import_rows_per_s: import_rows_per_s.round(),
        raw_insert_rows_per_s: raw_insert_rows_per_s.round(),
        import_vs_raw: round3(raw_insert_rows_per_s / import_rows_per_s.max(1e-9)),
        plain_import_rows_per_s: plain_import_rows_per_s.round(),
        import_vs_plain: round3(plain_import_rows_per_s / import_rows_per_s.max(1e-9)),
        rows: summary.rows,
        imported: summary.imported,
        duplicates: summary.duplicates,
        skipped: summary.skipped,
        import_secs: round3(import_secs),
        targets: DedupTargets {
            dup_check_p99_ms_max: 1.0,
            import_rows_per_s_min: 30_000.0,
            import_vs_raw_max: 5.0,
            import_vs_plain_max: 3.0,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tiny_run_reports_every_number() -> Result<(), BenchError> {
        let dir = tempfile::tempdir()?;
        let r = run(&DedupBenchConfig {
            contacts: 300,
            checks: 40,
            seed: 7,
            parent_dir: dir.path().to_path_buf(),
            progress: false,
            keep: false,
        })?;
        assert_eq!(r.rows, 300);
        assert_eq!(r.imported + r.duplicates + r.skipped, 300);
        assert!(r.imported > 250, "{r:?}");
        assert_eq!(r.dup_checks, 40);
        assert_eq!(r.dup_check_hits, 20, "every stored contact is found again");
        assert!(r.import_rows_per_s > 0.0 && r.raw_insert_rows_per_s > 0.0);
        assert!(r.plain_import_rows_per_s > 0.0 && r.import_vs_plain > 0.0);
        assert!(r.dup_check_p99_ms >= r.dup_check_p50_ms);
        Ok(())
    }
}
