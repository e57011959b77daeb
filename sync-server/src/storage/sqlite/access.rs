//! Roles, teams, shares and scope listings on SQLite (see crate::access). Every write moves the
//! tenant's scope epoch in its transaction.

use super::{meta_at, snapshot_row, SqliteStorage};
use crate::error::StorageError;
use crate::rows::DocMeta;
use crate::rows::{AccessConfig, Sharing};
use crate::storage::access::{config_from_rows, AccessStore};
use crate::storage::values::to_u64;
use async_trait::async_trait;
use outpost_core::sync::protocol::DocSnapshot;
use rusqlite::{params, Connection, OptionalExtension, Transaction, TransactionBehavior};

fn require_tenant(c: &Connection, tenant_id: &str) -> Result<(), StorageError> {
    c.query_row("SELECT 1 FROM tenants WHERE id = ?1", [tenant_id], |_| {
        Ok(())
    })
    .optional()?
    .ok_or_else(|| StorageError::NotFound(format!("tenant {tenant_id}")))
}

fn team_exists(c: &Connection, tenant_id: &str, name: &str) -> Result<bool, StorageError> {
    Ok(c.query_row(
        "SELECT 1 FROM teams WHERE tenant_id = ?1 AND name = ?2",
        params![tenant_id, name],
        |_| Ok(()),
    )
    .optional()?
    .is_some())
}

fn bump(tx: &Transaction<'_>, tenant_id: &str) -> Result<(), StorageError> {
    tx.execute(
        "UPDATE tenants SET scope_epoch = scope_epoch + 1 WHERE id = ?1",
        [tenant_id],
    )?;
    Ok(())
}

impl SqliteStorage {
    /// Runs `f` in a write transaction on an existing tenant, then moves its scope epoch.
    async fn access_write<F>(&self, tenant_id: &str, f: F) -> Result<(), StorageError>
    where
        F: FnOnce(&Transaction<'_>, &str) -> Result<(), StorageError> + Send + 'static,
    {
        let tenant_id = tenant_id.to_string();
        self.write(move |c| {
            let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
            require_tenant(&tx, &tenant_id)?;
            f(&tx, &tenant_id)?;
            bump(&tx, &tenant_id)?;
            tx.commit()?;
            Ok(())
        })
        .await
    }
}

#[async_trait]
impl AccessStore for SqliteStorage {
    async fn access_config(&self, tenant_id: &str) -> Result<AccessConfig, StorageError> {
        let tenant_id = tenant_id.to_string();
        self.read(move |c| {
            let tx = c.unchecked_transaction()?;
            let (sharing, epoch, lease_ms, grace_ms): (String, i64, Option<i64>, Option<i64>) = tx
                .prepare_cached(
                    "SELECT sharing, scope_epoch, lease_ms, grace_ms FROM tenants WHERE id = ?1",
                )?
                .query_row([&tenant_id], |r| {
                    Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
                })
                .optional()?
                .ok_or_else(|| StorageError::NotFound(format!("tenant {tenant_id}")))?;
            let roles = tx
                .prepare_cached("SELECT role, permissions FROM access_roles WHERE tenant_id = ?1")?
                .query_map([&tenant_id], |r| Ok((r.get(0)?, r.get(1)?)))?
                .collect::<Result<Vec<_>, _>>()?;
            let teams = tx
                .prepare_cached("SELECT name, manager FROM teams WHERE tenant_id = ?1")?
                .query_map([&tenant_id], |r| Ok((r.get(0)?, r.get(1)?)))?
                .collect::<Result<Vec<_>, _>>()?;
            let members = tx
                .prepare_cached("SELECT user_id, team FROM team_members WHERE tenant_id = ?1")?
                .query_map([&tenant_id], |r| Ok((r.get(0)?, r.get(1)?)))?
                .collect::<Result<Vec<_>, _>>()?;
            tx.finish()?;
            config_from_rows(
                &sharing,
                to_u64(epoch, "tenants.scope_epoch")?,
                (lease_ms, grace_ms),
                roles,
                teams,
                members,
            )
        })
        .await
    }

    async fn shares_of(&self, tenant_id: &str, user: &str) -> Result<Vec<String>, StorageError> {
        let (tenant_id, user) = (tenant_id.to_string(), user.to_string());
        self.read(move |c| {
            Ok(c.prepare_cached(
                "SELECT record_id FROM shares WHERE tenant_id = ?1 AND user_id = ?2",
            )?
            .query_map(params![tenant_id, user], |r| r.get(0))?
            .collect::<Result<Vec<_>, _>>()?)
        })
        .await
    }

