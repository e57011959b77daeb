use super::{open, zhang, TestResult};
use outpost_core::{
    CheckIn, ContactPatch, ContactStatus, DupQuery, DupReason, Error, ListOptions, NewContact,
    SearchOptions, VisitFilter,
};

fn phone_query(p: &str) -> DupQuery {
    DupQuery {
        phones: vec![p.into()],
        ..Default::default()
    }
}

#[test]
fn phone_variants_are_one_duplicate() -> TestResult {
    let dir = tempfile::tempdir()?;
    let mut store = open(&dir)?;
    let a = store.add_contact(NewContact {
        name: "张伟".into(),
        phones: vec!["138 0013 8000".into()],
        ..Default::default()
    })?;
    store.add_contact(NewContact {
        name: "李娜".into(),
        phones: vec!["139 0013 9000".into()],
        ..Default::default()
    })?;
    for variant in ["138 0013 8000", "+86 138-0013-8000", "8613800138000"] {
        let dups = store.find_duplicates(&phone_query(variant))?;
        assert_eq!(dups.len(), 1, "{variant}: {dups:?}");
        assert_eq!(dups[0].contact_id, a.id);
        assert_eq!(dups[0].reasons, [DupReason::Phone]);
        assert_eq!(dups[0].score, 0.95);
    }
    // A half-typed number matches nothing, and is no error.
    assert!(store.find_duplicates(&phone_query("138 00"))?.is_empty());
    Ok(())
}

#[test]
fn title_variants_at_company_variants_are_candidates() -> TestResult {
    let dir = tempfile::tempdir()?;
    let mut store = open(&dir)?;
    let manager = store.add_contact(NewContact {
        name: "张经理".into(),
        company: Some("深圳市华强科技有限公司".into()),
        ..Default::default()
    })?;
    // Someone else at another company, and another surname at the same one.
    store.add_contact(NewContact {
        name: "张经理".into(),
        company: Some("腾讯科技".into()),
        ..Default::default()
    })?;
    store.add_contact(NewContact {
        name: "王经理".into(),
        company: Some("华强科技".into()),
        ..Default::default()
    })?;
    let added = store.add_contact_checked(NewContact {
        name: "张总监".into(),
        company: Some("华强科技".into()),
        ..Default::default()
    })?;
    assert_eq!(added.duplicates.len(), 1, "{:?}", added.duplicates);
    assert_eq!(added.duplicates[0].contact_id, manager.id);
    assert_eq!(added.duplicates[0].reasons, [DupReason::NameCompany]);
    // A full name of that surname at that company is a weaker candidate of the bare surname.
    let dups = store.find_duplicates(&DupQuery {
        name: Some("张伟".into()),
        company: Some("华强科技有限公司".into()),
        ..Default::default()
    })?;
    let ids: Vec<&str> = dups.iter().map(|d| d.contact_id.as_str()).collect();
    assert!(ids.contains(&manager.id.as_str()), "{dups:?}");
    assert!(dups.iter().all(|d| d.score < 0.8));
    // Pinyin meets Chinese characters at the same company.
    let wei = store.add_contact(NewContact {
        name: "张伟".into(),
        company: Some("Acme".into()),
        ..Default::default()
    })?;
    let dups = store.find_duplicates(&DupQuery {
        name: Some("Wei Zhang".into()),
        company: Some("ACME Co., Ltd.".into()),
        ..Default::default()
    })?;
    assert_eq!(
        dups.first().map(|d| d.contact_id.as_str()),
        Some(wei.id.as_str())
    );
    Ok(())
}

