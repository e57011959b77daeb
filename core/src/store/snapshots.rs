//! Storing downloaded documents: bootstrap pages and records fetched when they enter the user's
//! scope.
//!
//! A new device downloads every document it may read. Stored one at a time, each took a dozen
//! statements and a search-index segment of its own; here a page goes like an import's chunk
//! (`super::bulk`): the documents the device does not have are loaded and projected on all
//! cores (document, heads, projection, search tokens, match keys, conflicts), then this thread
//! writes them, their search tokens together at the end. A contact that comes with a summary
//! from the server (`crate::sync::summary`, ADR 0021) is not loaded at all: its rows are
//! written from the summary and its document stored as it came. Documents of records the
//! device has are merged one by one, as every received change is.

use super::conflicts::has_field_conflicts;
use super::contacts;
use super::pool::{default_threads, Pool};
use super::projections::reproject;
use super::records::{insert_row, write_received, Written};
use super::RecordKind;
use crate::error::{Error, Result};
use crate::record::{self, contact, Actor, SyncState};
use crate::sync::protocol::{BootstrapResponse, DocSnapshot};
use crate::sync::summary;
use crate::Contact;
use automerge::AutoCommit;
use rusqlite::{OptionalExtension, Transaction};
use std::collections::{BTreeSet, HashSet};

/// A downloaded document projected for writing, or why it could not be.
pub(crate) struct Prepared {
    snap: DocSnapshot,
    made: Result<Made>,
}

/// What a new record's rows are written from.
struct Made {
    heads: Vec<u8>,
    updated_at: String,
    conflicted: bool,
    rows: Rows,
}

/// What a prepared record's projection rows are written from.
enum Rows {
    /// A contact's projection, search tokens and match keys (from its summary or its document).
    Contact(Box<ContactRows>),
    /// The loaded document of another kind, projected as every received record is.
    Doc(Box<AutoCommit>),
}

/// A bootstrap page whose documents were projected away from the store (on all cores, while
/// the page before it was written): [`super::Store::apply_prepared_bootstrap_page`] only
/// writes them.
pub struct PreparedPage {
    /// The page's other fields; its documents were moved into `docs`.
    pub page: BootstrapResponse,
    docs: Vec<Prepared>,
}

impl PreparedPage {
    /// Projects `page`'s documents as a device whose changes are made by `actor` stores them
    /// ([`super::Store::actor`]). Needs no store: runs on any thread.
    pub fn new(mut page: BootstrapResponse, actor: &Actor) -> Self {
        let docs = prepare_all(std::mem::take(&mut page.docs), actor);
        Self { page, docs }
    }

    pub(super) fn into_docs(self) -> Vec<Prepared> {
        self.docs
    }
}

/// A contact's projection with its stored columns, search tokens and match keys.
struct ContactRows {
    contact: Contact,
    columns: contacts::Columns,
    tokens: String,
    keys: Vec<String>,
}

fn contact_rows(contact: Contact) -> Rows {
    let tokens = contacts::tokens(&contact);
    let keys = crate::dedup::keys::contact_keys(
        &contact.name,
        contact.company.as_deref(),
        &contact.phones,
        &contact.emails,
    );
    let columns = contacts::Columns::of(&contact);
    Rows::Contact(Box::new(ContactRows {
        contact,
        columns,
        tokens,
        keys,
    }))
}

/// Projects one downloaded document as if it were new to the device (no SQLite: runs on any
/// thread): from the summary the server sent with it when this build can use one, else by
/// loading the document.
fn prepare(mut snap: DocSnapshot, actor: &Actor) -> Prepared {
    let made = make(&mut snap, actor);
    Prepared { snap, made }
}

fn make(snap: &mut DocSnapshot, actor: &Actor) -> Result<Made> {
    let is_contact = RecordKind::parse(&snap.kind) == Some(RecordKind::Contact);
    let summary = snap.summary.take();
    if let Some(s) = summary
        .filter(|_| is_contact)
        .and_then(|bytes| summary::read(&snap.record, &bytes, &snap.doc))
    {
        return Ok(Made {
            heads: s.heads,
            updated_at: s.contact.updated_at.clone(),
            conflicted: s.conflicted,
            rows: contact_rows(s.contact),
        });
    }
    let mut doc = record::load(&snap.record, &snap.doc, actor)?;
    let heads = record::heads_bytes(&mut doc);
    let updated_at = record::rfc3339_ms(record::last_change_ms(&mut doc));
    let conflicted = has_field_conflicts(&doc);
    let rows = if is_contact {
        contact_rows(contact::from_doc(
            &snap.record,
            &doc,
            updated_at.clone(),
            SyncState::Synced,
        ))
    } else {
        Rows::Doc(Box::new(doc))
    };
    Ok(Made {
        heads,
        updated_at,
        conflicted,
        rows,
    })
}

/// [`prepare`]s every document on all cores, in order.
fn prepare_all(docs: Vec<DocSnapshot>, actor: &Actor) -> Vec<Prepared> {
    let prepare = |snap: DocSnapshot| prepare(snap, actor);
    std::thread::scope(|s| {
        let pool = Pool::start(s, default_threads());
        pool.map(docs, &prepare)
    })
}

