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
                    assert_eq!(backend.storage.backend(), "sqlite");
                    super::$name(backend.storage.clone()).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let backend = crate::support::Backend::postgres().await;
                    assert_eq!(backend.storage.backend(), "postgres");
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
    access_settings_round_trip_and_move_the_scope_epoch,
    teams_keep_each_user_in_one_team,
    shares_and_disabled_users_are_idempotent,
    scope_rows_and_docs_page_one_tenants_records,
    attachments_name_a_blob_only_when_vouched,
    audit_chains_append_page_and_report_their_heads,
    routing_rules_turns_and_claims_are_per_tenant,
    the_log_identity_is_kept_until_renewed,
    codes_enrol_once_before_they_expire_and_rotation_replaces_the_token,
);

async fn codes_enrol_once_before_they_expire_and_rotation_replaces_the_token(s: Arc<dyn Storage>) {
    use outpost_server::enrol::{self, EnrolError};
    use outpost_server::storage::enrol::DeviceReport;
    let acme = s.create_tenant("acme").await.unwrap();
    let beta = s.create_tenant("beta").await.unwrap();
    let names: Vec<String> = s
        .list_tenants()
        .await
        .unwrap()
        .into_iter()
        .map(|t| t.name)
        .collect();
    assert_eq!(names, ["acme", "beta"]);
    let now = 1_800_000_000_000;
    let hour = 3_600_000;
    let invite = enrol::invite(
        &*s,
        &acme.id,
        "王芳",
        outpost_server::Role::Manager,
        hour,
        now,
    )
    .await
    .unwrap();
    assert_eq!(invite.expires_at_ms, now + hour);
    // Not the code itself: only its hash is kept.
    let plain = enrol::normalize(&invite.code).unwrap();
    assert!(s.invite(&plain).await.unwrap().is_none());
    let (enrolment, device) = enrol::redeem(&*s, &invite.code.to_lowercase(), "test", now + 1)
        .await
        .unwrap();
    assert_eq!(
        (device.tenant_id.as_str(), device.user_id.as_str()),
        (acme.id.as_str(), "王芳")
    );
    assert_eq!(device.role, outpost_server::Role::Manager);
    let found = s
        .device_by_token_hash(&outpost_server::hash_token(&enrolment.token))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(found.id, device.id);
    assert!(matches!(
        enrol::redeem(&*s, &invite.code, "test", now + 2).await,
        Err(EnrolError::Used)
    ));
    assert!(matches!(
        enrol::redeem(&*s, "ZZZZZ-ZZZZZ", "test", now).await,
        Err(EnrolError::Unknown)
    ));
    assert!(matches!(
        enrol::redeem(&*s, "not a code", "test", now).await,
        Err(EnrolError::Unknown)
    ));
    let late = enrol::invite(&*s, &beta.id, "li", outpost_server::Role::Rep, hour, now)
        .await
        .unwrap();
    assert!(matches!(
        enrol::redeem(&*s, &late.code, "test", now + hour).await,
        Err(EnrolError::Expired)
    ));
    assert!(matches!(
        enrol::invite(&*s, &beta.id, "li", outpost_server::Role::Rep, 1_000, now).await,
        Err(StorageError::BadRequest(_))
    ));
    assert!(matches!(
        enrol::invite(
            &*s,
            "no-such-tenant",
            "li",
            outpost_server::Role::Rep,
            hour,
            now
        )
        .await,
        Err(StorageError::NotFound(_))
    ));
    // A role the tenant does not have is refused, by code or by token.
    let astronaut: outpost_server::Role = "astronaut".parse().unwrap();
    assert!(matches!(
        enrol::invite(&*s, &beta.id, "li", astronaut.clone(), hour, now).await,
        Err(StorageError::BadRequest(m)) if m.contains("no such role")
    ));
    assert!(matches!(
        outpost_server::enroll_device(&*s, &beta.id, "li", astronaut).await,
        Err(StorageError::BadRequest(_))
    ));

    // Rotation: the old token stops at once, the new one works.
    let rotated = enrol::rotate(&*s, &device.id).await.unwrap();
    assert_ne!(rotated.token, enrolment.token);
    assert!(s
        .device_by_token_hash(&outpost_server::hash_token(&enrolment.token))
        .await
        .unwrap()
        .is_none());
    assert_eq!(
        s.device_by_token_hash(&outpost_server::hash_token(&rotated.token))
            .await
            .unwrap()
            .unwrap()
            .id,
        device.id
    );
    s.revoke_device(&device.id).await.unwrap();
    assert!(matches!(
        enrol::rotate(&*s, &device.id).await,
        Err(StorageError::Conflict(_))
    ));
    assert!(matches!(
        enrol::rotate(&*s, "no-such-device").await,
        Err(StorageError::NotFound(_))
    ));

    // Reports: the latest one per device, listed per tenant.
    let report = DeviceReport {
        app_version: Some("2.3.0 (Android 14)".into()),
        outbox: Some(12),
        synced_at_ms: now,
    };
    s.put_device_report(&device.id, &report).await.unwrap();
    let newer = DeviceReport {
        outbox: Some(0),
        synced_at_ms: now + 5,
        ..report
    };
    s.put_device_report(&device.id, &newer).await.unwrap();
    assert_eq!(
        s.device_reports(&acme.id).await.unwrap(),
        vec![(device.id.clone(), newer.clone())]
    );
    // A report without the app version keeps the one the server has.
    let quiet = DeviceReport {
        app_version: None,
        outbox: Some(3),
        synced_at_ms: now + 9,
    };
    s.put_device_report(&device.id, &quiet).await.unwrap();
    assert_eq!(
        s.device_reports(&acme.id).await.unwrap(),
        vec![(
            device.id.clone(),
            DeviceReport {
                app_version: newer.app_version,
                ..quiet
            }
        )]
    );
    assert!(s.device_reports(&beta.id).await.unwrap().is_empty());
}

