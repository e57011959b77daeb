//! Recoverable rejections: a local change the server refuses is undone on the device, so that
//! the record never stays stuck.
//!
//! Automerge changes name the changes they depend on. A refused change can never reach the
//! server, so every later local change of the same record (which depends on it) would be
//! refused too ("depends on changes the server does not have"): the record would be stranded.
//! Inside the transaction that applies the server's answer, each record with refused changes
//! is rebuilt:
//!
//! 1. The *roots* are the refused changes with no refused change before them; everything that
//!    depends on a root is *tainted* (later local edits, pending or refused for a missing
//!    dependency).
//! 2. The document is rebuilt from its untainted changes: what the server acknowledged or sent,
//!    plus pending local changes that do not depend on a refused one (they keep their hashes
//!    and outbox entries). There, the fields a root wrote hold the server's value again.
//! 3. Each tainted change that is not a root is written again, as a new change by this device
//!    with its original message and time: the root keys it wrote get the values it gave them
//!    (a list by difference, so that additions from other devices stay; a text by splice).
//!    The old entries leave the outbox, the new changes enter it.
//! 4. A record whose first change was refused has nothing the server accepted: it is removed
//!    from the device (its projection, search tokens and files with it).
//!
//! For each root the user is told why, in a notice (`rejections` table, newest
//! [`MAX_NOTICES`] kept): `status().rejected`, the sync report's `rejections`,
//! `outpost status`. Everything runs in the answer's transaction, so a sync killed midway
//! leaves the refused changes pending: sent again, refused again, undone then.

use super::projections::reproject;
use super::records::{queue_change, Written};
use crate::error::{Error, Result};
use crate::record::{self, Actor, SyncState};
use automerge::{
    transaction::{CommitOptions, Transactable},
    AutoCommit, Change, ChangeHash, ObjId, ObjType, PatchAction, Prop, ReadDoc, Value, ROOT,
};
use rusqlite::{params, Connection, OptionalExtension, Transaction};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet, HashSet};

/// A local change the server refused, and how the device undid it (see the module
/// doc); shown in `outpost status` and the sync report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ffi", derive(uniffi::Record))]
pub struct RejectedChange {
    /// The record it belongs to.
    pub record_id: String,
    /// The record kind.
    pub kind: String,
    /// The server's reason.
    pub reason: String,
    /// When it was refused (RFC 3339).
    pub at: String,
    /// The fields the refused change wrote; they hold the server's value again. Later edits of
    /// other fields were kept and are sent again.
    #[serde(default)]
    pub fields: Vec<String>,
    /// Whether the server refused the record itself (its first change): the record was removed
    /// from this device.
    #[serde(default)]
    pub removed: bool,
}

/// Refusal notices kept on the device (the oldest go first).
pub const MAX_NOTICES: i64 = 200;

/// What undoing the refused changes did, for the sync's answer.
#[derive(Debug, Default)]
pub(crate) struct Recovery {
    /// One notice per refused root change, in the order they were made.
    pub notices: Vec<RejectedChange>,
    /// (kind, id) of every record rebuilt or removed.
    pub touched: Vec<(String, String)>,
}

/// The notices, oldest first.
pub(crate) fn notices(conn: &Connection) -> Result<Vec<RejectedChange>> {
    let mut stmt = conn.prepare_cached(
        "SELECT record_id, kind, reason, at, fields, removed FROM rejections ORDER BY seq",
    )?;
    let rows = stmt.query_map([], |r| {
        Ok(RejectedChange {
            record_id: r.get(0)?,
            kind: r.get(1)?,
            reason: r.get(2)?,
            at: r.get(3)?,
            fields: serde_json::from_str(&r.get::<_, String>(4)?).unwrap_or_default(),
            removed: r.get(5)?,
        })
    })?;
    Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
}

