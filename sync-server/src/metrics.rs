//! Prometheus metrics, kept with atomics and rendered as text by `GET /metrics`.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

/// Upper bounds (seconds) of the sync latency histogram's buckets.
pub const SYNC_BUCKETS: [f64; 12] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0,
];

/// The server's counters.
#[derive(Debug, Default)]
pub struct Metrics {
    requests: Mutex<BTreeMap<(&'static str, u16), u64>>,
    changes_applied: AtomicU64,
    bytes_in: AtomicU64,
    bytes_out: AtomicU64,
    sync_buckets: [AtomicU64; SYNC_BUCKETS.len()],
    sync_sum_micros: AtomicU64,
    sync_count: AtomicU64,
    rate_limited: [AtomicU64; RATE_LIMIT_REASONS.len()],
}

/// Why a request was answered `429`: the `reason` label of `outpost_rate_limited_total`.
pub const RATE_LIMIT_REASONS: [&str; 3] = ["auth_address", "auth_token", "device"];

impl Metrics {
    /// Counts one answered request.
    pub fn request(&self, route: &'static str, status: u16) {
        if let Ok(mut map) = self.requests.lock() {
            *map.entry((route, status)).or_insert(0) += 1;
        }
    }

    /// Counts changes appended to the log.
    pub fn changes_applied(&self, n: u64) {
        self.changes_applied.fetch_add(n, Ordering::Relaxed);
    }

    /// Counts request body bytes read.
    pub fn bytes_in(&self, n: u64) {
        self.bytes_in.fetch_add(n, Ordering::Relaxed);
    }

    /// Counts response body bytes sent.
    pub fn bytes_out(&self, n: u64) {
        self.bytes_out.fetch_add(n, Ordering::Relaxed);
    }

    /// Counts one request answered `429` for `reason` (one of [`RATE_LIMIT_REASONS`]).
    pub fn rate_limited(&self, reason: &str) {
        if let Some(i) = RATE_LIMIT_REASONS.iter().position(|r| *r == reason) {
            self.rate_limited[i].fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Records how long one sync took.
    pub fn sync_duration(&self, d: Duration) {
        let secs = d.as_secs_f64();
        for (bound, counter) in SYNC_BUCKETS.iter().zip(&self.sync_buckets) {
            if secs <= *bound {
                counter.fetch_add(1, Ordering::Relaxed);
            }
        }
        let micros = u64::try_from(d.as_micros()).unwrap_or(u64::MAX);
        self.sync_sum_micros.fetch_add(micros, Ordering::Relaxed);
        self.sync_count.fetch_add(1, Ordering::Relaxed);
    }

    /// Renders everything in the Prometheus text format; `active_devices` comes from storage.
    pub fn render(&self, active_devices: u64) -> String {
        let mut out = String::with_capacity(2048);
        out.push_str(
            "# HELP outpost_http_requests_total HTTP requests answered, by route and status.\n",
        );
        out.push_str("# TYPE outpost_http_requests_total counter\n");
        if let Ok(map) = self.requests.lock() {
            for ((route, status), n) in map.iter() {
                let _ = writeln!(
                    out,
                    "outpost_http_requests_total{{route=\"{route}\",status=\"{status}\"}} {n}"
                );
            }
        }
        let counters = [
            (
                "outpost_changes_applied_total",
                "Changes appended to the change log.",
                &self.changes_applied,
            ),
            (
                "outpost_bytes_in_total",
                "Request body bytes read.",
                &self.bytes_in,
            ),
            (
                "outpost_bytes_out_total",
                "Response body bytes sent.",
                &self.bytes_out,
            ),
        ];
        for (name, help, value) in counters {
            let _ = writeln!(out, "# HELP {name} {help}");
            let _ = writeln!(out, "# TYPE {name} counter");
            let _ = writeln!(out, "{name} {}", value.load(Ordering::Relaxed));
        }
        out.push_str(
            "# HELP outpost_rate_limited_total Requests answered 429, by limit: auth_address \
             (failed authentications of the client address), auth_token (of the presented \
             token), device (the device's request rate).\n",
        );
        out.push_str("# TYPE outpost_rate_limited_total counter\n");
        for (reason, counter) in RATE_LIMIT_REASONS.iter().zip(&self.rate_limited) {
            let _ = writeln!(
                out,
                "outpost_rate_limited_total{{reason=\"{reason}\"}} {}",
                counter.load(Ordering::Relaxed)
            );
        }
        out.push_str(
            "# HELP outpost_active_devices Devices not revoked that synced in the last 24 hours.\n",
        );
        out.push_str("# TYPE outpost_active_devices gauge\n");
        let _ = writeln!(out, "outpost_active_devices {active_devices}");
        out.push_str("# HELP outpost_sync_duration_seconds Time to answer POST /v1/sync.\n");
        out.push_str("# TYPE outpost_sync_duration_seconds histogram\n");
        for (bound, counter) in SYNC_BUCKETS.iter().zip(&self.sync_buckets) {
            let _ = writeln!(
                out,
                "outpost_sync_duration_seconds_bucket{{le=\"{bound}\"}} {}",
                counter.load(Ordering::Relaxed)
            );
        }
        let count = self.sync_count.load(Ordering::Relaxed);
        let _ = writeln!(
            out,
            "outpost_sync_duration_seconds_bucket{{le=\"+Inf\"}} {count}"
        );
        let sum = self.sync_sum_micros.load(Ordering::Relaxed) as f64 / 1e6;
        let _ = writeln!(out, "outpost_sync_duration_seconds_sum {sum}");
        let _ = writeln!(out, "outpost_sync_duration_seconds_count {count}");
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_buckets_are_cumulative() {
        let m = Metrics::default();
        m.sync_duration(Duration::from_millis(3));
        m.sync_duration(Duration::from_secs(20));
        m.request("/v1/sync", 200);
        let text = m.render(2);
        assert!(text.contains("outpost_sync_duration_seconds_bucket{le=\"0.0025\"} 0"));
        assert!(text.contains("outpost_sync_duration_seconds_bucket{le=\"0.005\"} 1"));
        assert!(text.contains("outpost_sync_duration_seconds_bucket{le=\"10\"} 1"));
        assert!(text.contains("outpost_sync_duration_seconds_bucket{le=\"+Inf\"} 2"));
        assert!(text.contains("outpost_sync_duration_seconds_count 2"));
        assert!(text.contains("outpost_http_requests_total{route=\"/v1/sync\",status=\"200\"} 1"));
        assert!(text.contains("outpost_active_devices 2"));
        assert!(text.contains("outpost_rate_limited_total{reason=\"device\"} 0"));
        m.rate_limited("device");
        m.rate_limited("no such reason");
        let text = m.render(2);
        assert!(text.contains("outpost_rate_limited_total{reason=\"device\"} 1"));
        assert!(text.contains("outpost_rate_limited_total{reason=\"auth_token\"} 0"));
    }
}
