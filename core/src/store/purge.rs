//! Removing records that left the user's scope (a record reassigned, a team or role changed),
//! and finding the ones that entered it. See `ScopeRequest` in [`crate::sync::protocol`].
//!
//! A purge removes every trace of a record from the device: its document, projection rows,
//! search tokens, match keys, verdicts, outbox entries, its restricted field documents and the
//! files no remaining attachment uses, in one transaction with SQLite's `secure_delete` on.
//! Reconciling never purges a record with anything in the outbox (pending or refused): what the
//! server has not acknowledged exists only on this phone.
//!
//! No byte of a purged value stays on disk. `secure_delete` zeroes what the transaction frees,
//! but in WAL mode the zeroed pages go to the write-ahead log: the old pages stay in the main
//! file, and the values in older log frames, until a checkpoint copies the log back and the
//! log is truncated (`wal_checkpoint(TRUNCATE)`); the search index keeps a deleted row's words
//! in its segments until they are merged (`optimize`). After a purge the store runs that
//! checkpoint. It cannot complete while another connection reads an old snapshot (one that
//! still shows the purged rows): the purge waits [`super::wipe::SCRUB_WAIT`] for it, then leaves the scrub
//! to the checkpoint thread, which retries until it completes, and to the next open if the app
//! stops first (a `scrub_pending` mark in `sync_state`).

use super::{RecordKind, Store};
use crate::access::{restricted_id, RESTRICTED_FIELDS};
use crate::error::Result;
use rusqlite::{Connection, OptionalExtension, Transaction, TransactionBehavior};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

/// Drops the words of deleted rows from the search index (FTS5 keeps them in its segments
/// until they are merged), inside `tx`.
fn compact_search(tx: &Transaction<'_>) -> Result<()> {
    tx.execute(
        "INSERT INTO contact_search(contact_search) VALUES ('optimize')",
        [],
    )?;
    Ok(())
}

/// Tables with a `rid` column that a purge leaves alone: the experience metrics count records
/// this device created and whether they reached the server, which stays true after a purge.
const KEEP_ON_PURGE: &[&str] = &["records", "experience_created"];

/// What reconciling with the server's scope listing did, and what is left to fetch.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScopeReconcile {
    /// Records removed because the user may no longer read them.
    pub purged: u64,
    /// Listed records this device does not have (to fetch with `POST /v1/records`).
    pub missing: Vec<String>,
}

/// Tables (not virtual, not a virtual table's shadow) with a `rid` column, except
/// [`KEEP_ON_PURGE`]: every projection of a record, whatever migration added it.
fn rid_tables(conn: &Connection) -> Result<Vec<String>> {
    let tables: Vec<(String, bool)> = conn
        .prepare_cached(
            "SELECT name, sql LIKE 'CREATE VIRTUAL%' FROM sqlite_master \
             WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name",
        )?
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<rusqlite::Result<_>>()?;
    let shadow_prefixes: Vec<String> = tables
        .iter()
        .filter(|(_, v)| *v)
        .map(|(n, _)| format!("{n}_"))
        .collect();
    let mut out = Vec::new();
    for (name, is_virtual) in &tables {
        if *is_virtual
            || KEEP_ON_PURGE.contains(&name.as_str())
            || shadow_prefixes.iter().any(|p| name.starts_with(p.as_str()))
        {
            continue;
        }
        let has_rid: bool = conn
            .prepare(&format!(
                "SELECT EXISTS (SELECT 1 FROM pragma_table_info('{name}') WHERE name = 'rid')"
            ))?
            .query_row([], |r| r.get(0))?;
        if has_rid {
            out.push(name.clone());
        }
    }
    Ok(out)
}

