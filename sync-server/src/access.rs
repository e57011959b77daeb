//! Who sees and writes what: roles, teams, shares and the tenant's sharing model, decided here
//! for both backends (see `docs/security.md`, "Roles, teams and scoped sync").
//!
//! - A **role** is a set of permissions ([`outpost_core::access`]); the five defaults apply
//!   until an operator changes them (`outpost-server role set`), and a tenant may add its own.
//! - A **team** has members and a manager; a role with `scope:team` sees the records owned by
//!   the members of the teams its user manages.
//! - A record's visibility follows its **root** (a contact for its visits, deals, tasks and
//!   attachments; the deal for its restricted fields) and the root's **owner**: its `owner`
//!   field, else the user who created it. A record can be **shared** with a user.
//! - A tenant's **sharing** is `private` (the default for new tenants: the rules above) or
//!   `open` (every user reads every record, as before scoped sync; restricted fields and write
//!   permissions still apply). Tenants created before scoped sync were migrated as `open`.
//! - Every change to any of this moves the tenant's **scope epoch**; a device that sees a new
//!   epoch lists its scope and purges what it may no longer read.

pub use crate::policy::WriteFacts;
use crate::storage::{DocMeta, Role};
use crate::StorageError;
use async_trait::async_trait;
use outpost_core::access::{self, Permissions, Scope, RESTRICTED_KIND};
use outpost_core::sync::protocol::{DocSnapshot, ScopeInfo};
use serde::Serialize;
use std::collections::{BTreeMap, HashSet};

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

/// A tenant's sharing model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Sharing {
    /// Users see what their role's scope gives them.
    Private,
    /// Every user reads every record (fields and writes are still checked).
    Open,
}

impl Sharing {
    /// `private` or `open`.
    pub fn as_str(self) -> &'static str {
        match self {
            Sharing::Private => "private",
            Sharing::Open => "open",
        }
    }
}

impl std::str::FromStr for Sharing {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "private" => Ok(Sharing::Private),
            "open" => Ok(Sharing::Open),
            other => Err(format!("sharing {other:?}: expected private or open")),
        }
    }
}

/// A team.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Team {
    /// Its name, unique in the tenant.
    pub name: String,
    /// The user who manages it, if any.
    pub manager: Option<String>,
    /// Its members (each user is in at most one team), sorted.
    pub members: Vec<String>,
}

/// A tenant's access settings, as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessConfig {
    /// The sharing model.
    pub sharing: Sharing,
    /// The scope epoch.
    pub epoch: u64,
    /// Roles whose permissions the tenant set (others use the defaults).
    pub roles: BTreeMap<String, Vec<String>>,
    /// The teams, by name.
    pub teams: Vec<Team>,
    /// The tenant's device lease (lock after, then wipe after, in ms), when the operator set it.
    pub lease: Option<(i64, i64)>,
}

impl AccessConfig {
    /// The permissions of `role` in this tenant: its own setting, else the default, else none.
    pub fn permissions(&self, role: &str) -> Permissions {
        match self.roles.get(role) {
            Some(names) => Permissions::parse(names).unwrap_or_default(),
            None => Permissions::default_for(role).unwrap_or_default(),
        }
    }

    /// Whether `role` exists here (a default one or one the tenant set).
    pub fn has_role(&self, role: &str) -> bool {
        access::DEFAULT_ROLES.contains(&role) || self.roles.contains_key(role)
    }

    /// Every role with its permissions, defaults included.
    pub fn all_roles(&self) -> BTreeMap<String, Vec<String>> {
        let mut all: BTreeMap<String, Vec<String>> = access::DEFAULT_ROLES
            .iter()
            .map(|r| (r.to_string(), self.permissions(r).names()))
            .collect();
        for role in self.roles.keys() {
            all.insert(role.clone(), self.permissions(role).names());
        }
        all
    }
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

/// What one device's user may see and do, worked out once per request.
#[derive(Debug, Clone)]
pub struct Viewer {
    /// The user.
    pub user: String,
    /// Their role's name.
    pub role: String,
    /// Their permissions.
    pub permissions: Permissions,
    /// The tenant's scope epoch when this was read.
    pub epoch: u64,
    /// Every record is in scope (scope `all`, or an `open` tenant).
    everything: bool,
    /// Owners whose records are in scope (the user, and their teams' members).
    owners: HashSet<String>,
    /// Records shared with the user.
    shared: HashSet<String>,
    /// The tenant's device lease, sent to devices.
    lease: Option<(i64, i64)>,
    /// The server itself (its own writes and storage-level callers), never a device.
    server: bool,
}

impl Viewer {
    /// Sees and may do everything: the server's own writes and storage-level callers.
    pub fn unrestricted() -> Self {
        Self {
            user: String::new(),
            role: "admin".into(),
            permissions: Permissions::everything(),
            epoch: 0,
            everything: true,
            owners: HashSet::new(),
            shared: HashSet::new(),
            lease: None,
            server: true,
        }
    }

