//! Damaged and foreign database files: a clear error naming the file, and the file untouched.

use super::{zhang, TestResult};
use outpost_core::{Error, Store, StoreOptions};
use std::path::Path;

fn open(path: &Path) -> Result<Store, Error> {
    Store::open(path, StoreOptions::default())
}

fn assert_refused_untouched(path: &Path, expect_kind: &str) -> TestResult {
    let before = std::fs::read(path)?;
    let err = open(path).err().ok_or("opening must fail")?;
    assert_eq!(err.kind(), expect_kind, "{err}");
    assert!(
        err.to_string().contains(&path.display().to_string()),
        "error names the file: {err}"
    );
    assert_eq!(std::fs::read(path)?, before, "file unchanged");
    Ok(())
}

#[test]
fn garbage_file_is_refused_and_left_alone() -> TestResult {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("rep.db");
    std::fs::write(
        &path,
        b"this is a spreadsheet, not a database\n".repeat(100),
    )?;
    assert_refused_untouched(&path, "corrupt")
}

#[test]
fn another_apps_sqlite_database_is_refused() -> TestResult {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("other.db");
    foreign_db(&path)?;
    assert_refused_untouched(&path, "foreign_database")
}

/// Writes a valid SQLite file that carries another application's id in its header (offset 68).
fn foreign_db(path: &Path) -> Result<(), Box<dyn std::error::Error>> {
    drop(open(path)?);
    let mut bytes = std::fs::read(path)?;
    bytes[68..72].copy_from_slice(&0x1234_5678_i32.to_be_bytes());
    std::fs::write(path, bytes)?;
    Ok(())
}

#[test]
fn truncated_file_is_reported_as_damaged() -> TestResult {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("rep.db");
    {
        let mut store = open(&path)?;
        for i in 0..200 {
            store.add_contact(outpost_core::NewContact {
                name: format!("客户{i}"),
                ..zhang()
            })?;
        }
    } // closing checkpoints the WAL into the main file
    let bytes = std::fs::read(&path)?;
    std::fs::write(&path, &bytes[..bytes.len() / 2])?;
    assert_refused_untouched(&path, "corrupt")
}

#[test]
fn damaged_pages_are_reported_naming_the_file() -> TestResult {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("rep.db");
    {
        let mut store = open(&path)?;
        for i in 0..200 {
            store.add_contact(outpost_core::NewContact {
                name: format!("客户{i}"),
                ..zhang()
            })?;
        }
    }
    let mut bytes = std::fs::read(&path)?;
    let page = 4096;
    for b in &mut bytes[page..page * 8] {
        *b = 0xA5;
    }
    std::fs::write(&path, &bytes)?;
    // The header is intact, so opening may succeed; reading the damaged pages must not panic and
    // must name the file.
    match open(&path) {
        Err(e) => assert!(e.to_string().contains(&path.display().to_string()), "{e}"),
        Ok(store) => {
            let r = store
                .list_contacts(&Default::default())
                .and_then(|_| store.check_integrity());
            match r {
                Err(e) => {
                    assert_eq!(e.kind(), "corrupt", "{e}");
                    assert!(e.to_string().contains(&path.display().to_string()));
                }
                Ok(problems) => {
                    assert!(!problems.is_empty(), "integrity check must find the damage")
                }
            }
        }
    }
    Ok(())
}

#[test]
fn move_aside_renames_and_never_deletes() -> TestResult {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("rep.db");
    std::fs::write(&path, b"garbage")?;
    let moved = Store::move_aside(&path)?;
    assert!(!path.exists());
    assert_eq!(std::fs::read(&moved)?, b"garbage");
    assert!(moved.display().to_string().contains("rep.db.damaged-"));
    let mut fresh = open(&path)?;
    fresh.add_contact(zhang())?;
    Ok(())
}

#[test]
fn newer_schema_is_refused() -> TestResult {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("rep.db");
    drop(open(&path)?);
    let mut bytes = std::fs::read(&path)?;
    // user_version lives at header offset 60.
    bytes[60..64].copy_from_slice(&99_i32.to_be_bytes());
    std::fs::write(&path, bytes)?;
    assert_refused_untouched(&path, "schema_too_new")
}

#[test]
fn plain_sqlite_database_of_another_app_is_refused() -> TestResult {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("wechat.db");
    {
        let conn = rusqlite::Connection::open(&path)?;
        conn.execute_batch("CREATE TABLE message (id INTEGER PRIMARY KEY, body TEXT); INSERT INTO message(body) VALUES ('你好');")?;
    }
    assert_refused_untouched(&path, "foreign_database")
}

#[test]
fn empty_file_becomes_a_new_store() -> TestResult {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("rep.db");
    std::fs::write(&path, b"")?;
    let mut store = open(&path)?;
    store.add_contact(zhang())?;
    Ok(())
}

#[test]
fn a_store_whose_header_is_still_in_the_wal_opens() -> TestResult {
    // A process killed right after creating its store leaves page 1 (with our application id)
    // in the write-ahead log only. Reproduce: copy the files while the store is open.
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("rep.db");
    let store = open(&path)?;
    let copy = dir.path().join("copy.db");
    std::fs::copy(&path, &copy)?;
    std::fs::copy(
        format!("{}-wal", path.display()),
        format!("{}-wal", copy.display()),
    )?;
    drop(store);
    let header = std::fs::read(&copy)?;
    assert!(
        header.len() < 100 || header[68..72] == [0, 0, 0, 0],
        "the on-disk header predates the log"
    );
    let mut reopened = open(&copy)?;
    reopened.add_contact(zhang())?;
    Ok(())
}
