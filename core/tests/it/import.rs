//! Imports bigger than one chunk of the import pipeline (2,048 rows): duplicates that fold
//! into contacts already written, dry runs, progress, and search of what was imported.

use crate::{open, TestResult};
use outpost_core::{DupQuery, ImportOptions, ImportProgress, ListOptions};
use std::fmt::Write as _;

const ROWS: usize = 5_000;

/// `ROWS` contacts with unique phones; row 4,800 repeats row 10's phone with a new email, and
/// row 13 repeats row 12's (the same chunk).
fn csv(dir: &std::path::Path) -> Result<std::path::PathBuf, std::io::Error> {
    let mut text = String::from("姓名,公司,手机,邮箱,微信\n");
    for i in 0..ROWS {
        let row = i + 2;
        let phone = match row {
            4_800 => "139 0000 0010".to_string(),
            13 => "139 0000 0012".to_string(),
            _ => format!("139{row:08}"),
        };
        let email = match row {
            4_800 => "late@example.com".to_string(),
            _ => String::new(),
        };
        let _ = writeln!(
            text,
            "客户{row},华强{}科技,{phone},{email},wx{row}",
            row % 97
        );
    }
    let path = dir.join("big.csv");
    std::fs::write(&path, text)?;
    Ok(path)
}

#[test]
fn a_big_import_folds_late_duplicates_into_contacts_already_written() -> TestResult {
    let dir = tempfile::tempdir()?;
    let path = csv(dir.path())?;
    let mut store = open(&dir)?;

    let mut seen: Vec<ImportProgress> = Vec::new();
    let dry = store.import_file(
        &path,
        &ImportOptions {
            dry_run: true,
            merge_duplicates: true,
            ..Default::default()
        },
        &mut |p| seen.push(p),
    )?;
    assert_eq!((dry.imported, dry.duplicates, dry.merged), (4_998, 2, 2));
    assert!(store.list_contacts(&ListOptions::default())?.is_empty());
    assert!(seen.windows(2).all(|w| w[0].done <= w[1].done));

    seen.clear();
    let sum = store.import_file(
        &path,
        &ImportOptions {
            merge_duplicates: true,
            ..Default::default()
        },
        &mut |p| seen.push(p),
    )?;
    assert_eq!((sum.imported, sum.duplicates, sum.merged), (4_998, 2, 2));
    assert!(seen.len() >= 3, "progress at every chunk: {seen:?}");
    assert!(seen.windows(2).all(|w| w[0].done <= w[1].done));
    assert_eq!(seen.last().map(|p| (p.done, p.total)), Some((5_000, 5_000)));

    let all = store.list_contacts(&ListOptions::default())?;
    assert_eq!(all.len(), 4_998);
    // Each new contact's one change is queued for the next push, in creation order, with the
    // hash of its document's head; folding row 4,800 into row 10 added one change (row 13 was
    // folded into row 12 before row 12 was written).
    {
        let conn = rusqlite::Connection::open(store.path())?;
        let (queued, contacts, ordered): (i64, i64, i64) = conn.query_row(
            "SELECT count(*), count(DISTINCT o.rid), \
                    count(*) FILTER (WHERE o.seq = (SELECT min(seq) FROM outbox WHERE rid = o.rid) \
                                     AND o.change_hash = r.heads) \
             FROM outbox o JOIN records r ON r.rid = o.rid",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )?;
        assert_eq!((queued, contacts), (4_999, 4_998));
        assert_eq!(
            ordered, 4_997,
            "the contacts changed once have their head queued"
        );
        let out_of_order: i64 = conn.query_row(
            "SELECT count(*) FROM outbox a JOIN outbox b ON b.seq = a.seq + 1 WHERE b.rid < a.rid \
             AND a.seq IN (SELECT min(seq) FROM outbox GROUP BY rid) \
             AND b.seq IN (SELECT min(seq) FROM outbox GROUP BY rid)",
            [],
            |r| r.get(0),
        )?;
        assert_eq!(out_of_order, 0, "queued in creation order");
    }
    assert_eq!(store.experience()?.offline_created, 4_998);
    {
        // The keys' table and its indexes are the ones a fresh store has (no index by contact
        // since migration 12: an edit computes the keys it deletes).
        let conn = rusqlite::Connection::open(store.path())?;
        let fresh_dir = tempfile::tempdir()?;
        drop(open(&fresh_dir)?);
        let fresh = rusqlite::Connection::open(fresh_dir.path().join("rep.db"))?;
        let sql = "SELECT group_concat(name || ' ' || ifnull(sql, ''), '; ') FROM \
                   (SELECT name, sql FROM sqlite_master WHERE tbl_name = 'contact_keys' ORDER BY name)";
        let ours: String = conn.query_row(sql, [], |r| r.get(0))?;
        let theirs: String = fresh.query_row(sql, [], |r| r.get(0))?;
        assert_eq!(ours, theirs);
        assert!(!ours.contains("contact_keys_rid"), "{ours}");
    }
    // Row 10 was written long before row 4,800 was read: it gained the email afterwards.
    let found = store.find_duplicates(&DupQuery {
        phones: vec!["+86 139-0000-0010".into()],
        ..Default::default()
    })?;
    assert_eq!(found.len(), 1);
    let ten = store.get_contact(&found[0].contact_id)?;
    assert_eq!(ten.name, "客户10");
    assert_eq!(ten.emails, ["late@example.com"]);
    assert_eq!(ten.extra.get("微信").map(String::as_str), Some("wx10"));
    // Every contact is searchable by name and by phone digits.
    let hits = store.search("客户4999", &Default::default())?;
    assert!(hits.iter().any(|c| c.name == "客户4999"), "{hits:?}");
    let hits = store.search("00004999", &Default::default())?;
    assert!(hits.iter().any(|c| c.name == "客户4999"), "{hits:?}");

    // Importing the same file again finds every row in the store.
    let again = store.import_file(&path, &ImportOptions::default(), &mut |_| {})?;
    assert_eq!((again.imported, again.duplicates), (0, 5_000));

    // A file smaller than the store is checked row by row in SQLite (the store's keys are not
    // read into memory): the same duplicates are found.
    let small = dir.path().join("small.csv");
    std::fs::write(
        &small,
        "姓名,手机,邮箱\n新客户,13700000001,\n客户7,+86 139-0000-0007,\n某人,,LATE@example.com\n",
    )?;
    let sum = store.import_file(&small, &ImportOptions::default(), &mut |_| {})?;
    assert_eq!((sum.imported, sum.duplicates), (1, 2), "{sum:?}");
    Ok(())
}
