//! Field workflows end to end: the real server binary and two CLI devices. Tenant settings set
//! on the server reach every device; the server re-checks visit verdicts at sync and its verdict
//! wins everywhere; deals, stage moves and follow-up tasks converge.

use outpost_tests::procs::{BoxError, Device, Server};
use serde_json::Value;

type TestResult = Result<(), BoxError>;

struct Team {
    dir: tempfile::TempDir,
    server: Server,
    tenant: String,
}

impl Team {
    fn new() -> Result<Team, BoxError> {
        let dir = tempfile::tempdir()?;
        let data = dir.path().join("server");
        std::fs::create_dir_all(&data)?;
        let server = Server::start(&data, "127.0.0.1:0")?;
        let tenant = server.admin(&["tenant", "create", "华强销售部", "--sharing", "open"])?;
        let tenant = tenant["id"].as_str().ok_or("tenant id")?.to_string();
        Ok(Team {
            dir,
            server,
            tenant,
        })
    }

    fn device(&self, user: &str) -> Result<Device, BoxError> {
        let enrolled =
            self.server
                .admin(&["device", "enroll", "--tenant", &self.tenant, "--user", user])?;
        let token = enrolled["token"].as_str().ok_or("token")?.to_string();
        let device = Device::new(self.dir.path().join(format!("{user}.db")), user)?;
        device.ok(&["sync", "--server", &self.server.url, "--token", &token])?;
        Ok(device)
    }

    fn set_flow(&self, json: &str) -> Result<Value, BoxError> {
        let file = self.dir.path().join("flow.json");
        std::fs::write(&file, json)?;
        self.server.admin(&[
            "flow",
            "set",
            "--tenant",
            &self.tenant,
            file.to_str().ok_or("path")?,
        ])
    }
}

/// The tenant's audit rows of one event (`outpost-server audit export`, JSON lines).
fn audit_rows(team: &Team, event: &str) -> Result<Vec<Value>, BoxError> {
    let out = std::process::Command::new(outpost_tests::procs::binary(
        "outpost-server",
        "outpost-server",
    )?)
    .args([
        "audit",
        "export",
        "--tenant",
        &team.tenant,
        "--event",
        event,
    ])
    .env("OUTPOST_DATA", &team.server.data)
    .env_remove("OUTPOST_DATABASE_URL")
    .output()?;
    if !out.status.success() {
        return Err(String::from_utf8_lossy(&out.stderr).into_owned().into());
    }
    let mut rows = Vec::new();
    for line in String::from_utf8(out.stdout)?.lines() {
        if !line.trim().is_empty() {
            rows.push(serde_json::from_str(line)?);
        }
    }
    Ok(rows)
}

fn id(v: &Value) -> Result<String, BoxError> {
    Ok(v["id"].as_str().ok_or("id")?.to_string())
}