async fn the_log_identity_is_kept_until_renewed(s: Arc<dyn Storage>) {
    let first = s.log_id().await.unwrap();
    assert_eq!(first.len(), 32, "{first}");
    assert!(first.chars().all(|c| c.is_ascii_hexdigit()), "{first}");
    assert_eq!(s.log_id().await.unwrap(), first, "stable while not renewed");
    let renewed = s.renew_log_id().await.unwrap();
    assert_ne!(renewed, first);
    assert_eq!(s.log_id().await.unwrap(), renewed);
    assert_ne!(
        s.renew_log_id().await.unwrap(),
        renewed,
        "each renewal is new"
    );
}

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
    // Only the change that lacks a dependency may apply later; the others are refused for good.
    assert_eq!(out.deferred, vec![hash(&b2)]);
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

/// The scope epoch of a tenant.
async fn epoch(s: &dyn Storage, tenant_id: &str) -> u64 {
    s.access_config(tenant_id).await.unwrap().epoch
}

/// The viewer of `device` as the server works it out for a request.
async fn viewer(s: &dyn Storage, device: &Device) -> outpost_server::Viewer {
    let config = s.access_config(&device.tenant_id).await.unwrap();
    let shared = s
        .shares_of(&device.tenant_id, &device.user_id)
        .await
        .unwrap();
    outpost_server::Viewer::new(&config, &device.user_id, &device.role, shared)
}

/// Pushes `changes` as `device` with its own viewer; every change must be accepted.
async fn push_as(s: &dyn Storage, device: &Device, actor: &[u8], changes: &[PushChange]) {
    let viewer = viewer(s, device).await;
    let out = s.push(device, &viewer, actor, changes).await.unwrap();
    assert!(out.rejected.is_empty(), "{:?}", out.rejected);
}

