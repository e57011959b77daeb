//! The device side of sync, as store operations: what to push, and applying what the server
//! answered. Each step is one transaction; the network part lives in `crate::sync::client`.

use super::{contacts, visits, write_record, RecordKind, Store, Written};
use crate::error::{Error, Result};
use crate::record::{self, contact, visit, Actor};
use crate::sync::protocol::{
    BootstrapResponse, PushChange, SyncRequest, SyncResponse, PROTOCOL_VERSION,
};
use automerge::{
    transaction::Transactable, AutoCommit, Change, ChangeHash, ObjType, ReadDoc, ScalarValue,
    Value, ROOT,
};
use rusqlite::{params, Connection, OptionalExtension, Transaction, TransactionBehavior};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

pub(crate) const KEY_SERVER: &str = "server_url";
pub(crate) const KEY_TOKEN: &str = "server_token";
pub(crate) const KEY_CURSOR: &str = "cursor";
pub(crate) const KEY_BOOTSTRAPPED: &str = "bootstrapped";
pub(crate) const KEY_LAST_SYNC: &str = "last_sync_at";
pub(crate) const KEY_SERVER_TIME: &str = "server_time_ms";

/// A local change the server refused, and how the device undid it (see
/// `core/src/store/rejections.rs`); shown in `outpost status` and the sync report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
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

/// One competing value of a field edited concurrently on several devices.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConflictValue {
    /// The value (lists comma-separated).
    pub value: String,
    /// The user who wrote it.
    pub actor: String,
    /// When (RFC 3339, the writing device's clock).
    pub at: String,
}

/// A field with competing values. Every device shows the same winner (`values[0]`) until a
/// user resolves it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldConflict {
    /// The field.
    pub field: String,
    /// The competing values, the current winner first.
    pub values: Vec<ConflictValue>,
}

/// Local changes read from the outbox for one push.
#[derive(Debug, Clone)]
pub struct Outgoing {
    /// The request to send.
    pub request: SyncRequest,
    /// Outbox sequence numbers and change hashes in the request, in order.
    pub(crate) sent: Vec<(i64, Vec<u8>)>,
}

impl Outgoing {
    /// How many local changes this push carries.
    pub fn len(&self) -> usize {
        self.sent.len()
    }

    /// Whether this push carries no local change (a pull only).
    pub fn is_empty(&self) -> bool {
        self.sent.is_empty()
    }
}

/// What one response changed locally.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Applied {
    /// Pushed changes the server acknowledged.
    pub acknowledged: u64,
    /// Refused changes undone on this device (one per change the user made; later changes that
    /// the server refused only because they came after it are written again, not counted).
    pub rejected: u64,
    /// Why, and what was undone, for each of them.
    pub rejections: Vec<RejectedChange>,
    /// Changes (or documents) received and applied.
    pub pulled: u64,
    /// Records received that now have conflicting field values.
    pub conflicted_records: BTreeSet<String>,
    /// The cursor after this response.
    pub cursor: u64,
    /// Whether the server has more for us.
    pub more: bool,
}

pub(crate) fn get_setting(conn: &Connection, key: &str) -> Result<Option<String>> {
    Ok(conn
        .prepare_cached("SELECT value FROM sync_state WHERE key = ?1")?
        .query_row([key], |r| r.get(0))
        .optional()?)
}

pub(crate) fn set_setting(tx: &Transaction<'_>, key: &str, value: &str) -> Result<()> {
    tx.prepare_cached("INSERT INTO sync_state(key, value) VALUES (?1, ?2) ON CONFLICT(key) DO UPDATE SET value = excluded.value")?
        .execute([key, value])?;
    Ok(())
}

