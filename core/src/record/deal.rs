//! Deals: an opportunity with a contact (and company), moving through the tenant's stages.
//!
//! The stage is a last-writer-wins register; every move is its own change, so the deal's
//! history (who moved it where, when) is the document's change history.
//!
//! The restricted fields (`amount`, `discount`, `contract_amount`) are not in the deal's
//! document: each lives in a document of its own ([`super::restricted`]), so a device whose
//! user may not read them never receives them. Deal documents written by older builds may still
//! hold `amount`; it is read as a fallback until a restricted document for it exists.

use super::{check_text, get_f64, get_str, SyncState};
use crate::error::{Error, Result};
use automerge::AutoCommit;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Root keys of a deal document that this build understands; all others are `extra`.
pub(crate) const KNOWN_KEYS: &[&str] = &[
    "id",
    "kind",
    "title",
    "contact_id",
    "company",
    "amount",
    "discount",
    "contract_amount",
    "stage",
    "owner",
    "notes",
    "created_at",
    "stage_changed_at",
];

/// A deal as stored and shown.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ffi", derive(uniffi::Record))]
pub struct Deal {
    /// UUIDv7 string.
    pub id: String,
    /// What is being sold (required).
    pub title: String,
    /// The contact the deal is with.
    pub contact_id: String,
    /// The customer's company (defaults to the contact's).
    pub company: Option<String>,
    /// Expected value (in the tenant's currency), if known and readable on this device.
    pub amount: Option<f64>,
    /// Discount in percent (0 to 100), if known and readable on this device.
    pub discount: Option<f64>,
    /// The signed contract's amount, if known and readable on this device.
    pub contract_amount: Option<f64>,
    /// The current stage.
    pub stage: String,
    /// The rep who owns the deal.
    pub owner: Option<String>,
    /// Free-text notes.
    pub notes: Option<String>,
    /// Fields this build does not know.
    pub extra: BTreeMap<String, String>,
    /// When the deal was created (RFC 3339).
    pub created_at: String,
    /// When the deal entered its current stage (RFC 3339).
    pub stage_changed_at: String,
    /// When it last changed (RFC 3339).
    pub updated_at: String,
    /// [`SyncState::Local`] (not yet acknowledged by the server) or [`SyncState::Synced`].
    pub sync_state: SyncState,
}

/// A new deal, as typed.
#[derive(Debug, Clone, Default, PartialEq)]
#[cfg_attr(feature = "ffi", derive(uniffi::Record))]
pub struct NewDeal {
    /// What is being sold (required).
    pub title: String,
    /// The contact (must exist and be active).
    pub contact_id: String,
    /// Company; defaults to the contact's.
    #[cfg_attr(feature = "ffi", uniffi(default = None))]
    pub company: Option<String>,
    /// Expected value, >= 0 (a restricted field).
    #[cfg_attr(feature = "ffi", uniffi(default = None))]
    pub amount: Option<f64>,
    /// Discount in percent, 0 to 100 (a restricted field).
    #[cfg_attr(feature = "ffi", uniffi(default = None))]
    pub discount: Option<f64>,
    /// The contract's amount, >= 0 (a restricted field).
    #[cfg_attr(feature = "ffi", uniffi(default = None))]
    pub contract_amount: Option<f64>,
    /// Starting stage; defaults to the pipeline's first. Entering it passes its gate too.
    #[cfg_attr(feature = "ffi", uniffi(default = None))]
    pub stage: Option<String>,
    /// Owner; defaults to the store's user.
    #[cfg_attr(feature = "ffi", uniffi(default = None))]
    pub owner: Option<String>,
    /// Notes.
    #[cfg_attr(feature = "ffi", uniffi(default = None))]
    pub notes: Option<String>,
}

/// Which deals to list.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[cfg_attr(feature = "ffi", derive(uniffi::Record))]
pub struct DealFilter {
    /// Only deals of this contact.
    #[cfg_attr(feature = "ffi", uniffi(default = None))]
    pub contact_id: Option<String>,
    /// Only deals in this stage.
    #[cfg_attr(feature = "ffi", uniffi(default = None))]
    pub stage: Option<String>,
    /// Only deals of this owner.
    #[cfg_attr(feature = "ffi", uniffi(default = None))]
    pub owner: Option<String>,
    /// At most this many (most recently changed first).
    #[cfg_attr(feature = "ffi", uniffi(default = None))]
    pub limit: Option<u32>,
}

