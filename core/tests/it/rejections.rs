//! Recoverable rejections: a change the server refuses is undone on the device, the record
//! leaves the refused state, later edits of the same record flow, and the user sees the reason.
//!
//! The server here is a small one in the test: it applies pushed changes with the same function
//! every real server backend uses (`sync::apply::apply_change_to`) and refuses by a rule the
//! test gives (owner changes, invalidation, restricted fields, ...), as the server's write
//! policy does. The end-to-end version, through the CLI and the real server, is in
//! `tests/tests/it/sync_e2e.rs`.

use super::{open, zhang, TestResult};
use automerge::{AutoCommit, ReadDoc};
use outpost_core::access::restricted_id;
use outpost_core::sync::apply::apply_change_to;
use outpost_core::sync::protocol::{LogEntry, Rejection, SyncResponse, PROTOCOL_VERSION};
use outpost_core::{ContactPatch, Error, NewContact, NewDeal, Store, StoreOptions};
use std::collections::BTreeMap;

/// Why the test server refuses a change, given the record's kind, the document before (`None`
/// for a new record) and after it.
type Rule = fn(&str, Option<&AutoCommit>, &AutoCommit) -> Option<String>;

fn text(doc: &AutoCommit, key: &str) -> Option<String> {
    match doc.get(automerge::ROOT, key).ok().flatten()? {
        (automerge::Value::Scalar(s), _) => s.as_str().map(str::to_string),
        _ => None,
    }
}

/// A rep's server: owners may not change, contacts may not be invalidated, restricted fields
/// may not be written, and a contact of company `禁止公司` may not be created.
fn rep_rules(kind: &str, before: Option<&AutoCommit>, after: &AutoCommit) -> Option<String> {
    if kind == "restricted" {
        return Some("permission denied: role rep may not write field amount".into());
    }
    if let Some(before) = before {
        if text(before, "owner") != text(after, "owner") {
            return Some(
                "permission denied: role rep may not assign records to another owner".into(),
            );
        }
        if text(before, "merged_into") != text(after, "merged_into") {
            return Some("permission denied: role rep may not merge records".into());
        }
        if text(before, "status") != text(after, "status") {
            return Some("permission denied: role rep may not invalidate records".into());
        }
    } else if text(after, "company").as_deref() == Some("禁止公司") {
        return Some("permission denied: this customer belongs to another team".into());
    }
    None
}

#[derive(Default)]
struct TestServer {
    docs: BTreeMap<String, AutoCommit>,
    /// (record, kind, change, author actor)
    log: Vec<(String, String, Vec<u8>, Vec<u8>)>,
}

impl TestServer {
    /// One push+pull round trip of `store`; returns how many changes were refused.
    fn round(
        &mut self,
        store: &mut Store,
        rule: Rule,
        answer: bool,
    ) -> Result<usize, Box<dyn std::error::Error>> {
        let outgoing = store.prepare_sync(1_000, None)?;
        let actor = outgoing.request.actor.clone();
        let mut rejected = Vec::new();
        for c in &outgoing.request.changes {
            let before = self.docs.get(&c.record);
            let mut doc = before.cloned().unwrap_or_else(AutoCommit::new);
            let refusal = match apply_change_to(&mut doc, &c.kind, &c.change, &actor) {
                Ok(a) if !a.new => None,
                Ok(_) => rule(&c.kind, before, &doc),
                Err(r) => Some(r.rejection.to_string()),
            };
            let hash = automerge::Change::from_bytes(c.change.clone())?.hash();
            match refusal {
                Some(reason) => rejected.push(Rejection {
                    hash: hash.0.to_vec(),
                    record: c.record.clone(),
                    reason,
                }),
                None => {
                    if !self.log.iter().any(|(r, _, ch, _)| {
                        *r == c.record
                            && automerge::Change::from_bytes(ch.clone())
                                .is_ok_and(|x| x.hash() == hash)
                    }) {
                        self.log.push((
                            c.record.clone(),
                            c.kind.clone(),
                            c.change.clone(),
                            actor.clone(),
                        ));
                    }
                    self.docs.insert(c.record.clone(), doc);
                }
            }
        }
        let cursor = outgoing.request.cursor as usize;
        let entries = self
            .log
            .iter()
            .enumerate()
            .skip(cursor)
            .filter(|(_, (_, _, _, a))| *a != actor)
            .map(|(i, (record, kind, change, _))| LogEntry {
                seq: i as u64 + 1,
                record: record.clone(),
                kind: kind.clone(),
                change: change.clone(),
            })
            .collect();
        let refused = rejected.len();
        if answer {
            store.apply_sync_response(
                &outgoing,
                SyncResponse {
                    v: PROTOCOL_VERSION,
                    rejected,
                    entries,
                    cursor: self.log.len() as u64,
                    more: false,
                    server_time_ms: 0,
                    log_id: None,
                    deferred: Vec::new(),
                    scope: None,
                },
            )?;
        }
        Ok(refused)
    }

