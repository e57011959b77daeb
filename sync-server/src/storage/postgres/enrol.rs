//! Enrolment on PostgreSQL: one-time codes, token rotation, device reports (see
//! crate::storage::enrol). A code is redeemed in one transaction that locks its row
//! (`SELECT ... FOR UPDATE`), so two devices racing with the same code enrol one device.

use super::{device_from_row, insert_device, tenant_from_row, PostgresStorage, DEVICE_COLUMNS};
use crate::error::StorageError;
use crate::rows::{Device, Tenant};
use crate::storage::enrol::{DeviceReport, EnrolStore, Invite, Refusal};
use crate::storage::values::{new_id, to_i64, to_u64};
use async_trait::async_trait;
use deadpool_postgres::GenericClient;
use tokio_postgres::Row;

/// Appended to the backend's migrations.
pub(super) const MIGRATION: &str = r#"
-- enrolment codes and what devices report at sync
CREATE TABLE invites (
    code_hash TEXT PRIMARY KEY,
    tenant_id TEXT NOT NULL REFERENCES tenants(id),
    user_id TEXT NOT NULL,
    role TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    used_at BIGINT,
    device_id TEXT
);
CREATE TABLE device_reports (
    device_id TEXT PRIMARY KEY REFERENCES devices(id),
    app_version TEXT,
    outbox BIGINT,
    synced_at BIGINT NOT NULL
);
"#;

const INVITE_COLUMNS: &str = "code_hash, tenant_id, user_id, role, created_at, expires_at, used_at";

fn invite_from_row(row: &Row) -> Result<(Invite, Option<i64>), StorageError> {
    let user_id: String = row.try_get(2)?;
    let role: String = row.try_get(3)?;
    Ok((
        Invite {
            code_hash: row.try_get(0)?,
            tenant_id: row.try_get(1)?,
            role: role
                .parse()
                .map_err(|e| StorageError::Corrupt(format!("invite of {user_id}: {e}")))?,
            user_id,
            created_at_ms: row.try_get(4)?,
            expires_at_ms: row.try_get(5)?,
        },
        row.try_get(6)?,
    ))
}

async fn read_invite(
    c: &impl GenericClient,
    code_hash: &str,
    lock: bool,
) -> Result<Option<(Invite, Option<i64>)>, StorageError> {
    let sql = format!(
        "SELECT {INVITE_COLUMNS} FROM invites WHERE code_hash = $1{}",
        if lock { " FOR UPDATE" } else { "" }
    );
    c.query_opt(&sql, &[&code_hash])
        .await?
        .as_ref()
        .map(invite_from_row)
        .transpose()
}

#[async_trait]
impl EnrolStore for PostgresStorage {
    async fn create_invite(&self, invite: &Invite) -> Result<(), StorageError> {
        let client = self.client().await?;
        if client
            .query_opt("SELECT 1 FROM tenants WHERE id = $1", &[&invite.tenant_id])
            .await?
            .is_none()
        {
            return Err(StorageError::NotFound(format!(
                "tenant {}",
                invite.tenant_id
            )));
        }
        client
            .execute(
                "INSERT INTO invites (code_hash, tenant_id, user_id, role, created_at, expires_at)
                 VALUES ($1, $2, $3, $4, $5, $6)",
                &[
                    &invite.code_hash,
                    &invite.tenant_id,
                    &invite.user_id,
                    &invite.role.as_str(),
                    &invite.created_at_ms,
                    &invite.expires_at_ms,
                ],
            )
            .await?;
        Ok(())
    }

    async fn invite(&self, code_hash: &str) -> Result<Option<(Invite, Option<i64>)>, StorageError> {
        read_invite(&self.client().await?, code_hash, false).await
    }

    async fn redeem_invite(
        &self,
        code_hash: &str,
        token_hash: &str,
        now_ms: i64,
    ) -> Result<Result<Device, Refusal>, StorageError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        let Some((invite, used)) = read_invite(&tx, code_hash, true).await? else {
            return Ok(Err(Refusal::Unknown));
        };
        if used.is_some() {
            return Ok(Err(Refusal::Used));
        }
        if invite.expires_at_ms <= now_ms {
            return Ok(Err(Refusal::Expired));
        }
        let device = Device {
            id: new_id(),
            tenant_id: invite.tenant_id,
            user_id: invite.user_id,
            role: invite.role,
            created_at_ms: now_ms,
            revoked_at_ms: None,
            last_seen_at_ms: None,
        };
        insert_device(&tx, &device, token_hash).await?;
        tx.execute(
            "UPDATE invites SET used_at = $2, device_id = $3 WHERE code_hash = $1",
            &[&code_hash, &now_ms, &device.id],
        )
        .await?;
        tx.commit().await?;
        Ok(Ok(device))
    }

    async fn rotate_token(
        &self,
        device_id: &str,
        token_hash: &str,
    ) -> Result<Device, StorageError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        let row = tx
            .query_opt(
                &format!("SELECT {DEVICE_COLUMNS} FROM devices WHERE id = $1 FOR UPDATE"),
                &[&device_id],
            )
            .await?
            .ok_or_else(|| StorageError::NotFound(format!("device {device_id}")))?;
        let device = device_from_row(&row)?;
        if device.revoked_at_ms.is_some() {
            return Err(StorageError::Conflict(format!(
                "device {device_id} is revoked: enrol a new device instead"
            )));
        }
        tx.execute(
            "UPDATE devices SET token_hash = $2 WHERE id = $1",
            &[&device_id, &token_hash],
        )
        .await?;
        tx.commit().await?;
        Ok(device)
    }

    async fn list_tenants(&self) -> Result<Vec<Tenant>, StorageError> {
        let rows = self
            .client()
            .await?
            .query(
                "SELECT id, name, log_head, created_at FROM tenants ORDER BY name",
                &[],
            )
            .await?;
        rows.iter().map(tenant_from_row).collect()
    }

    async fn put_device_report(
        &self,
        device_id: &str,
        report: &DeviceReport,
    ) -> Result<(), StorageError> {
        let outbox = report.outbox.map(|n| to_i64(n, "outbox")).transpose()?;
        self.client()
            .await?
            .execute(
                "INSERT INTO device_reports (device_id, app_version, outbox, synced_at)
                 VALUES ($1, $2, $3, $4)
                 ON CONFLICT (device_id) DO UPDATE SET
                     app_version = COALESCE(excluded.app_version, device_reports.app_version),
                     outbox = excluded.outbox, synced_at = excluded.synced_at",
                &[
                    &device_id,
                    &report.app_version,
                    &outbox,
                    &report.synced_at_ms,
                ],
            )
            .await?;
        Ok(())
    }

    async fn device_reports(
        &self,
        tenant_id: &str,
    ) -> Result<Vec<(String, DeviceReport)>, StorageError> {
        let rows = self
            .client()
            .await?
            .query(
                "SELECT r.device_id, r.app_version, r.outbox, r.synced_at FROM device_reports r
                 JOIN devices d ON d.id = r.device_id WHERE d.tenant_id = $1 ORDER BY r.device_id",
                &[&tenant_id],
            )
            .await?;
        rows.iter()
            .map(|r| {
                let outbox: Option<i64> = r.try_get(2)?;
                Ok((
                    r.try_get(0)?,
                    DeviceReport {
                        app_version: r.try_get(1)?,
                        outbox: outbox
                            .map(|n| to_u64(n, "device_reports.outbox"))
                            .transpose()?,
                        synced_at_ms: r.try_get(3)?,
                    },
                ))
            })
            .collect()
    }
}
