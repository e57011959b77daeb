//! Backups of the embedded store: a consistent online copy (`VACUUM INTO`, one read
//! transaction, while devices keep syncing), a restore that never runs under a live server
//! and keeps the data it replaces, and a check of a store file (SQLite's integrity check, every
//! file's bytes against its hash). Blobs live in the database, so one file holds everything.
//!
//! A serving process holds [`ServeLock`] on the data directory; `restore` takes the same lock
//! and refuses while it is held. The log's identity is renewed by the restore (see
//! [`crate::storage::Storage::renew_log_id`]): devices then send again what the copy lacks.

use super::{SqliteStorage, DB_FILE, MIGRATIONS};
use crate::error::StorageError;
use crate::storage::Storage;
use rusqlite::{Connection, OpenFlags};
use serde::Serialize;
use sha2::{Digest, Sha256};
use std::fs::File;
use std::path::{Path, PathBuf};

/// The lock file a serving process holds in its data directory.
pub const LOCK_FILE: &str = "outpost-server.lock";

/// An exclusive advisory lock on a data directory, held while a server serves it.
#[derive(Debug)]
pub struct ServeLock {
    _file: File,
}

impl ServeLock {
    /// Takes the lock on `dir` (created if missing), or says that another process holds it.
    pub fn take(dir: &Path) -> Result<Self, StorageError> {
        std::fs::create_dir_all(dir).map_err(|source| StorageError::Io {
            op: "creating data directory",
            path: dir.display().to_string(),
            source,
        })?;
        let path = dir.join(LOCK_FILE);
        let file = File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(|source| StorageError::Io {
                op: "opening",
                path: path.display().to_string(),
                source,
            })?;
        match file.try_lock() {
            Ok(()) => Ok(Self { _file: file }),
            Err(std::fs::TryLockError::WouldBlock) => Err(StorageError::Conflict(format!(
                "{}: a server is serving this data directory (it holds {LOCK_FILE}); stop it first",
                dir.display()
            ))),
            Err(std::fs::TryLockError::Error(source)) => Err(StorageError::Io {
                op: "locking",
                path: path.display().to_string(),
                source,
            }),
        }
    }
}

/// What a backup wrote.
#[derive(Debug, Clone, Serialize)]
pub struct BackupInfo {
    /// The backup file.
    pub file: String,
    /// Its size in bytes.
    pub bytes: u64,
    /// The tenants in it.
    pub tenants: u64,
    /// The log entries in it, all tenants.
    pub log_entries: u64,
    /// The complete files (blobs) in it.
    pub blobs: u64,
}

/// Copies the store in `dir` to `to` (which must not exist) while it may be serving: one
/// `VACUUM INTO`, a consistent snapshot of one read transaction. Written beside `to` first and
/// renamed, so that `to` is never a half-written file. Blocking.
pub fn backup(dir: &Path, to: &Path) -> Result<BackupInfo, StorageError> {
    let db = dir.join(DB_FILE);
    if !db.is_file() {
        return Err(StorageError::BadRequest(format!(
            "{}: no store to back up",
            db.display()
        )));
    }
    if to.exists() {
        return Err(StorageError::Conflict(format!(
            "{}: already exists; a backup never overwrites a file",
            to.display()
        )));
    }
    let partial = partial_path(to);
    let _ = std::fs::remove_file(&partial);
    let conn = Connection::open_with_flags(&db, OpenFlags::SQLITE_OPEN_READ_ONLY)?;
    conn.busy_timeout(std::time::Duration::from_secs(30))?;
    let target = partial.to_str().ok_or_else(|| {
        StorageError::BadRequest(format!("{}: not a UTF-8 path", partial.display()))
    })?;
    conn.execute("VACUUM INTO ?1", [target])?;
    drop(conn);
    std::fs::rename(&partial, to).map_err(|source| StorageError::Io {
        op: "renaming the backup to",
        path: to.display().to_string(),
        source,
    })?;
    let copy = Connection::open_with_flags(to, OpenFlags::SQLITE_OPEN_READ_ONLY)?;
    let count = |sql: &str| -> Result<u64, StorageError> {
        let n: i64 = copy.query_row(sql, [], |r| r.get(0))?;
        Ok(u64::try_from(n).unwrap_or(0))
    };
    Ok(BackupInfo {
        file: to.display().to_string(),
        bytes: std::fs::metadata(to).map(|m| m.len()).unwrap_or(0),
        tenants: count("SELECT COUNT(*) FROM tenants")?,
        log_entries: count("SELECT COUNT(*) FROM log")?,
        blobs: count("SELECT COUNT(*) FROM blobs WHERE complete = 1")?,
    })
}

fn partial_path(to: &Path) -> PathBuf {
    let mut name = to.file_name().unwrap_or_default().to_os_string();
    name.push(".partial");
    to.with_file_name(name)
}

/// What a restore did.
#[derive(Debug, Clone, Serialize)]
pub struct RestoreInfo {
    /// The backup restored.
    pub from: String,
    /// Where the data it replaced was moved (nothing is deleted), if there was any.
    pub previous: Option<String>,
    /// The log's new identity: every device sends again what it made and downloads anew.
    pub log_id: String,
}

