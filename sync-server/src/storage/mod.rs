//! Server storage: one [`Storage`] trait, two implementations ([`sqlite`], [`postgres`]).
//!
//! Both keep the same tables: `tenants` (with the tenant's `log_head`), `devices`,
//! `device_actors` (an Automerge actor belongs to the device that first pushed with it),
//! `documents` (one Automerge document per record, record ids global) and `log` (each tenant's
//! change log, `seq` 1, 2, 3, ... without gaps). Appends are serialized per tenant so a reader
//! paging the log by `seq` never passes a number whose transaction commits later.
//!
//! The decisions (what a push does, what a page holds) are made once in [`plan`]; the backends
//! only read the facts it needs and write what it returns, in one transaction.

pub mod blobs;
pub mod plan;
pub mod postgres;
pub mod sqlite;

use crate::access::Viewer;
use crate::StorageError;
use async_trait::async_trait;
use outpost_core::sync::protocol::{DocSnapshot, ExperienceBatch, LogEntry, PushChange, Rejection};
use serde::{Deserialize, Serialize};
use std::path::PathBuf;
use std::sync::Arc;

/// A device user's role in their tenant: one of the defaults (see
/// [`outpost_core::access::DEFAULT_ROLES`]) or a role the tenant defined (`outpost-server role
/// set`). What a role may do is the tenant's setting, or the default permissions.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Role {
    /// A field rep: their own records and those shared with them.
    Rep,
    /// A sales manager: also their teams' records.
    Manager,
    /// A sales director: every record.
    Director,
    /// Finance: reads every record, writes amounts.
    Finance,
    /// An administrator.
    Admin,
    /// A role the tenant defined.
    Custom(String),
}

impl Role {
    /// The stored name (`rep`, `manager`, `director`, `finance`, `admin`, or the custom name).
    pub fn as_str(&self) -> &str {
        match self {
            Role::Rep => "rep",
            Role::Manager => "manager",
            Role::Director => "director",
            Role::Finance => "finance",
            Role::Admin => "admin",
            Role::Custom(name) => name,
        }
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for Role {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Role {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let name = String::deserialize(d)?;
        name.parse().map_err(serde::de::Error::custom)
    }
}

impl std::str::FromStr for Role {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s {
            "rep" => Role::Rep,
            "manager" => Role::Manager,
            "director" => Role::Director,
            "finance" => Role::Finance,
            "admin" => Role::Admin,
            other => {
                let ok = !other.is_empty()
                    && other.len() <= 40
                    && other.bytes().all(|b| {
                        b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-'
                    });
                if !ok {
                    return Err(format!(
                        "role {other:?}: must be rep, manager, director, finance, admin, or a \
                         tenant's own role of 1 to 40 characters a-z, 0-9, '_' or '-'"
                    ));
                }
                Role::Custom(other.to_string())
            }
        })
    }
}

/// A tenant: one company, with its own change log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Tenant {
    /// The tenant id (UUIDv7 string).
    pub id: String,
    /// The unique tenant name.
    pub name: String,
    /// The last sequence number of the tenant's change log (0 when empty).
    pub log_head: u64,
    /// When it was created (ms since the epoch).
    pub created_at_ms: i64,
}

/// An enrolled device.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Device {
    /// The device id (UUIDv7 string).
    pub id: String,
    /// Its tenant.
    pub tenant_id: String,
    /// The user signed in on it.
    pub user_id: String,
    /// The user's role.
    pub role: Role,
    /// When it was enrolled (ms since the epoch).
    pub created_at_ms: i64,
    /// When it was revoked, if it was.
    pub revoked_at_ms: Option<i64>,
    /// When it last synced (updated at most about once a minute when it only pulls).
    pub last_seen_at_ms: Option<i64>,
}

/// A stored record document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredDoc {
    /// The record id.
    pub record_id: String,
    /// The tenant it belongs to.
    pub tenant_id: String,
    /// The record kind.
    pub kind: String,
    /// `AutoCommit::save` bytes.
    pub doc: Vec<u8>,
    /// The log seq of the last change applied to it.
    pub updated_seq: u64,
    /// Who may see it (see [`DocMeta`]).
    pub meta: DocMeta,
}

