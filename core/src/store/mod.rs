//! The device store: one SQLite file per signed-in user.
//!
//! The store is the only entry point. Every user action is one SQLite transaction: the record's
//! Automerge document, its projection row, its search tokens and its outbox entries commit
//! together or not at all. Write helpers take a `&Transaction`, reads take a `&Connection`.
//!
//! A damaged or foreign file is reported, never deleted or overwritten: unsynced field data lives
//! only on the phone. [`Store::move_aside`] moves such a file away when the user asks for it.

pub(crate) mod attachments;
#[cfg(feature = "import")]
pub(crate) mod bulk;
pub(crate) mod conflicts;
pub(crate) mod contacts;
pub(crate) mod deals;
pub mod dedup;
pub mod encryption;
pub mod evidence;
pub mod experience;
pub(crate) mod flow;
pub mod lease;
pub(crate) mod log_reset;
pub(crate) mod merge;
pub(crate) mod pool;
pub(crate) mod projections;
pub(crate) mod purge;
pub(crate) mod records;
pub(crate) mod rejections;
pub(crate) mod restricted;
pub(crate) mod schema;
pub mod scope;
pub(crate) mod search;
pub(crate) mod settings;
pub(crate) mod snapshots;
pub(crate) mod survivors;
pub mod sync;
pub(crate) mod tasks;
pub(crate) mod visits;
pub(crate) mod wipe;

use crate::error::{Error, Result};
use crate::normalize::Region;
use crate::record::Actor;
use rusqlite::{Connection, OpenFlags, TransactionBehavior};
use serde::{Deserialize, Serialize};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;

pub use crate::record::RecordKind;
pub use attachments::{sha256_hex, BlobInfo};
pub use encryption::{encrypt_file, StoreKey};
pub use purge::ScopeReconcile;
pub use schema::{APPLICATION_ID, SCHEMA_VERSION};
pub use scope::AccessInfo;
pub use snapshots::PreparedPage;

/// How to open a store.
#[derive(Debug, Clone)]
pub struct StoreOptions {
    /// Region for phone numbers typed without a country code (default `CN`).
    pub region: Region,
    /// The signed-in user; recorded in every change and as the default owner (default `local`).
    pub user: String,
    /// The database key (encryption at rest with SQLCipher), or `None` for a plaintext file.
    /// A new file opened with a key is created encrypted; see [`encryption`].
    pub key: Option<StoreKey>,
    /// The clock the lease is checked at ([`Store::check_lease`]); the system clock by default.
    /// Tests give a fixed one instead of a command-line or API time.
    pub clock: lease::Clock,
}

impl Default for StoreOptions {
    fn default() -> Self {
        StoreOptions {
            region: Region::default(),
            user: "local".to_string(),
            key: None,
            clock: lease::Clock::default(),
        }
    }
}

/// Where a change came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ffi", derive(uniffi::Enum))]
#[serde(rename_all = "lowercase")]
pub enum ChangeOrigin {
    /// Written on this device.
    Local,
    /// Arrived by sync.
    Sync,
}

/// A record that changed, for the UI to refresh. Its kind is one the app shows: never
/// `config`, and a restricted field's change is told as its deal's.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ffi", derive(uniffi::Record))]
pub struct RecordChange {
    /// The record's kind.
    pub kind: RecordKind,
    /// The record's id.
    pub id: String,
    /// Where the change came from.
    pub origin: ChangeOrigin,
}

/// Told after every committed change of a record.
pub trait ChangeListener: Send + Sync {
    /// Called after the transaction committed, on the thread that wrote.
    fn on_change(&self, change: &RecordChange);
}

/// How many records of one kind are in one status.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KindCount {
    /// `contact` or `visit`.
    pub kind: String,
    /// For contacts `active`/`invalid`; for visits `open`/`closed`.
    pub status: String,
    /// How many.
    pub count: u64,
}

/// An overview of the store.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoreStatus {
    /// The database file.
    pub path: String,
    /// Bytes on disk (database plus write-ahead log).
    pub size_bytes: u64,
    /// Schema version.
    pub schema_version: i64,
    /// This device's id.
    pub device_id: String,
    /// The signed-in user.
    pub user: String,
    /// Phone region.
    pub region: String,
    /// Records by kind and status.
    pub records: Vec<KindCount>,
    /// Records by sync state (`local`, `synced`).
    pub sync_states: Vec<KindCount>,
    /// Changes waiting to be sent to the server.
    pub outbox_len: u64,
    /// Changes the server refused, with its reason, newest last (the last
    /// 200). Each was undone on this device: its fields are back at the
    /// server's value, or the record was removed when the server refused the record itself.
    pub rejected: Vec<rejections::RejectedChange>,
    /// The sync server this store talks to, once set.
    pub server: Option<String>,
    /// The last server log position applied.
    pub cursor: u64,
    /// When the last sync finished (RFC 3339).
    pub last_sync_at: Option<String>,
}

