//! The duplicate index: every contact's match keys in `contact_keys`, kept with the projection in
//! the same transaction, and the duplicate check that reads it.

use super::Store;
use crate::dedup::keys::{self, NameMatch};
use crate::dedup::{self, DupQuery, DupReason, Duplicate};
use crate::error::Result;
use crate::normalize::{self, Region};
use crate::record::contact::Contact;
use rusqlite::{params, Connection, OptionalExtension, Transaction, TransactionBehavior};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// How many contacts one key may offer (a surname at a big customer can be shared by many).
const PER_KEY_LIMIT: i64 = 50;
/// How many duplicates a check returns at most.
pub const MAX_DUPLICATES: usize = 20;
/// `sync_state` key naming the version of the match keys stored (set once every contact's keys
/// are indexed).
const KEY_INDEXED: &str = "dedup_keys_indexed";
/// The version of [`keys::contact_keys`]. The stored keys must be what it computes from the
/// projection, since an edit deletes the old keys by computing them again: change this whenever
/// the keys change, and every store rebuilds its keys once on open.
const KEYS_VERSION: &str = "3";

/// A contact just saved, with the likely duplicates that existed before it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ffi", derive(uniffi::Record))]
pub struct AddedContact {
    /// The saved contact.
    pub contact: Contact,
    /// Existing contacts it probably duplicates, best first (empty when none).
    pub duplicates: Vec<Duplicate>,
}

/// The match keys of the contact at `rid` as its projection stands, before it is rewritten:
/// what [`index_keys`] must delete. Empty when the projection row does not exist.
pub(crate) fn stored_keys(tx: &Transaction<'_>, rid: i64) -> Result<Vec<String>> {
    let row = tx
        .prepare_cached("SELECT name, company, phones, emails FROM contacts WHERE rid = ?1")?
        .query_row([rid], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, Option<String>>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, String>(3)?,
            ))
        })
        .optional()?;
    Ok(match row {
        Some((name, company, phones, emails)) => {
            keys::contact_keys(&name, company.as_deref(), &list(&phones), &list(&emails))
        }
        None => Vec::new(),
    })
}

/// Rewrites a contact's match keys, inside `tx`: deletes `old` (from [`stored_keys`], read
/// before the projection changed) that the contact no longer has, adds the new ones.
pub(crate) fn index_keys(
    tx: &Transaction<'_>,
    rid: i64,
    c: &Contact,
    old: &[String],
) -> Result<()> {
    let new = keys::contact_keys(&c.name, c.company.as_deref(), &c.phones, &c.emails);
    let mut delete = tx.prepare_cached("DELETE FROM contact_keys WHERE key = ?1 AND rid = ?2")?;
    for key in old.iter().filter(|k| !new.contains(k)) {
        delete.execute(params![key, rid])?;
    }
    insert_keys(tx, rid, &new)
}

/// A JSON list of strings as the projection stores phones and emails; empty when unreadable.
fn list(json: &str) -> Vec<String> {
    serde_json::from_str::<Vec<String>>(json).unwrap_or_default()
}

/// Adds match keys (from [`keys::contact_keys`]) for a contact, inside `tx`.
pub(crate) fn insert_keys(tx: &Transaction<'_>, rid: i64, keys: &[String]) -> Result<()> {
    let mut insert =
        tx.prepare_cached("INSERT OR IGNORE INTO contact_keys(key, rid) VALUES (?1, ?2)")?;
    for key in keys {
        insert.execute(params![key, rid])?;
    }
    Ok(())
}

/// Inserts the match keys of many contacts, `(key, rid)`, in key order, so that the primary
/// key (key, rid) grows along one path instead of taking a random probe per key (an import's
/// keys, a bootstrap page's).
pub(crate) fn insert_keys_in_order(
    tx: &Transaction<'_>,
    mut keys: Vec<(String, i64)>,
) -> Result<()> {
    keys.sort_unstable();
    let mut insert =
        tx.prepare_cached("INSERT OR IGNORE INTO contact_keys(key, rid) VALUES (?1, ?2)")?;
    for (key, rid) in &keys {
        insert.execute(params![key, rid])?;
    }
    Ok(())
}

/// Indexes the match keys of every contact when the stored ones are not of [`KEYS_VERSION`]
/// (a store from before the index, or from a build whose keys differ), once, on open.
pub(crate) fn backfill_keys(conn: &mut Connection) -> Result<()> {
    if super::settings::get(conn, KEY_INDEXED)?.as_deref() == Some(KEYS_VERSION) {
        return Ok(());
    }
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    tx.execute("DELETE FROM contact_keys", [])?;
    {
        let mut stmt = tx.prepare("SELECT rid, name, company, phones, emails FROM contacts")?;
        let rows = stmt.query_map([], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, Option<String>>(2)?,
                r.get::<_, String>(3)?,
                r.get::<_, String>(4)?,
            ))
        })?;
        let mut insert =
            tx.prepare("INSERT OR IGNORE INTO contact_keys(key, rid) VALUES (?1, ?2)")?;
        for row in rows {
            let (rid, name, company, phones, emails) = row?;
            for key in keys::contact_keys(&name, company.as_deref(), &list(&phones), &list(&emails))
            {
                insert.execute(params![key, rid])?;
            }
        }
    }
    super::settings::set(&tx, KEY_INDEXED, KEYS_VERSION)?;
    tx.commit()?;
    Ok(())
}

