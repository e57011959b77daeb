//! A stored document's summary: what a device needs to store a downloaded record without
//! loading its document (ADR 0021).
//!
//! Loading an Automerge document was half of the CPU a bootstrapped contact cost the device,
//! only to read what the server had already read when it applied and checked every change.
//! The server keeps a summary beside each contact document, written in the same transaction
//! as the document by this code, and sends it with the document ([`DocSnapshot::summary`]).
//! A device stores the rows from it and the document bytes as they came; the document is
//! loaded the first time the record is edited or merged.
//!
//! A device trusts a summary only when this build would have made the same one: the same
//! [`VERSION`] and the record it came with. Anything else (an older or newer server, a
//! summary for another record, bytes that do not decode) is ignored and the document loaded,
//! as before summaries existed.
//!
//! [`DocSnapshot::summary`]: super::protocol::DocSnapshot::summary

use super::protocol::{decode, encode};
use crate::record::contact::{self, Contact};
use crate::record::{self, SyncState};
use automerge::AutoCommit;
use serde::{Deserialize, Serialize};

/// The projection a summary was made with. Bump it with every change to what
/// `contact::from_doc` reads or to [`Contact`]'s fields: a device uses a summary only when its
/// version is this one, so a device and a server of different builds never disagree silently.
pub const VERSION: u32 = 1;

/// Longest summary a device reads (a contact's fields are bounded far below this).
pub const MAX_SUMMARY_BYTES: usize = 256 * 1024;

/// What a device stores for a downloaded contact instead of loading its document.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    /// [`VERSION`] of the projection that made it.
    pub v: u32,
    /// The document's heads, 32 bytes each (the device's `records.heads`).
    #[serde(with = "serde_bytes")]
    pub heads: Vec<u8>,
    /// When the document's latest change was made (ms since the epoch): its `updated_at`.
    pub last_change_ms: i64,
    /// Whether some field holds concurrent, unresolved values.
    pub conflicted: bool,
    /// The contact as `contact::from_doc` reads it (`sync_state` synced).
    pub contact: Contact,
}

/// Summarizes the stored document of `record`: `None` for kinds whose rows a device builds
/// from the document itself, and for a document without changes.
pub fn summarize(record: &str, kind: &str, doc: &mut AutoCommit) -> Option<Vec<u8>> {
    if kind != record::RecordKind::Contact.as_str() {
        return None;
    }
    let heads = record::heads_bytes(doc);
    if heads.is_empty() {
        return None;
    }
    let last_change_ms = record::last_change_ms(doc);
    let contact = contact::from_doc(
        record,
        doc,
        record::rfc3339_ms(last_change_ms),
        SyncState::Synced,
    );
    Some(encode(&Summary {
        v: VERSION,
        heads,
        last_change_ms,
        conflicted: record::has_field_conflicts(doc),
        contact,
    }))
}

/// Reads a summary this build can use for `record`; `None` for anything else, and the caller
/// loads the document instead.
pub fn read(record: &str, bytes: &[u8]) -> Option<Summary> {
    if bytes.len() > MAX_SUMMARY_BYTES {
        return None;
    }
    let s: Summary = decode("document summary", bytes).ok()?;
    let usable = s.v == VERSION
        && !s.heads.is_empty()
        && s.heads.len() % 32 == 0
        && s.contact.id == record
        && s.contact.sync_state == SyncState::Synced;
    usable.then_some(s)
}

#[cfg(test)]
mod tests {
    use super::*;
    use automerge::transaction::Transactable;
    use automerge::ROOT;

    fn contact_doc() -> Result<AutoCommit, automerge::AutomergeError> {
        let mut doc = AutoCommit::new();
        doc.put(ROOT, "name", "王小明")?;
        doc.put(ROOT, "company", "华为")?;
        doc.put(ROOT, "created_at", "2026-12-01T08:00:00.000Z")?;
        doc.commit_with(
            automerge::transaction::CommitOptions::default().with_time(1_764_576_000_000),
        );
        Ok(doc)
    }

    #[test]
    fn a_summary_reads_back_as_the_document_projects() -> Result<(), Box<dyn std::error::Error>> {
        let mut doc = contact_doc()?;
        let bytes = summarize("c1", "contact", &mut doc).ok_or("no summary")?;
        let s = read("c1", &bytes).ok_or("summary not usable")?;
        assert_eq!(s.heads, record::heads_bytes(&mut doc));
        assert_eq!(s.last_change_ms, 1_764_576_000_000);
        assert!(!s.conflicted);
        let expected = contact::from_doc(
            "c1",
            &doc,
            record::rfc3339_ms(1_764_576_000_000),
            SyncState::Synced,
        );
        assert_eq!(s.contact, expected);
        assert_eq!(s.contact.name, "王小明");
        Ok(())
    }

    #[test]
    fn only_contacts_with_changes_are_summarized() -> Result<(), Box<dyn std::error::Error>> {
        let mut doc = contact_doc()?;
        assert!(summarize("v1", "visit", &mut doc).is_none());
        assert!(summarize("c1", "contact", &mut AutoCommit::new()).is_none());
        Ok(())
    }

    #[test]
    fn a_summary_for_another_record_version_or_shape_is_not_used(
    ) -> Result<(), Box<dyn std::error::Error>> {
        let mut doc = contact_doc()?;
        let bytes = summarize("c1", "contact", &mut doc).ok_or("no summary")?;
        assert!(read("c2", &bytes).is_none(), "made for another record");
        let mut s = read("c1", &bytes).ok_or("summary not usable")?;
        s.v = VERSION + 1;
        assert!(read("c1", &encode(&s)).is_none(), "another projection");
        s.v = VERSION;
        s.heads.pop();
        assert!(read("c1", &encode(&s)).is_none(), "heads not 32 bytes each");
        assert!(read("c1", b"\xff\x00garbage").is_none());
        assert!(read("c1", &vec![0u8; MAX_SUMMARY_BYTES + 1]).is_none());
        Ok(())
    }

    #[test]
    fn a_conflicted_field_is_flagged() -> Result<(), Box<dyn std::error::Error>> {
        let mut a = contact_doc()?;
        let mut b = a.fork();
        a.put(ROOT, "company", "腾讯")?;
        b.put(ROOT, "company", "阿里巴巴")?;
        a.merge(&mut b)?;
        let bytes = summarize("c1", "contact", &mut a).ok_or("no summary")?;
        assert!(read("c1", &bytes).ok_or("summary not usable")?.conflicted);
        Ok(())
    }
}
