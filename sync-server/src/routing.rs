//! Lead routing on the server: a tenant's rules (see [`outpost_core::routing`]) give every new
//! contact an owner, once, at the sync that first brings the contact to the server.
//!
//! Before a device's push is applied, [`new_leads`] notes which pushed contacts the server has
//! never stored (created offline by import, quick create, `contact add`, or any client of the
//! sync API). After the push, [`route_leads`] applies the first matching rule to each and writes
//! the assignment as the tenant's internal server device (see [`crate::flow`]): `owner` plus
//! `routed_by`, `routing_reason` and `routed_at`, with `route: <reason>` as the change's action.
//! That change goes through the normal push path and log, so every device converges to it, and
//! the pushing device receives it in the same sync's pull.
//!
//! A contact is routed once: a claim row per contact (`routing_claims`) is taken before the
//! change is written, and a document holding `routed_at` is never routed again. Round-robin
//! turns live in `routing_turns` (they survive restarts and are shared by every server process
//! on one PostgreSQL database); least-loaded counts the active contacts each rep owns in the
//! server's documents.

use crate::audit::{self, AuditEvent};
use crate::error::StorageError;
pub use crate::storage::routing::{RoutingClaim, RoutingStore};
use crate::storage::{Device, Storage};
use automerge::AutoCommit;
use outpost_core::routing::{self, Assignment, Lead, Pick, RoutingRules};
use outpost_core::sync::protocol::PushChange;
use std::collections::{BTreeSet, HashMap};

/// Audit events of lead routing.
pub mod event {
    /// An operator set a tenant's routing rules (`detail.rules`: how many).
    pub const ROUTING_SET: &str = "routing.set";
    /// The server routed a new contact (`detail`: record, rep, reason).
    pub const LEAD_ROUTED: &str = "routing.assign";
}

/// How many documents one page of the least-loaded count reads.
const LOAD_PAGE: u32 = 500;

/// The tenant's routing rules, if an operator set any.
pub async fn tenant_rules(
    storage: &dyn Storage,
    tenant_id: &str,
) -> Result<Option<RoutingRules>, StorageError> {
    match storage.routing_rules_json(tenant_id).await? {
        None => Ok(None),
        Some(json) => RoutingRules::parse(&json)
            .map(Some)
            .map_err(|e| StorageError::Corrupt(format!("tenant {tenant_id}: {e}"))),
    }
}

/// Checks and stores the tenant's routing rules; they apply from the next sync on.
pub async fn set_tenant_rules(
    storage: &dyn Storage,
    tenant_id: &str,
    rules: &RoutingRules,
) -> Result<(), StorageError> {
    rules
        .validate()
        .map_err(|e| StorageError::BadRequest(e.to_string()))?;
    let json = serde_json::to_string(rules)
        .map_err(|e| StorageError::Internal(format!("routing rules as JSON: {e}")))?;
    storage
        .set_routing_rules_json(tenant_id, &json, crate::storage::now_ms())
        .await
}

/// The contacts of one push that the server had never seen, with the rules to route them by.
#[derive(Debug)]
pub struct NewLeads {
    tenant_id: String,
    rules: RoutingRules,
    records: Vec<String>,
}

/// Before a push is applied: the pushed contacts the server has not stored yet, when the tenant
/// has routing rules and the device's role is not skipped. `None` when there is nothing to route.
pub async fn new_leads(
    storage: &dyn Storage,
    device: &Device,
    changes: &[PushChange],
) -> Result<Option<NewLeads>, StorageError> {
    let contacts: BTreeSet<&str> = changes
        .iter()
        .filter(|c| c.kind == "contact")
        .map(|c| c.record.as_str())
        .collect();
    if contacts.is_empty() {
        return Ok(None);
    }
    let Some(rules) = tenant_rules(storage, &device.tenant_id).await? else {
        return Ok(None);
    };
    if rules.skips_role(device.role.as_str()) {
        return Ok(None);
    }
    let mut records = Vec::new();
    for id in contacts {
        if storage.document(id).await?.is_none() {
            records.push(id.to_string());
        }
    }
    Ok((!records.is_empty()).then(|| NewLeads {
        tenant_id: device.tenant_id.clone(),
        rules,
        records,
    }))
}

/// Active contacts owned per user in the tenant, leaving out `skip` (the leads being routed:
/// they are not anyone's load yet).
async fn loads(
    storage: &dyn Storage,
    tenant_id: &str,
    skip: &[String],
) -> Result<HashMap<String, u64>, StorageError> {
    let mut out: HashMap<String, u64> = HashMap::new();
    let mut after: Option<String> = None;
    loop {
        let page = storage
            .bootstrap(
                tenant_id,
                &crate::policy::Viewer::unrestricted(),
                after.as_deref(),
                LOAD_PAGE,
            )
            .await?;
        for snap in page.docs.iter().filter(|d| d.kind == "contact") {
            if skip.contains(&snap.record) {
                continue;
            }
            let Ok(doc) = AutoCommit::load(&snap.doc) else {
                continue;
            };
            if let Some(owner) = routing::active_owner(&doc) {
                *out.entry(owner).or_default() += 1;
            }
        }
        match page.next {
            Some(next) => after = Some(next),
            None => return Ok(out),
        }
    }
}