    async fn shared_with(
        &self,
        tenant_id: &str,
        record: &str,
    ) -> Result<Vec<String>, StorageError> {
        let (tenant_id, record) = (tenant_id.to_string(), record.to_string());
        self.read(move |c| {
            Ok(c.prepare_cached(
                "SELECT user_id FROM shares WHERE tenant_id = ?1 AND record_id = ?2
                     ORDER BY user_id",
            )?
            .query_map(params![tenant_id, record], |r| r.get(0))?
            .collect::<Result<Vec<_>, _>>()?)
        })
        .await
    }

    async fn set_sharing(&self, tenant_id: &str, sharing: Sharing) -> Result<(), StorageError> {
        self.access_write(tenant_id, move |tx, t| {
            tx.execute(
                "UPDATE tenants SET sharing = ?2 WHERE id = ?1",
                params![t, sharing.as_str()],
            )?;
            Ok(())
        })
        .await
    }

    async fn set_lease(
        &self,
        tenant_id: &str,
        lease: Option<(i64, i64)>,
    ) -> Result<(), StorageError> {
        self.access_write(tenant_id, move |tx, t| {
            tx.execute(
                "UPDATE tenants SET lease_ms = ?2, grace_ms = ?3 WHERE id = ?1",
                params![t, lease.map(|l| l.0), lease.map(|l| l.1)],
            )?;
            Ok(())
        })
        .await
    }

    async fn set_role(
        &self,
        tenant_id: &str,
        role: &str,
        permissions: Option<&[String]>,
    ) -> Result<(), StorageError> {
        let role = role.to_string();
        let json = permissions
            .map(serde_json::to_string)
            .transpose()
            .map_err(|e| StorageError::Internal(format!("permissions: {e}")))?;
        self.access_write(tenant_id, move |tx, t| {
            match json {
                Some(json) => tx.execute(
                    "INSERT INTO access_roles (tenant_id, role, permissions) VALUES (?1, ?2, ?3)
                     ON CONFLICT (tenant_id, role) DO UPDATE SET permissions = excluded.permissions",
                    params![t, role, json],
                )?,
                None => tx.execute(
                    "DELETE FROM access_roles WHERE tenant_id = ?1 AND role = ?2",
                    params![t, role],
                )?,
            };
            Ok(())
        })
        .await
    }

    async fn create_team(
        &self,
        tenant_id: &str,
        name: &str,
        manager: Option<&str>,
    ) -> Result<(), StorageError> {
        let (name, manager) = (name.to_string(), manager.map(str::to_string));
        self.access_write(tenant_id, move |tx, t| {
            if team_exists(tx, t, &name)? {
                return Err(StorageError::Conflict(format!(
                    "a team named {name:?} already exists"
                )));
            }
            tx.execute(
                "INSERT INTO teams (tenant_id, name, manager) VALUES (?1, ?2, ?3)",
                params![t, name, manager],
            )?;
            Ok(())
        })
        .await
    }

    async fn delete_team(&self, tenant_id: &str, name: &str) -> Result<(), StorageError> {
        let name = name.to_string();
        self.access_write(tenant_id, move |tx, t| {
            if !team_exists(tx, t, &name)? {
                return Err(StorageError::NotFound(format!("team {name}")));
            }
            tx.execute(
                "DELETE FROM team_members WHERE tenant_id = ?1 AND team = ?2",
                params![t, name],
            )?;
            tx.execute(
                "DELETE FROM teams WHERE tenant_id = ?1 AND name = ?2",
                params![t, name],
            )?;
            Ok(())
        })
        .await
    }

    async fn set_team_manager(
        &self,
        tenant_id: &str,
        name: &str,
        manager: Option<&str>,
    ) -> Result<(), StorageError> {
        let (name, manager) = (name.to_string(), manager.map(str::to_string));
        self.access_write(tenant_id, move |tx, t| {
            if !team_exists(tx, t, &name)? {
                return Err(StorageError::NotFound(format!("team {name}")));
            }
            tx.execute(
                "UPDATE teams SET manager = ?3 WHERE tenant_id = ?1 AND name = ?2",
                params![t, name, manager],
            )?;
            Ok(())
        })
        .await
    }

    async fn set_team_member(
        &self,
        tenant_id: &str,
        user: &str,
        team: Option<&str>,
    ) -> Result<(), StorageError> {
        let (user, team) = (user.to_string(), team.map(str::to_string));
        self.access_write(tenant_id, move |tx, t| {
            tx.execute(
                "DELETE FROM team_members WHERE tenant_id = ?1 AND user_id = ?2",
                params![t, user],
            )?;
            if let Some(team) = team {
                if !team_exists(tx, t, &team)? {
                    return Err(StorageError::NotFound(format!("team {team}")));
                }
                tx.execute(
                    "INSERT INTO team_members (tenant_id, user_id, team) VALUES (?1, ?2, ?3)",
                    params![t, user, team],
                )?;
            }
            Ok(())
        })
        .await
    }

