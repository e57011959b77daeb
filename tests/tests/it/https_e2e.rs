//! Sync over HTTPS to the real server's own TLS listener (`--tls-cert`/`--tls-key`), with a
//! certificate a company CA made for the test (rcgen): the CLI trusts that CA with `--ca-cert`
//! and syncs; without it, or with another CA, the sync fails at once with a TLS error that says
//! what to do, and nothing the device holds is lost.

use outpost_tests::procs::{BoxError, Device, Server};
use outpost_tests::test_ca::certificates;

type TestResult = Result<(), BoxError>;

#[test]
fn devices_sync_over_https_with_a_company_ca_and_refuse_an_unknown_one() -> TestResult {
    let work = tempfile::tempdir()?;
    let certs = certificates()?;
    let write = |name: &str, text: &str| -> Result<String, BoxError> {
        let path = work.path().join(name);
        std::fs::write(&path, text)?;
        Ok(path.to_str().ok_or("a non-UTF-8 path")?.to_string())
    };
    let cert = write("server.pem", &certs.server_pem)?;
    let key = write("server.key", &certs.server_key_pem)?;
    let ca = write("ca.pem", &certs.ca_pem)?;
    let other_ca = write("other-ca.pem", &certs.other_ca_pem)?;
    let not_pem = write("not-a-ca.pem", "这不是证书\n")?;

    let server = Server::start_tls(
        &work.path().join("data"),
        std::path::Path::new(&cert),
        std::path::Path::new(&key),
    )?;
    assert!(
        server.url.starts_with("https://localhost:"),
        "{}",
        server.url
    );
    let tenant = server.admin(&["tenant", "create", "华东大区", "--sharing", "open"])?;
    let tenant = tenant["id"].as_str().ok_or("tenant id")?.to_string();
    let token = |user: &str| -> Result<String, BoxError> {
        let enrolled = server.admin(&["device", "enroll", "--tenant", &tenant, "--user", user])?;
        Ok(enrolled["token"].as_str().ok_or("token")?.to_string())
    };

    // Trusting the company CA: the device pushes, the other pulls.
    let a = Device::new(work.path().join("a.db"), "wang_fang")?;
    let b = Device::new(work.path().join("b.db"), "li_na")?;
    let added = a.ok(&[
        "contact",
        "add",
        "--name",
        "王芳",
        "--phone",
        "139 1234 5678",
    ])?;
    let id = added["id"].as_str().ok_or("contact id")?;
    let pushed = a.ok(&[
        "--ca-cert",
        &ca,
        "sync",
        "--server",
        &server.url,
        "--token",
        &token("wang_fang")?,
    ])?;
    assert_eq!(pushed["pushed"], 1, "{pushed}");
    // --progress: one JSON line per step on stderr, the first download's pages among them.
    let first = b.run(&[
        "--ca-cert",
        &ca,
        "sync",
        "--progress",
        "--server",
        &server.url,
        "--token",
        &token("li_na")?,
    ])?;
    assert_eq!(first.code, 0, "{}", first.stderr);
    let steps: Vec<serde_json::Value> = first
        .stderr
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    assert!(
        steps
            .iter()
            .any(|p| p["phase"] == "bootstrap" && p["done"] == 1),
        "{}",
        first.stderr
    );
    assert_eq!(b.ok(&["contact", "get", id])?["name"], "王芳");

    // The bundled roots alone, or another CA: refused at once, saying it is TLS and what to do.
    a.ok(&["contact", "edit", id, "--title", "采购经理"])?;
    for trust in [None, Some(other_ca.as_str())] {
        let mut args = Vec::new();
        if let Some(ca) = trust {
            args.extend(["--ca-cert", ca]);
        }
        args.extend(["sync", "--attempts", "4"]);
        let refused = a.run(&args)?;
        assert_ne!(refused.code, 0, "{trust:?}: {}", refused.stderr);
        assert!(
            refused.stderr.contains("TLS") && refused.stderr.contains("--ca-cert"),
            "{trust:?}: {}",
            refused.stderr
        );
        assert!(
            refused.stderr.to_lowercase().contains("issuer"),
            "names the unknown issuer: {}",
            refused.stderr
        );
    }
    // The edit still waits in the outbox and goes with the right CA.
    let status = a.ok(&["status"])?;
    assert_eq!(status["outbox_len"], 1, "{status}");
    let pushed = a.ok(&["--ca-cert", &ca, "sync"])?;
    assert_eq!(pushed["pushed"], 1, "{pushed}");
    b.ok(&["--ca-cert", &ca, "sync"])?;
    assert_eq!(b.ok(&["contact", "get", id])?["title"], "采购经理");

    // A CA file that holds no certificate is named before anything is sent.
    let bad = a.run(&["--ca-cert", &not_pem, "sync"])?;
    assert_ne!(bad.code, 0);
    assert!(
        bad.stderr.contains("ca_cert") && bad.stderr.contains("not-a-ca.pem"),
        "{}",
        bad.stderr
    );
    Ok(())
}

#[test]
fn the_server_refuses_to_start_with_a_key_that_is_not_its_certificates() -> TestResult {
    let work = tempfile::tempdir()?;
    let certs = certificates()?;
    let other = certificates()?;
    let cert = work.path().join("server.pem");
    let key = work.path().join("other.key");
    std::fs::write(&cert, &certs.server_pem)?;
    std::fs::write(&key, &other.server_key_pem)?;
    let bin = outpost_tests::procs::binary("outpost-server", "outpost-server")?;
    let out = std::process::Command::new(bin)
        .args(["serve", "--listen", "127.0.0.1:0", "--tls-cert"])
        .arg(&cert)
        .arg("--tls-key")
        .arg(&key)
        .env("OUTPOST_DATA", work.path().join("data"))
        .env_remove("OUTPOST_DATABASE_URL")
        .output()?;
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(
        stderr.contains("--tls-cert") && stderr.contains("server.pem"),
        "{stderr}"
    );
    Ok(())
}
