//! The store's key-value settings, read and written in one place: `sync_state` (the device id,
//! the server and its cursor, the lease, the scope, markers) and `flow_settings` (the tenant's
//! flow configuration as the last sync brought it, the clock reference).
//!
//! The bottom of the store with [`super::records`]: every other store file may call it, it calls
//! none of them.

use crate::error::{Error, Result};
use crate::record::config::FlowConfig;
use rusqlite::{Connection, OptionalExtension};

/// The sync server's URL.
pub(crate) const KEY_SERVER: &str = "server_url";
/// This device's bearer token for the server.
pub(crate) const KEY_TOKEN: &str = "server_token";
/// The last server log position applied.
pub(crate) const KEY_CURSOR: &str = "cursor";
/// `1` once the first full download finished.
pub(crate) const KEY_BOOTSTRAPPED: &str = "bootstrapped";
/// The identity of the server log the cursor counts in (see `super::log_reset`).
pub(crate) const KEY_LOG_ID: &str = "log_id";
/// The app version the server last acknowledged in a sync's report (sent again only when it
/// changes).
pub(crate) const KEY_REPORTED_APP: &str = "reported_app_version";
/// When the last sync finished (RFC 3339).
pub(crate) const KEY_LAST_SYNC: &str = "last_sync_at";
/// The server's clock at the last sync (milliseconds).
pub(crate) const KEY_SERVER_TIME: &str = "server_time_ms";
/// This device's id, kept through a wipe.
pub(crate) const KEY_DEVICE_ID: &str = "device_id";

/// `flow_settings` key of the tenant's flow configuration (JSON).
pub(crate) const KEY_FLOW_CONFIG: &str = "config";

/// Which key-value table a setting lives in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Table {
    /// `sync_state`: the device's own state.
    SyncState,
    /// `flow_settings`: the tenant's flow settings and the clock reference.
    Flow,
}

impl Table {
    fn select(self) -> &'static str {
        match self {
            Table::SyncState => "SELECT value FROM sync_state WHERE key = ?1",
            Table::Flow => "SELECT value FROM flow_settings WHERE key = ?1",
        }
    }

    fn upsert(self) -> &'static str {
        match self {
            Table::SyncState => {
                "INSERT INTO sync_state(key, value) VALUES (?1, ?2) \
                 ON CONFLICT(key) DO UPDATE SET value = excluded.value"
            }
            Table::Flow => {
                "INSERT INTO flow_settings(key, value) VALUES (?1, ?2) \
                 ON CONFLICT(key) DO UPDATE SET value = excluded.value"
            }
        }
    }

    fn delete(self) -> &'static str {
        match self {
            Table::SyncState => "DELETE FROM sync_state WHERE key = ?1",
            Table::Flow => "DELETE FROM flow_settings WHERE key = ?1",
        }
    }

    /// The value of `key`, if set.
    pub(crate) fn get(self, conn: &Connection, key: &str) -> Result<Option<String>> {
        Ok(conn
            .prepare_cached(self.select())?
            .query_row([key], |r| r.get(0))
            .optional()?)
    }

    /// Sets `key` to `value` (inserted or replaced). Inside the caller's transaction when
    /// `conn` is one.
    pub(crate) fn set(self, conn: &Connection, key: &str, value: &str) -> Result<()> {
        conn.prepare_cached(self.upsert())?.execute([key, value])?;
        Ok(())
    }

    /// Removes `key` (nothing happens when it is not set).
    pub(crate) fn remove(self, conn: &Connection, key: &str) -> Result<()> {
        conn.prepare_cached(self.delete())?.execute([key])?;
        Ok(())
    }
}

/// The value of a `sync_state` setting, if set.
pub(crate) fn get(conn: &Connection, key: &str) -> Result<Option<String>> {
    Table::SyncState.get(conn, key)
}

/// Sets a `sync_state` setting (inserted or replaced).
pub(crate) fn set(conn: &Connection, key: &str, value: &str) -> Result<()> {
    Table::SyncState.set(conn, key, value)
}

/// Removes a `sync_state` setting.
pub(crate) fn remove(conn: &Connection, key: &str) -> Result<()> {
    Table::SyncState.remove(conn, key)
}

/// The tenant's flow configuration as the last sync brought it (the defaults before one did).
pub(crate) fn flow_config(conn: &Connection) -> Result<FlowConfig> {
    match Table::Flow.get(conn, KEY_FLOW_CONFIG)? {
        None => Ok(FlowConfig::default()),
        Some(json) => serde_json::from_str(&json).map_err(|e| Error::Document {
            id: "flow config".into(),
            reason: e.to_string(),
        }),
    }
}