/// Rebuilds a record's projection (by kind) from its document, inside `tx`.
pub(crate) fn reproject(
    tx: &Transaction<'_>,
    written: Written,
    id: &str,
    kind: &str,
    doc: &AutoCommit,
    existed: bool,
) -> Result<()> {
    let Written {
        rid,
        updated_at,
        sync_state,
    } = written;
    match kind {
        "contact" => contacts::project(
            tx,
            rid,
            &contact::from_doc(id, doc, updated_at, sync_state),
            existed,
        ),
        "visit" => {
            visits::project(tx, rid, &visit::from_doc(id, doc, updated_at, sync_state))?;
            super::flow::project_check(tx, rid, doc)
        }
        "deal" => super::deals::project(
            tx,
            rid,
            &record::deal::from_doc(id, doc, updated_at, sync_state),
        )
        .map(|_| ()),
        crate::access::RESTRICTED_KIND => super::restricted::project(tx, rid, id, doc),
        "task" => super::tasks::project(
            tx,
            rid,
            &record::task::from_doc(id, doc, updated_at, sync_state),
        ),
        "attachment" => super::attachments::project(
            tx,
            rid,
            &crate::record::attachment::from_doc(id, doc, updated_at, sync_state),
        ),
        "config" => super::flow::project_config(tx, doc),
        // A kind from a newer app version: the document is kept, there is nothing to show yet.
        _ => Ok(()),
    }
}

fn render(value: &Value<'_>, doc: &AutoCommit, obj: &automerge::ObjId) -> String {
    match value {
        Value::Object(ObjType::List) => doc
            .values(obj)
            .filter_map(|(v, _)| match v {
                Value::Scalar(s) => s.as_str().map(str::to_string),
                _ => None,
            })
            .collect::<Vec<_>>()
            .join(", "),
        other => record::render_value(doc, other.clone(), obj),
    }
}

