//! uniffi records mirroring the core's types, with the conversions both ways.
//!
//! Maps become `HashMap` (uniffi has no ordered map) and counters `i64` (Kotlin `Long`,
//! Swift `Int64`); nothing else changes.

use outpost_core as oc;
use std::collections::HashMap;

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
}

/// Whether a contact is shown in lists and search.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum ContactStatus {
    /// Shown in lists and search.
    Active,
    /// Marked invalid (soft-deleted): hidden from lists and search unless asked for, never erased.
    Invalid,
    /// Merged into another contact (`mergedInto`): hidden from lists and duplicate checks,
    /// found by search under its own name as the survivor, never erased; its visits read as
    /// the survivor's.
    Merged,
}

/// Why, by whom and when a contact was marked invalid.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct Invalidation {
    /// The reason the rep gave.
    pub reason: String,
    /// The user who marked it invalid.
    pub by: String,
    /// When (RFC 3339).
    pub at: String,
}

/// A contact as stored and shown.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct Contact {
    /// Record id (UUIDv7 string).
    pub id: String,
    /// The person's name.
    pub name: String,
    /// Company name.
    pub company: Option<String>,
    /// Job title.
    pub title: Option<String>,
    /// Phone numbers in E.164 form, e.g. `+8613800138000`; an extension after `;ext=`
    /// (`+8675588888888;ext=123`).
    pub phones: Vec<String>,
    /// How each phone with an extension was typed (`+8675588888888;ext=123` →
    /// `0755-8888 8888 转 123`): show that text for it; show the other phones as stored.
    pub phones_typed: HashMap<String, String>,
    /// Email addresses, lower-cased.
    pub emails: Vec<String>,
    /// Postal address.
    pub address: Option<String>,
    /// Where the lead came from (`card_scan`, `import`, `referral`, ...).
    pub source: Option<String>,
    /// The user who owns this customer.
    pub owner: Option<String>,
    /// Active, or marked invalid.
    pub status: ContactStatus,
    /// Free-text notes.
    pub notes: Option<String>,
    /// Fields this version of the app does not know (written by a newer app, an import...).
    /// They are kept untouched when the contact is edited.
    pub extra: HashMap<String, String>,
    /// Set when the contact was marked invalid.
    pub invalidation: Option<Invalidation>,
    /// When the contact was created (RFC 3339).
    pub created_at: String,
    /// When the contact last changed (RFC 3339).
    pub updated_at: String,
    /// `local` (not yet acknowledged by the server) or `synced` (a refused change is undone, see `status().rejected`).
    pub sync_state: String,
    /// When `status` is `Merged`: the surviving contact it reads as (the same on every device).
    pub merged_into: Option<String>,
}

/// The fields of a new contact, as typed. Phones are normalized to E.164 and emails
/// lower-cased on save; an invalid value is refused with a validation error naming the field.
#[derive(Debug, Clone, Default, PartialEq, Eq, uniffi::Record)]
pub struct NewContact {
    /// The person's name (required).
    pub name: String,
    /// Company name.
    #[uniffi(default = None)]
    pub company: Option<String>,
    /// Job title.
    #[uniffi(default = None)]
    pub title: Option<String>,
    /// Phone numbers in any common form (`138 0013 8000`, `+86 138-0013-8000`, `0755-52659655`).
    #[uniffi(default)]
    pub phones: Vec<String>,
    /// Email addresses.
    #[uniffi(default)]
    pub emails: Vec<String>,
    /// Postal address.
    #[uniffi(default = None)]
    pub address: Option<String>,
    /// Where the lead came from.
    #[uniffi(default = None)]
    pub source: Option<String>,
    /// Owner; defaults to the store's user.
    #[uniffi(default = None)]
    pub owner: Option<String>,
    /// Free-text notes.
    #[uniffi(default = None)]
    pub notes: Option<String>,
    /// Other fields, kept as `extra`. A key naming a known field (`company`, `title`...) sets
    /// that field instead.
    #[uniffi(default)]
    pub extra: HashMap<String, String>,
}

