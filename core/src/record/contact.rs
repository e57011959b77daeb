//! Contacts: the people and companies a rep sells to.

use super::first_change::{FirstChange, Init};
use super::{
    check_extra_key, check_text, put_opt_str, put_text, rfc3339_ms, set_str_list, Actor, SyncState,
};
use crate::error::{Error, Result};
use crate::normalize::{self, Region};
use automerge::{AutoCommit, Change};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Root keys of a contact document that this build understands; all others are `extra`.
pub(crate) const KNOWN_KEYS: &[&str] = &[
    "id",
    "kind",
    "name",
    "company",
    "title",
    "phones",
    "emails",
    "address",
    "source",
    "owner",
    "status",
    "notes",
    "created_at",
    "invalid_reason",
    "invalidated_by",
    "invalidated_at",
    "merged_into",
    "merged_at",
    "merged_by",
    super::typed::KEY,
];

/// Root keys starting with this record what a merge found on the merged contact (one key per
/// merged contact, and `merged_from:ID:copied` for what the merge copied from it);
/// bookkeeping, not shown in `extra`.
pub(crate) const MERGED_FROM_PREFIX: &str = "merged_from:";

/// Keys an app may not set through `extra`.
pub(crate) const RESERVED_KEYS: &[&str] = &[
    "id",
    "kind",
    "status",
    "created_at",
    "updated_at",
    "invalid_reason",
    "invalidated_by",
    "invalidated_at",
    "extra",
    "sync_state",
    "merged_into",
    "merged_at",
    "merged_by",
    // Lead routing: written by the server only (see crate::routing).
    "routed_by",
    "routing_reason",
    "routed_at",
    // How phones with an extension were typed: kept from what the rep types (record/typed.rs).
    super::typed::KEY,
];

/// A contact's optional one-line text fields besides the name, in form order. Every list of
/// them (a new document, an edit, a known key given through `set`, resolving a conflict) is
/// read from this one, with [`Contact::text_field`] and its siblings for the values.
pub const TEXT_FIELDS: [&str; 5] = ["company", "title", "address", "source", "owner"];

/// Longest name, company, title, address or source we accept, in characters.
pub const MAX_FIELD_CHARS: usize = 500;
/// Longest notes we accept, in characters.
pub const MAX_NOTES_CHARS: usize = 100_000;
/// Most phones or emails on one contact.
pub const MAX_LIST_ITEMS: usize = 20;

/// Whether a contact is shown in lists and search.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ffi", derive(uniffi::Enum))]
#[serde(rename_all = "lowercase")]
pub enum ContactStatus {
    /// Shown in lists and search.
    Active,
    /// Soft-deleted: hidden from lists and search unless asked for; never hard-deleted.
    Invalid,
    /// Merged into another contact (`merged_into`): hidden from lists and duplicate checks,
    /// found by search under its own name as the survivor, never deleted; its visits read as
    /// the survivor's.
    Merged,
}

impl ContactStatus {
    /// `active`, `invalid` or `merged`.
    pub fn as_str(&self) -> &'static str {
        match self {
            ContactStatus::Active => "active",
            ContactStatus::Invalid => "invalid",
            ContactStatus::Merged => "merged",
        }
    }

    pub(crate) fn parse(s: &str) -> ContactStatus {
        match s {
            "invalid" => ContactStatus::Invalid,
            "merged" => ContactStatus::Merged,
            _ => ContactStatus::Active,
        }
    }
}

/// Why, by whom and when a contact was marked invalid.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ffi", derive(uniffi::Record))]
pub struct Invalidation {
    /// The reason the rep gave.
    pub reason: String,
    /// Who marked it invalid.
    pub by: String,
    /// When (RFC 3339).
    pub at: String,
}

