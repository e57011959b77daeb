use super::{open, zhang, TestResult};
use outpost_core::{ContactPatch, ContactStatus, Error, ListOptions, NewContact};
use std::sync::{Arc, Mutex};

#[test]
fn add_normalizes_phones_and_emails() -> TestResult {
    let dir = tempfile::tempdir()?;
    let mut store = open(&dir)?;
    let c = store.add_contact(NewContact {
        phones: vec![
            "138 0013 8000".into(),
            "+86 138-0013-8000".into(),
            "8613800138000".into(),
            "0755-52659655".into(),
        ],
        ..zhang()
    })?;
    assert_eq!(
        c.phones,
        ["+8613800138000", "+8675552659655"],
        "variants of one number collapse into one"
    );
    assert_eq!(c.emails, ["zhang.wei@huaqiang.com"]);
    assert_eq!(c.owner.as_deref(), Some("rep1"));
    assert_eq!(c.status, ContactStatus::Active);
    assert_eq!(store.get_contact(&c.id)?, c);
    Ok(())
}

#[test]
fn invalid_input_writes_nothing() -> TestResult {
    let dir = tempfile::tempdir()?;
    let mut store = open(&dir)?;
    let c = store.add_contact(zhang())?;
    let before = store.status()?;
    let cases: Vec<(NewContact, &str)> = vec![
        (
            NewContact {
                phones: vec!["12345".into()],
                ..zhang()
            },
            "phones",
        ),
        (
            NewContact {
                emails: vec!["not-an-email".into()],
                ..zhang()
            },
            "emails",
        ),
        (
            NewContact {
                name: "  ".into(),
                ..zhang()
            },
            "name",
        ),
    ];
    for (new, field) in cases {
        match store.add_contact(new) {
            Err(Error::Validation { field: f, .. }) => assert_eq!(f, field),
            other => panic!("expected a validation error on {field}, got {other:?}"),
        }
    }
    let bad_edit = ContactPatch {
        phones: Some(vec!["+86 000".into()]),
        ..Default::default()
    };
    assert!(matches!(
        store.edit_contact(&c.id, bad_edit),
        Err(Error::Validation { .. })
    ));
    assert_eq!(store.status()?, before, "nothing written");
    assert_eq!(
        store.get_contact(&c.id)?,
        c,
        "the stored contact is unchanged"
    );
    Ok(())
}

#[test]
fn edit_changes_only_given_fields_and_keeps_extra() -> TestResult {
    let dir = tempfile::tempdir()?;
    let mut store = open(&dir)?;
    let mut new = zhang();
    new.extra.insert("wechat".into(), "zw88".into());
    new.extra.insert("title".into(), "采购总监".into()); // a known key sets the field
    let c = store.add_contact(new)?;
    assert_eq!(c.title.as_deref(), Some("采购总监"));
    assert_eq!(c.extra.get("wechat").map(String::as_str), Some("zw88"));
    let mut patch = ContactPatch {
        company: Some("华强集团".into()),
        ..Default::default()
    };
    patch.set.insert("birthday".into(), "1985-03-02".into());
    let e = store.edit_contact(&c.id, patch)?;
    assert_eq!(e.company.as_deref(), Some("华强集团"));
    assert_eq!(e.phones, c.phones);
    assert_eq!(e.extra.len(), 2);
    let e = store.edit_contact(
        &c.id,
        ContactPatch {
            unset: vec!["wechat".into(), "address".into()],
            ..Default::default()
        },
    )?;
    assert!(!e.extra.contains_key("wechat") && e.address.is_none());
    assert!(matches!(
        store.edit_contact(
            &c.id,
            ContactPatch {
                unset: vec!["name".into()],
                ..Default::default()
            }
        ),
        Err(Error::Validation { .. })
    ));
    assert!(matches!(
        store.edit_contact("missing", ContactPatch::default()),
        Err(Error::NotFound { .. })
    ));
    Ok(())
}

#[test]
fn an_edit_that_changes_nothing_writes_nothing() -> TestResult {
    let dir = tempfile::tempdir()?;
    let mut store = open(&dir)?;
    let c = store.add_contact(zhang())?;
    let outbox = store.status()?.outbox_len;
    let same = store.edit_contact(
        &c.id,
        ContactPatch {
            title: c.title.clone(),
            ..Default::default()
        },
    )?;
    assert_eq!(same.updated_at, c.updated_at);
    assert_eq!(store.status()?.outbox_len, outbox);
    assert_eq!(store.contact_history(&c.id)?.len(), 1);
    Ok(())
}

