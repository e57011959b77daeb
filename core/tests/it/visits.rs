use super::{open, zhang, TestResult};
use outpost_core::{CheckIn, CheckOut, Error, VisitFilter};

fn at(contact_id: &str, time: &str) -> CheckIn {
    CheckIn {
        contact_id: contact_id.into(),
        lat: 22.5431,
        lon: 113.9480,
        accuracy_m: Some(12.5),
        device_time: Some(time.into()),
        elapsed_ms: Some(86_400_000),
        coords: None,
    }
}

#[test]
fn check_in_check_out_and_list() -> TestResult {
    let dir = tempfile::tempdir()?;
    let mut store = open(&dir)?;
    let c = store.add_contact(zhang())?;
    let other = store.add_contact(outpost_core::NewContact {
        name: "王芳".into(),
        ..Default::default()
    })?;
    // 23:30 in Shenzhen on the 23rd is still the 23rd there, though it is the 23rd 15:30 UTC.
    let v1 = store.check_in(at(&c.id, "2026-11-23T23:30:00+08:00"))?;
    assert_eq!(
        (v1.day.as_str(), v1.status.as_str(), v1.user.as_str()),
        ("2026-11-23", "open", "rep1")
    );
    assert_eq!(v1.elapsed_ms, Some(86_400_000));
    let v2 = store.check_in(at(&other.id, "2026-11-24T00:10:00+08:00"))?;
    let out = store.check_out(
        &v1.id,
        CheckOut {
            notes: Some("报价已发".into()),
            next_follow_up: Some("2026-12-01".into()),
        },
    )?;
    assert_eq!(
        (out.status.as_str(), out.next_follow_up.as_deref()),
        ("closed", Some("2026-12-01"))
    );
    assert!(out.checked_out_at.is_some());
    assert!(
        matches!(
            store.check_out(&v1.id, CheckOut::default()),
            Err(Error::Validation { .. })
        ),
        "only once"
    );
    let by_contact = store.list_visits(&VisitFilter {
        contact_id: Some(c.id.clone()),
        ..Default::default()
    })?;
    assert_eq!(
        by_contact.iter().map(|v| v.id.as_str()).collect::<Vec<_>>(),
        [v1.id.as_str()]
    );
    let day = store.list_visits(&VisitFilter {
        day: Some("2026-11-24".into()),
        ..Default::default()
    })?;
    assert_eq!(
        day.iter().map(|v| v.id.as_str()).collect::<Vec<_>>(),
        [v2.id.as_str()]
    );
    assert_eq!(store.list_visits(&VisitFilter::default())?.len(), 2);
    let h = store.visit_history(&v1.id)?;
    assert_eq!(
        h.iter().map(|e| e.action.as_str()).collect::<Vec<_>>(),
        ["check_in", "check_out"]
    );
    Ok(())
}

#[test]
fn bad_check_ins_are_refused() -> TestResult {
    let dir = tempfile::tempdir()?;
    let mut store = open(&dir)?;
    let c = store.add_contact(zhang())?;
    let before = store.status()?;
    let field = |r: Result<outpost_core::Visit, Error>| match r {
        Err(Error::Validation { field, .. }) => field,
        other => format!("{other:?}"),
    };
    assert_eq!(
        field(store.check_in(CheckIn {
            lat: 95.0,
            ..at(&c.id, "2026-11-23T10:00:00+08:00")
        })),
        "lat"
    );
    assert_eq!(
        field(store.check_in(at("nope", "2026-11-23T10:00:00+08:00"))),
        "contact"
    );
    assert_eq!(field(store.check_in(at(&c.id, "yesterday"))), "device_time");
    store.invalidate_contact(&c.id, "closed down")?;
    let before_invalid = store.status()?;
    assert_eq!(
        field(store.check_in(at(&c.id, "2026-11-23T10:00:00+08:00"))),
        "contact"
    );
    assert_eq!(store.status()?, before_invalid);
    assert_eq!(
        before.records.iter().filter(|k| k.kind == "visit").count(),
        0
    );
    assert!(matches!(
        store.list_visits(&VisitFilter {
            day: Some("23/11".into()),
            ..Default::default()
        }),
        Err(Error::Validation { .. })
    ));
    Ok(())
}
