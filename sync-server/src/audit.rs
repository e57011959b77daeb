//! The audit trail: an append-only, hash-chained log of what happened on the server.
//!
//! Every accepted push (with the changes' records and hashes), invalidation and merge seen in
//! a change, bootstrap download, audit export, failed or refused authentication, enrolment,
//! revocation and user disable is one [`AuditRow`] with tenant, user, device, time and remote
//! address. Rows form one chain per tenant (tenant `""` holds server-wide events such as
//! unknown tokens): row `n` carries `seq = n`, the previous row's hash, and
//! `hash = sha256(prev_hash || canonical(row))` where `canonical` is the JSON array
//! `[seq, tenant_id, at_ms, event, user_id, device_id, remote, detail]` (`detail` as its stored
//! text). The last seq and hash of each chain are kept in a head row written in the same
//! transaction, so [`verify`] finds an altered row, a removed row, and removed rows at the end.
//!
//! Both storages refuse `UPDATE` and `DELETE` on the audit table with a trigger, and any insert
//! of an existing row (SQLite's `INSERT OR REPLACE`); a head is inserted once, then only moves
//! forward by one row to a row that exists with its hash, and is never deleted. Someone with
//! full database access can drop the trigger and rewrite a whole chain consistently from some
//! row on; to catch that, keep the head hashes that `outpost-server audit verify` prints
//! somewhere else (a ticket, an e-mail): a rewritten chain no longer ends in them.

use crate::error::StorageError;
use crate::rows::Device;
pub use crate::storage::audit::{
    chain_hash, event, next_row, remote_address, with_remote, AuditEvent, AuditHead, AuditLog,
    AuditRow, GENESIS_HASH,
};
use serde::Serialize;
use sha2::{Digest, Sha256};

/// The tenants to walk: `tenant_id`, or every tenant with log rows or a head.
async fn chains(
    log: &dyn AuditLog,
    tenant_id: Option<&str>,
    heads: &[AuditHead],
) -> Result<Vec<String>, StorageError> {
    Ok(match tenant_id {
        Some(t) => vec![t.to_string()],
        None => {
            let mut all: std::collections::BTreeSet<String> =
                log.audit_tenants().await?.into_iter().collect();
            all.extend(heads.iter().map(|h| h.tenant_id.clone()));
            all.into_iter().collect()
        }
    })
}

/// Checks one chain row by row; feed it the rows in stored order, then [`ChainVerifier::finish`].
#[derive(Debug)]
pub struct ChainVerifier {
    tenant_id: String,
    last_seq: u64,
    last_hash: String,
    rows: u64,
    problems: Vec<String>,
}

impl ChainVerifier {
    /// Starts verifying `tenant_id`'s chain.
    pub fn new(tenant_id: &str) -> ChainVerifier {
        ChainVerifier {
            tenant_id: tenant_id.to_string(),
            last_seq: 0,
            last_hash: GENESIS_HASH.to_string(),
            rows: 0,
            problems: Vec::new(),
        }
    }

    /// Checks the next stored row.
    pub fn push(&mut self, row: &AuditRow) {
        self.rows += 1;
        if row.event.tenant_id != self.tenant_id {
            self.problems.push(format!(
                "row {}: belongs to tenant {:?}, found in the chain of {:?}",
                row.seq, row.event.tenant_id, self.tenant_id
            ));
        }
        if row.seq != self.last_seq + 1 {
            if row.seq > self.last_seq + 1 {
                self.problems.push(missing(self.last_seq + 1, row.seq - 1));
            } else {
                self.problems.push(format!(
                    "row {}: out of order after row {}",
                    row.seq, self.last_seq
                ));
            }
        } else if row.prev_hash != self.last_hash {
            self.problems.push(format!(
                "row {}: its prev_hash does not match row {} (a row was replaced)",
                row.seq, self.last_seq
            ));
        }
        if chain_hash(&row.prev_hash, row.seq, &row.event) != row.hash {
            self.problems.push(format!(
                "row {}: its contents do not match its hash (the row was altered)",
                row.seq
            ));
        }
        self.last_seq = row.seq;
        self.last_hash = row.hash.clone();
    }

