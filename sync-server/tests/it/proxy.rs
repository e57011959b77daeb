//! Limits behind a reverse proxy, on a real server over loopback: the client address is read
//! from `X-Forwarded-For` only when the peer is a trusted proxy; bad tokens never lock out a
//! valid device; a stale token is limited on its own; each device has a request rate answered
//! with `429` and `Retry-After`; the `serve` flags set all of it and refuse bad ranges.

use crate::support::*;
use outpost_core::sync::protocol::{self, ErrorBody};
use outpost_server::audit::event;
use outpost_server::ratelimit::device::DeviceRate;
use outpost_server::ratelimit::proxy::{ForwardedHeader, TrustedProxies};
use outpost_server::ratelimit::LimitConfig;
use outpost_server::ServerOptions;
use std::time::Duration;

/// The test's requests come from 127.0.0.1: trusting it makes this process the proxy.
fn behind_proxy(header: ForwardedHeader) -> ServerOptions {
    ServerOptions {
        trusted_proxies: TrustedProxies::new(vec!["127.0.0.1".parse().unwrap()], header).unwrap(),
        ..ServerOptions::default()
    }
}

/// What a sync answered: status, `Retry-After`, error code.
#[derive(Debug)]
struct Reply {
    status: u16,
    retry_after: Option<u64>,
    error: Option<String>,
}

/// `POST /v1/sync` with `token`, and `header: value` when given.
async fn sync_as(server: &TestServer, token: &str, forwarded: Option<(&str, &str)>) -> Reply {
    let body = protocol::encode(&sync_request(&new_actor(), 0, vec![], None));
    let mut req = server
        .client
        .post(format!("{}/v1/sync", server.url))
        .header("authorization", format!("Bearer {token}"))
        .header("content-type", protocol::CONTENT_TYPE)
        .body(body);
    if let Some((name, value)) = forwarded {
        req = req.header(name, value);
    }
    let res = req.send().await.unwrap();
    let status = res.status().as_u16();
    let retry_after = res
        .headers()
        .get("retry-after")
        .map(|v| v.to_str().unwrap().parse::<u64>().unwrap());
    let bytes = res.bytes().await.unwrap();
    let error = (status != 200).then(|| {
        serde_json::from_slice::<ErrorBody>(&bytes)
            .unwrap_or_else(|e| panic!("{status}: not an error body ({e}): {bytes:?}"))
            .error
    });
    Reply {
        status,
        retry_after,
        error,
    }
}

/// `outpost_rate_limited_total{reason}` from `/metrics`.
async fn rate_limited(server: &TestServer, reason: &str) -> u64 {
    let text = server
        .client
        .get(format!("{}/metrics", server.url))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let prefix = format!("outpost_rate_limited_total{{reason=\"{reason}\"}} ");
    text.lines()
        .find_map(|l| l.strip_prefix(&prefix))
        .unwrap_or_else(|| panic!("no {prefix} in\n{text}"))
        .parse()
        .unwrap()
}

fn assert_limited(reply: &Reply, what: &str) {
    assert_eq!(reply.status, 429, "{what}: {reply:?}");
    assert_eq!(reply.error.as_deref(), Some("too_many_requests"), "{what}");
    let secs = reply
        .retry_after
        .unwrap_or_else(|| panic!("{what}: no Retry-After"));
    assert!((1..=60).contains(&secs), "{what}: Retry-After {secs}");
}

