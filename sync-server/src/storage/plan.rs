//! What a push, a pull page, a bootstrap page or an Automerge sync message does, decided once
//! for both backends and free of I/O.
//!
//! A backend opens its transaction (serialized per tenant), reads the facts a plan needs
//! ([`PushFacts`]), calls the planner and writes the [`WritePlan`] it returns. Whether a change
//! is accepted is decided by [`outpost_core::sync::apply::apply_change_to`] (and its byte-level
//! wrapper `apply_change`) alone.

use super::{BootstrapPage, PullPage};
use crate::error::StorageError;
use crate::policy::{self, Context, Decision, Needs, Pending, Write};
use crate::policy::{Viewer, WriteFacts};
use crate::rows::{Device, DocMeta, StoredDoc};
use automerge::sync::{self, SyncDoc};
use automerge::{AutoCommit, Change};
use outpost_core::sync::apply::{apply_change, apply_change_to, ChangeRejection, Refused};
use outpost_core::sync::bounds::{Budget, ChunkError};
use outpost_core::sync::protocol::{
    DocSnapshot, LogEntry, PushChange, Rejection, MAX_CHANGES_PER_REQUEST,
};
use outpost_core::sync::summary;
use std::collections::{BTreeMap, HashMap, HashSet};

/// Longest accepted actor id, in bytes (Automerge's own are 16).
pub const MAX_ACTOR_BYTES: usize = 64;
/// Longest accepted record id.
pub const MAX_RECORD_ID_CHARS: usize = 128;

/// Checks a record id: 1 to 128 characters among `A-Z a-z 0-9 - _`.
pub fn check_record_id(id: &str) -> Result<(), StorageError> {
    let ok = !id.is_empty()
        && id.len() <= MAX_RECORD_ID_CHARS
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if ok {
        Ok(())
    } else {
        Err(StorageError::BadRequest(format!(
            "record id {:?}: must be 1 to {MAX_RECORD_ID_CHARS} characters of A-Z, a-z, 0-9, '-' or '_'",
            id.chars().take(40).collect::<String>()
        )))
    }
}

/// Checks a push before any transaction: counts, ids, actor, the bounds ([`check_bounds`]).
/// Returns each change's hash, read by the bounds check without Automerge: a change that does
/// not parse is refused when it is planned ([`plan_push`]), where it is parsed once.
pub fn check_push(actor: &[u8], changes: &[PushChange]) -> Result<Vec<[u8; 32]>, StorageError> {
    if changes.len() > MAX_CHANGES_PER_REQUEST {
        return Err(StorageError::BadRequest(format!(
            "changes: {} changes in one request, at most {MAX_CHANGES_PER_REQUEST}",
            changes.len()
        )));
    }
    if actor.len() > MAX_ACTOR_BYTES {
        return Err(StorageError::BadRequest(format!(
            "actor: {} bytes, at most {MAX_ACTOR_BYTES}",
            actor.len()
        )));
    }
    if !changes.is_empty() && actor.is_empty() {
        return Err(StorageError::BadRequest(
            "actor: a push needs the store's actor id".into(),
        ));
    }
    for (i, c) in changes.iter().enumerate() {
        check_record_id(&c.record)
            .map_err(|e| StorageError::BadRequest(format!("changes[{i}]: {e}")))?;
    }
    check_bounds(changes)
}

/// Checks every pushed change against the bounds of [`outpost_core::sync::bounds`] (size,
/// inflated size, declared operations; the request's changes against one budget) before
/// anything parses it. Call it before any code reads a pushed change. Returns each change's
/// hash. An uncompressed change that is only too large is not an error: its hash is returned
/// too, so that it is refused alone and the rest of the device's outbox flows on.
pub fn check_bounds(changes: &[PushChange]) -> Result<Vec<[u8; 32]>, StorageError> {
    let mut budget = Budget::request();
    changes
        .iter()
        .enumerate()
        .map(|(i, c)| match budget.change(&c.change) {
            Ok(info) => Ok(info.hash),
            Err(ChunkError::TooLarge {
                hash: Some(hash), ..
            }) => Ok(hash),
            Err(e) => Err(StorageError::BadRequest(format!(
                "changes[{i}] (record {}): {e}",
                c.record
            ))),
        })
        .collect()
}

