//! Evidence for deal stage gates, read from the store: attachment records and visits.
//!
//! Attachments are records of kind `attachment` (written by the attachment/scan code). The
//! gate reads, from each attachment document:
//! - `category` (string): `quotation`, `contract`, ...;
//! - `deal_id` and/or `contact_id` (strings): what it is linked to;
//! - the amount extracted from a contract: a root `amount` (number, or a numeric string), or
//!   `fields.amount` in a `fields` map (a number, a numeric string, or a map with `value`);
//! - `status`: an attachment whose status is `invalid` does not count.
//!
//! The documents are read directly (not a projection), so the gate works whatever projection the
//! attachment code keeps; the [`EvidenceSource`] trait is the seam to replace this with a
//! projection query later.

use crate::error::Result;
use crate::flow::{AttachmentFacts, EvidenceFacts};
use crate::record::deal::Deal;
use crate::record::{self, Actor};
use automerge::{AutoCommit, ObjType, ReadDoc, ScalarValue, Value, ROOT};
use chrono::{DateTime, FixedOffset};
use rusqlite::Connection;

/// Where stage gates read their evidence from.
pub trait EvidenceSource {
    /// The attachments linked to the deal or its contact, and the latest visit to the contact.
    fn facts(&self, deal: &Deal) -> Result<EvidenceFacts>;
}

/// Evidence read from a store's connection.
pub(crate) struct StoreEvidence<'a> {
    conn: &'a Connection,
    actor: &'a Actor,
}

impl<'a> StoreEvidence<'a> {
    pub(crate) fn new(conn: &'a Connection, actor: &'a Actor) -> Self {
        StoreEvidence { conn, actor }
    }
}

/// A number held as a number or as a numeric string (`"288000"`, `"288,000.00"`).
fn number(value: &ScalarValue) -> Option<f64> {
    match value {
        ScalarValue::Str(s) => s.replace([',', '，', ' '], "").parse::<f64>().ok(),
        ScalarValue::F64(f) => Some(*f),
        ScalarValue::Int(i) => Some(*i as f64),
        ScalarValue::Uint(u) => Some(*u as f64),
        _ => None,
    }
}

/// The extracted amount of an attachment document, wherever the scanner put it.
fn amount(doc: &AutoCommit) -> Option<f64> {
    if let Some((Value::Scalar(s), _)) = doc.get(ROOT, "amount").ok().flatten() {
        return number(&s);
    }
    let (Value::Object(ObjType::Map), fields) = doc.get(ROOT, "fields").ok().flatten()? else {
        return None;
    };
    match doc.get(&fields, "amount").ok().flatten()? {
        (Value::Scalar(s), _) => number(&s),
        (Value::Object(ObjType::Map), obj) => match doc.get(&obj, "value").ok().flatten()? {
            (Value::Scalar(s), _) => number(&s),
            _ => None,
        },
        _ => None,
    }
}

impl EvidenceSource for StoreEvidence<'_> {
    fn facts(&self, deal: &Deal) -> Result<EvidenceFacts> {
        let mut attachments = Vec::new();
        let mut stmt = self
            .conn
            .prepare_cached("SELECT id, doc FROM records WHERE kind = 'attachment'")?;
        let rows = stmt.query_map([], |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, Vec<u8>>(1)?))
        })?;
        for row in rows {
            let (id, bytes) = row?;
            let doc = record::load(&id, &bytes, self.actor)?;
            let linked = record::get_str(&doc, "deal_id").as_deref() == Some(deal.id.as_str())
                || record::get_str(&doc, "contact_id").as_deref() == Some(deal.contact_id.as_str());
            if !linked || record::get_str(&doc, "status").as_deref() == Some("invalid") {
                continue;
            }
            let Some(category) = record::get_str(&doc, "category") else {
                continue;
            };
            attachments.push(AttachmentFacts {
                id,
                category: category.trim().to_lowercase(),
                amount: amount(&doc),
            });
        }
        let last_visit = last_visit(self.conn, &deal.contact_id)?;
        Ok(EvidenceFacts {
            attachments,
            last_visit,
        })
    }
}

/// The latest check-in at a contact (by the device time it was made at).
pub(crate) fn last_visit(
    conn: &Connection,
    contact_id: &str,
) -> Result<Option<DateTime<FixedOffset>>> {
    let mut stmt = conn.prepare_cached("SELECT device_time FROM visits WHERE contact_id = ?1")?;
    let rows = stmt.query_map([contact_id], |r| r.get::<_, String>(0))?;
    let mut latest: Option<DateTime<FixedOffset>> = None;
    for row in rows {
        if let Ok(t) = DateTime::parse_from_rfc3339(&row?) {
            if latest.is_none_or(|l| t > l) {
                latest = Some(t);
            }
        }
    }
    Ok(latest)
}

#[cfg(test)]
impl super::Store {
    /// Writes an attachment record the way the attachment code does (test support until the
    /// attachment records land): category, links and an optional extracted amount in `fields`.
    pub(crate) fn add_attachment_record(
        &mut self,
        category: &str,
        contact_id: Option<&str>,
        deal_id: Option<&str>,
        amount: Option<f64>,
    ) -> Result<String> {
        use automerge::transaction::Transactable;
        let id = uuid::Uuid::now_v7().to_string();
        let now = Self::now_ms();
        let mut doc = record::new_doc(&self.actor);
        doc.put(ROOT, "id", id.as_str())?;
        doc.put(ROOT, "kind", "attachment")?;
        doc.put(ROOT, "category", category)?;
        record::put_opt_str(&mut doc, "contact_id", contact_id)?;
        record::put_opt_str(&mut doc, "deal_id", deal_id)?;
        if let Some(a) = amount {
            let fields = doc.put_object(ROOT, "fields", ObjType::Map)?;
            let amount = doc.put_object(&fields, "amount", ObjType::Map)?;
            doc.put(&amount, "value", a)?;
            doc.put(&amount, "confidence", 0.93)?;
        }
        record::commit(&mut doc, &self.actor, "create", now);
        let tx = self.conn.transaction()?;
        super::write_record(&tx, None, &id, "attachment", &mut doc, Some(&[]))?;
        tx.commit()?;
        Ok(id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use automerge::transaction::Transactable;

    #[test]
    fn amounts_are_found_where_scanners_put_them(
    ) -> std::result::Result<(), automerge::AutomergeError> {
        let mut root = AutoCommit::new();
        root.put(ROOT, "amount", "288,000.00")?;
        assert_eq!(amount(&root), Some(288_000.0));
        let mut flat = AutoCommit::new();
        let f = flat.put_object(ROOT, "fields", ObjType::Map)?;
        flat.put(&f, "amount", 1200_i64)?;
        assert_eq!(amount(&flat), Some(1200.0));
        let mut none = AutoCommit::new();
        none.put(ROOT, "category", "contract")?;
        assert_eq!(amount(&none), None);
        Ok(())
    }
}
