//! Bounds before parsing: compressed Automerge changes that inflate without bound (the 255 KB
//! and 1 MB bombs of issue 17) are refused by a real server process on both backends, through
//! `/v1/sync` with a valid and with a revoked token (the quarantine path) and through the
//! Automerge sync route, while the process's peak memory stays bounded.

use crate::support::*;
use outpost_core::sync::protocol::{self, PushChange};
use outpost_server::Storage;
use std::sync::Arc;
use tokio::process::{Child, Command};

/// Writes bits least significant first, as deflate wants; Huffman codes go most significant
/// bit first.
struct Bits {
    out: Vec<u8>,
    acc: u64,
    n: u32,
}

impl Bits {
    fn put(&mut self, value: u64, len: u32) {
        self.acc |= value << self.n;
        self.n += len;
        while self.n >= 8 {
            self.out.push(self.acc as u8);
            self.acc >>= 8;
            self.n -= 8;
        }
    }

    fn code(&mut self, code: u64, len: u32) {
        let mut reversed = 0;
        for i in 0..len {
            reversed |= ((code >> i) & 1) << (len - 1 - i);
        }
        self.put(reversed, len);
    }

    fn finish(mut self) -> Vec<u8> {
        if self.n > 0 {
            self.out.push(self.acc as u8);
        }
        self.out
    }
}

/// A raw deflate stream of about `bytes` bytes that inflates to about 1032 times as many
/// zeros: one dynamic-Huffman block whose length-258/distance-1 pair costs two bits.
pub fn deflate_bomb(bytes: usize) -> Vec<u8> {
    let mut b = Bits {
        out: Vec::with_capacity(bytes + 16),
        acc: 0,
        n: 0,
    };
    b.put(1, 1); // last block
    b.put(2, 2); // dynamic Huffman
    b.put(29, 5); // 286 literal/length codes
    b.put(0, 5); // 1 distance code
    b.put(14, 4); // 18 code-length codes
                  // Code-length code lengths in deflate's order: 18 -> 1 bit, 2 and 1 -> 2 bits.
    for sym in [16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1] {
        let len = match sym {
            18 => 1,
            1 | 2 => 2,
            _ => 0,
        };
        b.put(len, 3);
    }
    // Canonical codes: 18 = 0, 1 = 10, 2 = 11.
    let zeros = |b: &mut Bits, n: u64| {
        b.code(0, 1);
        b.put(n - 11, 7);
    };
    b.code(0b11, 2); // literal 0: length 2
    zeros(&mut b, 138);
    zeros(&mut b, 117); // literals 1..=255 unused
    b.code(0b11, 2); // end of block: length 2
    zeros(&mut b, 28); // lengths 257..=284 unused
    b.code(0b10, 2); // length 258 (symbol 285): length 1
    b.code(0b10, 2); // distance 1: length 1
                     // Literal/length codes: 285 = 0, 0 = 10, 256 = 11; distance 1 = 0.
    b.code(0b10, 2);
    let pairs = bytes.saturating_sub(b.out.len() + 2) * 4;
    for _ in 0..pairs {
        b.put(0, 2);
    }
    b.code(0b11, 2);
    b.finish()
}

/// A compressed Automerge change chunk (type 2) around `deflated`.
pub fn compressed_chunk(deflated: &[u8]) -> Vec<u8> {
    let mut chunk = vec![0x85, 0x6f, 0x4a, 0x83, 1, 2, 3, 4, 2];
    let mut len = deflated.len() as u64;
    loop {
        let byte = (len & 0x7f) as u8;
        len >>= 7;
        if len == 0 {
            chunk.push(byte);
            break;
        }
        chunk.push(byte | 0x80);
    }
    chunk.extend_from_slice(deflated);
    chunk
}

/// A standard Automerge sync message (v1) carrying `chunk` as its one change.
fn sync_message(chunk: Vec<u8>) -> Vec<u8> {
    automerge::sync::Message {
        heads: Vec::new(),
        need: Vec::new(),
        have: Vec::new(),
        changes: automerge::sync::ChunkList::from(vec![chunk]),
        flags: None,
        version: automerge::sync::MessageVersion::V1,
    }
    .encode()
}

/// The peak resident memory of process `pid`, in bytes (`VmHWM`).
fn peak_rss(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .expect("VmHWM in /proc/PID/status");
    let kib: u64 = line
        .trim_start_matches("VmHWM:")
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .unwrap();
    kib * 1024
}

/// `outpost-server serve` on port 0 over the backend given by `env`.
async fn serve(env: (&str, String)) -> (Child, String) {
    let (child, addr) = spawn_listening(
        Command::new(env!("CARGO_BIN_EXE_outpost-server"))
            .env_remove("OUTPOST_DATA")
            .env_remove("OUTPOST_DATABASE_URL")
            .env_remove("OUTPOST_LISTEN")
            .env("RUST_LOG", "warn")
            .env(env.0, env.1)
            .args(["serve", "--listen", "127.0.0.1:0"]),
    )
    .await;
    (child, format!("http://{addr}"))
}