/// What a backend reads inside the push transaction, after taking the tenant's lock.
#[derive(Debug, Clone, Default)]
pub struct PushFacts {
    /// The stored documents of the records the push touches (any tenant).
    pub docs: HashMap<String, StoredDoc>,
    /// The pushed (record, hash) pairs already in the tenant's log: a change is identified per
    /// record (the same bytes under another record id are not a retry; the policy refuses
    /// them, a document names its own id).
    pub known: HashSet<(String, [u8; 32])>,
    /// The device the request's actor is bound to, if any.
    pub actor_owner: Option<String>,
    /// What the write policy asked to know besides the pushed records (see
    /// [`crate::policy::Context`]).
    pub context: Context,
}

impl PushFacts {
    /// Facts for a push by a device of `tenant_id` at the server time `now_ms`.
    pub fn new(tenant_id: &str, now_ms: i64) -> Self {
        Self {
            context: Context::new(tenant_id, now_ms),
            ..Self::default()
        }
    }

    /// The `updated_seq` of every stored document among the facts (the pushed records and the
    /// records the policy looked up). Every write to a document (and every log row of its
    /// record) gives it a new, larger seq, and an actor's owner never changes once set; so when
    /// these versions (of the same [`PushFacts::version_ids`]) and `actor_owner` are unchanged
    /// under the tenant's lock, a plan made from these facts before taking the lock is still
    /// exact, unless it read a deal's evidence ([`PushFacts::reusable`]).
    pub fn versions(&self) -> BTreeMap<String, u64> {
        let mut versions: BTreeMap<String, u64> = self
            .docs
            .iter()
            .map(|(id, d)| (id.clone(), d.updated_seq))
            .collect();
        for (id, related) in &self.context.records {
            if let Some(r) = related {
                versions.insert(id.clone(), r.updated_seq);
            }
        }
        versions
    }

    /// The records whose versions [`PushFacts::versions`] covers: the pushed ones (`touched`)
    /// and those the policy looked up, found or not.
    pub fn version_ids(&self, touched: &[String]) -> Vec<String> {
        let mut ids: Vec<String> = touched
            .iter()
            .cloned()
            .chain(self.context.records.keys().cloned())
            .collect();
        ids.sort_unstable();
        ids.dedup();
        ids
    }

    /// Whether a plan made from these facts may be kept when the versions did not move: not
    /// when it read a deal's evidence (attachments and visits another push may have added).
    pub fn reusable(&self) -> bool {
        self.context.evidence.is_empty()
    }
}

/// How many times a backend reads what the policy asked for and plans again before giving up
/// (each round reads everything the previous one named; two suffice in practice).
pub const MAX_POLICY_ROUNDS: usize = 6;

/// The error when the policy still asks for facts after [`MAX_POLICY_ROUNDS`].
pub fn policy_rounds_exceeded(needs: &Needs) -> StorageError {
    StorageError::Internal(format!(
        "the write policy still asks for facts after {MAX_POLICY_ROUNDS} rounds: {needs:?}"
    ))
}

/// The distinct record ids of a push, sorted.
pub fn touched_records(changes: &[PushChange]) -> Vec<String> {
    let mut records: Vec<String> = changes.iter().map(|c| c.record.clone()).collect();
    records.sort_unstable();
    records.dedup();
    records
}

/// One change to append to the log (its seq is the log head + 1 + its index).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewEntry {
    /// The record id.
    pub record: String,
    /// The record kind.
    pub kind: String,
    /// The change hash.
    pub hash: [u8; 32],
    /// The change bytes.
    pub change: Vec<u8>,
    /// The change's actor.
    pub actor: Vec<u8>,
}

