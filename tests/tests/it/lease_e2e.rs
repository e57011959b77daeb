//! The device lease through the real CLI against the real server (issue 17, items 9 and 13):
//! once the tenant's lease arrived, `outpost lease set` may only make it stricter, and
//! `outpost lease check --now <date>` only reports what a check then would do: it never locks,
//! wipes, or remembers that date, so unsynced work survives it.

use outpost_tests::procs::{BoxError, Device, Server};

type TestResult = Result<(), BoxError>;

const DAY_MS: i64 = 86_400_000;

fn in_days(days: i64) -> String {
    (chrono::Utc::now() + chrono::Duration::days(days) + chrono::Duration::hours(1)).to_rfc3339()
}

/// A server whose tenant gives devices a three-day lease (one day of grace), and alice's CLI
/// device after its first sync.
fn tenant_with_lease() -> Result<(tempfile::TempDir, Server, Device), BoxError> {
    let dir = tempfile::tempdir()?;
    let data = dir.path().join("server");
    std::fs::create_dir_all(&data)?;
    let server = Server::start(&data, "127.0.0.1:0")?;
    let tenant = server.admin(&["tenant", "create", "华东销售部"])?;
    let tenant = tenant["id"].as_str().ok_or("tenant id")?.to_string();
    server.admin(&[
        "tenant",
        "lease",
        "--days",
        "3",
        "--grace-days",
        "1",
        "--tenant",
        &tenant,
    ])?;
    let enrolled = server.admin(&["device", "enroll", "--user", "alice", "--tenant", &tenant])?;
    let token = enrolled["token"].as_str().ok_or("token")?;
    let alice = Device::new(dir.path().join("alice.db"), "alice")?;
    alice.ok(&["sync", "--server", &server.url, "--token", token])?;
    Ok((dir, server, alice))
}

#[test]
fn a_device_may_only_make_the_tenants_lease_stricter() -> TestResult {
    let (_dir, _server, alice) = tenant_with_lease()?;
    // The rep cannot give the phone a year of lease, nor a longer grace.
    let longer = alice.run(&["lease", "set", "--days", "365", "--grace-days", "1"])?;
    assert_eq!(longer.code, 2, "{}", longer.stderr);
    assert!(
        longer.stderr.contains("lease_ms") && longer.stderr.contains("stricter"),
        "{}",
        longer.stderr
    );
    let longer = alice.run(&["lease", "set", "--days", "1", "--grace-days", "30"])?;
    assert_eq!(longer.code, 2, "{}", longer.stderr);
    assert!(longer.stderr.contains("grace_ms"), "{}", longer.stderr);
    // Still the tenant's three days: two days from now nothing happens, three locks.
    assert_eq!(
        alice.ok(&["lease", "check", "--now", &in_days(2)])?["would"],
        "nothing"
    );
    assert_eq!(
        alice.ok(&["lease", "check", "--now", &in_days(3)])?["would"],
        "lock"
    );
    // Stricter is allowed, and stays after the next sync brings the tenant's lease again.
    let set = alice.ok(&["lease", "set", "--days", "1", "--grace-days", "0.5"])?;
    assert_eq!(set["lease_ms"], DAY_MS, "{set}");
    alice.ok(&["sync"])?;
    assert_eq!(
        alice.ok(&["lease", "check", "--now", &in_days(1)])?["would"],
        "lock"
    );
    Ok(())
}

#[test]
fn a_dated_lease_check_only_reports_and_unsynced_work_survives_it() -> TestResult {
    let (_dir, _server, alice) = tenant_with_lease()?;
    let c = alice.ok(&[
        "contact",
        "add",
        "--name",
        "孙丽",
        "--phone",
        "133 0013 3000",
    ])?;
    let id = c["id"].as_str().ok_or("id")?;
    // A month ahead: past the lease and its grace.
    let report = alice.ok(&["lease", "check", "--now", &in_days(30)])?;
    assert_eq!(report["state"], "locked", "{report}");
    assert_eq!(report["would"], "wipe", "{report}");
    assert_eq!(report["enforced"], false, "{report}");
    // Nothing was wiped, nothing locked: the date was not remembered either.
    assert_eq!(alice.ok(&["contact", "get", id])?["name"], "孙丽");
    assert_eq!(alice.ok(&["status"])?["outbox_len"], 1);
    assert_eq!(alice.ok(&["lease", "check"])?["state"], "valid");
    let report = alice.ok(&["sync"])?;
    assert_eq!(report["pushed"], 1, "{report}");
    Ok(())
}
