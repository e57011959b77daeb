//! The store's types as the apps see them.
//!
//! The records themselves (contacts, visits and what the app passes to make and find them) are
//! the core's own types, exported by the core (feature `ffi`, `outpost_core::ffi`): their fields
//! are listed once. What is declared here is what needs another shape across the FFI: reports
//! whose counters become `i64` (Kotlin `Long`, Swift `Int64`), kinds the app is never told about
//! left out, and the options of opening a store.

use outpost_core as oc;

pub use oc::{
    ChangeOrigin, CheckIn, CheckOut, ConflictValue, Contact, ContactPatch, ContactStatus,
    CoordSystem, Enrolled, FieldChange, FieldConflict, HistoryEntry, Invalidation, ListOptions,
    NewContact, RecordChange, RecordKind, RejectedChange, SearchOptions, SyncPhase, Visit,
    VisitFilter,
};

/// How to open a store.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct StoreOptions {
    /// Region (ISO 3166 code such as `CN`, `HK`, `US`) for phone numbers typed without a
    /// country code.
    #[uniffi(default = "CN")]
    pub region: String,
    /// The signed-in user; recorded in every change and as the default owner of new contacts.
    #[uniffi(default = "local")]
    pub user: String,
    /// The database key: 32 random bytes kept in the Android Keystore / iOS Keychain, or
    /// `null`/`nil` for an unencrypted file. A new file opened with a key is created encrypted
    /// (SQLCipher: records, search index, outbox and stored photos/scans alike); an encrypted file
    /// needs the same key every time. Wrong or missing keys are `OutpostError.Storage` with
    /// problem `WRONG_KEY` / `KEY_REQUIRED`, and the file is left untouched.
    #[uniffi(default = None)]
    pub key: Option<Vec<u8>>,
    /// CA certificates (PEM text, one or more blocks per string) trusted for an HTTPS sync
    /// server beside the Mozilla roots the library carries: a company's private CA. A string
    /// that holds no certificate is `OutpostError.Validation` on `trusted_ca_pem[i]` at open.
    #[uniffi(default = [])]
    pub trusted_ca_pem: Vec<String>,
    /// Verify HTTPS servers with the platform's verifier (Android's or Apple's trust store,
    /// CAs a device-management profile installed) instead of the bundled roots. On Android
    /// the app must initialise rustls-platform-verifier first (bindings/README.md, "HTTPS").
    #[uniffi(default = false)]
    pub platform_verifier: bool,
}

/// How many records of one kind are in one status.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct KindCount {
    /// `contact` or `visit`.
    pub kind: String,
    /// For contacts `active`/`invalid`, for visits `open`/`closed`; or a sync state.
    pub status: String,
    /// How many.
    pub count: i64,
}

/// An overview of a store.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct StoreStatus {
    /// The database file.
    pub path: String,
    /// Bytes on disk (database plus write-ahead log).
    pub size_bytes: i64,
    /// Schema version of the database.
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
    pub outbox_len: i64,
    /// Changes the server refused, with its reason, oldest first (the last 200). Each was undone
    /// on this device: see `RejectedChange`.
    pub rejected: Vec<RejectedChange>,
    /// The sync server this store talks to, once set (the token is not shown).
    pub server: Option<String>,
    /// The last server log position applied (0 before the first sync).
    pub cursor: i64,
    /// When the last sync finished (RFC 3339), if one did.
    pub last_sync_at: Option<String>,
}