/// A document to insert or replace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DocWrite {
    /// The record id.
    pub record: String,
    /// The record kind.
    pub kind: String,
    /// The document's new `save` bytes.
    pub doc: Vec<u8>,
    /// Index in [`WritePlan::entries`] of the last change applied to it.
    pub last_entry: usize,
    /// Its `owner` field, if it has one (see [`DocMeta`]).
    pub owner: Option<String>,
    /// The record its visibility follows (its contact, or a restricted field's record).
    pub parent: Option<String>,
    /// A restricted document's field.
    pub field: Option<String>,
    /// The blob an attachment names (its file is readable by whoever may read the attachment).
    pub blob: Option<String>,
    /// What a bootstrapping device stores instead of loading the document
    /// (`outpost_core::sync::summary`); `None` for kinds without one.
    pub summary: Option<Vec<u8>>,
}

impl DocWrite {
    /// A write of `doc` (already saved as `bytes`, its facts read as `facts`) by `viewer`. A
    /// contact's `owner` field decides who sees it only when it names the writer or the writer
    /// may assign; otherwise the stored owner stays (the creator, for a new record), so a device
    /// whose local user name differs from its server user never hides its own records.
    fn new(
        record: String,
        kind: String,
        (doc, bytes): (&mut AutoCommit, Vec<u8>),
        facts: WriteFacts,
        last_entry: usize,
        viewer: &Viewer,
    ) -> Self {
        let summary = summary::summarize(&record, &kind, doc);
        let owner = facts
            .owner
            .filter(|o| *o == viewer.user || viewer.permissions.has("assign"));
        Self {
            parent: facts.parent,
            owner: if kind == "contact" { owner } else { None },
            field: if kind == outpost_core::access::RESTRICTED_KIND {
                facts.field
            } else {
                None
            },
            blob: if kind == "attachment" {
                facts.blob
            } else {
                None
            },
            record,
            kind,
            doc: bytes,
            last_entry,
            summary,
        }
    }
}

/// Everything one transaction writes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WritePlan {
    /// Actors to bind to the pushing device.
    pub bind_actors: Vec<Vec<u8>>,
    /// Log entries to append, in order.
    pub entries: Vec<NewEntry>,
    /// Documents to write, ordered by record id.
    pub docs: Vec<DocWrite>,
    /// Changes not applied, for the device.
    pub rejected: Vec<Rejection>,
    /// Of those, the ones that only lack changes the server does not have.
    pub deferred: Vec<Vec<u8>>,
    /// What the write policy needs read before this plan may be written: when not empty, the
    /// backend reads it into the facts' [`Context`] and plans again (this plan is incomplete).
    pub needs: Needs,
}

impl WritePlan {
    /// The seq of entry `index` when the log head was `head`.
    pub fn seq(head: u64, index: usize) -> u64 {
        head + 1 + index as u64
    }
}