/// An edit of a contact: `null`/`nil` leaves a field alone, an empty string clears it.
#[derive(Debug, Clone, Default, PartialEq, Eq, uniffi::Record)]
pub struct ContactPatch {
    /// New name (cannot be cleared).
    #[uniffi(default = None)]
    pub name: Option<String>,
    /// New company.
    #[uniffi(default = None)]
    pub company: Option<String>,
    /// New title.
    #[uniffi(default = None)]
    pub title: Option<String>,
    /// Replaces the phone list.
    #[uniffi(default = None)]
    pub phones: Option<Vec<String>>,
    /// Replaces the email list.
    #[uniffi(default = None)]
    pub emails: Option<Vec<String>>,
    /// New address.
    #[uniffi(default = None)]
    pub address: Option<String>,
    /// New lead source.
    #[uniffi(default = None)]
    pub source: Option<String>,
    /// New owner.
    #[uniffi(default = None)]
    pub owner: Option<String>,
    /// New notes.
    #[uniffi(default = None)]
    pub notes: Option<String>,
    /// Sets extra fields (a known field's key sets that field; an empty value removes the key).
    #[uniffi(default)]
    pub set: HashMap<String, String>,
    /// Removes these keys (extra fields, or optional known fields).
    #[uniffi(default)]
    pub unset: Vec<String>,
}

/// Which contacts to list.
#[derive(Debug, Clone, Default, PartialEq, Eq, uniffi::Record)]
pub struct ListOptions {
    /// Also list contacts marked invalid.
    #[uniffi(default = false)]
    pub include_invalid: bool,
    /// At most this many, most recently updated first; `null`/`nil` for all.
    #[uniffi(default = None)]
    pub limit: Option<u32>,
}

/// Options for search.
#[derive(Debug, Clone, Default, PartialEq, Eq, uniffi::Record)]
pub struct SearchOptions {
    /// Also find contacts marked invalid.
    #[uniffi(default = false)]
    pub include_invalid: bool,
    /// At most this many results (default 50).
    #[uniffi(default = None)]
    pub limit: Option<u32>,
}

/// One change of a record: when, by whom, and which fields went from what to what.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct HistoryEntry {
    /// When the change was made (RFC 3339, the writing device's clock).
    pub at: String,
    /// The user who made it.
    pub actor: String,
    /// The device it was made on.
    pub device: String,
    /// What the user did (`create`, `edit`, `invalidate`, `check_in`, ...).
    pub action: String,
    /// The fields it changed.
    pub changes: Vec<FieldChange>,
}

/// One field's change. Lists are shown comma-separated.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct FieldChange {
    /// The field (`name`, `phones`, or an extra field's key).
    pub field: String,
    /// The value before, if it had one.
    pub old: Option<String>,
    /// The value after, if it has one.
    pub new: Option<String>,
}

/// A visit: a rep checking in at a customer, and later checking out.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct Visit {
    /// Record id (UUIDv7 string).
    pub id: String,
    /// The contact visited.
    pub contact_id: String,
    /// The rep who checked in.
    pub user: String,
    /// Latitude in degrees (WGS 84).
    pub lat: f64,
    /// Longitude in degrees (WGS 84).
    pub lon: f64,
    /// Horizontal accuracy in metres, if the platform gave one.
    pub accuracy_m: Option<f64>,
    /// The device's wall clock at check-in, with its UTC offset (RFC 3339).
    pub device_time: String,
    /// The device's monotonic clock at check-in (ms since boot), if given.
    pub elapsed_ms: Option<i64>,
    /// The local calendar day of the check-in (`YYYY-MM-DD`).
    pub day: String,
    /// When the rep checked out (RFC 3339), if they did.
    pub checked_out_at: Option<String>,
    /// Notes written at check-out.
    pub notes: Option<String>,
    /// The next follow-up date set at check-out (`YYYY-MM-DD`).
    pub next_follow_up: Option<String>,
    /// `open` until checked out, then `closed`.
    pub status: String,
    /// Fields this version of the app does not know.
    pub extra: HashMap<String, String>,
    /// When the visit record was created (RFC 3339).
    pub created_at: String,
    /// When it last changed (RFC 3339).
    pub updated_at: String,
    /// `local` (not yet acknowledged by the server) or `synced`.
    pub sync_state: String,
}