async fn access_settings_round_trip_and_move_the_scope_epoch(s: Arc<dyn Storage>) {
    use outpost_server::Sharing;
    let acme = s.create_tenant("acme").await.unwrap();
    let other = s.create_tenant("other").await.unwrap();
    let fresh = s.access_config(&acme.id).await.unwrap();
    assert_eq!(fresh.sharing, Sharing::Private, "a new tenant is private");
    assert!(fresh.roles.is_empty() && fresh.teams.is_empty() && fresh.lease.is_none());
    assert!(matches!(
        s.access_config("no-such-tenant").await,
        Err(StorageError::NotFound(_))
    ));

    // Every write moves the epoch, so devices reconcile their scope.
    let mut last = fresh.epoch;
    let mut moved = |now: u64, what: &str| {
        assert!(now > last, "{what}: epoch {now} after {last}");
        last = now;
    };
    s.set_sharing(&acme.id, Sharing::Open).await.unwrap();
    let c = s.access_config(&acme.id).await.unwrap();
    assert_eq!(c.sharing, Sharing::Open);
    moved(c.epoch, "sharing");
    s.set_sharing(&acme.id, Sharing::Private).await.unwrap();
    let c = s.access_config(&acme.id).await.unwrap();
    assert_eq!(c.sharing, Sharing::Private);
    moved(c.epoch, "sharing back");

    s.set_lease(&acme.id, Some((86_400_000, 7 * 86_400_000)))
        .await
        .unwrap();
    let c = s.access_config(&acme.id).await.unwrap();
    assert_eq!(c.lease, Some((86_400_000, 7 * 86_400_000)));
    moved(c.epoch, "lease");
    s.set_lease(&acme.id, None).await.unwrap();
    let c = s.access_config(&acme.id).await.unwrap();
    assert_eq!(c.lease, None, "a cleared lease reads back as none");
    moved(c.epoch, "lease cleared");

    let names = |v: &[&str]| v.iter().map(|p| p.to_string()).collect::<Vec<_>>();
    let auditor = names(&["contact:read", "scope:all"]);
    s.set_role(&acme.id, "auditor", Some(&auditor))
        .await
        .unwrap();
    let rep = names(&["contact:read", "contact:write", "scope:own"]);
    s.set_role(&acme.id, "rep", Some(&rep)).await.unwrap();
    let c = s.access_config(&acme.id).await.unwrap();
    assert_eq!(c.roles.get("auditor"), Some(&auditor));
    assert_eq!(c.roles.get("rep"), Some(&rep));
    assert!(c.has_role("auditor"));
    moved(c.epoch, "roles");
    // Setting a role again replaces its permissions.
    let narrower = names(&["contact:read", "scope:own"]);
    s.set_role(&acme.id, "auditor", Some(&narrower))
        .await
        .unwrap();
    assert_eq!(
        s.access_config(&acme.id)
            .await
            .unwrap()
            .roles
            .get("auditor"),
        Some(&narrower)
    );
    // `None` removes a tenant's own role and puts a default one back to its defaults.
    s.set_role(&acme.id, "auditor", None).await.unwrap();
    s.set_role(&acme.id, "rep", None).await.unwrap();
    let c = s.access_config(&acme.id).await.unwrap();
    assert!(c.roles.is_empty(), "{:?}", c.roles);
    assert!(!c.has_role("auditor"));
    moved(c.epoch, "roles dropped");
    // Dropping a role that is not set is no error.
    s.set_role(&acme.id, "auditor", None).await.unwrap();

    // Another tenant's settings are its own.
    let o = s.access_config(&other.id).await.unwrap();
    assert_eq!(
        (o.sharing, o.lease, o.roles.len()),
        (Sharing::Private, None, 0)
    );
    assert_eq!(
        o.epoch, fresh.epoch,
        "another tenant's writes move no epoch here"
    );

    // Writes to an unknown tenant are refused.
    assert!(matches!(
        s.set_sharing("no-such-tenant", Sharing::Open).await,
        Err(StorageError::NotFound(_))
    ));
    assert!(matches!(
        s.set_lease("no-such-tenant", Some((1, 2))).await,
        Err(StorageError::NotFound(_))
    ));
    assert!(matches!(
        s.set_role("no-such-tenant", "auditor", Some(&auditor))
            .await,
        Err(StorageError::NotFound(_))
    ));
}

