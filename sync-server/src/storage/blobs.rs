//! Resumable, content-addressed blob uploads: the decisions both backends share.
//!
//! A blob is named by the sha256 of its bytes and belongs to a tenant. Until it is complete,
//! an upload belongs to the device sending it: each device uploads in chunks, each at the
//! offset the server has reached *for that device*, so an upload cut off by a lost signal
//! resumes where it stopped, and another device (even one that lies about the size) cannot
//! disturb it. When a device's last byte arrives the server hashes its whole upload: bytes
//! that do not hash to the name are discarded and refused; bytes that do become the tenant's
//! blob (kept once), and the device's user is recorded as holding the file. An incomplete
//! upload is discarded [`crate::options::ServerOptions::upload_expiry`] after its last chunk.
//!
//! Who may read a file: a user who uploaded it whole, or who may read an attachment that names
//! it and was *vouched*: written by a user who could read the file at that moment (see
//! [`vouched`]). To anyone else it does not exist (404, also for its status).

use crate::error::StorageError;
use crate::policy::Viewer;
use crate::rows::{Device, DocMeta};
use async_trait::async_trait;
use outpost_core::record::attachment::{is_sha256_hex, MAX_BLOB_BYTES};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// The most bytes of unfinished uploads one device may hold at once (four largest files).
pub const MAX_UNFINISHED_BYTES_PER_DEVICE: u64 = 4 * MAX_BLOB_BYTES as u64;

/// How much of a blob the server holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlobStatus {
    /// The blob's full size in bytes.
    pub size: u64,
    /// Bytes received so far (the offset of the next chunk).
    pub received: u64,
    /// Whether all bytes arrived and hash to the blob's name.
    pub complete: bool,
}

/// One device's unfinished upload of a blob, as stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Upload {
    /// The size the device announced.
    pub size: u64,
    /// Bytes received.
    pub received: u64,
    /// When its last chunk arrived (ms since the epoch).
    pub updated_at_ms: i64,
}

/// One chunk a device sends.
#[derive(Debug, Clone, Copy)]
pub struct Append<'a> {
    /// The blob's name.
    pub sha256: &'a str,
    /// The size the device announces (`Upload-Length`).
    pub size: u64,
    /// Where the chunk starts (`Upload-Offset`).
    pub offset: u64,
    /// The bytes.
    pub chunk: &'a [u8],
    /// Whether the device's user may already read the tenant's complete blob (then a complete
    /// blob is answered as such; otherwise the device must upload it whole, so that a request
    /// tells nobody whether a file exists).
    pub readable: bool,
    /// Now (ms since the epoch).
    pub now_ms: i64,
    /// Unfinished uploads whose last chunk came before this (ms) are expired.
    pub expired_before_ms: i64,
}

/// What a backend must do with an incoming chunk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AppendPlan {
    /// The blob is complete and readable: store nothing, answer with its status.
    AlreadyComplete(BlobStatus),
    /// Store the chunk at the offset in the device's upload; the upload has `received` bytes
    /// afterwards, and is finished when `received == size`.
    Store {
        /// Delete the device's stored upload first (expired, or restarted with another size).
        restart: bool,
        /// Whether the upload's row must be created.
        create: bool,
        /// The new number of bytes received.
        received: u64,
    },
}

/// Checks a blob name.
pub fn check_name(sha256: &str) -> Result<(), StorageError> {
    if is_sha256_hex(sha256) {
        Ok(())
    } else {
        Err(StorageError::BadRequest(format!(
            "blob name {sha256:?}: must be the sha256 of its bytes in lower-case hex"
        )))
    }
}

