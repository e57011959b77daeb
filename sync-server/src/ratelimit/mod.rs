//! Rate limits: failed authentication per client address and per presented token
//! ([`AuthLimiter`]), requests per device ([`device::DeviceLimiter`]), and the client address
//! behind trusted reverse proxies ([`proxy`]). The HTTP middleware that applies them is
//! `http::limits`.
//!
//! **Failed authentication.** Every `/v1/*` answer `401` (missing, unknown or revoked token)
//! counts one failure against the request's client address and, when a bearer token was
//! presented, against that token's [`TokenKey`]. An address with [`LimitConfig::max_failures`]
//! failures inside one [`LimitConfig::window`], or a token with
//! [`LimitConfig::max_token_failures`], is limited until its window ends: requests are answered
//! `429 too_many_requests` with `Retry-After`, except that a valid token (a device that exists
//! and is not revoked) is still served on the device routes (see `http::limits`). So a device
//! never waits because others sharing its address (a proxy, a carrier's CGNAT) sent bad tokens,
//! and one device presenting the same stale token over and over uses up its own budget, not its
//! address's. A success does not reset a count.
//!
//! A token is keyed by the first 8 bytes of its SHA-256, never by its own characters: the
//! limiter keeps nothing of a secret (the database already keeps the whole hash of valid
//! tokens), and any change to a presented token is another key, so what one key identifies is
//! exactly "this device's (stale or mistyped) token". An attacker who varies the token gets a
//! new token key each time and meets the address limit instead.
//!
//! IPv6 client addresses are counted per /64 (one subscriber's usual allocation), so an
//! attacker cannot step through the addresses of one prefix to escape the limit.
//!
//! The counters live in the server process and are bounded ([`MAX_TRACKED`] keys per kind; the
//! expired go first, then the oldest): several processes on one PostgreSQL database each count
//! on their own, so the effective limit is per process.

pub mod device;
pub mod proxy;

use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::hash::Hash;
use std::net::IpAddr;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

/// How many failures are allowed in how long.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LimitConfig {
    /// Failures allowed per client address and window; the next is refused until the window
    /// ends.
    pub max_failures: u32,
    /// Failures allowed per presented token and window.
    pub max_token_failures: u32,
    /// The window.
    pub window: Duration,
}

impl Default for LimitConfig {
    fn default() -> Self {
        LimitConfig {
            max_failures: 20,
            max_token_failures: 5,
            window: Duration::from_secs(60),
        }
    }
}

/// Most keys of one kind tracked at once (addresses, tokens, devices).
pub const MAX_TRACKED: usize = 100_000;

/// A map of at most `cap` keys: before a new key goes in, the entries that no longer matter go,
/// then, if it is still full, the oldest tenth (so a flood of new keys costs a sort now and then,
/// not a scan per request).
#[derive(Debug)]
struct Tracked<K, V> {
    map: HashMap<K, V>,
    cap: usize,
}

impl<K: Hash + Eq + Clone, V> Tracked<K, V> {
    fn new(cap: usize) -> Self {
        Self {
            map: HashMap::new(),
            cap: cap.max(1),
        }
    }

    /// The entry of `key`, made by `new` when absent, after making room for it.
    fn entry(
        &mut self,
        key: K,
        stale: impl Fn(&V) -> bool,
        age: impl Fn(&V) -> Instant,
        new: impl FnOnce() -> V,
    ) -> &mut V {
        if self.map.len() >= self.cap && !self.map.contains_key(&key) {
            self.map.retain(|_, v| !stale(v));
            if self.map.len() >= self.cap {
                let mut ages: Vec<Instant> = self.map.values().map(&age).collect();
                let nth = (ages.len() / 10).max(1) - 1;
                let (_, cutoff, _) = ages.select_nth_unstable(nth);
                let cutoff = *cutoff;
                self.map.retain(|_, v| age(v) > cutoff);
            }
        }
        self.map.entry(key).or_insert_with(new)
    }

    fn get(&self, key: &K) -> Option<&V> {
        self.map.get(key)
    }

