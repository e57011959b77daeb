//! Field workflows on the server: the tenant's flow settings (a server-authored `config` record
//! every device pulls) and the re-check of visit verdicts at sync (a server-authored change to
//! the visit, which supersedes the device's verdict everywhere).
//!
//! The server writes as one internal device per tenant (user `outpost-server`, role admin,
//! enrolled on first use with a token nobody is given): its changes go through the same push
//! path, log and validation as any device's, so every device converges to them. Its enrolment
//! and its pushes are in the audit trail like any device's.

use crate::audit::{self, event, AuditEvent};
use crate::error::StorageError;
use crate::storage::{Device, Role, Storage};
use automerge::AutoCommit;
use outpost_core::flow::{self, FlowConfig, SERVER_USER};
use outpost_core::sync::protocol::PushChange;

/// The tenant's internal server device, enrolled on first use.
pub async fn server_device(storage: &dyn Storage, tenant_id: &str) -> Result<Device, StorageError> {
    if let Some(d) = storage
        .list_devices(tenant_id)
        .await?
        .into_iter()
        .find(|d| d.user_id == SERVER_USER && d.revoked_at_ms.is_none())
    {
        return Ok(d);
    }
    // A token nobody is given: the internal device never syncs over HTTP.
    let (_token, hash) = crate::token::new_token()?;
    let device = storage
        .enroll_device(tenant_id, SERVER_USER, Role::Admin, &hash)
        .await?;
    audit::record(
        storage,
        AuditEvent::new(
            tenant_id,
            event::DEVICE_ENROLL,
            &serde_json::json!({ "internal": true }),
        )
        .by(SERVER_USER, Some(&device.id))
        .from_remote("server"),
    )
    .await;
    Ok(device)
}

/// The Automerge actor of a device: its UUID's 16 bytes, as the device stores use.
fn actor_of(device: &Device) -> Result<Vec<u8>, StorageError> {
    uuid::Uuid::parse_str(&device.id)
        .map(|u| u.as_bytes().to_vec())
        .map_err(|e| StorageError::Internal(format!("server device id {}: {e}", device.id)))
}

/// Loads a record's stored document (or a new one) with the server device as its actor, lets
/// `f` change and commit it, and pushes the change as the server. Returns whether it wrote.
pub(crate) async fn author(
    storage: &dyn Storage,
    device: &Device,
    record_id: &str,
    kind: &str,
    f: impl FnOnce(&mut AutoCommit) -> Result<Option<Vec<u8>>, StorageError>,
) -> Result<bool, StorageError> {
    let actor = actor_of(device)?;
    let mut doc = match storage.document(record_id).await? {
        Some(stored) if stored.tenant_id != device.tenant_id => {
            return Err(StorageError::Forbidden(format!(
                "record {record_id} belongs to another tenant"
            )))
        }
        Some(stored) => AutoCommit::load(&stored.doc)
            .map_err(|e| StorageError::Corrupt(format!("record {record_id}: {e}")))?,
        None => AutoCommit::new(),
    }
    .with_actor(automerge::ActorId::from(actor.as_slice()));
    let Some(change) = f(&mut doc)? else {
        return Ok(false);
    };
    let changes = [PushChange {
        record: record_id.to_string(),
        kind: kind.to_string(),
        change,
    }];
    let outcome = storage
        .push(
            device,
            &crate::policy::Viewer::unrestricted(),
            &actor,
            &changes,
        )
        .await?;
    audit::record_push(
        storage,
        device,
        &changes,
        &outcome.rejected,
        outcome.applied,
    )
    .await;
    if let Some(r) = outcome.rejected.first() {
        return Err(StorageError::BadRequest(format!(
            "record {record_id}: the server's own change was refused: {}",
            r.reason
        )));
    }
    Ok(true)
}

/// The tenant's flow settings (defaults until an operator sets them).
pub async fn tenant_flow(
    storage: &dyn Storage,
    tenant_id: &str,
) -> Result<FlowConfig, StorageError> {
    let stored = storage
        .document(&flow::config_record_id(tenant_id))
        .await?
        .filter(|d| d.tenant_id == tenant_id);
    Ok(crate::policy::flow_of(stored.as_ref()))
}

/// Sets the tenant's flow settings; every device receives them at its next sync.
pub async fn set_tenant_flow(
    storage: &dyn Storage,
    tenant_id: &str,
    config: &FlowConfig,
) -> Result<bool, StorageError> {
    let device = server_device(storage, tenant_id).await?;
    let now = crate::storage::now_ms();
    author(
        storage,
        &device,
        &flow::config_record_id(tenant_id),
        "config",
        |doc| {
            flow::write_config_doc(doc, tenant_id, config, now)
                .map_err(|e| StorageError::BadRequest(e.to_string()))
        },
    )
    .await
}

/// After a device's push: re-checks every visit it touched against the customer's location as
/// the server knows it, the tenant's settings and the server's clock, and writes the server's
/// verdict where it differs from the stored one. Returns how many verdicts it changed.
pub async fn recheck_visits(
    storage: &dyn Storage,
    device: &Device,
    changes: &[PushChange],
    server_now_ms: i64,
) -> Result<u64, StorageError> {
    let mut visits: Vec<&str> = changes
        .iter()
        .filter(|c| c.kind == "visit")
        .map(|c| c.record.as_str())
        .collect();
    visits.sort_unstable();
    visits.dedup();
    if visits.is_empty() {
        return Ok(0);
    }
    let config = tenant_flow(storage, &device.tenant_id).await?;
    let mut server: Option<Device> = None;
    let mut changed = 0;
    for id in visits {
        let Some(stored) = storage.document(id).await? else {
            continue;
        };
        if stored.tenant_id != device.tenant_id {
            continue;
        }
        let Ok(visit) = AutoCommit::load(&stored.doc) else {
            continue;
        };
        let contact = match flow::visit_contact_id(&visit) {
            Some(cid) => storage
                .document(&cid)
                .await?
                .filter(|d| d.tenant_id == device.tenant_id)
                .and_then(|d| AutoCommit::load(&d.doc).ok()),
            None => None,
        };
        let Some(check) = flow::recheck_visit(&visit, contact.as_ref(), &config, server_now_ms)
        else {
            continue;
        };
        let author_device = match &server {
            Some(d) => d.clone(),
            None => {
                let d = server_device(storage, &device.tenant_id).await?;
                server = Some(d.clone());
                d
            }
        };
        let now = crate::storage::now_ms();
        if author(storage, &author_device, id, "visit", |doc| {
            flow::write_server_check(doc, &check, now)
                .map_err(|e| StorageError::Internal(e.to_string()))
        })
        .await?
        {
            changed += 1;
        }
    }
    Ok(changed)
}
