//! Bulk import into the store: every row validated and checked for duplicates first, then all
//! contacts written in ONE transaction (documents, projections, search tokens, match keys and
//! outbox together), with statements prepared once and reused.
//!
//! Atomic from the user's view: a crash or an error before the commit leaves nothing of the
//! import in the store (SQLite rolls the transaction back), so the same import can simply be
//! run again; there is no journal to resume.

use super::contacts::{self, project};
use super::dedup::{find, query_keys};
use super::{load_record, write_record, RecordKind, Store};
use crate::dedup::{DupQuery, DupReason};
use crate::error::{Error, Result};
use crate::import::read::{self, SourceEncoding};
use crate::import::{
    column_of, fold, map_columns, report_text, row_patch, ImportOptions, ImportProgress,
    ImportSummary, Issue,
};
use crate::record::contact::{self, Contact, ContactFields, ContactPatch};
use crate::record::{commit, new_doc, rfc3339_ms, Actor};
use automerge::{transaction::Transactable, ROOT};
use rusqlite::{Transaction, TransactionBehavior};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// Where an accepted row goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Slot {
    /// A new contact: index into the new patches.
    New(usize),
    /// Merged into a stored contact: index into the merges.
    Existing(usize),
}

/// Report progress every this many rows.
const PROGRESS_EVERY: u64 = 1_000;

/// The report's path: `NAME.report.csv` next to the input.
fn report_path(input: &Path) -> PathBuf {
    let stem = input
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "import".into());
    input.with_file_name(format!("{stem}.report.csv"))
}

/// The keys that make a row a duplicate: phones, emails, the same normalized name at the same
/// company (similar names are only candidates, never reasons to leave a row out).
fn strong_keys(fields: &ContactFields) -> Vec<String> {
    crate::dedup::keys::contact_keys(
        fields.name.as_deref().unwrap_or_default(),
        fields.company.as_deref(),
        fields.phones.as_deref().unwrap_or_default(),
        fields.emails.as_deref().unwrap_or_default(),
    )
    .into_iter()
    .filter(|k| k.starts_with("p:") || k.starts_with("e:") || k.starts_with("n:"))
    .collect()
}

fn reason_of(key: &str) -> &'static str {
    match &key[..2] {
        "p:" => "phone",
        "e:" => "email",
        _ => "name_company",
    }
}

/// Writes a new contact inside `tx` (the batched form of `add_contact`).
fn insert_contact(
    tx: &Transaction<'_>,
    actor: &Actor,
    fields: &ContactFields,
    now: i64,
) -> Result<Contact> {
    let id = uuid::Uuid::now_v7().to_string();
    let mut doc = new_doc(actor);
    doc.put(ROOT, "id", id.as_str())?;
    doc.put(ROOT, "kind", "contact")?;
    doc.put(ROOT, "status", "active")?;
    doc.put(ROOT, "created_at", rfc3339_ms(now))?;
    doc.put_object(ROOT, "phones", automerge::ObjType::List)?;
    doc.put_object(ROOT, "emails", automerge::ObjType::List)?;
    fields.apply(&mut doc)?;
    commit(&mut doc, actor, "import", now);
    let w = write_record(tx, None, &id, "contact", &mut doc, Some(&[]))?;
    let c = contact::from_doc(&id, &doc, w.updated_at, w.sync_state);
    project(tx, w.rid, &c, false)?;
    Ok(c)
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
    let w = write_record(tx, Some(rid), id, "contact", &mut doc, Some(&before))?;
    let c = contact::from_doc(id, &doc, w.updated_at, w.sync_state);
    project(tx, rid, &c, true)
}

