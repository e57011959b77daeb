//! Attachments: files (contract scans, cards, quotations, photos) linked to a contact, kept as
//! content-addressed blobs that upload with sync.

use crate::error::OutpostError;
use crate::store::OutpostStore;
pub use oc::{Attachment, NewAttachment};
use outpost_core as oc;

#[uniffi::export(async_runtime = "tokio")]
impl OutpostStore {
    /// Attaches a file to a contact: its bytes are kept in the store (encrypted with it) under
    /// their sha256 and upload with the next sync, resuming where an interrupted upload stopped.
    /// Errors: `Validation` naming `category`, `file`, `mime`, `contact`, `title` or a field.
    pub fn attach(&self, attachment: NewAttachment) -> Result<Attachment, OutpostError> {
        self.write(|s| s.attach(attachment))
    }

    /// One attachment by id (`NotFound` when there is none).
    pub fn get_attachment(&self, id: String) -> Result<Attachment, OutpostError> {
        self.read(|s| s.get_attachment(&id))
    }

    /// The attachments of a contact, newest first.
    pub fn list_attachments(&self, contact_id: String) -> Result<Vec<Attachment>, OutpostError> {
        self.read(|s| s.list_attachments(&contact_id))
    }

    /// The bytes of a blob: from the device when it has them, else downloaded from the sync
    /// server (checked against the hash, then kept). `NotFound` when the server does not have
    /// it (yet), `Network` when it cannot be reached.
    pub async fn fetch_blob(&self, sha256: String) -> Result<Vec<u8>, OutpostError> {
        Ok(oc::fetch_blob(&self.store, &sha256, self.net.clone()).await?)
    }
}