/// The fields of a document with concurrent, unresolved values.
pub(crate) fn field_conflicts(doc: &mut AutoCommit) -> Vec<FieldConflict> {
    let keys: Vec<String> = doc.keys(ROOT).collect();
    let mut out = Vec::new();
    for key in keys {
        let Ok(all) = doc.get_all(ROOT, key.as_str()) else {
            continue;
        };
        let all: Vec<(Value<'static>, automerge::ObjId)> =
            all.into_iter().map(|(v, o)| (v.into_owned(), o)).collect();
        if all.len() < 2 {
            continue;
        }
        // The winner is what `get` returns; list it first.
        let winner = doc.get(ROOT, key.as_str()).ok().flatten().map(|(_, id)| id);
        let mut values: Vec<(bool, ConflictValue)> = Vec::new();
        for (value, obj) in all {
            let rendered = render(&value, doc, &obj);
            let (actor, at) = doc
                .hash_for_opid(&obj)
                .and_then(|h| {
                    doc.get_change_meta_by_hash(&h)
                        .map(|m| (m.message.map(|s| s.to_string()), m.timestamp))
                })
                .map(|(msg, ts)| {
                    let user = msg
                        .and_then(|m| serde_json::from_str::<record::ChangeMessage>(&m).ok())
                        .map(|m| m.user)
                        .unwrap_or_default();
                    (user, record::rfc3339_ms(ts))
                })
                .unwrap_or_default();
            values.push((
                Some(&obj) == winner.as_ref(),
                ConflictValue {
                    value: rendered,
                    actor,
                    at,
                },
            ));
        }
        values.sort_by_key(|(is_winner, _)| !*is_winner);
        out.push(FieldConflict {
            field: key,
            values: values.into_iter().map(|(_, v)| v).collect(),
        });
    }
    out
}

impl Store {
    /// Remembers the sync server and this device's token. Refused on a locked store, like
    /// every write ([`Store::sign_in`] is how a locked store signs in to sync).
    pub fn set_server(&mut self, url: &str, token: &str) -> Result<()> {
        self.guard()?;
        self.remember_server(url, token)
    }

    /// Signs in before a sync: the server URL and this device's token together (remembered,
    /// as [`Store::set_server`] does; another server than before starts over with a full
    /// download), or neither to use the remembered pair. Works on a locked or wiped store:
    /// signing in and syncing is what renews the lease. Errors: [`Error::Validation`] on the
    /// missing one when only one of the pair is given, and on `server` when neither is given
    /// and none is remembered.
    pub fn sign_in(&mut self, server: Option<&str>, token: Option<&str>) -> Result<()> {
        match (server, token) {
            (Some(server), Some(token)) => self.remember_server(server, token),
            (None, None) if self.server()?.is_none() => Err(Error::validation(
                "server",
                "",
                "no sync server set: give the server URL and this device's token once (they are remembered)",
            )),
            (None, None) => Ok(()),
            (server, _) => Err(Error::validation(
                if server.is_some() { "token" } else { "server" },
                "",
                "give the server URL and the device token together, or neither to use the remembered ones",
            )),
        }
    }

    fn remember_server(&mut self, url: &str, token: &str) -> Result<()> {
        let url = url.trim().trim_end_matches('/');
        if !(url.starts_with("http://") || url.starts_with("https://")) {
            return Err(Error::validation(
                "server",
                url,
                "the server must be an http:// or https:// URL",
            ));
        }
        if token.trim().is_empty() {
            return Err(Error::validation("token", "", "the device token is empty"));
        }
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let previous = get_setting(&tx, KEY_SERVER)?;
        if previous.as_deref().is_some_and(|p| p != url) {
            // Another server: its log positions mean nothing here. Start over from a bootstrap.
            set_setting(&tx, KEY_CURSOR, "0")?;
            set_setting(&tx, KEY_BOOTSTRAPPED, "0")?;
        }
        set_setting(&tx, KEY_SERVER, url)?;
        set_setting(&tx, KEY_TOKEN, token.trim())?;
        tx.commit()?;
        Ok(())
    }

    /// The remembered server URL and token, if any.
    pub fn server(&self) -> Result<Option<(String, String)>> {
        let url = get_setting(&self.conn, KEY_SERVER)?;
        let token = get_setting(&self.conn, KEY_TOKEN)?;
        Ok(url.zip(token))
    }

    /// The server log position this store has applied.
    pub fn cursor(&self) -> Result<u64> {
        Ok(get_setting(&self.conn, KEY_CURSOR)?
            .and_then(|c| c.parse().ok())
            .unwrap_or(0))
    }

    /// Whether this store still needs its first full download.
    pub fn needs_bootstrap(&self) -> Result<bool> {
        Ok(get_setting(&self.conn, KEY_BOOTSTRAPPED)?.as_deref() != Some("1"))
    }

    /// The Automerge actor id of this store (the device id's 16 bytes).
    pub fn actor_bytes(&self) -> Vec<u8> {
        self.actor.actor_id().to_bytes().to_vec()
    }

    /// Reads up to `max_changes` pending outbox entries and builds the next sync request.
    pub fn prepare_sync(&self, max_changes: usize, limit: Option<u32>) -> Result<Outgoing> {
        let run = || -> Result<Outgoing> {
            let mut stmt = self.conn.prepare_cached(
                "SELECT o.seq, o.change_hash, r.id, r.kind, r.doc FROM outbox o JOIN records r ON r.rid = o.rid \
                 WHERE o.rejected_reason IS NULL ORDER BY o.seq LIMIT ?1",
            )?;
            let rows = stmt.query_map([max_changes as i64], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, Vec<u8>>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, String>(3)?,
                    r.get::<_, Vec<u8>>(4)?,
                ))
            })?;
            let mut docs: BTreeMap<String, AutoCommit> = BTreeMap::new();
            let mut changes = Vec::new();
            let mut sent = Vec::new();
            for row in rows {
                let (seq, hash, id, kind, bytes) = row?;
                if !docs.contains_key(&id) {
                    docs.insert(id.clone(), record::load(&id, &bytes, &self.actor)?);
                }
                let Some(doc) = docs.get_mut(&id) else {
                    continue;
                };
                let Ok(hash_arr) = <[u8; 32]>::try_from(hash.as_slice()) else {
                    continue;
                };
                let Some(change) = doc.get_change_by_hash(&ChangeHash(hash_arr)) else {
                    return Err(Error::Document {
                        id,
                        reason: "an outbox change is missing from its document".into(),
                    });
                };
                changes.push(PushChange {
                    record: id,
                    kind,
                    change: change.raw_bytes().to_vec(),
                });
                sent.push((seq, hash));
            }
            let request = SyncRequest {
                v: PROTOCOL_VERSION,
                actor: self.actor_bytes(),
                cursor: self.cursor()?,
                changes,
                limit,
            };
            Ok(Outgoing { request, sent })
        };
        self.ctx(run())
    }

    /// Applies a sync response: acknowledged changes leave the outbox, refused ones are undone
    /// (see `core/src/store/rejections.rs`), received changes are merged into their records, and
    /// the cursor moves. One transaction: a crash before it commits leaves everything as before the sync.
    pub fn apply_sync_response(
        &mut self,
        outgoing: &Outgoing,
        response: SyncResponse,
    ) -> Result<Applied> {
        let r = self.apply_sync_response_inner(outgoing, response);
        let (applied, touched) = self.ctx(r)?;
        for (kind, id) in touched {
            self.notify_sync(&kind, &id);
        }
        Ok(applied)
    }

    fn apply_sync_response_inner(
        &mut self,
        outgoing: &Outgoing,
        response: SyncResponse,
    ) -> Result<(Applied, Vec<(String, String)>)> {
        let now = record::rfc3339_ms(Self::now_ms());
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let mut applied = Applied {
            cursor: response.cursor,
            more: response.more,
            ..Default::default()
        };
        let rejected: BTreeMap<Vec<u8>, String> = response
            .rejected
            .into_iter()
            .map(|r| (r.hash, r.reason))
            .collect();
        for (seq, hash) in &outgoing.sent {
            match rejected.get(hash) {
                Some(reason) => {
                    tx.prepare_cached(
                        "UPDATE outbox SET rejected_reason = ?1, rejected_at = ?2 WHERE seq = ?3 AND change_hash = ?4",
                    )?
                    .execute(params![reason, now, seq, hash])?;
                }
                None => {
                    // By sequence number and hash: a replayed old answer can never remove a newer entry.
                    tx.prepare_cached("DELETE FROM outbox WHERE seq = ?1 AND change_hash = ?2")?
                        .execute(params![seq, hash])?;
                    applied.acknowledged += 1;
                }
            }
        }
        // Received changes, grouped by record, in log order.
        let mut by_record: BTreeMap<String, (String, Vec<Change>)> = BTreeMap::new();
        for entry in response.entries {
            let change = Change::from_bytes(entry.change).map_err(|e| Error::Server {
                status: 200,
                code: "bad_change".into(),
                message: format!("record {}: {e}", entry.record),
            })?;
            by_record
                .entry(entry.record)
                .or_insert_with(|| (entry.kind, Vec::new()))
                .1
                .push(change);
            applied.pulled += 1;
        }
        let mut touched = Vec::new();
        for (id, (kind, changes)) in by_record {
            let conflicted = merge_into(&tx, &self.actor, &id, &kind, |doc| {
                doc.apply_changes(changes).map_err(|e| Error::Document {
                    id: id.clone(),
                    reason: e.to_string(),
                })
            })?;
            if conflicted {
                applied.conflicted_records.insert(id.clone());
            }
            touched.push((kind, id));
        }
        // Refused changes are undone now, so that the record is never stuck behind them.
        let recovery = super::rejections::recover(&tx, &self.actor)?;
        applied.rejected = recovery.notices.len() as u64;
        applied.rejections = recovery.notices;
        for (kind, id) in recovery.touched {
            if !touched.iter().any(|(k, i)| *k == kind && *i == id) {
                touched.push((kind, id));
            }
        }
        mark_synced(&tx)?;
        if let Some(scope) = response.scope {
            if let (Some(lease_ms), Some(grace_ms)) = (scope.lease_ms, scope.grace_ms) {
                super::lease::apply_tenant_policy(&tx, lease_ms, grace_ms)?;
            }
            super::scope::store(&tx, scope)?;
        }
        set_setting(&tx, KEY_CURSOR, &response.cursor.to_string())?;
        set_setting(&tx, KEY_LAST_SYNC, &now)?;
        super::lease::renewed(&tx)?;
        set_setting(&tx, KEY_SERVER_TIME, &response.server_time_ms.to_string())?;
        tx.commit()?;
        Ok((applied, touched))
    }

    /// Applies one page of a bootstrap: each document is merged with the local record of the
    /// same id (or stored as it is). After the last page the cursor is set to `first_cursor`.
    pub fn apply_bootstrap_page(
        &mut self,
        page: BootstrapResponse,
        first_cursor: u64,
    ) -> Result<Applied> {
        let r = (|| -> Result<(Applied, Vec<(String, String)>)> {
            let tx = self
                .conn
                .transaction_with_behavior(TransactionBehavior::Immediate)?;
            let mut applied = Applied {
                cursor: first_cursor,
                more: page.next.is_some(),
                ..Default::default()
            };
            let touched = apply_snapshots(&tx, &self.actor, page.docs, &mut applied)?;
            if page.next.is_none() {
                mark_synced(&tx)?;
                set_setting(&tx, KEY_CURSOR, &first_cursor.to_string())?;
                set_setting(&tx, KEY_BOOTSTRAPPED, "1")?;
            }
            tx.commit()?;
            Ok((applied, touched))
        })();
        let (applied, touched) = self.ctx(r)?;
        for (kind, id) in touched {
            self.notify_sync(&kind, &id);
        }
        Ok(applied)
    }

    /// Applies documents fetched with `POST /v1/records` (records that entered this user's scope):
    /// each is merged with the local record of the same id, or stored as it is, and its
    /// projection, search tokens and match keys rebuilt. One transaction; nothing is queued.
    pub fn apply_fetched_records(
        &mut self,
        docs: Vec<crate::sync::protocol::DocSnapshot>,
    ) -> Result<Applied> {
        let cursor = self.cursor()?;
        let r = (|| -> Result<(Applied, Vec<(String, String)>)> {
            let tx = self
                .conn
                .transaction_with_behavior(TransactionBehavior::Immediate)?;
            let mut applied = Applied {
                cursor,
                ..Default::default()
            };
            let touched = apply_snapshots(&tx, &self.actor, docs, &mut applied)?;
            tx.commit()?;
            Ok((applied, touched))
        })();
        let (applied, touched) = self.ctx(r)?;
        for (kind, id) in touched {
            self.notify_sync(&kind, &id);
        }
        Ok(applied)
    }

    /// Marks the bootstrap done without downloading (the server had nothing yet).
    pub fn finish_bootstrap(&mut self, cursor: u64) -> Result<()> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        set_setting(&tx, KEY_CURSOR, &cursor.to_string())?;
        set_setting(&tx, KEY_BOOTSTRAPPED, "1")?;
        tx.commit()?;
        Ok(())
    }

    fn notify_sync(&self, kind: &str, id: &str) {
        // A restricted field changed: its deal is what the app shows.
        let id = if kind == crate::access::RESTRICTED_KIND {
            match crate::access::RESTRICTED_FIELDS
                .iter()
                .find_map(|(f, k)| Some((id.strip_suffix(&format!("_{f}"))?, *k)))
            {
                Some((parent, "deal")) => return self.notify_sync("deal", parent),
                _ => return,
            }
        } else {
            id
        };
        let kind = match kind {
            "contact" => RecordKind::Contact,
            "visit" => RecordKind::Visit,
            "attachment" => RecordKind::Attachment,
            "deal" => RecordKind::Deal,
            "task" => RecordKind::Task,
            _ => return,
        };
        if let Some(l) = &self.listener {
            l.on_change(&super::RecordChange {
                kind,
                id: id.to_string(),
                origin: super::ChangeOrigin::Sync,
            });
        }
    }

    /// Fields of a contact that were edited concurrently on several devices and not yet resolved.
    pub fn contact_conflicts(&self, id: &str) -> Result<Vec<FieldConflict>> {
        self.guard()?;
        let run = || -> Result<Vec<FieldConflict>> {
            let (_, mut doc, _) =
                super::load_record(&self.conn, RecordKind::Contact, id, &self.actor)?;
            Ok(field_conflicts(&mut doc))
        };
        self.ctx(run())
    }

    /// Resolves a conflict: `value`, one of the competing values of `field` (as
    /// [`Store::contact_conflicts`] lists them; a list of phones or emails in any order and in
    /// any form the contact form accepts), is written so that it supersedes every competing
    /// value, on this device now and on every device after sync. A field without a conflict, or
    /// a value that is not one of the competing ones, is refused naming the field (an ordinary
    /// edit changes a field to a new value; [`Store::resolve_contact_conflict_with_new_value`]
    /// resolves with a value none of them had).
    pub fn resolve_contact_conflict(
        &mut self,
        id: &str,
        field: &str,
        value: &str,
    ) -> Result<crate::Contact> {
        self.guard()?;
        self.resolve(id, field, value, false)
    }

    /// Resolves a conflict on `field` with a new `value` that none of the competing values had
    /// (both were wrong), validated like an edit; it supersedes every competing value. A field
    /// without a conflict is refused naming the field.
    pub fn resolve_contact_conflict_with_new_value(
        &mut self,
        id: &str,
        field: &str,
        value: &str,
    ) -> Result<crate::Contact> {
        self.guard()?;
        self.resolve(id, field, value, true)
    }

    fn resolve(
        &mut self,
        id: &str,
        field: &str,
        value: &str,
        new_value: bool,
    ) -> Result<crate::Contact> {
        let conflicts = self.contact_conflicts(id)?;
        check_choice(&conflicts, field, value, self.region, new_value)?;
        let mut patch = crate::ContactPatch::default();
        let items = || {
            value
                .split(',')
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty())
                .collect::<Vec<_>>()
        };
        match field {
            "phones" => patch.phones = Some(items()),
            "emails" => patch.emails = Some(items()),
            _ => {
                patch.set.insert(field.to_string(), value.to_string());
            }
        }
        let fields = contact::ContactFields::from_patch(patch, self.region, false)?;
        let r = self.change_contact(id, "resolve", |doc| {
            // A fresh write, even of the value that currently wins, supersedes all of them.
            match field {
                "phones" | "emails" => {
                    let values = if field == "phones" {
                        fields.phones.clone()
                    } else {
                        fields.emails.clone()
                    };
                    let list = doc.put_object(ROOT, field, ObjType::List)?;
                    for (i, v) in values.unwrap_or_default().iter().enumerate() {
                        doc.insert(&list, i, v.as_str())?;
                    }
                }
                "notes" => {
                    let text = doc.put_object(ROOT, field, ObjType::Text)?;
                    doc.splice_text(&text, 0, 0, fields.notes.as_deref().unwrap_or_default())?;
                }
                _ => {
                    let v = [
                        &fields.name,
                        &fields.company,
                        &fields.title,
                        &fields.address,
                        &fields.source,
                        &fields.owner,
                    ]
                    .into_iter()
                    .flatten()
                    .next()
                    .cloned()
                    .or_else(|| fields.extra.get(field).cloned())
                    .unwrap_or_default();
                    doc.put(ROOT, field, ScalarValue::Str(v.into()))?;
                }
            }
            Ok(())
        });
        let c = self.ctx(r)?;
        self.notify(RecordKind::Contact, &c.id);
        Ok(c)
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