/// Decides a push by `device_id` (tenant `tenant_id`, store actor `actor`); `hashes` come from
/// [`check_push`]. Whole-request refusals are errors; per-change ones go to `rejected`.
#[allow(clippy::too_many_arguments)]
pub fn plan_push(
    tenant_id: &str,
    device_id: &str,
    viewer: &Viewer,
    actor: &[u8],
    changes: &[PushChange],
    hashes: &[[u8; 32]],
    facts: &PushFacts,
) -> Result<WritePlan, StorageError> {
    if let Some(owner) = &facts.actor_owner {
        if owner != device_id {
            return Err(StorageError::Forbidden(
                "actor: this actor id belongs to another device".into(),
            ));
        }
    }
    let mut seen: HashSet<(&str, [u8; 32])> =
        facts.known.iter().map(|(r, h)| (r.as_str(), *h)).collect();
    // One loaded document per record for the whole push: applied to in memory, saved once.
    let mut working: BTreeMap<String, Working> = BTreeMap::new();
    let mut plan = WritePlan::default();
    for (i, (c, hash)) in changes.iter().zip(hashes).enumerate() {
        if seen.contains(&(c.record.as_str(), *hash)) {
            continue; // already in the log: a retried push, acknowledged
        }
        let stored = facts.docs.get(&c.record);
        if let Some(stored) = stored {
            if stored.tenant_id != tenant_id {
                return Err(StorageError::Forbidden(format!(
                    "changes[{i}]: record {} is not accessible to this device",
                    c.record
                )));
            }
        }
        if !working.contains_key(&c.record) {
            let base = stored.map(|s| s.doc.clone());
            let doc = load_base(base.as_deref(), i, &c.record)?;
            working.insert(
                c.record.clone(),
                Working {
                    kind: c.kind.clone(),
                    facts: base.as_ref().map(|_| WriteFacts::of(&c.kind, &doc)),
                    doc,
                    base,
                    accepted: Vec::new(),
                    last: None,
                },
            );
        }
        let applied = {
            let Some(w) = working.get_mut(&c.record) else {
                continue;
            };
            match apply_change_to(&mut w.doc, &c.kind, &c.change, actor) {
                // The record rules passed; now the write policy.
                Ok(accepted) if accepted.new => Ok(WriteFacts::of(&c.kind, &w.doc)),
                Ok(_) => {
                    seen.insert((c.record.as_str(), *hash));
                    continue;
                }
                Err(Refused {
                    rejection: ChangeRejection::Malformed(m),
                    ..
                }) => {
                    return Err(StorageError::BadRequest(format!(
                        "changes[{i}] (record {}): not a valid Automerge change: {m}",
                        c.record
                    )))
                }
                Err(Refused {
                    rejection: ChangeRejection::ForeignActor,
                    ..
                }) => {
                    return Err(StorageError::Forbidden(format!(
                    "changes[{i}] (record {}): authored by another actor than the request's actor",
                    c.record
                )))
                }
                Err(Refused {
                    rejection,
                    doc_modified,
                }) => Err((
                    rejection.to_string(),
                    doc_modified,
                    matches!(rejection, ChangeRejection::MissingDependencies(_)),
                )),
            }
        };
        let outcome = match applied {
            Ok(after) => {
                let write = Write {
                    record: &c.record,
                    kind: &c.kind,
                    stored: stored.map(|s| &s.meta),
                    before: working.get(&c.record).and_then(|w| w.facts.as_ref()),
                    after: &after,
                    at_ms: change_time(&c.kind, &c.change),
                };
                match policy::check_write(viewer, &write, &facts.context, &PendingWork(&working)) {
                    Decision::Allowed => Ok(after),
                    Decision::Refused(reason) => Err((reason, true, false)),
                    Decision::Needs(needs) => {
                        // Decided in the next round, with what it asks for read.
                        plan.needs.merge(needs);
                        Ok(after)
                    }
                }
            }
            Err(e) => Err(e),
        };
        let Some(w) = working.get_mut(&c.record) else {
            continue;
        };
        match outcome {
            Ok(after) => {
                seen.insert((c.record.as_str(), *hash));
                plan.entries.push(NewEntry {
                    record: c.record.clone(),
                    kind: c.kind.clone(),
                    hash: *hash,
                    change: c.change.clone(),
                    actor: actor.to_vec(),
                });
                w.kind = c.kind.clone();
                w.facts = Some(after);
                w.accepted.push(c.change.clone());
                w.last = Some(plan.entries.len() - 1);
            }
            Err((reason, doc_modified, missing_dependencies)) => {
                if doc_modified {
                    // Back to the stored document plus the changes accepted so far.
                    w.doc = load_base(w.base.as_deref(), i, &c.record)?;
                    let accepted = w
                        .accepted
                        .iter()
                        .map(|b| Change::from_bytes(b.clone()))
                        .collect::<Result<Vec<_>, _>>()
                        .map_err(|e| {
                            StorageError::Internal(format!("re-reading an accepted change: {e}"))
                        })?;
                    w.doc.apply_changes(accepted).map_err(|e| {
                        StorageError::Internal(format!("re-applying accepted changes: {e}"))
                    })?;
                }
                if missing_dependencies {
                    plan.deferred.push(hash.to_vec());
                }
                plan.rejected.push(Rejection {
                    hash: hash.to_vec(),
                    record: c.record.clone(),
                    reason,
                });
            }
        }
    }
    if !plan.entries.is_empty() && facts.actor_owner.is_none() {
        plan.bind_actors.push(actor.to_vec());
    }
    plan.docs = working
        .into_iter()
        .filter_map(|(record, mut w)| {
            let last_entry = w.last?;
            // The facts read after its last accepted change: the document ends in that state
            // (a refusal after it rebuilt it so).
            let facts = w.facts?;
            let bytes = w.doc.save();
            Some(DocWrite::new(
                record,
                w.kind,
                (&mut w.doc, bytes),
                facts,
                last_entry,
                viewer,
            ))
        })
        .collect();
    Ok(plan)
}

