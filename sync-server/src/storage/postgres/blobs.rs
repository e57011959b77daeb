//! Blob uploads and file access on PostgreSQL (decisions in [`crate::storage::blobs`]): a
//! device's upload row is locked (`FOR UPDATE`) so its chunks apply one after the other; a
//! complete blob is kept once per tenant; holders; the vouched flag of attachments a push wrote.

use super::{meta_at, PostgresStorage};
use crate::error::StorageError;
use crate::policy::Viewer;
use crate::rows::{Device, DocMeta};
use crate::storage::blobs::{self, Append, AppendPlan, BlobStatus, BlobStore, Upload};
use crate::storage::plan::WritePlan;
use crate::storage::values::{to_i64, to_u64};
use async_trait::async_trait;
use deadpool_postgres::{GenericClient, Transaction};
use std::collections::HashMap;

async fn complete(
    c: &impl GenericClient,
    tenant: &str,
    sha: &str,
) -> Result<Option<BlobStatus>, StorageError> {
    let Some(row) = c
        .query_opt(
            "SELECT size FROM blobs WHERE tenant_id = $1 AND sha256 = $2 AND complete",
            &[&tenant, &sha],
        )
        .await?
    else {
        return Ok(None);
    };
    let size = to_u64(row.try_get(0)?, "blobs.size")?;
    Ok(Some(BlobStatus {
        size,
        received: size,
        complete: true,
    }))
}

async fn upload(
    c: &impl GenericClient,
    tenant: &str,
    sha: &str,
    device: &str,
    for_update: bool,
) -> Result<Option<Upload>, StorageError> {
    let sql = if for_update {
        "SELECT size, received, updated_at FROM blob_uploads
         WHERE tenant_id = $1 AND sha256 = $2 AND device_id = $3 FOR UPDATE"
    } else {
        "SELECT size, received, updated_at FROM blob_uploads
         WHERE tenant_id = $1 AND sha256 = $2 AND device_id = $3"
    };
    let Some(row) = c.query_opt(sql, &[&tenant, &sha, &device]).await? else {
        return Ok(None);
    };
    Ok(Some(Upload {
        size: to_u64(row.try_get(0)?, "blob_uploads.size")?,
        received: to_u64(row.try_get(1)?, "blob_uploads.received")?,
        updated_at_ms: row.try_get(2)?,
    }))
}

async fn drop_upload(
    tx: &Transaction<'_>,
    tenant: &str,
    sha: &str,
    device: &str,
) -> Result<(), StorageError> {
    tx.execute(
        "DELETE FROM blob_upload_chunks WHERE tenant_id = $1 AND sha256 = $2 AND device_id = $3",
        &[&tenant, &sha, &device],
    )
    .await?;
    tx.execute(
        "DELETE FROM blob_uploads WHERE tenant_id = $1 AND sha256 = $2 AND device_id = $3",
        &[&tenant, &sha, &device],
    )
    .await?;
    Ok(())
}

async fn attachments(
    c: &impl GenericClient,
    tenant: &str,
    sha: &str,
) -> Result<Vec<(String, String, DocMeta)>, StorageError> {
    c.query(
        "SELECT d.record_id, d.kind, r.owner, d.root, d.field FROM documents d
         LEFT JOIN documents r ON r.record_id = COALESCE(d.root, d.record_id)
         WHERE d.tenant_id = $1 AND d.blob = $2 AND d.blob_vouched",
        &[&tenant, &sha],
    )
    .await?
    .iter()
    .map(|r| Ok((r.try_get(0)?, r.try_get(1)?, meta_at(r, 2)?)))
    .collect()
}

async fn held(
    c: &impl GenericClient,
    tenant: &str,
    sha: &str,
    user: &str,
) -> Result<bool, StorageError> {
    Ok(c.query_opt(
        "SELECT 1 FROM blob_holders WHERE tenant_id = $1 AND sha256 = $2 AND user_id = $3",
        &[&tenant, &sha, &user],
    )
    .await?
    .is_some())
}

