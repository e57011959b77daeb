//! The smaller fixes of issue 17, item 15, through the real `outpost` binary.

use super::{s, Cli, TestResult};
use std::process::{Command, Stdio};

#[test]
fn dup_check_with_an_invalid_phone_is_an_error_naming_it() -> TestResult {
    let cli = Cli::new()?;
    cli.ok(&[
        "contact",
        "add",
        "--name",
        "张伟",
        "--phone",
        "138 0013 8000",
    ])?;
    let out = cli.run(&["dup-check", "--phone", "12345"])?;
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(
        out.stderr.starts_with("error: validation: "),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("phones"), "{}", out.stderr);
    assert!(out.stderr.contains("12345"), "{}", out.stderr);
    let out = cli.run(&["dup-check", "--email", "zhang@"])?;
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(out.stderr.contains("zhang@"), "{}", out.stderr);
    // Valid input still answers, empty or not.
    let dups = cli.ok(&["dup-check", "--phone", "+86 138-0013-8000"])?;
    assert_eq!(dups.as_array().map(Vec::len), Some(1));
    Ok(())
}

#[test]
fn deal_list_with_an_unknown_stage_names_it_and_lists_the_stages() -> TestResult {
    let cli = Cli::new()?;
    let out = cli.run(&["deal", "list", "--stage", "不存在"])?;
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(out.stderr.contains("stage"), "{}", out.stderr);
    assert!(out.stderr.contains("不存在"), "{}", out.stderr);
    for stage in [
        "lead",
        "qualified",
        "proposal",
        "negotiation",
        "won",
        "lost",
    ] {
        assert!(out.stderr.contains(stage), "{}", out.stderr);
    }
    assert_eq!(
        cli.ok(&["deal", "list", "--stage", "lead"])?,
        serde_json::json!([])
    );
    Ok(())
}

/// `outpost contact list | head -1`: the reader goes away; the writer stops quietly.
#[test]
fn a_closed_stdout_is_not_a_panic() -> TestResult {
    let cli = Cli::new()?;
    cli.ok(&["contact", "add", "--name", "张伟"])?;
    for args in [
        vec!["contact", "list"],
        vec!["search", "张"],
        vec!["metrics"],
    ] {
        let mut child = Command::new(env!("CARGO_BIN_EXE_outpost"))
            .arg("--db")
            .arg(&cli.db)
            .args(&args)
            .env_remove("OUTPOST_DB")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()?;
        // Close the reading end before the program writes anything.
        drop(child.stdout.take());
        let out = child.wait_with_output()?;
        let stderr = String::from_utf8(out.stderr)?;
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
        assert_ne!(out.status.code(), Some(101), "{args:?}: {stderr}");
    }
    Ok(())
}

#[test]
fn errors_name_their_kind_once() -> TestResult {
    let cli = Cli::new()?;
    let not_an_image = cli._dir.path().join("notes.txt");
    std::fs::write(&not_an_image, "not a photo")?;
    let out = cli.run(&["scan", &not_an_image.display().to_string()])?;
    assert_ne!(out.code, 0);
    assert!(out.stderr.starts_with("error: scan: "), "{}", out.stderr);
    assert!(!out.stderr.contains("scan: scan:"), "{}", out.stderr);
    // Nothing listens on port 1 of the loopback: a network error.
    let out = cli.run(&[
        "sync",
        "--server",
        "http://127.0.0.1:1",
        "--token",
        "t",
        "--attempts",
        "1",
    ])?;
    assert!(out.stderr.starts_with("error: network: "), "{}", out.stderr);
    assert!(!out.stderr.contains("network: network:"), "{}", out.stderr);
    assert_eq!(out.stderr.lines().count(), 1, "{}", out.stderr);
    Ok(())
}