/// A contact as stored and shown.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ffi", derive(uniffi::Record))]
pub struct Contact {
    /// UUIDv7 string.
    pub id: String,
    /// The person's name (required).
    pub name: String,
    /// Company name.
    pub company: Option<String>,
    /// Job title.
    pub title: Option<String>,
    /// Phone numbers in E.164 (`+8613800138000`), an extension after `;ext=`
    /// (`+8675588888888;ext=123`).
    pub phones: Vec<String>,
    /// How each phone with an extension was typed (`+8675588888888;ext=123` →
    /// `0755-8888 8888 转 123`), to show it as typed; the other phones are shown as stored.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub phones_typed: BTreeMap<String, String>,
    /// Email addresses, lower-cased.
    pub emails: Vec<String>,
    /// Postal address.
    pub address: Option<String>,
    /// Where the lead came from (`card_scan`, `import`, `referral`, ...).
    pub source: Option<String>,
    /// The user who owns this customer.
    pub owner: Option<String>,
    /// `active` or `invalid`.
    pub status: ContactStatus,
    /// Free-text notes.
    pub notes: Option<String>,
    /// Fields this build does not know (from `--set`, imports, or newer app versions).
    pub extra: BTreeMap<String, String>,
    /// Set when the contact was marked invalid.
    pub invalidation: Option<Invalidation>,
    /// When `status` is `merged`: the surviving contact it reads as. Every device shows the
    /// same survivor, also after concurrent or cyclic merges (see `docs/adr/0012-merge-survivor.md`).
    #[serde(default)]
    pub merged_into: Option<String>,
    /// When the contact was created (RFC 3339).
    pub created_at: String,
    /// When the contact last changed (RFC 3339).
    pub updated_at: String,
    /// [`SyncState::Local`] (not yet acknowledged by the server) or [`SyncState::Synced`] (a
    /// refused change is undone, see `status().rejected`).
    pub sync_state: SyncState,
}

impl Contact {
    /// The value of one of [`TEXT_FIELDS`]; `None` when it is empty or `key` is not one.
    pub fn text_field(&self, key: &str) -> Option<&str> {
        match key {
            "company" => self.company.as_deref(),
            "title" => self.title.as_deref(),
            "address" => self.address.as_deref(),
            "source" => self.source.as_deref(),
            "owner" => self.owner.as_deref(),
            _ => None,
        }
    }
}

/// The fields of a new contact, as typed. Phones and emails are normalized on save.
#[derive(Debug, Clone, Default, PartialEq)]
#[cfg_attr(feature = "ffi", derive(uniffi::Record))]
pub struct NewContact {
    /// Required.
    pub name: String,
    /// Company name.
    #[cfg_attr(feature = "ffi", uniffi(default = None))]
    pub company: Option<String>,
    /// Job title.
    #[cfg_attr(feature = "ffi", uniffi(default = None))]
    pub title: Option<String>,
    /// Phone numbers in any common form.
    #[cfg_attr(feature = "ffi", uniffi(default))]
    pub phones: Vec<String>,
    /// Email addresses.
    #[cfg_attr(feature = "ffi", uniffi(default))]
    pub emails: Vec<String>,
    /// Postal address.
    #[cfg_attr(feature = "ffi", uniffi(default = None))]
    pub address: Option<String>,
    /// Lead source.
    #[cfg_attr(feature = "ffi", uniffi(default = None))]
    pub source: Option<String>,
    /// Owner; defaults to the store's user.
    #[cfg_attr(feature = "ffi", uniffi(default = None))]
    pub owner: Option<String>,
    /// Free-text notes.
    #[cfg_attr(feature = "ffi", uniffi(default = None))]
    pub notes: Option<String>,
    /// Other fields. A key naming a known field (`company`, `title`, ...) sets that field.
    #[cfg_attr(feature = "ffi", uniffi(default))]
    pub extra: BTreeMap<String, String>,
}

