//! Requests per device: a token bucket per authenticated device. A device may send
//! [`DeviceRate::burst`] requests at once, then [`DeviceRate::per_minute`] a minute; past that
//! it is answered `429 too_many_requests` with `Retry-After` (the seconds until its next
//! request is allowed), which the device client waits out.
//!
//! The default (600 a minute, bursts of 600) is far above what a sync needs (a bootstrap of
//! 100,000 records is about 200 pages; a 32 MiB file 32 chunks): it stops a broken or hostile
//! app from looping, not a rep from working. Buckets are kept for at most
//! [`super::MAX_TRACKED`] devices; a bucket that has filled up again is the same as none and
//! goes first, then the least recently used (which at worst gives that device a full burst).

use super::{lock, Tracked, MAX_TRACKED};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How many requests a device may make.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeviceRate {
    /// Requests a minute, sustained (at least 1).
    pub per_minute: u32,
    /// Requests at once, after a quiet spell (at least 1).
    pub burst: u32,
}

impl Default for DeviceRate {
    fn default() -> Self {
        DeviceRate {
            per_minute: 600,
            burst: 600,
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    /// Requests allowed now, as of `last`.
    tokens: f64,
    /// When `tokens` was last brought up to date.
    last: Instant,
}

/// The buckets of every device seen lately.
#[derive(Debug)]
pub struct DeviceLimiter {
    per_second: f64,
    burst: f64,
    buckets: Mutex<Tracked<String, Bucket>>,
}

impl DeviceLimiter {
    /// A limiter allowing `rate`.
    pub fn new(rate: DeviceRate) -> Self {
        Self {
            per_second: f64::from(rate.per_minute.max(1)) / 60.0,
            burst: f64::from(rate.burst.max(1)),
            buckets: Mutex::new(Tracked::new(MAX_TRACKED)),
        }
    }

    /// Takes one request of `device` at `now`: `Err(time until the next is allowed)` when it
    /// has none left.
    pub fn take_at(&self, device: &str, now: Instant) -> Result<(), Duration> {
        let (per_second, burst) = (self.per_second, self.burst);
        let mut buckets = lock(&self.buckets);
        let bucket = buckets.entry(
            device.to_string(),
            |b| refilled(b, now, per_second, burst) >= burst,
            |b| b.last,
            || Bucket {
                tokens: burst,
                last: now,
            },
        );
        bucket.tokens = refilled(bucket, now, per_second, burst);
        bucket.last = bucket.last.max(now);
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64((1.0 - bucket.tokens) / per_second))
        }
    }

    /// How many devices are tracked now.
    pub fn tracked(&self) -> usize {
        lock(&self.buckets).len()
    }
}

/// The tokens of `b` at `now`.
fn refilled(b: &Bucket, now: Instant, per_second: f64, burst: f64) -> f64 {
    let elapsed = now.saturating_duration_since(b.last).as_secs_f64();
    (b.tokens + elapsed * per_second).min(burst)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_then_the_rate() {
        let l = DeviceLimiter::new(DeviceRate {
            per_minute: 60,
            burst: 3,
        });
        let t0 = Instant::now();
        for i in 0..3 {
            assert_eq!(l.take_at("d1", t0), Ok(()), "request {i} of the burst");
        }
        let wait = l.take_at("d1", t0).err().unwrap_or_default();
        assert!(
            wait > Duration::from_millis(990) && wait <= Duration::from_secs(1),
            "{wait:?}"
        );
        assert_eq!(
            l.take_at("d2", t0),
            Ok(()),
            "another device has its own bucket"
        );
        // One a second.
        assert_eq!(l.take_at("d1", t0 + Duration::from_secs(1)), Ok(()));
        assert!(l.take_at("d1", t0 + Duration::from_millis(1500)).is_err());
        // A quiet spell fills the bucket, never past the burst.
        let later = t0 + Duration::from_secs(600);
        for _ in 0..3 {
            assert_eq!(l.take_at("d1", later), Ok(()));
        }
        assert!(l.take_at("d1", later).is_err());
    }
}
