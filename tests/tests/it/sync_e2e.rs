//! End to end: the real `outpost-server` binary on port 0 and several `outpost` CLI devices.
//! Offline edits on both sides converge; concurrent same-field edits pick the same winner
//! everywhere and list the conflict until it is resolved; a new device bootstraps; a killed
//! server loses nothing; a revoked device wipes itself.

use outpost_tests::procs::{BoxError, Device, Server};
use serde_json::Value;

type TestResult = Result<(), BoxError>;

struct Team {
    _dir: tempfile::TempDir,
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
        assert_eq!(tenant["name"], "华强销售部");
        let tenant = tenant["id"].as_str().ok_or("tenant id")?.to_string();
        Ok(Team {
            _dir: dir,
            server,
            tenant,
        })
    }

    /// Enrolls a device for `user` and connects a fresh CLI store to the server.
    fn device(&self, user: &str) -> Result<(Device, String), BoxError> {
        let enrolled =
            self.server
                .admin(&["device", "enroll", "--tenant", &self.tenant, "--user", user])?;
        let token = enrolled["token"].as_str().ok_or("token")?.to_string();
        let device_id = enrolled["device_id"]
            .as_str()
            .ok_or("device_id")?
            .to_string();
        let db = self._dir.path().join(format!("{user}.db"));
        let device = Device::new(db, user)?;
        device.ok(&["sync", "--server", &self.server.url, "--token", &token])?;
        Ok((device, device_id))
    }
}

fn contact(device: &Device, id: &str) -> Result<Value, BoxError> {
    let mut c = device.ok(&["contact", "get", id])?;
    // Sync state is per device; everything else must be identical.
    if let Some(o) = c.as_object_mut() {
        o.remove("sync_state");
    }
    Ok(c)
}

fn sync(device: &Device) -> Result<Value, BoxError> {
    device.ok(&["sync"])
}

#[test]
fn offline_edits_converge_and_conflicts_resolve_everywhere() -> TestResult {
    let team = Team::new()?;
    let (a, _) = team.device("rep_a")?;
    let (b, _) = team.device("rep_b")?;

    // A creates a customer offline, then syncs; B receives it.
    let c = a.ok(&[
        "contact",
        "add",
        "--name",
        "张伟",
        "--company",
        "深圳市华强科技有限公司",
        "--phone",
        "138 0013 8000",
    ])?;
    let id = c["id"].as_str().ok_or("id")?.to_string();
    assert_eq!(c["sync_state"], "local");
    let report = sync(&a)?;
    assert_eq!(report["pushed"], 1);
    assert_eq!(report["status"], "ok");
    for key in ["pushed", "pulled", "cursor", "conflicts", "status"] {
        assert!(report.get(key).is_some(), "sync report has {key}");
    }
    assert_eq!(a.ok(&["contact", "get", &id])?["sync_state"], "synced");
    let report = sync(&b)?;
    assert_eq!(report["pulled"], 1);
    assert_eq!(contact(&b, &id)?, contact(&a, &id)?);
    assert_eq!(
        b.ok(&["search", "华强"])?[0]["id"],
        id.as_str(),
        "pulled records are searchable"
    );

    // Different fields edited offline on both devices merge without conflict.
    a.ok(&["contact", "edit", &id, "--title", "采购经理"])?;
    b.ok(&[
        "contact",
        "edit",
        &id,
        "--email",
        "zw@huaqiang.com",
        "--set",
        "wechat=zw88",
    ])?;
    b.ok(&[
        "contact",
        "add",
        "--name",
        "王芳",
        "--company",
        "广州白云贸易",
    ])?;
    sync(&a)?;
    sync(&b)?;
    sync(&a)?;
    let merged = contact(&a, &id)?;
    assert_eq!(merged, contact(&b, &id)?);
    assert_eq!(
        (merged["title"].clone(), merged["emails"][0].clone()),
        ("采购经理".into(), "zw@huaqiang.com".into())
    );
    assert_eq!(merged["extra"]["wechat"], "zw88");
    assert_eq!(a.ok(&["contact", "conflicts", &id])?, serde_json::json!([]));
    assert_eq!(
        a.ok(&["contact", "list"])?.as_array().map(Vec::len),
        Some(2)
    );

    // The same field edited concurrently: one winner everywhere, both values listed.
    a.ok(&["contact", "edit", &id, "--title", "采购总监"])?;
    b.ok(&["contact", "edit", &id, "--title", "副总经理"])?;
    sync(&a)?;
    let report = sync(&b)?;
    assert_eq!(report["conflicts"], 1, "B learns of the conflict");
    sync(&a)?;
    let (ca, cb) = (contact(&a, &id)?, contact(&b, &id)?);
    assert_eq!(ca, cb, "same winner on both devices");
    let conflicts_a = a.ok(&["contact", "conflicts", &id])?;
    assert_eq!(conflicts_a, b.ok(&["contact", "conflicts", &id])?);
    let fields = conflicts_a.as_array().ok_or("array")?;
    assert_eq!(fields.len(), 1);
    assert_eq!(fields[0]["field"], "title");
    let mut values: Vec<String> = fields[0]["values"]
        .as_array()
        .ok_or("values")?
        .iter()
        .map(|v| v["value"].as_str().unwrap_or("").to_string())
        .collect();
    assert_eq!(
        fields[0]["values"][0]["value"], ca["title"],
        "the winner is listed first"
    );
    values.sort();
    assert_eq!(values, ["副总经理", "采购总监"]);
    let actors: Vec<&str> = fields[0]["values"]
        .as_array()
        .ok_or("values")?
        .iter()
        .filter_map(|v| v["actor"].as_str())
        .collect();
    assert!(
        actors.contains(&"rep_a") && actors.contains(&"rep_b"),
        "{actors:?}"
    );

    // Resolving on B clears it everywhere after sync.
    let resolved = b.ok(&["contact", "resolve", &id, "title", "采购总监"])?;
    assert_eq!(resolved["title"], "采购总监");
    assert_eq!(b.ok(&["contact", "conflicts", &id])?, serde_json::json!([]));
    sync(&b)?;
    sync(&a)?;
    assert_eq!(a.ok(&["contact", "conflicts", &id])?, serde_json::json!([]));
    assert_eq!(contact(&a, &id)?, contact(&b, &id)?);
    assert_eq!(contact(&a, &id)?["title"], "采购总监");

    // A new device bootstraps from compacted documents and sees the same records.
    let (c_dev, _) = team.device("manager")?;
    assert_eq!(contact(&c_dev, &id)?, contact(&a, &id)?);
    assert_eq!(
        c_dev.ok(&["contact", "list"])?.as_array().map(Vec::len),
        Some(2)
    );
    let history = c_dev.ok(&["contact", "history", &id])?;
    assert!(
        history.as_array().map(Vec::len).unwrap_or(0) >= 5,
        "the history travels with the document"
    );
    Ok(())
}

