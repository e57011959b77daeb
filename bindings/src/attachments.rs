//! Attachments: files (contract scans, cards, quotations, photos) linked to a contact, kept as
//! content-addressed blobs that upload with sync.

use crate::error::OutpostError;
use crate::store::OutpostStore;
use crate::types::count;
use outpost_core as oc;
use std::collections::HashMap;

/// A file linked to a contact (and optionally a deal).
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct Attachment {
    /// UUIDv7 string.
    pub id: String,
    /// The contact it belongs to.
    pub contact_id: String,
    /// The deal it belongs to, if any.
    pub deal_id: Option<String>,
    /// `contract`, `card`, `quotation`, `photo` or `other`.
    pub category: String,
    /// The sha256 of the file (lower-case hex); pass it to `fetchBlob`.
    pub blob_sha256: String,
    /// The file's media type, e.g. `image/png`.
    pub mime: String,
    /// The file's size in bytes.
    pub size: i64,
    /// A short title.
    pub title: Option<String>,
    /// Fields read from the file (for a contract: `contract_number`, `party_a`, `party_b`,
    /// `amount`, `amount_upper`, `date`).
    pub fields: HashMap<String, String>,
    /// Text read from the file.
    pub text: Option<String>,
    /// Who attached it.
    pub user: String,
    /// When it was attached (RFC 3339).
    pub created_at: String,
    /// When the record last changed (RFC 3339).
    pub updated_at: String,
    /// `local` (not yet acknowledged by the server) or `synced`.
    pub sync_state: String,
}

impl From<oc::Attachment> for Attachment {
    fn from(a: oc::Attachment) -> Self {
        Attachment {
            id: a.id,
            contact_id: a.contact_id,
            deal_id: a.deal_id,
            category: a.category,
            blob_sha256: a.blob_sha256,
            mime: a.mime,
            size: count(a.size),
            title: a.title,
            fields: a.fields.into_iter().collect(),
            text: a.text,
            user: a.user,
            created_at: a.created_at,
            updated_at: a.updated_at,
            sync_state: a.sync_state.as_str().to_string(),
        }
    }
}

/// A file to attach.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct NewAttachment {
    /// The contact it belongs to (must exist and be active).
    pub contact_id: String,
    /// The deal it belongs to, if any.
    #[uniffi(default = None)]
    pub deal_id: Option<String>,
    /// `contract`, `card`, `quotation`, `photo` or `other`.
    pub category: String,
    /// The file's media type, e.g. `image/png`.
    pub mime: String,
    /// The file (at most 32 MB).
    pub bytes: Vec<u8>,
    /// A short title.
    #[uniffi(default = None)]
    pub title: Option<String>,
    /// Fields read from the file (pass an empty map when there are none).
    pub fields: HashMap<String, String>,
    /// Text read from the file.
    #[uniffi(default = None)]
    pub text: Option<String>,
}

impl From<NewAttachment> for oc::NewAttachment {
    fn from(a: NewAttachment) -> Self {
        oc::NewAttachment {
            contact_id: a.contact_id,
            deal_id: a.deal_id,
            category: a.category,
            mime: a.mime,
            bytes: a.bytes,
            title: a.title,
            fields: a.fields.into_iter().collect(),
            text: a.text,
        }
    }
}

#[uniffi::export(async_runtime = "tokio")]
impl OutpostStore {
    /// Attaches a file to a contact: its bytes are kept in the store (encrypted with it) under
    /// their sha256 and upload with the next sync, resuming where an interrupted upload stopped.
    /// Errors: `Validation` naming `category`, `file`, `mime`, `contact`, `title` or a field.
    pub fn attach(&self, attachment: NewAttachment) -> Result<Attachment, OutpostError> {
        Ok(self.write(|s| s.attach(attachment.into()))?.into())
    }

    /// One attachment by id (`NotFound` when there is none).
    pub fn get_attachment(&self, id: String) -> Result<Attachment, OutpostError> {
        Ok(self.read(|s| s.get_attachment(&id))?.into())
    }

    /// The attachments of a contact, newest first.
    pub fn list_attachments(&self, contact_id: String) -> Result<Vec<Attachment>, OutpostError> {
        Ok(self
            .read(|s| s.list_attachments(&contact_id))?
            .into_iter()
            .map(Into::into)
            .collect())
    }

    /// The bytes of a blob: from the device when it has them, else downloaded from the sync
    /// server (checked against the hash, then kept). `NotFound` when the server does not have
    /// it (yet), `Network` when it cannot be reached.
    pub async fn fetch_blob(&self, sha256: String) -> Result<Vec<u8>, OutpostError> {
        Ok(oc::fetch_blob(&self.store, &sha256, oc::SyncOptions::default()).await?)
    }
}
