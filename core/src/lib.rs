//! # outpost-core
//!
//! The offline-first core of the Outpost field-sales app. It runs inside the Android and iOS
//! apps (through `outpost-ffi`) and in the `outpost` CLI.
//!
//! - Every record (contact, visit) is one Automerge document; scalar fields are
//!   last-writer-wins registers, unknown keys are kept and surfaced as `extra`.
//! - The [`Store`] keeps them in one SQLite file (WAL, versioned migrations) with projections
//!   for listing, a CJK-aware full-text index and an outbox of changes for sync. Every user
//!   action is one transaction.
//!
//! ```
//! use outpost_core::{Store, StoreOptions, NewContact, SearchOptions};
//! # fn main() -> Result<(), outpost_core::Error> {
//! # let dir = tempfile::tempdir().map_err(|e| outpost_core::Error::Io { op: "tempdir", path: ".".into(), source: e })?;
//! let mut store = Store::open(dir.path().join("rep.db"), StoreOptions::default())?;
//! let zhang = store.add_contact(NewContact {
//!     name: "张伟".into(),
//!     company: Some("深圳市华强科技有限公司".into()),
//!     phones: vec!["138 0013 8000".into()],
//!     ..Default::default()
//! })?;
//! assert_eq!(zhang.phones, ["+8613800138000"]);
//! let found = store.search("华强", &SearchOptions::default())?;
//! assert_eq!(found[0].id, zhang.id);
//! # Ok(()) }
//! ```

// Without the store (the server's build) the record and duplicate-key helpers that only the
// store calls are unused; they stay in the model, beside the records they read and build.
#![cfg_attr(not(feature = "store"), allow(dead_code))]

// The record types' uniffi metadata (feature `ffi`, built by outpost-ffi): the mobile bindings
// export `Contact`, `Visit`, `Deal`, `Task`... as the core defines them (see `ffi`).
#[cfg(feature = "ffi")]
uniffi::setup_scaffolding!("outpost_core");

pub mod access;
pub mod address;
pub mod amount;
pub mod calendar;
pub mod cn_numerals;
pub mod coords;
pub mod dedup;
pub mod error;
#[cfg(feature = "ffi")]
pub mod ffi;
pub mod flow;
#[cfg(feature = "import")]
pub mod import;
pub mod normalize;
pub mod record;
pub mod routing;
#[cfg(feature = "scan")]
pub mod scan;
#[cfg(feature = "store")]
pub mod store;
pub mod sync;

pub use address::{parse_address, ParsedAddress};
pub use calendar::{CalendarOverride, DayKind, WorkCalendar};
pub use coords::CoordSystem;
pub use dedup::{DupQuery, DupReason, Duplicate};
pub use error::{Error, Result};
pub use flow::{
    AttachmentFacts, EvidenceFacts, FlowConfig, MissingEvidence, Requirement, StageRule, Verdict,
    VisitCheck,
};
#[cfg(feature = "import")]
pub use import::{Encoding, ImportOptions, ImportProgress, ImportSummary};
pub use normalize::Region;
pub use record::attachment::{Attachment, NewAttachment};
pub use record::contact::{Contact, ContactPatch, ContactStatus, Invalidation, NewContact};
pub use record::deal::{Deal, DealFilter, NewDeal};
pub use record::history::{FieldChange, HistoryEntry};
pub use record::task::{NewTask, Task, TaskFilter};
pub use record::visit::{CheckIn, CheckOut, Visit, VisitFilter};
pub use record::{Actor, RecordKind, SyncState, UnknownSyncState};
/// The device store and what it returns (feature `store`, on by default).
#[cfg(feature = "store")]
pub use store::{
    conflicts::{ConflictValue, FieldConflict},
    deals::StageCheck,
    dedup::AddedContact,
    encrypt_file,
    evidence::EvidenceSource,
    experience::{ActionStats, ExperienceSummary, FailureCount},
    flow::{Alert, ClockReference, TodayItem, TodayReason, VerifiedVisit},
    lease::{Clock, LeasePolicy, LeaseState},
    rejections::RejectedChange,
    scope::AccessInfo,
    sha256_hex,
    sync::{Applied, Outgoing},
    BlobInfo, ChangeListener, ChangeOrigin, KindCount, ListOptions, RecordChange, ScopeReconcile,
    SearchOptions, Store, StoreKey, StoreOptions, StoreStatus,
};
#[cfg(feature = "client")]
pub use sync::client::{
    enroll, fetch_blob, sync_store, Enrolled, ProgressSink, SyncClient, SyncOptions, SyncPhase,
    SyncProgress, SyncReport, SyncStatus,
};