    fn len(&self) -> usize {
        self.map.len()
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// What identifies a presented token in the limiter: the first 8 bytes of its SHA-256.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TokenKey([u8; 8]);

impl TokenKey {
    /// The key of `token`.
    pub fn of(token: &str) -> TokenKey {
        let digest = Sha256::digest(token.as_bytes());
        let mut key = [0u8; 8];
        key.copy_from_slice(&digest[..8]);
        TokenKey(key)
    }
}

/// The key an address is counted under: itself for IPv4, its /64 for IPv6.
pub fn address_key(ip: IpAddr) -> IpAddr {
    match ip.to_canonical() {
        IpAddr::V6(v6) => IpAddr::V6((u128::from(v6) & (u128::MAX << 64)).into()),
        v4 => v4,
    }
}

/// What a limited request was limited by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Limited {
    /// Its client address failed too often.
    Address,
    /// Its token failed too often.
    Token,
}

#[derive(Debug, Clone, Copy)]
struct Window {
    started: Instant,
    failures: u32,
}

/// Failed-authentication counters per client address and per presented token.
#[derive(Debug)]
pub struct AuthLimiter {
    config: LimitConfig,
    addresses: Mutex<Tracked<IpAddr, Window>>,
    tokens: Mutex<Tracked<TokenKey, Window>>,
}

impl AuthLimiter {
    /// A limiter with `config`.
    pub fn new(config: LimitConfig) -> AuthLimiter {
        AuthLimiter {
            config,
            addresses: Mutex::new(Tracked::new(MAX_TRACKED)),
            tokens: Mutex::new(Tracked::new(MAX_TRACKED)),
        }
    }

    /// `Some((by what, time to wait))` when a request from `ip` presenting `token` is limited
    /// at `now` (the longer wait when both are).
    pub fn blocked_at(
        &self,
        ip: IpAddr,
        token: Option<TokenKey>,
        now: Instant,
    ) -> Option<(Limited, Duration)> {
        let window = self.config.window;
        let wait = |w: Option<&Window>, max: u32| {
            let w = w?;
            let ends = w.started + window;
            (w.failures >= max && now < ends).then(|| ends - now)
        };
        let by_address = wait(
            lock(&self.addresses).get(&address_key(ip)),
            self.config.max_failures,
        )
        .map(|d| (Limited::Address, d));
        let by_token = token
            .and_then(|t| wait(lock(&self.tokens).get(&t), self.config.max_token_failures))
            .map(|d| (Limited::Token, d));
        match (by_address, by_token) {
            (Some(a), Some(t)) => Some(if t.1 > a.1 { t } else { a }),
            (a, t) => a.or(t),
        }
    }

    /// Counts one failure of `ip` (and of `token`, if one was presented) at `now`.
    pub fn fail_at(&self, ip: IpAddr, token: Option<TokenKey>, now: Instant) {
        fail(&self.addresses, address_key(ip), self.config.window, now);
        if let Some(token) = token {
            fail(&self.tokens, token, self.config.window, now);
        }
    }