/// When a change says it was made (ms), read for the stage gates (deals only).
fn change_time(kind: &str, change: &[u8]) -> Option<i64> {
    (kind == "deal")
        .then(|| Change::from_bytes(change.to_vec()).ok())
        .flatten()
        .map(|c| c.timestamp())
}

/// The records a push wrote so far, for the policy.
struct PendingWork<'a>(&'a BTreeMap<String, Working>);

impl Pending for PendingWork<'_> {
    fn get(&self, id: &str) -> Option<(&str, &WriteFacts)> {
        let w = self.0.get(id)?;
        w.last?;
        Some((w.kind.as_str(), w.facts.as_ref()?))
    }

    fn each(&self, f: &mut dyn FnMut(&str, &str, &WriteFacts)) {
        for (id, w) in self.0 {
            if let (Some(_), Some(facts)) = (w.last, w.facts.as_ref()) {
                f(id, &w.kind, facts);
            }
        }
    }
}

/// A record's document while a push is planned.
struct Working {
    kind: String,
    /// What the document said before the next change (`None` while the record is new).
    facts: Option<WriteFacts>,
    doc: AutoCommit,
    /// The stored bytes it started from (`None` for a new record).
    base: Option<Vec<u8>>,
    /// Changes accepted so far in this push, to rebuild after a refusal.
    accepted: Vec<Vec<u8>>,
    /// Index in the plan's entries of the last change applied.
    last: Option<usize>,
}

fn load_base(base: Option<&[u8]>, i: usize, record: &str) -> Result<AutoCommit, StorageError> {
    match base {
        Some(bytes) => AutoCommit::load(bytes).map_err(|e| {
            StorageError::BadRequest(format!(
                "changes[{i}] (record {record}): not a valid Automerge change: stored document: {e}"
            ))
        }),
        None => Ok(AutoCommit::new()),
    }
}

/// A log row as read for a pull; `change` is `None` for the pulling actor's own rows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogRow {
    /// Its seq.
    pub seq: u64,
    /// The record id.
    pub record: String,
    /// The record kind.
    pub kind: String,
    /// The change bytes, unless the row is the puller's own.
    pub change: Option<Vec<u8>>,
    /// Who may see the record.
    pub meta: DocMeta,
}

/// Builds a pull page from up to `limit + 1` rows after `cursor`, ordered by seq, leaving out
/// the rows of records `viewer` may not read.
pub fn pull_page(mut rows: Vec<LogRow>, cursor: u64, limit: u32, viewer: &Viewer) -> PullPage {
    let limit = limit as usize;
    let more = rows.len() > limit;
    rows.truncate(limit);
    let cursor = rows.last().map_or(cursor, |r| r.seq);
    let entries = rows
        .into_iter()
        .filter(|r| viewer.sees(&r.record, &r.kind, &r.meta))
        .filter_map(|r| {
            r.change.map(|change| LogEntry {
                seq: r.seq,
                record: r.record,
                kind: r.kind,
                change,
            })
        })
        .collect();
    PullPage {
        entries,
        cursor,
        more,
    }
}