async fn teams_keep_each_user_in_one_team(s: Arc<dyn Storage>) {
    use outpost_server::Team;
    let acme = s.create_tenant("acme").await.unwrap();
    let other = s.create_tenant("other").await.unwrap();
    let team = |name: &str, manager: Option<&str>, members: &[&str]| Team {
        name: name.into(),
        manager: manager.map(str::to_string),
        members: members.iter().map(|m| m.to_string()).collect(),
    };
    let teams =
        |s: Arc<dyn Storage>, id: String| async move { s.access_config(&id).await.unwrap().teams };

    let before = epoch(&*s, &acme.id).await;
    s.create_team(&acme.id, "east", Some("boss")).await.unwrap();
    s.create_team(&acme.id, "west", None).await.unwrap();
    assert!(epoch(&*s, &acme.id).await > before);
    assert!(matches!(
        s.create_team(&acme.id, "east", None).await,
        Err(StorageError::Conflict(_))
    ));
    // The same name in another tenant is another team.
    s.create_team(&other.id, "east", None).await.unwrap();

    s.set_team_member(&acme.id, "bob", Some("east"))
        .await
        .unwrap();
    s.set_team_member(&acme.id, "alice", Some("east"))
        .await
        .unwrap();
    assert_eq!(
        teams(s.clone(), acme.id.clone()).await,
        [
            team("east", Some("boss"), &["alice", "bob"]),
            team("west", None, &[])
        ],
        "by name, members sorted"
    );
    // Joining another team leaves the first; joining it again changes nothing.
    s.set_team_member(&acme.id, "alice", Some("west"))
        .await
        .unwrap();
    s.set_team_member(&acme.id, "alice", Some("west"))
        .await
        .unwrap();
    assert_eq!(
        teams(s.clone(), acme.id.clone()).await,
        [
            team("east", Some("boss"), &["bob"]),
            team("west", None, &["alice"])
        ]
    );
    // An unknown team is refused and the user stays where they were.
    assert!(matches!(
        s.set_team_member(&acme.id, "alice", Some("north")).await,
        Err(StorageError::NotFound(_))
    ));
    assert_eq!(
        teams(s.clone(), acme.id.clone()).await[1],
        team("west", None, &["alice"])
    );
    s.set_team_member(&acme.id, "bob", None).await.unwrap();

    s.set_team_manager(&acme.id, "east", None).await.unwrap();
    s.set_team_manager(&acme.id, "west", Some("carol"))
        .await
        .unwrap();
    assert!(matches!(
        s.set_team_manager(&acme.id, "north", Some("x")).await,
        Err(StorageError::NotFound(_))
    ));
    assert_eq!(
        teams(s.clone(), acme.id.clone()).await,
        [
            team("east", None, &[]),
            team("west", Some("carol"), &["alice"])
        ]
    );

    // Deleting a team leaves its members in no team.
    s.delete_team(&acme.id, "west").await.unwrap();
    assert!(matches!(
        s.delete_team(&acme.id, "west").await,
        Err(StorageError::NotFound(_))
    ));
    s.create_team(&acme.id, "west", None).await.unwrap();
    assert_eq!(
        teams(s.clone(), acme.id.clone()).await,
        [team("east", None, &[]), team("west", None, &[])]
    );
    assert_eq!(
        teams(s.clone(), other.id.clone()).await,
        [team("east", None, &[])]
    );
    assert!(matches!(
        s.create_team("no-such-tenant", "east", None).await,
        Err(StorageError::NotFound(_))
    ));
}

