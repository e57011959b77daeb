//! Encryption at rest: the device database is an SQLCipher file when the app supplies a key.
//!
//! SQLCipher encrypts every page of the database *and* of its write-ahead log with AES-256
//! (and authenticates each page with an HMAC), so records, projections, the search index,
//! the outbox and the `blobs` table (photos and scans are stored inside the database) are all
//! encrypted together. Only the `-shm` file (a WAL index of page numbers, no content) is plain.
//!
//! The key is 32 random bytes the app keeps in the Android Keystore or the iOS Keychain. It is
//! used as a raw key (SQLCipher's `x'…'` form): no passphrase derivation, so opening is fast, and
//! the key must be random. An encrypted file has no plaintext header (its first 16 bytes are
//! SQLCipher's salt), so the header checks of ADR 0003 recognise one by its shape instead and ask
//! for the key; a wrong key is reported as [`Error::WrongKey`] and the file is left untouched.

use crate::error::{Error, Result};
use rusqlite::{Connection, OpenFlags, OptionalExtension};
use std::path::{Path, PathBuf};

/// A 256-bit database key supplied by the app (kept in the Android Keystore / iOS Keychain).
///
/// Its `Debug` output never shows the bytes.
#[derive(Clone, PartialEq, Eq)]
pub struct StoreKey([u8; StoreKey::LEN]);

impl StoreKey {
    /// The key length in bytes.
    pub const LEN: usize = 32;

    /// A key from exactly [`StoreKey::LEN`] bytes; any other length is a validation error on
    /// `key` (the bytes are never echoed).
    pub fn from_bytes(bytes: &[u8]) -> Result<StoreKey> {
        let array: [u8; StoreKey::LEN] = bytes.try_into().map_err(|_| {
            Error::validation(
                "key",
                "",
                format!(
                    "must be exactly {} bytes (256 bits), got {} bytes",
                    StoreKey::LEN,
                    bytes.len()
                ),
            )
        })?;
        Ok(StoreKey(array))
    }

    /// A key from 64 hexadecimal digits (surrounding whitespace ignored).
    pub fn from_hex(text: &str) -> Result<StoreKey> {
        let text = text.trim();
        if text.len() != 2 * StoreKey::LEN || !text.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(Error::validation(
                "key",
                "",
                format!(
                    "must be {} hexadecimal digits, got {} characters",
                    2 * StoreKey::LEN,
                    text.chars().count()
                ),
            ));
        }
        let mut bytes = [0u8; StoreKey::LEN];
        for (i, byte) in bytes.iter_mut().enumerate() {
            let pair = &text[2 * i..2 * i + 2];
            *byte = u8::from_str_radix(pair, 16)
                .map_err(|_| Error::validation("key", "", "not hexadecimal"))?;
        }
        Ok(StoreKey(bytes))
    }

    /// The key as SQLCipher's raw-key literal, `x'<64 hex digits>'`.
    fn raw_literal(&self) -> String {
        let mut hex = String::with_capacity(2 * StoreKey::LEN + 3);
        hex.push_str("x'");
        for b in self.0 {
            hex.push_str(&format!("{b:02x}"));
        }
        hex.push('\'');
        hex
    }
}

impl std::fmt::Debug for StoreKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("StoreKey(<redacted>)")
    }
}

/// Whether this build's SQLite is SQLCipher (it is: `outpost-core` enables rusqlite's vendored
/// SQLCipher). Checked before a key is used, so that a build without it can never silently
/// write a plaintext file while the app believes it is encrypted.
fn has_sqlcipher(conn: &Connection) -> Result<bool> {
    Ok(conn
        .query_row("PRAGMA cipher_version", [], |r| r.get::<_, String>(0))
        .optional()?
        .is_some_and(|v| !v.is_empty()))
}

