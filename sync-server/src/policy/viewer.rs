//! What one device's user may see and do: worked out once per request from the tenant's
//! [`AccessConfig`] and the records shared with the user.

use crate::rows::{AccessConfig, DocMeta, Role, Sharing};
use outpost_core::access::{self, Permissions, Scope, RESTRICTED_KIND};
use outpost_core::sync::protocol::ScopeInfo;
use std::collections::HashSet;

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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rows::Team;
    use std::collections::BTreeMap;

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
