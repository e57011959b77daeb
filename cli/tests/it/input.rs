//! Input a Chinese rep types every day (issue 17, item 14), through the real `outpost` binary.

use super::{s, Cli, TestResult};

#[test]
fn full_width_phones_emails_and_extensions_are_stored_once_and_found() -> TestResult {
    let cli = Cli::new()?;
    let c = cli.ok(&[
        "contact",
        "add",
        "--name",
        "王芳",
        "--phone",
        "１３８ ００１３ ８０００",
        "--phone",
        "0755-8888 8888 转 123",
        "--email",
        "ｗａｎｇ＠ｑｑ．ｃｏｍ",
    ])?;
    assert_eq!(
        c["phones"],
        serde_json::json!(["+8613800138000", "+8675588888888;ext=123"])
    );
    assert_eq!(c["emails"], serde_json::json!(["wang@qq.com"]));
    let id = s(&c["id"]);
    for q in [
        "0086 138 0013 8000",
        "013800138000",
        "１３８００１３８０００",
        "0755 8888 8888",
    ] {
        let found = cli.ok(&["search", q])?;
        assert_eq!(s(&found[0]["id"]), id, "{q}: {found}");
    }
    Ok(())
}

#[test]
fn a_refused_phone_names_the_field_and_keeps_nothing() -> TestResult {
    let cli = Cli::new()?;
    let out = cli.run(&[
        "contact",
        "add",
        "--name",
        "王芳",
        "--phone",
        "0755-8888 8888 转",
    ])?;
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(
        out.stderr.starts_with("error: validation: invalid phones:"),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("extension"), "{}", out.stderr);
    assert_eq!(cli.ok(&["contact", "list"])?, serde_json::json!([]));
    Ok(())
}

#[test]
fn amounts_accept_currency_signs_units_and_chinese_numerals() -> TestResult {
    let cli = Cli::new()?;
    let c = cli.ok(&["contact", "add", "--name", "张伟"])?;
    let contact = s(&c["id"]);
    for (typed, value) in [
        ("305000元", 305_000.0),
        ("¥305,000.00", 305_000.0),
        ("￥305，000", 305_000.0),
        ("RMB 30.5万", 305_000.0),
        ("人民币叁拾万伍仟元整", 305_000.0),
        ("叁拾万伍仟元整", 305_000.0),
        ("３０．５万元", 305_000.0),
        ("1.2亿", 120_000_000.0),
        ("12,345.6", 12_345.6),
    ] {
        let d = cli.ok(&[
            "deal",
            "add",
            "--contact",
            &contact,
            "--title",
            "项目",
            "--amount",
            typed,
        ])?;
        assert_eq!(d["amount"].as_f64(), Some(value), "{typed}: {d}");
        let id = s(&d["id"]);
        let d = cli.ok(&["deal", "set-field", &id, "contract_amount", typed])?;
        assert_eq!(d["contract_amount"].as_f64(), Some(value), "{typed}: {d}");
    }
    let d = cli.ok(&[
        "deal",
        "add",
        "--contact",
        &contact,
        "--title",
        "折扣",
        "--discount",
        "15%",
    ])?;
    assert_eq!(d["discount"].as_f64(), Some(15.0));
    for bad in ["$300", "300美元", "USD 300", "305000元整元", "-5元", "万"] {
        let out = cli.run(&[
            "deal",
            "add",
            "--contact",
            &contact,
            "--title",
            "项目",
            "--amount",
            bad,
        ])?;
        assert_eq!(out.code, 2, "{bad}: {}", out.stderr);
        assert!(
            out.stderr.starts_with("error: validation: invalid amount:"),
            "{bad}: {}",
            out.stderr
        );
        assert!(
            out.stderr.contains('元'),
            "a hint of what is accepted: {}",
            out.stderr
        );
    }
    Ok(())
}

#[test]
fn an_import_row_with_a_bad_phone_is_imported_without_it() -> TestResult {
    let cli = Cli::new()?;
    let file = cli._dir.path().join("客户.csv");
    std::fs::write(
        &file,
        "姓名,手机,邮箱\n张三,12345,zhang@example.com\n李四,138 0013 8001,\n",
    )?;
    let sum = cli.ok(&["import", &file.display().to_string()])?;
    assert_eq!(sum["imported"], 2, "{sum}");
    assert_eq!(sum["skipped"], 0, "{sum}");
    assert_eq!(sum["warnings"], 1, "{sum}");
    let report = std::fs::read_to_string(s(&sum["report"]))?;
    assert!(report.contains("2,手机,12345,phone left out"), "{report}");
    let found = cli.ok(&["search", "张三"])?;
    assert_eq!(found[0]["emails"], serde_json::json!(["zhang@example.com"]));
    Ok(())
}