/// Applies `key` to a freshly opened connection (before anything else touches the file) and
/// proves it by reading the schema. A key that does not decrypt the file is [`Error::WrongKey`].
pub(crate) fn apply_key(conn: &Connection, key: &StoreKey, path: &Path) -> Result<()> {
    if !has_sqlcipher(conn)? {
        return Err(Error::validation(
            "key",
            "",
            "this build of Outpost has no SQLCipher, so it cannot encrypt a database",
        ));
    }
    // The literal is hex digits only: nothing from outside can end the statement.
    conn.execute_batch(&format!("PRAGMA key = \"{}\";", key.raw_literal()))?;
    quiet(conn)?;
    match conn.query_row("SELECT count(*) FROM sqlite_master", [], |r| {
        r.get::<_, i64>(0)
    }) {
        Ok(_) => Ok(()),
        Err(e) if is_not_a_database(&e) => Err(Error::WrongKey {
            path: path.to_path_buf(),
        }),
        Err(e) => Err(e.into()),
    }
}

/// SQLCipher logs decryption failures to stderr (logcat on Android) once it is first activated
/// by a key; a wrong key is reported to the caller as [`Error::WrongKey`] instead, and the CLI's
/// stderr is one line per error. (The level is process-wide.)
fn quiet(conn: &Connection) -> Result<()> {
    conn.query_row("PRAGMA cipher_log_level = NONE", [], |_| Ok(()))
        .optional()?;
    Ok(())
}

fn is_not_a_database(e: &rusqlite::Error) -> bool {
    matches!(
        e.sqlite_error_code(),
        Some(rusqlite::ErrorCode::NotADatabase)
    )
}

/// Whether the first bytes of a file that is not a plaintext SQLite database look like an
/// SQLCipher file: a whole number of 512-byte units (pages are 4 KiB by default) whose first
/// 100 bytes look random (salt and ciphertext). Text, zeros and truncated files do not.
pub(crate) fn looks_encrypted(header: &[u8], file_len: u64) -> bool {
    if header.len() < 100 || !file_len.is_multiple_of(512) {
        return false;
    }
    let mut seen = [false; 256];
    for &b in &header[..100] {
        seen[usize::from(b)] = true;
    }
    // 100 random bytes show about 82 distinct values; text shows a few dozen at most.
    seen.iter().filter(|s| **s).count() >= 60
}

/// Encrypts an existing plaintext store with `key`, in place.
///
/// The plaintext file is exported into a new encrypted file beside it (`sqlcipher_export`), the
/// copy is opened with the key and its record count compared, and only then renamed over the
/// original (an atomic rename on the same file system). If anything fails before the rename the
/// original is untouched and the partial copy removed. Close every [`crate::Store`] on the file
/// first. Note that flash storage may keep old plaintext blocks until the OS reuses them; encrypt
/// before the first record is written (open a new store with a key) whenever possible.
pub fn encrypt_file(path: impl AsRef<Path>, key: &StoreKey) -> Result<()> {
    let path = path.as_ref();
    // Refuses damaged, foreign and already encrypted files with the usual errors.
    match super::inspect_file(path)? {
        super::FileState::Outpost | super::FileState::UnknownSqlite => {}
        super::FileState::New => {
            return Err(Error::NotFound {
                kind: "database file",
                id: path.display().to_string(),
            })
        }
        super::FileState::Encrypted => {
            return Err(Error::validation(
                "db",
                path.display().to_string(),
                "the database is already encrypted",
            ))
        }
    }
    let target = PathBuf::from(format!("{}.encrypting", path.display()));
    let io = |op, path: &Path, source| Error::Io {
        op,
        path: path.to_path_buf(),
        source,
    };
    if target.exists() {
        // Left over by an interrupted run: it was never renamed, so the original is intact.
        std::fs::remove_file(&target).map_err(|e| io("remove", &target, e))?;
    }
    let result = export(path, &target, key);
    if let Err(e) = result {
        let _ = std::fs::remove_file(&target);
        return Err(e);
    }
    std::fs::rename(&target, path).map_err(|e| io("rename", &target, e))?;
    // The plaintext write-ahead log and index belong to the replaced file.
    for suffix in ["-wal", "-shm"] {
        let side = PathBuf::from(format!("{}{suffix}", path.display()));
        if side.exists() {
            std::fs::remove_file(&side).map_err(|e| io("remove", &side, e))?;
        }
    }
    Ok(())
}

