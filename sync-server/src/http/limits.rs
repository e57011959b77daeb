//! The rate limits as middleware (see [`crate::ratelimit`]): the client address of every
//! request ([`client_address`]), failed authentication per client address and per presented
//! token ([`guard`]), and requests per device ([`within_rate`], called once the device is
//! known). Every `429` carries `Retry-After` and is counted in `outpost_rate_limited_total`.
//!
//! **A valid token is always served.** When a request's client address or token is limited,
//! the guard still looks its bearer token up on the device routes ([`DEVICE_ROUTES`]): a device
//! that exists and is not revoked goes on as if nothing were limited. Only unknown, missing and
//! revoked tokens are refused. This is safe because the limit is not what keeps tokens from
//! being guessed: a token is 32 random bytes, and finding one of even a million enrolled
//! devices' tokens takes about 2^236 guesses, whatever the rate. What the limit does is keep
//! floods of bad tokens from costing the server audit rows and work (a limited request gets no
//! audit row and one indexed lookup at most), and it must not turn into a lockout of every rep
//! behind the same proxy or carrier address. Routes whose secret is short (an enrolment code)
//! must stay out of [`DEVICE_ROUTES`], so that their guesses stay limited.

use super::extract::bearer_token;
use super::AppState;
use crate::error::AppError;
use crate::ratelimit::device::DeviceLimiter;
use crate::ratelimit::proxy::{ClientAddr, TrustedProxies};
use crate::ratelimit::{retry_after_secs, AuthLimiter, Limited, TokenKey};
use crate::rows::Device;
use crate::token::hash_token;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use std::net::SocketAddr;
use std::time::Instant;

/// The limits every request goes through.
#[derive(Debug)]
pub struct Limits {
    /// Failed authentication per client address and per token.
    pub auth: AuthLimiter,
    /// Requests per device.
    pub devices: DeviceLimiter,
    /// Whose forwarding header gives the client address.
    pub proxies: TrustedProxies,
}

/// The routes a device authenticates on with its bearer token (a 256-bit secret): there a valid
/// token is served even when its address or token key is limited. Prefixes of the path.
pub const DEVICE_ROUTES: [&str; 6] = [
    "/v1/sync",
    "/v1/bootstrap",
    "/v1/scope",
    "/v1/records",
    "/v1/blobs/",
    "/v1/metrics",
];

fn device_route(path: &str) -> bool {
    DEVICE_ROUTES.iter().any(|r| {
        path == *r
            || (path.starts_with(r) && (r.ends_with('/') || path[r.len()..].starts_with('/')))
    }) || path == "/v1/reports/health"
}

/// Middleware: finds the request's [`ClientAddr`] (the peer's, or a trusted proxy's header's)
/// and adds it to the request's extensions, with the peer's [`SocketAddr`].
pub async fn client_address(
    State(state): State<AppState>,
    mut req: Request,
    next: Next,
) -> Response {
    let peer = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(addr)| *addr);
    if let Some(peer) = peer {
        let client = state.limits.proxies.client(peer.ip(), req.headers());
        if client.forwarded {
            tracing::Span::current().record("client", tracing::field::display(client.ip));
        }
        req.extensions_mut().insert(client);
    }
    next.run(req).await
}

/// Middleware on `/v1/*`: refuses a limited client address or token with `429` (a valid token
/// excepted, see the module's doc), and counts every `401` answer against both.
pub async fn guard(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let path = req.uri().path();
    if !path.starts_with("/v1/") {
        return next.run(req).await;
    }
    let Some(client) = req.extensions().get::<ClientAddr>().copied() else {
        // No peer address (a router driven without a socket, as in unit tests): nothing to key on.
        return next.run(req).await;
    };
    let token = bearer_token(req.headers()).map(str::to_string);
    let key = token.as_deref().map(TokenKey::of);
    if let Some((by, wait)) = state.limits.auth.blocked_at(client.ip, key, Instant::now()) {
        let valid = match token.as_deref() {
            Some(token) if device_route(path) => valid_device(&state, token).await,
            _ => false,
        };
        if !valid {
            return refuse(&state, client, by, retry_after_secs(wait));
        }
    }
    let response = next.run(req).await;
    if response.status() == StatusCode::UNAUTHORIZED {
        state.limits.auth.fail_at(client.ip, key, Instant::now());
    }
    response
}

/// Whether `token` is a device that exists and is not revoked.
async fn valid_device(state: &AppState, token: &str) -> bool {
    match state.storage.device_by_token_hash(&hash_token(token)).await {
        Ok(Some(device)) => device.revoked_at_ms.is_none(),
        Ok(None) => false,
        Err(e) => {
            tracing::warn!(error = %e, "looking up a token of a limited client failed");
            false
        }
    }
}

fn refuse(state: &AppState, client: ClientAddr, by: Limited, secs: u64) -> Response {
    let (reason, what) = match by {
        Limited::Address => ("auth_address", "from this address"),
        Limited::Token => ("auth_token", "with this token"),
    };
    state.metrics.rate_limited(reason);
    tracing::warn!(ip = %client.ip, limit = reason, retry_after = secs, "too many failed authentications");
    AppError::too_many_requests(
        format!("too many failed authentications {what}; retry in {secs} s"),
        secs,
    )
    .into_response()
}

/// Takes one request of `device` from its budget: `429` with `Retry-After` when it has none.
pub(crate) fn within_rate(state: &AppState, device: &Device) -> Result<(), AppError> {
    match state.limits.devices.take_at(&device.id, Instant::now()) {
        Ok(()) => Ok(()),
        Err(wait) => {
            let secs = retry_after_secs(wait);
            state.metrics.rate_limited("device");
            tracing::warn!(device = %device.id, retry_after = secs, "device over its request rate");
            Err(AppError::too_many_requests(
                format!("this device sends too many requests; retry in {secs} s"),
                secs,
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::device_route;

    #[test]
    fn device_routes_are_matched_by_whole_segments() {
        for p in [
            "/v1/sync",
            "/v1/records",
            "/v1/records/abc/automerge-sync",
            "/v1/blobs/00ff",
            "/v1/blobs/00ff/status",
            "/v1/metrics",
            "/v1/reports/health",
        ] {
            assert!(device_route(p), "{p}");
        }
        for p in [
            "/v1/syncx",
            "/v1/enroll",
            "/v1/records2",
            "/v1/reports/other",
            "/v1/",
        ] {
            assert!(!device_route(p), "{p}");
        }
    }
}
