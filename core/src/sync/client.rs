//! The device's sync client: HTTP (reqwest + rustls) with retries, and the sync loop that runs
//! bootstrap, then push+pull rounds until nothing is left. The store is locked only between
//! network calls, never across them.
//!
//! When a sync answer carries a scope epoch other than the one the store last reconciled at,
//! the loop ends with a reconcile: `POST /v1/scope` pages list every record the user may read;
//! local records not listed are purged (never one with anything in the outbox), listed ones
//! the device lacks are fetched with `POST /v1/records`, and the first page's epoch is kept.

use super::protocol::{
    decode, encode, BootstrapRequest, BootstrapResponse, ClientReport, EnrollRequest,
    EnrollResponse, ErrorBody, ExperienceAck, ExperienceBatch, RecordsRequest, RecordsResponse,
    ScopeRequest, ScopeResponse, SyncRequest, SyncResponse, CONTENT_TYPE, DEFAULT_PAGE,
    LATEST_PROTOCOL_VERSION, PROTOCOL_VERSION,
};
use crate::error::{Error, Result};
use crate::record::Actor;
use crate::store::{lock, PreparedPage, Store};
use serde::{Deserialize, Serialize};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// How a sync behaves on a bad network.
#[derive(Debug, Clone)]
pub struct SyncOptions {
    /// Attempts per request before giving up with a network error (at least 1).
    pub attempts: u32,
    /// First backoff delay; doubled after each failed attempt. Each wait is jittered (between
    /// half of it and all of it), so that devices failing together do not retry together.
    pub backoff: Duration,
    /// The most one sync waits, in all, because the server asked it to (`Retry-After` on a
    /// `429` or `503`); a server that asks for longer fails the sync at once with an error
    /// saying when to sync again.
    pub max_retry_wait: Duration,
    /// Time limit for one request.
    pub timeout: Duration,
    /// Changes per push.
    pub batch: usize,
    /// Log entries (and documents) per page.
    pub page: u32,
    /// The app's version, reported to the server at each sync (`outpost-server device list`);
    /// `None` reports this library's (`outpost-core/<version>`).
    pub app_version: Option<String>,
    /// How often the experience metrics ride after a sync (`POST /v1/metrics`): at a device's
    /// first sync, after a sync that changed the records created or acknowledged, and otherwise
    /// when this long has passed since the last batch or
    /// [`crate::store::experience::EXPERIENCE_DUE_EVENTS`] events wait. Zero sends them after
    /// every sync.
    pub metrics_every: Duration,
    /// Who vouches for an HTTPS server's certificate: the Mozilla roots bundled in this library
    /// and these CA certificates (PEM, one or more per string): a company's private CA.
    pub trusted_ca_pem: Vec<String>,
    /// Verify HTTPS servers with the platform's verifier instead (Android's or Apple's trust
    /// store, with the CAs a device-management profile installed), `trusted_ca_pem` added where
    /// the platform allows. On Android the app must first initialise rustls-platform-verifier
    /// through JNI (bindings/README.md, "HTTPS"); without that the first HTTPS request fails.
    pub platform_verifier: bool,
    /// Told how far the sync has come: after every bootstrap page, uploaded file and
    /// push/pull round, outside the store lock (it may read the store).
    pub progress: Option<ProgressSink>,
}

/// What a sync is doing ([`SyncProgress::phase`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ffi", derive(uniffi::Enum))]
#[serde(rename_all = "lowercase")]
pub enum SyncPhase {
    /// A new device downloading every record it may read, page by page.
    Bootstrap,
    /// Uploading the files (photos, scans) records name.
    Upload,
    /// Sending the changes waiting in the outbox (and receiving others' in the same rounds).
    Push,
    /// Receiving the changes others made.
    Pull,
}

/// How far a sync has come in its phase.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncProgress {
    /// What it is doing.
    pub phase: SyncPhase,
    /// Records stored (bootstrap, pull), files uploaded (upload), changes acknowledged (push).
    pub done: u64,
    /// What `done` counts up to, where known: files to upload, changes in the outbox when the
    /// sync started. A bootstrap's and a pull's size are not known ahead.
    pub total: Option<u64>,
}

/// Where [`SyncOptions::progress`] goes.
#[derive(Clone)]
pub struct ProgressSink(pub Arc<dyn Fn(SyncProgress) + Send + Sync>);

impl std::fmt::Debug for ProgressSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ProgressSink")
    }
}

impl SyncOptions {
    fn tell(&self, phase: SyncPhase, done: u64, total: Option<u64>) {
        if let Some(sink) = &self.progress {
            (sink.0)(SyncProgress { phase, done, total });
        }
    }
}

impl Default for SyncOptions {
    fn default() -> Self {
        SyncOptions {
            attempts: 4,
            backoff: Duration::from_millis(250),
            max_retry_wait: Duration::from_secs(60),
            timeout: Duration::from_secs(60),
            batch: 500,
            page: DEFAULT_PAGE,
            app_version: None,
            metrics_every: Duration::from_secs(10 * 60),
            trusted_ca_pem: Vec::new(),
            platform_verifier: false,
            progress: None,
        }
    }
}

/// The CA certificates in `pem` strings (each one or more `-----BEGIN CERTIFICATE-----`
/// blocks), or a validation error naming the string that holds none or a broken one.
pub fn trusted_certificates(pem: &[String]) -> Result<Vec<reqwest::Certificate>> {
    let mut certs = Vec::new();
    for (i, text) in pem.iter().enumerate() {
        let field = format!("trusted_ca_pem[{i}]");
        let shown: String = text.chars().take(60).collect();
        let parsed = reqwest::Certificate::from_pem_bundle(text.as_bytes()).map_err(|e| {
            Error::validation(&field, &shown, format!("not a PEM certificate: {e}"))
        })?;
        if parsed.is_empty() {
            return Err(Error::validation(
                &field,
                &shown,
                "holds no -----BEGIN CERTIFICATE----- block",
            ));
        }
        certs.extend(parsed);
    }
    Ok(certs)
}

/// The Mozilla root certificates this library carries (webpki-root-certs), read once.
fn bundled_roots() -> &'static [reqwest::Certificate] {
    static ROOTS: std::sync::OnceLock<Vec<reqwest::Certificate>> = std::sync::OnceLock::new();
    ROOTS.get_or_init(|| {
        webpki_root_certs::TLS_SERVER_ROOT_CERTS
            .iter()
            .filter_map(|der| reqwest::Certificate::from_der(der.as_ref()).ok())
            .collect()
    })
}

