//! `outpost-server`: serve the sync API, or manage tenants and devices.

use anyhow::{anyhow, Context as _};
use clap::{Parser, Subcommand};
use outpost_server::storage::{open_storage_with, StorageOptions};
use outpost_server::{enroll_device, Role, Storage, StorageConfig};
use serde_json::json;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

mod operator;

use operator::{print_json, resolve_tenant};

#[derive(Parser)]
#[command(
    name = "outpost-server",
    version,
    about = "Outpost sync server and operator commands"
)]
struct Cli {
    /// Read the settings from this TOML file (docs/operations.md, "Configuration"); flags and
    /// environment variables override it.
    #[arg(long, global = true, env = "OUTPOST_CONFIG")]
    config: Option<PathBuf>,
    /// How the log is written: one text line per event, or one JSON object per line.
    #[arg(
        long,
        global = true,
        env = "OUTPOST_LOG_FORMAT",
        value_enum,
        default_value = "text"
    )]
    log_format: operator::config::LogFormat,
    /// Data directory of the embedded SQLite storage (used unless --database-url is given).
    #[arg(
        long,
        global = true,
        env = "OUTPOST_DATA",
        default_value = "outpost-data"
    )]
    data: PathBuf,
    /// PostgreSQL URL (postgres://user@host:port/db); replaces the embedded storage.
    #[arg(long, global = true, env = "OUTPOST_DATABASE_URL")]
    database_url: Option<String>,
    /// Most PostgreSQL connections this process keeps open.
    #[arg(long, global = true, env = "OUTPOST_DATABASE_POOL_SIZE", default_value_t = 16, value_parser = clap::value_parser!(u64).range(1..=1000))]
    database_pool_size: u64,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the sync API until SIGINT or SIGTERM.
    Serve {
        /// Address to listen on (port 0 picks a free port).
        #[arg(long, env = "OUTPOST_LISTEN", default_value = "127.0.0.1:8737")]
        listen: String,
        /// Also listen here for `/metrics` and `/healthz` only; the API port then answers no
        /// `/metrics`.
        #[arg(long, env = "OUTPOST_ADMIN_LISTEN")]
        admin_listen: Option<String>,
        #[command(flatten)]
        bounds: ServeBounds,
    },
    /// The configuration file.
    Config {
        #[command(subcommand)]
        command: ConfigCommand,
    },
    /// The store's backups and checks.
    #[command(flatten)]
    Store(StoreCommand),
    /// Tenants, devices, users and their settings.
    #[command(flatten)]
    Manage(ManageCommand),
}

#[derive(Subcommand)]
enum ConfigCommand {
    /// Validate a configuration file: prints the settings it holds, or names the key that is
    /// wrong (exit status 1).
    Check {
        /// The TOML file.
        file: PathBuf,
    },
}

/// Commands on the store as a whole (`docs/operations.md`, "Backup and restore").
#[derive(Subcommand)]
enum StoreCommand {
    /// Copy the embedded store (records, log, files, audit trail) to FILE while it serves; prints
    /// {file, bytes, tenants, log_entries, blobs}. On PostgreSQL use pg_dump
    /// (docs/operations.md).
    Backup {
        /// The backup file to write (must not exist).
        #[arg(long)]
        to: PathBuf,
    },
    /// Replace the embedded store with a backup: refused while a server serves the data
    /// directory; the current store is moved aside, never deleted; the log's identity is
    /// renewed, so that every device sends again what the backup lacks.
    Restore {
        /// The backup file (from `backup`).
        #[arg(long)]
        from: PathBuf,
    },
    /// After restoring the store by other means (pg_restore, a copied file): renew the log's
    /// identity, so that every device sends again what the restored store lacks.
    Restored,
    /// Verify the store: SQLite's integrity and every file's hash (embedded store), every
    /// audit chain. Exit status 1 when anything is wrong.
    Check,
}