fn note(tx: &Transaction<'_>, n: &RejectedChange) -> Result<()> {
    tx.prepare_cached(
        "INSERT INTO rejections(record_id, kind, reason, at, fields, removed) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?
    .execute(params![
        n.record_id,
        n.kind,
        n.reason,
        n.at,
        serde_json::to_string(&n.fields).unwrap_or_else(|_| "[]".into()),
        n.removed
    ])?;
    Ok(())
}

/// One outbox entry of a record.
struct Entry {
    seq: i64,
    hash: Vec<u8>,
    /// The server's reason and when, if refused.
    refused: Option<(String, String)>,
}

/// Undoes every refused change in the outbox (see the module doc), inside `tx`.
pub(crate) fn recover(tx: &Transaction<'_>, actor: &Actor) -> Result<Recovery> {
    let rids: Vec<i64> = tx
        .prepare_cached(
            "SELECT DISTINCT rid FROM outbox WHERE rejected_reason IS NOT NULL ORDER BY rid",
        )?
        .query_map([], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    let mut out = Recovery::default();
    for rid in rids {
        recover_record(tx, actor, rid, &mut out)?;
    }
    if !out.notices.is_empty() {
        tx.prepare_cached(
            "DELETE FROM rejections WHERE seq <= (SELECT max(seq) FROM rejections) - ?1",
        )?
        .execute([MAX_NOTICES])?;
    }
    Ok(out)
}

fn recover_record(tx: &Transaction<'_>, actor: &Actor, rid: i64, out: &mut Recovery) -> Result<()> {
    let Some((id, kind, bytes)) = tx
        .prepare_cached("SELECT id, kind, doc FROM records WHERE rid = ?1")?
        .query_row([rid], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, Vec<u8>>(2)?,
            ))
        })
        .optional()?
    else {
        return Ok(());
    };
    let entries: Vec<Entry> = tx
        .prepare_cached(
            "SELECT seq, change_hash, rejected_reason, rejected_at FROM outbox WHERE rid = ?1 ORDER BY seq",
        )?
        .query_map([rid], |r| {
            let reason: Option<String> = r.get(2)?;
            let at: Option<String> = r.get(3)?;
            Ok(Entry {
                seq: r.get(0)?,
                hash: r.get(1)?,
                refused: reason.map(|reason| (reason, at.unwrap_or_default())),
            })
        })?
        .collect::<rusqlite::Result<_>>()?;
    let refused: BTreeMap<ChangeHash, &(String, String)> = entries
        .iter()
        .filter_map(|e| Some((hash_of(&e.hash)?, e.refused.as_ref()?)))
        .collect();
    let mut full = record::load(&id, &bytes, actor)?;
    // In causal order: a change comes after every change it depends on.
    let changes = full.get_changes(&[]);
    let mut tainted: HashSet<ChangeHash> = HashSet::new();
    let mut roots: Vec<&Change> = Vec::new();
    for c in &changes {
        let after_refused = c.deps().iter().any(|d| tainted.contains(d));
        let is_refused = refused.contains_key(&c.hash());
        if is_refused && !after_refused {
            roots.push(c);
        }
        if is_refused || after_refused {
            tainted.insert(c.hash());
        }
    }
    // Outbox entries of changes that are gone (they name no change of the document, or one
    // that is rebuilt) leave the outbox; the rest stay as they are.
    let leaving: Vec<i64> = entries
        .iter()
        .filter(|e| hash_of(&e.hash).is_none_or(|h| tainted.contains(&h) || !in_doc(&changes, h)))
        .map(|e| e.seq)
        .collect();
    for seq in &leaving {
        tx.prepare_cached("DELETE FROM outbox WHERE seq = ?1")?
            .execute([seq])?;
    }
    let notice = |root: &Change, fields: Vec<String>, removed: bool| {
        let (reason, at) = refused
            .get(&root.hash())
            .map(|(r, a)| (r.clone(), a.clone()))
            .unwrap_or_default();
        RejectedChange {
            record_id: id.clone(),
            kind: kind.clone(),
            reason,
            at,
            fields,
            removed,
        }
    };
    let base: Vec<Change> = changes
        .iter()
        .filter(|c| !tainted.contains(&c.hash()))
        .cloned()
        .collect();
    if base.is_empty() {
        // The server refused the record itself: nothing of it may exist anywhere else.
        super::purge::purge_in(tx, std::slice::from_ref(&id), false)?;
        for root in &roots {
            let n = notice(root, Vec::new(), true);
            note(tx, &n)?;
            out.notices.push(n);
        }
        out.touched.push((kind, id));
        return Ok(());
    }
    let mut doc = record::new_doc(actor);
    doc.apply_changes(base).map_err(|e| Error::Document {
        id: id.clone(),
        reason: format!("rebuilding without the refused changes: {e}"),
    })?;
    let rebuilt_from = doc.get_heads();
    for c in changes.iter().filter(|c| tainted.contains(&c.hash())) {
        if roots.iter().any(|r| r.hash() == c.hash()) {
            continue;
        }
        replay(&mut full, &mut doc, c).map_err(|e| Error::Document {
            id: id.clone(),
            reason: format!("writing a later change again: {e}"),
        })?;
    }
    for root in &roots {
        let fields = root_keys(full.diff(root.deps(), &[root.hash()]));
        let n = notice(root, fields, false);
        note(tx, &n)?;
        out.notices.push(n);
    }
    let now = record::rfc3339_ms(super::Store::now_ms());
    for change in doc.get_changes_meta(&rebuilt_from) {
        queue_change(tx, rid, &change.hash.0, &now)?;
    }
    let saved = doc.save();
    let heads = record::heads_bytes(&mut doc);
    let updated_at = record::rfc3339_ms(record::last_change_ms(&mut doc));
    let sync_state: SyncState = tx
        .prepare_cached(
            "UPDATE records SET doc = ?1, heads = ?2, updated_at = ?3, sync_state = CASE WHEN \
             EXISTS (SELECT 1 FROM outbox o WHERE o.rid = ?4) THEN ?5 ELSE ?6 END \
             WHERE rid = ?4 RETURNING sync_state",
        )?
        .query_row(
            params![
                saved,
                heads,
                updated_at,
                rid,
                SyncState::Local,
                SyncState::Synced
            ],
            |r| r.get(0),
        )?;
    let written = Written {
        rid,
        updated_at,
        sync_state,
    };
    reproject(tx, written, &id, &kind, &doc, true)?;
    out.touched.push((kind, id));
    Ok(())
}