/// Decides what to do with a chunk, given the tenant's complete blob (if any), the device's
/// own upload (if any), and how many bytes of unfinished uploads the device holds in all.
pub fn plan_append(
    a: &Append<'_>,
    complete: Option<BlobStatus>,
    own: Option<Upload>,
    unfinished_bytes: u64,
) -> Result<AppendPlan, StorageError> {
    let (sha256, size, offset, len) = (a.sha256, a.size, a.offset, a.chunk.len() as u64);
    check_name(sha256)?;
    if size == 0 || size > MAX_BLOB_BYTES as u64 {
        return Err(StorageError::BadRequest(format!(
            "blob {sha256}: size {size} is not between 1 and {MAX_BLOB_BYTES} bytes"
        )));
    }
    if let Some(c) = complete.filter(|c| c.complete && a.readable) {
        return Ok(AppendPlan::AlreadyComplete(c));
    }
    let stored = own.map_or(0, |u| u.received);
    let expired = own.is_some_and(|u| u.updated_at_ms < a.expired_before_ms);
    let own = own.filter(|_| !expired);
    let mut restart = expired;
    let received = match own {
        Some(u) if u.size != size => {
            if offset != 0 {
                return Err(StorageError::Conflict(format!(
                    "blob {sha256}: this device's upload was started with size {}, not {size}; \
                     restart it at offset 0",
                    u.size
                )));
            }
            restart = true;
            0
        }
        Some(u) => u.received,
        None => 0,
    };
    if offset != received {
        return Err(StorageError::Conflict(format!(
            "blob {sha256}: chunk at offset {offset}, but the server has {received} bytes of \
             this device's upload; resume at {received}"
        )));
    }
    if len == 0 {
        return Err(StorageError::BadRequest(format!(
            "blob {sha256}: empty chunk"
        )));
    }
    let end = offset.saturating_add(len);
    if end > size {
        return Err(StorageError::BadRequest(format!(
            "blob {sha256}: chunk ends at byte {end}, past the blob's size {size}"
        )));
    }
    // A restart drops what the device had stored of this upload.
    let held = unfinished_bytes.saturating_sub(if restart { stored } else { 0 });
    if held.saturating_add(len) > MAX_UNFINISHED_BYTES_PER_DEVICE {
        return Err(StorageError::BadRequest(format!(
            "blob {sha256}: this device already has {held} bytes of unfinished uploads, at most \
             {MAX_UNFINISHED_BYTES_PER_DEVICE}: finish them or let them expire"
        )));
    }
    Ok(AppendPlan::Store {
        restart,
        create: own.is_none() || restart,
        received: end,
    })
}

/// Whether an attachment written by `viewer` that names `blob` is vouched: the writer could
/// read the file when attaching it (they uploaded it whole, or may read an attachment naming
/// it that is vouched itself), or the attachment already named it vouched before this change.
pub fn vouched(
    viewer: &Viewer,
    blob: &str,
    before: Option<(Option<&str>, bool)>,
    holds: bool,
    vouched_attachments: &[(String, String, DocMeta)],
) -> bool {
    before.is_some_and(|(b, v)| v && b == Some(blob))
        || holds
        || vouched_attachments
            .iter()
            .any(|(id, kind, meta)| viewer.sees(id, kind, meta))
}

/// The blob side of storage; both backends implement it.
#[async_trait]
pub trait BlobStore: Send + Sync {
    /// The blob as `device_id` sees it: its own unfinished upload if it has one (and its last
    /// chunk came at or after `expired_before_ms`), else the tenant's complete blob (the caller
    /// decides whether the user may know of it).
    async fn blob_status(
        &self,
        tenant_id: &str,
        device_id: &str,
        sha256: &str,
        expired_before_ms: i64,
    ) -> Result<Option<BlobStatus>, StorageError>;

    /// Appends a chunk to `device`'s upload in one transaction (see [`plan_append`]); the last
    /// chunk checks the whole upload's hash, makes it the tenant's blob (kept once) and records
    /// that the device's user holds it.
    async fn blob_append(
        &self,
        device: &Device,
        append: Append<'_>,
    ) -> Result<BlobStatus, StorageError>;

    /// The bytes of the tenant's blob, when it is complete.
    async fn blob_read(
        &self,
        tenant_id: &str,
        sha256: &str,
    ) -> Result<Option<Vec<u8>>, StorageError>;

    /// Whether `user_id` uploaded the tenant's blob whole.
    async fn blob_held(
        &self,
        tenant_id: &str,
        sha256: &str,
        user_id: &str,
    ) -> Result<bool, StorageError>;

    /// The tenant's vouched attachments naming the blob, with kind and visibility.
    async fn blob_attachments(
        &self,
        tenant_id: &str,
        sha256: &str,
    ) -> Result<Vec<(String, String, DocMeta)>, StorageError>;

    /// Discards every unfinished upload whose last chunk came before `before_ms`; how many.
    async fn blob_expire(&self, before_ms: i64) -> Result<u64, StorageError>;
}

