//! Field workflows through the store's public API: verified check-ins, follow-up tasks, the
//! today list, alerts, deals and flow settings.

use super::{open, zhang, TestResult};
use outpost_core::{
    CheckIn, CheckOut, ClockReference, DealFilter, Error, FlowConfig, NewContact, NewDeal, NewTask,
    TaskFilter, Verdict,
};
use std::collections::BTreeMap;

fn at(contact: &str, lat: f64, lon: f64, accuracy: f64, time: &str) -> CheckIn {
    CheckIn {
        contact_id: contact.to_string(),
        lat,
        lon,
        accuracy_m: Some(accuracy),
        device_time: Some(time.to_string()),
        elapsed_ms: None,
        coords: None,
    }
}

#[test]
fn first_check_in_locates_the_customer_and_later_ones_are_judged_against_it() -> TestResult {
    let dir = tempfile::tempdir()?;
    let mut store = open(&dir)?;
    let c = store.add_contact(zhang())?;
    let first = store.check_in_verified(
        at(&c.id, 22.5431, 113.9480, 12.0, "2026-11-23T09:00:00+08:00"),
        false,
    )?;
    assert_eq!(first.check.verdict, Verdict::Verified);
    assert!(first.contact_located);
    let located = store.get_contact(&c.id)?;
    assert_eq!(
        located.extra.get("lat").map(String::as_str),
        Some("22.5431")
    );
    assert_eq!(
        located.extra.get("lon").map(String::as_str),
        Some("113.948")
    );
    assert!(store
        .contact_history(&c.id)?
        .iter()
        .any(|h| h.action == "locate"));

    // ~1.9 km away: far from the customer; the location is not moved.
    let far = store.check_in_verified(
        at(&c.id, 22.5600, 113.9480, 12.0, "2026-11-24T09:00:00+08:00"),
        false,
    )?;
    assert_eq!(far.check.verdict, Verdict::FarFromCustomer);
    assert!(far.check.distance_m.is_some_and(|d| d > 1_800.0));
    assert!(!far.contact_located);
    assert_eq!(
        store.visit_check(&far.visit.id)?.map(|c| c.verdict),
        Some(Verdict::FarFromCustomer)
    );

    let low = store.check_in_verified(
        at(&c.id, 22.5431, 113.9480, 350.0, "2026-11-25T09:00:00+08:00"),
        false,
    )?;
    assert_eq!(low.check.verdict, Verdict::LowAccuracy);

    let mock = store.check_in_verified(
        at(&c.id, 22.5431, 113.9480, 5.0, "2026-11-25T10:00:00+08:00"),
        true,
    )?;
    assert_eq!(mock.check.verdict, Verdict::MockLocation);
    // The verdict is part of the record (it syncs), not in `extra`.
    assert!(!mock.visit.extra.contains_key("check"));
    Ok(())
}

#[test]
fn a_mock_first_check_in_does_not_locate_the_customer() -> TestResult {
    let dir = tempfile::tempdir()?;
    let mut store = open(&dir)?;
    let c = store.add_contact(zhang())?;
    let v = store.check_in_verified(
        at(&c.id, 22.5431, 113.9480, 12.0, "2026-11-23T09:00:00+08:00"),
        true,
    )?;
    assert!(!v.contact_located);
    assert!(!store.get_contact(&c.id)?.extra.contains_key("lat"));
    Ok(())
}

#[test]
fn clock_suspect_against_monotonic_time_since_the_last_server_contact() -> TestResult {
    let dir = tempfile::tempdir()?;
    let mut store = open(&dir)?;
    let c = store.add_contact(zhang())?;
    // Synced at 08:00 (server clock) when the phone had been up 1,000 s.
    let synced = chrono::DateTime::parse_from_rfc3339("2026-11-23T08:00:00+08:00")?;
    store.set_clock_reference(ClockReference {
        wall_ms: synced.timestamp_millis(),
        elapsed_ms: 1_000_000,
    })?;
    // One hour of monotonic time later, the device clock says 09:00: consistent.
    let mut ok = at(&c.id, 22.5431, 113.9480, 10.0, "2026-11-23T09:00:30+08:00");
    ok.elapsed_ms = Some(1_000_000 + 3_600_000);
    assert_eq!(
        store.check_in_verified(ok, false)?.check.verdict,
        Verdict::Verified
    );
    // The device clock was set back: it says 08:30 after an hour and a half.
    let mut back = at(&c.id, 22.5431, 113.9480, 10.0, "2026-11-23T08:30:00+08:00");
    back.elapsed_ms = Some(1_000_000 + 5_400_000);
    let v = store.check_in_verified(back, false)?;
    assert_eq!(v.check.verdict, Verdict::ClockSuspect, "{:?}", v.check);
    // After a reboot the monotonic clock restarts: nothing to compare, no suspicion.
    let mut rebooted = at(&c.id, 22.5431, 113.9480, 10.0, "2026-11-23T08:30:00+08:00");
    rebooted.elapsed_ms = Some(5_000);
    assert_eq!(
        store.check_in_verified(rebooted, false)?.check.verdict,
        Verdict::Verified
    );
    Ok(())
}

