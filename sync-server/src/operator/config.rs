//! `--config FILE`: every setting of `outpost-server` in one TOML file. Flags and environment
//! variables override the file; the file overrides the defaults. `outpost-server config check
//! FILE` validates it, naming the key that is wrong (`docs/operations.md`, "Configuration").

use anyhow::{anyhow, Context as _};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// The largest configuration file read.
const MAX_CONFIG_BYTES: u64 = 256 * 1024;

/// The settings a configuration file may hold; every key is optional, unknown keys are errors.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    /// Data directory of the embedded store.
    pub data: Option<PathBuf>,
    /// PostgreSQL URL; replaces the embedded store.
    pub database_url: Option<String>,
    /// Most PostgreSQL connections per process (1 to 1000).
    pub database_pool_size: Option<u64>,
    /// `text` or `json`.
    pub log_format: Option<LogFormat>,
    /// What `serve` does.
    #[serde(default)]
    pub serve: ServeConfig,
}

/// The `[serve]` table.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ServeConfig {
    /// The API's address.
    pub listen: Option<String>,
    /// Where `/metrics` and `/healthz` are served apart from the API.
    pub admin_listen: Option<String>,
    /// Seconds a client may take to send a request's headers (1 to 3600).
    pub header_read_timeout_secs: Option<u64>,
    /// Seconds a kept-alive connection may stay idle (1 to 3600).
    pub keep_alive_timeout_secs: Option<u64>,
    /// Seconds without a byte moving while a request is handled (1 to 86400).
    pub idle_timeout_secs: Option<u64>,
    /// Connections served at once (1 to 100000).
    pub max_connections: Option<u64>,
    /// Hours an unfinished upload is kept (1 to 8760).
    pub upload_expiry_hours: Option<u64>,
    /// Reverse proxies whose forwarding header gives the client address (addresses or CIDR
    /// ranges).
    pub trusted_proxies: Option<Vec<String>>,
    /// `x-forwarded-for` or `forwarded`.
    pub forwarded_header: Option<String>,
    /// Requests a device may make per minute (1 to 1000000).
    pub device_rate_limit: Option<u32>,
    /// Requests a device may make in a burst (1 to 1000000).
    pub device_rate_burst: Option<u32>,
    /// Failed logins allowed per client address in the window (1 to 100000).
    pub auth_max_failures: Option<u32>,
    /// Failed logins allowed per presented token in the window (1 to 100000).
    pub auth_max_token_failures: Option<u32>,
    /// The failed-login window in seconds (1 to 86400).
    pub auth_window_secs: Option<u64>,
    /// HTTPS on the API: the PEM certificate chain (with `tls_key`).
    pub tls_cert: Option<PathBuf>,
    /// HTTPS on the API: the certificate's PEM private key.
    pub tls_key: Option<PathBuf>,
}

/// How the server writes its log.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// One human-readable line per event.
    #[default]
    Text,
    /// One JSON object per line, for a log collector.
    Json,
}

/// Reads and validates a configuration file; errors name the file, the key and the line.
pub fn load(path: &Path) -> anyhow::Result<FileConfig> {
    let size = std::fs::metadata(path)
        .with_context(|| format!("config {}", path.display()))?
        .len();
    if size > MAX_CONFIG_BYTES {
        return Err(anyhow!(
            "config {}: {size} bytes, a configuration file is at most {MAX_CONFIG_BYTES}",
            path.display()
        ));
    }
    let text =
        std::fs::read_to_string(path).with_context(|| format!("config {}", path.display()))?;
    let config: FileConfig = toml::from_str(&text)
        .map_err(|e| anyhow!("config {}: {}", path.display(), e.to_string().trim_end()))?;
    validate(&config).map_err(|e| anyhow!("config {}: {e}", path.display()))?;
    Ok(config)
}

