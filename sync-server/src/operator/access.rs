//! Operator commands for who sees what: `role`, `team`, `share`, `record assign` and the
//! tenant's `sharing` (see outpost_server::access). Every change is in the audit trail and
//! reaches devices at their next sync.

use super::{audit, print_json, resolve_tenant};
use anyhow::{anyhow, Context as _};
use clap::Subcommand;
use outpost_server::access::{check_role, check_team_name, Sharing};
use outpost_server::Storage;
use serde_json::json;

#[derive(Subcommand)]
pub enum RoleCommand {
    /// Every role of the tenant with its permissions (defaults included).
    List {
        /// Tenant id or name.
        #[arg(long)]
        tenant: String,
    },
    /// Set a role's permissions (a default role or a new one), e.g.
    /// `--permissions contact:read,contact:write,scope:own`.
    Set {
        /// Tenant id or name.
        #[arg(long)]
        tenant: String,
        /// The role's name.
        role: String,
        /// Comma-separated permissions: KIND:read|write (contact, visit, deal, task,
        /// attachment), invalidate, merge, export, assign, field:NAME:read|write (amount,
        /// discount, contract_amount), scope:own|team|all.
        #[arg(long, value_delimiter = ',')]
        permissions: Vec<String>,
    },
    /// Put a default role back to its defaults, or remove a tenant's own role.
    Reset {
        /// Tenant id or name.
        #[arg(long)]
        tenant: String,
        /// The role's name.
        role: String,
    },
}

#[derive(Subcommand)]
pub enum TeamCommand {
    /// The tenant's teams with their managers and members.
    List {
        /// Tenant id or name.
        #[arg(long)]
        tenant: String,
    },
    /// Create a team.
    Create {
        /// Tenant id or name.
        #[arg(long)]
        tenant: String,
        /// The team's name.
        name: String,
        /// The user who manages it (sees its members' records with a `scope:team` role).
        #[arg(long)]
        manager: Option<String>,
    },
    /// Delete a team (its members end up in no team).
    Delete {
        /// Tenant id or name.
        #[arg(long)]
        tenant: String,
        /// The team's name.
        name: String,
    },
    /// Set (or with no --manager, clear) a team's manager.
    Manager {
        /// Tenant id or name.
        #[arg(long)]
        tenant: String,
        /// The team's name.
        name: String,
        /// The user who manages it.
        #[arg(long)]
        manager: Option<String>,
    },
    /// Put a user in a team (moving them out of any other).
    Add {
        /// Tenant id or name.
        #[arg(long)]
        tenant: String,
        /// The team's name.
        name: String,
        /// The user.
        user: String,
    },
    /// Take a user out of their team.
    Remove {
        /// Tenant id or name.
        #[arg(long)]
        tenant: String,
        /// The user.
        user: String,
    },
}

#[derive(Subcommand)]
pub enum ShareCommand {
    /// Share a record (and what hangs off it: a contact's visits, deals, tasks, attachments)
    /// with a user.
    Add {
        /// Tenant id or name.
        #[arg(long)]
        tenant: String,
        /// The record id.
        record: String,
        /// The user.
        user: String,
    },
    /// Stop sharing a record with a user.
    Remove {
        /// Tenant id or name.
        #[arg(long)]
        tenant: String,
        /// The record id.
        record: String,
        /// The user.
        user: String,
    },
    /// The users a record is shared with.
    List {
        /// Tenant id or name.
        #[arg(long)]
        tenant: String,
        /// The record id.
        record: String,
    },
}

#[derive(Subcommand)]
pub enum RecordCommand {
    /// Give a contact (with its visits, deals, tasks and attachments) to another owner; the
    /// change is the server's, in the contact's history, and devices follow at their next sync.
    Assign {
        /// Tenant id or name.
        #[arg(long)]
        tenant: String,
        /// The contact's id.
        record: String,
        /// The new owner.
        #[arg(long)]
        to: String,
    },
}

/// `outpost-server role ...`.
pub async fn role_command(command: RoleCommand, storage: &dyn Storage) -> anyhow::Result<()> {
    use outpost_server::audit::event::ACCESS_ROLE;
    match command {
        RoleCommand::List { tenant } => {
            let t = resolve_tenant(storage, &tenant).await?;
            let config = storage.access_config(&t).await?;
            print_json(
                &json!({ "tenant": t, "sharing": config.sharing, "roles": config.all_roles() }),
            )
        }
        RoleCommand::Set {
            tenant,
            role,
            permissions,
        } => {
            let t = resolve_tenant(storage, &tenant).await?;
            let names = check_role(&role, &permissions)?;
            storage.set_role(&t, &role, Some(&names)).await?;
            audit(
                storage,
                &t,
                ACCESS_ROLE,
                json!({ "role": role, "permissions": names }),
            )
            .await?;
            print_json(&json!({ "tenant": t, "role": role, "permissions": names }))
        }
        RoleCommand::Reset { tenant, role } => {
            let t = resolve_tenant(storage, &tenant).await?;
            storage.set_role(&t, &role, None).await?;
            audit(
                storage,
                &t,
                ACCESS_ROLE,
                json!({ "role": role, "reset": true }),
            )
            .await?;
            let config = storage.access_config(&t).await?;
            print_json(&json!({
                "tenant": t,
                "role": role,
                "permissions": config.has_role(&role).then(|| config.permissions(&role).names()),
            }))
        }
    }
}

