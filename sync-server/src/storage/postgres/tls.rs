//! TLS to PostgreSQL with rustls. The connection string says how, as libpq reads it:
//!
//! - `sslmode`: `disable` (plain TCP), `prefer` (the default: TLS when the server offers it,
//!   plain TCP when it does not, the certificate not checked), `require` (TLS or no connection,
//!   the certificate not checked), `verify-ca` (TLS, the certificate chain checked against the
//!   trusted CAs), `verify-full` (`verify-ca` and the host name checked against the
//!   certificate).
//! - `sslrootcert`: a PEM file of the CA certificates to trust, or `system` for the system's
//!   CA bundle (`SSL_CERT_FILE`, else `/etc/ssl/certs/ca-certificates.crt` or the other
//!   distributions' place). Without it the verifying modes trust the system's bundle. As in
//!   libpq, `require` with an `sslrootcert` checks the chain like `verify-ca`.
//!
//! tokio-postgres itself knows only `disable`, `prefer` and `require` and no `sslrootcert`, so
//! [`parse_connection_string`] takes both out of the string (URL or `key=value` form) and hands
//! the rest to tokio-postgres. The connector ([`RustlsConnect`]) uses the ring provider that the
//! workspace's rustls is built with (no OpenSSL), offers the ALPN protocol `postgresql` as libpq
//! 17 does, and gives tokio-postgres the `tls-server-end-point` channel binding, so that SCRAM
//! authentication is bound to the TLS session (SCRAM-SHA-256-PLUS).

use crate::error::StorageError;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{
    CertificateError, ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme,
};
use sha2::Digest;
use std::fmt;
use std::future::Future;
use std::io;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio_postgres::tls::{ChannelBinding, MakeTlsConnect, TlsConnect, TlsStream};

/// Longest connection string read (a URL with a long password and CA path fits many times).
const MAX_CONNECTION_STRING: usize = 8 * 1024;

/// Largest CA file read: a bundle of a few hundred certificates.
const MAX_CA_FILE: u64 = 4 * 1024 * 1024;

/// How the connection uses TLS (libpq's `sslmode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SslMode {
    /// Plain TCP.
    Disable,
    /// TLS when the server offers it, the certificate not checked.
    Prefer,
    /// TLS or no connection, the certificate not checked (checked like `VerifyCa` when a CA
    /// file is given, as libpq does).
    Require,
    /// TLS, the certificate chain checked against the trusted CAs, not the host name.
    VerifyCa,
    /// TLS, the chain and the host name checked.
    VerifyFull,
}

impl SslMode {
    fn parse(value: &str) -> Result<SslMode, StorageError> {
        Ok(match value {
            "disable" => SslMode::Disable,
            "prefer" => SslMode::Prefer,
            "require" => SslMode::Require,
            "verify-ca" => SslMode::VerifyCa,
            "verify-full" => SslMode::VerifyFull,
            // libpq's `allow` tries plain TCP first; quietly taking it as `prefer` would change
            // what the operator asked for.
            other => {
                return Err(bad(format!(
                    "sslmode={other}: not a mode this server knows (disable, prefer, require, \
                     verify-ca, verify-full)"
                )))
            }
        })
    }

    /// The name in the connection string.
    pub fn as_str(self) -> &'static str {
        match self {
            SslMode::Disable => "disable",
            SslMode::Prefer => "prefer",
            SslMode::Require => "require",
            SslMode::VerifyCa => "verify-ca",
            SslMode::VerifyFull => "verify-full",
        }
    }

    /// What tokio-postgres is told: whether TLS may, must or must not be used.
    fn negotiation(self) -> tokio_postgres::config::SslMode {
        match self {
            SslMode::Disable => tokio_postgres::config::SslMode::Disable,
            SslMode::Prefer => tokio_postgres::config::SslMode::Prefer,
            SslMode::Require | SslMode::VerifyCa | SslMode::VerifyFull => {
                tokio_postgres::config::SslMode::Require
            }
        }
    }
}

impl fmt::Display for SslMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Which CAs a verifying mode trusts (libpq's `sslrootcert`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RootCert {
    /// The certificates in this PEM file.
    File(PathBuf),
    /// The system's certificate store (`sslrootcert=system`, or no `sslrootcert`).
    System,
}

/// The TLS settings taken out of a connection string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsSettings {
    /// `sslmode` (`prefer` when not given, as in libpq).
    pub mode: SslMode,
    /// `sslrootcert`, when given.
    pub root_cert: Option<RootCert>,
}

