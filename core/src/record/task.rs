//! Tasks: follow-ups (created by a check-out's next follow-up date) and planned visits.

use super::{check_text, get_str, SyncState};
use crate::error::{Error, Result};
use automerge::AutoCommit;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Root keys of a task document that this build understands; all others are `extra`.
pub(crate) const KNOWN_KEYS: &[&str] = &[
    "id",
    "kind",
    "task_type",
    "title",
    "contact_id",
    "deal_id",
    "visit_id",
    "due",
    "owner",
    "done_at",
    "created_at",
];

/// What a task asks the rep to do.
pub const TASK_TYPES: &[&str] = &["follow_up", "visit"];

/// A task as stored and shown.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ffi", derive(uniffi::Record))]
pub struct Task {
    /// UUIDv7 string.
    pub id: String,
    /// `follow_up` or `visit` (a planned visit).
    pub task_type: String,
    /// What to do.
    pub title: String,
    /// The contact concerned.
    pub contact_id: String,
    /// The deal concerned, if any.
    pub deal_id: Option<String>,
    /// The visit whose check-out created it, if any.
    pub visit_id: Option<String>,
    /// The day it is due (`YYYY-MM-DD`).
    pub due: String,
    /// Who should do it.
    pub owner: Option<String>,
    /// `open` or `done`.
    pub status: String,
    /// When it was done (RFC 3339).
    pub done_at: Option<String>,
    /// Fields this build does not know.
    pub extra: BTreeMap<String, String>,
    /// When it was created (RFC 3339).
    pub created_at: String,
    /// When it last changed (RFC 3339).
    pub updated_at: String,
    /// [`SyncState::Local`] (not yet acknowledged by the server) or [`SyncState::Synced`].
    pub sync_state: SyncState,
}

/// A new task.
#[derive(Debug, Clone, Default, PartialEq)]
#[cfg_attr(feature = "ffi", derive(uniffi::Record))]
pub struct NewTask {
    /// The contact (must exist).
    pub contact_id: String,
    /// Due day, `YYYY-MM-DD` (required).
    pub due: String,
    /// `follow_up` (default) or `visit`.
    #[cfg_attr(feature = "ffi", uniffi(default = None))]
    pub task_type: Option<String>,
    /// What to do; defaults to a title naming the type.
    #[cfg_attr(feature = "ffi", uniffi(default = None))]
    pub title: Option<String>,
    /// The deal, if any (must exist).
    #[cfg_attr(feature = "ffi", uniffi(default = None))]
    pub deal_id: Option<String>,
    /// Owner; defaults to the store's user.
    #[cfg_attr(feature = "ffi", uniffi(default = None))]
    pub owner: Option<String>,
}

/// Which tasks to list.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TaskFilter {
    /// Only this contact's tasks.
    pub contact_id: Option<String>,
    /// Also done tasks.
    pub include_done: bool,
    /// Only tasks due on or before this day (`YYYY-MM-DD`).
    pub due_by: Option<String>,
}

impl NewTask {
    /// Checks and completes the fields; errors name the field.
    pub(crate) fn validate(&mut self) -> Result<()> {
        let t = self
            .task_type
            .get_or_insert_with(|| "follow_up".into())
            .trim()
            .to_string();
        if !TASK_TYPES.contains(&t.as_str()) {
            return Err(Error::validation(
                "task_type",
                t,
                "expected follow_up or visit",
            ));
        }
        self.task_type = Some(t);
        self.due = super::visit::parse_day("due", &self.due)?.to_string();
        if self.contact_id.trim().is_empty() {
            return Err(Error::validation("contact", "", "a task needs a contact"));
        }
        if let Some(title) = &self.title {
            check_text("title", title, super::contact::MAX_FIELD_CHARS)?;
        }
        Ok(())
    }
}

/// Checks a task document received from elsewhere.
pub(crate) fn validate_doc(doc: &AutoCommit) -> std::result::Result<(), String> {
    if get_str(doc, "contact_id").is_none_or(|c| c.trim().is_empty()) {
        return Err("contact_id: a task needs a contact".into());
    }
    match get_str(doc, "due") {
        Some(d) if chrono::NaiveDate::parse_from_str(&d, "%Y-%m-%d").is_ok() => Ok(()),
        _ => Err("due: a task needs a due date YYYY-MM-DD".into()),
    }
}

/// Reads a task out of its document.
pub(crate) fn from_doc(
    id: &str,
    doc: &AutoCommit,
    updated_at: String,
    sync_state: SyncState,
) -> Task {
    let done_at = get_str(doc, "done_at");
    Task {
        id: id.to_string(),
        task_type: get_str(doc, "task_type").unwrap_or_else(|| "follow_up".into()),
        title: get_str(doc, "title").unwrap_or_default(),
        contact_id: get_str(doc, "contact_id").unwrap_or_default(),
        deal_id: get_str(doc, "deal_id"),
        visit_id: get_str(doc, "visit_id"),
        due: get_str(doc, "due").unwrap_or_default(),
        owner: get_str(doc, "owner"),
        status: if done_at.is_some() { "done" } else { "open" }.to_string(),
        done_at,
        extra: super::extra(doc, KNOWN_KEYS),
        created_at: get_str(doc, "created_at").unwrap_or_default(),
        updated_at,
        sync_state,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_tasks_are_checked() {
        let mut ok = NewTask {
            contact_id: "c".into(),
            due: "2026-12-01".into(),
            ..Default::default()
        };
        assert!(ok.validate().is_ok());
        assert_eq!(ok.task_type.as_deref(), Some("follow_up"));
        let mut bad = NewTask {
            contact_id: "c".into(),
            due: "next week".into(),
            ..Default::default()
        };
        assert!(
            matches!(bad.validate(), Err(Error::Validation { ref field, .. }) if field == "due")
        );
        let mut bad = NewTask {
            task_type: Some("call".into()),
            contact_id: "c".into(),
            due: "2026-12-01".into(),
            ..Default::default()
        };
        assert!(
            matches!(bad.validate(), Err(Error::Validation { ref field, .. }) if field == "task_type")
        );
    }
}
