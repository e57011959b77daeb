//! Field workflows through the real `outpost` binary: verified check-ins, deals blocked by a
//! gate, follow-ups on the today list, alerts, flow settings.

use super::{s, Cli, TestResult};

#[test]
fn check_in_verdicts_and_mock_location_flag() -> TestResult {
    let cli = Cli::new()?;
    let c = cli.ok(&[
        "contact",
        "add",
        "--name",
        "张伟",
        "--set",
        "lat=22.5431",
        "--set",
        "lon=113.9480",
    ])?;
    let id = s(&c["id"]);
    let v = cli.ok(&[
        "visit",
        "check-in",
        &id,
        "--lat",
        "22.5433",
        "--lon",
        "113.9482",
        "--accuracy",
        "10",
    ])?;
    assert_eq!(v["check"]["verdict"], "verified", "{v}");
    assert_eq!(v["check"]["by"], "device");
    assert_eq!(v["status"], "open");
    let v = cli.ok(&[
        "visit",
        "check-in",
        &id,
        "--lat",
        "22.5433",
        "--lon",
        "113.9482",
        "--accuracy",
        "10",
        "--mock-location",
    ])?;
    assert_eq!(v["check"]["verdict"], "mock_location");
    let v = cli.ok(&[
        "visit",
        "check-in",
        &id,
        "--lat",
        "22.60",
        "--lon",
        "113.9482",
        "--accuracy",
        "10",
    ])?;
    assert_eq!(v["check"]["verdict"], "far_from_customer");
    assert!(v["check"]["distance_m"]
        .as_f64()
        .is_some_and(|d| d > 5_000.0));
    let v = cli.ok(&[
        "visit",
        "check-in",
        &id,
        "--lat",
        "22.5433",
        "--lon",
        "113.9482",
        "--accuracy",
        "500",
    ])?;
    assert_eq!(v["check"]["verdict"], "low_accuracy");
    // No accuracy at all: the position cannot be judged, so it verifies nothing.
    let v = cli.ok(&[
        "visit", "check-in", &id, "--lat", "22.5433", "--lon", "113.9482",
    ])?;
    assert_eq!(v["check"]["verdict"], "low_accuracy", "{v}");
    let zero = cli.run(&["visit", "check-in", &id, "--lat", "0", "--lon", "0"])?;
    assert_eq!(zero.code, 2, "{}", zero.stderr);
    assert!(zero.stderr.contains("location"), "{}", zero.stderr);
    Ok(())
}

#[test]
fn first_check_in_sets_the_location_of_a_customer_without_one() -> TestResult {
    let cli = Cli::new()?;
    let c = cli.ok(&["contact", "add", "--name", "李娜"])?;
    let id = s(&c["id"]);
    let v = cli.ok(&[
        "visit",
        "check-in",
        &id,
        "--lat",
        "23.1291",
        "--lon",
        "113.2644",
        "--accuracy",
        "8",
    ])?;
    assert_eq!(v["contact_located"], true);
    let c = cli.ok(&["contact", "get", &id])?;
    assert_eq!(c["extra"]["lat"], "23.1291");
    assert_eq!(c["extra"]["lon"], "113.2644");
    Ok(())
}