/// A check-in at a customer, as the app reports it.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct CheckIn {
    /// The contact being visited (must exist and be active).
    pub contact_id: String,
    /// Latitude, -90 to 90.
    pub lat: f64,
    /// Longitude, -180 to 180.
    pub lon: f64,
    /// Horizontal accuracy in metres, if known.
    #[uniffi(default = None)]
    pub accuracy_m: Option<f64>,
    /// Device wall clock with offset (RFC 3339); defaults to now.
    #[uniffi(default = None)]
    pub device_time: Option<String>,
    /// Monotonic clock in ms (Android `SystemClock.elapsedRealtime()`, iOS `systemUptime`).
    #[uniffi(default = None)]
    pub elapsed_ms: Option<i64>,
}

/// A check-out.
#[derive(Debug, Clone, Default, PartialEq, Eq, uniffi::Record)]
pub struct CheckOut {
    /// What happened at the visit.
    #[uniffi(default = None)]
    pub notes: Option<String>,
    /// When to follow up (`YYYY-MM-DD`).
    #[uniffi(default = None)]
    pub next_follow_up: Option<String>,
}

/// Which visits to list.
#[derive(Debug, Clone, Default, PartialEq, Eq, uniffi::Record)]
pub struct VisitFilter {
    /// Only visits of this contact.
    #[uniffi(default = None)]
    pub contact_id: Option<String>,
    /// Only visits checked in on this local day (`YYYY-MM-DD`).
    #[uniffi(default = None)]
    pub day: Option<String>,
    /// At most this many, newest first; `null`/`nil` for all.
    #[uniffi(default = None)]
    pub limit: Option<u32>,
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

/// A local change the server refused, and how the device undid it. The record never stays
/// stuck: the fields the change wrote are back at the server's value, later edits of the same
/// record are kept and sent again, and the rest of the outbox keeps flowing. When the server
/// refused the record itself (its first change), the record was removed from the device.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct RejectedChange {
    /// The record it belongs to.
    pub record_id: String,
    /// `contact`, `visit`, `deal`, `task`, `attachment` or `restricted` (a deal's amount,
    /// discount or contract amount; the id is `DEALID_FIELD`).
    pub kind: String,
    /// The server's reason.
    pub reason: String,
    /// When it was refused (RFC 3339).
    pub at: String,
    /// The fields the refused change wrote, now back at the server's value.
    pub fields: Vec<String>,
    /// Whether the server refused the record itself: it was removed from this device.
    pub removed: bool,
}

/// One competing value of a field edited concurrently on several devices.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct ConflictValue {
    /// The value (lists comma-separated).
    pub value: String,
    /// The user who wrote it.
    pub actor: String,
    /// When (RFC 3339, the writing device's clock).
    pub at: String,
}

/// A field with competing values. Every device shows the same winner, `values[0]`, until a
/// user resolves it.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct FieldConflict {
    /// The field (`title`, `phones`, or an extra field's key).
    pub field: String,
    /// The competing values, the current winner first.
    pub values: Vec<ConflictValue>,
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

/// A device enrolled by code (`OutpostStore.enroll`); its token is remembered, not shown.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct Enrolled {
    /// The new device's id.
    pub device_id: String,
    /// The tenant it joined.
    pub tenant_id: String,
    /// The user signed in on it.
    pub user: String,
    /// The user's role.
    pub role: String,
}

