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

pub mod access;
pub mod audit;
pub mod blobs;
pub mod enrol;
pub mod open;
pub mod plan;
pub mod postgres;
pub mod reports;
pub mod routing;
pub mod sqlite;
pub mod values;

pub use crate::rows::{Device, DocMeta, Role, StoredDoc, Tenant};
pub use open::{open_storage, open_storage_with, StorageConfig, StorageOptions};
pub(crate) use values::{
    check_tenant_name, check_user_id, new_id, new_log_id, now_ms, task_failed, to_i64, to_u64,
};

use crate::error::StorageError;
use crate::policy::Viewer;
use async_trait::async_trait;
use outpost_core::sync::protocol::{DocSnapshot, ExperienceBatch, LogEntry, PushChange, Rejection};
use reports::{ExperienceData, ExperienceStored};

/// Appended to both backends' migrations: a deal's evidence (the attachments and visits of
/// its contact) is read by the documents' root (see [`crate::policy`]).
pub const EVIDENCE_MIGRATION: &str = r#"
CREATE INDEX documents_root ON documents (tenant_id, root, kind);
"#;

/// Each document's summary (`outpost_core::sync::summary`), written with the document by every
/// push. A write that replaces a document without its summary clears the summary, so that a
/// device never stores rows that disagree with the document it got; documents written before
/// this migration have none until their next write, and devices load them.
pub const SQLITE_SUMMARY_MIGRATION: &str = r#"
ALTER TABLE documents ADD COLUMN summary BLOB;
CREATE TRIGGER documents_summary_follows_doc AFTER UPDATE OF doc ON documents
WHEN NEW.summary IS NOT NULL AND NEW.summary IS OLD.summary AND NEW.doc IS NOT OLD.doc
BEGIN
    UPDATE documents SET summary = NULL WHERE record_id = NEW.record_id;
END;
"#;

/// [`SQLITE_SUMMARY_MIGRATION`] for PostgreSQL.
pub const POSTGRES_SUMMARY_MIGRATION: &str = r#"
ALTER TABLE documents ADD COLUMN summary BYTEA;
CREATE FUNCTION outpost_documents_summary_follows_doc() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.doc IS DISTINCT FROM OLD.doc AND NEW.summary IS NOT DISTINCT FROM OLD.summary THEN
        NEW.summary := NULL;
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER documents_summary_follows_doc BEFORE UPDATE OF doc ON documents
    FOR EACH ROW EXECUTE FUNCTION outpost_documents_summary_follows_doc();
"#;

/// What a push did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PushOutcome {
    /// Changes not applied, with the reason.
    pub rejected: Vec<Rejection>,
    /// How many changes were appended to the log (retried ones are not counted).
    pub applied: u64,
    /// Hashes of the rejected changes that only lack changes the server does not have (they
    /// may apply later, see `SyncResponse::deferred`).
    pub deferred: Vec<Vec<u8>>,
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

/// Everything the server stores. Implemented by [`sqlite::SqliteStorage`] and
/// [`postgres::PostgresStorage`]; every method is one transaction (or one consistent read).
#[async_trait]
pub trait Storage:
    audit::AuditLog
    + routing::RoutingStore
    + access::AccessStore
    + blobs::BlobStore
    + enrol::EnrolStore
    + Send
    + Sync
    + 'static
{
    /// `"sqlite"` or `"postgres"`.
    fn backend(&self) -> &'static str;

    /// Runs a trivial query (for `/healthz`).
    async fn ping(&self) -> Result<(), StorageError>;

    /// The identity of the server's log: made with the store, renewed by
    /// [`Storage::renew_log_id`]. Every sync answer carries it, so that a device notices when
    /// the log it counted its cursor in was replaced (a restore).
    async fn log_id(&self) -> Result<String, StorageError>;

    /// Gives the log a new identity, after the store was restored from a backup: every device
    /// then sends again what it made and downloads anew. Returns the new identity.
    async fn renew_log_id(&self) -> Result<String, StorageError>;

    /// Creates a tenant; [`StorageError::Conflict`] if the name is taken.
    async fn create_tenant(&self, name: &str) -> Result<Tenant, StorageError>;

    /// Finds a tenant by id, or else by name.
    async fn tenant(&self, id_or_name: &str) -> Result<Option<Tenant>, StorageError>;

    /// Enrolls a device whose token hashes to `token_hash` (see `token::hash_token`).
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
    /// ([`crate::policy::check_write`]); the others flow on.
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
    /// device's events that arrived more than [`reports::KEEP_MS`] before `now_ms`.
    /// The batch is checked first ([`reports::check_batch`]).
    async fn put_experience(
        &self,
        device: &Device,
        batch: &ExperienceBatch,
        now_ms: i64,
    ) -> Result<ExperienceStored, StorageError>;

    /// Everything a tenant's devices sent, for the health report.
    async fn experience(&self, tenant_id: &str) -> Result<ExperienceData, StorageError>;
}
