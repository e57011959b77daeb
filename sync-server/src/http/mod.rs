//! The HTTP API: routes, bearer auth, body limits, JSON errors, metrics, caught panics.
//!
//! | Route | Body |
//! |---|---|
//! | `POST /v1/sync` | CBOR `SyncRequest` → CBOR `SyncResponse` |
//! | `POST /v1/bootstrap` | CBOR `BootstrapRequest` → CBOR `BootstrapResponse` |
//! | `POST /v1/scope` | CBOR `ScopeRequest` → CBOR `ScopeResponse` (the ids the user may read) |
//! | `POST /v1/records` | CBOR `RecordsRequest` → CBOR `RecordsResponse` (their documents) |
//! | `POST /v1/records/{id}/automerge-sync` | one Automerge sync message → the reply (200) or nothing (204) |
//! | `PUT /v1/blobs/{sha256}`, `GET /v1/blobs/{sha256}[/status]` | resumable attachment uploads (see [`blobs`]) |
//! | `POST /v1/metrics` | CBOR `ExperienceBatch` → CBOR `ExperienceAck` (see [`reports`]) |
//! | `GET /v1/reports/health` | the tenant's health report, JSON (managers and admins) |
//! | `GET /healthz` | `{"status":"ok"}` or 503 |
//! | `GET /metrics` | Prometheus text |
//!
//! Every error answer is a JSON [`outpost_core::sync::protocol::ErrorBody`] with a 4xx or 5xx status.
//!
//! The handlers are thin and live by area ([`sync`], [`automerge`], [`blobs`], [`reports`]):
//! what they take from a request (content type, the device behind the token, the body) is
//! checked once in [`extract`], and the work is the services' ([`crate::sync::SyncService`],
//! [`crate::reports`]). [`serve`] bounds the connections.

pub mod automerge;
pub mod blobs;
pub mod enrol;
pub mod extract;
pub mod limits;
pub mod reports;
pub mod serve;
pub mod sync;

use crate::audit::with_remote;
use crate::error::AppError;
use crate::metrics::Metrics;
use crate::options::ServerOptions;
use crate::ratelimit::device::DeviceLimiter;
use crate::ratelimit::proxy::ClientAddr;
use crate::ratelimit::{AuthLimiter, LimitConfig};
use crate::storage::values::now_ms;
use crate::storage::Storage;
use axum::body::HttpBody;
use axum::extract::{ConnectInfo, DefaultBodyLimit, Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use std::any::Any;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::net::TcpListener;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::trace::TraceLayer;

/// How long `/healthz` waits for storage.
const HEALTH_TIMEOUT: Duration = Duration::from_secs(5);
/// Window of `outpost_active_devices`.
const ACTIVE_WINDOW_MS: i64 = 24 * 3600 * 1000;

/// What every handler shares.
#[derive(Clone)]
pub struct AppState {
    /// Where everything is stored.
    pub storage: Arc<dyn Storage>,
    /// The counters behind `/metrics`.
    pub metrics: Arc<Metrics>,
    /// The server's bounds.
    pub options: Arc<ServerOptions>,
    /// The rate limits' counters.
    pub limits: Arc<limits::Limits>,
}

/// The server's router, with its layers (tracing, metrics, panic catching, client address,
/// audit remote address, failed-authentication limits), over `storage`, with the default
/// options.
pub fn router(storage: Arc<dyn Storage>) -> Router {
    router_with_options(storage, ServerOptions::default())
}

/// [`router`] with failed-authentication limits of your choosing.
pub fn router_with_limits(storage: Arc<dyn Storage>, limits: LimitConfig) -> Router {
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
    api_router(new_state(storage, options))
}

fn new_state(storage: Arc<dyn Storage>, options: ServerOptions) -> AppState {
    let limits = Arc::new(limits::Limits {
        auth: AuthLimiter::new(options.auth_limits),
        devices: DeviceLimiter::new(options.device_rate),
        proxies: options.trusted_proxies.clone(),
    });
    AppState {
        storage,
        metrics: Arc::new(Metrics::default()),
        options: Arc::new(options),
        limits,
    }
}

/// The operator's port (`serve --admin-listen`): `/metrics` and `/healthz` only, counting into
/// the same metrics as the API router over `state`.
pub fn admin_router(state: AppState) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics))
        .fallback(not_found)
        .with_state(state)
}

