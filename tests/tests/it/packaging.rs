//! The packaging (`Dockerfile`, `compose.yaml`, `packaging/outpost-server.service`) checked as
//! far as this machine can: it has no container engine and no registry to pull base images
//! from, and systemd does not run here.
//!
//! - The systemd unit passes `systemd-analyze verify` (any warning fails the test), its
//!   hardening scores as `systemd-analyze security --offline` rates it, and the sysusers file
//!   makes its user.
//! - The container's and the unit's entry commands run: the same binary (the workspace's
//!   `outpost-server`), the same arguments and only the environment the file sets, in a clean
//!   temporary directory standing for `/` (absolute paths are re-rooted there, the listen port
//!   is 0 so that tests never collide). Each answers `/healthz`, the image's `HEALTHCHECK`
//!   command says healthy (and unhealthy once the server is gone), and each stops cleanly on
//!   the stop signal the file names.
//! - Every `OUTPOST_*` variable the files set is one the server reads.

use outpost_tests::procs::{binary, BoxError};
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

type TestResult = Result<(), BoxError>;

/// PATH in the Debian base image (the HEALTHCHECK runs `bash` from it).
const DEBIAN_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn read(relative: &str) -> Result<String, BoxError> {
    let path = repo().join(relative);
    std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()).into())
}

/// One instruction of a Dockerfile: keyword (upper case) and its arguments.
#[derive(Debug)]
struct Instruction {
    keyword: String,
    args: String,
}

/// The stages of a Dockerfile (each starts at its `FROM`), continuation lines joined,
/// comments dropped.
fn dockerfile_stages(text: &str) -> Result<Vec<Vec<Instruction>>, BoxError> {
    let mut logical = Vec::new();
    let mut current = String::new();
    for line in text.lines() {
        let trimmed = line.trim();
        if current.is_empty() && (trimmed.is_empty() || trimmed.starts_with('#')) {
            continue;
        }
        if let Some(head) = trimmed.strip_suffix('\\') {
            current.push_str(head);
            current.push(' ');
        } else {
            current.push_str(trimmed);
            logical.push(std::mem::take(&mut current));
        }
    }
    if !current.is_empty() {
        return Err("Dockerfile ends in a continuation line".into());
    }
    let mut stages: Vec<Vec<Instruction>> = Vec::new();
    for line in logical {
        let (keyword, args) = line.split_once(char::is_whitespace).unwrap_or((&line, ""));
        let instruction = Instruction {
            keyword: keyword.to_ascii_uppercase(),
            args: args.trim().to_string(),
        };
        if instruction.keyword == "FROM" {
            stages.push(Vec::new());
        }
        stages
            .last_mut()
            .ok_or("the Dockerfile does not start with FROM")?
            .push(instruction);
    }
    Ok(stages)
}

/// An exec-form (JSON array) instruction's words.
fn exec_form(args: &str, what: &str) -> Result<Vec<String>, BoxError> {
    serde_json::from_str(args)
        .map_err(|e| format!("{what} {args}: not an exec-form JSON array ({e})").into())
}

/// What the runtime stage of the Dockerfile runs.
#[derive(Debug)]
struct Image {
    env: BTreeMap<String, String>,
    user: String,
    workdir: String,
    entrypoint: Vec<String>,
    cmd: Vec<String>,
    healthcheck: Vec<String>,
    expose: Vec<String>,
    volumes: Vec<String>,
    stop_signal: String,
    /// `COPY --from=STAGE SRC DEST`: (stage, src, dest).
    copies_from: Vec<(String, String, String)>,
}

