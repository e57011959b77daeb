//! `OutpostStore.metrics()`: what this device measured (the core's experience metrics).

use crate::error::OutpostError;
use crate::store::OutpostStore;
use crate::types::count;
use outpost_core as oc;

/// Durations of one user action on this device.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct ActionStats {
    /// `contact.add`, `contact.quick_create` (create plus duplicate check), `visit.check_in`,
    /// `search`, `import`, `sync`.
    pub action: String,
    /// How many were recorded.
    pub count: i64,
    /// Median duration (ms).
    pub p50_ms: i64,
    /// 95th percentile duration (ms).
    pub p95_ms: i64,
    /// Longest (ms).
    pub max_ms: i64,
}

/// How many syncs failed for one reason.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct SyncFailureCount {
    /// `network`, `auth`, `busy`, `server_503`, ...
    pub reason: String,
    /// How many times.
    pub count: i64,
}

/// What this device measured; sent to the server after each sync.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct DeviceMetrics {
    /// Per action, by name.
    pub actions: Vec<ActionStats>,
    /// Times the app ended without closing the store (killed, crashed) and it recovered.
    pub crashes_recovered: i64,
    /// Records created on this device.
    pub offline_created: i64,
    /// How many of them the server has acknowledged.
    pub offline_synced: i64,
    /// Failed syncs by reason.
    pub sync_failures: Vec<SyncFailureCount>,
    /// Events not yet sent to the server.
    pub unsent_events: i64,
}

impl From<oc::ExperienceSummary> for DeviceMetrics {
    fn from(m: oc::ExperienceSummary) -> Self {
        DeviceMetrics {
            actions: m
                .actions
                .into_iter()
                .map(|a| ActionStats {
                    action: a.action,
                    count: count(a.count),
                    p50_ms: count(a.p50_ms),
                    p95_ms: count(a.p95_ms),
                    max_ms: count(a.max_ms),
                })
                .collect(),
            crashes_recovered: count(m.crashes_recovered),
            offline_created: count(m.offline_created),
            offline_synced: count(m.offline_synced),
            sync_failures: m
                .sync_failures
                .into_iter()
                .map(|f| SyncFailureCount {
                    reason: f.reason,
                    count: count(f.count),
                })
                .collect(),
            unsent_events: count(m.unsent_events),
        }
    }
}

#[uniffi::export]
impl OutpostStore {
    /// How this device performs: per action count, p50, p95 and max; crashes recovered;
    /// records created here and how many reached the server; failed syncs by reason.
    pub fn metrics(&self) -> Result<DeviceMetrics, OutpostError> {
        self.read(|s| s.experience()).map(Into::into)
    }
}
