//! `outpost dup-check`, `outpost contact merge|unmerge`, and `contact add` with its duplicates.

use crate::to_json;
use clap::Args;
use outpost_core::{DupQuery, Error, NewContact, Store};

/// `outpost dup-check`: likely duplicates of what was typed, best first.
#[derive(Args)]
pub(crate) struct DupCheckArgs {
    /// A phone number in any common form (repeatable).
    #[arg(long = "phone")]
    phones: Vec<String>,
    /// An email address (repeatable).
    #[arg(long = "email")]
    emails: Vec<String>,
    /// The person's name.
    #[arg(long)]
    name: Option<String>,
    /// The company.
    #[arg(long)]
    company: Option<String>,
}

/// Runs `dup-check`: `[{contact_id, name, company, score, reasons}]`; a phone or email that is
/// not valid is an error naming it, never an empty list.
pub(crate) fn dup_check(store: &Store, args: DupCheckArgs) -> Result<serde_json::Value, Error> {
    if args.phones.is_empty() && args.emails.is_empty() && args.name.is_none() {
        return Err(Error::validation(
            "dup-check",
            "",
            "give at least one of --phone, --email, --name (with --company)",
        ));
    }
    let dups = store.check_duplicates(&DupQuery {
        name: args.name,
        company: args.company,
        phones: args.phones,
        emails: args.emails,
    })?;
    to_json(&dups)
}

/// Runs `contact add`: the saved contact's fields, plus `duplicates` (same shape as dup-check).
pub(crate) fn add(store: &mut Store, new: NewContact) -> Result<serde_json::Value, Error> {
    let added = store.add_contact_checked(new)?;
    let mut json = to_json(&added.contact)?;
    if let serde_json::Value::Object(map) = &mut json {
        map.insert("duplicates".into(), to_json(&added.duplicates)?);
    }
    Ok(json)
}
