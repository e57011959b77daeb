//! The libraries apps link must build for phones: nothing in `outpost-ffi`'s dependency graph
//! for Android or iOS may find a system library through pkg-config (which refuses cross
//! builds), the way Tesseract and Leptonica did. Crates that use pkg-config only as a fallback
//! must have their vendored build switched on.

use outpost_tests::procs::BoxError;
use std::path::Path;
use std::process::Command;

/// Crates allowed to depend on pkg-config, and the feature that makes them build from source.
const VENDORED: &[(&str, &[&str])] = &[
    // SQLCipher and OpenSSL are compiled from source (rusqlite's
    // `bundled-sqlcipher-vendored-openssl`).
    ("libsqlite3-sys", &["bundled", "bundled-sqlcipher"]),
    ("openssl-sys", &["vendored"]),
];

/// Crates that wrap a system library with no vendored build: never in an app's graph.
const SYSTEM_ONLY: &[&str] = &[
    "tesseract-sys",
    "tesseract-plumbing",
    "tesseract",
    "leptonica-sys",
    "leptonica-plumbing",
    "onnxruntime-sys",
    "ort-sys",
];

/// `(crate, features)` of every crate in the graph, with its depth below `-i pkg-config` when
/// `invert` is set.
fn tree(target: &str, invert: bool) -> Result<Vec<(usize, String, Vec<String>)>, BoxError> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.current_dir(&root).args([
        "tree",
        "-p",
        "outpost-ffi",
        "-e",
        "normal,build",
        "--target",
        target,
        "--prefix",
        "depth",
        "--format",
        "{p}|{f}",
    ]);
    if invert {
        cmd.args(["-i", "pkg-config"]);
    }
    let out = cmd.output()?;
    let stderr = String::from_utf8_lossy(&out.stderr);
    if !out.status.success() {
        // No crate depends on pkg-config at all: nothing to check.
        if invert && stderr.contains("did not match any packages") {
            return Ok(Vec::new());
        }
        return Err(format!("cargo tree --target {target} failed: {stderr}").into());
    }
    Ok(String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| {
            let digits = l.chars().take_while(char::is_ascii_digit).count();
            let depth = l[..digits].parse().ok()?;
            let (package, features) = l[digits..].split_once('|')?;
            let name = package.split(' ').next()?.to_string();
            let features = features
                .trim()
                .trim_end_matches(" (*)")
                .split(',')
                .map(str::to_string)
                .filter(|f| !f.is_empty())
                .collect();
            Some((depth, name, features))
        })
        .collect())
}

/// What is wrong with `target`'s graph (empty: nothing).
fn system_libraries(target: &str) -> Result<Vec<String>, BoxError> {
    let mut problems = Vec::new();
    for (_, name, _) in tree(target, false)? {
        if SYSTEM_ONLY.contains(&name.as_str()) {
            problems.push(format!("{name} links a system library"));
        }
    }
    for (depth, name, features) in tree(target, true)? {
        if depth != 1 {
            continue;
        }
        match VENDORED.iter().find(|(n, _)| *n == name) {
            Some((_, needed)) if needed.iter().any(|f| features.contains(&f.to_string())) => {}
            Some((_, needed)) => problems.push(format!(
                "{name} would use pkg-config: enable one of {needed:?} (features on: {features:?})"
            )),
            None => problems.push(format!(
                "{name} finds a system library through pkg-config (features {features:?})"
            )),
        }
    }
    problems.sort();
    problems.dedup();
    Ok(problems)
}

#[test]
fn the_app_library_links_no_system_library_on_android_or_ios() -> Result<(), BoxError> {
    for target in ["aarch64-linux-android", "aarch64-apple-ios"] {
        let problems = system_libraries(target)?;
        assert!(problems.is_empty(), "{target}: {problems:#?}");
    }
    Ok(())
}
