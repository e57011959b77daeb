//! Every bound of the server an operator may tune, in one struct with its defaults; the
//! `outpost-server serve` flags and environment variables fill it. See `docs/security.md`,
//! "Bounds".

use crate::ratelimit::device::DeviceRate;
use crate::ratelimit::proxy::TrustedProxies;
use crate::ratelimit::LimitConfig;
use std::path::{Path, PathBuf};
use std::sync::Arc;
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
    /// HTTPS on the API listener (`--tls-cert`/`--tls-key`); plain HTTP when `None`, for a
    /// server behind a TLS-terminating proxy. The admin listener stays plain.
    pub tls: Option<ServerTls>,
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
            tls: None,
        }
    }
}

/// Largest certificate or key file read (a chain of a few certificates fits many times).
const MAX_PEM_FILE: u64 = 1024 * 1024;

/// Why the listener's certificate or key could not be used.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// The file could not be read.
    #[error("{}: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// What reading it said.
        source: std::io::Error,
    },
    /// The file is larger than any certificate chain or key.
    #[error("{}: {size} bytes is not a PEM certificate or key (at most {max})", path.display())]
    TooLarge {
        /// The file.
        path: PathBuf,
        /// Its size in bytes.
        size: u64,
        /// The most read.
        max: u64,
    },
    /// No certificate, or no private key, in the file.
    #[error("{}: no {what} in PEM form (-----BEGIN ...-----): {reason}", path.display())]
    Pem {
        /// The file.
        path: PathBuf,
        /// `certificate` or `private key`.
        what: &'static str,
        /// What the PEM reader said.
        reason: String,
    },
    /// rustls refused the pair (a key that does not match the certificate, an unsupported key).
    #[error(
        "the certificate {} and key {} cannot serve TLS: {reason}",
        cert.display(),
        key.display()
    )]
    Config {
        /// The certificate file.
        cert: PathBuf,
        /// The key file.
        key: PathBuf,
        /// What rustls said.
        reason: String,
    },
}

/// The API listener's certificate chain and key, loaded once when the server starts.
#[derive(Clone)]
pub struct ServerTls {
    config: Arc<rustls::ServerConfig>,
    cert: PathBuf,
}

impl ServerTls {
    /// Loads a PEM certificate chain (the server's certificate first, then intermediates) and
    /// its PEM private key (PKCS#8, PKCS#1 or SEC1). TLS 1.2 and 1.3 with the ring provider;
    /// ALPN offers HTTP/1.1, the only protocol the listener speaks.
    pub fn load(cert: &Path, key: &Path) -> Result<ServerTls, TlsError> {
        use rustls::pki_types::pem::PemObject;
        use rustls::pki_types::{CertificateDer, PrivateKeyDer};
        let cert_pem = read_pem_file(cert)?;
        let key_pem = read_pem_file(key)?;
        let pem_error = |path: &Path, what, reason: String| TlsError::Pem {
            path: path.to_path_buf(),
            what,
            reason,
        };
        let chain = CertificateDer::pem_slice_iter(&cert_pem)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| pem_error(cert, "certificate", e.to_string()))?;
        if chain.is_empty() {
            return Err(pem_error(cert, "certificate", "the file holds none".into()));
        }
        let private = PrivateKeyDer::from_pem_slice(&key_pem)
            .map_err(|e| pem_error(key, "private key", e.to_string()))?;
        let config_error = |e: rustls::Error| TlsError::Config {
            cert: cert.to_path_buf(),
            key: key.to_path_buf(),
            reason: e.to_string(),
        };
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(config_error)?
            .with_no_client_auth()
            .with_single_cert(chain, private)
            .map_err(config_error)?;
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(ServerTls {
            config: Arc::new(config),
            cert: cert.to_path_buf(),
        })
    }

    /// Accepts TLS connections with this certificate.
    pub fn acceptor(&self) -> tokio_rustls::TlsAcceptor {
        tokio_rustls::TlsAcceptor::from(self.config.clone())
    }
}

fn read_pem_file(path: &Path) -> Result<Vec<u8>, TlsError> {
    let read_error = |source| TlsError::Read {
        path: path.to_path_buf(),
        source,
    };
    let size = std::fs::metadata(path).map_err(read_error)?.len();
    if size > MAX_PEM_FILE {
        return Err(TlsError::TooLarge {
            path: path.to_path_buf(),
            size,
            max: MAX_PEM_FILE,
        });
    }
    std::fs::read(path).map_err(read_error)
}

impl PartialEq for ServerTls {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.config, &other.config)
    }
}

impl Eq for ServerTls {}

impl std::fmt::Debug for ServerTls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerTls")
            .field("cert", &self.cert)
            .finish()
    }
}