/// The operator's commands on tenants, devices, users and their settings.
#[derive(Subcommand)]
enum ManageCommand {
    /// Manage tenants.
    Tenant {
        #[command(subcommand)]
        command: TenantCommand,
    },
    /// Manage devices.
    Device {
        #[command(subcommand)]
        command: DeviceCommand,
    },
    /// The audit trail: verify its hash chains, export it.
    Audit {
        #[command(subcommand)]
        command: operator::security::AuditCommand,
    },
    /// Manage users (offboarding).
    User {
        #[command(subcommand)]
        command: operator::security::UserCommand,
    },
    /// A tenant's field-workflow settings (stages and gates, visit radius, stale limits, tiers,
    /// calendar overrides); devices receive them at their next sync.
    Flow {
        #[command(subcommand)]
        command: FlowCommand,
    },
    /// A tenant's lead routing rules: who gets each new contact, decided at sync.
    Routing {
        #[command(subcommand)]
        command: operator::routing::RoutingCommand,
    },
    /// A tenant's roles and their permissions.
    Role {
        #[command(subcommand)]
        command: operator::access::RoleCommand,
    },
    /// A tenant's teams: a manager sees their members' records.
    Team {
        #[command(subcommand)]
        command: operator::access::TeamCommand,
    },
    /// Share records with users outside their owner's scope.
    Share {
        #[command(subcommand)]
        command: operator::access::ShareCommand,
    },
    /// Operator changes to records (reassignment).
    Record {
        #[command(subcommand)]
        command: operator::access::RecordCommand,
    },
    /// Reports built from what devices send.
    Report {
        #[command(subcommand)]
        command: ReportCommand,
    },
}

/// The listener's bounds (`docs/security.md`, "Bounds"); each has an environment variable too.
#[derive(clap::Args)]
struct ServeBounds {
    /// Seconds a client may take to send a request's headers (then the connection is closed).
    #[arg(long, env = "OUTPOST_HEADER_READ_TIMEOUT_SECS", default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=3600))]
    header_read_timeout_secs: u64,
    /// Seconds a kept-alive connection may stay idle between requests.
    #[arg(long, env = "OUTPOST_KEEP_ALIVE_TIMEOUT_SECS", default_value_t = 5, value_parser = clap::value_parser!(u64).range(1..=3600))]
    keep_alive_timeout_secs: u64,
    /// Seconds without a byte moving while a request is handled before the connection is closed.
    #[arg(long, env = "OUTPOST_IDLE_TIMEOUT_SECS", default_value_t = 120, value_parser = clap::value_parser!(u64).range(1..=86400))]
    idle_timeout_secs: u64,
    /// Connections served at once; more wait in the listen backlog.
    #[arg(long, env = "OUTPOST_MAX_CONNECTIONS", default_value_t = 512, value_parser = clap::value_parser!(u64).range(1..=100_000))]
    max_connections: u64,
    /// Hours after its last chunk that an unfinished blob upload is discarded.
    #[arg(long, env = "OUTPOST_UPLOAD_EXPIRY_HOURS", default_value_t = 24, value_parser = clap::value_parser!(u64).range(1..=24 * 365))]
    upload_expiry_hours: u64,
    /// A reverse proxy (address or CIDR range, repeatable) whose forwarding header gives the
    /// client address; without one, forwarding headers are ignored (docs/operations.md).
    #[arg(
        long = "trusted-proxy",
        value_name = "CIDR",
        env = "OUTPOST_TRUSTED_PROXIES",
        value_delimiter = ','
    )]
    trusted_proxies: Vec<outpost_server::ratelimit::proxy::Cidr>,
    /// The header the trusted proxies write the client address into: x-forwarded-for or
    /// forwarded (RFC 7239). Only that one is read.
    #[arg(
        long,
        env = "OUTPOST_FORWARDED_HEADER",
        default_value = "x-forwarded-for"
    )]
    forwarded_header: outpost_server::ratelimit::proxy::ForwardedHeader,
    /// Requests a minute one device may make (past it: 429 with Retry-After).
    #[arg(long, env = "OUTPOST_DEVICE_RATE_LIMIT", default_value_t = 600, value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    device_rate_limit: u32,
    /// Requests one device may make at once after a quiet spell (default: the rate limit).
    #[arg(long, env = "OUTPOST_DEVICE_RATE_BURST", value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    device_rate_burst: Option<u32>,
    /// Failed logins (bad tokens or enrolment codes) allowed per client address in a window.
    #[arg(long, env = "OUTPOST_AUTH_MAX_FAILURES", default_value_t = 20, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    auth_max_failures: u32,
    /// Failed logins allowed per presented token in a window.
    #[arg(long, env = "OUTPOST_AUTH_MAX_TOKEN_FAILURES", default_value_t = 5, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    auth_max_token_failures: u32,
    /// The failed-login window, in seconds.
    #[arg(long, env = "OUTPOST_AUTH_WINDOW_SECS", default_value_t = 60, value_parser = clap::value_parser!(u64).range(1..=86_400))]
    auth_window_secs: u64,
    /// Serve the API over HTTPS with this PEM certificate chain (server certificate first);
    /// needs --tls-key. Without it the API is plain HTTP, for a TLS-terminating proxy.
    #[arg(
        long,
        env = "OUTPOST_TLS_CERT",
        value_name = "PEM",
        requires = "tls_key"
    )]
    tls_cert: Option<PathBuf>,
    /// The PEM private key of --tls-cert.
    #[arg(
        long,
        env = "OUTPOST_TLS_KEY",
        value_name = "PEM",
        requires = "tls_cert"
    )]
    tls_key: Option<PathBuf>,
}

