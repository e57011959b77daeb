//! Attachments: a file (a contract scan, a business card, a quotation, a photo) linked to a
//! contact and optionally a deal. The file itself is a content-addressed blob (sha256) kept
//! apart from the record; the record holds its hash, its type and the fields read from it.

use super::{check_text, get_i64, get_str, SyncState};
use crate::error::{Error, Result};
use automerge::{AutoCommit, ObjType, ReadDoc, Value, ROOT};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Root keys of an attachment document that this build understands; all others are `extra`.
pub(crate) const KNOWN_KEYS: &[&str] = &[
    "id",
    "kind",
    "contact_id",
    "deal_id",
    "category",
    "blob",
    "mime",
    "size",
    "title",
    "fields",
    "text",
    "user",
    "created_at",
];

/// What an attachment is. Stage gates (deals) ask for attachments of a given category.
pub const CATEGORIES: &[&str] = &["contract", "card", "quotation", "photo", "other"];

/// The largest file accepted as an attachment (a flattened page scan is well under 5 MB).
pub const MAX_BLOB_BYTES: usize = 32 * 1024 * 1024;

/// An attachment as stored and shown.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ffi", derive(uniffi::Record))]
pub struct Attachment {
    /// UUIDv7 string.
    pub id: String,
    /// The contact it belongs to.
    pub contact_id: String,
    /// The deal it belongs to, if any.
    pub deal_id: Option<String>,
    /// One of [`CATEGORIES`].
    pub category: String,
    /// The sha256 of the file (lower-case hex); the blob's key.
    pub blob_sha256: String,
    /// The file's media type, e.g. `image/png`.
    pub mime: String,
    /// The file's size in bytes (1 to the blob limit; `i64` like the document and the table
    /// that store it, and Kotlin's `Long`).
    pub size: i64,
    /// A short title shown in lists.
    pub title: Option<String>,
    /// Fields read from the file (for a contract: `contract_number`, `party_a`, `party_b`,
    /// `amount`, `amount_upper`, `date`), as text.
    pub fields: BTreeMap<String, String>,
    /// The text read from the file, if any.
    pub text: Option<String>,
    /// Who attached it.
    pub user: String,
    /// Fields this build does not know.
    pub extra: BTreeMap<String, String>,
    /// When it was attached (RFC 3339).
    pub created_at: String,
    /// When the record last changed (RFC 3339).
    pub updated_at: String,
    /// [`SyncState::Local`] (not yet acknowledged by the server) or [`SyncState::Synced`].
    pub sync_state: SyncState,
}

impl Attachment {
    /// The contract amount read from the file, when there is one and it is a number.
    pub fn amount(&self) -> Option<f64> {
        self.fields.get("amount")?.trim().parse::<f64>().ok()
    }
}

/// A new attachment: the file's bytes and what is known about it.
#[derive(Debug, Clone, Default, PartialEq)]
#[cfg_attr(feature = "ffi", derive(uniffi::Record))]
pub struct NewAttachment {
    /// The contact it belongs to (must exist and be active).
    pub contact_id: String,
    /// The deal it belongs to, if any.
    #[cfg_attr(feature = "ffi", uniffi(default = None))]
    pub deal_id: Option<String>,
    /// One of [`CATEGORIES`].
    pub category: String,
    /// The file's media type, e.g. `image/png`.
    pub mime: String,
    /// The file.
    #[cfg_attr(feature = "ffi", uniffi(default))]
    pub bytes: Vec<u8>,
    /// A short title.
    #[cfg_attr(feature = "ffi", uniffi(default = None))]
    pub title: Option<String>,
    /// Fields read from the file.
    #[cfg_attr(feature = "ffi", uniffi(default))]
    pub fields: BTreeMap<String, String>,
    /// Text read from the file.
    #[cfg_attr(feature = "ffi", uniffi(default = None))]
    pub text: Option<String>,
}

impl NewAttachment {
    /// Checks everything but the contact's existence; the error names the field.
    pub(crate) fn validate(&self) -> Result<()> {
        if !CATEGORIES.contains(&self.category.as_str()) {
            return Err(Error::validation(
                "category",
                self.category.clone(),
                format!("must be one of {}", CATEGORIES.join(", ")),
            ));
        }
        if self.bytes.is_empty() {
            return Err(Error::validation("file", "", "the file is empty"));
        }
        if self.bytes.len() > MAX_BLOB_BYTES {
            return Err(Error::validation(
                "file",
                format!("{} bytes", self.bytes.len()),
                format!("larger than the limit of {MAX_BLOB_BYTES} bytes"),
            ));
        }
        let mime = self.mime.trim();
        if mime.is_empty() || !mime.contains('/') || mime.len() > 100 {
            return Err(Error::validation(
                "mime",
                self.mime.clone(),
                "must be a media type like image/png",
            ));
        }
        if let Some(t) = &self.title {
            check_text("title", t, 200)?;
        }
        for (k, v) in &self.fields {
            if k.is_empty() || k.len() > 64 {
                return Err(Error::validation(
                    "fields",
                    k.clone(),
                    "field names are 1 to 64 characters",
                ));
            }
            check_text(k, v, 2000)?;
        }
        if let Some(t) = &self.text {
            check_text("text", t, 200_000)?;
        }
        Ok(())
    }
}

