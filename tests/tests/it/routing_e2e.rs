//! Lead routing end to end: the real server binary and CLI devices. Rules are loaded with
//! `outpost-server routing set`; contacts created offline are routed at the sync that first
//! brings them (by region, by round robin across syncs and a server restart, by least loaded);
//! every device converges to the owner; the history shows the reason; later edits never
//! re-route; a bad rules file is refused naming the rule.

use outpost_tests::procs::{BoxError, Device, Server};
use serde_json::Value;

type TestResult = Result<(), BoxError>;

const RULES: &str = r#"{
  "skip_roles": ["manager"],
  "rules": [
    {"name": "south", "region": ["广东省"], "reps": ["alice"]},
    {"name": "factories", "industry": ["制造业"], "reps": ["carol", "dan"], "pick": "least_loaded"},
    {"name": "everyone else", "reps": ["erin", "frank", "gina"]}
  ]
}"#;

struct Team {
    dir: tempfile::TempDir,
    data: std::path::PathBuf,
    server: Server,
    tenant: String,
}

impl Team {
    fn new() -> Result<Team, BoxError> {
        let dir = tempfile::tempdir()?;
        let data = dir.path().join("server");
        std::fs::create_dir_all(&data)?;
        let server = Server::start(&data, "127.0.0.1:0")?;
        let tenant = server.admin(&["tenant", "create", "华南销售部", "--sharing", "open"])?;
        let tenant = tenant["id"].as_str().ok_or("tenant id")?.to_string();
        Ok(Team {
            dir,
            data,
            server,
            tenant,
        })
    }

    fn device(&self, user: &str, role: &str) -> Result<Device, BoxError> {
        let enrolled = self.server.admin(&[
            "device",
            "enroll",
            "--tenant",
            &self.tenant,
            "--user",
            user,
            "--role",
            role,
        ])?;
        let token = enrolled["token"].as_str().ok_or("token")?.to_string();
        let device = Device::new(self.dir.path().join(format!("{user}.db")), user)?;
        device.ok(&["sync", "--server", &self.server.url, "--token", &token])?;
        Ok(device)
    }

    fn rules_file(&self, name: &str, json: &str) -> Result<String, BoxError> {
        let file = self.dir.path().join(name);
        std::fs::write(&file, json)?;
        Ok(file.to_str().ok_or("path")?.to_string())
    }
}

fn add(device: &Device, name: &str, extra: &[&str]) -> Result<String, BoxError> {
    let mut args = vec!["contact", "add", "--name", name];
    args.extend_from_slice(extra);
    let c = device.ok(&args)?;
    Ok(c["id"].as_str().ok_or("id")?.to_string())
}

fn owner(device: &Device, id: &str) -> Result<String, BoxError> {
    let c = device.ok(&["contact", "get", id])?;
    Ok(c["owner"].as_str().unwrap_or_default().to_string())
}

fn routes(device: &Device, id: &str) -> Result<Vec<Value>, BoxError> {
    let history = device.ok(&["contact", "history", id])?;
    Ok(history
        .as_array()
        .ok_or("history is a list")?
        .iter()
        .filter(|h| {
            h["action"]
                .as_str()
                .is_some_and(|a| a.starts_with("route:"))
        })
        .cloned()
        .collect())
}

