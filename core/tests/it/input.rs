//! Input a Chinese rep types every day (issue 17, item 14): full-width digits, letters and
//! punctuation, phone extensions, numbers typed with `0086` or a trunk `0`.

use super::{open, TestResult};
use outpost_core::{DupQuery, DupReason, Error, NewContact, SearchOptions, Store};

fn person(name: &str, phones: &[&str], emails: &[&str]) -> NewContact {
    NewContact {
        name: name.into(),
        phones: phones.iter().map(|p| p.to_string()).collect(),
        emails: emails.iter().map(|e| e.to_string()).collect(),
        ..Default::default()
    }
}

/// The stored document of a record, checked as the server checks what a device pushes.
fn server_accepts(dir: &tempfile::TempDir, id: &str, kind: &str) -> TestResult {
    let conn = rusqlite::Connection::open(dir.path().join("rep.db"))?;
    let bytes: Vec<u8> =
        conn.query_row("SELECT doc FROM records WHERE id = ?1", [id], |r| r.get(0))?;
    let doc = automerge::AutoCommit::load(&bytes)?;
    outpost_core::record::validate_doc(kind, &doc).map_err(|e| format!("server refuses: {e}"))?;
    Ok(())
}

#[test]
fn full_width_digits_punctuation_and_letters_are_folded_before_parsing() -> TestResult {
    let dir = tempfile::tempdir()?;
    let mut store = open(&dir)?;
    let c = store.add_contact(person(
        "王芳",
        &[
            "１３８ ００１３ ８０００",
            "（0755）5265 9655",
            "＋８６　１３９－００１３－９０００",
        ],
        &["ｗａｎｇ＠ｑｑ．ｃｏｍ", "Li。Na@163。com"],
    ))?;
    assert_eq!(
        c.phones,
        ["+8613800138000", "+8675552659655", "+8613900139000"]
    );
    assert_eq!(c.emails, ["wang@qq.com", "li.na@163.com"]);
    server_accepts(&dir, &c.id, "contact")?;
    Ok(())
}

#[test]
fn phone_extensions_are_kept_in_one_stored_form_that_the_server_accepts() -> TestResult {
    let dir = tempfile::tempdir()?;
    let mut store = open(&dir)?;
    for typed in [
        "0755-8888 8888 转 123",
        "0755-8888 8888 x123",
        "0755 8888 8888 ext. 123",
        "(0755) 88888888 EXT 123",
        "0755-88888888 分机 123",
        "+86 755 8888 8888;ext=123",
        "０７５５－８８８８ ８８８８ 转１２３",
    ] {
        let c = store.add_contact(person("总机", &[typed], &[]))?;
        assert_eq!(c.phones, ["+8675588888888;ext=123"], "{typed}");
        // Shown as typed: the stored form says nothing of 转 or x.
        assert_eq!(
            c.phones_typed
                .get("+8675588888888;ext=123")
                .map(String::as_str),
            Some(typed)
        );
        assert_eq!(store.get_contact(&c.id)?, c);
        server_accepts(&dir, &c.id, "contact")?;
    }
    // An edit that keeps the number keeps how it was typed; one that types it anew, the new text.
    let c = store.add_contact(person("前台", &["0755-8888 8888 转 123"], &[]))?;
    let patch = |phones: &[&str]| outpost_core::ContactPatch {
        phones: Some(phones.iter().map(|p| p.to_string()).collect()),
        ..Default::default()
    };
    let kept = store.edit_contact(&c.id, patch(&["+8675588888888;ext=123", "138 0013 8000"]))?;
    assert_eq!(kept.phones_typed, c.phones_typed);
    let retyped = store.edit_contact(&c.id, patch(&["138 0013 8000", "0755 88888888 ext. 123"]))?;
    assert_eq!(
        retyped.phones_typed.values().collect::<Vec<_>>(),
        ["0755 88888888 ext. 123"]
    );
    let dropped = store.edit_contact(&c.id, patch(&["138 0013 8000"]))?;
    assert!(dropped.phones_typed.is_empty());
    server_accepts(&dir, &c.id, "contact")?;
    for bad in [
        "0755-8888 8888 转",
        "0755-8888 8888 转 12a",
        "0755-8888 8888 ext 12345678901",
        "x123",
        "13800138000x",
    ] {
        match store.add_contact(person("总机", &[bad], &[])) {
            Err(Error::Validation { field, value, .. }) => {
                assert_eq!(field, "phones", "{bad}");
                assert_eq!(value, bad);
            }
            other => panic!("{bad} should be refused naming the phone, got {other:?}"),
        }
    }
    Ok(())
}