/// The TLS failure under a request error, if the request failed in the handshake: the
/// certificate refused, or no protocol both ends speak.
fn tls_failure(error: &(dyn std::error::Error + 'static)) -> Option<String> {
    let mut current = Some(error);
    while let Some(e) = current {
        if let Some(tls) = e.downcast_ref::<rustls::Error>() {
            return Some(tls.to_string());
        }
        // An io::Error's source() is the source of the error it wraps, skipping that error
        // (rustls's, under tokio-rustls's io::Error under the connector's): step into it.
        current = match e
            .downcast_ref::<std::io::Error>()
            .and_then(|io| io.get_ref())
        {
            Some(inner) => Some(inner as &(dyn std::error::Error + 'static)),
            None => e.source(),
        };
    }
    None
}

/// How a sync ended, as the sync report's JSON spells it ([`SyncStatus::as_str`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SyncStatus {
    /// Every local change sent was accepted.
    #[default]
    Ok,
    /// The server refused some changes; each was undone on this device (see
    /// [`SyncReport::rejections`]).
    Partial,
}

impl SyncStatus {
    /// `ok` or `partial`.
    pub fn as_str(&self) -> &'static str {
        match self {
            SyncStatus::Ok => "ok",
            SyncStatus::Partial => "partial",
        }
    }
}

impl std::fmt::Display for SyncStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a sync did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncReport {
    /// Local changes the server acknowledged.
    pub pushed: u64,
    /// Changes and documents received.
    pub pulled: u64,
    /// The server log position now applied.
    pub cursor: u64,
    /// Records received in this sync that have conflicting field values.
    pub conflicts: u64,
    /// Local changes the server refused; each was undone on this device (see `rejections` and
    /// `outpost status`).
    pub rejected: u64,
    /// Why each refused change was refused and what was undone (also in `status().rejected`).
    #[serde(default)]
    pub rejections: Vec<crate::RejectedChange>,
    /// [`SyncStatus::Ok`], or [`SyncStatus::Partial`] when some changes were refused.
    pub status: SyncStatus,
    /// Round trips made.
    pub round_trips: u64,
    /// Request bytes sent and response bytes received (bodies).
    pub bytes_sent: u64,
    /// Response bytes received (bodies).
    pub bytes_received: u64,
    /// Attachment files whose upload finished in this sync.
    #[serde(default)]
    pub blobs_uploaded: u64,
    /// Experience events (see [`crate::store::experience`]) the server took in this sync.
    #[serde(default)]
    pub metrics_sent: u64,
    /// Records removed because the user may no longer read them (the scope changed).
    #[serde(default)]
    pub purged: u64,
    /// Records downloaded because they entered the user's scope.
    #[serde(default)]
    pub fetched: u64,
    /// Local changes the server could not apply yet: they depend on changes of another device
    /// that the server lost in a restore. They stay queued and go again at the next sync.
    #[serde(default)]
    pub deferred: u64,
    /// The server's log was replaced (restored from a backup): this device sent again every
    /// change it made and downloaded the server's records anew.
    #[serde(default)]
    pub log_reset: bool,
    /// Answers `429` or `503` with `Retry-After` that this sync waited out before retrying.
    #[serde(default)]
    pub throttled: u64,
    /// Milliseconds this sync waited because the server asked it to (`Retry-After`, plus
    /// jitter).
    #[serde(default)]
    pub throttled_ms: u64,
}

/// How many times one sync starts again because the server's log was replaced; a server
/// restored yet again meanwhile is handled by the next sync.
const MAX_LOG_RESETS: usize = 2;

/// Record ids per `POST /v1/records` request.
pub const FETCH_BATCH: usize = 1_000;

/// The longest record id accepted from a scope listing (UUIDs and restricted field ids are far
/// shorter); longer ones are ignored.
const MAX_ID_CHARS: usize = 200;

/// A server's answer to one request, with the body sizes both ways (for the sync report).
#[derive(Debug, Clone, PartialEq)]
pub struct Answer<T> {
    /// The decoded answer.
    pub response: T,
    /// Request body bytes sent.
    pub sent: u64,
    /// Response body bytes received.
    pub received: u64,
}

/// The longest `Retry-After` header read; longer ones are ignored (plain backoff).
const MAX_RETRY_AFTER_CHARS: usize = 64;

/// An HTTP client for one server and device token. What the server asked it to wait
/// (`Retry-After`) counts against [`SyncOptions::max_retry_wait`] for the client's whole life:
/// [`sync_store`] makes one per sync.
pub struct SyncClient {
    http: reqwest::Client,
    base: String,
    token: String,
    options: SyncOptions,
    throttled: std::sync::atomic::AtomicU64,
    throttled_ms: std::sync::atomic::AtomicU64,
    /// The version sync requests are written in: [`LATEST_PROTOCOL_VERSION`] until a server
    /// answers `unsupported_version` (an older server), then 1.
    sync_version: std::sync::atomic::AtomicU32,
}

/// The error of a `429`/`503` that asks to wait longer than the sync may: says when to sync
/// again.
fn too_long_to_wait(
    status: u16,
    code: String,
    message: &str,
    after: Duration,
    left: Duration,
    options: &SyncOptions,
) -> Error {
    let secs = after
        .as_secs()
        .saturating_add(u64::from(after.subsec_nanos() > 0));
    let when = i64::try_from(secs)
        .ok()
        .and_then(chrono::TimeDelta::try_seconds)
        .and_then(|d| chrono::Utc::now().checked_add_signed(d))
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
        .unwrap_or_else(|| "a very long time".into());
    Error::Server {
        status,
        code,
        message: format!(
            "{message}; the server asks to retry in {secs} s, longer than one sync waits \
             ({} s left of {} s): sync again after {when}",
            left.as_secs(),
            options.max_retry_wait.as_secs()
        ),
    }
}

/// A random fraction in `[0, 1)` (for jitter; not for secrets).
fn random_fraction() -> f64 {
    (uuid::Uuid::new_v4().as_u128() >> 75) as f64 / (1u64 << 53) as f64
}

/// `delay` jittered: between half of it and all of it.
fn jittered(delay: Duration) -> Duration {
    delay / 2 + delay.mul_f64(random_fraction() / 2.0)
}

/// The wait a `Retry-After` header asks for: delay-seconds or an HTTP date. `None` when absent
/// or unreadable.
fn retry_after(headers: &reqwest::header::HeaderMap) -> Option<Duration> {
    let value = headers
        .get(reqwest::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim();
    if value.is_empty() || value.len() > MAX_RETRY_AFTER_CHARS {
        return None;
    }
    if value.bytes().all(|b| b.is_ascii_digit()) {
        // Bigger than any wait we would do anyway: saturate rather than fail to parse.
        return Some(Duration::from_secs(
            value.parse::<u64>().unwrap_or(u64::MAX),
        ));
    }
    let at = chrono::DateTime::parse_from_rfc2822(value).ok()?;
    let ms = at.timestamp_millis() - chrono::Utc::now().timestamp_millis();
    Some(Duration::from_millis(u64::try_from(ms).unwrap_or(0)))
}

fn network(e: impl std::fmt::Display) -> Error {
    Error::Network {
        message: e.to_string(),
    }
}

impl SyncClient {
    /// A client for `base` (e.g. `http://127.0.0.1:8737`) with the device's bearer token.
    pub fn new(base: &str, token: &str, options: SyncOptions) -> Result<SyncClient> {
        // reqwest is built without a bundled crypto provider; ours is ring.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let extra = trusted_certificates(&options.trusted_ca_pem)?;
        let builder = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .timeout(options.timeout)
            .user_agent(concat!("outpost/", env!("CARGO_PKG_VERSION")));
        // Unless asked for, never reqwest's default, the platform verifier: on Android it
        // panics until the app has initialised it through JNI.
        let builder = if options.platform_verifier {
            builder.tls_certs_merge(extra)
        } else {
            builder.tls_certs_only(bundled_roots().iter().cloned().chain(extra))
        };
        let http = builder.build().map_err(network)?;
        Ok(SyncClient {
            http,
            base: base.trim_end_matches('/').to_string(),
            token: token.to_string(),
            options,
            throttled: Default::default(),
            throttled_ms: Default::default(),
            sync_version: LATEST_PROTOCOL_VERSION.into(),
        })
    }

    /// Answers `429`/`503` this client waited out as the server asked, and the milliseconds it
    /// waited for them.
    pub fn throttled(&self) -> (u64, u64) {
        use std::sync::atomic::Ordering::Relaxed;
        (
            self.throttled.load(Relaxed),
            self.throttled_ms.load(Relaxed),
        )
    }

    /// POSTs a CBOR body, retrying network failures and 5xx/429 answers (see [`Self::send`]).
    async fn post(&self, path: &str, body: Vec<u8>) -> Result<Vec<u8>> {
        self.send(reqwest::Method::POST, path, Some((CONTENT_TYPE, body)), &[])
            .await
    }

    /// Sends a request, retrying network failures and 5xx/429 answers with jittered exponential
    /// backoff; a `429` or `503` with `Retry-After` is retried after the time it asks (plus up
    /// to one backoff of jitter), unless that is more than what is left of
    /// [`SyncOptions::max_retry_wait`]: then it fails at once saying when to sync again. Any
    /// other failure is an error at once.
    async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<(&str, Vec<u8>)>,
        headers: &[(&str, String)],
    ) -> Result<Vec<u8>> {
        let url = format!("{}{path}", self.base);
        let mut delay = self.options.backoff;
        let mut last = Error::Network {
            message: "no attempt made".into(),
        };
        // What the server's last answer asked us to wait.
        let mut asked: Option<Duration> = None;
        for attempt in 0..self.options.attempts.max(1) {
            if attempt > 0 {
                match asked.take() {
                    Some(after) => {
                        let wait =
                            after.saturating_add(self.options.backoff.mul_f64(random_fraction()));
                        tokio::time::sleep(wait).await;
                        use std::sync::atomic::Ordering::Relaxed;
                        self.throttled.fetch_add(1, Relaxed);
                        let ms = u64::try_from(wait.as_millis()).unwrap_or(u64::MAX);
                        self.throttled_ms.fetch_add(ms, Relaxed);
                    }
                    None => {
                        tokio::time::sleep(jittered(delay)).await;
                        delay = delay.saturating_mul(2);
                    }
                }
            }
            let mut request = self.http.request(method.clone(), &url);
            if !self.token.is_empty() {
                request = request.bearer_auth(&self.token);
            }
            for (name, value) in headers {
                request = request.header(*name, value.as_str());
            }
            if let Some((content_type, body)) = &body {
                request = request
                    .header(reqwest::header::CONTENT_TYPE, *content_type)
                    .body(body.clone());
            }
            let sent = request.send().await;
            let response = match sent {
                Ok(r) => r,
                Err(e) => {
                    if let Some(tls) = tls_failure(&e) {
                        // Trying again meets the same certificate.
                        return Err(network(format!(
                            "{url}: TLS handshake failed: {tls}. A server whose certificate a \
                             company CA issued needs that CA among the trusted CA certificates \
                             (trustedCaPem in the app's StoreOptions, --ca-cert for the CLI)"
                        )));
                    }
                    last = network(format!("{url}: {e}"));
                    continue;
                }
            };
            let status = response.status();
            let wait_asked = retry_after(response.headers());
            let bytes = match response.bytes().await {
                Ok(b) => b.to_vec(),
                Err(e) => {
                    last = network(format!(
                        "{url}: connection broke while reading the answer: {e}"
                    ));
                    continue;
                }
            };
            if status.is_success() {
                return Ok(bytes);
            }
            let body: Option<ErrorBody> = serde_json::from_slice(&bytes).ok();
            let (code, message) = body.map(|b| (b.error, b.message)).unwrap_or_else(|| {
                (
                    "http".to_string(),
                    String::from_utf8_lossy(&bytes).chars().take(200).collect(),
                )
            });
            if let (s @ (429 | 503), Some(after)) = (status.as_u16(), wait_asked) {
                let waited = Duration::from_millis(self.throttled().1);
                let left = self.options.max_retry_wait.saturating_sub(waited);
                if after > left {
                    return Err(too_long_to_wait(
                        s,
                        code,
                        &message,
                        after,
                        left,
                        &self.options,
                    ));
                }
                asked = Some(after);
                last = Error::Server {
                    status: s,
                    code,
                    message,
                };
                continue;
            }
            let error = match status.as_u16() {
                401 if code == "device_revoked" => {
                    return Err(Error::Auth {
                        message: "device revoked".into(),
                        revoked: true,
                    })
                }
                401 if self.token.is_empty() => {
                    return Err(Error::Auth {
                        message,
                        revoked: false,
                    })
                }
                401 => {
                    return Err(Error::Auth {
                        message: format!("the server refused this device's token: {message}"),
                        revoked: false,
                    })
                }
                s @ (429 | 500..=599) => Error::Server {
                    status: s,
                    code,
                    message,
                },
                s => {
                    return Err(Error::Server {
                        status: s,
                        code,
                        message,
                    })
                }
            };
            last = error;
        }
        Err(match last {
            Error::Server {
                status,
                code,
                message,
            } => Error::Network {
                message: format!("server kept failing ({status} {code}): {message}"),
            },
            other => other,
        })
    }

    /// `POST /v1/metrics`: sends experience events; the answer says up to which one the server
    /// holds them.
    pub async fn send_experience(&self, batch: &ExperienceBatch) -> Result<ExperienceAck> {
        let bytes = self.post("/v1/metrics", encode(batch)).await?;
        decode("metrics answer", &bytes).map_err(bad_response)
    }

    /// One push+pull round trip.
    pub async fn sync(&self, request: &SyncRequest) -> Result<Answer<SyncResponse>> {
        use std::sync::atomic::Ordering::Relaxed;
        let version = self.sync_version.load(Relaxed);
        let body = request.encode_as(version);
        let mut sent = body.len() as u64;
        let bytes = match self.post("/v1/sync", body).await {
            Err(Error::Server {
                status: 400, code, ..
            }) if code == "unsupported_version" && version > PROTOCOL_VERSION => {
                // A server older than this build: it reads version 1 only.
                self.sync_version.store(PROTOCOL_VERSION, Relaxed);
                let body = request.encode_as(PROTOCOL_VERSION);
                sent += body.len() as u64;
                self.post("/v1/sync", body).await?
            }
            other => other?,
        };
        let received = bytes.len() as u64;
        let response: SyncResponse =
            decode("sync response", &bytes).map_err(|e| Error::Server {
                status: 200,
                code: "bad_response".into(),
                message: e.to_string(),
            })?;
        Ok(Answer {
            response,
            sent,
            received,
        })
    }

    /// `POST /v1/scope`: one page of the ids of the records the user may read.
    pub async fn scope(&self, request: &ScopeRequest) -> Result<Answer<ScopeResponse>> {
        let body = encode(request);
        let sent = body.len() as u64;
        let bytes = self.post("/v1/scope", body).await?;
        let received = bytes.len() as u64;
        let response: ScopeResponse = decode("scope response", &bytes).map_err(bad_response)?;
        Ok(Answer {
            response,
            sent,
            received,
        })
    }

    /// `POST /v1/records`: the documents of readable records among `request.ids`.
    pub async fn records(&self, request: &RecordsRequest) -> Result<Answer<RecordsResponse>> {
        let body = encode(request);
        let sent = body.len() as u64;
        let bytes = self.post("/v1/records", body).await?;
        let received = bytes.len() as u64;
        let response: RecordsResponse = decode("records response", &bytes).map_err(bad_response)?;
        Ok(Answer {
            response,
            sent,
            received,
        })
    }

    /// One page of compacted documents.
    pub async fn bootstrap(&self, request: &BootstrapRequest) -> Result<Answer<BootstrapResponse>> {
        let body = encode(request);
        let sent = body.len() as u64;
        let bytes = self.post("/v1/bootstrap", body).await?;
        let received = bytes.len() as u64;
        let response: BootstrapResponse =
            decode("bootstrap response", &bytes).map_err(|e| Error::Server {
                status: 200,
                code: "bad_response".into(),
                message: e.to_string(),
            })?;
        Ok(Answer {
            response,
            sent,
            received,
        })
    }
}

/// How much of a blob the server holds (the server's `BlobStatus`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlobStatus {
    /// The blob's full size.
    pub size: u64,
    /// Bytes the server has.
    pub received: u64,
    /// Whether the server has all of it, checked against its hash.
    pub complete: bool,
}

