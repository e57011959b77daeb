//! `OutpostStore`: the core's `Store` behind a `std::sync::Mutex` (the lock the core's
//! `sync_store` takes between network calls), and the change listener bridge.

use crate::error::{ListenerError, OutpostError};
use crate::types::{
    AccessInfo, CheckIn, CheckOut, Contact, ContactPatch, CoordSystem, Enrolled, FieldConflict,
    HistoryEntry, ListOptions, NewContact, RecordChange, SearchOptions, StoreOptions, StoreStatus,
    SyncProgress, SyncReport, Visit, VisitFilter,
};
use oc::store::lock;
use outpost_core as oc;
use std::sync::{Arc, Mutex, PoisonError, RwLock};

/// Told when a record changes, so that the UI can refresh. Implement it in Kotlin or Swift
/// and pass it to `OutpostStore.addChangeListener` (any number of them) or
/// `setChangeListener`; Kotlin's `changes()` Flow and Swift's `changes()` AsyncStream
/// (`android/`, `ios/`) are written over it.
///
/// It is called after the change is saved, on the thread that made the call that wrote,
/// once that call has released the store: a listener may call the store again. An exception
/// it throws is caught and dropped (the change is saved whatever the listener does). Keep it
/// short, or hand the work to another thread.
#[uniffi::export(with_foreign)]
pub trait ChangeListener: Send + Sync {
    /// A record was created or changed.
    fn on_change(&self, change: RecordChange) -> Result<(), ListenerError>;
}

/// Collects the core's notifications while the store is locked; [`OutpostStore`] hands them
/// to the app's listener once it has unlocked, so a listener can call the store again.
#[derive(Default)]
struct PendingChanges(Mutex<Vec<oc::RecordChange>>);

impl oc::ChangeListener for PendingChanges {
    fn on_change(&self, change: &oc::RecordChange) {
        lock(&self.0).push(change.clone());
    }
}

impl PendingChanges {
    /// Takes the collected changes of one origin, leaving the others. A write takes its local
    /// changes, a sync the ones that arrived by sync: each call reports what it wrote, even
    /// while a sync and writes interleave between the sync's network calls.
    fn take(&self, origin: oc::ChangeOrigin) -> Vec<oc::RecordChange> {
        let mut all = lock(&self.0);
        let (taken, kept) = std::mem::take(&mut *all)
            .into_iter()
            .partition(|c| c.origin == origin);
        *all = kept;
        taken
    }
}

/// A device store: one SQLite file for one signed-in user. Safe to share between threads;
/// calls are serialized, and each is quick enough to make from a background thread (not the
/// UI thread). Open one per file; several stores on different files can be open at once.
/// Close it (`close()` in Kotlin, release the last reference in Swift) to release the file.
#[derive(uniffi::Object)]
pub struct OutpostStore {
    pub(crate) store: Mutex<oc::Store>,
    pending: Arc<PendingChanges>,
    /// The listeners: `setChangeListener`'s under id 0, `addChangeListener`'s under theirs.
    listeners: RwLock<Vec<(u64, Arc<dyn ChangeListener>)>>,
    next_listener: std::sync::atomic::AtomicU64,
    /// How to reach the sync server (the TLS trust from [`StoreOptions`]).
    pub(crate) net: oc::SyncOptions,
}

impl std::fmt::Debug for OutpostStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OutpostStore").finish_non_exhaustive()
    }
}

impl OutpostStore {
    /// Runs `f` on the locked store (the core enforces the device lease itself).
    pub(crate) fn read<T>(
        &self,
        f: impl FnOnce(&oc::Store) -> oc::Result<T>,
    ) -> Result<T, OutpostError> {
        Ok(f(&lock(&self.store))?)
    }

    /// Runs `f` on the locked store, then, unlocked, tells the listener what `f` changed.
    pub(crate) fn write<T>(
        &self,
        f: impl FnOnce(&mut oc::Store) -> oc::Result<T>,
    ) -> Result<T, OutpostError> {
        let (result, changes) = {
            let mut store = lock(&self.store);
            let result = f(&mut store);
            // Taken under the store lock: exactly the changes of this call.
            (result, self.pending.take(oc::ChangeOrigin::Local))
        };
        self.deliver(changes);
        Ok(result?)
    }

    fn deliver(&self, changes: Vec<oc::RecordChange>) {
        if changes.is_empty() {
            return;
        }
        // Copied out: a listener may add or remove listeners.
        let listeners: Vec<Arc<dyn ChangeListener>> = self
            .listeners
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .map(|(_, l)| l.clone())
            .collect();
        // The core tells only kinds the app shows (never the tenant's settings, a restricted
        // field as its deal); a change of any other kind has nothing to show.
        for change in changes
            .into_iter()
            .filter(|c| !matches!(c.kind, oc::RecordKind::Config | oc::RecordKind::Restricted))
        {
            for listener in &listeners {
                // The change is saved; a failing listener must not turn that into an error.
                let _ = listener.on_change(change.clone());
            }
        }
    }
}

