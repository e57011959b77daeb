//! Operator commands of `outpost-server` for security: `audit verify`, `audit export` and
//! `user disable`. (A module of the binary; the work is done by the library.)

use super::print_json;
use anyhow::Context as _;
use clap::Subcommand;
use outpost_server::audit::{self, event, AuditEvent};
use outpost_server::Storage;
use serde_json::json;
use std::io::Write as _;

/// `outpost-server audit ...`
#[derive(Subcommand)]
pub enum AuditCommand {
    /// Check the hash chains; prints one verdict per tenant and exits 1 if a row was altered or
    /// removed (the problems name the rows).
    Verify {
        /// Only this tenant (id or name); `-` for the server-wide chain. Default: every chain.
        #[arg(long)]
        tenant: Option<String>,
    },
    /// Print the audit rows as JSON lines, chain by chain, in order.
    Export {
        /// Only this tenant (id or name); `-` for the server-wide chain. Default: every chain.
        #[arg(long)]
        tenant: Option<String>,
        /// Only rows at or after this time (RFC 3339, e.g. 2026-11-01T00:00:00Z).
        #[arg(long)]
        since: Option<String>,
        /// Only rows of this event (e.g. `sync.quarantined`: changes of revoked devices to review).
        #[arg(long)]
        event: Option<String>,
    },
}

/// `outpost-server user ...`
#[derive(Subcommand)]
pub enum UserCommand {
    /// Disable a user: revoke every device of theirs in the tenant. Each device wipes its local
    /// data at its next contact.
    Disable {
        /// The user id.
        user: String,
        /// Tenant id or name.
        #[arg(long)]
        tenant: String,
    },
    /// Enable a disabled user again (new devices may be enrolled; revoked ones stay revoked).
    Enable {
        /// The user id.
        user: String,
        /// Tenant id or name.
        #[arg(long)]
        tenant: String,
    },
}

async fn tenant_id(storage: &dyn Storage, tenant: &str) -> anyhow::Result<String> {
    if tenant == "-" {
        return Ok(String::new());
    }
    super::resolve_tenant(storage, tenant).await
}

/// Runs an `audit` command. Returns whether every verified chain is intact.
pub async fn audit_command(command: AuditCommand, storage: &dyn Storage) -> anyhow::Result<bool> {
    match command {
        AuditCommand::Verify { tenant } => {
            let tenant = match tenant {
                Some(t) => Some(tenant_id(storage, &t).await?),
                None => None,
            };
            let reports = audit::verify(storage, tenant.as_deref()).await?;
            let ok = reports.iter().all(|r| r.ok);
            print_json(&json!({ "ok": ok, "chains": reports }))?;
            Ok(ok)
        }
        AuditCommand::Export {
            tenant,
            since,
            event: only,
        } => {
            let tenant = match tenant {
                Some(t) => Some(tenant_id(storage, &t).await?),
                None => None,
            };
            let since_ms = match since {
                Some(s) => Some(
                    chrono::DateTime::parse_from_rfc3339(&s)
                        .with_context(|| format!("--since {s:?}: not an RFC 3339 time"))?
                        .timestamp_millis(),
                ),
                None => None,
            };
            let stdout = std::io::stdout();
            let mut out = stdout.lock();
            let written = audit::export(storage, tenant.as_deref(), since_ms, |row| {
                if only.as_deref().is_some_and(|e| e != row.event.event) {
                    return Ok(false);
                }
                let line = serde_json::to_string(row)
                    .map_err(|e| outpost_server::StorageError::Internal(e.to_string()))?;
                writeln!(out, "{line}").map_err(|source| outpost_server::StorageError::Io {
                    op: "writing",
                    path: "stdout".into(),
                    source,
                })?;
                Ok(true)
            })
            .await?;
            drop(out);
            let e = AuditEvent::new(
                tenant.as_deref().unwrap_or(""),
                event::AUDIT_EXPORT,
                &json!({ "rows": written, "since_ms": since_ms, "event": only, "all_tenants": tenant.is_none() }),
            )
            .from_remote("operator");
            storage.audit_append(e).await?;
            Ok(true)
        }
    }
}

/// Runs a `user` command.
pub async fn user_command(command: UserCommand, storage: &dyn Storage) -> anyhow::Result<()> {
    match command {
        UserCommand::Enable { user, tenant } => {
            let tenant_id = tenant_id(storage, &tenant).await?;
            storage.set_user_disabled(&tenant_id, &user, false).await?;
            let e = AuditEvent::new(&tenant_id, event::USER_ENABLE, &json!({}))
                .by(&user, None)
                .from_remote("operator");
            storage.audit_append(e).await?;
            print_json(&json!({ "user": user, "tenant_id": tenant_id, "disabled": false }))
        }
        UserCommand::Disable { user, tenant } => {
            let tenant_id = tenant_id(storage, &tenant).await?;
            // First: no new device may be enrolled for them while theirs are revoked.
            storage.set_user_disabled(&tenant_id, &user, true).await?;
            let devices = storage.list_devices(&tenant_id).await?;
            let mut revoked = Vec::new();
            for d in devices.iter().filter(|d| d.user_id == user) {
                let was_active = d.revoked_at_ms.is_none();
                storage.revoke_device(&d.id).await?;
                if was_active {
                    revoked.push(d.id.clone());
                }
            }
            let e = AuditEvent::new(
                &tenant_id,
                event::USER_DISABLE,
                &json!({ "revoked_devices": revoked }),
            )
            .by(&user, None)
            .from_remote("operator");
            storage.audit_append(e).await?;
            print_json(&json!({ "user": user, "tenant_id": tenant_id, "revoked_devices": revoked }))
        }
    }
}

/// Records an operator's device command in the audit trail.
pub async fn record_device(
    storage: &dyn Storage,
    name: &str,
    tenant_id: &str,
    user: &str,
    device_id: &str,
) -> anyhow::Result<()> {
    let e = AuditEvent::new(tenant_id, name, &json!({}))
        .by(user, Some(device_id))
        .from_remote("operator");
    storage.audit_append(e).await?;
    Ok(())
}
