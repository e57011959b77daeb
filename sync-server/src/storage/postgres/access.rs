//! Roles, teams, shares and scope listings on PostgreSQL (see crate::access). Every write
//! locks the tenant's row and moves its scope epoch in its transaction.

use super::{meta_at, snapshot_row, PostgresStorage};
use crate::error::StorageError;
use crate::rows::DocMeta;
use crate::rows::{AccessConfig, Sharing};
use crate::storage::access::{config_from_rows, AccessStore};
use crate::storage::values::to_u64;
use async_trait::async_trait;
use deadpool_postgres::Transaction;
use outpost_core::sync::protocol::DocSnapshot;

/// Locks an existing tenant's row for an access write.
async fn lock(tx: &Transaction<'_>, tenant_id: &str) -> Result<(), StorageError> {
    tx.query_opt(
        "SELECT 1 FROM tenants WHERE id = $1 FOR UPDATE",
        &[&tenant_id],
    )
    .await?
    .ok_or_else(|| StorageError::NotFound(format!("tenant {tenant_id}")))?;
    Ok(())
}

/// Moves the scope epoch and commits.
async fn finish(tx: Transaction<'_>, tenant_id: &str) -> Result<(), StorageError> {
    tx.execute(
        "UPDATE tenants SET scope_epoch = scope_epoch + 1 WHERE id = $1",
        &[&tenant_id],
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

async fn team_exists(
    tx: &Transaction<'_>,
    tenant_id: &str,
    name: &str,
) -> Result<bool, StorageError> {
    Ok(tx
        .query_opt(
            "SELECT 1 FROM teams WHERE tenant_id = $1 AND name = $2",
            &[&tenant_id, &name],
        )
        .await?
        .is_some())
}

#[async_trait]
impl AccessStore for PostgresStorage {
    async fn access_config(&self, tenant_id: &str) -> Result<AccessConfig, StorageError> {
        let mut client = self.client().await?;
        let tx = client
            .build_transaction()
            .isolation_level(tokio_postgres::IsolationLevel::RepeatableRead)
            .read_only(true)
            .start()
            .await?;
        let row = tx
            .query_opt(
                "SELECT sharing, scope_epoch, lease_ms, grace_ms FROM tenants WHERE id = $1",
                &[&tenant_id],
            )
            .await?
            .ok_or_else(|| StorageError::NotFound(format!("tenant {tenant_id}")))?;
        let (sharing, epoch): (String, i64) = (row.try_get(0)?, row.try_get(1)?);
        let lease: (Option<i64>, Option<i64>) = (row.try_get(2)?, row.try_get(3)?);
        let pairs = |rows: Vec<tokio_postgres::Row>| {
            rows.iter()
                .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
                .collect::<Result<Vec<_>, StorageError>>()
        };
        let roles = pairs(
            tx.query(
                "SELECT role, permissions FROM access_roles WHERE tenant_id = $1",
                &[&tenant_id],
            )
            .await?,
        )?;
        let teams = tx
            .query(
                "SELECT name, manager FROM teams WHERE tenant_id = $1",
                &[&tenant_id],
            )
            .await?
            .iter()
            .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
            .collect::<Result<Vec<_>, StorageError>>()?;
        let members = pairs(
            tx.query(
                "SELECT user_id, team FROM team_members WHERE tenant_id = $1",
                &[&tenant_id],
            )
            .await?,
        )?;
        tx.commit().await?;
        config_from_rows(
            &sharing,
            to_u64(epoch, "tenants.scope_epoch")?,
            lease,
            roles,
            teams,
            members,
        )
    }

    async fn shares_of(&self, tenant_id: &str, user: &str) -> Result<Vec<String>, StorageError> {
        self.client()
            .await?
            .query(
                "SELECT record_id FROM shares WHERE tenant_id = $1 AND user_id = $2",
                &[&tenant_id, &user],
            )
            .await?
            .iter()
            .map(|r| Ok(r.try_get(0)?))
            .collect()
    }

    async fn shared_with(
        &self,
        tenant_id: &str,
        record: &str,
    ) -> Result<Vec<String>, StorageError> {
        self.client()
            .await?
            .query(
                "SELECT user_id FROM shares WHERE tenant_id = $1 AND record_id = $2
                 ORDER BY user_id",
                &[&tenant_id, &record],
            )
            .await?
            .iter()
            .map(|r| Ok(r.try_get(0)?))
            .collect()
    }

    async fn set_sharing(&self, tenant_id: &str, sharing: Sharing) -> Result<(), StorageError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        lock(&tx, tenant_id).await?;
        tx.execute(
            "UPDATE tenants SET sharing = $2 WHERE id = $1",
            &[&tenant_id, &sharing.as_str()],
        )
        .await?;
        finish(tx, tenant_id).await
    }

    async fn set_lease(
        &self,
        tenant_id: &str,
        lease: Option<(i64, i64)>,
    ) -> Result<(), StorageError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        lock(&tx, tenant_id).await?;
        tx.execute(
            "UPDATE tenants SET lease_ms = $2, grace_ms = $3 WHERE id = $1",
            &[&tenant_id, &lease.map(|l| l.0), &lease.map(|l| l.1)],
        )
        .await?;
        finish(tx, tenant_id).await
    }

    async fn set_role(
        &self,
        tenant_id: &str,
        role: &str,
        permissions: Option<&[String]>,
    ) -> Result<(), StorageError> {
        let json = permissions
            .map(serde_json::to_string)
            .transpose()
            .map_err(|e| StorageError::Internal(format!("permissions: {e}")))?;
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        lock(&tx, tenant_id).await?;
        match json {
            Some(json) => {
                tx.execute(
                    "INSERT INTO access_roles (tenant_id, role, permissions) VALUES ($1, $2, $3)
                     ON CONFLICT (tenant_id, role) DO UPDATE SET permissions = EXCLUDED.permissions",
                    &[&tenant_id, &role, &json],
                )
                .await?
            }
            None => {
                tx.execute(
                    "DELETE FROM access_roles WHERE tenant_id = $1 AND role = $2",
                    &[&tenant_id, &role],
                )
                .await?
            }
        };
        finish(tx, tenant_id).await
    }

    async fn create_team(
        &self,
        tenant_id: &str,
        name: &str,
        manager: Option<&str>,
    ) -> Result<(), StorageError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        lock(&tx, tenant_id).await?;
        if team_exists(&tx, tenant_id, name).await? {
            return Err(StorageError::Conflict(format!(
                "a team named {name:?} already exists"
            )));
        }
        tx.execute(
            "INSERT INTO teams (tenant_id, name, manager) VALUES ($1, $2, $3)",
            &[&tenant_id, &name, &manager],
        )
        .await?;
        finish(tx, tenant_id).await
    }

    async fn delete_team(&self, tenant_id: &str, name: &str) -> Result<(), StorageError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        lock(&tx, tenant_id).await?;
        if !team_exists(&tx, tenant_id, name).await? {
            return Err(StorageError::NotFound(format!("team {name}")));
        }
        tx.execute(
            "DELETE FROM team_members WHERE tenant_id = $1 AND team = $2",
            &[&tenant_id, &name],
        )
        .await?;
        tx.execute(
            "DELETE FROM teams WHERE tenant_id = $1 AND name = $2",
            &[&tenant_id, &name],
        )
        .await?;
        finish(tx, tenant_id).await
    }

    async fn set_team_manager(
        &self,
        tenant_id: &str,
        name: &str,
        manager: Option<&str>,
    ) -> Result<(), StorageError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        lock(&tx, tenant_id).await?;
        if !team_exists(&tx, tenant_id, name).await? {
            return Err(StorageError::NotFound(format!("team {name}")));
        }
        tx.execute(
            "UPDATE teams SET manager = $3 WHERE tenant_id = $1 AND name = $2",
            &[&tenant_id, &name, &manager],
        )
        .await?;
        finish(tx, tenant_id).await
    }

    async fn set_team_member(
        &self,
        tenant_id: &str,
        user: &str,
        team: Option<&str>,
    ) -> Result<(), StorageError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        lock(&tx, tenant_id).await?;
        tx.execute(
            "DELETE FROM team_members WHERE tenant_id = $1 AND user_id = $2",
            &[&tenant_id, &user],
        )
        .await?;
        if let Some(team) = team {
            if !team_exists(&tx, tenant_id, team).await? {
                return Err(StorageError::NotFound(format!("team {team}")));
            }
            tx.execute(
                "INSERT INTO team_members (tenant_id, user_id, team) VALUES ($1, $2, $3)",
                &[&tenant_id, &user, &team],
            )
            .await?;
        }
        finish(tx, tenant_id).await
    }

    async fn set_share(
        &self,
        tenant_id: &str,
        record: &str,
        user: &str,
        shared: bool,
    ) -> Result<(), StorageError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        lock(&tx, tenant_id).await?;
        let exists = tx
            .query_opt(
                "SELECT 1 FROM documents WHERE record_id = $1 AND tenant_id = $2",
                &[&record, &tenant_id],
            )
            .await?
            .is_some();
        if !exists {
            return Err(StorageError::NotFound(format!("record {record}")));
        }
        if shared {
            tx.execute(
                "INSERT INTO shares (tenant_id, user_id, record_id) VALUES ($1, $2, $3)
                 ON CONFLICT DO NOTHING",
                &[&tenant_id, &user, &record],
            )
            .await?;
        } else {
            tx.execute(
                "DELETE FROM shares WHERE tenant_id = $1 AND user_id = $2 AND record_id = $3",
                &[&tenant_id, &user, &record],
            )
            .await?;
        }
        finish(tx, tenant_id).await
    }

    async fn set_user_disabled(
        &self,
        tenant_id: &str,
        user: &str,
        disabled: bool,
    ) -> Result<(), StorageError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        lock(&tx, tenant_id).await?;
        if disabled {
            tx.execute(
                "INSERT INTO disabled_users (tenant_id, user_id) VALUES ($1, $2)
                 ON CONFLICT DO NOTHING",
                &[&tenant_id, &user],
            )
            .await?;
        } else {
            tx.execute(
                "DELETE FROM disabled_users WHERE tenant_id = $1 AND user_id = $2",
                &[&tenant_id, &user],
            )
            .await?;
        }
        finish(tx, tenant_id).await
    }

    async fn user_disabled(&self, tenant_id: &str, user: &str) -> Result<bool, StorageError> {
        Ok(self
            .client()
            .await?
            .query_opt(
                "SELECT 1 FROM disabled_users WHERE tenant_id = $1 AND user_id = $2",
                &[&tenant_id, &user],
            )
            .await?
            .is_some())
    }

    async fn blob_records(
        &self,
        tenant_id: &str,
        sha256: &str,
    ) -> Result<Vec<(String, String, DocMeta)>, StorageError> {
        self.client()
            .await?
            .query(
                "SELECT d.record_id, d.kind, r.owner, d.root, d.field FROM documents d
                 LEFT JOIN documents r ON r.record_id = COALESCE(d.root, d.record_id)
                 WHERE d.tenant_id = $1 AND d.blob = $2 AND d.blob_vouched",
                &[&tenant_id, &sha256],
            )
            .await?
            .iter()
            .map(|r| Ok((r.try_get(0)?, r.try_get(1)?, meta_at(r, 2)?)))
            .collect()
    }

    async fn scope_rows(
        &self,
        tenant_id: &str,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Vec<(String, String, DocMeta)>, StorageError> {
        self.client()
            .await?
            .query(
                "SELECT d.record_id, d.kind, r.owner, d.root, d.field FROM documents d
                 LEFT JOIN documents r ON r.record_id = COALESCE(d.root, d.record_id)
                 WHERE d.tenant_id = $1 AND d.record_id > $2 ORDER BY d.record_id LIMIT $3",
                &[&tenant_id, &after.unwrap_or(""), &i64::from(limit)],
            )
            .await?
            .iter()
            .map(|r| Ok((r.try_get(0)?, r.try_get(1)?, meta_at(r, 2)?)))
            .collect()
    }

    async fn scope_docs(
        &self,
        tenant_id: &str,
        ids: &[String],
    ) -> Result<Vec<(DocSnapshot, DocMeta)>, StorageError> {
        self.client()
            .await?
            .query(
                "SELECT d.record_id, d.kind, d.doc, r.owner, d.root, d.field, d.summary FROM documents d
                 LEFT JOIN documents r ON r.record_id = COALESCE(d.root, d.record_id)
                 WHERE d.record_id = ANY($1) AND d.tenant_id = $2 ORDER BY d.record_id",
                &[&ids, &tenant_id],
            )
            .await?
            .iter()
            .map(snapshot_row)
            .collect()
    }
}
