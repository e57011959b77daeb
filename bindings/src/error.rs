//! The one error the apps see, converted from `outpost_core::Error`.
//!
//! Variants are what an app can act on (show a field error, offer to update, retry later...).
//! Messages never carry personal data: a refused phone number is reported as
//! `field = "phones"` and why, never the number itself; file paths stay out too.

use outpost_core as oc;

/// What went wrong in an Outpost call. In Kotlin each variant is a subclass of
/// `OutpostException`; in Swift a case of `OutpostError`.
#[derive(Debug, thiserror::Error, uniffi::Error)]
pub enum OutpostError {
    /// Input was refused and nothing was written. Show `reason` next to `field`.
    #[error("invalid {field}: {reason}")]
    Validation {
        /// The refused field: `name`, `phones`, `emails`, `lat`, `region`, an extra field's key...
        field: String,
        /// Why it was refused, without the value itself (e.g. "not a valid phone number for region CN").
        /// (Not called `message`: Kotlin exceptions already have one.)
        reason: String,
    },
    /// No record of that kind with that id.
    #[error("{kind} {id} not found")]
    NotFound {
        /// `contact`, `visit`, ...
        kind: String,
        /// The id that was asked for.
        id: String,
    },
    /// A write conflicts with the record's current state; reload the record and try again.
    #[error("conflict: {reason}")]
    Conflict {
        /// What conflicted.
        reason: String,
    },
    /// The server refused this device's credentials: sign in again. When `revoked`, the device
    /// was revoked and its local data has been wiped.
    #[error("not authorized: {reason}")]
    Auth {
        /// What the server said, e.g. `device revoked`.
        reason: String,
        /// Whether the device was revoked (its local data has been wiped).
        revoked: bool,
    },
    /// The server could not be reached, kept failing, or refused the request as malformed
    /// (then `reason` names its HTTP status and error code); nothing was lost and local
    /// changes stay queued: sync again later.
    #[error("network: {reason}")]
    Network {
        /// What failed.
        reason: String,
    },
    /// The device database cannot be used as it is. `problem` says what the app should do.
    #[error("storage ({problem:?}): {reason}")]
    Storage {
        /// What kind of storage problem this is.
        problem: StorageProblem,
        /// A description for logs and support, without file paths or record contents.
        reason: String,
    },
    /// The store did not sync within its lease: reads and writes are refused until a sync
    /// renews it (`sync` still works). When `wiped`, the grace period was over too and the
    /// local data has been wiped: sign in again.
    #[error("locked: {reason}")]
    Locked {
        /// Since when, and what happens next.
        reason: String,
        /// Whether the local data was wiped.
        wiped: bool,
    },
    /// The signed-in user's role may not do this (as the server last said); nothing was
    /// written. Hide the action.
    #[error("permission denied: role {role} may not {action}")]
    Permission {
        /// What was refused, e.g. `write field amount`, `write deal`, `merge contacts`.
        action: String,
        /// The user's role.
        role: String,
    },
    /// A scanned image could not be read or recognized.
    #[error("scan: {reason}")]
    Scan {
        /// What failed.
        reason: String,
    },
}

/// The kinds of [`OutpostError::Storage`], so that the app can choose what to offer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum StorageProblem {
    /// The file is damaged. It was left untouched; offer to move it aside and start afresh
    /// (unsynced data in it can still be recovered by support).
    Corrupt,
    /// The file is not an Outpost database (wrong path?). It was left untouched.
    ForeignDatabase,
    /// The file was written by a newer version of the app: ask the user to update.
    SchemaTooNew,
    /// A stored record could not be read.
    Document,
    /// The file system refused an operation (disk full, permissions, missing directory...).
    Io,
    /// The database engine failed (busy, locked, full...). Retrying may help.
    Database,
    /// The file is encrypted and no key was given: open it with its key.
    KeyRequired,
    /// The key does not open the file (wrong key, or the file is damaged). It was left untouched.
    WrongKey,
    /// A key was given but the file is not encrypted: encrypt it with `encryptDatabase` first.
    NotEncrypted,
}