/// An edit of a contact. `None` leaves a field alone; `Some("")` clears it.
#[derive(Debug, Clone, Default, PartialEq)]
#[cfg_attr(feature = "ffi", derive(uniffi::Record))]
pub struct ContactPatch {
    /// New name (cannot be cleared).
    #[cfg_attr(feature = "ffi", uniffi(default = None))]
    pub name: Option<String>,
    /// New company.
    #[cfg_attr(feature = "ffi", uniffi(default = None))]
    pub company: Option<String>,
    /// New title.
    #[cfg_attr(feature = "ffi", uniffi(default = None))]
    pub title: Option<String>,
    /// Replaces the phone list.
    #[cfg_attr(feature = "ffi", uniffi(default = None))]
    pub phones: Option<Vec<String>>,
    /// Replaces the email list.
    #[cfg_attr(feature = "ffi", uniffi(default = None))]
    pub emails: Option<Vec<String>>,
    /// New address.
    #[cfg_attr(feature = "ffi", uniffi(default = None))]
    pub address: Option<String>,
    /// New source.
    #[cfg_attr(feature = "ffi", uniffi(default = None))]
    pub source: Option<String>,
    /// New owner.
    #[cfg_attr(feature = "ffi", uniffi(default = None))]
    pub owner: Option<String>,
    /// New notes.
    #[cfg_attr(feature = "ffi", uniffi(default = None))]
    pub notes: Option<String>,
    /// Sets extra fields (a known field's key sets that field; an empty value removes the key).
    #[cfg_attr(feature = "ffi", uniffi(default))]
    pub set: BTreeMap<String, String>,
    /// Removes these keys (extra fields, or optional known fields).
    #[cfg_attr(feature = "ffi", uniffi(default))]
    pub unset: Vec<String>,
}

/// A contact's fields after validation and normalization.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct ContactFields {
    pub name: Option<String>,
    pub company: Option<String>,
    pub title: Option<String>,
    pub phones: Option<Vec<String>>,
    /// What was typed for the phones of `phones` that have an extension.
    pub phones_typed: BTreeMap<String, String>,
    pub emails: Option<Vec<String>>,
    pub address: Option<String>,
    pub source: Option<String>,
    pub owner: Option<String>,
    pub notes: Option<String>,
    pub extra: BTreeMap<String, String>,
    pub unset: Vec<String>,
}

impl ContactPatch {
    /// The slot of one of [`TEXT_FIELDS`]; `None` when `key` is not one.
    fn text_field_mut(&mut self, key: &str) -> Option<&mut Option<String>> {
        match key {
            "company" => Some(&mut self.company),
            "title" => Some(&mut self.title),
            "address" => Some(&mut self.address),
            "source" => Some(&mut self.source),
            "owner" => Some(&mut self.owner),
            _ => None,
        }
    }
}

impl ContactFields {
    /// The value of one of [`TEXT_FIELDS`]; `None` when it is not set or `key` is not one.
    pub(crate) fn text_field(&self, key: &str) -> Option<&String> {
        match key {
            "company" => self.company.as_ref(),
            "title" => self.title.as_ref(),
            "address" => self.address.as_ref(),
            "source" => self.source.as_ref(),
            "owner" => self.owner.as_ref(),
            _ => None,
        }
    }
}

fn clean(field: &str, value: Option<String>, max: usize) -> Result<Option<String>> {
    match value {
        None => Ok(None),
        Some(v) => {
            let v = v.trim().to_string();
            check_text(field, &v, max)?;
            Ok(Some(v))
        }
    }
}

/// Normalized values, each with what was typed for it when that is kept.
type Cleaned = Vec<(String, Option<String>)>;

/// Normalizes a list of phones or emails with `norm`, each with what was typed for it when
/// that is kept (a phone with an extension, see `record/typed.rs`; the first typing of a value
/// given twice). A value it refuses fails the whole list, unless `left_out` is given: then the
/// value is left out and its error kept there.
fn clean_list(
    field: &str,
    values: Option<Vec<String>>,
    norm: impl Fn(&str) -> Result<String>,
    mut left_out: Option<&mut Vec<Error>>,
) -> Result<Option<Cleaned>> {
    let Some(values) = values else {
        return Ok(None);
    };
    let mut out: Cleaned = Vec::new();
    for v in values.iter().filter(|v| !v.trim().is_empty()) {
        let n = match (norm(v), left_out.as_deref_mut()) {
            (Ok(n), _) => n,
            (Err(e), Some(kept)) => {
                kept.push(e);
                continue;
            }
            (Err(e), None) => return Err(e),
        };
        if !out.iter().any(|(seen, _)| *seen == n) {
            let typed = super::typed::keeps(&n).then(|| v.trim().to_string());
            out.push((n, typed));
        }
    }
    if out.len() > MAX_LIST_ITEMS {
        return Err(Error::validation(
            field,
            values.join(", "),
            format!("more than {MAX_LIST_ITEMS} entries"),
        ));
    }
    Ok(Some(out))
}

