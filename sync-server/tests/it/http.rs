//! The HTTP API over the real router on a port-0 listener: happy paths, hostile input,
//! health, metrics, panics.

use crate::support::*;
use async_trait::async_trait;
use automerge::sync::{self as amsync, SyncDoc};
use automerge::transaction::Transactable;
use automerge::{ActorId, AutoCommit, ReadDoc, ROOT};
use outpost_core::sync::protocol::{
    self, BootstrapRequest, BootstrapResponse, PushChange, SyncRequest, LATEST_PROTOCOL_VERSION,
    MAX_BODY_BYTES, MAX_CHANGES_PER_REQUEST, PROTOCOL_VERSION,
};
use outpost_server::Viewer;
use outpost_server::{
    AutomergeReply, BootstrapPage, Device, PullPage, PushOutcome, Role, Storage, StorageError,
    StoredDoc, Tenant,
};
use std::sync::Arc;

const CBOR: Option<&str> = Some(protocol::CONTENT_TYPE);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn push_pull_and_bootstrap_over_http() {
    let backend = Backend::sqlite();
    let s = backend.storage.clone();
    let f = tenant_with_device(&*s, "acme", "alice").await;
    let (_, bob_token) = device(&*s, &f.tenant.id, "bob").await;
    let server = TestServer::start(s.clone()).await;

    let alice = new_actor();
    let (mut w, c1) = ContactWriter::create(&alice, "Zhang");
    let c2 = w.set("name", "Zhang Wei");
    let (bad, b1) = ContactWriter::create(&alice, "");
    let req = sync_request(
        &alice,
        0,
        vec![w.push(c1), w.push(c2), bad.push(b1.clone())],
        None,
    );
    let res = sync(&server.client, &server.url, &f.token, &req).await;
    assert_eq!(res.content_type, protocol::CONTENT_TYPE);
    let res = res.sync_response();
    assert_eq!(res.v, PROTOCOL_VERSION);
    assert!(res.entries.is_empty(), "own changes are not echoed");
    assert_eq!((res.cursor, res.more), (2, false));
    assert_eq!(res.rejected.len(), 1);
    assert_eq!(res.rejected[0].hash, hash(&b1));
    assert!(res.server_time_ms > 0);

    let bob = new_actor();
    let res = sync(
        &server.client,
        &server.url,
        &bob_token,
        &sync_request(&bob, 0, vec![], Some(1)),
    )
    .await
    .sync_response();
    assert_eq!((res.entries.len(), res.cursor, res.more), (1, 1, true));
    let res = sync(
        &server.client,
        &server.url,
        &bob_token,
        &sync_request(&bob, 1, vec![], Some(1)),
    )
    .await
    .sync_response();
    assert_eq!((res.entries[0].seq, res.cursor, res.more), (2, 2, false));

    let answer = post(
        &server.client,
        &format!("{}/v1/bootstrap", server.url),
        Some(&bob_token),
        CBOR,
        protocol::encode(&BootstrapRequest {
            v: PROTOCOL_VERSION,
            after: None,
            limit: None,
        }),
    )
    .await;
    assert_eq!(answer.status, 200);
    let page: BootstrapResponse = protocol::decode("bootstrap", &answer.body).unwrap();
    assert_eq!((page.docs.len(), page.next, page.cursor), (1, None, 2));
    assert_eq!(doc_name(&page.docs[0].doc).as_deref(), Some("Zhang Wei"));
    server.stop().await;
}