    /// How many addresses and tokens are tracked now.
    pub fn tracked(&self) -> (usize, usize) {
        (lock(&self.addresses).len(), lock(&self.tokens).len())
    }
}

fn fail<K: Hash + Eq + Clone>(
    map: &Mutex<Tracked<K, Window>>,
    key: K,
    window: Duration,
    now: Instant,
) {
    let mut map = lock(map);
    let w = map.entry(
        key,
        |w| now.saturating_duration_since(w.started) >= window,
        |w| w.started,
        || Window {
            started: now,
            failures: 0,
        },
    );
    if now.saturating_duration_since(w.started) >= window {
        *w = Window {
            started: now,
            failures: 0,
        };
    }
    w.failures = w.failures.saturating_add(1);
}

/// Whole seconds to announce in `Retry-After` (at least 1).
pub fn retry_after_secs(wait: Duration) -> u64 {
    (wait.as_millis().div_ceil(1000) as u64).max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limiter() -> AuthLimiter {
        AuthLimiter::new(LimitConfig {
            max_failures: 3,
            max_token_failures: 2,
            window: Duration::from_secs(60),
        })
    }

    #[test]
    fn an_address_is_limited_after_its_failures_until_the_window_ends() {
        let l = limiter();
        let ip: IpAddr = [10, 0, 0, 7].into();
        let other: IpAddr = [10, 0, 0, 8].into();
        let t0 = Instant::now();
        for i in 0..3 {
            assert_eq!(
                l.blocked_at(ip, None, t0),
                None,
                "failure {i} still allowed"
            );
            let token = TokenKey::of(&format!("guess {i}"));
            l.fail_at(ip, Some(token), t0 + Duration::from_secs(i));
        }
        let wait = l.blocked_at(ip, None, t0 + Duration::from_secs(10));
        assert_eq!(wait, Some((Limited::Address, Duration::from_secs(50))));
        assert_eq!(
            l.blocked_at(other, None, t0),
            None,
            "other addresses unaffected"
        );
        assert_eq!(
            l.blocked_at(ip, None, t0 + Duration::from_secs(60)),
            None,
            "window over"
        );
        // A new window starts counting from zero.
        l.fail_at(ip, None, t0 + Duration::from_secs(61));
        assert_eq!(l.blocked_at(ip, None, t0 + Duration::from_secs(62)), None);
    }

    #[test]
    fn a_token_is_limited_on_its_own() {
        let l = limiter();
        let t0 = Instant::now();
        let stale = TokenKey::of("stale token");
        let fresh = TokenKey::of("another token");
        let a: IpAddr = [10, 0, 0, 7].into();
        let b: IpAddr = [10, 0, 0, 8].into();
        l.fail_at(a, Some(stale), t0);
        l.fail_at(b, Some(stale), t0);
        // Neither address is limited, the token is, wherever it comes from.
        assert_eq!(l.blocked_at(a, None, t0), None);
        assert_eq!(l.blocked_at(a, Some(fresh), t0), None);
        let (by, _) = l
            .blocked_at([10, 9, 9, 9].into(), Some(stale), t0)
            .unwrap_or_else(|| panic!("token not limited"));
        assert_eq!(by, Limited::Token);
        assert_ne!(
            TokenKey::of("stale token "),
            stale,
            "any change is another key"
        );
    }

    #[test]
    fn ipv6_addresses_count_per_64() {
        let l = limiter();
        let t0 = Instant::now();
        for i in 0..3u16 {
            let ip: IpAddr = format!("2001:db8:1:2::{i:x}")
                .parse()
                .unwrap_or_else(|e| panic!("{e}"));
            l.fail_at(ip, None, t0);
        }
        let same: IpAddr = "2001:db8:1:2:ffff::1"
            .parse()
            .unwrap_or_else(|e| panic!("{e}"));
        let next: IpAddr = "2001:db8:1:3::1".parse().unwrap_or_else(|e| panic!("{e}"));
        assert!(l.blocked_at(same, None, t0).is_some());
        assert_eq!(l.blocked_at(next, None, t0), None);
        let mapped: IpAddr = "::ffff:10.0.0.1".parse().unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(address_key(mapped), IpAddr::from([10, 0, 0, 1]));
    }

    #[test]
    fn tracking_is_bounded_and_keeps_the_newest() {
        let mut t: Tracked<u32, Instant> = Tracked::new(100);
        let t0 = Instant::now();
        for i in 0..1000u32 {
            let at = t0 + Duration::from_millis(u64::from(i));
            t.entry(i, |_| false, |v| *v, || at);
            assert!(t.len() <= 100, "{} at {i}", t.len());
        }
        assert!(t.get(&999).is_some(), "the newest stays");
        assert!(t.get(&0).is_none(), "the oldest went");
        // Stale entries go before live ones.
        let mut t: Tracked<u32, (bool, Instant)> = Tracked::new(10);
        for i in 0..10u32 {
            t.entry(i, |v| v.0, |v| v.1, || (i % 2 == 0, t0));
        }
        t.entry(10, |v| v.0, |v| v.1, || (false, t0));
        assert_eq!(t.len(), 6, "the five stale entries went, nothing else");
    }

    #[test]
    fn retry_after_rounds_up_to_whole_seconds() {
        assert_eq!(retry_after_secs(Duration::from_millis(1)), 1);
        assert_eq!(retry_after_secs(Duration::from_millis(1500)), 2);
        assert_eq!(retry_after_secs(Duration::from_secs(50)), 50);
    }
}
