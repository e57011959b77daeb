//! Duplicates, merges and bulk import: uniffi records mirroring the core's, and the
//! `OutpostStore` methods that call it.

use crate::error::{ListenerError, OutpostError};
use crate::store::OutpostStore;
use crate::types::{Contact, NewContact};
pub use oc::{AddedContact, DupQuery, DupReason, Duplicate};
use outpost_core as oc;
use std::sync::Arc;

/// One column of an imported file mapped to a field.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct ColumnMapping {
    /// The column's header, as in the file.
    pub column: String,
    /// `name`, `company`, `title`, `phone`, `email`, `address`, `source`, `owner`, `notes`,
    /// `ignore`, or another word: an extra field of that name.
    pub field: String,
}

/// How to import a file.
#[derive(Debug, Clone, Default, PartialEq, Eq, uniffi::Record)]
pub struct ImportOptions {
    /// Column mappings; they win over the automatic mapping of Chinese and English headers.
    #[uniffi(default = [])]
    pub map: Vec<ColumnMapping>,
    /// Check everything and write the report, import nothing.
    #[uniffi(default = false)]
    pub dry_run: bool,
    /// `auto` (default), `utf-8` or `gbk`: how a CSV file's bytes are read.
    #[uniffi(default = "auto")]
    pub encoding: String,
    /// Merge duplicates into the first row or stored contact they duplicate instead of leaving
    /// them out.
    #[uniffi(default = false)]
    pub merge_duplicates: bool,
}

/// What an import did.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct ImportSummary {
    /// Contacts created (in a dry run: that would be created).
    pub imported: i64,
    /// Rows refused (no name, invalid email): listed in the report.
    pub skipped: i64,
    /// Invalid phones left out of rows that were imported without them: listed in the report.
    pub warnings: i64,
    /// Rows duplicating an earlier row or a stored contact: listed in the report.
    pub duplicates: i64,
    /// Of those, merged into the first (`merge_duplicates`).
    pub merged: i64,
    /// Data rows read.
    pub rows: i64,
    /// Path of the CSV report (`row,column,value,reason`), next to the input, in its encoding.
    pub report: String,
    /// How the input was read: `utf-8`, `utf-8-bom`, `utf-16le`, `gbk`, or `xlsx`.
    pub encoding: String,
    /// Whether nothing was imported because it was a dry run.
    pub dry_run: bool,
}

fn count(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

impl From<oc::ImportSummary> for ImportSummary {
    fn from(s: oc::ImportSummary) -> Self {
        ImportSummary {
            imported: count(s.imported),
            skipped: count(s.skipped),
            warnings: count(s.warnings),
            duplicates: count(s.duplicates),
            merged: count(s.merged),
            rows: count(s.rows),
            report: s.report,
            encoding: s.encoding,
            dry_run: s.dry_run,
        }
    }
}

#[uniffi::export]
impl OutpostStore {
    /// Likely duplicates of a contact being entered, best first: same phone, same email, or
    /// the same or a similar name at the same company. Invalid and merged contacts are never
    /// offered. Fast enough to call on every keystroke (from a background thread).
    pub fn find_duplicates(&self, query: DupQuery) -> Result<Vec<Duplicate>, OutpostError> {
        self.read(|s| s.find_duplicates(&query))
    }

    /// Likely duplicates of a finished entry (the rep pressed "check"), like `findDuplicates`,
    /// except that a phone or email that is not valid is a validation error naming its field,
    /// so that "no duplicate" never hides a typing mistake.
    pub fn check_duplicates(&self, query: DupQuery) -> Result<Vec<Duplicate>, OutpostError> {
        self.read(|s| s.check_duplicates(&query))
    }

    /// Creates a contact like `addContact` and returns it with its likely duplicates.
    pub fn add_contact_checked(&self, contact: NewContact) -> Result<AddedContact, OutpostError> {
        self.write(|s| s.add_contact_checked(contact))
    }

    /// Merges `loser_id` into `winner_id` and returns the winner. The loser is kept, marked
    /// `Merged` with `mergedInto`; the winner gets its phones, emails and the fields it lacked.
    pub fn merge_contacts(
        &self,
        winner_id: String,
        loser_id: String,
    ) -> Result<Contact, OutpostError> {
        self.write(|s| s.merge_contacts(&winner_id, &loser_id))
    }

    /// Restores a merged contact as a contact of its own and returns it; the contact it was
    /// merged into gives back what the merge copied (values changed since stay).
    pub fn unmerge_contact(&self, id: String) -> Result<Contact, OutpostError> {
        self.write(|s| s.unmerge_contact(&id))
    }

    /// Imports contacts from a `.csv` (UTF-8, GBK) or `.xlsx` file at `path`, in one
    /// transaction, and returns what it did. Refused and duplicate rows are listed in a CSV
    /// report written next to the file. Can take seconds for large files: call it off the UI
    /// thread.
    pub fn import_file(
        &self,
        path: String,
        options: ImportOptions,
    ) -> Result<ImportSummary, OutpostError> {
        self.import_with(path, options, None)
    }

    /// [`Self::import_file`], telling `listener` how many rows are through every 2,048 rows
    /// (and once at the end), for a progress bar. The store is busy with the import while
    /// the listener runs: it must not call the store.
    pub fn import_file_with_progress(
        &self,
        path: String,
        options: ImportOptions,
        listener: Arc<dyn ImportProgressListener>,
    ) -> Result<ImportSummary, OutpostError> {
        self.import_with(path, options, Some(listener))
    }
}

impl OutpostStore {
    fn import_with(
        &self,
        path: String,
        options: ImportOptions,
        listener: Option<Arc<dyn ImportProgressListener>>,
    ) -> Result<ImportSummary, OutpostError> {
        let map = options
            .map
            .into_iter()
            .map(|m| (m.column, m.field))
            .collect();
        let options = oc::ImportOptions {
            map,
            dry_run: options.dry_run,
            encoding: oc::Encoding::parse(&options.encoding)?,
            merge_duplicates: options.merge_duplicates,
        };
        let mut progress = |p: oc::ImportProgress| {
            if let Some(listener) = &listener {
                // A listener's exception does not stop the import.
                let _ = listener.on_progress(count(p.done), count(p.total));
            }
        };
        let summary = self.write(|s| s.import_file(&path, &options, &mut progress))?;
        Ok(summary.into())
    }
}

/// Told how far an import is. Implement it in Kotlin or Swift and pass it to
/// `OutpostStore.importFileWithProgress`.
#[uniffi::export(with_foreign)]
pub trait ImportProgressListener: Send + Sync {
    /// `done` of `total` rows are through.
    fn on_progress(&self, done: i64, total: i64) -> Result<(), ListenerError>;
}
