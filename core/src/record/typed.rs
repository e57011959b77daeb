//! How the phones that have an extension were typed, so that they are shown as typed.
//!
//! A phone is stored in one form (`+8675588888888;ext=123`), so that duplicates, search and
//! the server agree on it; a rep who typed `0755-8888 8888 转 123` wants to see that again. The
//! contact document keeps, under the root key [`KEY`], a JSON object from each such stored
//! phone to the text typed for it (a string register, as the other bookkeeping keys). Only
//! phones with an extension are kept: the marker (`转`, `x`, `ext.`) is what the stored form
//! cannot say. A phone without an entry is shown as stored.
//!
//! Two devices editing the phones at once merge their lists; the typed forms are one register,
//! so one device's entries win, and a phone whose entry was lost is shown as stored. Entries
//! for phones no longer on the contact are ignored when read.

use super::{get_str, put_opt_str};
use crate::error::Result;
use automerge::AutoCommit;
use std::collections::BTreeMap;

/// The root key of a contact document holding the typed forms.
pub(crate) const KEY: &str = "phones_typed";

/// Most entries the server accepts in the typed forms.
const MAX_ENTRIES: usize = 64;

/// Whether a stored phone's typed form is kept: it has an extension.
pub(crate) fn keeps(stored: &str) -> bool {
    crate::normalize::extension(stored).is_some()
}

/// The typed forms held in a document, for the phones it has.
pub(crate) fn read(doc: &AutoCommit, phones: &[String]) -> BTreeMap<String, String> {
    read_value(get_str(doc, KEY).as_deref(), phones)
}

/// The typed forms held in a document whose [`KEY`] holds `value`, for the phones it has.
pub(crate) fn read_value(value: Option<&str>, phones: &[String]) -> BTreeMap<String, String> {
    let mut map = parse(value).unwrap_or_default();
    map.retain(|stored, _| phones.contains(stored));
    map
}

/// The typed forms as JSON, `None` when there are none.
pub(crate) fn to_json(map: &BTreeMap<String, String>) -> Option<String> {
    if map.is_empty() {
        return None;
    }
    serde_json::to_string(map).ok()
}

fn parse(json: Option<&str>) -> Option<BTreeMap<String, String>> {
    serde_json::from_str(json?).ok()
}

/// Makes the document's typed forms match `phones`: a phone typed in this edit (`given`) takes
/// its new text, one typed before keeps its own, and entries of phones removed go.
pub(crate) fn write(
    doc: &mut AutoCommit,
    phones: &[String],
    given: &BTreeMap<String, String>,
) -> Result<()> {
    let mut map = read(doc, phones);
    for (stored, typed) in given {
        if phones.contains(stored) {
            map.insert(stored.clone(), typed.clone());
        }
    }
    put_opt_str(doc, KEY, to_json(&map).as_deref())
}

/// Checks the typed forms of a contact document received from elsewhere (the value of its
/// [`KEY`] field).
pub(crate) fn validate(json: Option<String>) -> std::result::Result<(), String> {
    let Some(json) = json else {
        return Ok(());
    };
    let map = parse(Some(&json))
        .ok_or_else(|| format!("{KEY}: not an object of phone numbers to typed text"))?;
    if map.len() > MAX_ENTRIES {
        return Err(format!("{KEY}: more than {MAX_ENTRIES} entries"));
    }
    for (stored, typed) in &map {
        if typed.chars().count() > crate::normalize::MAX_PHONE_CHARS
            || typed.chars().any(char::is_control)
        {
            return Err(format!(
                "{KEY}: the typed form of {stored:?} is not a phone number as typed"
            ));
        }
    }
    Ok(())
}