/// Checks a document received from elsewhere; the reason names the field.
pub(crate) fn validate_doc(doc: &AutoCommit) -> std::result::Result<(), String> {
    for key in ["contact_id", "category", "blob", "mime"] {
        if get_str(doc, key).is_none_or(|v| v.trim().is_empty()) {
            return Err(format!("{key}: an attachment needs one"));
        }
    }
    let blob = get_str(doc, "blob").unwrap_or_default();
    if !is_sha256_hex(&blob) {
        return Err("blob: must be a sha256 in lower-case hex".into());
    }
    match get_i64(doc, "size") {
        Some(s) if s > 0 && s as usize <= MAX_BLOB_BYTES => Ok(()),
        _ => Err(format!("size: must be 1 to {MAX_BLOB_BYTES} bytes")),
    }
}

/// Whether `s` is 64 lower-case hex digits.
pub fn is_sha256_hex(s: &str) -> bool {
    s.len() == 64
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

fn fields(doc: &AutoCommit) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    if let Ok(Some((Value::Object(ObjType::Map), obj))) = doc.get(ROOT, "fields") {
        for key in doc.keys(&obj) {
            if let Ok(Some((Value::Scalar(s), _))) = doc.get(&obj, key.as_str()) {
                let v = match s.as_ref() {
                    automerge::ScalarValue::Str(t) => t.to_string(),
                    automerge::ScalarValue::F64(f) => f.to_string(),
                    automerge::ScalarValue::Int(i) => i.to_string(),
                    automerge::ScalarValue::Uint(u) => u.to_string(),
                    automerge::ScalarValue::Boolean(b) => b.to_string(),
                    _ => continue,
                };
                out.insert(key, v);
            }
        }
    }
    out
}

/// Reads an attachment out of its document.
pub(crate) fn from_doc(
    id: &str,
    doc: &AutoCommit,
    updated_at: String,
    sync_state: SyncState,
) -> Attachment {
    Attachment {
        id: id.to_string(),
        contact_id: get_str(doc, "contact_id").unwrap_or_default(),
        deal_id: get_str(doc, "deal_id"),
        category: get_str(doc, "category").unwrap_or_default(),
        blob_sha256: get_str(doc, "blob").unwrap_or_default(),
        mime: get_str(doc, "mime").unwrap_or_default(),
        size: get_i64(doc, "size").filter(|s| *s >= 0).unwrap_or(0),
        title: get_str(doc, "title"),
        fields: fields(doc),
        text: get_str(doc, "text"),
        user: get_str(doc, "user").unwrap_or_default(),
        extra: super::extra(doc, KNOWN_KEYS),
        created_at: get_str(doc, "created_at").unwrap_or_default(),
        updated_at,
        sync_state,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn new() -> NewAttachment {
        NewAttachment {
            contact_id: "c".into(),
            category: "contract".into(),
            mime: "image/png".into(),
            bytes: vec![1, 2, 3],
            ..Default::default()
        }
    }

    #[test]
    fn validation_names_the_field() {
        assert!(new().validate().is_ok());
        type Change = fn(&mut NewAttachment);
        let cases: [(Change, &str); 4] = [
            (|a| a.category = "invoice".into(), "category"),
            (|a| a.bytes.clear(), "file"),
            (|a| a.mime = "png".into(), "mime"),
            (
                |a| {
                    a.fields.insert(String::new(), "x".into());
                },
                "fields",
            ),
        ];
        for (change, field) in cases {
            let mut a = new();
            change(&mut a);
            assert!(
                matches!(a.validate(), Err(Error::Validation { field: ref f, .. }) if f == field),
                "{field}"
            );
        }
    }

    #[test]
    fn sha256_hex_is_strict() {
        assert!(is_sha256_hex(&"a".repeat(64)));
        assert!(!is_sha256_hex(&"A".repeat(64)));
        assert!(!is_sha256_hex(&"a".repeat(63)));
    }
}
