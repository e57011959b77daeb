//! Restricted fields in the store: their documents (kind `restricted`, one per field of a
//! record) and the values held (`restricted_values`). The deal rows that show them are rebuilt
//! by [`super::deals`], which calls these.

use super::records::write_record;
use super::RecordKind;
use crate::access::{restricted_id, RESTRICTED_KIND};
use crate::error::Result;
use crate::record::{self, commit, history::HistoryEntry, restricted, Actor};
use automerge::{transaction::Transactable, ReadDoc, ScalarValue, ROOT};
use rusqlite::{params, Connection, OptionalExtension, Transaction};

/// The restricted values held for record `of`, by field.
pub(crate) fn values_of(conn: &Connection, of: &str) -> Result<Vec<(String, Option<f64>)>> {
    let mut stmt =
        conn.prepare_cached("SELECT field, value FROM restricted_values WHERE of = ?1")?;
    let rows = stmt.query_map([of], |r| Ok((r.get(0)?, r.get(1)?)))?;
    Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
}

/// Sets (or, with `None`, clears) restricted `field` of record `of` inside `tx`: its document
/// is created when needed, the change queued for the server and the projection row updated.
/// Does not rebuild the parent's row (the caller does, once). Unchanged → nothing written.
pub(crate) fn put(
    tx: &Transaction<'_>,
    actor: &Actor,
    of: &str,
    field: &str,
    value: Option<f64>,
    action: &str,
    ms: i64,
) -> Result<()> {
    let id = restricted_id(of, field);
    let existing: Option<(i64, Vec<u8>)> = tx
        .prepare_cached("SELECT rid, doc FROM records WHERE id = ?1")?
        .query_row([&id], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?;
    let (rid, mut doc, before) = match existing {
        Some((rid, bytes)) => {
            let mut doc = record::load(&id, &bytes, actor)?;
            let before = doc.get_heads();
            (Some(rid), doc, before)
        }
        None => {
            if value.is_none() {
                // Clearing what was never set.
                return Ok(());
            }
            let mut doc = record::new_doc(actor);
            doc.put(ROOT, "id", id.as_str())?;
            doc.put(ROOT, "kind", RESTRICTED_KIND)?;
            doc.put(ROOT, "of", of)?;
            doc.put(ROOT, "field", field)?;
            (None, doc, Vec::new())
        }
    };
    let current = restricted::value(&doc).ok().flatten();
    if rid.is_some() && current == value && doc.get(ROOT, "value")?.is_some() {
        return Ok(());
    }
    // A cleared field holds null: a register, so a clear and a concurrent set converge like two
    // sets (one wins everywhere), instead of the set always surviving a delete.
    let scalar = value.map_or(ScalarValue::Null, ScalarValue::F64);
    doc.put(ROOT, "value", scalar)?;
    if commit(&mut doc, actor, action, ms).is_none() {
        return Ok(());
    }
    let w = write_record(
        tx,
        rid,
        &id,
        RecordKind::Restricted,
        &mut doc,
        Some(&before),
    )?;
    tx.prepare_cached(
        "INSERT INTO restricted_values(rid, of, field, value) VALUES (?1, ?2, ?3, ?4) \
         ON CONFLICT(rid) DO UPDATE SET value = excluded.value",
    )?
    .execute(params![w.rid, of, field, value])?;
    Ok(())
}

/// The history of the restricted documents of record `of` that this device holds, as entries
/// naming the field (`amount`, ...) instead of the document's `value`.
pub(crate) fn history_of(conn: &Connection, of: &str, actor: &Actor) -> Result<Vec<HistoryEntry>> {
    let mut stmt = conn.prepare_cached(
        "SELECT r.id, v.field, r.doc FROM restricted_values v JOIN records r ON r.rid = v.rid \
         WHERE v.of = ?1 ORDER BY v.field",
    )?;
    let rows = stmt
        .query_map([of], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
        .collect::<rusqlite::Result<Vec<(String, String, Vec<u8>)>>>()?;
    let mut out = Vec::new();
    for (id, field, bytes) in rows {
        let mut doc = record::load(&id, &bytes, actor)?;
        for mut entry in record::history::history(&mut doc) {
            entry.changes.retain(|c| c.field == "value");
            for c in &mut entry.changes {
                c.field = field.clone();
                // A cleared field holds null: show it as no value.
                for v in [&mut c.old, &mut c.new] {
                    if v.as_deref() == Some("null") {
                        *v = None;
                    }
                }
            }
            if !entry.changes.is_empty() {
                out.push(entry);
            }
        }
    }
    Ok(out)
}
