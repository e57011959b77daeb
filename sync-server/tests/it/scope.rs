//! Scoped sync over HTTP on both storages: a rep pulls only their records, a manager their
//! team's, a director everything; restricted fields travel only to roles that may read them
//! (checked on the raw response bytes); refused writes leave the rest of a push applied;
//! reassigning, sharing and moving a rep change what `/v1/scope` and `/v1/records` answer.

use crate::support::*;
use automerge::transaction::Transactable;
use automerge::{ActorId, AutoCommit, ROOT};
use outpost_core::sync::protocol::{
    self, PushChange, RecordsRequest, RecordsResponse, ScopeRequest, ScopeResponse, SyncResponse,
    PROTOCOL_VERSION,
};
use outpost_server::{enroll_device, Role, Storage};
use std::collections::BTreeSet;
use std::sync::Arc;

/// The amount the manager writes: its f64 bytes must never reach a rep.
const AMOUNT: f64 = 886_655.25;

struct User {
    token: String,
    actor: Vec<u8>,
}

async fn user(storage: &dyn Storage, tenant: &str, name: &str, role: Role) -> User {
    let enrolled = enroll_device(storage, tenant, name, role).await.unwrap();
    User {
        token: enrolled.token,
        actor: new_actor(),
    }
}

/// One change of a fresh document of record `id` with these string (and number) fields.
fn doc_change(
    actor: &[u8],
    id: &str,
    fields: &[(&str, &str)],
    number: Option<(&str, f64)>,
) -> Vec<u8> {
    let mut doc = AutoCommit::new().with_actor(ActorId::from(actor));
    doc.put(ROOT, "id", id).unwrap();
    for (k, v) in fields {
        doc.put(ROOT, *k, *v).unwrap();
    }
    if let Some((k, v)) = number {
        doc.put(ROOT, k, v).unwrap();
    }
    doc.commit();
    doc.get_last_local_change().unwrap().raw_bytes().to_vec()
}

fn change(record: &str, kind: &str, change: Vec<u8>) -> PushChange {
    PushChange {
        record: record.into(),
        kind: kind.into(),
        change,
    }
}

async fn push(server: &TestServer, u: &User, changes: Vec<PushChange>) -> SyncResponse {
    sync(
        &server.client,
        &server.url,
        &u.token,
        &sync_request(&u.actor, 0, changes, None),
    )
    .await
    .sync_response()
}

/// Everything `u` pulls from the start: the record ids and the raw body.
async fn pull_all(server: &TestServer, u: &User) -> (BTreeSet<String>, Vec<u8>, SyncResponse) {
    let answer = sync(
        &server.client,
        &server.url,
        &u.token,
        &sync_request(&new_actor(), 0, vec![], None),
    )
    .await;
    let res = answer.sync_response();
    let ids = res.entries.iter().map(|e| e.record.clone()).collect();
    (ids, answer.body, res)
}

async fn scope_of(server: &TestServer, u: &User) -> (u64, BTreeSet<String>) {
    let answer = post(
        &server.client,
        &format!("{}/v1/scope", server.url),
        Some(&u.token),
        Some(protocol::CONTENT_TYPE),
        protocol::encode(&ScopeRequest {
            v: PROTOCOL_VERSION,
            after: None,
            limit: None,
        }),
    )
    .await;
    assert_eq!(
        answer.status,
        200,
        "{}",
        String::from_utf8_lossy(&answer.body)
    );
    let res: ScopeResponse = protocol::decode("scope", &answer.body).unwrap();
    (res.epoch, res.records.into_iter().collect())
}

async fn records_of(server: &TestServer, u: &User, ids: &[&str]) -> BTreeSet<String> {
    let answer = post(
        &server.client,
        &format!("{}/v1/records", server.url),
        Some(&u.token),
        Some(protocol::CONTENT_TYPE),
        protocol::encode(&RecordsRequest {
            v: PROTOCOL_VERSION,
            ids: ids.iter().map(|s| s.to_string()).collect(),
        }),
    )
    .await;
    assert_eq!(
        answer.status,
        200,
        "{}",
        String::from_utf8_lossy(&answer.body)
    );
    let res: RecordsResponse = protocol::decode("records", &answer.body).unwrap();
    res.docs.into_iter().map(|d| d.record).collect()
}

