//! End to end: TLS to PostgreSQL. Each test makes a throw-away PostgreSQL cluster (`initdb` in
//! a temporary directory, its own port) that accepts only TLS connections (`hostssl` with
//! SCRAM passwords) with a server certificate signed by a CA the test made (rcgen). The real
//! `outpost-server` binary then serves `outpost` CLI devices through it with
//! `sslmode=verify-full`, and each mode is checked against it: a wrong CA, a host name the
//! certificate does not hold and `sslmode=disable` are refused, each with an error that says
//! why. The cluster is stopped and removed when the test ends, also when it fails.
//!
//! PostgreSQL refuses to run as root: when the tests run as root, the cluster runs as the
//! `postgres` OS user (`runuser`), in a directory owned by it.

use outpost_tests::procs::{admin_on, BoxError, Device, Server};
use outpost_tests::test_ca::certificates;
use std::net::TcpListener;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

type TestResult = Result<(), BoxError>;

/// The password of the cluster's `postgres` user (SCRAM over TLS only).
const PASSWORD: &str = "tls-test-secret";

/// The directory of PostgreSQL's server programs (`initdb`, `pg_ctl`).
fn pg_bindir() -> Result<PathBuf, BoxError> {
    if let Ok(out) = Command::new("pg_config").arg("--bindir").output() {
        let dir = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
        if out.status.success() && dir.join("initdb").is_file() {
            return Ok(dir);
        }
    }
    let mut found: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .map_err(|e| format!("no PostgreSQL server programs (/usr/lib/postgresql: {e})"))?
        .filter_map(Result::ok)
        .filter_map(|e| {
            let version = e.file_name().to_str()?.parse().ok()?;
            let bin = e.path().join("bin");
            bin.join("initdb").is_file().then_some((version, bin))
        })
        .collect();
    found.sort();
    found
        .pop()
        .map(|(_, bin)| bin)
        .ok_or_else(|| "no initdb under /usr/lib/postgresql/*/bin (install postgresql)".into())
}

