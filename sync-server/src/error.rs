//! Errors: [`StorageError`] from the storage layer, [`AppError`] as an HTTP answer.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use outpost_core::sync::protocol::ErrorBody;

/// What went wrong in a storage call. The first variants refuse the request (the client's
/// fault, nothing stored); the others are the server's problem.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    /// The request is malformed (names the field or change at fault).
    #[error("{0}")]
    BadRequest(String),
    /// The request touches something the device may not (another tenant's record, an actor
    /// bound to another device).
    #[error("{0}")]
    Forbidden(String),
    /// The named thing does not exist.
    #[error("{0} not found")]
    NotFound(String),
    /// The thing already exists (e.g. a tenant name).
    #[error("{0}")]
    Conflict(String),
    /// A change sent over the Automerge sync protocol was not accepted (reason for the user).
    #[error("{0}")]
    Rejected(String),
    /// SQLite failed.
    #[error("sqlite: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// PostgreSQL failed.
    #[error("postgres: {0}")]
    Postgres(#[from] tokio_postgres::Error),
    /// No PostgreSQL connection could be had from the pool.
    #[error("postgres pool: {0}")]
    Pool(String),
    /// A file or directory could not be used.
    #[error("{op} {path}: {source}")]
    Io {
        /// What we tried.
        op: &'static str,
        /// Which path.
        path: String,
        /// The cause.
        source: std::io::Error,
    },
    /// Stored data could not be read back (names the row).
    #[error("corrupt stored data: {0}")]
    Corrupt(String),
    /// Anything else on the server side.
    #[error("{0}")]
    Internal(String),
}

/// An error answer: a status, a stable code and a message for the client (JSON [`ErrorBody`]).
/// Server-side causes are logged in full and answered with a generic message.
#[derive(Debug)]
pub struct AppError {
    /// The HTTP status.
    pub status: StatusCode,
    /// The stable error code (`bad_request`, `unauthorized`, ...).
    pub code: &'static str,
    /// The message sent to the client.
    pub message: String,
    /// The real cause, logged but not sent (for 5xx).
    pub cause: Option<String>,
    /// Seconds the client should wait, sent as `Retry-After` (429 answers).
    pub retry_after_secs: Option<u64>,
}

impl AppError {
    /// An error with this status, code and message.
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            cause: None,
            retry_after_secs: None,
        }
    }

    /// 429 `too_many_requests`, to be retried after `secs` seconds (`Retry-After`).
    pub fn too_many_requests(message: impl Into<String>, secs: u64) -> Self {
        Self {
            retry_after_secs: Some(secs),
            ..Self::new(StatusCode::TOO_MANY_REQUESTS, "too_many_requests", message)
        }
    }

    /// 400 `bad_request`.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "bad_request", message)
    }

    /// 401 `unauthorized`.
    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "unauthorized", message)
    }

    /// 403 `forbidden`.
    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "forbidden", message)
    }

    /// 404 `not_found`.
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", message)
    }

    /// 500 `internal`, logging `cause`.
    pub fn internal(cause: impl Into<String>) -> Self {
        Self {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            code: "internal",
            message: "internal server error".into(),
            cause: Some(cause.into()),
            retry_after_secs: None,
        }
    }

    /// The JSON body of this error.
    pub fn body(&self) -> ErrorBody {
        ErrorBody {
            error: self.code.to_string(),
            message: self.message.clone(),
        }
    }
}

impl From<StorageError> for AppError {
    fn from(e: StorageError) -> Self {
        match e {
            StorageError::BadRequest(m) => Self::bad_request(m),
            StorageError::Forbidden(m) => Self::forbidden(m),
            StorageError::NotFound(what) => Self::not_found(format!("{what} not found")),
            StorageError::Conflict(m) => Self::new(StatusCode::CONFLICT, "conflict", m),
            StorageError::Rejected(m) => Self::new(StatusCode::UNPROCESSABLE_ENTITY, "rejected", m),
            other => Self::internal(other.to_string()),
        }
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        if self.status.is_server_error() {
            tracing::error!(
                status = self.status.as_u16(),
                code = self.code,
                cause = self.cause.as_deref().unwrap_or(&self.message),
                "request failed"
            );
        } else {
            tracing::warn!(
                status = self.status.as_u16(),
                code = self.code,
                message = %self.message,
                "request refused"
            );
        }
        let mut response = (self.status, Json(self.body())).into_response();
        if let Some(secs) = self.retry_after_secs {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        response
    }
}