#[test]
fn check_out_with_a_follow_up_date_creates_one_task() -> TestResult {
    let dir = tempfile::tempdir()?;
    let mut store = open(&dir)?;
    let c = store.add_contact(zhang())?;
    let v = store.check_in(at(&c.id, 22.54, 113.95, 10.0, "2026-11-23T09:00:00+08:00"))?;
    store.check_out(
        &v.id,
        CheckOut {
            notes: Some("客户要报价".into()),
            next_follow_up: Some("2026-12-01".into()),
        },
    )?;
    let tasks = store.list_tasks(&TaskFilter::default())?;
    assert_eq!(tasks.len(), 1);
    assert_eq!(tasks[0].due, "2026-12-01");
    assert_eq!(tasks[0].contact_id, c.id);
    assert_eq!(tasks[0].visit_id.as_deref(), Some(v.id.as_str()));
    assert_eq!(tasks[0].owner.as_deref(), Some("rep1"));
    assert!(tasks[0].title.contains("客户要报价"));
    // Done tasks leave the open list.
    store.complete_task(&tasks[0].id)?;
    assert!(store.list_tasks(&TaskFilter::default())?.is_empty());
    let all = store.list_tasks(&TaskFilter {
        include_done: true,
        ..Default::default()
    })?;
    assert_eq!(all[0].status, "done");
    // A check-out without a date creates nothing.
    let v2 = store.check_in(at(&c.id, 22.54, 113.95, 10.0, "2026-11-24T09:00:00+08:00"))?;
    store.check_out(&v2.id, CheckOut::default())?;
    assert_eq!(
        store
            .list_tasks(&TaskFilter {
                include_done: true,
                ..Default::default()
            })?
            .len(),
        1
    );
    Ok(())
}

#[test]
fn today_lists_follow_ups_stale_deals_tiers_and_plans_best_first() -> TestResult {
    let dir = tempfile::tempdir()?;
    let mut store = open(&dir)?;
    let zhang = store.add_contact(zhang())?;
    let li = store.add_contact(NewContact {
        name: "李娜".into(),
        company: Some("广州白云贸易".into()),
        extra: BTreeMap::from([("tier".to_string(), "A".to_string())]),
        ..Default::default()
    })?;
    let wang = store.add_contact(NewContact {
        name: "王芳".into(),
        ..Default::default()
    })?;
    let someone_elses = store.add_contact(NewContact {
        name: "赵强".into(),
        owner: Some("rep2".into()),
        ..Default::default()
    })?;
    let today = chrono::Local::now().date_naive();
    let day = |offset: i64| (today + chrono::Duration::days(offset)).to_string();
    store.add_task(NewTask {
        contact_id: zhang.id.clone(),
        due: day(-3),
        title: Some("回访报价".into()),
        ..Default::default()
    })?;
    store.add_task(NewTask {
        contact_id: wang.id.clone(),
        task_type: Some("visit".into()),
        due: day(10),
        ..Default::default()
    })?;
    store.add_task(NewTask {
        contact_id: someone_elses.id.clone(),
        due: day(0),
        owner: Some("rep2".into()),
        ..Default::default()
    })?;
    store.add_deal(NewDeal {
        title: "白云 ERP".into(),
        contact_id: li.id.clone(),
        amount: Some(500_000.0),
        ..Default::default()
    })?;

    // Today: Zhang's overdue follow-up only (the lead is fresh; Li's tier A allows 7 days).
    let list = store.today(Some(&day(0)))?;
    let names: Vec<_> = list.iter().map(|i| i.name.as_str()).collect();
    assert_eq!(names, ["张伟"], "{list:#?}");
    assert_eq!(list[0].reasons[0].kind, "follow_up_overdue");
    assert!(list[0].reasons[0].detail.contains("3 days"));

    // Ten days on: the lead went stale (72 h), Li was not visited for 10 days (tier A: 7),
    // Wang's planned visit is due, Zhang's follow-up is 13 days late.
    let list = store.today(Some(&day(10)))?;
    let names: Vec<_> = list.iter().map(|i| i.name.as_str()).collect();
    assert_eq!(names, ["张伟", "李娜", "王芳"], "{list:#?}");
    let li_kinds: Vec<_> = list[1].reasons.iter().map(|r| r.kind.as_str()).collect();
    assert_eq!(li_kinds, ["deal_stale", "visit_overdue"]);
    assert_eq!(list[2].reasons[0].kind, "planned_visit");

    // A visit to Li resets both of her reasons.
    store.check_in(at(
        &li.id,
        23.13,
        113.26,
        10.0,
        &format!("{}T10:00:00+08:00", day(9)),
    ))?;
    let list = store.today(Some(&day(10)))?;
    assert!(list.iter().all(|i| i.contact_id != li.id), "{list:#?}");

    let bad = store.today(Some("10/12/2026"));
    assert!(matches!(bad, Err(Error::Validation { ref field, .. }) if field == "date"));
    Ok(())
}