/// Checks that `field` has a conflict among `conflicts` and, unless `new_value`, that `value`
/// is one of its competing values: the same text (trimmed), or for `phones` and `emails` the
/// same values in any order, each compared in its stored form.
fn check_choice(
    conflicts: &[FieldConflict],
    field: &str,
    value: &str,
    region: crate::Region,
    new_value: bool,
) -> Result<()> {
    let Some(conflict) = conflicts.iter().find(|c| c.field == field) else {
        let open: Vec<&str> = conflicts.iter().map(|c| c.field.as_str()).collect();
        return Err(Error::validation(
            field,
            value,
            if open.is_empty() {
                "no conflict on this field (nor on any other of this contact): change it with an edit"
                    .to_string()
            } else {
                format!(
                    "no conflict on this field (the fields in conflict: {}): change it with an edit",
                    open.join(", ")
                )
            },
        ));
    };
    if new_value {
        return Ok(());
    }
    let list = |text: &str| -> Result<BTreeSet<String>> {
        text.split(',')
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .map(|v| match field {
                "phones" => crate::normalize::phone(field, v, region),
                _ => crate::normalize::email(field, v),
            })
            .collect()
    };
    let chosen = |candidate: &str| -> Result<bool> {
        Ok(match field {
            "phones" | "emails" => list(value)? == list(candidate).unwrap_or_default(),
            _ => value.trim() == candidate.trim(),
        })
    };
    for candidate in &conflict.values {
        if chosen(&candidate.value)? {
            return Ok(());
        }
    }
    let values: Vec<String> = conflict
        .values
        .iter()
        .map(|v| format!("{:?}", v.value))
        .collect();
    Err(Error::validation(
        field,
        value,
        format!(
            "not one of the competing values: choose {} (or resolve with a new value explicitly)",
            values.join(" or ")
        ),
    ))
}

