//! Enrolment on SQLite: one-time codes, token rotation, device reports (see
//! crate::storage::enrol). A code is redeemed in one `BEGIN IMMEDIATE` transaction, so two
//! devices racing with the same code enrol one device.

use super::{get_device, insert_device, SqliteStorage};
use crate::error::StorageError;
use crate::rows::{Device, Tenant};
use crate::storage::enrol::{DeviceReport, EnrolStore, Invite, Refusal};
use crate::storage::values::{new_id, to_i64, to_u64};
use async_trait::async_trait;
use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};

/// Appended to the backend's migrations.
pub(super) const MIGRATION: &str = r#"
-- enrolment codes and what devices report at sync
CREATE TABLE invites (
    code_hash TEXT PRIMARY KEY,
    tenant_id TEXT NOT NULL REFERENCES tenants(id),
    user_id TEXT NOT NULL,
    role TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    used_at INTEGER,
    device_id TEXT
) WITHOUT ROWID;
CREATE TABLE device_reports (
    device_id TEXT PRIMARY KEY REFERENCES devices(id),
    app_version TEXT,
    outbox INTEGER,
    synced_at INTEGER NOT NULL
) WITHOUT ROWID;
"#;

fn read_invite(
    c: &Connection,
    code_hash: &str,
) -> Result<Option<(Invite, Option<i64>)>, StorageError> {
    let row = c
        .prepare_cached(
            "SELECT tenant_id, user_id, role, created_at, expires_at, used_at FROM invites WHERE code_hash = ?1",
        )?
        .query_row([code_hash], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, i64>(3)?,
                r.get::<_, i64>(4)?,
                r.get::<_, Option<i64>>(5)?,
            ))
        })
        .optional()?;
    row.map(
        |(tenant_id, user_id, role, created_at_ms, expires_at_ms, used)| {
            let role = role
                .parse()
                .map_err(|e| StorageError::Corrupt(format!("invite of {user_id}: {e}")))?;
            Ok((
                Invite {
                    code_hash: code_hash.to_string(),
                    tenant_id,
                    user_id,
                    role,
                    created_at_ms,
                    expires_at_ms,
                },
                used,
            ))
        },
    )
    .transpose()
}

#[async_trait]
impl EnrolStore for SqliteStorage {
    async fn create_invite(&self, invite: &Invite) -> Result<(), StorageError> {
        let invite = invite.clone();
        self.write(move |c| {
            let exists: Option<i64> = c
                .query_row(
                    "SELECT 1 FROM tenants WHERE id = ?1",
                    [&invite.tenant_id],
                    |r| r.get(0),
                )
                .optional()?;
            if exists.is_none() {
                return Err(StorageError::NotFound(format!(
                    "tenant {}",
                    invite.tenant_id
                )));
            }
            c.execute(
                "INSERT INTO invites (code_hash, tenant_id, user_id, role, created_at, expires_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![
                    invite.code_hash,
                    invite.tenant_id,
                    invite.user_id,
                    invite.role.as_str(),
                    invite.created_at_ms,
                    invite.expires_at_ms
                ],
            )?;
            Ok(())
        })
        .await
    }

    async fn invite(&self, code_hash: &str) -> Result<Option<(Invite, Option<i64>)>, StorageError> {
        let code_hash = code_hash.to_string();
        self.read(move |c| read_invite(c, &code_hash)).await
    }

    async fn redeem_invite(
        &self,
        code_hash: &str,
        token_hash: &str,
        now_ms: i64,
    ) -> Result<Result<Device, Refusal>, StorageError> {
        let (code_hash, token_hash) = (code_hash.to_string(), token_hash.to_string());
        self.write(move |c| {
            let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let Some((invite, used)) = read_invite(&tx, &code_hash)? else {
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
            insert_device(&tx, &device, &token_hash)?;
            tx.execute(
                "UPDATE invites SET used_at = ?2, device_id = ?3 WHERE code_hash = ?1",
                params![code_hash, now_ms, device.id],
            )?;
            tx.commit()?;
            Ok(Ok(device))
        })
        .await
    }

    async fn rotate_token(
        &self,
        device_id: &str,
        token_hash: &str,
    ) -> Result<Device, StorageError> {
        let (device_id, token_hash) = (device_id.to_string(), token_hash.to_string());
        self.write(move |c| {
            let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let device = get_device(&tx, &device_id)?
                .ok_or_else(|| StorageError::NotFound(format!("device {device_id}")))?;
            if device.revoked_at_ms.is_some() {
                return Err(StorageError::Conflict(format!(
                    "device {device_id} is revoked: enrol a new device instead"
                )));
            }
            tx.execute(
                "UPDATE devices SET token_hash = ?2 WHERE id = ?1",
                params![device_id, token_hash],
            )?;
            tx.commit()?;
            Ok(device)
        })
        .await
    }

    async fn list_tenants(&self) -> Result<Vec<Tenant>, StorageError> {
        self.read(|c| {
            let mut stmt =
                c.prepare("SELECT id, name, log_head, created_at FROM tenants ORDER BY name")?;
            let rows = stmt
                .query_map([], |r| {
                    Ok((
                        r.get::<_, String>(0)?,
                        r.get::<_, String>(1)?,
                        r.get::<_, i64>(2)?,
                        r.get::<_, i64>(3)?,
                    ))
                })?
                .collect::<Result<Vec<_>, _>>()?;
            rows.into_iter()
                .map(|(id, name, head, created_at_ms)| {
                    Ok(Tenant {
                        log_head: to_u64(head, "tenants.log_head")?,
                        id,
                        name,
                        created_at_ms,
                    })
                })
                .collect()
        })
        .await
    }

    async fn put_device_report(
        &self,
        device_id: &str,
        report: &DeviceReport,
    ) -> Result<(), StorageError> {
        let (device_id, report) = (device_id.to_string(), report.clone());
        let outbox = report.outbox.map(|n| to_i64(n, "outbox")).transpose()?;
        self.write(move |c| {
            c.prepare_cached(
                "INSERT INTO device_reports (device_id, app_version, outbox, synced_at)
                 VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (device_id) DO UPDATE SET
                     app_version = COALESCE(excluded.app_version, device_reports.app_version),
                     outbox = excluded.outbox, synced_at = excluded.synced_at",
            )?
            .execute(params![
                device_id,
                report.app_version,
                outbox,
                report.synced_at_ms
            ])?;
            Ok(())
        })
        .await
    }

    async fn device_reports(
        &self,
        tenant_id: &str,
    ) -> Result<Vec<(String, DeviceReport)>, StorageError> {
        let tenant_id = tenant_id.to_string();
        self.read(move |c| {
            let mut stmt = c.prepare(
                "SELECT r.device_id, r.app_version, r.outbox, r.synced_at FROM device_reports r
                 JOIN devices d ON d.id = r.device_id WHERE d.tenant_id = ?1 ORDER BY r.device_id",
            )?;
            let rows = stmt
                .query_map([&tenant_id], |r| {
                    Ok((
                        r.get::<_, String>(0)?,
                        r.get::<_, Option<String>>(1)?,
                        r.get::<_, Option<i64>>(2)?,
                        r.get::<_, i64>(3)?,
                    ))
                })?
                .collect::<Result<Vec<_>, _>>()?;
            rows.into_iter()
                .map(|(id, app_version, outbox, synced_at_ms)| {
                    Ok((
                        id,
                        DeviceReport {
                            app_version,
                            outbox: outbox
                                .map(|n| to_u64(n, "device_reports.outbox"))
                                .transpose()?,
                            synced_at_ms,
                        },
                    ))
                })
                .collect()
        })
        .await
    }
}
