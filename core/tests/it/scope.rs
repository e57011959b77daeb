//! Scoped sync on the device: restricted fields in documents of their own, permissions from the
//! server's scope, and purging records that left the user's scope.

use super::{open, zhang, TestResult};
use outpost_core::access::{restricted_id, Permissions};
use outpost_core::sync::protocol::{
    BootstrapResponse, DocSnapshot, LogEntry, ScopeInfo, SyncResponse,
};
use outpost_core::{
    CheckIn, DupQuery, Error, NewAttachment, NewContact, NewDeal, SearchOptions, Store,
    StoreOptions, VisitFilter,
};
use std::collections::BTreeSet;

const AMOUNT: f64 = 123_456.75;

fn store_at(dir: &tempfile::TempDir, name: &str, user: &str) -> Result<Store, Error> {
    Store::open(
        dir.path().join(name),
        StoreOptions {
            user: user.into(),
            ..Default::default()
        },
    )
}

fn response(entries: Vec<LogEntry>, scope: Option<ScopeInfo>) -> SyncResponse {
    SyncResponse {
        v: 1,
        rejected: Vec::new(),
        entries,
        cursor: 1,
        more: false,
        server_time_ms: 1_800_000_000_000,
        log_id: None,
        deferred: Vec::new(),
        scope,
    }
}

fn scope_of(role: &str, epoch: u64) -> ScopeInfo {
    ScopeInfo {
        epoch,
        user: "rep1".into(),
        role: role.into(),
        permissions: Permissions::default_for(role)
            .map(|p| p.names())
            .unwrap_or_default(),
        ..Default::default()
    }
}

/// Acknowledges everything in the store's outbox, as a server would, with `scope`; returns the
/// changes that were sent (as log entries another device would receive).
fn ack_all(store: &mut Store, scope: Option<ScopeInfo>) -> Result<Vec<LogEntry>, Error> {
    let outgoing = store.prepare_sync(10_000, None)?;
    let entries = outgoing
        .request
        .changes
        .iter()
        .enumerate()
        .map(|(i, c)| LogEntry {
            seq: i as u64 + 1,
            record: c.record.clone(),
            kind: c.kind.clone(),
            change: c.change.clone(),
        })
        .collect();
    store.apply_sync_response(&outgoing, response(Vec::new(), scope))?;
    Ok(entries)
}

/// The stored document bytes of a record, read straight from the database file.
fn doc_bytes(store: &Store, id: &str) -> Result<Vec<u8>, Box<dyn std::error::Error>> {
    let conn = rusqlite::Connection::open(store.path())?;
    Ok(conn.query_row("SELECT doc FROM records WHERE id = ?1", [id], |r| r.get(0))?)
}

#[derive(Default)]
struct Seen(std::sync::Mutex<Vec<outpost_core::RecordChange>>);