impl From<oc::Error> for OutpostError {
    fn from(e: oc::Error) -> Self {
        let storage = |problem, reason: String| OutpostError::Storage { problem, reason };
        match e {
            // `value` is what the person typed: it stays on this side of the boundary.
            oc::Error::Validation { field, value: _, reason } => {
                OutpostError::Validation { field, reason }
            }
            oc::Error::NotFound { kind, id } => OutpostError::NotFound { kind: kind.to_string(), id },
            oc::Error::Auth { message, revoked } => OutpostError::Auth { reason: message, revoked },
            oc::Error::Network { message } => OutpostError::Network { reason: message },
            // The server's free-text message may quote what it refused; status and code do not.
            // 403: this device may not write what it sent (e.g. the store was paired with another
            // device's token); only signing in again helps.
            oc::Error::Server { status: 403, code, .. } => OutpostError::Auth {
                reason: format!("the server refused this device's changes (403 {code})"),
                revoked: false,
            },
            oc::Error::Server { status, code, .. } => OutpostError::Network {
                reason: format!("the server refused the request ({status} {code})"),
            },
            oc::Error::Corrupt { .. } => storage(
                StorageProblem::Corrupt,
                "the database file is damaged; it was left untouched".to_string(),
            ),
            oc::Error::ForeignDatabase { .. } => storage(
                StorageProblem::ForeignDatabase,
                "the file is not an Outpost database; it was left untouched".to_string(),
            ),
            oc::Error::SchemaTooNew { found, known, .. } => storage(
                StorageProblem::SchemaTooNew,
                format!("the database has schema version {found}, this build knows up to {known}; update the app"),
            ),
            oc::Error::KeyRequired { .. } => storage(
                StorageProblem::KeyRequired,
                "the database is encrypted: open it with its key; it was left untouched".to_string(),
            ),
            oc::Error::WrongKey { .. } => storage(
                StorageProblem::WrongKey,
                "the key does not open the database; it was left untouched".to_string(),
            ),
            oc::Error::NotEncrypted { .. } => storage(
                StorageProblem::NotEncrypted,
                "the database is not encrypted: encrypt it first, or open it without a key".to_string(),
            ),
            oc::Error::Locked { reason, wiped } => OutpostError::Locked { reason, wiped },
            oc::Error::Document { id, .. } => storage(
                StorageProblem::Document,
                format!("the stored document of record {id} is unreadable"),
            ),
            oc::Error::Automerge(_) => storage(
                StorageProblem::Document,
                "a record document refused an operation".to_string(),
            ),
            oc::Error::Io { op, source, .. } => {
                storage(StorageProblem::Io, format!("{op} failed: {}", source.kind()))
            }
            // SQLite's message may quote SQL or values; its error code is enough to act on.
            oc::Error::Permission { action, role } => OutpostError::Permission { action, role },
            oc::Error::SyncInProgress => OutpostError::Conflict {
                reason: "a sync of this store is already running".to_string(),
            },
            oc::Error::Sqlite(inner) => storage(
                StorageProblem::Database,
                match inner.sqlite_error_code() {
                    Some(code) => format!("database error: {code:?}"),
                    None => "database error".to_string(),
                },
            ),
            oc::Error::Scan(reason) => OutpostError::Scan { reason },
        }
    }
}

/// What a `ChangeListener` may throw. Outpost catches and drops it: the change it was
/// told about is already saved.
#[derive(Debug, thiserror::Error, uniffi::Error)]
pub enum ListenerError {
    /// The listener failed.
    #[error("change listener failed: {reason}")]
    Failed {
        /// What the listener reported.
        reason: String,
    },
}

impl From<uniffi::UnexpectedUniFFICallbackError> for ListenerError {
    fn from(e: uniffi::UnexpectedUniFFICallbackError) -> Self {
        ListenerError::Failed { reason: e.reason }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validation_keeps_the_field_and_drops_the_value() {
        let core = oc::Error::validation(
            "phones",
            "138 0013 800X",
            "not a valid phone number for region CN",
        );
        let e = OutpostError::from(core);
        let text = e.to_string();
        assert!(matches!(e, OutpostError::Validation { ref field, .. } if field == "phones"));
        assert!(!text.contains("138"), "{text}");
    }

    #[test]
    fn server_refusals_keep_status_and_code_but_not_the_message() {
        let refused = |status| oc::Error::Server {
            status,
            code: "bad_request".into(),
            message: "record of 张伟 refused".into(),
        };
        let e = OutpostError::from(refused(400));
        assert!(
            matches!(e, OutpostError::Network { ref reason } if reason.contains("400 bad_request"))
        );
        assert!(!e.to_string().contains("张伟"), "{e}");
        let forbidden = OutpostError::from(refused(403));
        assert!(matches!(
            forbidden,
            OutpostError::Auth { revoked: false, .. }
        ));
        assert!(!forbidden.to_string().contains("张伟"), "{forbidden}");
    }

    #[test]
    fn a_revoked_device_stays_revoked_across_the_boundary() {
        let core = oc::Error::Auth {
            message: "device revoked".into(),
            revoked: true,
        };
        assert!(matches!(
            OutpostError::from(core),
            OutpostError::Auth { revoked: true, .. }
        ));
    }

    #[test]
    fn storage_errors_carry_no_path() {
        let core = oc::Error::Corrupt {
            path: "/data/user/张伟/rep.db".into(),
            reason: "truncated".into(),
        };
        let e = OutpostError::from(core);
        assert!(matches!(
            e,
            OutpostError::Storage {
                problem: StorageProblem::Corrupt,
                ..
            }
        ));
        assert!(!e.to_string().contains("张伟"));
    }
}
