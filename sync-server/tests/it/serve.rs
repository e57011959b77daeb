//! The listener: header-read, keep-alive and idle timeouts and the connection cap, on a real
//! server over loopback.

use crate::support::*;
use outpost_server::ServerOptions;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Small bounds, so that the test sees them act.
fn options() -> ServerOptions {
    ServerOptions {
        header_read_timeout: Duration::from_millis(300),
        keep_alive_timeout: Duration::from_millis(200),
        idle_timeout: Duration::from_secs(5),
        max_connections: 8,
        ..ServerOptions::default()
    }
}

/// Reads until the server closes the connection; what it sent. Gives up (returns `None`)
/// after `GIVE_UP`, which is far past every bound above.
async fn until_closed(stream: &mut TcpStream) -> Option<Vec<u8>> {
    const GIVE_UP: Duration = Duration::from_secs(30);
    let mut got = Vec::new();
    tokio::time::timeout(GIVE_UP, async {
        let mut buf = [0u8; 1024];
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => got.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await
    .ok()
    .map(|()| got)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_and_half_sent_connections_are_closed_and_health_still_answers() {
    let backend = Backend::sqlite();
    let server = TestServer::start_with(backend.storage.clone(), options()).await;
    let addr = server.url.trim_start_matches("http://").to_string();
    // Far more connections than the cap: some send nothing, some half their headers.
    let mut idle = Vec::new();
    for _ in 0..24 {
        idle.push(TcpStream::connect(&addr).await.unwrap());
    }
    let mut half = Vec::new();
    for _ in 0..12 {
        let mut s = TcpStream::connect(&addr).await.unwrap();
        s.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ")
            .await
            .unwrap();
        half.push(s);
    }
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(60))
        .build()
        .unwrap();
    let health = client
        .get(format!("{}/healthz", server.url))
        .send()
        .await
        .expect("/healthz answers while idle connections fill the cap");
    assert_eq!(health.status(), 200);
    for s in &mut half {
        let sent = until_closed(s)
            .await
            .expect("a half-sent request is closed after the header timeout");
        let text = String::from_utf8_lossy(&sent);
        assert!(
            sent.is_empty() || text.starts_with("HTTP/1.1 408"),
            "{text}"
        );
    }
    for s in &mut idle {
        assert!(
            until_closed(s).await.is_some(),
            "a connection that sends nothing is closed"
        );
    }
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kept_alive_connections_close_when_idle_and_shutdown_is_graceful() {
    let backend = Backend::sqlite();
    let server = TestServer::start_with(backend.storage.clone(), options()).await;
    let addr = server.url.trim_start_matches("http://").to_string();
    let mut s = TcpStream::connect(&addr).await.unwrap();
    for _ in 0..2 {
        s.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            .await
            .unwrap();
        let mut buf = vec![0u8; 4096];
        let n = s.read(&mut buf).await.unwrap();
        let text = String::from_utf8_lossy(&buf[..n]);
        assert!(text.starts_with("HTTP/1.1 200"), "{text}");
    }
    // Two requests on one connection, then nothing: closed by the keep-alive timeout.
    assert_eq!(until_closed(&mut s).await, Some(Vec::new()));
    // A shutdown with an idle connection open still completes.
    let _open = TcpStream::connect(&addr).await.unwrap();
    tokio::time::timeout(Duration::from_secs(30), server.stop())
        .await
        .expect("the server stops");
}

/// The operator sets the bounds on `outpost-server serve`: a one-second header timeout given
/// by flag closes a silent connection long before the default ten seconds, and a value out of
/// range is refused at start, naming the flag.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_operator_sets_the_bounds_by_flag_and_bad_values_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let bin = env!("CARGO_BIN_EXE_outpost-server");
    let refused = tokio::process::Command::new(bin)
        .env_remove("OUTPOST_DATABASE_URL")
        .args(["serve", "--listen", "127.0.0.1:0", "--max-connections", "0"])
        .arg("--data")
        .arg(dir.path())
        .output()
        .await
        .unwrap();
    assert_eq!(refused.status.code(), Some(2));
    let err = String::from_utf8_lossy(&refused.stderr);
    assert!(err.contains("--max-connections"), "{err}");

    let (mut child, addr) = spawn_listening(
        tokio::process::Command::new(bin)
            .env_remove("OUTPOST_DATABASE_URL")
            .env_remove("OUTPOST_LISTEN")
            .env("RUST_LOG", "warn")
            .env("OUTPOST_KEEP_ALIVE_TIMEOUT_SECS", "1")
            .args([
                "serve",
                "--listen",
                "127.0.0.1:0",
                "--header-read-timeout-secs",
                "1",
            ])
            .arg("--data")
            .arg(dir.path()),
    )
    .await;
    let mut silent = TcpStream::connect(&addr).await.unwrap();
    let closed = tokio::time::timeout(Duration::from_secs(6), until_closed(&mut silent)).await;
    assert!(
        matches!(closed, Ok(Some(_))),
        "a silent connection is closed after the flag's 1 s, not the default 10 s"
    );
    child.kill().await.unwrap();
}