#[test]
fn deal_blocked_by_a_gate_names_the_missing_evidence() -> TestResult {
    let cli = Cli::new()?;
    let c = cli.ok(&[
        "contact",
        "add",
        "--name",
        "张伟",
        "--company",
        "深圳市华强科技有限公司",
    ])?;
    let d = cli.ok(&[
        "deal",
        "add",
        "--contact",
        &s(&c["id"]),
        "--title",
        "ERP 项目",
        "--amount",
        "300000",
    ])?;
    assert_eq!(d["stage"], "lead");
    assert_eq!(d["company"], "深圳市华强科技有限公司");
    let id = s(&d["id"]);
    let before = cli.records()?;
    let out = cli.run(&["deal", "move", &id, "proposal"])?;
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(out.stderr.contains("invalid stage"), "{}", out.stderr);
    assert!(
        out.stderr.contains("quotation attachment"),
        "{}",
        out.stderr
    );
    assert_eq!(cli.records()?, before, "a refused move writes nothing");
    let check = cli.ok(&["deal", "check", &id, "won"])?;
    assert_eq!(check["allowed"], false);
    assert!(s(&check["missing"][0]["description"]).contains("contract scan with an amount"));
    let moved = cli.ok(&["deal", "move", &id, "qualified"])?;
    assert_eq!(moved["stage"], "qualified");
    let out = cli.run(&["deal", "move", &id, "signed"])?;
    assert_eq!(out.code, 2);
    assert!(
        out.stderr
            .contains("lead, qualified, proposal, negotiation, won, lost"),
        "{}",
        out.stderr
    );
    let history = cli.ok(&["deal", "history", &id])?;
    let moves: Vec<String> = history
        .as_array()
        .map(|a| {
            a.iter()
                .filter(|e| e["action"] == "move")
                .map(|e| s(&e["changes"][0]["new"]))
                .collect()
        })
        .unwrap_or_default();
    assert!(moves.contains(&"qualified".to_string()), "{history}");
    let list = cli.ok(&["deal", "list", "--stage", "qualified"])?;
    assert_eq!(list.as_array().map(Vec::len), Some(1));
    assert_eq!(cli.run(&["deal", "get", "nope"])?.code, 3);

    // A quotation attached to the deal (`outpost attachment add`) opens the gate.
    let quote = cli._dir.path().join("quote.pdf");
    std::fs::write(&quote, b"%PDF-1.4 quotation")?;
    let contact = s(&c["id"]);
    let path = quote.to_str().ok_or("temp path is not UTF-8")?;
    cli.ok(&[
        "attachment",
        "add",
        &contact,
        path,
        "--category",
        "quotation",
        "--deal",
        &id,
    ])?;
    assert_eq!(
        cli.ok(&["deal", "check", &id, "proposal"])?["allowed"],
        true
    );
    assert_eq!(
        cli.ok(&["deal", "move", &id, "proposal"])?["stage"],
        "proposal"
    );
    Ok(())
}

#[test]
fn today_shows_follow_ups_from_check_out_and_stale_deals() -> TestResult {
    let cli = Cli::new()?;
    let c = cli.ok(&["contact", "add", "--name", "王芳", "--set", "tier=B"])?;
    let id = s(&c["id"]);
    let v = cli.ok(&[
        "visit",
        "check-in",
        &id,
        "--lat",
        "31.23",
        "--lon",
        "121.47",
        "--device-time",
        "2026-11-20T10:00:00+08:00",
    ])?;
    cli.ok(&[
        "visit",
        "check-out",
        &s(&v["id"]),
        "--notes",
        "要报价",
        "--next-follow-up",
        "2026-11-25",
    ])?;
    let tasks = cli.ok(&["task", "list"])?;
    assert_eq!(tasks[0]["due"], "2026-11-25");
    let before = cli.ok(&["today", "--date", "2026-11-24"])?;
    assert!(before
        .as_array()
        .is_some_and(|a| a.iter().all(|i| i["reasons"]
            .as_array()
            .is_some_and(|r| r.iter().all(|r| r["kind"] != "follow_up_due")))));
    let due = cli.ok(&["today", "--date", "2026-11-25"])?;
    assert_eq!(due[0]["name"], "王芳");
    assert_eq!(due[0]["reasons"][0]["kind"], "follow_up_due");
    let late = cli.ok(&["today", "--date", "2026-12-10"])?;
    let kinds: Vec<String> = late[0]["reasons"]
        .as_array()
        .map(|r| r.iter().map(|r| s(&r["kind"])).collect())
        .unwrap_or_default();
    assert_eq!(kinds, ["follow_up_overdue", "visit_overdue"], "{late}");
    cli.ok(&["task", "done", &s(&tasks[0]["id"])])?;
    let bad = cli.run(&["today", "--date", "25.11.2026"])?;
    assert_eq!(bad.code, 2);
    assert!(bad.stderr.contains("date"), "{}", bad.stderr);
    Ok(())
}

