//! Who may read and write what: permission names, the default roles, and restricted fields.
//!
//! The server enforces all of it (see `outpost-server`'s `access` module); a device learns its
//! user's role and permissions from every sync answer ([`crate::sync::protocol::ScopeInfo`]) and
//! refuses locally what the server would refuse anyway, so the app can hide it.
//!
//! Permissions are plain strings:
//!
//! | Permission | Grants |
//! |---|---|
//! | `KIND:read`, `KIND:write` | records of a kind (`contact`, `visit`, `deal`, `task`, `attachment`) |
//! | `invalidate` | marking a record invalid |
//! | `merge` | merging and unmerging contacts |
//! | `export` | exports and audit exports |
//! | `assign` | changing a record's `owner` |
//! | `flow:configure` | writing the tenant's flow settings (the `config` document: stages, gates, radius) |
//! | `field:NAME:read`, `field:NAME:write` | a restricted field ([`RESTRICTED_FIELDS`]) |
//! | `scope:own`, `scope:team`, `scope:all` | which records: own and shared, the team's, all |
//!
//! A restricted field never lives in its record's document: it is a document of its own, kind
//! [`RESTRICTED_KIND`], id [`restricted_id`]`(record, field)`, holding `of`, `field` and
//! `value`, so that its bytes reach only the devices whose user may read the field.

use std::collections::BTreeSet;

/// The record kinds that permissions name.
pub const RECORD_KINDS: &[&str] = &["contact", "visit", "deal", "task", "attachment"];

/// The kind of a restricted field's document.
pub const RESTRICTED_KIND: &str = "restricted";

/// The restricted fields, with the kind of record each belongs to.
pub const RESTRICTED_FIELDS: &[(&str, &str)] = &[
    ("amount", "deal"),
    ("discount", "deal"),
    ("contract_amount", "deal"),
];

/// The permission to write the tenant's flow settings (the `config` document).
pub const FLOW_CONFIGURE: &str = "flow:configure";

/// The default role names, least to most allowed.
pub const DEFAULT_ROLES: &[&str] = &["rep", "manager", "director", "finance", "admin"];

/// Whether `field` is restricted on records of `kind`.
pub fn is_restricted(kind: &str, field: &str) -> bool {
    RESTRICTED_FIELDS
        .iter()
        .any(|(f, k)| *f == field && *k == kind)
}

/// The id of the restricted document holding `field` of record `record`.
pub fn restricted_id(record: &str, field: &str) -> String {
    format!("{record}_{field}")
}

/// Which records a role sees.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Scope {
    /// Records the user owns or that are shared with them.
    Own,
    /// Also the records of the teams the user manages.
    Team,
    /// Every record of the tenant.
    All,
}

impl Scope {
    /// `own`, `team` or `all`.
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Own => "own",
            Scope::Team => "team",
            Scope::All => "all",
        }
    }
}

/// A set of permissions (see the module docs).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Permissions(BTreeSet<String>);

impl Permissions {
    /// Reads a list of permission names, refusing unknown ones (naming them).
    pub fn parse<S: AsRef<str>>(names: &[S]) -> Result<Self, String> {
        let mut set = BTreeSet::new();
        for n in names {
            let n = n.as_ref().trim();
            if !is_permission(n) {
                return Err(format!(
                    "unknown permission {n:?} (expected KIND:read|write, invalidate, merge, \
                     export, assign, flow:configure, field:NAME:read|write or \
                     scope:own|team|all)"
                ));
            }
            set.insert(n.to_string());
        }
        let scopes = set.iter().filter(|p| p.starts_with("scope:")).count();
        if scopes > 1 {
            return Err("a role has one scope: scope:own, scope:team or scope:all".into());
        }
        Ok(Self(set))
    }

    /// Every permission there is, with `scope:all`.
    pub fn everything() -> Self {
        let mut set: BTreeSet<String> = RECORD_KINDS
            .iter()
            .flat_map(|k| [format!("{k}:read"), format!("{k}:write")])
            .collect();
        for p in [
            "invalidate",
            "merge",
            "export",
            "assign",
            FLOW_CONFIGURE,
            "scope:all",
        ] {
            set.insert(p.to_string());
        }
        for (f, _) in RESTRICTED_FIELDS {
            set.insert(format!("field:{f}:read"));
            set.insert(format!("field:{f}:write"));
        }
        Self(set)
    }