#[test]
fn search_finds_a_number_typed_with_0086_plus_86_a_trunk_0_or_full_width() -> TestResult {
    let dir = tempfile::tempdir()?;
    let mut store = open(&dir)?;
    let zhang = store.add_contact(person("张伟", &["138 0013 8000"], &[]))?;
    let office = store.add_contact(person("前台", &["0755-8888 8888 转 123"], &[]))?;
    let john = store.add_contact(person("John Smith", &[], &[]))?;
    let wide = store.add_contact(person("Ｊｏｈｎ Ｌｅｅ", &[], &[]))?;
    let ids = |store: &Store, q: &str| -> Result<Vec<String>, Error> {
        Ok(store
            .search(q, &SearchOptions::default())?
            .into_iter()
            .map(|c| c.id)
            .collect())
    };
    for q in [
        "0086 138 0013 8000",
        "008613800138000",
        "+86 138 0013 8000",
        "013800138000",
        "１３８００１３８０００",
        "１３８ ００１３",
        "+86 138",
    ] {
        assert_eq!(ids(&store, q)?, std::slice::from_ref(&zhang.id), "{q}");
    }
    for q in ["0755 8888 8888", "+86 755 8888 8888", "88888888"] {
        assert_eq!(ids(&store, q)?, std::slice::from_ref(&office.id), "{q}");
    }
    let mut found = ids(&store, "Ｊｏｈｎ")?;
    found.sort();
    let mut both = vec![john.id.clone(), wide.id.clone()];
    both.sort();
    assert_eq!(found, both, "full-width letters find both spellings");
    assert_eq!(ids(&store, "lee")?, std::slice::from_ref(&wide.id));
    Ok(())
}

#[test]
fn duplicates_compare_numbers_with_extensions_by_their_main_number() -> TestResult {
    let dir = tempfile::tempdir()?;
    let mut store = open(&dir)?;
    let desk = store.add_contact(person("李娜", &["0755-8888 8888 转 123"], &[]))?;
    let query = |p: &str| DupQuery {
        phones: vec![p.into()],
        ..Default::default()
    };
    // The same number and extension, typed another way: a phone duplicate.
    let same = store.find_duplicates(&query("+86 755 8888 8888 x123"))?;
    assert_eq!(same.len(), 1);
    assert_eq!(same[0].contact_id, desk.id);
    assert_eq!(same[0].reasons, [DupReason::Phone]);
    // The main number alone: the same line, offered, but below an exact phone match.
    let main = store.find_duplicates(&query("0755 8888 8888"))?;
    assert_eq!(main.len(), 1);
    assert_eq!(main[0].contact_id, desk.id);
    assert!(main[0].score < same[0].score, "{main:?} {same:?}");
    // Another extension of the same switchboard is another person.
    assert!(store
        .find_duplicates(&query("0755-8888 8888 转 456"))?
        .is_empty());
    // A stored main number is offered for a typed number with an extension.
    let board = store.add_contact(person("总机", &["0755-6612 5100"], &[]))?;
    let dups = store.find_duplicates(&query("0755-6612 5100 转 8"))?;
    assert_eq!(
        dups.iter()
            .map(|d| d.contact_id.as_str())
            .collect::<Vec<_>>(),
        [board.id.as_str()]
    );
    Ok(())
}

/// A bad phone in an import row leaves that phone out, with a warning in the report; the row,
/// its other phones and its email are imported.
#[cfg(feature = "import")]
#[test]
fn a_bad_phone_in_an_import_row_skips_the_phone_not_the_row() -> TestResult {
    use outpost_core::{ImportOptions, ListOptions};
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("客户.csv");
    std::fs::write(
        &path,
        "姓名,手机,邮箱\n\
         张三,12345,zhang@example.com\n\
         李四,１３８ ００１３ ８００１ / 999,\n\
         王五,0755-8888 8888 转 123,\n",
    )?;
    let mut store = open(&dir)?;
    let sum = store.import_file(&path, &ImportOptions::default(), &mut |_| {})?;
    assert_eq!((sum.imported, sum.skipped), (3, 0), "{sum:?}");
    let mut by_name: Vec<(String, Vec<String>, Vec<String>)> = store
        .list_contacts(&ListOptions::default())?
        .into_iter()
        .map(|c| (c.name, c.phones, c.emails))
        .collect();
    by_name.sort();
    assert_eq!(
        by_name,
        [
            (
                "张三".to_string(),
                vec![],
                vec!["zhang@example.com".to_string()]
            ),
            (
                "李四".to_string(),
                vec!["+8613800138001".to_string()],
                vec![]
            ),
            (
                "王五".to_string(),
                vec!["+8675588888888;ext=123".to_string()],
                vec![]
            ),
        ]
    );
    let report = std::fs::read_to_string(&sum.report)?;
    let lines: Vec<&str> = report.lines().collect();
    assert_eq!(lines.len(), 3, "{report}");
    assert!(lines[1].starts_with("2,手机,12345,"), "{report}");
    assert!(lines[2].starts_with("3,手机,999,"), "{report}");
    assert!(report.contains("phone left out"), "{report}");
    Ok(())
}
