//! Roles, teams and scoped sync end to end: the real server binary and CLI devices of different
//! roles in a private tenant. A rep's device holds only the rep's customers, a manager's the
//! team's; a deal amount never reaches a rep's database file (checked on the raw bytes); a rep's
//! refused amount write is reported while the rest of the outbox flows on; reassigning a
//! customer purges it (search index and files included) from the old owner's device and brings
//! it to the new owner's; moving a rep out of a team and sharing a record change scopes the
//! same way; the audit chain verifies.

use outpost_tests::procs::{BoxError, Device, Server};
use serde_json::Value;
use std::path::Path;

type TestResult = Result<(), BoxError>;

/// The manager's deal amount: its IEEE-754 bytes must never be in a rep's database.
const AMOUNT: f64 = 886_655.25;
/// The content of the file alice attaches: it must leave her disk with the customer.
const FILE_MARK: &str = "OUTPOST-SCOPE-CONTRACT-0xC0FFEE-报价单";

struct Tenant {
    dir: tempfile::TempDir,
    server: Server,
    id: String,
}

impl Tenant {
    fn new() -> Result<Tenant, BoxError> {
        let dir = tempfile::tempdir()?;
        let data = dir.path().join("server");
        std::fs::create_dir_all(&data)?;
        let server = Server::start(&data, "127.0.0.1:0")?;
        let tenant = server.admin(&["tenant", "create", "华东销售部"])?;
        assert_eq!(tenant["sharing"], "private", "new tenants are private");
        let id = tenant["id"].as_str().ok_or("tenant id")?.to_string();
        Ok(Tenant { dir, server, id })
    }

    fn admin(&self, args: &[&str]) -> Result<Value, BoxError> {
        let mut all: Vec<&str> = args.to_vec();
        all.extend(["--tenant", self.id.as_str()]);
        self.server.admin(&all)
    }

    /// An enrolled device; `sync_now` syncs it once (it then knows its permissions).
    fn device(&self, user: &str, role: &str, sync_now: bool) -> Result<(Device, String), BoxError> {
        let enrolled = self.admin(&["device", "enroll", "--user", user, "--role", role])?;
        let token = enrolled["token"].as_str().ok_or("token")?.to_string();
        let device = Device::new(self.dir.path().join(format!("{user}.db")), user)?;
        if sync_now {
            device.ok(&["sync", "--server", &self.server.url, "--token", &token])?;
        }
        Ok((device, token))
    }
}

fn add(device: &Device, name: &str, phone: &str) -> Result<String, BoxError> {
    let c = device.ok(&["contact", "add", "--name", name, "--phone", phone])?;
    Ok(c["id"].as_str().ok_or("id")?.to_string())
}

fn has_contact(device: &Device, id: &str) -> Result<bool, BoxError> {
    Ok(device.run(&["contact", "get", id])?.code == 0)
}

fn found(device: &Device, query: &str) -> Result<usize, BoxError> {
    let hits = device.ok(&["search", query])?;
    Ok(hits.as_array().map_or(0, Vec::len))
}

