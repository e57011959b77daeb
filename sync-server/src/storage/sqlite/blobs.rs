//! Blob uploads and file access on SQLite (decisions in [`crate::storage::blobs`]): uploads
//! per device under `BEGIN IMMEDIATE`, complete blobs once per tenant, holders, and the
//! vouched flag of attachments written by a push.

use super::{meta_at, SqliteStorage};
use crate::error::StorageError;
use crate::policy::Viewer;
use crate::rows::{Device, DocMeta};
use crate::storage::blobs::{self, Append, AppendPlan, BlobStatus, BlobStore, Upload};
use crate::storage::plan::WritePlan;
use crate::storage::values::{to_i64, to_u64};
use async_trait::async_trait;
use rusqlite::{params, Connection, OptionalExtension, Transaction, TransactionBehavior};
use std::collections::HashMap;

fn complete(c: &Connection, tenant: &str, sha: &str) -> Result<Option<BlobStatus>, StorageError> {
    let size: Option<i64> = c
        .prepare_cached("SELECT size FROM blobs WHERE tenant_id = ?1 AND sha256 = ?2 AND complete")?
        .query_row(params![tenant, sha], |r| r.get(0))
        .optional()?;
    size.map(|s| {
        let size = to_u64(s, "blobs.size")?;
        Ok(BlobStatus {
            size,
            received: size,
            complete: true,
        })
    })
    .transpose()
}

fn upload(
    c: &Connection,
    tenant: &str,
    sha: &str,
    device: &str,
) -> Result<Option<Upload>, StorageError> {
    let row: Option<(i64, i64, i64)> = c
        .prepare_cached(
            "SELECT size, received, updated_at FROM blob_uploads
             WHERE tenant_id = ?1 AND sha256 = ?2 AND device_id = ?3",
        )?
        .query_row(params![tenant, sha, device], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?))
        })
        .optional()?;
    row.map(|(size, received, updated_at_ms)| {
        Ok(Upload {
            size: to_u64(size, "blob_uploads.size")?,
            received: to_u64(received, "blob_uploads.received")?,
            updated_at_ms,
        })
    })
    .transpose()
}

fn drop_upload(
    tx: &Transaction<'_>,
    tenant: &str,
    sha: &str,
    device: &str,
) -> Result<(), StorageError> {
    tx.prepare_cached(
        "DELETE FROM blob_upload_chunks WHERE tenant_id = ?1 AND sha256 = ?2 AND device_id = ?3",
    )?
    .execute(params![tenant, sha, device])?;
    tx.prepare_cached(
        "DELETE FROM blob_uploads WHERE tenant_id = ?1 AND sha256 = ?2 AND device_id = ?3",
    )?
    .execute(params![tenant, sha, device])?;
    Ok(())
}

fn attachments(
    c: &Connection,
    tenant: &str,
    sha: &str,
) -> Result<Vec<(String, String, DocMeta)>, StorageError> {
    Ok(c.prepare_cached(
        "SELECT d.record_id, d.kind, r.owner, d.root, d.field FROM documents d
         LEFT JOIN documents r ON r.record_id = COALESCE(d.root, d.record_id)
         WHERE d.tenant_id = ?1 AND d.blob = ?2 AND d.blob_vouched",
    )?
    .query_map(params![tenant, sha], |r| {
        Ok((r.get(0)?, r.get(1)?, meta_at(r, 2)?))
    })?
    .collect::<Result<Vec<_>, _>>()?)
}

fn held(c: &Connection, tenant: &str, sha: &str, user: &str) -> Result<bool, StorageError> {
    Ok(c.prepare_cached(
        "SELECT 1 FROM blob_holders WHERE tenant_id = ?1 AND sha256 = ?2 AND user_id = ?3",
    )?
    .exists(params![tenant, sha, user])?)
}

