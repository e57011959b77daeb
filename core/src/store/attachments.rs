//! Attachments and their blobs.
//!
//! A blob is a file kept by content: its key is the sha256 of its bytes, so attaching the same
//! scan twice stores it once. Blob bytes live in the database file itself (one transaction with
//! the record that uses them, and encrypted with the file when the store is). Each blob has an
//! upload state: `pending` until the sync client has sent all of it, then `uploaded`; the number
//! of bytes the server has acknowledged is kept so that an interrupted upload resumes there.

use super::records::write_record;
use super::{RecordKind, Store};
use crate::error::{Error, Result};
use crate::record::attachment::{self, Attachment, NewAttachment};
use crate::record::{commit, new_doc, rfc3339_ms};
use automerge::{transaction::Transactable, ObjType, ScalarValue, ROOT};
use rusqlite::{params, Connection, OptionalExtension, Row, Transaction, TransactionBehavior};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

const COLUMNS: &str =
    "r.id, a.contact_id, a.deal_id, a.category, a.blob, a.mime, a.size, a.title, a.fields, \
     a.text, a.user, a.extra, a.created_at, a.updated_at, r.sync_state";

fn from_row(r: &Row<'_>) -> rusqlite::Result<Attachment> {
    Ok(Attachment {
        id: r.get(0)?,
        contact_id: r.get(1)?,
        deal_id: r.get(2)?,
        category: r.get(3)?,
        blob_sha256: r.get(4)?,
        mime: r.get(5)?,
        size: r.get::<_, i64>(6)?.max(0),
        title: r.get(7)?,
        fields: serde_json::from_str(&r.get::<_, String>(8)?).unwrap_or_default(),
        text: r.get(9)?,
        user: r.get(10)?,
        extra: serde_json::from_str(&r.get::<_, String>(11)?).unwrap_or_default(),
        created_at: r.get(12)?,
        updated_at: r.get(13)?,
        sync_state: r.get(14)?,
    })
}

pub(crate) fn project(tx: &Transaction<'_>, rid: i64, a: &Attachment) -> Result<()> {
    tx.prepare_cached(
        "INSERT OR REPLACE INTO attachments(rid, contact_id, deal_id, category, blob, mime, size, title, \
         fields, amount, text, user, extra, created_at, updated_at) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)",
    )?
    .execute(params![
        rid,
        a.contact_id,
        a.deal_id,
        a.category,
        a.blob_sha256,
        a.mime,
        a.size,
        a.title,
        serde_json::to_string(&a.fields).unwrap_or_else(|_| "{}".into()),
        a.amount(),
        a.text,
        a.user,
        serde_json::to_string(&a.extra).unwrap_or_else(|_| "{}".into()),
        a.created_at,
        a.updated_at,
    ])?;
    Ok(())
}

fn get(conn: &Connection, id: &str) -> Result<Attachment> {
    conn.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM attachments a JOIN records r ON r.rid = a.rid WHERE r.id = ?1"
    ))?
    .query_row([id], from_row)
    .optional()?
    .ok_or_else(|| Error::NotFound {
        kind: "attachment",
        id: id.to_string(),
    })
}

/// The sha256 of `bytes` as lower-case hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// A blob this device holds, with how much of it the server has.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlobInfo {
    /// The sha256 of the bytes (lower-case hex).
    pub sha256: String,
    /// Size in bytes.
    pub size: u64,
    /// Media type.
    pub mime: Option<String>,
    /// `pending`, `uploading` or `uploaded`.
    pub upload_state: String,
    /// Bytes the server has acknowledged.
    pub uploaded_bytes: u64,
}

/// Stores `bytes` as a blob inside `tx` (nothing happens when it is already there) and returns
/// its sha256.
pub(crate) fn put_blob(tx: &Transaction<'_>, bytes: &[u8], mime: &str) -> Result<String> {
    let sha = sha256_hex(bytes);
    tx.prepare_cached(
        "INSERT INTO blobs(sha256, size, mime, upload_state, created_at, data, uploaded_bytes) \
         VALUES (?1, ?2, ?3, 'pending', ?4, ?5, 0) \
         ON CONFLICT(sha256) DO UPDATE SET data = excluded.data WHERE blobs.data IS NULL",
    )?
    .execute(params![
        sha,
        i64::try_from(bytes.len()).unwrap_or(i64::MAX),
        mime,
        rfc3339_ms(Store::now_ms()),
        bytes
    ])?;
    Ok(sha)
}

