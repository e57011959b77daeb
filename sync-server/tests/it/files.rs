//! Files on both backends: an upload belongs to its device until it is complete (a false
//! `Upload-Length` from another device never makes the honest uploader loop), and a file
//! follows the records: it is served, status included, only to a user who uploaded it or may
//! read an attachment naming it that was written by a user who could read the file.

use crate::support::*;
use automerge::transaction::Transactable;
use automerge::{ActorId, AutoCommit, ROOT};
use outpost_core::sync::protocol::PushChange;
use outpost_server::{Role, Storage};
use sha2::{Digest, Sha256};
use std::sync::Arc;

/// Generates `sqlite::NAME` and `postgres::NAME` tests.
macro_rules! both {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let backend = crate::support::Backend::sqlite();
                    super::$name(backend.storage.clone()).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let backend = crate::support::Backend::postgres().await;
                    super::$name(backend.storage.clone()).await;
                }
            )*
        }
    };
}

both!(
    a_false_upload_length_never_makes_the_honest_uploader_loop,
    files_follow_the_records_that_name_them,
);

fn file(seed: u32, len: usize) -> (Vec<u8>, String) {
    let mut x = seed | 1;
    let bytes: Vec<u8> = (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            x as u8
        })
        .collect();
    let sha = hex::encode(Sha256::digest(&bytes));
    (bytes, sha)
}

async fn put(
    server: &TestServer,
    token: &str,
    sha: &str,
    size: u64,
    offset: u64,
    chunk: &[u8],
) -> (u16, serde_json::Value) {
    let res = server
        .client
        .put(format!("{}/v1/blobs/{sha}", server.url))
        .bearer_auth(token)
        .header("content-type", "application/octet-stream")
        .header("upload-length", size.to_string())
        .header("upload-offset", offset.to_string())
        .body(chunk.to_vec())
        .send()
        .await
        .unwrap();
    let status = res.status().as_u16();
    let body = res.bytes().await.unwrap();
    (
        status,
        serde_json::from_slice(&body).unwrap_or(serde_json::Value::Null),
    )
}

async fn get(server: &TestServer, token: &str, path: &str) -> (u16, Vec<u8>) {
    let res = server
        .client
        .get(format!("{}{path}", server.url))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    (res.status().as_u16(), res.bytes().await.unwrap().to_vec())
}

/// What a device does (as `outpost_core`'s client): ask where to resume, send chunks of
/// `chunk` bytes, re-read the status after a 409. Returns the requests it took to finish, or
/// `None` when it had not finished after `budget` requests.
async fn honest_upload(
    server: &TestServer,
    token: &str,
    bytes: &[u8],
    sha: &str,
    chunk: usize,
    budget: usize,
) -> Option<usize> {
    let size = bytes.len() as u64;
    let status = |s: &serde_json::Value| {
        (
            s["received"].as_u64().unwrap_or(0),
            s["complete"].as_bool().unwrap_or(false),
        )
    };
    let mut requests = 1;
    let (code, body) = get(server, token, &format!("/v1/blobs/{sha}/status")).await;
    let mut offset = if code == 200 {
        let s: serde_json::Value = serde_json::from_slice(&body).unwrap();
        match status(&s) {
            (_, true) => size,
            (r, false) => r,
        }
    } else {
        0
    };
    while offset < size {
        if requests >= budget {
            return None;
        }
        let end = (offset as usize + chunk).min(bytes.len());
        requests += 1;
        let (code, body) = put(
            server,
            token,
            sha,
            size,
            offset,
            &bytes[offset as usize..end],
        )
        .await;
        let s = if code == 409 {
            requests += 1;
            let (code, body) = get(server, token, &format!("/v1/blobs/{sha}/status")).await;
            if code == 200 {
                serde_json::from_slice(&body).unwrap()
            } else {
                serde_json::json!({ "received": 0, "complete": false })
            }
        } else {
            assert_eq!(code, 200, "{body}");
            body
        };
        offset = match status(&s) {
            (_, true) => size,
            (r, false) => r,
        };
    }
    Some(requests)
}

async fn a_false_upload_length_never_makes_the_honest_uploader_loop(s: Arc<dyn Storage>) {
    let fx = tenant_with_device(&*s, "acme", "wang").await;
    let (_, mallory) = device(&*s, &fx.tenant.id, "mallory").await;
    let server = TestServer::start(s.clone()).await;
    let (bytes, sha) = file(7, 100_000);
    // Mallory starts the same file first, lying about its size.
    let (code, _) = put(
        &server,
        &mallory,
        &sha,
        bytes.len() as u64 + 7,
        0,
        &bytes[..10],
    )
    .await;
    assert_eq!(code, 200);
    let took = honest_upload(&server, &fx.token, &bytes, &sha, 40_000, 30).await;
    assert!(
        took.is_some(),
        "{}: the honest upload did not finish in 30 requests",
        s.backend()
    );
    assert_eq!(
        get(&server, &fx.token, &format!("/v1/blobs/{sha}")).await,
        (200, bytes.clone())
    );
    // Mallory never proved it has the file: nothing to read, not even its existence.
    assert_eq!(
        get(&server, &mallory, &format!("/v1/blobs/{sha}")).await.0,
        404
    );
    // Its own lie stays its own: it may finish it only with the true bytes.
    let (code, _) = put(
        &server,
        &mallory,
        &sha,
        bytes.len() as u64 + 7,
        10,
        &bytes[10..],
    )
    .await;
    assert_eq!(code, 200);
    let (code, _) = put(
        &server,
        &mallory,
        &sha,
        bytes.len() as u64 + 7,
        100_000,
        &[0; 7],
    )
    .await;
    assert_eq!(code, 422, "bytes that do not hash to the name are refused");
    assert_eq!(
        get(&server, &mallory, &format!("/v1/blobs/{sha}")).await.0,
        404
    );
    server.stop().await;
}