#[test]
fn new_leads_are_routed_once_at_sync_and_every_device_converges() -> TestResult {
    let mut team = Team::new()?;
    let a = team.device("rep_a", "rep")?;
    let b = team.device("rep_b", "rep")?;
    let boss = team.device("boss", "manager")?;

    let file = team.rules_file("routing.json", RULES)?;
    let set = team
        .server
        .admin(&["routing", "set", "--tenant", &team.tenant, &file])?;
    assert_eq!(set["routing"]["rules"][1]["pick"], "least_loaded");

    // A manager's contacts are not leads (skip_roles); they give carol a load of two.
    for n in ["老客户一", "老客户二"] {
        add(&boss, n, &["--owner", "carol", "--set", "industry=制造业"])?;
    }
    boss.ok(&["sync"])?;

    // Offline on A: one in Guangdong, three for round robin, three factories.
    let south = add(&a, "张伟", &["--address", "深圳市南山区科技园科苑路15号"])?;
    let rr: Vec<String> = ["李一", "李二", "李三"]
        .iter()
        .map(|n| add(&a, n, &[]))
        .collect::<Result<_, _>>()?;
    let factories: Vec<String> = ["王一", "王二", "王三"]
        .iter()
        .map(|n| add(&a, n, &["--set", "industry=制造业"]))
        .collect::<Result<_, _>>()?;
    assert_eq!(owner(&a, &south)?, "rep_a", "not routed before the sync");

    a.ok(&["sync"])?;
    // A gets the server's assignments in the same sync.
    assert_eq!(owner(&a, &south)?, "alice");
    let got: Vec<String> = rr
        .iter()
        .map(|id| owner(&a, id))
        .collect::<Result<_, _>>()?;
    assert_eq!(got, ["erin", "frank", "gina"]);
    // carol owns two: dan gets two, then the tie goes to carol (listed first).
    let got: Vec<String> = factories
        .iter()
        .map(|id| owner(&a, id))
        .collect::<Result<_, _>>()?;
    assert_eq!(got, ["dan", "dan", "carol"]);

    let c = a.ok(&["contact", "get", &south])?;
    assert_eq!(c["extra"]["routed_by"], "south");
    assert_eq!(
        c["extra"]["routing_reason"],
        "rule 1 (south): region 广东省 → alice"
    );
    assert!(c["extra"]["routed_at"].as_str().is_some());

    // B converges to the same owners and sees the reason in the history.
    b.ok(&["sync"])?;
    assert_eq!(owner(&b, &south)?, "alice");
    let got: Vec<String> = rr
        .iter()
        .map(|id| owner(&b, id))
        .collect::<Result<_, _>>()?;
    assert_eq!(got, ["erin", "frank", "gina"]);
    let r = routes(&b, &rr[1])?;
    assert_eq!(r.len(), 1, "{r:?}");
    assert_eq!(r[0]["actor"], "outpost-server");
    assert_eq!(
        r[0]["action"],
        "route: rule 3 (everyone else): every lead; round robin, turn 2 over erin, frank, gina → frank"
    );
    let r = routes(&b, &factories[0])?;
    assert_eq!(
        r[0]["action"],
        "route: rule 2 (factories): industry 制造业; least loaded (carol 2, dan 0) → dan"
    );
    assert!(
        r[0]["changes"]
            .as_array()
            .ok_or("changes")?
            .iter()
            .any(|c| c["field"] == "owner" && c["old"] == "rep_a" && c["new"] == "dan"),
        "{r:?}"
    );
    // The manager's contacts kept their owner.
    boss.ok(&["sync"])?;
    let mine = boss.ok(&["contact", "list"])?;
    let kept = mine
        .as_array()
        .ok_or("list")?
        .iter()
        .filter(|c| c["name"].as_str().is_some_and(|n| n.starts_with("老客户")))
        .filter(|c| c["owner"] == "carol" && c["extra"].get("routed_at").is_none())
        .count();
    assert_eq!(kept, 2);

    // Later edits never re-route: B moves 张伟 to Beijing and makes it a factory.
    b.ok(&[
        "contact",
        "edit",
        &south,
        "--address",
        "北京市朝阳区建国路88号",
        "--set",
        "industry=制造业",
    ])?;
    b.ok(&["sync"])?;
    a.ok(&["sync"])?;
    assert_eq!(owner(&a, &south)?, "alice");
    assert_eq!(routes(&a, &south)?.len(), 1);
    // A rep may not hand a routed contact on; a manager may, and that sticks too.
    let refused = a.run(&["contact", "edit", &rr[0], "--owner", "zoe"])?;
    assert_ne!(refused.code, 0);
    assert!(refused.stderr.contains("owner"), "{}", refused.stderr);
    boss.ok(&["sync"])?;
    boss.ok(&["contact", "edit", &rr[0], "--owner", "zoe"])?;
    boss.ok(&["sync"])?;
    b.ok(&["sync"])?;
    assert_eq!(owner(&b, &rr[0])?, "zoe");
    assert_eq!(routes(&b, &rr[0])?.len(), 1);
    // A device may not forge the routing keys.
    let forged = a.run(&["contact", "edit", &rr[0], "--set", "routed_at=never"])?;
    assert_ne!(forged.code, 0, "routed_at is the server's to set");

    // Round-robin turns survive a server restart: the next lead is the 4th turn.
    let port = team.server.port;
    team.server.kill()?;
    team.server = Server::start(&team.data, &format!("127.0.0.1:{port}"))?;
    let next = add(&a, "李四", &[])?;
    a.ok(&["sync"])?;
    assert_eq!(owner(&a, &next)?, "erin");

    let shown = team
        .server
        .admin(&["routing", "show", "--tenant", &team.tenant])?;
    assert_eq!(shown["routing"]["rules"][0]["name"], "south");
    assert_eq!(
        shown["round_robin_turns"],
        serde_json::json!([{"rule": 3, "turns": 4}])
    );
    assert_eq!(
        shown["recent_assignments"]
            .as_array()
            .ok_or("assignments")?
            .len(),
        8
    );
    Ok(())
}