    /// The defaults of a default role, `None` for other names.
    pub fn default_for(role: &str) -> Option<Self> {
        let kinds_rw: Vec<String> = RECORD_KINDS
            .iter()
            .flat_map(|k| [format!("{k}:read"), format!("{k}:write")])
            .collect();
        let kinds_r: Vec<String> = RECORD_KINDS.iter().map(|k| format!("{k}:read")).collect();
        let mut names: Vec<String> = match role {
            "rep" => {
                let mut v = kinds_rw;
                v.extend(["invalidate", "merge", "scope:own"].map(String::from));
                v
            }
            "manager" => {
                let mut v = kinds_rw;
                v.extend(
                    [
                        "invalidate",
                        "merge",
                        "export",
                        "assign",
                        FLOW_CONFIGURE,
                        "scope:team",
                        "field:amount:read",
                        "field:amount:write",
                        "field:discount:read",
                        "field:discount:write",
                        "field:contract_amount:read",
                    ]
                    .map(String::from),
                );
                v
            }
            "director" => {
                let mut all = Self::everything();
                all.0.remove("export");
                all.0.remove(FLOW_CONFIGURE);
                return Some(all);
            }
            "finance" => {
                let mut v = kinds_r;
                v.extend(["export", "scope:all"].map(String::from));
                for (f, _) in RESTRICTED_FIELDS {
                    v.push(format!("field:{f}:read"));
                    v.push(format!("field:{f}:write"));
                }
                v
            }
            "admin" => return Some(Self::everything()),
            _ => return None,
        };
        names.sort();
        Self::parse(&names).ok()
    }

    /// Whether the set holds `permission`.
    pub fn has(&self, permission: &str) -> bool {
        self.0.contains(permission)
    }

    /// Whether records of `kind` may be read (restricted documents: their field).
    pub fn can_read_kind(&self, kind: &str) -> bool {
        self.has(&format!("{kind}:read"))
    }

    /// Whether records of `kind` may be written.
    pub fn can_write_kind(&self, kind: &str) -> bool {
        self.has(&format!("{kind}:write"))
    }

    /// Whether the restricted `field` may be read.
    pub fn can_read_field(&self, field: &str) -> bool {
        self.has(&format!("field:{field}:read"))
    }

    /// Whether the restricted `field` may be written.
    pub fn can_write_field(&self, field: &str) -> bool {
        self.has(&format!("field:{field}:write"))
    }

    /// The role's scope (`own` when none is given).
    pub fn scope(&self) -> Scope {
        if self.has("scope:all") {
            Scope::All
        } else if self.has("scope:team") {
            Scope::Team
        } else {
            Scope::Own
        }
    }

    /// The names, sorted.
    pub fn names(&self) -> Vec<String> {
        self.0.iter().cloned().collect()
    }
}

/// Whether `name` is a permission this build knows.
pub fn is_permission(name: &str) -> bool {
    if matches!(
        name,
        "invalidate"
            | "merge"
            | "export"
            | "assign"
            | FLOW_CONFIGURE
            | "scope:own"
            | "scope:team"
            | "scope:all"
    ) {
        return true;
    }
    if let Some((kind, op)) = name.split_once(':') {
        if RECORD_KINDS.contains(&kind) && matches!(op, "read" | "write") {
            return true;
        }
    }
    if let Some(rest) = name.strip_prefix("field:") {
        if let Some((field, op)) = rest.rsplit_once(':') {
            return RESTRICTED_FIELDS.iter().any(|(f, _)| *f == field)
                && matches!(op, "read" | "write");
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_parse_and_differ() {
        for role in DEFAULT_ROLES {
            assert!(Permissions::default_for(role).is_some(), "{role}");
        }
        let rep = Permissions::default_for("rep").unwrap_or_default();
        assert_eq!(rep.scope(), Scope::Own);
        assert!(!rep.can_read_field("amount"));
        assert!(rep.can_write_kind("contact"));
        let manager = Permissions::default_for("manager").unwrap_or_default();
        assert_eq!(manager.scope(), Scope::Team);
        assert!(manager.can_read_field("amount"));
        assert!(!manager.can_write_field("contract_amount"));
        // The tenant's flow settings: managers and admins only.
        assert!(manager.has(FLOW_CONFIGURE));
        assert!(!rep.has(FLOW_CONFIGURE));
        let admin = Permissions::default_for("admin").unwrap_or_default();
        assert!(admin.has(FLOW_CONFIGURE));
        let director = Permissions::default_for("director").unwrap_or_default();
        assert!(!director.has(FLOW_CONFIGURE));
        let finance = Permissions::default_for("finance").unwrap_or_default();
        assert!(!finance.has(FLOW_CONFIGURE));
        assert!(!finance.can_write_kind("deal"));
        assert!(finance.can_write_field("amount"));
        assert_eq!(finance.scope(), Scope::All);
        assert!(Permissions::default_for("intern").is_none());
    }

    #[test]
    fn unknown_permissions_are_named() {
        let e = Permissions::parse(&["contact:read", "contact:delete"]).err();
        assert!(e.is_some_and(|e| e.contains("contact:delete")));
        assert!(Permissions::parse(&["field:salary:read"]).is_err());
        assert!(Permissions::parse(&["scope:own", "scope:all"]).is_err());
        assert!(Permissions::parse(&["field:contract_amount:write"]).is_ok());
        assert!(Permissions::parse(&["flow:configure"]).is_ok());
        assert!(Permissions::parse(&["flow:read"]).is_err());
    }

    #[test]
    fn restricted_ids() {
        assert_eq!(restricted_id("0190-ab", "amount"), "0190-ab_amount");
        assert!(is_restricted("deal", "discount"));
        assert!(!is_restricted("contact", "amount"));
    }
}