impl From<oc::Enrolled> for Enrolled {
    fn from(e: oc::Enrolled) -> Self {
        Enrolled {
            device_id: e.device_id,
            tenant_id: e.tenant_id,
            user: e.user,
            role: e.role,
        }
    }
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

/// What kind of record changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum RecordKind {
    /// A contact.
    Contact,
    /// A visit.
    Visit,
    /// An attachment (a scan or file linked to a contact).
    Attachment,
    /// A deal.
    Deal,
    /// A task (follow-up or planned visit).
    Task,
}

/// Where a change came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum ChangeOrigin {
    /// Written on this device.
    Local,
    /// Arrived by sync.
    Sync,
}

/// A record that changed, for the UI to refresh.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct RecordChange {
    /// The record's kind.
    pub kind: RecordKind,
    /// The record's id.
    pub id: String,
    /// Where the change came from.
    pub origin: ChangeOrigin,
}

pub(crate) fn count(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

impl From<oc::ContactStatus> for ContactStatus {
    fn from(s: oc::ContactStatus) -> Self {
        match s {
            oc::ContactStatus::Active => ContactStatus::Active,
            oc::ContactStatus::Invalid => ContactStatus::Invalid,
            oc::ContactStatus::Merged => ContactStatus::Merged,
        }
    }
}

impl From<oc::Invalidation> for Invalidation {
    fn from(i: oc::Invalidation) -> Self {
        Invalidation {
            reason: i.reason,
            by: i.by,
            at: i.at,
        }
    }
}

impl From<oc::Contact> for Contact {
    fn from(c: oc::Contact) -> Self {
        Contact {
            id: c.id,
            name: c.name,
            company: c.company,
            title: c.title,
            phones: c.phones,
            phones_typed: c.phones_typed.into_iter().collect(),
            emails: c.emails,
            address: c.address,
            source: c.source,
            owner: c.owner,
            status: c.status.into(),
            notes: c.notes,
            extra: c.extra.into_iter().collect(),
            invalidation: c.invalidation.map(Into::into),
            created_at: c.created_at,
            updated_at: c.updated_at,
            sync_state: c.sync_state.as_str().to_string(),
            merged_into: c.merged_into,
        }
    }
}

impl From<NewContact> for oc::NewContact {
    fn from(n: NewContact) -> Self {
        oc::NewContact {
            name: n.name,
            company: n.company,
            title: n.title,
            phones: n.phones,
            emails: n.emails,
            address: n.address,
            source: n.source,
            owner: n.owner,
            notes: n.notes,
            extra: n.extra.into_iter().collect(),
        }
    }
}

impl From<ContactPatch> for oc::ContactPatch {
    fn from(p: ContactPatch) -> Self {
        oc::ContactPatch {
            name: p.name,
            company: p.company,
            title: p.title,
            phones: p.phones,
            emails: p.emails,
            address: p.address,
            source: p.source,
            owner: p.owner,
            notes: p.notes,
            set: p.set.into_iter().collect(),
            unset: p.unset,
        }
    }
}

impl From<ListOptions> for oc::ListOptions {
    fn from(o: ListOptions) -> Self {
        oc::ListOptions {
            include_invalid: o.include_invalid,
            limit: o.limit,
        }
    }
}

impl From<SearchOptions> for oc::SearchOptions {
    fn from(o: SearchOptions) -> Self {
        oc::SearchOptions {
            include_invalid: o.include_invalid,
            limit: o.limit,
        }
    }
}

impl From<oc::FieldChange> for FieldChange {
    fn from(f: oc::FieldChange) -> Self {
        FieldChange {
            field: f.field,
            old: f.old,
            new: f.new,
        }
    }
}

impl From<oc::HistoryEntry> for HistoryEntry {
    fn from(h: oc::HistoryEntry) -> Self {
        HistoryEntry {
            at: h.at,
            actor: h.actor,
            device: h.device,
            action: h.action,
            changes: h.changes.into_iter().map(Into::into).collect(),
        }
    }
}

impl From<oc::Visit> for Visit {
    fn from(v: oc::Visit) -> Self {
        Visit {
            id: v.id,
            contact_id: v.contact_id,
            user: v.user,
            lat: v.lat,
            lon: v.lon,
            accuracy_m: v.accuracy_m,
            device_time: v.device_time,
            elapsed_ms: v.elapsed_ms,
            day: v.day,
            checked_out_at: v.checked_out_at,
            notes: v.notes,
            next_follow_up: v.next_follow_up,
            status: v.status,
            extra: v.extra.into_iter().collect(),
            created_at: v.created_at,
            updated_at: v.updated_at,
            sync_state: v.sync_state.as_str().to_string(),
        }
    }
}

impl From<CheckIn> for oc::CheckIn {
    fn from(c: CheckIn) -> Self {
        oc::CheckIn {
            contact_id: c.contact_id,
            lat: c.lat,
            lon: c.lon,
            accuracy_m: c.accuracy_m,
            device_time: c.device_time,
            elapsed_ms: c.elapsed_ms,
        }
    }
}

impl From<CheckOut> for oc::CheckOut {
    fn from(c: CheckOut) -> Self {
        oc::CheckOut {
            notes: c.notes,
            next_follow_up: c.next_follow_up,
        }
    }
}

impl From<VisitFilter> for oc::VisitFilter {
    fn from(f: VisitFilter) -> Self {
        oc::VisitFilter {
            contact_id: f.contact_id,
            day: f.day,
            limit: f.limit,
        }
    }
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
            rejected: s.rejected.into_iter().map(Into::into).collect(),
            server: s.server,
            cursor: count(s.cursor),
            last_sync_at: s.last_sync_at,
        }
    }
}