    /// Whether this is the server itself ([`Viewer::unrestricted`]): its own writes (settings,
    /// verdicts, routing, assignments) are not a device's.
    pub fn is_server(&self) -> bool {
        self.server
    }

    /// The viewer for `user` with `role` in a tenant with these settings and shares.
    pub fn new(config: &AccessConfig, user: &str, role: &Role, shared: Vec<String>) -> Self {
        let permissions = config.permissions(role.as_str());
        let scope = permissions.scope();
        let mut owners = HashSet::from([user.to_string()]);
        if scope >= Scope::Team {
            for team in config
                .teams
                .iter()
                .filter(|t| t.manager.as_deref() == Some(user))
            {
                owners.extend(team.members.iter().cloned());
            }
        }
        Self {
            user: user.to_string(),
            role: role.as_str().to_string(),
            everything: scope == Scope::All || config.sharing == Sharing::Open,
            permissions,
            epoch: config.epoch,
            owners,
            shared: shared.into_iter().collect(),
            lease: config.lease,
            server: false,
        }
    }

    /// What the device is told about itself in every sync answer.
    pub fn info(&self) -> ScopeInfo {
        ScopeInfo {
            epoch: self.epoch,
            user: self.user.clone(),
            role: self.role.clone(),
            permissions: self.permissions.names(),
            lease_ms: self.lease.map(|(l, _)| l),
            grace_ms: self.lease.map(|(_, g)| g),
        }
    }