impl ContactFields {
    /// Validates and normalizes a patch. `creating` requires a name.
    pub(crate) fn from_patch(p: ContactPatch, region: Region, creating: bool) -> Result<Self> {
        Self::build(p, region, creating, None)
    }

    /// Like [`ContactFields::from_patch`], but a phone that is not valid is left out instead of
    /// refusing the contact (what an import does with a row): the errors of the phones left
    /// out come back with the fields.
    #[cfg(feature = "import")]
    pub(crate) fn from_patch_leaving_out_bad_phones(
        p: ContactPatch,
        region: Region,
        creating: bool,
    ) -> Result<(Self, Vec<Error>)> {
        let mut left_out = Vec::new();
        let fields = Self::build(p, region, creating, Some(&mut left_out))?;
        Ok((fields, left_out))
    }

    fn build(
        mut p: ContactPatch,
        region: Region,
        creating: bool,
        bad_phones: Option<&mut Vec<Error>>,
    ) -> Result<Self> {
        // Known keys given through `set` land in their field.
        let mut extra = BTreeMap::new();
        for (key, value) in std::mem::take(&mut p.set) {
            let key = key.trim().to_string();
            if let Some(slot) = p.text_field_mut(&key) {
                *slot = Some(value);
                continue;
            }
            let slot = match key.as_str() {
                "name" => &mut p.name,
                "notes" => &mut p.notes,
                "phones" | "phone" => {
                    p.phones.get_or_insert_with(Vec::new).push(value);
                    continue;
                }
                "emails" | "email" => {
                    p.emails.get_or_insert_with(Vec::new).push(value);
                    continue;
                }
                _ => {
                    check_extra_key(&key, RESERVED_KEYS)?;
                    check_text(&key, &value, MAX_NOTES_CHARS)?;
                    extra.insert(key, value);
                    continue;
                }
            };
            *slot = Some(value);
        }
        for key in &p.unset {
            match key.as_str() {
                "name" => {
                    return Err(Error::validation(
                        "name",
                        "",
                        "name is required and cannot be removed",
                    ))
                }
                k if RESERVED_KEYS.contains(&k) => {
                    return Err(Error::validation(
                        k,
                        k,
                        "this field is managed by Outpost and cannot be removed",
                    ))
                }
                _ => {}
            }
        }
        let name = clean("name", p.name, MAX_FIELD_CHARS)?;
        match name.as_deref() {
            Some("") => return Err(Error::validation("name", "", "name is required")),
            None if creating => return Err(Error::validation("name", "", "name is required")),
            _ => {}
        }
        let company = clean("company", p.company, MAX_FIELD_CHARS)?;
        let title = clean("title", p.title, MAX_FIELD_CHARS)?;
        let phones = clean_list(
            "phones",
            p.phones,
            |v| normalize::phone("phones", v, region),
            bad_phones,
        )?;
        let phones_typed = phones
            .iter()
            .flatten()
            .filter_map(|(stored, typed)| Some((stored, typed.as_ref()?)))
            // The stored form typed again (an app echoing it back) says nothing new.
            .filter(|(stored, typed)| stored != typed)
            .map(|(stored, typed)| (stored.clone(), typed.clone()))
            .collect();
        let emails = clean_list("emails", p.emails, |v| normalize::email("emails", v), None)?;
        let values =
            |list: Option<Cleaned>| list.map(|l| l.into_iter().map(|(stored, _)| stored).collect());
        Ok(ContactFields {
            name,
            company,
            title,
            phones: values(phones),
            phones_typed,
            emails: values(emails),
            address: clean("address", p.address, MAX_FIELD_CHARS)?,
            source: clean("source", p.source, MAX_FIELD_CHARS)?,
            owner: clean("owner", p.owner, MAX_FIELD_CHARS)?,
            notes: clean("notes", p.notes, MAX_NOTES_CHARS)?,
            extra,
            unset: p.unset,
        })
    }