/// The test: 100 bad tokens through a trusted proxy, then a good device syncs at once,
/// whether it is behind another client address or (as behind a carrier's CGNAT) the same one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_tokens_through_a_trusted_proxy_never_lock_out_a_good_device() {
    let backend = Backend::sqlite();
    let s = backend.storage.clone();
    let acme = tenant_with_device(&*s, "acme", "alice").await;
    let server =
        TestServer::start_with(s.clone(), behind_proxy(ForwardedHeader::XForwardedFor)).await;
    let attacker = ("x-forwarded-for", "198.51.100.7");
    let limit = LimitConfig::default().max_failures as usize;
    let mut statuses = Vec::new();
    for i in 0..100 {
        let reply = sync_as(&server, &format!("guess-{i}"), Some(attacker)).await;
        if reply.status == 429 {
            assert_limited(&reply, &format!("guess {i}"));
        }
        statuses.push(reply.status);
    }
    assert_eq!(statuses[..limit], vec![401; limit][..], "{statuses:?}");
    assert_eq!(
        statuses[limit..],
        vec![429; 100 - limit][..],
        "{statuses:?}"
    );

    // Another client behind the same proxy: not limited, whatever its token.
    let other = ("x-forwarded-for", "1.2.3.4, 203.0.113.9");
    let good = sync_as(&server, &acme.token, Some(other)).await;
    assert_eq!(good.status, 200, "{good:?}");
    assert_eq!(sync_as(&server, "typo", Some(other)).await.status, 401);
    // The limited address itself: a valid token is still served at once, a bad one is not.
    let shared = sync_as(&server, &acme.token, Some(attacker)).await;
    assert_eq!(shared.status, 200, "{shared:?}");
    assert_limited(
        &sync_as(&server, "guess-again", Some(attacker)).await,
        "bad token",
    );
    // So is a device of the same address sending no token at all.
    let missing = server
        .client
        .post(format!("{}/v1/sync", server.url))
        .header("x-forwarded-for", "198.51.100.7")
        .header("content-type", protocol::CONTENT_TYPE)
        .body(protocol::encode(&sync_request(
            &new_actor(),
            0,
            vec![],
            None,
        )))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status().as_u16(), 429);
    // A revoked device is not served past the limit either.
    let (gone, gone_token) = device(&*s, &acme.tenant.id, "gone").await;
    s.revoke_device(&gone.id).await.unwrap();
    assert_limited(
        &sync_as(&server, &gone_token, Some(attacker)).await,
        "revoked",
    );

    assert_eq!(
        rate_limited(&server, "auth_address").await,
        100 - limit as u64 + 3
    );
    // Only the refusals that reached the token check were audited, each with the client
    // address the proxy forwarded.
    let failed: Vec<_> = s
        .audit_page("", 0, 10_000)
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.event)
        .filter(|e| e.event == event::AUTH_FAILED)
        .collect();
    assert_eq!(failed.len(), limit + 1, "20 guesses and the typo");
    let remote = failed[0].remote.as_deref().unwrap_or("");
    assert!(
        remote.starts_with("198.51.100.7 via 127.0.0.1:"),
        "{remote}"
    );
    let remote = failed[limit].remote.as_deref().unwrap_or("");
    assert!(remote.starts_with("203.0.113.9 via 127.0.0.1:"), "{remote}");
    server.stop().await;
}

/// Without `--trusted-proxy` (or when the peer is not one of the trusted), forwarding headers
/// are ignored: a client that writes a new `X-Forwarded-For` with every guess does not escape
/// the limit of its real address.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spoofed_forwarding_headers_do_not_escape_the_limit() {
    let backend = Backend::sqlite();
    let s = backend.storage.clone();
    let acme = tenant_with_device(&*s, "acme", "alice").await;
    let limit = LimitConfig::default().max_failures as usize;
    let untrusted_peer = ServerOptions {
        trusted_proxies: TrustedProxies::new(
            vec!["10.0.0.0/8".parse().unwrap()],
            ForwardedHeader::XForwardedFor,
        )
        .unwrap(),
        ..ServerOptions::default()
    };
    for (what, options) in [
        ("no trusted proxy", ServerOptions::default()),
        ("peer not trusted", untrusted_peer),
    ] {
        let server = TestServer::start_with(s.clone(), options).await;
        for i in 0..limit {
            let spoof = format!("203.0.113.{i}");
            let reply = sync_as(
                &server,
                &format!("guess-{i}"),
                Some(("x-forwarded-for", &spoof)),
            )
            .await;
            assert_eq!(reply.status, 401, "{what}: guess {i}");
        }
        let fresh = sync_as(&server, "guess", Some(("x-forwarded-for", "192.0.2.200"))).await;
        assert_limited(&fresh, what);
        let rfc = sync_as(&server, "guess", Some(("forwarded", "for=192.0.2.201"))).await;
        assert_limited(&rfc, what);
        // The valid device on that address is served all the same.
        assert_eq!(
            sync_as(&server, &acme.token, None).await.status,
            200,
            "{what}"
        );
        server.stop().await;
    }
}

