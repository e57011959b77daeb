//! What a handler takes from a request, checked here once for every route: the content type
//! ([`CborContent`], [`OctetContent`]), the device behind the bearer token ([`Authenticated`]),
//! and a body bounded by [`MAX_BODY_BYTES`] ([`Octets`]), decoded as CBOR after checking its
//! protocol version ([`Cbor`]); and the two kinds of answer ([`cbor`], [`octets`]).
//!
//! Extractors run in the order of the handler's arguments: the content type is checked before
//! the token, and the token before the body is read.

use super::AppState;
use crate::audit::{self, event, AuditEvent};
use crate::error::AppError;
use crate::rows::Device;
use crate::token::hash_token;
use axum::body::{Body, Bytes};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use http_body_util::BodyExt;
use outpost_core::sync::protocol::{
    self, BootstrapRequest, ExperienceBatch, RecordsRequest, ScopeRequest, SyncRequest,
    LATEST_PROTOCOL_VERSION, MAX_BODY_BYTES, PROTOCOL_VERSION,
};
use serde::de::DeserializeOwned;
use std::time::Duration;

/// How much of an oversized body is read and dropped before answering 413.
const DRAIN_LIMIT: usize = 4 * MAX_BODY_BYTES;
/// How long a body may take to arrive.
const DRAIN_TIME: Duration = Duration::from_secs(30);
/// Content type of the Automerge sync and blob routes.
pub(crate) const OCTET_STREAM: &str = "application/octet-stream";

/// The request's content type is the CBOR protocol's.
pub struct CborContent;

impl<S: Send + Sync> FromRequestParts<S> for CborContent {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, AppError> {
        require_content_type(&parts.headers, protocol::CONTENT_TYPE).map(|()| CborContent)
    }
}

/// The request's content type is `application/json` (the enrol route).
pub struct JsonContent;

impl<S: Send + Sync> FromRequestParts<S> for JsonContent {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, AppError> {
        require_content_type(&parts.headers, "application/json").map(|()| JsonContent)
    }
}

/// The request's content type is `application/octet-stream`.
pub struct OctetContent;

impl<S: Send + Sync> FromRequestParts<S> for OctetContent {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, AppError> {
        require_content_type(&parts.headers, OCTET_STREAM).map(|()| OctetContent)
    }
}

/// Refuses a body that is not of content type `want` (parameters after `;` are ignored).
fn require_content_type(headers: &HeaderMap, want: &str) -> Result<(), AppError> {
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

/// The device behind the request's bearer token, not revoked and within its request rate
/// (see [`super::limits::within_rate`]); tenant and device are recorded in the request's span,
/// and every refusal for the token in the audit trail.
pub struct Authenticated(pub Device);

impl FromRequestParts<AppState> for Authenticated {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, AppError> {
        let device = identify(state, &parts.headers).await?;
        if device.revoked_at_ms.is_some() {
            return Err(refuse_revoked(state, &device).await);
        }
        super::limits::within_rate(state, &device)?;
        Ok(Authenticated(device))
    }
}

/// The device behind the request's bearer token, revoked or not; records tenant and device in
/// the span. A missing or unknown token is refused (and audited).
pub(crate) async fn identify(state: &AppState, headers: &HeaderMap) -> Result<Device, AppError> {
    let Some(token) = bearer_token(headers) else {
        auth_failed(state, "missing token").await;
        return Err(AppError::unauthorized(
            "missing bearer token (Authorization: Bearer TOKEN)",
        ));
    };
    let Some(device) = state
        .storage
        .device_by_token_hash(&hash_token(token))
        .await?
    else {
        auth_failed(state, "unknown token").await;
        return Err(AppError::unauthorized("unknown token"));
    };
    let span = tracing::Span::current();
    span.record("tenant", device.tenant_id.as_str());
    span.record("device", device.id.as_str());
    Ok(device)
}

/// The token of the request's `Authorization: Bearer TOKEN` header, if it has one.
pub(crate) fn bearer_token(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            let (scheme, token) = v.trim().split_once(' ')?;
            scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
        })
        .filter(|t| !t.is_empty())
}

