//! The `outpost` CLI, run as a real process against real database files.

mod contacts;
mod dedup;
mod files;
mod fixes;
mod flow;
mod import;
mod input;
mod search;
mod security;
mod visits;

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;

pub(crate) type TestResult = Result<(), Box<dyn std::error::Error>>;

pub(crate) struct Outcome {
    pub(crate) code: i32,
    pub(crate) json: Value,
    pub(crate) stderr: String,
}

pub(crate) struct Cli {
    /// Keeps the temporary directory alive as long as the test runs.
    pub(crate) _dir: tempfile::TempDir,
    pub(crate) db: PathBuf,
}

impl Cli {
    pub(crate) fn new() -> Result<Cli, std::io::Error> {
        let dir = tempfile::tempdir()?;
        let db = dir.path().join("rep.db");
        Ok(Cli { _dir: dir, db })
    }

    pub(crate) fn run(&self, args: &[&str]) -> Result<Outcome, Box<dyn std::error::Error>> {
        run_with_db(&self.db, args)
    }

    /// Runs and expects success; returns the JSON.
    pub(crate) fn ok(&self, args: &[&str]) -> Result<Value, Box<dyn std::error::Error>> {
        let out = self.run(args)?;
        if out.code != 0 {
            return Err(format!("outpost {args:?} exited {}: {}", out.code, out.stderr).into());
        }
        Ok(out.json)
    }

    /// Every record's id and document bytes, straight from the file.
    pub(crate) fn records(&self) -> Result<Vec<(String, Vec<u8>)>, rusqlite::Error> {
        let conn = rusqlite::Connection::open(&self.db)?;
        let mut stmt = conn.prepare("SELECT id, doc FROM records ORDER BY id")?;
        let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
        rows.collect()
    }
}

pub(crate) fn run_with_db(db: &Path, args: &[&str]) -> Result<Outcome, Box<dyn std::error::Error>> {
    let out = Command::new(env!("CARGO_BIN_EXE_outpost"))
        .arg("--db")
        .arg(db)
        .args(args)
        .env_remove("OUTPOST_DB")
        .env_remove("OUTPOST_USER")
        .env_remove("OUTPOST_REGION")
        .output()?;
    let stdout = String::from_utf8(out.stdout)?;
    let json = if stdout.trim().is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&stdout)?
    };
    Ok(Outcome {
        code: out.status.code().unwrap_or(-1),
        json,
        stderr: String::from_utf8(out.stderr)?,
    })
}

pub(crate) fn s(v: &Value) -> String {
    v.as_str().unwrap_or_default().to_string()
}