/// Options for listing contacts.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[cfg_attr(feature = "ffi", derive(uniffi::Record))]
pub struct ListOptions {
    /// Also list soft-deleted (invalid) contacts.
    #[cfg_attr(feature = "ffi", uniffi(default))]
    pub include_invalid: bool,
    /// At most this many (most recently updated first); `None` for all.
    #[cfg_attr(feature = "ffi", uniffi(default = None))]
    pub limit: Option<u32>,
}

/// Options for search.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[cfg_attr(feature = "ffi", derive(uniffi::Record))]
pub struct SearchOptions {
    /// Also find soft-deleted (invalid) contacts.
    #[cfg_attr(feature = "ffi", uniffi(default))]
    pub include_invalid: bool,
    /// At most this many results (default 50).
    #[cfg_attr(feature = "ffi", uniffi(default = None))]
    pub limit: Option<u32>,
}

/// The device store.
pub struct Store {
    conn: Connection,
    path: PathBuf,
    region: Region,
    actor: Actor,
    listener: Option<Arc<dyn ChangeListener>>,
    clock: lease::Clock,
    checkpointer: Option<Checkpointer>,
    /// Set while a sync of this store runs (one at a time; see `sync_store`).
    #[cfg(feature = "client")]
    pub(crate) syncing: bool,
    /// Experience events not yet written (see [`experience`]).
    experience: std::sync::Mutex<Vec<experience::Pending>>,
    /// The page cache size to go back to after a bootstrap (see `Store::bulk_cache`).
    saved_cache: Option<i64>,
}

/// The page cache of a bulk write, an import or a bootstrap (KiB, as `PRAGMA cache_size` takes a
/// negative number): at 100,000 records the default 2 MB made each chunk read and write the
/// same index pages again.
pub(crate) const BULK_CACHE_KIB: i64 = -65_536;

/// Copies the write-ahead log back into the database file from its own thread and connection,
/// so that a user's save never waits for a checkpoint's fsync (SQLite's automatic checkpoint
/// runs inside the commit that crosses the threshold: that was our p99).
struct Checkpointer {
    stop: Option<std::sync::mpsc::Sender<()>>,
    handle: Option<std::thread::JoinHandle<()>>,
    /// Set when a purge could not finish scrubbing the files (a reader held an old snapshot):
    /// the thread retries a truncating checkpoint until one completes (see [`purge`]).
    scrub: Arc<std::sync::atomic::AtomicBool>,
}

/// Checkpoint when the write-ahead log is larger than this.
const CHECKPOINT_WAL_BYTES: u64 = 4 * 1024 * 1024;

impl Checkpointer {
    fn start(path: &Path, key: Option<&StoreKey>) -> Option<Checkpointer> {
        let conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .ok()?;
        if let Some(key) = key {
            encryption::apply_key(&conn, key, path).ok()?;
        }
        // Short: a truncating checkpoint (a scrub) holds new writers back while it waits for
        // readers, so it waits little and is retried on the next round instead.
        conn.busy_timeout(std::time::Duration::from_millis(20))
            .ok()?;
        let wal = PathBuf::from(format!("{}-wal", path.display()));
        let (stop, stopped) = std::sync::mpsc::channel::<()>();
        let scrub = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let scrub_pending = scrub.clone();
        let handle = std::thread::Builder::new()
            .name("outpost-checkpoint".into())
            .spawn(move || loop {
                match stopped.recv_timeout(std::time::Duration::from_millis(200)) {
                    Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {
                        let size = std::fs::metadata(&wal).map(|m| m.len()).unwrap_or(0);
                        if scrub_pending.load(std::sync::atomic::Ordering::Acquire) {
                            // Completes once no reader holds an old snapshot.
                            if wipe::checkpoint_truncate(&conn).unwrap_or(false) {
                                scrub_pending.store(false, std::sync::atomic::Ordering::Release);
                            }
                        } else if size > CHECKPOINT_WAL_BYTES {
                            // PASSIVE never blocks the writer; a failure is retried next round.
                            let _ =
                                conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()));
                        }
                    }
                    _ => return,
                }
            })
            .ok()?;
        Some(Checkpointer {
            stop: Some(stop),
            handle: Some(handle),
            scrub,
        })
    }
}