impl Store {
    /// Attaches a file to a contact: stores its bytes as a blob and writes an attachment record
    /// linking them, in one transaction. An unknown contact is [`crate::Error::NotFound`].
    pub fn attach(&mut self, new: NewAttachment) -> Result<Attachment> {
        self.guard()?;
        let r = self.attach_inner(new);
        let a = self.ctx(r)?;
        self.notify(RecordKind::Attachment, &a.id);
        Ok(a)
    }

    fn attach_inner(&mut self, new: NewAttachment) -> Result<Attachment> {
        new.validate()?;
        // The contact is what the file is attached to: one this device does not have is not
        // found, as any record asked for by its id.
        super::contacts::get(&self.conn, new.contact_id.trim())?;
        // A file attached to a merged contact lands on the contact it was merged into.
        let contact = super::contacts::target_of_new(&self.conn, &new.contact_id, true)?;
        // A mistyped deal id would link the file to no deal, and open none of its gates.
        if let Some(deal) = new.deal_id.as_deref().filter(|d| !d.trim().is_empty()) {
            super::deals::require(&self.conn, deal)?;
        }
        let id = uuid::Uuid::now_v7().to_string();
        let now = Self::now_ms();
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let sha = put_blob(&tx, &new.bytes, new.mime.trim())?;
        let mut doc = new_doc(&self.actor);
        doc.put(ROOT, "id", id.as_str())?;
        doc.put(ROOT, "kind", "attachment")?;
        doc.put(ROOT, "contact_id", contact.id.as_str())?;
        if let Some(deal) = new
            .deal_id
            .as_deref()
            .map(str::trim)
            .filter(|d| !d.is_empty())
        {
            doc.put(ROOT, "deal_id", deal)?;
        }
        doc.put(ROOT, "category", new.category.as_str())?;
        doc.put(ROOT, "blob", sha.as_str())?;
        doc.put(ROOT, "mime", new.mime.trim())?;
        doc.put(
            ROOT,
            "size",
            ScalarValue::Int(i64::try_from(new.bytes.len()).unwrap_or(i64::MAX)),
        )?;
        if let Some(t) = new
            .title
            .as_deref()
            .map(str::trim)
            .filter(|t| !t.is_empty())
        {
            doc.put(ROOT, "title", t)?;
        }
        let fields = doc.put_object(ROOT, "fields", ObjType::Map)?;
        for (k, v) in &new.fields {
            doc.put(&fields, k.as_str(), v.trim())?;
        }
        if let Some(t) = new.text.as_deref().filter(|t| !t.trim().is_empty()) {
            doc.put(ROOT, "text", t)?;
        }
        doc.put(ROOT, "user", self.actor.user.as_str())?;
        doc.put(ROOT, "created_at", rfc3339_ms(now))?;
        commit(&mut doc, &self.actor, "attach", now);
        let w = write_record(&tx, None, &id, RecordKind::Attachment, &mut doc, Some(&[]))?;
        let a = attachment::from_doc(&id, &doc, w.updated_at, w.sync_state);
        project(&tx, w.rid, &a)?;
        tx.commit()?;
        Ok(a)
    }

    /// One attachment by id.
    pub fn get_attachment(&self, id: &str) -> Result<Attachment> {
        self.guard()?;
        self.ctx(get(&self.conn, id))
    }

    /// The attachments of a contact, and of the contacts merged into it, newest first.
    pub fn list_attachments(&self, contact_id: &str) -> Result<Vec<Attachment>> {
        self.guard()?;
        let run = || -> Result<Vec<Attachment>> {
            let mut stmt = self.conn.prepare_cached(&format!(
                "SELECT {COLUMNS} FROM attachments a JOIN records r ON r.rid = a.rid \
                 WHERE a.contact_id = ?1 OR a.contact_id IN ( \
                   SELECT mr.id FROM contacts mc JOIN records mr ON mr.rid = mc.rid WHERE mc.merged_into = ?1) \
                 ORDER BY a.created_at DESC, r.id DESC"
            ))?;
            let rows = stmt.query_map([contact_id], from_row)?;
            Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
        };
        self.ctx(run())
    }