#[test]
fn reasons_combine_best_first_and_invalid_ones_are_not_offered() -> TestResult {
    let dir = tempfile::tempdir()?;
    let mut store = open(&dir)?;
    let full = store.add_contact(zhang())?;
    let phone_only = store.add_contact(NewContact {
        name: "Someone".into(),
        phones: vec!["13800138000".into()],
        ..Default::default()
    })?;
    let gone = store.add_contact(NewContact {
        name: "张伟".into(),
        emails: vec!["zhang.wei@huaqiang.com".into()],
        ..Default::default()
    })?;
    store.invalidate_contact(&gone.id, "重复录入")?;
    let dups = store.find_duplicates(&DupQuery {
        name: Some("张伟".into()),
        company: Some("华强科技".into()),
        phones: vec!["+86 138-0013-8000".into()],
        emails: vec!["ZHANG.WEI@huaqiang.com".into()],
    })?;
    let ids: Vec<&str> = dups.iter().map(|d| d.contact_id.as_str()).collect();
    assert_eq!(ids, [full.id.as_str(), phone_only.id.as_str()]);
    assert_eq!(
        dups[0].reasons,
        [DupReason::Phone, DupReason::Email, DupReason::NameCompany]
    );
    assert!(dups[0].score > dups[1].score);
    Ok(())
}

#[test]
fn merge_copies_hides_and_unmerge_restores() -> TestResult {
    let dir = tempfile::tempdir()?;
    let mut store = open(&dir)?;
    let winner = store.add_contact(NewContact {
        name: "张伟".into(),
        company: Some("华强科技".into()),
        title: Some("采购经理".into()),
        phones: vec!["13800138000".into()],
        ..Default::default()
    })?;
    let mut loser_new = NewContact {
        name: "张总".into(),
        company: Some("深圳市华强科技有限公司".into()),
        title: Some("采购总监".into()),
        phones: vec!["13900139000".into(), "13800138000".into()],
        emails: vec!["zw@huaqiang.com".into()],
        address: Some("深圳市南山区".into()),
        ..Default::default()
    };
    loser_new.extra.insert("wechat".into(), "zw88".into());
    let loser = store.add_contact(loser_new)?;
    let visit = store.check_in(CheckIn {
        contact_id: loser.id.clone(),
        lat: 22.54,
        lon: 113.95,
        accuracy_m: None,
        device_time: None,
        elapsed_ms: None,
        coords: None,
    })?;

    let merged = store.merge_contacts(&winner.id, &loser.id)?;
    assert_eq!(merged.id, winner.id);
    assert_eq!(merged.phones, ["+8613800138000", "+8613900139000"]);
    assert_eq!(merged.emails, ["zw@huaqiang.com"]);
    assert_eq!(
        merged.title.as_deref(),
        Some("采购经理"),
        "the winner's value stays"
    );
    assert_eq!(
        merged.address.as_deref(),
        Some("深圳市南山区"),
        "what it lacked is copied"
    );
    assert_eq!(merged.extra.get("wechat").map(String::as_str), Some("zw88"));
    // The loser's differing values are in the winner's history.
    let history = store.contact_history(&winner.id)?;
    let last = history.last().ok_or("no history")?;
    assert_eq!(last.action, "merge");
    let kept = last
        .changes
        .iter()
        .find(|c| c.field == format!("merged_from:{}", loser.id))
        .and_then(|c| c.new.clone())
        .ok_or("loser's values not in history")?;
    assert!(kept.contains("采购总监") && kept.contains("张总"), "{kept}");

    let gone = store.get_contact(&loser.id)?;
    assert_eq!(gone.status, ContactStatus::Merged);
    assert_eq!(gone.merged_into.as_deref(), Some(winner.id.as_str()));
    let listed = store.list_contacts(&ListOptions::default())?;
    assert_eq!(listed.len(), 1);
    assert!(store.search("总监", &SearchOptions::default())?.is_empty());
    assert!(store
        .find_duplicates(&phone_query("13900139000"))?
        .iter()
        .all(|d| d.contact_id == winner.id));
    // Its visits read as the winner's; a new check-in at the loser lands on the winner.
    let visits = store.list_visits(&VisitFilter {
        contact_id: Some(winner.id.clone()),
        ..Default::default()
    })?;
    assert_eq!(
        visits.iter().map(|v| &v.id).collect::<Vec<_>>(),
        [&visit.id]
    );
    let again = store.check_in(CheckIn {
        contact_id: loser.id.clone(),
        lat: 22.54,
        lon: 113.95,
        accuracy_m: None,
        device_time: None,
        elapsed_ms: None,
        coords: None,
    })?;
    assert_eq!(again.contact_id, winner.id);
    assert_eq!(store.survivor_of(&loser.id)?, winner.id);

    // Refusals name the field.
    for (w, l, field) in [
        (&winner.id, &winner.id, "loser"),
        (&loser.id, &winner.id, "winner"),
        (&winner.id, &loser.id, "loser"),
    ] {
        match store.merge_contacts(w, l) {
            Err(Error::Validation { field: f, .. }) => assert_eq!(f, field),
            other => panic!("{w} <- {l}: {other:?}"),
        }
    }
    assert!(matches!(
        store.unmerge_contact(&winner.id),
        Err(Error::Validation { .. })
    ));

    let back = store.unmerge_contact(&loser.id)?;
    assert_eq!(back.status, ContactStatus::Active);
    assert_eq!(back.merged_into, None);
    assert_eq!(store.list_contacts(&ListOptions::default())?.len(), 2);
    assert_eq!(store.search("总监", &SearchOptions::default())?.len(), 1);
    // The winner gives back what the merge copied into it, and is its old self.
    let restored = store.get_contact(&winner.id)?;
    assert_eq!(restored.phones, ["+8613800138000"]);
    assert!(restored.emails.is_empty(), "{:?}", restored.emails);
    assert_eq!(restored.address, None);
    assert_eq!(restored.extra.get("wechat"), None);
    assert_eq!(restored.title.as_deref(), Some("采购经理"));
    assert!(
        restored.extra.keys().all(|k| !k.starts_with("merged_from")),
        "{:?}",
        restored.extra
    );
    assert!(store
        .find_duplicates(&phone_query("13900139000"))?
        .iter()
        .all(|d| d.contact_id == loser.id));

    // Merged again, and the winner's copied address edited since: the edit stays, the
    // untouched copies go back.
    store.merge_contacts(&winner.id, &loser.id)?;
    store.edit_contact(
        &winner.id,
        ContactPatch {
            address: Some("深圳市福田区".into()),
            ..Default::default()
        },
    )?;
    store.unmerge_contact(&loser.id)?;
    let after = store.get_contact(&winner.id)?;
    assert_eq!(after.address.as_deref(), Some("深圳市福田区"));
    assert_eq!(after.phones, ["+8613800138000"]);
    assert_eq!(after.extra.get("wechat"), None);
    let loser_now = store.get_contact(&loser.id)?;
    assert_eq!(loser_now.address.as_deref(), Some("深圳市南山区"));
    assert_eq!(loser_now.phones, ["+8613900139000", "+8613800138000"]);
    Ok(())
}

