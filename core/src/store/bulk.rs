//! Bulk import into the store: every row validated and checked for duplicates first, then all
//! contacts written in ONE transaction (documents, projections, search tokens, match keys and
//! outbox together), with statements prepared once and reused.
//!
//! The CPU-heavy work runs on a pool of worker threads kept for the whole import: validating
//! rows (phone numbers above all) before the duplicate pass, and encoding each new contact's
//! first change (without building its document, see `record/first_change.rs`), its projection,
//! search tokens and match keys, in chunks, the next chunk being prepared while this thread
//! writes the previous one. A chunk's search tokens are written after its other rows, together:
//! SQLite makes FTS5 flush its pending index to disk at every statement that follows an FTS
//! write in the same transaction. Match keys are written once, after the last chunk, in key
//! order.
//!
//! Atomic from the user's view: a crash or an error before the commit leaves nothing of the
//! import in the store (SQLite rolls the transaction back), so the same import can simply be
//! run again; there is no journal to resume.

use super::contacts;
use super::dedup::find;
use super::pool::Pool;
use super::records::{insert_record, load_record};
use super::{RecordKind, Store};
use crate::dedup::{DupReason, Duplicate, SCORE_EMAIL, SCORE_NAME_EXACT, SCORE_PHONE};
use crate::error::{Error, Result};
use crate::import::read;
use crate::import::{
    column_of, fold, map_columns, report_text, row_patch, ImportOptions, ImportProgress,
    ImportSummary, Issue, RowPatch, Target,
};
use crate::normalize::Region;
use crate::record::contact::{Contact, ContactFields, ContactPatch};
use crate::record::{commit, rfc3339_ms, Actor, SyncState};
use rusqlite::{Transaction, TransactionBehavior};
use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::{mpsc, Arc};

/// Where an accepted row goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Slot {
    /// A new contact: index into the new patches.
    New(usize),
    /// Merged into a stored contact: index into the merges.
    Existing(usize),
}

/// The report's path: `NAME.report.csv` next to the input.
fn report_path(input: &Path) -> PathBuf {
    let stem = input
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "import".into());
    input.with_file_name(format!("{stem}.report.csv"))
}

/// An accepted row that becomes a new contact.
struct NewRow {
    patch: ContactPatch,
    fields: ContactFields,
    /// Its match keys (from `fields`).
    keys: Vec<String>,
    /// It absorbed duplicates of itself (with `--merge-duplicates`).
    folded: bool,
}

/// A new contact ready to write: everything but the row ids computed.
struct Prepared {
    id: String,
    doc: Vec<u8>,
    /// The document's one head, which is also its one change to push.
    heads: Vec<u8>,
    contact: Contact,
    tokens: String,
    keys: Vec<String>,
}

/// Rows per chunk of the pipeline (and per progress report).
const CHUNK: usize = 2_048;

/// The match keys of validated fields.
fn keys_of(fields: &ContactFields) -> Vec<String> {
    crate::dedup::keys::contact_keys(
        fields.name.as_deref().unwrap_or_default(),
        fields.company.as_deref(),
        fields.phones.as_deref().unwrap_or_default(),
        fields.emails.as_deref().unwrap_or_default(),
    )
}

/// The keys that make a row a duplicate: phones, emails, the same normalized name at the same
/// company (similar names are only candidates, never reasons to leave a row out).
fn is_strong(key: &str) -> bool {
    key.starts_with("p:") || key.starts_with("e:") || key.starts_with("n:")
}

/// A strong key as a duplicate lookup, with its reason and score.
fn lookup_of(key: &str) -> (String, DupReason, f64) {
    let (reason, score) = match key.get(..2).unwrap_or_default() {
        "p:" => (DupReason::Phone, SCORE_PHONE),
        "e:" => (DupReason::Email, SCORE_EMAIL),
        _ => (DupReason::NameCompany, SCORE_NAME_EXACT),
    };
    (key.to_string(), reason, score)
}

