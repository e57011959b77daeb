//! Encryption at rest: an SQLCipher store opened with the app's key.

use super::{zhang, TestResult};
use outpost_core::{encrypt_file, NewContact, SearchOptions, Store, StoreKey, StoreOptions};
use std::path::{Path, PathBuf};

fn key(byte: u8) -> Result<StoreKey, outpost_core::Error> {
    StoreKey::from_bytes(&[byte; 32])
}

fn open_with(path: &Path, key: Option<StoreKey>) -> Result<Store, outpost_core::Error> {
    Store::open(
        path,
        StoreOptions {
            user: "rep1".into(),
            key,
            ..Default::default()
        },
    )
}

/// What someone who copies the files off the phone can read: the database and its
/// write-ahead log, as raw bytes.
fn raw_files(path: &Path) -> Result<Vec<u8>, std::io::Error> {
    let mut bytes = std::fs::read(path)?;
    let wal = PathBuf::from(format!("{}-wal", path.display()));
    if wal.exists() {
        bytes.extend(std::fs::read(wal)?);
    }
    Ok(bytes)
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w == needle.as_bytes())
}

/// The plaintext that must never be readable in an encrypted file.
const SECRETS: [&str; 5] = [
    "张伟",
    "深圳市华强科技有限公司",
    "+8613800138000",
    "13800138000",
    "zhang.wei@huaqiang.com",
];

#[test]
fn an_encrypted_store_round_trips_and_searches() -> TestResult {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("rep.db");
    let id = {
        let mut store = open_with(&path, Some(key(7)?))?;
        store.add_contact(zhang())?.id
    };
    let store = open_with(&path, Some(key(7)?))?;
    let back = store.get_contact(&id)?;
    assert_eq!(back.name, "张伟");
    assert_eq!(back.phones, ["+8613800138000"]);
    // The full-text index (FTS5) works on SQLCipher: 1-, 2- and 4-character Chinese queries.
    for query in ["华", "华强", "华强科技", "8000"] {
        let hits = store.search(query, &SearchOptions::default())?;
        assert_eq!(hits.len(), 1, "search {query}");
        assert_eq!(hits[0].id, id);
    }
    assert!(store.check_integrity()?.is_empty());
    Ok(())
}

#[test]
fn the_raw_file_and_its_log_reveal_no_plaintext() -> TestResult {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("rep.db");
    let mut store = open_with(&path, Some(key(9)?))?;
    store.add_contact(zhang())?;
    for i in 0..50 {
        store.add_contact(NewContact {
            name: format!("客户{i}"),
            ..zhang()
        })?;
    }
    // While the store is open the latest pages live in the write-ahead log: copy both.
    let copy = dir.path().join("stolen.db");
    std::fs::copy(&path, &copy)?;
    let wal = PathBuf::from(format!("{}-wal", path.display()));
    assert!(wal.exists(), "the store writes ahead");
    std::fs::copy(&wal, dir.path().join("stolen.db-wal"))?;
    let open_bytes = raw_files(&copy)?;
    assert!(open_bytes.len() > 4096);
    drop(store);
    let closed_bytes = raw_files(&path)?;
    for secret in SECRETS {
        assert!(
            !contains(&open_bytes, secret),
            "{secret} readable in an open store's files"
        );
        assert!(
            !contains(&closed_bytes, secret),
            "{secret} readable in the closed file"
        );
    }
    assert!(
        !contains(&closed_bytes, "SQLite format 3"),
        "no plaintext header"
    );
    // The same data in a plaintext store is readable: the check above can fail.
    let plain = dir.path().join("plain.db");
    open_with(&plain, None)?.add_contact(zhang())?;
    assert!(contains(&raw_files(&plain)?, "深圳市华强科技有限公司"));
    Ok(())
}

#[test]
fn a_wrong_key_is_refused_and_the_file_left_alone() -> TestResult {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("rep.db");
    let id = open_with(&path, Some(key(1)?))?.add_contact(zhang())?.id;
    let before = std::fs::read(&path)?;
    let err = open_with(&path, Some(key(2)?))
        .err()
        .ok_or("a wrong key must fail")?;
    assert_eq!(err.kind(), "wrong_key", "{err}");
    assert!(
        err.to_string().contains(&path.display().to_string()),
        "{err}"
    );
    assert_eq!(std::fs::read(&path)?, before, "file unchanged");
    // The right key still opens it, with the data.
    assert_eq!(
        open_with(&path, Some(key(1)?))?.get_contact(&id)?.name,
        "张伟"
    );
    Ok(())
}

#[test]
fn an_encrypted_file_without_a_key_asks_for_it() -> TestResult {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("rep.db");
    open_with(&path, Some(key(3)?))?.add_contact(zhang())?;
    let before = std::fs::read(&path)?;
    let err = open_with(&path, None).err().ok_or("no key must fail")?;
    assert_eq!(err.kind(), "key_required", "{err}");
    assert_eq!(std::fs::read(&path)?, before, "file unchanged");
    Ok(())
}

#[test]
fn a_key_for_a_plaintext_file_is_refused() -> TestResult {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("rep.db");
    open_with(&path, None)?.add_contact(zhang())?;
    let before = std::fs::read(&path)?;
    let err = open_with(&path, Some(key(4)?)).err().ok_or("must fail")?;
    assert_eq!(err.kind(), "not_encrypted", "{err}");
    assert_eq!(std::fs::read(&path)?, before, "file unchanged");
    Ok(())
}

#[test]
fn a_plaintext_store_is_encrypted_in_place() -> TestResult {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("rep.db");
    let (id, outbox) = {
        let mut store = open_with(&path, None)?;
        let id = store.add_contact(zhang())?.id;
        store.edit_contact(
            &id,
            outpost_core::ContactPatch {
                title: Some("采购总监".into()),
                ..Default::default()
            },
        )?;
        (id, store.status()?.outbox_len)
    };
    encrypt_file(&path, &key(5)?)?;
    let bytes = raw_files(&path)?;
    for secret in SECRETS {
        assert!(
            !contains(&bytes, secret),
            "{secret} readable after encryption"
        );
    }
    assert_eq!(
        open_with(&path, None).err().map(|e| e.kind()),
        Some("key_required")
    );
    let store = open_with(&path, Some(key(5)?))?;
    let back = store.get_contact(&id)?;
    assert_eq!(back.title.as_deref(), Some("采购总监"));
    assert_eq!(store.status()?.outbox_len, outbox, "unsynced changes kept");
    assert_eq!(store.search("华强", &SearchOptions::default())?.len(), 1);
    assert_eq!(store.contact_history(&id)?.len(), 2, "history kept");
    drop(store);
    // Encrypting twice is refused, not applied twice.
    let again = encrypt_file(&path, &key(5)?).err().ok_or("must fail")?;
    assert_eq!(again.kind(), "validation");
    assert!(!dir.path().join("rep.db.encrypting").exists());
    Ok(())
}

#[test]
fn a_revoked_encrypted_store_wipes() -> TestResult {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("rep.db");
    let mut store = open_with(&path, Some(key(6)?))?;
    store.add_contact(zhang())?;
    store.wipe()?;
    assert!(store.list_contacts(&Default::default())?.is_empty());
    drop(store);
    assert!(open_with(&path, Some(key(6)?))?
        .list_contacts(&Default::default())?
        .is_empty());
    Ok(())
}