impl TlsSettings {
    /// Whether the server's certificate chain is checked, and the host name too.
    fn verification(&self) -> Verification {
        match self.mode {
            SslMode::Disable | SslMode::Prefer => Verification::None,
            SslMode::Require if self.root_cert.is_none() => Verification::None,
            SslMode::Require | SslMode::VerifyCa => Verification::Chain,
            SslMode::VerifyFull => Verification::ChainAndName,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Verification {
    None,
    Chain,
    ChainAndName,
}

fn bad(message: String) -> StorageError {
    StorageError::BadRequest(format!("database url: {message}"))
}

/// Parameters of libpq this server does not implement, refused by name rather than ignored.
const UNSUPPORTED: &[(&str, &str)] = &[
    ("sslcert", "client certificates are not supported"),
    ("sslkey", "client certificates are not supported"),
    ("sslpassword", "client certificates are not supported"),
    ("sslcrl", "certificate revocation lists are not supported"),
    (
        "sslcrldir",
        "certificate revocation lists are not supported",
    ),
];

/// Splits a connection string (`postgres://...` URL or libpq `key=value` pairs) into what
/// tokio-postgres reads and the TLS settings. Errors name the parameter at fault.
pub fn parse_connection_string(
    s: &str,
) -> Result<(tokio_postgres::Config, TlsSettings), StorageError> {
    if s.len() > MAX_CONNECTION_STRING {
        return Err(bad(format!(
            "longer than {MAX_CONNECTION_STRING} bytes ({} bytes)",
            s.len()
        )));
    }
    // A URL keeps everything before its query; the pairs are written back after it.
    let url_base = (s.starts_with("postgres://") || s.starts_with("postgresql://"))
        .then(|| s.split_once('?').map_or(s, |(base, _)| base));
    let pairs = match url_base {
        Some(_) => url_query_pairs(s.split_once('?').map_or("", |(_, query)| query))?,
        None => key_value_pairs(s)?,
    };

    let mut mode = None;
    let mut root_cert = None;
    let mut rest = Vec::with_capacity(pairs.len() + 1);
    for (key, value) in pairs {
        if let Some((_, why)) = UNSUPPORTED.iter().find(|(k, _)| *k == key) {
            return Err(bad(format!("{key}: {why}")));
        }
        match key.as_str() {
            "sslmode" => {
                if mode.replace(SslMode::parse(&value)?).is_some() {
                    return Err(bad("sslmode is given twice".into()));
                }
            }
            "sslrootcert" => {
                let cert = match value.as_str() {
                    "" => {
                        return Err(bad(
                            "sslrootcert is empty (give a PEM file or `system`)".into()
                        ))
                    }
                    "system" => RootCert::System,
                    path => RootCert::File(PathBuf::from(path)),
                };
                if root_cert.replace(cert).is_some() {
                    return Err(bad("sslrootcert is given twice".into()));
                }
            }
            _ => rest.push((key, value)),
        }
    }
    let settings = TlsSettings {
        mode: mode.unwrap_or(SslMode::Prefer),
        root_cert,
    };
    rest.push((
        "sslmode".to_string(),
        match settings.mode.negotiation() {
            tokio_postgres::config::SslMode::Disable => "disable",
            tokio_postgres::config::SslMode::Prefer => "prefer",
            _ => "require",
        }
        .to_string(),
    ));
    let rebuilt = match url_base {
        Some(base) => {
            let query: Vec<String> = rest
                .iter()
                .map(|(k, v)| format!("{}={}", percent_encode(k), percent_encode(v)))
                .collect();
            format!("{base}?{}", query.join("&"))
        }
        None => {
            let parts: Vec<String> = rest
                .iter()
                .map(|(k, v)| {
                    let v = v.replace('\\', "\\\\").replace('\'', "\\'");
                    format!("{k}='{v}'")
                })
                .collect();
            parts.join(" ")
        }
    };
    let config = rebuilt
        .parse::<tokio_postgres::Config>()
        .map_err(|e| bad(error_chain(&e)))?;
    Ok((config, settings))
}

/// An error and its causes on one line (tokio-postgres says only "error performing TLS
/// handshake" or "db error" and keeps the why in `source()`).
pub fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut text = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        let more = c.to_string();
        if !text.contains(&more) {
            text.push_str(": ");
            text.push_str(&more);
        }
        cause = c.source();
    }
    text
}

/// The decoded `key=value` pairs of a URL's query.
fn url_query_pairs(query: &str) -> Result<Vec<(String, String)>, StorageError> {
    query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            Ok((percent_decode(k)?, percent_decode(v)?))
        })
        .collect()
}