/// Builds a bootstrap page from up to `limit + 1` documents ordered by record id, leaving out
/// (but paging past) those `viewer` may not read.
pub fn bootstrap_page(
    mut docs: Vec<(DocSnapshot, DocMeta)>,
    head: u64,
    limit: u32,
    viewer: &Viewer,
) -> BootstrapPage {
    let limit = limit as usize;
    let more = docs.len() > limit;
    docs.truncate(limit);
    let next = if more {
        docs.last().map(|(d, _)| d.record.clone())
    } else {
        None
    };
    BootstrapPage {
        docs: docs
            .into_iter()
            .filter(|(d, m)| viewer.sees(&d.record, &d.kind, m))
            .map(|(d, _)| d)
            .collect(),
        next,
        cursor: head,
    }
}

/// One received Automerge sync message, applied to a scratch copy of the stored document.
pub struct AutomergeSession {
    doc: AutoCommit,
    state: sync::State,
    their_heads: Vec<automerge::ChangeHash>,
    new: Vec<Change>,
}

impl AutomergeSession {
    /// Receives `message` (a standard Automerge sync message) into a copy of `stored` with a
    /// fresh sync state: the server keeps no per-peer state.
    pub fn receive(stored: &StoredDoc, message: &[u8]) -> Result<Self, StorageError> {
        let msg = sync::Message::decode(message).map_err(|e| {
            StorageError::BadRequest(format!("body: not an Automerge sync message: {e}"))
        })?;
        // Automerge reads the message's chunks as one sequence: bound it before it does.
        let chunks: Vec<u8> = msg.changes.iter().flatten().copied().collect();
        Budget::request()
            .chunks(&chunks)
            .map_err(|e| StorageError::BadRequest(format!("body: {e}")))?;
        drop(chunks);
        let mut their_heads = msg.heads.clone();
        their_heads.sort();
        let mut doc = AutoCommit::load(&stored.doc)
            .map_err(|e| StorageError::Corrupt(format!("document {}: {e}", stored.record_id)))?;
        let before = doc.get_heads();
        let mut state = sync::State::new();
        doc.sync()
            .receive_sync_message(&mut state, msg)
            .map_err(|e| {
                StorageError::BadRequest(format!("body: the message's changes do not load: {e}"))
            })?;
        let new = doc.get_changes(&before);
        if new.len() > MAX_CHANGES_PER_REQUEST {
            return Err(StorageError::BadRequest(format!(
                "body: {} changes in one message, at most {MAX_CHANGES_PER_REQUEST}",
                new.len()
            )));
        }
        Ok(Self {
            doc,
            state,
            their_heads,
            new,
        })
    }

    /// Whether the message brought changes the stored document lacks.
    pub fn has_changes(&self) -> bool {
        !self.new.is_empty()
    }

    /// The distinct actors of the new changes.
    pub fn new_actors(&self) -> Vec<Vec<u8>> {
        let mut actors: Vec<Vec<u8>> = self
            .new
            .iter()
            .map(|c| c.actor_id().to_bytes().to_vec())
            .collect();
        actors.sort();
        actors.dedup();
        actors
    }

