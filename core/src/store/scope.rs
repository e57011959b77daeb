//! What the signed-in user may do, as the server last said ([`ScopeInfo`] in every sync answer),
//! and the local refusals that follow from it.
//!
//! Until the first sync answer with a scope arrives the device knows nothing and allows
//! everything: the server decides (and refuses the change, which then shows in
//! `outpost status`). Once known, a write the role may not make is refused here with
//! [`Error::Permission`], before anything is written, so the app can hide it.

use super::settings;
use super::Store;
use crate::access::RECORD_KINDS;
use crate::error::{Error, Result};
use crate::record::RecordKind;
use crate::sync::protocol::ScopeInfo;
use rusqlite::{Connection, Transaction};
use serde::{Deserialize, Serialize};

/// `sync_state` key of the latest [`ScopeInfo`] (JSON).
pub(crate) const KEY_SCOPE: &str = "scope";
/// `sync_state` key of the scope epoch this store last reconciled its records at.
pub(crate) const KEY_SCOPE_EPOCH: &str = "scope_epoch";

/// The signed-in user's role and permissions, as the server last said.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessInfo {
    /// The user the server knows this device by.
    pub user: String,
    /// Their role (`rep`, `manager`, ...).
    pub role: String,
    /// Their permissions, sorted (see [`crate::access`]).
    pub permissions: Vec<String>,
    /// The tenant's scope epoch in that answer.
    pub epoch: u64,
}

impl AccessInfo {
    /// Whether the permission list holds `permission`.
    pub fn allows(&self, permission: &str) -> bool {
        self.permissions.iter().any(|p| p == permission)
    }

    /// `Ok` when `permission` is held, else [`Error::Permission`] saying `action`.
    pub(crate) fn require(&self, permission: &str, action: &str) -> Result<()> {
        if self.allows(permission) {
            Ok(())
        } else {
            Err(Error::Permission {
                action: action.to_string(),
                role: self.role.clone(),
            })
        }
    }
}

impl From<ScopeInfo> for AccessInfo {
    fn from(s: ScopeInfo) -> Self {
        let mut permissions = s.permissions;
        permissions.sort();
        permissions.dedup();
        AccessInfo {
            user: s.user,
            role: s.role,
            permissions,
            epoch: s.epoch,
        }
    }
}

/// The stored access, `None` before the first sync answer that carried one.
pub(crate) fn stored(conn: &Connection) -> Result<Option<AccessInfo>> {
    // A value this build cannot read counts as unknown: the server still decides.
    Ok(settings::get(conn, KEY_SCOPE)?.and_then(|json| serde_json::from_str(&json).ok()))
}

/// Stores the scope of a sync answer, inside the transaction that applies it.
pub(crate) fn store(tx: &Transaction<'_>, scope: ScopeInfo) -> Result<()> {
    let info = AccessInfo::from(scope);
    let json = serde_json::to_string(&info)
        .map_err(|e| Error::validation("scope", info.role.clone(), format!("cannot store: {e}")))?;
    settings::set(tx, KEY_SCOPE, &json)
}

/// Refuses `permission` when the access is known and does not hold it.
pub(crate) fn require(conn: &Connection, permission: &str, action: &str) -> Result<()> {
    match stored(conn)? {
        Some(access) => access.require(permission, action),
        None => Ok(()),
    }
}

/// Refuses a local write of a record of `kind` (for a restricted document, of its `field`)
/// the user may not make.
pub(crate) fn require_write(
    conn: &Connection,
    kind: RecordKind,
    field: Option<&str>,
) -> Result<()> {
    let Some(access) = stored(conn)? else {
        return Ok(());
    };
    if kind == RecordKind::Restricted {
        let field = field.unwrap_or_default();
        return access.require(
            &format!("field:{field}:write"),
            &format!("write field {field}"),
        );
    }
    let kind = kind.as_str();
    if RECORD_KINDS.contains(&kind) {
        return access.require(&format!("{kind}:write"), &format!("write {kind}"));
    }
    // Kinds the permissions do not name (the tenant's flow settings) are the server's call.
    Ok(())
}

impl Store {
    /// The signed-in user's role and permissions as the server last said, `None` before the
    /// first sync with a server that sends them. While `None`, nothing is refused locally.
    pub fn access(&self) -> Result<Option<AccessInfo>> {
        self.guard()?;
        self.ctx(stored(&self.conn))
    }

    /// The scope epoch this store last reconciled its records at (`None`: never).
    pub fn scope_epoch(&self) -> Result<Option<u64>> {
        let r = settings::get(&self.conn, KEY_SCOPE_EPOCH).map(|v| v.and_then(|e| e.parse().ok()));
        self.ctx(r)
    }

    /// Remembers that the records were reconciled with the server's scope at `epoch`.
    pub fn set_scope_epoch(&mut self, epoch: u64) -> Result<()> {
        let run = |store: &mut Store| -> Result<()> {
            let tx = store
                .conn
                .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
            settings::set(&tx, KEY_SCOPE_EPOCH, &epoch.to_string())?;
            tx.commit()?;
            Ok(())
        };
        let r = run(self);
        self.ctx(r)
    }
}