#[test]
fn survivors_of_chains_and_cycles_on_one_device() -> TestResult {
    let dir = tempfile::tempdir()?;
    let mut store = open(&dir)?;
    let mut ids = Vec::new();
    for name in ["甲", "乙", "丙"] {
        ids.push(
            store
                .add_contact(NewContact {
                    name: name.into(),
                    ..Default::default()
                })?
                .id,
        );
    }
    // A chain: 0 -> 1, then 1 -> 2: 0 reads as 2.
    store.merge_contacts(&ids[1], &ids[0])?;
    store.merge_contacts(&ids[2], &ids[1])?;
    assert_eq!(
        store.get_contact(&ids[0])?.merged_into.as_deref(),
        Some(ids[2].as_str())
    );
    let visible: Vec<String> = store
        .list_contacts(&ListOptions::default())?
        .into_iter()
        .map(|c| c.id)
        .collect();
    assert_eq!(visible, [ids[2].clone()]);
    Ok(())
}

fn company_query(name: &str, company: &str) -> DupQuery {
    DupQuery {
        name: Some(name.into()),
        company: Some(company.into()),
        ..Default::default()
    }
}

/// An edit deletes the keys the contact no longer has (computed again from the projection it
/// replaces, without an index by contact) and adds the new ones.
#[test]
fn an_edit_moves_the_match_keys() -> TestResult {
    let dir = tempfile::tempdir()?;
    let mut store = open(&dir)?;
    let zhang = store.add_contact(NewContact {
        name: "张伟".into(),
        company: Some("深圳市华强科技有限公司".into()),
        phones: vec!["138 0013 8000".into(), "0755-8888 8888 转 123".into()],
        emails: vec!["zhang@huaqiang.cn".into()],
        ..Default::default()
    })?;
    store.edit_contact(
        &zhang.id,
        ContactPatch {
            company: Some("广州恒通贸易有限公司".into()),
            phones: Some(vec!["139 0013 9000".into(), "0755-8888 8888 转 123".into()]),
            emails: Some(vec![]),
            ..Default::default()
        },
    )?;
    let found = |q: &DupQuery| -> Result<Vec<String>, Error> {
        Ok(store
            .find_duplicates(q)?
            .into_iter()
            .map(|d| d.contact_id)
            .collect())
    };
    assert!(
        found(&phone_query("138 0013 8000"))?.is_empty(),
        "old phone"
    );
    assert!(
        found(&DupQuery {
            emails: vec!["zhang@huaqiang.cn".into()],
            ..Default::default()
        })?
        .is_empty(),
        "old email"
    );
    assert!(
        found(&company_query("张伟", "华强科技"))?.is_empty(),
        "old company"
    );
    assert_eq!(
        found(&phone_query("139 0013 9000"))?,
        vec![zhang.id.clone()]
    );
    assert_eq!(
        found(&phone_query("0755-8888 8888 转 123"))?,
        vec![zhang.id.clone()],
        "kept phone"
    );
    assert_eq!(
        found(&company_query("张伟", "恒通贸易"))?,
        vec![zhang.id.clone()]
    );
    Ok(())
}