fn export(path: &Path, target: &Path, key: &StoreKey) -> Result<()> {
    let count_records = |conn: &Connection, schema: &str| -> Result<i64> {
        Ok(
            conn.query_row(&format!("SELECT count(*) FROM {schema}.records"), [], |r| {
                r.get(0)
            })?,
        )
    };
    // CREATE: an attached database is opened with the main connection's flags, and the
    // encrypted copy does not exist yet.
    let source = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    source.busy_timeout(std::time::Duration::from_secs(5))?;
    if !has_sqlcipher(&source)? {
        return Err(Error::validation(
            "key",
            "",
            "this build of Outpost has no SQLCipher, so it cannot encrypt a database",
        ));
    }
    // Everything committed, including what is still in the write-ahead log, goes in the copy.
    source.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))?;
    let user_version: i64 = source.pragma_query_value(None, "user_version", |r| r.get(0))?;
    let app_id: i64 = source.pragma_query_value(None, "application_id", |r| r.get(0))?;
    let target_text = target.to_str().ok_or_else(|| {
        Error::validation("db", target.display().to_string(), "path is not UTF-8")
    })?;
    source.execute(
        "ATTACH DATABASE ?1 AS encrypted KEY ?2",
        [target_text, key.raw_literal().as_str()],
    )?;
    quiet(&source)?;
    source.query_row("SELECT sqlcipher_export('encrypted')", [], |_| Ok(()))?;
    source.execute_batch(&format!(
        "PRAGMA encrypted.user_version = {user_version}; PRAGMA encrypted.application_id = {app_id};"
    ))?;
    let before = count_records(&source, "main")?;
    source.execute_batch("DETACH DATABASE encrypted;")?;
    drop(source);
    let copy = Connection::open_with_flags(
        target,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    apply_key(&copy, key, target)?;
    let after = count_records(&copy, "main")?;
    if after != before {
        return Err(Error::Corrupt {
            path: target.to_path_buf(),
            reason: format!("the encrypted copy has {after} records, the original {before}"),
        });
    }
    copy.pragma_update(None, "journal_mode", "WAL")?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_must_be_256_bits() {
        assert!(StoreKey::from_bytes(&[7u8; 32]).is_ok());
        let short = StoreKey::from_bytes(&[7u8; 16]).err();
        assert!(matches!(short, Some(Error::Validation { ref field, .. }) if field == "key"));
        assert!(StoreKey::from_hex(&"ab".repeat(32)).is_ok());
        assert!(StoreKey::from_hex("abc").is_err());
        assert!(StoreKey::from_hex(&"zz".repeat(32)).is_err());
        assert_eq!(
            StoreKey::from_hex(&"0f".repeat(32)).ok(),
            StoreKey::from_bytes(&[15u8; 32]).ok()
        );
    }

    #[test]
    fn debug_never_shows_the_key() {
        let key = StoreKey::from_bytes(&[0xab; 32]).ok();
        let shown = format!("{key:?}");
        assert!(!shown.contains("ab"), "{shown}");
        assert!(!shown.contains("171"), "{shown}");
    }

    #[test]
    fn text_and_zeros_do_not_look_encrypted() {
        let text = b"this is a spreadsheet, not a database\n".repeat(100);
        assert!(!looks_encrypted(&text[..100], 4096));
        assert!(!looks_encrypted(&[0u8; 100], 4096));
        let random: Vec<u8> = (0u32..100)
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
            .collect();
        assert!(looks_encrypted(&random, 8192));
        assert!(!looks_encrypted(&random, 8191), "not whole pages");
    }
}
