//! Merging duplicate contacts, and which contact survives when merges crossed under sync.
//!
//! A merge is two ordinary document edits in one transaction: the loser gets `status: merged`
//! and `merged_into: WINNER`, the winner gets the loser's phones, emails and the fields it
//! lacked. Nothing is deleted. Because devices merge concurrently (A into B here, B into A
//! there, or cycles of three), the survivor is not stored: it is computed from the documents
//! whenever a contact's projection is rebuilt, by the rule of `docs/adr/0012-merge-survivor.md`:
//!
//! - follow `merged_into` pointers from the contact;
//! - a pointer to a contact this device does not have yet is not followed (yet);
//! - on a cycle, the member with the smallest id survives and its own `merged_into` is ignored.
//!
//! The projection keeps the raw pointer (`merge_target`) and the result (`status`,
//! `merged_into`); a change of one pointer recomputes the contacts whose chain passes through
//! it. Every device holding the same documents shows the same survivor.

use super::contacts;
use super::records::load_record;
use super::{RecordKind, Store};
use crate::error::{Error, Result};
use crate::record::contact::{self, Contact, ContactStatus, MAX_LIST_ITEMS, MERGED_FROM_PREFIX};
use crate::record::{
    commit, get_str, get_str_list, put_opt_str, put_text, rfc3339_ms, set_str_list,
};
use automerge::{AutoCommit, ReadDoc, ROOT};
use rusqlite::{OptionalExtension, Transaction, TransactionBehavior};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Fields copied from the loser when the winner has none; `(key, is_text)`.
const COPIED: &[(&str, bool)] = &[
    ("company", false),
    ("title", false),
    ("address", false),
    ("source", false),
    ("notes", true),
];

/// What a merge copied into the winner, kept in the winner's document under
/// `merged_from:LOSER:copied` so that an unmerge (on any device) can take it back.
#[derive(Debug, Default, Serialize, Deserialize)]
struct Copied {
    /// Fields (and extra fields) the winner lacked, with the value copied.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    fields: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    phones: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    emails: Vec<String>,
}

impl Copied {
    fn is_empty(&self) -> bool {
        self.fields.is_empty() && self.phones.is_empty() && self.emails.is_empty()
    }
}

/// The winner's key that holds what the merge of `loser` copied into it.
fn copied_key(loser: &str) -> String {
    format!("{MERGED_FROM_PREFIX}{loser}:copied")
}

/// Copies into `winner` what `loser` has and it lacks; returns the loser's values that differ
/// from the winner's (kept in the winner's document, so its history shows them), and what it
/// copied.
fn absorb(
    winner: &mut AutoCommit,
    loser: &AutoCommit,
) -> Result<(BTreeMap<String, String>, Copied)> {
    let mut differing = BTreeMap::new();
    let mut copied = Copied::default();
    if let (Some(w), Some(l)) = (get_str(winner, "name"), get_str(loser, "name")) {
        if w != l {
            differing.insert("name".to_string(), l);
        }
    }
    for (key, is_text) in COPIED {
        let Some(value) = get_str(loser, key).filter(|v| !v.trim().is_empty()) else {
            continue;
        };
        match get_str(winner, key).filter(|v| !v.trim().is_empty()) {
            None => {
                if *is_text {
                    put_text(winner, key, Some(&value))?;
                } else {
                    put_opt_str(winner, key, Some(&value))?;
                }
                copied.fields.insert(key.to_string(), value);
            }
            Some(w) if w != value => {
                differing.insert(key.to_string(), value);
            }
            Some(_) => {}
        }
    }
    for key in ["phones", "emails"] {
        let mut list = get_str_list(winner, key);
        for v in get_str_list(loser, key) {
            if list.contains(&v) {
                continue;
            }
            if list.len() < MAX_LIST_ITEMS {
                list.push(v.clone());
                if key == "phones" {
                    copied.phones.push(v);
                } else {
                    copied.emails.push(v);
                }
            } else {
                differing
                    .entry(key.to_string())
                    .and_modify(|s: &mut String| {
                        s.push_str(", ");
                        s.push_str(&v);
                    })
                    .or_insert(v);
            }
        }
        set_str_list(winner, key, &list)?;
        if key == "phones" && !copied.phones.is_empty() {
            // How the copied phones were typed comes along (record/typed.rs).
            let typed = crate::record::typed::read(loser, &copied.phones);
            crate::record::typed::write(winner, &list, &typed)?;
        }
    }
    // Extra fields the winner does not have; never the server's routing markers (they say how
    // the loser was routed, and only the server writes them).
    let known = contact::KNOWN_KEYS;
    let loser_keys: Vec<String> = loser.keys(ROOT).collect();
    for key in loser_keys {
        if known.contains(&key.as_str())
            || key.starts_with(MERGED_FROM_PREFIX)
            || crate::routing::MARKER_KEYS.contains(&key.as_str())
        {
            continue;
        }
        let Some(value) = get_str(loser, &key) else {
            continue;
        };
        match get_str(winner, &key) {
            None => {
                put_opt_str(winner, &key, Some(&value))?;
                copied.fields.insert(key, value);
            }
            Some(w) if w != value => {
                differing.insert(key, value);
            }
            Some(_) => {}
        }
    }
    Ok((differing, copied))
}