/// Checks what TOML's types do not: ranges, addresses and URLs.
fn validate(c: &FileConfig) -> anyhow::Result<()> {
    if let Some(url) = &c.database_url {
        if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
            return Err(anyhow!("database_url: a postgres:// URL, got {url:?}"));
        }
    }
    if let Some(n) = c.database_pool_size {
        if !(1..=1000).contains(&n) {
            return Err(anyhow!("database_pool_size: {n} is outside 1 to 1000"));
        }
    }
    let s = &c.serve;
    for (key, addr) in [
        ("serve.listen", &s.listen),
        ("serve.admin_listen", &s.admin_listen),
    ] {
        if let Some(addr) = addr {
            if addr
                .rsplit_once(':')
                .is_none_or(|(_, port)| port.parse::<u16>().is_err())
            {
                return Err(anyhow!("{key}: HOST:PORT, got {addr:?}"));
            }
        }
    }
    for (i, range) in s.trusted_proxies.iter().flatten().enumerate() {
        range
            .parse::<outpost_server::ratelimit::proxy::Cidr>()
            .map_err(|e| anyhow!("serve.trusted_proxies[{i}]: {e}"))?;
    }
    if let Some(h) = &s.forwarded_header {
        forwarded_header(h)?;
    }
    let ranges: [(&str, Option<u64>, u64, u64); 10] = [
        (
            "serve.header_read_timeout_secs",
            s.header_read_timeout_secs,
            1,
            3600,
        ),
        (
            "serve.keep_alive_timeout_secs",
            s.keep_alive_timeout_secs,
            1,
            3600,
        ),
        ("serve.idle_timeout_secs", s.idle_timeout_secs, 1, 86_400),
        ("serve.max_connections", s.max_connections, 1, 100_000),
        (
            "serve.upload_expiry_hours",
            s.upload_expiry_hours,
            1,
            24 * 365,
        ),
        (
            "serve.device_rate_limit",
            s.device_rate_limit.map(u64::from),
            1,
            1_000_000,
        ),
        (
            "serve.device_rate_burst",
            s.device_rate_burst.map(u64::from),
            1,
            1_000_000,
        ),
        (
            "serve.auth_max_failures",
            s.auth_max_failures.map(u64::from),
            1,
            100_000,
        ),
        (
            "serve.auth_max_token_failures",
            s.auth_max_token_failures.map(u64::from),
            1,
            100_000,
        ),
        ("serve.auth_window_secs", s.auth_window_secs, 1, 86_400),
    ];
    for (key, value, low, high) in ranges {
        if let Some(v) = value {
            if !(low..=high).contains(&v) {
                return Err(anyhow!("{key}: {v} is outside {low} to {high}"));
            }
        }
    }
    Ok(())
}

fn forwarded_header(
    text: &str,
) -> anyhow::Result<outpost_server::ratelimit::proxy::ForwardedHeader> {
    text.parse()
        .map_err(|e| anyhow!("serve.forwarded_header: {e}"))
}