fn image(stages: &[Vec<Instruction>]) -> Result<Image, BoxError> {
    let runtime = stages.last().ok_or("no stage")?;
    let mut image = Image {
        env: BTreeMap::new(),
        user: "root".into(),
        workdir: "/".into(),
        entrypoint: Vec::new(),
        cmd: Vec::new(),
        healthcheck: Vec::new(),
        expose: Vec::new(),
        volumes: Vec::new(),
        stop_signal: "SIGTERM".into(),
        copies_from: Vec::new(),
    };
    for i in runtime {
        match i.keyword.as_str() {
            "ENV" => {
                for pair in i.args.split_whitespace() {
                    let (k, v) = pair
                        .split_once('=')
                        .ok_or_else(|| format!("ENV {}: not KEY=value", i.args))?;
                    if v.contains(['"', '\'', '$']) {
                        return Err(format!("ENV {pair}: quotes and $ are not read here").into());
                    }
                    image.env.insert(k.to_string(), v.to_string());
                }
            }
            "USER" => image.user = i.args.clone(),
            "WORKDIR" => image.workdir = i.args.clone(),
            "ENTRYPOINT" => image.entrypoint = exec_form(&i.args, "ENTRYPOINT")?,
            "CMD" => image.cmd = exec_form(&i.args, "CMD")?,
            "HEALTHCHECK" => {
                let (_, command) = i.args.split_once("CMD ").ok_or("HEALTHCHECK without CMD")?;
                image.healthcheck = exec_form(command.trim(), "HEALTHCHECK CMD")?;
            }
            "EXPOSE" => image
                .expose
                .extend(i.args.split_whitespace().map(str::to_string)),
            "VOLUME" => image.volumes.extend(exec_form(&i.args, "VOLUME")?),
            "STOPSIGNAL" => image.stop_signal = i.args.clone(),
            "COPY" => {
                let words: Vec<&str> = i.args.split_whitespace().collect();
                if let [from, src, dest] = words.as_slice() {
                    if let Some(stage) = from.strip_prefix("--from=") {
                        image.copies_from.push((
                            stage.to_string(),
                            src.to_string(),
                            dest.to_string(),
                        ));
                    }
                }
            }
            _ => {}
        }
    }
    Ok(image)
}

/// `[Service]` settings of a unit file, each key with all its values in order.
fn unit_service(text: &str) -> BTreeMap<String, Vec<String>> {
    let mut section = String::new();
    let mut settings: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for line in text.lines().map(str::trim) {
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        if line.starts_with('[') {
            section = line.to_string();
            continue;
        }
        if section == "[Service]" {
            if let Some((k, v)) = line.split_once('=') {
                settings
                    .entry(k.trim().to_string())
                    .or_default()
                    .push(v.trim().to_string());
            }
        }
    }
    settings
}

/// `path` inside `root` (an absolute path re-rooted).
fn rerooted(root: &Path, path: &str) -> PathBuf {
    root.join(path.trim_start_matches('/'))
}

/// `host:port` with port 0.
fn any_port(listen: &str) -> Result<String, BoxError> {
    let (host, _) = listen
        .rsplit_once(':')
        .ok_or_else(|| format!("OUTPOST_LISTEN {listen}: no port"))?;
    Ok(format!("{host}:0"))
}

/// A packaged entry command running: the child and the port it listens on.
struct Running {
    child: Child,
    port: u16,
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs `program args` with exactly `env` in `dir` and waits until it listens.
fn run_entry(
    program: &Path,
    args: &[String],
    env: &BTreeMap<String, String>,
    dir: &Path,
) -> Result<Running, BoxError> {
    let mut child = Command::new(program)
        .args(args)
        .env_clear()
        .envs(env)
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()?;
    let stderr = child.stderr.take().ok_or("no stderr")?;
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut seen = Vec::new();
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if let Some(addr) = line.split("listening on ").nth(1) {
                let _ = tx.send(Ok(addr.trim().to_string()));
            }
            seen.push(line);
        }
        let _ = tx.send(Err(seen.join("\n")));
    });
    let mut running = Running { child, port: 0 };
    let addr = match rx.recv_timeout(Duration::from_secs(60)) {
        Ok(Ok(addr)) => addr,
        Ok(Err(output)) => return Err(format!("the entry command exited: {output}").into()),
        Err(_) => return Err("the entry command did not start listening".into()),
    };
    running.port = addr.rsplit(':').next().ok_or("no port")?.parse()?;
    Ok(running)
}

/// `GET /healthz` on the loopback: (status line, body).
fn healthz(port: u16) -> Result<(String, String), BoxError> {
    let mut stream = TcpStream::connect(("127.0.0.1", port))?;
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    stream.write_all(b"GET /healthz HTTP/1.0\r\nHost: localhost\r\n\r\n")?;
    let mut answer = String::new();
    stream.read_to_string(&mut answer)?;
    let status = answer.lines().next().unwrap_or_default().to_string();
    let body = answer
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    Ok((status, body))
}