fn api_router(state: AppState) -> Router {
    let api = Router::new()
        .route("/v1/enroll", post(enrol::enroll))
        .route("/v1/sync", post(sync::sync))
        .route("/v1/bootstrap", post(sync::bootstrap))
        .route("/v1/scope", post(sync::scope))
        .route("/v1/records", post(sync::records))
        .route(
            "/v1/records/{id}/automerge-sync",
            post(automerge::automerge_sync),
        )
        .route(
            "/v1/blobs/{sha256}",
            put(blobs::put_chunk).get(blobs::download),
        )
        .route("/v1/blobs/{sha256}/status", get(blobs::status))
        .route("/v1/metrics", post(reports::post_metrics))
        .route("/v1/reports/health", get(reports::get_health))
        .route("/healthz", get(healthz));
    // With an admin listener, the metrics are the operator's alone.
    let api = if state.options.metrics_on_api {
        api.route("/metrics", get(metrics))
    } else {
        api
    };
    api.fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        // Bodies are read with our own limit, answered with a JSON 413.
        .layer(DefaultBodyLimit::disable())
        .layer(CatchPanicLayer::custom(panic_response))
        .layer(middleware::from_fn(remote_scope))
        .layer(middleware::from_fn_with_state(state.clone(), limits::guard))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            limits::client_address,
        ))
        .layer(middleware::from_fn_with_state(state.clone(), count))
        .layer(TraceLayer::new_for_http().make_span_with(|req: &Request| {
            tracing::info_span!(
                "request",
                method = %req.method(),
                path = %req.uri().path(),
                tenant = tracing::field::Empty,
                device = tracing::field::Empty,
                client = tracing::field::Empty,
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
    launch_with_admin(listener, None, storage, options, shutdown).await
}

/// [`launch_with`], and `/metrics` and `/healthz` on `admin` apart from the API (which then
/// answers no `/metrics`); both stop when `shutdown` completes.
pub async fn launch_with_admin(
    listener: TcpListener,
    admin: Option<TcpListener>,
    storage: Arc<dyn Storage>,
    mut options: ServerOptions,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    if admin.is_some() {
        options.metrics_on_api = false;
    }
    let state = new_state(storage.clone(), options.clone());
    let proxies = &options.trusted_proxies;
    if !proxies.ranges().is_empty() {
        let ranges: Vec<String> = proxies.ranges().iter().map(ToString::to_string).collect();
        tracing::info!(
            trusted_proxies = %ranges.join(","),
            header = proxies.header().as_str(),
            "client addresses are read from trusted proxies"
        );
    }
    let sweeper = tokio::spawn(expire_uploads(storage, options.upload_expiry));
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let until_stopped = |mut rx: tokio::sync::watch::Receiver<bool>| async move {
        let _ = rx.wait_for(|stop| *stop).await;
    };
    let signal = tokio::spawn(async move {
        shutdown.await;
        let _ = stop.send(true);
    });
    let admin = admin.map(|listener| {
        let router = admin_router(state.clone());
        // The admin port (metrics, health) stays plain HTTP on the operator's network.
        let options = ServerOptions {
            tls: None,
            ..options.clone()
        };
        tokio::spawn(serve::serve(
            listener,
            router,
            options,
            until_stopped(stopped.clone()),
        ))
    });
    let served = serve::serve(listener, api_router(state), options, until_stopped(stopped)).await;
    if let Some(admin) = admin {
        match admin.await {
            Ok(Err(e)) => tracing::warn!(error = %e, "the admin listener failed"),
            Err(e) => tracing::warn!(error = %e, "the admin listener's task failed"),
            Ok(Ok(())) => {}
        }
    }
    signal.abort();
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
        "/v1/enroll" => "/v1/enroll",
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

/// Middleware: makes the request's peer address the remote address of its audit events
/// (`IP:port`), or, behind a trusted proxy, the client address it forwarded and the proxy
/// (`203.0.113.7 via 10.0.0.2:41234`).
async fn remote_scope(req: Request, next: Next) -> Response {
    let peer = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(addr)| *addr);
    let client = req.extensions().get::<ClientAddr>().copied();
    let remote = peer.map(|peer| match client {
        Some(client) if client.forwarded => format!("{} via {peer}", client.ip),
        _ => peer.to_string(),
    });
    match remote {
        Some(remote) => with_remote(remote, next.run(req)).await,
        None => next.run(req).await,
    }
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
