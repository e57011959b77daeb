//! Encryption at rest from the command line: where the database key comes from, and
//! `outpost db encrypt`.
//!
//! The key is never a command-line value (it would show in `ps` and shell history): it comes
//! from `--key-file PATH` (32 raw bytes, or 64 hexadecimal digits) or from the environment
//! variable `OUTPOST_DB_KEY` (64 hexadecimal digits).

use crate::to_json;
use outpost_core::{Error, StoreKey};
use std::path::{Path, PathBuf};

/// The environment variable holding the key as 64 hexadecimal digits.
pub const KEY_ENV: &str = "OUTPOST_DB_KEY";

/// The database key from `--key-file` (first) or `$OUTPOST_DB_KEY`, or `None` for a plaintext
/// store.
pub fn store_key(key_file: Option<&Path>) -> Result<Option<StoreKey>, Error> {
    if let Some(file) = key_file {
        let bytes = std::fs::read(file).map_err(|source| Error::Io {
            op: "read key file",
            path: file.to_path_buf(),
            source,
        })?;
        if bytes.len() == StoreKey::LEN {
            return StoreKey::from_bytes(&bytes).map(Some);
        }
        let text = std::str::from_utf8(&bytes).map_err(|_| {
            Error::validation(
                "key-file",
                file.display().to_string(),
                "must hold 32 raw bytes or 64 hexadecimal digits",
            )
        })?;
        return StoreKey::from_hex(text).map(Some).map_err(|_| {
            Error::validation(
                "key-file",
                file.display().to_string(),
                "must hold 32 raw bytes or 64 hexadecimal digits",
            )
        });
    }
    match std::env::var(KEY_ENV) {
        Ok(hex) if !hex.trim().is_empty() => StoreKey::from_hex(&hex).map(Some).map_err(|_| {
            Error::validation(KEY_ENV, "", "must be 64 hexadecimal digits (a 256-bit key)")
        }),
        _ => Ok(None),
    }
}

/// `outpost db encrypt`: encrypts the plaintext store at `db` in place with the given key.
pub fn encrypt(db: &Path, key: Option<StoreKey>) -> Result<serde_json::Value, Error> {
    let key = key.ok_or_else(|| {
        Error::validation(
            "key",
            "",
            "db encrypt needs a key: --key-file PATH or OUTPOST_DB_KEY (64 hex digits)",
        )
    })?;
    outpost_core::encrypt_file(db, &key)?;
    Ok(serde_json::json!({ "path": PathBuf::from(db), "encrypted": true }))
}

/// `outpost lease ...`: the device lease (a store that does not sync for too long locks,
/// then wipes).
#[derive(clap::Subcommand)]
pub enum LeaseCmd {
    /// Show the lease (`unleased`, `valid`, `locked`, `wiped`) without changing anything.
    Status {
        /// Evaluate at this time (RFC 3339) instead of now.
        #[arg(long)]
        now: Option<String>,
    },
    /// Enforce the lease now, as every command does: exit with `error: locked` when it expired
    /// (after wiping the store when the grace period is over too).
    Check {
        /// Only report what a check at this time (RFC 3339) would do (`would`: `nothing`,
        /// `lock` or `wipe`); nothing is enforced, wiped or remembered.
        #[arg(long)]
        now: Option<String>,
    },
    /// Set the lease policy. Once the server sent the tenant's lease, the device may only make
    /// it stricter: longer durations are refused.
    Set {
        /// Days without a sync before the store locks.
        #[arg(long)]
        days: f64,
        /// Further days before a locked store wipes its data.
        #[arg(long)]
        grace_days: f64,
    },
}

fn parse_now(now: Option<&str>) -> Result<i64, Error> {
    match now {
        None => Ok(chrono::Utc::now().timestamp_millis()),
        Some(text) => chrono::DateTime::parse_from_rfc3339(text)
            .map(|t| t.timestamp_millis())
            .map_err(|e| Error::validation("now", text, format!("not an RFC 3339 time: {e}"))),
    }
}

fn days_ms(field: &str, days: f64) -> Result<i64, Error> {
    if !days.is_finite() || days <= 0.0 || days > 3650.0 {
        return Err(Error::validation(
            field,
            days.to_string(),
            "must be a number of days above 0 and at most 3650",
        ));
    }
    Ok((days * 86_400_000.0).round() as i64)
}

/// Runs a lease command.
pub fn lease(store: &mut outpost_core::Store, cmd: LeaseCmd) -> Result<serde_json::Value, Error> {
    match cmd {
        LeaseCmd::Status { now } => to_json(&store.lease_state(parse_now(now.as_deref())?)?),
        LeaseCmd::Check { now: None } => to_json(&store.check_lease()?),
        LeaseCmd::Check { now: Some(text) } => {
            let at = parse_now(Some(&text))?;
            let state = store.lease_state(at)?;
            let would = match &state {
                outpost_core::LeaseState::Locked { wipes_at_ms, .. } if at >= *wipes_at_ms => {
                    "wipe"
                }
                outpost_core::LeaseState::Locked { .. } => "lock",
                _ => "nothing",
            };
            let mut report = to_json(&state)?;
            if let Some(fields) = report.as_object_mut() {
                fields.insert("at".into(), text.into());
                fields.insert("would".into(), would.into());
                fields.insert("enforced".into(), false.into());
            }
            Ok(report)
        }
        LeaseCmd::Set { days, grace_days } => {
            let policy = outpost_core::LeasePolicy {
                lease_ms: days_ms("days", days)?,
                grace_ms: days_ms("grace-days", grace_days)?,
            };
            // Refused by the core on a locked store: it may not extend its own lease.
            store.set_lease_policy(policy)?;
            to_json(&store.lease_policy()?)
        }
    }
}