/// Takes back from `winner` what the merge of `loser` copied into it, inside `tx`: each field
/// that still holds the copied value, each copied phone and email still there, and the merge's
/// notes on `loser`. What the winner's users changed since stays. A winner this device does not
/// hold, or a merge from before the copy was recorded, has nothing to take back.
fn take_back(tx: &Transaction<'_>, actor: &crate::Actor, winner: &str, loser: &str) -> Result<()> {
    let (rid, mut doc, _) = match load_record(tx, RecordKind::Contact, winner, actor) {
        Ok(found) => found,
        Err(Error::NotFound { .. }) => return Ok(()),
        Err(e) => return Err(e),
    };
    let before = doc.get_heads();
    let key = copied_key(loser);
    let copied: Copied = get_str(&doc, &key)
        .and_then(|json| serde_json::from_str(&json).ok())
        .unwrap_or_default();
    for (field, value) in &copied.fields {
        if get_str(&doc, field).as_deref() == Some(value.as_str()) {
            // A text (notes) or a register alike: no value deletes the key.
            put_opt_str(&mut doc, field, None)?;
        }
    }
    for (list_key, taken) in [("phones", &copied.phones), ("emails", &copied.emails)] {
        if taken.is_empty() {
            continue;
        }
        let list: Vec<String> = get_str_list(&doc, list_key)
            .into_iter()
            .filter(|v| !taken.contains(v))
            .collect();
        set_str_list(&mut doc, list_key, &list)?;
    }
    put_opt_str(&mut doc, &key, None)?;
    put_opt_str(&mut doc, &format!("{MERGED_FROM_PREFIX}{loser}"), None)?;
    if commit(&mut doc, actor, "unmerge", Store::now_ms()).is_none() {
        return Ok(());
    }
    contacts::save(tx, Some(rid), winner, &mut doc, &before).map(drop)
}

/// Makes a contact's document say it is not merged, inside `tx`.
fn clear_merge(tx: &Transaction<'_>, actor: &crate::Actor, id: &str) -> Result<()> {
    let (rid, mut doc, _) = load_record(tx, RecordKind::Contact, id, actor)?;
    let before = doc.get_heads();
    put_opt_str(&mut doc, "status", Some("active"))?;
    for key in ["merged_into", "merged_at", "merged_by"] {
        put_opt_str(&mut doc, key, None)?;
    }
    if commit(&mut doc, actor, "unmerge", Store::now_ms()).is_none() {
        return Ok(());
    }
    contacts::save(tx, Some(rid), id, &mut doc, &before).map(drop)
}

impl Store {
    /// Merges `loser_id` into `winner_id` and returns the winner. Nothing is deleted: the loser
    /// becomes `merged` with `merged_into`, is hidden from lists and duplicate checks (search
    /// finds it by its own name as the winner), and still answers [`Store::get_contact`]; its visits read as the winner's. The winner
    /// gets the loser's phones and emails and the fields it lacked; where both had a value the
    /// winner's stays, and the loser's is recorded in the winner's document (its history shows
    /// it under `merged_from:LOSER_ID`). Both documents change in one transaction, and travel
    /// through sync like any edit.
    pub fn merge_contacts(&mut self, winner_id: &str, loser_id: &str) -> Result<Contact> {
        self.guard()?;
        let r = self.merge_inner(winner_id.trim(), loser_id.trim());
        let c = self.ctx(r)?;
        self.notify(RecordKind::Contact, loser_id.trim());
        self.notify(RecordKind::Contact, &c.id);
        Ok(c)
    }

