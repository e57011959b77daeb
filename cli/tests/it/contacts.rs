use super::{s, Cli, TestResult};

const ZHANG: &[&str] = &[
    "contact",
    "add",
    "--name",
    "张伟",
    "--company",
    "深圳市华强科技有限公司",
    "--title",
    "采购经理",
    "--phone",
    "138 0013 8000",
    "--phone",
    "+86 138-0013-8000",
    "--phone",
    "0755-52659655",
    "--email",
    " Zhang.Wei@HuaQiang.COM ",
    "--address",
    "深圳市南山区科技园",
    "--source",
    "展会",
    "--set",
    "wechat=zw88",
    "--set",
    "owner=rep7",
];

#[test]
fn add_prints_the_contact_with_every_field() -> TestResult {
    let cli = Cli::new()?;
    let c = cli.ok(ZHANG)?;
    for key in [
        "id",
        "name",
        "company",
        "title",
        "phones",
        "emails",
        "address",
        "source",
        "owner",
        "status",
        "extra",
        "created_at",
        "updated_at",
    ] {
        assert!(c.get(key).is_some(), "missing {key} in {c}");
    }
    assert_eq!(
        c["phones"],
        serde_json::json!(["+8613800138000", "+8675552659655"])
    );
    assert_eq!(c["emails"], serde_json::json!(["zhang.wei@huaqiang.com"]));
    assert_eq!(c["owner"], "rep7", "a known --set key sets the field");
    assert_eq!(c["extra"], serde_json::json!({"wechat": "zw88"}));
    assert_eq!(c["status"], "active");
    // `add` also lists likely duplicates; the contact itself reads back the same.
    let mut c = c;
    assert_eq!(
        c.as_object_mut().and_then(|o| o.remove("duplicates")),
        Some(serde_json::json!([]))
    );
    let got = cli.ok(&["contact", "get", &s(&c["id"])])?;
    assert_eq!(got, c);
    Ok(())
}

#[test]
fn invalid_input_exits_2_names_the_field_and_changes_nothing() -> TestResult {
    let cli = Cli::new()?;
    let c = cli.ok(ZHANG)?;
    let id = s(&c["id"]);
    let before = cli.records()?;
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (
            vec!["contact", "add", "--name", "李四", "--phone", "12345"],
            "phones",
        ),
        (
            vec!["contact", "add", "--name", "李四", "--email", "li@"],
            "emails",
        ),
        (vec!["contact", "add", "--name", " "], "name"),
        (vec!["contact", "add", "--company", "无名"], "--name"),
        (vec!["contact", "edit", &id, "--phone", "999"], "phones"),
        (
            vec!["contact", "edit", &id, "--set", "status=active"],
            "status",
        ),
        (vec!["contact", "edit", &id, "--set", "novalue"], "set"),
        (vec!["contact", "invalidate", &id, "--reason", ""], "reason"),
        (
            vec!["visit", "check-in", &id, "--lat", "abc", "--lon", "1"],
            "--lat",
        ),
        (
            vec!["visit", "check-in", &id, "--lat", "91", "--lon", "1"],
            "lat",
        ),
        (vec!["--region", "XX", "contact", "list"], "region"),
    ];
    for (args, field) in cases {
        let out = cli.run(&args)?;
        assert_eq!(out.code, 2, "{args:?}: {}", out.stderr);
        assert!(
            out.stderr.starts_with("error: validation: "),
            "{args:?}: {}",
            out.stderr
        );
        assert!(
            out.stderr.contains(field),
            "{args:?} should name {field}: {}",
            out.stderr
        );
        assert_eq!(
            out.stderr.trim_end().lines().count(),
            1,
            "one line: {}",
            out.stderr
        );
        assert!(out.json.is_null(), "nothing on stdout");
    }
    assert_eq!(cli.records()?, before, "the file's records are unchanged");
    Ok(())
}

#[test]
fn not_found_exits_3() -> TestResult {
    let cli = Cli::new()?;
    for args in [
        vec!["contact", "get", "nope"],
        vec!["contact", "edit", "nope", "--title", "x"],
        vec!["contact", "history", "nope"],
        vec!["visit", "check-out", "nope"],
    ] {
        let out = cli.run(&args)?;
        assert_eq!(out.code, 3, "{args:?}");
        assert!(
            out.stderr.starts_with("error: not_found: "),
            "{}",
            out.stderr
        );
    }
    Ok(())
}