#[test]
fn attachment_add_on_an_unknown_contact_is_not_found() -> TestResult {
    let cli = Cli::new()?;
    let file = cli._dir.path().join("quote.txt");
    std::fs::write(&file, "报价单")?;
    let out = cli.run(&[
        "attachment",
        "add",
        "no-such-contact",
        &file.display().to_string(),
    ])?;
    assert_eq!(out.code, 3, "{}", out.stderr);
    assert!(
        out.stderr.starts_with("error: not_found: "),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("no-such-contact"), "{}", out.stderr);
    Ok(())
}

/// The commands of `outpost --help` (or of a group's help), with their one-line descriptions.
fn commands(help: &str) -> Vec<(String, String)> {
    help.lines()
        .skip_while(|l| !l.starts_with("Commands:"))
        .skip(1)
        .take_while(|l| l.starts_with("  "))
        .filter_map(|l| {
            let l = l.trim_start();
            let (name, about) = l.split_once(' ')?;
            Some((name.to_string(), about.trim().to_string()))
        })
        .filter(|(name, _)| name != "help")
        .collect()
}

#[test]
fn every_help_text_lists_its_subcommands() -> TestResult {
    let cli = Cli::new()?;
    let help = |args: &[&str]| -> Result<String, Box<dyn std::error::Error>> {
        let out = Command::new(env!("CARGO_BIN_EXE_outpost"))
            .args(args)
            .arg("--help")
            .output()?;
        Ok(String::from_utf8(out.stdout)?)
    };
    let _ = &cli;
    let top = commands(&help(&[])?);
    assert!(top.len() > 10, "{top:?}");
    let mut groups = 0;
    for (group, about) in &top {
        let subs = commands(&help(&[group])?);
        if subs.is_empty() {
            continue;
        }
        groups += 1;
        for (sub, _) in &subs {
            assert!(
                about.contains(sub.as_str()),
                "`outpost --help` says of {group}: {about:?}, which omits {sub}"
            );
        }
    }
    assert!(groups >= 8, "{groups} command groups");
    Ok(())
}

#[test]
fn resolve_refuses_a_field_without_a_conflict() -> TestResult {
    let cli = Cli::new()?;
    let c = cli.ok(&["contact", "add", "--name", "张伟", "--title", "经理"])?;
    let id = s(&c["id"]);
    let out = cli.run(&["contact", "resolve", &id, "title", "总监"])?;
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(out.stderr.contains("no conflict"), "{}", out.stderr);
    assert_eq!(s(&cli.ok(&["contact", "get", &id])?["title"]), "经理");
    Ok(())
}

#[test]
fn invalidate_twice_is_refused_and_restore_brings_the_contact_back() -> TestResult {
    let cli = Cli::new()?;
    let c = cli.ok(&["contact", "add", "--name", "张伟"])?;
    let id = s(&c["id"]);
    cli.ok(&["contact", "invalidate", &id, "--reason", "公司已注销"])?;
    let again = cli.run(&["contact", "invalidate", &id, "--reason", "重复"])?;
    assert_eq!(again.code, 2, "{}", again.stderr);
    assert!(again.stderr.contains("公司已注销"), "{}", again.stderr);
    let got = cli.ok(&["contact", "get", &id])?;
    assert_eq!(s(&got["invalidation"]["reason"]), "公司已注销");
    let back = cli.ok(&["contact", "restore", &id])?;
    assert_eq!(s(&back["status"]), "active");
    assert!(back["invalidation"].is_null(), "{back}");
    assert_eq!(
        cli.ok(&["contact", "list"])?.as_array().map(Vec::len),
        Some(1)
    );
    let history = cli.ok(&["contact", "history", &id])?;
    let actions: Vec<String> = history
        .as_array()
        .map(|h| h.iter().map(|e| s(&e["action"])).collect())
        .unwrap_or_default();
    assert_eq!(actions, ["create", "invalidate", "restore"]);
    // Restoring an active contact is refused.
    let out = cli.run(&["contact", "restore", &id])?;
    assert_eq!(out.code, 2, "{}", out.stderr);
    Ok(())
}