/// Fills every setting not given by a flag or an environment variable from the file.
pub fn apply(cli: &mut crate::Cli, matches: &clap::ArgMatches, file: FileConfig) {
    use clap::parser::ValueSource;
    fn unset(m: Option<&clap::ArgMatches>, id: &str) -> bool {
        m.is_none_or(|m| matches!(m.value_source(id), None | Some(ValueSource::DefaultValue)))
    }
    let top = Some(matches);
    if let (true, Some(data)) = (unset(top, "data"), file.data) {
        cli.data = data;
    }
    if let (true, Some(url)) = (unset(top, "database_url"), file.database_url) {
        cli.database_url = Some(url);
    }
    if let (true, Some(n)) = (unset(top, "database_pool_size"), file.database_pool_size) {
        cli.database_pool_size = n;
    }
    if let (true, Some(format)) = (unset(top, "log_format"), file.log_format) {
        cli.log_format = format;
    }
    if let crate::Command::Serve {
        listen,
        admin_listen,
        bounds,
    } = &mut cli.command
    {
        let serve = matches.subcommand_matches("serve");
        let s = file.serve;
        let pairs: [(&str, Option<u64>, &mut u64); 5] = [
            (
                "header_read_timeout_secs",
                s.header_read_timeout_secs,
                &mut bounds.header_read_timeout_secs,
            ),
            (
                "keep_alive_timeout_secs",
                s.keep_alive_timeout_secs,
                &mut bounds.keep_alive_timeout_secs,
            ),
            (
                "idle_timeout_secs",
                s.idle_timeout_secs,
                &mut bounds.idle_timeout_secs,
            ),
            (
                "max_connections",
                s.max_connections,
                &mut bounds.max_connections,
            ),
            (
                "upload_expiry_hours",
                s.upload_expiry_hours,
                &mut bounds.upload_expiry_hours,
            ),
        ];
        for (id, value, slot) in pairs {
            if let (true, Some(v)) = (unset(serve, id), value) {
                *slot = v;
            }
        }
        let counts: [(&str, Option<u32>, &mut u32); 3] = [
            (
                "device_rate_limit",
                s.device_rate_limit,
                &mut bounds.device_rate_limit,
            ),
            (
                "auth_max_failures",
                s.auth_max_failures,
                &mut bounds.auth_max_failures,
            ),
            (
                "auth_max_token_failures",
                s.auth_max_token_failures,
                &mut bounds.auth_max_token_failures,
            ),
        ];
        for (id, value, slot) in counts {
            if let (true, Some(v)) = (unset(serve, id), value) {
                *slot = v;
            }
        }
        if let (true, Some(v)) = (unset(serve, "auth_window_secs"), s.auth_window_secs) {
            bounds.auth_window_secs = v;
        }
        if let (true, Some(v)) = (unset(serve, "device_rate_burst"), s.device_rate_burst) {
            bounds.device_rate_burst = Some(v);
        }
        if let (true, Some(list)) = (unset(serve, "trusted_proxies"), s.trusted_proxies) {
            // Checked by `load`: every range parses.
            bounds.trusted_proxies = list.iter().filter_map(|r| r.parse().ok()).collect();
        }
        if let (true, Some(h)) = (unset(serve, "forwarded_header"), s.forwarded_header) {
            if let Ok(h) = forwarded_header(&h) {
                bounds.forwarded_header = h;
            }
        }
        if let (true, Some(l)) = (unset(serve, "listen"), s.listen) {
            *listen = l;
        }
        if let (true, Some(a)) = (unset(serve, "admin_listen"), s.admin_listen) {
            *admin_listen = Some(a);
        }
        if let (true, Some(c)) = (unset(serve, "tls_cert"), s.tls_cert) {
            bounds.tls_cert = Some(c);
        }
        if let (true, Some(k)) = (unset(serve, "tls_key"), s.tls_key) {
            bounds.tls_key = Some(k);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> anyhow::Result<FileConfig> {
        let config: FileConfig = toml::from_str(text).map_err(|e| anyhow!("{e}"))?;
        validate(&config)?;
        Ok(config)
    }

    #[test]
    fn a_full_file_reads_and_wrong_keys_are_named() -> anyhow::Result<()> {
        let c = parse(
            r#"
            data = "/var/lib/outpost"
            log_format = "json"
            [serve]
            listen = "0.0.0.0:8737"
            admin_listen = "127.0.0.1:9737"
            max_connections = 2000
            "#,
        )?;
        assert_eq!(c.log_format, Some(LogFormat::Json));
        assert_eq!(c.serve.max_connections, Some(2000));
        let unknown = parse("[serve]\nlisten_port = 8737\n")
            .err()
            .map(|e| e.to_string());
        assert!(
            unknown
                .as_deref()
                .is_some_and(|e| e.contains("listen_port")),
            "{unknown:?}"
        );
        let range = parse("[serve]\nidle_timeout_secs = 0\n")
            .err()
            .map(|e| e.to_string());
        assert!(
            range
                .as_deref()
                .is_some_and(|e| e.contains("serve.idle_timeout_secs")),
            "{range:?}"
        );
        let kind = parse("[serve]\nmax_connections = \"many\"\n")
            .err()
            .map(|e| e.to_string());
        assert!(
            kind.as_deref()
                .is_some_and(|e| e.contains("max_connections")),
            "{kind:?}"
        );
        let addr = parse("[serve]\nlisten = \"8737\"\n")
            .err()
            .map(|e| e.to_string());
        assert!(
            addr.as_deref().is_some_and(|e| e.contains("serve.listen")),
            "{addr:?}"
        );
        let proxies = parse("[serve]\ntrusted_proxies = [\"10.0.0.0/8\", \"10.1.2.3/8\"]\n")
            .err()
            .map(|e| e.to_string());
        assert!(
            proxies
                .as_deref()
                .is_some_and(|e| e.contains("serve.trusted_proxies[1]")),
            "{proxies:?}"
        );
        let header = parse("[serve]\nforwarded_header = \"x-real-ip\"\n")
            .err()
            .map(|e| e.to_string());
        assert!(
            header
                .as_deref()
                .is_some_and(|e| e.contains("serve.forwarded_header")),
            "{header:?}"
        );
        let ok = parse(
            "[serve]\ntrusted_proxies = [\"127.0.0.1\", \"fd00::/8\"]\ndevice_rate_limit = 120\nauth_window_secs = 30\n",
        )?;
        assert_eq!(ok.serve.device_rate_limit, Some(120));
        let url = parse("database_url = \"mysql://x\"\n")
            .err()
            .map(|e| e.to_string());
        assert!(
            url.as_deref().is_some_and(|e| e.contains("database_url")),
            "{url:?}"
        );
        Ok(())
    }
}