impl Store {
    /// Imports contacts from a `.csv` or `.xlsx` file (see [`crate::import`]): validates every
    /// row, leaves out (or, with `merge_duplicates`, merges) duplicates within the file and of
    /// stored contacts, writes the report of refused and duplicate rows next to the input in
    /// its encoding, then writes all contacts in one transaction. `progress` is told how far
    /// the write is every 1,000 rows.
    pub fn import_file(
        &mut self,
        path: impl AsRef<Path>,
        options: &ImportOptions,
        progress: &mut dyn FnMut(ImportProgress),
    ) -> Result<ImportSummary> {
        let path = path.as_ref();
        let (summary, created) = self.import_inner(path, options, progress)?;
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
        let mut issues: Vec<Issue> = Vec::new();
        let mut skipped = 0u64;
        let mut duplicates = 0u64;
        let mut merged = 0u64;
        // Accepted rows: new contacts (patch + validated fields), merges into stored contacts.
        let mut news: Vec<(ContactPatch, ContactFields, bool)> = Vec::new();
        let mut merges: Vec<(String, ContactPatch)> = Vec::new();
        let mut merge_index: HashMap<String, usize> = HashMap::new();
        let mut seen: HashMap<String, (Slot, u64)> = HashMap::new();
        for (row, cells) in &table.rows {
            let rp = row_patch(&table.headers, &targets, cells);
            let mut patch = rp.patch.clone();
            if patch.owner.as_deref().is_none_or(|o| o.trim().is_empty()) {
                patch.owner = Some(self.actor.user.clone());
            }
            let fields = match ContactFields::from_patch(patch.clone(), self.region, true) {
                Ok(f) => f,
                Err(Error::Validation {
                    field,
                    value,
                    reason,
                }) => {
                    skipped += 1;
                    issues.push(Issue {
                        row: *row,
                        column: column_of(&rp, &table.headers, &targets, &field, &value),
                        value,
                        reason,
                    });
                    continue;
                }
                Err(other) => return Err(other),
            };
            let keys = strong_keys(&fields);
            // Within the file first, then the store.
            let earlier = keys
                .iter()
                .find_map(|k| seen.get(k).map(|(slot, first_row)| (*slot, *first_row, k)));
            let name = fields.name.clone().unwrap_or_default();
            if let Some((slot, first_row, key)) = earlier {
                duplicates += 1;
                let what = if options.merge_duplicates {
                    "merged into"
                } else {
                    "duplicate of"
                };
                issues.push(Issue {
                    row: *row,
                    column: String::new(),
                    value: name,
                    reason: format!("{what} row {first_row} (same {})", reason_of(key)),
                });
                if options.merge_duplicates {
                    merged += 1;
                    match slot {
                        Slot::New(i) => {
                            fold(&mut news[i].0, patch);
                            news[i].2 = true;
                        }
                        Slot::Existing(i) => fold(&mut merges[i].1, patch),
                    }
                    let slot_row = (slot, first_row);
                    for k in keys {
                        seen.entry(k).or_insert(slot_row);
                    }
                }
                continue;
            }
            let stored = {
                let lookups: Vec<(String, DupReason, f64)> = query_keys(
                    &DupQuery {
                        name: fields.name.clone(),
                        company: fields.company.clone(),
                        phones: fields.phones.clone().unwrap_or_default(),
                        emails: fields.emails.clone().unwrap_or_default(),
                    },
                    self.region,
                )
                .into_iter()
                .filter(|(k, _, _)| {
                    k.starts_with("p:") || k.starts_with("e:") || k.starts_with("n:")
                })
                .collect();
                if lookups.is_empty() {
                    None
                } else {
                    find(&self.conn, &lookups, None)?.into_iter().next()
                }
            };
            if let Some(dup) = stored {
                duplicates += 1;
                let why: Vec<&str> = dup.reasons.iter().map(|r| r.as_str()).collect();
                let what = if options.merge_duplicates {
                    "merged into"
                } else {
                    "duplicate of"
                };
                issues.push(Issue {
                    row: *row,
                    column: String::new(),
                    value: name,
                    reason: format!(
                        "{what} contact {} ({}; same {})",
                        dup.contact_id,
                        dup.name,
                        why.join(", ")
                    ),
                });
                if options.merge_duplicates {
                    merged += 1;
                    let i = *merge_index
                        .entry(dup.contact_id.clone())
                        .or_insert_with(|| {
                            merges.push((dup.contact_id.clone(), ContactPatch::default()));
                            merges.len() - 1
                        });
                    fold(&mut merges[i].1, patch);
                    for k in keys {
                        seen.entry(k).or_insert((Slot::Existing(i), *row));
                    }
                }
                continue;
            }
            let slot = Slot::New(news.len());
            for k in keys {
                seen.entry(k).or_insert((slot, *row));
            }
            news.push((patch, fields, false));
        }
        // The report goes first: if it cannot be written, nothing is imported.
        let report = report_path(path);
        let text = report_text(&issues)?;
        let encoding: SourceEncoding = table.encoding;
        std::fs::write(&report, encoding.encode(&text)).map_err(|source| Error::Io {
            op: "write report",
            path: report.clone(),
            source,
        })?;
        let mut created = Vec::new();
        let imported = news.len() as u64;
        if !options.dry_run {
            let r = self.write_import(news, merges, total, progress, &mut created);
            self.ctx(r)?;
        }
        Ok((
            ImportSummary {
                imported,
                skipped,
                duplicates,
                merged,
                rows: total,
                report: report.display().to_string(),
                encoding: encoding_name.to_string(),
                dry_run: options.dry_run,
            },
            created,
        ))
    }

    fn write_import(
        &mut self,
        news: Vec<(ContactPatch, ContactFields, bool)>,
        merges: Vec<(String, ContactPatch)>,
        total: u64,
        progress: &mut dyn FnMut(ImportProgress),
        created: &mut Vec<String>,
    ) -> Result<()> {
        let now = Self::now_ms();
        let actor = self.actor.clone();
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let mut done = 0u64;
        for (patch, fields, folded) in news {
            // A row that absorbed duplicates is validated again with what it gained (if that
            // fails, e.g. more than 20 phones, the row alone is imported).
            let fields = if folded {
                ContactFields::from_patch(patch, self.region, true).unwrap_or(fields)
            } else {
                fields
            };
            let c = insert_contact(&tx, &actor, &fields, now)?;
            created.push(c.id);
            done += 1;
            if done.is_multiple_of(PROGRESS_EVERY) {
                progress(ImportProgress { done, total });
            }
        }
        for (id, add) in merges {
            enrich_contact(&tx, &actor, self.region, &id, add, now)?;
            created.push(id);
        }
        tx.commit()?;
        progress(ImportProgress { done: total, total });
        Ok(())
    }
}