/// The `key=value` pairs of a libpq keyword/value connection string (values may be quoted
/// with `'`, and `\` escapes the next character), as tokio-postgres reads them.
fn key_value_pairs(s: &str) -> Result<Vec<(String, String)>, StorageError> {
    let mut pairs = Vec::new();
    let mut chars = s.chars().peekable();
    loop {
        while chars.next_if(|c| c.is_whitespace()).is_some() {}
        if chars.peek().is_none() {
            return Ok(pairs);
        }
        let mut key = String::new();
        while let Some(c) = chars.next_if(|c| !c.is_whitespace() && *c != '=') {
            key.push(c);
        }
        while chars.next_if(|c| c.is_whitespace()).is_some() {}
        if chars.next() != Some('=') {
            return Err(bad(format!("`{key}`: expected `=` after the keyword")));
        }
        while chars.next_if(|c| c.is_whitespace()).is_some() {}
        let mut value = String::new();
        if chars.next_if_eq(&'\'').is_some() {
            loop {
                match chars.next() {
                    None => return Err(bad(format!("`{key}`: unterminated quoted value"))),
                    Some('\'') => break,
                    Some('\\') => match chars.next() {
                        Some(c) => value.push(c),
                        None => return Err(bad(format!("`{key}`: unterminated quoted value"))),
                    },
                    Some(c) => value.push(c),
                }
            }
        } else {
            while let Some(c) = chars.next_if(|c| !c.is_whitespace()) {
                if c == '\\' {
                    match chars.next() {
                        Some(c) => value.push(c),
                        None => return Err(bad(format!("`{key}`: `\\` at the end"))),
                    }
                } else {
                    value.push(c);
                }
            }
        }
        pairs.push((key, value));
    }
}

fn percent_decode(s: &str) -> Result<String, StorageError> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = bytes
                .get(i + 1..i + 3)
                .and_then(|h| std::str::from_utf8(h).ok())
                .and_then(|h| u8::from_str_radix(h, 16).ok())
                .ok_or_else(|| bad(format!("`{s}`: a bad percent escape")))?;
            out.push(hex);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| bad(format!("`{s}`: not UTF-8 once decoded")))
}

fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~/".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// A rustls connector for tokio-postgres, made from the connection string's TLS settings.
#[derive(Clone)]
pub struct RustlsConnect {
    config: Arc<ClientConfig>,
    mode: SslMode,
}

impl fmt::Debug for RustlsConnect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RustlsConnect")
            .field("mode", &self.mode)
            .finish_non_exhaustive()
    }
}

impl RustlsConnect {
    /// The connector for `settings`: reads the CA file (or the system's store) when the mode
    /// verifies.
    pub fn new(settings: &TlsSettings) -> Result<RustlsConnect, StorageError> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = ClientConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(|e| StorageError::Internal(format!("TLS protocol versions: {e}")))?;
        let verification = settings.verification();
        let verifier: Arc<dyn ServerCertVerifier> = match verification {
            Verification::None => Arc::new(NoVerification(provider)),
            Verification::Chain | Verification::ChainAndName => {
                let roots = load_roots(settings.root_cert.as_ref().unwrap_or(&RootCert::System))?;
                let webpki = WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider)
                    .build()
                    .map_err(|e| bad(format!("sslrootcert: {e}")))?;
                if verification == Verification::Chain {
                    Arc::new(ChainOnly(webpki))
                } else {
                    webpki
                }
            }
        };
        let mut config = builder
            .dangerous()
            .with_custom_certificate_verifier(verifier)
            .with_no_client_auth();
        config.alpn_protocols = vec![b"postgresql".to_vec()];
        Ok(RustlsConnect {
            config: Arc::new(config),
            mode: settings.mode,
        })
    }
}