async fn shares_and_disabled_users_are_idempotent(s: Arc<dyn Storage>) {
    let acme = s.create_tenant("acme").await.unwrap();
    let other = s.create_tenant("other").await.unwrap();
    let (alice, _) = device(&*s, &acme.id, "alice").await;
    let (bob, _) = device(&*s, &acme.id, "bob").await;
    let actor = new_actor();
    let (w, c1) = ContactWriter::create(&actor, "张伟");
    push_as(&*s, &alice, &actor, &[w.push(c1)]).await;
    let record = w.record.clone();

    // A private tenant: bob does not see alice's contact until it is shared with him.
    let sees = |s: Arc<dyn Storage>, d: Device| async move {
        let v = viewer(&*s, &d).await;
        s.bootstrap(&d.tenant_id, &v, None, 100)
            .await
            .unwrap()
            .docs
            .into_iter()
            .map(|d| d.record)
            .collect::<Vec<_>>()
    };
    assert!(sees(s.clone(), bob.clone()).await.is_empty());
    let before = epoch(&*s, &acme.id).await;
    s.set_share(&acme.id, &record, "bob", true).await.unwrap();
    s.set_share(&acme.id, &record, "bob", true).await.unwrap();
    s.set_share(&acme.id, &record, "carol", true).await.unwrap();
    assert!(epoch(&*s, &acme.id).await > before);
    assert_eq!(
        s.shares_of(&acme.id, "bob").await.unwrap(),
        [record.as_str()]
    );
    assert_eq!(
        s.shared_with(&acme.id, &record).await.unwrap(),
        ["bob", "carol"]
    );
    assert_eq!(sees(s.clone(), bob.clone()).await, [record.as_str()]);
    // Shares belong to the tenant; only its stored records may be shared.
    assert!(s.shares_of(&other.id, "bob").await.unwrap().is_empty());
    assert!(s.shared_with(&other.id, &record).await.unwrap().is_empty());
    assert!(matches!(
        s.set_share(&other.id, &record, "bob", true).await,
        Err(StorageError::NotFound(_))
    ));
    assert!(matches!(
        s.set_share(&acme.id, &new_record(), "bob", true).await,
        Err(StorageError::NotFound(_))
    ));
    s.set_share(&acme.id, &record, "bob", false).await.unwrap();
    s.set_share(&acme.id, &record, "bob", false).await.unwrap();
    assert!(s.shares_of(&acme.id, "bob").await.unwrap().is_empty());
    assert_eq!(s.shared_with(&acme.id, &record).await.unwrap(), ["carol"]);
    assert!(sees(s.clone(), bob.clone()).await.is_empty());

    assert!(!s.user_disabled(&acme.id, "bob").await.unwrap());
    let before = epoch(&*s, &acme.id).await;
    s.set_user_disabled(&acme.id, "bob", true).await.unwrap();
    s.set_user_disabled(&acme.id, "bob", true).await.unwrap();
    assert!(epoch(&*s, &acme.id).await > before);
    assert!(s.user_disabled(&acme.id, "bob").await.unwrap());
    assert!(!s.user_disabled(&acme.id, "alice").await.unwrap());
    assert!(
        !s.user_disabled(&other.id, "bob").await.unwrap(),
        "another tenant's bob is another user"
    );
    s.set_user_disabled(&acme.id, "bob", false).await.unwrap();
    s.set_user_disabled(&acme.id, "bob", false).await.unwrap();
    assert!(!s.user_disabled(&acme.id, "bob").await.unwrap());
    assert!(matches!(
        s.set_user_disabled("no-such-tenant", "bob", true).await,
        Err(StorageError::NotFound(_))
    ));
}

async fn scope_rows_and_docs_page_one_tenants_records(s: Arc<dyn Storage>) {
    let acme = s.create_tenant("acme").await.unwrap();
    let other = s.create_tenant("other").await.unwrap();
    let (alice, _) = device(&*s, &acme.id, "alice").await;
    let (mallory, _) = device(&*s, &other.id, "mallory").await;
    let actor = new_actor();
    let mut writers = Vec::new();
    let mut changes = Vec::new();
    for i in 0..5 {
        let (w, c) = ContactWriter::create(&actor, &format!("C{i}"));
        changes.push(w.push(c));
        writers.push(w);
    }
    push_as(&*s, &alice, &actor, &changes).await;
    let foreign_actor = new_actor();
    let (foreign, c) = ContactWriter::create(&foreign_actor, "Elsewhere");
    push_as(&*s, &mallory, &foreign_actor, &[foreign.push(c)]).await;

    let mut ids: Vec<String> = writers.iter().map(|w| w.record.clone()).collect();
    ids.sort();
    let mut after: Option<String> = None;
    let mut rows = Vec::new();
    loop {
        let page = s.scope_rows(&acme.id, after.as_deref(), 2).await.unwrap();
        assert!(page.len() <= 2);
        let Some(last) = page.last() else { break };
        after = Some(last.0.clone());
        rows.extend(page);
    }
    let got: Vec<&str> = rows.iter().map(|r| r.0.as_str()).collect();
    assert_eq!(got, ids, "every record of the tenant once, by id");
    for (id, kind, meta) in &rows {
        assert_eq!(kind, "contact");
        assert_eq!(meta.owner.as_deref(), Some("alice"), "the creator owns it");
        assert_eq!(meta.root.as_deref().unwrap_or(id), id);
        assert_eq!(meta.field, None);
    }
    assert!(s
        .scope_rows(&acme.id, Some(&ids[4]), 10)
        .await
        .unwrap()
        .is_empty());

    let wanted = vec![
        ids[3].clone(),
        ids[1].clone(),
        foreign.record.clone(),
        new_record(),
    ];
    let docs = s.scope_docs(&acme.id, &wanted).await.unwrap();
    let got: Vec<&str> = docs.iter().map(|(d, _)| d.record.as_str()).collect();
    assert_eq!(
        got,
        [ids[1].as_str(), ids[3].as_str()],
        "only this tenant's stored records, by id"
    );
    for (doc, meta) in &docs {
        let w = writers.iter().find(|w| w.record == doc.record).unwrap();
        assert_eq!(doc.kind, "contact");
        assert_eq!(doc_name(&doc.doc), doc_name(&w.doc.clone().save()));
        assert_eq!(meta.owner.as_deref(), Some("alice"));
    }
    assert!(s.scope_docs(&acme.id, &[]).await.unwrap().is_empty());
}

