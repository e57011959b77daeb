//! The server builds on the model (records, validation, access rules, the sync protocol), not
//! on the device store: no SQLCipher and no OpenSSL built from source in its graph. Its own
//! SQLite storage uses plain bundled SQLite.

use outpost_tests::procs::BoxError;
use std::path::Path;
use std::process::Command;

/// Crates of the device store's encryption that the server must not compile.
const DEVICE_ONLY: &[&str] = &["openssl-src", "openssl-sys", "openssl"];

/// `(crate, features)` of every crate `outpost-server` builds (normal and build dependencies).
fn server_graph() -> Result<Vec<(String, Vec<String>)>, BoxError> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = Command::new(cargo)
        .current_dir(&root)
        .args([
            "tree",
            "-p",
            "outpost-server",
            "-e",
            "normal,build",
            "--prefix",
            "none",
            "--format",
            "{p}|{f}",
        ])
        .output()?;
    if !out.status.success() {
        return Err(format!(
            "cargo tree -p outpost-server failed: {}",
            String::from_utf8_lossy(&out.stderr)
        )
        .into());
    }
    Ok(String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| {
            let (package, features) = l.split_once('|')?;
            let name = package.split(' ').next()?.to_string();
            let features = features
                .trim()
                .trim_end_matches(" (*)")
                .split(',')
                .map(str::to_string)
                .filter(|f| !f.is_empty())
                .collect();
            Some((name, features))
        })
        .collect())
}

#[test]
fn the_server_builds_no_openssl_and_no_sqlcipher() -> Result<(), BoxError> {
    let graph = server_graph()?;
    assert!(
        graph.iter().any(|(name, _)| name == "outpost-core"),
        "the server builds on outpost-core's model: {graph:?}"
    );
    let mut problems = Vec::new();
    for (name, features) in &graph {
        if DEVICE_ONLY.contains(&name.as_str()) {
            problems.push(format!("{name} is in the server's graph"));
        }
        if name == "libsqlite3-sys" && features.iter().any(|f| f.contains("sqlcipher")) {
            problems.push(format!("libsqlite3-sys builds SQLCipher ({features:?})"));
        }
        if name == "outpost-core" && features.iter().any(|f| f == "store") {
            problems.push("outpost-core is built with its device store".to_string());
        }
    }
    problems.sort();
    problems.dedup();
    assert!(problems.is_empty(), "{problems:#?}");
    Ok(())
}