#[uniffi::export]
impl OutpostStore {
    /// Opens the store at `path`, creating it if the file does not exist.
    ///
    /// A file that is damaged, is not an Outpost database or comes from a newer app version is
    /// refused with `OutpostError.Storage` and left untouched. A bad `options.region` is a
    /// validation error on `region`.
    #[uniffi::constructor]
    pub fn open(path: String, options: StoreOptions) -> Result<Arc<Self>, OutpostError> {
        let region = oc::Region::parse(&options.region)?;
        oc::sync::client::trusted_certificates(&options.trusted_ca_pem)?;
        let net = oc::SyncOptions {
            trusted_ca_pem: options.trusted_ca_pem,
            platform_verifier: options.platform_verifier,
            ..Default::default()
        };
        let mut store = oc::Store::open(
            path,
            oc::StoreOptions {
                region,
                user: options.user,
                key: options
                    .key
                    .as_deref()
                    .map(oc::StoreKey::from_bytes)
                    .transpose()?,
                ..Default::default()
            },
        )?;
        let pending = Arc::new(PendingChanges::default());
        store.set_change_listener(Some(pending.clone()));
        Ok(Arc::new(OutpostStore {
            store: Mutex::new(store),
            pending,
            listeners: RwLock::new(Vec::new()),
            next_listener: std::sync::atomic::AtomicU64::new(1),
            net,
        }))
    }

    /// Sets the listener told about every change of a record, or removes it with `null`/`nil`
    /// (it replaces the one set before; those of `addChangeListener` stay).
    pub fn set_change_listener(&self, listener: Option<Arc<dyn ChangeListener>>) {
        let mut listeners = self
            .listeners
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        listeners.retain(|(id, _)| *id != 0);
        if let Some(l) = listener {
            listeners.insert(0, (0, l));
        }
    }

    /// Adds a listener told about every change of a record, beside any others; returns the id
    /// that removes it (`removeChangeListener`). Listeners are called in the order they were
    /// added, each with every change.
    pub fn add_change_listener(&self, listener: Arc<dyn ChangeListener>) -> u64 {
        let id = self
            .next_listener
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        self.listeners
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .push((id, listener));
        id
    }

    /// Removes a listener `addChangeListener` added; false when there is none with that id.
    pub fn remove_change_listener(&self, id: u64) -> bool {
        let mut listeners = self
            .listeners
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        let before = listeners.len();
        listeners.retain(|(l, _)| *l != id || id == 0);
        listeners.len() != before
    }

    /// Creates a contact. Phones are normalized to E.164 (`138 0013 8000` → `+8613800138000`)
    /// and emails lower-cased; an invalid value is refused naming the field, and nothing is saved.
    pub fn add_contact(&self, contact: NewContact) -> Result<Contact, OutpostError> {
        self.write(|s| s.add_contact(contact))
    }

    /// One contact by id, including one marked invalid.
    pub fn get_contact(&self, id: String) -> Result<Contact, OutpostError> {
        self.read(|s| s.get_contact(&id))
    }

    /// Edits a contact: only the fields given change; fields this app does not know are kept.
    pub fn edit_contact(&self, id: String, patch: ContactPatch) -> Result<Contact, OutpostError> {
        self.write(|s| s.edit_contact(&id, patch))
    }

    /// Sets where the customer is, given in `coords` (WGS-84 when null; `GCJ02` from AMap or
    /// Tencent Maps, `BD09` from Baidu Maps); stored in WGS-84. Check-ins are judged against it.
    pub fn locate_contact(
        &self,
        id: String,
        lat: f64,
        lon: f64,
        coords: Option<CoordSystem>,
    ) -> Result<Contact, OutpostError> {
        self.write(|s| s.locate_contact(&id, lat, lon, coords))
    }

    /// Contacts, most recently updated first; those marked invalid only when asked for.
    pub fn list_contacts(&self, options: ListOptions) -> Result<Vec<Contact>, OutpostError> {
        self.read(|s| s.list_contacts(&options))
    }

    /// Marks a contact invalid (a soft delete: it is hidden from lists and search but kept,
    /// with its history). `reason` is required. A contact already marked invalid is a
    /// validation error naming the first reason, which is never overwritten.
    pub fn invalidate_contact(&self, id: String, reason: String) -> Result<Contact, OutpostError> {
        self.write(|s| s.invalidate_contact(&id, &reason))
    }

