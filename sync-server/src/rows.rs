//! The rows every layer reads: tenants, devices, stored documents with their visibility, and a
//! tenant's access settings. Plain data without I/O: [`crate::policy`] decides with them and
//! [`crate::storage`] reads and writes them.

use outpost_core::access::{self, Permissions};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// A device user's role in their tenant: one of the defaults (see
/// [`outpost_core::access::DEFAULT_ROLES`]) or a role the tenant defined (`outpost-server role
/// set`). What a role may do is the tenant's setting, or the default permissions.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Role {
    /// A field rep: their own records and those shared with them.
    Rep,
    /// A sales manager: also their teams' records.
    Manager,
    /// A sales director: every record.
    Director,
    /// Finance: reads every record, writes amounts.
    Finance,
    /// An administrator.
    Admin,
    /// A role the tenant defined.
    Custom(String),
}

impl Role {
    /// The stored name (`rep`, `manager`, `director`, `finance`, `admin`, or the custom name).
    pub fn as_str(&self) -> &str {
        match self {
            Role::Rep => "rep",
            Role::Manager => "manager",
            Role::Director => "director",
            Role::Finance => "finance",
            Role::Admin => "admin",
            Role::Custom(name) => name,
        }
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for Role {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Role {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let name = String::deserialize(d)?;
        name.parse().map_err(serde::de::Error::custom)
    }
}

impl std::str::FromStr for Role {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s {
            "rep" => Role::Rep,
            "manager" => Role::Manager,
            "director" => Role::Director,
            "finance" => Role::Finance,
            "admin" => Role::Admin,
            other => {
                let ok = !other.is_empty()
                    && other.len() <= 40
                    && other.bytes().all(|b| {
                        b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-'
                    });
                if !ok {
                    return Err(format!(
                        "role {other:?}: must be rep, manager, director, finance, admin, or a \
                         tenant's own role of 1 to 40 characters a-z, 0-9, '_' or '-'"
                    ));
                }
                Role::Custom(other.to_string())
            }
        })
    }
}

/// A tenant: one company, with its own change log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Tenant {
    /// The tenant id (UUIDv7 string).
    pub id: String,
    /// The unique tenant name.
    pub name: String,
    /// The last sequence number of the tenant's change log (0 when empty).
    pub log_head: u64,
    /// When it was created (ms since the epoch).
    pub created_at_ms: i64,
}

/// An enrolled device.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Device {
    /// The device id (UUIDv7 string).
    pub id: String,
    /// Its tenant.
    pub tenant_id: String,
    /// The user signed in on it.
    pub user_id: String,
    /// The user's role.
    pub role: Role,
    /// When it was enrolled (ms since the epoch).
    pub created_at_ms: i64,
    /// When it was revoked, if it was.
    pub revoked_at_ms: Option<i64>,
    /// When it last synced (updated at most about once a minute when it only pulls).
    pub last_seen_at_ms: Option<i64>,
}

/// A stored record document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredDoc {
    /// The record id.
    pub record_id: String,
    /// The tenant it belongs to.
    pub tenant_id: String,
    /// The record kind.
    pub kind: String,
    /// `AutoCommit::save` bytes.
    pub doc: Vec<u8>,
    /// The log seq of the last change applied to it.
    pub updated_seq: u64,
    /// Who may see it (see [`DocMeta`]).
    pub meta: DocMeta,
}

/// What decides who may see a stored record: the record its visibility follows (`root`: a
/// contact for its visits, deals, tasks and attachments, the deal for its restricted fields'
/// documents, else itself), that root's owner, and for a restricted document its field.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DocMeta {
    /// The owner of the root record (its `owner` field, else the user who created it).
    pub owner: Option<String>,
    /// The root record's id.
    pub root: Option<String>,
    /// The restricted field a `restricted` document holds.
    pub field: Option<String>,
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
