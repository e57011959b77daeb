//! Duplicate detection: likely duplicates of a contact being typed, found offline.
//!
//! Every contact is indexed, in the same transaction as its projection, under short match keys
//! (E.164 phones, lower-cased emails, and its name normalized at its normalized company; see
//! [`keys`]). A check computes the keys of what was typed and looks each one up in an index:
//! it costs a few indexed reads whatever the size of the store, so an app can check while the
//! rep types. Invalid (soft-deleted) and merged contacts are never offered.
//!
//! ```
//! use outpost_core::{Store, StoreOptions, NewContact, DupQuery};
//! # fn main() -> Result<(), outpost_core::Error> {
//! # let dir = tempfile::tempdir().map_err(|e| outpost_core::Error::Io { op: "tempdir", path: ".".into(), source: e })?;
//! let mut store = Store::open(dir.path().join("rep.db"), StoreOptions::default())?;
//! store.add_contact(NewContact {
//!     name: "张经理".into(),
//!     company: Some("深圳市华强科技有限公司".into()),
//!     phones: vec!["138 0013 8000".into()],
//!     ..Default::default()
//! })?;
//! let dups = store.find_duplicates(&DupQuery {
//!     name: Some("张总监".into()),
//!     company: Some("华强科技".into()),
//!     phones: vec!["+86 138-0013-8000".into()],
//!     ..Default::default()
//! })?;
//! assert_eq!(dups.len(), 1);
//! assert_eq!(dups[0].reasons.len(), 2); // phone, name_company
//! # Ok(()) }
//! ```

pub mod keys;

use serde::{Deserialize, Serialize};

/// Why a contact is offered as a duplicate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "ffi", derive(uniffi::Enum))]
#[serde(rename_all = "snake_case")]
pub enum DupReason {
    /// The same phone number (compared in E.164).
    Phone,
    /// The same email address (compared lower-cased).
    Email,
    /// The same or a similar person name at the same company.
    NameCompany,
}

impl DupReason {
    /// `phone`, `email` or `name_company`.
    pub fn as_str(&self) -> &'static str {
        match self {
            DupReason::Phone => "phone",
            DupReason::Email => "email",
            DupReason::NameCompany => "name_company",
        }
    }
}

/// What to look for: any of the fields of a contact being entered, as typed.
///
/// Phones and emails are normalized like a saved contact's; a value that cannot be normalized
/// (a half-typed number) simply matches nothing.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[cfg_attr(feature = "ffi", derive(uniffi::Record))]
pub struct DupQuery {
    /// The person's name.
    #[cfg_attr(feature = "ffi", uniffi(default = None))]
    pub name: Option<String>,
    /// The company.
    #[cfg_attr(feature = "ffi", uniffi(default = None))]
    pub company: Option<String>,
    /// Phone numbers in any common form.
    #[cfg_attr(feature = "ffi", uniffi(default))]
    pub phones: Vec<String>,
    /// Email addresses.
    #[cfg_attr(feature = "ffi", uniffi(default))]
    pub emails: Vec<String>,
}

/// A likely duplicate of what was typed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ffi", derive(uniffi::Record))]
pub struct Duplicate {
    /// The existing contact.
    pub contact_id: String,
    /// Its name.
    pub name: String,
    /// Its company.
    pub company: Option<String>,
    /// How likely it is the same person, 0 to 1: one phone match scores 0.95 (0.7 when only
    /// the main number matches, one side having an extension), an email 0.9, the same name at
    /// the same company 0.8, a similar name there 0.6; several reasons combine
    /// (`1 - Π(1 - s)`).
    pub score: f64,
    /// Why, strongest first.
    pub reasons: Vec<DupReason>,
}

/// Score of one phone match.
pub(crate) const SCORE_PHONE: f64 = 0.95;
/// Score of a phone whose main number matches, one side having an extension (a switchboard
/// is shared by many: less than a name at the company).
pub(crate) const SCORE_PHONE_MAIN: f64 = 0.7;
/// Score of one email match.
pub(crate) const SCORE_EMAIL: f64 = 0.9;
/// Score of the same normalized name at the same company.
pub(crate) const SCORE_NAME_EXACT: f64 = 0.8;
/// Score of a similar name at the same company.
pub(crate) const SCORE_NAME_SIMILAR: f64 = 0.6;

/// Combines the best score of each reason: `1 - Π(1 - s)`, rounded to three decimals.
pub(crate) fn combine(scores: &[f64]) -> f64 {
    let miss: f64 = scores.iter().map(|s| 1.0 - s).product();
    ((1.0 - miss) * 1000.0).round() / 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scores_combine_and_stay_below_one() {
        assert_eq!(combine(&[SCORE_PHONE]), 0.95);
        let both = combine(&[SCORE_PHONE, SCORE_NAME_EXACT]);
        assert!(both > 0.95 && both < 1.0, "{both}");
        assert!(combine(&[SCORE_NAME_SIMILAR]) < combine(&[SCORE_NAME_EXACT]));
    }
}