    /// Brings back a contact marked invalid: active again, shown in lists and search, its
    /// invalidation cleared (the history keeps it). A contact not marked invalid is a
    /// validation error.
    pub fn restore_contact(&self, id: String) -> Result<Contact, OutpostError> {
        self.write(|s| s.restore_contact(&id))
    }

    /// Who changed what on a contact, and when: one entry per change, oldest first.
    pub fn contact_history(&self, id: String) -> Result<Vec<HistoryEntry>, OutpostError> {
        self.read(|s| s.contact_history(&id))
    }

    /// Finds contacts by any part of Chinese text (one character and up), the start of Latin
    /// words (any case) or phone digits, in name, company, title, phones, emails, address and
    /// notes. Best match first.
    pub fn search(
        &self,
        query: String,
        options: SearchOptions,
    ) -> Result<Vec<Contact>, OutpostError> {
        self.read(|s| s.search(&query, &options))
    }

    /// Checks in at a customer (the contact must exist and be active).
    pub fn check_in(&self, check_in: CheckIn) -> Result<Visit, OutpostError> {
        self.write(|s| s.check_in(check_in))
    }

    /// Checks out of a visit, with notes and a follow-up date.
    pub fn check_out(&self, visit_id: String, check_out: CheckOut) -> Result<Visit, OutpostError> {
        self.write(|s| s.check_out(&visit_id, check_out))
    }

    /// One visit by id.
    pub fn get_visit(&self, id: String) -> Result<Visit, OutpostError> {
        self.read(|s| s.get_visit(&id))
    }

    /// Visits, newest first, filtered by contact and/or day.
    pub fn list_visits(&self, filter: VisitFilter) -> Result<Vec<Visit>, OutpostError> {
        self.read(|s| s.list_visits(&filter))
    }

    /// Who changed what on a visit, and when, oldest first.
    pub fn visit_history(&self, id: String) -> Result<Vec<HistoryEntry>, OutpostError> {
        self.read(|s| s.visit_history(&id))
    }

    /// An overview of the store: record counts, changes waiting for sync and those the server
    /// refused, the sync server, the last sync, file size.
    pub fn status(&self) -> Result<StoreStatus, OutpostError> {
        self.read(|s| s.status()).map(Into::into)
    }

    /// The signed-in user's role and permissions as the server last said; `null` before the
    /// first sync with a server that sends them (then nothing is refused locally). Writes the
    /// role may not make throw `OutpostException.Permission`.
    pub fn access(&self) -> Result<Option<AccessInfo>, OutpostError> {
        Ok(self.read(|s| s.access())?.map(Into::into))
    }

    /// Runs SQLite's full integrity check; an empty list means the file is sound.
    pub fn check_integrity(&self) -> Result<Vec<String>, OutpostError> {
        self.read(|s| s.check_integrity())
    }

    /// Remembers the sync server (`https://…`) and this device's token, given when the device
    /// was enrolled. Later `sync()` calls use them. Pointing the store at another server
    /// starts over with a full download on the next sync (local changes are kept and sent).
    pub fn set_server(&self, url: String, token: String) -> Result<(), OutpostError> {
        self.write(|s| s.set_server(&url, &token))
    }

    /// The fields of a contact that were edited concurrently on several devices and not yet
    /// resolved; empty when there is no conflict. Every device shows the same winner
    /// (`values[0]`) until someone resolves it with `resolveContactConflict`.
    pub fn contact_conflicts(&self, id: String) -> Result<Vec<FieldConflict>, OutpostError> {
        self.read(|s| s.contact_conflicts(&id))
    }

    /// Resolves a conflict on `field` by choosing `value`, one of its competing values as
    /// `contactConflicts` lists them (lists comma-separated, e.g.
    /// `"+8613800138000, +8675552659655"`, in any order): it supersedes every competing value
    /// here now, and on every device once this store has synced. A field without a conflict,
    /// or a value that is not one of the competing values, is a validation error naming the
    /// field (change a field to a new value with `editContact`).
    pub fn resolve_contact_conflict(
        &self,
        id: String,
        field: String,
        value: String,
    ) -> Result<Contact, OutpostError> {
        self.write(|s| s.resolve_contact_conflict(&id, &field, &value))
    }

    /// Resolves a conflict on `field` with a new `value` that none of the competing values had
    /// (the rep says both were wrong), validated like an edit: it supersedes every competing
    /// value, as `resolveContactConflict` does. A field without a conflict is a validation
    /// error naming the field.
    pub fn resolve_contact_conflict_with_new_value(
        &self,
        id: String,
        field: String,
        value: String,
    ) -> Result<Contact, OutpostError> {
        self.write(|s| s.resolve_contact_conflict_with_new_value(&id, &field, &value))
    }
}

