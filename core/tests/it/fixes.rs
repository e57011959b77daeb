//! The smaller fixes of issue 17, item 15, through the store's public API.

use super::{open, zhang, TestResult};
use outpost_core::sync::protocol::DocSnapshot;
use outpost_core::{
    CheckIn, ClockReference, ContactPatch, ContactStatus, Error, NewContact, NewDeal,
    SearchOptions, Store, Verdict,
};

fn at(contact: &str, accuracy: Option<f64>, time: &str) -> CheckIn {
    CheckIn {
        contact_id: contact.to_string(),
        lat: 22.5431,
        lon: 113.9480,
        accuracy_m: accuracy,
        device_time: Some(time.to_string()),
        elapsed_ms: None,
        coords: None,
    }
}

/// A record's document as another device would receive it.
fn snapshot(dir: &tempfile::TempDir, id: &str) -> Result<DocSnapshot, rusqlite::Error> {
    let conn = rusqlite::Connection::open(dir.path().join("rep.db"))?;
    conn.query_row(
        "SELECT id, kind, doc FROM records WHERE id = ?1",
        [id],
        |r| {
            Ok(DocSnapshot {
                record: r.get(0)?,
                kind: r.get(1)?,
                doc: r.get(2)?,
                summary: None,
            })
        },
    )
}

#[test]
fn a_future_dated_check_in_does_not_hide_a_stale_deal() -> TestResult {
    let dir = tempfile::tempdir()?;
    let mut store = open(&dir)?;
    let c = store.add_contact(zhang())?;
    let d = store.add_deal(NewDeal {
        title: "华强 MES".into(),
        contact_id: c.id.clone(),
        ..Default::default()
    })?;
    let now = chrono::Local::now().fixed_offset();
    let in_days = |n: i64| (now + chrono::Duration::days(n)).date_naive().to_string();
    let stale = |store: &Store| -> Result<Vec<String>, Error> {
        Ok(store
            .alerts(Some(&in_days(4)))?
            .into_iter()
            .filter(|a| a.kind == "deal_stale")
            .map(|a| a.record_id)
            .collect())
    };
    assert_eq!(stale(&store)?, std::slice::from_ref(&d.id));
    // The phone's clock was set a month ahead: monotonic time since the last server contact
    // gives it away, and the check-in is dated in the future.
    store.set_clock_reference(ClockReference {
        wall_ms: now.timestamp_millis(),
        elapsed_ms: 1_000_000,
    })?;
    let mut ahead = at(
        &c.id,
        Some(10.0),
        &(now + chrono::Duration::days(30)).to_rfc3339(),
    );
    ahead.elapsed_ms = Some(1_000_000 + 60_000);
    let v = store.check_in_verified(ahead, false)?;
    assert_eq!(v.check.verdict, Verdict::ClockSuspect);
    assert_eq!(stale(&store)?, std::slice::from_ref(&d.id), "still stale");
    let today = store.today(Some(&in_days(4)))?;
    assert!(
        today
            .iter()
            .flat_map(|i| &i.reasons)
            .any(|r| r.kind == "deal_stale"),
        "{today:?}"
    );
    Ok(())
}

#[test]
fn resolve_picks_one_of_the_competing_values_of_a_conflict() -> TestResult {
    let (dir_a, dir_b) = (tempfile::tempdir()?, tempfile::tempdir()?);
    let mut a = open(&dir_a)?;
    let mut b = open(&dir_b)?;
    let c = a.add_contact(zhang())?;
    b.apply_fetched_records(vec![snapshot(&dir_a, &c.id)?])?;
    let edit = |title: &str| ContactPatch {
        title: Some(title.into()),
        ..Default::default()
    };
    a.edit_contact(&c.id, edit("采购总监"))?;
    b.edit_contact(&c.id, edit("采购部长"))?;
    a.apply_fetched_records(vec![snapshot(&dir_b, &c.id)?])?;
    let conflicts = a.contact_conflicts(&c.id)?;
    assert_eq!(conflicts.len(), 1);
    assert_eq!(conflicts[0].field, "title");
    let before = a.contact_history(&c.id)?.len();

    // A field without a conflict, or a value that is not one of the competing values: refused,
    // naming the field and saying what may be chosen; nothing written.
    for (field, value, says) in [
        ("company", "别的公司", "no conflict"),
        ("title", "销售", "采购总监"),
    ] {
        match a.resolve_contact_conflict(&c.id, field, value) {
            Err(Error::Validation {
                field: f, reason, ..
            }) => {
                assert_eq!(f, field);
                assert!(reason.contains(says), "{reason}");
            }
            other => panic!("{field}={value} should be refused, got {other:?}"),
        }
    }
    assert_eq!(a.contact_history(&c.id)?.len(), before);
    let resolved = a.resolve_contact_conflict(&c.id, "title", "采购部长")?;
    assert_eq!(resolved.title.as_deref(), Some("采购部长"));
    assert!(a.contact_conflicts(&c.id)?.is_empty());
    Ok(())
}