#[test]
fn alerts_show_every_reps_stale_deals_and_unverified_visits() -> TestResult {
    let dir = tempfile::tempdir()?;
    let mut store = open(&dir)?;
    let c = store.add_contact(zhang())?;
    let d = store.add_deal(NewDeal {
        title: "华强 MES".into(),
        contact_id: c.id.clone(),
        owner: Some("rep2".into()),
        ..Default::default()
    })?;
    let now = chrono::Local::now();
    let in_days = |n: i64| (now + chrono::Duration::days(n)).date_naive().to_string();
    assert!(store.alerts(Some(&in_days(0)))?.is_empty());
    let alerts = store.alerts(Some(&in_days(4)))?;
    assert_eq!(alerts.len(), 1);
    assert_eq!(alerts[0].kind, "deal_stale");
    assert_eq!(alerts[0].record_id, d.id);
    assert_eq!(alerts[0].owner.as_deref(), Some("rep2"));

    let time = now.fixed_offset().to_rfc3339();
    store.check_in_verified(at(&c.id, 22.54, 113.95, 10.0, &time), true)?;
    let alerts = store.alerts(Some(&in_days(1)))?;
    assert_eq!(
        alerts.iter().map(|a| a.kind.as_str()).collect::<Vec<_>>(),
        ["visit_unverified"]
    );
    assert!(alerts[0].detail.starts_with("mock_location"));
    Ok(())
}

#[test]
fn flow_settings_change_the_radius_and_the_pipeline() -> TestResult {
    let dir = tempfile::tempdir()?;
    let mut store = open(&dir)?;
    assert_eq!(store.flow_config()?, FlowConfig::default());
    let mut cfg = FlowConfig {
        visit_radius_m: 100.0,
        ..Default::default()
    };
    cfg.stages.retain(|s| s.name != "qualified");
    for s in &mut cfg.stages {
        if s.name == "proposal" {
            s.requires.clear();
        }
    }
    store.set_flow_config(&cfg)?;
    assert_eq!(store.flow_config()?, cfg);
    let c = store.add_contact(NewContact {
        name: "张伟".into(),
        extra: BTreeMap::from([
            ("lat".to_string(), "22.5431".to_string()),
            ("lon".to_string(), "113.9480".to_string()),
        ]),
        ..Default::default()
    })?;
    // ~330 m away: inside the default 500 m, outside 100 m.
    let v = store.check_in_verified(
        at(&c.id, 22.5461, 113.9480, 10.0, "2026-11-23T09:00:00+08:00"),
        false,
    )?;
    assert_eq!(v.check.verdict, Verdict::FarFromCustomer);
    let d = store.add_deal(NewDeal {
        title: "x".into(),
        contact_id: c.id,
        ..Default::default()
    })?;
    assert!(store.move_deal(&d.id, "qualified").is_err());
    assert_eq!(store.move_deal(&d.id, "proposal")?.stage, "proposal");
    assert_eq!(
        store
            .list_deals(&DealFilter {
                stage: Some("proposal".into()),
                ..Default::default()
            })?
            .len(),
        1
    );
    let bad = FlowConfig {
        visit_radius_m: -5.0,
        ..Default::default()
    };
    assert!(
        matches!(store.set_flow_config(&bad), Err(Error::Validation { ref field, .. }) if field == "visit_radius_m")
    );
    Ok(())
}

