//! Device tokens: 32 random bytes shown once, stored as their SHA-256.

use crate::storage::{Role, Storage};
use crate::StorageError;
use serde::Serialize;
use sha2::{Digest, Sha256};

/// A freshly enrolled device and its token (the only time the token is visible).
#[derive(Debug, Clone, Serialize)]
pub struct Enrollment {
    /// The new device's id.
    pub device_id: String,
    /// The bearer token the device authenticates with.
    pub token: String,
}

/// Generates a new random token (64 hex characters) and its stored hash.
pub fn new_token() -> Result<(String, String), StorageError> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes)
        .map_err(|e| StorageError::Internal(format!("no randomness for a token: {e}")))?;
    let token = hex::encode(bytes);
    let hash = hash_token(&token);
    Ok((token, hash))
}

/// The SHA-256 (hex) of a token, as stored in `devices.token_hash`.
pub fn hash_token(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// Enrolls a device for `user_id` in tenant `tenant_id` and returns its one-time token; a
/// disabled user is refused, and so is the name the server writes its own changes as.
pub async fn enroll_device(
    storage: &dyn Storage,
    tenant_id: &str,
    user_id: &str,
    role: Role,
) -> Result<Enrollment, StorageError> {
    if user_id.trim() == outpost_core::flow::SERVER_USER {
        return Err(StorageError::BadRequest(format!(
            "user {user_id}: the name is the server's own (its settings, verdicts and routing)"
        )));
    }
    if storage.user_disabled(tenant_id, user_id).await? {
        return Err(StorageError::Forbidden(format!(
            "user {user_id} is disabled: `outpost-server user enable {user_id}` before enrolling a device"
        )));
    }
    let (token, hash) = new_token()?;
    let device = storage
        .enroll_device(tenant_id, user_id, role, &hash)
        .await?;
    Ok(Enrollment {
        device_id: device.id,
        token,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_random_and_hashed() {
        let (a, ha) = new_token().unwrap_or_default();
        let (b, _) = new_token().unwrap_or_default();
        assert_eq!(a.len(), 64);
        assert_ne!(a, b);
        assert_eq!(ha, hash_token(&a));
        assert_ne!(ha, a);
    }
}