/// After the push: routes each new lead by the first matching rule and writes the assignment
/// as the server. Returns the assignments made (leads no rule matches keep their owner).
pub async fn route_leads(
    storage: &dyn Storage,
    leads: NewLeads,
    now_ms: i64,
) -> Result<Vec<(String, Assignment)>, StorageError> {
    let NewLeads {
        tenant_id,
        rules,
        records,
    } = leads;
    let mut server: Option<Device> = None;
    let mut load: Option<HashMap<String, u64>> = None;
    let mut made: Vec<(String, Assignment)> = Vec::new();
    for id in &records {
        // Only what this push stored: a rejected creation left no document.
        let Some(stored) = storage.document(id).await? else {
            continue;
        };
        if stored.tenant_id != tenant_id {
            continue;
        }
        let Ok(doc) = AutoCommit::load(&stored.doc) else {
            continue;
        };
        if routing::is_routed(&doc) || !routing::is_active_contact(&doc) {
            continue;
        }
        let Some((index, rule, why)) = rules.matching(&Lead::of_doc(&doc)) else {
            continue;
        };
        let rule_no = u32::try_from(index)
            .map_err(|_| StorageError::Internal(format!("routing rule index {index}")))?;
        let (rep, how) = if let [only] = rule.reps.as_slice() {
            (only.clone(), String::new())
        } else {
            match rule.pick {
                Pick::RoundRobin => {
                    let turn = storage.routing_next_turn(&tenant_id, rule_no).await?;
                    let rep = routing::round_robin(&rule.reps, turn)
                        .cloned()
                        .ok_or_else(|| {
                            StorageError::Internal(format!("routing rule {}: no reps", index + 1))
                        })?;
                    let how = format!(
                        "; round robin, turn {} over {}",
                        turn + 1,
                        rule.reps.join(", ")
                    );
                    (rep, how)
                }
                Pick::LeastLoaded => {
                    if load.is_none() {
                        // The leads of this push count once assigned, also those assigned
                        // before the first least-loaded pick.
                        let mut counted = loads(storage, &tenant_id, &records).await?;
                        for (_, a) in &made {
                            *counted.entry(a.rep.clone()).or_default() += 1;
                        }
                        load = Some(counted);
                    }
                    let counts = load.get_or_insert_with(HashMap::new);
                    let count = |r: &str| counts.get(r).copied().unwrap_or(0);
                    let rep = routing::least_loaded(&rule.reps, count)
                        .cloned()
                        .ok_or_else(|| {
                            StorageError::Internal(format!("routing rule {}: no reps", index + 1))
                        })?;
                    let how = format!(
                        "; least loaded ({})",
                        rule.reps
                            .iter()
                            .map(|r| format!("{r} {}", count(r)))
                            .collect::<Vec<_>>()
                            .join(", ")
                    );
                    (rep, how)
                }
            }
        };
        let label = rule.label(index);
        let reason = format!("rule {} ({label}): {why}{how} → {rep}", index + 1);
        let claim = RoutingClaim {
            tenant_id: tenant_id.clone(),
            record_id: id.clone(),
            rep: rep.clone(),
            reason: reason.clone(),
            at_ms: now_ms,
        };
        if !storage.routing_claim(&claim).await? {
            continue;
        }
        let assignment = Assignment {
            rep: rep.clone(),
            rule: label,
            reason,
        };
        let author_device = match &server {
            Some(d) => d.clone(),
            None => {
                let d = crate::flow::server_device(storage, &tenant_id).await?;
                server = Some(d.clone());
                d
            }
        };
        let wrote = crate::flow::author(storage, &author_device, id, "contact", |doc| {
            routing::write_assignment(doc, &assignment, now_ms)
                .map_err(|e| StorageError::Internal(e.to_string()))
        })
        .await?;
        if !wrote {
            continue;
        }
        if let Some(counts) = load.as_mut() {
            *counts.entry(rep.clone()).or_default() += 1;
        }
        let detail = serde_json::json!({
            "record": id,
            "rep": assignment.rep,
            "rule": assignment.rule,
            "reason": assignment.reason,
        });
        let e = AuditEvent::new(&tenant_id, event::LEAD_ROUTED, &detail)
            .by(outpost_core::flow::SERVER_USER, Some(&author_device.id))
            .from_remote("server");
        audit::record(storage, e).await;
        made.push((id.clone(), assignment));
    }
    Ok(made)
}