impl NewDeal {
    /// Trims and checks the fields; errors name the field.
    pub(crate) fn validate(&mut self) -> Result<()> {
        self.title = self.title.trim().to_string();
        if self.title.is_empty() {
            return Err(Error::validation("title", "", "a deal needs a title"));
        }
        check_text("title", &self.title, super::contact::MAX_FIELD_CHARS)?;
        if self.contact_id.trim().is_empty() {
            return Err(Error::validation("contact", "", "a deal needs a contact"));
        }
        for (field, value) in self.restricted() {
            if let Some(v) = value {
                super::restricted::check_value(field, v)?;
            }
        }
        if let Some(n) = &self.notes {
            check_text("notes", n, super::contact::MAX_NOTES_CHARS)?;
        }
        if let Some(c) = &self.company {
            check_text("company", c, super::contact::MAX_FIELD_CHARS)?;
        }
        Ok(())
    }
}

impl NewDeal {
    /// The restricted fields as given, by name.
    pub(crate) fn restricted(&self) -> [(&'static str, Option<f64>); 3] {
        [
            ("amount", self.amount),
            ("discount", self.discount),
            ("contract_amount", self.contract_amount),
        ]
    }
}

impl Deal {
    /// Sets a restricted field by name (names other than the three are ignored).
    pub(crate) fn set_restricted(&mut self, field: &str, value: Option<f64>) {
        match field {
            "amount" => self.amount = value,
            "discount" => self.discount = value,
            "contract_amount" => self.contract_amount = value,
            _ => {}
        }
    }
}

/// Checks a deal document received from elsewhere.
pub(crate) fn validate_doc(doc: &AutoCommit) -> std::result::Result<(), String> {
    if get_str(doc, "title").is_none_or(|t| t.trim().is_empty()) {
        return Err("title: a deal needs a title".into());
    }
    if get_str(doc, "contact_id").is_none_or(|c| c.trim().is_empty()) {
        return Err("contact_id: a deal needs a contact".into());
    }
    if get_str(doc, "stage").is_none_or(|s| s.trim().is_empty()) {
        return Err("stage: a deal needs a stage".into());
    }
    // Deals written by older builds hold their amount; new ones keep it in a restricted document.
    if get_f64(doc, "amount").is_some_and(|a| !a.is_finite() || a < 0.0) {
        return Err("amount: must be at least 0".into());
    }
    Ok(())
}

/// Reads a deal out of its document.
pub(crate) fn from_doc(
    id: &str,
    doc: &AutoCommit,
    updated_at: String,
    sync_state: SyncState,
) -> Deal {
    let created_at = get_str(doc, "created_at").unwrap_or_default();
    Deal {
        id: id.to_string(),
        title: get_str(doc, "title").unwrap_or_default(),
        contact_id: get_str(doc, "contact_id").unwrap_or_default(),
        company: get_str(doc, "company"),
        // Only a deal written by an older build holds these; the store overlays the restricted
        // documents it has.
        amount: get_f64(doc, "amount"),
        discount: get_f64(doc, "discount"),
        contract_amount: get_f64(doc, "contract_amount"),
        stage: get_str(doc, "stage").unwrap_or_default(),
        owner: get_str(doc, "owner"),
        notes: get_str(doc, "notes"),
        extra: super::extra(doc, KNOWN_KEYS),
        stage_changed_at: get_str(doc, "stage_changed_at").unwrap_or_else(|| created_at.clone()),
        created_at,
        updated_at,
        sync_state,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_deals_are_checked() {
        let mut ok = NewDeal {
            title: " 华强 ERP 项目 ".into(),
            contact_id: "c".into(),
            amount: Some(250_000.0),
            ..Default::default()
        };
        assert!(ok.validate().is_ok());
        assert_eq!(ok.title, "华强 ERP 项目");
        for (mut bad, field) in [
            (
                NewDeal {
                    contact_id: "c".into(),
                    ..Default::default()
                },
                "title",
            ),
            (
                NewDeal {
                    title: "t".into(),
                    ..Default::default()
                },
                "contact",
            ),
            (
                NewDeal {
                    title: "t".into(),
                    contact_id: "c".into(),
                    amount: Some(-1.0),
                    ..Default::default()
                },
                "amount",
            ),
            (
                NewDeal {
                    title: "t".into(),
                    contact_id: "c".into(),
                    discount: Some(120.0),
                    ..Default::default()
                },
                "discount",
            ),
            (
                NewDeal {
                    title: "t".into(),
                    contact_id: "c".into(),
                    contract_amount: Some(f64::INFINITY),
                    ..Default::default()
                },
                "contract_amount",
            ),
        ] {
            assert!(
                matches!(bad.validate(), Err(Error::Validation { field: ref f, .. }) if f == field),
                "{field}"
            );
        }
    }
}