#[test]
fn edit_list_invalidate_history() -> TestResult {
    let cli = Cli::new()?;
    let c = cli.ok(ZHANG)?;
    let id = s(&c["id"]);
    let other = cli.ok(&["contact", "add", "--name", "王芳"])?;
    let e = cli.ok(&[
        "--user",
        "manager",
        "contact",
        "edit",
        &id,
        "--title",
        "采购总监",
        "--set",
        "birthday=1985-03-02",
        "--unset",
        "wechat",
    ])?;
    assert_eq!(e["title"], "采购总监");
    assert_eq!(e["extra"], serde_json::json!({"birthday": "1985-03-02"}));
    assert_eq!(e["phones"], c["phones"], "untouched fields stay");
    let list = cli.ok(&["contact", "list"])?;
    assert_eq!(list.as_array().map(Vec::len), Some(2));
    assert_eq!(list[0]["id"], c["id"], "most recently changed first");
    assert_eq!(
        cli.ok(&["contact", "list", "--limit", "1"])?
            .as_array()
            .map(Vec::len),
        Some(1)
    );
    let inv = cli.ok(&["contact", "invalidate", &id, "--reason", "重复录入"])?;
    assert_eq!(inv["status"], "invalid");
    assert_eq!(inv["invalidation"]["reason"], "重复录入");
    let list = cli.ok(&["contact", "list"])?;
    assert_eq!(
        list.as_array()
            .map(|a| a.iter().map(|c| s(&c["id"])).collect::<Vec<_>>()),
        Some(vec![s(&other["id"])])
    );
    assert_eq!(
        cli.ok(&["contact", "list", "--include-invalid"])?
            .as_array()
            .map(Vec::len),
        Some(2)
    );
    assert_eq!(
        cli.ok(&["contact", "get", &id])?["status"],
        "invalid",
        "still there, never deleted"
    );
    let h = cli.ok(&["contact", "history", &id])?;
    let h = h.as_array().ok_or("history is an array")?;
    assert_eq!(h.len(), 3);
    assert_eq!(h[1]["actor"], "manager");
    let title = h[1]["changes"]
        .as_array()
        .and_then(|a| a.iter().find(|c| c["field"] == "title"))
        .ok_or("title change")?;
    assert_eq!(
        (title["old"].clone(), title["new"].clone()),
        (serde_json::json!("采购经理"), serde_json::json!("采购总监"))
    );
    for entry in h {
        assert!(entry["at"].is_string() && entry["changes"].is_array());
    }
    Ok(())
}

#[test]
fn unknown_fields_survive_edits_and_reopen() -> TestResult {
    let cli = Cli::new()?;
    let c = cli.ok(&[
        "contact",
        "add",
        "--name",
        "赵敏",
        "--set",
        "wechat=zm",
        "--set",
        "行业=制造业",
    ])?;
    let id = s(&c["id"]);
    cli.ok(&["contact", "edit", &id, "--company", "明教"])?;
    let got = cli.ok(&["contact", "get", &id])?;
    assert_eq!(
        got["extra"],
        serde_json::json!({"wechat": "zm", "行业": "制造业"})
    );
    Ok(())
}

#[test]
fn status_counts_outbox_path_and_size() -> TestResult {
    let cli = Cli::new()?;
    let c = cli.ok(ZHANG)?;
    cli.ok(&["contact", "add", "--name", "王芳"])?;
    cli.ok(&["contact", "invalidate", &s(&c["id"]), "--reason", "test"])?;
    let st = cli.ok(&["status"])?;
    assert_eq!(st["outbox_len"], 3);
    assert_eq!(st["path"], cli.db.display().to_string());
    assert!(st["size_bytes"].as_u64().unwrap_or(0) > 0);
    let records = st["records"].as_array().ok_or("records")?;
    let count = |kind: &str, status: &str| {
        records
            .iter()
            .find(|r| r["kind"] == kind && r["status"] == status)
            .map(|r| r["count"].clone())
    };
    assert_eq!(count("contact", "active"), Some(serde_json::json!(1)));
    assert_eq!(count("contact", "invalid"), Some(serde_json::json!(1)));
    Ok(())
}

#[test]
fn db_defaults_to_outpost_db_env_then_cwd() -> TestResult {
    let dir = tempfile::tempdir()?;
    let env_db = dir.path().join("env.db");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_outpost"))
        .args(["contact", "add", "--name", "环境"])
        .env("OUTPOST_DB", &env_db)
        .current_dir(dir.path())
        .output()?;
    assert!(out.status.success());
    assert!(env_db.exists());
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_outpost"))
        .args(["contact", "add", "--name", "当前目录"])
        .env_remove("OUTPOST_DB")
        .current_dir(dir.path())
        .output()?;
    assert!(out.status.success());
    assert!(dir.path().join("outpost.db").exists());
    Ok(())
}
