use super::{open, zhang, TestResult};
use outpost_core::{NewContact, SearchOptions};

fn names(store: &outpost_core::Store, q: &str) -> Result<Vec<String>, outpost_core::Error> {
    Ok(store
        .search(q, &SearchOptions::default())?
        .into_iter()
        .map(|c| c.name)
        .collect())
}

#[test]
fn chinese_substrings_of_any_length() -> TestResult {
    let dir = tempfile::tempdir()?;
    let mut store = open(&dir)?;
    store.add_contact(zhang())?;
    store.add_contact(NewContact {
        name: "王芳".into(),
        company: Some("广州白云科技股份有限公司".into()),
        notes: Some("下周三拜访，带样品".into()),
        ..Default::default()
    })?;
    store.add_contact(NewContact {
        name: "张三丰".into(),
        company: Some("武当贸易".into()),
        ..Default::default()
    })?;
    assert_eq!(
        names(&store, "张")?,
        ["张三丰", "张伟"].map(String::from),
        "one character finds both; equal name matches come newest first"
    );
    assert_eq!(names(&store, "张伟")?, ["张伟"]);
    let mut tech = names(&store, "科技")?;
    tech.sort();
    assert_eq!(tech, ["张伟", "王芳"]);
    assert_eq!(names(&store, "华强科技")?, ["张伟"]);
    assert_eq!(names(&store, "南山区科技园")?, ["张伟"], "address");
    assert_eq!(names(&store, "带样品")?, ["王芳"], "notes");
    assert_eq!(names(&store, "采购")?, ["张伟"], "title");
    assert!(
        names(&store, "强华")?.is_empty(),
        "bigrams in the wrong order do not match"
    );
    assert!(
        names(&store, "华强白云")?.is_empty(),
        "all of a multi-character query must be in one row"
    );
    Ok(())
}

/// What a pinyin keyboard gives before it turns into characters finds names.
#[test]
fn pinyin_full_initials_and_surname_readings() -> TestResult {
    let dir = tempfile::tempdir()?;
    let mut store = open(&dir)?;
    store.add_contact(zhang())?; // 张伟, 深圳市华强科技有限公司
    store.add_contact(NewContact {
        name: "王芳".into(),
        company: Some("广州白云科技股份有限公司".into()),
        ..Default::default()
    })?;
    store.add_contact(NewContact {
        name: "单伟".into(),
        company: Some("绿地集团".into()),
        ..Default::default()
    })?;
    for (query, expected) in [
        ("wangfang", "王芳"),
        ("wang fang", "王芳"),
        ("wf", "王芳"),
        ("Wáng Fāng", "王芳"),
        ("WANGF", "王芳"),
        ("wang f", "王芳"),
        ("zhangw", "张伟"),
        ("zhang wei", "张伟"),
        ("shanwei", "单伟"),
        ("danwei", "单伟"),
    ] {
        assert_eq!(names(&store, query)?, [expected], "{query}");
    }
    let mut wang = names(&store, "wang")?;
    wang.sort();
    assert_eq!(wang, ["王芳"], "a surname's reading finds its names");
    assert!(
        names(&store, "wangfen")?.is_empty(),
        "a prefix, not a fuzzy match"
    );
    Ok(())
}

#[test]
fn latin_prefixes_case_insensitive_emails_and_phones() -> TestResult {
    let dir = tempfile::tempdir()?;
    let mut store = open(&dir)?;
    store.add_contact(zhang())?;
    store.add_contact(NewContact {
        name: "Michael O'Brien".into(),
        company: Some("Acme Trading Ltd".into()),
        ..Default::default()
    })?;
    assert_eq!(names(&store, "mich")?, ["Michael O'Brien"]);
    assert_eq!(names(&store, "ACME tr")?, ["Michael O'Brien"]);
    assert_eq!(names(&store, "zhang.wei")?, ["张伟"], "email local part");
    assert_eq!(names(&store, "huaqiang")?, ["张伟"], "email domain");
    for q in ["13800138000", "138 0013 8000", "+86 138", "0013", "8000"] {
        assert_eq!(names(&store, q)?, ["张伟"], "{q}");
    }
    // Digits in text are found as word prefixes (a QQ number is an email), and digits spread
    // over a number are not a match.
    store.add_contact(NewContact {
        name: "QQ".into(),
        emails: vec!["2718281@qq.com".into()],
        phones: vec!["13801233800".into()],
        ..Default::default()
    })?;
    for q in ["271828", "2718", "271"] {
        assert_eq!(names(&store, q)?, ["QQ"], "{q}");
    }
    assert_eq!(names(&store, "1380123")?, ["QQ"], "the phone");
    assert_eq!(
        names(&store, "13800")?,
        ["张伟"],
        "1380 and 3800 are apart in QQ's number"
    );
    assert!(
        names(&store, "chael")?.is_empty(),
        "Latin matches word prefixes, not infixes"
    );
    assert!(names(&store, "")?.is_empty());
    assert!(
        names(&store, "\"*) OR (")?.is_empty(),
        "FTS syntax in the query is only text"
    );
    Ok(())
}

#[test]
fn best_match_first() -> TestResult {
    let dir = tempfile::tempdir()?;
    let mut store = open(&dir)?;
    store.add_contact(NewContact {
        name: "刘强".into(),
        company: Some("华强电子".into()),
        ..Default::default()
    })?;
    store.add_contact(NewContact {
        name: "华强".into(),
        ..Default::default()
    })?;
    store.add_contact(NewContact {
        name: "陈华强".into(),
        ..Default::default()
    })?;
    assert_eq!(names(&store, "华强")?, ["华强", "陈华强", "刘强"]);
    let limited = store.search(
        "华强",
        &SearchOptions {
            limit: Some(1),
            ..Default::default()
        },
    )?;
    assert_eq!(limited.len(), 1);
    Ok(())
}

#[test]
fn search_follows_edits() -> TestResult {
    let dir = tempfile::tempdir()?;
    let mut store = open(&dir)?;
    let c = store.add_contact(zhang())?;
    store.edit_contact(
        &c.id,
        outpost_core::ContactPatch {
            company: Some("美的集团".into()),
            ..Default::default()
        },
    )?;
    assert!(names(&store, "华强")?.is_empty());
    assert_eq!(names(&store, "美的")?, ["张伟"]);
    Ok(())
}