impl ServeBounds {
    fn options(&self) -> anyhow::Result<outpost_server::ServerOptions> {
        use outpost_server::ratelimit::{device::DeviceRate, proxy::TrustedProxies};
        use std::time::Duration;
        let trusted_proxies =
            TrustedProxies::new(self.trusted_proxies.clone(), self.forwarded_header)
                .context("--trusted-proxy")?;
        Ok(outpost_server::ServerOptions {
            header_read_timeout: Duration::from_secs(self.header_read_timeout_secs),
            keep_alive_timeout: Duration::from_secs(self.keep_alive_timeout_secs),
            idle_timeout: Duration::from_secs(self.idle_timeout_secs),
            max_connections: usize::try_from(self.max_connections).unwrap_or(usize::MAX),
            upload_expiry: Duration::from_secs(self.upload_expiry_hours * 3600),
            device_rate: DeviceRate {
                per_minute: self.device_rate_limit,
                burst: self.device_rate_burst.unwrap_or(self.device_rate_limit),
            },
            trusted_proxies,
            tls: match (&self.tls_cert, &self.tls_key) {
                (Some(cert), Some(key)) => Some(
                    outpost_server::options::ServerTls::load(cert, key)
                        .context("--tls-cert/--tls-key")?,
                ),
                (None, None) => None,
                _ => anyhow::bail!("--tls-cert and --tls-key go together"),
            },
            auth_limits: outpost_server::ratelimit::LimitConfig {
                max_failures: self.auth_max_failures,
                max_token_failures: self.auth_max_token_failures,
                window: Duration::from_secs(self.auth_window_secs),
            },
            ..outpost_server::ServerOptions::default()
        })
    }
}

#[derive(Subcommand)]
enum ReportCommand {
    /// A tenant's experience health as JSON: offline-created records that reached the server,
    /// action times, quick-create time, failed syncs by reason, crashes recovered.
    Health {
        /// Tenant id or name.
        #[arg(long)]
        tenant: String,
    },
}

#[derive(Subcommand)]
enum FlowCommand {
    /// Print the tenant's settings.
    Get {
        /// Tenant id or name.
        #[arg(long)]
        tenant: String,
    },
    /// Set the tenant's settings from a JSON file (missing keys take their defaults).
    Set {
        /// Tenant id or name.
        #[arg(long)]
        tenant: String,
        /// The JSON file.
        file: std::path::PathBuf,
    },
}

#[derive(Subcommand)]
enum TenantCommand {
    /// List every tenant with its active devices.
    List,
    /// Create a tenant; prints {id, name, sharing}.
    Create {
        /// The unique tenant name.
        name: String,
        /// `private` (users see what their role's scope gives them) or `open` (everyone reads
        /// every record; restricted fields and write permissions still apply).
        #[arg(long, default_value = "private")]
        sharing: outpost_server::Sharing,
    },
    /// Set the tenant's device lease, sent to every device at its next sync: a device that has
    /// not synced for DAYS locks itself, and GRACE_DAYS later wipes its data, offline.
    Lease {
        /// Tenant id or name.
        #[arg(long)]
        tenant: String,
        /// Days without a sync before a device locks (1 to 365).
        #[arg(long, required_unless_present = "clear")]
        days: Option<u32>,
        /// Further days before a locked device wipes itself (1 to 365).
        #[arg(long, required_unless_present = "clear")]
        grace_days: Option<u32>,
        /// Stop sending a lease (devices keep the last one they received).
        #[arg(long, conflicts_with_all = ["days", "grace_days"])]
        clear: bool,
    },
    /// Set a tenant's sharing model: private or open.
    Sharing {
        /// Tenant id or name.
        #[arg(long)]
        tenant: String,
        /// `private` or `open`.
        sharing: outpost_server::Sharing,
    },
}