/// An attachment document for `contact`, naming blob `sha`, written by `actor`.
fn attachment(actor: &[u8], contact: &str, sha: &str, size: usize) -> (String, PushChange) {
    let record = new_record();
    let mut doc = AutoCommit::new().with_actor(ActorId::from(actor));
    doc.put(ROOT, "kind", "attachment").unwrap();
    doc.put(ROOT, "id", record.as_str()).unwrap();
    doc.put(ROOT, "contact_id", contact).unwrap();
    doc.put(ROOT, "category", "contract").unwrap();
    doc.put(ROOT, "blob", sha).unwrap();
    doc.put(ROOT, "mime", "image/png").unwrap();
    doc.put(ROOT, "size", size as i64).unwrap();
    doc.commit();
    let change = PushChange {
        record: record.clone(),
        kind: "attachment".into(),
        change: doc.get_last_local_change().unwrap().raw_bytes().to_vec(),
    };
    (record, change)
}

async fn attachments_name_a_blob_only_when_vouched(s: Arc<dyn Storage>) {
    use outpost_server::storage::blobs::Append;
    use sha2::{Digest, Sha256};
    let acme = s.create_tenant("acme").await.unwrap();
    let other = s.create_tenant("other").await.unwrap();
    let (wang, _) = device(&*s, &acme.id, "wang").await;
    let (li, _) = device(&*s, &acme.id, "li").await;
    let (mallory, _) = device(&*s, &other.id, "mallory").await;
    let bytes = b"%PDF-1.7 contract".to_vec();
    let sha = hex::encode(Sha256::digest(&bytes));
    let whole = Append {
        sha256: &sha,
        size: bytes.len() as u64,
        offset: 0,
        chunk: &bytes,
        readable: false,
        now_ms: 1_000,
        expired_before_ms: 0,
    };
    assert!(s.blob_append(&wang, whole).await.unwrap().complete);
    assert!(s.blob_attachments(&acme.id, &sha).await.unwrap().is_empty());

    // Wang uploaded the file whole: his attachment naming it is vouched.
    let actor = new_actor();
    let (contact, c1) = ContactWriter::create(&actor, "张伟");
    let (wang_att, a1) = attachment(&actor, &contact.record, &sha, bytes.len());
    push_as(&*s, &wang, &actor, &[contact.push(c1), a1]).await;
    let listed = s.blob_attachments(&acme.id, &sha).await.unwrap();
    assert_eq!(listed.len(), 1, "{listed:?}");
    let (id, kind, meta) = &listed[0];
    assert_eq!(
        (id.as_str(), kind.as_str()),
        (wang_att.as_str(), "attachment")
    );
    assert_eq!(meta.root.as_deref(), Some(contact.record.as_str()));
    assert_eq!(meta.owner.as_deref(), Some("wang"), "its contact's owner");
    assert_eq!(s.blob_records(&acme.id, &sha).await.unwrap(), listed);

    // Li learned the hash but neither holds the file nor sees wang's attachment: his own
    // attachment naming it is stored but not vouched.
    let li_actor = new_actor();
    let (li_contact, c2) = ContactWriter::create(&li_actor, "李娜");
    let (li_att, a2) = attachment(&li_actor, &li_contact.record, &sha, bytes.len());
    push_as(&*s, &li, &li_actor, &[li_contact.push(c2), a2]).await;
    assert!(s.document(&li_att).await.unwrap().is_some());
    assert_eq!(s.blob_attachments(&acme.id, &sha).await.unwrap(), listed);
    assert_eq!(s.blob_records(&acme.id, &sha).await.unwrap(), listed);

    // Attachments belong to their tenant.
    let m_actor = new_actor();
    let (m_contact, c3) = ContactWriter::create(&m_actor, "Elsewhere");
    let (_, a3) = attachment(&m_actor, &m_contact.record, &sha, bytes.len());
    push_as(&*s, &mallory, &m_actor, &[m_contact.push(c3), a3]).await;
    assert!(s
        .blob_attachments(&other.id, &sha)
        .await
        .unwrap()
        .is_empty());
    assert!(s.blob_records(&other.id, &sha).await.unwrap().is_empty());
    assert_eq!(s.blob_attachments(&acme.id, &sha).await.unwrap(), listed);
    let unknown = hex::encode(Sha256::digest(b"nobody attached this"));
    assert!(s
        .blob_attachments(&acme.id, &unknown)
        .await
        .unwrap()
        .is_empty());
}