    /// Rounds until the store's outbox is empty (at most five); returns the refusals.
    fn sync(&mut self, store: &mut Store, rule: Rule) -> Result<usize, Box<dyn std::error::Error>> {
        let mut refused = self.round(store, rule, true)?;
        for _ in 0..4 {
            if store.status()?.outbox_len == 0 {
                break;
            }
            refused += self.round(store, rule, true)?;
        }
        Ok(refused)
    }
}

fn second(dir: &tempfile::TempDir) -> Result<Store, Error> {
    Store::open(
        dir.path().join("tablet.db"),
        StoreOptions {
            user: "rep1".into(),
            ..Default::default()
        },
    )
}

fn title(t: &str) -> ContactPatch {
    ContactPatch {
        title: Some(t.into()),
        ..Default::default()
    }
}

/// The three ways a rep's device wrote an owner the server refuses (issue 17, item 12).
fn strand(store: &mut Store, id: &str, how: usize) -> Result<(), Error> {
    match how {
        0 => store
            .edit_contact(
                id,
                ContactPatch {
                    set: BTreeMap::from([("owner".to_string(), "rep2".to_string())]),
                    ..Default::default()
                },
            )
            .map(|_| ()),
        1 => {
            // Resolving a real conflict on the owner (see `owner_conflict`) to the value that
            // does not win today: a change of the owner, which a rep may not make.
            let loser = store
                .contact_conflicts(id)?
                .into_iter()
                .find(|c| c.field == "owner")
                .and_then(|c| c.values.into_iter().nth(1))
                .map(|v| v.value)
                .unwrap_or_default();
            store
                .resolve_contact_conflict(id, "owner", &loser)
                .map(|_| ())
        }
        _ => store
            .edit_contact(
                id,
                ContactPatch {
                    unset: vec!["owner".into()],
                    ..Default::default()
                },
            )
            .map(|_| ()),
    }
}

/// Two managers reassigned the contact offline, each on their device (a server that lets
/// them): both devices then hold a conflict on its owner.
fn owner_conflict(
    server: &mut TestServer,
    phone: &mut Store,
    tablet: &mut Store,
    id: &str,
) -> TestResult {
    let owner = |o: &str| ContactPatch {
        set: BTreeMap::from([("owner".to_string(), o.to_string())]),
        ..Default::default()
    };
    phone.edit_contact(id, owner("rep2"))?;
    tablet.edit_contact(id, owner("rep3"))?;
    let managers: Rule = |_, _, _| None;
    server.sync(phone, managers)?;
    server.sync(tablet, managers)?;
    server.sync(phone, managers)?;
    assert!(
        phone
            .contact_conflicts(id)?
            .iter()
            .any(|c| c.field == "owner"),
        "a conflict on the owner"
    );
    Ok(())
}

