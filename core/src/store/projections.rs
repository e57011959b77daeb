//! Rebuilding a record's projection from its document, by kind: for the documents that sync
//! brings and the ones a refused change rolled back. Above the kinds' own files, below sync and
//! the rejections.

use super::records::Written;
use super::RecordKind;
use super::{attachments, contacts, deals, flow, tasks, visits};
use crate::error::Result;
use crate::record::{self, contact, visit};
use automerge::AutoCommit;
use rusqlite::Transaction;

/// Rebuilds a record's projection (by kind) from its document, inside `tx`. `kind` is spelled as
/// stored; a kind this build does not know has nothing to project.
pub(crate) fn reproject(
    tx: &Transaction<'_>,
    written: Written,
    id: &str,
    kind: &str,
    doc: &AutoCommit,
    existed: bool,
) -> Result<()> {
    let Written {
        rid,
        updated_at,
        sync_state,
    } = written;
    match RecordKind::parse(kind) {
        Some(RecordKind::Contact) => contacts::project(
            tx,
            rid,
            &contact::from_doc(id, doc, updated_at, sync_state),
            existed,
        ),
        Some(RecordKind::Visit) => {
            visits::project(tx, rid, &visit::from_doc(id, doc, updated_at, sync_state))?;
            flow::project_check(tx, rid, doc)
        }
        Some(RecordKind::Deal) => deals::project(
            tx,
            rid,
            &record::deal::from_doc(id, doc, updated_at, sync_state),
        )
        .map(|_| ()),
        Some(RecordKind::Restricted) => deals::project_restricted(tx, rid, id, doc),
        Some(RecordKind::Task) => tasks::project(
            tx,
            rid,
            &record::task::from_doc(id, doc, updated_at, sync_state),
        ),
        Some(RecordKind::Attachment) => attachments::project(
            tx,
            rid,
            &record::attachment::from_doc(id, doc, updated_at, sync_state),
        ),
        Some(RecordKind::Config) => flow::project_config(tx, doc),
        // A kind from a newer app version: the document is kept, there is nothing to show yet.
        None => Ok(()),
    }
}
