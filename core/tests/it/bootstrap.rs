//! A bootstrap page stored through the bulk path: new documents loaded and projected on the
//! pool, written together; documents of records the device has merged into them.

use crate::{open, TestResult};
use automerge::transaction::Transactable;
use automerge::{ActorId, AutoCommit, ObjType, ROOT};
use outpost_core::sync::protocol::{BootstrapResponse, DocSnapshot};
use outpost_core::sync::summary;
use outpost_core::{ContactPatch, DupQuery, NewContact, SearchOptions, SyncState};

/// A contact's document as another device wrote it.
fn contact_doc(
    actor: u8,
    id: &str,
    name: &str,
    phone: &str,
) -> Result<AutoCommit, automerge::AutomergeError> {
    let mut doc = AutoCommit::new().with_actor(ActorId::from([actor; 16].as_slice()));
    doc.put(ROOT, "id", id)?;
    doc.put(ROOT, "name", name)?;
    doc.put(ROOT, "company", "华强科技")?;
    doc.put(ROOT, "created_at", "2026-01-05T08:00:00.000Z")?;
    let phones = doc.put_object(ROOT, "phones", ObjType::List)?;
    doc.insert(&phones, 0, phone)?;
    doc.commit();
    Ok(doc)
}

fn snapshot(id: &str, doc: &mut AutoCommit) -> DocSnapshot {
    DocSnapshot {
        record: id.into(),
        kind: "contact".into(),
        doc: doc.save(),
        summary: None,
    }
}

/// The same snapshot with the summary a server stores beside the document.
fn summarized(id: &str, doc: &mut AutoCommit) -> DocSnapshot {
    DocSnapshot {
        summary: summary::summarize(id, "contact", doc),
        ..snapshot(id, doc)
    }
}

#[test]
fn a_page_is_stored_searchable_matchable_and_merged() -> TestResult {
    let dir = tempfile::tempdir()?;
    let mut store = open(&dir)?;
    // Created offline before the first sync: kept, and the server's document of another
    // record does not touch it.
    let mine = store.add_contact(NewContact {
        name: "李娜".into(),
        phones: vec!["13912345678".into()],
        ..Default::default()
    })?;
    // 300 new contacts (enough for the pool to split the work), one of them twice in the page
    // with concurrent titles (stored once, with the conflict), and one with a conflict of its own.
    let mut docs = Vec::new();
    for i in 0..300u32 {
        let id = format!("00000000-0000-7000-8000-{i:012}");
        let mut doc = contact_doc(9, &id, &format!("客户{i}"), &format!("+86138{i:08}"))?;
        docs.push(snapshot(&id, &mut doc));
    }
    let twice = "00000000-0000-7000-8000-000000000007";
    let mut a = contact_doc(9, twice, "客户7", "+8613800000007")?;
    let mut b = a.fork().with_actor(ActorId::from([8u8; 16].as_slice()));
    a.put(ROOT, "title", "经理")?;
    b.put(ROOT, "title", "总监")?;
    docs[7] = snapshot(twice, &mut a);
    docs.push(snapshot(twice, &mut b));
    let conflicted = "00000000-0000-7000-8000-000000000042";
    let mut c = contact_doc(9, conflicted, "客户42", "+8613800000042")?;
    let mut d = c.fork().with_actor(ActorId::from([7u8; 16].as_slice()));
    c.put(ROOT, "name", "客户四十二")?;
    d.put(ROOT, "name", "客户42号")?;
    c.merge(&mut d)?;
    docs[42] = snapshot(conflicted, &mut c);

    let applied = store.apply_bootstrap_page(
        BootstrapResponse {
            v: 1,
            docs,
            next: None,
            cursor: 9,
            log_id: None,
        },
        9,
    )?;
    assert_eq!(applied.pulled, 301);
    assert_eq!(
        applied
            .conflicted_records
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>(),
        vec![twice, conflicted]
    );
    assert_eq!(store.cursor()?, 9);
    assert_eq!(store.list_contacts(&Default::default())?.len(), 301);
    // Searchable at once, by name and by phone.
    let found = store.search("客户299", &SearchOptions::default())?;
    assert_eq!(found.first().map(|c| c.name.as_str()), Some("客户299"));
    assert_eq!(found[0].sync_state, SyncState::Synced);
    assert_eq!(
        store
            .search("13800000123", &SearchOptions::default())?
            .len(),
        1
    );
    // Match keys: the duplicate check finds a downloaded contact by its phone.
    let dups = store.find_duplicates(&DupQuery {
        phones: vec!["138 0000 0250".into()],
        ..Default::default()
    })?;
    assert_eq!(dups.first().map(|d| d.name.as_str()), Some("客户250"));
    // The record sent twice holds both titles, one of them shown; the offline one is kept.
    let title = store.get_contact(twice)?.title;
    assert!(
        matches!(title.as_deref(), Some("经理" | "总监")),
        "{title:?}"
    );
    assert_eq!(store.contact_conflicts(twice)?.len(), 1);
    assert_eq!(store.get_contact(&mine.id)?.name, "李娜");
    assert_eq!(
        store.outbox_len()?,
        1,
        "only the offline record waits to be pushed"
    );
    Ok(())
}