/// Item 15: a contract attached to one deal of a contact does not open the `won` gate of
/// another deal of the same contact; a contract of the contact alone opens every deal's.
#[test]
fn a_contract_opens_only_its_own_deals_gate() -> TestResult {
    let dir = tempfile::tempdir()?;
    let mut store = open(&dir)?;
    let c = store.add_contact(zhang())?;
    let deal = |store: &mut outpost_core::Store, title: &str| {
        store.add_deal(NewDeal {
            title: title.into(),
            contact_id: c.id.clone(),
            ..Default::default()
        })
    };
    let x = deal(&mut store, "一期")?;
    let y = deal(&mut store, "二期")?;
    let contract = |deal_id: Option<String>, amount: &str| outpost_core::NewAttachment {
        contact_id: c.id.clone(),
        deal_id,
        category: "contract".into(),
        mime: "image/jpeg".into(),
        bytes: amount.as_bytes().to_vec(),
        fields: BTreeMap::from([("amount".to_string(), amount.to_string())]),
        ..Default::default()
    };
    store.attach(contract(Some(x.id.clone()), "305000"))?;
    assert_eq!(store.move_deal(&x.id, "won")?.stage, "won");
    let check = store.check_deal_stage(&y.id, "won")?;
    assert!(!check.allowed, "deal X's contract opened deal Y's gate");
    assert!(
        matches!(store.move_deal(&y.id, "won"), Err(Error::Validation { ref field, .. }) if field == "stage")
    );
    store.attach(contract(None, "120000"))?;
    assert_eq!(store.move_deal(&y.id, "won")?.stage, "won");
    Ok(())
}

/// A deal, a task and visits of a merged contact read as the survivor's: gates count the
/// survivor's evidence, today's list groups by the survivor, lists by contact include them, and
/// new deals and tasks for the merged contact land on the survivor.
#[test]
fn deals_tasks_and_visits_of_a_merged_contact_are_the_survivors() -> TestResult {
    let dir = tempfile::tempdir()?;
    let mut store = open(&dir)?;
    let survivor = store.add_contact(zhang())?;
    let merged = store.add_contact(NewContact {
        name: "张伟".into(),
        company: Some("华强科技".into()),
        phones: vec!["138 0013 8000".into()],
        ..Default::default()
    })?;
    let today = chrono::Local::now().date_naive();
    let day = |offset: i64| (today + chrono::Duration::days(offset)).to_string();
    let deal = store.add_deal(NewDeal {
        title: "ERP 项目".into(),
        contact_id: merged.id.clone(),
        ..Default::default()
    })?;
    let task = store.add_task(NewTask {
        contact_id: merged.id.clone(),
        due: day(-2),
        title: Some("回访".into()),
        ..Default::default()
    })?;
    store.merge_contacts(&survivor.id, &merged.id)?;

    // Lists by the survivor include the merged contact's deal and task.
    let deals = store.list_deals(&DealFilter {
        contact_id: Some(survivor.id.clone()),
        ..Default::default()
    })?;
    assert_eq!(deals.iter().map(|d| &d.id).collect::<Vec<_>>(), [&deal.id]);
    let tasks = store.list_tasks(&TaskFilter {
        contact_id: Some(survivor.id.clone()),
        ..Default::default()
    })?;
    assert_eq!(tasks.iter().map(|t| &t.id).collect::<Vec<_>>(), [&task.id]);

    // Today's list shows the follow-up under the survivor, once.
    let list = store.today(Some(&day(0)))?;
    assert_eq!(list.len(), 1, "{list:#?}");
    assert_eq!(list[0].contact_id, survivor.id);
    assert_eq!(list[0].reasons[0].kind, "follow_up_overdue");

    // A quotation attached to the survivor (not to the deal) opens the proposal gate of the
    // deal that names the merged contact; a check-in at the merged contact is the survivor's
    // visit and opens the negotiation gate.
    store.move_deal(&deal.id, "qualified")?;
    assert!(!store.check_deal_stage(&deal.id, "proposal")?.allowed);
    store.attach(outpost_core::NewAttachment {
        contact_id: survivor.id.clone(),
        category: "quotation".into(),
        mime: "application/pdf".into(),
        bytes: b"quotation".to_vec(),
        ..Default::default()
    })?;
    store.move_deal(&deal.id, "proposal")?;
    assert!(!store.check_deal_stage(&deal.id, "negotiation")?.allowed);
    let v = store.check_in(at(
        &merged.id,
        22.54,
        113.95,
        10.0,
        &chrono::Local::now().fixed_offset().to_rfc3339(),
    ))?;
    assert_eq!(v.contact_id, survivor.id);
    assert_eq!(
        store.move_deal(&deal.id, "negotiation")?.stage,
        "negotiation"
    );

    // New records for the merged contact are written on the survivor.
    let later = store.add_deal(NewDeal {
        title: "MES".into(),
        contact_id: merged.id.clone(),
        ..Default::default()
    })?;
    assert_eq!(later.contact_id, survivor.id);
    let t = store.add_task(NewTask {
        contact_id: merged.id.clone(),
        due: day(1),
        ..Default::default()
    })?;
    assert_eq!(t.contact_id, survivor.id);
    Ok(())
}
