//! Small helpers the storage files share: the clock, ids, stored integers, operator input.

use crate::error::StorageError;

/// A blocking task that did not finish: a panic is raised again in the request (which then
/// fails like any panic, answered 500), a cancellation is an internal error.
pub(crate) fn task_failed(e: tokio::task::JoinError) -> StorageError {
    match e.try_into_panic() {
        Ok(panic) => std::panic::resume_unwind(panic),
        Err(e) => StorageError::Internal(format!("storage task failed: {e}")),
    }
}

/// Milliseconds since the epoch.
pub(crate) fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// A new UUIDv7 string id.
pub(crate) fn new_id() -> String {
    uuid::Uuid::now_v7().to_string()
}

/// A new identity for the server's log: 128 random bits in hex (a UUIDv4's randomness, without
/// the time a v7 would leak about when the backup was restored).
pub(crate) fn new_log_id() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

/// A stored non-negative integer as u64 (negative values are corrupt).
pub(crate) fn to_u64(v: i64, what: &str) -> Result<u64, StorageError> {
    u64::try_from(v).map_err(|_| StorageError::Corrupt(format!("{what} is negative: {v}")))
}

/// A u64 as a stored i64.
pub(crate) fn to_i64(v: u64, what: &str) -> Result<i64, StorageError> {
    i64::try_from(v).map_err(|_| StorageError::BadRequest(format!("{what} is too large: {v}")))
}

/// Checks a tenant name given by an operator.
pub(crate) fn check_tenant_name(name: &str) -> Result<(), StorageError> {
    if name.trim().is_empty() || name.len() > 200 {
        return Err(StorageError::BadRequest(
            "tenant name: must be 1 to 200 characters, not only spaces".into(),
        ));
    }
    Ok(())
}

/// Checks a user id given by an operator.
pub(crate) fn check_user_id(user: &str) -> Result<(), StorageError> {
    if user.trim().is_empty() || user.len() > 200 {
        return Err(StorageError::BadRequest(
            "user: must be 1 to 200 characters, not only spaces".into(),
        ));
    }
    Ok(())
}