#[test]
fn a_refused_owner_change_is_undone_and_later_edits_reach_other_devices() -> TestResult {
    for how in 0..3 {
        let dir = tempfile::tempdir()?;
        let mut phone = open(&dir)?;
        let mut tablet = second(&dir)?;
        let mut server = TestServer::default();
        let c = phone.add_contact(zhang())?;
        assert_eq!(server.sync(&mut phone, rep_rules)?, 0);
        server.sync(&mut tablet, rep_rules)?;
        if how == 1 {
            owner_conflict(&mut server, &mut phone, &mut tablet, &c.id)?;
        }
        // The owner the server holds, which the refused change must leave in place.
        let owner = phone.get_contact(&c.id)?.owner;

        strand(&mut phone, &c.id, how)?;
        // Edited again before the sync: this edit depends on the refused one.
        phone.edit_contact(&c.id, title("总监"))?;
        let refused = server.round(&mut phone, rep_rules, true)?;
        assert!(refused >= 1, "case {how}: the owner change is refused");

        let status = phone.status()?;
        assert_eq!(
            status.rejected.len(),
            1,
            "case {how}: {:?}",
            status.rejected
        );
        let notice = &status.rejected[0];
        assert_eq!(notice.record_id, c.id);
        assert!(notice.reason.contains("assign"), "{}", notice.reason);
        assert_eq!(notice.fields, ["owner"], "case {how}");
        assert!(!notice.removed);
        let now = phone.get_contact(&c.id)?;
        assert_eq!(now.owner, owner, "case {how}: the server's owner");
        assert_eq!(
            now.title.as_deref(),
            Some("总监"),
            "case {how}: the later edit stays"
        );
        assert_ne!(now.sync_state.as_str(), "rejected", "case {how}");
        assert!(
            status.sync_states.iter().all(|s| s.status != "rejected"),
            "case {how}: {:?}",
            status.sync_states
        );

        // What is left in the outbox is accepted, and an ordinary edit flows after it.
        assert_eq!(server.sync(&mut phone, rep_rules)?, 0, "case {how}");
        phone.edit_contact(
            &c.id,
            ContactPatch {
                phones: Some(vec!["138 0013 8000".into(), "0755 8888 8888".into()]),
                ..Default::default()
            },
        )?;
        assert_eq!(server.sync(&mut phone, rep_rules)?, 0, "case {how}");
        assert_eq!(phone.status()?.outbox_len, 0);
        assert_eq!(phone.get_contact(&c.id)?.sync_state.as_str(), "synced");
        server.sync(&mut tablet, rep_rules)?;
        let there = tablet.get_contact(&c.id)?;
        assert_eq!(there.title.as_deref(), Some("总监"), "case {how}");
        assert_eq!(there.owner, owner, "case {how}");
        assert_eq!(there.phones.len(), 2, "case {how}: {:?}", there.phones);
        // Both devices hold the same document.
        assert_eq!(
            phone.contact_history(&c.id)?.len(),
            tablet.contact_history(&c.id)?.len(),
            "case {how}"
        );
    }
    Ok(())
}

#[test]
fn several_refusals_in_one_record_keep_every_accepted_edit() -> TestResult {
    let dir = tempfile::tempdir()?;
    let mut phone = open(&dir)?;
    let mut server = TestServer::default();
    let c = phone.add_contact(zhang())?;
    server.sync(&mut phone, rep_rules)?;

    phone.edit_contact(&c.id, title("总监"))?;
    strand(&mut phone, &c.id, 0)?;
    phone.edit_contact(
        &c.id,
        ContactPatch {
            company: Some("华强电子".into()),
            ..Default::default()
        },
    )?;
    phone.invalidate_contact(&c.id, "重复")?;
    phone.edit_contact(
        &c.id,
        ContactPatch {
            notes: Some("下周回访".into()),
            ..Default::default()
        },
    )?;
    server.sync(&mut phone, rep_rules)?;

    let status = phone.status()?;
    assert_eq!(status.outbox_len, 0, "{:?}", status.rejected);
    // In the order they were made: the owner, then the invalidation.
    let fields: Vec<Vec<String>> = status.rejected.iter().map(|r| r.fields.clone()).collect();
    assert_eq!(fields.len(), 2, "{:?}", status.rejected);
    assert_eq!(fields[0], ["owner"]);
    assert!(fields[1].contains(&"status".to_string()), "{fields:?}");
    let now = phone.get_contact(&c.id)?;
    assert_eq!(now.owner.as_deref(), Some("rep1"));
    assert_eq!(now.status.as_str(), "active");
    assert_eq!(now.title.as_deref(), Some("总监"));
    assert_eq!(now.company.as_deref(), Some("华强电子"));
    assert_eq!(now.notes.as_deref(), Some("下周回访"));
    assert_eq!(now.sync_state.as_str(), "synced");
    assert_eq!(
        phone.search("华强电子", &Default::default())?.len(),
        1,
        "search sees the record as it is now"
    );
    Ok(())
}