/// Before a plan is written: the blob and vouched flag stored for each attachment it writes.
pub(super) async fn prior_vouches(
    tx: &Transaction<'_>,
    plan: &WritePlan,
) -> Result<HashMap<String, (Option<String>, bool)>, StorageError> {
    let records: Vec<&str> = plan
        .docs
        .iter()
        .filter(|d| d.blob.is_some())
        .map(|d| d.record.as_str())
        .collect();
    let mut out = HashMap::new();
    if records.is_empty() {
        return Ok(out);
    }
    for row in tx
        .query(
            "SELECT record_id, blob, blob_vouched FROM documents WHERE record_id = ANY($1)",
            &[&records],
        )
        .await?
    {
        out.insert(row.try_get(0)?, (row.try_get(1)?, row.try_get(2)?));
    }
    Ok(out)
}

/// After a plan is written by `viewer`'s device: whether each attachment it wrote is vouched.
pub(super) async fn vouch(
    tx: &Transaction<'_>,
    device: &Device,
    viewer: &Viewer,
    plan: &WritePlan,
    prior: &HashMap<String, (Option<String>, bool)>,
) -> Result<(), StorageError> {
    for d in &plan.docs {
        let Some(blob) = d.blob.as_deref() else {
            continue;
        };
        let before = prior.get(&d.record).map(|(b, v)| (b.as_deref(), *v));
        let others: Vec<_> = attachments(tx, &device.tenant_id, blob)
            .await?
            .into_iter()
            .filter(|(id, _, _)| *id != d.record)
            .collect();
        let holds = held(tx, &device.tenant_id, blob, &device.user_id).await?;
        let ok = blobs::vouched(viewer, blob, before, holds, &others);
        tx.execute(
            "UPDATE documents SET blob_vouched = $2 WHERE record_id = $1",
            &[&d.record, &ok],
        )
        .await?;
    }
    Ok(())
}

#[async_trait]
impl BlobStore for PostgresStorage {
    async fn blob_status(
        &self,
        tenant_id: &str,
        device_id: &str,
        sha256: &str,
        expired_before_ms: i64,
    ) -> Result<Option<BlobStatus>, StorageError> {
        blobs::check_name(sha256)?;
        let client = self.client().await?;
        if let Some(u) = upload(&client, tenant_id, sha256, device_id, false)
            .await?
            .filter(|u| u.updated_at_ms >= expired_before_ms)
        {
            return Ok(Some(BlobStatus {
                size: u.size,
                received: u.received,
                complete: false,
            }));
        }
        complete(&client, tenant_id, sha256).await
    }