/// The trusted CAs: the PEM file's certificates, or the system's.
fn load_roots(root_cert: &RootCert) -> Result<RootCertStore, StorageError> {
    let mut roots = RootCertStore::empty();
    match root_cert {
        RootCert::File(path) => {
            let certs = read_pem_certificates(path)?;
            let (added, _ignored) = roots.add_parsable_certificates(certs);
            if added == 0 {
                return Err(bad(format!(
                    "sslrootcert {}: no usable CA certificate in it",
                    path.display()
                )));
            }
        }
        RootCert::System => {
            let Some(bundle) = system_ca_bundle() else {
                return Err(bad(format!(
                    "the verifying sslmode needs trusted CAs: no sslrootcert given and no system \
                     CA bundle found (SSL_CERT_FILE, {}); give sslrootcert=PATH (a PEM file) or \
                     install the system's CA certificates (Debian: ca-certificates)",
                    SYSTEM_CA_BUNDLES.join(", ")
                )));
            };
            let certs = read_pem_certificates(&bundle)?;
            let (added, _ignored) = roots.add_parsable_certificates(certs);
            if added == 0 {
                return Err(bad(format!(
                    "system CA bundle {}: no usable CA certificate in it",
                    bundle.display()
                )));
            }
        }
    }
    Ok(roots)
}

/// Where Linux distributions keep the system's CA certificates as one PEM bundle (Debian and
/// Ubuntu, Fedora and RHEL, openSUSE, Alpine).
const SYSTEM_CA_BUNDLES: &[&str] = &[
    "/etc/ssl/certs/ca-certificates.crt",
    "/etc/pki/tls/certs/ca-bundle.crt",
    "/etc/ssl/ca-bundle.pem",
    "/etc/ssl/cert.pem",
];

/// The system's CA bundle: `SSL_CERT_FILE` when set (as OpenSSL reads it), else the first
/// bundle of [`SYSTEM_CA_BUNDLES`] that exists.
fn system_ca_bundle() -> Option<PathBuf> {
    if let Some(file) = std::env::var_os("SSL_CERT_FILE").filter(|f| !f.is_empty()) {
        return Some(PathBuf::from(file));
    }
    SYSTEM_CA_BUNDLES
        .iter()
        .map(PathBuf::from)
        .find(|p| p.is_file())
}

/// The certificates of a PEM file (bounded in size).
fn read_pem_certificates(path: &Path) -> Result<Vec<CertificateDer<'static>>, StorageError> {
    let io_error = |source| StorageError::Io {
        op: "reading sslrootcert",
        path: path.display().to_string(),
        source,
    };
    let size = std::fs::metadata(path).map_err(io_error)?.len();
    if size > MAX_CA_FILE {
        return Err(bad(format!(
            "sslrootcert {}: {size} bytes, more than a CA file's {MAX_CA_FILE}",
            path.display()
        )));
    }
    let pem = std::fs::read(path).map_err(io_error)?;
    let certs = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| {
            bad(format!(
                "sslrootcert {}: not PEM certificates: {e}",
                path.display()
            ))
        })?;
    if certs.is_empty() {
        return Err(bad(format!(
            "sslrootcert {}: no certificate in it (a PEM file of `BEGIN CERTIFICATE` blocks)",
            path.display()
        )));
    }
    Ok(certs)
}

/// `require` and `prefer`: any certificate is taken (libpq does the same); the handshake's
/// signatures are still checked, so the session is bound to the certificate's key.
#[derive(Debug)]
struct NoVerification(Arc<CryptoProvider>);

impl ServerCertVerifier for NoVerification {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// `verify-ca`: the chain must lead to a trusted CA (webpki checks it before the name); a
/// certificate made out to another host name is taken.
#[derive(Debug)]
struct ChainOnly(Arc<WebPkiServerVerifier>);

impl ServerCertVerifier for ChainOnly {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        match self
            .0
            .verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
        {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_verify_schemes()
    }
}

impl<S> MakeTlsConnect<S> for RustlsConnect
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    type Stream = RustlsStream<S>;
    type TlsConnect = RustlsHandshake;
    type Error = io::Error;

    fn make_tls_connect(&mut self, domain: &str) -> Result<RustlsHandshake, io::Error> {
        // The name is checked at the handshake: a Unix socket has none and never gets there.
        Ok(RustlsHandshake {
            config: self.config.clone(),
            mode: self.mode,
            domain: domain.to_string(),
        })
    }
}

/// One TLS handshake with the server named `domain`.
pub struct RustlsHandshake {
    config: Arc<ClientConfig>,
    mode: SslMode,
    domain: String,
}

