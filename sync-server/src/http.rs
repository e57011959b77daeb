//! The HTTP API: routes, bearer auth, body limits, JSON errors, metrics, caught panics.
//!
//! | Route | Body |
//! |---|---|
//! | `POST /v1/sync` | CBOR `SyncRequest` → CBOR `SyncResponse` |
//! | `POST /v1/bootstrap` | CBOR `BootstrapRequest` → CBOR `BootstrapResponse` |
//! | `POST /v1/scope` | CBOR `ScopeRequest` → CBOR `ScopeResponse` (the ids the user may read) |
//! | `POST /v1/records` | CBOR `RecordsRequest` → CBOR `RecordsResponse` (their documents) |
//! | `POST /v1/records/{id}/automerge-sync` | one Automerge sync message → the reply (200) or nothing (204) |
//! | `PUT /v1/blobs/{sha256}`, `GET /v1/blobs/{sha256}[/status]` | resumable attachment uploads (see [`crate::blobs`]) |
//! | `POST /v1/metrics` | CBOR `ExperienceBatch` → CBOR `ExperienceAck` (see [`crate::reports`]) |
//! | `GET /v1/reports/health` | the tenant's health report, JSON (managers and admins) |
//! | `GET /healthz` | `{"status":"ok"}` or 503 |
//! | `GET /metrics` | Prometheus text |
//!
//! Every error answer is a JSON [`outpost_core::sync::protocol::ErrorBody`] with a 4xx or 5xx status.

