//! `POST /v1/enroll` (JSON): a phone trades the operator's one-time code for its device token
//! (see [`crate::enrol`]). A refused code answers 401, counted like a wrong token by the
//! failed-login limit.

use super::extract::{read_body, JsonContent};
use super::AppState;
use crate::enrol::{self, EnrolError};
use crate::error::AppError;
use crate::storage::audit::remote_address;
use crate::storage::now_ms;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::Json;
use outpost_core::sync::protocol::{
    EnrollRequest, EnrollResponse, LATEST_PROTOCOL_VERSION, MAX_ENROLL_BODY_BYTES, PROTOCOL_VERSION,
};

/// `POST /v1/enroll`: the new device and its token, shown this once.
pub(super) async fn enroll(
    State(state): State<AppState>,
    _: JsonContent,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<EnrollResponse>, AppError> {
    let bytes = read_body(&state, &headers, body).await?;
    if bytes.len() > MAX_ENROLL_BODY_BYTES {
        return Err(AppError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            format!(
                "body: {} bytes, an enrol request is at most {MAX_ENROLL_BODY_BYTES}",
                bytes.len()
            ),
        ));
    }
    let request: EnrollRequest = serde_json::from_slice(&bytes)
        .map_err(|e| AppError::bad_request(format!("body: not an enrol request: {e}")))?;
    if !(PROTOCOL_VERSION..=LATEST_PROTOCOL_VERSION).contains(&request.v) {
        return Err(AppError::bad_request(format!(
            "v: protocol version {} is not supported (this server speaks \
             {PROTOCOL_VERSION} to {LATEST_PROTOCOL_VERSION})",
            request.v
        )));
    }
    let remote = remote_address().unwrap_or_default();
    match enrol::redeem(&*state.storage, &request.code, &remote, now_ms()).await {
        Ok((enrollment, device)) => Ok(Json(EnrollResponse {
            v: PROTOCOL_VERSION,
            device_id: enrollment.device_id,
            token: enrollment.token,
            tenant_id: device.tenant_id,
            user: device.user_id,
            role: device.role.as_str().to_string(),
        })),
        Err(EnrolError::Storage(e)) => Err(e.into()),
        Err(refused) => Err(AppError::unauthorized(refused.to_string())),
    }
}