/// What decides who may see a stored record: the record its visibility follows (`root`: a
/// contact for its visits, deals, tasks and attachments, the deal for its restricted fields'
/// documents, else itself), that root's owner, and for a restricted document its field.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DocMeta {
    /// The owner of the root record (its `owner` field, else the user who created it).
    pub owner: Option<String>,
    /// The root record's id.
    pub root: Option<String>,
    /// The restricted field a `restricted` document holds.
    pub field: Option<String>,
}

/// What a push did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PushOutcome {
    /// Changes not applied, with the reason.
    pub rejected: Vec<Rejection>,
    /// How many changes were appended to the log (retried ones are not counted).
    pub applied: u64,
    /// The tenant's log head after the push.
    pub log_head: u64,
}

/// One page of the change log, as answered by `/v1/sync`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PullPage {
    /// Entries after the cursor, the pulling actor's own left out.
    pub entries: Vec<LogEntry>,
    /// The last sequence number scanned (the request's cursor when nothing was).
    pub cursor: u64,
    /// Whether entries beyond `cursor` remain.
    pub more: bool,
}

/// One page of documents, as answered by `/v1/bootstrap`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BootstrapPage {
    /// Documents ordered by record id.
    pub docs: Vec<DocSnapshot>,
    /// The last record id of this page when more remain.
    pub next: Option<String>,
    /// The tenant's log head read before the documents: they include at least up to it.
    pub cursor: u64,
}

/// What one Automerge sync message did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AutomergeReply {
    /// The reply message, or `None` when the peer is up to date.
    pub reply: Option<Vec<u8>>,
    /// How many changes the message brought that were appended to the log.
    pub applied: u64,
}

/// Where the server keeps its data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StorageConfig {
    /// Embedded SQLite in this directory (`outpost-server.db`).
    Sqlite(PathBuf),
    /// PostgreSQL at this URL (`postgres://user@host:port/db`).
    Postgres(String),
}

/// Opens (and migrates) the configured storage.
pub async fn open_storage(config: &StorageConfig) -> Result<Arc<dyn Storage>, StorageError> {
    Ok(match config {
        StorageConfig::Sqlite(dir) => {
            let dir = dir.clone();
            let storage = tokio::task::spawn_blocking(move || sqlite::SqliteStorage::open(&dir))
                .await
                .map_err(|e| StorageError::Internal(format!("opening SQLite: {e}")))??;
            Arc::new(storage)
        }
        StorageConfig::Postgres(url) => Arc::new(postgres::PostgresStorage::connect(url).await?),
    })
}

