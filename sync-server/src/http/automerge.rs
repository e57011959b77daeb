//! `POST /v1/records/{id}/automerge-sync`: one standard Automerge sync message for a record,
//! answered with the reply (200) or nothing when the peer is up to date (204).

use super::extract::{octets, Authenticated, OctetContent, Octets};
use super::AppState;
use crate::error::AppError;
use crate::sync::SyncService;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

pub(super) async fn automerge_sync(
    State(state): State<AppState>,
    Path(id): Path<String>,
    _: OctetContent,
    Authenticated(device): Authenticated,
    Octets(message): Octets,
) -> Result<Response, AppError> {
    let outcome = SyncService::new(&*state.storage, &state.metrics)
        .automerge(&device, &id, &message)
        .await?;
    Ok(match outcome.reply {
        Some(reply) => octets(reply),
        None => StatusCode::NO_CONTENT.into_response(),
    })
}