    async fn set_share(
        &self,
        tenant_id: &str,
        record: &str,
        user: &str,
        shared: bool,
    ) -> Result<(), StorageError> {
        let (record, user) = (record.to_string(), user.to_string());
        self.access_write(tenant_id, move |tx, t| {
            let exists = tx
                .query_row(
                    "SELECT 1 FROM documents WHERE record_id = ?1 AND tenant_id = ?2",
                    params![record, t],
                    |_| Ok(()),
                )
                .optional()?
                .is_some();
            if !exists {
                return Err(StorageError::NotFound(format!("record {record}")));
            }
            if shared {
                tx.execute(
                    "INSERT INTO shares (tenant_id, user_id, record_id) VALUES (?1, ?2, ?3)
                     ON CONFLICT DO NOTHING",
                    params![t, user, record],
                )?;
            } else {
                tx.execute(
                    "DELETE FROM shares WHERE tenant_id = ?1 AND user_id = ?2 AND record_id = ?3",
                    params![t, user, record],
                )?;
            }
            Ok(())
        })
        .await
    }

    async fn set_user_disabled(
        &self,
        tenant_id: &str,
        user: &str,
        disabled: bool,
    ) -> Result<(), StorageError> {
        let user = user.to_string();
        self.access_write(tenant_id, move |tx, t| {
            if disabled {
                tx.execute(
                    "INSERT INTO disabled_users (tenant_id, user_id) VALUES (?1, ?2)
                     ON CONFLICT DO NOTHING",
                    params![t, user],
                )?;
            } else {
                tx.execute(
                    "DELETE FROM disabled_users WHERE tenant_id = ?1 AND user_id = ?2",
                    params![t, user],
                )?;
            }
            Ok(())
        })
        .await
    }

    async fn user_disabled(&self, tenant_id: &str, user: &str) -> Result<bool, StorageError> {
        let (tenant_id, user) = (tenant_id.to_string(), user.to_string());
        self.read(move |c| {
            Ok(c.prepare_cached(
                "SELECT 1 FROM disabled_users WHERE tenant_id = ?1 AND user_id = ?2",
            )?
            .query_row(params![tenant_id, user], |_| Ok(()))
            .optional()?
            .is_some())
        })
        .await
    }

    async fn blob_records(
        &self,
        tenant_id: &str,
        sha256: &str,
    ) -> Result<Vec<(String, String, DocMeta)>, StorageError> {
        let (tenant_id, sha256) = (tenant_id.to_string(), sha256.to_string());
        self.read(move |c| {
            Ok(c.prepare_cached(
                "SELECT d.record_id, d.kind, r.owner, d.root, d.field FROM documents d
                     LEFT JOIN documents r ON r.record_id = COALESCE(d.root, d.record_id)
                     WHERE d.tenant_id = ?1 AND d.blob = ?2 AND d.blob_vouched",
            )?
            .query_map(params![tenant_id, sha256], |r| {
                Ok((r.get(0)?, r.get(1)?, meta_at(r, 2)?))
            })?
            .collect::<Result<Vec<_>, _>>()?)
        })
        .await
    }

    async fn scope_rows(
        &self,
        tenant_id: &str,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Vec<(String, String, DocMeta)>, StorageError> {
        let (tenant_id, after) = (tenant_id.to_string(), after.unwrap_or("").to_string());
        self.read(move |c| {
            Ok(c.prepare_cached(
                "SELECT d.record_id, d.kind, r.owner, d.root, d.field FROM documents d
                     LEFT JOIN documents r ON r.record_id = COALESCE(d.root, d.record_id)
                     WHERE d.tenant_id = ?1 AND d.record_id > ?2 ORDER BY d.record_id LIMIT ?3",
            )?
            .query_map(params![tenant_id, after, i64::from(limit)], |r| {
                Ok((r.get(0)?, r.get(1)?, meta_at(r, 2)?))
            })?
            .collect::<Result<Vec<_>, _>>()?)
        })
        .await
    }

    async fn scope_docs(
        &self,
        tenant_id: &str,
        ids: &[String],
    ) -> Result<Vec<(DocSnapshot, DocMeta)>, StorageError> {
        let (tenant_id, ids) = (tenant_id.to_string(), ids.to_vec());
        self.read(move |c| {
            let mut stmt = c.prepare_cached(
                "SELECT d.record_id, d.kind, d.doc, r.owner, d.root, d.field, d.summary FROM documents d
                 LEFT JOIN documents r ON r.record_id = COALESCE(d.root, d.record_id)
                 WHERE d.record_id = ?1 AND d.tenant_id = ?2",
            )?;
            let mut out = Vec::new();
            for id in &ids {
                if let Some(row) = stmt
                    .query_row(params![id, tenant_id], snapshot_row)
                    .optional()?
                {
                    out.push(row);
                }
            }
            out.sort_by(|a, b| a.0.record.cmp(&b.0.record));
            Ok(out)
        })
        .await
    }
}
