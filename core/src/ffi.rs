//! How the record types cross to Kotlin and Swift (feature `ffi`, enabled by `outpost-ffi`).
//!
//! The records derive `uniffi::Record` where they are defined, so the fields of a contact, a
//! visit, a deal or a task are listed once, in `record/`. Two core types have no uniffi shape of
//! their own and are bridged here:
//! - [`Fields`] (the ordered `extra` map, also `phones_typed` and a patch's `set`): uniffi has no
//!   ordered map, so it crosses as a plain map (`Map<String, String>` in Kotlin,
//!   `[String: String]` in Swift) and is ordered again on the way in;
//! - [`SyncState`]: crosses as its text (`local`, `synced`), as the JSON and SQL spell it; a
//!   text this build does not know is refused when lifted.

use crate::record::SyncState;
use std::collections::{BTreeMap, HashMap};

/// Free text fields by key, ordered (a record's `extra`, a contact's `phones_typed`).
pub type Fields = BTreeMap<String, String>;

uniffi::custom_type!(Fields, HashMap<String, String>, {
    remote,
    lower: |fields| fields.into_iter().collect(),
    try_lift: |map| Ok(map.into_iter().collect()),
});

uniffi::custom_type!(SyncState, String, {
    lower: |state| state.as_str().to_owned(),
    try_lift: |text| SyncState::parse(&text)
        .ok_or_else(|| uniffi::deps::anyhow::anyhow!("unknown sync state {text:?}")),
});
