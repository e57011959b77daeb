//! The contact generator: deterministic, realistic, and always valid input for the store.

use outpost_core::{normalize, NewContact, Region, SearchOptions, Store, StoreOptions};
use outpost_tests::fixtures::{self, contact, contact_at, Rng};

type TestResult = Result<(), Box<dyn std::error::Error>>;

#[test]
fn same_seed_same_contacts_other_seed_other_contacts() {
    let a: Vec<NewContact> = fixtures::contacts(7, 200).collect();
    let b: Vec<NewContact> = fixtures::contacts(7, 200).collect();
    assert_eq!(a, b);
    let c: Vec<NewContact> = fixtures::contacts(8, 200).collect();
    assert_ne!(a, c);
    // Random access gives the same contact as generating in order.
    assert_eq!(contact_at(7, 150), a[150]);
    // A sequential generator is deterministic too.
    let mut r1 = Rng::new(99);
    let mut r2 = Rng::new(99);
    for i in 0..50 {
        assert_eq!(contact(&mut r1, i), contact(&mut r2, i));
    }
}

#[test]
fn generated_contacts_look_like_a_reps_address_book() {
    let all: Vec<NewContact> = fixtures::contacts(1, 2000).collect();
    let share =
        |f: &dyn Fn(&NewContact) -> bool| all.iter().filter(|c| f(c)).count() * 100 / all.len();
    let english = share(&|c| c.name.is_ascii() || c.name.contains(' '));
    assert!((4..=20).contains(&english), "{english}% English names");
    assert!(
        share(&|c| c
            .company
            .as_deref()
            .is_some_and(|s| s.ends_with("公司") || s.ends_with("集团")))
            > 80
    );
    assert!(
        share(&|c| c
            .phones
            .iter()
            .any(|p| p.starts_with('0') || p.starts_with('(')))
            > 10
    );
    assert!(share(&|c| !c.emails.is_empty()) > 40);
    assert!(
        share(&|c| c
            .address
            .as_deref()
            .is_some_and(|a| a.contains('市') && a.contains('号')))
            > 50
    );
    let with_notes = share(&|c| c.notes.is_some());
    assert!((10..=50).contains(&with_notes), "{with_notes}% with notes");
    let names: std::collections::HashSet<&str> = all.iter().map(|c| c.name.as_str()).collect();
    assert!(names.len() > 800, "only {} distinct names", names.len());
}

#[test]
fn every_generated_phone_and_email_is_valid() -> TestResult {
    for (i, c) in fixtures::contacts(3, 20_000).enumerate() {
        for p in &c.phones {
            normalize::phone("phones", p, Region::default())
                .map_err(|e| format!("contact {i}: {e}"))?;
        }
        for e in &c.emails {
            normalize::email("emails", e).map_err(|err| format!("contact {i}: {err}"))?;
        }
    }
    let mut rng = Rng::new(5);
    for city in fixtures::CITIES {
        for _ in 0..500 {
            let p = fixtures::landline(&mut rng, city);
            normalize::phone("phones", &p, Region::default())
                .map_err(|e| format!("{}: {e}", city.name))?;
        }
    }
    Ok(())
}

#[test]
fn five_hundred_contacts_save_and_are_found() -> TestResult {
    let dir = tempfile::tempdir()?;
    let mut store = Store::open(dir.path().join("fixtures.db"), StoreOptions::default())?;
    let mut saved = Vec::new();
    for (i, new) in fixtures::contacts(11, 500).enumerate() {
        let c = store
            .add_contact(new.clone())
            .map_err(|e| format!("contact {i} ({new:?}): {e}"))?;
        assert_eq!(c.name, new.name);
        assert!(
            c.phones.iter().all(|p| p.starts_with("+86")),
            "{:?}",
            c.phones
        );
        saved.push(c);
    }
    let status = store.status()?;
    let active: u64 = status
        .records
        .iter()
        .filter(|k| k.kind == "contact")
        .map(|k| k.count)
        .sum();
    assert_eq!(active, 500);
    // The benchmark's kinds of queries hit this data.
    let all = SearchOptions {
        limit: Some(1000),
        ..SearchOptions::default()
    };
    for q in ["王", "恒通", "zha"] {
        assert!(!store.search(q, &all)?.is_empty(), "{q} found nothing");
    }
    let company = saved
        .iter()
        .find_map(|c| c.company.clone())
        .ok_or("no company")?;
    let found = store.search(&company, &all)?;
    assert!(
        found
            .iter()
            .any(|c| c.company.as_deref() == Some(company.as_str())),
        "{company}"
    );
    Ok(())
}
