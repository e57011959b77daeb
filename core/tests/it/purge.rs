//! A purge leaves no bytes of what it removed on disk (issue 17, item 10): not in the main
//! database file, not in the write-ahead log, while another connection holds the store open,
//! and once a reader that held an old snapshot lets go. Checked by searching the raw files.

use super::{open, TestResult};
use outpost_core::sync::protocol::{SyncResponse, PROTOCOL_VERSION};
use outpost_core::{NewContact, Store};
use std::collections::BTreeSet;
use std::path::Path;

/// Lower-case ASCII, so that the search index holds them as they are; each one unique, with no
/// long prefix in common (the index stores a word after the prefix it shares with the one
/// before it, so only a word's end is sure to be there as it is).
const MARKS: [&str; 3] = [
    "alphaqzpurgemarkone",
    "betavxpurgemarktwo",
    "gammawkpurgemarkthree",
];

/// The main file and its write-ahead log, as raw bytes.
fn on_disk(path: &Path) -> Result<Vec<u8>, std::io::Error> {
    let mut bytes = std::fs::read(path)?;
    let wal = format!("{}-wal", path.display());
    if Path::new(&wal).exists() {
        bytes.extend(std::fs::read(wal)?);
    }
    Ok(bytes)
}

/// The marks still found in the files (by a mark's last ten letters, see [`MARKS`]).
fn marks_left(path: &Path) -> Result<Vec<&'static str>, std::io::Error> {
    let bytes = on_disk(path)?;
    Ok(MARKS
        .iter()
        .copied()
        .filter(|m| {
            let tail = &m.as_bytes()[m.len() - 10..];
            bytes.windows(tail.len()).any(|w| w == tail)
        })
        .collect())
}

/// A store with one contact holding the marks, acknowledged by the server, and another one.
fn store_with_marked_contact(
    dir: &tempfile::TempDir,
) -> Result<(Store, String), Box<dyn std::error::Error>> {
    let mut store = open(dir)?;
    let marked = store.add_contact(NewContact {
        name: "赵敏".into(),
        company: Some(MARKS[0].into()),
        title: Some(MARKS[1].into()),
        notes: Some(format!("{} 下周回访", MARKS[2])),
        phones: vec!["139 1234 5678".into()],
        ..Default::default()
    })?;
    store.add_contact(NewContact {
        name: "李娜".into(),
        ..Default::default()
    })?;
    let outgoing = store.prepare_sync(100, None)?;
    store.apply_sync_response(
        &outgoing,
        SyncResponse {
            v: PROTOCOL_VERSION,
            rejected: vec![],
            entries: vec![],
            cursor: 1,
            more: false,
            server_time_ms: 0,
            log_id: None,
            deferred: Vec::new(),
            scope: None,
        },
    )?;
    Ok((store, marked.id))
}

#[test]
fn a_scope_purge_leaves_no_bytes_while_another_connection_holds_the_store() -> TestResult {
    let dir = tempfile::tempdir()?;
    let (mut store, id) = store_with_marked_contact(&dir)?;
    // Another connection on the same file (another part of the app, a backup tool), idle.
    let other = rusqlite::Connection::open(store.path())?;
    let _: i64 = other.query_row("SELECT count(*) FROM records", [], |r| r.get(0))?;
    assert_eq!(marks_left(store.path())?.len(), 3, "positive control");

    let kept: BTreeSet<String> = store
        .list_contacts(&Default::default())?
        .into_iter()
        .map(|c| c.id)
        .filter(|c| *c != id)
        .collect();
    assert_eq!(store.reconcile_scope(&kept)?.purged, 1);
    assert!(store.get_contact(&id).is_err());
    assert_eq!(marks_left(store.path())?, Vec::<&str>::new());
    // The store and the other connection still work.
    assert_eq!(store.list_contacts(&Default::default())?.len(), 1);
    let n: i64 = other.query_row("SELECT count(*) FROM records", [], |r| r.get(0))?;
    assert_eq!(n, 1);
    Ok(())
}

#[test]
fn a_purge_scrubs_the_files_once_a_reader_of_an_old_snapshot_lets_go() -> TestResult {
    let dir = tempfile::tempdir()?;
    let (mut store, id) = store_with_marked_contact(&dir)?;
    let mut other = rusqlite::Connection::open(store.path())?;
    // A reader in the middle of a transaction: it still sees the contact.
    let reader = other.transaction()?;
    let n: i64 = reader.query_row("SELECT count(*) FROM records", [], |r| r.get(0))?;
    assert_eq!(n, 2);
    assert_eq!(store.purge_records(std::slice::from_ref(&id))?, 1);
    let seen: i64 = reader.query_row("SELECT count(*) FROM records", [], |r| r.get(0))?;
    assert_eq!(seen, 2, "its snapshot is intact");
    reader.commit()?;
    // The store finishes the scrub on its own once the reader is done (bounded wait).
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while !marks_left(store.path())?.is_empty() && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert_eq!(marks_left(store.path())?, Vec::<&str>::new());
    assert_eq!(store.list_contacts(&Default::default())?.len(), 1);
    Ok(())
}

#[test]
fn a_wipe_leaves_no_bytes_while_another_connection_holds_the_store() -> TestResult {
    let dir = tempfile::tempdir()?;
    let (mut store, _) = store_with_marked_contact(&dir)?;
    let other = rusqlite::Connection::open(store.path())?;
    let _: i64 = other.query_row("SELECT count(*) FROM records", [], |r| r.get(0))?;
    store.wipe()?;
    assert_eq!(marks_left(store.path())?, Vec::<&str>::new());
    assert!(store.list_contacts(&Default::default())?.is_empty());
    Ok(())
}