#[derive(Subcommand)]
enum DeviceCommand {
    /// Enroll a device; prints {device_id, token} (the token is shown only once).
    Enroll {
        /// Tenant id or name.
        #[arg(long)]
        tenant: String,
        /// The user signed in on the device.
        #[arg(long)]
        user: String,
        /// The user's role: rep, manager, director, finance, admin, or one the tenant defined
        /// (`role set`).
        #[arg(long, default_value = "rep")]
        role: Role,
    },
    /// Invite a user to enrol a phone: prints a one-time code (`outpost enroll --code`), and
    /// with --qr writes a QR code PNG of the code and the server's address.
    Invite {
        /// Tenant id or name.
        #[arg(long)]
        tenant: String,
        /// The user who will sign in on the device.
        #[arg(long)]
        user: String,
        /// The user's role: rep, manager, director, finance, admin, or one the tenant defined.
        #[arg(long, default_value = "rep")]
        role: Role,
        /// How long the code works: 30m, 24h, 7d (at most 30 days).
        #[arg(long, default_value = "24h")]
        expires: String,
        /// Also write a QR code PNG here (needs --server).
        #[arg(long, requires = "server")]
        qr: Option<PathBuf>,
        /// The address phones reach this server at, put in the QR code.
        #[arg(long)]
        server: Option<String>,
    },
    /// Give a device a new token (printed once); the old token stops at once.
    Rotate {
        /// The device id.
        device_id: String,
    },
    /// Revoke a device: its next sync is refused and it wipes its data.
    Revoke {
        /// The device id.
        device_id: String,
    },
    /// List a tenant's devices (no tokens) with their last sync, app version and outbox.
    List {
        /// Tenant id or name.
        #[arg(long)]
        tenant: String,
    },
}

fn main() -> ExitCode {
    use clap::{CommandFactory, FromArgMatches};
    let parsed = Cli::command()
        .try_get_matches()
        .and_then(|m| Cli::from_arg_matches(&m).map(|cli| (cli, m)));
    let cli = match parsed {
        Ok((mut cli, matches)) => {
            if let Some(path) = cli.config.clone() {
                match operator::config::load(&path) {
                    Ok(file) => operator::config::apply(&mut cli, &matches, file),
                    Err(e) => {
                        eprintln!("error: {}", format!("{e:#}").replace('\n', " "));
                        return ExitCode::from(2);
                    }
                }
            }
            cli
        }
        Err(e) if e.use_stderr() => {
            // One line, like every other error of this binary.
            let rendered = e.render().to_string();
            let first = rendered
                .lines()
                .next()
                .unwrap_or("error: invalid arguments");
            eprintln!("{first}");
            return ExitCode::from(2);
        }
        Err(e) => {
            let _ = e.print(); // --help, --version
            return ExitCode::SUCCESS;
        }
    };
    let default_level = if matches!(cli.command, Command::Serve { .. }) {
        "info"
    } else {
        "warn"
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default_level));
    let log = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(filter);
    match cli.log_format {
        operator::config::LogFormat::Json => log.json().init(),
        operator::config::LogFormat::Text => log
            .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
            .init(),
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: starting the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {}", format!("{e:#}").replace('\n', " "));
            ExitCode::FAILURE
        }
    }
}

fn storage_options(pool_size: u64) -> StorageOptions {
    StorageOptions {
        pool_size: usize::try_from(pool_size).unwrap_or(usize::MAX),
    }
}

