use super::{s, Cli, TestResult};

fn add(cli: &Cli, args: &[&str]) -> Result<serde_json::Value, Box<dyn std::error::Error>> {
    let mut all = vec!["contact", "add"];
    all.extend_from_slice(args);
    cli.ok(&all)
}

#[test]
fn dup_check_finds_phone_variants_and_title_variants() -> TestResult {
    let cli = Cli::new()?;
    let first = add(
        &cli,
        &[
            "--name",
            "张经理",
            "--company",
            "深圳市华强科技有限公司",
            "--phone",
            "138 0013 8000",
        ],
    )?;
    assert_eq!(first["duplicates"], serde_json::json!([]));
    let id = s(&first["id"]);
    for phone in ["138 0013 8000", "+86 138-0013-8000", "8613800138000"] {
        let dups = cli.ok(&["dup-check", "--phone", phone])?;
        assert_eq!(dups.as_array().map(Vec::len), Some(1), "{phone}: {dups}");
        assert_eq!(s(&dups[0]["contact_id"]), id);
        assert_eq!(dups[0]["reasons"], serde_json::json!(["phone"]));
        assert_eq!(s(&dups[0]["name"]), "张经理");
        assert_eq!(s(&dups[0]["company"]), "深圳市华强科技有限公司");
        assert!(dups[0]["score"].as_f64().is_some());
    }
    let dups = cli.ok(&["dup-check", "--name", "张总监", "--company", "华强科技"])?;
    assert_eq!(s(&dups[0]["contact_id"]), id);
    assert_eq!(dups[0]["reasons"], serde_json::json!(["name_company"]));
    // `contact add` keeps every contact field and adds `duplicates`.
    let second = add(
        &cli,
        &[
            "--name",
            "张总监",
            "--company",
            "华强科技",
            "--phone",
            "+86 138-0013-8000",
        ],
    )?;
    assert_eq!(s(&second["name"]), "张总监");
    assert_eq!(second["phones"], serde_json::json!(["+8613800138000"]));
    assert_eq!(s(&second["duplicates"][0]["contact_id"]), id);
    assert_eq!(
        second["duplicates"][0]["reasons"],
        serde_json::json!(["phone", "name_company"])
    );
    let none = cli.run(&["dup-check"])?;
    assert_eq!(none.code, 2, "{}", none.stderr);
    Ok(())
}

#[test]
fn merge_and_unmerge_through_the_cli() -> TestResult {
    let cli = Cli::new()?;
    let winner = s(&add(
        &cli,
        &[
            "--name",
            "张伟",
            "--company",
            "华强科技",
            "--phone",
            "13800138000",
        ],
    )?["id"]);
    let loser = s(&add(
        &cli,
        &[
            "--name",
            "张总",
            "--company",
            "华强科技",
            "--phone",
            "13900139000",
            "--title",
            "总监",
        ],
    )?["id"]);
    let visit = cli.ok(&[
        "visit", "check-in", &loser, "--lat", "22.5", "--lon", "113.9",
    ])?;
    let merged = cli.ok(&["contact", "merge", &winner, &loser])?;
    assert_eq!(s(&merged["id"]), winner);
    assert_eq!(
        merged["phones"],
        serde_json::json!(["+8613800138000", "+8613900139000"])
    );
    assert_eq!(s(&merged["title"]), "总监");
    let gone = cli.ok(&["contact", "get", &loser])?;
    assert_eq!(s(&gone["status"]), "merged");
    assert_eq!(s(&gone["merged_into"]), winner);
    let list = cli.ok(&["contact", "list"])?;
    assert_eq!(list.as_array().map(Vec::len), Some(1));
    let visits = cli.ok(&["visit", "list", "--contact", &winner])?;
    assert_eq!(s(&visits[0]["id"]), s(&visit["id"]));
    let again = cli.run(&["contact", "merge", &winner, &loser])?;
    assert_eq!(again.code, 2, "{}", again.stderr);
    assert!(again.stderr.contains("loser"), "{}", again.stderr);
    let missing = cli.run(&["contact", "merge", &winner, "no-such-id"])?;
    assert_eq!(missing.code, 3);
    let back = cli.ok(&["contact", "unmerge", &loser])?;
    assert_eq!(s(&back["status"]), "active");
    assert!(back["merged_into"].is_null());
    assert_eq!(
        cli.ok(&["contact", "list"])?.as_array().map(Vec::len),
        Some(2)
    );
    // The winner gave back the phone and the title the merge had copied into it.
    let restored = cli.ok(&["contact", "get", &winner])?;
    assert_eq!(restored["phones"], serde_json::json!(["+8613800138000"]));
    assert!(restored["title"].is_null(), "{restored}");
    Ok(())
}
