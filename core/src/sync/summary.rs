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

use super::bounds::document_heads;
use super::protocol::{decode, encode};
use crate::record::contact::{self, Contact, ContactStatus, Invalidation};
use crate::record::{self, SyncState};
use automerge::AutoCommit;
use std::collections::BTreeMap;

/// The projection a summary was made with. Bump it with every change to what
/// `contact::from_doc` reads or to [`Contact`]'s fields: a device uses a summary only when its
/// version is this one, so a device and a server of different builds never disagree silently.
pub const VERSION: u32 = 1;

/// Longest summary a device reads (a contact's fields are bounded far below this).
pub const MAX_SUMMARY_BYTES: usize = 256 * 1024;

/// What a device stores for a downloaded contact instead of loading its document.
#[derive(Debug, Clone, PartialEq)]
pub struct Summary {
    /// The document's heads, 32 bytes each (the device's `records.heads`).
    pub heads: Vec<u8>,
    /// When the document's latest change was made (ms since the epoch): its `updated_at`.
    pub last_change_ms: i64,
    /// Whether some field holds concurrent, unresolved values.
    pub conflicted: bool,
    /// The contact as `contact::from_doc` reads it (`sync_state` synced).
    pub contact: Contact,
}

/// A contact's fields in the order [`Wire`] sends them: a CBOR array, not a map, since every
/// bootstrapped contact carries one (the field names would double its size). Its id, update
/// time and sync state are not sent: the snapshot names the record, the update time is the
/// last change's, and a downloaded record is synced.
type Fields = (
    String,                   // name
    Option<String>,           // company
    Option<String>,           // title
    Vec<String>,              // phones
    BTreeMap<String, String>, // phones_typed
    Vec<String>,              // emails
    Option<String>,           // address
    Option<String>,           // source
    Option<String>,           // owner
    ContactStatus,            // status
    Option<String>,           // notes
    BTreeMap<String, String>, // extra
    Option<Invalidation>,     // invalidation
    Option<String>,           // merged_into
    String,                   // created_at
);

/// A summary as sent: `(version, heads, last change ms, conflicted, fields)`.
type Wire = (u32, serde_bytes::ByteBuf, i64, bool, Fields);

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
    let conflicted = record::has_field_conflicts(doc);
    let c = contact::from_doc(record, doc, String::new(), SyncState::Synced);
    // The id, update time and sync state are left out (see `Fields`). A field added to
    // `Contact` does not compile in `read` until it is sent here too (and `VERSION` bumped).
    let fields: Fields = (
        c.name,
        c.company,
        c.title,
        c.phones,
        c.phones_typed,
        c.emails,
        c.address,
        c.source,
        c.owner,
        c.status,
        c.notes,
        c.extra,
        c.invalidation,
        c.merged_into,
        c.created_at,
    );
    let wire: Wire = (
        VERSION,
        serde_bytes::ByteBuf::from(heads),
        last_change_ms,
        conflicted,
        fields,
    );
    Some(encode(&wire))
}

/// Reads a summary this build can use for `record`, sent with the document `doc`; `None` for
/// anything else, and the caller loads the document instead. The summary must name exactly the
/// heads that `doc` declares: a summary made of another document, or of another state of this
/// one, is not used.
pub fn read(record: &str, bytes: &[u8], doc: &[u8]) -> Option<Summary> {
    if bytes.len() > MAX_SUMMARY_BYTES {
        return None;
    }
    // A summary of another projection either does not decode as this one or names its
    // version: both are ignored.
    let (v, heads, last_change_ms, conflicted, fields): Wire =
        decode("document summary", bytes).ok()?;
    if v != VERSION || heads.is_empty() || heads.len() % 32 != 0 {
        return None;
    }
    let mut sorted: Vec<&[u8]> = heads.chunks_exact(32).collect();
    sorted.sort_unstable();
    if document_heads(doc)? != sorted.concat() {
        return None;
    }
    let (
        name,
        company,
        title,
        phones,
        phones_typed,
        emails,
        address,
        source,
        owner,
        status,
        notes,
        extra,
        invalidation,
        merged_into,
        created_at,
    ) = fields;
    Some(Summary {
        heads: heads.into_vec(),
        last_change_ms,
        conflicted,
        contact: Contact {
            id: record.to_string(),
            name,
            company,
            title,
            phones,
            phones_typed,
            emails,
            address,
            source,
            owner,
            status,
            notes,
            extra,
            invalidation,
            merged_into,
            created_at,
            updated_at: record::rfc3339_ms(last_change_ms),
            sync_state: SyncState::Synced,
        },
    })
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
        let s = read("c1", &bytes, &doc.save()).ok_or("summary not usable")?;
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
    fn a_summary_of_another_document_version_or_shape_is_not_used(
    ) -> Result<(), Box<dyn std::error::Error>> {
        let mut doc = contact_doc()?;
        let bytes = summarize("c1", "contact", &mut doc).ok_or("no summary")?;
        let saved = doc.save();
        assert_eq!(
            read("c2", &bytes, &saved).map(|s| s.contact.id),
            Some("c2".to_string()),
            "the snapshot names the record"
        );
        // Another state of the document: its heads differ.
        doc.put(ROOT, "title", "经理")?;
        doc.commit();
        assert!(read("c1", &bytes, &doc.save()).is_none(), "stale summary");
        assert!(read("c1", &bytes, b"not a document").is_none());
        let wire: Wire = decode("summary", &bytes)?;
        let mut other = wire.clone();
        other.0 = VERSION + 1;
        assert!(
            read("c1", &encode(&other), &saved).is_none(),
            "another projection"
        );
        let mut short = wire.clone();
        short.1.pop();
        assert!(
            read("c1", &encode(&short), &saved).is_none(),
            "heads not 32 bytes each"
        );
        let mut fewer = wire;
        fewer.1.clear();
        assert!(read("c1", &encode(&fewer), &saved).is_none(), "no heads");
        assert!(read("c1", &encode(&(VERSION, "not a summary")), &saved).is_none());
        assert!(read("c1", b"\xff\x00garbage", &saved).is_none());
        assert!(read("c1", &vec![0u8; MAX_SUMMARY_BYTES + 1], &saved).is_none());
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
        assert!(
            read("c1", &bytes, &a.save())
                .ok_or("summary not usable")?
                .conflicted
        );
        Ok(())
    }
}