#[uniffi::export(async_runtime = "tokio")]
impl OutpostStore {
    /// Enrols this device with the one-time code the operator gave (`outpost-server device
    /// invite`, typed or read from its QR code): the server answers the device's token, which
    /// is remembered with `server` (as `setServer` does) and never shown. A Kotlin `suspend
    /// fun`, a Swift `async` function. Then call `sync()` without arguments.
    ///
    /// Errors: `Auth` when the code is unknown, used already or expired (the message says
    /// which; ask the operator for a new one); `Validation` on `server` or `code` when they
    /// cannot be right; `Network` when the server cannot be reached.
    pub async fn enroll(&self, server: String, code: String) -> Result<Enrolled, OutpostError> {
        let enrolled = oc::enroll(&self.store, &server, &code, self.net.clone()).await?;
        Ok(enrolled)
    }

    /// Syncs with the server: sends the changes waiting in the outbox, receives everyone
    /// else's and merges them (a new device first downloads every record). A Kotlin
    /// `suspend fun`, a Swift `async` function; the store stays usable while it runs (it is
    /// locked only between network calls, never across one).
    ///
    /// Give `server` and `token` together the first time (they are remembered, see
    /// `setServer`), or neither to use the remembered pair.
    ///
    /// Records that arrived are reported to the change listener with origin `Sync` when the
    /// sync ends (successfully or not), on the thread that resumes the call. Cancelling the
    /// call stops it between steps; what it had merged is kept, and reported at the end of
    /// the next sync.
    ///
    /// Errors: `Network` when the server cannot be reached after retries (nothing is lost:
    /// local changes stay queued, sync again later); `Auth` when the token is refused, with
    /// `revoked = true` when the device was revoked, in which case every record of this store
    /// has been wiped; `Validation` on `server` or `token` when no server is known or only one
    /// of the pair is given. A change the server refuses does not fail the sync: it is undone
    /// on this device (the record never stays stuck), counted in the report and listed in its
    /// `rejections` and in `status().rejected`.
    #[uniffi::method(default(server = None, token = None))]
    pub async fn sync(
        &self,
        server: Option<String>,
        token: Option<String>,
    ) -> Result<SyncReport, OutpostError> {
        self.sync_telling(server, token, None).await
    }

    /// `sync`, telling `listener` how far it has come: after every bootstrap page (records
    /// stored so far), every uploaded file, every push and pull round. Called on the sync's
    /// thread with the store unlocked; keep it short (post to the UI). Kotlin's
    /// `syncStatus()` Flow and Swift's `syncStatus()` AsyncThrowingStream are written over it.
    #[uniffi::method(default(server = None, token = None))]
    pub async fn sync_with_progress(
        &self,
        listener: Arc<dyn SyncProgressListener>,
        server: Option<String>,
        token: Option<String>,
    ) -> Result<SyncReport, OutpostError> {
        let sink = oc::ProgressSink(Arc::new(move |p: oc::SyncProgress| {
            // A failing listener does not stop the sync.
            let _ = listener.on_progress(p.into());
        }));
        self.sync_telling(server, token, Some(sink)).await
    }
}

/// Told how far a sync is (`OutpostStore.syncWithProgress`).
#[uniffi::export(with_foreign)]
pub trait SyncProgressListener: Send + Sync {
    /// The sync is this far.
    fn on_progress(&self, progress: SyncProgress) -> Result<(), ListenerError>;
}

impl OutpostStore {
    async fn sync_telling(
        &self,
        server: Option<String>,
        token: Option<String>,
        progress: Option<oc::ProgressSink>,
    ) -> Result<SyncReport, OutpostError> {
        self.write(|s| s.sign_in(server.as_deref(), token.as_deref()))?;
        let options = oc::SyncOptions {
            progress,
            ..self.net.clone()
        };
        let report = oc::sync_store(&self.store, options).await;
        // The core reported each record it merged to `pending`, under the store lock; the
        // lock is free now, so the listener may read the store.
        self.deliver(self.pending.take(oc::ChangeOrigin::Sync));
        Ok(report?.into())
    }
}

/// Moves a damaged database (and its `-wal`/`-shm` files) aside, next to where it was, and
/// returns the new path. Nothing is deleted. Use it when opening failed with a `Corrupt`
/// storage error and the user agreed to start afresh.
#[uniffi::export]
pub fn move_database_aside(path: String) -> Result<String, OutpostError> {
    let moved = oc::Store::move_aside(path)?;
    Ok(moved.display().to_string())
}
