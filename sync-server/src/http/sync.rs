//! The CBOR sync routes: `POST /v1/sync`, `/v1/bootstrap`, `/v1/scope` and `/v1/records`.
//! Each checks the request (see [`super::extract`]) and hands it to [`SyncService`].

use super::extract::{
    cbor, decode_message, identify, read_body, refuse_revoked, Authenticated, Cbor, CborContent,
};
use super::AppState;
use crate::audit;
use crate::error::AppError;
use crate::sync::SyncService;
use axum::body::Body;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;
use outpost_core::sync::protocol::{BootstrapRequest, RecordsRequest, ScopeRequest, SyncRequest};

fn service(state: &AppState) -> SyncService<'_> {
    SyncService::new(&*state.storage, &state.metrics)
}

/// `POST /v1/sync`: push and pull in one round trip. What a revoked (offboarded) device still
/// pushes is noted for a manager (hashes and sizes, not the bytes) before it is refused.
pub(super) async fn sync(
    State(state): State<AppState>,
    _: CborContent,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, AppError> {
    let device = identify(&state, &headers).await?;
    if device.revoked_at_ms.is_some() {
        let refused = refuse_revoked(&state, &device).await;
        if let Ok(bytes) = read_body(&state, &headers, body).await {
            if let Ok(request) = decode_message::<SyncRequest>(&bytes) {
                audit::record_quarantine(&*state.storage, &device, &bytes, &request.changes).await;
            }
        }
        return Err(refused);
    }
    super::limits::within_rate(&state, &device)?;
    let request: SyncRequest = decode_message(&read_body(&state, &headers, body).await?)?;
    Ok(cbor(
        &service(&state).push_and_pull(&device, &request).await?,
    ))
}

/// `POST /v1/bootstrap`: one page of the documents the device's user may read.
pub(super) async fn bootstrap(
    State(state): State<AppState>,
    _: CborContent,
    Authenticated(device): Authenticated,
    Cbor(request): Cbor<BootstrapRequest>,
) -> Result<Response, AppError> {
    Ok(cbor(&service(&state).bootstrap(&device, &request).await?))
}

/// `POST /v1/scope`: one page of the ids of the records the device's user may read, read at
/// the epoch the page names.
pub(super) async fn scope(
    State(state): State<AppState>,
    _: CborContent,
    Authenticated(device): Authenticated,
    Cbor(request): Cbor<ScopeRequest>,
) -> Result<Response, AppError> {
    Ok(cbor(&service(&state).scope(&device, &request).await?))
}

/// `POST /v1/records`: the documents of the asked records the device's user may read.
pub(super) async fn records(
    State(state): State<AppState>,
    _: CborContent,
    Authenticated(device): Authenticated,
    Cbor(request): Cbor<RecordsRequest>,
) -> Result<Response, AppError> {
    Ok(cbor(&service(&state).records(&device, &request.ids).await?))
}