use crate::access::viewer_of;
use crate::audit::{self, event, AuditEvent};
use crate::error::AppError;
use crate::metrics::Metrics;
use crate::options::ServerOptions;
use crate::storage::{now_ms, Device, Storage};
use crate::token::hash_token;
use axum::body::{Body, Bytes, HttpBody};
use axum::extract::{DefaultBodyLimit, Path, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use http_body_util::BodyExt;
use outpost_core::sync::protocol::{
    self, BootstrapRequest, BootstrapResponse, RecordsRequest, RecordsResponse, ScopeRequest,
    ScopeResponse, SyncRequest, SyncResponse, DEFAULT_PAGE, MAX_BODY_BYTES, MAX_PAGE,
    MAX_SCOPE_PAGE, PROTOCOL_VERSION,
};
use serde::de::DeserializeOwned;
use std::any::Any;
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::net::TcpListener;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::trace::TraceLayer;

/// How often a pull-only sync updates `devices.last_seen_at`.
const TOUCH_INTERVAL_MS: i64 = 60_000;
/// How long `/healthz` waits for storage.
const HEALTH_TIMEOUT: Duration = Duration::from_secs(5);
/// Window of `outpost_active_devices`.
const ACTIVE_WINDOW_MS: i64 = 24 * 3600 * 1000;
/// How much of an oversized body is read and dropped before answering 413.
const DRAIN_LIMIT: usize = 4 * MAX_BODY_BYTES;
/// How long a body may take to arrive.
const DRAIN_TIME: Duration = Duration::from_secs(30);
/// Content type of the Automerge sync route.
pub(crate) const OCTET_STREAM: &str = "application/octet-stream";

/// What every handler shares.
#[derive(Clone)]
pub struct AppState {
    /// Where everything is stored.
    pub storage: Arc<dyn Storage>,
    /// The counters behind `/metrics`.
    pub metrics: Arc<Metrics>,
    /// The server's bounds.
    pub options: Arc<ServerOptions>,
}

/// The server's router, with its layers (tracing, metrics, panic catching, audit remote
/// address, failed-authentication limits), over `storage`, with the default options.
pub fn router(storage: Arc<dyn Storage>) -> Router {
    router_with_options(storage, ServerOptions::default())
}

/// [`router`] with failed-authentication limits of your choosing.
pub fn router_with_limits(
    storage: Arc<dyn Storage>,
    limits: crate::ratelimit::LimitConfig,
) -> Router {
    router_with_options(
        storage,
        ServerOptions {
            auth_limits: limits,
            ..ServerOptions::default()
        },
    )
}

/// [`router`] with options of your choosing.
pub fn router_with_options(storage: Arc<dyn Storage>, options: ServerOptions) -> Router {
    let limiter = Arc::new(crate::ratelimit::AuthLimiter::new(options.auth_limits));
    let state = AppState {
        storage,
        metrics: Arc::new(Metrics::default()),
        options: Arc::new(options),
    };
    Router::new()
        .route("/v1/sync", post(sync))
        .route("/v1/bootstrap", post(bootstrap))
        .route("/v1/scope", post(scope))
        .route("/v1/records", post(records))
        .route("/v1/records/{id}/automerge-sync", post(automerge_sync))
        .route(
            "/v1/blobs/{sha256}",
            put(crate::blobs::put_chunk).get(crate::blobs::download),
        )
        .route("/v1/blobs/{sha256}/status", get(crate::blobs::status))
        .route("/v1/metrics", post(crate::reports::post_metrics))
        .route("/v1/reports/health", get(crate::reports::get_health))
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        // Bodies are read with our own limit, answered with a JSON 413.
        .layer(DefaultBodyLimit::disable())
        .layer(CatchPanicLayer::custom(panic_response))
        .layer(middleware::from_fn(audit::remote_scope))
        .layer(middleware::from_fn_with_state(
            limiter,
            crate::ratelimit::guard,
        ))
        .layer(middleware::from_fn_with_state(state.clone(), count))
        .layer(TraceLayer::new_for_http().make_span_with(|req: &Request| {
            tracing::info_span!(
                "request",
                method = %req.method(),
                path = %req.uri().path(),
                tenant = tracing::field::Empty,
                device = tracing::field::Empty,
            )
        }))
        .with_state(state)
}

/// Serves the API on `listener` over `storage` with the default options until `shutdown`
/// completes, then finishes the requests in flight.
pub async fn launch(
    listener: TcpListener,
    storage: Arc<dyn Storage>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    launch_with(listener, storage, ServerOptions::default(), shutdown).await
}

/// [`launch`] with options of your choosing (timeouts, connection cap, upload expiry, limits).
pub async fn launch_with(
    listener: TcpListener,
    storage: Arc<dyn Storage>,
    options: ServerOptions,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let router = router_with_options(storage.clone(), options.clone());
    let sweeper = tokio::spawn(expire_uploads(storage, options.upload_expiry));
    let served = crate::serve::serve(listener, router, options, shutdown).await;
    sweeper.abort();
    served
}

/// Discards expired unfinished uploads now and then (every tenth of the expiry, at least a
/// minute and at most ten). Appends treat an expired upload as gone before it is swept.
async fn expire_uploads(storage: Arc<dyn Storage>, expiry: Duration) {
    let every = (expiry / 10).clamp(Duration::from_secs(60), Duration::from_secs(600));
    let expiry_ms = i64::try_from(expiry.as_millis()).unwrap_or(i64::MAX);
    loop {
        match storage
            .blob_expire(now_ms().saturating_sub(expiry_ms))
            .await
        {
            Ok(0) => {}
            Ok(n) => tracing::info!(uploads = n, "expired unfinished uploads discarded"),
            Err(e) => tracing::warn!(error = %e, "discarding expired uploads failed"),
        }
        tokio::time::sleep(every).await;
    }
}

/// The metrics label of a request path (a fixed set, so label cardinality stays bounded).
fn route_label(path: &str) -> &'static str {
    match path {
        "/v1/sync" => "/v1/sync",
        "/v1/bootstrap" => "/v1/bootstrap",
        "/v1/scope" => "/v1/scope",
        "/v1/records" => "/v1/records",
        "/healthz" => "/healthz",
        "/metrics" => "/metrics",
        "/v1/metrics" => "/v1/metrics",
        "/v1/reports/health" => "/v1/reports/health",
        p if p.starts_with("/v1/blobs/") && p.ends_with("/status") => "/v1/blobs/{sha256}/status",
        p if p.starts_with("/v1/blobs/") => "/v1/blobs/{sha256}",
        p if p.starts_with("/v1/records/") && p.ends_with("/automerge-sync") => {
            "/v1/records/{id}/automerge-sync"
        }
        _ => "other",
    }
}

async fn count(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let route = route_label(req.uri().path());
    let started = Instant::now();
    let response = next.run(req).await;
    state.metrics.request(route, response.status().as_u16());
    if let Some(n) = response.body().size_hint().exact() {
        state.metrics.bytes_out(n);
    }
    if route == "/v1/sync" {
        state.metrics.sync_duration(started.elapsed());
    }
    response
}

fn panic_response(panic: Box<dyn Any + Send + 'static>) -> Response {
    let what = panic
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_else(|| "unknown panic".into());
    AppError::internal(format!("handler panicked: {what}")).into_response()
}

async fn not_found() -> AppError {
    AppError::not_found("no such route")
}

async fn method_not_allowed() -> AppError {
    AppError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        "method not allowed on this route",
    )
}

