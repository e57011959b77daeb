//! Where devices' experience events are kept: the rows both backends store and return, the
//! check a batch passes before it is stored, and the migration. The health report built from
//! them is [`crate::reports`]'s.

use crate::error::StorageError;
use outpost_core::sync::protocol::{
    ExperienceBatch, KIND_ACTION, KIND_CRASH, KIND_SYNC_FAILURE, MAX_EXPERIENCE_EVENTS,
};

/// Appended to both backends' migrations (5): events numbered per device (a resent one is
/// ignored) and each device's latest created/synced totals.
pub const MIGRATION: &str = r#"
-- experience metrics
CREATE TABLE experience_events (
    tenant_id TEXT NOT NULL,
    device_id TEXT NOT NULL,
    seq BIGINT NOT NULL,
    at_ms BIGINT NOT NULL,
    kind TEXT NOT NULL,
    name TEXT NOT NULL,
    ms BIGINT NOT NULL,
    received_at BIGINT NOT NULL,
    PRIMARY KEY (device_id, seq)
);
CREATE INDEX experience_events_tenant ON experience_events (tenant_id);
CREATE TABLE experience_devices (
    device_id TEXT PRIMARY KEY,
    tenant_id TEXT NOT NULL,
    offline_created BIGINT NOT NULL,
    offline_synced BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX experience_devices_tenant ON experience_devices (tenant_id);
"#;

/// How long the server keeps an event (by when it arrived): the report covers about this much.
pub const KEEP_MS: i64 = 90 * 24 * 3600 * 1000;
/// Longest action or failure name accepted.
const MAX_NAME: usize = 100;

/// One stored experience event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredEvent {
    /// The device that sent it.
    pub device_id: String,
    /// `action`, `crash_recovered` or `sync_failure`.
    pub kind: String,
    /// The action or failure reason.
    pub name: String,
    /// Duration in ms (actions).
    pub ms: u64,
}

/// A device's latest created/synced totals.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceTotals {
    /// The device.
    pub device_id: String,
    /// Records it created.
    pub offline_created: u64,
    /// How many of them reached the server.
    pub offline_synced: u64,
}

/// Everything a tenant's devices sent.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExperienceData {
    /// Every stored event.
    pub events: Vec<StoredEvent>,
    /// Every device's totals.
    pub devices: Vec<DeviceTotals>,
}

/// What storing a batch did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ExperienceStored {
    /// Events new to the server.
    pub stored: u64,
    /// The highest event number held for the device.
    pub acked_seq: u64,
}

/// Refuses a batch the storage should not keep.
pub fn check_batch(batch: &ExperienceBatch) -> Result<(), StorageError> {
    if batch.events.len() > MAX_EXPERIENCE_EVENTS {
        return Err(StorageError::BadRequest(format!(
            "events: {} in one batch, at most {MAX_EXPERIENCE_EVENTS}",
            batch.events.len()
        )));
    }
    if batch.offline_synced > batch.offline_created {
        return Err(StorageError::BadRequest(format!(
            "offline_synced ({}) is more than offline_created ({})",
            batch.offline_synced, batch.offline_created
        )));
    }
    for e in &batch.events {
        if e.seq == 0 || i64::try_from(e.seq).is_err() || i64::try_from(e.ms).is_err() {
            return Err(StorageError::BadRequest(format!(
                "event {}: seq must be 1 to 2^63-1 and ms at most 2^63-1",
                e.seq
            )));
        }
        if ![KIND_ACTION, KIND_CRASH, KIND_SYNC_FAILURE].contains(&e.kind.as_str()) {
            return Err(StorageError::BadRequest(format!(
                "event {}: unknown kind {:?} (expected action, crash_recovered or sync_failure)",
                e.seq, e.kind
            )));
        }
        if e.name.len() > MAX_NAME || (e.kind != KIND_CRASH && e.name.trim().is_empty()) {
            return Err(StorageError::BadRequest(format!(
                "event {}: name must be 1 to {MAX_NAME} bytes",
                e.seq
            )));
        }
    }
    Ok(())
}
