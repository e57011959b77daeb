//! # outpost-ffi
//!
//! The uniffi bindings of `outpost-core` for Kotlin (Android) and Swift (iOS). This crate
//! holds no logic: it mirrors the core's types as uniffi records, converts the core's errors
//! into one [`OutpostError`] without personal data, and wraps the `Store` in a thread-safe
//! [`OutpostStore`] object, whose `sync` (the core's `sync_store`) is an async export: a Kotlin
//! `suspend fun`, a Swift `async` function.
//!
//! The Kotlin and Swift sources are generated from the built library by the workspace's
//! `uniffi-bindgen` binary (`scripts/gen-bindings.sh`), never written by hand.

mod attachments;
mod dedup;
mod error;
mod experience;
mod flow;
mod scan;
mod security;
mod store;
mod types;

pub use attachments::{Attachment, NewAttachment};
pub use dedup::{
    AddedContact, ColumnMapping, DupQuery, DupReason, Duplicate, ImportOptions, ImportSummary,
};
pub use error::{ListenerError, OutpostError, StorageProblem};
pub use experience::{ActionStats, DeviceMetrics, SyncFailureCount};
pub use flow::{
    parse_address, parse_amount, parse_deal_field_value, Alert, Deal, DealFilter, MissingEvidence,
    NewDeal, NewTask, ParsedAddress, StageCheck, Task, TodayItem, TodayReason, VerifiedVisit,
    VisitCheck,
};
pub use scan::{
    CardContact, OutpostScanner, ScanDuplicate, ScanField, ScanKind, ScanOptions, ScanPoint,
    ScanReport, ScanTimings, ScannedAttachment,
};
pub use security::{encrypt_database, LeasePolicy, LeaseState};
pub use store::{move_database_aside, ChangeListener, OutpostStore};
pub use types::{
    ChangeOrigin, CheckIn, CheckOut, ConflictValue, Contact, ContactPatch, ContactStatus,
    FieldChange, FieldConflict, HistoryEntry, Invalidation, KindCount, ListOptions, NewContact,
    RecordChange, RecordKind, RejectedChange, SearchOptions, StoreOptions, StoreStatus, SyncReport,
    Visit, VisitFilter,
};

uniffi::setup_scaffolding!();

/// Version of the Outpost library, e.g. "0.1.0".
#[uniffi::export]
pub fn outpost_version() -> String {
    env!("CARGO_PKG_VERSION").to_string()
}