impl Drop for Store {
    fn drop(&mut self) {
        // A clean close: buffered metrics are written and the open marker cleared (a failure
        // only means the next open counts this session as unclean).
        let _ = self.close_experience();
        // Stop the checkpointer before the main connection closes, so that the main connection
        // is the last one and SQLite checkpoints and removes the write-ahead log on close.
        if let Some(mut c) = self.checkpointer.take() {
            drop(c.stop.take());
            if let Some(h) = c.handle.take() {
                let _ = h.join();
            }
        }
    }
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("path", &self.path)
            .field("actor", &self.actor)
            .finish()
    }
}

/// Locks a shared store (or anything else behind a mutex) even if a panicking thread poisoned
/// it: every action commits as one SQLite transaction, so a call cut short by a panic leaves
/// nothing half-written behind.
pub fn lock<T>(m: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// What the first bytes of a database file say about it.
pub(crate) enum FileState {
    New,
    Outpost,
    UnknownSqlite,
    /// No plaintext header, but the shape of an SQLCipher file (see [`encryption`]).
    Encrypted,
}

const SQLITE_MAGIC: &[u8; 16] = b"SQLite format 3\0";

pub(crate) fn inspect_file(path: &Path) -> Result<FileState> {
    let io = |op, source| Error::Io {
        op,
        path: path.to_path_buf(),
        source,
    };
    let mut file = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(FileState::New),
        Err(e) => return Err(io("open", e)),
    };
    let len = file.metadata().map_err(|e| io("stat", e))?.len();
    if len == 0 {
        return Ok(FileState::New);
    }
    let mut header = [0u8; 100];
    let read = file.read(&mut header).map_err(|e| io("read", e))?;
    if read < 100 || &header[..16] != SQLITE_MAGIC {
        if encryption::looks_encrypted(&header[..read], len) {
            return Ok(FileState::Encrypted);
        }
        return Err(Error::Corrupt {
            path: path.to_path_buf(),
            reason: "it does not start with an SQLite header (damaged, or not a database at all)"
                .into(),
        });
    }
    let be32 = |at: usize| {
        u32::from_be_bytes([header[at], header[at + 1], header[at + 2], header[at + 3]])
    };
    let page_size = match u16::from_be_bytes([header[16], header[17]]) {
        1 => 65_536u64,
        n => u64::from(n),
    };
    // The in-header page count is valid when the "version valid for" number matches the change
    // counter; a file shorter than that has lost pages.
    if be32(92) == be32(24) {
        let expected = u64::from(be32(28)) * page_size;
        if expected > len {
            return Err(Error::Corrupt {
                path: path.to_path_buf(),
                reason: format!("the file is truncated: {len} bytes, its header says {expected}"),
            });
        }
    }
    let app_id = be32(68) as i32;
    if app_id == APPLICATION_ID {
        Ok(FileState::Outpost)
    } else if app_id == 0 {
        Ok(FileState::UnknownSqlite)
    } else {
        Err(Error::ForeignDatabase {
            path: path.to_path_buf(),
            reason: format!("its application id is {app_id:#x}, not Outpost's"),
        })
    }
}

fn is_corruption(e: &rusqlite::Error) -> bool {
    matches!(
        e.sqlite_error_code(),
        Some(rusqlite::ErrorCode::DatabaseCorrupt | rusqlite::ErrorCode::NotADatabase)
    )
}

impl Store {
    /// Opens (or creates) the store at `path`.
    ///
    /// A file that is not an Outpost database, is damaged, or was written by a newer schema is
    /// refused with an error naming the file, and left untouched.
    pub fn open(path: impl AsRef<Path>, options: StoreOptions) -> Result<Store> {
        let path = path.as_ref().to_path_buf();
        let state = inspect_file(&path)?;
        match (&state, &options.key) {
            (FileState::Encrypted, None) => return Err(Error::KeyRequired { path }),
            (FileState::Outpost | FileState::UnknownSqlite, Some(_)) => {
                return Err(Error::NotEncrypted { path })
            }
            _ => {}
        }
        Self::open_inner(&path, state, options).map_err(|e| Self::contextualize_path(&path, e))
    }

