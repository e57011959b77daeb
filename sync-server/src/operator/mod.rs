//! The operator's commands (`outpost-server role|team|share|record|audit|user|routing ...`)
//! and what they share: finding a tenant, printing JSON, auditing what the operator did.

pub mod access;
pub mod backup;
pub mod config;
pub mod enrol;
pub mod routing;
pub mod security;

use anyhow::anyhow;
use outpost_server::{AuditEvent, Storage};

/// The id of a tenant given by id or name.
pub async fn resolve_tenant(storage: &dyn Storage, tenant: &str) -> anyhow::Result<String> {
    Ok(storage
        .tenant(tenant)
        .await?
        .ok_or_else(|| anyhow!("tenant {tenant:?} not found (give its id or name)"))?
        .id)
}

/// A time as RFC 3339 (ms, UTC).
pub fn rfc3339(ms: Option<i64>) -> Option<String> {
    ms.and_then(chrono::DateTime::from_timestamp_millis)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
}

/// Appends an operator's event to the tenant's audit trail.
pub async fn audit(
    storage: &dyn Storage,
    tenant: &str,
    event: &str,
    detail: serde_json::Value,
) -> anyhow::Result<()> {
    storage
        .audit_append(AuditEvent::new(tenant, event, &detail).from_remote("operator"))
        .await?;
    Ok(())
}

/// Prints one JSON value on a line.
pub fn print_json(value: &serde_json::Value) -> anyhow::Result<()> {
    println!("{}", serde_json::to_string(value)?);
    Ok(())
}