fn storage_config(cli: &Cli) -> StorageConfig {
    match cli.database_url.as_deref().filter(|u| !u.is_empty()) {
        Some(url) => StorageConfig::Postgres(url.to_string()),
        None => StorageConfig::Sqlite(cli.data.clone()),
    }
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    let cli_pool = cli.database_pool_size;
    let config = storage_config(&cli);
    match cli.command {
        // These open the store themselves (a restore must not find it open).
        Command::Store(command) => store_command(command, &config).await,
        Command::Config {
            command: ConfigCommand::Check { file },
        } => {
            let config = operator::config::load(&file)?;
            print_json(
                &json!({ "ok": true, "file": file.display().to_string(), "settings": config }),
            )
        }
        Command::Serve {
            listen,
            admin_listen,
            bounds,
        } => {
            // A serving process holds its data directory: a restore waits for it to stop.
            let _serving = match &config {
                StorageConfig::Sqlite(dir) => Some(
                    outpost_server::storage::sqlite::backup::ServeLock::take(dir)
                        .context("locking the data directory")?,
                ),
                StorageConfig::Postgres(_) => None,
            };
            let storage = open_storage_with(&config, storage_options(cli_pool))
                .await
                .context("opening storage")?;
            serve(&listen, admin_listen.as_deref(), storage, bounds.options()?).await
        }
        Command::Manage(command) => {
            let storage = open_storage_with(&config, storage_options(cli_pool))
                .await
                .context("opening storage")?;
            manage_command(command, storage).await
        }
    }
}

async fn store_command(command: StoreCommand, config: &StorageConfig) -> anyhow::Result<()> {
    match command {
        StoreCommand::Backup { to } => operator::backup::backup(config, &to).await,
        StoreCommand::Restore { from } => operator::backup::restore(config, &from).await,
        StoreCommand::Restored => operator::backup::restored(config).await,
        StoreCommand::Check => {
            if operator::backup::check(config).await? {
                Ok(())
            } else {
                Err(anyhow!(
                    "check: the store has problems (see the list above)"
                ))
            }
        }
    }
}

async fn manage_command(command: ManageCommand, storage: Arc<dyn Storage>) -> anyhow::Result<()> {
    match command {
        ManageCommand::Tenant {
            command: TenantCommand::Create { name, sharing },
        } => {
            let tenant = storage.create_tenant(&name).await?;
            if sharing != outpost_server::Sharing::Private {
                storage.set_sharing(&tenant.id, sharing).await?;
            }
            print_json(&json!({ "id": tenant.id, "name": tenant.name, "sharing": sharing }))
        }
        ManageCommand::Tenant {
            command: TenantCommand::List,
        } => operator::enrol::tenants(&*storage).await,
        ManageCommand::Tenant {
            command: TenantCommand::Sharing { tenant, sharing },
        } => operator::access::set_sharing(&*storage, &tenant, sharing).await,
        ManageCommand::Tenant {
            command:
                TenantCommand::Lease {
                    tenant,
                    days,
                    grace_days,
                    clear: _,
                },
        } => operator::access::set_lease(&*storage, &tenant, days.zip(grace_days)).await,
        ManageCommand::Role { command } => operator::access::role_command(command, &*storage).await,
        ManageCommand::Team { command } => operator::access::team_command(command, &*storage).await,
        ManageCommand::Share { command } => {
            operator::access::share_command(command, &*storage).await
        }
        ManageCommand::Record { command } => {
            operator::access::record_command(command, &*storage).await
        }
        ManageCommand::Device { command } => device_command(command, &*storage).await,
        ManageCommand::Audit { command } => {
            if operator::security::audit_command(command, &*storage).await? {
                Ok(())
            } else {
                Err(anyhow!(
                    "audit verify: the audit trail was tampered with (see the problems above)"
                ))
            }
        }
        ManageCommand::User { command } => {
            operator::security::user_command(command, &*storage).await
        }
        ManageCommand::Flow { command } => flow_command(command, &*storage).await,
        ManageCommand::Routing { command } => {
            operator::routing::routing_command(command, &*storage).await
        }
        ManageCommand::Report {
            command: ReportCommand::Health { tenant },
        } => {
            let report = outpost_server::reports::tenant_health(&*storage, &tenant)
                .await
                .with_context(|| format!("report health --tenant {tenant}"))?;
            print_json(&serde_json::to_value(&report)?)
        }
    }
}