/// Protocol version 2: the compact request, without the actor when it pushes (the server reads
/// it from the changes), beside a version-1 device on the same server.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn version_2_requests_beside_version_1() {
    let backend = Backend::sqlite();
    let s = backend.storage.clone();
    let f = tenant_with_device(&*s, "acme", "alice").await;
    let (_, bob_token) = device(&*s, &f.tenant.id, "bob").await;
    let server = TestServer::start(s.clone()).await;
    let post_v2 = |token: String, req: SyncRequest| {
        let (client, url) = (server.client.clone(), format!("{}/v1/sync", server.url));
        async move { post(&client, &url, Some(&token), CBOR, req.encode_as(2)).await }
    };

    let alice = new_actor();
    let (mut w, c1) = ContactWriter::create(&alice, "Zhang");
    let c2 = w.set("title", "经理");
    // A push that also carries another actor's change is refused whole, as at version 1.
    let (other, o1) = ContactWriter::create(&new_actor(), "Li");
    let mixed = sync_request(&alice, 0, vec![w.push(c1.clone()), other.push(o1)], None);
    let answer = post_v2(f.token.clone(), mixed).await;
    assert_eq!(answer.status, 403);
    assert!(String::from_utf8_lossy(&answer.body).contains("changes[1]"));

    let req = sync_request(&alice, 0, vec![w.push(c1), w.push(c2)], None);
    let v2 = req.encode_as(2);
    assert!(v2.len() + 100 < protocol::encode(&req).len());
    let answer = post_v2(f.token.clone(), req).await;
    assert_eq!(
        answer.status,
        200,
        "{}",
        String::from_utf8_lossy(&answer.body)
    );
    let res = answer.sync_response();
    assert!(
        res.entries.is_empty(),
        "the actor read from the changes: own ones not echoed"
    );
    assert_eq!((res.cursor, res.rejected.len()), (2, 0));

    // Bob pulls at version 2 (with his actor: no changes) and at version 1: the same entries,
    // under the record id as text.
    let bob = new_actor();
    let v2 = post_v2(bob_token.clone(), sync_request(&bob, 0, vec![], None))
        .await
        .sync_response();
    let v1 = sync(
        &server.client,
        &server.url,
        &bob_token,
        &sync_request(&bob, 0, vec![], None),
    )
    .await
    .sync_response();
    assert_eq!(v2.entries, v1.entries);
    assert_eq!(v2.entries.len(), 2);
    assert_eq!(v2.entries[0].record, w.record);
    assert_eq!(v2.entries[0].kind, "contact");

    // A 15-byte record id is a 400 naming the request.
    let c3 = w.set("title", "x");
    let mut bad = sync_request(&alice, 2, vec![w.push(c3)], None).encode_as(2);
    let at = bad
        .windows(17)
        .position(|b| {
            b[0] == 0x50 && b[1..] == *uuid::Uuid::parse_str(&w.record).unwrap().as_bytes()
        })
        .unwrap();
    bad[at] = 0x4f;
    bad.remove(at + 1);
    let answer = post(
        &server.client,
        &format!("{}/v1/sync", server.url),
        Some(&f.token),
        CBOR,
        bad,
    )
    .await;
    assert_eq!(answer.status, 400);
    assert!(String::from_utf8_lossy(&answer.body).contains("malformed sync request"));
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_requests_get_json_4xx_and_change_nothing() {
    let backend = Backend::sqlite();
    let s = backend.storage.clone();
    let acme = tenant_with_device(&*s, "acme", "alice").await;
    let globex = tenant_with_device(&*s, "globex", "mallory").await;
    let (revoked, revoked_token) = device(&*s, &acme.tenant.id, "gone").await;
    s.revoke_device(&revoked.id).await.unwrap();
    let server = TestServer::start(s.clone()).await;
    let url = format!("{}/v1/sync", server.url);
    let c = &server.client;

    // One record in acme, to attack.
    let alice = new_actor();
    let (w, c1) = ContactWriter::create(&alice, "Secret");
    sync(
        c,
        &server.url,
        &acme.token,
        &sync_request(&alice, 0, vec![w.push(c1.clone())], None),
    )
    .await
    .sync_response();
    let doc_before = s.document(&w.record).await.unwrap().unwrap();

    let mallory = new_actor();
    let (own, fine) = ContactWriter::create(&mallory, "Mine");
    let valid = sync_request(&mallory, 0, vec![own.push(fine.clone())], None);
    let body = protocol::encode(&valid);

    let mut cases: Vec<(&str, Answer, u16, &str)> = Vec::new();
    cases.push((
        "no token",
        post(c, &url, None, CBOR, body.clone()).await,
        401,
        "unauthorized",
    ));
    cases.push((
        "unknown token",
        post(c, &url, Some("0123abcd"), CBOR, body.clone()).await,
        401,
        "unauthorized",
    ));
    cases.push((
        "revoked device",
        post(c, &url, Some(&revoked_token), CBOR, body.clone()).await,
        401,
        "device_revoked",
    ));
    cases.push((
        "wrong content type",
        post(
            c,
            &url,
            Some(&globex.token),
            Some("application/json"),
            body.clone(),
        )
        .await,
        415,
        "unsupported_media_type",
    ));
    cases.push((
        "no content type",
        post(c, &url, Some(&globex.token), None, body.clone()).await,
        415,
        "unsupported_media_type",
    ));
    cases.push((
        "garbage body",
        post(
            c,
            &url,
            Some(&globex.token),
            CBOR,
            b"\xff\x00 not cbor".to_vec(),
        )
        .await,
        400,
        "bad_request",
    ));
    cases.push((
        "truncated body",
        post(
            c,
            &url,
            Some(&globex.token),
            CBOR,
            body[..body.len() - 5].to_vec(),
        )
        .await,
        400,
        "bad_request",
    ));
    let future = SyncRequest {
        v: LATEST_PROTOCOL_VERSION + 1,
        ..valid.clone()
    };
    let answer = post(
        c,
        &url,
        Some(&globex.token),
        CBOR,
        protocol::encode(&future),
    )
    .await;
    let message: protocol::ErrorBody = serde_json::from_slice(&answer.body).unwrap();
    assert!(
        message.message.contains("supported versions: 1 to 2"),
        "{}",
        message.message
    );
    cases.push(("future version", answer, 400, "unsupported_version"));
    cases.push((
        "oversized body",
        post(
            c,
            &url,
            Some(&globex.token),
            CBOR,
            vec![0u8; MAX_BODY_BYTES + 1],
        )
        .await,
        413,
        "payload_too_large",
    ));
    let too_many = sync_request(
        &mallory,
        0,
        vec![own.push(fine.clone()); MAX_CHANGES_PER_REQUEST + 1],
        None,
    );
    cases.push((
        "too many changes",
        post(
            c,
            &url,
            Some(&globex.token),
            CBOR,
            protocol::encode(&too_many),
        )
        .await,
        400,
        "bad_request",
    ));
    let mut forged = fine.clone();
    forged[10] ^= 0x55;
    let malformed = sync_request(
        &mallory,
        0,
        vec![own.push(fine.clone()), own.push(forged)],
        None,
    );
    cases.push((
        "malformed change",
        post(
            c,
            &url,
            Some(&globex.token),
            CBOR,
            protocol::encode(&malformed),
        )
        .await,
        400,
        "bad_request",
    ));
    let (x, foreign) = ContactWriter::create(&new_actor(), "X");
    let impersonation = sync_request(
        &mallory,
        0,
        vec![own.push(fine.clone()), x.push(foreign)],
        None,
    );
    cases.push((
        "change of another actor",
        post(
            c,
            &url,
            Some(&globex.token),
            CBOR,
            protocol::encode(&impersonation),
        )
        .await,
        403,
        "forbidden",
    ));
    let (_, hostile) = ContactWriter::create_record(&mallory, &w.record, "Owned");
    let cross_tenant = sync_request(
        &mallory,
        0,
        vec![
            own.push(fine.clone()),
            PushChange {
                record: w.record.clone(),
                kind: "contact".into(),
                change: hostile,
            },
        ],
        None,
    );
    cases.push((
        "another tenant's record",
        post(
            c,
            &url,
            Some(&globex.token),
            CBOR,
            protocol::encode(&cross_tenant),
        )
        .await,
        403,
        "forbidden",
    ));
    let (_, stolen) = ContactWriter::create(&alice, "Stolen actor");
    let stolen = sync_request(&alice, 0, vec![own.push(stolen)], None);
    cases.push((
        "actor bound to another device",
        post(
            c,
            &url,
            Some(&globex.token),
            CBOR,
            protocol::encode(&stolen),
        )
        .await,
        403,
        "forbidden",
    ));

    // The Automerge sync route.
    let am = |id: &str| format!("{}/v1/records/{id}/automerge-sync", server.url);
    let mut peer = AutoCommit::new();
    let hello = peer
        .sync()
        .generate_sync_message(&mut amsync::State::new())
        .unwrap()
        .encode();
    let octets = Some("application/octet-stream");
    cases.push((
        "automerge: unknown record",
        post(
            c,
            &am(&new_record()),
            Some(&globex.token),
            octets,
            hello.clone(),
        )
        .await,
        404,
        "not_found",
    ));
    cases.push((
        "automerge: another tenant's record",
        post(
            c,
            &am(&w.record),
            Some(&globex.token),
            octets,
            hello.clone(),
        )
        .await,
        403,
        "forbidden",
    ));
    cases.push((
        "automerge: garbage message",
        post(
            c,
            &am(&w.record),
            Some(&acme.token),
            octets,
            b"\x42\x01\x02".to_vec(),
        )
        .await,
        400,
        "bad_request",
    ));
    cases.push((
        "automerge: wrong content type",
        post(c, &am(&w.record), Some(&acme.token), CBOR, hello.clone()).await,
        415,
        "unsupported_media_type",
    ));
    cases.push((
        "automerge: no token",
        post(c, &am(&w.record), None, octets, hello.clone()).await,
        401,
        "unauthorized",
    ));
    cases.push((
        "automerge: bad record id",
        post(c, &am("a%2F..%2Fb"), Some(&acme.token), octets, hello).await,
        400,
        "bad_request",
    ));
    cases.push((
        "unknown route",
        post(
            c,
            &format!("{}/v2/sync", server.url),
            Some(&acme.token),
            CBOR,
            body.clone(),
        )
        .await,
        404,
        "not_found",
    ));

    for (what, answer, status, code) in &cases {
        assert_eq!(
            answer.status,
            *status,
            "{what}: {}",
            String::from_utf8_lossy(&answer.body)
        );
        assert_eq!(answer.error_code(), *code, "{what}");
    }

    // Nothing was stored by any of them.
    assert_eq!(log_head(&*s, &globex.tenant.id).await, 0);
    assert_eq!(log_head(&*s, &acme.tenant.id).await, 1);
    assert!(s.document(&own.record).await.unwrap().is_none());
    assert_eq!(s.document(&w.record).await.unwrap().unwrap(), doc_before);

    // The refusals are counted.
    let metrics = server
        .client
        .get(format!("{}/metrics", server.url))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for line in [
        "outpost_http_requests_total{route=\"/v1/sync\",status=\"401\"} 3",
        "outpost_http_requests_total{route=\"/v1/sync\",status=\"413\"} 1",
        "outpost_http_requests_total{route=\"/v1/sync\",status=\"403\"} 3",
        "outpost_http_requests_total{route=\"/v1/records/{id}/automerge-sync\",status=\"404\"} 1",
        "outpost_http_requests_total{route=\"other\",status=\"404\"} 1",
    ] {
        assert!(metrics.contains(line), "missing {line} in\n{metrics}");
    }

    // The device that was refused is not locked out: its valid push still works.
    let ok = sync(c, &server.url, &globex.token, &valid)
        .await
        .sync_response();
    assert_eq!((ok.rejected.len(), ok.cursor), (0, 1));
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn healthz_and_metrics() {
    let backend = Backend::sqlite();
    let s = backend.storage.clone();
    let f = tenant_with_device(&*s, "acme", "alice").await;
    let server = TestServer::start(s.clone()).await;
    let health = server
        .client
        .get(format!("{}/healthz", server.url))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status().as_u16(), 200);
    let body: serde_json::Value = serde_json::from_slice(&health.bytes().await.unwrap()).unwrap();
    assert_eq!(body, serde_json::json!({"status": "ok"}));

    let actor = new_actor();
    let (w, c1) = ContactWriter::create(&actor, "A");
    sync(
        &server.client,
        &server.url,
        &f.token,
        &sync_request(&actor, 0, vec![w.push(c1)], None),
    )
    .await
    .sync_response();
    let metrics = server
        .client
        .get(format!("{}/metrics", server.url))
        .send()
        .await
        .unwrap();
    assert!(metrics
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .starts_with("text/plain"));
    let text = metrics.text().await.unwrap();
    for name in [
        "outpost_http_requests_total{route=\"/v1/sync\",status=\"200\"} 1",
        "outpost_http_requests_total{route=\"/healthz\",status=\"200\"} 1",
        "outpost_changes_applied_total 1",
        "outpost_bytes_in_total ",
        "outpost_bytes_out_total ",
        "outpost_active_devices 1",
        "# TYPE outpost_sync_duration_seconds histogram",
        "outpost_sync_duration_seconds_bucket{le=\"+Inf\"} 1",
        "outpost_sync_duration_seconds_sum ",
        "outpost_sync_duration_seconds_count 1",
    ] {
        assert!(text.contains(name), "missing {name} in\n{text}");
    }
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn automerge_sync_over_http() {
    let backend = Backend::sqlite();
    let s = backend.storage.clone();
    let f = tenant_with_device(&*s, "acme", "alice").await;
    let (_, web_token) = device(&*s, &f.tenant.id, "web").await;
    let server = TestServer::start(s.clone()).await;
    let actor = new_actor();
    let (w, c1) = ContactWriter::create(&actor, "Zhang");
    sync(
        &server.client,
        &server.url,
        &f.token,
        &sync_request(&actor, 0, vec![w.push(c1)], None),
    )
    .await
    .sync_response();

    let url = format!("{}/v1/records/{}/automerge-sync", server.url, w.record);
    let mut peer = AutoCommit::new().with_actor(ActorId::from(new_actor()));
    for round in 0..2 {
        let mut state = amsync::State::new();
        let mut exchanges = 0;
        loop {
            let next = peer.sync().generate_sync_message(&mut state);
            let Some(message) = next else { break };
            exchanges += 1;
            assert!(exchanges < 10, "sync does not settle");
            let answer = post(
                &server.client,
                &url,
                Some(&web_token),
                Some("application/octet-stream"),
                message.encode(),
            )
            .await;
            match answer.status {
                204 => break,
                200 => {
                    assert_eq!(answer.content_type, "application/octet-stream");
                    let reply = amsync::Message::decode(&answer.body).unwrap();
                    peer.sync().receive_sync_message(&mut state, reply).unwrap();
                }
                other => panic!(
                    "automerge sync: {other} {:?}",
                    String::from_utf8_lossy(&answer.body)
                ),
            }
        }
        if round == 0 {
            assert_eq!(
                peer.get(ROOT, "name")
                    .unwrap()
                    .unwrap()
                    .0
                    .into_string()
                    .ok(),
                Some("Zhang".into())
            );
            peer.put(ROOT, "company", "Huaqiang").unwrap();
            peer.commit();
        }
    }
    // The device side sees the edit through the normal sync.
    let res = sync(
        &server.client,
        &server.url,
        &f.token,
        &sync_request(&actor, 0, vec![], None),
    )
    .await
    .sync_response();
    assert_eq!(res.entries.len(), 1);
    assert_eq!(res.entries[0].record, w.record);
    let mut doc = AutoCommit::load(&s.document(&w.record).await.unwrap().unwrap().doc).unwrap();
    doc.load_incremental(&res.entries[0].change).unwrap();
    assert_eq!(
        doc.get(ROOT, "company")
            .unwrap()
            .unwrap()
            .0
            .into_string()
            .ok(),
        Some("Huaqiang".into())
    );
    server.stop().await;
}

/// A storage whose bootstrap panics, as a bug in a backend would.
struct PanickyStorage(Arc<dyn Storage>);

#[async_trait]
impl Storage for PanickyStorage {
    fn backend(&self) -> &'static str {
        "panicky"
    }
    async fn ping(&self) -> Result<(), StorageError> {
        self.0.ping().await
    }
    async fn log_id(&self) -> Result<String, StorageError> {
        self.0.log_id().await
    }
    async fn renew_log_id(&self) -> Result<String, StorageError> {
        self.0.renew_log_id().await
    }
    async fn create_tenant(&self, name: &str) -> Result<Tenant, StorageError> {
        self.0.create_tenant(name).await
    }
    async fn tenant(&self, id_or_name: &str) -> Result<Option<Tenant>, StorageError> {
        self.0.tenant(id_or_name).await
    }
    async fn enroll_device(
        &self,
        tenant_id: &str,
        user_id: &str,
        role: Role,
        token_hash: &str,
    ) -> Result<Device, StorageError> {
        self.0
            .enroll_device(tenant_id, user_id, role, token_hash)
            .await
    }
    async fn revoke_device(&self, device_id: &str) -> Result<Device, StorageError> {
        self.0.revoke_device(device_id).await
    }
    async fn list_devices(&self, tenant_id: &str) -> Result<Vec<Device>, StorageError> {
        self.0.list_devices(tenant_id).await
    }
    async fn device_by_token_hash(&self, hash: &str) -> Result<Option<Device>, StorageError> {
        self.0.device_by_token_hash(hash).await
    }
    async fn touch_device(&self, device_id: &str, now_ms: i64) -> Result<(), StorageError> {
        self.0.touch_device(device_id, now_ms).await
    }
    async fn active_devices(&self, since_ms: i64) -> Result<u64, StorageError> {
        self.0.active_devices(since_ms).await
    }
    async fn push(
        &self,
        device: &Device,
        viewer: &Viewer,
        actor: &[u8],
        changes: &[PushChange],
    ) -> Result<PushOutcome, StorageError> {
        self.0.push(device, viewer, actor, changes).await
    }
    async fn pull(
        &self,
        tenant_id: &str,
        viewer: &Viewer,
        actor: &[u8],
        cursor: u64,
        limit: u32,
    ) -> Result<PullPage, StorageError> {
        self.0.pull(tenant_id, viewer, actor, cursor, limit).await
    }
    async fn bootstrap(
        &self,
        _tenant_id: &str,
        _viewer: &Viewer,
        _after: Option<&str>,
        _limit: u32,
    ) -> Result<BootstrapPage, StorageError> {
        panic!("index out of bounds in a buggy backend")
    }
    async fn document(&self, record_id: &str) -> Result<Option<StoredDoc>, StorageError> {
        self.0.document(record_id).await
    }
    async fn put_experience(
        &self,
        device: &Device,
        batch: &outpost_core::sync::protocol::ExperienceBatch,
        now_ms: i64,
    ) -> Result<outpost_server::reports::ExperienceStored, StorageError> {
        self.0.put_experience(device, batch, now_ms).await
    }
    async fn experience(
        &self,
        tenant_id: &str,
    ) -> Result<outpost_server::reports::ExperienceData, StorageError> {
        self.0.experience(tenant_id).await
    }
    async fn automerge_sync(
        &self,
        device: &Device,
        viewer: &Viewer,
        record_id: &str,
        message: &[u8],
    ) -> Result<AutomergeReply, StorageError> {
        self.0
            .automerge_sync(device, viewer, record_id, message)
            .await
    }
}