/// `outpost-server team ...`.
pub async fn team_command(command: TeamCommand, storage: &dyn Storage) -> anyhow::Result<()> {
    use outpost_server::audit::event::ACCESS_TEAM;
    let (t, detail) = match command {
        TeamCommand::List { tenant } => {
            let t = resolve_tenant(storage, &tenant).await?;
            let config = storage.access_config(&t).await?;
            return print_json(&json!({ "tenant": t, "teams": config.teams }));
        }
        TeamCommand::Create {
            tenant,
            name,
            manager,
        } => {
            check_team_name(&name)?;
            let t = resolve_tenant(storage, &tenant).await?;
            storage.create_team(&t, &name, manager.as_deref()).await?;
            (
                t,
                json!({ "action": "create", "team": name, "manager": manager }),
            )
        }
        TeamCommand::Delete { tenant, name } => {
            let t = resolve_tenant(storage, &tenant).await?;
            storage.delete_team(&t, &name).await?;
            (t, json!({ "action": "delete", "team": name }))
        }
        TeamCommand::Manager {
            tenant,
            name,
            manager,
        } => {
            let t = resolve_tenant(storage, &tenant).await?;
            storage
                .set_team_manager(&t, &name, manager.as_deref())
                .await?;
            (
                t,
                json!({ "action": "manager", "team": name, "manager": manager }),
            )
        }
        TeamCommand::Add { tenant, name, user } => {
            let t = resolve_tenant(storage, &tenant).await?;
            storage.set_team_member(&t, &user, Some(&name)).await?;
            (t, json!({ "action": "add", "team": name, "user": user }))
        }
        TeamCommand::Remove { tenant, user } => {
            let t = resolve_tenant(storage, &tenant).await?;
            storage.set_team_member(&t, &user, None).await?;
            (t, json!({ "action": "remove", "user": user }))
        }
    };
    audit(storage, &t, ACCESS_TEAM, detail).await?;
    let config = storage.access_config(&t).await?;
    print_json(&json!({ "tenant": t, "teams": config.teams, "epoch": config.epoch }))
}

/// `outpost-server share ...`.
pub async fn share_command(command: ShareCommand, storage: &dyn Storage) -> anyhow::Result<()> {
    use outpost_server::audit::event::ACCESS_SHARE;
    let (t, record, shared, user) = match command {
        ShareCommand::List { tenant, record } => {
            let t = resolve_tenant(storage, &tenant).await?;
            let users = storage.shared_with(&t, &record).await?;
            return print_json(&json!({ "record": record, "shared_with": users }));
        }
        ShareCommand::Add {
            tenant,
            record,
            user,
        } => (tenant, record, true, user),
        ShareCommand::Remove {
            tenant,
            record,
            user,
        } => (tenant, record, false, user),
    };
    let t = resolve_tenant(storage, &t).await?;
    outpost_server::storage::plan::check_record_id(&record)?;
    storage.set_share(&t, &record, &user, shared).await?;
    audit(
        storage,
        &t,
        ACCESS_SHARE,
        json!({ "record": record, "user": user, "shared": shared }),
    )
    .await?;
    let users = storage.shared_with(&t, &record).await?;
    print_json(&json!({ "record": record, "shared_with": users }))
}

/// `outpost-server record assign ...`.
pub async fn record_command(command: RecordCommand, storage: &dyn Storage) -> anyhow::Result<()> {
    let RecordCommand::Assign { tenant, record, to } = command;
    let t = resolve_tenant(storage, &tenant).await?;
    let to = to.trim().to_string();
    if to.is_empty() {
        return Err(anyhow!("record assign --to: give the new owner's user id"));
    }
    let changed = outpost_server::access::assign(storage, &t, &record, &to)
        .await
        .with_context(|| format!("record assign {record}"))?;
    print_json(&json!({ "record": record, "owner": to, "changed": changed }))
}

/// `outpost-server tenant sharing ...`.
pub async fn set_sharing(
    storage: &dyn Storage,
    tenant: &str,
    sharing: Sharing,
) -> anyhow::Result<()> {
    let t = resolve_tenant(storage, tenant).await?;
    storage.set_sharing(&t, sharing).await?;
    audit(
        storage,
        &t,
        outpost_server::audit::event::ACCESS_SHARING,
        json!({ "sharing": sharing }),
    )
    .await?;
    print_json(&json!({ "tenant": t, "sharing": sharing }))
}

/// `outpost-server tenant lease ...`: `None` clears it.
pub async fn set_lease(
    storage: &dyn Storage,
    tenant: &str,
    days: Option<(u32, u32)>,
) -> anyhow::Result<()> {
    const DAY_MS: i64 = 24 * 3600 * 1000;
    if let Some((d, g)) = days {
        for (name, v) in [("--days", d), ("--grace-days", g)] {
            if !(1..=365).contains(&v) {
                return Err(anyhow!("tenant lease {name}: {v} is not 1 to 365 days"));
            }
        }
    }
    let lease = days.map(|(d, g)| (i64::from(d) * DAY_MS, i64::from(g) * DAY_MS));
    let t = resolve_tenant(storage, tenant).await?;
    storage.set_lease(&t, lease).await?;
    let detail = json!({
        "lease_days": days.map(|d| d.0),
        "grace_days": days.map(|d| d.1),
    });
    audit(
        storage,
        &t,
        outpost_server::audit::event::TENANT_LEASE,
        detail.clone(),
    )
    .await?;
    print_json(&json!({ "tenant": t, "lease": detail }))
}
