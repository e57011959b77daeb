//! Applying pushed changes to a stored document, the same way on every server backend.
//!
//! A change is accepted only if it parses (checksum included), was authored by the pushing
//! store's actor, does not change the record's kind, has all its dependencies, and leaves a
//! record that passes the record schema's validation. Storage backends call [`apply_change`]
//! inside their per-tenant transaction; nothing here does I/O.

use crate::record;
use automerge::{AutoCommit, Change};

/// Why a single change was not applied (goes back to the device in `rejected`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChangeRejection {
    /// The bytes are not an Automerge change (or the checksum does not match).
    #[error("not a valid Automerge change: {0}")]
    Malformed(String),
    /// The change claims another author than the pushing store.
    #[error("change authored by another actor than the pushing device")]
    ForeignActor,
    /// The change depends on changes the server does not have (e.g. a rejected one).
    #[error("change depends on {0} change(s) the server does not have")]
    MissingDependencies(usize),
    /// The change would turn the record into another kind, or the kind is unknown.
    #[error("{0}")]
    Kind(String),
    /// The record would be invalid after the change.
    #[error("record would be invalid: {0}")]
    Invalid(String),
    /// The change is too large.
    #[error("change of {0} bytes exceeds the limit")]
    TooLarge(usize),
}

/// A change that was applied.
#[derive(Debug, Clone)]
pub struct Applied {
    /// The change hash.
    pub hash: [u8; 32],
    /// The document after the change (`save` bytes), to store.
    pub doc: Vec<u8>,
    /// The change bytes, to append to the log.
    pub change: Vec<u8>,
    /// `false` when the document already had this change (a retried push): nothing to store.
    pub new: bool,
}

/// Parses a change and returns its hash, without applying it.
pub fn change_hash(change: &[u8]) -> Result<[u8; 32], ChangeRejection> {
    Change::from_bytes(change.to_vec())
        .map(|c| c.hash().0)
        .map_err(|e| ChangeRejection::Malformed(e.to_string()))
}

/// Applies one pushed change to `existing` (the stored document, if any) for a record of `kind`.
/// `actor` is the pushing store's actor id; the change must be authored by it.
pub fn apply_change(
    existing: Option<&[u8]>,
    kind: &str,
    change: &[u8],
    actor: &[u8],
) -> Result<Applied, ChangeRejection> {
    if change.len() > crate::sync::protocol::MAX_CHANGE_BYTES {
        return Err(ChangeRejection::TooLarge(change.len()));
    }
    let parsed = Change::from_bytes(change.to_vec())
        .map_err(|e| ChangeRejection::Malformed(e.to_string()))?;
    if parsed.actor_id().to_bytes() != actor {
        return Err(ChangeRejection::ForeignActor);
    }
    if !record::KINDS.contains(&kind) {
        return Err(ChangeRejection::Kind(format!(
            "unknown record kind {kind:?}"
        )));
    }
    let hash = parsed.hash();
    let mut doc = match existing {
        Some(bytes) => AutoCommit::load(bytes)
            .map_err(|e| ChangeRejection::Malformed(format!("stored document: {e}")))?,
        None => AutoCommit::new(),
    };
    if doc.get_change_by_hash(&hash).is_some() {
        return Ok(Applied {
            hash: hash.0,
            doc: Vec::new(),
            change: change.to_vec(),
            new: false,
        });
    }
    let missing = parsed
        .deps()
        .iter()
        .filter(|d| doc.get_change_by_hash(d).is_none())
        .count();
    if missing > 0 {
        return Err(ChangeRejection::MissingDependencies(missing));
    }
    doc.apply_changes([parsed])
        .map_err(|e| ChangeRejection::Malformed(e.to_string()))?;
    let stored_kind = record::get_str(&doc, "kind");
    if stored_kind.as_deref() != Some(kind) {
        return Err(ChangeRejection::Kind(format!(
            "record is of kind {:?}, the change says {kind:?}",
            stored_kind.unwrap_or_default()
        )));
    }
    record::validate_doc(kind, &doc).map_err(ChangeRejection::Invalid)?;
    Ok(Applied {
        hash: hash.0,
        doc: doc.save(),
        change: change.to_vec(),
        new: true,
    })
}
