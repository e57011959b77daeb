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

/// Opens (creating) a SQLite database at `path` the way the device store runs: WAL,
/// `synchronous=NORMAL`. The benchmarks' baselines use it so that they pay what the store pays.
pub(crate) fn open_wal(path: &std::path::Path) -> Result<rusqlite::Connection, BenchError> {
    let conn = rusqlite::Connection::open(path)?;
    let _mode: String = conn.pragma_update_and_check(None, "journal_mode", "WAL", |r| r.get(0))?;
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    Ok(conn)
}

/// The contact fields as the baselines' plain `contacts` table holds them (phones, emails and
/// extra as JSON text), without any index but the rowid.
pub(crate) const CONTACTS_TABLE: &str = "CREATE TABLE contacts (
    rid        INTEGER PRIMARY KEY,
    id         TEXT NOT NULL,
    name       TEXT NOT NULL,
    company    TEXT,
    title      TEXT,
    phones     TEXT NOT NULL,
    emails     TEXT NOT NULL,
    address    TEXT,
    source     TEXT,
    owner      TEXT,
    status     TEXT NOT NULL DEFAULT 'active',
    notes      TEXT,
    extra      TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);";