/// An attachment document for `contact`, naming `sha`, written by `actor`.
fn attachment(actor: &[u8], record: &str, contact: &str, sha: &str, size: usize) -> PushChange {
    let mut doc = AutoCommit::new().with_actor(ActorId::from(actor));
    doc.put(ROOT, "kind", "attachment").unwrap();
    doc.put(ROOT, "id", record).unwrap();
    doc.put(ROOT, "contact_id", contact).unwrap();
    doc.put(ROOT, "category", "contract").unwrap();
    doc.put(ROOT, "blob", sha).unwrap();
    doc.put(ROOT, "mime", "image/png").unwrap();
    doc.put(ROOT, "size", size as i64).unwrap();
    doc.commit();
    PushChange {
        record: record.to_string(),
        kind: "attachment".into(),
        change: doc.get_last_local_change().unwrap().raw_bytes().to_vec(),
    }
}

/// Pushes a new contact and an attachment on it naming `sha`; returns the contact's id.
async fn contact_with_file(
    server: &TestServer,
    token: &str,
    name: &str,
    sha: &str,
    size: usize,
) -> String {
    let actor = new_actor();
    let (c, first) = ContactWriter::create(&actor, name);
    let request = sync_request(
        &actor,
        0,
        vec![
            c.push(first),
            attachment(&actor, &new_record(), &c.record, sha, size),
        ],
        None,
    );
    let answer = sync(&server.client, &server.url, token, &request).await;
    let response = answer.sync_response();
    assert!(response.rejected.is_empty(), "{:?}", response.rejected);
    c.record
}

async fn files_follow_the_records_that_name_them(s: Arc<dyn Storage>) {
    // A private tenant: reps see their own contacts; the manager sees the team's.
    let tenant = s.create_tenant("acme").await.unwrap();
    let enroll = |user: &'static str, role: Role| {
        let s = s.clone();
        let tenant = tenant.id.clone();
        async move {
            outpost_server::enroll_device(&*s, &tenant, user, role)
                .await
                .unwrap()
                .token
        }
    };
    let alice = enroll("alice", Role::Rep).await;
    let bob = enroll("bob", Role::Rep).await;
    let boss = enroll("boss", Role::Manager).await;
    s.create_team(&tenant.id, "east", Some("boss"))
        .await
        .unwrap();
    s.set_team_member(&tenant.id, "alice", Some("east"))
        .await
        .unwrap();
    let server = TestServer::start(s.clone()).await;

    // Alice uploads her contract and attaches it to her customer.
    let (bytes, sha) = file(11, 50_000);
    assert!(honest_upload(&server, &alice, &bytes, &sha, 64_000, 5)
        .await
        .is_some());
    contact_with_file(&server, &alice, "张伟", &sha, bytes.len()).await;
    let blob = format!("/v1/blobs/{sha}");
    let status = format!("/v1/blobs/{sha}/status");
    assert_eq!(get(&server, &alice, &blob).await, (200, bytes.clone()));
    assert_eq!(
        get(&server, &boss, &blob).await.0,
        200,
        "her manager reads her files"
    );

    // Bob learned the hash and names it in an attachment of his own customer.
    contact_with_file(&server, &bob, "李娜", &sha, bytes.len()).await;
    assert_eq!(
        get(&server, &bob, &blob).await.0,
        404,
        "{}: naming a hash in one's own attachment does not give the file",
        s.backend()
    );
    assert_eq!(
        get(&server, &bob, &status).await.0,
        404,
        "{}: the status answers like GET",
        s.backend()
    );
    assert_eq!(get(&server, &alice, &status).await.0, 200);

    // The manager, who may read the file, attaches it to another customer of the team: the
    // file follows that attachment too.
    contact_with_file(&server, &boss, "王芳", &sha, bytes.len()).await;
    assert_eq!(get(&server, &boss, &blob).await.0, 200);

    // A file nobody attached is readable by its uploader only.
    let (other, other_sha) = file(13, 3_000);
    assert!(honest_upload(&server, &bob, &other, &other_sha, 64_000, 5)
        .await
        .is_some());
    assert_eq!(
        get(&server, &bob, &format!("/v1/blobs/{other_sha}"))
            .await
            .0,
        200
    );
    assert_eq!(
        get(&server, &alice, &format!("/v1/blobs/{other_sha}"))
            .await
            .0,
        404
    );
    assert_eq!(
        get(&server, &alice, &format!("/v1/blobs/{other_sha}/status"))
            .await
            .0,
        404,
        "{}: nobody learns that a file exists",
        s.backend()
    );
    server.stop().await;
}