/// Restores the backup `from` into `dir`: refuses while a server serves `dir`, checks the
/// backup first, moves the current store aside (`outpost-server.db.before-restore-<ms>`),
/// copies the backup in, migrates it and renews the log's identity.
pub async fn restore(dir: &Path, from: &Path) -> Result<RestoreInfo, StorageError> {
    let from_display = from.display().to_string();
    let (dir, from) = (dir.to_path_buf(), from.to_path_buf());
    let (lock, storage, previous) =
        tokio::task::spawn_blocking(move || -> Result<_, StorageError> {
            let lock = ServeLock::take(&dir)?;
            let previous = put_in_place(&dir, &from)?;
            Ok((lock, SqliteStorage::open(&dir)?, previous))
        })
        .await
        .map_err(crate::storage::task_failed)??;
    let log_id = storage.renew_log_id().await?;
    drop(lock);
    Ok(RestoreInfo {
        from: from_display,
        previous,
        log_id,
    })
}

/// Checks `from`, moves the store in `dir` aside and copies `from` in; where the old store went.
fn put_in_place(dir: &Path, from: &Path) -> Result<Option<String>, StorageError> {
    let problems = check_file(from)?.problems;
    if !problems.is_empty() {
        return Err(StorageError::BadRequest(format!(
            "{}: not restored, the backup is damaged: {}",
            from.display(),
            problems.join("; ")
        )));
    }
    let db = dir.join(DB_FILE);
    let previous = if db.exists() {
        let stamp = chrono::Utc::now().timestamp_millis();
        let aside = dir.join(format!("{DB_FILE}.before-restore-{stamp}"));
        for suffix in ["", "-wal", "-shm"] {
            let from_path = PathBuf::from(format!("{}{suffix}", db.display()));
            if from_path.exists() {
                let to_path = PathBuf::from(format!("{}{suffix}", aside.display()));
                std::fs::rename(&from_path, &to_path).map_err(|source| StorageError::Io {
                    op: "moving the current store aside to",
                    path: to_path.display().to_string(),
                    source,
                })?;
            }
        }
        Some(aside.display().to_string())
    } else {
        None
    };
    let partial = partial_path(&db);
    std::fs::copy(from, &partial).map_err(|source| StorageError::Io {
        op: "copying the backup to",
        path: partial.display().to_string(),
        source,
    })?;
    std::fs::rename(&partial, &db).map_err(|source| StorageError::Io {
        op: "renaming the restored store to",
        path: db.display().to_string(),
        source,
    })?;
    Ok(previous)
}

/// What [`check_file`] found.
#[derive(Debug, Clone, Default, Serialize)]
pub struct FileCheck {
    /// The files (complete blobs) whose bytes were hashed.
    pub blobs_checked: u64,
    /// Everything wrong, each naming where; empty when the file is sound.
    pub problems: Vec<String>,
}

/// Checks a store file without changing it: SQLite's integrity check, that it is an Outpost
/// store this build can open, and every complete blob's bytes against its size and SHA-256.
pub fn check_file(path: &Path) -> Result<FileCheck, StorageError> {
    if !path.is_file() {
        return Err(StorageError::BadRequest(format!(
            "{}: no such file",
            path.display()
        )));
    }
    let conn = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY)?;
    let mut check = FileCheck::default();
    let integrity: Vec<String> = {
        let mut stmt = match conn.prepare("PRAGMA integrity_check") {
            Ok(stmt) => stmt,
            Err(e) => {
                check
                    .problems
                    .push(format!("{}: not a SQLite database: {e}", path.display()));
                return Ok(check);
            }
        };
        let rows = stmt.query_map([], |r| r.get::<_, String>(0))?;
        rows.collect::<rusqlite::Result<_>>()?
    };
    if integrity != ["ok"] {
        check
            .problems
            .extend(integrity.into_iter().map(|p| format!("integrity: {p}")));
        return Ok(check);
    }
    let version: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    let is_store: bool = conn.query_row(
        "SELECT COUNT(*) = 3 FROM sqlite_master WHERE type = 'table' AND name IN ('tenants', 'log', 'documents')",
        [],
        |r| r.get(0),
    )?;
    if !is_store || version < 1 {
        check
            .problems
            .push(format!("{}: not an Outpost server store", path.display()));
        return Ok(check);
    }
    if version > MIGRATIONS.len() as i64 {
        check.problems.push(format!(
            "schema version {version} is newer than this build's {}: use a newer outpost-server",
            MIGRATIONS.len()
        ));
        return Ok(check);
    }
    let blobs: Vec<(String, String, i64)> = {
        let mut stmt =
            conn.prepare("SELECT tenant_id, sha256, size FROM blobs WHERE complete = 1")?;
        let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
        rows.collect::<rusqlite::Result<_>>()?
    };
    let mut chunks = conn.prepare(
        "SELECT data FROM blob_chunks WHERE tenant_id = ?1 AND sha256 = ?2 ORDER BY pos",
    )?;
    for (tenant, sha256, size) in blobs {
        let mut hasher = Sha256::new();
        let mut len = 0i64;
        let mut rows = chunks.query([&tenant, &sha256])?;
        while let Some(row) = rows.next()? {
            let data: Vec<u8> = row.get(0)?;
            len += data.len() as i64;
            hasher.update(&data);
        }
        let actual = hex::encode(hasher.finalize());
        if len != size || actual != sha256 {
            check.problems.push(format!(
                "blob {sha256} of tenant {tenant}: {len} bytes hashing to {actual}, expected {size} bytes"
            ));
        }
        check.blobs_checked += 1;
    }
    Ok(check)
}