    /// Compares the end of the chain with the stored head and returns the verdict.
    pub fn finish(mut self, head: Option<&AuditHead>) -> ChainReport {
        match head {
            Some(h) if h.seq > self.last_seq => {
                self.problems.push(missing(self.last_seq + 1, h.seq));
            }
            Some(h) if h.seq < self.last_seq => self.problems.push(format!(
                "the head says the chain ends at row {}, but row {} exists (the head was rolled back)",
                h.seq, self.last_seq
            )),
            Some(h) if h.hash != self.last_hash => self.problems.push(format!(
                "row {}: its hash differs from the head's (the last row was replaced)",
                h.seq
            )),
            Some(_) => {}
            None if self.rows > 0 => self
                .problems
                .push("the chain has rows but no head (the head was deleted)".to_string()),
            None => {}
        }
        ChainReport {
            ok: self.problems.is_empty(),
            tenant_id: self.tenant_id,
            rows: self.rows,
            head_seq: self.last_seq,
            head_hash: self.last_hash,
            problems: self.problems,
        }
    }
}

fn missing(from: u64, to: u64) -> String {
    if from == to {
        format!("row {from}: missing (deleted)")
    } else {
        format!("rows {from} to {to}: missing (deleted)")
    }
}

/// The verdict on one tenant's chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ChainReport {
    /// The tenant (`""` for server-wide events).
    pub tenant_id: String,
    /// Whether no problem was found.
    pub ok: bool,
    /// Rows read.
    pub rows: u64,
    /// The last seq read.
    pub head_seq: u64,
    /// The last hash read: keep it elsewhere to detect a later rewrite of the whole chain.
    pub head_hash: String,
    /// Each problem, naming the row.
    pub problems: Vec<String>,
}

/// Rows read per page while verifying or exporting.
const PAGE: u32 = 1_000;

/// Verifies the chains of `tenant_id` (or of every tenant with log rows or a head: a chain whose
/// head was deleted is walked and reported).
pub async fn verify(
    log: &dyn AuditLog,
    tenant_id: Option<&str>,
) -> Result<Vec<ChainReport>, StorageError> {
    let heads = log.audit_heads().await?;
    let tenants = chains(log, tenant_id, &heads).await?;
    let mut reports = Vec::new();
    for tenant in tenants {
        let mut verifier = ChainVerifier::new(&tenant);
        let mut after = 0;
        loop {
            let page = log.audit_page(&tenant, after, PAGE).await?;
            let Some(last) = page.last() else { break };
            after = last.seq;
            for row in &page {
                verifier.push(row);
            }
        }
        let head = heads.iter().find(|h| h.tenant_id == tenant);
        reports.push(verifier.finish(head));
    }
    Ok(reports)
}

/// Calls `each` with every row of `tenant_id` (or of every tenant) at or after `since_ms`, in
/// chain order, tenant by tenant; `each` says whether it wrote the row. Returns how many it wrote.
pub async fn export(
    log: &dyn AuditLog,
    tenant_id: Option<&str>,
    since_ms: Option<i64>,
    mut each: impl FnMut(&AuditRow) -> Result<bool, StorageError>,
) -> Result<u64, StorageError> {
    let heads = match tenant_id {
        Some(_) => Vec::new(),
        None => log.audit_heads().await?,
    };
    let tenants = chains(log, tenant_id, &heads).await?;
    let mut written = 0;
    for tenant in tenants {
        let mut after = 0;
        loop {
            let page = log.audit_page(&tenant, after, PAGE).await?;
            let Some(last) = page.last() else { break };
            after = last.seq;
            for row in page
                .iter()
                .filter(|r| since_ms.is_none_or(|s| r.event.at_ms >= s))
            {
                if each(row)? {
                    written += 1;
                }
            }
        }
    }
    Ok(written)
}

/// What a pushed change means for the audit trail: its hash, and whether it marks a record
/// invalid or merges it into another (root keys `status = "invalid"`, `merged_into`).
fn change_summary(bytes: &[u8]) -> Option<(String, bool, bool)> {
    use automerge::legacy::{Key, ObjectId};
    let info = outpost_core::sync::bounds::inspect_change(bytes).ok()?;
    let hash = hex::encode(info.hash);
    // An uncompressed change holds its keys and string values as written: one that names
    // neither `merged_into` nor `invalid` does neither, and is not decoded (most are not).
    let compressed = info.inflated > 0;
    if !compressed && !contains(bytes, b"merged_into") && !contains(bytes, b"invalid") {
        return Some((hash, false, false));
    }
    let change = automerge::Change::try_from(bytes).ok()?;
    let (mut invalidates, mut merges) = (false, false);
    for op in change.decode().operations {
        if !matches!(op.obj, ObjectId::Root) {
            continue;
        }
        if let Key::Map(key) = &op.key {
            match key.as_str() {
                "merged_into" => merges = true,
                "status" => {
                    if let Some(automerge::ScalarValue::Str(v)) = op.primitive_value() {
                        invalidates |= v.as_str() == "invalid";
                    }
                }
                _ => {}
            }
        }
    }
    Some((hash, invalidates, merges))
}