    async fn blob_append(
        &self,
        device: &Device,
        a: Append<'_>,
    ) -> Result<BlobStatus, StorageError> {
        blobs::check_name(a.sha256)?;
        let (tenant, sha) = (device.tenant_id.as_str(), a.sha256);
        let size = to_i64(a.size, "size")?;
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        // Lock the device's upload of this blob: its concurrent chunks apply one at a time.
        tx.execute(
            "INSERT INTO blob_uploads (tenant_id, sha256, device_id, size, received, updated_at)
             VALUES ($1, $2, $3, $4, 0, $5) ON CONFLICT DO NOTHING",
            &[&tenant, &sha, &device.id, &size, &a.now_ms],
        )
        .await?;
        // A row this transaction just created (nothing received) plans like no upload at all;
        // a refused chunk rolls it back.
        let own = upload(&tx, tenant, sha, &device.id, true).await?;
        let done = complete(&tx, tenant, sha).await?;
        let unfinished: i64 = tx
            .query_one(
                "SELECT COALESCE(SUM(received), 0)::BIGINT FROM blob_uploads
                 WHERE device_id = $1 AND updated_at >= $2 AND received > 0",
                &[&device.id, &a.expired_before_ms],
            )
            .await?
            .try_get(0)?;
        let plan = blobs::plan_append(&a, done, own, to_u64(unfinished, "unfinished")?);
        let Ok(AppendPlan::Store {
            restart, received, ..
        }) = plan
        else {
            tx.rollback().await?;
            return match plan {
                Ok(_) => done.ok_or_else(|| StorageError::Internal("blob vanished".into())),
                Err(e) => Err(e),
            };
        };
        if restart {
            tx.execute(
                "DELETE FROM blob_upload_chunks WHERE tenant_id = $1 AND sha256 = $2 AND device_id = $3",
                &[&tenant, &sha, &device.id],
            )
            .await?;
        }
        tx.execute(
            "INSERT INTO blob_upload_chunks (tenant_id, sha256, device_id, pos, data)
             VALUES ($1, $2, $3, $4, $5)",
            &[
                &tenant,
                &sha,
                &device.id,
                &to_i64(a.offset, "offset")?,
                &a.chunk,
            ],
        )
        .await?;
        if received < a.size {
            tx.execute(
                "UPDATE blob_uploads SET size = $4, received = $5, updated_at = $6
                 WHERE tenant_id = $1 AND sha256 = $2 AND device_id = $3",
                &[
                    &tenant,
                    &sha,
                    &device.id,
                    &size,
                    &to_i64(received, "received")?,
                    &a.now_ms,
                ],
            )
            .await?;
            tx.commit().await?;
            return Ok(BlobStatus {
                size: a.size,
                received,
                complete: false,
            });
        }
        let chunks: Vec<Vec<u8>> = tx
            .query(
                "SELECT data FROM blob_upload_chunks
                 WHERE tenant_id = $1 AND sha256 = $2 AND device_id = $3 ORDER BY pos",
                &[&tenant, &sha, &device.id],
            )
            .await?
            .iter()
            .map(|r| r.try_get(0))
            .collect::<Result<_, _>>()?;
        let verified = blobs::verify(sha, chunks.iter().map(Vec::as_slice));
        if verified.is_ok() {
            let created = tx
                .execute(
                    "INSERT INTO blobs (tenant_id, sha256, size, received, complete, created_at)
                     VALUES ($1, $2, $3, $3, TRUE, $4) ON CONFLICT DO NOTHING",
                    &[&tenant, &sha, &size, &a.now_ms],
                )
                .await?;
            if created == 1 {
                tx.execute(
                    "INSERT INTO blob_chunks (tenant_id, sha256, pos, data)
                     SELECT tenant_id, sha256, pos, data FROM blob_upload_chunks
                     WHERE tenant_id = $1 AND sha256 = $2 AND device_id = $3",
                    &[&tenant, &sha, &device.id],
                )
                .await?;
            }
            tx.execute(
                "INSERT INTO blob_holders (tenant_id, sha256, user_id, at_ms)
                 VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
                &[&tenant, &sha, &device.user_id, &a.now_ms],
            )
            .await?;
        }
        // Verified or not, the device's upload is finished with (bad bytes are discarded,
        // committed, so that the device can upload again).
        drop_upload(&tx, tenant, sha, &device.id).await?;
        tx.commit().await?;
        verified.map(|()| BlobStatus {
            size: a.size,
            received: a.size,
            complete: true,
        })
    }

    async fn blob_read(
        &self,
        tenant_id: &str,
        sha256: &str,
    ) -> Result<Option<Vec<u8>>, StorageError> {
        blobs::check_name(sha256)?;
        let client = self.client().await?;
        if complete(&client, tenant_id, sha256).await?.is_none() {
            return Ok(None);
        }
        let mut out = Vec::new();
        for row in client
            .query(
                "SELECT data FROM blob_chunks WHERE tenant_id = $1 AND sha256 = $2 ORDER BY pos",
                &[&tenant_id, &sha256],
            )
            .await?
        {
            out.extend_from_slice(row.try_get::<_, &[u8]>(0)?);
        }
        Ok(Some(out))
    }

    async fn blob_held(
        &self,
        tenant_id: &str,
        sha256: &str,
        user_id: &str,
    ) -> Result<bool, StorageError> {
        held(&self.client().await?, tenant_id, sha256, user_id).await
    }

    async fn blob_attachments(
        &self,
        tenant_id: &str,
        sha256: &str,
    ) -> Result<Vec<(String, String, DocMeta)>, StorageError> {
        attachments(&self.client().await?, tenant_id, sha256).await
    }

    async fn blob_expire(&self, before_ms: i64) -> Result<u64, StorageError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        tx.execute(
            "DELETE FROM blob_upload_chunks c USING blob_uploads u
             WHERE u.updated_at < $1 AND c.tenant_id = u.tenant_id AND c.sha256 = u.sha256
                 AND c.device_id = u.device_id",
            &[&before_ms],
        )
        .await?;
        let n = tx
            .execute(
                "DELETE FROM blob_uploads WHERE updated_at < $1",
                &[&before_ms],
            )
            .await?;
        tx.commit().await?;
        Ok(n)
    }
}
