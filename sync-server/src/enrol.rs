//! Enrolment by code: an operator invites a user (`outpost-server device invite`), gets a short
//! one-time code (and a QR code of it with the server's address), and the phone trades it for
//! its device token (`POST /v1/enroll`). Codes are 10 characters of Crockford's base32 (50
//! random bits, typed as `ABCDE-FGHJK`; `O`/`I`/`L` read as `0`/`1`/`1`), stored only as their
//! SHA-256, used once, and expire (24 h by default). A wrong code answers 401 like a wrong
//! token, so the failed-login limit bounds guessing. Tokens can be rotated: the old one stops
//! at once.

use crate::access::Enrollment;
use crate::audit::{self, event, AuditEvent};
use crate::error::StorageError;
use crate::rows::{Device, Role};
use crate::storage::enrol::{Invite, Refusal};
use crate::storage::Storage;
use crate::token::{hash_token, new_token};
use serde::Serialize;

/// Characters of a code (Crockford's base32).
const ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
/// Characters in a code.
pub const CODE_LEN: usize = 10;
/// How long a code works unless the operator says otherwise.
pub const DEFAULT_TTL_MS: i64 = 24 * 3600 * 1000;
/// The longest an operator may let a code work (30 days).
pub const MAX_TTL_MS: i64 = 30 * 24 * 3600 * 1000;