/// Builds a new contact's document, projection, search tokens and keys (no SQLite).
fn prepare_contact(row: NewRow, actor: &Actor, region: Region, now: i64) -> Prepared {
    // A row that absorbed duplicates is validated again with what it gained (if that fails,
    // e.g. more than 20 phones, the row alone is imported).
    let (fields, keys) = if row.folded {
        match ContactFields::from_patch(row.patch, region, true) {
            Ok(f) => {
                let keys = keys_of(&f);
                (f, keys)
            }
            Err(_) => (row.fields, row.keys),
        }
    } else {
        (row.fields, row.keys)
    };
    let id = uuid::Uuid::now_v7().to_string();
    // The document is its one change: stored as that change's bytes (which load as the
    // document), saved in full at its next edit.
    let (change, contact) = fields.create_change(&id, actor, "import", now);
    let heads = change.hash().0.to_vec();
    let bytes = change.raw_bytes().to_vec();
    let tokens = contacts::tokens(&contact);
    Prepared {
        id,
        doc: bytes,
        heads,
        contact,
        tokens,
        keys,
    }
}

/// Adds to a stored contact what an imported duplicate has and it lacks, inside `tx`.
fn enrich_contact(
    tx: &Transaction<'_>,
    actor: &Actor,
    region: crate::Region,
    id: &str,
    add: ContactPatch,
    now: i64,
) -> Result<()> {
    let existing = contacts::get(tx, id)?;
    let mut patch = ContactPatch {
        company: existing.company.clone(),
        title: existing.title.clone(),
        address: existing.address.clone(),
        source: existing.source.clone(),
        notes: existing.notes.clone(),
        phones: Some(existing.phones.clone()),
        emails: Some(existing.emails.clone()),
        ..Default::default()
    };
    patch.set = add
        .set
        .iter()
        .filter(|(k, _)| !existing.extra.contains_key(*k))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let mut add = add;
    add.set.clear();
    fold(&mut patch, add);
    let fields = ContactFields::from_patch(patch, region, false)?;
    let (rid, mut doc, _) = load_record(tx, RecordKind::Contact, id, actor)?;
    let before = doc.get_heads();
    fields.apply(&mut doc)?;
    if commit(&mut doc, actor, "import_merge", now).is_none() {
        return Ok(());
    }
    super::contacts::save(tx, Some(rid), id, &mut doc, &before).map(drop)
}

/// A validated row: its patch (to report or fold), and its fields, keys and the errors of the
/// phones it left out, or why it was refused.
type Checked = (
    u64,
    RowPatch,
    ContactPatch,
    Result<(ContactFields, Vec<String>, Vec<Error>)>,
);

/// A chunk's questions to the store: for a row (by its index in the chunk), its strong keys as
/// duplicate lookups.
type Lookups = Vec<(usize, Vec<(String, DupReason, f64)>)>;
/// The store's answers: the best stored duplicate of each row that has one.
type Answers = Result<Vec<(usize, Duplicate)>>;

/// Answers a chunk's lookups from the store (on the thread that holds the transaction).
fn answer(conn: &rusqlite::Connection, lookups: Lookups) -> Answers {
    let mut out = Vec::new();
    for (i, keys) in lookups {
        if let Some(best) = find(conn, &keys, None)?.into_iter().next() {
            out.push((i, best));
        }
    }
    Ok(out)
}

/// What the pipeline's stages tell the thread that holds the transaction.
enum Event {
    /// The duplicate pass needs these answers from the store before it goes on.
    Ask(Lookups, mpsc::Sender<Answers>),
    /// Rows through the duplicate pass with nothing new to write (all refused or duplicates,
    /// or a dry run).
    Through(u64),
    /// A chunk of new contacts, ready to write; the rows through the pipeline with it.
    Prepared(u64, Vec<Prepared>),
}

