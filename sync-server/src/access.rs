//! Who sees and writes what: roles, teams, shares and the tenant's sharing model, decided here
//! for both backends (see `docs/security.md`, "Roles, teams and scoped sync").
//!
//! - A **role** is a set of permissions ([`outpost_core::access`]); the five defaults apply
//!   until an operator changes them (`outpost-server role set`), and a tenant may add its own.
//! - A **team** has members and a manager; a role with `scope:team` sees the records owned by
//!   the members of the teams its user manages.
//! - A record's visibility follows its **root** (a contact for its visits, deals, tasks and
//!   attachments; the deal for its restricted fields) and the root's **owner**: its `owner`
//!   field, else the user who created it. A record can be **shared** with a user.
//! - A tenant's **sharing** is `private` (the default for new tenants: the rules above) or
//!   `open` (every user reads every record, as before scoped sync; restricted fields and write
//!   permissions still apply). Tenants created before scoped sync were migrated as `open`.
//! - Every change to any of this moves the tenant's **scope epoch**; a device that sees a new
//!   epoch lists its scope and purges what it may no longer read.

use crate::error::StorageError;
pub use crate::policy::{Viewer, WriteFacts};
use crate::rows::Role;
pub use crate::rows::{AccessConfig, Sharing, Team};
pub use crate::storage::access::{AccessStore, MIGRATION};
use crate::storage::Storage;
use crate::token::new_token;
use outpost_core::access::Permissions;
use serde::Serialize;

/// A freshly enrolled device and its token (the only time the token is visible).
#[derive(Debug, Clone, Serialize)]
pub struct Enrollment {
    /// The new device's id.
    pub device_id: String,
    /// The bearer token the device authenticates with.
    pub token: String,
}

/// Refuses a role the tenant does not have (the defaults, or one defined with `role set`).
pub async fn require_role(
    storage: &dyn Storage,
    tenant_id: &str,
    role: &Role,
) -> Result<(), StorageError> {
    if storage
        .access_config(tenant_id)
        .await?
        .has_role(role.as_str())
    {
        Ok(())
    } else {
        Err(StorageError::BadRequest(format!(
            "role {role}: the tenant has no such role (define it with `role set`)"
        )))
    }
}

/// Enrolls a device for `user_id` in tenant `tenant_id` and returns its one-time token; a
/// disabled user is refused, and so is the name the server writes its own changes as.
pub async fn enroll_device(
    storage: &dyn Storage,
    tenant_id: &str,
    user_id: &str,
    role: Role,
) -> Result<Enrollment, StorageError> {
    if user_id.trim() == outpost_core::flow::SERVER_USER {
        return Err(StorageError::BadRequest(format!(
            "user {user_id}: the name is the server's own (its settings, verdicts and routing)"
        )));
    }
    if storage.user_disabled(tenant_id, user_id).await? {
        return Err(StorageError::Forbidden(format!(
            "user {user_id} is disabled: `outpost-server user enable {user_id}` before enrolling a device"
        )));
    }
    require_role(storage, tenant_id, &role).await?;
    let (token, hash) = new_token()?;
    let device = storage
        .enroll_device(tenant_id, user_id, role, &hash)
        .await?;
    Ok(Enrollment {
        device_id: device.id,
        token,
    })
}

/// The viewer for a device, read from storage.
pub async fn viewer_of(
    storage: &dyn crate::storage::Storage,
    device: &crate::storage::Device,
) -> Result<Viewer, StorageError> {
    let config = storage.access_config(&device.tenant_id).await?;
    let shared = storage
        .shares_of(&device.tenant_id, &device.user_id)
        .await?;
    Ok(Viewer::new(&config, &device.user_id, &device.role, shared))
}

/// Gives contact `record` of the tenant to `owner`, as the server's own change (in the
/// contact's history); its visits, deals, tasks and attachments follow. Returns whether the
/// owner changed. Devices reconcile their scope at their next sync.
pub async fn assign(
    storage: &dyn crate::storage::Storage,
    tenant_id: &str,
    record: &str,
    owner: &str,
) -> Result<bool, StorageError> {
    crate::storage::plan::check_record_id(record)?;
    crate::storage::check_user_id(owner)?;
    let stored = storage
        .document(record)
        .await?
        .filter(|d| d.tenant_id == tenant_id)
        .ok_or_else(|| StorageError::NotFound(format!("record {record}")))?;
    if stored.kind != "contact" {
        return Err(StorageError::BadRequest(format!(
            "record {record} is a {}: assign its contact instead",
            stored.kind
        )));
    }
    if stored.meta.owner.as_deref() == Some(owner) {
        return Ok(false);
    }
    let device = crate::flow::server_device(storage, tenant_id).await?;
    let owner_value = owner.to_string();
    crate::flow::author(storage, &device, record, "contact", move |doc| {
        use automerge::transaction::Transactable;
        doc.put(automerge::ROOT, "owner", owner_value.as_str())
            .map_err(|e| StorageError::Internal(format!("writing owner: {e}")))?;
        doc.commit_with(
            automerge::transaction::CommitOptions::default()
                .with_message(format!("assign: owner → {owner_value}")),
        );
        Ok(doc.get_last_local_change().map(|c| c.raw_bytes().to_vec()))
    })
    .await?;
    let detail = serde_json::json!({ "record": record, "owner": owner });
    let e = crate::audit::AuditEvent::new(tenant_id, crate::audit::event::RECORD_ASSIGN, &detail)
        .from_remote("operator");
    storage.audit_append(e).await?;
    Ok(true)
}

/// Checks a role name and permission list given by an operator.
pub fn check_role(role: &str, permissions: &[String]) -> Result<Vec<String>, StorageError> {
    role.parse::<Role>().map_err(StorageError::BadRequest)?;
    let parsed = Permissions::parse(permissions)
        .map_err(|e| StorageError::BadRequest(format!("role {role}: {e}")))?;
    Ok(parsed.names())
}

/// Checks a team name given by an operator.
pub fn check_team_name(name: &str) -> Result<(), StorageError> {
    if name.trim().is_empty() || name.chars().count() > 100 {
        return Err(StorageError::BadRequest(
            "team: must be 1 to 100 characters, not only spaces".into(),
        ));
    }
    Ok(())
}