/// What one `sync()` did.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct SyncReport {
    /// Local changes the server acknowledged.
    pub pushed: i64,
    /// Changes and documents received and merged.
    pub pulled: i64,
    /// The server log position now applied.
    pub cursor: i64,
    /// Records received in this sync that now have conflicting field values
    /// (see `contactConflicts`).
    pub conflicts: i64,
    /// Local changes the server refused; each was undone on this device (listed in
    /// `rejections` and `status().rejected`).
    pub rejected: i64,
    /// Why each was refused and what was undone.
    pub rejections: Vec<RejectedChange>,
    /// `ok`, or `partial` when some changes were refused or deferred.
    pub status: String,
    /// HTTP round trips made.
    pub round_trips: i64,
    /// Request body bytes sent.
    pub bytes_sent: i64,
    /// Response body bytes received.
    pub bytes_received: i64,
    /// Attachment files whose upload finished in this sync (uploads resume where they stopped).
    pub blobs_uploaded: i64,
    /// Records removed from the device because the user may no longer read them (their scope
    /// changed: a record reassigned, a team or role changed). Never one with unsent changes.
    pub purged: i64,
    /// Records downloaded because they entered the user's scope.
    pub fetched: i64,
    /// Local changes the server could not apply yet (they depend on another device's changes
    /// that the server lost in a restore); they stay queued and go at the next sync.
    pub deferred: i64,
    /// The server was restored from a backup: this device sent again every change it made and
    /// downloaded the server's records anew. Nothing is lost; worth a line in the app's log.
    pub log_reset: bool,
}

/// The signed-in user's role and permissions, as the server last said (`OutpostStore.access`).
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct AccessInfo {
    /// The user the server knows this device by.
    pub user: String,
    /// Their role (`rep`, `manager`, `director`, `finance`, `admin` or the tenant's own).
    pub role: String,
    /// Their permissions, sorted: `KIND:read|write`, `invalidate`, `merge`, `export`, `assign`,
    /// `field:NAME:read|write`, `scope:own|team|all`.
    pub permissions: Vec<String>,
    /// The tenant's scope epoch in that answer.
    pub epoch: i64,
}

impl From<oc::AccessInfo> for AccessInfo {
    fn from(a: oc::AccessInfo) -> Self {
        AccessInfo {
            user: a.user,
            role: a.role,
            permissions: a.permissions,
            epoch: count(a.epoch),
        }
    }
}

pub(crate) fn count(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

impl From<oc::KindCount> for KindCount {
    fn from(k: oc::KindCount) -> Self {
        KindCount {
            kind: k.kind,
            status: k.status,
            count: count(k.count),
        }
    }
}

impl From<oc::StoreStatus> for StoreStatus {
    fn from(s: oc::StoreStatus) -> Self {
        StoreStatus {
            path: s.path,
            size_bytes: count(s.size_bytes),
            schema_version: s.schema_version,
            device_id: s.device_id,
            user: s.user,
            region: s.region,
            records: s.records.into_iter().map(Into::into).collect(),
            sync_states: s.sync_states.into_iter().map(Into::into).collect(),
            outbox_len: count(s.outbox_len),
            rejected: s.rejected,
            server: s.server,
            cursor: count(s.cursor),
            last_sync_at: s.last_sync_at,
        }
    }
}

impl From<oc::SyncReport> for SyncReport {
    fn from(r: oc::SyncReport) -> Self {
        SyncReport {
            pushed: count(r.pushed),
            pulled: count(r.pulled),
            cursor: count(r.cursor),
            conflicts: count(r.conflicts),
            rejected: count(r.rejected),
            rejections: r.rejections,
            status: r.status.as_str().to_string(),
            round_trips: count(r.round_trips),
            bytes_sent: count(r.bytes_sent),
            bytes_received: count(r.bytes_received),
            blobs_uploaded: count(r.blobs_uploaded),
            purged: count(r.purged),
            fetched: count(r.fetched),
            deferred: count(r.deferred),
            log_reset: r.log_reset,
        }
    }
}

/// How far a sync has come in its phase (`syncWithProgress`).
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct SyncProgress {
    /// `BOOTSTRAP` (a new device downloading every record, page by page), `UPLOAD` (files),
    /// `PUSH` (the outbox), `PULL` (others' changes).
    pub phase: SyncPhase,
    /// Records stored (bootstrap, pull), files uploaded, changes acknowledged (push).
    pub done: i64,
    /// What `done` counts up to, where known (files to upload, changes queued when the sync
    /// started); null for a bootstrap or a pull, whose size is not known ahead.
    pub total: Option<i64>,
}

impl From<oc::SyncProgress> for SyncProgress {
    fn from(p: oc::SyncProgress) -> Self {
        SyncProgress {
            phase: p.phase,
            done: count(p.done),
            total: p.total.map(count),
        }
    }
}
