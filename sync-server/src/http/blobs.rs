//! The blob routes: resumable attachment uploads (scans, photos) named by their sha256.
//!
//! | Route | |
//! |---|---|
//! | `PUT /v1/blobs/{sha256}` | one chunk (`application/octet-stream`) at `Upload-Offset` of a blob of `Upload-Length` bytes → JSON [`BlobStatus`] |
//! | `GET /v1/blobs/{sha256}/status` | JSON [`BlobStatus`] of this device's unfinished upload, else of the file if the user may read it; 404 otherwise |
//! | `GET /v1/blobs/{sha256}` | the bytes of a complete blob the user may read, 404 otherwise |
//!
//! An upload belongs to the device sending it until it is complete and its bytes hash to its
//! name (see [`crate::storage::blobs`]): another device's upload of the same name, with a true or
//! a false `Upload-Length`, never disturbs it. A chunk at the wrong offset is answered 409 with
//! the offset to resume at; the client reads the status and continues from there. Bytes that do
//! not hash to the name are discarded and answered 422. A file is readable by a user who
//! uploaded it whole or who may read a vouched attachment naming it; to anyone else it does not
//! exist, status included (404). Uploading needs `attachment:write`.

use super::extract::{octets, read_body, Authenticated, OctetContent};
use super::AppState;
use crate::access::viewer_of;
use crate::error::AppError;
use crate::storage::blobs::{check_name, readable, Append, BlobStatus};
use crate::storage::values::now_ms;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::Json;

/// Header: where this chunk starts in the blob.
pub const UPLOAD_OFFSET: &str = "upload-offset";
/// Header: the blob's full size in bytes.
pub const UPLOAD_LENGTH: &str = "upload-length";

fn number_header(headers: &HeaderMap, name: &str) -> Result<u64, AppError> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .ok_or_else(|| AppError::bad_request(format!("header {name}: a byte count is required")))
}

/// Unfinished uploads whose last chunk came before this are expired.
fn expired_before(state: &AppState) -> i64 {
    let expiry = i64::try_from(state.options.upload_expiry.as_millis()).unwrap_or(i64::MAX);
    now_ms().saturating_sub(expiry)
}

fn not_found(sha256: &str) -> AppError {
    AppError::not_found(format!("blob {sha256} not found"))
}

/// `PUT /v1/blobs/{sha256}`.
pub async fn put_chunk(
    State(state): State<AppState>,
    Path(sha256): Path<String>,
    _: OctetContent,
    Authenticated(device): Authenticated,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<BlobStatus>, AppError> {
    check_name(&sha256)?;
    let offset = number_header(&headers, UPLOAD_OFFSET)?;
    let size = number_header(&headers, UPLOAD_LENGTH)?;
    let viewer = viewer_of(&*state.storage, &device).await?;
    crate::policy::may_upload_file(&viewer)
        .map_err(|reason| AppError::new(StatusCode::FORBIDDEN, "forbidden", reason))?;
    let chunk = read_body(&state, &headers, body).await?;
    let readable = readable(&*state.storage, &device.tenant_id, &sha256, &viewer).await?;
    let status = state
        .storage
        .blob_append(
            &device,
            Append {
                sha256: &sha256,
                size,
                offset,
                chunk: &chunk,
                readable,
                now_ms: now_ms(),
                expired_before_ms: expired_before(&state),
            },
        )
        .await?;
    Ok(Json(status))
}

/// `GET /v1/blobs/{sha256}/status`: this device's own unfinished upload, else the file's
/// status when the user may read it (exactly like `GET`), else 404.
pub async fn status(
    State(state): State<AppState>,
    Path(sha256): Path<String>,
    Authenticated(device): Authenticated,
) -> Result<Json<BlobStatus>, AppError> {
    check_name(&sha256)?;
    let found = state
        .storage
        .blob_status(
            &device.tenant_id,
            &device.id,
            &sha256,
            expired_before(&state),
        )
        .await?;
    match found {
        Some(s) if !s.complete => Ok(Json(s)),
        Some(s) => {
            let viewer = viewer_of(&*state.storage, &device).await?;
            if readable(&*state.storage, &device.tenant_id, &sha256, &viewer).await? {
                Ok(Json(s))
            } else {
                Err(not_found(&sha256))
            }
        }
        None => Err(not_found(&sha256)),
    }
}

/// `GET /v1/blobs/{sha256}`: only for a user who may read the file.
pub async fn download(
    State(state): State<AppState>,
    Path(sha256): Path<String>,
    Authenticated(device): Authenticated,
) -> Result<Response, AppError> {
    check_name(&sha256)?;
    let viewer = viewer_of(&*state.storage, &device).await?;
    if !readable(&*state.storage, &device.tenant_id, &sha256, &viewer).await? {
        return Err(not_found(&sha256));
    }
    let bytes = state
        .storage
        .blob_read(&device.tenant_id, &sha256)
        .await?
        .ok_or_else(|| not_found(&sha256))?;
    Ok(octets(bytes))
}