async fn audit_chains_append_page_and_report_their_heads(s: Arc<dyn Storage>) {
    use outpost_server::audit::{self, event};
    use outpost_server::{AuditEvent, AuditHead};
    assert!(s.audit_heads().await.unwrap().is_empty());
    assert!(s.audit_tenants().await.unwrap().is_empty());
    assert!(s.audit_page("t-a", 0, 10).await.unwrap().is_empty());

    let ev = |tenant: &str, name: &str, n: u64| AuditEvent {
        tenant_id: tenant.into(),
        at_ms: 1_700_000_000_000 + n as i64,
        event: name.into(),
        user_id: Some("王伟".into()),
        device_id: Some(format!("device-{n}")),
        remote: Some("10.1.2.3:4567".into()),
        detail: serde_json::json!({ "n": n, "客户": "张伟" }).to_string(),
    };
    let mut a_rows = Vec::new();
    for n in 0..3 {
        a_rows.push(
            s.audit_append(ev("t-a", event::SYNC_PUSH, n))
                .await
                .unwrap(),
        );
    }
    // A server-wide event with nothing known about who sent it.
    let anonymous = AuditEvent {
        user_id: None,
        device_id: None,
        remote: None,
        ..ev("", event::AUTH_FAILED, 9)
    };
    let server_row = s.audit_append(anonymous.clone()).await.unwrap();
    let b_row = s
        .audit_append(ev("t-b", event::DEVICE_ENROLL, 0))
        .await
        .unwrap();

    // Each chain numbers from 1 and links every row to the one before.
    assert_eq!(a_rows.iter().map(|r| r.seq).collect::<Vec<_>>(), [1, 2, 3]);
    assert_eq!(a_rows[0].prev_hash, audit::GENESIS_HASH);
    for (i, row) in a_rows.iter().enumerate() {
        assert_eq!(row.event, ev("t-a", event::SYNC_PUSH, i as u64));
        assert_eq!(
            row.hash,
            audit::chain_hash(&row.prev_hash, row.seq, &row.event)
        );
        if i > 0 {
            assert_eq!(row.prev_hash, a_rows[i - 1].hash);
        }
    }
    assert_eq!((server_row.seq, b_row.seq), (1, 1));
    assert_eq!(server_row.event, anonymous, "missing fields stay missing");

    // Rows read back exactly as appended, paged by seq.
    assert_eq!(s.audit_page("t-a", 0, 100).await.unwrap(), a_rows);
    assert_eq!(
        s.audit_page("t-a", 1, 1).await.unwrap(),
        [a_rows[1].clone()]
    );
    assert!(s.audit_page("t-a", 3, 100).await.unwrap().is_empty());
    assert_eq!(
        s.audit_page("", 0, 100).await.unwrap(),
        std::slice::from_ref(&server_row)
    );

    let head = |r: &outpost_server::AuditRow| AuditHead {
        tenant_id: r.event.tenant_id.clone(),
        seq: r.seq,
        hash: r.hash.clone(),
    };
    assert_eq!(
        s.audit_heads().await.unwrap(),
        [head(&server_row), head(&a_rows[2]), head(&b_row)],
        "one head per chain, by tenant id"
    );
    assert_eq!(s.audit_tenants().await.unwrap(), ["", "t-a", "t-b"]);
    let reports = audit::verify(&*s, None).await.unwrap();
    assert_eq!(reports.len(), 3);
    assert!(reports.iter().all(|r| r.ok), "{reports:?}");
}