fn set(ids: &[&str]) -> BTreeSet<String> {
    ids.iter().map(|s| s.to_string()).collect()
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

async fn scoped_sync(storage: Arc<dyn Storage>) {
    let s = &*storage;
    let t = s.create_tenant("华东销售部").await.unwrap().id;
    s.create_team(&t, "east", Some("boss")).await.unwrap();
    s.set_team_member(&t, "alice", Some("east")).await.unwrap();
    s.set_team_member(&t, "bob", Some("east")).await.unwrap();
    let alice = user(s, &t, "alice", Role::Rep).await;
    let bob = user(s, &t, "bob", Role::Rep).await;
    let carol = user(s, &t, "carol", Role::Rep).await;
    let boss = user(s, &t, "boss", Role::Manager).await;
    let dora = user(s, &t, "dora", Role::Director).await;
    let server = TestServer::start(storage.clone()).await;

    let (a, b, c, d) = (new_record(), new_record(), new_record(), new_record());
    let contact = |u: &User, id: &str, name: &str| {
        doc_change(&u.actor, id, &[("kind", "contact"), ("name", name)], None)
    };
    push(
        &server,
        &alice,
        vec![change(&a, "contact", contact(&alice, &a, "张伟"))],
    )
    .await;
    push(
        &server,
        &bob,
        vec![change(&b, "contact", contact(&bob, &b, "李娜"))],
    )
    .await;
    push(
        &server,
        &carol,
        vec![change(&c, "contact", contact(&carol, &c, "王芳"))],
    )
    .await;
    // The manager writes a deal on alice's contact, its amount in a document of its own.
    let amount_id = outpost_core::access::restricted_id(&d, "amount");
    let deal = doc_change(
        &boss.actor,
        &d,
        &[
            ("kind", "deal"),
            ("title", "年度框架协议"),
            ("contact_id", &a),
            ("stage", "lead"),
        ],
        None,
    );
    let amount = doc_change(
        &boss.actor,
        &amount_id,
        &[("kind", "restricted"), ("of", &d), ("field", "amount")],
        Some(("value", AMOUNT)),
    );
    let res = push(
        &server,
        &boss,
        vec![
            change(&d, "deal", deal),
            change(&amount_id, "restricted", amount),
        ],
    )
    .await;
    assert!(res.rejected.is_empty(), "{:?}", res.rejected);
    assert_eq!(res.scope.as_ref().map(|s| s.role.as_str()), Some("manager"));

    // Who pulls what.
    let needle = AMOUNT.to_le_bytes();
    let (ids, body, res) = pull_all(&server, &alice).await;
    assert_eq!(
        ids,
        set(&[&a, &d]),
        "a rep pulls their contact and its deal only"
    );
    assert!(
        !contains(&body, &needle),
        "the amount's bytes reached a rep"
    );
    assert!(!contains(&body, amount_id.as_bytes()));
    let info = res.scope.unwrap();
    assert_eq!((info.user.as_str(), info.role.as_str()), ("alice", "rep"));
    assert!(!info.permissions.contains(&"field:amount:read".to_string()));
    let (ids, body, _) = pull_all(&server, &boss).await;
    assert_eq!(
        ids,
        set(&[&a, &b, &d, &amount_id]),
        "the manager pulls the team's"
    );
    assert!(
        contains(&body, &needle),
        "the positive control: a manager gets the amount"
    );
    let (ids, _, res) = pull_all(&server, &carol).await;
    assert_eq!(ids, set(&[&c]));
    assert_eq!(res.scope.and_then(|s| s.lease_ms), None, "no lease set yet");
    // The tenant's lease travels with every answer.
    const DAY: i64 = 24 * 3600 * 1000;
    s.set_lease(&t, Some((3 * DAY, DAY))).await.unwrap();
    let scope = pull_all(&server, &carol).await.2.scope.unwrap();
    assert_eq!((scope.lease_ms, scope.grace_ms), (Some(3 * DAY), Some(DAY)));
    let (ids, _, _) = pull_all(&server, &dora).await;
    assert_eq!(ids, set(&[&a, &b, &c, &d, &amount_id]));
    let (_, alice_scope) = scope_of(&server, &alice).await;
    assert_eq!(alice_scope, set(&[&a, &d]));

    // A rep's restricted write is refused; the rest of the same push is applied.
    let discount_id = outpost_core::access::restricted_id(&d, "discount");
    let discount = doc_change(
        &alice.actor,
        &discount_id,
        &[("kind", "restricted"), ("of", &d), ("field", "discount")],
        Some(("value", 15.0)),
    );
    let a2 = new_record();
    let res = push(
        &server,
        &alice,
        vec![
            change(&discount_id, "restricted", discount),
            change(&a2, "contact", contact(&alice, &a2, "赵强")),
        ],
    )
    .await;
    assert_eq!(res.rejected.len(), 1, "{:?}", res.rejected);
    assert_eq!(res.rejected[0].record, discount_id);
    assert!(
        res.rejected[0].reason.contains("field discount"),
        "{}",
        res.rejected[0].reason
    );
    assert!(s.document(&a2).await.unwrap().is_some());
    assert!(s.document(&discount_id).await.unwrap().is_none());
    // Writing into another rep's contact is refused too.
    let mut theirs = AutoCommit::load(&s.document(&b).await.unwrap().unwrap().doc)
        .unwrap()
        .with_actor(ActorId::from(alice.actor.as_slice()));
    theirs.put(ROOT, "title", "总监").unwrap();
    theirs.commit();
    let edit = theirs.get_last_local_change().unwrap().raw_bytes().to_vec();
    let res = push(&server, &alice, vec![change(&b, "contact", edit)]).await;
    assert!(
        res.rejected[0].reason.contains("not in their scope"),
        "{:?}",
        res.rejected
    );

    // Reassigning alice's contact to carol moves the epoch and both scopes.
    let (epoch_before, _) = scope_of(&server, &alice).await;
    assert!(outpost_server::access::assign(s, &t, &a, "carol")
        .await
        .unwrap());
    let (epoch, alice_scope) = scope_of(&server, &alice).await;
    assert!(epoch > epoch_before);
    assert_eq!(alice_scope, set(&[&a2]));
    let (_, carol_scope) = scope_of(&server, &carol).await;
    assert_eq!(carol_scope, set(&[&a, &c, &d]));
    assert_eq!(
        records_of(&server, &alice, &[&a, &c, &a2]).await,
        set(&[&a2])
    );
    assert_eq!(
        records_of(&server, &carol, &[&a, &d, &amount_id]).await,
        set(&[&a, &d])
    );
    // The server's own change is not one a rep may make.
    let mut again = AutoCommit::load(&s.document(&a).await.unwrap().unwrap().doc)
        .unwrap()
        .with_actor(ActorId::from(carol.actor.as_slice()));
    again.put(ROOT, "owner", "alice").unwrap();
    again.commit();
    let give_back = again.get_last_local_change().unwrap().raw_bytes().to_vec();
    let res = push(&server, &carol, vec![change(&a, "contact", give_back)]).await;
    assert!(
        res.rejected[0].reason.contains("assign"),
        "{:?}",
        res.rejected
    );

    // Moving bob out of the team takes his records out of the manager's scope.
    s.set_team_member(&t, "bob", None).await.unwrap();
    let (_, boss_scope) = scope_of(&server, &boss).await;
    assert!(!boss_scope.contains(&b));
    assert!(boss_scope.contains(&a2), "alice is still in the team");
    // Carol's contract scan: its file is readable only by those who may read the attachment.
    let file = b"contract scan: amount 886655.25".to_vec();
    let sha = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&file));
    // Carol uploads it (a file is readable by its uploader and through vouched attachments).
    let uploaded = server
        .client
        .put(format!("{}/v1/blobs/{sha}", server.url))
        .bearer_auth(&carol.token)
        .header("content-type", "application/octet-stream")
        .header("upload-length", file.len().to_string())
        .header("upload-offset", "0")
        .body(file.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(uploaded.status().as_u16(), 200);
    let att = new_record();
    let size = file.len().to_string();
    let mut doc = AutoCommit::new().with_actor(ActorId::from(carol.actor.as_slice()));
    for (k, v) in [
        ("id", att.as_str()),
        ("kind", "attachment"),
        ("contact_id", c.as_str()),
        ("category", "contract"),
        ("blob", sha.as_str()),
        ("mime", "image/png"),
    ] {
        doc.put(ROOT, k, v).unwrap();
    }
    doc.put(ROOT, "size", size.parse::<i64>().unwrap()).unwrap();
    doc.commit();
    let created = doc.get_last_local_change().unwrap().raw_bytes().to_vec();
    let res = push(&server, &carol, vec![change(&att, "attachment", created)]).await;
    assert!(res.rejected.is_empty(), "{:?}", res.rejected);
    let download = |u: &User| {
        let req = server
            .client
            .get(format!("{}/v1/blobs/{sha}", server.url))
            .header("authorization", format!("Bearer {}", u.token));
        async move { req.send().await.unwrap().status().as_u16() }
    };
    assert_eq!(download(&carol).await, 200);
    assert_eq!(
        download(&alice).await,
        404,
        "a file of a customer out of scope"
    );
    assert_eq!(download(&dora).await, 200);
    // Sharing carol's contact with alice brings it (and what hangs off it) into her scope.
    s.set_share(&t, &c, "alice", true).await.unwrap();
    let (_, alice_scope) = scope_of(&server, &alice).await;
    assert_eq!(alice_scope, set(&[&a2, &att, &c]));
    assert_eq!(
        download(&alice).await,
        200,
        "shared with her, its files too"
    );
    assert!(matches!(
        s.set_share(&t, "no-such-record", "alice", true).await,
        Err(outpost_server::StorageError::NotFound(_))
    ));
    // A disabled user gets no new device until enabled again.
    s.set_user_disabled(&t, "bob", true).await.unwrap();
    assert!(s.user_disabled(&t, "bob").await.unwrap());
    let refused = enroll_device(s, &t, "bob", Role::Rep).await;
    assert!(
        matches!(&refused, Err(outpost_server::StorageError::Forbidden(m)) if m.contains("disabled")),
        "{:?}",
        refused.err()
    );
    s.set_user_disabled(&t, "bob", false).await.unwrap();
    assert!(enroll_device(s, &t, "bob", Role::Rep).await.is_ok());
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scoped_sync_on_sqlite() {
    scoped_sync(Backend::sqlite().storage).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scoped_sync_on_postgres() {
    let backend = Backend::postgres().await;
    scoped_sync(backend.storage.clone()).await;
}