/// Whether `viewer` (a device's user) may read the tenant's complete blob: with
/// `attachment:read`, they uploaded it whole or may read a vouched attachment naming it.
pub async fn readable(
    store: &dyn BlobStore,
    tenant_id: &str,
    sha256: &str,
    viewer: &Viewer,
) -> Result<bool, StorageError> {
    if !viewer.permissions.can_read_kind("attachment") {
        return Ok(false);
    }
    if store.blob_held(tenant_id, sha256, &viewer.user).await? {
        return Ok(true);
    }
    Ok(store
        .blob_attachments(tenant_id, sha256)
        .await?
        .iter()
        .any(|(id, kind, meta)| viewer.sees(id, kind, meta)))
}

/// Appended to the backends' migrations: uploads keyed per device, who holds which file, and
/// whether an attachment is vouched. Unfinished uploads stored before are dropped (their
/// devices start them again); an attachment stored before is vouched when its record's first
/// writer also wrote the first attachment naming that file (the uploader: devices upload a file
/// and then attach it). SQLite's version.
pub(crate) const SQLITE_MIGRATION: &str = r#"
CREATE TABLE blob_uploads (
    tenant_id TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    device_id TEXT NOT NULL,
    size BIGINT NOT NULL,
    received BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, sha256, device_id)
);
CREATE INDEX blob_uploads_updated ON blob_uploads (updated_at);
CREATE INDEX blob_uploads_device ON blob_uploads (device_id);
CREATE TABLE blob_upload_chunks (
    tenant_id TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    device_id TEXT NOT NULL,
    pos BIGINT NOT NULL,
    data BLOB NOT NULL,
    PRIMARY KEY (tenant_id, sha256, device_id, pos)
);
CREATE TABLE blob_holders (
    tenant_id TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    user_id TEXT NOT NULL,
    at_ms BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, sha256, user_id)
);
DELETE FROM blob_chunks WHERE (tenant_id, sha256) IN
    (SELECT tenant_id, sha256 FROM blobs WHERE NOT complete);
DELETE FROM blobs WHERE NOT complete;
ALTER TABLE documents ADD COLUMN blob_vouched BOOLEAN NOT NULL DEFAULT FALSE;
UPDATE documents SET blob_vouched = TRUE
WHERE kind = 'attachment' AND blob IS NOT NULL
  AND (SELECT l.user_id FROM log l
       WHERE l.tenant_id = documents.tenant_id AND l.record_id = documents.record_id
       ORDER BY l.seq LIMIT 1)
    = (SELECT l.user_id FROM log l JOIN documents a ON a.record_id = l.record_id
       WHERE a.tenant_id = documents.tenant_id AND a.blob = documents.blob
         AND l.tenant_id = documents.tenant_id
       ORDER BY l.seq LIMIT 1);
"#;

/// PostgreSQL's version of [`SQLITE_MIGRATION`].
pub(crate) const POSTGRES_MIGRATION: &str = r#"
CREATE TABLE blob_uploads (
    tenant_id TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    device_id TEXT NOT NULL,
    size BIGINT NOT NULL,
    received BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, sha256, device_id)
);
CREATE INDEX blob_uploads_updated ON blob_uploads (updated_at);
CREATE INDEX blob_uploads_device ON blob_uploads (device_id);
CREATE TABLE blob_upload_chunks (
    tenant_id TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    device_id TEXT NOT NULL,
    pos BIGINT NOT NULL,
    data BYTEA NOT NULL,
    PRIMARY KEY (tenant_id, sha256, device_id, pos)
);
CREATE TABLE blob_holders (
    tenant_id TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    user_id TEXT NOT NULL,
    at_ms BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, sha256, user_id)
);
DELETE FROM blob_chunks WHERE (tenant_id, sha256) IN
    (SELECT tenant_id, sha256 FROM blobs WHERE NOT complete);
DELETE FROM blobs WHERE NOT complete;
ALTER TABLE documents ADD COLUMN blob_vouched BOOLEAN NOT NULL DEFAULT FALSE;
UPDATE documents SET blob_vouched = TRUE
WHERE kind = 'attachment' AND blob IS NOT NULL
  AND (SELECT l.user_id FROM log l
       WHERE l.tenant_id = documents.tenant_id AND l.record_id = documents.record_id
       ORDER BY l.seq LIMIT 1)
    = (SELECT l.user_id FROM log l JOIN documents a ON a.record_id = l.record_id
       WHERE a.tenant_id = documents.tenant_id AND a.blob = documents.blob
         AND l.tenant_id = documents.tenant_id
       ORDER BY l.seq LIMIT 1);