/// Audits a request refused for its token (server-wide: no tenant is known).
async fn auth_failed(state: &AppState, reason: &str) {
    let detail = serde_json::json!({ "reason": reason });
    audit::record(
        &*state.storage,
        AuditEvent::new("", event::AUTH_FAILED, &detail),
    )
    .await;
}

/// Audits a request of a revoked device and returns its refusal.
pub(crate) async fn refuse_revoked(state: &AppState, device: &Device) -> AppError {
    let e = AuditEvent::new(
        &device.tenant_id,
        event::AUTH_REVOKED,
        &serde_json::json!({}),
    )
    .by(&device.user_id, Some(&device.id));
    audit::record(&*state.storage, e).await;
    AppError::new(
        StatusCode::UNAUTHORIZED,
        "device_revoked",
        "this device was revoked: sign in again and wipe local data",
    )
}

/// The request's body, read up to [`MAX_BODY_BYTES`] (see [`read_body`]).
pub struct Octets(pub Bytes);

impl FromRequest<AppState> for Octets {
    type Rejection = AppError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, AppError> {
        let (parts, body) = req.into_parts();
        read_body(state, &parts.headers, body).await.map(Octets)
    }
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

/// A CBOR message the routes accept, with the name its errors give it.
pub trait Message: DeserializeOwned {
    /// How an error names it (`sync request`, ...).
    const WHAT: &'static str;

    /// Reads it from a body whose version `v` was checked (the same shape at every version
    /// but for the sync request).
    fn decode(_v: u32, bytes: &[u8]) -> Result<Self, protocol::DecodeError> {
        protocol::decode(Self::WHAT, bytes)
    }
}

impl Message for SyncRequest {
    const WHAT: &'static str = "sync request";

    /// Either version's form (version 2 is compact).
    fn decode(v: u32, bytes: &[u8]) -> Result<Self, protocol::DecodeError> {
        SyncRequest::decode_version(v, bytes)
    }
}

impl Message for BootstrapRequest {
    const WHAT: &'static str = "bootstrap request";
}

impl Message for ScopeRequest {
    const WHAT: &'static str = "scope request";
}

impl Message for RecordsRequest {
    const WHAT: &'static str = "records request";
}

impl Message for ExperienceBatch {
    const WHAT: &'static str = "metrics batch";
}

/// The request's body (see [`read_body`]) decoded as CBOR message `T` (see [`decode_message`]).
pub struct Cbor<T>(pub T);

impl<T: Message> FromRequest<AppState> for Cbor<T> {
    type Rejection = AppError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, AppError> {
        let Octets(bytes) = Octets::from_request(req, state).await?;
        decode_message(&bytes).map(Cbor)
    }
}

/// Decodes a CBOR message after checking its protocol version.
pub(crate) fn decode_message<T: Message>(bytes: &[u8]) -> Result<T, AppError> {
    #[derive(serde::Deserialize)]
    struct Versioned {
        v: u32,
    }
    let versioned: Versioned =
        protocol::decode(T::WHAT, bytes).map_err(|e| AppError::bad_request(e.to_string()))?;
    if !(PROTOCOL_VERSION..=LATEST_PROTOCOL_VERSION).contains(&versioned.v) {
        return Err(AppError::new(
            StatusCode::BAD_REQUEST,
            "unsupported_version",
            format!(
                "protocol version {} is not supported; supported versions: \
                 {PROTOCOL_VERSION} to {LATEST_PROTOCOL_VERSION}",
                versioned.v
            ),
        ));
    }
    T::decode(versioned.v, bytes).map_err(|e| AppError::bad_request(e.to_string()))
}

/// A CBOR answer.
pub(crate) fn cbor<T: serde::Serialize>(message: &T) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static(protocol::CONTENT_TYPE),
        )],
        protocol::encode(message),
    )
        .into_response()
}

/// An `application/octet-stream` answer.
pub(crate) fn octets(bytes: impl IntoResponse) -> Response {
    (
        [(header::CONTENT_TYPE, HeaderValue::from_static(OCTET_STREAM))],
        bytes,
    )
        .into_response()
}