async fn serve(
    listen: &str,
    admin_listen: Option<&str>,
    storage: Arc<dyn Storage>,
    options: outpost_server::ServerOptions,
) -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("listening on {listen}"))?;
    let admin = match admin_listen {
        Some(admin) => Some(
            tokio::net::TcpListener::bind(admin)
                .await
                .with_context(|| format!("--admin-listen {admin}"))?,
        ),
        None => None,
    };
    let addr = listener.local_addr()?;
    tracing::info!(%addr, backend = storage.backend(), "serving");
    // The API's line first: scripts wait for the first "listening on".
    eprintln!("outpost-server listening on {addr}");
    if let Some(tls) = &options.tls {
        tracing::info!(?tls, "the API serves HTTPS");
        eprintln!("outpost-server serves HTTPS: https://{addr}");
    }
    if let Some(admin) = &admin {
        let admin = admin.local_addr()?;
        tracing::info!(%admin, "serving /metrics and /healthz");
        eprintln!("outpost-server admin (metrics, health) on {admin}");
    }
    outpost_server::launch_with_admin(listener, admin, storage, options, shutdown_signal()).await?;
    tracing::info!("stopped");
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(e) = tokio::signal::ctrl_c().await {
            tracing::error!(cause = %e, "cannot listen for SIGINT");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(e) => {
                tracing::error!(cause = %e, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
    tracing::info!("shutting down: finishing requests in flight");
}

async fn device_command(command: DeviceCommand, storage: &dyn Storage) -> anyhow::Result<()> {
    match command {
        DeviceCommand::Enroll { tenant, user, role } => {
            let tenant_id = resolve_tenant(storage, &tenant).await?;
            let enrolled = enroll_device(storage, &tenant_id, &user, role).await?;
            let enrolled_event = outpost_server::audit::event::DEVICE_ENROLL;
            operator::security::record_device(
                storage,
                enrolled_event,
                &tenant_id,
                &user,
                &enrolled.device_id,
            )
            .await?;
            print_json(&json!({ "device_id": enrolled.device_id, "token": enrolled.token }))
        }
        DeviceCommand::Revoke { device_id } => {
            let device = storage.revoke_device(&device_id).await?;
            let revoked_event = outpost_server::audit::event::DEVICE_REVOKE;
            operator::security::record_device(
                storage,
                revoked_event,
                &device.tenant_id,
                &device.user_id,
                &device.id,
            )
            .await?;
            print_json(&operator::enrol::device_json(&device))
        }
        DeviceCommand::List { tenant } => operator::enrol::list(storage, &tenant).await,
        DeviceCommand::Invite {
            tenant,
            user,
            role,
            expires,
            qr,
            server,
        } => {
            let qr = qr.as_deref().zip(server.as_deref());
            operator::enrol::invite(storage, &tenant, &user, role, &expires, qr).await
        }
        DeviceCommand::Rotate { device_id } => operator::enrol::rotate(storage, &device_id).await,
    }
}

async fn flow_command(command: FlowCommand, storage: &dyn Storage) -> anyhow::Result<()> {
    match command {
        FlowCommand::Get { tenant } => {
            let tenant = resolve_tenant(storage, &tenant).await?;
            let config = outpost_server::flow::tenant_flow(storage, &tenant).await?;
            print_json(&serde_json::to_value(config)?)
        }
        FlowCommand::Set { tenant, file } => {
            let tenant = resolve_tenant(storage, &tenant).await?;
            let text = std::fs::read_to_string(&file)
                .with_context(|| format!("reading {}", file.display()))?;
            let config: outpost_core::FlowConfig = serde_json::from_str(&text)
                .with_context(|| format!("{}: not valid flow settings", file.display()))?;
            let changed = outpost_server::flow::set_tenant_flow(storage, &tenant, &config).await?;
            let e = outpost_server::audit::AuditEvent::new(
                &tenant,
                outpost_server::audit::event::FLOW_SET,
                &json!({ "changed": changed }),
            )
            .from_remote("operator");
            storage.audit_append(e).await?;
            print_json(&json!({ "tenant": tenant, "changed": changed, "flow": config }))
        }
    }
}