/// The duplicate pass, row by row in file order, and what it has decided so far.
struct Sorter<'a> {
    options: &'a ImportOptions,
    headers: &'a [String],
    targets: &'a [Target],
    issues: Vec<Issue>,
    skipped: u64,
    /// Phones left out of rows that went on.
    warnings: u64,
    duplicates: u64,
    merged: u64,
    /// New contacts accepted so far.
    accepted: usize,
    /// Merges into stored contacts (and into new contacts already sent to be written).
    merges: Vec<(Merge, ContactPatch)>,
    merge_index: HashMap<Merge, usize>,
    /// Every strong key seen, with where its row went and that row's number.
    seen: HashMap<String, (Slot, u64)>,
    /// The strong keys of the stored contacts, when they were few enough to hold.
    stored: StoredKeys,
}

/// What the duplicate pass knows of the stored contacts' strong keys before it asks SQLite.
enum StoredKeys {
    /// All of them: a row whose keys are not among them cannot be a stored duplicate.
    Held(HashSet<String>),
    /// The store is larger than the file: every row is looked up.
    Unknown,
}

impl StoredKeys {
    /// Holds the stored strong keys when the store has no more contacts than the file has
    /// rows (reading them all then costs less than a lookup per row), inside the import's
    /// transaction: the import's own contacts get their keys only after the duplicate pass.
    fn load(tx: &Transaction<'_>, rows: u64) -> Result<StoredKeys> {
        let stored: i64 = tx.query_row("SELECT count(*) FROM contacts", [], |r| r.get(0))?;
        if u64::try_from(stored).unwrap_or(u64::MAX) > rows {
            return Ok(StoredKeys::Unknown);
        }
        let mut stmt = tx.prepare(
            "SELECT key FROM contact_keys WHERE key >= 'e:' AND key < 'e;' \
             OR key >= 'n:' AND key < 'n;' OR key >= 'p:' AND key < 'p;'",
        )?;
        let keys = stmt
            .query_map([], |r| r.get::<_, String>(0))?
            .collect::<rusqlite::Result<HashSet<String>>>()?;
        Ok(StoredKeys::Held(keys))
    }

    /// Whether a stored contact may have one of `keys`.
    fn may_have(&self, keys: &[&String]) -> bool {
        match self {
            StoredKeys::Held(held) => keys.iter().any(|k| held.contains(k.as_str())),
            StoredKeys::Unknown => !keys.is_empty(),
        }
    }
}

/// What a merge goes into.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Merge {
    /// A stored contact.
    Stored(String),
    /// The n-th new contact of this import, already on its way to be written.
    New(usize),
}