/// Refuses a body that is not of content type `want` (parameters after `;` are ignored).
pub(crate) fn require_content_type(headers: &HeaderMap, want: &str) -> Result<(), AppError> {
    let got = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| v.split(';').next().unwrap_or("").trim().to_string());
    match got {
        Some(ct) if ct.eq_ignore_ascii_case(want) => Ok(()),
        other => Err(AppError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            format!(
                "Content-Type must be {want}, got {}",
                other.as_deref().unwrap_or("none")
            ),
        )),
    }
}

/// The device behind the request's bearer token; records tenant and device in the span.
pub(crate) async fn authenticate(
    state: &AppState,
    headers: &HeaderMap,
) -> Result<Device, AppError> {
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            let (scheme, token) = v.trim().split_once(' ')?;
            scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
        })
        .filter(|t| !t.is_empty());
    let Some(token) = token else {
        let detail = serde_json::json!({ "reason": "missing token" });
        audit::record(
            &*state.storage,
            AuditEvent::new("", event::AUTH_FAILED, &detail),
        )
        .await;
        return Err(AppError::unauthorized(
            "missing bearer token (Authorization: Bearer TOKEN)",
        ));
    };
    let Some(device) = state
        .storage
        .device_by_token_hash(&hash_token(token))
        .await?
    else {
        let detail = serde_json::json!({ "reason": "unknown token" });
        audit::record(
            &*state.storage,
            AuditEvent::new("", event::AUTH_FAILED, &detail),
        )
        .await;
        return Err(AppError::unauthorized("unknown token"));
    };
    let span = tracing::Span::current();
    span.record("tenant", device.tenant_id.as_str());
    span.record("device", device.id.as_str());
    if device.revoked_at_ms.is_some() {
        let e = AuditEvent::new(
            &device.tenant_id,
            event::AUTH_REVOKED,
            &serde_json::json!({}),
        )
        .by(&device.user_id, Some(&device.id));
        audit::record(&*state.storage, e).await;
        return Err(AppError::new(
            StatusCode::UNAUTHORIZED,
            "device_revoked",
            "this device was revoked: sign in again and wipe local data",
        ));
    }
    Ok(device)
}

/// Reads the body up to [`MAX_BODY_BYTES`]; larger ones get a JSON 413. The rest of an
/// oversized body is read and dropped (up to [`DRAIN_LIMIT`] bytes, for [`DRAIN_TIME`]) so that
/// the client, still sending, gets to read the answer instead of a reset connection.
pub(crate) async fn read_body(
    state: &AppState,
    headers: &HeaderMap,
    body: Body,
) -> Result<Bytes, AppError> {
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    let mut too_large = declared.is_some_and(|n| n > MAX_BODY_BYTES as u64);
    let mut body = body;
    let mut buf: Vec<u8> = Vec::new();
    let mut read = 0usize;
    let reading = async {
        while let Some(frame) = body.frame().await {
            let frame = frame
                .map_err(|e| AppError::bad_request(format!("body: could not be read: {e}")))?;
            let Ok(data) = frame.into_data() else {
                continue; // trailers
            };
            read += data.len();
            if !too_large && buf.len() + data.len() > MAX_BODY_BYTES {
                too_large = true;
                buf = Vec::new();
            }
            if too_large {
                if read > DRAIN_LIMIT {
                    break;
                }
            } else {
                buf.extend_from_slice(&data);
            }
        }
        Ok::<(), AppError>(())
    };
    let finished = tokio::time::timeout(DRAIN_TIME, reading).await;
    state.metrics.bytes_in(read as u64);
    if too_large {
        return Err(AppError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            format!("the body exceeds {MAX_BODY_BYTES} bytes"),
        ));
    }
    match finished {
        Ok(result) => result.map(|()| Bytes::from(buf)),
        Err(_) => Err(AppError::new(
            StatusCode::REQUEST_TIMEOUT,
            "timeout",
            "the body did not arrive in time",
        )),
    }
}

/// Decodes a CBOR message after checking its protocol version.
pub(crate) fn decode_message<T: DeserializeOwned>(
    what: &'static str,
    bytes: &[u8],
) -> Result<T, AppError> {
    #[derive(serde::Deserialize)]
    struct Versioned {
        v: u32,
    }
    let versioned: Versioned =
        protocol::decode(what, bytes).map_err(|e| AppError::bad_request(e.to_string()))?;
    if versioned.v != PROTOCOL_VERSION {
        return Err(AppError::new(
            StatusCode::BAD_REQUEST,
            "unsupported_version",
            format!(
                "protocol version {} is not supported; supported versions: {PROTOCOL_VERSION}",
                versioned.v
            ),
        ));
    }
    protocol::decode(what, bytes).map_err(|e| AppError::bad_request(e.to_string()))
}

