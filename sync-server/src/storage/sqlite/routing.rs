//! Lead routing on SQLite: the tenant's rules, the round-robin turns and the claims that make
//! each contact routed once (see crate::routing). Writes take `BEGIN IMMEDIATE` like every
//! writer here, so a turn is handed out once even across processes sharing the file.

use super::SqliteStorage;
use crate::error::StorageError;
use crate::storage::routing::{RoutingClaim, RoutingStore};
use crate::storage::values::{to_i64, to_u64};
use async_trait::async_trait;
use rusqlite::{params, OptionalExtension, TransactionBehavior};

/// Appended to the backend's migrations.
pub(super) const MIGRATION: &str = r#"
-- lead routing
CREATE TABLE routing_rules (
    tenant_id TEXT PRIMARY KEY REFERENCES tenants(id),
    rules TEXT NOT NULL,
    updated_at_ms INTEGER NOT NULL
);
CREATE TABLE routing_turns (
    tenant_id TEXT NOT NULL REFERENCES tenants(id),
    rule INTEGER NOT NULL,
    turns INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, rule)
) WITHOUT ROWID;
CREATE TABLE routing_claims (
    tenant_id TEXT NOT NULL REFERENCES tenants(id),
    record_id TEXT NOT NULL,
    rep TEXT NOT NULL,
    reason TEXT NOT NULL,
    at_ms INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, record_id)
) WITHOUT ROWID;
"#;

#[async_trait]
impl RoutingStore for SqliteStorage {
    async fn routing_rules_json(&self, tenant_id: &str) -> Result<Option<String>, StorageError> {
        let tenant_id = tenant_id.to_string();
        self.read(move |c| {
            Ok(
                c.prepare_cached("SELECT rules FROM routing_rules WHERE tenant_id = ?1")?
                    .query_row([&tenant_id], |r| r.get(0))
                    .optional()?,
            )
        })
        .await
    }

    async fn set_routing_rules_json(
        &self,
        tenant_id: &str,
        rules: &str,
        now_ms: i64,
    ) -> Result<(), StorageError> {
        let (tenant_id, rules) = (tenant_id.to_string(), rules.to_string());
        self.write(move |c| {
            let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
            tx.execute(
                "INSERT INTO routing_rules (tenant_id, rules, updated_at_ms) VALUES (?1, ?2, ?3)
                 ON CONFLICT (tenant_id) DO UPDATE SET rules = excluded.rules,
                     updated_at_ms = excluded.updated_at_ms",
                params![tenant_id, rules, now_ms],
            )?;
            // Turns belong to the rules they were counted for.
            tx.execute(
                "DELETE FROM routing_turns WHERE tenant_id = ?1",
                [&tenant_id],
            )?;
            tx.commit()?;
            Ok(())
        })
        .await
    }

    async fn routing_next_turn(&self, tenant_id: &str, rule: u32) -> Result<u64, StorageError> {
        let tenant_id = tenant_id.to_string();
        self.write(move |c| {
            let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let turns: i64 = tx.query_row(
                "INSERT INTO routing_turns (tenant_id, rule, turns) VALUES (?1, ?2, 1)
                 ON CONFLICT (tenant_id, rule) DO UPDATE SET turns = turns + 1
                 RETURNING turns",
                params![tenant_id, rule],
                |r| r.get(0),
            )?;
            tx.commit()?;
            Ok(to_u64(turns, "routing_turns.turns")?.saturating_sub(1))
        })
        .await
    }

    async fn routing_turns(&self, tenant_id: &str) -> Result<Vec<(u32, u64)>, StorageError> {
        let tenant_id = tenant_id.to_string();
        self.read(move |c| {
            let mut stmt = c.prepare_cached(
                "SELECT rule, turns FROM routing_turns WHERE tenant_id = ?1 ORDER BY rule",
            )?;
            let rows = stmt.query_map([&tenant_id], |r| {
                Ok((r.get::<_, u32>(0)?, r.get::<_, i64>(1)?))
            })?;
            let mut out = Vec::new();
            for row in rows {
                let (rule, turns) = row?;
                out.push((rule, to_u64(turns, "routing_turns.turns")?));
            }
            Ok(out)
        })
        .await
    }

    async fn routing_claim(&self, claim: &RoutingClaim) -> Result<bool, StorageError> {
        let claim = claim.clone();
        self.write(move |c| {
            let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let n = tx.execute(
                "INSERT INTO routing_claims (tenant_id, record_id, rep, reason, at_ms)
                 VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (tenant_id, record_id) DO NOTHING",
                params![
                    claim.tenant_id,
                    claim.record_id,
                    claim.rep,
                    claim.reason,
                    claim.at_ms
                ],
            )?;
            tx.commit()?;
            Ok(n == 1)
        })
        .await
    }

    async fn routing_claims(
        &self,
        tenant_id: &str,
        limit: u32,
    ) -> Result<Vec<RoutingClaim>, StorageError> {
        let tenant_id = tenant_id.to_string();
        self.read(move |c| {
            let mut stmt = c.prepare_cached(
                "SELECT tenant_id, record_id, rep, reason, at_ms FROM routing_claims
                 WHERE tenant_id = ?1 ORDER BY at_ms DESC, record_id DESC LIMIT ?2",
            )?;
            let rows = stmt.query_map(
                params![tenant_id, to_i64(u64::from(limit), "limit")?],
                |r| {
                    Ok(RoutingClaim {
                        tenant_id: r.get(0)?,
                        record_id: r.get(1)?,
                        rep: r.get(2)?,
                        reason: r.get(3)?,
                        at_ms: r.get(4)?,
                    })
                },
            )?;
            Ok(rows.collect::<Result<Vec<_>, _>>()?)
        })
        .await
    }
}
