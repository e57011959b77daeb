//! Applying pushed changes to a stored document, the same way on every server backend.
//!
//! A change is accepted only if it parses (checksum included), was authored by the pushing
//! store's actor, does not change the record's kind, has all its dependencies, and leaves a
//! record that passes the record schema's validation. Every change is checked against
//! [`crate::sync::bounds`] (size, inflated size, declared operations) before it is parsed.
//! Storage backends call [`apply_change`] inside their per-tenant transaction; nothing here
//! does I/O.

use crate::record;
use crate::sync::bounds::{inspect_change, ChunkError};
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
    /// The change exceeds a bound checked before parsing: it inflates too far or declares too
    /// many operations (see [`crate::sync::bounds`]).
    #[error("{0}")]
    Exceeds(String),
}

impl From<ChunkError> for ChangeRejection {
    fn from(e: ChunkError) -> Self {
        match e {
            ChunkError::Malformed(m) => ChangeRejection::Malformed(m),
            ChunkError::TooLarge { bytes, .. } => ChangeRejection::TooLarge(bytes),
            other => ChangeRejection::Exceeds(other.to_string()),
        }
    }
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

/// Applies one pushed change to `existing` (the stored document, if any) for a record of `kind`.
/// `actor` is the pushing store's actor id; the change must be authored by it.
pub fn apply_change(
    existing: Option<&[u8]>,
    kind: &str,
    change: &[u8],
    actor: &[u8],
) -> Result<Applied, ChangeRejection> {
    let mut doc = match existing {
        Some(bytes) => AutoCommit::load(bytes)
            .map_err(|e| ChangeRejection::Malformed(format!("stored document: {e}")))?,
        None => AutoCommit::new(),
    };
    let accepted = apply_change_to(&mut doc, kind, change, actor).map_err(|r| r.rejection)?;
    Ok(Applied {
        hash: accepted.hash,
        doc: if accepted.new { doc.save() } else { Vec::new() },
        change: change.to_vec(),
        new: accepted.new,
    })
}

/// A change [`apply_change_to`] accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Accepted {
    /// The change hash.
    pub hash: [u8; 32],
    /// `false` when the document already had it (a retried push): nothing changed.
    pub new: bool,
}

/// A change [`apply_change_to`] refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refused {
    /// Why.
    pub rejection: ChangeRejection,
    /// Whether the document was changed before the refusal (the record checks run after the
    /// change is applied): the caller must rebuild it from what it had before.
    pub doc_modified: bool,
}

/// Applies one pushed change to a loaded document, so that a server applying many changes to
/// one record in a push loads and saves it once. Checks that do not need the change applied run
/// first; when a later check refuses it, `doc_modified` says the document must be rebuilt.
pub fn apply_change_to(
    doc: &mut AutoCommit,
    kind: &str,
    change: &[u8],
    actor: &[u8],
) -> Result<Accepted, Refused> {
    let refuse = |rejection| Refused {
        rejection,
        doc_modified: false,
    };
    inspect_change(change).map_err(|e| refuse(e.into()))?;
    let parsed = Change::from_bytes(change.to_vec())
        .map_err(|e| refuse(ChangeRejection::Malformed(e.to_string())))?;
    if parsed.actor_id().to_bytes() != actor {
        return Err(refuse(ChangeRejection::ForeignActor));
    }
    if !record::KINDS.contains(&kind) {
        return Err(refuse(ChangeRejection::Kind(format!(
            "unknown record kind {kind:?}"
        ))));
    }
    let hash = parsed.hash();
    // Which of the change and its dependencies the document lacks, without rebuilding any
    // change (`get_change_by_hash` re-encodes one). The document's queue of changes waiting
    // for dependencies is empty: a change is applied here only once it has them all.
    let absent = doc.get_missing_deps(&[&[hash][..], parsed.deps()].concat());
    if !absent.contains(&hash) {
        return Ok(Accepted {
            hash: hash.0,
            new: false,
        });
    }
    let missing = parsed.deps().iter().filter(|d| absent.contains(d)).count();
    if missing > 0 {
        return Err(refuse(ChangeRejection::MissingDependencies(missing)));
    }
    if let Some(stored) = record::get_str(doc, "kind") {
        if stored != kind {
            return Err(refuse(ChangeRejection::Kind(format!(
                "record is of kind {stored:?}, the change says {kind:?}"
            ))));
        }
    }
    // Automerge 0.12 panics on some hostile changes that parse (an operation naming an actor
    // index the change does not have): a refusal, never a crash. The document is rebuilt by
    // the caller (`doc_modified`), so a half-applied change is never kept.
    let applied =
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| doc.apply_changes([parsed])))
            .unwrap_or_else(|_| Err(automerge::AutomergeError::Fail));
    applied.map_err(|e| Refused {
        rejection: ChangeRejection::Malformed(format!("Automerge could not apply it: {e}")),
        doc_modified: true,
    })?;
    let modified = |rejection| Refused {
        rejection,
        doc_modified: true,
    };
    let stored_kind = record::get_str(doc, "kind");
    if stored_kind.as_deref() != Some(kind) {
        return Err(modified(ChangeRejection::Kind(format!(
            "record is of kind {:?}, the change says {kind:?}",
            stored_kind.unwrap_or_default()
        ))));
    }
    record::validate_doc(kind, doc).map_err(|e| modified(ChangeRejection::Invalid(e)))?;
    Ok(Accepted {
        hash: hash.0,
        new: true,
    })
}
