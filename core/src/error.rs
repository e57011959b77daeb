//! The errors of the core. Each variant says what failed and which field, record or file.

use std::path::PathBuf;

/// Everything that can go wrong in `outpost-core`.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Input was refused; nothing was written.
    #[error("invalid {field}: {reason} (got {value:?})")]
    Validation {
        /// The field that was refused (`name`, `phones`, `emails`, `lat`, ...).
        field: String,
        /// The refused value, for the person who typed it. Never sent over FFI.
        value: String,
        /// Why it was refused.
        reason: String,
    },
    /// No record of that kind with that id.
    #[error("{kind} {id} not found")]
    NotFound {
        /// `contact`, `visit`, ...
        kind: &'static str,
        /// The id that was asked for.
        id: String,
    },
    /// The file exists but is not an Outpost database. It was not touched.
    #[error("{path} is not an Outpost database ({reason}); the file was left untouched")]
    ForeignDatabase {
        /// The database file.
        path: PathBuf,
        /// What gave it away.
        reason: String,
    },
    /// The database file is damaged. It was not touched; `outpost db move-aside` moves it away.
    #[error("{path} is damaged ({reason}); the file was left untouched, move it aside with `outpost db move-aside`")]
    Corrupt {
        /// The database file.
        path: PathBuf,
        /// What SQLite or our checks reported.
        reason: String,
    },
    /// The database was written by a newer Outpost than this one.
    #[error(
        "{path} has schema version {found}, newer than this build knows ({known}); update the app"
    )]
    SchemaTooNew {
        /// The database file.
        path: PathBuf,
        /// Schema version found in the file.
        found: i64,
        /// Newest schema version this build knows.
        known: i64,
    },
    /// The file is encrypted and no key was given. It was not touched.
    #[error("{path} is encrypted (or is not a database at all): open it with its key; the file was left untouched")]
    KeyRequired {
        /// The database file.
        path: PathBuf,
    },
    /// The key does not decrypt the file. It was not touched.
    #[error("{path}: the key does not open this database (wrong key, or the file is damaged); the file was left untouched")]
    WrongKey {
        /// The database file.
        path: PathBuf,
    },
    /// A key was given for a database that is not encrypted. It was not touched.
    #[error("{path} is not encrypted: encrypt it first (`outpost db encrypt`, `encrypt_file`), or open it without a key; the file was left untouched")]
    NotEncrypted {
        /// The database file.
        path: PathBuf,
    },
    /// The store did not sync within its lease: reads and writes are refused until a sync
    /// renews it; past the grace period the local data was wiped.
    #[error("store locked: {reason}")]
    Locked {
        /// Since when, and what happens next.
        reason: String,
        /// Whether the local data was wiped.
        wiped: bool,
    },
    /// A stored Automerge document could not be read.
    #[error("record {id}: stored document is unreadable: {reason}")]
    Document {
        /// The record id.
        id: String,
        /// What Automerge reported.
        reason: String,
    },
    /// A filesystem operation on the store's files failed.
    #[error("{op} {path}: {source}")]
    Io {
        /// What we tried to do.
        op: &'static str,
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// The server refused this device's credentials (or revoked the device).
    #[error("{message}")]
    Auth {
        /// What the server said, e.g. `device revoked`.
        message: String,
        /// Whether the device was revoked (its local data has been wiped).
        revoked: bool,
    },
    /// The server could not be reached, or the connection broke; nothing was lost, sync again later.
    #[error("network: {message}")]
    Network {
        /// What failed.
        message: String,
    },
    /// The server refused the request as a whole.
    #[error("server refused the request ({status} {code}): {message}")]
    Server {
        /// HTTP status.
        status: u16,
        /// The server's error code.
        code: String,
        /// The server's message.
        message: String,
    },
    /// The signed-in user's role does not allow this (as the server last said); nothing was
    /// written.
    #[error("permission denied: role {role} may not {action}")]
    Permission {
        /// What was refused, e.g. `write field amount`, `write deal`, `merge contacts`.
        action: String,
        /// The user's role.
        role: String,
    },
    /// A sync of this store is already running; this one did nothing.
    #[error("a sync of this store is already running")]
    SyncInProgress,
    /// SQLite failed.
    #[cfg(feature = "store")]
    #[error("storage: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// Automerge refused an operation on a document we built.
    #[error("document: {0}")]
    Automerge(#[from] automerge::AutomergeError),
    /// A photo could not be scanned: not an image, an unsupported format, damaged, too small
    /// or too large, or the OCR language data is missing. The message says which.
    #[error("scan: {0}")]
    Scan(String),
}

impl Error {
    /// A stable, short name for the error's kind: `validation`, `not_found`, `foreign_database`,
    /// `corrupt`, `schema_too_new`, `key_required`, `wrong_key`, `not_encrypted`, `locked`, `document`, `io`,
    /// `auth`, `network`, `server`, `permission`, `busy`, `storage`, `scan`.
    pub fn kind(&self) -> &'static str {
        match self {
            Error::Validation { .. } => "validation",
            Error::NotFound { .. } => "not_found",
            Error::ForeignDatabase { .. } => "foreign_database",
            Error::Corrupt { .. } => "corrupt",
            Error::SchemaTooNew { .. } => "schema_too_new",
            Error::KeyRequired { .. } => "key_required",
            Error::WrongKey { .. } => "wrong_key",
            Error::NotEncrypted { .. } => "not_encrypted",
            Error::Locked { .. } => "locked",
            Error::Document { .. } | Error::Automerge(_) => "document",
            Error::Io { .. } => "io",
            Error::Auth { .. } => "auth",
            Error::Network { .. } => "network",
            Error::Server { .. } => "server",
            Error::Permission { .. } => "permission",
            Error::SyncInProgress => "busy",
            #[cfg(feature = "store")]
            Error::Sqlite(_) => "storage",
            Error::Scan(_) => "scan",
        }
    }

    /// Builds a validation error.
    pub fn validation(field: &str, value: impl Into<String>, reason: impl Into<String>) -> Self {
        Error::Validation {
            field: field.to_string(),
            value: value.into(),
            reason: reason.into(),
        }
    }
}

/// Result with the core's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