#[test]
fn contacts_are_not_routed_without_rules_and_bad_rules_files_are_refused() -> TestResult {
    let team = Team::new()?;
    let a = team.device("rep_a", "rep")?;
    let before = add(&a, "赵六", &["--address", "广州市天河区"])?;
    a.ok(&["sync"])?;
    assert_eq!(owner(&a, &before)?, "rep_a");

    let bad = [
        (
            r#"{"rules": [{"reps": ["a"]}, {"name": "factories", "region": ["火星"], "reps": ["b"]}]}"#,
            "rule 2 (factories): can never match",
        ),
        (
            r#"{"rules": [{"name": "factories", "region": ["火星"], "reps": ["b"]}]}"#,
            "rule 1 (factories): region \"火星\" is not a province, city or district",
        ),
        (
            r#"{"rules": [{"reps": ["a", "b"], "pick": "random"}]}"#,
            "unknown variant `random`",
        ),
        (r#"{"rules": []}"#, "\"rules\" is empty"),
        (
            r#"{"rules": [{"region": ["广东省"], "reps": []}]}"#,
            "rule 1 (rule 1): \"reps\" is empty",
        ),
    ];
    for (i, (json, want)) in bad.iter().enumerate() {
        let file = team.rules_file(&format!("bad{i}.json"), json)?;
        let out = std::process::Command::new(outpost_tests::procs::binary(
            "outpost-server",
            "outpost-server",
        )?)
        .args(["routing", "set", "--tenant", &team.tenant, &file])
        .env("OUTPOST_DATA", &team.data)
        .env_remove("OUTPOST_DATABASE_URL")
        .output()?;
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{json} was accepted");
        assert!(
            stderr.contains(&format!("bad{i}.json: routing rules: ")) && stderr.contains(want),
            "{json}: {stderr}"
        );
    }
    let shown = team
        .server
        .admin(&["routing", "show", "--tenant", &team.tenant])?;
    assert_eq!(shown["routing"], Value::Null, "nothing was stored");

    // Rules apply to contacts the server sees from then on, not to those it has.
    let file = team.rules_file(
        "ok.json",
        r#"{"rules": [
            {"region": ["广东省"], "reps": ["alice"]},
            {"industry": ["制造业"], "reps": ["dan"]},
            {"reps": ["erin"]}
        ]}"#,
    )?;
    team.server
        .admin(&["routing", "set", "--tenant", &team.tenant, &file])?;
    a.ok(&["contact", "edit", &before, "--title", "经理"])?;
    let after = add(&a, "钱七", &[])?;
    // Imported rows are leads too; `行业` is read as the industry.
    let csv = team.dir.path().join("leads.csv");
    std::fs::write(
        &csv,
        "姓名,地址,行业\n孙八,广州市天河区体育西路,\n周九,,制造业\n",
    )?;
    let imported = a.ok(&["import", csv.to_str().ok_or("path")?])?;
    assert_eq!(imported["imported"], 2, "{imported}");
    a.ok(&["sync"])?;
    assert_eq!(owner(&a, &before)?, "rep_a");
    assert_eq!(owner(&a, &after)?, "erin");
    let list = a.ok(&["contact", "list"])?;
    let owner_of = |name: &str| {
        list.as_array()
            .and_then(|l| l.iter().find(|c| c["name"] == name))
            .map(|c| c["owner"].clone())
    };
    assert_eq!(owner_of("孙八"), Some(Value::from("alice")));
    assert_eq!(owner_of("周九"), Some(Value::from("dan")));
    Ok(())
}