impl Sorter<'_> {
    fn merge_into(&mut self, target: Merge) -> usize {
        *self.merge_index.entry(target.clone()).or_insert_with(|| {
            self.merges.push((target, ContactPatch::default()));
            self.merges.len() - 1
        })
    }

    /// Sorts one chunk of validated rows: refused, duplicate (folded into its first when
    /// merging) or new. `first_new` is the index of the chunk's first new contact.
    fn chunk(
        &mut self,
        rows: Vec<Checked>,
        ask: &mut dyn FnMut(Lookups) -> Answers,
    ) -> Result<Vec<NewRow>> {
        // The store's answers for the chunk's rows first, in one request: they do not depend
        // on the rows before (the import's own contacts get their keys after this pass). A row
        // with a key already seen in an earlier chunk is a duplicate within the file: not asked.
        let mut lookups: Lookups = Vec::new();
        for (i, (_, _, _, fields)) in rows.iter().enumerate() {
            if let Ok((_, keys, _)) = fields {
                let strong: Vec<&String> = keys.iter().filter(|k| is_strong(k)).collect();
                let earlier = strong.iter().any(|k| self.seen.contains_key(k.as_str()));
                if !earlier && self.stored.may_have(&strong) {
                    lookups.push((i, strong.iter().map(|k| lookup_of(k)).collect()));
                }
            }
        }
        let mut answers: HashMap<usize, Duplicate> = if lookups.is_empty() {
            HashMap::new()
        } else {
            ask(lookups)?.into_iter().collect()
        };
        let first_new = self.accepted;
        let mut news: Vec<NewRow> = Vec::new();
        let what = if self.options.merge_duplicates {
            "merged into"
        } else {
            "duplicate of"
        };
        for (i, (row, rp, patch, fields)) in rows.into_iter().enumerate() {
            let (fields, keys) = match fields {
                Ok((fields, keys, left_out)) => {
                    // The row goes on without them; the report says which and why.
                    for e in left_out {
                        if let Error::Validation {
                            field,
                            value,
                            reason,
                        } = e
                        {
                            self.warnings += 1;
                            self.issues.push(Issue {
                                row,
                                column: column_of(&rp, self.headers, self.targets, &field, &value),
                                value,
                                reason: format!("phone left out (the row was imported): {reason}"),
                            });
                        }
                    }
                    (fields, keys)
                }
                Err(Error::Validation {
                    field,
                    value,
                    reason,
                }) => {
                    self.skipped += 1;
                    self.issues.push(Issue {
                        row,
                        column: column_of(&rp, self.headers, self.targets, &field, &value),
                        value,
                        reason,
                    });
                    continue;
                }
                Err(other) => return Err(other),
            };
            let strong: Vec<&String> = keys.iter().filter(|k| is_strong(k)).collect();
            let name = fields.name.clone().unwrap_or_default();
            // Within the file first, then the store.
            let earlier = strong
                .iter()
                .find_map(|k| self.seen.get(*k).map(|(slot, first)| (*slot, *first, *k)));
            if let Some((slot, first_row, key)) = earlier {
                self.duplicates += 1;
                self.issues.push(Issue {
                    row,
                    column: String::new(),
                    value: name,
                    reason: format!(
                        "{what} row {first_row} (same {})",
                        lookup_of(key).1.as_str()
                    ),
                });
                if self.options.merge_duplicates {
                    self.merged += 1;
                    match slot {
                        // Still in this chunk: folded before it is written.
                        Slot::New(i) if i >= first_new => {
                            let new = &mut news[i - first_new];
                            fold(&mut new.patch, patch);
                            new.folded = true;
                        }
                        Slot::New(i) => {
                            let m = self.merge_into(Merge::New(i));
                            fold(&mut self.merges[m].1, patch);
                        }
                        Slot::Existing(m) => fold(&mut self.merges[m].1, patch),
                    }
                    for k in strong {
                        self.seen.entry(k.clone()).or_insert((slot, first_row));
                    }
                }
                continue;
            }
            let stored = answers.remove(&i);
            if let Some(dup) = stored {
                self.duplicates += 1;
                let why: Vec<&str> = dup.reasons.iter().map(|r| r.as_str()).collect();
                self.issues.push(Issue {
                    row,
                    column: String::new(),
                    value: name,
                    reason: format!(
                        "{what} contact {} ({}; same {})",
                        dup.contact_id,
                        dup.name,
                        why.join(", ")
                    ),
                });
                if self.options.merge_duplicates {
                    self.merged += 1;
                    let m = self.merge_into(Merge::Stored(dup.contact_id));
                    fold(&mut self.merges[m].1, patch);
                    for k in strong {
                        self.seen
                            .entry(k.clone())
                            .or_insert((Slot::Existing(m), row));
                    }
                }
                continue;
            }
            let slot = Slot::New(self.accepted);
            self.accepted += 1;
            for k in strong {
                self.seen.entry(k.clone()).or_insert((slot, row));
            }
            news.push(NewRow {
                patch,
                fields,
                keys,
                folded: false,
            });
        }
        Ok(news)
    }
}

/// What the chunks leave to be written at the end: the match keys of the written contacts,
/// with their row ids. Written in key order after the last chunk, they go along the index in
/// one pass instead of one random probe per key.
type DeferredKeys = Vec<(String, i64)>;

