//! The survivor of merged contacts, as every contact's projection records it: the raw
//! `merged_into` pointer and the contact it reads as, by the rule of
//! `docs/adr/0012-merge-survivor.md` (see [`super::merge`] for merging itself). Below the
//! contacts' projection, which calls it on every write.

use crate::error::Result;
use crate::record::contact::{Contact, ContactStatus};
use rusqlite::{params, OptionalExtension, Transaction};

/// Longest `merged_into` chain followed; longer chains stop (no device makes them in practice).
const MAX_CHAIN: usize = 256;

/// Records a contact's raw merge pointer and recomputes the survivor of every contact whose
/// chain passes through it, inside `tx` (called by every projection of a contact).
pub(crate) fn project_merge_state(
    tx: &Transaction<'_>,
    rid: i64,
    c: &Contact,
    existed: bool,
) -> Result<()> {
    let target = match c.status {
        ContactStatus::Merged => c
            .merged_into
            .clone()
            .filter(|t| *t != c.id && !t.is_empty()),
        _ => None,
    };
    if target.is_none() && !existed {
        // A new contact that points nowhere: only contacts that already point at it (merged
        // on another device before it arrived here) can change.
        if c.status == ContactStatus::Merged {
            tx.prepare_cached("UPDATE contacts SET status = 'active' WHERE rid = ?1")?
                .execute([rid])?;
        }
        let waiting: Option<i64> = tx
            .prepare_cached("SELECT 1 FROM contacts WHERE merge_target = ?1 LIMIT 1")?
            .query_row([&c.id], |r| r.get(0))
            .optional()?;
        if waiting.is_none() {
            return Ok(());
        }
    }
    tx.prepare_cached("UPDATE contacts SET merge_target = ?2 WHERE rid = ?1")?
        .execute(params![rid, target])?;
    if target.is_none() && c.status == ContactStatus::Merged {
        // `merged` without a pointer (an unmerge crossed a merge): it survives.
        tx.prepare_cached("UPDATE contacts SET status = 'active' WHERE rid = ?1")?
            .execute([rid])?;
    }
    settle(tx, &c.id)
}

/// The raw pointer of a contact: `None` if this device does not have it, `Some(None)` if it
/// points nowhere.
fn pointer(tx: &Transaction<'_>, id: &str) -> Result<Option<Option<String>>> {
    Ok(tx
        .prepare_cached(
            "SELECT c.merge_target FROM contacts c JOIN records r ON r.rid = c.rid WHERE r.id = ?1",
        )?
        .query_row([id], |r| r.get::<_, Option<String>>(0))
        .optional()?)
}

/// The survivor a contact reads as, by the rule in the module docs.
fn survivor(tx: &Transaction<'_>, id: &str, first: &str) -> Result<String> {
    let mut path = vec![id.to_string()];
    let mut next = first.to_string();
    loop {
        if let Some(at) = path.iter().position(|p| *p == next) {
            // A cycle: its smallest member survives.
            return Ok(path[at..].iter().min().cloned().unwrap_or(next));
        }
        match pointer(tx, &next)? {
            // Not here (yet): the last contact we have keeps standing.
            None => return Ok(path.pop().unwrap_or(next)),
            Some(None) => return Ok(next),
            Some(Some(after)) => {
                if path.len() >= MAX_CHAIN {
                    return Ok(next);
                }
                path.push(next);
                next = after;
            }
        }
    }
}

/// Recomputes the survivor of `id` and of every contact whose chain reaches it.
fn settle(tx: &Transaction<'_>, id: &str) -> Result<()> {
    let mut affected = vec![id.to_string()];
    let mut i = 0;
    let mut preds = tx.prepare_cached(
        "SELECT r.id FROM contacts c JOIN records r ON r.rid = c.rid WHERE c.merge_target = ?1",
    )?;
    while i < affected.len() {
        let rows = preds.query_map([&affected[i]], |r| r.get::<_, String>(0))?;
        for row in rows {
            let p = row?;
            if !affected.contains(&p) {
                affected.push(p);
            }
        }
        i += 1;
    }
    for n in &affected {
        let Some(Some(first)) = pointer(tx, n)? else {
            continue;
        };
        let s = survivor(tx, n, &first)?;
        let (status, merged_into) = if s == *n {
            ("active", None)
        } else {
            ("merged", Some(s))
        };
        tx.prepare_cached(
            "UPDATE contacts SET status = ?2, merged_into = ?3 \
             WHERE rid = (SELECT rid FROM records WHERE id = ?1) \
             AND (status IS NOT ?2 OR merged_into IS NOT ?3)",
        )?
        .execute(params![n, status, merged_into])?;
    }
    Ok(())
}