/// Merges downloaded documents into `tx`; returns the (kind, id) of each record touched, and
/// adds to `conflicted` those that now have conflicting values.
pub(super) fn apply_snapshots(
    tx: &Transaction<'_>,
    actor: &Actor,
    docs: Vec<DocSnapshot>,
    conflicted: &mut BTreeSet<String>,
) -> Result<Vec<(String, String)>> {
    // Only the documents new to the device are projected ahead.
    let (fresh, known) = split(tx, docs, |snap| snap)?;
    write(tx, actor, prepare_all(fresh, actor), known, conflicted)
}

/// [`apply_snapshots`] of documents prepared ahead ([`PreparedPage`]); those of records the
/// device has by now are merged, their preparation unused.
pub(super) fn apply_prepared(
    tx: &Transaction<'_>,
    actor: &Actor,
    docs: Vec<Prepared>,
    conflicted: &mut BTreeSet<String>,
) -> Result<Vec<(String, String)>> {
    let (fresh, known) = split(tx, docs, |p| &p.snap)?;
    let known = known.into_iter().map(|p| p.snap).collect();
    write(tx, actor, fresh, known, conflicted)
}

/// Splits `items` into those of records new to the device and those it has (stored, or met
/// earlier in `items`: the same id twice in one answer is merged into the first).
fn split<T>(
    tx: &Transaction<'_>,
    items: Vec<T>,
    snap: impl Fn(&T) -> &DocSnapshot,
) -> Result<(Vec<T>, Vec<T>)> {
    let mut fresh = Vec::with_capacity(items.len());
    let mut known = Vec::new();
    let mut ids = HashSet::with_capacity(items.len());
    let mut exists = tx.prepare_cached("SELECT EXISTS (SELECT 1 FROM records WHERE id = ?1)")?;
    for item in items {
        let record = &snap(&item).record;
        let stored: bool = exists.query_row([record], |r| r.get(0))?;
        if stored || !ids.insert(record.clone()) {
            known.push(item);
        } else {
            fresh.push(item);
        }
    }
    Ok((fresh, known))
}

/// Writes the prepared records new to the device, then merges the documents of those it has.
fn write(
    tx: &Transaction<'_>,
    actor: &Actor,
    fresh: Vec<Prepared>,
    known: Vec<DocSnapshot>,
    conflicted: &mut BTreeSet<String>,
) -> Result<Vec<(String, String)>> {
    let mut touched = Vec::with_capacity(fresh.len() + known.len());
    let mut search = Vec::with_capacity(fresh.len());
    let mut page_keys = Vec::with_capacity(fresh.len() * 4);
    for Prepared { snap, made } in fresh {
        let made = made?;
        // The document as it came: no merge into an empty one, no second save.
        let rid = insert_row(
            tx,
            &snap.record,
            &snap.kind,
            &snap.doc,
            &made.heads,
            SyncState::Synced,
            &made.updated_at,
        )?;
        match made.rows {
            Rows::Contact(c) => {
                let ContactRows {
                    contact,
                    columns,
                    tokens,
                    keys,
                } = *c;
                contacts::project_row_with(tx, rid, &contact, &columns)?;
                super::survivors::project_merge_state(tx, rid, &contact, false)?;
                page_keys.extend(keys.into_iter().map(|k| (k, rid)));
                search.push((rid, tokens));
            }
            Rows::Doc(doc) => {
                let written = Written {
                    rid,
                    updated_at: made.updated_at.clone(),
                    sync_state: SyncState::Synced,
                };
                reproject(tx, written, &snap.record, &snap.kind, &doc, false)?;
            }
        }
        if made.conflicted {
            conflicted.insert(snap.record.clone());
        }
        touched.push((snap.kind, snap.record));
    }
    // The page's match keys in key order (see `insert_keys_in_order`).
    super::dedup::insert_keys_in_order(tx, page_keys)?;
    // Together: FTS5 starts a new segment at the first other statement after its writes.
    for (rid, tokens) in &search {
        contacts::index_search(tx, *rid, tokens)?;
    }
    for snap in known {
        let conflicts = merge_into(tx, actor, &snap.record, &snap.kind, |doc| {
            let mut remote = AutoCommit::load(&snap.doc).map_err(|e| Error::Document {
                id: snap.record.clone(),
                reason: e.to_string(),
            })?;
            doc.merge(&mut remote).map(|_| ()).map_err(Error::from)
        })?;
        if conflicts {
            conflicted.insert(snap.record.clone());
        }
        touched.push((snap.kind, snap.record));
    }
    Ok(touched)
}

/// Loads (or creates) a record, applies `f`, saves it without queueing anything, and rebuilds its
/// projection. Returns whether the record now has conflicting values.
pub(super) fn merge_into(
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
    let written = write_received(tx, rid, id, kind, &mut doc)?;
    reproject(tx, written, id, kind, &doc, existed)?;
    Ok(has_field_conflicts(&doc))
}