#[test]
fn invalidate_hides_but_never_deletes() -> TestResult {
    let dir = tempfile::tempdir()?;
    let mut store = open(&dir)?;
    let keep = store.add_contact(NewContact {
        name: "李娜".into(),
        ..Default::default()
    })?;
    let c = store.add_contact(zhang())?;
    assert!(matches!(
        store.invalidate_contact(&c.id, " "),
        Err(Error::Validation { .. })
    ));
    let inv = store.invalidate_contact(&c.id, "重复录入")?;
    assert_eq!(inv.status, ContactStatus::Invalid);
    let why = inv.invalidation.clone().ok_or("invalidation recorded")?;
    assert_eq!((why.reason.as_str(), why.by.as_str()), ("重复录入", "rep1"));
    let listed = store.list_contacts(&ListOptions::default())?;
    assert_eq!(
        listed.iter().map(|c| c.id.as_str()).collect::<Vec<_>>(),
        [keep.id.as_str()]
    );
    assert_eq!(
        store
            .list_contacts(&ListOptions {
                include_invalid: true,
                limit: None
            })?
            .len(),
        2
    );
    assert!(store.search("张伟", &Default::default())?.is_empty());
    let found = store.search(
        "张伟",
        &outpost_core::SearchOptions {
            include_invalid: true,
            limit: None,
        },
    )?;
    assert_eq!(found.len(), 1);
    assert_eq!(store.get_contact(&c.id)?.status, ContactStatus::Invalid);
    Ok(())
}

#[test]
fn history_says_who_changed_what() -> TestResult {
    let dir = tempfile::tempdir()?;
    let mut store = open(&dir)?;
    let c = store.add_contact(zhang())?;
    drop(store);
    let mut manager = outpost_core::Store::open(
        dir.path().join("rep.db"),
        outpost_core::StoreOptions {
            user: "manager".into(),
            ..Default::default()
        },
    )?;
    manager.edit_contact(
        &c.id,
        ContactPatch {
            title: Some("采购总监".into()),
            ..Default::default()
        },
    )?;
    manager.invalidate_contact(&c.id, "客户已离职")?;
    let h = manager.contact_history(&c.id)?;
    assert_eq!(h.len(), 3);
    assert_eq!(
        (h[0].actor.as_str(), h[0].action.as_str()),
        ("rep1", "create")
    );
    assert_eq!(
        (h[1].actor.as_str(), h[1].action.as_str()),
        ("manager", "edit")
    );
    let title = h[1]
        .changes
        .iter()
        .find(|f| f.field == "title")
        .ok_or("title change")?;
    assert_eq!(
        (title.old.as_deref(), title.new.as_deref()),
        (Some("采购经理"), Some("采购总监"))
    );
    assert_eq!(h[1].changes.len(), 1);
    assert!(h[2]
        .changes
        .iter()
        .any(|f| f.field == "status" && f.new.as_deref() == Some("invalid")));
    Ok(())
}

#[test]
fn every_write_queues_its_changes_in_the_outbox() -> TestResult {
    let dir = tempfile::tempdir()?;
    let mut store = open(&dir)?;
    let c = store.add_contact(zhang())?;
    store.edit_contact(
        &c.id,
        ContactPatch {
            title: Some("总监".into()),
            ..Default::default()
        },
    )?;
    store.invalidate_contact(&c.id, "test")?;
    assert_eq!(store.status()?.outbox_len, 3);
    assert_eq!(c.sync_state.as_str(), "local");
    Ok(())
}

#[derive(Default)]
struct Recorder(Mutex<Vec<outpost_core::RecordChange>>);
impl outpost_core::ChangeListener for Recorder {
    fn on_change(&self, change: &outpost_core::RecordChange) {
        if let Ok(mut v) = self.0.lock() {
            v.push(change.clone());
        }
    }
}

#[test]
fn listener_hears_committed_changes_only() -> TestResult {
    let dir = tempfile::tempdir()?;
    let mut store = open(&dir)?;
    let rec = Arc::new(Recorder::default());
    store.set_change_listener(Some(rec.clone()));
    let c = store.add_contact(zhang())?;
    let _ = store.add_contact(NewContact {
        phones: vec!["bad".into()],
        ..zhang()
    });
    store.edit_contact(
        &c.id,
        ContactPatch {
            title: Some("总".into()),
            ..Default::default()
        },
    )?;
    let seen = rec.0.lock().map_err(|_| "poisoned")?.clone();
    assert_eq!(seen.len(), 2);
    assert!(seen
        .iter()
        .all(|ch| ch.id == c.id && ch.kind == outpost_core::RecordKind::Contact));
    Ok(())
}

#[test]
fn reopening_keeps_device_identity_and_data() -> TestResult {
    let dir = tempfile::tempdir()?;
    let (id, device) = {
        let mut store = open(&dir)?;
        (
            store.add_contact(zhang())?.id,
            store.device_id().to_string(),
        )
    };
    let store = open(&dir)?;
    assert_eq!(store.device_id(), device);
    assert_eq!(store.get_contact(&id)?.name, "张伟");
    Ok(())
}
