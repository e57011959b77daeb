//! The device client against a server that limits each device's request rate: it waits as the
//! server's `Retry-After` tells it (and says so in the sync report), so every sync still
//! succeeds; a server asking for longer than one sync may wait fails the sync at once with an
//! error saying when to sync again.

use outpost_core::{NewContact, Store, StoreOptions, SyncOptions};
use outpost_server::ratelimit::device::DeviceRate;
use outpost_server::storage::Role;
use outpost_server::ServerOptions;
use outpost_tests::inproc::InProcessServer;
use std::sync::Mutex;
use std::time::Duration;

type R<T> = Result<T, outpost_tests::procs::BoxError>;

/// A server allowing each device `per_minute` requests with bursts of `burst`, a tenant, and a
/// device store signed in to it.
fn setup(per_minute: u32, burst: u32, dir: &std::path::Path) -> R<(InProcessServer, Mutex<Store>)> {
    let server = InProcessServer::start_with(ServerOptions {
        device_rate: DeviceRate { per_minute, burst },
        ..ServerOptions::default()
    })?;
    let tenant = server.tenant("acme")?;
    let token = server.enroll(&tenant, "alice", Role::Rep)?;
    let mut store = Store::open(
        dir.join("alice.db"),
        StoreOptions {
            user: "alice".into(),
            ..Default::default()
        },
    )?;
    store.set_server(&server.url, &token)?;
    Ok((server, Mutex::new(store)))
}

/// `outpost_rate_limited_total{reason="device"}` of the server.
fn device_429s(server: &InProcessServer) -> R<u64> {
    let url = format!("{}/metrics", server.url);
    let text = server
        .runtime
        .block_on(async { reqwest::Client::new().get(url).send().await?.text().await })?;
    let line = text
        .lines()
        .find_map(|l| l.strip_prefix("outpost_rate_limited_total{reason=\"device\"} "))
        .ok_or("no device rate metric")?;
    Ok(line.parse()?)
}

#[test]
fn a_device_syncing_in_a_loop_waits_as_told_and_every_sync_succeeds() -> R<()> {
    let dir = tempfile::tempdir()?;
    // One request a second, two at once: every sync (bootstrap, push+pull, scope, metrics)
    // needs more than that.
    let (server, store) = setup(60, 2, dir.path())?;
    let mut throttled = 0;
    for n in 0..4 {
        store
            .lock()
            .map_err(|e| e.to_string())?
            .add_contact(NewContact {
                name: format!("客户{n}"),
                ..Default::default()
            })?;
        let report = server
            .runtime
            .block_on(outpost_core::sync_store(&store, SyncOptions::default()))?;
        assert_eq!(report.pushed, 1, "sync {n}: {report:?}");
        // Each wait lasted at least what the server asked (1 s here).
        assert!(
            report.throttled_ms >= 1000 * report.throttled,
            "sync {n}: {report:?}"
        );
        throttled += report.throttled;
    }
    assert!(throttled > 0, "the server never asked to wait");
    // Every 429 the server sent was waited out (none made a sync fail).
    assert_eq!(device_429s(&server)?, throttled);
    let status = store.lock().map_err(|e| e.to_string())?.status()?;
    assert_eq!(status.outbox_len, 0, "{status:?}");
    Ok(())
}

#[test]
fn a_wait_longer_than_a_sync_may_fails_it_saying_when_to_sync_again() -> R<()> {
    let dir = tempfile::tempdir()?;
    // One request a minute: the second request of the first sync is told to wait ~60 s.
    let (server, store) = setup(1, 1, dir.path())?;
    let options = SyncOptions {
        max_retry_wait: Duration::from_secs(5),
        ..SyncOptions::default()
    };
    let failed = server
        .runtime
        .block_on(outpost_core::sync_store(&store, options));
    match failed {
        Err(outpost_core::Error::Server {
            status: 429,
            code,
            message,
        }) => {
            assert_eq!(code, "too_many_requests");
            assert!(message.contains("sync again after 20"), "{message}");
            assert!(message.contains("longer than one sync waits"), "{message}");
        }
        other => panic!("expected a 429 saying when to sync again, got {other:?}"),
    }
    assert_eq!(device_429s(&server)?, 1, "it did not retry before the time");
    Ok(())
}
