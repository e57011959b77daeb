//! Where the audit trail is kept: the rows of its hash chains, how a row is chained to the one
//! before, and the [`AuditLog`] both backends implement. What is recorded, and how a chain is
//! verified, is [`crate::audit`]'s.

use crate::error::StorageError;
use crate::storage::values::now_ms;
use async_trait::async_trait;
use serde::Serialize;
use sha2::{Digest, Sha256};

/// The hash before the first row of a chain (32 zero bytes, hex).
pub const GENESIS_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// Audit event names.
pub mod event {
    /// A push whose changes were accepted (`detail.changes`: record ids and change hashes).
    pub const SYNC_PUSH: &str = "sync.push";
    /// A change that marks a record invalid (soft delete).
    pub const RECORD_INVALIDATE: &str = "record.invalidate";
    /// A change that merges a record into another.
    pub const RECORD_MERGE: &str = "record.merge";
    /// Changes accepted through the standard Automerge sync route (`detail.record`).
    pub const SYNC_AUTOMERGE: &str = "sync.automerge";
    /// A revoked device pushed changes: they were not applied; the body's sha256 and size and
    /// each change's record, kind, hash and size are kept here for a manager to review.
    pub const SYNC_QUARANTINED: &str = "sync.quarantined";
    /// A device downloaded the tenant's documents (`/v1/bootstrap`, first page).
    pub const SYNC_BOOTSTRAP: &str = "sync.bootstrap";
    /// A request with an unknown or missing token.
    pub const AUTH_FAILED: &str = "auth.failed";
    /// A request from a revoked device.
    pub const AUTH_REVOKED: &str = "auth.revoked";
    /// A device was enrolled.
    pub const DEVICE_ENROLL: &str = "device.enroll";
    /// A device was revoked.
    pub const DEVICE_REVOKE: &str = "device.revoke";
    /// An operator invited a user to enrol a device with a one-time code.
    pub const DEVICE_INVITE: &str = "device.invite";
    /// A device got a new token (`device rotate`); the old one stopped.
    pub const DEVICE_ROTATE: &str = "device.rotate";
    /// A user was disabled (all their devices revoked).
    pub const USER_DISABLE: &str = "user.disable";
    /// A disabled user was enabled again.
    pub const USER_ENABLE: &str = "user.enable";
    /// The audit trail was exported by an operator.
    pub const AUDIT_EXPORT: &str = "audit.export";
    /// The store was restored from a backup and the log's identity renewed (no tenant).
    pub const SERVER_RESTORE: &str = "server.restore";
    /// An operator set a tenant's flow settings (`detail.changed`: whether they differed).
    pub const FLOW_SET: &str = "flow.set";
    /// An operator set or reset a role's permissions.
    pub const ACCESS_ROLE: &str = "access.role";
    /// An operator changed a team (created, deleted, manager, member).
    pub const ACCESS_TEAM: &str = "access.team";
    /// An operator shared a record with a user, or stopped.
    pub const ACCESS_SHARE: &str = "access.share";
    /// An operator set the tenant's sharing model.
    pub const ACCESS_SHARING: &str = "access.sharing";
    /// An operator set (or cleared) the tenant's device lease.
    pub const TENANT_LEASE: &str = "tenant.lease";
    /// An operator gave a record to another owner.
    pub const RECORD_ASSIGN: &str = "record.assign";
}

/// Something to write to the audit trail.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AuditEvent {
    /// The tenant (`""` for server-wide events).
    pub tenant_id: String,
    /// When (ms since the epoch).
    pub at_ms: i64,
    /// What happened (see [`event`]).
    pub event: String,
    /// The user concerned, when known.
    pub user_id: Option<String>,
    /// The device concerned, when known.
    pub device_id: Option<String>,
    /// The remote address of the request (`operator` for operator commands).
    pub remote: Option<String>,
    /// Details as compact JSON text (object keys sorted).
    pub detail: String,
}

