//! The server's write policy on both storages, over HTTP: the tenant's settings are written
//! with `flow:configure` only, stage gates hold at the server (with its own documents and the
//! tenant's settings), a contract opens only its own deal's gate, routing markers are the
//! server's, writes stay in the writer's scope (restricted fields, records hung on another
//! rep's contact), and a record's first change is bound to its record id. Every rule holds on
//! `/v1/sync` and on the Automerge route.

use crate::support::*;
use automerge::sync::{self as amsync, SyncDoc};
use automerge::transaction::Transactable;
use automerge::{ActorId, AutoCommit, Change, ObjType, ReadDoc, ROOT};
use outpost_core::flow::FlowConfig;
use outpost_core::sync::protocol::{PushChange, SyncResponse};
use outpost_server::{enroll_device, Role, Storage};
use std::sync::Arc;

/// Generates `sqlite::NAME` and `postgres::NAME` tests for each scenario.
macro_rules! on_both_backends {
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

on_both_backends!(
    tenant_settings_need_flow_configure,
    stage_gates_are_checked_at_the_server,
    a_contract_opens_only_its_own_deal,
    routing_markers_are_written_by_the_server_only,
    writes_stay_in_the_writers_scope,
    a_first_change_is_bound_to_its_record,
    a_first_change_is_bound_to_its_record_on_the_automerge_route,
);

/// A value of a document field.
#[derive(Clone, Copy)]
enum V<'a> {
    S(&'a str),
    F(f64),
}

/// One record's document as a device writes it.
struct Rec {
    doc: AutoCommit,
    id: String,
    kind: String,
}

impl Rec {
    /// A new record of `kind` naming its own id, with `fields`; returns it and its first change.
    fn create(actor: &[u8], kind: &str, fields: &[(&str, V<'_>)]) -> (Self, Vec<u8>) {
        Self::create_as(actor, &new_record(), kind, fields)
    }

    /// [`Rec::create`] with a given record id.
    fn create_as(actor: &[u8], id: &str, kind: &str, fields: &[(&str, V<'_>)]) -> (Self, Vec<u8>) {
        let mut doc = AutoCommit::new().with_actor(ActorId::from(actor));
        doc.put(ROOT, "id", id).unwrap();
        doc.put(ROOT, "kind", kind).unwrap();
        let mut rec = Self {
            doc,
            id: id.to_string(),
            kind: kind.to_string(),
        };
        if kind == "contact" {
            rec.doc.put_object(ROOT, "phones", ObjType::List).unwrap();
            rec.doc.put_object(ROOT, "emails", ObjType::List).unwrap();
        }
        let change = rec.set(fields);
        (rec, change)
    }

    /// A record of `kind` as stored on the server, edited by `actor`.
    async fn stored(s: &dyn Storage, actor: &[u8], id: &str) -> Self {
        let stored = s.document(id).await.unwrap().unwrap();
        Self {
            doc: AutoCommit::load(&stored.doc)
                .unwrap()
                .with_actor(ActorId::from(actor)),
            id: id.to_string(),
            kind: stored.kind,
        }
    }

    /// Sets fields; returns the change.
    fn set(&mut self, fields: &[(&str, V<'_>)]) -> Vec<u8> {
        for (k, v) in fields {
            match v {
                V::S(s) => self.doc.put(ROOT, *k, *s).unwrap(),
                V::F(f) => self.doc.put(ROOT, *k, *f).unwrap(),
            }
        }
        self.doc.commit();
        self.doc
            .get_last_local_change()
            .unwrap()
            .raw_bytes()
            .to_vec()
    }

    /// A push of `change` of this record.
    fn push(&self, change: Vec<u8>) -> PushChange {
        PushChange {
            record: self.id.clone(),
            kind: self.kind.clone(),
            change,
        }
    }
}

/// A signed-in device.
struct User {
    token: String,
    actor: Vec<u8>,
}

async fn user(s: &dyn Storage, tenant: &str, name: &str, role: Role) -> User {
    let enrolled = enroll_device(s, tenant, name, role).await.unwrap();
    User {
        token: enrolled.token,
        actor: new_actor(),
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

/// The reasons of the rejected changes of a push, in order.
fn reasons(res: &SyncResponse) -> Vec<String> {
    res.rejected.iter().map(|r| r.reason.clone()).collect()
}

/// Runs the standard Automerge sync protocol for `record` between `peer` and the server over
/// HTTP until quiet; the status and message of the first refused round.
async fn automerge(
    server: &TestServer,
    u: &User,
    record: &str,
    peer: &mut AutoCommit,
) -> Result<(), (u16, String)> {
    let mut state = amsync::State::new();
    for _ in 0..10 {
        let Some(message) = peer.sync().generate_sync_message(&mut state) else {
            return Ok(());
        };
        let answer = post(
            &server.client,
            &format!("{}/v1/records/{record}/automerge-sync", server.url),
            Some(&u.token),
            Some("application/octet-stream"),
            message.encode(),
        )
        .await;
        match answer.status {
            200 => peer
                .sync()
                .receive_sync_message(&mut state, amsync::Message::decode(&answer.body).unwrap())
                .unwrap(),
            204 => return Ok(()),
            status => return Err((status, String::from_utf8_lossy(&answer.body).into_owned())),
        }
    }
    panic!("the Automerge sync did not settle in 10 rounds");
}

/// A peer holding the server's copy of `record`, writing as `actor`.
async fn peer_of(server: &TestServer, u: &User, record: &str) -> AutoCommit {
    let mut peer = AutoCommit::new().with_actor(ActorId::from(u.actor.as_slice()));
    automerge(server, u, record, &mut peer).await.unwrap();
    peer
}

/// The string at a root key of the stored document.
async fn stored_str(s: &dyn Storage, record: &str, key: &str) -> Option<String> {
    let doc = AutoCommit::load(&s.document(record).await.unwrap()?.doc).unwrap();
    match doc.get(ROOT, key).unwrap()? {
        (automerge::Value::Scalar(v), _) => v.as_str().map(str::to_string),
        _ => None,
    }
}

/// A private tenant: team `east` managed by `boss` with `alice`; `bob` in no team.
struct Org {
    tenant: String,
    alice: User,
    bob: User,
    boss: User,
    server: TestServer,
}

async fn org(storage: &Arc<dyn Storage>, name: &str) -> Org {
    let s = &**storage;
    let tenant = s.create_tenant(name).await.unwrap().id;
    s.create_team(&tenant, "east", Some("boss")).await.unwrap();
    s.set_team_member(&tenant, "alice", Some("east"))
        .await
        .unwrap();
    Org {
        alice: user(s, &tenant, "alice", Role::Rep).await,
        bob: user(s, &tenant, "bob", Role::Rep).await,
        boss: user(s, &tenant, "boss", Role::Manager).await,
        server: TestServer::start(storage.clone()).await,
        tenant,
    }
}

fn contact(u: &User, name: &str) -> (Rec, Vec<u8>) {
    Rec::create(&u.actor, "contact", &[("name", V::S(name))])
}

fn deal(u: &User, contact: &str, title: &str) -> (Rec, Vec<u8>) {
    Rec::create(
        &u.actor,
        "deal",
        &[
            ("title", V::S(title)),
            ("contact_id", V::S(contact)),
            ("stage", V::S("lead")),
        ],
    )
}

/// A contract scan of `contact` (linked to `deal` when given) whose amount was read as `amount`.
fn contract(u: &User, contact: &str, deal: Option<&str>, amount: &str) -> (Rec, Vec<u8>) {
    let mut doc = AutoCommit::new().with_actor(ActorId::from(u.actor.as_slice()));
    let id = new_record();
    doc.put(ROOT, "id", id.as_str()).unwrap();
    doc.put(ROOT, "kind", "attachment").unwrap();
    doc.put(ROOT, "contact_id", contact).unwrap();
    if let Some(d) = deal {
        doc.put(ROOT, "deal_id", d).unwrap();
    }
    doc.put(ROOT, "category", "contract").unwrap();
    doc.put(ROOT, "blob", "ab".repeat(32).as_str()).unwrap();
    doc.put(ROOT, "mime", "image/jpeg").unwrap();
    doc.put(ROOT, "size", 1024i64).unwrap();
    let fields = doc.put_object(ROOT, "fields", ObjType::Map).unwrap();
    doc.put(&fields, "amount", amount).unwrap();
    doc.commit();
    let change = doc.get_last_local_change().unwrap().raw_bytes().to_vec();
    (
        Rec {
            doc,
            id,
            kind: "attachment".into(),
        },
        change,
    )
}

/// Settings whose stages have no gates at all (what a rep's `outpost flow set` would push).
fn gateless() -> String {
    let mut config = FlowConfig::default();
    for stage in &mut config.stages {
        stage.requires.clear();
    }
    serde_json::to_string(&config).unwrap()
}

/// Item 1: the tenant's settings (`config-<tenant>`) are written only with `flow:configure`
/// (managers and admins by default), on `/v1/sync` and on the Automerge route alike.
async fn tenant_settings_need_flow_configure(storage: Arc<dyn Storage>) {
    let s = &*storage;
    let o = org(&storage, "华东销售部").await;
    outpost_server::flow::set_tenant_flow(s, &o.tenant, &FlowConfig::default())
        .await
        .unwrap();
    let config_id = outpost_core::flow::config_record_id(&o.tenant);
    let gates = |c: &FlowConfig| c.stages.iter().map(|s| s.requires.len()).sum::<usize>();
    let stored_gates = || async {
        gates(
            &outpost_server::flow::tenant_flow(s, &o.tenant)
                .await
                .unwrap(),
        )
    };
    assert!(stored_gates().await > 0);

    // A rep reads the settings (every device applies them)...
    let mut peer = peer_of(&o.server, &o.alice, &config_id).await;
    // ...but may not remove the gates through the Automerge route...
    peer.put(ROOT, "flow", gateless().as_str()).unwrap();
    peer.commit();
    let refused = automerge(&o.server, &o.alice, &config_id, &mut peer).await;
    let (status, message) = refused.expect_err("a rep rewrote the tenant's settings");
    assert_eq!(status, 422, "{message}");
    assert!(message.contains("flow:configure"), "{message}");
    // ...nor by /v1/sync: that change alone is refused, the rest of the push flows on.
    let mut settings = Rec::stored(s, &o.alice.actor, &config_id).await;
    let gone = settings.set(&[("flow", V::S(&gateless()))]);
    let (c, created) = contact(&o.alice, "张伟");
    let res = push(
        &o.server,
        &o.alice,
        vec![settings.push(gone), c.push(created)],
    )
    .await;
    assert_eq!(res.rejected.len(), 1, "{:?}", reasons(&res));
    assert_eq!(res.rejected[0].record, config_id);
    assert!(
        res.rejected[0].reason.contains("flow:configure"),
        "{:?}",
        reasons(&res)
    );
    assert!(s.document(&c.id).await.unwrap().is_some());
    assert!(stored_gates().await > 0, "the gates are still there");

    // A manager has flow:configure: both routes accept their change.
    let mut peer = peer_of(&o.server, &o.boss, &config_id).await;
    let mut tighter = FlowConfig {
        visit_radius_m: 150.0,
        ..FlowConfig::default()
    };
    peer.put(
        ROOT,
        "flow",
        serde_json::to_string(&tighter).unwrap().as_str(),
    )
    .unwrap();
    peer.commit();
    automerge(&o.server, &o.boss, &config_id, &mut peer)
        .await
        .unwrap();
    let now = outpost_server::flow::tenant_flow(s, &o.tenant)
        .await
        .unwrap();
    assert_eq!(now.visit_radius_m, 150.0);
    let mut settings = Rec::stored(s, &o.boss.actor, &config_id).await;
    tighter.visit_radius_m = 120.0;
    let change = settings.set(&[("flow", V::S(&serde_json::to_string(&tighter).unwrap()))]);
    let res = push(&o.server, &o.boss, vec![settings.push(change)]).await;
    assert!(res.rejected.is_empty(), "{:?}", reasons(&res));
    let now = outpost_server::flow::tenant_flow(s, &o.tenant)
        .await
        .unwrap();
    assert_eq!(now.visit_radius_m, 120.0);

    // Settings are one document per tenant: another id is refused, even with the permission.
    let other_tenant = s.create_tenant("华南销售部").await.unwrap().id;
    let squat = outpost_core::flow::config_record_id(&other_tenant);
    let (planted, first) = Rec::create_as(
        &o.boss.actor,
        &squat,
        "config",
        &[("flow", V::S(&gateless()))],
    );
    let res = push(&o.server, &o.boss, vec![planted.push(first)]).await;
    assert_eq!(res.rejected.len(), 1, "{:?}", reasons(&res));
    assert!(
        res.rejected[0].reason.contains(&config_id),
        "{:?}",
        reasons(&res)
    );
    assert!(s.document(&squat).await.unwrap().is_none());
    // Nobody gets a device under the name the server writes its own changes as.
    let impostor = enroll_device(s, &o.tenant, outpost_core::flow::SERVER_USER, Role::Admin).await;
    assert!(
        matches!(impostor, Err(outpost_server::StorageError::BadRequest(_))),
        "{:?}",
        impostor.map(|e| e.device_id)
    );
    o.server.stop().await;
}

/// Item 1: a deal moved to a stage whose gate is not met is refused at the server with the
/// gate's reason, judged with the server's documents and the tenant's settings, on both routes.
async fn stage_gates_are_checked_at_the_server(storage: Arc<dyn Storage>) {
    let s = &*storage;
    let o = org(&storage, "华东销售部").await;
    let (c, c1) = contact(&o.alice, "张伟");
    let (mut d, d1) = deal(&o.alice, &c.id, "年度框架协议");
    let res = push(&o.server, &o.alice, vec![c.push(c1), d.push(d1)]).await;
    assert!(res.rejected.is_empty(), "{:?}", reasons(&res));

    // Won without a contract: the device's gates were bypassed, the server's hold.
    let won = d.set(&[("stage", V::S("won"))]);
    let res = push(&o.server, &o.alice, vec![d.push(won)]).await;
    assert_eq!(res.rejected.len(), 1, "a deal was won without a contract");
    let reason = &res.rejected[0].reason;
    assert!(
        reason.contains("won") && reason.contains("contract"),
        "{reason}"
    );
    assert_eq!(stored_str(s, &d.id, "stage").await.as_deref(), Some("lead"));

    // The same move through the Automerge route is refused too.
    let mut peer = peer_of(&o.server, &o.alice, &d.id).await;
    peer.put(ROOT, "stage", "won").unwrap();
    peer.commit();
    let (status, message) = automerge(&o.server, &o.alice, &d.id, &mut peer)
        .await
        .expect_err("won through the Automerge route");
    assert_eq!(status, 422, "{message}");
    assert!(message.contains("contract"), "{message}");
    assert_eq!(stored_str(s, &d.id, "stage").await.as_deref(), Some("lead"));

    // A contract with an amount, attached in the same push before the move, opens the gate.
    let mut d = Rec::stored(s, &o.alice.actor, &d.id).await;
    let (scan, scanned) = contract(&o.alice, &c.id, Some(&d.id), "305000");
    let won = d.set(&[("stage", V::S("won"))]);
    let res = push(&o.server, &o.alice, vec![scan.push(scanned), d.push(won)]).await;
    assert!(res.rejected.is_empty(), "{:?}", reasons(&res));
    assert_eq!(stored_str(s, &d.id, "stage").await.as_deref(), Some("won"));

    // A closed deal does not move.
    let reopened = d.set(&[("stage", V::S("lead"))]);
    let res = push(&o.server, &o.alice, vec![d.push(reopened)]).await;
    assert!(
        res.rejected
            .first()
            .is_some_and(|r| r.reason.contains("closed")),
        "{:?}",
        reasons(&res)
    );

    // The tenant's own settings decide: without gates, a move to won needs nothing.
    let (mut e, e1) = deal(&o.alice, &c.id, "备件");
    push(&o.server, &o.alice, vec![e.push(e1)]).await;
    let config: FlowConfig = serde_json::from_str(&gateless()).unwrap();
    outpost_server::flow::set_tenant_flow(s, &o.tenant, &config)
        .await
        .unwrap();
    let won = e.set(&[("stage", V::S("won"))]);
    let res = push(&o.server, &o.alice, vec![e.push(won)]).await;
    assert!(res.rejected.is_empty(), "{:?}", reasons(&res));
    // And a stage the tenant does not have is refused.
    let (mut f, f1) = deal(&o.alice, &c.id, "维保");
    push(&o.server, &o.alice, vec![f.push(f1)]).await;
    let nowhere = f.set(&[("stage", V::S("不存在"))]);
    let res = push(&o.server, &o.alice, vec![f.push(nowhere)]).await;
    assert!(
        res.rejected
            .first()
            .is_some_and(|r| r.reason.contains("unknown stage")),
        "{:?}",
        reasons(&res)
    );
    o.server.stop().await;
}

/// Item 15 (server part): a contract attached to deal X does not open the `won` gate of deal Y
/// of the same contact; a contract of the contact itself (no deal) opens both.
async fn a_contract_opens_only_its_own_deal(storage: Arc<dyn Storage>) {
    let o = org(&storage, "华东销售部").await;
    let (c, c1) = contact(&o.alice, "张伟");
    let (x, x1) = deal(&o.alice, &c.id, "一期");
    let (mut y, y1) = deal(&o.alice, &c.id, "二期");
    let (scan, scanned) = contract(&o.alice, &c.id, Some(&x.id), "305000");
    let res = push(
        &o.server,
        &o.alice,
        vec![c.push(c1), x.push(x1), y.push(y1), scan.push(scanned)],
    )
    .await;
    assert!(res.rejected.is_empty(), "{:?}", reasons(&res));
    let won = y.set(&[("stage", V::S("won"))]);
    let res = push(&o.server, &o.alice, vec![y.push(won.clone())]).await;
    assert_eq!(
        res.rejected.len(),
        1,
        "deal X's contract opened deal Y's gate"
    );
    assert!(
        res.rejected[0].reason.contains("contract"),
        "{:?}",
        reasons(&res)
    );

    // A contract of the contact, linked to no deal, counts for every deal of the contact.
    let mut y = Rec::stored(&*storage, &o.alice.actor, &y.id).await;
    let (general, scanned) = contract(&o.alice, &c.id, None, "120000");
    let won = y.set(&[("stage", V::S("won"))]);
    let res = push(
        &o.server,
        &o.alice,
        vec![general.push(scanned), y.push(won)],
    )
    .await;
    assert!(res.rejected.is_empty(), "{:?}", reasons(&res));
    o.server.stop().await;
}

/// Item 8: the routing markers (`routed_at`, `routed_by`, `routing_reason`) are the server's:
/// a pushed contact carrying them is refused (so no device escapes routing), a plain one is
/// routed, and a device may not rewrite them later.
async fn routing_markers_are_written_by_the_server_only(storage: Arc<dyn Storage>) {
    let s = &*storage;
    let o = org(&storage, "华东销售部").await;
    let rules =
        outpost_core::routing::RoutingRules::parse(r#"{"rules": [{"reps": ["carol"]}]}"#).unwrap();
    outpost_server::routing::set_tenant_rules(s, &o.tenant, &rules)
        .await
        .unwrap();
    let (forged, created) = Rec::create(
        &o.alice.actor,
        "contact",
        &[
            ("name", V::S("张伟")),
            ("routed_at", V::S("2026-01-01T00:00:00Z")),
            ("routed_by", V::S("rule 1")),
        ],
    );
    let (plain, plain1) = contact(&o.alice, "李娜");
    let res = push(
        &o.server,
        &o.alice,
        vec![forged.push(created), plain.push(plain1)],
    )
    .await;
    assert_eq!(
        res.rejected.len(),
        1,
        "a contact escaped routing: {:?}",
        reasons(&res)
    );
    assert_eq!(res.rejected[0].record, forged.id);
    assert!(
        res.rejected[0].reason.contains("routed_"),
        "{:?}",
        reasons(&res)
    );
    assert!(s.document(&forged.id).await.unwrap().is_none());
    assert_eq!(
        stored_str(s, &plain.id, "owner").await.as_deref(),
        Some("carol")
    );

    // Rewriting the server's reason later is refused on both routes, even for an admin.
    let ada = user(s, &o.tenant, "ada", Role::Admin).await;
    let mut routed = Rec::stored(s, &ada.actor, &plain.id).await;
    let rewrite = routed.set(&[("routing_reason", V::S("picked by hand"))]);
    let res = push(&o.server, &ada, vec![routed.push(rewrite)]).await;
    assert!(
        res.rejected
            .first()
            .is_some_and(|r| r.reason.contains("routing_reason")),
        "{:?}",
        reasons(&res)
    );
    let mut peer = peer_of(&o.server, &ada, &plain.id).await;
    peer.delete(ROOT, "routed_at").unwrap();
    peer.commit();
    let (status, message) = automerge(&o.server, &ada, &plain.id, &mut peer)
        .await
        .expect_err("a device removed routed_at");
    assert_eq!(status, 422, "{message}");
    assert!(stored_str(s, &plain.id, "routed_at").await.is_some());
    o.server.stop().await;
}

/// Item 11: a manager writes a restricted field only on deals in their scope; a rep hangs no
/// task, visit, deal or attachment on a contact outside theirs (nor moves one there later).
async fn writes_stay_in_the_writers_scope(storage: Arc<dyn Storage>) {
    let s = &*storage;
    let o = org(&storage, "华东销售部").await;
    let (a, a1) = contact(&o.alice, "张伟");
    let (b, b1) = contact(&o.bob, "李娜");
    let (da, da1) = deal(&o.alice, &a.id, "一期");
    let (db, db1) = deal(&o.bob, &b.id, "二期");
    assert!(push(&o.server, &o.alice, vec![a.push(a1), da.push(da1)])
        .await
        .rejected
        .is_empty());
    assert!(push(&o.server, &o.bob, vec![b.push(b1), db.push(db1)])
        .await
        .rejected
        .is_empty());

    // The manager may write amounts: on alice's deal (their team), not on bob's.
    let amount = |deal: &str| {
        Rec::create_as(
            &o.boss.actor,
            &outpost_core::access::restricted_id(deal, "amount"),
            "restricted",
            &[
                ("of", V::S(deal)),
                ("field", V::S("amount")),
                ("value", V::F(300_000.0)),
            ],
        )
    };
    let (on_a, on_a1) = amount(&da.id);
    let (on_b, on_b1) = amount(&db.id);
    let res = push(&o.server, &o.boss, vec![on_a.push(on_a1), on_b.push(on_b1)]).await;
    assert_eq!(res.rejected.len(), 1, "{:?}", reasons(&res));
    assert_eq!(res.rejected[0].record, on_b.id);
    assert!(
        res.rejected[0].reason.contains("scope"),
        "{:?}",
        reasons(&res)
    );
    assert!(s.document(&on_a.id).await.unwrap().is_some());
    assert!(s.document(&on_b.id).await.unwrap().is_none());

    // Alice hangs nothing on bob's contact...
    let task = |contact: &str| {
        Rec::create(
            &o.alice.actor,
            "task",
            &[("contact_id", V::S(contact)), ("due", V::S("2026-12-01"))],
        )
    };
    let (t_b, t_b1) = task(&b.id);
    let (v_b, v_b1) = Rec::create(
        &o.alice.actor,
        "visit",
        &[
            ("contact_id", V::S(&b.id)),
            ("lat", V::F(22.5)),
            ("lon", V::F(113.9)),
        ],
    );
    let (d_b, d_b1) = deal(&o.alice, &b.id, "抢单");
    let (att_b, att_b1) = contract(&o.alice, &b.id, None, "1");
    let (mut t_a, t_a1) = task(&a.id);
    let res = push(
        &o.server,
        &o.alice,
        vec![
            t_b.push(t_b1),
            v_b.push(v_b1),
            d_b.push(d_b1),
            att_b.push(att_b1),
            t_a.push(t_a1),
        ],
    )
    .await;
    let refused: Vec<&str> = res.rejected.iter().map(|r| r.record.as_str()).collect();
    assert_eq!(
        refused,
        vec![
            t_b.id.as_str(),
            v_b.id.as_str(),
            d_b.id.as_str(),
            att_b.id.as_str()
        ],
        "{:?}",
        reasons(&res)
    );
    assert!(reasons(&res)
        .iter()
        .all(|r| r.contains(&b.id) && r.contains("scope")));
    // ...while her own task is stored, and may not be moved onto bob's contact later.
    assert!(s.document(&t_a.id).await.unwrap().is_some());
    let moved = t_a.set(&[("contact_id", V::S(&b.id))]);
    let res = push(&o.server, &o.alice, vec![t_a.push(moved)]).await;
    assert_eq!(res.rejected.len(), 1, "{:?}", reasons(&res));
    let mut peer = peer_of(&o.server, &o.alice, &t_a.id).await;
    peer.put(ROOT, "contact_id", b.id.as_str()).unwrap();
    peer.commit();
    let (status, message) = automerge(&o.server, &o.alice, &t_a.id, &mut peer)
        .await
        .expect_err("a task moved out of scope through the Automerge route");
    assert_eq!(status, 422, "{message}");
    assert_eq!(
        stored_str(s, &t_a.id, "contact_id").await,
        Some(a.id.clone())
    );
    o.server.stop().await;
}

/// Item 11: a record's first change cannot be accepted under a second record id: the document
/// names its own id, on `/v1/sync` and on the Automerge route.
async fn a_first_change_is_bound_to_its_record(storage: Arc<dyn Storage>) {
    let s = &*storage;
    let o = org(&storage, "华东销售部").await;
    let (a, a1) = contact(&o.alice, "张伟");
    assert!(push(&o.server, &o.alice, vec![a.push(a1.clone())])
        .await
        .rejected
        .is_empty());
    // The same bytes under a second id.
    let copy = PushChange {
        record: new_record(),
        kind: "contact".into(),
        change: a1.clone(),
    };
    let res = push(&o.server, &o.alice, vec![copy.clone()]).await;
    assert_eq!(
        res.rejected.len(),
        1,
        "a first change was stored under a second id"
    );
    assert!(
        res.rejected[0].reason.contains(&a.id),
        "{:?}",
        reasons(&res)
    );
    assert!(s.document(&copy.record).await.unwrap().is_none());
    // A new record must name its id.
    let mut anonymous = AutoCommit::new().with_actor(ActorId::from(o.alice.actor.as_slice()));
    anonymous.put(ROOT, "kind", "contact").unwrap();
    anonymous.put(ROOT, "name", "无名").unwrap();
    anonymous.commit();
    let nameless = PushChange {
        record: new_record(),
        kind: "contact".into(),
        change: anonymous
            .get_last_local_change()
            .unwrap()
            .raw_bytes()
            .to_vec(),
    };
    let res = push(&o.server, &o.alice, vec![nameless.clone()]).await;
    assert!(
        res.rejected
            .first()
            .is_some_and(|r| r.reason.contains(&nameless.record)),
        "{:?}",
        reasons(&res)
    );

    o.server.stop().await;
}

/// Item 11, on the Automerge route: record A's first change synced into record B's document
/// (where it would merge, naming A) is refused whole.
async fn a_first_change_is_bound_to_its_record_on_the_automerge_route(storage: Arc<dyn Storage>) {
    let s = &*storage;
    let o = org(&storage, "华东销售部").await;
    let (a, a1) = contact(&o.alice, "张伟");
    assert!(push(&o.server, &o.alice, vec![a.push(a1.clone())])
        .await
        .rejected
        .is_empty());
    // B from another actor of the same device (one actor's changes are numbered per actor, so
    // A's first change would not even load into a document that actor started).
    let other_actor = User {
        token: o.alice.token.clone(),
        actor: new_actor(),
    };
    let (b, b1) = contact(&other_actor, "李娜");
    assert!(push(&o.server, &other_actor, vec![b.push(b1)])
        .await
        .rejected
        .is_empty());
    let mut peer = peer_of(&o.server, &other_actor, &b.id).await;
    peer.apply_changes([Change::from_bytes(a1).unwrap()])
        .unwrap();
    let (status, message) = automerge(&o.server, &other_actor, &b.id, &mut peer)
        .await
        .expect_err("A's first change was accepted under B");
    assert_eq!(status, 422, "{message}");
    assert!(message.contains(&b.id), "{message}");
    assert_eq!(stored_str(s, &b.id, "name").await.as_deref(), Some("李娜"));
    o.server.stop().await;
}
