//! One storage conformance suite, run against SQLite and PostgreSQL.

use crate::support::*;
use automerge::sync::{self as amsync, SyncDoc};
use automerge::transaction::Transactable;
use automerge::{ActorId, AutoCommit, ROOT};
use outpost_core::sync::protocol::PushChange;
use outpost_server::{Device, Storage, StorageError};
use std::collections::HashSet;
use std::sync::Arc;

/// Generates `sqlite::NAME` and `postgres::NAME` tests for each suite function.
macro_rules! conformance {
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

conformance!(
    tenants_and_devices,
    push_appends_log_and_updates_documents,
    duplicate_push_is_idempotent,
    another_tenants_record_is_refused,
    per_change_rejection_does_not_block_others,
    forged_and_malformed_changes_refuse_the_whole_push,
    pull_excludes_own_actor_but_advances_cursor,
    pull_pages_with_limit,
    bootstrap_pages_include_everything_up_to_cursor,
    automerge_sync_reads_and_edits_a_record,
    concurrent_pushes_to_one_record_lose_nothing,
    blobs_upload_resumably_and_are_checked,
    experience_events_are_stored_once_per_device_and_number,
);

async fn experience_events_are_stored_once_per_device_and_number(s: Arc<dyn Storage>) {
    use outpost_core::sync::protocol::{ExperienceBatch, ExperienceEvent};
    let acme = s.create_tenant("acme").await.unwrap();
    let other = s.create_tenant("other").await.unwrap();
    let rep = s
        .enroll_device(&acme.id, "rep", outpost_server::Role::Rep, "h1")
        .await
        .unwrap();
    let stranger = s
        .enroll_device(&other.id, "x", outpost_server::Role::Rep, "h2")
        .await
        .unwrap();
    let event = |seq: u64, kind: &str, name: &str, ms: u64| ExperienceEvent {
        seq,
        at_ms: 1,
        kind: kind.into(),
        name: name.into(),
        ms,
    };
    let batch = ExperienceBatch {
        v: 1,
        events: vec![
            event(1, "action", "contact.quick_create", 40),
            event(2, "crash_recovered", "", 0),
            event(3, "sync_failure", "network", 0),
        ],
        offline_created: 5,
        offline_synced: 4,
    };
    let first = s.put_experience(&rep, &batch, 10).await.unwrap();
    assert_eq!((first.stored, first.acked_seq), (3, 3));
    // The same batch again (a lost answer): nothing new, same acknowledgement.
    let again = s.put_experience(&rep, &batch, 11).await.unwrap();
    assert_eq!((again.stored, again.acked_seq), (0, 3));
    let more = ExperienceBatch {
        events: vec![
            event(3, "sync_failure", "network", 0),
            event(4, "action", "search", 7),
        ],
        offline_synced: 5,
        ..batch.clone()
    };
    assert_eq!(s.put_experience(&rep, &more, 12).await.unwrap().stored, 1);
    s.put_experience(&stranger, &batch, 13).await.unwrap();
    let data = s.experience(&acme.id).await.unwrap();
    assert_eq!(
        data.events.len(),
        4,
        "another tenant's events are not counted"
    );
    assert_eq!(data.devices.len(), 1);
    assert_eq!(
        (
            data.devices[0].offline_created,
            data.devices[0].offline_synced
        ),
        (5, 5),
        "the latest totals replace the earlier ones"
    );
    // Events older than the retention window go when the device sends again.
    let later = 12 + outpost_server::reports::KEEP_MS + 1;
    let newest = ExperienceBatch {
        events: vec![event(5, "action", "search", 9)],
        ..more.clone()
    };
    let kept = s.put_experience(&rep, &newest, later).await.unwrap();
    assert_eq!((kept.stored, kept.acked_seq), (1, 5));
    let data = s.experience(&acme.id).await.unwrap();
    assert_eq!(
        data.events.len(),
        1,
        "only the event within the window is kept"
    );
    let bad = ExperienceBatch {
        offline_synced: 6,
        ..batch
    };
    assert!(matches!(
        s.put_experience(&rep, &bad, 14).await,
        Err(StorageError::BadRequest(_))
    ));
}

async fn blobs_upload_resumably_and_are_checked(s: Arc<dyn Storage>) {
    use outpost_server::storage::blobs::Append;
    use sha2::{Digest, Sha256};
    let acme = s.create_tenant("acme").await.unwrap();
    let other = s.create_tenant("other").await.unwrap();
    let wang = s
        .enroll_device(&acme.id, "wang", outpost_server::Role::Rep, "hw")
        .await
        .unwrap();
    let li = s
        .enroll_device(&acme.id, "li", outpost_server::Role::Rep, "hl")
        .await
        .unwrap();
    let bytes: Vec<u8> = (0..70_000u32).map(|i| (i % 251) as u8).collect();
    let sha = hex::encode(Sha256::digest(&bytes));
    let size = bytes.len() as u64;
    let chunk = |sha: &'static str, size: u64, offset: u64, data: &'static [u8], now: i64| Append {
        sha256: sha,
        size,
        offset,
        chunk: data,
        readable: false,
        now_ms: now,
        expired_before_ms: 0,
    };
    let sha: &'static str = Box::leak(sha.into_boxed_str());
    let bytes: &'static [u8] = Box::leak(bytes.into_boxed_slice());
    assert_eq!(
        s.blob_status(&acme.id, &wang.id, sha, 0).await.unwrap(),
        None
    );
    let st = s
        .blob_append(&wang, chunk(sha, size, 0, &bytes[..30_000], 1_000))
        .await
        .unwrap();
    assert_eq!((st.received, st.complete), (30_000, false));
    // Incomplete blobs are not readable; a chunk at the wrong offset says where to resume.
    assert_eq!(s.blob_read(&acme.id, sha).await.unwrap(), None);
    assert!(matches!(
        s.blob_append(&wang, chunk(sha, size, 0, &bytes[..10], 1_001)).await,
        Err(StorageError::Conflict(m)) if m.contains("resume at 30000")
    ));
    // Another device's upload of the same name, with a false size, is its own.
    assert_eq!(s.blob_status(&acme.id, &li.id, sha, 0).await.unwrap(), None);
    let lie = s
        .blob_append(&li, chunk(sha, size + 5, 0, &bytes[..10], 1_002))
        .await
        .unwrap();
    assert_eq!((lie.size, lie.received), (size + 5, 10));
    // Resumed (after a lost connection) from the device's own status.
    let own = s
        .blob_status(&acme.id, &wang.id, sha, 0)
        .await
        .unwrap()
        .unwrap();
    assert_eq!((own.size, own.received), (size, 30_000));
    let resume = own.received;
    let st = s
        .blob_append(
            &wang,
            chunk(sha, size, resume, &bytes[resume as usize..], 1_003),
        )
        .await
        .unwrap();
    assert!(st.complete);
    assert_eq!(
        s.blob_read(&acme.id, sha).await.unwrap(),
        Some(bytes.to_vec())
    );
    assert!(s.blob_held(&acme.id, sha, "wang").await.unwrap());
    assert!(!s.blob_held(&acme.id, sha, "li").await.unwrap());
    // Uploading a complete blob the user may read stores nothing and succeeds.
    let again = s
        .blob_append(
            &wang,
            Append {
                readable: true,
                ..chunk(sha, size, 0, bytes, 1_004)
            },
        )
        .await
        .unwrap();
    assert!(again.complete);
    // Blobs belong to a tenant.
    assert_eq!(s.blob_read(&other.id, sha).await.unwrap(), None);
    // Bytes that do not hash to the name are refused and discarded.
    let fake: &'static str =
        Box::leak(hex::encode(Sha256::digest(b"something else")).into_boxed_str());
    assert!(matches!(
        s.blob_append(&wang, chunk(fake, 4, 0, b"evil", 1_005))
            .await,
        Err(StorageError::Rejected(_))
    ));
    assert_eq!(
        s.blob_status(&acme.id, &wang.id, fake, 0).await.unwrap(),
        None
    );
    // Unfinished uploads expire: treated as gone once past the expiry, then swept.
    assert_eq!(
        s.blob_status(&acme.id, &li.id, sha, 1_003)
            .await
            .unwrap()
            .map(|st| st.complete),
        Some(true),
        "li's upload expired: only the tenant's complete blob is left"
    );
    assert!(matches!(
        s.blob_append(
            &li,
            Append {
                expired_before_ms: 1_003,
                ..chunk(sha, size + 5, 10, &bytes[10..20], 1_006)
            }
        )
        .await,
        Err(StorageError::Conflict(m)) if m.contains("resume at 0")
    ));
    assert_eq!(s.blob_expire(1_002).await.unwrap(), 0);
    assert_eq!(s.blob_expire(1_003).await.unwrap(), 1);
    assert_eq!(
        s.blob_status(&acme.id, &li.id, sha, 0)
            .await
            .unwrap()
            .map(|st| st.complete),
        Some(true)
    );
    // Li may still upload the file whole, proving it has it.
    let st = s
        .blob_append(&li, chunk(sha, size, 0, bytes, 1_007))
        .await
        .unwrap();
    assert!(st.complete);
    assert!(s.blob_held(&acme.id, sha, "li").await.unwrap());
    assert!(matches!(
        s.blob_status(&acme.id, &li.id, "../etc/passwd", 0).await,
        Err(StorageError::BadRequest(_))
    ));
}

async fn tenants_and_devices(s: Arc<dyn Storage>) {
    s.ping().await.unwrap();
    let acme = s.create_tenant("acme").await.unwrap();
    assert_eq!((acme.name.as_str(), acme.log_head), ("acme", 0));
    assert!(matches!(
        s.create_tenant("acme").await,
        Err(StorageError::Conflict(_))
    ));
    assert!(matches!(
        s.create_tenant("  ").await,
        Err(StorageError::BadRequest(_))
    ));
    assert_eq!(s.tenant(&acme.id).await.unwrap().unwrap().id, acme.id);
    assert_eq!(s.tenant("acme").await.unwrap().unwrap().id, acme.id);
    assert!(s.tenant("nope").await.unwrap().is_none());

    let (alice, alice_token) = device(&*s, &acme.id, "alice").await;
    let (bob, _) = device(&*s, &acme.id, "bob").await;
    assert_eq!(alice.tenant_id, acme.id);
    assert_eq!(alice.user_id, "alice");
    assert!(alice.revoked_at_ms.is_none());
    let found = s
        .device_by_token_hash(&outpost_server::hash_token(&alice_token))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(found.id, alice.id);
    assert!(s
        .device_by_token_hash(&outpost_server::hash_token("wrong"))
        .await
        .unwrap()
        .is_none());
    assert!(matches!(
        outpost_server::enroll_device(&*s, "no-such-tenant", "x", outpost_server::Role::Rep).await,
        Err(StorageError::NotFound(_))
    ));

    let listed: Vec<String> = s
        .list_devices(&acme.id)
        .await
        .unwrap()
        .into_iter()
        .map(|d| d.id)
        .collect();
    assert_eq!(listed, [alice.id.clone(), bob.id.clone()]);

    let revoked = s.revoke_device(&bob.id).await.unwrap();
    let at = revoked.revoked_at_ms.unwrap();
    let again = s.revoke_device(&bob.id).await.unwrap();
    assert_eq!(
        again.revoked_at_ms,
        Some(at),
        "the first revocation time is kept"
    );
    assert!(matches!(
        s.revoke_device("no-such-device").await,
        Err(StorageError::NotFound(_))
    ));

    s.touch_device(&alice.id, 1_000_000).await.unwrap();
    s.touch_device(&bob.id, 1_000_000).await.unwrap();
    assert_eq!(
        s.active_devices(999_999).await.unwrap(),
        1,
        "revoked ones do not count"
    );
    assert_eq!(s.active_devices(1_000_001).await.unwrap(), 0);
}

async fn push_appends_log_and_updates_documents(s: Arc<dyn Storage>) {
    let f = tenant_with_device(&*s, "acme", "alice").await;
    let actor = new_actor();
    let (mut one, c1) = ContactWriter::create(&actor, "Zhang Wei");
    let c2 = one.set("name", "Zhang Wei 2");
    let c3 = one.set("company", "Huaqiang");
    let (two, c4) = ContactWriter::create(&actor, "Li Na");
    let changes = vec![
        one.push(c1.clone()),
        one.push(c2.clone()),
        two.push(c4.clone()),
        one.push(c3.clone()),
    ];
    let out = s
        .push(
            &f.device,
            &outpost_server::Viewer::unrestricted(),
            &actor,
            &changes,
        )
        .await
        .unwrap();
    assert!(out.rejected.is_empty(), "{:?}", out.rejected);
    assert_eq!((out.applied, out.log_head), (4, 4));
    assert_eq!(log_head(&*s, &f.tenant.id).await, 4);

    let page = s
        .pull(
            &f.tenant.id,
            &outpost_server::Viewer::unrestricted(),
            &new_actor(),
            0,
            100,
        )
        .await
        .unwrap();
    let seqs: Vec<u64> = page.entries.iter().map(|e| e.seq).collect();
    assert_eq!(seqs, [1, 2, 3, 4]);
    assert_eq!((page.cursor, page.more), (4, false));
    let got: Vec<&[u8]> = page.entries.iter().map(|e| e.change.as_slice()).collect();
    assert_eq!(got, [&c1[..], &c2[..], &c4[..], &c3[..]]);
    assert!(page.entries.iter().all(|e| e.kind == "contact"));

    let doc = s.document(&one.record).await.unwrap().unwrap();
    assert_eq!(doc.tenant_id, f.tenant.id);
    assert_eq!(doc.kind, "contact");
    assert_eq!(doc.updated_seq, 4);
    assert_eq!(doc_name(&doc.doc).as_deref(), Some("Zhang Wei 2"));
    let doc = s.document(&two.record).await.unwrap().unwrap();
    assert_eq!(
        (doc.updated_seq, doc_name(&doc.doc)),
        (3, Some("Li Na".into()))
    );

    // A later push continues the sequence and updates the stored document.
    let mut one = one;
    let c5 = one.set("name", "Zhang Wei 3");
    let out = s
        .push(
            &f.device,
            &outpost_server::Viewer::unrestricted(),
            &actor,
            &[one.push(c5)],
        )
        .await
        .unwrap();
    assert_eq!((out.applied, out.log_head), (1, 5));
    let doc = s.document(&one.record).await.unwrap().unwrap();
    assert_eq!(
        (doc.updated_seq, doc_name(&doc.doc)),
        (5, Some("Zhang Wei 3".into()))
    );
    let dev = s.list_devices(&f.tenant.id).await.unwrap();
    assert!(
        dev[0].last_seen_at_ms.is_some(),
        "a push updates last_seen_at"
    );
}

async fn duplicate_push_is_idempotent(s: Arc<dyn Storage>) {
    let f = tenant_with_device(&*s, "acme", "alice").await;
    let actor = new_actor();
    let (mut w, c1) = ContactWriter::create(&actor, "A");
    let c2 = w.set("name", "B");
    let batch = vec![w.push(c1.clone()), w.push(c2.clone())];
    assert_eq!(
        s.push(
            &f.device,
            &outpost_server::Viewer::unrestricted(),
            &actor,
            &batch
        )
        .await
        .unwrap()
        .applied,
        2
    );
    let again = s
        .push(
            &f.device,
            &outpost_server::Viewer::unrestricted(),
            &actor,
            &batch,
        )
        .await
        .unwrap();
    assert_eq!((again.applied, again.log_head), (0, 2));
    assert!(again.rejected.is_empty());

    // Duplicates inside one batch and old changes before a new one.
    let c3 = w.set("name", "C");
    let mixed = vec![
        w.push(c2.clone()),
        w.push(c3.clone()),
        w.push(c3.clone()),
        w.push(c1),
    ];
    let out = s
        .push(
            &f.device,
            &outpost_server::Viewer::unrestricted(),
            &actor,
            &mixed,
        )
        .await
        .unwrap();
    assert_eq!((out.applied, out.log_head), (1, 3));
    assert!(out.rejected.is_empty());
    let page = s
        .pull(
            &f.tenant.id,
            &outpost_server::Viewer::unrestricted(),
            &new_actor(),
            0,
            100,
        )
        .await
        .unwrap();
    let hashes: HashSet<Vec<u8>> = page.entries.iter().map(|e| hash(&e.change)).collect();
    assert_eq!(page.entries.len(), 3);
    assert_eq!(hashes.len(), 3);
    let doc = s.document(&w.record).await.unwrap().unwrap();
    assert_eq!(doc_name(&doc.doc).as_deref(), Some("C"));

    // Identity is (record, hash), and a document names its own record: two records with the
    // same content have different first changes and both are stored, while the first change of
    // one pushed under the other's id is refused, not taken for a retry.
    let (twin_a, first) = ContactWriter::create(&actor, "Twin");
    let (twin_b, second) = ContactWriter::create(&actor, "Twin");
    assert_ne!(first, second);
    let out = s
        .push(
            &f.device,
            &outpost_server::Viewer::unrestricted(),
            &actor,
            &[twin_a.push(first.clone()), twin_b.push(second)],
        )
        .await
        .unwrap();
    assert_eq!((out.applied, out.log_head), (2, 5));
    assert!(s.document(&twin_a.record).await.unwrap().is_some());
    assert!(s.document(&twin_b.record).await.unwrap().is_some());
    let third = new_record();
    let out = s
        .push(
            &f.device,
            &outpost_server::Viewer::unrestricted(),
            &actor,
            &[PushChange {
                record: third.clone(),
                kind: "contact".into(),
                change: first,
            }],
        )
        .await
        .unwrap();
    assert_eq!((out.applied, out.rejected.len()), (0, 1));
    assert!(s.document(&third).await.unwrap().is_none());
}

async fn another_tenants_record_is_refused(s: Arc<dyn Storage>) {
    let acme = tenant_with_device(&*s, "acme", "alice").await;
    let globex = tenant_with_device(&*s, "globex", "mallory").await;
    let alice = new_actor();
    let (w, c1) = ContactWriter::create(&alice, "Secret");
    s.push(
        &acme.device,
        &outpost_server::Viewer::unrestricted(),
        &alice,
        &[w.push(c1)],
    )
    .await
    .unwrap();
    let before = s.document(&w.record).await.unwrap().unwrap();

    // Mallory writes a valid change of her own, but under acme's record id, next to a valid
    // change of her own record: the whole push is refused, nothing is stored.
    let mallory = new_actor();
    let (_, hostile) = ContactWriter::create_record(&mallory, &w.record, "Owned");
    let (own, fine) = ContactWriter::create(&mallory, "Mine");
    let push = vec![
        own.push(fine),
        PushChange {
            record: w.record.clone(),
            kind: "contact".into(),
            change: hostile,
        },
    ];
    let err = s
        .push(
            &globex.device,
            &outpost_server::Viewer::unrestricted(),
            &mallory,
            &push,
        )
        .await
        .unwrap_err();
    assert!(matches!(err, StorageError::Forbidden(_)), "{err:?}");
    assert_eq!(log_head(&*s, &globex.tenant.id).await, 0);
    assert_eq!(log_head(&*s, &acme.tenant.id).await, 1);
    assert!(s.document(&own.record).await.unwrap().is_none());
    assert_eq!(s.document(&w.record).await.unwrap().unwrap(), before);
    // Mallory's actor was not bound by the refused push: she can still use it.
    let (own2, ok) = ContactWriter::create(&mallory, "Mine");
    assert_eq!(
        s.push(
            &globex.device,
            &outpost_server::Viewer::unrestricted(),
            &mallory,
            &[own2.push(ok)]
        )
        .await
        .unwrap()
        .applied,
        1
    );
    // And acme's pull does not see globex's entries.
    let page = s
        .pull(
            &acme.tenant.id,
            &outpost_server::Viewer::unrestricted(),
            &new_actor(),
            0,
            100,
        )
        .await
        .unwrap();
    assert_eq!(page.entries.len(), 1);
}

async fn per_change_rejection_does_not_block_others(s: Arc<dyn Storage>) {
    let f = tenant_with_device(&*s, "acme", "alice").await;
    let actor = new_actor();
    let (good, g1) = ContactWriter::create(&actor, "Good");
    let (mut bad, b1) = ContactWriter::create(&actor, ""); // a contact needs a name
    let b2 = bad.set("name", "Fixed later"); // depends on the rejected change
    let (other, o1) = ContactWriter::create(&actor, "Other");
    let wrong_kind = PushChange {
        kind: "visit".into(),
        ..other.push(o1.clone())
    };
    let unknown_kind = PushChange {
        kind: "spaceship".into(),
        ..good.push(g1.clone())
    };
    let push = vec![
        good.push(g1.clone()),
        bad.push(b1.clone()),
        bad.push(b2.clone()),
        wrong_kind,
        other.push(o1.clone()),
        unknown_kind,
    ];
    let out = s
        .push(
            &f.device,
            &outpost_server::Viewer::unrestricted(),
            &actor,
            &push,
        )
        .await
        .unwrap();
    assert_eq!((out.applied, out.log_head), (2, 2));
    // unknown_kind carries the same hash as an accepted change: acknowledged, not rejected.
    let reasons: Vec<(Vec<u8>, &str, &str)> = out
        .rejected
        .iter()
        .map(|r| (r.hash.clone(), r.record.as_str(), r.reason.as_str()))
        .collect();
    assert_eq!(reasons.len(), 3, "{reasons:?}");
    assert_eq!(reasons[0].0, hash(&b1));
    assert!(reasons[0].2.contains("name"), "{}", reasons[0].2);
    assert_eq!(reasons[1].0, hash(&b2));
    assert!(reasons[1].2.contains("depends on"), "{}", reasons[1].2);
    assert_eq!(reasons[2].1, other.record);
    assert!(reasons[2].2.contains("visit"), "{}", reasons[2].2);
    assert!(s.document(&bad.record).await.unwrap().is_none());
    assert!(s.document(&good.record).await.unwrap().is_some());
    assert!(s.document(&other.record).await.unwrap().is_some());
}

async fn forged_and_malformed_changes_refuse_the_whole_push(s: Arc<dyn Storage>) {
    let f = tenant_with_device(&*s, "acme", "alice").await;
    let actor = new_actor();
    let (w, c1) = ContactWriter::create(&actor, "A");

    // Bytes that are not a change.
    let mut garbage = c1.clone();
    let last = garbage.len() - 1;
    garbage[last] ^= 0xff;
    let push = vec![
        w.push(c1.clone()),
        PushChange {
            record: new_record(),
            kind: "contact".into(),
            change: garbage,
        },
    ];
    let err = s
        .push(
            &f.device,
            &outpost_server::Viewer::unrestricted(),
            &actor,
            &push,
        )
        .await
        .unwrap_err();
    assert!(matches!(err, StorageError::BadRequest(_)), "{err:?}");

    // A change authored by another actor than the request's.
    let (x, foreign) = ContactWriter::create(&new_actor(), "X");
    let err = s
        .push(
            &f.device,
            &outpost_server::Viewer::unrestricted(),
            &actor,
            &[w.push(c1.clone()), x.push(foreign)],
        )
        .await
        .unwrap_err();
    assert!(matches!(err, StorageError::Forbidden(_)), "{err:?}");

    // A bad record id.
    let err = s
        .push(
            &f.device,
            &outpost_server::Viewer::unrestricted(),
            &actor,
            &[PushChange {
                record: "../etc".into(),
                ..w.push(c1.clone())
            }],
        )
        .await
        .unwrap_err();
    assert!(matches!(err, StorageError::BadRequest(_)), "{err:?}");
    assert_eq!(log_head(&*s, &f.tenant.id).await, 0);
    assert!(s.document(&w.record).await.unwrap().is_none());

    // An actor is bound to the first device that pushes with it.
    s.push(
        &f.device,
        &outpost_server::Viewer::unrestricted(),
        &actor,
        &[w.push(c1)],
    )
    .await
    .unwrap();
    let (thief, _): (Device, String) = device(&*s, &f.tenant.id, "eve").await;
    let (y, stolen) = ContactWriter::create(&actor, "Y");
    let err = s
        .push(
            &thief,
            &outpost_server::Viewer::unrestricted(),
            &actor,
            &[y.push(stolen)],
        )
        .await
        .unwrap_err();
    assert!(matches!(err, StorageError::Forbidden(_)), "{err:?}");
    assert_eq!(log_head(&*s, &f.tenant.id).await, 1);
}

async fn pull_excludes_own_actor_but_advances_cursor(s: Arc<dyn Storage>) {
    let f = tenant_with_device(&*s, "acme", "alice").await;
    let (bob, _) = device(&*s, &f.tenant.id, "bob").await;
    let (a, b) = (new_actor(), new_actor());
    let (mut wa, a1) = ContactWriter::create(&a, "A");
    let a2 = wa.set("name", "A2");
    let a3 = wa.set("name", "A3");
    s.push(
        &f.device,
        &outpost_server::Viewer::unrestricted(),
        &a,
        &[wa.push(a1), wa.push(a2)],
    )
    .await
    .unwrap();
    let (mut wb, b1) = ContactWriter::create(&b, "B");
    let b2 = wb.set("name", "B2");
    s.push(
        &bob,
        &outpost_server::Viewer::unrestricted(),
        &b,
        &[wb.push(b1), wb.push(b2)],
    )
    .await
    .unwrap();
    s.push(
        &f.device,
        &outpost_server::Viewer::unrestricted(),
        &a,
        &[wa.push(a3)],
    )
    .await
    .unwrap();

    let page = s
        .pull(
            &f.tenant.id,
            &outpost_server::Viewer::unrestricted(),
            &a,
            0,
            100,
        )
        .await
        .unwrap();
    let seqs: Vec<u64> = page.entries.iter().map(|e| e.seq).collect();
    assert_eq!(seqs, [3, 4]);
    assert_eq!(
        (page.cursor, page.more),
        (5, false),
        "own entries are scanned past"
    );
    let page = s
        .pull(
            &f.tenant.id,
            &outpost_server::Viewer::unrestricted(),
            &b,
            0,
            100,
        )
        .await
        .unwrap();
    let seqs: Vec<u64> = page.entries.iter().map(|e| e.seq).collect();
    assert_eq!(seqs, [1, 2, 5]);
    assert_eq!(page.cursor, 5);
    // Only own entries after the cursor: nothing returned, cursor still moves.
    let page = s
        .pull(
            &f.tenant.id,
            &outpost_server::Viewer::unrestricted(),
            &a,
            4,
            100,
        )
        .await
        .unwrap();
    assert!(page.entries.is_empty());
    assert_eq!((page.cursor, page.more), (5, false));
    // Nothing after the cursor: the cursor stays.
    let page = s
        .pull(
            &f.tenant.id,
            &outpost_server::Viewer::unrestricted(),
            &a,
            5,
            100,
        )
        .await
        .unwrap();
    assert_eq!((page.entries.len(), page.cursor, page.more), (0, 5, false));
}

async fn pull_pages_with_limit(s: Arc<dyn Storage>) {
    let f = tenant_with_device(&*s, "acme", "alice").await;
    let actor = new_actor();
    let (mut w, c1) = ContactWriter::create(&actor, "0");
    let mut changes = vec![w.push(c1)];
    for i in 1..10 {
        let c = w.set("name", &i.to_string());
        changes.push(w.push(c));
    }
    s.push(
        &f.device,
        &outpost_server::Viewer::unrestricted(),
        &actor,
        &changes,
    )
    .await
    .unwrap();

    let reader = new_actor();
    let mut cursor = 0;
    let mut pages = Vec::new();
    loop {
        let page = s
            .pull(
                &f.tenant.id,
                &outpost_server::Viewer::unrestricted(),
                &reader,
                cursor,
                3,
            )
            .await
            .unwrap();
        let seqs: Vec<u64> = page.entries.iter().map(|e| e.seq).collect();
        pages.push((seqs, page.more));
        cursor = page.cursor;
        if !page.more {
            break;
        }
    }
    assert_eq!(
        pages,
        [
            (vec![1, 2, 3], true),
            (vec![4, 5, 6], true),
            (vec![7, 8, 9], true),
            (vec![10], false)
        ]
    );
    assert_eq!(cursor, 10);
    // The writer's own pages are empty but still advance, three rows at a time.
    let page = s
        .pull(
            &f.tenant.id,
            &outpost_server::Viewer::unrestricted(),
            &actor,
            0,
            3,
        )
        .await
        .unwrap();
    assert_eq!((page.entries.len(), page.cursor, page.more), (0, 3, true));
    // Exactly `limit` rows left: no more.
    let page = s
        .pull(
            &f.tenant.id,
            &outpost_server::Viewer::unrestricted(),
            &reader,
            7,
            3,
        )
        .await
        .unwrap();
    assert_eq!((page.entries.len(), page.cursor, page.more), (3, 10, false));
}

async fn bootstrap_pages_include_everything_up_to_cursor(s: Arc<dyn Storage>) {
    let f = tenant_with_device(&*s, "acme", "alice").await;
    let other = tenant_with_device(&*s, "globex", "bob").await;
    let actor = new_actor();
    let mut changes = Vec::new();
    for i in 0..5 {
        let (mut w, c) = ContactWriter::create(&actor, &format!("C{i}"));
        changes.push(w.push(c));
        let c = w.set("title", "Buyer");
        changes.push(w.push(c));
    }
    s.push(
        &f.device,
        &outpost_server::Viewer::unrestricted(),
        &actor,
        &changes,
    )
    .await
    .unwrap();
    let foreign = new_actor();
    let (w, c) = ContactWriter::create(&foreign, "Elsewhere");
    s.push(
        &other.device,
        &outpost_server::Viewer::unrestricted(),
        &foreign,
        &[w.push(c)],
    )
    .await
    .unwrap();

    let mut after = None;
    let mut docs = Vec::new();
    let mut pages = 0;
    loop {
        let page = s
            .bootstrap(
                &f.tenant.id,
                &outpost_server::Viewer::unrestricted(),
                after.as_deref(),
                2,
            )
            .await
            .unwrap();
        assert_eq!(page.cursor, 10);
        pages += 1;
        docs.extend(page.docs);
        after = page.next;
        if after.is_none() {
            break;
        }
    }
    assert_eq!(pages, 3);
    assert_eq!(docs.len(), 5, "only this tenant's documents");
    let ids: Vec<&str> = docs.iter().map(|d| d.record.as_str()).collect();
    let mut sorted = ids.clone();
    sorted.sort_unstable();
    assert_eq!(ids, sorted, "ordered by record id");
    // Every log entry up to the cursor is in its document.
    let log = s
        .pull(
            &f.tenant.id,
            &outpost_server::Viewer::unrestricted(),
            &new_actor(),
            0,
            100,
        )
        .await
        .unwrap();
    for entry in log.entries.iter().filter(|e| e.seq <= 10) {
        let doc = docs.iter().find(|d| d.record == entry.record).unwrap();
        let mut doc = AutoCommit::load(&doc.doc).unwrap();
        let h = automerge::ChangeHash::try_from(hash(&entry.change).as_slice()).unwrap();
        assert!(doc.get_change_by_hash(&h).is_some(), "seq {}", entry.seq);
    }
    assert!(matches!(
        s.bootstrap(
            "no-such-tenant",
            &outpost_server::Viewer::unrestricted(),
            None,
            2
        )
        .await,
        Err(StorageError::NotFound(_))
    ));
}

/// Runs the standard Automerge sync protocol between `peer` and the server until quiet.
async fn sync_peer(
    s: &dyn Storage,
    device: &Device,
    record: &str,
    peer: &mut AutoCommit,
) -> Result<(), StorageError> {
    let mut state = amsync::State::new();
    for _ in 0..10 {
        let Some(message) = peer.sync().generate_sync_message(&mut state) else {
            return Ok(());
        };
        let answer = s
            .automerge_sync(
                device,
                &outpost_server::Viewer::unrestricted(),
                record,
                &message.encode(),
            )
            .await?;
        match answer.reply {
            Some(reply) => peer
                .sync()
                .receive_sync_message(&mut state, amsync::Message::decode(&reply).unwrap())
                .unwrap(),
            None => return Ok(()),
        }
    }
    panic!("the Automerge sync did not settle in 10 rounds");
}

async fn automerge_sync_reads_and_edits_a_record(s: Arc<dyn Storage>) {
    use automerge::ReadDoc;
    let f = tenant_with_device(&*s, "acme", "alice").await;
    let (web, _) = device(&*s, &f.tenant.id, "web").await;
    let actor = new_actor();
    let (w, c1) = ContactWriter::create(&actor, "Zhang");
    s.push(
        &f.device,
        &outpost_server::Viewer::unrestricted(),
        &actor,
        &[w.push(c1)],
    )
    .await
    .unwrap();

    // A peer with a random actor (like a JS client) reads the record...
    let peer_actor = new_actor();
    let mut peer = AutoCommit::new().with_actor(ActorId::from(peer_actor.as_slice()));
    sync_peer(&*s, &web, &w.record, &mut peer).await.unwrap();
    assert_eq!(
        peer.get(ROOT, "name")
            .unwrap()
            .unwrap()
            .0
            .into_string()
            .ok(),
        Some("Zhang".into())
    );
    // ...and edits it; the change is validated and appended to the log.
    peer.put(ROOT, "title", "Director").unwrap();
    peer.commit();
    sync_peer(&*s, &web, &w.record, &mut peer).await.unwrap();
    assert_eq!(log_head(&*s, &f.tenant.id).await, 2);
    let page = s
        .pull(
            &f.tenant.id,
            &outpost_server::Viewer::unrestricted(),
            &actor,
            0,
            100,
        )
        .await
        .unwrap();
    assert_eq!(page.entries.len(), 1);
    assert_eq!(page.entries[0].seq, 2);
    let stored = s.document(&w.record).await.unwrap().unwrap();
    let stored_doc = AutoCommit::load(&stored.doc).unwrap();
    assert_eq!(
        stored_doc
            .get(ROOT, "title")
            .unwrap()
            .unwrap()
            .0
            .into_string()
            .ok(),
        Some("Director".into())
    );
    // In sync: one more round is quiet.
    let mut state = amsync::State::new();
    let hello = peer.sync().generate_sync_message(&mut state).unwrap();
    let answer = s
        .automerge_sync(
            &web,
            &outpost_server::Viewer::unrestricted(),
            &w.record,
            &hello.encode(),
        )
        .await
        .unwrap();
    assert_eq!((answer.reply, answer.applied), (None, 0));

    // An invalid edit is refused whole.
    peer.put(ROOT, "name", "").unwrap();
    peer.commit();
    let err = sync_peer(&*s, &web, &w.record, &mut peer)
        .await
        .unwrap_err();
    assert!(matches!(err, StorageError::Rejected(_)), "{err:?}");
    assert_eq!(log_head(&*s, &f.tenant.id).await, 2);

    // The peer's actor is now bound to the web device.
    let (y, stolen) = ContactWriter::create(&peer_actor, "Y");
    let err = s
        .push(
            &f.device,
            &outpost_server::Viewer::unrestricted(),
            &peer_actor,
            &[y.push(stolen)],
        )
        .await
        .unwrap_err();
    assert!(matches!(err, StorageError::Forbidden(_)), "{err:?}");

    // Unknown record, another tenant's record, garbage.
    let mut fresh = AutoCommit::new();
    let mut state = amsync::State::new();
    let hello = fresh
        .sync()
        .generate_sync_message(&mut state)
        .unwrap()
        .encode();
    assert!(matches!(
        s.automerge_sync(
            &web,
            &outpost_server::Viewer::unrestricted(),
            &new_record(),
            &hello
        )
        .await,
        Err(StorageError::NotFound(_))
    ));
    let other = tenant_with_device(&*s, "globex", "mallory").await;
    assert!(matches!(
        s.automerge_sync(
            &other.device,
            &outpost_server::Viewer::unrestricted(),
            &w.record,
            &hello
        )
        .await,
        Err(StorageError::Forbidden(_))
    ));
    assert!(matches!(
        s.automerge_sync(
            &web,
            &outpost_server::Viewer::unrestricted(),
            &w.record,
            b"\x42garbage"
        )
        .await,
        Err(StorageError::BadRequest(_))
    ));
    assert_eq!(log_head(&*s, &f.tenant.id).await, 2);
}

async fn concurrent_pushes_to_one_record_lose_nothing(s: Arc<dyn Storage>) {
    const ROUNDS: usize = 20;
    let f = tenant_with_device(&*s, "acme", "alice").await;
    let (bob, _) = device(&*s, &f.tenant.id, "bob").await;
    let (a, b) = (new_actor(), new_actor());
    let (wa, first) = ContactWriter::create(&a, "Shared");
    s.push(
        &f.device,
        &outpost_server::Viewer::unrestricted(),
        &a,
        &[wa.push(first.clone())],
    )
    .await
    .unwrap();
    let mut bob_doc = AutoCommit::new().with_actor(ActorId::from(b.as_slice()));
    bob_doc
        .apply_changes([automerge::Change::from_bytes(first).unwrap()])
        .unwrap();
    let record = wa.record.clone();
    let wb = ContactWriter {
        doc: bob_doc,
        record: record.clone(),
    };
    // Both devices push edits of the same record at once: plans made outside the lock go
    // stale and must be redone, never written over the other device's change.
    let mut tasks = Vec::new();
    for (mut writer, device, actor, field) in [
        (wa, f.device.clone(), a, "title"),
        (wb, bob.clone(), b, "company"),
    ] {
        let s = s.clone();
        tasks.push(tokio::spawn(async move {
            let mut hashes = Vec::new();
            for n in 0..ROUNDS {
                let change = writer.set(field, &format!("{field} {n}"));
                hashes.push(hash(&change));
                let out = s
                    .push(
                        &device,
                        &outpost_server::Viewer::unrestricted(),
                        &actor,
                        &[writer.push(change)],
                    )
                    .await
                    .unwrap();
                assert!(out.rejected.is_empty(), "{:?}", out.rejected);
                assert_eq!(out.applied, 1);
            }
            hashes
        }));
    }
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.unwrap());
    }
    assert_eq!(log_head(&*s, &f.tenant.id).await, 1 + 2 * ROUNDS as u64);
    let doc = s.document(&record).await.unwrap().unwrap();
    let mut doc = AutoCommit::load(&doc.doc).unwrap();
    for h in &all {
        let h = automerge::ChangeHash::try_from(h.as_slice()).unwrap();
        assert!(doc.get_change_by_hash(&h).is_some(), "a change was lost");
    }
    assert_eq!(doc.get_changes(&[]).len(), 1 + 2 * ROUNDS);
}