/// Behind a proxy that writes RFC 7239 `Forwarded`, that header gives the client address, and
/// `X-Forwarded-For` (which such a proxy passes through from the client) is not read.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_forwarded_header_is_read_when_configured() {
    let backend = Backend::sqlite();
    let s = backend.storage.clone();
    let server = TestServer::start_with(s.clone(), behind_proxy(ForwardedHeader::Forwarded)).await;
    let limit = LimitConfig::default().max_failures as usize;
    let attacker = ("forwarded", "for=\"[2001:db8::7]:4711\";proto=https");
    for i in 0..limit {
        assert_eq!(
            sync_as(&server, &format!("g{i}"), Some(attacker))
                .await
                .status,
            401
        );
    }
    // The same /64 is the same client; another is not; a spoofed X-Forwarded-For is ignored
    // (keyed on the proxy, which is not limited).
    let same_64 = ("forwarded", "for=\"[2001:db8::99]\"");
    assert_limited(&sync_as(&server, "g", Some(same_64)).await, "same /64");
    let other = ("forwarded", "for=\"[2001:db8:0:1::7]\"");
    assert_eq!(sync_as(&server, "g", Some(other)).await.status, 401);
    let spoof = ("x-forwarded-for", "2001:db8::7");
    assert_eq!(sync_as(&server, "g", Some(spoof)).await.status, 401);
    server.stop().await;
}

/// One device presenting the same stale token again and again is limited by that token
/// (five failures) before it uses up its address's budget; other tokens from the address go on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stale_token_is_limited_on_its_own() {
    let backend = Backend::sqlite();
    let s = backend.storage.clone();
    let server = TestServer::start(s.clone()).await;
    let per_token = LimitConfig::default().max_token_failures as usize;
    for i in 0..per_token {
        assert_eq!(sync_as(&server, "stale", None).await.status, 401, "try {i}");
    }
    for i in 0..30 {
        assert_limited(
            &sync_as(&server, "stale", None).await,
            &format!("stale again {i}"),
        );
    }
    assert_eq!(rate_limited(&server, "auth_token").await, 30);
    assert_eq!(rate_limited(&server, "auth_address").await, 0);
    // The address has 5 failures of its 20: other tokens still get their 401.
    assert_eq!(sync_as(&server, "another", None).await.status, 401);
    server.stop().await;
}

/// A device over its request rate gets `429` with `Retry-After` and the JSON error body; other
/// devices are unaffected, and it is served again once the time has passed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_device_over_its_rate_is_told_when_to_retry() {
    let backend = Backend::sqlite();
    let s = backend.storage.clone();
    let acme = tenant_with_device(&*s, "acme", "alice").await;
    let (_, bob) = device(&*s, &acme.tenant.id, "bob").await;
    let options = ServerOptions {
        device_rate: DeviceRate {
            per_minute: 60,
            burst: 2,
        },
        ..ServerOptions::default()
    };
    let server = TestServer::start_with(s.clone(), options).await;
    assert_eq!(sync_as(&server, &acme.token, None).await.status, 200);
    assert_eq!(sync_as(&server, &acme.token, None).await.status, 200);
    let over = sync_as(&server, &acme.token, None).await;
    assert_limited(&over, "third request at once");
    assert_eq!(over.retry_after, Some(1), "one request a second");
    // The other routes count too.
    let scope = post(
        &server.client,
        &format!("{}/v1/scope", server.url),
        Some(&acme.token),
        Some(protocol::CONTENT_TYPE),
        protocol::encode(&protocol::ScopeRequest {
            v: protocol::PROTOCOL_VERSION,
            after: None,
            limit: None,
        }),
    )
    .await;
    assert_eq!(scope.status, 429);
    assert_eq!(scope.error_code(), "too_many_requests");
    assert_eq!(
        sync_as(&server, &bob, None).await.status,
        200,
        "bob has his own budget"
    );
    assert_eq!(rate_limited(&server, "device").await, 2);
    // It did as told: waited Retry-After, and is served.
    tokio::time::sleep(Duration::from_secs(over.retry_after.unwrap_or(1))).await;
    assert_eq!(sync_as(&server, &acme.token, None).await.status, 200);
    // Being over the rate is no failed authentication.
    assert_eq!(rate_limited(&server, "auth_address").await, 0);
    server.stop().await;
}