    fn open_inner(path: &Path, state: FileState, options: StoreOptions) -> Result<Store> {
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let mut conn = Connection::open_with_flags(path, flags)?;
        if let Some(key) = &options.key {
            encryption::apply_key(&conn, key, path)?;
        }
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        search::register_functions(&conn)?;
        if let FileState::UnknownSqlite | FileState::Encrypted = state {
            // The header on disk may predate our first transaction: page 1 with our application
            // id can still be in the write-ahead log (a process killed right after creating the
            // store). SQLite reads through the log; ask it.
            let app_id: i32 = conn.pragma_query_value(None, "application_id", |r| r.get(0))?;
            let tables: i64 =
                conn.query_row("SELECT count(*) FROM sqlite_master", [], |r| r.get(0))?;
            if app_id != APPLICATION_ID && app_id != 0 {
                return Err(Error::ForeignDatabase {
                    path: path.to_path_buf(),
                    reason: format!("its application id is {app_id:#x}, not Outpost's"),
                });
            }
            if app_id == 0 && tables > 0 {
                return Err(Error::ForeignDatabase {
                    path: path.to_path_buf(),
                    reason: format!(
                        "it is an SQLite database of another application ({tables} schema objects)"
                    ),
                });
            }
        }
        let version: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
        if version > SCHEMA_VERSION {
            return Err(Error::SchemaTooNew {
                path: path.to_path_buf(),
                found: version,
                known: SCHEMA_VERSION,
            });
        }
        let mode: String = conn.pragma_query_value(None, "journal_mode", |r| r.get(0))?;
        if !mode.eq_ignore_ascii_case("wal") {
            conn.pragma_update_and_check(None, "journal_mode", "WAL", |r| r.get::<_, String>(0))?;
        }
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        conn.pragma_update(None, "foreign_keys", true)?;
        if version < SCHEMA_VERSION {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let current: i64 = tx.pragma_query_value(None, "user_version", |r| r.get(0))?;
            if current < SCHEMA_VERSION {
                schema::migrate(&tx, current, SCHEMA_VERSION)?;
                if current > 0 && current < schema::REINDEX_SEARCH_BELOW {
                    contacts::reindex_search(&tx)?;
                }
            }
            tx.commit()?;
        }
        dedup::backfill_keys(&mut conn)?;
        let device = {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let existing = settings::get(&tx, settings::KEY_DEVICE_ID)?;
            let device = match existing {
                Some(d) => d,
                None => {
                    let d = uuid::Uuid::now_v7().to_string();
                    settings::set(&tx, settings::KEY_DEVICE_ID, &d)?;
                    d
                }
            };
            experience::opened(&tx, Self::now_ms())?;
            tx.commit()?;
            device
        };
        // Checkpoints run on the checkpointer's thread, not inside a user's commit (if that
        // thread cannot start, SQLite's automatic checkpoint stays on).
        let checkpointer = Checkpointer::start(path, options.key.as_ref());
        if checkpointer.is_some() {
            conn.pragma_update(None, "wal_autocheckpoint", 0)?;
        }
        // A purge whose scrub had not finished when the app last stopped: finish it now, or
        // leave it to the checkpoint thread while another connection still reads.
        if wipe::scrub_left_over(&mut conn)? {
            if let Some(c) = &checkpointer {
                c.scrub.store(true, std::sync::atomic::Ordering::Release);
            }
        }
        let user = if options.user.trim().is_empty() {
            "local".to_string()
        } else {
            options.user.trim().to_string()
        };
        Ok(Store {
            conn,
            path: path.to_path_buf(),
            region: options.region,
            actor: Actor { user, device },
            listener: None,
            clock: options.clock,
            checkpointer,
            #[cfg(feature = "client")]
            syncing: false,
            experience: std::sync::Mutex::new(Vec::new()),
            saved_cache: None,
        })
    }

    fn contextualize_path(path: &Path, e: Error) -> Error {
        match e {
            Error::Sqlite(ref inner) if is_corruption(inner) => Error::Corrupt {
                path: path.to_path_buf(),
                reason: inner.to_string(),
            },
            other => other,
        }
    }

    /// Turns SQLite corruption errors into [`Error::Corrupt`] naming this store's file.
    fn ctx<T>(&self, r: Result<T>) -> Result<T> {
        r.map_err(|e| Self::contextualize_path(&self.path, e))
    }