/// The database file and its write-ahead log, as raw bytes.
fn raw_db(device: &Device) -> Result<Vec<u8>, BoxError> {
    let mut bytes = std::fs::read(&device.db)?;
    let wal = Path::new(&format!("{}-wal", device.db.display())).to_path_buf();
    if wal.exists() {
        bytes.extend(std::fs::read(wal)?);
    }
    Ok(bytes)
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

#[test]
fn each_role_holds_only_its_scope_and_scope_changes_purge_devices() -> TestResult {
    let t = Tenant::new()?;
    t.admin(&["team", "create", "east", "--manager", "boss"])?;
    t.admin(&["team", "add", "east", "alice"])?;
    t.admin(&["team", "add", "east", "bob"])?;
    let (alice, _) = t.device("alice", "rep", true)?;
    let (bob, _) = t.device("bob", "rep", true)?;
    let (carol, _) = t.device("carol", "rep", true)?;
    let (boss, _) = t.device("boss", "manager", true)?;
    let access = alice.ok(&["access", "--json"])?;
    assert_eq!(access["role"], "rep", "{access}");

    let a = add(&alice, "张伟", "138 0013 8000")?;
    let file = t.dir.path().join("报价单.txt");
    std::fs::write(&file, FILE_MARK)?;
    let attachment = alice.ok(&[
        "attachment",
        "add",
        &a,
        file.to_str().ok_or("path")?,
        "--category",
        "quotation",
    ])?;
    let attachment = attachment["id"]
        .as_str()
        .ok_or("attachment id")?
        .to_string();
    let b = add(&bob, "李娜", "139 0013 9000")?;
    let c = add(&carol, "王芳", "137 0013 7000")?;
    for d in [&alice, &bob, &carol] {
        d.ok(&["sync"])?;
    }

    // The manager sees the team's customers, not carol's, and prices a deal with alice's.
    boss.ok(&["sync"])?;
    assert!(has_contact(&boss, &a)? && has_contact(&boss, &b)?);
    assert!(!has_contact(&boss, &c)?);
    let amount = AMOUNT.to_string();
    let deal = boss.ok(&[
        "deal",
        "add",
        "--contact",
        &a,
        "--title",
        "年度框架协议",
        "--amount",
        &amount,
    ])?;
    let deal = deal["id"].as_str().ok_or("deal id")?.to_string();
    boss.ok(&["sync"])?;

    // Alice gets the deal, never its amount: not in the answer, not in her file.
    alice.ok(&["sync"])?;
    let got = alice.ok(&["deal", "get", &deal])?;
    assert_eq!(got["title"], "年度框架协议");
    assert!(got["amount"].is_null(), "a rep sees the amount: {got}");
    assert!(
        !has_contact(&alice, &b)?,
        "a rep holds only their own customers"
    );
    let needle = AMOUNT.to_le_bytes();
    assert!(
        !contains(&raw_db(&alice)?, &needle),
        "the amount's bytes are on a rep's disk"
    );
    assert!(
        contains(&raw_db(&boss)?, &needle),
        "positive control: the manager holds it"
    );
    // Her device knows it may not write amounts.
    let refused = alice.run(&[
        "deal",
        "add",
        "--contact",
        &a,
        "--title",
        "加购",
        "--amount",
        "10",
    ])?;
    assert_ne!(refused.code, 0);
    assert!(refused.stderr.contains("amount"), "{}", refused.stderr);

    // A rep whose device has not learned its permissions yet: the server refuses the amount,
    // the contact and the deal go through, and the next changes are not held up.
    let (erin, erin_token) = t.device("erin", "rep", false)?;
    let e = add(&erin, "赵强", "136 0013 6000")?;
    erin.ok(&[
        "deal",
        "add",
        "--contact",
        &e,
        "--title",
        "试用",
        "--amount",
        "5000",
    ])?;
    let report = erin.ok(&["sync", "--server", &t.server.url, "--token", &erin_token])?;
    assert_eq!(report["rejected"], 1, "{report}");
    assert_eq!(report["status"], "partial");
    let status = erin.ok(&["status"])?;
    assert!(
        status.to_string().contains("amount"),
        "the refusal is reported: {status}"
    );
    add(&erin, "钱多", "135 0013 5000")?;
    let report = erin.ok(&["sync"])?;
    assert_eq!(report["pushed"], 1, "the outbox flows on: {report}");

    // Reassigning alice's customer to carol: gone from alice's device, files and search
    // included; on carol's with its deal and attachment.
    t.admin(&["record", "assign", &a, "--to", "carol"])?;
    let report = alice.ok(&["sync"])?;
    assert!(report["purged"].as_u64().unwrap_or(0) >= 3, "{report}");
    assert!(!has_contact(&alice, &a)?);
    assert_eq!(found(&alice, "张伟")?, 0);
    assert_eq!(found(&alice, "13800138000")?, 0);
    assert_ne!(alice.run(&["attachment", "get", &attachment])?.code, 0);
    assert_ne!(alice.run(&["deal", "get", &deal])?.code, 0);
    assert!(
        !contains(&raw_db(&alice)?, FILE_MARK.as_bytes()),
        "the purged file's bytes are still on disk"
    );
    // The deal's changes come in the pull (it follows its contact); the contact's first
    // changes and the attachment, older than carol's cursor, are fetched whole.
    let report = carol.ok(&["sync"])?;
    assert!(report["fetched"].as_u64().unwrap_or(0) >= 2, "{report}");
    assert!(has_contact(&carol, &a)?);
    assert_eq!(found(&carol, "张伟")?, 1);
    assert_eq!(carol.ok(&["deal", "get", &deal])?["title"], "年度框架协议");
    let list = carol.ok(&["attachment", "list", &a])?;
    assert_eq!(list.as_array().map(Vec::len), Some(1), "{list}");
    // The manager no longer sees it (carol is not in the team).
    boss.ok(&["sync"])?;
    assert!(!has_contact(&boss, &a)?);

    // Bob leaves the team: his customers leave the manager's device.
    t.admin(&["team", "remove", "bob"])?;
    boss.ok(&["sync"])?;
    assert!(!has_contact(&boss, &b)?);
    // Carol shares a customer with alice.
    t.admin(&["share", "add", &c, "alice"])?;
    alice.ok(&["sync"])?;
    assert!(has_contact(&alice, &c)?);
    t.admin(&["share", "remove", &c, "alice"])?;
    alice.ok(&["sync"])?;
    assert!(!has_contact(&alice, &c)?);

    // Operator mistakes are named.
    let refused = |args: &[&str]| -> String {
        t.admin(args)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default()
    };
    let bad = refused(&[
        "role",
        "set",
        "intern",
        "--permissions",
        "contact:read,contact:fly",
    ]);
    assert!(bad.contains("contact:fly"), "{bad}");
    let bad = refused(&["device", "enroll", "--user", "x", "--role", "intern"]);
    assert!(bad.contains("intern"), "{bad}");
    // The tenant's lease reaches devices with their sync: three days without one, alice's
    // phone would lock; a day later it would wipe itself (`--now` only reports; the lock and
    // the wipe at the store's clock are tested in core/tests/it/lease.rs, the CLI's refusal of
    // a longer lease in lease_e2e.rs).
    t.admin(&["tenant", "lease", "--days", "3", "--grace-days", "1"])?;
    let mine = add(&alice, "孙丽", "133 0013 3000")?;
    alice.ok(&["sync"])?;
    assert!(has_contact(&alice, &mine)?);
    let at = |days: i64| {
        (chrono::Utc::now() + chrono::Duration::days(days) + chrono::Duration::hours(1))
            .to_rfc3339()
    };
    let would = |days: i64| -> Result<Value, BoxError> {
        Ok(alice.ok(&["lease", "check", "--now", &at(days)])?["would"].clone())
    };
    assert_eq!(would(2)?, "nothing");
    assert_eq!(would(3)?, "lock");
    assert_eq!(would(4)?, "wipe");
    assert!(has_contact(&alice, &mine)?, "a dated check wipes nothing");
    let bad = refused(&["tenant", "lease", "--days", "0", "--grace-days", "1"]);
    assert!(bad.contains("--days"), "{bad}");
    // Every change above is in the audit trail, and the chain holds.
    let verify = t.server.admin(&["audit", "verify", "--tenant", &t.id])?;
    assert_eq!(verify["ok"], true, "{verify}");
    Ok(())
}
