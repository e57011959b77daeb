//! What the sync routes do for an authenticated device, apart from HTTP: a push with what it
//! sets off on the server (lead routing, visit re-checks, the audit trail) and the pull after
//! it, a bootstrap page, the device's scope and its documents, one Automerge sync message.
//! Every answer is read through the device's [`Viewer`], worked out from storage per request.

use crate::access::viewer_of;
use crate::audit::{self, event, AuditEvent};
use crate::error::StorageError;
use crate::metrics::Metrics;
use crate::policy::Viewer;
use crate::rows::Device;
use crate::storage::enrol::DeviceReport;
use crate::storage::plan::{check_bounds, check_record_id};
use crate::storage::values::now_ms;
use crate::storage::{AutomergeReply, Storage};
use outpost_core::sync::protocol::{
    BootstrapRequest, BootstrapResponse, ClientReport, RecordsResponse, ScopeRequest,
    ScopeResponse, SyncRequest, SyncResponse, DEFAULT_PAGE, MAX_APP_VERSION_CHARS, MAX_PAGE,
    MAX_SCOPE_PAGE, PROTOCOL_VERSION,
};

/// How often a pull-only sync updates `devices.last_seen_at`.
const TOUCH_INTERVAL_MS: i64 = 60_000;

/// The sync routes' work over one storage, counting into the server's metrics.
pub struct SyncService<'a> {
    storage: &'a dyn Storage,
    metrics: &'a Metrics,
}

impl<'a> SyncService<'a> {
    /// The service over `storage`, counting applied changes into `metrics`.
    pub fn new(storage: &'a dyn Storage, metrics: &'a Metrics) -> Self {
        Self { storage, metrics }
    }

    /// One `/v1/sync` round trip: applies what `device` pushes (then routes the new leads it
    /// brings and re-checks its visits: a failure there is logged, never the device's), and
    /// answers the next page of the log the device's user may read, with their scope.
    pub async fn push_and_pull(
        &self,
        device: &Device,
        request: &SyncRequest,
    ) -> Result<SyncResponse, StorageError> {
        // Bounded before anything below reads a change (see outpost_core::sync::bounds).
        check_bounds(&request.changes)?;
        let limit = page_limit(request.limit);
        let actor = request_actor(request);
        let now = now_ms();
        let viewer = self.viewer(device).await?;
        if let Some(client) = &request.client {
            self.note_report(device, client, now).await?;
        }
        let mut rejected = Vec::new();
        let mut deferred = Vec::new();
        if !request.changes.is_empty() {
            // Lead routing: the contacts this push brings for the first time. A failure here
            // leaves them unrouted; it never fails the device's sync.
            let leads = crate::routing::new_leads(self.storage, device, &request.changes)
                .await
                .unwrap_or_else(|e| {
                    tracing::warn!(error = %e, "finding new leads to route failed");
                    None
                });
            let outcome = self
                .storage
                .push(device, &viewer, &actor, &request.changes)
                .await?;
            self.metrics.changes_applied(outcome.applied);
            audit::record_push(
                self.storage,
                device,
                &request.changes,
                &outcome.rejected,
                outcome.applied,
            )
            .await;
            rejected = outcome.rejected;
            deferred = outcome.deferred;
            // The server's verdict wins; a failed re-check never fails the device's sync.
            if let Err(e) =
                crate::flow::recheck_visits(self.storage, device, &request.changes, now).await
            {
                tracing::warn!(error = %e, "re-checking visit verdicts failed");
            }
            if let Some(leads) = leads {
                if let Err(e) = crate::routing::route_leads(self.storage, leads, now).await {
                    tracing::warn!(error = %e, "routing new leads failed");
                }
            }
        } else if device
            .last_seen_at_ms
            .is_none_or(|seen| now - seen >= TOUCH_INTERVAL_MS)
        {
            self.storage.touch_device(&device.id, now).await?;
        }
        // Read again after a push: a reassignment it carried (or its routing) moved the epoch.
        let viewer = if request.changes.is_empty() {
            viewer
        } else {
            self.viewer(device).await?
        };
        // Read before the page: a restore renews it while the log below is replaced.
        let log_id = self.storage.log_id().await?;
        let page = self
            .storage
            .pull(&device.tenant_id, &viewer, &actor, request.cursor, limit)
            .await?;
        Ok(SyncResponse {
            v: PROTOCOL_VERSION,
            rejected,
            entries: page.entries,
            cursor: page.cursor,
            more: page.more,
            server_time_ms: now_ms(),
            log_id: Some(log_id),
            deferred: deferred
                .into_iter()
                .map(serde_bytes::ByteBuf::from)
                .collect(),
            scope: Some(viewer.info()),
        })
    }