#[async_trait]
impl outpost_server::AccessStore for PanickyStorage {
    async fn access_config(
        &self,
        tenant_id: &str,
    ) -> Result<outpost_server::AccessConfig, StorageError> {
        self.0.access_config(tenant_id).await
    }
    async fn shares_of(&self, tenant_id: &str, user: &str) -> Result<Vec<String>, StorageError> {
        self.0.shares_of(tenant_id, user).await
    }
    async fn shared_with(
        &self,
        tenant_id: &str,
        record: &str,
    ) -> Result<Vec<String>, StorageError> {
        self.0.shared_with(tenant_id, record).await
    }
    async fn set_sharing(
        &self,
        tenant_id: &str,
        sharing: outpost_server::Sharing,
    ) -> Result<(), StorageError> {
        self.0.set_sharing(tenant_id, sharing).await
    }
    async fn set_lease(
        &self,
        tenant_id: &str,
        lease: Option<(i64, i64)>,
    ) -> Result<(), StorageError> {
        self.0.set_lease(tenant_id, lease).await
    }
    async fn set_role(
        &self,
        tenant_id: &str,
        role: &str,
        permissions: Option<&[String]>,
    ) -> Result<(), StorageError> {
        self.0.set_role(tenant_id, role, permissions).await
    }
    async fn create_team(
        &self,
        tenant_id: &str,
        name: &str,
        manager: Option<&str>,
    ) -> Result<(), StorageError> {
        self.0.create_team(tenant_id, name, manager).await
    }
    async fn delete_team(&self, tenant_id: &str, name: &str) -> Result<(), StorageError> {
        self.0.delete_team(tenant_id, name).await
    }
    async fn set_team_manager(
        &self,
        tenant_id: &str,
        name: &str,
        manager: Option<&str>,
    ) -> Result<(), StorageError> {
        self.0.set_team_manager(tenant_id, name, manager).await
    }
    async fn set_team_member(
        &self,
        tenant_id: &str,
        user: &str,
        team: Option<&str>,
    ) -> Result<(), StorageError> {
        self.0.set_team_member(tenant_id, user, team).await
    }
    async fn set_share(
        &self,
        tenant_id: &str,
        record: &str,
        user: &str,
        shared: bool,
    ) -> Result<(), StorageError> {
        self.0.set_share(tenant_id, record, user, shared).await
    }
    async fn set_user_disabled(
        &self,
        tenant_id: &str,
        user: &str,
        disabled: bool,
    ) -> Result<(), StorageError> {
        self.0.set_user_disabled(tenant_id, user, disabled).await
    }
    async fn user_disabled(&self, tenant_id: &str, user: &str) -> Result<bool, StorageError> {
        self.0.user_disabled(tenant_id, user).await
    }
    async fn blob_records(
        &self,
        tenant_id: &str,
        sha256: &str,
    ) -> Result<Vec<(String, String, outpost_server::storage::DocMeta)>, StorageError> {
        self.0.blob_records(tenant_id, sha256).await
    }
    async fn scope_rows(
        &self,
        tenant_id: &str,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Vec<(String, String, outpost_server::storage::DocMeta)>, StorageError> {
        self.0.scope_rows(tenant_id, after, limit).await
    }
    async fn scope_docs(
        &self,
        tenant_id: &str,
        ids: &[String],
    ) -> Result<
        Vec<(
            outpost_core::sync::protocol::DocSnapshot,
            outpost_server::storage::DocMeta,
        )>,
        StorageError,
    > {
        self.0.scope_docs(tenant_id, ids).await
    }
}

#[async_trait]
impl outpost_server::storage::blobs::BlobStore for PanickyStorage {
    async fn blob_status(
        &self,
        tenant_id: &str,
        device_id: &str,
        sha256: &str,
        expired_before_ms: i64,
    ) -> Result<Option<outpost_server::BlobStatus>, StorageError> {
        self.0
            .blob_status(tenant_id, device_id, sha256, expired_before_ms)
            .await
    }
    async fn blob_append(
        &self,
        device: &Device,
        append: outpost_server::storage::blobs::Append<'_>,
    ) -> Result<outpost_server::BlobStatus, StorageError> {
        self.0.blob_append(device, append).await
    }
    async fn blob_read(
        &self,
        tenant_id: &str,
        sha256: &str,
    ) -> Result<Option<Vec<u8>>, StorageError> {
        self.0.blob_read(tenant_id, sha256).await
    }
    async fn blob_held(
        &self,
        tenant_id: &str,
        sha256: &str,
        user_id: &str,
    ) -> Result<bool, StorageError> {
        self.0.blob_held(tenant_id, sha256, user_id).await
    }
    async fn blob_attachments(
        &self,
        tenant_id: &str,
        sha256: &str,
    ) -> Result<Vec<(String, String, outpost_server::storage::DocMeta)>, StorageError> {
        self.0.blob_attachments(tenant_id, sha256).await
    }
    async fn blob_expire(&self, before_ms: i64) -> Result<u64, StorageError> {
        self.0.blob_expire(before_ms).await
    }
}

#[async_trait]
impl outpost_server::AuditLog for PanickyStorage {
    async fn audit_append(
        &self,
        event: outpost_server::AuditEvent,
    ) -> Result<outpost_server::AuditRow, StorageError> {
        self.0.audit_append(event).await
    }
    async fn audit_page(
        &self,
        tenant_id: &str,
        after: u64,
        limit: u32,
    ) -> Result<Vec<outpost_server::AuditRow>, StorageError> {
        self.0.audit_page(tenant_id, after, limit).await
    }
    async fn audit_heads(&self) -> Result<Vec<outpost_server::AuditHead>, StorageError> {
        self.0.audit_heads().await
    }
    async fn audit_tenants(&self) -> Result<Vec<String>, StorageError> {
        self.0.audit_tenants().await
    }
}

#[async_trait]
impl outpost_server::storage::enrol::EnrolStore for PanickyStorage {
    async fn create_invite(
        &self,
        invite: &outpost_server::storage::enrol::Invite,
    ) -> Result<(), StorageError> {
        self.0.create_invite(invite).await
    }
    async fn invite(
        &self,
        code_hash: &str,
    ) -> Result<Option<(outpost_server::storage::enrol::Invite, Option<i64>)>, StorageError> {
        self.0.invite(code_hash).await
    }
    async fn redeem_invite(
        &self,
        code_hash: &str,
        token_hash: &str,
        now_ms: i64,
    ) -> Result<Result<Device, outpost_server::storage::enrol::Refusal>, StorageError> {
        self.0.redeem_invite(code_hash, token_hash, now_ms).await
    }
    async fn rotate_token(
        &self,
        device_id: &str,
        token_hash: &str,
    ) -> Result<Device, StorageError> {
        self.0.rotate_token(device_id, token_hash).await
    }
    async fn list_tenants(&self) -> Result<Vec<Tenant>, StorageError> {
        self.0.list_tenants().await
    }
    async fn put_device_report(
        &self,
        device_id: &str,
        report: &outpost_server::storage::enrol::DeviceReport,
    ) -> Result<(), StorageError> {
        self.0.put_device_report(device_id, report).await
    }
    async fn device_reports(
        &self,
        tenant_id: &str,
    ) -> Result<Vec<(String, outpost_server::storage::enrol::DeviceReport)>, StorageError> {
        self.0.device_reports(tenant_id).await
    }
}

#[async_trait]
impl outpost_server::routing::RoutingStore for PanickyStorage {
    async fn routing_rules_json(&self, tenant_id: &str) -> Result<Option<String>, StorageError> {
        self.0.routing_rules_json(tenant_id).await
    }
    async fn set_routing_rules_json(
        &self,
        tenant_id: &str,
        rules: &str,
        now_ms: i64,
    ) -> Result<(), StorageError> {
        self.0
            .set_routing_rules_json(tenant_id, rules, now_ms)
            .await
    }
    async fn routing_next_turn(&self, tenant_id: &str, rule: u32) -> Result<u64, StorageError> {
        self.0.routing_next_turn(tenant_id, rule).await
    }
    async fn routing_turns(&self, tenant_id: &str) -> Result<Vec<(u32, u64)>, StorageError> {
        self.0.routing_turns(tenant_id).await
    }
    async fn routing_claim(
        &self,
        claim: &outpost_server::routing::RoutingClaim,
    ) -> Result<bool, StorageError> {
        self.0.routing_claim(claim).await
    }
    async fn routing_claims(
        &self,
        tenant_id: &str,
        limit: u32,
    ) -> Result<Vec<outpost_server::routing::RoutingClaim>, StorageError> {
        self.0.routing_claims(tenant_id, limit).await
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panicking_request_gets_500_and_the_server_keeps_serving() {
    let backend = Backend::sqlite();
    let s: Arc<dyn Storage> = Arc::new(PanickyStorage(backend.storage.clone()));
    let f = tenant_with_device(&*s, "acme", "alice").await;
    let server = TestServer::start(s.clone()).await;
    let bootstrap = protocol::encode(&BootstrapRequest {
        v: PROTOCOL_VERSION,
        after: None,
        limit: None,
    });
    for _ in 0..3 {
        let answer = post(
            &server.client,
            &format!("{}/v1/bootstrap", server.url),
            Some(&f.token),
            CBOR,
            bootstrap.clone(),
        )
        .await;
        assert_eq!(answer.status, 500);
        assert_eq!(answer.error_code(), "internal");
        let body: protocol::ErrorBody = serde_json::from_slice(&answer.body).unwrap();
        assert!(
            !body.message.contains("index out of bounds"),
            "no internals leak"
        );
    }
    let actor = new_actor();
    let (w, c1) = ContactWriter::create(&actor, "Still here");
    let res = sync(
        &server.client,
        &server.url,
        &f.token,
        &sync_request(&actor, 0, vec![w.push(c1)], None),
    )
    .await
    .sync_response();
    assert_eq!(res.cursor, 1);
    let health = server
        .client
        .get(format!("{}/healthz", server.url))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status().as_u16(), 200);
    server.stop().await;
}