impl AuditEvent {
    /// An event now, with `detail` rendered as compact JSON.
    pub fn new(tenant_id: &str, event: &str, detail: &serde_json::Value) -> AuditEvent {
        AuditEvent {
            tenant_id: tenant_id.to_string(),
            at_ms: now_ms(),
            event: event.to_string(),
            user_id: None,
            device_id: None,
            remote: remote_address(),
            detail: detail.to_string(),
        }
    }

    /// Sets the user and device.
    pub fn by(mut self, user_id: &str, device_id: Option<&str>) -> AuditEvent {
        self.user_id = Some(user_id.to_string());
        self.device_id = device_id.map(str::to_string);
        self
    }

    /// Sets the remote address.
    pub fn from_remote(mut self, remote: &str) -> AuditEvent {
        self.remote = Some(remote.to_string());
        self
    }
}

/// One stored row of the audit trail.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AuditRow {
    /// Position in its tenant's chain, from 1.
    pub seq: u64,
    /// What was recorded.
    #[serde(flatten)]
    pub event: AuditEvent,
    /// The previous row's hash ([`GENESIS_HASH`] for the first).
    pub prev_hash: String,
    /// `sha256(prev_hash || canonical(row))`, hex.
    pub hash: String,
}

/// The last row of a tenant's chain, as the head table says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AuditHead {
    /// The tenant (`""` for server-wide events).
    pub tenant_id: String,
    /// The last seq.
    pub seq: u64,
    /// The last row's hash.
    pub hash: String,
}

/// The canonical bytes of a row, as hashed.
fn canonical(seq: u64, e: &AuditEvent) -> Vec<u8> {
    serde_json::json!([
        seq,
        e.tenant_id,
        e.at_ms,
        e.event,
        e.user_id,
        e.device_id,
        e.remote,
        e.detail
    ])
    .to_string()
    .into_bytes()
}

/// The hash of row `seq` holding `event` after a row hashed `prev_hash` (hex).
pub fn chain_hash(prev_hash: &str, seq: u64, event: &AuditEvent) -> String {
    let mut hasher = Sha256::new();
    match hex::decode(prev_hash) {
        Ok(prev) => hasher.update(prev),
        // A stored previous hash that is not hex cannot be the real one: hash its text, which
        // never matches, and let verify report the row.
        Err(_) => hasher.update(prev_hash.as_bytes()),
    }
    hasher.update(canonical(seq, event));
    hex::encode(hasher.finalize())
}

/// Builds the row that follows `head` (or starts the chain).
pub fn next_row(head: Option<(u64, String)>, event: AuditEvent) -> AuditRow {
    let (seq, prev_hash) = match head {
        Some((seq, hash)) => (seq + 1, hash),
        None => (1, GENESIS_HASH.to_string()),
    };
    let hash = chain_hash(&prev_hash, seq, &event);
    AuditRow {
        seq,
        event,
        prev_hash,
        hash,
    }
}

/// The audit trail's storage; both backends implement it.
#[async_trait]
pub trait AuditLog: Send + Sync {
    /// Appends `event` to its tenant's chain in one transaction (serialized per tenant) and
    /// returns the stored row.
    async fn audit_append(&self, event: AuditEvent) -> Result<AuditRow, StorageError>;

    /// Up to `limit` rows of `tenant_id`'s chain with `seq > after`, in order.
    async fn audit_page(
        &self,
        tenant_id: &str,
        after: u64,
        limit: u32,
    ) -> Result<Vec<AuditRow>, StorageError>;

    /// The head of every chain, by tenant id.
    async fn audit_heads(&self) -> Result<Vec<AuditHead>, StorageError>;

    /// Every tenant with rows in the log, by id (a chain whose head was deleted included).
    async fn audit_tenants(&self) -> Result<Vec<String>, StorageError>;
}

tokio::task_local! {
    /// The remote address of the request being served (set by the HTTP layer).
    static REMOTE: String;
}

/// Runs `f` with `remote` as the request's remote address for the audit trail.
pub async fn with_remote<F: std::future::Future>(remote: String, f: F) -> F::Output {
    REMOTE.scope(remote, f).await
}

/// The remote address of the request being served, if any.
pub fn remote_address() -> Option<String> {
    REMOTE.try_with(Clone::clone).ok()
}
