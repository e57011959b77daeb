//! Issue 17, items 14 and 15 at the server: the stored forms of real-world input (a phone with
//! its extension and how it was typed) validate, and what a device that does not check could
//! push (a phone as typed, a check-in at (0, 0)) is refused. SQLite and PostgreSQL.

use crate::support::*;
use automerge::transaction::Transactable;
use automerge::{ActorId, AutoCommit, ObjType, ReadDoc, ROOT};
use outpost_core::sync::protocol::PushChange;
use outpost_server::{Storage, Viewer};
use std::sync::Arc;

macro_rules! both_backends {
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

both_backends!(
    stored_phone_forms_are_accepted_and_typed_ones_refused,
    a_visit_at_null_island_is_refused,
);

/// The last change of `doc`.
fn last(doc: &mut AutoCommit) -> Vec<u8> {
    doc.commit();
    doc.get_last_local_change().unwrap().raw_bytes().to_vec()
}

/// A contact `id` named `name` with `phones`, as one change.
fn contact(actor: &[u8], id: &str, name: &str, phones: &[&str], typed: Option<&str>) -> Vec<u8> {
    let mut doc = AutoCommit::new().with_actor(ActorId::from(actor));
    doc.put(ROOT, "kind", "contact").unwrap();
    doc.put(ROOT, "id", id).unwrap();
    doc.put(ROOT, "name", name).unwrap();
    let list = doc.put_object(ROOT, "phones", ObjType::List).unwrap();
    for (i, p) in phones.iter().enumerate() {
        doc.insert(&list, i, *p).unwrap();
    }
    doc.put_object(ROOT, "emails", ObjType::List).unwrap();
    if let Some(typed) = typed {
        doc.put(ROOT, "phones_typed", typed).unwrap();
    }
    last(&mut doc)
}

async fn stored_phone_forms_are_accepted_and_typed_ones_refused(s: Arc<dyn Storage>) {
    let f = tenant_with_device(&*s, "acme", "alice").await;
    let actor = new_actor();
    let push = |record: &str, change: Vec<u8>| PushChange {
        record: record.to_string(),
        kind: "contact".into(),
        change,
    };
    let (ok, typed_phone, bad_typed) = (new_record(), new_record(), new_record());
    let changes = vec![
        push(
            &ok,
            contact(
                &actor,
                &ok,
                "前台",
                &["+8675588888888;ext=123", "+8613800138000"],
                Some(r#"{"+8675588888888;ext=123":"0755-8888 8888 转 123"}"#),
            ),
        ),
        // What a rep typed is not a stored form: a device must normalize it first.
        push(
            &typed_phone,
            contact(
                &actor,
                &typed_phone,
                "总机",
                &["0755-8888 8888 转 123"],
                None,
            ),
        ),
        push(
            &bad_typed,
            contact(
                &actor,
                &bad_typed,
                "总机",
                &["+8675588888888;ext=123"],
                Some("not a map"),
            ),
        ),
    ];
    let out = s
        .push(&f.device, &Viewer::unrestricted(), &actor, &changes)
        .await
        .unwrap();
    assert_eq!(out.applied, 1, "{:?}", out.rejected);
    let reasons: Vec<(&str, &str)> = out
        .rejected
        .iter()
        .map(|r| (r.record.as_str(), r.reason.as_str()))
        .collect();
    assert_eq!(reasons.len(), 2, "{reasons:?}");
    assert_eq!(reasons[0].0, typed_phone);
    assert!(reasons[0].1.contains("phones"), "{}", reasons[0].1);
    assert_eq!(reasons[1].0, bad_typed);
    assert!(reasons[1].1.contains("phones_typed"), "{}", reasons[1].1);
    let stored = AutoCommit::load(&s.document(&ok).await.unwrap().unwrap().doc).unwrap();
    let (_, list) = stored.get(ROOT, "phones").unwrap().unwrap();
    assert_eq!(stored.length(&list), 2);
}

async fn a_visit_at_null_island_is_refused(s: Arc<dyn Storage>) {
    let f = tenant_with_device(&*s, "acme", "alice").await;
    let actor = new_actor();
    let customer = new_record();
    let visit = |lat: f64, lon: f64| {
        let id = new_record();
        let mut doc = AutoCommit::new().with_actor(ActorId::from(actor.as_slice()));
        doc.put(ROOT, "kind", "visit").unwrap();
        doc.put(ROOT, "id", id.as_str()).unwrap();
        doc.put(ROOT, "contact_id", customer.as_str()).unwrap();
        doc.put(ROOT, "user", "alice").unwrap();
        doc.put(ROOT, "lat", lat).unwrap();
        doc.put(ROOT, "lon", lon).unwrap();
        doc.put(ROOT, "accuracy_m", 10.0).unwrap();
        doc.put(ROOT, "device_time", "2026-11-23T09:00:00+08:00")
            .unwrap();
        PushChange {
            record: id,
            kind: "visit".into(),
            change: last(&mut doc),
        }
    };
    let changes = vec![
        PushChange {
            record: customer.clone(),
            kind: "contact".into(),
            change: contact(&actor, &customer, "张伟", &[], None),
        },
        visit(0.0, 0.0),
        visit(22.5431, 113.948),
    ];
    let out = s
        .push(&f.device, &Viewer::unrestricted(), &actor, &changes)
        .await
        .unwrap();
    assert_eq!(out.applied, 2, "{:?}", out.rejected);
    assert_eq!(out.rejected.len(), 1);
    assert_eq!(out.rejected[0].record, changes[1].record);
    assert!(
        out.rejected[0].reason.contains("(0, 0)"),
        "{}",
        out.rejected[0].reason
    );
}
