//! Real processes for end-to-end tests: the `outpost-server` binary on a port-0 listener and
//! `outpost` CLI devices, each on its own database file.

use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Errors of the test harness.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("..")
                .join("target")
        })
}

/// The path of a workspace binary, built first if needed (a no-op when `cargo test --workspace`
/// already built it).
pub fn binary(package: &str, name: &str) -> Result<PathBuf, BoxError> {
    // Once per binary and test process: parallel tests would otherwise queue on cargo's lock.
    static BUILT: std::sync::Mutex<Vec<String>> = std::sync::Mutex::new(Vec::new());
    let mut built = BUILT.lock().unwrap_or_else(|p| p.into_inner());
    let path = target_dir().join("debug").join(name);
    if built.iter().any(|b| b == name) {
        return Ok(path);
    }
    let status = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .args(["build", "--quiet", "-p", package, "--bin", name])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .status()?;
    if !status.success() {
        return Err(format!("cargo build -p {package} failed").into());
    }
    built.push(name.to_string());
    Ok(path)
}

/// A running `outpost-server serve` on embedded SQLite in its own directory, or on PostgreSQL.
pub struct Server {
    child: Option<Child>,
    /// Its data directory.
    pub data: PathBuf,
    /// Its PostgreSQL URL, when it runs on PostgreSQL.
    pub database_url: Option<String>,
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    /// The port it listens on.
    pub port: u16,
}

impl Server {
    /// Starts a server on `listen` (e.g. `127.0.0.1:0`) with data in `data`.
    pub fn start(data: &Path, listen: &str) -> Result<Server, BoxError> {
        Server::start_on(data, None, listen)
    }

    /// Starts a server on `listen` with data in `data`, or in the PostgreSQL database at
    /// `database_url` when given.
    pub fn start_on(
        data: &Path,
        database_url: Option<&str>,
        listen: &str,
    ) -> Result<Server, BoxError> {
        Server::start_with(data, database_url, listen, None)
    }

    /// Starts a server on `127.0.0.1:0` with data in `data`, serving HTTPS with the PEM
    /// certificate chain `cert` and key `key` (made out to `localhost`): its `url` is
    /// `https://localhost:PORT`.
    pub fn start_tls(data: &Path, cert: &Path, key: &Path) -> Result<Server, BoxError> {
        let mut server = Server::start_with(data, None, "127.0.0.1:0", Some((cert, key)))?;
        server.url = format!("https://localhost:{}", server.port);
        Ok(server)
    }

    fn start_with(
        data: &Path,
        database_url: Option<&str>,
        listen: &str,
        tls: Option<(&Path, &Path)>,
    ) -> Result<Server, BoxError> {
        let bin = binary("outpost-server", "outpost-server")?;
        let mut command = Command::new(bin);
        command
            .args(["serve", "--listen", listen])
            .env("OUTPOST_DATA", data)
            .env_remove("OUTPOST_DATABASE_URL")
            .env_remove("OUTPOST_TLS_CERT")
            .env_remove("OUTPOST_TLS_KEY");
        if let Some((cert, key)) = tls {
            command
                .arg("--tls-cert")
                .arg(cert)
                .arg("--tls-key")
                .arg(key);
        }
        if let Some(url) = database_url {
            command.env("OUTPOST_DATABASE_URL", url);
        }
        let mut child = command
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()?;
        let stderr = child.stderr.take().ok_or("no stderr")?;
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Some(addr) = line.split("listening on ").nth(1) {
                    let _ = tx.send(addr.trim().to_string());
                }
            }
        });
        let addr = rx
            .recv_timeout(Duration::from_secs(60))
            .map_err(|_| "server did not start listening")?;
        let port: u16 = addr.rsplit(':').next().ok_or("no port")?.parse()?;
        Ok(Server {
            child: Some(child),
            data: data.to_path_buf(),
            database_url: database_url.map(str::to_string),
            url: format!("http://{addr}"),
            port,
        })
    }

    /// Runs an operator command (`tenant create ...`) on this server's data and parses its JSON.
    pub fn admin(&self, args: &[&str]) -> Result<Value, BoxError> {
        admin_on(&self.data, self.database_url.as_deref(), args)
    }

    /// Kills the server process (SIGKILL).
    pub fn kill(&mut self) -> Result<(), BoxError> {
        if let Some(mut c) = self.child.take() {
            c.kill()?;
            c.wait()?;
        }
        Ok(())
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.kill();
    }
}