#[test]
fn a_record_whose_creation_is_refused_leaves_the_device_with_the_reason() -> TestResult {
    let dir = tempfile::tempdir()?;
    let mut phone = open(&dir)?;
    let mut server = TestServer::default();
    let kept = phone.add_contact(zhang())?;
    let refused = phone.add_contact(NewContact {
        name: "王芳".into(),
        company: Some("禁止公司".into()),
        phones: vec!["139 0013 9000".into()],
        ..Default::default()
    })?;
    phone.edit_contact(&refused.id, title("经理"))?;
    server.sync(&mut phone, rep_rules)?;

    let status = phone.status()?;
    assert_eq!(status.outbox_len, 0);
    assert_eq!(status.rejected.len(), 1, "{:?}", status.rejected);
    let notice = &status.rejected[0];
    assert_eq!(notice.record_id, refused.id);
    assert!(notice.removed);
    assert!(notice.reason.contains("another team"), "{}", notice.reason);
    assert!(matches!(
        phone.get_contact(&refused.id),
        Err(Error::NotFound { .. })
    ));
    assert!(phone.search("王芳", &Default::default())?.is_empty());
    assert_eq!(phone.get_contact(&kept.id)?.sync_state.as_str(), "synced");
    // The experience metrics do not count it as reached.
    let m = phone.experience()?;
    assert_eq!((m.offline_created, m.offline_synced), (2, 1));
    Ok(())
}

#[test]
fn a_refused_restricted_value_is_removed_and_its_deal_flows() -> TestResult {
    let dir = tempfile::tempdir()?;
    let mut phone = open(&dir)?;
    let mut server = TestServer::default();
    let c = phone.add_contact(zhang())?;
    let deal = phone.add_deal(NewDeal {
        title: "年度框架协议".into(),
        contact_id: c.id.clone(),
        amount: Some(5000.0),
        ..Default::default()
    })?;
    server.sync(&mut phone, rep_rules)?;
    let status = phone.status()?;
    assert_eq!(status.outbox_len, 0);
    assert_eq!(status.rejected.len(), 1, "{:?}", status.rejected);
    assert_eq!(
        status.rejected[0].record_id,
        restricted_id(&deal.id, "amount")
    );
    assert!(status.rejected[0].removed);
    let now = phone.get_deal(&deal.id)?;
    assert_eq!(now.amount, None, "the refused amount is gone");
    assert_eq!(now.sync_state.as_str(), "synced");
    Ok(())
}

#[test]
fn a_refused_merge_gives_the_loser_back() -> TestResult {
    let dir = tempfile::tempdir()?;
    let mut phone = open(&dir)?;
    let mut server = TestServer::default();
    let winner = phone.add_contact(zhang())?;
    let loser = phone.add_contact(NewContact {
        name: "张伟".into(),
        phones: vec!["138 0013 8000".into()],
        title: Some("经理".into()),
        ..Default::default()
    })?;
    server.sync(&mut phone, rep_rules)?;
    phone.merge_contacts(&winner.id, &loser.id)?;
    assert_eq!(phone.get_contact(&loser.id)?.status.as_str(), "merged");
    server.sync(&mut phone, rep_rules)?;
    let status = phone.status()?;
    assert_eq!(status.outbox_len, 0, "{:?}", status.rejected);
    assert!(status
        .rejected
        .iter()
        .any(|r| r.record_id == loser.id && r.reason.contains("merge")));
    let back = phone.get_contact(&loser.id)?;
    assert_eq!(back.status.as_str(), "active");
    assert_eq!(back.merged_into, None);
    assert_eq!(back.sync_state.as_str(), "synced");
    Ok(())
}