    /// One page of the documents the device's user may read; the first page is audited.
    pub async fn bootstrap(
        &self,
        device: &Device,
        request: &BootstrapRequest,
    ) -> Result<BootstrapResponse, StorageError> {
        if request.after.is_none() {
            let e = AuditEvent::new(
                &device.tenant_id,
                event::SYNC_BOOTSTRAP,
                &serde_json::json!({}),
            )
            .by(&device.user_id, Some(&device.id));
            audit::record(self.storage, e).await;
        }
        let viewer = self.viewer(device).await?;
        let log_id = self.storage.log_id().await?;
        let page = self
            .storage
            .bootstrap(
                &device.tenant_id,
                &viewer,
                request.after.as_deref(),
                page_limit(request.limit),
            )
            .await?;
        Ok(BootstrapResponse {
            v: PROTOCOL_VERSION,
            docs: page.docs,
            next: page.next,
            cursor: page.cursor,
            log_id: Some(log_id),
        })
    }

    /// One page of the ids of the records the device's user may read, read at the epoch the
    /// page names.
    pub async fn scope(
        &self,
        device: &Device,
        request: &ScopeRequest,
    ) -> Result<ScopeResponse, StorageError> {
        let limit = request
            .limit
            .unwrap_or(MAX_SCOPE_PAGE)
            .clamp(1, MAX_SCOPE_PAGE);
        let viewer = self.viewer(device).await?;
        let rows = self
            .storage
            .scope_rows(&device.tenant_id, request.after.as_deref(), limit)
            .await?;
        let next = if rows.len() as u32 == limit {
            rows.last().map(|(id, _, _)| id.clone())
        } else {
            None
        };
        let records = rows
            .into_iter()
            .filter(|(id, kind, meta)| viewer.sees(id, kind, meta))
            .map(|(id, _, _)| id)
            .collect();
        Ok(ScopeResponse {
            v: PROTOCOL_VERSION,
            epoch: viewer.epoch,
            records,
            next,
        })
    }

    /// The documents among `ids` (at most [`MAX_PAGE`], each a valid record id) that the
    /// device's user may read.
    pub async fn records(
        &self,
        device: &Device,
        ids: &[String],
    ) -> Result<RecordsResponse, StorageError> {
        if ids.len() > MAX_PAGE as usize {
            return Err(StorageError::BadRequest(format!(
                "ids: {} ids in one request, at most {MAX_PAGE}",
                ids.len()
            )));
        }
        for (i, id) in ids.iter().enumerate() {
            check_record_id(id).map_err(|e| StorageError::BadRequest(format!("ids[{i}]: {e}")))?;
        }
        let viewer = self.viewer(device).await?;
        let docs = self
            .storage
            .scope_docs(&device.tenant_id, ids)
            .await?
            .into_iter()
            .filter(|(d, meta)| viewer.sees(&d.record, &d.kind, meta))
            .map(|(d, _)| d)
            .collect();
        Ok(RecordsResponse {
            v: PROTOCOL_VERSION,
            docs,
        })
    }

    /// One standard Automerge sync message for record `id`; the changes it brings are
    /// counted and audited.
    pub async fn automerge(
        &self,
        device: &Device,
        id: &str,
        message: &[u8],
    ) -> Result<AutomergeReply, StorageError> {
        let viewer = self.viewer(device).await?;
        let outcome = self
            .storage
            .automerge_sync(device, &viewer, id, message)
            .await?;
        self.metrics.changes_applied(outcome.applied);
        if outcome.applied > 0 {
            let detail = serde_json::json!({ "record": id, "applied": outcome.applied });
            let e = AuditEvent::new(&device.tenant_id, event::SYNC_AUTOMERGE, &detail)
                .by(&device.user_id, Some(&device.id));
            audit::record(self.storage, e).await;
        }
        Ok(outcome)
    }

    /// Keeps what the device says about itself (once per sync), for `device list`.
    async fn note_report(
        &self,
        device: &Device,
        client: &ClientReport,
        now: i64,
    ) -> Result<(), StorageError> {
        if let Some(v) = &client.app_version {
            if v.chars().count() > MAX_APP_VERSION_CHARS || v.chars().any(char::is_control) {
                return Err(StorageError::BadRequest(format!(
                    "client.app_version: at most {MAX_APP_VERSION_CHARS} printable characters"
                )));
            }
        }
        let report = DeviceReport {
            app_version: client.app_version.clone(),
            outbox: client.outbox,
            synced_at_ms: now,
        };
        self.storage.put_device_report(&device.id, &report).await
    }

    async fn viewer(&self, device: &Device) -> Result<Viewer, StorageError> {
        viewer_of(self.storage, device).await
    }
}

/// The actor a sync request pushes as: a version-2 request that pushes changes leaves it out,
/// since every change it pushes must name it; it is read from the first change that can be
/// read (bounds are checked before this). A change by another actor is then refused as usual.
fn request_actor(request: &SyncRequest) -> Vec<u8> {
    if !request.actor.is_empty() {
        return request.actor.clone();
    }
    request
        .changes
        .iter()
        .find_map(|c| outpost_core::sync::bounds::inspect_change(&c.change).ok())
        .map(|info| info.actor)
        .unwrap_or_default()
}

/// The page size a request asks for, within the protocol's bounds.
fn page_limit(limit: Option<u32>) -> u32 {
    limit.unwrap_or(DEFAULT_PAGE).clamp(1, MAX_PAGE)
}
