//! The bottom of the store's record layer: saving a record's document (and queueing its local
//! changes for the next push), loading one. Every feature file writes and reads records through
//! these; they call nothing above them (the write's permission check is [`super::scope`]'s, the
//! first-save metric [`super::experience`]'s).

use super::{experience, scope, Store};
use crate::error::{Error, Result};
use crate::record::{Actor, RecordKind, SyncState};
use automerge::AutoCommit;
use rusqlite::{Connection, OptionalExtension};

/// What [`write_record`] wrote: everything a projection needs besides the document.
pub(crate) struct Written {
    /// The record's row id.
    pub rid: i64,
    /// The latest change time in the document (RFC 3339).
    pub updated_at: String,
    /// The record's sync state after the write.
    pub sync_state: SyncState,
}

/// Saves a record's document inside `tx`. Local writes (`heads_before` given) are checked
/// against the user's permissions first, queue their new changes in the outbox and make a synced
/// record `local` again; with `None` nothing is queued and a record new to this device starts
/// `synced` (see [`write_received`] for documents that came from the server).
pub(crate) fn write_record(
    tx: &rusqlite::Transaction<'_>,
    rid: Option<i64>,
    id: &str,
    kind: RecordKind,
    doc: &mut AutoCommit,
    heads_before: Option<&[automerge::ChangeHash]>,
) -> Result<Written> {
    if heads_before.is_some() {
        // What the user's role may not write is refused before anything is stored.
        let field = crate::record::get_str(doc, "field");
        scope::require_write(tx, kind, field.as_deref())?;
    }
    save(tx, rid, id, kind.as_str(), doc, heads_before)
}

/// Saves a document that came from the server inside `tx`: nothing is queued, a record new to
/// this device starts `synced`. `kind` is the wire's spelling, kept as it came (a kind of a newer
/// app version is stored, to be shown once this app knows it).
pub(crate) fn write_received(
    tx: &rusqlite::Transaction<'_>,
    rid: Option<i64>,
    id: &str,
    kind: &str,
    doc: &mut AutoCommit,
) -> Result<Written> {
    save(tx, rid, id, kind, doc, None)
}

fn save(
    tx: &rusqlite::Transaction<'_>,
    rid: Option<i64>,
    id: &str,
    kind: &str,
    doc: &mut AutoCommit,
    heads_before: Option<&[automerge::ChangeHash]>,
) -> Result<Written> {
    let local = heads_before.is_some();
    let bytes = doc.save();
    let heads = crate::record::heads_bytes(doc);
    let updated_at = crate::record::rfc3339_ms(crate::record::last_change_ms(doc));
    let (rid, sync_state) = match rid {
        None => {
            let state = if local {
                SyncState::Local
            } else {
                SyncState::Synced
            };
            let rid = insert_row(tx, id, kind, &bytes, &heads, state, &updated_at)?;
            if local {
                experience::created(tx, rid, Store::now_ms())?;
            }
            (rid, state)
        }
        Some(rid) => {
            let state: SyncState = tx
                .prepare_cached(
                    "UPDATE records SET doc = ?1, heads = ?2, updated_at = ?3, \
                     sync_state = CASE WHEN ?5 AND sync_state = ?6 THEN ?7 ELSE sync_state END \
                     WHERE rid = ?4 RETURNING sync_state",
                )?
                .query_row(
                    rusqlite::params![
                        bytes,
                        heads,
                        updated_at,
                        rid,
                        local,
                        SyncState::Synced,
                        SyncState::Local
                    ],
                    |r| r.get(0),
                )?;
            (rid, state)
        }
    };
    if let Some(heads_before) = heads_before {
        let now = crate::record::rfc3339_ms(Store::now_ms());
        for change in doc.get_changes_meta(heads_before) {
            queue_change(tx, rid, &change.hash.0, &now)?;
        }
    }
    Ok(Written {
        rid,
        updated_at,
        sync_state,
    })
}

/// Inserts a new record's row (document bytes and heads already computed); returns its row id.
/// A record created on this device is also noted for the experience metrics
/// ([`experience::created`]; the import notes a chunk's at once).
#[cfg(feature = "import")]
pub(crate) fn insert_record(
    tx: &rusqlite::Transaction<'_>,
    id: &str,
    kind: RecordKind,
    doc: &[u8],
    heads: &[u8],
    sync_state: SyncState,
    updated_at: &str,
) -> Result<i64> {
    insert_row(tx, id, kind.as_str(), doc, heads, sync_state, updated_at)
}

pub(super) fn insert_row(
    tx: &rusqlite::Transaction<'_>,
    id: &str,
    kind: &str,
    doc: &[u8],
    heads: &[u8],
    sync_state: SyncState,
    updated_at: &str,
) -> Result<i64> {
    tx.prepare_cached(
        "INSERT INTO records(id, kind, doc, heads, sync_state, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?
    .execute(rusqlite::params![id, kind, doc, heads, sync_state, updated_at])?;
    Ok(tx.last_insert_rowid())
}

/// Queues one local change of a record for the next push, inside `tx`.
pub(crate) fn queue_change(
    tx: &rusqlite::Transaction<'_>,
    rid: i64,
    change_hash: &[u8],
    created_at: &str,
) -> Result<()> {
    tx.prepare_cached("INSERT INTO outbox(rid, change_hash, created_at) VALUES (?1, ?2, ?3)")?
        .execute(rusqlite::params![rid, change_hash, created_at])?;
    Ok(())
}

/// Loads a record's row id and document (with this device as actor), inside `tx`.
pub(crate) fn load_record(
    conn: &Connection,
    kind: RecordKind,
    id: &str,
    actor: &Actor,
) -> Result<(i64, AutoCommit, SyncState)> {
    let row: Option<(i64, Vec<u8>, SyncState)> = conn
        .prepare_cached("SELECT rid, doc, sync_state FROM records WHERE id = ?1 AND kind = ?2")?
        .query_row(rusqlite::params![id, kind.as_str()], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?))
        })
        .optional()?;
    let Some((rid, bytes, sync_state)) = row else {
        return Err(Error::NotFound {
            kind: kind.as_str(),
            id: id.to_string(),
        });
    };
    Ok((rid, crate::record::load(id, &bytes, actor)?, sync_state))
}
