//! Device tokens: 32 random bytes shown once, stored as their SHA-256.

use crate::error::StorageError;
use sha2::{Digest, Sha256};

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