fn checked(what: &str, out: Output) -> Result<String, BoxError> {
    if !out.status.success() {
        return Err(format!(
            "{what} failed ({}): {}{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
        .into());
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// `(uid, gid)` of an OS user.
fn os_user(name: &str) -> Result<(u32, u32), BoxError> {
    let id = |flag: &str| -> Result<u32, BoxError> {
        let out = checked(
            &format!("id {flag} {name}"),
            Command::new("id").args([flag, name]).output()?,
        )?;
        Ok(out.trim().parse()?)
    };
    Ok((id("-u")?, id("-g")?))
}

fn running_as_root() -> Result<bool, BoxError> {
    let out = checked("id -u", Command::new("id").arg("-u").output()?)?;
    Ok(out.trim() == "0")
}

/// A free TCP port on the loopback (free when asked; the cluster binds it right after).
fn free_port() -> Result<u16, BoxError> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// A throw-away PostgreSQL cluster that accepts only TLS connections on its own port.
struct TlsCluster {
    dir: tempfile::TempDir,
    bindir: PathBuf,
    /// Run its programs as the `postgres` OS user (the tests run as root).
    as_postgres: bool,
    port: u16,
    /// The CA that signed the cluster's certificate (PEM).
    ca: PathBuf,
    /// A CA that did not (PEM).
    other_ca: PathBuf,
}

impl TlsCluster {
    fn start() -> Result<TlsCluster, BoxError> {
        let bindir = pg_bindir()?;
        let as_postgres = running_as_root()?;
        let dir = tempfile::Builder::new()
            .prefix("outpost-pgtls-")
            .tempdir()?;
        let owner = if as_postgres {
            Some(os_user("postgres")?)
        } else {
            None
        };
        let own = |path: &Path| -> Result<(), BoxError> {
            if let Some((uid, gid)) = owner {
                std::os::unix::fs::chown(path, Some(uid), Some(gid))?;
            }
            Ok(())
        };
        own(dir.path())?;
        let certs = certificates()?;
        let write = |name: &str, text: &str, mode: u32| -> Result<PathBuf, BoxError> {
            let path = dir.path().join(name);
            std::fs::write(&path, text)?;
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode))?;
            own(&path)?;
            Ok(path)
        };
        let ca = write("ca.pem", &certs.ca_pem, 0o644)?;
        let other_ca = write("other-ca.pem", &certs.other_ca_pem, 0o644)?;
        let server_crt = write("server.crt", &certs.server_pem, 0o644)?;
        let server_key = write("server.key", &certs.server_key_pem, 0o600)?;
        let pwfile = write("pwfile", PASSWORD, 0o600)?;
        let mut cluster = TlsCluster {
            bindir,
            as_postgres,
            port: 0,
            ca,
            other_ca,
            dir,
        };
        let data = cluster.data();
        checked(
            "initdb",
            cluster
                .pg("initdb")
                .arg("-D")
                .arg(&data)
                .args(["-U", "postgres", "-E", "UTF8", "--no-locale", "--no-sync"])
                .args(["--auth-local=trust", "--auth-host=scram-sha-256"])
                .arg(format!("--pwfile={}", pwfile.display()))
                .output()?,
        )?;
        // Appended to the files initdb made (owned by the cluster's user; appending and
        // rewriting keep the owner).
        let mut conf = std::fs::OpenOptions::new()
            .append(true)
            .open(data.join("postgresql.conf"))?;
        std::io::Write::write_all(
            &mut conf,
            format!(
                "\n# outpost TLS test\nssl = on\nssl_cert_file = '{}'\nssl_key_file = '{}'\n\
                 listen_addresses = '127.0.0.1'\nunix_socket_directories = '{}'\nfsync = off\n",
                server_crt.display(),
                server_key.display(),
                cluster.dir.path().display()
            )
            .as_bytes(),
        )?;
        // TLS or nothing: no `host` line, so a plain TCP connection finds no entry.
        std::fs::write(
            data.join("pg_hba.conf"),
            "local all all trust\n\
             hostssl all all 127.0.0.1/32 scram-sha-256\n\
             hostssl all all ::1/128 scram-sha-256\n",
        )?;
        // The port was free when asked; another process may take it before the cluster does.
        let mut last = String::new();
        for _ in 0..3 {
            cluster.port = free_port()?;
            let out = cluster
                .pg("pg_ctl")
                .arg("-D")
                .arg(&data)
                .arg("-l")
                .arg(cluster.dir.path().join("server.log"))
                .args(["-w", "-t", "60", "-o", &format!("-p {}", cluster.port)])
                .arg("start")
                .output()?;
            if out.status.success() {
                return Ok(cluster);
            }
            last = format!(
                "{}{}",
                String::from_utf8_lossy(&out.stderr),
                std::fs::read_to_string(cluster.dir.path().join("server.log")).unwrap_or_default()
            );
        }
        Err(format!("pg_ctl start failed: {last}").into())
    }

    fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    /// A PostgreSQL program, run as the cluster's OS user.
    fn pg(&self, program: &str) -> Command {
        let path = self.bindir.join(program);
        if self.as_postgres {
            let mut command = Command::new("runuser");
            command.args(["-u", "postgres", "--"]).arg(path);
            command
        } else {
            Command::new(path)
        }
    }

    /// A connection URL to the cluster's `postgres` database through TCP at `host`, with
    /// `params` (`sslmode=...&sslrootcert=...`).
    fn url(&self, host: &str, params: &str) -> String {
        format!(
            "postgres://postgres:{PASSWORD}@{host}:{}/postgres?{params}",
            self.port
        )
    }

    /// Runs SQL as the superuser over the Unix socket (trusted, no TLS there).
    fn psql(&self, sql: &str) -> Result<String, BoxError> {
        checked(
            "psql",
            self.pg("psql")
                .arg("-h")
                .arg(self.dir.path())
                .args([
                    "-p",
                    &self.port.to_string(),
                    "-U",
                    "postgres",
                    "-d",
                    "postgres",
                ])
                .args(["-XAtqc", sql])
                .output()?,
        )
    }
}

impl Drop for TlsCluster {
    fn drop(&mut self) {
        if self.port != 0 {
            let _ = self
                .pg("pg_ctl")
                .arg("-D")
                .arg(self.data())
                .args(["-m", "immediate", "-w", "stop"])
                .output();
        }
        // The temporary directory goes with `dir`.
    }
}

fn path(p: &Path) -> Result<&str, BoxError> {
    p.to_str().ok_or_else(|| "a non-UTF-8 path".into())
}

#[test]
fn the_server_syncs_through_postgresql_with_verify_full() -> TestResult {
    let cluster = TlsCluster::start()?;
    let work = tempfile::tempdir()?;
    let url = cluster.url(
        "localhost",
        &format!("sslmode=verify-full&sslrootcert={}", path(&cluster.ca)?),
    );
    // The server opens and migrates the store through TLS, then serves.
    let server = Server::start_on(&work.path().join("data"), Some(&url), "127.0.0.1:0")?;
    let tenant = server.admin(&["tenant", "create", "华南大区", "--sharing", "open"])?;
    let tenant = tenant["id"].as_str().ok_or("tenant id")?.to_string();
    let mut devices = Vec::new();
    for user in ["li_lei", "han_mei"] {
        let enrolled = server.admin(&["device", "enroll", "--tenant", &tenant, "--user", user])?;
        let token = enrolled["token"].as_str().ok_or("token")?;
        let device = Device::new(work.path().join(format!("{user}.db")), user)?;
        device.ok(&["sync", "--server", &server.url, "--token", token])?;
        devices.push(device);
    }
    let added = devices[0].ok(&[
        "contact",
        "add",
        "--name",
        "张伟",
        "--phone",
        "138 0013 8000",
    ])?;
    let id = added["id"].as_str().ok_or("contact id")?;
    let pushed = devices[0].ok(&["sync"])?;
    assert_eq!(pushed["pushed"], 1, "{pushed}");
    let pulled = devices[1].ok(&["sync"])?;
    assert!(pulled["pulled"].as_u64().unwrap_or(0) >= 1, "{pulled}");
    let held = devices[1].ok(&["contact", "get", id])?;
    assert_eq!(held["name"], "张伟", "{held}");
    let check = server.admin(&["check"])?;
    assert_eq!(check["ok"], true, "{check}");

    // Every TCP connection the cluster has is TLS (pg_hba allows nothing else), and the
    // server's pooled ones are among them.
    let sessions = cluster.psql(
        "SELECT count(*) FILTER (WHERE s.ssl), count(*) FILTER (WHERE NOT s.ssl) \
         FROM pg_stat_ssl s JOIN pg_stat_activity a USING (pid) WHERE a.client_addr IS NOT NULL",
    )?;
    let counts: Vec<u64> = sessions
        .trim()
        .split('|')
        .map(str::parse)
        .collect::<Result<_, _>>()?;
    assert!(
        counts[0] >= 1 && counts[1] == 0,
        "TLS / plain sessions: {counts:?}"
    );
    Ok(())
}

/// `outpost-server check` on the cluster at `url`: `Ok` with its JSON, or the error it printed.
fn open_with(work: &Path, url: &str) -> Result<serde_json::Value, String> {
    admin_on(&work.join("data"), Some(url), &["check"]).map_err(|e| e.to_string())
}

fn refused(work: &Path, url: &str, expected: &[&str]) -> TestResult {
    match open_with(work, url) {
        Ok(json) => Err(format!("{url}: accepted ({json})").into()),
        Err(e) => {
            for part in expected {
                assert!(e.contains(part), "{url}: expected {part:?} in: {e}");
            }
            Ok(())
        }
    }
}

fn accepted(work: &Path, url: &str) -> TestResult {
    let json = open_with(work, url).map_err(|e| format!("{url}: {e}"))?;
    assert_eq!(json["ok"], true, "{url}: {json}");
    Ok(())
}

#[test]
fn postgresql_tls_modes_verify_what_they_say() -> TestResult {
    let cluster = TlsCluster::start()?;
    let work = tempfile::tempdir()?;
    let work = work.path();
    let ca = path(&cluster.ca)?;
    let other_ca = path(&cluster.other_ca)?;

    accepted(
        work,
        &cluster.url(
            "localhost",
            &format!("sslmode=verify-full&sslrootcert={ca}"),
        ),
    )?;
    // SCRAM bound to the TLS session (SCRAM-SHA-256-PLUS): the server checks the binding the
    // connector computed from the certificate.
    accepted(
        work,
        &cluster.url(
            "localhost",
            &format!("sslmode=verify-full&sslrootcert={ca}&channel_binding=require"),
        ),
    )?;
    // A certificate signed by another CA.
    refused(
        work,
        &cluster.url(
            "localhost",
            &format!("sslmode=verify-full&sslrootcert={other_ca}"),
        ),
        &[
            "sslmode=verify-full",
            "not signed by a trusted CA",
            "UnknownIssuer",
        ],
    )?;
    // The certificate is made out to `localhost`, not to 127.0.0.1: verify-full refuses,
    // verify-ca (the chain only) takes it.
    refused(
        work,
        &cluster.url(
            "127.0.0.1",
            &format!("sslmode=verify-full&sslrootcert={ca}"),
        ),
        &["not made out to the host name \"127.0.0.1\""],
    )?;
    accepted(
        work,
        &cluster.url("127.0.0.1", &format!("sslmode=verify-ca&sslrootcert={ca}")),
    )?;
    refused(
        work,
        &cluster.url(
            "127.0.0.1",
            &format!("sslmode=verify-ca&sslrootcert={other_ca}"),
        ),
        &["not signed by a trusted CA"],
    )?;
    // require encrypts without checking; with a CA file it checks the chain (as libpq).
    accepted(work, &cluster.url("127.0.0.1", "sslmode=require"))?;
    refused(
        work,
        &cluster.url(
            "127.0.0.1",
            &format!("sslmode=require&sslrootcert={other_ca}"),
        ),
        &["not signed by a trusted CA"],
    )?;
    // prefer, the default, takes the TLS the cluster offers.
    accepted(work, &cluster.url("127.0.0.1", ""))?;
    accepted(work, &cluster.url("127.0.0.1", "sslmode=prefer"))?;
    // Plain TCP to a cluster that requires TLS.
    refused(
        work,
        &cluster.url("127.0.0.1", "sslmode=disable"),
        &["sslmode=disable", "no pg_hba.conf entry", "no encryption"],
    )?;
    // Bad settings are named.
    refused(
        work,
        &cluster.url("localhost", "sslmode=verify_full"),
        &["sslmode=verify_full", "verify-full"],
    )?;
    let missing = work.join("missing-ca.pem");
    refused(
        work,
        &cluster.url(
            "localhost",
            &format!("sslmode=verify-full&sslrootcert={}", path(&missing)?),
        ),
        &["reading sslrootcert", "missing-ca.pem"],
    )?;
    Ok(())
}
