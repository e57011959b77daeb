//! `outpost-server routing`: a tenant's lead routing rules (see `outpost_server::routing`).

use anyhow::Context as _;
use clap::Subcommand;
use outpost_core::routing::RoutingRules;
use outpost_server::routing::{self, event};
use outpost_server::Storage;
use serde_json::json;

/// How many recent assignments `routing show` lists.
const SHOWN_ASSIGNMENTS: u32 = 20;

#[derive(Subcommand)]
pub enum RoutingCommand {
    /// Load the tenant's rules from a JSON file (replaces the rules; round-robin turns restart).
    /// New contacts are routed at the sync that first brings them to the server.
    Set {
        /// Tenant id or name.
        #[arg(long)]
        tenant: String,
        /// The rules file (see README, "Lead routing").
        file: std::path::PathBuf,
    },
    /// Print the tenant's rules, round-robin turns and latest assignments.
    Show {
        /// Tenant id or name.
        #[arg(long)]
        tenant: String,
    },
}

pub async fn routing_command(command: RoutingCommand, storage: &dyn Storage) -> anyhow::Result<()> {
    match command {
        RoutingCommand::Set { tenant, file } => {
            let tenant = super::resolve_tenant(storage, &tenant).await?;
            let text = std::fs::read_to_string(&file)
                .with_context(|| format!("reading {}", file.display()))?;
            let rules = RoutingRules::parse(&text).with_context(|| file.display().to_string())?;
            routing::set_tenant_rules(storage, &tenant, &rules).await?;
            let e = outpost_server::AuditEvent::new(
                &tenant,
                event::ROUTING_SET,
                &json!({ "rules": rules.rules.len() }),
            )
            .from_remote("operator");
            storage.audit_append(e).await?;
            super::print_json(&json!({ "tenant": tenant, "routing": rules }))
        }
        RoutingCommand::Show { tenant } => {
            let tenant = super::resolve_tenant(storage, &tenant).await?;
            let rules = routing::tenant_rules(storage, &tenant).await?;
            let turns: Vec<_> = storage
                .routing_turns(&tenant)
                .await?
                .into_iter()
                .map(|(rule, turns)| json!({ "rule": rule + 1, "turns": turns }))
                .collect();
            let recent: Vec<_> = storage
                .routing_claims(&tenant, SHOWN_ASSIGNMENTS)
                .await?
                .into_iter()
                .map(|c| {
                    json!({
                        "record": c.record_id,
                        "rep": c.rep,
                        "reason": c.reason,
                        "at": super::rfc3339(Some(c.at_ms)),
                    })
                })
                .collect();
            super::print_json(&json!({
                "tenant": tenant,
                "routing": rules,
                "round_robin_turns": turns,
                "recent_assignments": recent,
            }))
        }
    }
}
