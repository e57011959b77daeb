//! Where a tenant's access settings (roles, teams, shares, sharing model, lease) are kept: the
//! [`AccessStore`] both backends implement, and its migration. What the settings mean is
//! [`crate::policy::Viewer`]'s (see [`crate::access`]).

use crate::error::StorageError;
use crate::rows::{AccessConfig, DocMeta, Sharing, Team};
use async_trait::async_trait;
use outpost_core::sync::protocol::DocSnapshot;

/// Appended to both backends' migrations. Tenants that exist when it runs keep seeing what
/// they saw (`open`); new tenants are created `private`. The owner of an existing record is the
/// user who wrote its first change; its root is filled in at its next change.
pub const MIGRATION: &str = r#"
-- scoped sync: roles, teams, shares, record visibility
ALTER TABLE tenants ADD COLUMN sharing TEXT NOT NULL DEFAULT 'open';
ALTER TABLE tenants ADD COLUMN scope_epoch BIGINT NOT NULL DEFAULT 0;
ALTER TABLE tenants ADD COLUMN lease_ms BIGINT;
ALTER TABLE tenants ADD COLUMN grace_ms BIGINT;
ALTER TABLE documents ADD COLUMN owner TEXT;
ALTER TABLE documents ADD COLUMN root TEXT;
ALTER TABLE documents ADD COLUMN field TEXT;
ALTER TABLE documents ADD COLUMN blob TEXT;
CREATE INDEX documents_blob ON documents (tenant_id, blob);
CREATE INDEX log_record ON log (tenant_id, record_id, seq);
UPDATE documents SET owner = (
    SELECT l.user_id FROM log l
    WHERE l.tenant_id = documents.tenant_id AND l.record_id = documents.record_id
    ORDER BY l.seq LIMIT 1
);
CREATE TABLE access_roles (
    tenant_id TEXT NOT NULL REFERENCES tenants(id),
    role TEXT NOT NULL,
    permissions TEXT NOT NULL,
    PRIMARY KEY (tenant_id, role)
);
CREATE TABLE teams (
    tenant_id TEXT NOT NULL REFERENCES tenants(id),
    name TEXT NOT NULL,
    manager TEXT,
    PRIMARY KEY (tenant_id, name)
);
CREATE TABLE team_members (
    tenant_id TEXT NOT NULL REFERENCES tenants(id),
    user_id TEXT NOT NULL,
    team TEXT NOT NULL,
    PRIMARY KEY (tenant_id, user_id)
);
CREATE TABLE shares (
    tenant_id TEXT NOT NULL REFERENCES tenants(id),
    user_id TEXT NOT NULL,
    record_id TEXT NOT NULL,
    PRIMARY KEY (tenant_id, user_id, record_id)
);
CREATE TABLE disabled_users (
    tenant_id TEXT NOT NULL REFERENCES tenants(id),
    user_id TEXT NOT NULL,
    PRIMARY KEY (tenant_id, user_id)
);
"#;

/// Builds the config from the rows both backends read.
pub(crate) fn config_from_rows(
    sharing: &str,
    epoch: u64,
    lease: (Option<i64>, Option<i64>),
    roles: Vec<(String, String)>,
    teams: Vec<(String, Option<String>)>,
    members: Vec<(String, String)>,
) -> Result<AccessConfig, StorageError> {
    let sharing = sharing
        .parse()
        .map_err(|e: String| StorageError::Corrupt(format!("tenants.sharing: {e}")))?;
    let roles = roles
        .into_iter()
        .map(|(role, json)| {
            serde_json::from_str::<Vec<String>>(&json)
                .map(|p| (role.clone(), p))
                .map_err(|e| StorageError::Corrupt(format!("access_roles {role}: {e}")))
        })
        .collect::<Result<_, _>>()?;
    let mut teams: Vec<Team> = teams
        .into_iter()
        .map(|(name, manager)| Team {
            name,
            manager,
            members: Vec::new(),
        })
        .collect();
    for (user, team) in members {
        if let Some(t) = teams.iter_mut().find(|t| t.name == team) {
            t.members.push(user);
        }
    }
    for t in &mut teams {
        t.members.sort();
    }
    teams.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(AccessConfig {
        sharing,
        epoch,
        roles,
        teams,
        lease: match lease {
            (Some(l), Some(g)) => Some((l, g)),
            _ => None,
        },
    })
}