"#;

/// Checks that the chunks (in offset order) hash to the blob's name.
pub fn verify<'a>(
    sha256: &str,
    chunks: impl IntoIterator<Item = &'a [u8]>,
) -> Result<(), StorageError> {
    let mut hasher = Sha256::new();
    for c in chunks {
        hasher.update(c);
    }
    let actual = hex::encode(hasher.finalize());
    if actual == sha256 {
        Ok(())
    } else {
        Err(StorageError::Rejected(format!(
            "blob {sha256}: the uploaded bytes hash to {actual}; they were discarded, upload again"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SHA: &str = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";

    fn append<'a>(size: u64, offset: u64, chunk: &'a [u8]) -> Append<'a> {
        Append {
            sha256: SHA,
            size,
            offset,
            chunk,
            readable: false,
            now_ms: 1_000,
            expired_before_ms: 0,
        }
    }

    fn own(size: u64, received: u64) -> Option<Upload> {
        Some(Upload {
            size,
            received,
            updated_at_ms: 500,
        })
    }

    #[test]
    fn chunks_must_arrive_in_order_per_device() {
        assert_eq!(
            plan_append(&append(10, 0, &[0; 4]), None, None, 0).ok(),
            Some(AppendPlan::Store {
                restart: false,
                create: true,
                received: 4
            })
        );
        assert!(matches!(
            plan_append(&append(10, 0, &[0; 4]), None, own(10, 4), 4),
            Err(StorageError::Conflict(m)) if m.contains("resume at 4")
        ));
        assert_eq!(
            plan_append(&append(10, 4, &[0; 6]), None, own(10, 4), 4).ok(),
            Some(AppendPlan::Store {
                restart: false,
                create: false,
                received: 10
            })
        );
        assert!(matches!(
            plan_append(&append(10, 4, &[0; 7]), None, own(10, 4), 4),
            Err(StorageError::BadRequest(_))
        ));
        // Its own upload with another size: restarted from 0, refused elsewhere.
        assert_eq!(
            plan_append(&append(11, 0, &[0; 4]), None, own(10, 4), 4).ok(),
            Some(AppendPlan::Store {
                restart: true,
                create: true,
                received: 4
            })
        );
        assert!(matches!(
            plan_append(&append(11, 4, &[0; 4]), None, own(10, 4), 4),
            Err(StorageError::Conflict(m)) if m.contains("offset 0")
        ));
    }

    #[test]
    fn expired_uploads_start_again_and_unfinished_bytes_are_capped() {
        let mut a = append(10, 0, &[0; 4]);
        a.expired_before_ms = 600;
        assert_eq!(
            plan_append(&a, None, own(10, 4), 4).ok(),
            Some(AppendPlan::Store {
                restart: true,
                create: true,
                received: 4
            })
        );
        assert!(matches!(
            plan_append(&append(10, 0, &[0; 4]), None, None, MAX_UNFINISHED_BYTES_PER_DEVICE),
            Err(StorageError::BadRequest(m)) if m.contains("unfinished")
        ));
    }

    #[test]
    fn a_complete_blob_is_answered_only_to_those_who_may_read_it() {
        let done = BlobStatus {
            size: 4,
            received: 4,
            complete: true,
        };
        let mut a = append(4, 0, &[0; 4]);
        assert!(matches!(
            plan_append(&a, Some(done), None, 0),
            Ok(AppendPlan::Store { .. })
        ));
        a.readable = true;
        assert_eq!(
            plan_append(&a, Some(done), None, 0).ok(),
            Some(AppendPlan::AlreadyComplete(done))
        );
    }

    #[test]
    fn bad_names_sizes_and_bytes_are_refused() {
        let mut a = append(4, 0, &[0; 4]);
        a.sha256 = "abc";
        assert!(plan_append(&a, None, None, 0).is_err());
        assert!(plan_append(&append(0, 0, &[]), None, None, 0).is_err());
        assert!(plan_append(&append(MAX_BLOB_BYTES as u64 + 1, 0, &[1]), None, None, 0).is_err());
        assert!(verify(SHA, [b"te".as_slice(), b"st".as_slice()]).is_ok());
        assert!(matches!(
            verify(SHA, [b"tset".as_slice()]),
            Err(StorageError::Rejected(_))
        ));
    }
}