/// The keys to look up for a query, each with the reason and score it stands for.
pub(crate) fn query_keys(q: &DupQuery, region: Region) -> Vec<(String, DupReason, f64)> {
    let mut out = Vec::new();
    for p in &q.phones {
        if let Ok(p) = normalize::phone("phones", p, region) {
            for (key, same) in keys::phone_queries(&p) {
                let score = if same {
                    dedup::SCORE_PHONE
                } else {
                    dedup::SCORE_PHONE_MAIN
                };
                out.push((key, DupReason::Phone, score));
            }
        }
    }
    for e in &q.emails {
        if let Ok(e) = normalize::email("emails", e) {
            out.push((format!("e:{e}"), DupReason::Email, dedup::SCORE_EMAIL));
        }
    }
    for (key, strength) in keys::name_company_queries(q.name.as_deref(), q.company.as_deref()) {
        let score = match strength {
            NameMatch::Exact => dedup::SCORE_NAME_EXACT,
            NameMatch::Similar => dedup::SCORE_NAME_SIMILAR,
        };
        out.push((key, DupReason::NameCompany, score));
    }
    out
}

/// Active contacts sharing any of `keys`, scored, best first; `exclude` is left out.
pub(crate) fn find(
    conn: &Connection,
    keys: &[(String, DupReason, f64)],
    exclude: Option<&str>,
) -> Result<Vec<Duplicate>> {
    struct Hit {
        name: String,
        company: Option<String>,
        best: BTreeMap<DupReason, f64>,
    }
    let mut hits: BTreeMap<String, Hit> = BTreeMap::new();
    let mut stmt = conn.prepare_cached(
        "SELECT r.id, c.name, c.company FROM contact_keys k \
         JOIN contacts c ON c.rid = k.rid JOIN records r ON r.rid = k.rid \
         WHERE k.key = ?1 AND c.status = 'active' LIMIT ?2",
    )?;
    for (key, reason, score) in keys {
        let rows = stmt.query_map(params![key, PER_KEY_LIMIT], |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?, r.get(2)?))
        })?;
        for row in rows {
            let (id, name, company) = row?;
            if exclude == Some(id.as_str()) {
                continue;
            }
            let hit = hits.entry(id).or_insert_with(|| Hit {
                name,
                company,
                best: BTreeMap::new(),
            });
            let best = hit.best.entry(*reason).or_insert(0.0);
            *best = best.max(*score);
        }
    }
    let mut out: Vec<Duplicate> = hits
        .into_iter()
        .map(|(id, hit)| {
            let scores: Vec<f64> = hit.best.values().copied().collect();
            Duplicate {
                contact_id: id,
                name: hit.name,
                company: hit.company,
                score: dedup::combine(&scores),
                reasons: hit.best.keys().copied().collect(),
            }
        })
        .collect();
    out.sort_by(|a, b| {
        b.score
            .total_cmp(&a.score)
            .then_with(|| a.contact_id.cmp(&b.contact_id))
    });
    out.truncate(MAX_DUPLICATES);
    Ok(out)
}

impl Store {
    /// Likely duplicates of a contact being entered, best first: the same phone (E.164), the
    /// same email, or the same or a similar name at the same company (titles like 经理/总监,
    /// legal forms like 有限公司 and a leading city ignored; pinyin and Latin spellings meet).
    /// Invalid and merged contacts are never offered. A few indexed reads, whatever the size
    /// of the store: fit to call on every keystroke.
    pub fn find_duplicates(&self, query: &DupQuery) -> Result<Vec<Duplicate>> {
        self.guard()?;
        let keys = query_keys(query, self.region);
        self.ctx(find(&self.conn, &keys, None))
    }

    /// Likely duplicates of a finished entry, like [`Store::find_duplicates`], except that a
    /// phone or email that is not valid is refused naming it (where `find_duplicates`, called
    /// while the rep types, lets a half-typed value match nothing): "no duplicate" then never
    /// hides a typing mistake.
    pub fn check_duplicates(&self, query: &DupQuery) -> Result<Vec<Duplicate>> {
        self.guard()?;
        for p in &query.phones {
            normalize::phone("phones", p, self.region)?;
        }
        for e in &query.emails {
            normalize::email("emails", e)?;
        }
        self.find_duplicates(query)
    }
}