    /// The contact these fields make when created: every non-empty field, active.
    pub(crate) fn new_contact(&self, id: &str, now_ms: i64, sync_state: SyncState) -> Contact {
        let text = |v: &Option<String>| v.clone().filter(|v| !v.is_empty());
        let now = rfc3339_ms(now_ms);
        Contact {
            id: id.to_string(),
            name: self.name.clone().unwrap_or_default(),
            company: text(&self.company),
            title: text(&self.title),
            phones: self.phones.clone().unwrap_or_default(),
            phones_typed: self.phones_typed.clone(),
            emails: self.emails.clone().unwrap_or_default(),
            address: text(&self.address),
            source: text(&self.source),
            owner: text(&self.owner),
            status: ContactStatus::Active,
            notes: text(&self.notes),
            extra: self
                .extra
                .iter()
                .filter(|(k, v)| {
                    !v.is_empty()
                        && !KNOWN_KEYS.contains(&k.as_str())
                        && !k.starts_with(MERGED_FROM_PREFIX)
                })
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
            invalidation: None,
            merged_into: None,
            created_at: now.clone(),
            updated_at: now,
            sync_state,
        }
    }

    /// A new contact's document holding these fields, committed as one change by `actor`,
    /// with the contact it holds.
    pub(crate) fn create(
        &self,
        id: &str,
        actor: &Actor,
        action: &str,
        now_ms: i64,
    ) -> Result<(AutoCommit, Contact)> {
        let (change, c) = self.create_change(id, actor, action, now_ms);
        Ok((super::load(id, change.raw_bytes(), actor)?, c))
    }

    /// A new contact's first change (whose bytes load as its document), with the contact it
    /// holds: what a bulk import stores, without building a document.
    pub(crate) fn create_change(
        &self,
        id: &str,
        actor: &Actor,
        action: &str,
        now_ms: i64,
    ) -> (Change, Contact) {
        let c = self.new_contact(id, now_ms, SyncState::Local);
        let typed = super::typed::to_json(&c.phones_typed);
        (
            first_change(&c, typed.as_deref()).build(actor, action, now_ms),
            c,
        )
    }

    /// Writes the fields into the document (only what differs).
    pub(crate) fn apply(&self, doc: &mut AutoCommit) -> Result<()> {
        for key in &self.unset {
            match key.as_str() {
                "phones" => {
                    set_str_list(doc, key, &[])?;
                    super::typed::write(doc, &[], &BTreeMap::new())?;
                }
                "emails" => set_str_list(doc, key, &[])?,
                "notes" => put_text(doc, key, None)?,
                _ => put_opt_str(doc, key, None)?,
            }
        }
        if let Some(name) = &self.name {
            put_opt_str(doc, "name", Some(name))?;
        }
        for key in TEXT_FIELDS {
            if let Some(v) = self.text_field(key) {
                put_opt_str(doc, key, Some(v))?;
            }
        }
        if let Some(phones) = &self.phones {
            set_str_list(doc, "phones", phones)?;
            super::typed::write(doc, phones, &self.phones_typed)?;
        }
        if let Some(emails) = &self.emails {
            set_str_list(doc, "emails", emails)?;
        }
        if let Some(notes) = &self.notes {
            put_text(doc, "notes", Some(notes))?;
        }
        for (key, value) in &self.extra {
            put_opt_str(doc, key, Some(value))?;
        }
        Ok(())
    }
}

impl From<NewContact> for ContactPatch {
    fn from(n: NewContact) -> Self {
        ContactPatch {
            name: Some(n.name),
            company: n.company,
            title: n.title,
            phones: Some(n.phones),
            emails: Some(n.emails),
            address: n.address,
            source: n.source,
            owner: n.owner,
            notes: n.notes,
            set: n.extra,
            unset: Vec::new(),
        }
    }
}

/// The root of a new contact's document, holding exactly what `c` shows (`typed`: its
/// [`super::typed`] forms as JSON).
fn first_change<'a>(c: &'a Contact, typed: Option<&'a str>) -> FirstChange<'a> {
    let mut root = FirstChange::new();
    if let Some(typed) = typed {
        root.put(super::typed::KEY, Init::Str(typed));
    }
    for (key, value) in &c.extra {
        root.put(key, Init::Str(value));
    }
    for key in TEXT_FIELDS {
        if let Some(v) = c.text_field(key) {
            root.put(key, Init::Str(v));
        }
    }
    root.put("name", Init::Str(&c.name));
    if let Some(notes) = &c.notes {
        root.put("notes", Init::Text(notes));
    }
    // The lists exist from the start, so that two devices adding the first phone
    // concurrently edit one list instead of racing to create two.
    root.put("phones", Init::List(&c.phones));
    root.put("emails", Init::List(&c.emails));
    // The id makes every record's first change unique: two identical contacts created in
    // the same millisecond would otherwise have byte-identical changes (and hashes).
    root.put("id", Init::Str(&c.id));
    root.put("kind", Init::Str("contact"));
    root.put("status", Init::Str(c.status.as_str()));
    root.put("created_at", Init::Str(&c.created_at));
    root
}