/// Writes one chunk of prepared contacts inside `tx`: documents and projections, then the
/// chunk's outbox entries and creation notes in one statement each, then their search tokens
/// together (FTS5 flushes its pending terms to a new segment at the first statement after an
/// FTS write in the same transaction, so tokens interleaved with the other rows would make one
/// segment per contact). Their match keys go to `keys`.
fn write_chunk(
    tx: &Transaction<'_>,
    prepared: Vec<Prepared>,
    now: (&str, i64),
    created: &mut Vec<String>,
    keys: &mut DeferredKeys,
) -> Result<()> {
    if prepared.is_empty() {
        return Ok(());
    }
    let (now_text, now_ms) = now;
    let mut search: Vec<(i64, String)> = Vec::with_capacity(prepared.len());
    super::scope::require_write(tx, RecordKind::Contact, None)?;
    for p in prepared {
        let rid = insert_record(
            tx,
            &p.id,
            RecordKind::Contact,
            &p.doc,
            &p.heads,
            SyncState::Local,
            now_text,
        )?;
        contacts::project_row(tx, rid, &p.contact)?;
        search.push((rid, p.tokens));
        keys.extend(p.keys.into_iter().map(|key| (key, rid)));
        created.push(p.id);
    }
    // This transaction is the only writer and a new row id is one above the largest, so the
    // chunk's records are exactly the rows from its first row id to its last.
    if let (Some((first, _)), Some((last, _))) = (search.first(), search.last()) {
        queue_first_changes(tx, *first, *last, now_text)?;
        super::experience::created_between(tx, *first, *last, now_ms)?;
    }
    for (rid, tokens) in &search {
        contacts::index_search(tx, *rid, tokens)?;
    }
    Ok(())
}

/// Queues the one change of each new record with row id in `first..=last` for the next push,
/// in row id order: a document of one change has that change's hash as its heads.
fn queue_first_changes(tx: &Transaction<'_>, first: i64, last: i64, now: &str) -> Result<()> {
    tx.prepare_cached(
        "INSERT INTO outbox(rid, change_hash, created_at) \
         SELECT rid, heads, ?3 FROM records WHERE rid BETWEEN ?1 AND ?2 ORDER BY rid",
    )?
    .execute(rusqlite::params![first, last, now])?;
    Ok(())
}

impl Store {
    /// Imports contacts from a `.csv` or `.xlsx` file (see [`crate::import`]): validates every
    /// row, leaves out (or, with `merge_duplicates`, merges) duplicates within the file and of
    /// stored contacts, writes the report of refused and duplicate rows next to the input in
    /// its encoding, and writes all contacts in one transaction, committed only once the
    /// report is written. `progress` is told how many rows are through, every 2,048 rows.
    pub fn import_file(
        &mut self,
        path: impl AsRef<Path>,
        options: &ImportOptions,
        progress: &mut dyn FnMut(ImportProgress),
    ) -> Result<ImportSummary> {
        self.guard()?;
        let path = path.as_ref();
        let started = std::time::Instant::now();
        let r = self.import_inner(path, options, progress);
        let (summary, created) = self.ctx(r)?;
        self.note_action("import", started);
        for id in created {
            self.notify(RecordKind::Contact, &id);
        }
        Ok(summary)
    }

