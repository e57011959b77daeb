//! End to end: a device creates records offline, fails one sync, recovers from an unclean
//! shutdown, syncs; its experience metrics reach the real server, whose health report (over
//! HTTP and from `outpost-server report health`) shows them; a resent batch counts once.

use outpost_core::sync::protocol::{self, ExperienceAck, ExperienceBatch, ExperienceEvent};
use outpost_core::{Store, StoreOptions};
use outpost_tests::procs::{BoxError, Device, Server};
use serde_json::Value;

type TestResult = Result<(), BoxError>;

fn enroll(server: &Server, tenant: &str, user: &str, role: &str) -> Result<String, BoxError> {
    let enrolled = server.admin(&[
        "device", "enroll", "--tenant", tenant, "--user", user, "--role", role,
    ])?;
    Ok(enrolled["token"].as_str().ok_or("token")?.to_string())
}

/// `GET /v1/reports/health` with `token`: (status, JSON body).
async fn health(url: &str, token: &str) -> Result<(u16, Value), BoxError> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let r = reqwest::Client::new()
        .get(format!("{url}/v1/reports/health"))
        .bearer_auth(token)
        .send()
        .await?;
    let status = r.status().as_u16();
    Ok((status, serde_json::from_slice(&r.bytes().await?)?))
}

/// `POST /v1/metrics` with `token`.
async fn post_metrics(
    url: &str,
    token: &str,
    batch: &ExperienceBatch,
) -> Result<ExperienceAck, BoxError> {
    let r = reqwest::Client::new()
        .post(format!("{url}/v1/metrics"))
        .bearer_auth(token)
        .header("content-type", protocol::CONTENT_TYPE)
        .body(protocol::encode(batch))
        .send()
        .await?;
    if r.status().as_u16() != 200 {
        return Err(format!("POST /v1/metrics: {}", r.status()).into());
    }
    Ok(protocol::decode("metrics answer", &r.bytes().await?)?)
}

#[test]
fn offline_records_and_action_times_reach_the_health_report_once() -> TestResult {
    let dir = tempfile::tempdir()?;
    let data = dir.path().join("server");
    std::fs::create_dir_all(&data)?;
    let server = Server::start(&data, "127.0.0.1:0")?;
    let tenant = server.admin(&["tenant", "create", "华南区", "--sharing", "open"])?["id"]
        .as_str()
        .ok_or("tenant id")?
        .to_string();
    let rep_token = enroll(&server, &tenant, "rep_a", "rep")?;
    let manager_token = enroll(&server, &tenant, "boss", "manager")?;
    let rep = Device::new(dir.path().join("rep.db"), "rep_a")?;

    // Offline: three quick creates (name + phone, duplicate check included) and a search.
    for (name, phone) in [
        ("张伟", "13800138000"),
        ("李娜", "13912345678"),
        ("王芳", "13711112222"),
    ] {
        rep.ok(&["contact", "add", "--name", name, "--phone", phone])?;
    }
    rep.ok(&["search", "张"])?;
    // The app is killed with the store open: the next open finds it not closed.
    std::mem::forget(Store::open(&rep.db, StoreOptions::default())?);
    // No network yet: the sync fails and is counted under its reason.
    let failed = rep.run(&[
        "sync",
        "--server",
        "http://127.0.0.1:9",
        "--token",
        &rep_token,
    ])?;
    assert_ne!(failed.code, 0, "a sync to a closed port must fail");

    let local = rep.ok(&["metrics", "--json"])?;
    assert_eq!(local["offline_created"], 3);
    assert_eq!(local["offline_synced"], 0);
    assert_eq!(local["crashes_recovered"], 1);
    assert_eq!(local["sync_failures"][0]["reason"], "network");

    // Back online: records sync, then the metrics follow.
    let report = rep.ok(&["sync", "--server", &server.url, "--token", &rep_token])?;
    assert_eq!(report["pushed"], 3);
    // 3 quick creates (each also an add), a search, the crash, the failed sync, this sync.
    assert_eq!(report["metrics_sent"], 10);
    let local = rep.ok(&["metrics", "--json"])?;
    assert_eq!(local["offline_synced"], 3);
    assert_eq!(local["unsent_events"], 0);

    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let (status, http) = runtime.block_on(health(&server.url, &manager_token))?;
    assert_eq!(status, 200, "{http}");
    assert_eq!(http["tenant"], tenant.as_str());
    assert_eq!(http["offline_created"], 3);
    assert_eq!(http["offline_synced"], 3);
    assert_eq!(http["offline_synced_ratio"]["value"], 1.0);
    assert_eq!(http["offline_synced_ratio"]["target"], 0.992);
    assert_eq!(http["offline_synced_ratio"]["met"], true);
    assert_eq!(http["action_ms"]["contact.quick_create"]["count"], 3);
    assert_eq!(http["action_ms"]["search"]["count"], 1);
    assert_eq!(http["action_ms"]["sync"]["count"], 1);
    assert_eq!(http["quick_create_ms"]["count"], 3);
    assert_eq!(http["quick_create_ms"]["target_ms"], 3000);
    let q = &http["quick_create_ms"];
    assert!(q["p50"].as_u64() <= q["p95"].as_u64() && q["p95"].as_u64() <= q["max"].as_u64());
    assert_eq!(http["sync_failures"]["network"], 1);
    assert_eq!(http["crashes_recovered"], 1);

    // The operator command prints the same report.
    let cli = server.admin(&["report", "health", "--tenant", "华南区"])?;
    assert_eq!(cli, http);

    // A rep may not read it.
    let (status, body) = runtime.block_on(health(&server.url, &rep_token))?;
    assert_eq!((status, body["error"].as_str()), (403, Some("forbidden")));

    // A batch sent again (its answer was lost) is not counted twice.
    let resend = ExperienceBatch {
        v: protocol::PROTOCOL_VERSION,
        events: vec![ExperienceEvent {
            seq: 1,
            at_ms: 0,
            kind: "action".into(),
            name: "contact.quick_create".into(),
            ms: 99_999,
        }],
        offline_created: 3,
        offline_synced: 3,
    };
    let ack = runtime.block_on(post_metrics(&server.url, &rep_token, &resend))?;
    assert_eq!(ack.stored, 0);
    let (_, again) = runtime.block_on(health(&server.url, &manager_token))?;
    assert_eq!(again, http);
    // Syncing again at once sends no metrics: they ride every 10 minutes, not every sync
    // (a second request each time on a phone's network). The new events wait on the device.
    let report = rep.ok(&["sync"])?;
    assert_eq!(report["metrics_sent"], 0);
    assert_eq!(report["round_trips"], 1);
    let local = rep.ok(&["metrics", "--json"])?;
    assert_eq!(local["unsent_events"], 1, "this sync's own event");
    let (_, after) = runtime.block_on(health(&server.url, &manager_token))?;
    assert_eq!(after, http);
    Ok(())
}
