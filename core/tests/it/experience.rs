//! Experience metrics: action durations, unclean shutdowns, records that reached the server.

use crate::{open, zhang, TestResult};
use outpost_core::sync::protocol::{ExperienceAck, Rejection, SyncResponse};
use outpost_core::{NewContact, SearchOptions};

fn action<'a>(
    summary: &'a outpost_core::ExperienceSummary,
    name: &str,
) -> Option<&'a outpost_core::ActionStats> {
    summary.actions.iter().find(|a| a.action == name)
}

#[test]
fn user_actions_are_timed_by_name() -> TestResult {
    let dir = tempfile::tempdir()?;
    let mut store = open(&dir)?;
    let zhang = store.add_contact(zhang())?;
    store.check_in(outpost_core::CheckIn {
        contact_id: zhang.id.clone(),
        lat: 22.5431,
        lon: 113.9480,
        accuracy_m: Some(12.5),
        device_time: Some(chrono::Local::now().fixed_offset().to_rfc3339()),
        elapsed_ms: None,
        coords: None,
    })?;
    store.add_contact_checked(NewContact {
        name: "李娜".into(),
        phones: vec!["13912345678".into()],
        ..Default::default()
    })?;
    store.search("张", &SearchOptions::default())?;
    // A refused action is not timed.
    assert!(store.add_contact(NewContact::default()).is_err());
    let m = store.experience()?;
    let add = action(&m, "contact.add").ok_or("contact.add missing")?;
    assert_eq!(add.count, 2, "the quick create is also an add: {m:?}");
    assert!(add.p50_ms <= add.p95_ms && add.p95_ms <= add.max_ms);
    let quick = action(&m, "contact.quick_create").ok_or("quick_create missing")?;
    assert_eq!(quick.count, 1);
    assert_eq!(action(&m, "search").map(|a| a.count), Some(1));
    assert_eq!(action(&m, "visit.check_in").map(|a| a.count), Some(1));
    assert_eq!(m.crashes_recovered, 0);
    assert_eq!(m.unsent_events, 5);
    // Buffered events are written when the store closes.
    drop(store);
    let store = open(&dir)?;
    let again = store.experience()?;
    assert_eq!(again.actions, m.actions);
    assert_eq!(again.crashes_recovered, 0, "a clean close is not a crash");
    Ok(())
}

#[test]
fn a_store_not_closed_is_counted_as_a_recovered_crash() -> TestResult {
    let dir = tempfile::tempdir()?;
    let mut store = open(&dir)?;
    store.add_contact(zhang())?;
    // The process "dies": the store is never closed, its file stays as it was.
    std::mem::forget(store);
    let store = open(&dir)?;
    let m = store.experience()?;
    assert_eq!(m.crashes_recovered, 1);
    assert_eq!(
        m.offline_created, 1,
        "the record written before the crash is there"
    );
    drop(store);
    let store = open(&dir)?;
    assert_eq!(
        store.experience()?.crashes_recovered,
        1,
        "clean close since"
    );
    Ok(())
}

#[test]
fn created_records_count_as_synced_only_once_acknowledged() -> TestResult {
    let dir = tempfile::tempdir()?;
    let mut store = open(&dir)?;
    store.add_contact(zhang())?;
    let refused = store.add_contact(NewContact {
        name: "王芳".into(),
        ..Default::default()
    })?;
    let m = store.experience()?;
    assert_eq!((m.offline_created, m.offline_synced), (2, 0));
    let outgoing = store.prepare_sync(100, None)?;
    let change = outgoing
        .request
        .changes
        .iter()
        .find(|c| c.record == refused.id)
        .ok_or("refused record not pushed")?;
    let hash = automerge::Change::from_bytes(change.change.clone())?.hash();
    let response = SyncResponse {
        v: 1,
        rejected: vec![Rejection {
            hash: hash.0.to_vec(),
            record: refused.id.clone(),
            reason: "test refusal".into(),
        }],
        entries: vec![],
        cursor: 0,
        more: false,
        server_time_ms: 0,
        log_id: None,
        deferred: Vec::new(),
        scope: None,
    };
    store.apply_sync_response(&outgoing, response)?;
    let m = store.experience()?;
    assert_eq!((m.offline_created, m.offline_synced), (2, 1));
    Ok(())
}

