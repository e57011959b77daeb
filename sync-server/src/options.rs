//! Every bound of the server an operator may tune, in one struct with its defaults; the
//! `outpost-server serve` flags and environment variables fill it. See `docs/security.md`,
//! "Bounds".

use crate::ratelimit::device::DeviceRate;
use crate::ratelimit::proxy::TrustedProxies;
use crate::ratelimit::LimitConfig;
use std::time::Duration;

/// How long a client may take to send a request's headers, and the other listener bounds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerOptions {
    /// Longest wait for a request's complete headers, counted from when the server starts
    /// waiting for them: on a new connection, and between two requests of a kept-alive one.
    /// A client that sends nothing, or half its headers, is disconnected after it.
    pub header_read_timeout: Duration,
    /// A kept-alive connection with no request in progress and no byte moving for this long is
    /// closed (at most [`Self::header_read_timeout`], whose timer also runs while idle).
    pub keep_alive_timeout: Duration,
    /// A connection whose request is being handled, with no byte moving either way for this
    /// long, is closed (a stalled handler or a client that stopped reading).
    pub idle_timeout: Duration,
    /// Most connections served at once; more wait in the listen backlog until one closes.
    pub max_connections: usize,
    /// An incomplete blob upload is discarded this long after its last chunk.
    pub upload_expiry: Duration,
    /// Failed-authentication limits per client address and per presented token.
    pub auth_limits: LimitConfig,
    /// Whether the API port answers `/metrics` (not when an admin listener serves them).
    pub metrics_on_api: bool,
    /// Requests allowed per device.
    pub device_rate: DeviceRate,
    /// The reverse proxies whose forwarding header gives the client address (none by
    /// default: the client address is the TCP peer's).
    pub trusted_proxies: TrustedProxies,
}

impl Default for ServerOptions {
    fn default() -> Self {
        Self {
            header_read_timeout: Duration::from_secs(10),
            keep_alive_timeout: Duration::from_secs(5),
            idle_timeout: Duration::from_secs(120),
            max_connections: 512,
            upload_expiry: Duration::from_secs(24 * 3600),
            auth_limits: LimitConfig::default(),
            metrics_on_api: true,
            device_rate: DeviceRate::default(),
            trusted_proxies: TrustedProxies::none(),
        }
    }
}
