//! End to end: an operator invites a rep (`outpost-server device invite`, with a QR code), the
//! phone enrols with the code (`outpost enroll`) and syncs without ever seeing a token; a code
//! works once and expires; `device rotate` stops the old token at once; `device list` shows
//! what each device reported at its last sync; `tenant list` lists the tenants.

use outpost_tests::procs::{http_raw, BoxError, Device, Server};
use serde_json::Value;

type TestResult = Result<(), BoxError>;

fn code_of(invite: &Value) -> Result<String, BoxError> {
    Ok(invite["code"].as_str().ok_or("code")?.to_string())
}

#[test]
fn a_rep_enrols_with_a_one_time_code_and_rotation_stops_the_old_token() -> TestResult {
    let dir = tempfile::tempdir()?;
    let server = Server::start(&dir.path().join("server"), "127.0.0.1:0")?;
    let tenant = server.admin(&["tenant", "create", "华强销售部"])?;
    let tenant = tenant["id"].as_str().ok_or("tenant id")?.to_string();
    server.admin(&["tenant", "create", "华东大区"])?;
    let tenants = server.admin(&["tenant", "list"])?;
    let names: Vec<&str> = tenants
        .as_array()
        .ok_or("tenant list")?
        .iter()
        .filter_map(|t| t["name"].as_str())
        .collect();
    assert_eq!(names, ["华东大区", "华强销售部"]);

    let qr = dir.path().join("invite.png");
    let invite = server.admin(&[
        "device",
        "invite",
        "--tenant",
        "华强销售部",
        "--user",
        "wang_fang",
        "--role",
        "manager",
        "--qr",
        qr.to_str().ok_or("path")?,
        "--server",
        &server.url,
    ])?;
    let code = code_of(&invite)?;
    assert_eq!(code.len(), 11, "{invite}");
    // The QR code holds the server's address and the code.
    let image = image::open(&qr)?.to_luma8();
    let mut prepared = rqrr::PreparedImage::prepare(image);
    let grids = prepared.detect_grids();
    let (_, content) = grids
        .first()
        .ok_or("no QR code found in the PNG")?
        .decode()?;
    assert!(
        content.starts_with("outpost://enroll?server=http%3A%2F%2F127.0.0.1%3A"),
        "{content}"
    );
    assert!(content.ends_with(&format!("&code={code}")), "{content}");

    // The phone enrols with the code as typed (lower case, spaces) and syncs.
    let phone = Device::new(dir.path().join("wang.db"), "wang_fang")?;
    let typed = code.to_lowercase().replace('-', " ");
    let enrolled = phone.ok(&["enroll", "--server", &server.url, "--code", &typed])?;
    assert_eq!(enrolled["tenant_id"], tenant.as_str());
    assert_eq!(enrolled["user"], "wang_fang");
    assert_eq!(enrolled["role"], "manager");
    assert!(
        enrolled.get("token").is_none(),
        "the token is never shown: {enrolled}"
    );
    phone.ok(&[
        "contact",
        "add",
        "--name",
        "张伟",
        "--phone",
        "138 0013 8000",
    ])?;
    let report = phone.ok(&["sync"])?;
    assert_eq!(report["pushed"], 1, "{report}");

    let listed = server.admin(&["device", "list", "--tenant", "华强销售部"])?;
    let row = &listed[0];
    assert_eq!(row["device_id"], enrolled["device_id"]);
    assert!(
        row["app_version"]
            .as_str()
            .is_some_and(|v| v.starts_with("outpost-core/")),
        "{row}"
    );
    assert_eq!(row["outbox"], 0, "{row}");
    assert!(row["last_sync_at"].is_string(), "{row}");

    // A code works once.
    let other = Device::new(dir.path().join("other.db"), "wang_fang")?;
    let used = other.run(&["enroll", "--server", &server.url, "--code", &code])?;
    assert_ne!(used.code, 0);
    assert!(used.stderr.contains("used already"), "{}", used.stderr);
    assert!(other.run(&["sync"])?.code != 0, "nothing was remembered");

    // An expired code is refused; so is a code that was never made.
    let short = server.admin(&[
        "device",
        "invite",
        "--tenant",
        &tenant,
        "--user",
        "li",
        "--expires",
        "1m",
    ])?;
    assert!(short["expires_at"].is_string());
    let unknown = other.run(&["enroll", "--server", &server.url, "--code", "ZZZZZ-ZZZZZ"])?;
    assert!(
        unknown.stderr.contains("unknown enrolment code"),
        "{}",
        unknown.stderr
    );
    let bad = server
        .admin(&[
            "device",
            "invite",
            "--tenant",
            &tenant,
            "--user",
            "li",
            "--expires",
            "45x",
        ])
        .err()
        .ok_or("a bad --expires was taken")?;
    assert!(bad.to_string().contains("unknown unit"), "{bad}");

    // Rotation: the old token is refused at once, the new one syncs.
    let device_id = enrolled["device_id"].as_str().ok_or("device id")?;
    let rotated = server.admin(&["device", "rotate", device_id])?;
    let token = rotated["token"].as_str().ok_or("token")?;
    let refused = phone.run(&["sync"])?;
    assert_ne!(refused.code, 0);
    assert!(refused.stderr.contains("token"), "{}", refused.stderr);
    let report = phone.ok(&["sync", "--server", &server.url, "--token", token])?;
    assert_eq!(report["status"], "ok", "{report}");

    // Every step is in the audit trail.
    let audit = std::process::Command::new(outpost_tests::procs::binary(
        "outpost-server",
        "outpost-server",
    )?)
    .args(["audit", "export", "--tenant", &tenant])
    .env("OUTPOST_DATA", &server.data)
    .output()?;
    let events: Vec<String> = String::from_utf8_lossy(&audit.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter_map(|row| row["event"].as_str().map(str::to_string))
        .collect();
    for event in ["device.invite", "device.enroll", "device.rotate"] {
        assert!(events.iter().any(|e| e == event), "{event} in {events:?}");
    }

    // Guessing codes is limited like guessing tokens: after the failed-login limit, even a
    // good code waits (429 with Retry-After).
    let fresh =
        code_of(&server.admin(&["device", "invite", "--tenant", &tenant, "--user", "zhao"])?)?;
    let addr = server.url.trim_start_matches("http://");
    let mut last = 0;
    for n in 0..25 {
        let (status, _) = post_json(
            addr,
            "/v1/enroll",
            &format!(r#"{{"v":1,"code":"ZZZZZ-{n:05}"}}"#),
        )?;
        last = status;
        if status == 429 {
            break;
        }
        assert_eq!(status, 401);
    }
    assert_eq!(last, 429, "guesses are limited");
    let (status, head) = post_json(
        addr,
        "/v1/enroll",
        &format!(r#"{{"v":1,"code":"{fresh}"}}"#),
    )?;
    assert_eq!(status, 429);
    assert!(head.to_ascii_lowercase().contains("retry-after:"), "{head}");
    Ok(())
}

/// `POST path` with a JSON body on `addr`: the status and the response's head.
fn post_json(addr: &str, path: &str, body: &str) -> Result<(u16, String), BoxError> {
    let (status, head, _) = http_raw(
        addr,
        "POST",
        path,
        "Content-Type: application/json\r\n",
        body,
    )?;
    Ok((status, head))
}
