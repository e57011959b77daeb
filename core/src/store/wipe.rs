//! Wiping a device's records (a revoked device, an expired lease): every row, the search index's
//! segments and the freed pages, so that no record content remains on disk; and the scrub that
//! a wipe and a purge end with (see [`super::purge`]'s module doc for why it is needed).

use super::{settings, Store};
use crate::error::Result;
use rusqlite::{Connection, TransactionBehavior};
use std::time::Duration;

/// How long a purge waits for readers of an old snapshot before the checkpoint thread takes
/// over the scrub.
pub const SCRUB_WAIT: Duration = Duration::from_secs(1);

/// The busy timeout of the store's connection outside a scrub.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// `sync_state` key set while a purge's scrub has not completed.
const KEY_SCRUB_PENDING: &str = "scrub_pending";

/// Copies the whole write-ahead log into the database file and truncates the log to zero
/// bytes; `false` when a reader of an old snapshot (or a writer) kept it from completing
/// within the connection's busy timeout.
pub(crate) fn checkpoint_truncate(conn: &Connection) -> Result<bool> {
    match conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| {
        r.get::<_, i64>(0)
    }) {
        Ok(busy) => Ok(busy == 0),
        Err(e)
            if matches!(
                e.sqlite_error_code(),
                Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked)
            ) =>
        {
            Ok(false)
        }
        Err(e) => Err(e.into()),
    }
}

/// [`checkpoint_truncate`], waiting at most [`SCRUB_WAIT`] for readers.
fn scrub_now(conn: &Connection) -> Result<bool> {
    conn.busy_timeout(SCRUB_WAIT)?;
    let done = checkpoint_truncate(conn);
    conn.busy_timeout(BUSY_TIMEOUT)?;
    done
}

/// At open: finishes a scrub that had not completed when the store was last closed. Returns
/// whether it is still pending (another connection reads an old snapshot).
pub(crate) fn scrub_left_over(conn: &mut Connection) -> Result<bool> {
    if settings::get(conn, KEY_SCRUB_PENDING)?.is_none() {
        return Ok(false);
    }
    if !scrub_now(conn)? {
        return Ok(true);
    }
    settings::remove(conn, KEY_SCRUB_PENDING)?;
    Ok(false)
}

impl Store {
    /// Leaves no byte of what was deleted in the files (see the module doc): a truncating
    /// checkpoint now, or, while a reader holds an old snapshot, as soon as it lets go.
    pub(crate) fn scrub(&self) -> Result<()> {
        if scrub_now(&self.conn)? {
            return Ok(());
        }
        settings::set(&self.conn, KEY_SCRUB_PENDING, "1")?;
        if let Some(c) = &self.checkpointer {
            c.scrub.store(true, std::sync::atomic::Ordering::Release);
        }
        Ok(())
    }

    /// Wipes every record from this store (revoked device): all rows deleted with SQLite's
    /// `secure_delete` on (freed pages are zeroed), the search index emptied with its segments,
    /// the file vacuumed and the write-ahead log copied back and truncated, so no record content
    /// remains on disk, even while another connection holds the file open (a reader of an old
    /// snapshot delays the last step until it lets go; see `core/src/store/purge.rs`). The device
    /// id is kept.
    pub fn wipe(&mut self) -> Result<()> {
        self.wipe_data()
    }

    /// [`Store::wipe`] behind a shared borrow, for the lease check that every read makes
    /// ([`Store::guard`]): the store is not shared between threads, so its one connection runs
    /// the wipe's transaction as it would behind `&mut`.
    pub(crate) fn wipe_data(&self) -> Result<()> {
        let run = |conn: &Connection| -> Result<()> {
            conn.pragma_update(None, "secure_delete", true)?;
            let tx = rusqlite::Transaction::new_unchecked(conn, TransactionBehavior::Immediate)?;
            // Tables are emptied in any order; foreign keys are checked once, at commit.
            tx.pragma_update(None, "defer_foreign_keys", true)?;
            // Every table, so that one added by a later migration cannot be forgotten here; the
            // shadow tables of a virtual (full-text) table are emptied through it.
            let tables: Vec<(String, bool)> = tx
                .prepare("SELECT name, sql LIKE 'CREATE VIRTUAL%' FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")?
                .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
                .collect::<rusqlite::Result<_>>()?;
            let virtual_prefixes: Vec<String> = tables
                .iter()
                .filter(|(_, v)| *v)
                .map(|(n, _)| format!("{n}_"))
                .collect();
            for (name, is_virtual) in &tables {
                if virtual_prefixes
                    .iter()
                    .any(|p| name.starts_with(p.as_str()))
                {
                    continue;
                }
                // A contentless full-text table keeps deleted rows' words in its segments:
                // `delete-all` drops them (other virtual tables do not take it).
                if *is_virtual
                    && tx
                        .execute(
                            &format!("INSERT INTO \"{name}\"(\"{name}\") VALUES ('delete-all')"),
                            [],
                        )
                        .is_ok()
                {
                    continue;
                }
                let filter = if name == "sync_state" {
                    " WHERE key <> 'device_id'"
                } else {
                    ""
                };
                tx.execute(&format!("DELETE FROM \"{name}\"{filter}"), [])?;
            }
            tx.commit()?;
            conn.execute_batch("VACUUM;")?;
            Ok(())
        };
        let r = run(&self.conn).and_then(|()| self.scrub());
        self.ctx(r)
    }
}
