//! Evidence for deal stage gates, read from the store: attachments and visits.
//!
//! The gate reads the attachment projection (`attachments`, rebuilt from every attachment
//! document): its `category` (`quotation`, `contract`, ...), what it is linked to (`deal_id`
//! and `contact_id`), and the amount read from a contract (`fields.amount`, a number written as
//! text; thousands separators are accepted). The attachments of the deal's contact are read
//! (the server reads the same: those stored under the contact and the contacts merged with it);
//! one linked to another deal is left out by the gate ([`crate::flow::missing_evidence`]).
//!
//! A deal's contact reads as its survivor once merged (docs/adr/0012-merge-survivor.md): the
//! attachments and visits of the survivor and of every contact merged into it count, whichever
//! of them the deal names. The [`EvidenceSource`] trait is the seam for other sources.

use super::contacts;
use crate::error::{Error, Result};
use crate::flow::{evidence_amount, AttachmentFacts, EvidenceFacts};
use crate::record::contact::ContactStatus;
use crate::record::deal::Deal;
use chrono::{DateTime, FixedOffset};
use rusqlite::Connection;
use std::collections::BTreeMap;

/// Where stage gates read their evidence from.
pub trait EvidenceSource {
    /// The attachments of the deal's contact, and the latest visit to the contact.
    fn facts(&self, deal: &Deal) -> Result<EvidenceFacts>;
}

/// Evidence read from a store's connection.
pub(crate) struct StoreEvidence<'a> {
    conn: &'a Connection,
}

impl<'a> StoreEvidence<'a> {
    pub(crate) fn new(conn: &'a Connection) -> Self {
        StoreEvidence { conn }
    }
}

/// The contact `id` reads as: the survivor it was merged into, or itself (also when this device
/// does not have it).
pub(crate) fn reads_as(conn: &Connection, id: &str) -> Result<String> {
    match contacts::get(conn, id) {
        Ok(c) => Ok(match (c.status, c.merged_into) {
            (ContactStatus::Merged, Some(survivor)) => survivor,
            _ => c.id,
        }),
        Err(Error::NotFound { .. }) => Ok(id.to_string()),
        Err(e) => Err(e),
    }
}

/// `contact_id IN` this set: the survivor `?N` and every contact merged into it.
fn merged_set(column: &str, param: usize) -> String {
    format!(
        "({column} = ?{param} OR {column} IN ( \
           SELECT mr.id FROM contacts mc JOIN records mr ON mr.rid = mc.rid WHERE mc.merged_into = ?{param}))"
    )
}

impl EvidenceSource for StoreEvidence<'_> {
    fn facts(&self, deal: &Deal) -> Result<EvidenceFacts> {
        let contact = reads_as(self.conn, &deal.contact_id)?;
        let sql = format!(
            "SELECT r.id, a.category, a.fields, a.deal_id FROM attachments a \
             JOIN records r ON r.rid = a.rid \
             WHERE {} ORDER BY a.created_at, r.id",
            merged_set("a.contact_id", 1)
        );
        let mut stmt = self.conn.prepare_cached(&sql)?;
        let rows = stmt.query_map([contact.as_str()], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, Option<String>>(3)?,
            ))
        })?;
        let mut attachments = Vec::new();
        for row in rows {
            let (id, category, fields, deal_id) = row?;
            // The projection wrote this JSON; a row that does not parse has no fields.
            let fields: BTreeMap<String, String> =
                serde_json::from_str(&fields).unwrap_or_default();
            attachments.push(AttachmentFacts {
                id,
                category: category.trim().to_lowercase(),
                amount: fields.get("amount").and_then(|a| evidence_amount(a)),
                deal_id: deal_id.filter(|d| !d.trim().is_empty()),
            });
        }
        let last_visit = last_visit(self.conn, &contact)?;
        Ok(EvidenceFacts {
            attachments,
            last_visit,
        })
    }
}

/// The latest check-in at a contact (by the device time it was made at), counting the visits of
/// the contacts merged into it.
pub(crate) fn last_visit(
    conn: &Connection,
    contact_id: &str,
) -> Result<Option<DateTime<FixedOffset>>> {
    let contact = reads_as(conn, contact_id)?;
    let sql = format!(
        "SELECT v.device_time FROM visits v WHERE {}",
        merged_set("v.contact_id", 1)
    );
    let mut stmt = conn.prepare_cached(&sql)?;
    let rows = stmt.query_map([contact.as_str()], |r| r.get::<_, String>(0))?;
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

/// The latest check-in at a contact (counting the contacts merged into it) that is activity at
/// `now`: one whose time can be believed. A check-in judged `clock_suspect` (its device clock
/// was off) and one dated after `now` say nothing of when the rep was there; counted, a phone
/// set a month ahead would keep every deal of the customer from going stale.
pub(crate) fn last_trusted_visit(
    conn: &Connection,
    contact_id: &str,
    now: DateTime<FixedOffset>,
) -> Result<Option<DateTime<FixedOffset>>> {
    let contact = reads_as(conn, contact_id)?;
    let sql = format!(
        "SELECT v.device_time FROM visits v LEFT JOIN visit_checks k ON k.rid = v.rid \
         WHERE {} AND (k.verdict IS NULL OR k.verdict <> 'clock_suspect')",
        merged_set("v.contact_id", 1)
    );
    let mut stmt = conn.prepare_cached(&sql)?;
    let rows = stmt.query_map([contact.as_str()], |r| r.get::<_, String>(0))?;
    let mut latest: Option<DateTime<FixedOffset>> = None;
    for row in rows {
        if let Ok(t) = DateTime::parse_from_rfc3339(&row?) {
            if t <= now && latest.is_none_or(|l| t > l) {
                latest = Some(t);
            }
        }
    }
    Ok(latest)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_are_read_with_or_without_separators() {
        assert_eq!(evidence_amount("288000.00"), Some(288_000.0));
        assert_eq!(evidence_amount("288,000.00"), Some(288_000.0));
        assert_eq!(evidence_amount("1 200"), Some(1200.0));
        assert_eq!(evidence_amount("二十八万"), None);
        assert_eq!(evidence_amount("NaN"), None);
        assert_eq!(evidence_amount(""), None);
    }
}