/// Most the server process may grow while refusing a bomb (it reads up to 8 MiB of body and
/// inflates at most one change's limit).
const GROWTH: u64 = 96 * 1024 * 1024;

async fn bombs_are_refused_with_bounded_memory(storage: Arc<dyn Storage>, env: (&str, String)) {
    let fx = tenant_with_device(&*storage, "acme", "wang").await;
    let (revoked, revoked_token) = device(&*storage, &fx.tenant.id, "li").await;
    storage.revoke_device(&revoked.id).await.unwrap();
    let (mut child, url) = serve(env).await;
    let pid = child.id().unwrap();
    let client = client();

    // Warm up: a real contact, so the Automerge route has a record.
    let actor = new_actor();
    let (w, first) = ContactWriter::create(&actor, "张伟");
    let ok = sync(
        &client,
        &url,
        &fx.token,
        &sync_request(&actor, 0, vec![w.push(first)], None),
    )
    .await;
    ok.sync_response();
    let baseline = peak_rss(pid);

    for size in [255 * 1024, 1_000_000] {
        let bomb = compressed_chunk(&deflate_bomb(size));
        let request = sync_request(
            &actor,
            0,
            vec![PushChange {
                record: w.record.clone(),
                kind: "contact".into(),
                change: bomb.clone(),
            }],
            None,
        );
        let answer = sync(&client, &url, &fx.token, &request).await;
        assert_eq!(answer.status, 400, "{size}: a bomb is refused");
        assert_eq!(answer.error_code(), "bad_request");
        let grown = peak_rss(pid).saturating_sub(baseline);
        eprintln!("{size}-byte bomb on /v1/sync: peak RSS grew by {grown} bytes");
        assert!(
            grown < GROWTH,
            "{size}-byte bomb on /v1/sync: the server grew by {grown} bytes"
        );
        let message: protocol::ErrorBody = serde_json::from_slice(&answer.body).unwrap();
        assert!(
            message.message.contains("inflates past"),
            "{size}: refused by the bound, before Automerge parses it: {}",
            message.message
        );

        // A revoked device's push is kept in the audit trail: bounded too.
        let answer = sync(&client, &url, &revoked_token, &request).await;
        assert_eq!(answer.status, 401);
        assert_eq!(answer.error_code(), "device_revoked");
        let grown = peak_rss(pid).saturating_sub(baseline);
        assert!(
            grown < GROWTH,
            "{size}-byte bomb with a revoked token: the server grew by {grown} bytes"
        );

        let answer = post(
            &client,
            &format!("{url}/v1/records/{}/automerge-sync", w.record),
            Some(&fx.token),
            Some("application/octet-stream"),
            sync_message(bomb.clone()),
        )
        .await;
        assert_eq!(answer.status, 400, "{size}: a bomb in a sync message");
        let message: protocol::ErrorBody = serde_json::from_slice(&answer.body).unwrap();
        assert!(
            message.message.contains("inflates past"),
            "{}",
            message.message
        );
        let grown = peak_rss(pid).saturating_sub(baseline);
        assert!(
            grown < GROWTH,
            "{size}-byte bomb on the Automerge route: the server grew by {grown} bytes"
        );
    }
    // The server still serves.
    let health = client.get(format!("{url}/healthz")).send().await.unwrap();
    assert_eq!(health.status(), 200);
    child.kill().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn compressed_bombs_are_refused_with_bounded_memory_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let storage: Arc<dyn Storage> =
        Arc::new(outpost_server::SqliteStorage::open(dir.path()).unwrap());
    let data = dir.path().display().to_string();
    bombs_are_refused_with_bounded_memory(storage, ("OUTPOST_DATA", data)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn compressed_bombs_are_refused_with_bounded_memory_postgres() {
    let db = PgDb::create().await;
    let storage: Arc<dyn Storage> = Arc::new(
        outpost_server::PostgresStorage::connect(&db.url)
            .await
            .unwrap(),
    );
    bombs_are_refused_with_bounded_memory(storage, ("OUTPOST_DATABASE_URL", db.url.clone())).await;
}

#[test]
fn the_bomb_really_inflates() {
    use std::io::Read;
    let bomb = deflate_bomb(4096);
    let mut out = Vec::new();
    flate2::read::DeflateDecoder::new(bomb.as_slice())
        .read_to_end(&mut out)
        .unwrap();
    assert!(out.len() > 4_000_000, "{}", out.len());
    assert!(out.iter().all(|b| *b == 0));
}
