//! Restricted fields in the store: their documents (kind `restricted`, one per field of a
//! record), their projection (`restricted_values`), and the deal rows that show them.
//!
//! A restricted document may arrive before or after the deal it belongs to; whichever comes
//! second rebuilds the deal's row, so the row always shows what the device holds.

use super::{deals, write_record, Store};
use crate::access::{restricted_id, RESTRICTED_KIND};
use crate::error::{Error, Result};
use crate::record::{self, commit, history::HistoryEntry, restricted, Actor};
use automerge::{transaction::Transactable, AutoCommit, ReadDoc, ScalarValue, ROOT};
use rusqlite::{params, Connection, OptionalExtension, Transaction, TransactionBehavior};

/// The restricted values held for record `of`, by field.
pub(crate) fn values_of(conn: &Connection, of: &str) -> Result<Vec<(String, Option<f64>)>> {
    let mut stmt =
        conn.prepare_cached("SELECT field, value FROM restricted_values WHERE of = ?1")?;
    let rows = stmt.query_map([of], |r| Ok((r.get(0)?, r.get(1)?)))?;
    Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
}

/// Rebuilds a restricted document's projection row, then the row of the record it belongs to.
/// A document that is not a valid restricted field (or not stored under its field's id) is kept
/// but shows nowhere.
pub(crate) fn project(tx: &Transaction<'_>, rid: i64, id: &str, doc: &AutoCommit) -> Result<()> {
    // Only the document stored under the field's own id speaks for it: another one claiming the
    // same field is kept but ignored.
    let valid = restricted::from_doc(doc).filter(|v| restricted_id(&v.of, &v.field) == id);
    let Some(v) = valid else {
        // No longer a valid restricted field (a newer build's change?): it shows nowhere, and
        // the record it belonged to stops showing it.
        let of: Option<String> = tx
            .prepare_cached("DELETE FROM restricted_values WHERE rid = ?1 RETURNING of")?
            .query_row([rid], |r| r.get(0))
            .optional()?;
        if let Some(of) = of {
            refresh_parent(tx, &of)?;
        }
        return Ok(());
    };
    tx.prepare_cached(
        "INSERT INTO restricted_values(rid, of, field, value) VALUES (?1, ?2, ?3, ?4) \
         ON CONFLICT(rid) DO UPDATE SET of = excluded.of, field = excluded.field, value = excluded.value",
    )?
    .execute(params![rid, v.of, v.field, v.value])?;
    refresh_parent(tx, &v.of)
}

/// Rebuilds the row of record `of` (a deal) from its document and the restricted values held
/// now; nothing when the device does not have it.
pub(crate) fn refresh_parent(tx: &Transaction<'_>, of: &str) -> Result<()> {
    let row: Option<(i64, Vec<u8>, String, String)> = tx
        .prepare_cached(
            "SELECT rid, doc, updated_at, sync_state FROM records WHERE id = ?1 AND kind = 'deal'",
        )?
        .query_row([of], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
        .optional()?;
    let Some((rid, bytes, updated_at, sync_state)) = row else {
        return Ok(());
    };
    let doc = AutoCommit::load(&bytes).map_err(|e| Error::Document {
        id: of.to_string(),
        reason: e.to_string(),
    })?;
    let d = record::deal::from_doc(of, &doc, updated_at, sync_state);
    deals::project(tx, rid, &d)?;
    Ok(())
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
    let w = write_record(tx, rid, &id, RESTRICTED_KIND, &mut doc, Some(&before))?;
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

impl Store {
    /// Sets a restricted field of a deal (`amount`, `discount` or `contract_amount`); `None`
    /// clears it. The value lives in a document of its own, so it reaches only devices whose
    /// user may read the field. Refused with [`Error::Permission`] when the user's role may not
    /// write it (once the server has said), and naming `field` or the value when invalid.
    pub fn set_deal_field(
        &mut self,
        deal_id: &str,
        field: &str,
        value: Option<f64>,
    ) -> Result<crate::Deal> {
        self.guard()?;
        let field = field.trim();
        restricted::check_field("deal", field)?;
        if let Some(v) = value {
            restricted::check_value(field, v)?;
        }
        let run = |store: &mut Store| -> Result<crate::Deal> {
            let tx = store
                .conn
                .transaction_with_behavior(TransactionBehavior::Immediate)?;
            let deal = deals::get(&tx, deal_id.trim())?;
            put(
                &tx,
                &store.actor,
                &deal.id,
                field,
                value,
                "edit",
                Self::now_ms(),
            )?;
            refresh_parent(&tx, &deal.id)?;
            let d = deals::get(&tx, &deal.id)?;
            tx.commit()?;
            Ok(d)
        };
        let r = run(self);
        let d = self.ctx(r)?;
        self.notify(super::RecordKind::Deal, &d.id);
        Ok(d)
    }
}
