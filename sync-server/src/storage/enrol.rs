//! Where enrolment is kept: one-time codes an operator hands out (only their hash is stored),
//! token rotation, and what each device reports at sync (app version, outbox length); the
//! [`EnrolStore`] both backends implement. The rules (code format, expiry, audit) are
//! [`crate::enrol`]'s.

use crate::error::StorageError;
use crate::rows::{Device, Role, Tenant};
use async_trait::async_trait;
use serde::Serialize;

/// An invitation to enrol one device, as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invite {
    /// SHA-256 (hex) of the normalized code; the code itself is never stored.
    pub code_hash: String,
    /// The tenant the device joins.
    pub tenant_id: String,
    /// The user signed in on it.
    pub user_id: String,
    /// The user's role.
    pub role: Role,
    /// When it was made (ms since the epoch).
    pub created_at_ms: i64,
    /// When it stops working (ms since the epoch).
    pub expires_at_ms: i64,
}

/// Why a code did not enrol a device.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// No such code.
    Unknown,
    /// It enrolled a device already.
    Used,
    /// Its time ran out.
    Expired,
}

/// What a device said about itself at its last sync.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct DeviceReport {
    /// The app's version.
    pub app_version: Option<String>,
    /// Local changes it still had to send after that sync's first request.
    pub outbox: Option<u64>,
    /// When it reported (server clock, ms since the epoch).
    pub synced_at_ms: i64,
}

/// What the server stores for enrolment; part of every [`crate::storage::Storage`].
#[async_trait]
pub trait EnrolStore: Send + Sync {
    /// Stores an invitation. [`StorageError::NotFound`] for an unknown tenant.
    async fn create_invite(&self, invite: &Invite) -> Result<(), StorageError>;

    /// The invitation with this code hash, used or not, with its use time.
    async fn invite(&self, code_hash: &str) -> Result<Option<(Invite, Option<i64>)>, StorageError>;

    /// Redeems a code in one transaction: refused when unknown, used or expired at `now_ms`;
    /// else the code is marked used by a new device whose token hashes to `token_hash`.
    async fn redeem_invite(
        &self,
        code_hash: &str,
        token_hash: &str,
        now_ms: i64,
    ) -> Result<Result<Device, Refusal>, StorageError>;

    /// Gives a device a new token hash; the old token stops at once. A revoked device is
    /// [`StorageError::Conflict`], an unknown one [`StorageError::NotFound`].
    async fn rotate_token(&self, device_id: &str, token_hash: &str)
        -> Result<Device, StorageError>;

    /// Every tenant, by name.
    async fn list_tenants(&self) -> Result<Vec<Tenant>, StorageError>;

    /// Replaces what a device reported at sync; an absent app version keeps the one before.
    async fn put_device_report(
        &self,
        device_id: &str,
        report: &DeviceReport,
    ) -> Result<(), StorageError>;

    /// What each of the tenant's devices last reported, by device id.
    async fn device_reports(
        &self,
        tenant_id: &str,
    ) -> Result<Vec<(String, DeviceReport)>, StorageError>;
}
