//! Cursors never skip: many concurrent writers through two server processes on one
//! PostgreSQL database, while a reader pages the log with a small limit.

use crate::support::*;
use outpost_core::sync::protocol::LogEntry;
use std::collections::HashSet;
use std::process::Stdio;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

const WRITERS: usize = 8;
const PUSHES: usize = 50;
const READER_LIMIT: u32 = 7;

/// A running `outpost-server serve` process and its URL.
struct ServerProcess {
    child: Child,
    url: String,
}

fn binary() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_outpost-server"));
    cmd.env_remove("OUTPOST_DATA")
        .env_remove("OUTPOST_LISTEN")
        .env("RUST_LOG", "warn")
        .kill_on_drop(true);
    cmd
}

async fn start_server(database_url: &str) -> ServerProcess {
    let mut child = binary()
        .args(["serve", "--listen", "127.0.0.1:0"])
        .env("OUTPOST_DATABASE_URL", database_url)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let mut lines = BufReader::new(stderr).lines();
    let addr = tokio::time::timeout(std::time::Duration::from_secs(30), async {
        while let Some(line) = lines.next_line().await.unwrap() {
            if let Some(addr) = line.strip_prefix("outpost-server listening on ") {
                return addr.trim().to_string();
            }
            eprintln!("server: {line}");
        }
        panic!("the server exited before listening");
    })
    .await
    .expect("the server did not start in 30 s");
    // Keep draining its stderr so it never blocks on a full pipe.
    tokio::spawn(async move {
        while let Ok(Some(line)) = lines.next_line().await {
            eprintln!("server: {line}");
        }
    });
    ServerProcess {
        child,
        url: format!("http://{addr}"),
    }
}

/// Runs an operator command and parses its JSON output.
async fn operator(database_url: &str, args: &[&str]) -> serde_json::Value {
    let out = binary()
        .args(args)
        .env("OUTPOST_DATABASE_URL", database_url)
        .output()
        .await
        .unwrap();
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// Stops a server with SIGTERM and checks it exits cleanly.
async fn stop(mut server: ServerProcess) {
    let pid = server.child.id().unwrap().to_string();
    let killed = Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .await
        .unwrap();
    assert!(killed.success());
    let status = tokio::time::timeout(std::time::Duration::from_secs(20), server.child.wait())
        .await
        .expect("the server did not stop on SIGTERM")
        .unwrap();
    assert!(status.success(), "graceful shutdown exits 0, got {status}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_writers_through_two_servers_never_make_a_reader_skip() {
    let db = PgDb::create().await;
    // Both servers start together on a fresh database: migrations must not collide.
    let (a, b) = tokio::join!(start_server(&db.url), start_server(&db.url));
    let urls = [a.url.clone(), b.url.clone()];

    let tenant = operator(&db.url, &["tenant", "create", "acme", "--sharing", "open"]).await;
    assert_eq!(tenant["name"], "acme");
    let mut tokens = Vec::new();
    for i in 0..=WRITERS {
        let user = format!("rep{i}");
        let enrolled = operator(
            &db.url,
            &["device", "enroll", "--tenant", "acme", "--user", &user],
        )
        .await;
        assert!(enrolled["device_id"].is_string());
        tokens.push(enrolled["token"].as_str().unwrap().to_string());
    }
    let listed = operator(&db.url, &["device", "list", "--tenant", "acme"]).await;
    assert_eq!(listed.as_array().unwrap().len(), WRITERS + 1);
    assert!(listed[0].get("token").is_none());
    let reader_token = tokens.pop().unwrap();

    let client = client();
    let done = Arc::new(AtomicBool::new(false));
    let mut writers = Vec::new();
    for (i, token) in tokens.into_iter().enumerate() {
        let (client, urls) = (client.clone(), urls.clone());
        writers.push(tokio::spawn(async move {
            let actor = new_actor();
            let (mut w, first) = ContactWriter::create(&actor, &format!("rep{i}"));
            let mut hashes = Vec::new();
            let mut change = first;
            for n in 0..PUSHES {
                hashes.push(hash(&change));
                let req = sync_request(&actor, 0, vec![w.push(change)], Some(1));
                let res = sync(&client, &urls[(i + n) % 2], &token, &req)
                    .await
                    .sync_response();
                assert!(res.rejected.is_empty(), "{:?}", res.rejected);
                change = w.set("name", &format!("rep{i} v{n}"));
            }
            hashes
        }));
    }

    let reader = {
        let (client, urls, done) = (client.clone(), urls.clone(), done.clone());
        tokio::spawn(async move {
            let actor = new_actor();
            let mut cursor = 0u64;
            let mut seen: Vec<LogEntry> = Vec::new();
            let mut n = 0usize;
            loop {
                // Read `done` before the request: a page answered after the writers
                // finished, with nothing more, means the reader has caught up.
                let finished = done.load(Ordering::SeqCst);
                let req = sync_request(&actor, cursor, vec![], Some(READER_LIMIT));
                let res = sync(&client, &urls[n % 2], &reader_token, &req)
                    .await
                    .sync_response();
                n += 1;
                // The reader never pushes, so it sees every entry: exactly the seqs after
                // its cursor, up to the new cursor.
                let seqs: Vec<u64> = res.entries.iter().map(|e| e.seq).collect();
                let expected: Vec<u64> = (cursor + 1..=res.cursor).collect();
                assert_eq!(seqs, expected, "the reader skipped or repeated a seq");
                assert!(seqs.len() <= READER_LIMIT as usize);
                seen.extend(res.entries);
                cursor = res.cursor;
                if finished && !res.more {
                    return (seen, cursor, n);
                }
            }
        })
    };

    let mut written = HashSet::new();
    for w in writers {
        for h in w.await.unwrap() {
            assert!(written.insert(h));
        }
    }
    done.store(true, Ordering::SeqCst);
    let (seen, cursor, pages) = reader.await.unwrap();

    let total = (WRITERS * PUSHES) as u64;
    assert_eq!(cursor, total);
    let seqs: Vec<u64> = seen.iter().map(|e| e.seq).collect();
    assert_eq!(seqs, (1..=total).collect::<Vec<_>>());
    let read: HashSet<Vec<u8>> = seen.iter().map(|e| hash(&e.change)).collect();
    assert_eq!(read.len(), seen.len(), "no change twice");
    assert_eq!(read, written, "every accepted change exactly once");
    let storage = outpost_server::PostgresStorage::connect(&db.url)
        .await
        .unwrap();
    assert_eq!(
        log_head(&storage, tenant["id"].as_str().unwrap()).await,
        total
    );
    assert!(pages > (total as usize) / READER_LIMIT as usize);

    stop(a).await;
    stop(b).await;
    drop(storage);
}
