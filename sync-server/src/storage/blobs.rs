//! Resumable, content-addressed blob uploads: the decisions both backends share.
//!
//! A blob is named by the sha256 of its bytes and belongs to a tenant. A device uploads it in
//! chunks, each at the offset the server has reached, so an upload cut off by a lost signal
//! resumes where it stopped. When the last byte arrives the server hashes the whole blob; bytes
//! that do not hash to the blob's name are discarded and refused.

use crate::StorageError;
use outpost_core::record::attachment::{is_sha256_hex, MAX_BLOB_BYTES};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

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

/// What a backend must do with an incoming chunk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AppendPlan {
    /// The blob is already complete: store nothing, answer with its status.
    AlreadyComplete(BlobStatus),
    /// Store the chunk at `offset` (creating the blob's row first when `create`); the blob has
    /// `received` bytes afterwards, and is finished when `received == size`.
    Store {
        /// Whether the blob's row does not exist yet.
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

/// Decides what to do with `len` bytes at `offset` of a blob of `size` bytes, given what is
/// stored (`existing`).
pub fn plan_append(
    sha256: &str,
    existing: Option<BlobStatus>,
    size: u64,
    offset: u64,
    len: u64,
) -> Result<AppendPlan, StorageError> {
    check_name(sha256)?;
    if size == 0 || size > MAX_BLOB_BYTES as u64 {
        return Err(StorageError::BadRequest(format!(
            "blob {sha256}: size {size} is not between 1 and {MAX_BLOB_BYTES} bytes"
        )));
    }
    if let Some(s) = existing {
        if s.size != size {
            return Err(StorageError::Conflict(format!(
                "blob {sha256}: the upload was started with size {}, not {size}",
                s.size
            )));
        }
        if s.complete {
            return Ok(AppendPlan::AlreadyComplete(s));
        }
    }
    let received = existing.map_or(0, |s| s.received);
    if offset != received {
        return Err(StorageError::Conflict(format!(
            "blob {sha256}: chunk at offset {offset}, but the server has {received} bytes; resume at {received}"
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
    Ok(AppendPlan::Store {
        create: existing.is_none(),
        received: end,
    })
}

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

    #[test]
    fn chunks_must_arrive_in_order() {
        assert_eq!(
            plan_append(SHA, None, 10, 0, 4).ok(),
            Some(AppendPlan::Store {
                create: true,
                received: 4
            })
        );
        let started = BlobStatus {
            size: 10,
            received: 4,
            complete: false,
        };
        assert!(matches!(
            plan_append(SHA, Some(started), 10, 0, 4),
            Err(StorageError::Conflict(m)) if m.contains("resume at 4")
        ));
        assert_eq!(
            plan_append(SHA, Some(started), 10, 4, 6).ok(),
            Some(AppendPlan::Store {
                create: false,
                received: 10
            })
        );
        assert!(matches!(
            plan_append(SHA, Some(started), 10, 4, 7),
            Err(StorageError::BadRequest(_))
        ));
        assert!(matches!(
            plan_append(SHA, Some(started), 11, 4, 1),
            Err(StorageError::Conflict(_))
        ));
    }

    #[test]
    fn a_complete_blob_is_not_written_again() {
        let done = BlobStatus {
            size: 4,
            received: 4,
            complete: true,
        };
        assert_eq!(
            plan_append(SHA, Some(done), 4, 0, 4).ok(),
            Some(AppendPlan::AlreadyComplete(done))
        );
    }

    #[test]
    fn bad_names_sizes_and_bytes_are_refused() {
        assert!(plan_append("abc", None, 4, 0, 4).is_err());
        assert!(plan_append(SHA, None, 0, 0, 0).is_err());
        assert!(plan_append(SHA, None, MAX_BLOB_BYTES as u64 + 1, 0, 1).is_err());
        assert!(verify(SHA, [b"te".as_slice(), b"st".as_slice()]).is_ok());
        assert!(matches!(
            verify(SHA, [b"tset".as_slice()]),
            Err(StorageError::Rejected(_))
        ));
    }
}