async fn routing_rules_turns_and_claims_are_per_tenant(s: Arc<dyn Storage>) {
    use outpost_server::routing::RoutingClaim;
    let acme = s.create_tenant("acme").await.unwrap();
    let other = s.create_tenant("other").await.unwrap();
    assert_eq!(s.routing_rules_json(&acme.id).await.unwrap(), None);
    assert!(s.routing_turns(&acme.id).await.unwrap().is_empty());
    assert!(s.routing_claims(&acme.id, 10).await.unwrap().is_empty());

    let first = r#"{"rules":[{"region":["广东省"],"reps":["alice"]},{"reps":["b","c"]}]}"#;
    s.set_routing_rules_json(&acme.id, first, 1).await.unwrap();
    assert_eq!(
        s.routing_rules_json(&acme.id).await.unwrap().as_deref(),
        Some(first)
    );
    assert_eq!(s.routing_rules_json(&other.id).await.unwrap(), None);

    // Turns count per rule, from 0.
    assert_eq!(s.routing_next_turn(&acme.id, 1).await.unwrap(), 0);
    assert_eq!(s.routing_next_turn(&acme.id, 1).await.unwrap(), 1);
    assert_eq!(s.routing_next_turn(&acme.id, 0).await.unwrap(), 0);
    assert_eq!(s.routing_next_turn(&acme.id, 1).await.unwrap(), 2);
    assert_eq!(s.routing_next_turn(&other.id, 1).await.unwrap(), 0);
    assert_eq!(s.routing_turns(&acme.id).await.unwrap(), [(0, 1), (1, 3)]);
    assert_eq!(s.routing_turns(&other.id).await.unwrap(), [(1, 1)]);

    // New rules replace the old ones and restart this tenant's turns only.
    let second = r#"{"rules":[{"reps":["d"]}]}"#;
    s.set_routing_rules_json(&acme.id, second, 2).await.unwrap();
    assert_eq!(
        s.routing_rules_json(&acme.id).await.unwrap().as_deref(),
        Some(second)
    );
    assert!(s.routing_turns(&acme.id).await.unwrap().is_empty());
    assert_eq!(s.routing_next_turn(&acme.id, 1).await.unwrap(), 0);
    assert_eq!(s.routing_turns(&other.id).await.unwrap(), [(1, 1)]);

    // A contact is claimed once; claims list newest first.
    let claim = |tenant: &str, record: &str, rep: &str, at_ms: i64| RoutingClaim {
        tenant_id: tenant.into(),
        record_id: record.into(),
        rep: rep.into(),
        reason: format!("rule 1: {rep}"),
        at_ms,
    };
    let c1 = claim(&acme.id, "c1", "alice", 10);
    let c2 = claim(&acme.id, "c2", "b", 20);
    let c3 = claim(&acme.id, "c3", "c", 30);
    for c in [&c1, &c2, &c3] {
        assert!(s.routing_claim(c).await.unwrap());
    }
    assert!(
        !s.routing_claim(&claim(&acme.id, "c1", "d", 40))
            .await
            .unwrap(),
        "claimed twice"
    );
    assert_eq!(
        s.routing_claims(&acme.id, 10).await.unwrap(),
        [c3.clone(), c2.clone(), c1.clone()],
        "the first claim stands"
    );
    assert_eq!(s.routing_claims(&acme.id, 2).await.unwrap(), [c3, c2]);
    // The same record id in another tenant is another contact.
    let elsewhere = claim(&other.id, "c1", "x", 50);
    assert!(s.routing_claim(&elsewhere).await.unwrap());
    assert_eq!(s.routing_claims(&other.id, 10).await.unwrap(), [elsewhere]);
}