/// Where access settings are kept; implemented by both backends. Every write moves the
/// tenant's scope epoch in the same transaction.
#[async_trait]
pub trait AccessStore: Send + Sync {
    /// The tenant's settings; [`StorageError::NotFound`] for an unknown tenant.
    async fn access_config(&self, tenant_id: &str) -> Result<AccessConfig, StorageError>;

    /// The records shared with `user`.
    async fn shares_of(&self, tenant_id: &str, user: &str) -> Result<Vec<String>, StorageError>;

    /// The users a record is shared with.
    async fn shared_with(&self, tenant_id: &str, record: &str)
        -> Result<Vec<String>, StorageError>;

    /// Sets the sharing model.
    async fn set_sharing(&self, tenant_id: &str, sharing: Sharing) -> Result<(), StorageError>;

    /// Sets (or with `None` clears) the tenant's device lease: lock after, then wipe after (ms).
    async fn set_lease(
        &self,
        tenant_id: &str,
        lease: Option<(i64, i64)>,
    ) -> Result<(), StorageError>;

    /// Sets a role's permissions (already checked), or with `None` drops the tenant's setting
    /// (a default role goes back to its defaults, another role is removed).
    async fn set_role(
        &self,
        tenant_id: &str,
        role: &str,
        permissions: Option<&[String]>,
    ) -> Result<(), StorageError>;

    /// Creates a team; [`StorageError::Conflict`] if the name is taken.
    async fn create_team(
        &self,
        tenant_id: &str,
        name: &str,
        manager: Option<&str>,
    ) -> Result<(), StorageError>;

    /// Deletes a team (its members are in no team after).
    async fn delete_team(&self, tenant_id: &str, name: &str) -> Result<(), StorageError>;

    /// Sets or clears a team's manager.
    async fn set_team_manager(
        &self,
        tenant_id: &str,
        name: &str,
        manager: Option<&str>,
    ) -> Result<(), StorageError>;

    /// Puts `user` in team `team` (leaving any other), or with `None` in no team.
    async fn set_team_member(
        &self,
        tenant_id: &str,
        user: &str,
        team: Option<&str>,
    ) -> Result<(), StorageError>;

    /// Shares (or stops sharing) a stored record of the tenant with `user`.
    async fn set_share(
        &self,
        tenant_id: &str,
        record: &str,
        user: &str,
        shared: bool,
    ) -> Result<(), StorageError>;

    /// Marks a user disabled (no device of theirs may be enrolled) or enabled again.
    async fn set_user_disabled(
        &self,
        tenant_id: &str,
        user: &str,
        disabled: bool,
    ) -> Result<(), StorageError>;

    /// Whether the user is disabled.
    async fn user_disabled(&self, tenant_id: &str, user: &str) -> Result<bool, StorageError>;

    /// The tenant's vouched attachments that name blob `sha256` (see
    /// [`crate::storage::blobs::vouched`]), with kind and visibility.
    async fn blob_records(
        &self,
        tenant_id: &str,
        sha256: &str,
    ) -> Result<Vec<(String, String, DocMeta)>, StorageError>;

    /// Up to `limit` of the tenant's records after `after` (by id), with kind and visibility.
    async fn scope_rows(
        &self,
        tenant_id: &str,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Vec<(String, String, DocMeta)>, StorageError>;

    /// The stored documents of the tenant among `ids`, with their visibility.
    async fn scope_docs(
        &self,
        tenant_id: &str,
        ids: &[String],
    ) -> Result<Vec<(DocSnapshot, DocMeta)>, StorageError>;
}