#[test]
fn killed_server_loses_nothing_and_revoked_device_is_wiped() -> TestResult {
    let mut team = Team::new()?;
    let (a, _) = team.device("rep_a")?;
    let (b, b_id) = team.device("rep_b")?;
    let c = a.ok(&["contact", "add", "--name", "李娜", "--phone", "13912345678"])?;
    let id = c["id"].as_str().ok_or("id")?.to_string();
    sync(&a)?;

    // The server dies; the rep keeps working; sync fails cleanly and keeps the outbox.
    let port = team.server.port;
    team.server.kill()?;
    a.ok(&["contact", "edit", &id, "--title", "财务总监"])?;
    let failed = a.run(&["sync", "--attempts", "2"])?;
    assert_eq!(failed.code, 1);
    assert!(
        failed.stderr.starts_with("error: network: "),
        "{}",
        failed.stderr
    );
    assert_eq!(a.ok(&["status"])?["outbox_len"], 1, "nothing lost");
    // It comes back on the same port and data; the next sync delivers exactly once.
    team.server = Server::start(&team.server.data.clone(), &format!("127.0.0.1:{port}"))?;
    assert_eq!(sync(&a)?["pushed"], 1);
    assert_eq!(sync(&a)?["pushed"], 0);
    sync(&b)?;
    assert_eq!(contact(&b, &id)?["title"], "财务总监");
    assert_eq!(
        b.ok(&["contact", "history", &id])?.as_array().map(Vec::len),
        Some(2),
        "no duplicate changes"
    );

    // B is revoked: its next sync says so and its store is emptied.
    team.server.admin(&["device", "revoke", &b_id])?;
    let revoked = b.run(&["sync"])?;
    assert_ne!(revoked.code, 0);
    assert_eq!(revoked.stderr.trim(), "error: auth: device revoked");
    assert_eq!(
        b.ok(&["contact", "list", "--include-invalid"])?,
        serde_json::json!([])
    );
    let raw = std::fs::read(&b.db)?;
    let needle = "李娜".as_bytes();
    assert!(
        !raw.windows(needle.len()).any(|w| w == needle),
        "no trace of the customer's name in the file"
    );
    let wal = std::fs::read(format!("{}-wal", b.db.display())).unwrap_or_default();
    assert!(
        !wal.windows(needle.len()).any(|w| w == needle),
        "nor in the write-ahead log"
    );
    Ok(())
}
