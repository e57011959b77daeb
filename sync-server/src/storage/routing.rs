//! Where lead routing is kept: the rules as stored, round-robin turns and the claim that routes
//! a contact once; the [`RoutingStore`] both backends implement. Routing itself is
//! [`crate::routing`]'s.

use crate::error::StorageError;
use async_trait::async_trait;

/// One contact routed: to whom and why (also the guard that routes it once).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct RoutingClaim {
    /// The tenant.
    pub tenant_id: String,
    /// The contact's record id.
    pub record_id: String,
    /// The rep it went to.
    pub rep: String,
    /// Why.
    pub reason: String,
    /// When (server clock, ms since the epoch).
    pub at_ms: i64,
}

/// What the server stores for lead routing; part of every [`crate::storage::Storage`].
#[async_trait]
pub trait RoutingStore: Send + Sync {
    /// The tenant's rules as stored (JSON), if an operator set any.
    async fn routing_rules_json(&self, tenant_id: &str) -> Result<Option<String>, StorageError>;

    /// Replaces the tenant's rules (JSON, validated by the caller) and restarts their
    /// round-robin turns.
    async fn set_routing_rules_json(
        &self,
        tenant_id: &str,
        rules: &str,
        now_ms: i64,
    ) -> Result<(), StorageError>;

    /// Takes the next round-robin turn of rule `rule` (0-based index): 0, 1, 2, ... Every
    /// call returns a different turn, also across server processes.
    async fn routing_next_turn(&self, tenant_id: &str, rule: u32) -> Result<u64, StorageError>;

    /// How many turns each rule has handed out, by rule index.
    async fn routing_turns(&self, tenant_id: &str) -> Result<Vec<(u32, u64)>, StorageError>;

    /// Claims a contact for routing; `false` when it was claimed before (it is routed once).
    async fn routing_claim(&self, claim: &RoutingClaim) -> Result<bool, StorageError>;

    /// The tenant's latest `limit` routing claims, newest first.
    async fn routing_claims(
        &self,
        tenant_id: &str,
        limit: u32,
    ) -> Result<Vec<RoutingClaim>, StorageError>;
}
