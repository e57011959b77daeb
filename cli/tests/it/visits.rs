use super::{s, Cli, TestResult};

#[test]
fn check_in_out_and_list_by_contact_and_day() -> TestResult {
    let cli = Cli::new()?;
    let c = cli.ok(&["contact", "add", "--name", "张伟"])?;
    let id = s(&c["id"]);
    let v = cli.ok(&[
        "visit",
        "check-in",
        &id,
        "--lat",
        "-33.8688",
        "--lon",
        "-151.2093",
        "--accuracy",
        "8",
        "--device-time",
        "2026-11-23T09:15:00+08:00",
    ])?;
    for key in [
        "id",
        "contact_id",
        "lat",
        "lon",
        "accuracy_m",
        "device_time",
        "elapsed_ms",
        "day",
        "status",
    ] {
        assert!(v.get(key).is_some(), "missing {key}");
    }
    assert_eq!(
        (v["lat"].as_f64(), v["lon"].as_f64()),
        (Some(-33.8688), Some(-151.2093))
    );
    assert_eq!(v["day"], "2026-11-23");
    assert_eq!(v["status"], "open");
    let out = cli.ok(&[
        "visit",
        "check-out",
        &s(&v["id"]),
        "--notes",
        "演示了新产品",
        "--next-follow-up",
        "2026-12-01",
    ])?;
    assert_eq!(out["status"], "closed");
    assert_eq!(out["next_follow_up"], "2026-12-01");
    assert_eq!(out["notes"], "演示了新产品");
    let bad = cli.run(&["visit", "check-out", &s(&v["id"])])?;
    assert_eq!(bad.code, 2, "checked out once only");
    let bad = cli.run(&[
        "visit",
        "check-in",
        &id,
        "--lat",
        "1",
        "--lon",
        "1",
        "--device-time",
        "2026-13-40",
    ])?;
    assert_eq!(bad.code, 2);
    assert!(bad.stderr.contains("device_time"));
    let bad = cli.run(&["visit", "list", "--day", "yesterday"])?;
    assert_eq!(bad.code, 2);
    cli.ok(&[
        "visit",
        "check-in",
        &id,
        "--lat",
        "22.5",
        "--lon",
        "113.9",
        "--device-time",
        "2026-11-24T10:00:00+08:00",
    ])?;
    assert_eq!(
        cli.ok(&["visit", "list", "--contact", &id])?
            .as_array()
            .map(Vec::len),
        Some(2)
    );
    let day = cli.ok(&["visit", "list", "--day", "2026-11-23"])?;
    assert_eq!(
        day.as_array()
            .map(|a| a.iter().map(|v| s(&v["id"])).collect::<Vec<_>>()),
        Some(vec![s(&v["id"])])
    );
    assert_eq!(
        cli.ok(&["visit", "list", "--day", "2026-11-25"])?,
        serde_json::json!([])
    );
    Ok(())
}