/// The prologue of every CBOR route: content type, the device behind the token, the body
/// decoded as `what`.
pub(crate) async fn authed_message<T: DeserializeOwned>(
    state: &AppState,
    headers: &HeaderMap,
    body: Body,
    what: &'static str,
) -> Result<(Device, T), AppError> {
    require_content_type(headers, protocol::CONTENT_TYPE)?;
    let device = authenticate(state, headers).await?;
    let bytes = read_body(state, headers, body).await?;
    Ok((device, decode_message(what, &bytes)?))
}

fn page_limit(limit: Option<u32>) -> u32 {
    limit.unwrap_or(DEFAULT_PAGE).clamp(1, MAX_PAGE)
}

fn cbor<T: serde::Serialize>(message: &T) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static(protocol::CONTENT_TYPE),
        )],
        protocol::encode(message),
    )
        .into_response()
}

async fn sync(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, AppError> {
    require_content_type(&headers, protocol::CONTENT_TYPE)?;
    let device = match authenticate(&state, &headers).await {
        Err(e) if e.code == "device_revoked" => {
            // What a revoked (offboarded) device still pushes is noted for a manager (hashes
            // and sizes, not the bytes).
            if let Ok(bytes) = read_body(&state, &headers, body).await {
                if let Ok(request) = decode_message::<SyncRequest>("sync request", &bytes) {
                    audit::record_quarantine(&*state.storage, &headers, &bytes, &request.changes)
                        .await;
                }
            }
            return Err(e);
        }
        other => other?,
    };
    let bytes = read_body(&state, &headers, body).await?;
    let request: SyncRequest = decode_message("sync request", &bytes)?;
    drop(bytes);
    // Bounded before anything below reads a change (see outpost_core::sync::bounds).
    crate::storage::plan::check_bounds(&request.changes)?;
    let limit = page_limit(request.limit);
    let now = now_ms();
    let viewer = viewer_of(&*state.storage, &device).await?;
    let mut rejected = Vec::new();
    if !request.changes.is_empty() {
        // Lead routing: the contacts this push brings for the first time. A failure here
        // leaves them unrouted; it never fails the device's sync.
        let leads = crate::routing::new_leads(&*state.storage, &device, &request.changes)
            .await
            .unwrap_or_else(|e| {
                tracing::warn!(error = %e, "finding new leads to route failed");
                None
            });
        let outcome = state
            .storage
            .push(&device, &viewer, &request.actor, &request.changes)
            .await?;
        state.metrics.changes_applied(outcome.applied);
        audit::record_push(
            &*state.storage,
            &device,
            &request.changes,
            &outcome.rejected,
            outcome.applied,
        )
        .await;
        rejected = outcome.rejected;
        // The server's verdict wins; a failed re-check never fails the device's sync.
        if let Err(e) =
            crate::flow::recheck_visits(&*state.storage, &device, &request.changes, now).await
        {
            tracing::warn!(error = %e, "re-checking visit verdicts failed");
        }
        if let Some(leads) = leads {
            if let Err(e) = crate::routing::route_leads(&*state.storage, leads, now).await {
                tracing::warn!(error = %e, "routing new leads failed");
            }
        }
    } else if device
        .last_seen_at_ms
        .is_none_or(|seen| now - seen >= TOUCH_INTERVAL_MS)
    {
        state.storage.touch_device(&device.id, now).await?;
    }
    // Read again after a push: a reassignment it carried (or its routing) moved the epoch.
    let viewer = if request.changes.is_empty() {
        viewer
    } else {
        viewer_of(&*state.storage, &device).await?
    };
    let page = state
        .storage
        .pull(
            &device.tenant_id,
            &viewer,
            &request.actor,
            request.cursor,
            limit,
        )
        .await?;
    Ok(cbor(&SyncResponse {
        v: PROTOCOL_VERSION,
        rejected,
        entries: page.entries,
        cursor: page.cursor,
        more: page.more,
        server_time_ms: now_ms(),
        scope: Some(viewer.info()),
    }))
}

async fn bootstrap(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, AppError> {
    let (device, request): (_, BootstrapRequest) =
        authed_message(&state, &headers, body, "bootstrap request").await?;
    if request.after.is_none() {
        let e = AuditEvent::new(
            &device.tenant_id,
            event::SYNC_BOOTSTRAP,
            &serde_json::json!({}),
        )
        .by(&device.user_id, Some(&device.id));
        audit::record(&*state.storage, e).await;
    }
    let viewer = viewer_of(&*state.storage, &device).await?;
    let page = state
        .storage
        .bootstrap(
            &device.tenant_id,
            &viewer,
            request.after.as_deref(),
            page_limit(request.limit),
        )
        .await?;
    Ok(cbor(&BootstrapResponse {
        v: PROTOCOL_VERSION,
        docs: page.docs,
        next: page.next,
        cursor: page.cursor,
    }))
}

/// `POST /v1/scope`: one page of the ids of the records the device's user may read, read at
/// the epoch the page names.
async fn scope(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, AppError> {
    let (device, request): (_, ScopeRequest) =
        authed_message(&state, &headers, body, "scope request").await?;
    let limit = request
        .limit
        .unwrap_or(MAX_SCOPE_PAGE)
        .clamp(1, MAX_SCOPE_PAGE);
    let viewer = viewer_of(&*state.storage, &device).await?;
    let rows = state
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
    Ok(cbor(&ScopeResponse {
        v: PROTOCOL_VERSION,
        epoch: viewer.epoch,
        records,
        next,
    }))
}

/// `POST /v1/records`: the documents of the asked records the device's user may read.
async fn records(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, AppError> {
    let (device, request): (_, RecordsRequest) =
        authed_message(&state, &headers, body, "records request").await?;
    if request.ids.len() > MAX_PAGE as usize {
        return Err(AppError::bad_request(format!(
            "ids: {} ids in one request, at most {MAX_PAGE}",
            request.ids.len()
        )));
    }
    for (i, id) in request.ids.iter().enumerate() {
        crate::storage::plan::check_record_id(id)
            .map_err(|e| AppError::bad_request(format!("ids[{i}]: {e}")))?;
    }
    let viewer = viewer_of(&*state.storage, &device).await?;
    let docs = state
        .storage
        .scope_docs(&device.tenant_id, &request.ids)
        .await?
        .into_iter()
        .filter(|(d, meta)| viewer.sees(&d.record, &d.kind, meta))
        .map(|(d, _)| d)
        .collect();
    Ok(cbor(&RecordsResponse {
        v: PROTOCOL_VERSION,
        docs,
    }))
}

async fn automerge_sync(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, AppError> {
    require_content_type(&headers, OCTET_STREAM)?;
    let device = authenticate(&state, &headers).await?;
    let bytes = read_body(&state, &headers, body).await?;
    let viewer = viewer_of(&*state.storage, &device).await?;
    let outcome = state
        .storage
        .automerge_sync(&device, &viewer, &id, &bytes)
        .await?;
    state.metrics.changes_applied(outcome.applied);
    if outcome.applied > 0 {
        let detail = serde_json::json!({ "record": id, "applied": outcome.applied });
        let e = AuditEvent::new(&device.tenant_id, event::SYNC_AUTOMERGE, &detail)
            .by(&device.user_id, Some(&device.id));
        audit::record(&*state.storage, e).await;
    }
    Ok(match outcome.reply {
        Some(reply) => (
            [(header::CONTENT_TYPE, HeaderValue::from_static(OCTET_STREAM))],
            reply,
        )
            .into_response(),
        None => StatusCode::NO_CONTENT.into_response(),
    })
}

async fn healthz(State(state): State<AppState>) -> Response {
    match tokio::time::timeout(HEALTH_TIMEOUT, state.storage.ping()).await {
        Ok(Ok(())) => Json(serde_json::json!({ "status": "ok" })).into_response(),
        failed => {
            let cause = match failed {
                Ok(Err(e)) => e.to_string(),
                _ => "storage did not answer in time".to_string(),
            };
            tracing::error!(%cause, backend = state.storage.backend(), "health check failed");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(serde_json::json!({
                    "status": "unavailable",
                    "error": "unavailable",
                    "message": "storage is not reachable",
                })),
            )
                .into_response()
        }
    }
}

async fn metrics(State(state): State<AppState>) -> Response {
    let active = match state
        .storage
        .active_devices(now_ms() - ACTIVE_WINDOW_MS)
        .await
    {
        Ok(n) => n,
        Err(e) => {
            tracing::error!(cause = %e, "counting active devices failed");
            0
        }
    };
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; version=0.0.4"),
        )],
        state.metrics.render(active),
    )
        .into_response()
}