fn page(docs: Vec<DocSnapshot>) -> BootstrapResponse {
    BootstrapResponse {
        v: 1,
        docs,
        next: None,
        cursor: 3,
        log_id: None,
    }
}

#[test]
fn a_page_with_summaries_stores_what_loading_the_documents_stores() -> TestResult {
    // The same documents: one device gets them with the server's summaries (and does not load
    // them), the other without.
    let mut plain = Vec::new();
    let mut with = Vec::new();
    for i in 0..120u32 {
        let id = format!("00000000-0000-7000-8000-{i:012}");
        let mut doc = contact_doc(9, &id, &format!("客户{i}"), &format!("+86139{i:08}"))?;
        if i % 3 == 0 {
            doc.put(ROOT, "notes", format!("第{i}次拜访"))?;
            doc.put(ROOT, "industry", "制造")?;
            doc.commit();
        }
        if i == 5 {
            let mut other = doc.fork().with_actor(ActorId::from([4u8; 16].as_slice()));
            doc.put(ROOT, "title", "经理")?;
            other.put(ROOT, "title", "总监")?;
            doc.merge(&mut other)?;
        }
        plain.push(snapshot(&id, &mut doc));
        with.push(summarized(&id, &mut doc));
    }
    // A summary sent with another record's document is not used: that record is loaded.
    let lied = "00000000-0000-7000-8000-000000000119";
    let mut real = contact_doc(9, lied, "真名", "+8613900000119")?;
    let mut other = contact_doc(9, "someone-else", "别人", "+8613900009999")?;
    with[119] = DocSnapshot {
        summary: summary::summarize("someone-else", "contact", &mut other),
        ..snapshot(lied, &mut real)
    };
    plain[119] = snapshot(lied, &mut real);
    assert!(with.iter().all(|s| s.summary.is_some()));

    let (da, db) = (tempfile::tempdir()?, tempfile::tempdir()?);
    let (mut a, mut b) = (open(&da)?, open(&db)?);
    let applied_a = a.apply_bootstrap_page(page(with), 3)?;
    let applied_b = b.apply_bootstrap_page(page(plain), 3)?;
    assert_eq!(applied_a.pulled, 120);
    assert_eq!(applied_a.conflicted_records, applied_b.conflicted_records);
    assert_eq!(applied_a.conflicted_records.len(), 1);
    assert_eq!(
        a.list_contacts(&Default::default())?,
        b.list_contacts(&Default::default())?
    );
    assert_eq!(a.get_contact(lied)?.name, "真名");
    let c3 = a.get_contact("00000000-0000-7000-8000-000000000003")?;
    assert_eq!(c3.extra.get("industry").map(String::as_str), Some("制造"));
    assert_eq!(c3.sync_state, SyncState::Synced);
    for q in ["客户77", "13900000042", "拜访"] {
        let ids = |s: &outpost_core::Store| -> Result<Vec<String>, outpost_core::Error> {
            Ok(s.search(q, &SearchOptions::default())?
                .into_iter()
                .map(|c| c.id)
                .collect())
        };
        assert_eq!(ids(&a)?, ids(&b)?, "search {q}");
        assert!(!ids(&a)?.is_empty(), "search {q}");
    }
    let dup = DupQuery {
        phones: vec!["139 0000 0088".into()],
        ..Default::default()
    };
    assert_eq!(a.find_duplicates(&dup)?, b.find_duplicates(&dup)?);
    let conflicted = "00000000-0000-7000-8000-000000000005";
    assert_eq!(
        a.contact_conflicts(conflicted)?,
        b.contact_conflicts(conflicted)?
    );
    // A record stored from its summary loads its document when edited: the edit follows what
    // the server had (heads), keeps every other field, and is queued once.
    let id = "00000000-0000-7000-8000-000000000009";
    let patch = || ContactPatch {
        title: Some("采购".into()),
        ..Default::default()
    };
    let edited_a = a.edit_contact(id, patch())?;
    let edited_b = b.edit_contact(id, patch())?;
    assert_eq!(edited_a.notes.as_deref(), Some("第9次拜访"));
    assert_eq!(edited_a.title, edited_b.title);
    assert_eq!(edited_a.extra, edited_b.extra);
    assert_eq!(a.outbox_len()?, 1);
    assert_eq!(a.contact_history(id)?.len(), b.contact_history(id)?.len());
    Ok(())
}