fn hash_of(bytes: &[u8]) -> Option<ChangeHash> {
    <[u8; 32]>::try_from(bytes).ok().map(ChangeHash)
}

fn in_doc(changes: &[Change], hash: ChangeHash) -> bool {
    changes.iter().any(|c| c.hash() == hash)
}

/// The root keys that patches touch, each once, in order.
fn root_keys(patches: Vec<automerge::Patch>) -> Vec<String> {
    let mut keys: Vec<String> = Vec::new();
    for p in patches {
        let key = match p.path.first() {
            Some((_, Prop::Map(k))) => Some(k.clone()),
            Some(_) => None,
            None => match p.action {
                PatchAction::PutMap { key, .. } | PatchAction::DeleteMap { key } => Some(key),
                PatchAction::Conflict {
                    prop: Prop::Map(key),
                }
                | PatchAction::Increment {
                    prop: Prop::Map(key),
                    ..
                } => Some(key),
                _ => None,
            },
        };
        if let Some(key) = key.filter(|k| !keys.contains(k)) {
            keys.push(key);
        }
    }
    keys
}

/// Writes change `c` of `full` again into `doc`, as a new change by `doc`'s actor with the same
/// message and time: every root key it touched gets the value it gave it.
fn replay(
    full: &mut AutoCommit,
    doc: &mut AutoCommit,
    c: &Change,
) -> std::result::Result<(), automerge::AutomergeError> {
    let before = c.deps().to_vec();
    let after = [c.hash()];
    for key in root_keys(full.diff(&before, &after)) {
        copy_key(full, &before, &after, doc, &key)?;
    }
    let mut options = CommitOptions::default().with_time(c.timestamp());
    if let Some(message) = c.message() {
        options = options.with_message(message.to_string());
    }
    doc.commit_with(options);
    Ok(())
}

/// The string items of a list (`None` if an item is not a string).
fn str_items(doc: &AutoCommit, list: &ObjId, heads: &[ChangeHash]) -> Option<Vec<String>> {
    doc.values_at(list, heads)
        .map(|(v, _)| match v {
            Value::Scalar(s) => s.as_str().map(str::to_string),
            _ => None,
        })
        .collect()
}