#[test]
fn a_refusal_answered_twice_or_lost_ends_the_same() -> TestResult {
    let dir = tempfile::tempdir()?;
    let mut phone = open(&dir)?;
    let mut server = TestServer::default();
    let c = phone.add_contact(zhang())?;
    server.sync(&mut phone, rep_rules)?;
    strand(&mut phone, &c.id, 0)?;
    phone.edit_contact(&c.id, title("总监"))?;
    // The answer is lost (the sync was killed before it was applied): nothing changed here.
    server.round(&mut phone, rep_rules, false)?;
    assert_eq!(phone.get_contact(&c.id)?.owner.as_deref(), Some("rep2"));
    // The next sync is refused again and recovers; the same answer applied twice changes
    // nothing more.
    let outgoing = phone.prepare_sync(100, None)?;
    let actor = outgoing.request.actor.clone();
    let rejected: Vec<Rejection> = outgoing
        .request
        .changes
        .iter()
        .map(|c| -> Result<Rejection, Box<dyn std::error::Error>> {
            let before = server.docs.get(&c.record);
            let mut doc = before.cloned().unwrap_or_else(AutoCommit::new);
            let reason = match apply_change_to(&mut doc, &c.kind, &c.change, &actor) {
                Ok(_) => rep_rules(&c.kind, before, &doc).unwrap_or_default(),
                Err(r) => r.rejection.to_string(),
            };
            Ok(Rejection {
                hash: automerge::Change::from_bytes(c.change.clone())?
                    .hash()
                    .0
                    .to_vec(),
                record: c.record.clone(),
                reason,
            })
        })
        .collect::<Result<_, _>>()?;
    assert_eq!(rejected.len(), 2);
    let response = SyncResponse {
        v: PROTOCOL_VERSION,
        rejected,
        entries: Vec::new(),
        cursor: server.log.len() as u64,
        more: false,
        server_time_ms: 0,
        log_id: None,
        deferred: Vec::new(),
        scope: None,
    };
    phone.apply_sync_response(&outgoing, response.clone())?;
    let once = (phone.get_contact(&c.id)?, phone.status()?.outbox_len);
    phone.apply_sync_response(&outgoing, response)?;
    let twice = (phone.get_contact(&c.id)?, phone.status()?.outbox_len);
    assert_eq!(once, twice);
    assert_eq!(once.0.owner.as_deref(), Some("rep1"));
    assert_eq!(once.0.title.as_deref(), Some("总监"));
    assert_eq!(phone.status()?.rejected.len(), 1);
    assert_eq!(server.sync(&mut phone, rep_rules)?, 0);
    assert_eq!(phone.get_contact(&c.id)?.sync_state.as_str(), "synced");
    Ok(())
}

#[test]
fn a_refusal_answered_with_another_devices_edits_keeps_both_sides() -> TestResult {
    let dir = tempfile::tempdir()?;
    let mut phone = open(&dir)?;
    let mut tablet = second(&dir)?;
    let mut server = TestServer::default();
    let c = phone.add_contact(zhang())?;
    server.sync(&mut phone, rep_rules)?;
    server.sync(&mut tablet, rep_rules)?;

    // Offline on both: the tablet adds a phone number and a company; the phone writes an owner
    // (refused), then adds another number and a title.
    tablet.edit_contact(
        &c.id,
        ContactPatch {
            phones: Some(vec!["138 0013 8000".into(), "0755 8888 8888".into()]),
            company: Some("华强电子".into()),
            ..Default::default()
        },
    )?;
    server.sync(&mut tablet, rep_rules)?;
    strand(&mut phone, &c.id, 0)?;
    phone.edit_contact(
        &c.id,
        ContactPatch {
            phones: Some(vec!["138 0013 8000".into(), "139 0013 9000".into()]),
            title: Some("总监".into()),
            ..Default::default()
        },
    )?;
    server.sync(&mut phone, rep_rules)?;
    server.sync(&mut tablet, rep_rules)?;

    for store in [&phone, &tablet] {
        let now = store.get_contact(&c.id)?;
        assert_eq!(now.owner.as_deref(), Some("rep1"));
        assert_eq!(now.title.as_deref(), Some("总监"));
        assert_eq!(now.company.as_deref(), Some("华强电子"));
        let mut phones = now.phones.clone();
        phones.sort();
        assert_eq!(
            phones,
            ["+8613800138000", "+8613900139000", "+8675588888888"],
            "both additions kept"
        );
    }
    assert_eq!(phone.status()?.outbox_len, 0);
    assert_eq!(phone.status()?.rejected.len(), 1);
    Ok(())
}