    /// Validates every new change with `apply_change` in causal order and the write policy
    /// (all must pass) and plans their append. `owners` maps the new actors already bound to
    /// their device; `context` is what the policy asked for so far (when the plan's `needs` is
    /// not empty, read it and plan again).
    pub fn plan(
        &self,
        stored: &StoredDoc,
        device_id: &str,
        viewer: &Viewer,
        owners: &HashMap<Vec<u8>, String>,
        context: &Context,
    ) -> Result<WritePlan, StorageError> {
        let mut plan = WritePlan::default();
        for actor in self.new_actors() {
            match owners.get(&actor) {
                Some(owner) if owner != device_id => {
                    return Err(StorageError::Forbidden(format!(
                        "actor {}: belongs to another device",
                        hex::encode(&actor)
                    )))
                }
                Some(_) => {}
                None => plan.bind_actors.push(actor),
            }
        }
        let mut doc = stored.doc.clone();
        for change in &self.new {
            let actor = change.actor_id().to_bytes();
            match apply_change(Some(&doc), &stored.kind, change.raw_bytes(), actor) {
                Ok(applied) if applied.new => {
                    let read = |bytes: &[u8]| {
                        AutoCommit::load(bytes)
                            .map(|d| WriteFacts::of(&stored.kind, &d))
                            .map_err(|e| {
                                StorageError::Corrupt(format!("document {}: {e}", stored.record_id))
                            })
                    };
                    let (before, after) = (read(&doc)?, read(&applied.doc)?);
                    let write = Write {
                        record: &stored.record_id,
                        kind: &stored.kind,
                        stored: Some(&stored.meta),
                        before: Some(&before),
                        after: &after,
                        at_ms: Some(change.timestamp()),
                    };
                    match policy::check_write(viewer, &write, context, &policy::NothingPending) {
                        Decision::Allowed => {}
                        Decision::Refused(reason) => {
                            return Err(StorageError::Rejected(format!(
                                "change {}: {reason}",
                                change.hash()
                            )))
                        }
                        Decision::Needs(needs) => plan.needs.merge(needs),
                    }
                    plan.entries.push(NewEntry {
                        record: stored.record_id.clone(),
                        kind: stored.kind.clone(),
                        hash: applied.hash,
                        change: applied.change,
                        actor: actor.to_vec(),
                    });
                    doc = applied.doc;
                }
                Ok(_) => {}
                Err(ChangeRejection::Malformed(m)) => {
                    return Err(StorageError::BadRequest(format!(
                        "change {}: not a valid Automerge change: {m}",
                        change.hash()
                    )))
                }
                Err(e) => {
                    return Err(StorageError::Rejected(format!(
                        "change {}: {e}",
                        change.hash()
                    )))
                }
            }
        }
        if let Some(last_entry) = plan.entries.len().checked_sub(1) {
            let mut loaded = AutoCommit::load(&doc).map_err(|e| {
                StorageError::Corrupt(format!("document {}: {e}", stored.record_id))
            })?;
            let facts = WriteFacts::of(&stored.kind, &loaded);
            plan.docs.push(DocWrite::new(
                stored.record_id.clone(),
                stored.kind.clone(),
                (&mut loaded, doc),
                facts,
                last_entry,
                viewer,
            ));
        }
        Ok(plan)
    }

    /// The reply message, or `None` when the peer has exactly our heads and needs nothing.
    pub fn reply(mut self) -> Option<Vec<u8>> {
        let message = self.doc.sync().generate_sync_message(&mut self.state)?;
        let mut ours = self.doc.get_heads();
        ours.sort();
        if message.changes.is_empty() && ours == self.their_heads {
            return None;
        }
        Some(message.encode())
    }
}