/// Bytes per blob upload request.
pub const BLOB_CHUNK_BYTES: usize = 1024 * 1024;

fn bad_response(e: impl std::fmt::Display) -> Error {
    Error::Server {
        status: 200,
        code: "bad_response".into(),
        message: e.to_string(),
    }
}

impl SyncClient {
    /// How much of blob `sha256` the server has; `None` when it has nothing.
    pub async fn blob_status(&self, sha256: &str) -> Result<Option<BlobStatus>> {
        match self
            .send(
                reqwest::Method::GET,
                &format!("/v1/blobs/{sha256}/status"),
                None,
                &[],
            )
            .await
        {
            Ok(bytes) => Ok(Some(serde_json::from_slice(&bytes).map_err(bad_response)?)),
            Err(Error::Server { status: 404, .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Sends one chunk of a blob of `size` bytes, starting at `offset`.
    pub async fn put_blob_chunk(
        &self,
        sha256: &str,
        size: u64,
        offset: u64,
        chunk: Vec<u8>,
    ) -> Result<BlobStatus> {
        let bytes = self
            .send(
                reqwest::Method::PUT,
                &format!("/v1/blobs/{sha256}"),
                Some(("application/octet-stream", chunk)),
                &[
                    ("upload-offset", offset.to_string()),
                    ("upload-length", size.to_string()),
                ],
            )
            .await?;
        serde_json::from_slice(&bytes).map_err(bad_response)
    }

    /// Downloads a complete blob.
    pub async fn get_blob(&self, sha256: &str) -> Result<Vec<u8>> {
        self.send(
            reqwest::Method::GET,
            &format!("/v1/blobs/{sha256}"),
            None,
            &[],
        )
        .await
    }

    /// Uploads every blob the server does not have all of, resuming each where the server
    /// stopped; returns how many were completed. Progress is saved after every chunk. The
    /// server keeps this device's upload apart from any other device's; when its answers keep
    /// conflicting without progress, the client backs off, then gives up with an error naming
    /// the file instead of trying forever (the next sync tries again).
    pub async fn upload_pending_blobs(&self, store: &Mutex<Store>) -> Result<u64> {
        let pending = lock(store).pending_blobs()?;
        let total = pending.len() as u64;
        let mut done = 0;
        for blob in pending {
            let Some(bytes) = lock(store).blob_to_upload(&blob.sha256)? else {
                continue;
            };
            self.upload_blob(store, &blob.sha256, &bytes).await?;
            lock(store).set_blob_progress(&blob.sha256, bytes.len() as u64)?;
            done += 1;
            self.options.tell(SyncPhase::Upload, done, Some(total));
        }
        Ok(done)
    }

    /// Uploads one blob (see [`SyncClient::upload_pending_blobs`]).
    async fn upload_blob(&self, store: &Mutex<Store>, sha256: &str, bytes: &[u8]) -> Result<()> {
        let size = bytes.len() as u64;
        // Where to resume: our own progress may be behind (the answer to the last chunk was
        // lost) or ahead (the server discarded a bad or expired upload). An upload the server
        // holds with another size is started again from the beginning.
        let resume_at = |s: Option<BlobStatus>| match s {
            Some(s) if s.complete => size,
            Some(s) if s.size == size => s.received,
            _ => 0,
        };
        let mut offset = resume_at(self.blob_status(sha256).await?);
        let mut conflicts = 0u32;
        let mut delay = self.options.backoff;
        while offset < size {
            let end = (offset as usize + BLOB_CHUNK_BYTES).min(bytes.len());
            let chunk = bytes[offset as usize..end].to_vec();
            let next = match self.put_blob_chunk(sha256, size, offset, chunk).await {
                Ok(s) if s.complete => size,
                Ok(s) => s.received,
                // The server is elsewhere (a retry whose answer was lost, an expired upload):
                // re-read where, backing off if that brings no progress.
                Err(Error::Server {
                    status: 409,
                    message,
                    ..
                }) => {
                    let at = resume_at(self.blob_status(sha256).await?);
                    if at <= offset {
                        conflicts += 1;
                        if conflicts >= self.options.attempts.max(1) {
                            return Err(Error::Server {
                                status: 409,
                                code: "conflict".into(),
                                message: format!(
                                    "blob {sha256}: the server kept refusing its chunks \
                                     ({message}); the upload is tried again at the next sync"
                                ),
                            });
                        }
                        tokio::time::sleep(delay).await;
                        delay = delay.saturating_mul(2);
                    }
                    at
                }
                Err(e) => return Err(e),
            };
            if next > offset {
                conflicts = 0;
                delay = self.options.backoff;
            }
            offset = next;
            lock(store).set_blob_progress(sha256, offset)?;
        }
        Ok(())
    }
}

/// The bytes of a blob: from the store when this device has them, else downloaded from the
/// store's server, checked against their hash and kept. Refused ([`Error::Locked`]) while the
/// store's lease is locked, like every read of records.
pub async fn fetch_blob(
    store: &Mutex<Store>,
    sha256: &str,
    options: SyncOptions,
) -> Result<Vec<u8>> {
    if !crate::record::attachment::is_sha256_hex(sha256) {
        return Err(Error::validation(
            "blob",
            sha256,
            "must be a sha256 in lower-case hex",
        ));
    }
    if let Some(bytes) = lock(store).blob(sha256)? {
        return Ok(bytes);
    }
    let (url, token) = lock(store).server()?.ok_or_else(|| {
        Error::validation(
            "server",
            "",
            "this blob is not on the device and no sync server is set",
        )
    })?;
    let client = SyncClient::new(&url, &token, options)?;
    let bytes = match client.get_blob(sha256).await {
        Err(Error::Server { status: 404, .. }) => {
            return Err(Error::NotFound {
                kind: "blob",
                id: sha256.to_string(),
            })
        }
        other => other?,
    };
    let mime = lock(store).blob_mime(sha256)?;
    lock(store).store_fetched_blob(
        sha256,
        &bytes,
        mime.as_deref().unwrap_or("application/octet-stream"),
    )?;
    Ok(bytes)
}

/// A device enrolled by code ([`enroll`]); its token is remembered by the store, not shown.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ffi", derive(uniffi::Record))]
pub struct Enrolled {
    /// The new device's id.
    pub device_id: String,
    /// The tenant it joined.
    pub tenant_id: String,
    /// The user signed in on it.
    pub user: String,
    /// The user's role.
    pub role: String,
}

/// Enrols this device with a one-time code from the operator (`outpost-server device invite`):
/// trades it at `server` for the device's token, which the store remembers with the server, as
/// [`Store::sign_in`] does. A used, expired or unknown code is [`Error::Auth`] with the
/// server's reason; nothing is remembered then.
pub async fn enroll(
    store: &Mutex<Store>,
    server: &str,
    code: &str,
    options: SyncOptions,
) -> Result<Enrolled> {
    let server = server.trim().trim_end_matches('/');
    if !(server.starts_with("http://") || server.starts_with("https://")) {
        return Err(Error::validation(
            "server",
            server,
            "the server must be an http:// or https:// URL",
        ));
    }
    if code.trim().is_empty() || code.len() > 64 {
        return Err(Error::validation(
            "code",
            code,
            "give the enrolment code the operator sent (like ABCDE-FGHJK)",
        ));
    }
    let client = SyncClient::new(server, "", options)?;
    let body = serde_json::to_vec(&EnrollRequest {
        v: PROTOCOL_VERSION,
        code: code.trim().to_string(),
    })
    .map_err(|e| bad_response(format!("encoding the enrol request: {e}")))?;
    let bytes = client
        .send(
            reqwest::Method::POST,
            "/v1/enroll",
            Some(("application/json", body)),
            &[],
        )
        .await?;
    let answer: EnrollResponse =
        serde_json::from_slice(&bytes).map_err(|e| bad_response(format!("enrol answer: {e}")))?;
    lock(store).sign_in(Some(server), Some(&answer.token))?;
    Ok(Enrolled {
        device_id: answer.device_id,
        tenant_id: answer.tenant_id,
        user: answer.user,
        role: answer.role,
    })
}

/// Syncs the store with its remembered server: bootstrap if this store never synced, then
/// push+pull rounds until the outbox is drained and the server has nothing more. A revoked
/// device wipes its local data and returns [`Error::Auth`] with `revoked: true`.
pub async fn sync_store(store: &Mutex<Store>, options: SyncOptions) -> Result<SyncReport> {
    let (url, token) = lock(store).server()?.ok_or_else(|| {
        Error::validation(
            "server",
            "",
            "no sync server set: set the server URL and this device's token first",
        )
    })?;
    // Shared with the task that fetches the next bootstrap page while this one is written.
    let client = Arc::new(SyncClient::new(&url, &token, options.clone())?);
    // One sync at a time per store: two would send the same outbox and race on the cursor.
    {
        let mut s = lock(store);
        if s.syncing {
            return Err(Error::SyncInProgress);
        }
        s.syncing = true;
    }
    struct Running<'a>(&'a Mutex<Store>);
    impl Drop for Running<'_> {
        fn drop(&mut self) {
            lock(self.0).syncing = false;
        }
    }
    let _running = Running(store);
    let started = std::time::Instant::now();
    let result = run(store, &client, &options).await;
    match &result {
        Ok(_) => lock(store).note_sync(started),
        Err(e) => lock(store).note_sync_failure(e),
    }
    let result = match result {
        Ok(mut report) => {
            // Metrics ride after a good sync when due, and never fail it: unsent events go
            // next time.
            if lock(store)
                .experience_due(options.metrics_every)
                .unwrap_or(false)
            {
                report.metrics_sent = send_experience(store, &client).await.unwrap_or(0);
            }
            (report.throttled, report.throttled_ms) = client.throttled();
            Ok(report)
        }
        failed => failed,
    };
    match result {
        Err(Error::Auth {
            revoked: true,
            message,
        }) => {
            lock(store).wipe()?;
            Err(Error::Auth {
                message,
                revoked: true,
            })
        }
        other => other,
    }
}

/// Sends the store's unacknowledged experience events (and its created/synced totals); returns
/// how many the server took.
async fn send_experience(store: &Mutex<Store>, client: &SyncClient) -> Result<u64> {
    let batch = lock(store).prepare_experience()?;
    let ack = client.send_experience(&batch).await?;
    lock(store).apply_experience_ack(&ack)?;
    Ok(ack.stored)
}

async fn run(
    store: &Mutex<Store>,
    client: &Arc<SyncClient>,
    options: &SyncOptions,
) -> Result<SyncReport> {
    let mut report = SyncReport::default();
    let mut reported = false;
    for _ in 0..=MAX_LOG_RESETS {
        match exchange(store, client, options, &mut report, &mut reported).await? {
            Exchanged::Done => break,
            Exchanged::LogReset => report.log_reset = true,
        }
    }
    report.status = if report.rejected > 0 || report.deferred > 0 {
        SyncStatus::Partial
    } else {
        SyncStatus::Ok
    };
    Ok(report)
}

/// The most documents a bootstrap page is asked for with: pages grow to it while they arrive
/// quickly ([`next_bootstrap_page`]). Each page is one transaction on the device, and every
/// transaction rewrites the index pages it touched (match keys, the contact list's order,
/// search segments), so at 50,000 contacts pages of 5,000 stored them 1.7 times as fast as
/// pages of 1,000. About 4.5 MB of contacts.
pub const MAX_BOOTSTRAP_PAGE: u32 = 5_000;

/// A bootstrap page that arrived in less than this doubles the next one.
const BOOTSTRAP_GROW_UNDER: Duration = Duration::from_secs(2);

/// A bootstrap page that took longer than this halves the next one: on a slow network a
/// bootstrap killed in the middle of a page loses no more than a few seconds of download.
const BOOTSTRAP_SHRINK_OVER: Duration = Duration::from_secs(8);

/// The size of the bootstrap page after one of `size` documents that took `took` to arrive,
/// between `first` ([`SyncOptions::page`]) and [`MAX_BOOTSTRAP_PAGE`] (or `first` if larger).
fn next_bootstrap_page(size: u32, first: u32, took: Duration) -> u32 {
    let first = first.max(1);
    if took < BOOTSTRAP_GROW_UNDER {
        size.saturating_mul(2).min(MAX_BOOTSTRAP_PAGE.max(first))
    } else if took > BOOTSTRAP_SHRINK_OVER {
        (size / 2).max(first)
    } else {
        size
    }
}

/// A bootstrap page fetched and prepared ahead.
struct Fetched {
    answer: Answer<PreparedPage>,
    /// Documents asked for.
    size: u32,
    /// From the request to the whole answer (not its preparation).
    took: Duration,
}

/// A bootstrap page being fetched, then projected on all cores ([`PreparedPage`]), by a task
/// of its own, so that the page before it is written meanwhile. Dropped unanswered (an error,
/// a reset log), it stops the fetch.
struct Prefetch(Option<tokio::task::JoinHandle<Result<Fetched>>>);

impl Prefetch {
    /// Starts fetching `size` documents after `after` (the first page for `None`), to be
    /// prepared for a store whose changes `actor` makes.
    fn start(client: &Arc<SyncClient>, after: Option<String>, size: u32, actor: Actor) -> Self {
        let client = Arc::clone(client);
        let request = BootstrapRequest {
            v: PROTOCOL_VERSION,
            after,
            limit: Some(size),
        };
        Self(Some(tokio::spawn(async move {
            let started = std::time::Instant::now();
            let Answer {
                response,
                sent,
                received,
            } = client.bootstrap(&request).await?;
            let took = started.elapsed();
            let page = tokio::task::spawn_blocking(move || PreparedPage::new(response, &actor))
                .await
                .map_err(|e| Error::Network {
                    message: format!("preparing a bootstrap page stopped: {e}"),
                })?;
            Ok(Fetched {
                answer: Answer {
                    response: page,
                    sent,
                    received,
                },
                size,
                took,
            })
        })))
    }

    /// The page, once it arrived and was prepared.
    async fn answer(&mut self) -> Result<Fetched> {
        let Some(handle) = self.0.as_mut() else {
            return Err(Error::Network {
                message: "a bootstrap page was asked for twice".into(),
            });
        };
        let answer = handle.await.map_err(|e| Error::Network {
            message: format!("fetching a bootstrap page stopped: {e}"),
        });
        self.0 = None;
        answer?
    }
}

impl Drop for Prefetch {
    fn drop(&mut self) {
        if let Some(handle) = self.0.take() {
            handle.abort();
        }
    }
}

/// How [`exchange`] ended.
enum Exchanged {
    /// Everything sent and received.
    Done,
    /// The server's log was replaced: the store queued its changes again and forgot its
    /// cursor; exchange again.
    LogReset,
}

/// Bootstrap when needed, files, push and pull rounds, then the scope: one pass of a sync.
async fn exchange(
    store: &Mutex<Store>,
    client: &Arc<SyncClient>,
    options: &SyncOptions,
    report: &mut SyncReport,
    reported: &mut bool,
) -> Result<Exchanged> {
    if lock(store).needs_bootstrap()? {
        let mut first_cursor = None;
        let mut first_log = None;
        let actor = lock(store).actor().clone();
        let mut fetching = Prefetch::start(client, None, options.page, actor.clone());
        loop {
            let Fetched {
                answer:
                    Answer {
                        response: prepared,
                        sent,
                        received,
                    },
                size,
                took,
            } = fetching.answer().await?;
            let page = &prepared.page;
            report.round_trips += 1;
            report.bytes_sent += sent;
            report.bytes_received += received;
            if *first_log.get_or_insert_with(|| page.log_id.clone()) != page.log_id {
                // Restored between two pages: the first page's cursor counts in another log.
                return Ok(Exchanged::LogReset);
            }
            let cursor = *first_cursor.get_or_insert(page.cursor);
            let next = page.next.clone();
            // The next page is on its way, and then prepared, while this one is written (on a
            // phone network the round trip is as long as the writing).
            if let Some(after) = next.clone() {
                let size = next_bootstrap_page(size, options.page, took);
                fetching = Prefetch::start(client, Some(after), size, actor.clone());
            }
            let applied = lock(store).apply_prepared_bootstrap_page(prepared, cursor)?;
            report.pulled += applied.pulled;
            report.conflicts += applied.conflicted_records.len() as u64;
            options.tell(SyncPhase::Bootstrap, report.pulled, None);
            if next.is_none() {
                break;
            }
        }
    }
    // Files first: a record that names a blob must never reach other devices before the blob.
    report.blobs_uploaded = client.upload_pending_blobs(store).await?;
    let mut epoch = None;
    // The outbox at the start, for the push's progress (counted only when someone listens).
    let to_push = match options.progress {
        Some(_) => lock(store).outbox_len()?,
        None => 0,
    };
    let pulled_before = report.pulled;
    loop {
        let mut outgoing = lock(store).prepare_sync(options.batch, Some(options.page))?;
        // Once per sync: what `outpost-server device list` shows of this device; the app
        // version only when the server does not have it yet.
        let mut new_version = None;
        if !*reported {
            let version = options
                .app_version
                .clone()
                .unwrap_or_else(|| format!("outpost-core/{}", env!("CARGO_PKG_VERSION")));
            let (queued, known) = {
                let s = lock(store);
                (s.outbox_len()?, s.reported_app_version()?)
            };
            if known.as_deref() != Some(version.as_str()) {
                new_version = Some(version);
            }
            outgoing.request.client = Some(ClientReport {
                app_version: new_version.clone(),
                outbox: Some(queued.saturating_sub(outgoing.len() as u64)),
            });
            *reported = true;
        }
        let request = &outgoing.request;
        let Answer {
            response,
            sent,
            received,
        } = client.sync(request).await?;
        report.round_trips += 1;
        report.bytes_sent += sent;
        report.bytes_received += received;
        if let Some(scope) = &response.scope {
            epoch = Some(scope.epoch);
        }
        let applied = lock(store).apply_sync_response(&outgoing, response)?;
        if let Some(version) = &new_version {
            lock(store).set_reported_app_version(version)?;
        }
        report.pushed += applied.acknowledged;
        report.rejected += applied.rejected;
        report.rejections.extend(applied.rejections);
        report.pulled += applied.pulled;
        report.conflicts += applied.conflicted_records.len() as u64;
        report.cursor = applied.cursor;
        if applied.log_reset {
            return Ok(Exchanged::LogReset);
        }
        if !outgoing.sent.is_empty() {
            options.tell(
                SyncPhase::Push,
                report.pushed + report.rejected,
                Some(to_push.max(report.pushed + report.rejected)),
            );
        }
        if report.pulled > pulled_before {
            options.tell(SyncPhase::Pull, report.pulled - pulled_before, None);
        }
        // Deferred changes are counted once per sync: each round sends them again.
        report.deferred = applied.deferred;
        let drained = outgoing.sent.len() < options.batch;
        // Undoing a refusal queues the later edits again: one more round sends them. This
        // ends: each refusal removes a change for good, and none is ever added. A round that
        // moved nothing (only deferred changes) ends it too.
        let moved = applied.acknowledged > 0 || applied.rejected > 0 || applied.more;
        if (drained || !moved) && !applied.more && applied.rejected == 0 {
            break;
        }
    }
    // The scope changed since the records were last reconciled (or never were): list it,
    // purge what left it, fetch what entered it. Servers that send no scope skip this.
    if let Some(epoch) = epoch {
        if lock(store).scope_epoch()? != Some(epoch) {
            reconcile(store, client, options, report).await?;
        }
    }
    Ok(Exchanged::Done)
}

/// Lists the user's scope, purges local records that left it (never one with anything in the
/// outbox), fetches the listed records this device lacks, then remembers the epoch of the
/// listing's first page. A sync that fails midway reconciles again next time.
async fn reconcile(
    store: &Mutex<Store>,
    client: &SyncClient,
    options: &SyncOptions,
    report: &mut SyncReport,
) -> Result<()> {
    let mut listed = std::collections::BTreeSet::new();
    let mut after: Option<String> = None;
    let mut first_epoch = None;
    loop {
        let request = ScopeRequest {
            v: PROTOCOL_VERSION,
            after: after.clone(),
            limit: None,
        };
        let Answer {
            response: page,
            sent,
            received,
        } = client.scope(&request).await?;
        report.round_trips += 1;
        report.bytes_sent += sent;
        report.bytes_received += received;
        first_epoch.get_or_insert(page.epoch);
        listed.extend(
            page.records
                .into_iter()
                .filter(|id| !id.trim().is_empty() && id.chars().count() <= MAX_ID_CHARS),
        );
        match page.next {
            // A server that repeats itself would loop forever: stop at a `next` that does not
            // move forward.
            Some(n) if after.as_ref().is_none_or(|a| n > *a) => after = Some(n),
            Some(n) => {
                return Err(bad_response(format!(
                    "scope listing did not move forward (next {n:?} after {after:?})"
                )))
            }
            None => break,
        }
    }
    let diff = lock(store).reconcile_scope(&listed)?;
    report.purged += diff.purged;
    let batch = FETCH_BATCH.min(options.page.max(1) as usize);
    for ids in diff.missing.chunks(batch) {
        let request = RecordsRequest {
            v: PROTOCOL_VERSION,
            ids: ids.to_vec(),
        };
        let Answer {
            response,
            sent,
            received,
        } = client.records(&request).await?;
        report.round_trips += 1;
        report.bytes_sent += sent;
        report.bytes_received += received;
        // Only what was asked for: anything else the server sent is not ours to keep.
        let asked: std::collections::BTreeSet<&str> = ids.iter().map(String::as_str).collect();
        let docs: Vec<_> = response
            .docs
            .into_iter()
            .filter(|d| asked.contains(d.record.as_str()))
            .collect();
        let applied = lock(store).apply_fetched_records(docs)?;
        report.fetched += applied.pulled;
        report.conflicts += applied.conflicted_records.len() as u64;
    }
    if let Some(epoch) = first_epoch {
        lock(store).set_scope_epoch(epoch)?;
    }
    Ok(())
}

#[cfg(test)]
mod sync_status_tests {
    use super::{SyncReport, SyncStatus};

    #[test]
    fn the_status_is_spelled_in_json_as_before() -> Result<(), serde_json::Error> {
        assert_eq!(serde_json::to_string(&SyncStatus::Ok)?, "\"ok\"");
        assert_eq!(serde_json::to_string(&SyncStatus::Partial)?, "\"partial\"");
        assert_eq!(SyncStatus::Partial.as_str(), "partial");
        let report = SyncReport {
            status: SyncStatus::Partial,
            ..SyncReport::default()
        };
        let json = serde_json::to_value(&report)?;
        assert_eq!(json["status"], "partial");
        assert_eq!(serde_json::from_value::<SyncReport>(json)?, report);
        assert!(serde_json::from_str::<SyncStatus>("\"done\"").is_err());
        Ok(())
    }
}

#[cfg(test)]
mod bootstrap_page_tests {
    use super::{next_bootstrap_page, MAX_BOOTSTRAP_PAGE};
    use std::time::Duration;

    #[test]
    fn pages_grow_while_they_arrive_quickly_and_shrink_on_a_slow_network() {
        let fast = Duration::from_millis(300);
        let (mut size, mut sizes) = (1_000, vec![]);
        for _ in 0..5 {
            size = next_bootstrap_page(size, 1_000, fast);
            sizes.push(size);
        }
        assert_eq!(sizes, [2_000, 4_000, 5_000, 5_000, 5_000]);
        // Between the bounds, the size is kept.
        assert_eq!(
            next_bootstrap_page(4_000, 1_000, Duration::from_secs(5)),
            4_000
        );
        // A slow page halves the next, never below the page the options ask for.
        let slow = Duration::from_secs(20);
        assert_eq!(next_bootstrap_page(5_000, 1_000, slow), 2_500);
        assert_eq!(next_bootstrap_page(1_500, 1_000, slow), 1_000);
        assert_eq!(next_bootstrap_page(1_000, 1_000, slow), 1_000);
        // Options asking for more than the cap keep what they asked for.
        assert_eq!(next_bootstrap_page(8_000, 8_000, fast), 8_000);
        assert_eq!(next_bootstrap_page(3, 3, fast), 6);
        assert!(next_bootstrap_page(u32::MAX, 1, fast) <= MAX_BOOTSTRAP_PAGE);
    }
}

#[cfg(test)]
mod retry_tests {
    use super::{jittered, random_fraction, retry_after, too_long_to_wait, SyncOptions};
    use reqwest::header::{HeaderMap, HeaderValue, RETRY_AFTER};
    use std::time::Duration;

    fn with(value: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        if let Ok(v) = HeaderValue::from_str(value) {
            h.insert(RETRY_AFTER, v);
        }
        h
    }

    #[test]
    fn retry_after_reads_seconds_and_dates() {
        assert_eq!(retry_after(&with("7")), Some(Duration::from_secs(7)));
        assert_eq!(retry_after(&with(" 0 ")), Some(Duration::ZERO));
        assert_eq!(
            retry_after(&with("99999999999999999999999")),
            Some(Duration::from_secs(u64::MAX)),
            "too big saturates: longer than any sync waits"
        );
        let in_90s = (chrono::Utc::now() + chrono::TimeDelta::seconds(90))
            .format("%a, %d %b %Y %H:%M:%S GMT")
            .to_string();
        let wait = retry_after(&with(&in_90s)).unwrap_or_default();
        assert!(
            (Duration::from_secs(85)..=Duration::from_secs(90)).contains(&wait),
            "{wait:?}"
        );
        assert_eq!(
            retry_after(&with("Sun, 06 Nov 1994 08:49:37 GMT")),
            Some(Duration::ZERO),
            "a past date: at once"
        );
        for bad in ["", "-1", "1.5", "soon", &"9".repeat(100)] {
            assert_eq!(retry_after(&with(bad)), None, "{bad:?}");
        }
        assert_eq!(retry_after(&HeaderMap::new()), None);
    }

    #[test]
    fn backoff_is_jittered_within_half_and_all_of_it() {
        let d = Duration::from_millis(1000);
        let waits: Vec<Duration> = (0..200).map(|_| jittered(d)).collect();
        assert!(waits.iter().all(|w| *w >= d / 2 && *w <= d), "{waits:?}");
        let distinct: std::collections::BTreeSet<_> = waits.iter().collect();
        assert!(distinct.len() > 100, "the waits differ: {}", distinct.len());
        assert!((0..1000)
            .map(|_| random_fraction())
            .all(|f| (0.0..1.0).contains(&f)));
    }

    #[test]
    fn a_wait_too_long_says_when_to_sync_again() {
        let e = too_long_to_wait(
            429,
            "too_many_requests".into(),
            "slow down",
            Duration::from_millis(120_500),
            Duration::from_secs(60),
            &SyncOptions::default(),
        );
        let text = e.to_string();
        assert!(text.contains("retry in 121 s"), "{text}");
        assert!(text.contains("sync again after 20"), "{text}");
        assert!(text.contains("(60 s left of 60 s)"), "{text}");
        let forever = too_long_to_wait(
            503,
            "unavailable".into(),
            "",
            Duration::from_secs(u64::MAX),
            Duration::ZERO,
            &SyncOptions::default(),
        );
        assert!(
            forever.to_string().contains("a very long time"),
            "{forever}"
        );
    }
}

#[cfg(test)]
mod version_fallback_tests {
    use super::*;
    use std::io::{BufRead, BufReader, Read, Write};

    /// A server of protocol version 1 only, on loopback: answers a version-2 sync request
    /// `400 unsupported_version` (as such a server did) and a version-1 one with an empty page.
    /// Returns its address and, when it stops, the versions it was sent.
    fn old_server(requests: usize) -> std::io::Result<(String, std::thread::JoinHandle<Vec<u32>>)> {
        let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
        let url = format!("http://{}", listener.local_addr()?);
        let handle = std::thread::spawn(move || {
            let mut seen = Vec::new();
            for stream in listener.incoming().take(requests) {
                let Ok(mut stream) = stream else { break };
                let mut reader = BufReader::new(&mut stream);
                let mut length = 0;
                loop {
                    let mut line = String::new();
                    if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                        break;
                    }
                    if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                        length = v.trim().parse().unwrap_or(0);
                    }
                }
                let mut body = vec![0; length];
                if reader.read_exact(&mut body).is_err() {
                    break;
                }
                #[derive(serde::Deserialize)]
                struct Versioned {
                    v: u32,
                }
                let v = decode::<Versioned>("request", &body).map_or(0, |r| r.v);
                seen.push(v);
                let (status, content_type, answer) = if v == 1 {
                    let page = SyncResponse {
                        v: 1,
                        rejected: vec![],
                        entries: vec![],
                        cursor: 5,
                        more: false,
                        server_time_ms: 1,
                        scope: None,
                        log_id: None,
                        deferred: vec![],
                    };
                    ("200 OK", CONTENT_TYPE, encode(&page))
                } else {
                    let error = r#"{"error":"unsupported_version","message":"protocol version 2 is not supported; supported versions: 1"}"#;
                    (
                        "400 Bad Request",
                        "application/json",
                        error.as_bytes().to_vec(),
                    )
                };
                let head = format!(
                    "HTTP/1.1 {status}\r\ncontent-type: {content_type}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
                    answer.len()
                );
                let _ = stream.write_all(head.as_bytes());
                let _ = stream.write_all(&answer);
            }
            seen
        });
        Ok((url, handle))
    }

    #[test]
    fn a_device_falls_back_to_version_1_for_an_older_server(
    ) -> std::result::Result<(), Box<dyn std::error::Error>> {
        let (url, server) = old_server(3)?;
        let client = SyncClient::new(&url, "t", SyncOptions::default())?;
        let request = crate::sync::protocol::tests::edit_request();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let first = runtime.block_on(client.sync(&request))?;
        assert_eq!(first.response.cursor, 5);
        // Both bodies were sent: the refused version 2, then version 1.
        assert_eq!(
            first.sent,
            (request.encode_as(2).len() + request.encode_as(1).len()) as u64
        );
        // The client remembers: the next request goes as version 1 at once.
        let second = runtime.block_on(client.sync(&request))?;
        assert_eq!(second.sent, request.encode_as(1).len() as u64);
        drop(client);
        assert_eq!(server.join().unwrap_or_default(), vec![2, 1, 1]);
        Ok(())
    }
}