/// Why a code did not enrol a device, for the device (and the audit trail).
#[derive(Debug, thiserror::Error)]
pub enum EnrolError {
    /// Not a code this server made (or mistyped).
    #[error("unknown enrolment code: check it, or ask for a new one")]
    Unknown,
    /// Used by another device already.
    #[error("this enrolment code was used already: ask for a new one")]
    Used,
    /// Too old.
    #[error("this enrolment code has expired: ask for a new one")]
    Expired,
    /// The invited user was disabled since.
    #[error("user {0} is disabled")]
    Disabled(String),
    /// Storage failed.
    #[error(transparent)]
    Storage(#[from] StorageError),
}

/// A new invitation, with the code (shown once).
#[derive(Debug, Clone, Serialize)]
pub struct Invitation {
    /// The one-time code, as `ABCDE-FGHJK`.
    pub code: String,
    /// The tenant the device joins.
    pub tenant_id: String,
    /// The user signed in on it.
    pub user: String,
    /// The user's role.
    pub role: String,
    /// When the code stops working (ms since the epoch).
    pub expires_at_ms: i64,
}

/// A new random code, as `ABCDE-FGHJK`.
pub fn new_code() -> Result<String, StorageError> {
    let mut bytes = [0u8; CODE_LEN];
    getrandom::fill(&mut bytes)
        .map_err(|e| StorageError::Internal(format!("no randomness for a code: {e}")))?;
    let chars: String = bytes
        .iter()
        .map(|b| char::from(ALPHABET[usize::from(b & 31)]))
        .collect();
    Ok(format!("{}-{}", &chars[..5], &chars[5..]))
}

/// The code as stored (hashed): upper case, without spaces and dashes, `O` as `0`, `I`/`L` as
/// `1`; `None` when it cannot be a code.
pub fn normalize(code: &str) -> Option<String> {
    if code.len() > 64 {
        return None;
    }
    let mut out = String::with_capacity(CODE_LEN);
    for c in code.chars() {
        let c = match c.to_ascii_uppercase() {
            ' ' | '-' => continue,
            'O' => '0',
            'I' | 'L' => '1',
            c => c,
        };
        if !c.is_ascii() || !ALPHABET.contains(&(c as u8)) {
            return None;
        }
        out.push(c);
    }
    (out.len() == CODE_LEN).then_some(out)
}

/// Invites `user` of tenant `tenant_id` with `role`: a code that works once, until `now_ms +
/// ttl_ms`. Audited as `device.invite`.
pub async fn invite(
    storage: &dyn Storage,
    tenant_id: &str,
    user: &str,
    role: Role,
    ttl_ms: i64,
    now_ms: i64,
) -> Result<Invitation, StorageError> {
    if !(60_000..=MAX_TTL_MS).contains(&ttl_ms) {
        return Err(StorageError::BadRequest(format!(
            "expires: {ttl_ms} ms; a code works from one minute to 30 days"
        )));
    }
    crate::storage::check_user_id(user)?;
    if user.trim() == outpost_core::flow::SERVER_USER {
        return Err(StorageError::BadRequest(format!(
            "user {user}: the name is the server's own (its settings, verdicts and routing)"
        )));
    }
    if storage.user_disabled(tenant_id, user).await? {
        return Err(StorageError::Forbidden(format!(
            "user {user} is disabled: `outpost-server user enable {user}` before inviting"
        )));
    }
    crate::access::require_role(storage, tenant_id, &role).await?;
    let code = new_code()?;
    let hash = normalize(&code)
        .map(|c| hash_token(&c))
        .ok_or_else(|| StorageError::Internal("a new code does not read as a code".into()))?;
    let invitation = Invitation {
        code,
        tenant_id: tenant_id.to_string(),
        user: user.to_string(),
        role: role.as_str().to_string(),
        expires_at_ms: now_ms + ttl_ms,
    };
    storage
        .create_invite(&Invite {
            code_hash: hash,
            tenant_id: tenant_id.to_string(),
            user_id: user.to_string(),
            role,
            created_at_ms: now_ms,
            expires_at_ms: invitation.expires_at_ms,
        })
        .await?;
    let e = AuditEvent::new(
        tenant_id,
        event::DEVICE_INVITE,
        &serde_json::json!({ "role": invitation.role, "expires_at_ms": invitation.expires_at_ms }),
    )
    .by(user, None)
    .from_remote("operator");
    storage.audit_append(e).await?;
    Ok(invitation)
}

/// Trades a code for a new device and its token (shown this once), from `remote`. Audited as
/// `device.enroll`, refusals as `auth.failed`.
pub async fn redeem(
    storage: &dyn Storage,
    code: &str,
    remote: &str,
    now_ms: i64,
) -> Result<(Enrollment, Device), EnrolError> {
    let result = redeem_inner(storage, code, now_ms).await;
    let e = match &result {
        Ok((_, device)) => AuditEvent::new(
            &device.tenant_id,
            event::DEVICE_ENROLL,
            &serde_json::json!({ "by": "code" }),
        )
        .by(&device.user_id, Some(&device.id)),
        Err(EnrolError::Storage(_)) => return result,
        Err(refused) => AuditEvent::new(
            "",
            event::AUTH_FAILED,
            &serde_json::json!({ "enrol": refused.to_string() }),
        ),
    };
    audit::record(storage, e.from_remote(remote)).await;
    result
}

async fn redeem_inner(
    storage: &dyn Storage,
    code: &str,
    now_ms: i64,
) -> Result<(Enrollment, Device), EnrolError> {
    let hash = normalize(code)
        .map(|c| hash_token(&c))
        .ok_or(EnrolError::Unknown)?;
    let Some((invite, _)) = storage.invite(&hash).await? else {
        return Err(EnrolError::Unknown);
    };
    if storage
        .user_disabled(&invite.tenant_id, &invite.user_id)
        .await?
    {
        return Err(EnrolError::Disabled(invite.user_id));
    }
    let (token, token_hash) = new_token()?;
    match storage.redeem_invite(&hash, &token_hash, now_ms).await? {
        Ok(device) => Ok((
            Enrollment {
                device_id: device.id.clone(),
                token,
            },
            device,
        )),
        Err(Refusal::Unknown) => Err(EnrolError::Unknown),
        Err(Refusal::Used) => Err(EnrolError::Used),
        Err(Refusal::Expired) => Err(EnrolError::Expired),
    }
}

/// Gives a device a new token (shown this once); the old one stops at once. Audited as
/// `device.rotate`.
pub async fn rotate(storage: &dyn Storage, device_id: &str) -> Result<Enrollment, StorageError> {
    let (token, hash) = new_token()?;
    let device = storage.rotate_token(device_id, &hash).await?;
    let e = AuditEvent::new(
        &device.tenant_id,
        event::DEVICE_ROTATE,
        &serde_json::json!({}),
    )
    .by(&device.user_id, Some(&device.id))
    .from_remote("operator");
    storage.audit_append(e).await?;
    Ok(Enrollment {
        device_id: device.id,
        token,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_random_short_and_read_back_as_typed() {
        let a = new_code().unwrap_or_default();
        let b = new_code().unwrap_or_default();
        assert_ne!(a, b);
        assert_eq!(a.len(), CODE_LEN + 1);
        assert_eq!(a.as_bytes()[5], b'-');
        let plain = a.replace('-', "");
        assert_eq!(normalize(&a), Some(plain.clone()));
        assert_eq!(normalize(&a.to_lowercase()), Some(plain.clone()));
        assert_eq!(normalize(&format!(" {} ", &a)), Some(plain));
        // Letters people confuse read as the digits they look like.
        assert_eq!(
            normalize("OIL23-45678").as_deref(),
            Some("01123456 78".replace(' ', "").as_str())
        );
        assert_eq!(normalize("ABCDE-FGHJ"), None, "too short");
        assert_eq!(normalize("ABCDE-FGHJU"), None, "U is not a code character");
        assert_eq!(normalize("ABCDE-FGHJ张"), None);
        assert_eq!(normalize(&"A".repeat(100)), None);
    }
}