/// Whether `needle` occurs in `haystack`.
fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// Records an accepted push: one `sync.push` row listing the acknowledged changes (record id
/// and change hash), and a `record.invalidate` / `record.merge` row for each change that does
/// that. Nothing is recorded when nothing new was applied (a retried push).
pub async fn record_push(
    log: &dyn AuditLog,
    device: &Device,
    changes: &[outpost_core::sync::protocol::PushChange],
    rejected: &[outpost_core::sync::protocol::Rejection],
    applied: u64,
) {
    if applied == 0 {
        return;
    }
    let refused: std::collections::BTreeSet<(String, String)> = rejected
        .iter()
        .map(|r| (r.record.clone(), hex::encode(&r.hash)))
        .collect();
    let mut accepted = Vec::new();
    let mut special = Vec::new();
    for c in changes {
        let Some((hash, invalidates, merges)) = change_summary(&c.change) else {
            continue;
        };
        if refused.contains(&(c.record.clone(), hash.clone())) {
            continue;
        }
        if invalidates {
            special.push((event::RECORD_INVALIDATE, c.record.clone(), hash.clone()));
        }
        if merges {
            special.push((event::RECORD_MERGE, c.record.clone(), hash.clone()));
        }
        accepted.push(serde_json::json!([c.record, c.kind, hash]));
    }
    let by = |e: AuditEvent| e.by(&device.user_id, Some(&device.id));
    record(
        log,
        by(AuditEvent::new(
            &device.tenant_id,
            event::SYNC_PUSH,
            &serde_json::json!({
                "applied": applied,
                "rejected": rejected.len(),
                "changes": accepted,
            }),
        )),
    )
    .await;
    for (name, record_id, hash) in special {
        record(
            log,
            by(AuditEvent::new(
                &device.tenant_id,
                name,
                &serde_json::json!({ "record": record_id, "change": hash }),
            )),
        )
        .await;
    }
}

/// The most changes a `sync.quarantined` row lists one by one (the rest are counted).
pub const MAX_QUARANTINE_LISTED: usize = 100;

/// Records what a revoked device pushed (not applied) in a `sync.quarantined` row of its
/// tenant's chain, flagged for a manager: the body's sha256 and size, and for each change (at
/// most [`MAX_QUARANTINE_LISTED`]) its record, kind, change hash and size. The bytes are not
/// kept: a revoked device must not be able to fill the disk. A change hash is read within the
/// bounds of [`outpost_core::sync::bounds`] (`null` for a change that exceeds them).
pub async fn record_quarantine(
    log: &dyn AuditLog,
    device: &Device,
    body: &[u8],
    changes: &[outpost_core::sync::protocol::PushChange],
) {
    if changes.is_empty() {
        return;
    }
    let mut budget = outpost_core::sync::bounds::Budget::request();
    let listed: Vec<serde_json::Value> = changes
        .iter()
        .take(MAX_QUARANTINE_LISTED)
        .map(|c| {
            let hash = match budget.change(&c.change) {
                Ok(info) => Some(info.hash),
                Err(outpost_core::sync::bounds::ChunkError::TooLarge { hash, .. }) => hash,
                Err(_) => None,
            };
            let hash = hash.map(hex::encode);
            serde_json::json!({
                "record": c.record.chars().take(200).collect::<String>(),
                "kind": c.kind.chars().take(40).collect::<String>(),
                "hash": hash,
                "bytes": c.change.len(),
            })
        })
        .collect();
    let detail = serde_json::json!({
        "review": "manager",
        "body": { "sha256": hex::encode(Sha256::digest(body)), "bytes": body.len() },
        "changes_total": changes.len(),
        "changes": listed,
    });
    let e = AuditEvent::new(&device.tenant_id, event::SYNC_QUARANTINED, &detail)
        .by(&device.user_id, Some(&device.id));
    record(log, e).await;
}