#[test]
fn invalidating_again_keeps_the_first_reason() -> TestResult {
    let dir = tempfile::tempdir()?;
    let mut store = open(&dir)?;
    let c = store.add_contact(zhang())?;
    store.invalidate_contact(&c.id, "公司已注销")?;
    match store.invalidate_contact(&c.id, "重复录入") {
        Err(Error::Validation { field, reason, .. }) => {
            assert_eq!(field, "contact");
            assert!(reason.contains("公司已注销"), "{reason}");
        }
        other => panic!("a second invalidation should be refused, got {other:?}"),
    }
    let got = store.get_contact(&c.id)?;
    assert_eq!(got.status, ContactStatus::Invalid);
    assert_eq!(
        got.invalidation.map(|i| i.reason).as_deref(),
        Some("公司已注销")
    );
    Ok(())
}

#[test]
fn a_merged_contacts_own_name_finds_its_survivor() -> TestResult {
    let dir = tempfile::tempdir()?;
    let mut store = open(&dir)?;
    let winner = store.add_contact(zhang())?;
    let loser = store.add_contact(NewContact {
        name: "张小伟".into(),
        company: Some("华强科技".into()),
        ..Default::default()
    })?;
    store.merge_contacts(&winner.id, &loser.id)?;
    let found = store.search("张小伟", &SearchOptions::default())?;
    assert_eq!(
        found.iter().map(|c| c.id.as_str()).collect::<Vec<_>>(),
        [winner.id.as_str()]
    );
    // Found once, whether by the survivor's own name or the merged one's.
    let both = store.search("张", &SearchOptions::default())?;
    assert_eq!(
        both.iter().map(|c| c.id.as_str()).collect::<Vec<_>>(),
        [winner.id.as_str()]
    );
    Ok(())
}

#[test]
fn a_check_in_without_accuracy_is_not_verified_and_null_island_is_refused() -> TestResult {
    let dir = tempfile::tempdir()?;
    let mut store = open(&dir)?;
    let c = store.add_contact(zhang())?;
    let v = store.check_in_verified(at(&c.id, None, "2026-11-23T09:00:00+08:00"), false)?;
    assert_eq!(v.check.verdict, Verdict::LowAccuracy, "{:?}", v.check);
    assert!(!v.contact_located, "an unjudged position locates nobody");
    let before = store.status()?;
    let zero = CheckIn {
        lat: 0.0,
        lon: 0.0,
        ..at(&c.id, Some(5.0), "2026-11-23T10:00:00+08:00")
    };
    assert!(
        matches!(store.check_in(zero), Err(Error::Validation { ref field, .. }) if field == "location")
    );
    assert_eq!(store.status()?, before);

    // The server refuses such a visit pushed by a device that does not check.
    use automerge::transaction::Transactable;
    let mut doc = automerge::AutoCommit::new();
    doc.put(automerge::ROOT, "contact_id", c.id.as_str())?;
    doc.put(automerge::ROOT, "lat", 0.0)?;
    doc.put(automerge::ROOT, "lon", 0.0)?;
    let refused = outpost_core::record::validate_doc("visit", &doc);
    assert!(
        refused.as_ref().is_err_and(|e| e.contains("(0, 0)")),
        "{refused:?}"
    );
    doc.put(automerge::ROOT, "lat", 22.54)?;
    assert_eq!(outpost_core::record::validate_doc("visit", &doc), Ok(()));
    Ok(())
}