impl From<oc::RejectedChange> for RejectedChange {
    fn from(r: oc::RejectedChange) -> Self {
        RejectedChange {
            record_id: r.record_id,
            kind: r.kind,
            reason: r.reason,
            at: r.at,
            fields: r.fields,
            removed: r.removed,
        }
    }
}

impl From<oc::ConflictValue> for ConflictValue {
    fn from(v: oc::ConflictValue) -> Self {
        ConflictValue {
            value: v.value,
            actor: v.actor,
            at: v.at,
        }
    }
}

impl From<oc::FieldConflict> for FieldConflict {
    fn from(f: oc::FieldConflict) -> Self {
        FieldConflict {
            field: f.field,
            values: f.values.into_iter().map(Into::into).collect(),
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
            rejections: r.rejections.into_iter().map(Into::into).collect(),
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

impl TryFrom<oc::RecordKind> for RecordKind {
    /// A kind the app is never told about (`config`, `restricted`).
    type Error = oc::RecordKind;

    fn try_from(k: oc::RecordKind) -> Result<Self, Self::Error> {
        Ok(match k {
            oc::RecordKind::Contact => RecordKind::Contact,
            oc::RecordKind::Visit => RecordKind::Visit,
            oc::RecordKind::Attachment => RecordKind::Attachment,
            oc::RecordKind::Deal => RecordKind::Deal,
            oc::RecordKind::Task => RecordKind::Task,
            other @ (oc::RecordKind::Config | oc::RecordKind::Restricted) => return Err(other),
        })
    }
}

impl From<oc::ChangeOrigin> for ChangeOrigin {
    fn from(o: oc::ChangeOrigin) -> Self {
        match o {
            oc::ChangeOrigin::Local => ChangeOrigin::Local,
            oc::ChangeOrigin::Sync => ChangeOrigin::Sync,
        }
    }
}

impl TryFrom<oc::RecordChange> for RecordChange {
    type Error = oc::RecordKind;

    fn try_from(c: oc::RecordChange) -> Result<Self, Self::Error> {
        Ok(RecordChange {
            kind: c.kind.try_into()?,
            id: c.id,
            origin: c.origin.into(),
        })
    }
}