/// Makes root key `key` of `doc` hold what it holds in `full` at `after`; a list of strings
/// that `doc` also has is edited by the difference between `before` and `after`.
fn copy_key(
    full: &AutoCommit,
    before: &[ChangeHash],
    after: &[ChangeHash],
    doc: &mut AutoCommit,
    key: &str,
) -> std::result::Result<(), automerge::AutomergeError> {
    let target = full.get_at(ROOT, key, after)?;
    let current = doc.get(ROOT, key)?;
    match (target, current) {
        (None, None) => {}
        (None, Some(_)) => doc.delete(ROOT, key)?,
        (Some((Value::Scalar(s), _)), current) => {
            let same = matches!(&current, Some((Value::Scalar(c), _)) if *c == s);
            if !same {
                doc.put(ROOT, key, s.into_owned())?;
            }
        }
        (Some((Value::Object(ObjType::Text), src)), current) => {
            let text = full.text_at(&src, after)?;
            let dst = match current {
                Some((Value::Object(ObjType::Text), dst)) => dst,
                _ => doc.put_object(ROOT, key, ObjType::Text)?,
            };
            doc.update_text(&dst, &text)?;
        }
        (Some((Value::Object(ObjType::List), src)), Some((Value::Object(ObjType::List), dst))) => {
            let was = match full.get_at(ROOT, key, before)? {
                Some((Value::Object(ObjType::List), old)) => str_items(full, &old, before),
                _ => Some(Vec::new()),
            };
            match (was, str_items(full, &src, after), str_items(doc, &dst, &[])) {
                (Some(was), Some(now), Some(have)) => {
                    edit_list(doc, &dst, &was, &now, &have)?;
                }
                _ => {
                    let dst = doc.put_object(ROOT, key, ObjType::List)?;
                    copy_children(full, &src, after, doc, &dst)?;
                }
            }
        }
        (Some((Value::Object(obj_type), src)), _) => {
            let dst = doc.put_object(ROOT, key, obj_type)?;
            copy_children(full, &src, after, doc, &dst)?;
        }
    }
    Ok(())
}

/// Applies the edit `was` -> `now` to a list that holds `have`: items removed are deleted,
/// items added are inserted where they stood.
fn edit_list(
    doc: &mut AutoCommit,
    list: &ObjId,
    was: &[String],
    now: &[String],
    have: &[String],
) -> std::result::Result<(), automerge::AutomergeError> {
    let removed: BTreeSet<&String> = was.iter().filter(|v| !now.contains(v)).collect();
    for (i, item) in have.iter().enumerate().rev() {
        if removed.contains(&item) {
            doc.delete(list, i)?;
        }
    }
    let mut kept: Vec<String> = have
        .iter()
        .filter(|v| !removed.contains(v))
        .cloned()
        .collect();
    for (i, value) in now.iter().enumerate() {
        if !was.contains(value) && !kept.contains(value) {
            let at = i.min(kept.len());
            doc.insert(list, at, value.as_str())?;
            kept.insert(at, value.clone());
        }
    }
    Ok(())
}

/// Copies the content of object `src` of `full` (at `heads`) into the new, empty object `dst`.
fn copy_children(
    full: &AutoCommit,
    src: &ObjId,
    heads: &[ChangeHash],
    doc: &mut AutoCommit,
    dst: &ObjId,
) -> std::result::Result<(), automerge::AutomergeError> {
    match full.object_type(src)? {
        ObjType::Text => {
            let text = full.text_at(src, heads)?;
            doc.splice_text(dst, 0, 0, &text)?;
        }
        ObjType::List => {
            for i in 0..full.length_at(src, heads) {
                match full.get_at(src, i, heads)? {
                    Some((Value::Scalar(s), _)) => doc.insert(dst, i, s.into_owned())?,
                    Some((Value::Object(t), child)) => {
                        let new = doc.insert_object(dst, i, t)?;
                        copy_children(full, &child, heads, doc, &new)?;
                    }
                    None => {}
                }
            }
        }
        ObjType::Map | ObjType::Table => {
            let keys: Vec<String> = full.keys_at(src, heads).collect();
            for k in keys {
                match full.get_at(src, k.as_str(), heads)? {
                    Some((Value::Scalar(s), _)) => doc.put(dst, k.as_str(), s.into_owned())?,
                    Some((Value::Object(t), child)) => {
                        let new = doc.put_object(dst, k.as_str(), t)?;
                        copy_children(full, &child, heads, doc, &new)?;
                    }
                    None => {}
                }
            }
        }
    }
    Ok(())
}
