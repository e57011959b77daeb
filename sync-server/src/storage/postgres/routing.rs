//! Lead routing on PostgreSQL: the tenant's rules, the round-robin turns and the claims that
//! make each contact routed once (see crate::routing). A turn is one `INSERT ... ON CONFLICT DO
//! UPDATE ... RETURNING`, so concurrent servers never hand out the same turn twice.

use super::PostgresStorage;
use crate::error::StorageError;
use crate::storage::routing::{RoutingClaim, RoutingStore};
use crate::storage::values::to_u64;
use async_trait::async_trait;

/// Appended to the backend's migrations.
pub(super) const MIGRATION: &str = r#"
-- lead routing
CREATE TABLE routing_rules (
    tenant_id TEXT PRIMARY KEY REFERENCES tenants(id),
    rules TEXT NOT NULL,
    updated_at_ms BIGINT NOT NULL
);
CREATE TABLE routing_turns (
    tenant_id TEXT NOT NULL REFERENCES tenants(id),
    rule INTEGER NOT NULL,
    turns BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, rule)
);
CREATE TABLE routing_claims (
    tenant_id TEXT NOT NULL REFERENCES tenants(id),
    record_id TEXT NOT NULL,
    rep TEXT NOT NULL,
    reason TEXT NOT NULL,
    at_ms BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, record_id)
);
"#;

fn rule_i32(rule: u32) -> Result<i32, StorageError> {
    i32::try_from(rule).map_err(|_| StorageError::BadRequest(format!("routing rule {rule}")))
}

#[async_trait]
impl RoutingStore for PostgresStorage {
    async fn routing_rules_json(&self, tenant_id: &str) -> Result<Option<String>, StorageError> {
        let row = self
            .client()
            .await?
            .query_opt(
                "SELECT rules FROM routing_rules WHERE tenant_id = $1",
                &[&tenant_id],
            )
            .await?;
        Ok(row.map(|r| r.try_get(0)).transpose()?)
    }

    async fn set_routing_rules_json(
        &self,
        tenant_id: &str,
        rules: &str,
        now_ms: i64,
    ) -> Result<(), StorageError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        tx.execute(
            "INSERT INTO routing_rules (tenant_id, rules, updated_at_ms) VALUES ($1, $2, $3)
             ON CONFLICT (tenant_id) DO UPDATE SET rules = excluded.rules,
                 updated_at_ms = excluded.updated_at_ms",
            &[&tenant_id, &rules, &now_ms],
        )
        .await?;
        // Turns belong to the rules they were counted for.
        tx.execute(
            "DELETE FROM routing_turns WHERE tenant_id = $1",
            &[&tenant_id],
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn routing_next_turn(&self, tenant_id: &str, rule: u32) -> Result<u64, StorageError> {
        let row = self
            .client()
            .await?
            .query_one(
                "INSERT INTO routing_turns (tenant_id, rule, turns) VALUES ($1, $2, 1)
                 ON CONFLICT (tenant_id, rule) DO UPDATE SET turns = routing_turns.turns + 1
                 RETURNING turns",
                &[&tenant_id, &rule_i32(rule)?],
            )
            .await?;
        Ok(to_u64(row.try_get(0)?, "routing_turns.turns")?.saturating_sub(1))
    }

    async fn routing_turns(&self, tenant_id: &str) -> Result<Vec<(u32, u64)>, StorageError> {
        self.client()
            .await?
            .query(
                "SELECT rule, turns FROM routing_turns WHERE tenant_id = $1 ORDER BY rule",
                &[&tenant_id],
            )
            .await?
            .iter()
            .map(|r| {
                let rule: i32 = r.try_get(0)?;
                let rule = u32::try_from(rule)
                    .map_err(|_| StorageError::Corrupt(format!("routing_turns.rule {rule}")))?;
                Ok((rule, to_u64(r.try_get(1)?, "routing_turns.turns")?))
            })
            .collect()
    }

    async fn routing_claim(&self, claim: &RoutingClaim) -> Result<bool, StorageError> {
        let n = self
            .client()
            .await?
            .execute(
                "INSERT INTO routing_claims (tenant_id, record_id, rep, reason, at_ms)
                 VALUES ($1, $2, $3, $4, $5) ON CONFLICT (tenant_id, record_id) DO NOTHING",
                &[
                    &claim.tenant_id,
                    &claim.record_id,
                    &claim.rep,
                    &claim.reason,
                    &claim.at_ms,
                ],
            )
            .await?;
        Ok(n == 1)
    }

    async fn routing_claims(
        &self,
        tenant_id: &str,
        limit: u32,
    ) -> Result<Vec<RoutingClaim>, StorageError> {
        self.client()
            .await?
            .query(
                "SELECT tenant_id, record_id, rep, reason, at_ms FROM routing_claims
                 WHERE tenant_id = $1 ORDER BY at_ms DESC, record_id DESC LIMIT $2",
                &[&tenant_id, &i64::from(limit)],
            )
            .await?
            .iter()
            .map(|r| {
                Ok(RoutingClaim {
                    tenant_id: r.try_get(0)?,
                    record_id: r.try_get(1)?,
                    rep: r.try_get(2)?,
                    reason: r.try_get(3)?,
                    at_ms: r.try_get(4)?,
                })
            })
            .collect()
    }
}