/// Contacts that came in through the import's bulk path lose their old keys on an edit too.
#[cfg(feature = "import")]
#[test]
fn an_imported_contact_loses_its_old_keys_on_an_edit() -> TestResult {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("contacts.csv");
    std::fs::write(
        &path,
        "姓名,公司,手机,邮箱\n张伟,深圳市华强科技有限公司,138 0013 8000,zhang@huaqiang.cn\n李娜,华信电子,139 0013 9000,\n",
    )?;
    let mut store = open(&dir)?;
    let summary = store.import_file(&path, &outpost_core::ImportOptions::default(), &mut |_| {})?;
    assert_eq!(summary.imported, 2);
    let zhang = store
        .find_duplicates(&phone_query("138 0013 8000"))?
        .into_iter()
        .next()
        .ok_or("the imported contact is not found by its phone")?;
    store.edit_contact(
        &zhang.contact_id,
        ContactPatch {
            phones: Some(vec!["137 0013 7000".into()]),
            ..Default::default()
        },
    )?;
    assert!(store
        .find_duplicates(&phone_query("138 0013 8000"))?
        .is_empty());
    let now = store.find_duplicates(&phone_query("137 0013 7000"))?;
    assert_eq!(now.len(), 1);
    assert_eq!(now[0].contact_id, zhang.contact_id);
    Ok(())
}

/// Keys of another version (an older build's) are rebuilt on open: a stale key disappears.
#[test]
fn keys_of_another_version_are_rebuilt_on_open() -> TestResult {
    let dir = tempfile::tempdir()?;
    let zhang = {
        let mut store = open(&dir)?;
        store.add_contact(zhang())?
    };
    {
        let conn = rusqlite::Connection::open(dir.path().join("rep.db"))?;
        conn.execute(
            "INSERT INTO contact_keys(key, rid) SELECT 'p:+8613700137000', rid FROM records WHERE id = ?1",
            [&zhang.id],
        )?;
        conn.execute(
            "UPDATE sync_state SET value = '1' WHERE key = 'dedup_keys_indexed'",
            [],
        )?;
    }
    let store = open(&dir)?;
    assert!(
        store
            .find_duplicates(&phone_query("137 0013 7000"))?
            .is_empty(),
        "the stale key was dropped"
    );
    assert_eq!(
        store.find_duplicates(&phone_query(&zhang.phones[0]))?.len(),
        1,
        "the real keys were built again"
    );
    Ok(())
}
