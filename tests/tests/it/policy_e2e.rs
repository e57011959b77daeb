//! The server's write policy end to end: the real server binary and CLI devices. A rep's device
//! that removed every stage gate (`outpost flow set` before it knew its role) still cannot win a
//! deal without a contract: the server refuses the move with the gate's reason; once the device
//! knows its role it refuses `flow set` itself, while a manager's may. A manager merging a routed
//! lead into another contact syncs: the routing markers stay the server's.

use outpost_tests::procs::{BoxError, Device, Server};
use serde_json::Value;

type TestResult = Result<(), BoxError>;

struct Tenant {
    dir: tempfile::TempDir,
    server: Server,
    id: String,
}

impl Tenant {
    fn new(sharing: &str) -> Result<Tenant, BoxError> {
        let dir = tempfile::tempdir()?;
        let data = dir.path().join("server");
        std::fs::create_dir_all(&data)?;
        let server = Server::start(&data, "127.0.0.1:0")?;
        let tenant = server.admin(&["tenant", "create", "华东销售部", "--sharing", sharing])?;
        let id = tenant["id"].as_str().ok_or("tenant id")?.to_string();
        Ok(Tenant { dir, server, id })
    }

    fn admin(&self, args: &[&str]) -> Result<Value, BoxError> {
        let mut all: Vec<&str> = args.to_vec();
        all.extend(["--tenant", self.id.as_str()]);
        self.server.admin(&all)
    }

    /// An enrolled device and its token; synced once when `sync_now`.
    fn device(&self, user: &str, role: &str, sync_now: bool) -> Result<(Device, String), BoxError> {
        let enrolled = self.admin(&["device", "enroll", "--user", user, "--role", role])?;
        let token = enrolled["token"].as_str().ok_or("token")?.to_string();
        let device = Device::new(self.dir.path().join(format!("{user}.db")), user)?;
        if sync_now {
            device.ok(&["sync", "--server", &self.server.url, "--token", &token])?;
        }
        Ok((device, token))
    }

    /// A file holding flow settings whose stages have no gates.
    fn gateless(&self) -> Result<String, BoxError> {
        let mut config = outpost_core::FlowConfig::default();
        for stage in &mut config.stages {
            stage.requires.clear();
        }
        let file = self.dir.path().join("gateless.json");
        std::fs::write(&file, serde_json::to_string(&config)?)?;
        Ok(file.to_str().ok_or("path")?.to_string())
    }
}

fn id(v: &Value) -> Result<String, BoxError> {
    Ok(v["id"].as_str().ok_or("id")?.to_string())
}

/// Item 1 end to end: the gates hold at the server whatever the device's settings say.
#[test]
fn a_reps_device_cannot_bend_the_tenants_flow() -> TestResult {
    let t = Tenant::new("private")?;
    t.admin(&["team", "create", "east", "--manager", "boss"])?;
    t.admin(&["team", "add", "east", "alice"])?;
    let (boss, _) = t.device("boss", "manager", true)?;
    // Alice's device has not synced yet: it does not know her role and lets her remove the
    // gates locally, then wins a deal without a contract.
    let (alice, token) = t.device("alice", "rep", false)?;
    let gateless = t.gateless()?;
    alice.ok(&["flow", "set", &gateless])?;
    let c = id(&alice.ok(&["contact", "add", "--name", "张伟"])?)?;
    let d = id(&alice.ok(&["deal", "add", "--contact", &c, "--title", "年度框架协议"])?)?;
    assert_eq!(alice.ok(&["deal", "move", &d, "won"])?["stage"], "won");

    let report = alice.ok(&["sync", "--server", &t.server.url, "--token", &token])?;
    assert_eq!(
        report["rejected"], 1,
        "the server accepted a won deal without a contract: {report}"
    );
    assert_eq!(report["status"], "partial", "{report}");
    let status = alice.ok(&["status"])?.to_string();
    assert!(
        status.contains("cannot enter won without a contract"),
        "the gate's reason is reported: {status}"
    );
    // The contact and the deal itself went through; the deal is still a lead on the server.
    boss.ok(&["sync"])?;
    assert_eq!(boss.ok(&["deal", "get", &d])?["stage"], "lead");

    // Now alice's device knows she is a rep: it refuses the settings itself.
    let refused = alice.run(&["flow", "set", &gateless])?;
    assert_ne!(refused.code, 0);
    assert!(
        refused.stderr.contains("flow settings"),
        "{}",
        refused.stderr
    );

    // With a contract scan of the deal on the server, the manager's move to won is accepted.
    let scan = t.dir.path().join("合同.jpg");
    std::fs::write(&scan, b"contract scan")?;
    alice.ok(&[
        "attachment",
        "add",
        &c,
        scan.to_str().ok_or("path")?,
        "--category",
        "contract",
        "--deal",
        &d,
        "--field",
        "amount=305000",
    ])?;
    alice.ok(&["sync"])?;
    boss.ok(&["sync"])?;
    assert_eq!(boss.ok(&["deal", "move", &d, "won"])?["stage"], "won");
    let report = boss.ok(&["sync"])?;
    assert_eq!(report["rejected"], 0, "{report}");
    // A manager has flow:configure: their device takes the settings.
    boss.ok(&["flow", "set", &gateless])?;
    Ok(())
}

/// Item 8 with merges: a routed lead merged into an unrouted contact does not carry its
/// routing markers along (the server would refuse them), so the merge syncs.
#[test]
fn merging_a_routed_lead_syncs() -> TestResult {
    let t = Tenant::new("open")?;
    let rules = t.dir.path().join("rules.json");
    std::fs::write(
        &rules,
        r#"{"skip_roles": ["manager"], "rules": [{"name": "all", "reps": ["carol"]}]}"#,
    )?;
    t.admin(&["routing", "set", rules.to_str().ok_or("path")?])?;
    let (alice, _) = t.device("alice", "rep", true)?;
    let (boss, _) = t.device("boss", "manager", true)?;
    let lead = id(&alice.ok(&["contact", "add", "--name", "张伟", "--phone", "13800138000"])?)?;
    alice.ok(&["sync"])?;
    let kept = id(&boss.ok(&["contact", "add", "--name", "张伟", "--company", "华强"])?)?;
    boss.ok(&["sync"])?;
    let routed = boss.ok(&["contact", "get", &lead])?;
    assert_eq!(routed["owner"], "carol", "{routed}");
    assert!(routed["extra"]["routed_at"].is_string(), "{routed}");
    let merged = boss.ok(&["contact", "merge", &kept, &lead])?;
    assert!(merged["extra"].get("routed_at").is_none(), "{merged}");
    let report = boss.ok(&["sync"])?;
    assert_eq!(report["rejected"], 0, "{report}");
    Ok(())
}