#[test]
fn acknowledged_events_are_not_sent_again() -> TestResult {
    let dir = tempfile::tempdir()?;
    let mut store = open(&dir)?;
    store.add_contact(zhang())?;
    store.add_contact(NewContact {
        name: "赵磊".into(),
        ..Default::default()
    })?;
    let batch = store.prepare_experience()?;
    assert_eq!(batch.events.len(), 2);
    assert_eq!(batch.offline_created, 2);
    assert!(batch.events[0].seq < batch.events[1].seq);
    let last = batch.events[1].seq;
    store.apply_experience_ack(&ExperienceAck {
        v: 1,
        acked_seq: last,
        stored: 2,
    })?;
    assert!(store.prepare_experience()?.events.is_empty());
    // An old answer arriving late does not move the mark back.
    store.apply_experience_ack(&ExperienceAck {
        v: 1,
        acked_seq: 0,
        stored: 0,
    })?;
    assert!(store.prepare_experience()?.events.is_empty());
    store.search("赵", &SearchOptions::default())?;
    let next = store.prepare_experience()?;
    assert_eq!(next.events.len(), 1);
    assert!(next.events[0].seq > last, "numbers are never reused");
    assert_eq!(store.experience()?.unsent_events, 1);
    Ok(())
}

#[test]
fn metrics_are_due_at_first_then_per_interval_or_when_many_wait() -> TestResult {
    use outpost_core::store::experience::EXPERIENCE_DUE_EVENTS;
    use std::time::Duration;
    let ten_minutes = Duration::from_secs(600);
    let dir = tempfile::tempdir()?;
    let mut store = open(&dir)?;
    assert!(!store.experience_due(ten_minutes)?, "nothing to send");
    store.add_contact(zhang())?;
    assert!(
        store.experience_due(ten_minutes)?,
        "never sent: due at once"
    );
    let batch = store.prepare_experience()?;
    let acked = batch.events.last().map_or(0, |e| e.seq);
    store.apply_experience_ack(&ExperienceAck {
        v: 1,
        acked_seq: acked,
        stored: 1,
    })?;
    store.search("张", &SearchOptions::default())?;
    assert!(!store.experience_due(ten_minutes)?, "sent a moment ago");
    assert!(
        store.experience_due(Duration::ZERO)?,
        "an interval of zero: every sync"
    );
    // A record created since: the manager's counts changed, so the metrics go at once.
    let li = store.add_contact(NewContact {
        name: "李娜".into(),
        ..Default::default()
    })?;
    assert!(
        store.experience_due(ten_minutes)?,
        "a new record is reported at once"
    );
    let batch = store.prepare_experience()?;
    store.apply_experience_ack(&ExperienceAck {
        v: 1,
        acked_seq: batch.events.last().map_or(0, |e| e.seq),
        stored: 1,
    })?;
    store.edit_contact(
        &li.id,
        outpost_core::ContactPatch {
            title: Some("经理".into()),
            ..Default::default()
        },
    )?;
    store.search("李", &SearchOptions::default())?;
    assert_eq!(store.experience()?.unsent_events, 1);
    assert!(
        !store.experience_due(ten_minutes)?,
        "an edit and a search wait for the interval"
    );
    for _ in 1..EXPERIENCE_DUE_EVENTS {
        store.search("张", &SearchOptions::default())?;
    }
    assert!(
        store.experience_due(ten_minutes)?,
        "{EXPERIENCE_DUE_EVENTS} events wait"
    );
    Ok(())
}

#[test]
fn the_event_table_stays_bounded() -> TestResult {
    let dir = tempfile::tempdir()?;
    let store = open(&dir)?;
    let max = outpost_core::store::experience::MAX_EVENTS as u64;
    for _ in 0..max + 100 {
        store.note_sync(std::time::Instant::now());
    }
    let m = store.experience()?;
    assert_eq!(action(&m, "sync").map(|a| a.count), Some(max));
    assert_eq!(m.unsent_events, max, "the oldest went first");
    Ok(())
}