/// `outpost-server serve --trusted-proxy`, `OUTPOST_TRUSTED_PROXIES` and `--device-rate-limit`
/// act on a server process; bad ranges are refused at start, naming the value.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_serve_flags_set_the_proxies_and_the_device_rate() {
    let dir = tempfile::tempdir().unwrap();
    let bin = env!("CARGO_BIN_EXE_outpost-server");
    let cli = |args: &[&str]| {
        let out = std::process::Command::new(bin)
            .env_remove("OUTPOST_DATABASE_URL")
            .env_remove("OUTPOST_TRUSTED_PROXIES")
            .arg("--data")
            .arg(dir.path())
            .args(args)
            .output()
            .unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).to_string(),
            String::from_utf8_lossy(&out.stderr).to_string(),
        )
    };
    for (bad, named) in [
        ("10.0.0.0/33", "\"10.0.0.0/33\""),
        ("proxy.lan", "\"proxy.lan\""),
        ("10.1.2.3/8", "10.0.0.0/8"),
    ] {
        let (code, _, err) = cli(&["serve", "--listen", "127.0.0.1:0", "--trusted-proxy", bad]);
        assert_eq!(code, Some(2), "{bad}: {err}");
        assert!(
            err.contains(named) && err.contains("--trusted-proxy"),
            "{bad}: {err}"
        );
        assert_eq!(err.trim().lines().count(), 1, "one line: {err}");
    }
    let refused = std::process::Command::new(bin)
        .env_remove("OUTPOST_DATABASE_URL")
        .env("OUTPOST_TRUSTED_PROXIES", "127.0.0.1,nonsense")
        .arg("--data")
        .arg(dir.path())
        .args(["serve", "--listen", "127.0.0.1:0"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&refused.stderr);
    assert_eq!(refused.status.code(), Some(2), "{err}");
    assert!(err.contains("\"nonsense\""), "{err}");

    let (code, out, err) = cli(&["tenant", "create", "acme"]);
    assert_eq!(code, Some(0), "{err}");
    let tenant: serde_json::Value = serde_json::from_str(&out).unwrap();
    let (code, out, err) = cli(&["device", "enroll", "--tenant", "acme", "--user", "alice"]);
    assert_eq!(code, Some(0), "{err}");
    let enrolled: serde_json::Value = serde_json::from_str(&out).unwrap();
    let token = enrolled["token"].as_str().unwrap().to_string();
    assert!(tenant["id"].is_string());

    let (mut child, addr) = spawn_listening(
        tokio::process::Command::new(bin)
            .env_remove("OUTPOST_DATABASE_URL")
            .env_remove("OUTPOST_LISTEN")
            .env("RUST_LOG", "warn")
            .env("OUTPOST_TRUSTED_PROXIES", "10.0.0.0/8, 127.0.0.1")
            .args([
                "serve",
                "--listen",
                "127.0.0.1:0",
                "--device-rate-limit",
                "6",
            ])
            .args(["--device-rate-burst", "2"])
            .arg("--data")
            .arg(dir.path()),
    )
    .await;
    let server = TestServer::attach(&format!("http://{addr}"));
    let limit = LimitConfig::default().max_failures as usize;
    let a = ("x-forwarded-for", "198.51.100.7");
    for i in 0..limit {
        assert_eq!(
            sync_as(&server, &format!("g{i}"), Some(a)).await.status,
            401
        );
    }
    assert_limited(&sync_as(&server, "g", Some(a)).await, "forwarded client");
    let b = ("x-forwarded-for", "198.51.100.8");
    assert_eq!(
        sync_as(&server, "g", Some(b)).await.status,
        401,
        "another client"
    );
    // Two at once, then ten seconds apart (six a minute).
    assert_eq!(sync_as(&server, &token, Some(b)).await.status, 200);
    assert_eq!(sync_as(&server, &token, Some(b)).await.status, 200);
    let over = sync_as(&server, &token, Some(b)).await;
    assert_limited(&over, "device rate");
    assert!(
        over.retry_after.is_some_and(|s| (9..=10).contains(&s)),
        "{over:?}"
    );
    child.kill().await.unwrap();
}