/// Removes records `ids` (and their restricted field documents) inside `tx`; with
/// `keep_pending`, a restricted document with outbox entries is kept. Returns how many records
/// were removed. Unknown ids are skipped.
pub(crate) fn purge_in(tx: &Transaction<'_>, ids: &[String], keep_pending: bool) -> Result<u64> {
    let mut targets: BTreeMap<i64, (String, String)> = BTreeMap::new();
    let lookup = |id: &str| -> Result<Option<(i64, String, bool)>> {
        Ok(tx
            .prepare_cached(
                "SELECT rid, kind, EXISTS (SELECT 1 FROM outbox o WHERE o.rid = records.rid) \
                 FROM records WHERE id = ?1",
            )?
            .query_row([id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .optional()?)
    };
    for id in ids {
        let Some((rid, kind, _)) = lookup(id)? else {
            continue;
        };
        targets.insert(rid, (id.clone(), kind));
        for (field, _) in RESTRICTED_FIELDS {
            let child = restricted_id(id, field);
            if let Some((rid, kind, pending)) = lookup(&child)? {
                if !(keep_pending && pending) {
                    targets.insert(rid, (child, kind));
                }
            }
        }
    }
    if targets.is_empty() {
        return Ok(0);
    }
    let tables = rid_tables(tx)?;
    let mut blobs: BTreeSet<String> = BTreeSet::new();
    let mut parents: BTreeSet<String> = BTreeSet::new();
    for (rid, (_, kind)) in &targets {
        let kind = RecordKind::parse(kind);
        if kind == Some(RecordKind::Attachment) {
            if let Some(b) = tx
                .prepare_cached("SELECT blob FROM attachments WHERE rid = ?1")?
                .query_row([rid], |r| r.get::<_, String>(0))
                .optional()?
            {
                blobs.insert(b);
            }
        }
        if kind == Some(RecordKind::Restricted) {
            if let Some(of) = tx
                .prepare_cached("SELECT of FROM restricted_values WHERE rid = ?1")?
                .query_row([rid], |r| r.get::<_, String>(0))
                .optional()?
            {
                parents.insert(of);
            }
        }
        // The search index is contentless: its rows go by rowid (= the record's rid).
        tx.prepare_cached("DELETE FROM contact_search WHERE rowid = ?1")?
            .execute([rid])?;
        for table in &tables {
            tx.prepare_cached(&format!("DELETE FROM \"{table}\" WHERE rid = ?1"))?
                .execute([rid])?;
        }
        tx.prepare_cached("DELETE FROM records WHERE rid = ?1")?
            .execute([rid])?;
    }
    for sha in &blobs {
        tx.prepare_cached(
            "DELETE FROM blobs WHERE sha256 = ?1 AND NOT EXISTS (SELECT 1 FROM attachments WHERE blob = ?1)",
        )?
        .execute([sha])?;
    }
    if targets
        .values()
        .any(|(_, kind)| kind == RecordKind::Contact.as_str())
    {
        compact_search(tx)?;
    }
    // A deal that stays loses the values of the restricted documents that went.
    let removed: BTreeSet<&str> = targets.values().map(|(id, _)| id.as_str()).collect();
    for of in parents.iter().filter(|p| !removed.contains(p.as_str())) {
        super::deals::refresh_parent(tx, of)?;
    }
    Ok(targets.len() as u64)
}

impl Store {
    /// Removes records from this device, whatever their kind, in one transaction: their
    /// documents, projection rows, search tokens, match keys, verdicts and outbox entries, their
    /// restricted field documents (`{id}_{field}`), and the files no remaining attachment uses.
    /// Freed pages are zeroed (`secure_delete`). Returns how many records were removed (unknown
    /// ids are skipped). Unsent changes of these records are lost: see
    /// [`Store::reconcile_scope`] for the purge that never drops them.
    pub fn purge_records(&mut self, ids: &[String]) -> Result<u64> {
        let r = self.with_secure_delete(|tx| purge_in(tx, ids, false));
        let purged = self.ctx(r)?;
        if purged > 0 {
            let r = self.scrub();
            self.ctx(r)?;
        }
        Ok(purged)
    }

    /// Reconciles the local records with the server's listing of the user's scope (`listed`,
    /// every page of `POST /v1/scope`): records not listed are purged unless they have anything
    /// in the outbox (pending or refused) or are the tenant's settings; listed records this
    /// device lacks are returned as `missing`. One transaction.
    pub fn reconcile_scope(&mut self, listed: &BTreeSet<String>) -> Result<ScopeReconcile> {
        let r = self.with_secure_delete(|tx| {
            let local: Vec<(String, String, bool)> = tx
                .prepare(
                    "SELECT id, kind, EXISTS (SELECT 1 FROM outbox o WHERE o.rid = records.rid) \
                     FROM records ORDER BY id",
                )?
                .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
                .collect::<rusqlite::Result<_>>()?;
            let held: BTreeSet<&str> = local.iter().map(|(id, _, _)| id.as_str()).collect();
            let missing: Vec<String> = listed
                .iter()
                .filter(|id| !held.contains(id.as_str()))
                .cloned()
                .collect();
            let gone: Vec<String> = local
                .iter()
                .filter(|(id, kind, pending)| {
                    !pending && kind != RecordKind::Config.as_str() && !listed.contains(id)
                })
                .map(|(id, _, _)| id.clone())
                .collect();
            let purged = purge_in(tx, &gone, true)?;
            Ok(ScopeReconcile { purged, missing })
        });
        let reconciled = self.ctx(r)?;
        if reconciled.purged > 0 {
            let r = self.scrub();
            self.ctx(r)?;
        }
        Ok(reconciled)
    }

    /// Runs `f` in one immediate transaction with `secure_delete` on, restoring the setting
    /// after.
    fn with_secure_delete<T>(
        &mut self,
        f: impl FnOnce(&Transaction<'_>) -> Result<T>,
    ) -> Result<T> {
        let before: i64 = self
            .conn
            .pragma_query_value(None, "secure_delete", |r| r.get(0))?;
        self.conn.pragma_update(None, "secure_delete", true)?;
        let run = |conn: &mut Connection| -> Result<T> {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let out = f(&tx)?;
            tx.commit()?;
            Ok(out)
        };
        let out = run(&mut self.conn);
        self.conn.pragma_update(None, "secure_delete", before)?;
        out
    }
}
