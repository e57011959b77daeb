//! Lead routing on both storage backends: rules, round-robin turns (also under concurrent
//! callers) and routed-once claims; and through the real HTTP sync: a pushed new contact is
//! routed, the pushing device pulls the assignment in the same sync, later edits never
//! re-route.

use crate::support::{new_actor, sync, sync_request, tenant_with_device, Backend, ContactWriter};
use automerge::AutoCommit;
use outpost_core::routing::RoutingRules;
use outpost_server::routing::{self, RoutingClaim};
use outpost_server::Storage;
use std::sync::Arc;

async fn backends() -> Vec<(&'static str, Backend)> {
    vec![
        ("sqlite", Backend::sqlite()),
        ("postgres", Backend::postgres().await),
    ]
}

fn rules(json: &str) -> RoutingRules {
    RoutingRules::parse(json).unwrap()
}

#[tokio::test]
async fn rules_turns_and_claims_on_both_storages() {
    for (name, backend) in backends().await {
        let s = backend.storage.clone();
        let t = s.create_tenant("routing").await.unwrap();
        s.set_sharing(&t.id, outpost_server::Sharing::Open)
            .await
            .unwrap();
        assert_eq!(
            routing::tenant_rules(&*s, &t.id).await.unwrap(),
            None,
            "{name}"
        );

        let r = rules(
            r#"{"rules": [{"region": ["广东省"], "reps": ["alice"]}, {"reps": ["b", "c"]}]}"#,
        );
        routing::set_tenant_rules(&*s, &t.id, &r).await.unwrap();
        assert_eq!(
            routing::tenant_rules(&*s, &t.id).await.unwrap(),
            Some(r.clone()),
            "{name}"
        );

        for want in 0..3 {
            assert_eq!(s.routing_next_turn(&t.id, 1).await.unwrap(), want, "{name}");
        }
        assert_eq!(s.routing_turns(&t.id).await.unwrap(), [(1, 3)], "{name}");
        // New rules restart the turns.
        routing::set_tenant_rules(&*s, &t.id, &r).await.unwrap();
        assert!(s.routing_turns(&t.id).await.unwrap().is_empty(), "{name}");

        // Concurrent callers never get the same turn.
        let mut tasks = Vec::new();
        for _ in 0..16 {
            let s: Arc<dyn Storage> = s.clone();
            let tenant = t.id.clone();
            tasks.push(tokio::spawn(async move {
                s.routing_next_turn(&tenant, 0).await
            }));
        }
        let mut turns = Vec::new();
        for task in tasks {
            turns.push(task.await.unwrap().unwrap());
        }
        turns.sort_unstable();
        assert_eq!(turns, (0..16).collect::<Vec<u64>>(), "{name}");

        let claim = RoutingClaim {
            tenant_id: t.id.clone(),
            record_id: "c1".into(),
            rep: "alice".into(),
            reason: "rule 1".into(),
            at_ms: 1,
        };
        assert!(s.routing_claim(&claim).await.unwrap(), "{name}");
        let again = RoutingClaim {
            rep: "bob".into(),
            at_ms: 2,
            ..claim.clone()
        };
        assert!(
            !s.routing_claim(&again).await.unwrap(),
            "{name}: claimed twice"
        );
        assert_eq!(
            s.routing_claims(&t.id, 10).await.unwrap(),
            [claim],
            "{name}"
        );

        // A rules set that fails validation stores nothing.
        let bad = RoutingRules {
            skip_roles: vec![],
            rules: vec![],
        };
        let e = routing::set_tenant_rules(&*s, &t.id, &bad)
            .await
            .unwrap_err();
        assert!(e.to_string().contains("\"rules\" is empty"), "{name}: {e}");
        assert_eq!(
            routing::tenant_rules(&*s, &t.id).await.unwrap(),
            Some(r),
            "{name}"
        );
    }
}

fn owner_of(doc: &[u8]) -> (Option<String>, Option<String>) {
    use automerge::ReadDoc;
    let doc = AutoCommit::load(doc).unwrap();
    let get = |k: &str| {
        doc.get(automerge::ROOT, k)
            .unwrap()
            .and_then(|(v, _)| v.into_scalar().ok())
            .and_then(|s| s.as_str().map(str::to_string))
    };
    (get("owner"), get("routing_reason"))
}

#[tokio::test]
async fn pushed_new_contacts_are_routed_once_over_http_on_both_storages() {
    for (name, backend) in backends().await {
        let s = backend.storage.clone();
        let f = tenant_with_device(&*s, "routing-http", "rep_a").await;
        let r = rules(
            r#"{"rules": [{"name": "south", "region": ["深圳"], "reps": ["alice"]}, {"reps": ["alice", "b"], "pick": "least_loaded"}]}"#,
        );
        routing::set_tenant_rules(&*s, &f.tenant.id, &r)
            .await
            .unwrap();
        let server = crate::support::TestServer::start(s.clone()).await;
        let actor = new_actor();

        let (mut south, c1) = ContactWriter::create(&actor, "张伟");
        let c2 = south.set("address", "广东省深圳市南山区");
        let c3 = south.set("owner", "rep_a");
        let (other, o1) = ContactWriter::create(&actor, "李一");
        let (third, t1) = ContactWriter::create(&actor, "李二");
        let push = vec![
            south.push(c1),
            south.push(c2),
            south.push(c3),
            other.push(o1),
            third.push(t1),
        ];
        let res = sync(
            &server.client,
            &server.url,
            &f.token,
            &sync_request(&actor, 0, push, None),
        )
        .await
        .sync_response();
        assert!(res.rejected.is_empty(), "{name}: {:?}", res.rejected);
        // The server's assignments come back in the same sync.
        let mut routed: Vec<&str> = res.entries.iter().map(|e| e.record.as_str()).collect();
        routed.sort_unstable();
        let mut want = vec![
            south.record.as_str(),
            other.record.as_str(),
            third.record.as_str(),
        ];
        want.sort_unstable();
        assert_eq!(routed, want, "{name}");

        let doc = s.document(&south.record).await.unwrap().unwrap();
        assert_eq!(
            owner_of(&doc.doc),
            (
                Some("alice".into()),
                Some("rule 1 (south): region 深圳 → alice".into())
            ),
            "{name}"
        );
        let o = owner_of(&s.document(&other.record).await.unwrap().unwrap().doc).0;
        let t = owner_of(&s.document(&third.record).await.unwrap().unwrap().doc).0;
        // alice got the first lead of this push: b is lighter, then the tie goes to alice.
        assert_eq!(
            (o.as_deref(), t.as_deref()),
            (Some("b"), Some("alice")),
            "{name}"
        );

        // An edit after the assignment (merged with it) never routes again.
        for e in &res.entries {
            if e.record == south.record {
                south.doc.load_incremental(&e.change).unwrap();
            }
        }
        let edit = south.set("address", "北京市朝阳区");
        let res2 = sync(
            &server.client,
            &server.url,
            &f.token,
            &sync_request(&actor, res.cursor, vec![south.push(edit)], None),
        )
        .await
        .sync_response();
        assert!(
            res2.rejected.is_empty() && res2.entries.is_empty(),
            "{name}"
        );
        let doc = s.document(&south.record).await.unwrap().unwrap();
        assert_eq!(owner_of(&doc.doc).0.as_deref(), Some("alice"), "{name}");
        assert_eq!(
            s.routing_claims(&f.tenant.id, 10).await.unwrap().len(),
            3,
            "{name}"
        );
        server.stop().await;
    }
}
