//! Encryption at rest and the lease through the real `outpost` binary.

use super::TestResult;
use std::path::Path;
use std::process::Command;

const KEY: &str = "8f2c6a1e9d4b7035c1e8a2f6d9b3074e5a1c8f2d6b9e3a7015c4d8f2a6e9b3c7";
const OTHER_KEY: &str = "0000000000000000000000000000000000000000000000000000000000000001";

/// Runs `outpost --db DB ARGS` with `OUTPOST_DB_KEY` set to `key` (or unset).
fn run(
    db: &Path,
    key: Option<&str>,
    args: &[&str],
) -> Result<(i32, String, String), Box<dyn std::error::Error>> {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_outpost"));
    cmd.arg("--db")
        .arg(db)
        .args(args)
        .env_remove("OUTPOST_DB")
        .env_remove("OUTPOST_USER")
        .env_remove("OUTPOST_REGION")
        .env_remove("OUTPOST_DB_KEY_FILE")
        .env_remove("OUTPOST_DB_KEY");
    if let Some(key) = key {
        cmd.env("OUTPOST_DB_KEY", key);
    }
    let out = cmd.output()?;
    Ok((
        out.status.code().unwrap_or(-1),
        String::from_utf8(out.stdout)?,
        String::from_utf8(out.stderr)?,
    ))
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w == needle.as_bytes())
}

const ADD: [&str; 8] = [
    "contact",
    "add",
    "--name",
    "张伟",
    "--company",
    "深圳市华强科技有限公司",
    "--phone",
    "138 0013 8000",
];

#[test]
fn an_encrypted_database_needs_its_key() -> TestResult {
    let dir = tempfile::tempdir()?;
    let db = dir.path().join("rep.db");
    let (code, _, err) = run(&db, Some(KEY), &ADD)?;
    assert_eq!(code, 0, "{err}");
    let bytes = std::fs::read(&db)?;
    for secret in ["张伟", "华强", "+8613800138000", "SQLite format 3"] {
        assert!(!contains(&bytes, secret), "{secret} readable in the file");
    }
    let (code, out, err) = run(&db, Some(KEY), &["search", "华强"])?;
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("张伟"), "{out}");

    let (code, _, err) = run(&db, None, &["contact", "list"])?;
    assert_eq!(code, 1);
    assert!(err.starts_with("error: key_required:"), "{err}");
    let (code, _, err) = run(&db, Some(OTHER_KEY), &["contact", "list"])?;
    assert_eq!(code, 1);
    assert!(err.starts_with("error: wrong_key:"), "{err}");
    let (code, _, err) = run(&db, Some("abc"), &["contact", "list"])?;
    assert_eq!(code, 2, "a malformed key is invalid input: {err}");
    assert!(err.contains("OUTPOST_DB_KEY"), "{err}");

    // The same key from a file (raw bytes).
    let key_file = dir.path().join("db.key");
    let raw: Vec<u8> = (0..32)
        .map(|i| u8::from_str_radix(&KEY[2 * i..2 * i + 2], 16))
        .collect::<Result<_, _>>()?;
    std::fs::write(&key_file, raw)?;
    let key_arg = key_file.display().to_string();
    let (code, out, err) = run(&db, None, &["--key-file", &key_arg, "contact", "list"])?;
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("张伟"));
    Ok(())
}

#[test]
fn db_encrypt_encrypts_a_plaintext_database_in_place() -> TestResult {
    let dir = tempfile::tempdir()?;
    let db = dir.path().join("rep.db");
    let (code, _, err) = run(&db, None, &ADD)?;
    assert_eq!(code, 0, "{err}");
    assert!(contains(&std::fs::read(&db)?, "深圳市华强科技有限公司"));
    let (code, _, err) = run(&db, None, &["db", "encrypt"])?;
    assert_eq!(code, 2, "no key given: {err}");
    let (code, _, err) = run(&db, Some(KEY), &["db", "encrypt"])?;
    assert_eq!(code, 0, "{err}");
    assert!(!contains(&std::fs::read(&db)?, "深圳市华强科技有限公司"));
    let (code, out, err) = run(&db, Some(KEY), &["contact", "list"])?;
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("张伟"));
    Ok(())
}

#[test]
fn lease_commands_report_and_enforce() -> TestResult {
    let dir = tempfile::tempdir()?;
    let db = dir.path().join("rep.db");
    let (code, out, err) = run(&db, None, &["lease", "status"])?;
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("\"unleased\""), "{out}");
    let (code, out, err) = run(
        &db,
        None,
        &["lease", "set", "--days", "3", "--grace-days", "2"],
    )?;
    assert_eq!(code, 0, "{err}");
    assert!(out.contains(&(3 * 86_400_000i64).to_string()), "{out}");
    let (code, _, err) = run(
        &db,
        None,
        &["lease", "set", "--days", "0", "--grace-days", "2"],
    )?;
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("days"), "{err}");
    Ok(())
}
