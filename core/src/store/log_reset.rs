//! A server restored from a backup: its log is not the one this device counted its cursor in.
//!
//! The server gives its log an identity (`SyncResponse::log_id`), made with the log and renewed
//! by a restore. When an answer names another identity than the one this store synced with,
//! the cursor is void: entries after it may be other entries, and changes the server had
//! acknowledged may be gone. Inside the answer's transaction the store then
//!
//! 1. queues again every change this device made that is in a local document (the server is
//!    idempotent by change hash: what it still has is acknowledged and not logged twice);
//! 2. marks every stored file as not uploaded (the upload asks the server what it has first);
//! 3. forgets the cursor, the finished bootstrap and the scope epoch, so that the sync
//!    downloads the server's documents anew (merged with the local ones) and lists the scope;
//! 4. remembers the new identity.
//!
//! Changes of other devices that the restored server lost are sent again by those devices
//! when they sync; an edit of ours that depends on one waits (`SyncResponse::deferred`) until
//! then instead of being undone.

use super::records::queue_change;
use super::scope::KEY_SCOPE_EPOCH;
use super::settings::{self, KEY_BOOTSTRAPPED, KEY_CURSOR, KEY_LOG_ID};
use crate::error::Result;
use crate::record::{self, Actor, SyncState};
use rusqlite::{params, Transaction};
use std::collections::HashSet;

/// What a reset queued again.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Requeued {
    /// Changes of this device queued again.
    pub changes: u64,
    /// Files marked for upload again.
    pub files: u64,
}

/// The log identity this store last synced with (`None` before the first sync, or when the
/// server is older than log identities).
pub(crate) fn known(tx: &Transaction<'_>) -> Result<Option<String>> {
    settings::get(tx, KEY_LOG_ID)
}

/// Remembers the log identity a sync answer or a finished bootstrap named.
pub(crate) fn remember(tx: &Transaction<'_>, log_id: &str) -> Result<()> {
    settings::set(tx, KEY_LOG_ID, log_id)
}

/// Steps 1 to 4 of the module doc, inside the answer's transaction.
pub(crate) fn reset(tx: &Transaction<'_>, actor: &Actor, new_log_id: &str) -> Result<Requeued> {
    let now = record::rfc3339_ms(super::Store::now_ms());
    let mut requeued = Requeued::default();
    let queued: HashSet<(i64, Vec<u8>)> = {
        let mut stmt = tx.prepare("SELECT rid, change_hash FROM outbox")?;
        let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
        rows.collect::<rusqlite::Result<_>>()?
    };
    let records: Vec<(i64, String, Vec<u8>)> = {
        let mut stmt = tx.prepare("SELECT rid, id, doc FROM records ORDER BY rid")?;
        let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
        rows.collect::<rusqlite::Result<_>>()?
    };
    let ours = actor.actor_id();
    for (rid, id, bytes) in records {
        let mut doc = record::load(&id, &bytes, actor)?;
        let mut any = false;
        // In causal order, so that the server receives each change after those it depends on.
        for change in doc.get_changes(&[]) {
            if *change.actor_id() != ours {
                continue;
            }
            let hash = change.hash().0.to_vec();
            if queued.contains(&(rid, hash.clone())) {
                continue;
            }
            queue_change(tx, rid, &hash, &now)?;
            requeued.changes += 1;
            any = true;
        }
        if any {
            tx.prepare_cached("UPDATE records SET sync_state = ?1 WHERE rid = ?2")?
                .execute(params![SyncState::Local, rid])?;
        }
    }
    requeued.files = tx.execute(
        "UPDATE blobs SET upload_state = 'pending', uploaded_bytes = 0 \
         WHERE data IS NOT NULL AND upload_state <> 'pending'",
        [],
    )? as u64;
    settings::set(tx, KEY_CURSOR, "0")?;
    settings::remove(tx, KEY_BOOTSTRAPPED)?;
    settings::remove(tx, KEY_SCOPE_EPOCH)?;
    // The restored server may not know this device's app version.
    settings::remove(tx, super::settings::KEY_REPORTED_APP)?;
    remember(tx, new_log_id)?;
    Ok(requeued)
}