    /// Moves a damaged database (and its `-wal`/`-shm` files) aside, next to where it was, and
    /// returns the new path of the main file. Nothing is deleted.
    pub fn move_aside(path: impl AsRef<Path>) -> Result<PathBuf> {
        let path = path.as_ref();
        if !path.exists() {
            return Err(Error::NotFound {
                kind: "database file",
                id: path.display().to_string(),
            });
        }
        let stamp = chrono::Utc::now().format("%Y%m%dT%H%M%S%.3fZ");
        let target = PathBuf::from(format!("{}.damaged-{stamp}", path.display()));
        for suffix in ["-wal", "-shm"] {
            let side = PathBuf::from(format!("{}{suffix}", path.display()));
            if side.exists() {
                let to = PathBuf::from(format!("{}{suffix}", target.display()));
                std::fs::rename(&side, &to).map_err(|source| Error::Io {
                    op: "move aside",
                    path: side,
                    source,
                })?;
            }
        }
        std::fs::rename(path, &target).map_err(|source| Error::Io {
            op: "move aside",
            path: path.to_path_buf(),
            source,
        })?;
        Ok(target)
    }

    /// Runs SQLite's full integrity check; an empty list means the file is sound.
    pub fn check_integrity(&self) -> Result<Vec<String>> {
        let run = || -> Result<Vec<String>> {
            let mut stmt = self.conn.prepare("PRAGMA integrity_check")?;
            let rows = stmt.query_map([], |r| r.get::<_, String>(0))?;
            let mut problems = Vec::new();
            for row in rows {
                let row = row?;
                if row != "ok" {
                    problems.push(row);
                }
            }
            Ok(problems)
        };
        self.ctx(run())
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// This device's id (also its Automerge actor).
    pub fn device_id(&self) -> &str {
        &self.actor.device
    }

    /// The signed-in user.
    pub fn user(&self) -> &str {
        &self.actor.user
    }

    /// Who this store's changes are made by: the signed-in user on this device.
    pub fn actor(&self) -> &Actor {
        &self.actor
    }

    /// The phone region.
    pub fn region(&self) -> Region {
        self.region
    }

    /// Sets (or clears) the listener told about every committed change.
    pub fn set_change_listener(&mut self, listener: Option<Arc<dyn ChangeListener>>) {
        self.listener = listener;
    }

    fn notify(&self, kind: RecordKind, id: &str) {
        if let Some(l) = &self.listener {
            l.on_change(&RecordChange {
                kind,
                id: id.to_string(),
                origin: ChangeOrigin::Local,
            });
        }
    }

    fn now_ms() -> i64 {
        lease::system_ms()
    }

    /// An overview: counts, outbox length, file and size.
    pub fn status(&self) -> Result<StoreStatus> {
        self.guard()?;
        let run = || -> Result<StoreStatus> {
            let counts = |sql: &str| -> Result<Vec<KindCount>> {
                let mut stmt = self.conn.prepare(sql)?;
                let rows = stmt.query_map([], |r| {
                    Ok(KindCount {
                        kind: r.get(0)?,
                        status: r.get(1)?,
                        count: r.get::<_, i64>(2)?.max(0) as u64,
                    })
                })?;
                Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
            };
            let mut records = counts(
                "SELECT 'contact', status, count(*) FROM contacts GROUP BY status ORDER BY status",
            )?;
            records.extend(counts(
                "SELECT 'visit', status, count(*) FROM visits GROUP BY status ORDER BY status",
            )?);
            records.extend(counts(
                "SELECT 'attachment', category, count(*) FROM attachments GROUP BY category ORDER BY category",
            )?);
            records.extend(counts(
                "SELECT 'deal', stage, count(*) FROM deals GROUP BY stage ORDER BY stage",
            )?);
            records.extend(counts(
                "SELECT 'task', status, count(*) FROM tasks GROUP BY status ORDER BY status",
            )?);
            let sync_states = counts("SELECT kind, sync_state, count(*) FROM records GROUP BY kind, sync_state ORDER BY kind, sync_state")?;
            let outbox_len = self.outbox_len()?;
            let rejected = rejections::notices(&self.conn)?;
            let setting = |key: &str| settings::get(&self.conn, key);
            let size = |p: PathBuf| std::fs::metadata(p).map(|m| m.len()).unwrap_or(0);
            let size_bytes = size(self.path.clone())
                + size(PathBuf::from(format!("{}-wal", self.path.display())));
            Ok(StoreStatus {
                path: self.path.display().to_string(),
                size_bytes,
                schema_version: SCHEMA_VERSION,
                device_id: self.actor.device.clone(),
                user: self.actor.user.clone(),
                region: self.region.code().to_string(),
                records,
                sync_states,
                outbox_len,
                rejected,
                server: setting(settings::KEY_SERVER)?,
                cursor: setting(settings::KEY_CURSOR)?
                    .and_then(|c| c.parse().ok())
                    .unwrap_or(0),
                last_sync_at: setting(settings::KEY_LAST_SYNC)?,
            })
        };
        self.ctx(run())
    }
}
