//! The blob routes: resumable uploads of attachments (scans, photos) named by their sha256.
//!
//! | Route | |
//! |---|---|
//! | `PUT /v1/blobs/{sha256}` | one chunk (`application/octet-stream`) at `Upload-Offset` of a blob of `Upload-Length` bytes → JSON [`BlobStatus`] |
//! | `GET /v1/blobs/{sha256}/status` | JSON [`BlobStatus`], 404 when nothing was uploaded |
//! | `GET /v1/blobs/{sha256}` | the bytes of a complete blob, 404 otherwise |
//!
//! A chunk at the wrong offset is answered 409 with the offset to resume at in the message;
//! the client reads the status and continues from there. The last chunk makes the server hash
//! the whole blob: bytes that do not hash to its name are discarded and answered 422.

use crate::error::AppError;
use crate::http::{authenticate, read_body, require_content_type, AppState, OCTET_STREAM};
use crate::storage::blobs::{check_name, BlobStatus};
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};
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

/// `PUT /v1/blobs/{sha256}`.
pub async fn put_chunk(
    State(state): State<AppState>,
    Path(sha256): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<BlobStatus>, AppError> {
    require_content_type(&headers, OCTET_STREAM)?;
    let device = authenticate(&state, &headers).await?;
    check_name(&sha256)?;
    let offset = number_header(&headers, UPLOAD_OFFSET)?;
    let size = number_header(&headers, UPLOAD_LENGTH)?;
    let chunk = read_body(&state, &headers, body).await?;
    let status = state
        .storage
        .blob_append(&device.tenant_id, &sha256, size, offset, &chunk)
        .await?;
    Ok(Json(status))
}

/// `GET /v1/blobs/{sha256}/status`.
pub async fn status(
    State(state): State<AppState>,
    Path(sha256): Path<String>,
    headers: HeaderMap,
) -> Result<Json<BlobStatus>, AppError> {
    let device = authenticate(&state, &headers).await?;
    state
        .storage
        .blob_status(&device.tenant_id, &sha256)
        .await?
        .map(Json)
        .ok_or_else(|| AppError::not_found(format!("blob {sha256} not found")))
}

/// `GET /v1/blobs/{sha256}`: only for a device whose user may read an attachment naming it.
pub async fn download(
    State(state): State<AppState>,
    Path(sha256): Path<String>,
    headers: HeaderMap,
) -> Result<Response, AppError> {
    let device = authenticate(&state, &headers).await?;
    let missing = || AppError::not_found(format!("blob {sha256} not found or incomplete"));
    // A file is readable by whoever may read an attachment that names it; to anyone else it
    // does not exist.
    let viewer = crate::access::viewer_of(&*state.storage, &device).await?;
    let readable = state
        .storage
        .blob_records(&device.tenant_id, &sha256)
        .await?
        .iter()
        .any(|(id, kind, meta)| viewer.sees(id, kind, meta));
    if !readable {
        return Err(missing());
    }
    let bytes = state
        .storage
        .blob_read(&device.tenant_id, &sha256)
        .await?
        .ok_or_else(missing)?;
    Ok((
        [(header::CONTENT_TYPE, HeaderValue::from_static(OCTET_STREAM))],
        bytes,
    )
        .into_response())
}