/// Appends `event`; a failure is logged (with the event) but does not fail the caller, whose
/// work is already committed.
pub async fn record(log: &dyn AuditLog, event: AuditEvent) {
    let name = event.event.clone();
    let tenant = event.tenant_id.clone();
    if let Err(e) = log.audit_append(event).await {
        tracing::error!(cause = %e, event = %name, %tenant, "audit append failed");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(tenant: &str, n: i64) -> AuditEvent {
        AuditEvent {
            tenant_id: tenant.to_string(),
            at_ms: 1_700_000_000_000 + n,
            event: event::SYNC_PUSH.to_string(),
            user_id: Some("wang".into()),
            device_id: Some("d1".into()),
            remote: Some("10.0.0.7:5555".into()),
            detail: format!("{{\"n\":{n}}}"),
        }
    }

    fn chain(n: i64) -> (Vec<AuditRow>, AuditHead) {
        let mut rows: Vec<AuditRow> = Vec::new();
        for i in 0..n {
            let head = rows.last().map(|r| (r.seq, r.hash.clone()));
            rows.push(next_row(head, ev("t", i)));
        }
        let last = rows.last().cloned();
        let head = AuditHead {
            tenant_id: "t".into(),
            seq: last.as_ref().map_or(0, |r| r.seq),
            hash: last.map_or(GENESIS_HASH.to_string(), |r| r.hash),
        };
        (rows, head)
    }

    fn check(rows: &[AuditRow], head: &AuditHead) -> ChainReport {
        let mut v = ChainVerifier::new("t");
        for r in rows {
            v.push(r);
        }
        v.finish(Some(head))
    }

    #[test]
    fn an_intact_chain_verifies() {
        let (rows, head) = chain(5);
        let report = check(&rows, &head);
        assert!(report.ok, "{:?}", report.problems);
        assert_eq!(report.rows, 5);
        assert_eq!(rows[0].prev_hash, GENESIS_HASH);
        assert_eq!(rows[1].prev_hash, rows[0].hash);
    }

    #[test]
    fn an_altered_row_is_named() {
        let (mut rows, head) = chain(5);
        rows[2].event.user_id = Some("li".into());
        let report = check(&rows, &head);
        assert!(!report.ok);
        assert_eq!(report.problems.len(), 1, "{:?}", report.problems);
        assert!(
            report.problems[0].starts_with("row 3:"),
            "{:?}",
            report.problems
        );
    }

    #[test]
    fn a_deleted_row_is_named() {
        let (mut rows, head) = chain(5);
        rows.remove(1);
        let report = check(&rows, &head);
        assert!(
            report
                .problems
                .iter()
                .any(|p| p == "row 2: missing (deleted)"),
            "{:?}",
            report.problems
        );
    }

    #[test]
    fn deleted_last_rows_are_found_through_the_head() {
        let (mut rows, head) = chain(5);
        rows.truncate(3);
        let report = check(&rows, &head);
        assert_eq!(report.problems, ["rows 4 to 5: missing (deleted)"]);
    }

    #[test]
    fn a_rehashed_replacement_breaks_the_link_to_the_next_row() {
        let (mut rows, head) = chain(4);
        // The forger recomputes the altered row's own hash, but the next row still points at the old one.
        rows[1].event.detail = "{\"n\":99}".into();
        rows[1].hash = chain_hash(&rows[1].prev_hash, 2, &rows[1].event);
        let report = check(&rows, &head);
        assert!(
            report
                .problems
                .iter()
                .any(|p| p.starts_with("row 3: its prev_hash")),
            "{:?}",
            report.problems
        );
    }

    /// One change on a document, setting `key` to `value` at its root.
    fn change_setting(key: &str, value: &str) -> Result<automerge::Change, String> {
        use automerge::transaction::Transactable;
        let mut doc = automerge::AutoCommit::new();
        doc.put(automerge::ROOT, "name", "王芳")
            .map_err(|e| e.to_string())?;
        doc.put(automerge::ROOT, key, value)
            .map_err(|e| e.to_string())?;
        doc.commit();
        doc.get_last_local_change()
            .ok_or_else(|| "no change".to_string())
    }

    #[test]
    fn change_summaries_find_invalidations_and_merges_with_automerges_hash() -> Result<(), String> {
        for (key, value, invalidates, merges) in [
            ("title", "经理", false, false),
            ("status", "active", false, false),
            ("status", "invalid", true, false),
            (
                "merged_into",
                "0b0c6d4e-6a53-4d4e-9a52-5a1c2f0e9d11",
                false,
                true,
            ),
            // The words elsewhere (a value, another key) are decoded and found harmless.
            ("note", "invalid merged_into", false, false),
        ] {
            let mut change = change_setting(key, value)?;
            let summary = change_summary(change.bytes().as_ref());
            assert_eq!(
                summary,
                Some((hex::encode(change.hash().0), invalidates, merges)),
                "{key} = {value}"
            );
        }
        assert_eq!(change_summary(b"not a change"), None);
        Ok(())
    }
}