/// Runs an operator command against a data directory.
pub fn admin(data: &Path, args: &[&str]) -> Result<Value, BoxError> {
    admin_on(data, None, args)
}

/// Runs an operator command against a data directory, or a PostgreSQL database when
/// `database_url` is given.
pub fn admin_on(data: &Path, database_url: Option<&str>, args: &[&str]) -> Result<Value, BoxError> {
    let mut command = Command::new(binary("outpost-server", "outpost-server")?);
    command
        .args(args)
        .env("OUTPOST_DATA", data)
        .env_remove("OUTPOST_DATABASE_URL");
    if let Some(url) = database_url {
        command.env("OUTPOST_DATABASE_URL", url);
    }
    let out = command.output()?;
    if !out.status.success() {
        return Err(format!(
            "outpost-server {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        )
        .into());
    }
    Ok(serde_json::from_slice(&out.stdout)?)
}

/// What a CLI run printed.
pub struct Run {
    /// Exit code.
    pub code: i32,
    /// Parsed stdout (null when empty).
    pub json: Value,
    /// Stderr.
    pub stderr: String,
}

/// A device: the `outpost` CLI on its own database file.
pub struct Device {
    /// Its database.
    pub db: PathBuf,
    /// Its user.
    pub user: String,
    bin: PathBuf,
}

impl Device {
    /// A device with a database at `db` used by `user`.
    pub fn new(db: PathBuf, user: &str) -> Result<Device, BoxError> {
        Ok(Device {
            db,
            user: user.to_string(),
            bin: binary("outpost-cli", "outpost")?,
        })
    }

    /// Runs the CLI.
    pub fn run(&self, args: &[&str]) -> Result<Run, BoxError> {
        let started = Instant::now();
        let out = Command::new(&self.bin)
            .arg("--db")
            .arg(&self.db)
            .args(["--user", &self.user])
            .args(args)
            .env_remove("OUTPOST_DB")
            .env_remove("OUTPOST_SERVER")
            .env_remove("OUTPOST_TOKEN")
            .env_remove("OUTPOST_CA_CERT")
            .output()?;
        let _ = started;
        let stdout = String::from_utf8(out.stdout)?;
        let json = if stdout.trim().is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&stdout)?
        };
        Ok(Run {
            code: out.status.code().unwrap_or(-1),
            json,
            stderr: String::from_utf8(out.stderr)?,
        })
    }

    /// Runs the CLI and expects success.
    pub fn ok(&self, args: &[&str]) -> Result<Value, BoxError> {
        let r = self.run(args)?;
        if r.code != 0 {
            return Err(format!(
                "outpost {args:?} on {} exited {}: {}",
                self.user, r.code, r.stderr
            )
            .into());
        }
        Ok(r.json)
    }
}

/// One HTTP/1.1 exchange written by hand on a new connection to `addr` (no client library that
/// would add or fix headers): `headers` are extra `Name: value\r\n` lines. Returns the status,
/// the response head and the body.
pub fn http_raw(
    addr: &str,
    method: &str,
    path: &str,
    headers: &str,
    body: &str,
) -> Result<(u16, String, String), BoxError> {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(addr)?;
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\n{headers}Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )?;
    let mut answer = String::new();
    stream.read_to_string(&mut answer)?;
    let status = answer
        .split_whitespace()
        .nth(1)
        .ok_or("no status line")?
        .parse()?;
    let (head, body) = answer
        .split_once("\r\n\r\n")
        .unwrap_or((answer.as_str(), ""));
    Ok((status, head.to_string(), body.to_string()))
}