/// Before a plan is written: the blob and vouched flag stored for each attachment it writes.
pub(super) fn prior_vouches(
    tx: &Transaction<'_>,
    plan: &WritePlan,
) -> Result<HashMap<String, (Option<String>, bool)>, StorageError> {
    let mut out = HashMap::new();
    let mut stmt =
        tx.prepare_cached("SELECT blob, blob_vouched FROM documents WHERE record_id = ?1")?;
    for d in plan.docs.iter().filter(|d| d.blob.is_some()) {
        if let Some(row) = stmt
            .query_row([&d.record], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()?
        {
            out.insert(d.record.clone(), row);
        }
    }
    Ok(out)
}

/// After a plan is written by `viewer`'s device: whether each attachment it wrote is vouched.
pub(super) fn vouch(
    tx: &Transaction<'_>,
    device: &Device,
    viewer: &Viewer,
    plan: &WritePlan,
    prior: &HashMap<String, (Option<String>, bool)>,
) -> Result<(), StorageError> {
    let mut set =
        tx.prepare_cached("UPDATE documents SET blob_vouched = ?2 WHERE record_id = ?1")?;
    for d in &plan.docs {
        let Some(blob) = d.blob.as_deref() else {
            continue;
        };
        let before = prior.get(&d.record).map(|(b, v)| (b.as_deref(), *v));
        let others: Vec<_> = attachments(tx, &device.tenant_id, blob)?
            .into_iter()
            .filter(|(id, _, _)| *id != d.record)
            .collect();
        let holds = held(tx, &device.tenant_id, blob, &device.user_id)?;
        let ok = blobs::vouched(viewer, blob, before, holds, &others);
        set.execute(params![d.record, ok])?;
    }
    Ok(())
}

#[async_trait]
impl BlobStore for SqliteStorage {
    async fn blob_status(
        &self,
        tenant_id: &str,
        device_id: &str,
        sha256: &str,
        expired_before_ms: i64,
    ) -> Result<Option<BlobStatus>, StorageError> {
        blobs::check_name(sha256)?;
        let (tenant, device, sha) = (
            tenant_id.to_string(),
            device_id.to_string(),
            sha256.to_string(),
        );
        self.read(move |c| {
            if let Some(u) =
                upload(c, &tenant, &sha, &device)?.filter(|u| u.updated_at_ms >= expired_before_ms)
            {
                return Ok(Some(BlobStatus {
                    size: u.size,
                    received: u.received,
                    complete: false,
                }));
            }
            complete(c, &tenant, &sha)
        })
        .await
    }

    async fn blob_append(
        &self,
        device: &Device,
        a: Append<'_>,
    ) -> Result<BlobStatus, StorageError> {
        blobs::check_name(a.sha256)?;
        let (device, sha, chunk) = (device.clone(), a.sha256.to_string(), a.chunk.to_vec());
        let (size, offset, readable, now, expired_before) =
            (a.size, a.offset, a.readable, a.now_ms, a.expired_before_ms);
        self.write(move |c| {
            let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let tenant = device.tenant_id.as_str();
            let done = complete(&tx, tenant, &sha)?;
            let own = upload(&tx, tenant, &sha, &device.id)?;
            let unfinished: i64 = tx
                .prepare_cached(
                    "SELECT COALESCE(SUM(received), 0) FROM blob_uploads
                     WHERE device_id = ?1 AND updated_at >= ?2",
                )?
                .query_row(params![device.id, expired_before], |r| r.get(0))?;
            let append = Append {
                sha256: &sha,
                size,
                offset,
                chunk: &chunk,
                readable,
                now_ms: now,
                expired_before_ms: expired_before,
            };
            let plan = blobs::plan_append(&append, done, own, to_u64(unfinished, "unfinished")?)?;
            let AppendPlan::Store {
                restart,
                create,
                received,
            } = plan
            else {
                return done.ok_or_else(|| StorageError::Internal("blob vanished".into()));
            };
            if restart {
                drop_upload(&tx, tenant, &sha, &device.id)?;
            }
            if create {
                tx.prepare_cached(
                    "INSERT INTO blob_uploads (tenant_id, sha256, device_id, size, received, updated_at)
                     VALUES (?1, ?2, ?3, ?4, 0, ?5)",
                )?
                .execute(params![tenant, sha, device.id, to_i64(size, "size")?, now])?;
            }
            tx.prepare_cached(
                "INSERT INTO blob_upload_chunks (tenant_id, sha256, device_id, pos, data)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
            )?
            .execute(params![tenant, sha, device.id, to_i64(offset, "offset")?, chunk])?;
            if received < size {
                tx.prepare_cached(
                    "UPDATE blob_uploads SET received = ?4, updated_at = ?5
                     WHERE tenant_id = ?1 AND sha256 = ?2 AND device_id = ?3",
                )?
                .execute(params![tenant, sha, device.id, to_i64(received, "received")?, now])?;
                tx.commit()?;
                return Ok(BlobStatus {
                    size,
                    received,
                    complete: false,
                });
            }
            let chunks: Vec<Vec<u8>> = tx
                .prepare_cached(
                    "SELECT data FROM blob_upload_chunks
                     WHERE tenant_id = ?1 AND sha256 = ?2 AND device_id = ?3 ORDER BY pos",
                )?
                .query_map(params![tenant, sha, device.id], |r| r.get(0))?
                .collect::<rusqlite::Result<_>>()?;
            let verified = blobs::verify(&sha, chunks.iter().map(Vec::as_slice));
            if verified.is_ok() && done.is_none() {
                tx.prepare_cached(
                    "INSERT INTO blobs (tenant_id, sha256, size, received, complete, created_at)
                     VALUES (?1, ?2, ?3, ?3, 1, ?4)",
                )?
                .execute(params![tenant, sha, to_i64(size, "size")?, now])?;
                tx.prepare_cached(
                    "INSERT INTO blob_chunks (tenant_id, sha256, pos, data)
                     SELECT tenant_id, sha256, pos, data FROM blob_upload_chunks
                     WHERE tenant_id = ?1 AND sha256 = ?2 AND device_id = ?3",
                )?
                .execute(params![tenant, sha, device.id])?;
            }
            // Verified or not, the device's upload is finished with (bad bytes are discarded,
            // committed, so that the device can upload again).
            drop_upload(&tx, tenant, &sha, &device.id)?;
            if verified.is_ok() {
                tx.prepare_cached(
                    "INSERT INTO blob_holders (tenant_id, sha256, user_id, at_ms)
                     VALUES (?1, ?2, ?3, ?4) ON CONFLICT DO NOTHING",
                )?
                .execute(params![tenant, sha, device.user_id, now])?;
            }
            tx.commit()?;
            verified.map(|()| BlobStatus {
                size,
                received: size,
                complete: true,
            })
        })
        .await
    }

    async fn blob_read(
        &self,
        tenant_id: &str,
        sha256: &str,
    ) -> Result<Option<Vec<u8>>, StorageError> {
        blobs::check_name(sha256)?;
        let (tenant, sha) = (tenant_id.to_string(), sha256.to_string());
        self.read(move |c| {
            if complete(c, &tenant, &sha)?.is_none() {
                return Ok(None);
            }
            let mut out = Vec::new();
            let mut stmt = c.prepare(
                "SELECT data FROM blob_chunks WHERE tenant_id = ?1 AND sha256 = ?2 ORDER BY pos",
            )?;
            let mut rows = stmt.query(params![tenant, sha])?;
            while let Some(r) = rows.next()? {
                out.extend_from_slice(&r.get::<_, Vec<u8>>(0)?);
            }
            Ok(Some(out))
        })
        .await
    }

    async fn blob_held(
        &self,
        tenant_id: &str,
        sha256: &str,
        user_id: &str,
    ) -> Result<bool, StorageError> {
        let (tenant, sha, user) = (
            tenant_id.to_string(),
            sha256.to_string(),
            user_id.to_string(),
        );
        self.read(move |c| held(c, &tenant, &sha, &user)).await
    }

    async fn blob_attachments(
        &self,
        tenant_id: &str,
        sha256: &str,
    ) -> Result<Vec<(String, String, DocMeta)>, StorageError> {
        let (tenant, sha) = (tenant_id.to_string(), sha256.to_string());
        self.read(move |c| attachments(c, &tenant, &sha)).await
    }

    async fn blob_expire(&self, before_ms: i64) -> Result<u64, StorageError> {
        self.write(move |c| {
            let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
            tx.execute(
                "DELETE FROM blob_upload_chunks WHERE (tenant_id, sha256, device_id) IN
                 (SELECT tenant_id, sha256, device_id FROM blob_uploads WHERE updated_at < ?1)",
                [before_ms],
            )?;
            let n = tx.execute(
                "DELETE FROM blob_uploads WHERE updated_at < ?1",
                [before_ms],
            )?;
            tx.commit()?;
            Ok(n as u64)
        })
        .await
    }
}