impl<S> TlsConnect<S> for RustlsHandshake
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    type Stream = RustlsStream<S>;
    type Error = io::Error;
    type Future = Pin<Box<dyn Future<Output = io::Result<RustlsStream<S>>> + Send>>;

    fn connect(self, stream: S) -> Self::Future {
        Box::pin(async move {
            let name = ServerName::try_from(self.domain.clone()).map_err(|_| {
                io::Error::new(
                    io::ErrorKind::InvalidInput,
                    format!("host {:?} is not a name TLS can check", self.domain),
                )
            })?;
            tokio_rustls::TlsConnector::from(self.config)
                .connect(name, stream)
                .await
                .map(RustlsStream)
                .map_err(|e| explain_handshake_error(e, self.mode, &self.domain))
        })
    }
}

/// A handshake failure in the operator's words: which check failed, for which host.
fn explain_handshake_error(e: io::Error, mode: SslMode, domain: &str) -> io::Error {
    let Some(tls) = e.get_ref().and_then(|e| e.downcast_ref::<rustls::Error>()) else {
        return e;
    };
    let why = match tls {
        rustls::Error::InvalidCertificate(CertificateError::UnknownIssuer) => {
            format!("the server's certificate is not signed by a trusted CA (sslrootcert) ({tls})")
        }
        rustls::Error::InvalidCertificate(
            CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
        ) => format!(
            "the server's certificate is not made out to the host name {domain:?} ({tls}); \
             connect by a name the certificate holds, or use sslmode=verify-ca"
        ),
        rustls::Error::InvalidCertificate(
            CertificateError::Expired | CertificateError::ExpiredContext { .. },
        ) => {
            format!("the server's certificate has expired ({tls})")
        }
        other => other.to_string(),
    };
    io::Error::new(e.kind(), format!("sslmode={mode}, host {domain}: {why}"))
}

/// A TLS session to PostgreSQL.
pub struct RustlsStream<S>(tokio_rustls::client::TlsStream<S>);

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncRead for RustlsStream<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_read(cx, buf)
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncWrite for RustlsStream<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.0).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.0).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.0.is_write_vectored()
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> TlsStream for RustlsStream<S> {
    fn channel_binding(&self) -> ChannelBinding {
        let (_, session) = self.0.get_ref();
        session
            .peer_certificates()
            .and_then(|certs| certs.first())
            .and_then(|cert| server_end_point(cert.as_ref()))
            .map_or_else(ChannelBinding::none, ChannelBinding::tls_server_end_point)
    }
}

/// RFC 5929's `tls-server-end-point`: the hash of the server's certificate, with the hash of
/// its signature algorithm (SHA-256 for MD5 and SHA-1), as PostgreSQL computes it. `None` for
/// an algorithm without a single hash (Ed25519, RSA-PSS): SCRAM then runs without binding.
fn server_end_point(der: &[u8]) -> Option<Vec<u8>> {
    let hash = signature_hash(der)?;
    Some(match hash {
        Hash::Sha256 => sha2::Sha256::digest(der).to_vec(),
        Hash::Sha384 => sha2::Sha384::digest(der).to_vec(),
        Hash::Sha512 => sha2::Sha512::digest(der).to_vec(),
    })
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Hash {
    Sha256,
    Sha384,
    Sha512,
}

/// The hash of a certificate's signature algorithm: `Certificate ::= SEQUENCE {
/// tbsCertificate, signatureAlgorithm SEQUENCE { algorithm OID, ... }, signature }`.
fn signature_hash(der: &[u8]) -> Option<Hash> {
    let (certificate, _) = der_element(der, 0x30)?;
    let (_tbs, rest) = der_element(certificate, 0x30)?;
    let (algorithm, _) = der_element(rest, 0x30)?;
    let (oid, _) = der_element(algorithm, 0x06)?;
    // 1.2.840.113549.1.1.x (PKCS #1 RSA) and 1.2.840.10045.4.x (ECDSA).
    const RSA: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01];
    const ECDSA: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04];
    if let Some(last) = oid.strip_prefix(RSA) {
        return match last {
            [0x04 | 0x05 | 0x0b | 0x0e] => Some(Hash::Sha256), // md5, sha1, sha256, sha224
            [0x0c] => Some(Hash::Sha384),
            [0x0d] => Some(Hash::Sha512),
            _ => None,
        };
    }
    if let Some(rest) = oid.strip_prefix(ECDSA) {
        return match rest {
            [0x01] | [0x03, 0x01] | [0x03, 0x02] => Some(Hash::Sha256), // sha1, sha224, sha256
            [0x03, 0x03] => Some(Hash::Sha384),
            [0x03, 0x04] => Some(Hash::Sha512),
            _ => None,
        };
    }
    None
}

