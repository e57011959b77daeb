//! Experience metrics sent by devices (`POST /v1/metrics`) and the per-tenant health report
//! built from them (`GET /v1/reports/health`, `outpost-server report health --tenant T`).
//!
//! Devices number their events; the storage keeps one event per device and number, so a batch
//! sent twice counts once. The report is computed here, from the rows either backend returns.
//! (Not to be confused with [`crate::metrics`], the server's own Prometheus counters.)

use crate::access::viewer_of;
use crate::error::StorageError;
use crate::rows::Device;
pub use crate::storage::reports::{
    check_batch, DeviceTotals, ExperienceData, ExperienceStored, StoredEvent, KEEP_MS, MIGRATION,
};
use crate::storage::values::now_ms;
use crate::storage::Storage;
use outpost_core::sync::protocol::{
    percentile, ExperienceBatch, KIND_ACTION, KIND_CRASH, KIND_SYNC_FAILURE,
};
use serde::Serialize;
use std::collections::BTreeMap;

/// Share of records created offline that must reach the server.
pub const OFFLINE_SYNCED_TARGET: f64 = 0.992;
/// Most a quick create (a contact with name and phone, duplicate check included) may take.
pub const QUICK_CREATE_TARGET_MS: u64 = 3_000;
/// The action name of a quick create.
pub const QUICK_CREATE: &str = "contact.quick_create";
/// Percentiles of one action.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ActionTimes {
    /// How many were recorded.
    pub count: u64,
    /// Median (ms).
    pub p50: u64,
    /// 95th percentile (ms).
    pub p95: u64,
}

/// The quick-create times against their target.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct QuickCreate {
    /// How many were recorded.
    pub count: u64,
    /// Median (ms).
    pub p50: u64,
    /// 95th percentile (ms).
    pub p95: u64,
    /// Longest (ms).
    pub max: u64,
    /// The target every quick create must stay under.
    pub target_ms: u64,
    /// Whether the longest stayed under the target.
    pub met: bool,
}

/// The share of offline-created records that reached the server.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SyncedRatio {
    /// synced / created, or `null` when nothing was created.
    pub value: Option<f64>,
    /// [`OFFLINE_SYNCED_TARGET`].
    pub target: f64,
    /// Whether the value reaches the target (true when nothing was created).
    pub met: bool,
}

/// One device's line of the report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DeviceHealth {
    /// The device.
    pub device_id: String,
    /// Records it created.
    pub offline_created: u64,
    /// How many reached the server.
    pub offline_synced: u64,
    /// Unclean shutdowns it recovered from.
    pub crashes_recovered: u64,
    /// Its failed syncs.
    pub sync_failures: u64,
}

/// `GET /v1/reports/health`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HealthReport {
    /// The tenant.
    pub tenant: String,
    /// Records created on devices (offline-first).
    pub offline_created: u64,
    /// How many of them reached the server.
    pub offline_synced: u64,
    /// Their ratio against the target.
    pub offline_synced_ratio: SyncedRatio,
    /// Per action.
    pub action_ms: BTreeMap<String, ActionTimes>,
    /// Quick create against its target.
    pub quick_create_ms: QuickCreate,
    /// Failed syncs by reason.
    pub sync_failures: BTreeMap<String, u64>,
    /// Unclean shutdowns recovered from.
    pub crashes_recovered: u64,
    /// Per device.
    pub devices: Vec<DeviceHealth>,
}

fn device_entry<'a>(
    devices: &'a mut BTreeMap<String, DeviceHealth>,
    id: &str,
) -> &'a mut DeviceHealth {
    devices
        .entry(id.to_string())
        .or_insert_with(|| DeviceHealth {
            device_id: id.to_string(),
            offline_created: 0,
            offline_synced: 0,
            crashes_recovered: 0,
            sync_failures: 0,
        })
}

/// Builds the report of `tenant` from what its devices sent.
pub fn health_report(tenant: &str, data: &ExperienceData) -> HealthReport {
    let mut times: BTreeMap<String, Vec<u64>> = BTreeMap::new();
    let mut sync_failures: BTreeMap<String, u64> = BTreeMap::new();
    let mut devices: BTreeMap<String, DeviceHealth> = BTreeMap::new();
    let mut crashes = 0;
    for e in &data.events {
        let d = device_entry(&mut devices, &e.device_id);
        match e.kind.as_str() {
            KIND_ACTION => times.entry(e.name.clone()).or_default().push(e.ms),
            KIND_CRASH => {
                crashes += 1;
                d.crashes_recovered += 1;
            }
            KIND_SYNC_FAILURE => {
                *sync_failures.entry(e.name.clone()).or_default() += 1;
                d.sync_failures += 1;
            }
            _ => {}
        }
    }
    let (mut created, mut synced) = (0u64, 0u64);
    for t in &data.devices {
        let d = device_entry(&mut devices, &t.device_id);
        d.offline_created = t.offline_created;
        d.offline_synced = t.offline_synced;
        created += t.offline_created;
        synced += t.offline_synced;
    }
    for v in times.values_mut() {
        v.sort_unstable();
    }
    let action_ms = times
        .iter()
        .map(|(name, v)| {
            (
                name.clone(),
                ActionTimes {
                    count: v.len() as u64,
                    p50: percentile(v, 50),
                    p95: percentile(v, 95),
                },
            )
        })
        .collect();
    let quick = times.get(QUICK_CREATE).map(Vec::as_slice).unwrap_or(&[]);
    let quick_max = quick.last().copied().unwrap_or(0);
    let value = (created > 0).then(|| synced as f64 / created as f64);
    HealthReport {
        tenant: tenant.to_string(),
        offline_created: created,
        offline_synced: synced,
        offline_synced_ratio: SyncedRatio {
            value,
            target: OFFLINE_SYNCED_TARGET,
            met: value.is_none_or(|v| v >= OFFLINE_SYNCED_TARGET),
        },
        action_ms,
        quick_create_ms: QuickCreate {
            count: quick.len() as u64,
            p50: percentile(quick, 50),
            p95: percentile(quick, 95),
            max: quick_max,
            target_ms: QUICK_CREATE_TARGET_MS,
            met: quick_max < QUICK_CREATE_TARGET_MS,
        },
        sync_failures,
        crashes_recovered: crashes,
        devices: devices.into_values().collect(),
    }
}