    fn merge_inner(&mut self, winner_id: &str, loser_id: &str) -> Result<Contact> {
        if winner_id == loser_id {
            return Err(Error::validation(
                "loser",
                loser_id,
                "a contact cannot be merged into itself",
            ));
        }
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        super::scope::require(&tx, "merge", "merge contacts")?;
        let winner = contacts::get(&tx, winner_id)?;
        let loser = contacts::get(&tx, loser_id)?;
        match (winner.status, &winner.merged_into) {
            (ContactStatus::Merged, Some(s)) => {
                return Err(Error::validation(
                    "winner",
                    winner_id,
                    format!("this contact was merged into {s}; merge into that one"),
                ))
            }
            (ContactStatus::Invalid, _) => {
                return Err(Error::validation(
                    "winner",
                    winner_id,
                    "this contact was marked invalid",
                ))
            }
            _ => {}
        }
        match loser.status {
            ContactStatus::Merged => {
                return Err(Error::validation(
                    "loser",
                    loser_id,
                    format!(
                        "this contact is already merged into {}",
                        loser.merged_into.unwrap_or_default()
                    ),
                ))
            }
            ContactStatus::Invalid => {
                return Err(Error::validation(
                    "loser",
                    loser_id,
                    "this contact was marked invalid",
                ))
            }
            ContactStatus::Active => {}
        }
        let now = Self::now_ms();
        let at = rfc3339_ms(now);
        let (wrid, mut wdoc, _) = load_record(&tx, RecordKind::Contact, winner_id, &self.actor)?;
        let (lrid, mut ldoc, _) = load_record(&tx, RecordKind::Contact, loser_id, &self.actor)?;
        let wbefore = wdoc.get_heads();
        let lbefore = ldoc.get_heads();
        let (differing, copied) = absorb(&mut wdoc, &ldoc)?;
        if !copied.is_empty() {
            let json = serde_json::to_string(&copied).unwrap_or_default();
            put_opt_str(&mut wdoc, &copied_key(loser_id), Some(&json))?;
        }
        if !differing.is_empty() {
            let json = serde_json::to_string(&differing).unwrap_or_default();
            crate::record::check_text("merged_from", &json, contact::MAX_NOTES_CHARS)?;
            put_opt_str(
                &mut wdoc,
                &format!("{MERGED_FROM_PREFIX}{loser_id}"),
                Some(&json),
            )?;
        }
        put_opt_str(&mut ldoc, "status", Some("merged"))?;
        put_opt_str(&mut ldoc, "merged_into", Some(winner_id))?;
        put_opt_str(&mut ldoc, "merged_at", Some(&at))?;
        put_opt_str(&mut ldoc, "merged_by", Some(&self.actor.user))?;
        commit(&mut ldoc, &self.actor, "merge", now);
        contacts::save(&tx, Some(lrid), loser_id, &mut ldoc, &lbefore)?;
        if commit(&mut wdoc, &self.actor, "merge", now).is_some() {
            contacts::save(&tx, Some(wrid), winner_id, &mut wdoc, &wbefore)?;
        }
        let out = contacts::get(&tx, winner_id)?;
        tx.commit()?;
        Ok(out)
    }

    /// Restores a merged contact as a contact of its own (`status` back to `active`, no
    /// `merged_into`) and returns it. The contact it was merged into gives back what the merge
    /// copied from it (fields, phones and emails that still hold the copied values; what was
    /// changed since stays).
    pub fn unmerge_contact(&mut self, id: &str) -> Result<Contact> {
        self.guard()?;
        let id = id.trim();
        let r = self.unmerge_inner(id);
        let c = self.ctx(r)?;
        self.notify(RecordKind::Contact, &c.id);
        Ok(c)
    }

    fn unmerge_inner(&mut self, id: &str) -> Result<Contact> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        super::scope::require(&tx, "merge", "unmerge contacts")?;
        let actor = self.actor.clone();
        let (_, doc, _) = load_record(&tx, RecordKind::Contact, id, &actor)?;
        if get_str(&doc, "status").as_deref() != Some("merged") {
            return Err(Error::validation(
                "contact",
                id,
                "this contact is not merged into another",
            ));
        }
        // If its survivor won a crossed merge (B into A here, A into B elsewhere), the
        // survivor's own pointer was ignored; clear it too, or it would take over once this
        // contact stands alone again, and the survivor would vanish from lists.
        if let Some(survivor) = contacts::get(&tx, id)?.merged_into {
            let ignored: Option<String> = tx
                .prepare_cached(
                    "SELECT c.merge_target FROM contacts c JOIN records r ON r.rid = c.rid WHERE r.id = ?1",
                )?
                .query_row([&survivor], |r| r.get(0))
                .optional()?
                .flatten();
            if ignored.is_some() {
                clear_merge(&tx, &actor, &survivor)?;
            }
        }
        if let Some(winner) = get_str(&doc, "merged_into") {
            take_back(&tx, &actor, &winner, id)?;
        }
        clear_merge(&tx, &actor, id)?;
        let out = contacts::get(&tx, id)?;
        tx.commit()?;
        Ok(out)
    }

    /// The contact that `id` reads as: itself, or the survivor it was merged into.
    pub fn survivor_of(&self, id: &str) -> Result<String> {
        self.guard()?;
        let c = self.get_contact(id)?;
        Ok(c.merged_into.unwrap_or(c.id))
    }
}
