//! Another Automerge implementation (the npm `@automerge/automerge` package, in Node) reads and
//! edits a record through `/v1/records/{id}/automerge-sync`; an Outpost device then sees the edit.

use outpost_tests::procs::{BoxError, Device, Server};
use std::path::Path;
use std::process::Command;

#[test]
fn javascript_automerge_reads_and_edits_a_record() -> Result<(), BoxError> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let node_dir = root.join("tests/node");
    assert!(
        node_dir.join("node_modules/@automerge/automerge").exists(),
        "@automerge/automerge is missing: run `make deps` (npm ci in tests/node)"
    );
    let dir = tempfile::tempdir()?;
    let server = Server::start(dir.path(), "127.0.0.1:0")?;
    let tenant = server.admin(&["tenant", "create", "interop", "--sharing", "open"])?;
    let tenant = tenant["id"].as_str().ok_or("tenant")?;
    let enroll = |user: &str| -> Result<String, BoxError> {
        let d = server.admin(&["device", "enroll", "--tenant", tenant, "--user", user])?;
        Ok(d["token"].as_str().ok_or("token")?.to_string())
    };
    let rep = Device::new(dir.path().join("rep.db"), "rep")?;
    let c = rep.ok(&[
        "contact",
        "add",
        "--name",
        "陈静",
        "--title",
        "工程师",
        "--phone",
        "13700001111",
    ])?;
    let id = c["id"].as_str().ok_or("id")?.to_string();
    rep.ok(&["sync", "--server", &server.url, "--token", &enroll("rep")?])?;

    let out = Command::new("node")
        .arg(root.join("tests/node/interop.mjs"))
        .args([&server.url, &enroll("js")?, &id, "高级工程师"])
        .current_dir(&node_dir)
        .output()?;
    assert!(
        out.status.success(),
        "node failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let seen: serde_json::Value = serde_json::from_slice(&out.stdout)?;
    assert_eq!(seen["before"]["name"], "陈静", "JS read the record: {seen}");
    assert_eq!(seen["before"]["title"], "工程师");
    assert_eq!(
        seen["before"]["phones"],
        serde_json::json!(["+8613700001111"])
    );
    assert_eq!(seen["after"]["title"], "高级工程师");

    rep.ok(&["sync"])?;
    let c = rep.ok(&["contact", "get", &id])?;
    assert_eq!(c["title"], "高级工程师", "the Rust device sees the JS edit");
    let history = rep.ok(&["contact", "history", &id])?;
    let last = history.as_array().and_then(|h| h.last()).ok_or("history")?;
    assert_eq!(last["actor"], "js-client");
    Ok(())
}