/// The stored document if `device` (as `viewer`) may read it: not found when missing,
/// forbidden for another tenant's record or one out of the user's scope.
pub fn readable_doc(
    doc: Option<StoredDoc>,
    device: &Device,
    viewer: &Viewer,
    record_id: &str,
) -> Result<StoredDoc, StorageError> {
    match doc {
        None => Err(StorageError::NotFound(format!("record {record_id}"))),
        Some(d)
            if d.tenant_id != device.tenant_id || !viewer.sees(&d.record_id, &d.kind, &d.meta) =>
        {
            Err(StorageError::Forbidden(format!(
                "record {record_id} is not accessible to this device"
            )))
        }
        Some(d) => Ok(d),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(seq: u64, own: bool) -> LogRow {
        LogRow {
            seq,
            record: format!("r{seq}"),
            kind: "contact".into(),
            change: if own { None } else { Some(vec![seq as u8]) },
            meta: DocMeta::default(),
        }
    }

    #[test]
    fn pull_pages_skip_own_rows_but_advance() {
        let page = pull_page(
            vec![row(3, false), row(4, true), row(5, true)],
            2,
            2,
            &Viewer::unrestricted(),
        );
        assert_eq!(page.cursor, 4);
        assert!(page.more);
        assert_eq!(page.entries.len(), 1);
        let page = pull_page(vec![row(5, true)], 4, 2, &Viewer::unrestricted());
        assert_eq!((page.cursor, page.more, page.entries.len()), (5, false, 0));
        let page = pull_page(vec![], 9, 2, &Viewer::unrestricted());
        assert_eq!((page.cursor, page.more), (9, false));
    }

    /// A refused change that was already applied in memory (it failed the record checks) must
    /// not reach the saved document, while the record's earlier change in the same push does,
    /// and other records flow on.
    #[test]
    fn a_refused_change_is_rolled_back_out_of_the_document(
    ) -> Result<(), Box<dyn std::error::Error>> {
        use automerge::{transaction::Transactable, ActorId, ObjType, ReadDoc, ROOT};
        let actor = vec![7u8; 16];
        let contact = |record: &str,
                       name: &str|
         -> Result<(AutoCommit, Vec<u8>), Box<dyn std::error::Error>> {
            let mut doc = AutoCommit::new().with_actor(ActorId::from(actor.as_slice()));
            doc.put(ROOT, "id", record)?;
            doc.put(ROOT, "kind", "contact")?;
            doc.put(ROOT, "name", name)?;
            doc.put_object(ROOT, "phones", ObjType::List)?;
            doc.put_object(ROOT, "emails", ObjType::List)?;
            doc.commit();
            let change = doc
                .get_last_local_change()
                .ok_or("no change")?
                .raw_bytes()
                .to_vec();
            Ok((doc, change))
        };
        let (mut a, create_a) = contact("a", "张伟")?;
        a.delete(ROOT, "name")?; // a contact without a name: refused by the record rules
        a.commit();
        let nameless = a
            .get_last_local_change()
            .ok_or("no change")?
            .raw_bytes()
            .to_vec();
        let (_, create_b) = contact("b", "李娜")?;
        let push = |record: &str, change: &Vec<u8>| PushChange {
            record: record.into(),
            kind: "contact".into(),
            change: change.clone(),
        };
        let changes = vec![
            push("a", &create_a),
            push("a", &nameless),
            push("b", &create_b),
        ];
        let hashes = check_push(&actor, &changes)?;
        let facts = PushFacts::new("t", 0);
        let plan = plan_push(
            "t",
            "d",
            &Viewer::unrestricted(),
            &actor,
            &changes,
            &hashes,
            &facts,
        )?;
        assert_eq!(plan.entries.len(), 2);
        assert_eq!(plan.rejected.len(), 1);
        assert!(
            plan.rejected[0].reason.contains("name"),
            "{}",
            plan.rejected[0].reason
        );
        let saved = plan
            .docs
            .iter()
            .find(|d| d.record == "a")
            .ok_or("a written")?;
        let mut doc = AutoCommit::load(&saved.doc)?;
        assert_eq!(
            doc.get(ROOT, "name")?.map(|(v, _)| v.to_string()),
            Some("\"张伟\"".to_string())
        );
        assert_eq!(doc.get_heads().len(), 1);
        assert!(plan.docs.iter().any(|d| d.record == "b"));
        Ok(())
    }

    #[test]
    fn record_ids_are_checked() {
        assert!(check_record_id("0190a-b_c").is_ok());
        assert!(check_record_id("").is_err());
        assert!(check_record_id("a/b").is_err());
        assert!(check_record_id(&"x".repeat(129)).is_err());
    }
}