/// Checks a contact document received from elsewhere: a name, E.164 phones, valid emails, a known status.
pub(crate) fn validate_doc(doc: &AutoCommit) -> std::result::Result<(), String> {
    // One pass over the root: the server validates every pushed change with this.
    let root = super::Root::read(doc);
    if root.str("name").is_none_or(|n| n.trim().is_empty()) {
        return Err("name: a contact needs a name".into());
    }
    for phone in root.str_list("phones") {
        match normalize::phone("phones", &phone, Region::default()) {
            Ok(n) if n == phone => {}
            _ => return Err(format!("phones: {phone:?} is not a valid E.164 number")),
        }
    }
    for email in root.str_list("emails") {
        match normalize::email("emails", &email) {
            Ok(e) if e == email => {}
            _ => {
                return Err(format!(
                    "emails: {email:?} is not a valid lower-case address"
                ))
            }
        }
    }
    super::typed::validate(root.str(super::typed::KEY))?;
    match root.str("status").as_deref() {
        None | Some("active") | Some("invalid") | Some("merged") => Ok(()),
        Some(other) => Err(format!("status: unknown status {other:?}")),
    }
}

/// Reads a contact out of its document. `updated_at` and `sync_state` come from the store.
pub(crate) fn from_doc(
    id: &str,
    doc: &AutoCommit,
    updated_at: String,
    sync_state: SyncState,
) -> Contact {
    let root = super::Root::read(doc);
    let invalidation = root.str("invalid_reason").map(|reason| Invalidation {
        reason,
        by: root.str("invalidated_by").unwrap_or_default(),
        at: root.str("invalidated_at").unwrap_or_default(),
    });
    let phones = root.str_list("phones");
    let status = root.str("status");
    Contact {
        id: id.to_string(),
        name: root.str("name").unwrap_or_default(),
        company: root.str("company"),
        title: root.str("title"),
        phones_typed: super::typed::read_value(root.str(super::typed::KEY).as_deref(), &phones),
        phones,
        emails: root.str_list("emails"),
        address: root.str("address"),
        source: root.str("source"),
        owner: root.str("owner"),
        status: ContactStatus::parse(status.as_deref().unwrap_or("active")),
        notes: root.str("notes"),
        extra: {
            let mut extra = root.extra(KNOWN_KEYS);
            extra.retain(|k, _| !k.starts_with(MERGED_FROM_PREFIX));
            extra
        },
        invalidation,
        merged_into: root
            .str("merged_into")
            .filter(|_| status.as_deref() == Some("merged")),
        created_at: root.str("created_at").unwrap_or_default(),
        updated_at,
        sync_state,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::{commit, get_str_list, new_doc, Actor};
    use automerge::{transaction::Transactable, ReadDoc, ROOT};

    #[test]
    fn a_created_document_reads_back_as_the_contact_it_was_made_from() -> Result<()> {
        let actor = actor();
        let mut patch = ContactPatch {
            name: Some(" 张伟 ".into()),
            company: Some("深圳市华强科技有限公司".into()),
            title: Some(String::new()),
            phones: Some(vec!["138 0013 8000".into(), "+86 139-0013-9000".into()]),
            emails: Some(vec!["Zhang.Wei@Example.COM".into()]),
            address: Some("南山区科技园".into()),
            notes: Some("第一次拜访\n带样品".into()),
            ..Default::default()
        };
        patch.set.insert("wechat".into(), "zw2024".into());
        patch.set.insert("blank".into(), String::new());
        let fields = ContactFields::from_patch(patch, Region::default(), true)?;
        let (mut doc, made) = fields.create("c-1", &actor, "import", 1_700_000_000_000)?;
        assert_eq!(made.phones, ["+8613800138000", "+8613900139000"]);
        assert_eq!(made.title, None, "empty fields are left out");
        assert!(!made.extra.contains_key("blank"));
        let read = from_doc("c-1", &doc, made.updated_at.clone(), made.sync_state);
        assert_eq!(read, made);
        // Stored as its one change's bytes, it loads as the same document.
        let change = doc
            .get_last_local_change()
            .ok_or_else(|| Error::validation("doc", "", "a new document has its change"))?;
        let mut loaded = crate::record::load("c-1", change.raw_bytes(), &actor)?;
        assert_eq!(loaded.get_heads(), doc.get_heads());
        let reread = from_doc("c-1", &loaded, made.updated_at.clone(), made.sync_state);
        assert_eq!(reread, made);
        Ok(())
    }

    /// The root the document path built (kept as the oracle of [`first_change`]).
    fn hydrate_root(c: &Contact, encoding: automerge::TextEncoding) -> automerge::hydrate::Map {
        use automerge::hydrate;
        let mut root: std::collections::HashMap<String, hydrate::Value> = Default::default();
        if let Some(json) = crate::record::typed::to_json(&c.phones_typed) {
            root.insert(
                crate::record::typed::KEY.into(),
                hydrate::Value::scalar(json.as_str()),
            );
        }
        for (key, value) in &c.extra {
            root.insert(key.clone(), hydrate::Value::scalar(value.as_str()));
        }
        for key in TEXT_FIELDS {
            if let Some(v) = c.text_field(key) {
                root.insert(key.to_string(), hydrate::Value::scalar(v));
            }
        }
        root.insert("name".into(), hydrate::Value::scalar(c.name.as_str()));
        if let Some(notes) = &c.notes {
            root.insert("notes".into(), hydrate::Value::text(encoding, notes));
        }
        let list = |values: &[String]| -> hydrate::Value {
            values
                .iter()
                .map(|v| hydrate::Value::scalar(v.as_str()))
                .collect::<Vec<_>>()
                .into()
        };
        root.insert("phones".into(), list(&c.phones));
        root.insert("emails".into(), list(&c.emails));
        root.insert("id".into(), hydrate::Value::scalar(c.id.as_str()));
        root.insert("kind".into(), hydrate::Value::scalar("contact"));
        root.insert("status".into(), hydrate::Value::scalar(c.status.as_str()));
        root.insert(
            "created_at".into(),
            hydrate::Value::scalar(c.created_at.as_str()),
        );
        root.into()
    }

    #[test]
    fn the_encoded_first_change_is_byte_identical_to_the_document_path() -> Result<()> {
        let actor = actor();
        let mut cases = vec![
            ContactPatch {
                name: Some("张伟".into()),
                ..Default::default()
            },
            ContactPatch {
                name: Some("Zoë O'Brien".into()),
                company: Some("深圳市华强科技有限公司".into()),
                title: Some("总监".into()),
                phones: Some(vec![
                    "138 0013 8000".into(),
                    "+86 139-0013-9000".into(),
                    "0755-8888 8888 转 123".into(),
                ]),
                emails: Some(vec!["a@b.cn".into(), "Zoe@Example.COM".into()]),
                address: Some("南山区科技园".into()),
                source: Some("展会".into()),
                owner: Some("rep1".into()),
                // Combining marks, an emoji with a modifier and a CJK extension character:
                // one element per Unicode scalar value.
                notes: Some("第一次拜访\n带样品 e\u{301} 👍🏽 𠀀".into()),
                ..Default::default()
            },
        ];
        let mut extra = cases[0].clone();
        for (k, v) in [
            ("wechat", "zw"),
            ("Z", "upper"),
            ("a_b", "underscore"),
            ("行业", "制造"),
        ] {
            extra.set.insert(k.into(), v.into());
        }
        cases.push(extra);
        for (i, patch) in cases.into_iter().enumerate() {
            let fields = ContactFields::from_patch(patch, Region::default(), true)?;
            let id = format!("c-{i}");
            let now = 1_700_000_000_000 + i as i64;
            let (encoded, made) = fields.create_change(&id, &actor, "import", now);
            let mut doc = new_doc(&actor);
            doc.init_root_from_hydrate(&hydrate_root(&made, doc.text_encoding()))?;
            commit(&mut doc, &actor, "import", now);
            let built = doc
                .get_last_local_change()
                .ok_or_else(|| Error::validation("doc", "", "a new document has its change"))?;
            assert_eq!(encoded.raw_bytes(), built.raw_bytes(), "case {i}");
            assert_eq!(encoded.hash(), built.hash(), "case {i}");
        }
        Ok(())
    }

    fn actor() -> Actor {
        Actor {
            user: "rep1".into(),
            device: uuid::Uuid::now_v7().to_string(),
        }
    }

    #[test]
    fn known_keys_in_set_land_in_fields_and_unknown_in_extra() {
        let mut p = ContactPatch {
            name: Some(" 张伟 ".into()),
            ..Default::default()
        };
        p.set.insert("company".into(), "华强科技".into());
        p.set.insert("wechat".into(), "zhangwei88".into());
        p.set.insert("phone".into(), "138 0013 8000".into());
        let f = ContactFields::from_patch(p, Region::default(), true);
        let f = f.unwrap_or_default();
        assert_eq!(f.name.as_deref(), Some("张伟"));
        assert_eq!(f.company.as_deref(), Some("华强科技"));
        assert_eq!(f.phones, Some(vec!["+8613800138000".to_string()]));
        assert_eq!(
            f.extra.get("wechat").map(String::as_str),
            Some("zhangwei88")
        );
    }

    #[test]
    fn name_required_and_reserved_keys_refused() {
        let e = ContactFields::from_patch(ContactPatch::default(), Region::default(), true);
        assert!(matches!(e, Err(Error::Validation { ref field, .. }) if field == "name"));
        let mut p = ContactPatch {
            name: Some("李娜".into()),
            ..Default::default()
        };
        p.set.insert("status".into(), "active".into());
        let e = ContactFields::from_patch(p, Region::default(), true);
        assert!(matches!(e, Err(Error::Validation { ref field, .. }) if field == "status"));
    }

    #[test]
    fn unknown_keys_from_a_newer_app_survive_our_edits() {
        let a = actor();
        let mut doc = new_doc(&a);
        let f = ContactFields::from_patch(
            ContactPatch {
                name: Some("王芳".into()),
                ..Default::default()
            },
            Region::default(),
            true,
        );
        f.unwrap_or_default().apply(&mut doc).ok();
        // A newer app version writes a nested object and a number we do not know.
        let loyalty = doc
            .put_object(ROOT, "loyalty", automerge::ObjType::Map)
            .ok();
        if let Some(l) = loyalty {
            doc.put(&l, "tier", "gold").ok();
        }
        doc.put(ROOT, "score", 42_i64).ok();
        commit(&mut doc, &a, "test", 0);
        let edit = ContactFields::from_patch(
            ContactPatch {
                title: Some("经理".into()),
                ..Default::default()
            },
            Region::default(),
            false,
        );
        edit.unwrap_or_default().apply(&mut doc).ok();
        commit(&mut doc, &a, "test", 1);
        let c = from_doc("x", &doc, String::new(), SyncState::Local);
        assert_eq!(c.title.as_deref(), Some("经理"));
        assert_eq!(c.extra.get("score").map(String::as_str), Some("42"));
        assert_eq!(
            c.extra.get("loyalty").map(String::as_str),
            Some(r#"{"tier":"gold"}"#)
        );
    }

    #[test]
    fn list_edits_are_differences() {
        let a = actor();
        let mut doc = new_doc(&a);
        let list = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        super::set_str_list(&mut doc, "phones", &list(&["+1", "+2", "+3"])).ok();
        commit(&mut doc, &a, "t", 0);
        let mut other = doc.fork().with_actor(actor().actor_id());
        super::set_str_list(&mut doc, "phones", &list(&["+1", "+3", "+4"])).ok();
        commit(&mut doc, &a, "t", 1);
        assert_eq!(get_str_list(&doc, "phones"), list(&["+1", "+3", "+4"]));
        // A concurrent addition on another device is kept after merge.
        super::set_str_list(&mut other, "phones", &list(&["+1", "+2", "+3", "+5"])).ok();
        other.commit();
        doc.merge(&mut other).ok();
        let merged = get_str_list(&doc, "phones");
        assert!(merged.contains(&"+4".to_string()) && merged.contains(&"+5".to_string()));
        assert!(!merged.contains(&"+2".to_string()));
    }
}