/// The health report of a tenant (by id or name), read from storage.
pub async fn tenant_health(
    storage: &dyn Storage,
    tenant: &str,
) -> Result<HealthReport, StorageError> {
    let Some(t) = storage.tenant(tenant).await? else {
        return Err(StorageError::NotFound(format!("tenant {tenant}")));
    };
    let data = storage.experience(&t.id).await?;
    Ok(health_report(&t.id, &data))
}

/// Stores a device's batch of experience events (checked first); a resent event counts once.
pub async fn receive(
    storage: &dyn Storage,
    device: &Device,
    batch: &ExperienceBatch,
) -> Result<ExperienceStored, StorageError> {
    check_batch(batch)?;
    storage.put_experience(device, batch, now_ms()).await
}

/// The health report of the device's tenant, for roles that see more than their own records
/// (managers, directors, finance, admins by default).
pub async fn device_health(
    storage: &dyn Storage,
    device: &Device,
) -> Result<HealthReport, StorageError> {
    let viewer = viewer_of(storage, device).await?;
    if viewer.permissions.scope() == outpost_core::access::Scope::Own {
        return Err(StorageError::Forbidden(format!(
            "the health report is for roles that see a team or more; role {} sees its own records",
            viewer.role
        )));
    }
    let data = storage.experience(&device.tenant_id).await?;
    Ok(health_report(&device.tenant_id, &data))
}

#[cfg(test)]
mod tests {
    use super::*;
    use outpost_core::sync::protocol::ExperienceEvent;

    fn event(device: &str, kind: &str, name: &str, ms: u64) -> StoredEvent {
        StoredEvent {
            device_id: device.into(),
            kind: kind.into(),
            name: name.into(),
            ms,
        }
    }

    #[test]
    fn report_sums_devices_and_ranks_times() {
        let mut events: Vec<StoredEvent> = (1..=20)
            .map(|ms| event("a", KIND_ACTION, QUICK_CREATE, ms * 10))
            .collect();
        events.push(event("b", KIND_SYNC_FAILURE, "network", 0));
        events.push(event("b", KIND_SYNC_FAILURE, "network", 0));
        events.push(event("b", KIND_CRASH, "", 0));
        let data = ExperienceData {
            events,
            devices: vec![
                DeviceTotals {
                    device_id: "a".into(),
                    offline_created: 990,
                    offline_synced: 990,
                },
                DeviceTotals {
                    device_id: "b".into(),
                    offline_created: 10,
                    offline_synced: 0,
                },
            ],
        };
        let r = health_report("t", &data);
        assert_eq!((r.offline_created, r.offline_synced), (1000, 990));
        assert_eq!(r.offline_synced_ratio.value, Some(0.99));
        assert!(!r.offline_synced_ratio.met);
        assert_eq!(r.quick_create_ms.count, 20);
        assert_eq!(r.quick_create_ms.p50, 100);
        assert_eq!(r.quick_create_ms.p95, 190);
        assert_eq!(r.quick_create_ms.max, 200);
        assert!(r.quick_create_ms.met);
        assert_eq!(r.sync_failures.get("network"), Some(&2));
        assert_eq!(r.crashes_recovered, 1);
        assert_eq!(r.devices.len(), 2);
        assert_eq!(r.devices[1].sync_failures, 2);
    }

    #[test]
    fn bad_batches_are_refused() {
        let good = ExperienceEvent {
            seq: 1,
            at_ms: 0,
            kind: KIND_ACTION.into(),
            name: "search".into(),
            ms: 3,
        };
        let batch = |events: Vec<ExperienceEvent>, created, synced| ExperienceBatch {
            v: 1,
            events,
            offline_created: created,
            offline_synced: synced,
        };
        assert!(check_batch(&batch(vec![good.clone()], 1, 1)).is_ok());
        assert!(check_batch(&batch(vec![good.clone()], 1, 2)).is_err());
        let mut zero = good.clone();
        zero.seq = 0;
        assert!(check_batch(&batch(vec![zero], 0, 0)).is_err());
        let mut odd = good;
        odd.kind = "mystery".into();
        assert!(check_batch(&batch(vec![odd], 0, 0)).is_err());
    }
}