    fn import_inner(
        &mut self,
        path: &Path,
        options: &ImportOptions,
        progress: &mut dyn FnMut(ImportProgress),
    ) -> Result<(ImportSummary, Vec<String>)> {
        let bytes = std::fs::read(path).map_err(|source| Error::Io {
            op: "read",
            path: path.to_path_buf(),
            source,
        })?;
        let ext = path
            .extension()
            .map(|e| e.to_string_lossy().to_lowercase())
            .unwrap_or_default();
        let table = match ext.as_str() {
            "xlsx" | "xlsm" => read::read_xlsx(path, bytes)?,
            "csv" | "txt" | "tsv" => read::read_csv(path, &bytes, options.encoding)?,
            _ => {
                return Err(Error::validation(
                    "file",
                    path.display().to_string(),
                    "only .csv and .xlsx files can be imported",
                ))
            }
        };
        let encoding_name = if matches!(ext.as_str(), "xlsx" | "xlsm") {
            "xlsx"
        } else {
            table.encoding.name()
        };
        let targets = map_columns(&table.headers, &options.map)?;
        let total = table.rows.len() as u64;
        let owner = self.actor.user.clone();
        let actor = &self.actor.clone();
        let region = self.region;
        let threads = super::pool::default_threads();
        let now = Self::now_ms();
        let now_text = rfc3339_ms(now);
        let validate = |(row, cells): &(u64, Vec<String>)| -> Checked {
            let rp = row_patch(&table.headers, &targets, cells);
            let mut patch = rp.patch.clone();
            if patch.owner.as_deref().is_none_or(|o| o.trim().is_empty()) {
                patch.owner = Some(owner.clone());
            }
            let fields =
                ContactFields::from_patch_leaving_out_bad_phones(patch.clone(), region, true).map(
                    |(f, left_out)| {
                        // Folded into another row later, the row brings only its good phones.
                        if let Some(phones) = patch.phones.as_mut() {
                            phones.retain(|p| {
                                !left_out.iter().any(
                                    |e| matches!(e, Error::Validation { value, .. } if value == p),
                                )
                            });
                        }
                        let keys = keys_of(&f);
                        (f, keys, left_out)
                    },
                );
            (*row, rp, patch, fields)
        };
        // A big import touches far more pages than the default cache holds.
        let cache: i64 = self.conn.query_row("PRAGMA cache_size", [], |r| r.get(0))?;
        self.conn
            .pragma_update(None, "cache_size", super::BULK_CACHE_KIB)?;
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let mut sorter = Sorter {
            options,
            headers: &table.headers,
            targets: &targets,
            issues: Vec::new(),
            skipped: 0,
            warnings: 0,
            duplicates: 0,
            merged: 0,
            accepted: 0,
            merges: Vec::new(),
            merge_index: HashMap::new(),
            // About two strong keys a row (a phone, an email or a name at a company).
            seen: HashMap::with_capacity(table.rows.len().saturating_mul(2)),
            stored: StoredKeys::load(&tx, total)?,
        };
        let mut created = Vec::new();
        let mut keys = DeferredKeys::new();
        // Four stages run at once: validation (all cores) feeds the duplicate pass (its own
        // thread; what it needs from the store, this thread answers a chunk at a time), which
        // feeds the building of documents (all cores), whose chunks this thread writes.
        let prepare = |row: NewRow| prepare_contact(row, actor, region, now);
        let (validate, prepare) = (&validate, &prepare);
        let stopped = || Error::Io {
            op: "import",
            path: path.to_path_buf(),
            source: std::io::Error::other("the import's writing thread stopped"),
        };
        let sorted = std::thread::scope(|s| -> Result<()> {
            // The two coordinating threads hold the pool; its workers stop when both are done.
            let pool = Arc::new(Pool::start(s, threads));
            let (checked_tx, checked_rx) = mpsc::sync_channel::<Vec<Checked>>(2);
            let rows = &table.rows;
            let validating = Arc::clone(&pool);
            s.spawn(move || {
                let pool = validating;
                for chunk in rows.chunks(CHUNK) {
                    let checked = pool.map(chunk.iter().collect(), validate);
                    if checked_tx.send(checked).is_err() {
                        break;
                    }
                }
            });
            // Bounded: prepared chunks wait for this thread instead of piling up in memory.
            let (event_tx, event_rx) = mpsc::sync_channel::<Event>(4);
            let (job_tx, job_rx) = mpsc::sync_channel::<(u64, Vec<NewRow>)>(2);
            let preparing = event_tx.clone();
            s.spawn(move || {
                let pool = pool;
                while let Ok((through, rows)) = job_rx.recv() {
                    let prepared = pool.map(rows, prepare);
                    if preparing.send(Event::Prepared(through, prepared)).is_err() {
                        break;
                    }
                }
            });
            let sorter = &mut sorter;
            let dry_run = options.dry_run;
            let sorting = s.spawn(move || -> Result<()> {
                let events = event_tx;
                let mut ask = |lookups: Lookups| -> Answers {
                    let (reply_tx, reply_rx) = mpsc::channel();
                    events
                        .send(Event::Ask(lookups, reply_tx))
                        .map_err(|_| stopped())?;
                    reply_rx.recv().map_err(|_| stopped())?
                };
                let mut through = 0u64;
                for checked in checked_rx {
                    through += checked.len() as u64;
                    let news = sorter.chunk(checked, &mut ask)?;
                    let sent = if dry_run || news.is_empty() {
                        events.send(Event::Through(through)).is_ok()
                    } else {
                        job_tx.send((through, news)).is_ok()
                    };
                    if !sent {
                        return Err(stopped());
                    }
                }
                Ok(())
            });
            // This thread holds the transaction: it answers the duplicate pass and writes.
            let mut reported = 0u64;
            let mut outcome = Ok(());
            for event in event_rx.iter() {
                let step = match event {
                    Event::Ask(lookups, reply) => {
                        // A pass that is gone has failed, and says so itself.
                        let _ = reply.send(answer(&tx, lookups));
                        Ok(None)
                    }
                    Event::Through(upto) => Ok(Some(upto)),
                    Event::Prepared(upto, prepared) => {
                        write_chunk(&tx, prepared, (&now_text, now), &mut created, &mut keys)
                            .map(|()| Some(upto))
                    }
                };
                match step {
                    // Chunks written and chunks skipped arrive from two stages: report the
                    // furthest.
                    Ok(Some(upto)) if upto > reported => {
                        reported = upto;
                        progress(ImportProgress { done: upto, total });
                    }
                    Ok(_) => {}
                    Err(e) => {
                        outcome = Err(e);
                        break;
                    }
                }
            }
            // The other stages stop at their next message to this thread.
            drop(event_rx);
            let sorted = match sorting.join() {
                Ok(r) => r,
                Err(panic) => std::panic::resume_unwind(panic),
            };
            // This thread's error first: the pass then only saw that it stopped.
            outcome.and(sorted)
        });
        let written = sorted.and_then(|()| {
            // Indexed before the merges below, which re-index the contacts they change.
            super::dedup::insert_keys_in_order(&tx, std::mem::take(&mut keys))?;
            // Rows folded into new contacts already written, and into stored contacts.
            for (target, add) in std::mem::take(&mut sorter.merges) {
                let id = match target {
                    Merge::Stored(id) => id,
                    Merge::New(i) => match created.get(i) {
                        Some(id) => id.clone(),
                        None => continue,
                    },
                };
                enrich_contact(&tx, actor, region, &id, add, now)?;
                created.push(id);
            }
            // The report is written before the commit: if it cannot be, nothing is imported.
            let report = report_path(path);
            let text = report_text(&sorter.issues)?;
            std::fs::write(&report, table.encoding.encode(&text)).map_err(|source| Error::Io {
                op: "write report",
                path: report.clone(),
                source,
            })?;
            if options.dry_run {
                tx.rollback()?;
            } else {
                tx.commit()?;
            }
            Ok(report)
        });
        let restored = self.conn.pragma_update(None, "cache_size", cache);
        let report = written?;
        restored?;
        progress(ImportProgress { done: total, total });
        if options.dry_run {
            created.clear();
        }
        Ok((
            ImportSummary {
                imported: sorter.accepted as u64,
                skipped: sorter.skipped,
                warnings: sorter.warnings,
                duplicates: sorter.duplicates,
                merged: sorter.merged,
                rows: total,
                report: report.display().to_string(),
                encoding: encoding_name.to_string(),
                dry_run: options.dry_run,
            },
            created,
        ))
    }
}