#[test]
fn server_settings_reach_devices_and_the_servers_verdict_wins() -> TestResult {
    let team = Team::new()?;
    let a = team.device("rep_a")?;
    let b = team.device("rep_b")?;
    let c = a.ok(&[
        "contact",
        "add",
        "--name",
        "张伟",
        "--set",
        "lat=22.5431",
        "--set",
        "lon=113.9480",
    ])?;
    let cid = id(&c)?;
    a.ok(&["sync"])?;
    b.ok(&["sync"])?;
    assert_eq!(b.ok(&["flow", "get"])?["visit_radius_m"], 500.0);

    // The operator tightens the radius to 100 m; B has not synced since.
    let set = team.set_flow(r#"{"visit_radius_m": 100}"#)?;
    assert_eq!(set["changed"], true);
    assert_eq!(
        team.server
            .admin(&["flow", "get", "--tenant", &team.tenant])?["visit_radius_m"],
        100.0
    );

    // B checks in ~330 m away: verified on the device (500 m)...
    let v = b.ok(&[
        "visit",
        "check-in",
        &cid,
        "--lat",
        "22.5461",
        "--lon",
        "113.9480",
        "--accuracy",
        "10",
    ])?;
    assert_eq!(v["check"]["verdict"], "verified");
    let vid = id(&v)?;
    // ...the server re-checks at sync with the tenant's 100 m, and its verdict comes back.
    b.ok(&["sync"])?;
    assert_eq!(
        b.ok(&["flow", "get"])?["visit_radius_m"],
        100.0,
        "settings synced"
    );
    let on_b = b.ok(&["visit", "get", &vid])?;
    assert_eq!(on_b["check"]["verdict"], "far_from_customer", "{on_b}");
    assert_eq!(on_b["check"]["by"], "server");
    let history = b.ok(&["visit", "history", &vid])?;
    assert!(
        history.as_array().is_some_and(|h| h
            .iter()
            .any(|e| e["actor"] == "outpost-server" && e["action"] == "server_verdict")),
        "{history}"
    );
    // A converges to the server's verdict, and its manager view shows it.
    a.ok(&["sync"])?;
    let on_a = a.ok(&["visit", "get", &vid])?;
    assert_eq!(on_a["check"], on_b["check"]);
    let alerts = a.ok(&["alerts"])?;
    assert!(
        alerts
            .as_array()
            .is_some_and(|l| l.iter().any(|x| x["record_id"] == vid.as_str()
                && x["detail"]
                    .as_str()
                    .is_some_and(|d| d.starts_with("far_from_customer (server)")))),
        "{alerts}"
    );
    // The audit trail has the operator's settings change, the internal server device's
    // enrolment, and the server's own pushes (settings and the re-checked visit).
    let set_rows = audit_rows(&team, "flow.set")?;
    assert_eq!(set_rows.len(), 1, "{set_rows:?}");
    assert_eq!(set_rows[0]["remote"], "operator");
    let enrolled = audit_rows(&team, "device.enroll")?;
    assert!(
        enrolled
            .iter()
            .any(|r| r["user_id"] == "outpost-server" && r["remote"] == "server"),
        "{enrolled:?}"
    );
    let server_pushes: Vec<String> = audit_rows(&team, "sync.push")?
        .iter()
        .filter(|r| r["user_id"] == "outpost-server")
        .filter_map(|r| r["detail"].as_str().map(str::to_string))
        .collect();
    assert!(
        server_pushes.iter().any(|d| d.contains(&vid)),
        "{server_pushes:?}"
    );
    assert!(
        server_pushes.iter().any(|d| d.contains("\"config\"")),
        "{server_pushes:?}"
    );
    let verified = team
        .server
        .admin(&["audit", "verify", "--tenant", &team.tenant])?;
    assert_eq!(verified["ok"], true, "{verified}");
    Ok(())
}

#[test]
fn a_device_clock_ahead_of_the_server_is_suspect() -> TestResult {
    let team = Team::new()?;
    let a = team.device("rep_a")?;
    let c = a.ok(&["contact", "add", "--name", "李娜"])?;
    let ahead = (chrono::Utc::now() + chrono::Duration::hours(2))
        .with_timezone(&chrono::FixedOffset::east_opt(8 * 3600).ok_or("offset")?)
        .to_rfc3339();
    let v = a.ok(&[
        "visit",
        "check-in",
        &id(&c)?,
        "--lat",
        "23.13",
        "--lon",
        "113.26",
        "--accuracy",
        "10",
        "--device-time",
        &ahead,
        "--elapsed-ms",
        "1000",
    ])?;
    a.ok(&["sync"])?;
    let got = a.ok(&["visit", "get", &id(&v)?])?;
    assert_eq!(got["check"]["verdict"], "clock_suspect", "{got}");
    assert_eq!(got["check"]["by"], "server");
    Ok(())
}

#[test]
fn deals_moves_and_follow_ups_converge() -> TestResult {
    let team = Team::new()?;
    let a = team.device("rep_a")?;
    let b = team.device("rep_b")?;
    let c = a.ok(&[
        "contact",
        "add",
        "--name",
        "王芳",
        "--company",
        "上海浦东贸易",
    ])?;
    let d = a.ok(&[
        "deal",
        "add",
        "--contact",
        &id(&c)?,
        "--title",
        "年度框架协议",
    ])?;
    let v = a.ok(&[
        "visit",
        "check-in",
        &id(&c)?,
        "--lat",
        "31.23",
        "--lon",
        "121.47",
    ])?;
    a.ok(&[
        "visit",
        "check-out",
        &id(&v)?,
        "--notes",
        "下周报价",
        "--next-follow-up",
        "2026-12-01",
    ])?;
    a.ok(&["sync"])?;
    b.ok(&["sync"])?;
    let on_b = b.ok(&["deal", "get", &id(&d)?])?;
    assert_eq!(on_b["title"], "年度框架协议");
    assert_eq!(on_b["stage"], "lead");
    // B moves it (the recent visit synced too, so negotiation's gate is met on B).
    b.ok(&["deal", "move", &id(&d)?, "qualified"])?;
    b.ok(&["deal", "move", &id(&d)?, "negotiation"])?;
    let tasks = b.ok(&["task", "list"])?;
    assert_eq!(tasks[0]["due"], "2026-12-01");
    b.ok(&["task", "done", &id(&tasks[0])?])?;
    b.ok(&["sync"])?;
    a.ok(&["sync"])?;
    let on_a = a.ok(&["deal", "get", &id(&d)?])?;
    assert_eq!(on_a["stage"], "negotiation");
    assert_eq!(a.ok(&["task", "list"])?.as_array().map(Vec::len), Some(0));
    let history = a.ok(&["deal", "history", &id(&d)?])?;
    let movers: Vec<&str> = history
        .as_array()
        .map(|h| {
            h.iter()
                .filter(|e| e["action"] == "move")
                .filter_map(|e| e["actor"].as_str())
                .collect()
        })
        .unwrap_or_default();
    assert_eq!(movers, ["rep_b", "rep_b"]);
    Ok(())
}
