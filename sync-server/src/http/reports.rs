//! The experience routes: `POST /v1/metrics` (a device's events, stored once each) and
//! `GET /v1/reports/health` (its tenant's health report, for roles that see a team or more).

use super::extract::{cbor, Authenticated, Cbor, CborContent};
use super::AppState;
use crate::error::AppError;
use crate::reports::{self, HealthReport};
use axum::extract::State;
use axum::response::Response;
use axum::Json;
use outpost_core::sync::protocol::{ExperienceAck, ExperienceBatch, PROTOCOL_VERSION};

/// `POST /v1/metrics`: a device's experience events, stored once each.
pub(super) async fn post_metrics(
    State(state): State<AppState>,
    _: CborContent,
    Authenticated(device): Authenticated,
    Cbor(batch): Cbor<ExperienceBatch>,
) -> Result<Response, AppError> {
    let stored = reports::receive(&*state.storage, &device, &batch).await?;
    Ok(cbor(&ExperienceAck {
        v: PROTOCOL_VERSION,
        acked_seq: stored.acked_seq,
        stored: stored.stored,
    }))
}

/// `GET /v1/reports/health`: the report of the caller's tenant.
pub(super) async fn get_health(
    State(state): State<AppState>,
    Authenticated(device): Authenticated,
) -> Result<Json<HealthReport>, AppError> {
    Ok(Json(
        reports::device_health(&*state.storage, &device).await?,
    ))
}