/// Loads (or creates) a record, applies `f`, saves it without queueing anything, and rebuilds its
/// projection. Returns whether the record now has conflicting values.
fn merge_into(
    tx: &Transaction<'_>,
    actor: &Actor,
    id: &str,
    kind: &str,
    f: impl FnOnce(&mut AutoCommit) -> Result<()>,
) -> Result<bool> {
    let existing: Option<(i64, Vec<u8>)> = tx
        .prepare_cached("SELECT rid, doc FROM records WHERE id = ?1")?
        .query_row([id], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?;
    let (rid, mut doc) = match existing {
        Some((rid, bytes)) => (Some(rid), record::load(id, &bytes, actor)?),
        None => (None, record::new_doc(actor)),
    };
    f(&mut doc)?;
    if rid.is_none() && doc.get_heads().is_empty() {
        // Only changes whose dependencies have not arrived (Automerge holds them): nothing yet.
        return Ok(false);
    }
    let existed = rid.is_some();
    let written = write_record(tx, rid, id, kind, &mut doc, None)?;
    reproject(tx, written, id, kind, &doc, existed)?;
    Ok(!field_conflicts(&mut doc).is_empty())
}

/// Merges downloaded documents into `tx` (bootstrap pages and fetched records alike); returns
/// the (kind, id) of each record touched.
fn apply_snapshots(
    tx: &Transaction<'_>,
    actor: &Actor,
    docs: Vec<crate::sync::protocol::DocSnapshot>,
    applied: &mut Applied,
) -> Result<Vec<(String, String)>> {
    let mut touched = Vec::new();
    for snap in docs {
        let known: bool = tx
            .prepare_cached("SELECT EXISTS (SELECT 1 FROM records WHERE id = ?1)")?
            .query_row([&snap.record], |r| r.get(0))?;
        if !known {
            // A record this device does not have: keep the server's compacted bytes as
            // they are (no merge into an empty document, no second save).
            if store_snapshot(tx, actor, &snap)? {
                applied.conflicted_records.insert(snap.record.clone());
            }
            applied.pulled += 1;
            touched.push((snap.kind, snap.record));
            continue;
        }
        let conflicted = merge_into(tx, actor, &snap.record, &snap.kind, |doc| {
            let mut remote = AutoCommit::load(&snap.doc).map_err(|e| Error::Document {
                id: snap.record.clone(),
                reason: e.to_string(),
            })?;
            doc.merge(&mut remote).map(|_| ()).map_err(Error::from)
        })?;
        if conflicted {
            applied.conflicted_records.insert(snap.record.clone());
        }
        applied.pulled += 1;
        touched.push((snap.kind, snap.record));
    }
    Ok(touched)
}

/// Stores a downloaded document of a record this device does not have, as it came, and builds
/// its projection. Returns whether it has conflicting values.
fn store_snapshot(
    tx: &Transaction<'_>,
    actor: &Actor,
    snap: &crate::sync::protocol::DocSnapshot,
) -> Result<bool> {
    let mut doc = record::load(&snap.record, &snap.doc, actor)?;
    let heads = record::heads_bytes(&mut doc);
    let updated_at = record::rfc3339_ms(record::last_change_ms(&mut doc));
    tx.prepare_cached(
        "INSERT INTO records(id, kind, doc, heads, sync_state, updated_at) VALUES (?1, ?2, ?3, ?4, 'synced', ?5)",
    )?
    .execute(params![snap.record, snap.kind, snap.doc, heads, updated_at])?;
    let written = Written {
        rid: tx.last_insert_rowid(),
        updated_at,
        sync_state: "synced".into(),
    };
    reproject(tx, written, &snap.record, &snap.kind, &doc, false)?;
    Ok(!field_conflicts(&mut doc).is_empty())
}

/// Records with nothing pending or refused in the outbox are `synced`.
fn mark_synced(tx: &Transaction<'_>) -> Result<()> {
    // Projections carry no sync state: every query reads it from `records`.
    tx.execute(
        "UPDATE records SET sync_state = 'synced' WHERE sync_state = 'local' \
         AND NOT EXISTS (SELECT 1 FROM outbox o WHERE o.rid = records.rid)",
        [],
    )?;
    super::experience::mark_reached(tx, Store::now_ms())?;
    Ok(())
}
