//! A change the server refuses never strands its record (issue 17, item 12), end to end: the
//! real server binary in a private tenant and `outpost` CLI devices. A rep's device that last
//! heard its role could reassign (`assign`) writes an owner while the operator has taken that
//! permission away (`contact edit --set owner=X`, `contact edit --unset owner`; the third way,
//! `contact resolve ID owner X` without a conflict, is refused on the device itself, and the
//! resolve of a real conflict is covered in `core/tests/it/rejections.rs`) and edits the contact
//! again before syncing. The sync reports the refusal with its reason, the owner is back at the
//! server's value, the later edit reaches the server in the same sync, nothing is left in the
//! outbox, and the next ordinary edit reaches the rep's manager.

use outpost_tests::procs::{BoxError, Device, Server};
use serde_json::Value;

type TestResult = Result<(), BoxError>;

fn contact_id(v: &Value) -> Result<String, BoxError> {
    Ok(v["id"].as_str().ok_or("contact id")?.to_string())
}

#[test]
fn a_refused_owner_change_is_undone_and_the_contact_keeps_syncing() -> TestResult {
    let dir = tempfile::tempdir()?;
    let data = dir.path().join("server");
    std::fs::create_dir_all(&data)?;
    let server = Server::start(&data, "127.0.0.1:0")?;
    let tenant = server.admin(&["tenant", "create", "华东销售部"])?;
    let tenant = tenant["id"].as_str().ok_or("tenant id")?.to_string();
    let admin = |args: &[&str]| -> Result<Value, BoxError> {
        let mut all = args.to_vec();
        all.extend(["--tenant", tenant.as_str()]);
        server.admin(&all)
    };
    admin(&["team", "create", "east", "--manager", "boss"])?;
    admin(&["team", "add", "east", "alice"])?;
    let device = |user: &str, role: &str| -> Result<Device, BoxError> {
        let enrolled = admin(&["device", "enroll", "--user", user, "--role", role])?;
        let token = enrolled["token"].as_str().ok_or("token")?;
        let d = Device::new(dir.path().join(format!("{user}.db")), user)?;
        d.ok(&["sync", "--server", &server.url, "--token", token])?;
        Ok(d)
    };
    let alice = device("alice", "rep")?;
    let boss = device("boss", "manager")?;
    // Reps of this tenant may reassign records until the operator takes it back.
    let rep_with_assign = "contact:read,contact:write,visit:read,visit:write,deal:read,\
                           deal:write,task:read,task:write,attachment:read,attachment:write,\
                           invalidate,merge,scope:own,assign";

    let strandings: [&[&str]; 2] = [
        &["contact", "edit", "ID", "--set", "owner=boss"],
        &["contact", "edit", "ID", "--unset", "owner"],
    ];
    for (case, stranding) in strandings.iter().enumerate() {
        let phone = format!("138 0013 800{case}");
        admin(&["role", "set", "rep", "--permissions", rep_with_assign])?;
        let id = contact_id(&alice.ok(&["contact", "add", "--name", "张伟", "--phone", &phone])?)?;
        alice.ok(&["sync"])?;
        // The phone now believes it may reassign; the operator takes that back meanwhile.
        admin(&["role", "reset", "rep"])?;
        // A resolve without a conflict never reaches the server (item 15): nothing to strand.
        let resolve = alice.run(&["contact", "resolve", &id, "owner", "boss"])?;
        assert_eq!(resolve.code, 2, "case {case}: {}", resolve.stderr);
        assert!(resolve.stderr.contains("no conflict"), "{}", resolve.stderr);

        let args: Vec<&str> = stranding
            .iter()
            .map(|a| if *a == "ID" { id.as_str() } else { a })
            .collect();
        alice.ok(&args)?;
        alice.ok(&["contact", "edit", &id, "--title", "总监"])?;
        let report = alice.ok(&["sync"])?;
        assert_eq!(report["rejected"], 1, "case {case}: {report}");
        assert_eq!(report["status"], "partial", "case {case}");
        let refusal = &report["rejections"][0];
        assert_eq!(refusal["record_id"], id.as_str(), "case {case}: {report}");
        assert_eq!(
            refusal["fields"],
            serde_json::json!(["owner"]),
            "case {case}"
        );
        assert!(
            refusal["reason"].as_str().unwrap_or("").contains("assign"),
            "case {case}: {refusal}"
        );
        // The later edit went through in the same sync.
        assert!(
            report["pushed"].as_u64().unwrap_or(0) >= 1,
            "case {case}: {report}"
        );

        let status = alice.ok(&["status"])?;
        assert_eq!(status["outbox_len"], 0, "case {case}: {status}");
        assert!(
            status["rejected"]
                .as_array()
                .is_some_and(|r| r.iter().any(|n| n["record_id"] == id.as_str())),
            "case {case}: {status}"
        );
        let now = alice.ok(&["contact", "get", &id])?;
        assert_eq!(now["owner"], "alice", "case {case}: the server's owner");
        assert_eq!(now["title"], "总监", "case {case}");
        assert_eq!(now["sync_state"], "synced", "case {case}");

        // An ordinary edit syncs and reaches the manager.
        alice.ok(&[
            "contact",
            "edit",
            &id,
            "--company",
            "深圳市华强科技有限公司",
        ])?;
        let report = alice.ok(&["sync"])?;
        assert_eq!(report["rejected"], 0, "case {case}: {report}");
        assert_eq!(report["pushed"], 1, "case {case}: {report}");
        boss.ok(&["sync"])?;
        let there = boss.ok(&["contact", "get", &id])?;
        assert_eq!(there["title"], "总监", "case {case}");
        assert_eq!(there["company"], "深圳市华强科技有限公司", "case {case}");
        assert_eq!(there["owner"], "alice", "case {case}");
    }
    Ok(())
}