/// Everything the server stores. Implemented by [`sqlite::SqliteStorage`] and
/// [`postgres::PostgresStorage`]; every method is one transaction (or one consistent read).
#[async_trait]
pub trait Storage:
    crate::audit::AuditLog
    + crate::routing::RoutingStore
    + crate::access::AccessStore
    + blobs::BlobStore
    + Send
    + Sync
    + 'static
{
    /// `"sqlite"` or `"postgres"`.
    fn backend(&self) -> &'static str;

    /// Runs a trivial query (for `/healthz`).
    async fn ping(&self) -> Result<(), StorageError>;

    /// Creates a tenant; [`StorageError::Conflict`] if the name is taken.
    async fn create_tenant(&self, name: &str) -> Result<Tenant, StorageError>;

    /// Finds a tenant by id, or else by name.
    async fn tenant(&self, id_or_name: &str) -> Result<Option<Tenant>, StorageError>;

    /// Enrolls a device whose token hashes to `token_hash` (see [`crate::token`]).
    async fn enroll_device(
        &self,
        tenant_id: &str,
        user_id: &str,
        role: Role,
        token_hash: &str,
    ) -> Result<Device, StorageError>;

    /// Revokes a device (idempotent: the first revocation time is kept).
    async fn revoke_device(&self, device_id: &str) -> Result<Device, StorageError>;

    /// The devices of a tenant, oldest first.
    async fn list_devices(&self, tenant_id: &str) -> Result<Vec<Device>, StorageError>;

    /// The device holding this token hash, revoked or not.
    async fn device_by_token_hash(&self, token_hash: &str) -> Result<Option<Device>, StorageError>;

    /// Records that the device was seen at `now_ms`.
    async fn touch_device(&self, device_id: &str, now_ms: i64) -> Result<(), StorageError>;

    /// Devices not revoked and seen since `since_ms`.
    async fn active_devices(&self, since_ms: i64) -> Result<u64, StorageError>;

    /// Applies pushed changes for `device` whose store's actor is `actor`, in one transaction
    /// serialized per tenant: accepted changes get the next log seqs and update their
    /// documents; per-change rejections are returned; a whole-request error
    /// ([`StorageError::BadRequest`], [`StorageError::Forbidden`]) stores nothing.
    /// Also updates the device's `last_seen_at`. A change `viewer` may not make is rejected
    /// ([`crate::access::Viewer::check_write`]); the others flow on.
    async fn push(
        &self,
        device: &Device,
        viewer: &Viewer,
        actor: &[u8],
        changes: &[PushChange],
    ) -> Result<PushOutcome, StorageError>;

    /// Up to `limit` log rows of the tenant after `cursor`, leaving out (but scanning past) the
    /// rows written by `actor` and those of records `viewer` may not read.
    async fn pull(
        &self,
        tenant_id: &str,
        viewer: &Viewer,
        actor: &[u8],
        cursor: u64,
        limit: u32,
    ) -> Result<PullPage, StorageError>;

    /// Up to `limit` documents of the tenant with record ids after `after`, leaving out (but
    /// paging past) those `viewer` may not read.
    async fn bootstrap(
        &self,
        tenant_id: &str,
        viewer: &Viewer,
        after: Option<&str>,
        limit: u32,
    ) -> Result<BootstrapPage, StorageError>;

    /// A stored document, whatever its tenant.
    async fn document(&self, record_id: &str) -> Result<Option<StoredDoc>, StorageError>;

    /// Handles one standard Automerge sync message from `device` for `record_id`: validates
    /// and appends the changes it brings (all or nothing: [`StorageError::Rejected`] if one is
    /// not accepted), and returns the reply. [`StorageError::NotFound`] for an unknown record,
    /// [`StorageError::Forbidden`] for another tenant's.
    async fn automerge_sync(
        &self,
        device: &Device,
        viewer: &Viewer,
        record_id: &str,
        message: &[u8],
    ) -> Result<AutomergeReply, StorageError>;

    /// Stores a device's experience events (one per device and event number: a resent event
    /// is ignored) and replaces its created/synced totals, in one transaction; drops the
    /// device's events that arrived more than [`crate::reports::KEEP_MS`] before `now_ms`.
    /// The batch is checked first ([`crate::reports::check_batch`]).
    async fn put_experience(
        &self,
        device: &Device,
        batch: &ExperienceBatch,
        now_ms: i64,
    ) -> Result<crate::reports::ExperienceStored, StorageError>;

    /// Everything a tenant's devices sent, for [`crate::reports::health_report`].
    async fn experience(
        &self,
        tenant_id: &str,
    ) -> Result<crate::reports::ExperienceData, StorageError>;
}

/// A blocking task that did not finish: a panic is raised again in the request (which then
/// fails like any panic, answered 500), a cancellation is an internal error.
pub(crate) fn task_failed(e: tokio::task::JoinError) -> StorageError {
    match e.try_into_panic() {
        Ok(panic) => std::panic::resume_unwind(panic),
        Err(e) => StorageError::Internal(format!("storage task failed: {e}")),
    }
}

/// Milliseconds since the epoch.
pub(crate) fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// A new UUIDv7 string id.
pub(crate) fn new_id() -> String {
    uuid::Uuid::now_v7().to_string()
}

/// A stored non-negative integer as u64 (negative values are corrupt).
pub(crate) fn to_u64(v: i64, what: &str) -> Result<u64, StorageError> {
    u64::try_from(v).map_err(|_| StorageError::Corrupt(format!("{what} is negative: {v}")))
}

/// A u64 as a stored i64.
pub(crate) fn to_i64(v: u64, what: &str) -> Result<i64, StorageError> {
    i64::try_from(v).map_err(|_| StorageError::BadRequest(format!("{what} is too large: {v}")))
}

/// Checks a tenant name given by an operator.
pub(crate) fn check_tenant_name(name: &str) -> Result<(), StorageError> {
    if name.trim().is_empty() || name.len() > 200 {
        return Err(StorageError::BadRequest(
            "tenant name: must be 1 to 200 characters, not only spaces".into(),
        ));
    }
    Ok(())
}

/// Checks a user id given by an operator.
pub(crate) fn check_user_id(user: &str) -> Result<(), StorageError> {
    if user.trim().is_empty() || user.len() > 200 {
        return Err(StorageError::BadRequest(
            "user: must be 1 to 200 characters, not only spaces".into(),
        ));
    }
    Ok(())
}