/// The contents of the DER element at the start of `input` if its tag is `tag`, and what
/// follows it.
fn der_element(input: &[u8], tag: u8) -> Option<(&[u8], &[u8])> {
    let (&first, rest) = input.split_first()?;
    if first != tag {
        return None;
    }
    let (&len0, rest) = rest.split_first()?;
    let (len, rest) = if len0 < 0x80 {
        (usize::from(len0), rest)
    } else {
        let n = usize::from(len0 & 0x7f);
        if n == 0 || n > 4 || rest.len() < n {
            return None;
        }
        let (bytes, rest) = rest.split_at(n);
        let len = bytes
            .iter()
            .fold(0usize, |acc, b| (acc << 8) | usize::from(*b));
        (len, rest)
    };
    if rest.len() < len {
        return None;
    }
    Some(rest.split_at(len))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn settings(s: &str) -> TlsSettings {
        match parse_connection_string(s) {
            Ok((_, settings)) => settings,
            Err(e) => panic!("{s}: {e}"),
        }
    }

    fn refused(s: &str) -> String {
        match parse_connection_string(s) {
            Ok(_) => panic!("{s}: accepted"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn url_modes_and_root_certs() {
        let s = settings("postgres://u@db:5432/outpost");
        assert_eq!(s.mode, SslMode::Prefer);
        assert_eq!(s.root_cert, None);
        let s = settings(
            "postgresql://u:p%40ss@db/outpost?application_name=x&sslmode=verify-full&sslrootcert=/etc/outpost/ca%20bundle.pem",
        );
        assert_eq!(s.mode, SslMode::VerifyFull);
        assert_eq!(
            s.root_cert,
            Some(RootCert::File("/etc/outpost/ca bundle.pem".into()))
        );
        let s = settings("postgres://db/x?sslrootcert=system&sslmode=verify-ca");
        assert_eq!(s.root_cert, Some(RootCert::System));
        assert_eq!(s.verification(), Verification::Chain);
        for (mode, expected) in [
            ("disable", Verification::None),
            ("prefer", Verification::None),
            ("require", Verification::None),
            ("verify-ca", Verification::Chain),
            ("verify-full", Verification::ChainAndName),
        ] {
            let s = settings(&format!("postgres://db/x?sslmode={mode}"));
            assert_eq!(s.mode.as_str(), mode);
            assert_eq!(s.verification(), expected, "{mode}");
        }
        // As in libpq: `require` with a CA file checks the chain.
        let s = settings("postgres://db/x?sslmode=require&sslrootcert=/ca.pem");
        assert_eq!(s.verification(), Verification::Chain);
    }

    #[test]
    fn tokio_postgres_gets_the_rest() {
        let (config, _) = parse_connection_string(
            "postgres://u:p%40ss@db:6543/outpost?sslmode=verify-full&connect_timeout=7&sslrootcert=/ca.pem",
        )
        .unwrap();
        assert_eq!(config.get_user(), Some("u"));
        assert_eq!(config.get_password(), Some(&b"p@ss"[..]));
        assert_eq!(config.get_dbname(), Some("outpost"));
        assert_eq!(config.get_ports(), &[6543]);
        assert_eq!(
            config.get_connect_timeout(),
            Some(&std::time::Duration::from_secs(7))
        );
        assert_eq!(
            config.get_ssl_mode(),
            tokio_postgres::config::SslMode::Require
        );
        let (config, _) = parse_connection_string("postgres://db/x?sslmode=disable").unwrap();
        assert_eq!(
            config.get_ssl_mode(),
            tokio_postgres::config::SslMode::Disable
        );
        let (config, _) = parse_connection_string("postgres://db/x").unwrap();
        assert_eq!(
            config.get_ssl_mode(),
            tokio_postgres::config::SslMode::Prefer
        );
    }

    #[test]
    fn key_value_form() {
        let (config, s) = parse_connection_string(
            "host=db port=5433 user=outpost password='it\\'s secret' dbname = outpost sslmode=verify-full sslrootcert='/etc/my ca.pem'",
        )
        .unwrap();
        assert_eq!(s.mode, SslMode::VerifyFull);
        assert_eq!(s.root_cert, Some(RootCert::File("/etc/my ca.pem".into())));
        assert_eq!(config.get_password(), Some(&b"it's secret"[..]));
        assert_eq!(config.get_dbname(), Some("outpost"));
        assert_eq!(config.get_ports(), &[5433]);
        assert_eq!(
            config.get_ssl_mode(),
            tokio_postgres::config::SslMode::Require
        );
        assert!(refused("host=db sslmode").contains("expected `=`"));
        assert!(refused("host=db password='open").contains("unterminated"));
    }

    #[test]
    fn bad_values_are_refused_by_name() {
        let e = refused("postgres://db/x?sslmode=verify_full");
        assert!(
            e.contains("sslmode=verify_full") && e.contains("verify-full"),
            "{e}"
        );
        let e = refused("postgres://db/x?sslmode=allow");
        assert!(e.contains("sslmode=allow"), "{e}");
        let e = refused("postgres://db/x?sslmode=require&sslmode=disable");
        assert!(e.contains("sslmode is given twice"), "{e}");
        let e = refused("postgres://db/x?sslrootcert=");
        assert!(e.contains("sslrootcert is empty"), "{e}");
        let e = refused("postgres://db/x?sslcert=/c.pem");
        assert!(e.contains("sslcert: client certificates"), "{e}");
        let e = refused("postgres://db/x?sslmode=require&ssl_what=1");
        assert!(e.contains("ssl_what"), "{e}");
        let e = refused("postgres://db/x?sslrootcert=%zz");
        assert!(e.contains("percent"), "{e}");
        let e = refused(&format!(
            "postgres://db/x?application_name={}",
            "a".repeat(9000)
        ));
        assert!(e.contains("longer than"), "{e}");
    }

    #[test]
    fn ca_files_are_read_and_checked() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("missing.pem");
        let settings = TlsSettings {
            mode: SslMode::VerifyFull,
            root_cert: Some(RootCert::File(missing.clone())),
        };
        let e = RustlsConnect::new(&settings).unwrap_err().to_string();
        assert!(
            e.contains("reading sslrootcert") && e.contains("missing.pem"),
            "{e}"
        );
        let empty = dir.path().join("empty.pem");
        std::fs::write(&empty, "not a certificate\n").unwrap();
        let settings = TlsSettings {
            mode: SslMode::VerifyFull,
            root_cert: Some(RootCert::File(empty)),
        };
        let e = RustlsConnect::new(&settings).unwrap_err().to_string();
        assert!(e.contains("no certificate in it"), "{e}");
        let ca = rcgen::generate_simple_self_signed(vec!["ca.test".to_string()]).unwrap();
        let good = dir.path().join("ca.pem");
        std::fs::write(&good, ca.cert.pem()).unwrap();
        let settings = TlsSettings {
            mode: SslMode::VerifyFull,
            root_cert: Some(RootCert::File(good)),
        };
        RustlsConnect::new(&settings).unwrap();
        // The modes that check nothing read no file.
        let settings = TlsSettings {
            mode: SslMode::Prefer,
            root_cert: Some(RootCert::File(missing)),
        };
        RustlsConnect::new(&settings).unwrap();
    }

    #[test]
    fn channel_binding_hash_follows_the_signature_algorithm() {
        for (alg, expected) in [
            (&rcgen::PKCS_ECDSA_P256_SHA256, Some(Hash::Sha256)),
            (&rcgen::PKCS_ECDSA_P384_SHA384, Some(Hash::Sha384)),
            (&rcgen::PKCS_ED25519, None),
        ] {
            let key = rcgen::KeyPair::generate_for(alg).unwrap();
            let cert = rcgen::CertificateParams::new(vec!["db.test".to_string()])
                .unwrap()
                .self_signed(&key)
                .unwrap();
            let der = cert.der();
            assert_eq!(signature_hash(der), expected, "{alg:?}");
            let binding = server_end_point(der);
            match expected {
                Some(Hash::Sha256) => assert_eq!(binding, Some(sha2::Sha256::digest(der).to_vec())),
                Some(Hash::Sha384) => assert_eq!(binding, Some(sha2::Sha384::digest(der).to_vec())),
                _ => assert_eq!(binding, None),
            }
        }
        assert_eq!(signature_hash(&[0x30, 0x82, 0xff]), None);
        assert_eq!(signature_hash(&[]), None);
    }
}