#[test]
fn flow_settings_from_a_file_and_the_calendar() -> TestResult {
    let cli = Cli::new()?;
    let day = cli.ok(&["flow", "day", "2026-02-14"])?;
    assert_eq!(day["kind"], "make_up_workday");
    assert_eq!(day["working"], true);
    let day = cli.ok(&["flow", "day", "2026-10-05"])?;
    assert_eq!(day["kind"], "holiday");
    assert_eq!(day["holiday"], "国庆节");
    // Every year of the generated table, not only the ones typed by hand.
    let day = cli.ok(&["flow", "day", "2020-01-31"])?;
    assert_eq!(day["kind"], "holiday", "{day}");
    assert_eq!(day["official_data"], true);
    let day = cli.ok(&["flow", "day", "2027-02-08"])?;
    assert_eq!(day["official_data"], false, "chinese-days has no 2027 yet");
    let file = cli.db.with_file_name("flow.json");
    std::fs::write(
        &file,
        r#"{"visit_radius_m": 200, "calendar_overrides": [{"date": "2026-10-05", "working": true, "note": "盘点"}]}"#,
    )?;
    let cfg = cli.ok(&["flow", "set", file.to_str().unwrap_or_default()])?;
    assert_eq!(cfg["visit_radius_m"], 200.0);
    assert_eq!(
        cli.ok(&["flow", "day", "2026-10-05"])?["kind"],
        "override_workday"
    );
    std::fs::write(&file, r#"{"visit_radius_m": "far"}"#)?;
    assert_eq!(
        cli.run(&["flow", "set", file.to_str().unwrap_or_default()])?
            .code,
        2
    );
    Ok(())
}

#[test]
fn alerts_list_unverified_check_ins() -> TestResult {
    let cli = Cli::new()?;
    let c = cli.ok(&["contact", "add", "--name", "赵强"])?;
    cli.ok(&[
        "visit",
        "check-in",
        &s(&c["id"]),
        "--lat",
        "39.9",
        "--lon",
        "116.4",
        "--mock-location",
    ])?;
    let alerts = cli.ok(&["alerts"])?;
    assert_eq!(alerts[0]["kind"], "visit_unverified", "{alerts}");
    assert_eq!(alerts[0]["owner"], "local");
    Ok(())
}

#[test]
fn address_parsing_completes_a_partial_address() -> TestResult {
    let cli = Cli::new()?;
    let out = cli.ok(&["address", "南山区科技园"])?;
    assert_eq!(out["full"], "广东省深圳市南山区科技园");
    assert_eq!(out["parsed"]["province"], "广东省");
    assert_eq!(out["parsed"]["city"], "深圳市");
    assert_eq!(out["parsed"]["district"], "南山区");
    assert_eq!(out["parsed"]["rest"], "科技园");
    assert_eq!(out["parsed"]["completed"], true);
    assert!(
        !cli.db.exists(),
        "parsing an address does not open the store"
    );
    Ok(())
}

#[test]
fn a_check_in_fills_the_district_from_the_nearest_known_customer() -> TestResult {
    let cli = Cli::new()?;
    cli.ok(&[
        "contact",
        "add",
        "--name",
        "张伟",
        "--address",
        "深圳市南山区科技园南区",
        "--set",
        "lat=22.5400",
        "--set",
        "lon=113.9500",
    ])?;
    let c = cli.ok(&["contact", "add", "--name", "李娜"])?;
    let v = cli.ok(&[
        "visit",
        "check-in",
        &s(&c["id"]),
        "--lat",
        "22.5450",
        "--lon",
        "113.9520",
        "--accuracy",
        "10",
    ])?;
    assert_eq!(v["address_filled"], "广东省深圳市南山区", "{v}");
    assert_eq!(
        cli.ok(&["contact", "get", &s(&c["id"])])?["address"],
        "广东省深圳市南山区"
    );
    // Too far from anyone known: nothing to lend.
    let far = cli.ok(&["contact", "add", "--name", "王芳"])?;
    let v = cli.ok(&[
        "visit",
        "check-in",
        &s(&far["id"]),
        "--lat",
        "23.1291",
        "--lon",
        "113.2644",
    ])?;
    assert_eq!(v["address_filled"], serde_json::Value::Null);
    Ok(())
}

#[test]
fn restricted_deal_fields_and_access() -> TestResult {
    let cli = Cli::new()?;
    // Never synced: the role is unknown and nothing is refused locally.
    assert!(cli.ok(&["access", "--json"])?.is_null());
    let c = cli.ok(&["contact", "add", "--name", "张伟"])?;
    let d = cli.ok(&[
        "deal",
        "add",
        "--contact",
        &s(&c["id"]),
        "--title",
        "ERP 项目",
        "--amount",
        "300000",
        "--discount",
        "8.5",
        "--contract-amount",
        "288000",
    ])?;
    let id = s(&d["id"]);
    assert_eq!(d["amount"], 300000.0);
    assert_eq!(d["discount"], 8.5);
    assert_eq!(d["contract_amount"], 288000.0);
    // Each restricted field is a record of its own; the deal's document does not hold them.
    let records = cli.records()?;
    assert!(records
        .iter()
        .any(|(rid, _)| *rid == format!("{id}_contract_amount")));
    let set = cli.ok(&["deal", "set-field", &id, "discount", "10"])?;
    assert_eq!(set["discount"], 10.0);
    let cleared = cli.ok(&["deal", "set-field", &id, "discount", "--clear"])?;
    assert!(cleared["discount"].is_null());
    assert_eq!(cli.ok(&["deal", "get", &id])?["amount"], 300000.0);
    let bad = cli.run(&["deal", "set-field", &id, "title", "1"])?;
    assert_eq!(bad.code, 2, "{}", bad.stderr);
    assert!(bad.stderr.contains("invalid field"), "{}", bad.stderr);
    let bad = cli.run(&["deal", "set-field", &id, "discount", "120"])?;
    assert_eq!(bad.code, 2, "{}", bad.stderr);
    assert!(bad.stderr.contains("invalid discount"), "{}", bad.stderr);
    let history = cli.ok(&["deal", "history", &id])?;
    let discounts = history
        .as_array()
        .map(|h| {
            h.iter()
                .flat_map(|e| e["changes"].as_array().cloned().unwrap_or_default())
                .filter(|c| c["field"] == "discount")
                .count()
        })
        .unwrap_or_default();
    assert_eq!(discounts, 3, "{history}");
    Ok(())
}

/// A customer in Shenzhen Nanshan at WGS-84 22.5431 N 113.9480 E: AMap shows the same spot as
/// GCJ-02 22.540094 113.952883 (603 m away in WGS-84 terms), Baidu as BD-09 22.545823 113.959419.
#[test]
fn check_ins_from_chinese_map_sdks_are_converted() -> TestResult {
    let cli = Cli::new()?;
    let c = cli.ok(&["contact", "add", "--name", "王芳"])?;
    let id = s(&c["id"]);
    // The customer's location picked on an AMap map: stored in WGS-84.
    let located = cli.ok(&[
        "contact",
        "locate",
        &id,
        "--lat",
        "22.540094",
        "--lon",
        "113.952883",
        "--coords",
        "gcj02",
    ])?;
    let lat: f64 = s(&located["extra"]["lat"]).parse()?;
    let lon: f64 = s(&located["extra"]["lon"]).parse()?;
    assert!(
        (lat - 22.5431).abs() < 2e-5 && (lon - 113.9480).abs() < 2e-5,
        "{located}"
    );
    assert_eq!(located["extra"]["location_source"], "manual:gcj02");
    let check_in = |lat: &str, lon: &str, coords: Option<&str>| {
        let mut args = vec![
            "visit",
            "check-in",
            id.as_str(),
            "--lat",
            lat,
            "--lon",
            lon,
            "--accuracy",
            "10",
        ];
        if let Some(c) = coords {
            args.extend(["--coords", c]);
        }
        cli.ok(&args)
    };
    // The rep's phone reports the position through AMap (GCJ-02) and through Baidu (BD-09).
    for (lat, lon, coords) in [
        ("22.540094", "113.952883", "gcj02"),
        ("22.545823", "113.959419", "bd09"),
        ("22.5431", "113.9480", "wgs84"),
    ] {
        let v = check_in(lat, lon, Some(coords))?;
        assert_eq!(v["check"]["verdict"], "verified", "{coords}: {v}");
        assert!(
            v["check"]["distance_m"].as_f64().is_some_and(|d| d < 10.0),
            "{coords}: {v}"
        );
        let stored: f64 = v["lat"].as_f64().unwrap_or_default();
        assert!((stored - 22.5431).abs() < 2e-5, "{coords}: stored {v}");
    }
    // The same GCJ-02 numbers taken as WGS-84 are the 600 m error the option exists for.
    let v = check_in("22.540094", "113.952883", None)?;
    assert_eq!(v["check"]["verdict"], "far_from_customer", "{v}");
    let bad = cli.run(&[
        "visit", "check-in", &id, "--lat", "22.54", "--lon", "113.95", "--coords", "mars",
    ])?;
    assert_eq!(bad.code, 2, "{}", bad.stderr);
    assert!(bad.stderr.contains("gcj02"), "{}", bad.stderr);
    Ok(())
}