    /// Whether the user may read record `record` of `kind` with this visibility. The tenant's
    /// settings (`config`) are everyone's; kinds devices do not write are the server's alone.
    pub fn sees(&self, record: &str, kind: &str, meta: &DocMeta) -> bool {
        if self.server {
            return true;
        }
        if kind == RESTRICTED_KIND {
            let readable = meta
                .field
                .as_deref()
                .is_some_and(|f| self.permissions.can_read_field(f));
            if !readable {
                return false;
            }
        } else if kind == "config" {
            return true;
        } else if !access::RECORD_KINDS.contains(&kind) || !self.permissions.can_read_kind(kind) {
            return false;
        }
        if self.everything {
            return true;
        }
        let root = meta.root.as_deref().unwrap_or(record);
        meta.owner
            .as_deref()
            .is_some_and(|o| self.owners.contains(o))
            || self.shared.contains(root)
            || self.shared.contains(record)
    }
}

/// The viewer for a device, read from storage.
pub async fn viewer_of(
    storage: &dyn crate::storage::Storage,
    device: &crate::storage::Device,
) -> Result<Viewer, StorageError> {
    let config = storage.access_config(&device.tenant_id).await?;
    let shared = storage
        .shares_of(&device.tenant_id, &device.user_id)
        .await?;
    Ok(Viewer::new(&config, &device.user_id, &device.role, shared))
}

/// Gives contact `record` of the tenant to `owner`, as the server's own change (in the
/// contact's history); its visits, deals, tasks and attachments follow. Returns whether the
/// owner changed. Devices reconcile their scope at their next sync.
pub async fn assign(
    storage: &dyn crate::storage::Storage,
    tenant_id: &str,
    record: &str,
    owner: &str,
) -> Result<bool, StorageError> {
    crate::storage::plan::check_record_id(record)?;
    crate::storage::check_user_id(owner)?;
    let stored = storage
        .document(record)
        .await?
        .filter(|d| d.tenant_id == tenant_id)
        .ok_or_else(|| StorageError::NotFound(format!("record {record}")))?;
    if stored.kind != "contact" {
        return Err(StorageError::BadRequest(format!(
            "record {record} is a {}: assign its contact instead",
            stored.kind
        )));
    }
    if stored.meta.owner.as_deref() == Some(owner) {
        return Ok(false);
    }
    let device = crate::flow::server_device(storage, tenant_id).await?;
    let owner_value = owner.to_string();
    crate::flow::author(storage, &device, record, "contact", move |doc| {
        use automerge::transaction::Transactable;
        doc.put(automerge::ROOT, "owner", owner_value.as_str())
            .map_err(|e| StorageError::Internal(format!("writing owner: {e}")))?;
        doc.commit_with(
            automerge::transaction::CommitOptions::default()
                .with_message(format!("assign: owner → {owner_value}")),
        );
        Ok(doc.get_last_local_change().map(|c| c.raw_bytes().to_vec()))
    })
    .await?;
    let detail = serde_json::json!({ "record": record, "owner": owner });
    let e = crate::audit::AuditEvent::new(tenant_id, crate::audit::event::RECORD_ASSIGN, &detail)
        .from_remote("operator");
    storage.audit_append(e).await?;
    Ok(true)
}

/// Checks a role name and permission list given by an operator.
pub fn check_role(role: &str, permissions: &[String]) -> Result<Vec<String>, StorageError> {
    role.parse::<Role>().map_err(StorageError::BadRequest)?;
    let parsed = Permissions::parse(permissions)
        .map_err(|e| StorageError::BadRequest(format!("role {role}: {e}")))?;
    Ok(parsed.names())
}

/// Checks a team name given by an operator.
pub fn check_team_name(name: &str) -> Result<(), StorageError> {
    if name.trim().is_empty() || name.chars().count() > 100 {
        return Err(StorageError::BadRequest(
            "team: must be 1 to 100 characters, not only spaces".into(),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(sharing: Sharing) -> AccessConfig {
        AccessConfig {
            sharing,
            epoch: 3,
            lease: None,
            roles: BTreeMap::new(),
            teams: vec![Team {
                name: "south".into(),
                manager: Some("boss".into()),
                members: vec!["alice".into(), "bob".into()],
            }],
        }
    }

    fn owned(owner: &str) -> DocMeta {
        DocMeta {
            owner: Some(owner.into()),
            root: Some("c1".into()),
            field: None,
        }
    }

    #[test]
    fn scopes_follow_roles_teams_and_shares() {
        let c = config(Sharing::Private);
        let alice = Viewer::new(&c, "alice", &Role::Rep, vec!["c9".into()]);
        assert!(alice.sees("c1", "contact", &owned("alice")));
        assert!(!alice.sees("c2", "contact", &owned("bob")));
        let shared = DocMeta {
            owner: Some("carol".into()),
            root: Some("c9".into()),
            field: None,
        };
        assert!(alice.sees("v1", "visit", &shared));
        let boss = Viewer::new(&c, "boss", &Role::Manager, vec![]);
        assert!(boss.sees("c2", "contact", &owned("bob")));
        assert!(!boss.sees("c3", "contact", &owned("zed")));
        let director = Viewer::new(&c, "dora", &Role::Director, vec![]);
        assert!(director.sees("c3", "contact", &owned("zed")));
        let open = Viewer::new(&config(Sharing::Open), "alice", &Role::Rep, vec![]);
        assert!(open.sees("c3", "contact", &owned("zed")));
        assert!(alice.sees("cfg", "config", &DocMeta::default()));
    }

    #[test]
    fn restricted_documents_need_the_field() {
        let c = config(Sharing::Open);
        let amount = DocMeta {
            owner: Some("alice".into()),
            root: Some("c1".into()),
            field: Some("amount".into()),
        };
        let alice = Viewer::new(&c, "alice", &Role::Rep, vec![]);
        assert!(!alice.sees("d1_amount", RESTRICTED_KIND, &amount));
        let boss = Viewer::new(&c, "boss", &Role::Manager, vec![]);
        assert!(boss.sees("d1_amount", RESTRICTED_KIND, &amount));
        let contract = DocMeta {
            field: Some("contract_amount".into()),
            ..amount
        };
        assert!(boss.sees("d1_contract_amount", RESTRICTED_KIND, &contract));
    }

    #[test]
    fn settings_are_everyones_and_other_kinds_the_servers() {
        let c = config(Sharing::Open);
        let director = Viewer::new(&c, "dora", &Role::Director, vec![]);
        assert!(director.sees("config-t", "config", &DocMeta::default()));
        assert!(!director.sees("x", "secret", &DocMeta::default()));
        assert!(Viewer::unrestricted().sees("x", "secret", &DocMeta::default()));
        assert!(Viewer::unrestricted().is_server() && !director.is_server());
    }
}