/// Sends `signal` (e.g. `SIGTERM`) and expects a clean exit within 30 s.
fn stop(mut running: Running, signal: &str) -> TestResult {
    let name = signal.trim_start_matches("SIG");
    let pid = running.child.id().to_string();
    let status = Command::new("kill").args(["-s", name, &pid]).status()?;
    assert!(status.success(), "kill -s {name} {pid}");
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(status) = running.child.try_wait()? {
            assert!(status.success(), "exit after {signal}: {status}");
            return Ok(());
        }
        if Instant::now() > deadline {
            return Err(format!("still running 30 s after {signal}").into());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Runs a command with `env` and a 20 s limit; true when it exits 0.
fn succeeds(words: &[String], env: &BTreeMap<String, String>) -> Result<bool, BoxError> {
    let (program, args) = words.split_first().ok_or("an empty command")?;
    let mut child = Command::new(program)
        .args(args)
        .env_clear()
        .envs(env)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()?;
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(status) = child.try_wait()? {
            return Ok(status.success());
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            return Err(format!("{words:?} did not finish in 20 s").into());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The workspace's `outpost-server`, standing for the packaged one at `packaged` (which must
/// name it).
fn server_binary(packaged: &str) -> Result<PathBuf, BoxError> {
    assert_eq!(
        Path::new(packaged).file_name().and_then(|n| n.to_str()),
        Some("outpost-server"),
        "the packaged command runs {packaged}"
    );
    binary("outpost-server", "outpost-server")
}

#[test]
fn the_container_entry_command_serves_and_reports_healthy() -> TestResult {
    let stages = dockerfile_stages(&read("Dockerfile")?)?;
    assert!(stages.len() >= 2, "a multi-stage build: {stages:?}");
    let image = image(&stages)?;

    // Built in a Rust stage, run in a slim Debian one, as a user that is not root.
    let build = &stages[0];
    let from = &build[0].args;
    assert!(from.starts_with("rust:"), "build stage FROM {from}");
    let build_name = from
        .rsplit_once(" AS ")
        .or_else(|| from.rsplit_once(" as "))
        .map(|(_, name)| name.trim().to_string())
        .ok_or("the build stage has no name")?;
    assert!(
        build.iter().any(|i| i.keyword == "RUN"
            && i.args
                .contains("cargo build --release --locked -p outpost-server")),
        "the build stage builds outpost-server: {build:?}"
    );
    let runtime_from = &stages[stages.len() - 1][0].args;
    assert!(
        runtime_from.starts_with("debian:") && runtime_from.contains("slim"),
        "runtime FROM {runtime_from}"
    );
    let user = image.user.split(':').next().unwrap_or_default();
    assert!(
        !user.is_empty() && user != "root" && user != "0",
        "USER {}",
        image.user
    );
    // The entry point is the binary the build stage made.
    let program = image.entrypoint.first().ok_or("no ENTRYPOINT")?;
    assert!(
        image
            .copies_from
            .iter()
            .any(|(stage, src, dest)| *stage == build_name
                && src.ends_with("/outpost-server")
                && dest == program),
        "ENTRYPOINT {program} is copied from stage {build_name}: {:?}",
        image.copies_from
    );
    // Settings as the README's operator section names them; the port exposed is the one
    // served; the data directory is a volume.
    let data = image.env.get("OUTPOST_DATA").ok_or("no ENV OUTPOST_DATA")?;
    let listen = image
        .env
        .get("OUTPOST_LISTEN")
        .ok_or("no ENV OUTPOST_LISTEN")?;
    let port = listen.rsplit(':').next().unwrap_or_default();
    assert!(
        image
            .expose
            .iter()
            .any(|e| e.trim_end_matches("/tcp") == port),
        "EXPOSE {:?} and OUTPOST_LISTEN {listen}",
        image.expose
    );
    assert!(image.volumes.contains(data), "VOLUME {:?}", image.volumes);
    assert!(!image.healthcheck.is_empty(), "no HEALTHCHECK");

    // The entry command in a clean directory standing for the image's root.
    let root = tempfile::tempdir()?;
    let workdir = rerooted(root.path(), &image.workdir);
    std::fs::create_dir_all(&workdir)?;
    let mut env = image.env.clone();
    env.entry("PATH".into())
        .or_insert_with(|| DEBIAN_PATH.into());
    env.insert(
        "OUTPOST_DATA".into(),
        rerooted(root.path(), data)
            .to_str()
            .ok_or("path")?
            .to_string(),
    );
    env.insert("OUTPOST_LISTEN".into(), any_port(listen)?);
    let program = server_binary(program)?;
    let args: Vec<String> = image.entrypoint[1..]
        .iter()
        .chain(&image.cmd)
        .cloned()
        .collect();
    let running = run_entry(&program, &args, &env, &workdir)?;
    let (status, body) = healthz(running.port)?;
    assert!(status.contains(" 200 "), "{status}");
    assert!(body.contains("\"ok\""), "{body}");
    assert!(
        rerooted(root.path(), data)
            .join("outpost-server.db")
            .is_file(),
        "the store is in OUTPOST_DATA"
    );

    // The image's health check, as Docker runs it: the image's environment, the port served.
    let mut check_env = env.clone();
    let host = listen.rsplit_once(':').map(|(h, _)| h).unwrap_or_default();
    check_env.insert("OUTPOST_LISTEN".into(), format!("{host}:{}", running.port));
    assert!(
        succeeds(&image.healthcheck, &check_env)?,
        "HEALTHCHECK {:?} failed on a healthy server",
        image.healthcheck
    );
    stop(running, &image.stop_signal)?;
    assert!(
        !succeeds(&image.healthcheck, &check_env)?,
        "HEALTHCHECK passes with no server"
    );
    Ok(())
}

/// Copies the host's systemd units (sysinit.target and the rest a service depends on) and
/// the unit into a root for `systemd-analyze --root`, with the binary where ExecStart says.
fn systemd_root(unit: &str, exec: &str, server: &Path) -> Result<tempfile::TempDir, BoxError> {
    let root = tempfile::tempdir()?;
    let units = rerooted(root.path(), "/etc/systemd/system");
    std::fs::create_dir_all(&units)?;
    std::fs::write(units.join("outpost-server.service"), unit)?;
    let lib = rerooted(root.path(), "/usr/lib/systemd");
    std::fs::create_dir_all(&lib)?;
    let status = Command::new("cp")
        .args(["-a", "/usr/lib/systemd/system"])
        .arg(&lib)
        .status()?;
    if !status.success() {
        return Err("copying /usr/lib/systemd/system (is systemd installed?)".into());
    }
    let bin = rerooted(root.path(), exec);
    std::fs::create_dir_all(bin.parent().ok_or("ExecStart path")?)?;
    if std::fs::hard_link(server, &bin).is_err() {
        std::fs::copy(server, &bin)?;
    }
    Ok(root)
}

fn systemd_tool(name: &str) -> Result<PathBuf, BoxError> {
    for dir in std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())
        .chain([PathBuf::from("/usr/bin"), PathBuf::from("/bin")])
    {
        let path = dir.join(name);
        if path.is_file() {
            return Ok(path);
        }
    }
    Err(format!(
        "{name} not found: install Debian's systemd package (scripts/install-deps.sh does)"
    )
    .into())
}

#[test]
fn the_systemd_unit_verifies_and_its_command_serves() -> TestResult {
    let text = read("packaging/outpost-server.service")?;
    let service = unit_service(&text);
    let one = |key: &str| -> Result<String, BoxError> {
        service
            .get(key)
            .and_then(|v| v.last())
            .cloned()
            .ok_or_else(|| format!("the unit has no {key}=").into())
    };
    let user = one("User")?;
    assert!(user != "root" && user != "0", "User={user}");
    assert_eq!(one("NoNewPrivileges")?, "yes");
    assert_eq!(one("ProtectSystem")?, "strict");
    let mut env = BTreeMap::new();
    for assignment in service.get("Environment").into_iter().flatten() {
        let (k, v) = assignment
            .split_once('=')
            .ok_or_else(|| format!("Environment={assignment}"))?;
        if v.contains(['"', '\'', ' ', '$', '%']) {
            return Err(format!("Environment={assignment}: quoting is not read here").into());
        }
        env.insert(k.to_string(), v.to_string());
    }
    let data = env.get("OUTPOST_DATA").ok_or("no OUTPOST_DATA")?.clone();
    let listen = env
        .get("OUTPOST_LISTEN")
        .ok_or("no OUTPOST_LISTEN")?
        .clone();
    // The data directory is the state directory systemd makes, and writable.
    assert_eq!(format!("/var/lib/{}", one("StateDirectory")?), data);
    assert!(
        one("ReadWritePaths")?.split_whitespace().any(|p| p == data),
        "ReadWritePaths holds {data}"
    );

    let exec = one("ExecStart")?;
    let words: Vec<String> = exec.split_whitespace().map(str::to_string).collect();
    let packaged = words.first().ok_or("empty ExecStart")?;
    let server = server_binary(packaged)?;

    // systemd's own checks, with the binary where ExecStart looks for it. Warnings fail too.
    let analyze = systemd_tool("systemd-analyze")?;
    let root = systemd_root(&text, packaged, &server)?;
    let unit = rerooted(root.path(), "/etc/systemd/system/outpost-server.service");
    let out = Command::new(&analyze)
        .arg("verify")
        .arg(format!("--root={}", root.path().display()))
        .arg(&unit)
        .output()?;
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success() && said.trim().is_empty(),
        "systemd-analyze verify ({}): {said}",
        out.status
    );
    let out = Command::new(&analyze)
        .args(["security", "--offline=true", "--no-pager"])
        .arg(format!("--root={}", root.path().display()))
        .arg(&unit)
        .output()?;
    let report = String::from_utf8_lossy(&out.stdout);
    let exposure: f64 = report
        .lines()
        .find_map(|l| l.split("outpost-server.service: ").nth(1))
        .and_then(|rest| rest.split_whitespace().next())
        .ok_or_else(|| format!("no exposure level in: {report}"))?
        .parse()?;
    assert!(
        exposure <= 2.0,
        "systemd-analyze security rates the unit {exposure} (at most 2.0 expected): {report}"
    );
    // The user the unit runs as, made by systemd-sysusers.
    let users = tempfile::tempdir()?;
    std::fs::create_dir_all(users.path().join("etc"))?;
    let out = Command::new(systemd_tool("systemd-sysusers")?)
        .arg(format!("--root={}", users.path().display()))
        .arg(repo().join("packaging/outpost-server.sysusers"))
        .output()?;
    assert!(out.status.success(), "systemd-sysusers: {out:?}");
    let passwd = std::fs::read_to_string(users.path().join("etc/passwd"))?;
    assert!(
        passwd
            .lines()
            .any(|l| l.starts_with(&format!("{user}:")) && l.contains(&format!(":{data}:"))),
        "sysusers made {user} with home {data}: {passwd}"
    );

    // ExecStart with the unit's environment, in a clean directory standing for `/`. systemd
    // makes the state directory before starting the service.
    let fs_root = tempfile::tempdir()?;
    let state = rerooted(fs_root.path(), &data);
    std::fs::create_dir_all(&state)?;
    env.insert(
        "OUTPOST_DATA".into(),
        state.to_str().ok_or("path")?.to_string(),
    );
    env.insert("OUTPOST_LISTEN".into(), any_port(&listen)?);
    let running = run_entry(&server, &words[1..], &env, fs_root.path())?;
    let (status, body) = healthz(running.port)?;
    assert!(status.contains(" 200 "), "{status}");
    assert!(body.contains("\"ok\""), "{body}");
    assert!(state.join("outpost-server.db").is_file());
    stop(
        running,
        &one("KillSignal").unwrap_or_else(|_| "SIGTERM".into()),
    )?;
    Ok(())
}

#[test]
fn the_packaged_settings_are_ones_the_server_reads() -> TestResult {
    let out = Command::new(binary("outpost-server", "outpost-server")?)
        .args(["serve", "--help"])
        .output()?;
    let help = String::from_utf8_lossy(&out.stdout);
    let compose = read("compose.yaml")?;
    for file in [
        "Dockerfile",
        "compose.yaml",
        "packaging/outpost-server.service",
    ] {
        let text = read(file)?;
        let mut names: Vec<&str> = text
            .match_indices("OUTPOST_")
            .map(|(i, _)| {
                let rest = &text[i..];
                let end = rest
                    .find(|c: char| !(c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_'))
                    .unwrap_or(rest.len());
                &rest[..end]
            })
            .collect();
        names.sort_unstable();
        names.dedup();
        assert!(!names.is_empty(), "{file} sets no OUTPOST_ variable");
        for name in names {
            assert!(
                help.contains(&format!("env: {name}=")),
                "{file}: {name} is not a variable outpost-server reads"
            );
        }
    }
    // compose: the server is built from the Dockerfile, on PostgreSQL, and publishes the port
    // the image exposes.
    assert!(
        compose.contains("build: ."),
        "compose builds the Dockerfile"
    );
    assert!(compose.contains("OUTPOST_DATABASE_URL: postgres://"));
    let image = image(&dockerfile_stages(&read("Dockerfile")?)?)?;
    let exposed = image.expose.first().ok_or("EXPOSE")?;
    assert!(
        compose.contains(&format!(":{exposed}\"")),
        "compose publishes port {exposed}"
    );
    Ok(())
}