    /// The bytes of a blob, when this device has them (a blob of an attachment that arrived by
    /// sync is fetched from the server on demand).
    pub fn blob(&self, sha256: &str) -> Result<Option<Vec<u8>>> {
        self.guard()?;
        self.blob_to_upload(sha256)
    }

    /// [`Store::blob`] for the sync's upload, which also runs on a locked store (a sync is what
    /// renews the lease).
    pub(crate) fn blob_to_upload(&self, sha256: &str) -> Result<Option<Vec<u8>>> {
        let run = || -> Result<Option<Vec<u8>>> {
            Ok(self
                .conn
                .prepare_cached("SELECT data FROM blobs WHERE sha256 = ?1 AND data IS NOT NULL")?
                .query_row([sha256], |r| r.get(0))
                .optional()?)
        };
        self.ctx(run())
    }

    /// The media type of a blob, from the blob or an attachment that names it.
    pub fn blob_mime(&self, sha256: &str) -> Result<Option<String>> {
        self.guard()?;
        let run = || -> Result<Option<String>> {
            Ok(self
                .conn
                .prepare_cached(
                    "SELECT mime FROM blobs WHERE sha256 = ?1 AND mime IS NOT NULL \
                     UNION ALL SELECT mime FROM attachments WHERE blob = ?1 LIMIT 1",
                )?
                .query_row([sha256], |r| r.get(0))
                .optional()?)
        };
        self.ctx(run())
    }

    /// Stores a blob fetched from the server after checking that its bytes hash to `sha256`;
    /// it counts as uploaded.
    pub fn store_fetched_blob(&mut self, sha256: &str, bytes: &[u8], mime: &str) -> Result<()> {
        self.guard()?;
        let actual = sha256_hex(bytes);
        if actual != sha256 {
            return Err(Error::Document {
                id: sha256.to_string(),
                reason: format!("blob bytes received hash to {actual}, not to their name"),
            });
        }
        let run = |conn: &mut Connection| -> Result<()> {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            put_blob(&tx, bytes, mime)?;
            tx.execute(
                "UPDATE blobs SET upload_state = 'uploaded', uploaded_bytes = size WHERE sha256 = ?1",
                [sha256],
            )?;
            tx.commit()?;
            Ok(())
        };
        let r = run(&mut self.conn);
        self.ctx(r)
    }

    /// Blobs whose bytes the server does not have all of yet, oldest first.
    pub fn pending_blobs(&self) -> Result<Vec<BlobInfo>> {
        let run = || -> Result<Vec<BlobInfo>> {
            let mut stmt = self.conn.prepare_cached(
                "SELECT sha256, size, mime, upload_state, uploaded_bytes FROM blobs \
                 WHERE upload_state <> 'uploaded' AND data IS NOT NULL ORDER BY created_at, sha256",
            )?;
            let rows = stmt.query_map([], |r| {
                Ok(BlobInfo {
                    sha256: r.get(0)?,
                    size: u64::try_from(r.get::<_, i64>(1)?).unwrap_or(0),
                    mime: r.get(2)?,
                    upload_state: r.get(3)?,
                    uploaded_bytes: u64::try_from(r.get::<_, i64>(4)?).unwrap_or(0),
                })
            })?;
            Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
        };
        self.ctx(run())
    }

    /// Records that the server has the first `uploaded` bytes of a blob (all of them marks it
    /// `uploaded`), so that an interrupted upload resumes there.
    pub fn set_blob_progress(&mut self, sha256: &str, uploaded: u64) -> Result<()> {
        let run = |conn: &Connection| -> Result<()> {
            conn.execute(
                "UPDATE blobs SET uploaded_bytes = min(?2, size), \
                 upload_state = CASE WHEN ?2 >= size THEN 'uploaded' ELSE 'uploading' END \
                 WHERE sha256 = ?1",
                params![sha256, i64::try_from(uploaded).unwrap_or(i64::MAX)],
            )?;
            Ok(())
        };
        let r = run(&self.conn);
        self.ctx(r)
    }
}
