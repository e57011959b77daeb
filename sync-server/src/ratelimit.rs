//! Rate limiting of failed authentication, per remote IP address.
//!
//! Every `/v1/*` answer `401` (missing, unknown or revoked token) counts as one failure of the
//! request's remote address. An address with [`LimitConfig::max_failures`] failures inside one
//! [`LimitConfig::window`] gets `429 {"error":"too_many_requests"}` with a `Retry-After` header
//! for every `/v1/*` request until the window ends; `/healthz` and `/metrics` are never limited.
//! A success does not reset the count (one valid token must not let an attacker guess on).
//!
//! The counters live in the server process: several processes on one PostgreSQL database each
//! count on their own, so the effective limit is per process. Behind a reverse proxy every
//! request comes from the proxy's address; limit there too (see docs/security.md).

use crate::error::AppError;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

/// How many failures are allowed in how long.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LimitConfig {
    /// Failures allowed per window; the next request is refused until the window ends.
    pub max_failures: u32,
    /// The window.
    pub window: Duration,
}

impl Default for LimitConfig {
    fn default() -> Self {
        LimitConfig {
            max_failures: 20,
            window: Duration::from_secs(60),
        }
    }
}

/// Most addresses tracked at once; older windows are dropped first when full.
const MAX_TRACKED: usize = 100_000;

#[derive(Debug, Clone, Copy)]
struct Window {
    started: Instant,
    failures: u32,
}

/// Failed-authentication counters per remote IP address.
#[derive(Debug)]
pub struct AuthLimiter {
    config: LimitConfig,
    windows: Mutex<HashMap<IpAddr, Window>>,
}

impl AuthLimiter {
    /// A limiter with `config`.
    pub fn new(config: LimitConfig) -> AuthLimiter {
        AuthLimiter {
            config,
            windows: Mutex::new(HashMap::new()),
        }
    }

    /// `Some(time to wait)` when `ip` is blocked at `now`.
    pub fn blocked_at(&self, ip: IpAddr, now: Instant) -> Option<Duration> {
        let windows = self.windows.lock().unwrap_or_else(PoisonError::into_inner);
        let w = windows.get(&ip)?;
        let ends = w.started + self.config.window;
        (w.failures >= self.config.max_failures && now < ends).then(|| ends - now)
    }

    /// Counts one failure of `ip` at `now`.
    pub fn fail_at(&self, ip: IpAddr, now: Instant) {
        let mut windows = self.windows.lock().unwrap_or_else(PoisonError::into_inner);
        if windows.len() >= MAX_TRACKED && !windows.contains_key(&ip) {
            let window = self.config.window;
            windows.retain(|_, w| now.saturating_duration_since(w.started) < window);
            if windows.len() >= MAX_TRACKED {
                // Still full of live windows: forget the oldest one.
                if let Some(oldest) = windows
                    .iter()
                    .min_by_key(|(_, w)| w.started)
                    .map(|(k, _)| *k)
                {
                    windows.remove(&oldest);
                }
            }
        }
        let w = windows.entry(ip).or_insert(Window {
            started: now,
            failures: 0,
        });
        if now.saturating_duration_since(w.started) >= self.config.window {
            *w = Window {
                started: now,
                failures: 0,
            };
        }
        w.failures = w.failures.saturating_add(1);
    }
}

/// Whole seconds to announce in `Retry-After` (at least 1).
fn retry_after_secs(wait: Duration) -> u64 {
    (wait.as_millis().div_ceil(1000) as u64).max(1)
}

/// The middleware: refuses blocked addresses with 429, counts 401 answers as failures.
pub async fn guard(State(limiter): State<Arc<AuthLimiter>>, req: Request, next: Next) -> Response {
    if !req.uri().path().starts_with("/v1/") {
        return next.run(req).await;
    }
    let ip = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(addr)| addr.ip());
    let Some(ip) = ip else {
        // No peer address (a router driven without a socket, as in unit tests): nothing to key on.
        return next.run(req).await;
    };
    if let Some(wait) = limiter.blocked_at(ip, Instant::now()) {
        let secs = retry_after_secs(wait);
        tracing::warn!(%ip, retry_after = secs, "too many failed authentications");
        let mut response = AppError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "too_many_requests",
            format!("too many failed authentications from this address; retry in {secs} s"),
        )
        .into_response();
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        return response;
    }
    let response = next.run(req).await;
    if response.status() == StatusCode::UNAUTHORIZED {
        limiter.fail_at(ip, Instant::now());
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limiter() -> AuthLimiter {
        AuthLimiter::new(LimitConfig {
            max_failures: 3,
            window: Duration::from_secs(60),
        })
    }

    #[test]
    fn blocks_after_the_allowed_failures_until_the_window_ends() {
        let l = limiter();
        let ip: IpAddr = [10, 0, 0, 7].into();
        let other: IpAddr = [10, 0, 0, 8].into();
        let t0 = Instant::now();
        for i in 0..3 {
            assert_eq!(l.blocked_at(ip, t0), None, "failure {i} still allowed");
            l.fail_at(ip, t0 + Duration::from_secs(i));
        }
        let wait = l.blocked_at(ip, t0 + Duration::from_secs(10));
        assert_eq!(wait, Some(Duration::from_secs(50)));
        assert_eq!(l.blocked_at(other, t0), None, "other addresses unaffected");
        assert_eq!(
            l.blocked_at(ip, t0 + Duration::from_secs(60)),
            None,
            "window over"
        );
        // A new window starts counting from zero.
        l.fail_at(ip, t0 + Duration::from_secs(61));
        assert_eq!(l.blocked_at(ip, t0 + Duration::from_secs(62)), None);
    }

    #[test]
    fn retry_after_rounds_up_to_whole_seconds() {
        assert_eq!(retry_after_secs(Duration::from_millis(1)), 1);
        assert_eq!(retry_after_secs(Duration::from_millis(1500)), 2);
        assert_eq!(retry_after_secs(Duration::from_secs(50)), 50);
    }
}
