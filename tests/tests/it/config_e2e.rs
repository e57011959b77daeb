//! End to end: `outpost-server --config FILE` (TOML) with environment variables and flags over
//! it, `config check` naming the wrong key, JSON logs, and `/metrics` on the admin listener
//! only. The real binary, on loopback.

use outpost_tests::procs::{binary, http_raw, BoxError};
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

type TestResult = Result<(), BoxError>;

/// `GET path` on `addr`: the status code and the body.
fn get(addr: &str, path: &str) -> Result<(u16, String), BoxError> {
    let (status, _, body) = http_raw(addr, "GET", path, "", "")?;
    Ok((status, body))
}

#[test]
fn a_config_file_sets_what_flags_and_env_do_not_and_metrics_move_to_the_admin_port() -> TestResult {
    let dir = tempfile::tempdir()?;
    let server = binary("outpost-server", "outpost-server")?;
    let from_file = dir.path().join("from-file");
    let from_env = dir.path().join("from-env");
    let config = dir.path().join("outpost.toml");
    std::fs::write(
        &config,
        format!(
            "data = {:?}\nlog_format = \"json\"\n\n[serve]\nlisten = \"127.0.0.1:0\"\nadmin_listen = \"127.0.0.1:0\"\nidle_timeout_secs = 60\n",
            from_file.display().to_string()
        ),
    )?;

    // `config check`: the settings, or the key that is wrong.
    let checked = Command::new(&server)
        .args(["config", "check"])
        .arg(&config)
        .output()?;
    assert!(
        checked.status.success(),
        "{}",
        String::from_utf8_lossy(&checked.stderr)
    );
    let settings: serde_json::Value = serde_json::from_slice(&checked.stdout)?;
    assert_eq!(settings["settings"]["serve"]["idle_timeout_secs"], 60);
    let bad = dir.path().join("bad.toml");
    std::fs::write(&bad, "[serve]\nmax_connections = 0\n")?;
    let refused = Command::new(&server)
        .args(["config", "check"])
        .arg(&bad)
        .output()?;
    assert!(!refused.status.success());
    let why = String::from_utf8_lossy(&refused.stderr);
    assert!(why.contains("serve.max_connections"), "{why}");
    std::fs::write(&bad, "[serve]\nlisten_port = 8737\n")?;
    let refused = Command::new(&server)
        .arg("--config")
        .arg(&bad)
        .args(["tenant", "list"])
        .output()?;
    assert!(!refused.status.success(), "a bad file never runs a command");
    assert!(String::from_utf8_lossy(&refused.stderr).contains("listen_port"));

    // The environment beats the file: the tenant lands in OUTPOST_DATA, not the file's data.
    let created = Command::new(&server)
        .arg("--config")
        .arg(&config)
        .args(["tenant", "create", "华强销售部"])
        .env("OUTPOST_DATA", &from_env)
        .env_remove("OUTPOST_DATABASE_URL")
        .output()?;
    assert!(
        created.status.success(),
        "{}",
        String::from_utf8_lossy(&created.stderr)
    );
    assert!(from_env.join("outpost-server.db").is_file());
    assert!(
        !from_file.exists(),
        "the file's data directory was not used"
    );

    // Serve from the file alone: JSON logs, /metrics on the admin port only.
    let mut child = Command::new(&server)
        .arg("--config")
        .arg(&config)
        .arg("serve")
        .env_remove("OUTPOST_DATA")
        .env_remove("OUTPOST_DATABASE_URL")
        .env_remove("OUTPOST_LISTEN")
        .env("RUST_LOG", "info")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()?;
    let stderr = child.stderr.take().ok_or("stderr")?;
    let mut lines = BufReader::new(stderr).lines();
    let (mut api, mut admin, mut json_lines) = (None, None, 0);
    for line in lines.by_ref() {
        let line = line?;
        if let Some(a) = line.split("listening on ").nth(1) {
            api = Some(a.trim().to_string());
        } else if let Some(a) = line.split("admin (metrics, health) on ").nth(1) {
            admin = Some(a.trim().to_string());
        } else {
            let event: serde_json::Value = serde_json::from_str(&line)
                .map_err(|e| format!("a log line that is not JSON: {line:?}: {e}"))?;
            assert!(event["level"].is_string(), "{line}");
            json_lines += 1;
        }
        if api.is_some() && admin.is_some() {
            break;
        }
    }
    let (api, admin) = (
        api.ok_or("no API address")?,
        admin.ok_or("no admin address")?,
    );
    assert!(json_lines >= 1, "the serving line is logged as JSON");
    assert!(
        from_file.join("outpost-server.db").is_file(),
        "serve used the file's data"
    );
    let (status, body) = get(&admin, "/metrics")?;
    assert_eq!(status, 200);
    assert!(body.contains("outpost_http_requests_total"), "{body}");
    assert_eq!(
        get(&api, "/metrics")?.0,
        404,
        "metrics are not on the API port"
    );
    assert_eq!(get(&api, "/healthz")?.0, 200);
    assert_eq!(get(&admin, "/healthz")?.0, 200);
    assert_eq!(
        get(&admin, "/v1/sync")?.0,
        404,
        "the admin port serves no API"
    );
    child.kill()?;
    child.wait()?;
    Ok(())
}