impl outpost_core::ChangeListener for Seen {
    fn on_change(&self, change: &outpost_core::RecordChange) {
        if let Ok(mut v) = self.0.lock() {
            v.push(change.clone());
        }
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// Whether the (uncompressed) document holds the number anywhere in its history.
fn doc_holds(bytes: &[u8], value: f64) -> Result<bool, Box<dyn std::error::Error>> {
    let mut doc = automerge::AutoCommit::load(bytes)?;
    Ok(contains(&doc.save_nocompress(), &value.to_le_bytes()))
}

#[test]
fn restricted_fields_live_in_their_own_documents_and_meet_their_deal_in_any_order() -> TestResult {
    let dir = tempfile::tempdir()?;
    let mut a = store_at(&dir, "a.db", "manager1")?;
    let c = a.add_contact(zhang())?;
    let d = a.add_deal(NewDeal {
        title: "ERP 项目".into(),
        contact_id: c.id.clone(),
        amount: Some(AMOUNT),
        discount: Some(12.5),
        ..Default::default()
    })?;
    assert_eq!(d.amount, Some(AMOUNT));
    assert_eq!(d.discount, Some(12.5));
    assert_eq!(d.contract_amount, None);
    let read = a.get_deal(&d.id)?;
    assert_eq!(
        (read.amount, read.discount, read.contract_amount),
        (Some(AMOUNT), Some(12.5), None)
    );
    // The deal's document never saw the amount; its restricted document holds it.
    assert!(!doc_holds(&doc_bytes(&a, &d.id)?, AMOUNT)?);
    assert!(doc_holds(
        &doc_bytes(&a, &restricted_id(&d.id, "amount"))?,
        AMOUNT
    )?);
    assert!(doc_bytes(&a, &restricted_id(&d.id, "contract_amount")).is_err());

    let entries = ack_all(&mut a, None)?;
    let kinds: BTreeSet<&str> = entries.iter().map(|e| e.kind.as_str()).collect();
    assert_eq!(
        kinds,
        BTreeSet::from(["contact", "deal", "restricted"]),
        "each restricted field travels as its own record"
    );
    let (restricted, rest): (Vec<LogEntry>, Vec<LogEntry>) =
        entries.into_iter().partition(|e| e.kind == "restricted");

    // Restricted documents first, the deal later.
    let mut before = store_at(&dir, "before.db", "manager2")?;
    let o = before.prepare_sync(0, None)?;
    before.apply_sync_response(&o, response(restricted.clone(), None))?;
    assert!(before.get_deal(&d.id).is_err(), "no deal yet");
    let o = before.prepare_sync(0, None)?;
    before.apply_sync_response(&o, response(rest.clone(), None))?;
    let got = before.get_deal(&d.id)?;
    assert_eq!((got.amount, got.discount), (Some(AMOUNT), Some(12.5)));

    // The deal first, its restricted documents later.
    let mut after = store_at(&dir, "after.db", "manager3")?;
    let seen = std::sync::Arc::new(Seen::default());
    after.set_change_listener(Some(seen.clone()));
    let o = after.prepare_sync(0, None)?;
    after.apply_sync_response(&o, response(rest, None))?;
    assert_eq!(after.get_deal(&d.id)?.amount, None, "not readable yet");
    let o = after.prepare_sync(0, None)?;
    after.apply_sync_response(&o, response(restricted, None))?;
    let got = after.get_deal(&d.id)?;
    assert_eq!((got.amount, got.discount), (Some(AMOUNT), Some(12.5)));
    assert_eq!(
        after.list_deals(&Default::default())?[0].amount,
        Some(AMOUNT)
    );
    // The app hears about the deal when its amount arrives.
    let heard = seen.0.lock().map(|v| v.clone()).unwrap_or_default();
    assert_eq!(
        heard.iter().filter(|c| c.id == d.id).count(),
        3,
        "the deal, then each restricted field: {heard:?}"
    );
    assert!(heard.iter().all(|c| !c.id.contains('_')));

    // Editing the amount writes the restricted document, and the history names the field.
    let edited = a.edit_deal(&d.id, Some(99_000.0), Some("复核".into()), None)?;
    assert_eq!(edited.amount, Some(99_000.0));
    assert_eq!(edited.notes.as_deref(), Some("复核"));
    assert!(!doc_holds(&doc_bytes(&a, &d.id)?, 99_000.0)?);
    let cleared = a.set_deal_field(&d.id, "discount", None)?;
    assert_eq!(cleared.discount, None);
    let history = a.deal_history(&d.id)?;
    let amounts: Vec<Option<String>> = history
        .iter()
        .flat_map(|e| e.changes.iter())
        .filter(|c| c.field == "amount")
        .map(|c| c.new.clone())
        .collect();
    assert_eq!(amounts.len(), 2, "{history:?}");
    assert!(amounts[1]
        .as_deref()
        .is_some_and(|a| a.starts_with("99000")));
    assert!(history
        .iter()
        .flat_map(|e| e.changes.iter())
        .any(|c| c.field == "discount" && c.new.is_none()));
    // Bad fields and values are refused naming them.
    assert!(matches!(
        a.set_deal_field(&d.id, "title", Some(1.0)),
        Err(Error::Validation { ref field, .. }) if field == "field"
    ));
    assert!(matches!(
        a.set_deal_field(&d.id, "discount", Some(101.0)),
        Err(Error::Validation { ref field, .. }) if field == "discount"
    ));
    assert!(matches!(
        a.set_deal_field("no-such-deal", "amount", Some(1.0)),
        Err(Error::NotFound { .. })
    ));
    Ok(())
}

#[test]
fn an_older_deal_document_with_its_amount_inside_still_shows_it() -> TestResult {
    use automerge::{transaction::Transactable, ROOT};
    let dir = tempfile::tempdir()?;
    let mut store = open(&dir)?;
    let mut doc = automerge::AutoCommit::new();
    for (k, v) in [
        ("id", "legacy-deal"),
        ("kind", "deal"),
        ("title", "老项目"),
        ("contact_id", "c1"),
        ("stage", "lead"),
        ("created_at", "2025-01-01T00:00:00.000Z"),
    ] {
        doc.put(ROOT, k, v)?;
    }
    doc.put(ROOT, "amount", 5_000.0)?;
    doc.commit();
    store.apply_bootstrap_page(
        BootstrapResponse {
            v: 1,
            docs: vec![DocSnapshot {
                record: "legacy-deal".into(),
                kind: "deal".into(),
                doc: doc.save(),
                summary: None,
            }],
            next: None,
            cursor: 1,
            log_id: None,
        },
        1,
    )?;
    assert_eq!(store.get_deal("legacy-deal")?.amount, Some(5_000.0));
    // A restricted document, once there, wins over the old value.
    let d = store.set_deal_field("legacy-deal", "amount", Some(6_000.0))?;
    assert_eq!(d.amount, Some(6_000.0));
    assert_eq!(store.get_deal("legacy-deal")?.amount, Some(6_000.0));
    // A document under another id claiming the same field is kept but changes nothing.
    let mut impostor = automerge::AutoCommit::new();
    for (k, v) in [
        ("kind", "restricted"),
        ("of", "legacy-deal"),
        ("field", "amount"),
    ] {
        impostor.put(ROOT, k, v)?;
    }
    impostor.put(ROOT, "value", 1.0)?;
    impostor.commit();
    store.apply_fetched_records(vec![DocSnapshot {
        record: "impostor".into(),
        kind: "restricted".into(),
        doc: impostor.save(),
        summary: None,
    }])?;
    assert_eq!(store.get_deal("legacy-deal")?.amount, Some(6_000.0));
    Ok(())
}

#[test]
fn a_known_role_is_enforced_locally_and_an_unknown_one_is_left_to_the_server() -> TestResult {
    let dir = tempfile::tempdir()?;
    let mut store = open(&dir)?;
    let c = store.add_contact(zhang())?;
    // Never synced: nothing known, everything allowed.
    assert_eq!(store.access()?, None);
    let early = store.add_deal(NewDeal {
        title: "早期".into(),
        contact_id: c.id.clone(),
        amount: Some(1_000.0),
        ..Default::default()
    })?;
    assert_eq!(early.amount, Some(1_000.0));

    ack_all(&mut store, Some(scope_of("rep", 7)))?;
    let access = store
        .access()?
        .ok_or("access should be known after a sync")?;
    assert_eq!(access.role, "rep");
    assert_eq!(access.epoch, 7);
    assert!(access.allows("deal:write"));
    assert!(!access.allows("field:amount:write"));

    let refused = store.add_deal(NewDeal {
        title: "新项目".into(),
        contact_id: c.id.clone(),
        amount: Some(AMOUNT),
        ..Default::default()
    });
    match refused {
        Err(e @ Error::Permission { .. }) => {
            assert_eq!(
                e.to_string(),
                "permission denied: role rep may not write field amount"
            );
            assert_eq!(e.kind(), "permission");
        }
        other => panic!("expected a permission refusal, got {other:?}"),
    }
    assert_eq!(
        store.list_deals(&Default::default())?.len(),
        1,
        "nothing of the refused deal was written"
    );
    assert!(matches!(
        store.set_deal_field(&early.id, "discount", Some(5.0)),
        Err(Error::Permission { ref action, .. }) if action == "write field discount"
    ));
    assert_eq!(store.status()?.outbox_len, 0);
    // What the role may do still works.
    let plain = store.add_deal(NewDeal {
        title: "无金额".into(),
        contact_id: c.id.clone(),
        ..Default::default()
    })?;
    assert_eq!(plain.amount, None);
    let other = store.add_contact(NewContact {
        name: "李娜".into(),
        ..Default::default()
    })?;
    store.merge_contacts(&c.id, &other.id)?;
    // A rep may not hand a record to someone else (`assign`), but may keep it.
    assert!(matches!(
        store.edit_deal(&plain.id, None, None, Some("rep2".into())),
        Err(Error::Permission { ref action, .. }) if action == "change a deal's owner"
    ));
    assert!(matches!(
        store.edit_contact(&c.id, outpost_core::ContactPatch { owner: Some("rep2".into()), ..Default::default() }),
        Err(Error::Permission { ref action, .. }) if action == "change a contact's owner"
    ));
    // Nor through the generic `set` and `unset` (issue 17: no path around the early check).
    assert!(matches!(
        store.edit_contact(&c.id, outpost_core::ContactPatch {
            set: std::collections::BTreeMap::from([("owner".to_string(), "rep2".to_string())]),
            ..Default::default()
        }),
        Err(Error::Permission { ref action, .. }) if action == "change a contact's owner"
    ));
    assert!(matches!(
        store.edit_contact(&c.id, outpost_core::ContactPatch { unset: vec!["owner".into()], ..Default::default() }),
        Err(Error::Permission { ref action, .. }) if action == "change a contact's owner"
    ));
    store.edit_deal(&plain.id, None, Some("跟进".into()), Some("rep1".into()))?;

    // Finance may write amounts but not deals, contacts or merges.
    ack_all(&mut store, Some(scope_of("finance", 8)))?;
    assert!(matches!(
        store.add_contact(NewContact { name: "王芳".into(), ..Default::default() }),
        Err(Error::Permission { ref action, ref role }) if action == "write contact" && role == "finance"
    ));
    assert!(matches!(
        store.unmerge_contact(&other.id),
        Err(Error::Permission { ref action, .. }) if action == "unmerge contacts"
    ));
    assert!(matches!(
        store.invalidate_contact(&c.id, "重复"),
        Err(Error::Permission { ref action, .. }) if action == "invalidate records"
    ));
    let set = store.set_deal_field(&plain.id, "contract_amount", Some(42_000.0))?;
    assert_eq!(set.contract_amount, Some(42_000.0));
    // An amount edit alone needs no deal:write; with notes it does.
    assert_eq!(
        store.edit_deal(&plain.id, Some(10.0), None, None)?.amount,
        Some(10.0)
    );
    assert!(matches!(
        store.edit_deal(&plain.id, None, Some("x".into()), None),
        Err(Error::Permission { ref action, .. }) if action == "write deal"
    ));
    Ok(())
}

/// Item 1 (device part): once the device knows its permissions, a user without
/// `flow:configure` may not replace the tenant's flow settings (a manager may).
#[test]
fn flow_settings_need_flow_configure_once_the_role_is_known() -> TestResult {
    let dir = tempfile::tempdir()?;
    let mut store = open(&dir)?;
    let mut gateless = outpost_core::FlowConfig::default();
    for stage in &mut gateless.stages {
        stage.requires.clear();
    }
    // Never synced: nothing known, the server decides.
    store.set_flow_config(&gateless)?;
    store.set_flow_config(&outpost_core::FlowConfig::default())?;
    ack_all(&mut store, Some(scope_of("rep", 1)))?;
    match store.set_flow_config(&gateless) {
        Err(e @ Error::Permission { .. }) => assert_eq!(
            e.to_string(),
            "permission denied: role rep may not change the tenant's flow settings"
        ),
        other => panic!("expected a permission refusal, got {other:?}"),
    }
    assert!(matches!(
        store.set_flow_config_json("{}"),
        Err(Error::Permission { .. })
    ));
    assert_eq!(store.flow_config()?, outpost_core::FlowConfig::default());
    ack_all(&mut store, Some(scope_of("manager", 2)))?;
    store.set_flow_config(&gateless)?;
    assert_eq!(store.flow_config()?, gateless);
    Ok(())
}

#[test]
fn purging_removes_every_trace_and_reconciling_keeps_unsent_records() -> TestResult {
    let dir = tempfile::tempdir()?;
    let mut store = open(&dir)?;
    let gone = store.add_contact(zhang())?;
    let visit = store.check_in(CheckIn {
        contact_id: gone.id.clone(),
        lat: 22.54,
        lon: 113.95,
        accuracy_m: Some(10.0),
        device_time: None,
        elapsed_ms: None,
        coords: None,
    })?;
    let file = b"contract scan of the purged customer".to_vec();
    let sha = outpost_core::sha256_hex(&file);
    let attachment = store.attach(NewAttachment {
        contact_id: gone.id.clone(),
        category: "contract".into(),
        mime: "application/pdf".into(),
        bytes: file,
        ..Default::default()
    })?;
    let deal = store.add_deal(NewDeal {
        title: "项目".into(),
        contact_id: gone.id.clone(),
        amount: Some(AMOUNT),
        ..Default::default()
    })?;
    let kept = store.add_contact(NewContact {
        name: "李娜".into(),
        company: Some("上海浦东贸易".into()),
        phones: vec!["139 1234 5678".into()],
        ..Default::default()
    })?;
    let listed_only = store.add_contact(NewContact {
        name: "王芳".into(),
        ..Default::default()
    })?;
    ack_all(&mut store, Some(scope_of("rep", 3)))?;
    assert_eq!(store.status()?.outbox_len, 0);
    // `kept` has an unsent edit: it must survive although the server does not list it.
    store.edit_contact(
        &kept.id,
        outpost_core::ContactPatch {
            title: Some("总监".into()),
            ..Default::default()
        },
    )?;
    assert!(store.blob(&sha)?.is_some());
    assert_eq!(store.search("张伟", &SearchOptions::default())?.len(), 1);

    let conn = rusqlite::Connection::open(store.path())?;
    let gone_rid: i64 =
        conn.query_row("SELECT rid FROM records WHERE id = ?1", [&gone.id], |r| {
            r.get(0)
        })?;
    let fts_rows = |rid: i64| -> rusqlite::Result<i64> {
        conn.query_row(
            "SELECT count(*) FROM contact_search WHERE rowid = ?1",
            [rid],
            |r| r.get(0),
        )
    };
    assert_eq!(fts_rows(gone_rid)?, 1);
    let key_rows = |rid: i64| -> rusqlite::Result<i64> {
        conn.query_row(
            "SELECT count(*) FROM contact_keys WHERE rid = ?1",
            [rid],
            |r| r.get(0),
        )
    };
    assert!(key_rows(gone_rid)? > 0);
    let listed = BTreeSet::from([listed_only.id.clone(), "entered-scope".to_string()]);
    let diff = store.reconcile_scope(&listed)?;
    // contact, visit, attachment, deal and the deal's amount document.
    assert_eq!(diff.purged, 5);
    assert_eq!(diff.missing, ["entered-scope"]);

    assert!(matches!(
        store.get_contact(&gone.id),
        Err(Error::NotFound { .. })
    ));
    assert!(store.get_visit(&visit.id).is_err());
    assert!(store.get_attachment(&attachment.id).is_err());
    assert!(store.get_deal(&deal.id).is_err());
    assert!(store
        .list_visits(&VisitFilter {
            contact_id: Some(gone.id.clone()),
            ..Default::default()
        })?
        .is_empty());
    assert!(store.list_attachments(&gone.id)?.is_empty());
    assert!(store.search("张伟", &SearchOptions::default())?.is_empty());
    assert!(store.search("华强", &SearchOptions::default())?.is_empty());
    assert!(store
        .find_duplicates(&DupQuery {
            phones: vec!["138 0013 8000".into()],
            ..Default::default()
        })?
        .is_empty());
    assert_eq!(store.blob(&sha)?, None, "the orphaned file is gone");
    assert_eq!(fts_rows(gone_rid)?, 0, "search rows");
    assert_eq!(key_rows(gone_rid)?, 0, "match keys");
    for (table, sql) in [
        ("records", "SELECT count(*) FROM records WHERE id IN (?1, ?2)"),
        (
            "restricted_values",
            "SELECT count(*) FROM restricted_values WHERE of IN (?1, ?2)",
        ),
        (
            "contact_keys",
            "SELECT count(*) FROM contact_keys k LEFT JOIN records r ON r.rid = k.rid WHERE r.rid IS NULL AND ?1 <> ?2",
        ),
    ] {
        let n: i64 = conn.query_row(sql, [&gone.id, &deal.id], |r| r.get(0))?;
        assert_eq!(n, 0, "{table}");
    }
    // The unsent record and the listed one stay, searchable.
    assert_eq!(store.get_contact(&kept.id)?.title.as_deref(), Some("总监"));
    assert_eq!(store.search("李娜", &SearchOptions::default())?.len(), 1);
    assert_eq!(
        store
            .find_duplicates(&DupQuery {
                phones: vec!["139 1234 5678".into()],
                ..Default::default()
            })?
            .len(),
        1
    );
    assert!(store.get_contact(&listed_only.id).is_ok());

    // A direct purge removes even a record with unsent changes.
    assert_eq!(
        store.purge_records(&[kept.id.clone(), "unknown".into()])?,
        1
    );
    assert!(store.get_contact(&kept.id).is_err());
    assert_eq!(store.status()?.outbox_len, 0);
    assert!(store.search("李娜", &SearchOptions::default())?.is_empty());
    Ok(())
}

#[test]
fn fetched_records_are_stored_and_a_blob_still_used_is_kept() -> TestResult {
    let dir = tempfile::tempdir()?;
    let mut source = store_at(&dir, "src.db", "manager1")?;
    let c = source.add_contact(zhang())?;
    let d = source.add_deal(NewDeal {
        title: "项目".into(),
        contact_id: c.id.clone(),
        contract_amount: Some(88_000.0),
        ..Default::default()
    })?;
    let entries = ack_all(&mut source, None)?;
    // Another device fetches the records (as `POST /v1/records` answers: whole documents).
    let mut device = open(&dir)?;
    let mut docs = Vec::new();
    for e in &entries {
        if docs.iter().any(|s: &DocSnapshot| s.record == e.record) {
            continue;
        }
        docs.push(DocSnapshot {
            record: e.record.clone(),
            kind: e.kind.clone(),
            doc: doc_bytes(&source, &e.record)?,
            summary: None,
        });
    }
    // The restricted document first: the deal row is rebuilt when the deal follows.
    docs.sort_by_key(|s| s.kind != "restricted");
    let applied = device.apply_fetched_records(docs)?;
    assert_eq!(applied.pulled, 3);
    assert_eq!(device.get_deal(&d.id)?.contract_amount, Some(88_000.0));
    assert_eq!(device.search("张伟", &SearchOptions::default())?.len(), 1);
    // Purging only the restricted document clears the deal's value and keeps the deal.
    assert_eq!(
        device.purge_records(&[restricted_id(&d.id, "contract_amount")])?,
        1
    );
    assert_eq!(device.get_deal(&d.id)?.contract_amount, None);

    // Two attachments share a file: purging one keeps the file for the other.
    let bytes = b"shared quotation".to_vec();
    let sha = outpost_core::sha256_hex(&bytes);
    let mut ids = Vec::new();
    for _ in 0..2 {
        ids.push(
            device
                .attach(NewAttachment {
                    contact_id: c.id.clone(),
                    category: "quotation".into(),
                    mime: "application/pdf".into(),
                    bytes: bytes.clone(),
                    ..Default::default()
                })?
                .id,
        );
    }
    assert_eq!(device.purge_records(&ids[..1])?, 1);
    assert!(device.blob(&sha)?.is_some());
    assert_eq!(device.purge_records(&ids[1..])?, 1);
    assert_eq!(device.blob(&sha)?, None);
    Ok(())
}
