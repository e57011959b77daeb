//! Records are Automerge documents: one document per record, keyed by a UUIDv7 string.
//!
//! Scalar fields are last-writer-wins registers (map keys holding scalars), so a phone number can
//! never merge into a mix of two numbers. Lists of phones and emails are Automerge lists of
//! scalars, edited by difference so that concurrent additions on two devices are both kept.
//! Root keys that this build does not know are left untouched and surfaced as `extra`.

pub mod attachment;
pub mod config;
pub mod contact;
pub mod deal;
pub(crate) mod first_change;
pub mod history;
pub mod restricted;
pub mod task;
pub(crate) mod typed;
pub mod visit;

/// The kind of a record, as the `records` table, the outbox and the sync protocol spell it
/// ([`RecordKind::as_str`], [`RecordKind::parse`]): one enum for the whole core.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "ffi", derive(uniffi::Enum))]
#[serde(rename_all = "lowercase")]
pub enum RecordKind {
    /// A contact.
    Contact,
    /// A visit.
    Visit,
    /// An attachment (a scan or file linked to a contact).
    Attachment,
    /// A deal.
    Deal,
    /// A task (follow-up or planned visit).
    Task,
    /// The tenant's flow settings (authored by the server; see [`config`]). Never told to a
    /// change listener.
    Config,
    /// A restricted field of another record, in a document of its own (see [`restricted`]).
    /// A change listener is told its record's kind instead.
    Restricted,
}

impl RecordKind {
    /// Every kind this build knows.
    pub const ALL: [RecordKind; 7] = [
        RecordKind::Contact,
        RecordKind::Visit,
        RecordKind::Attachment,
        RecordKind::Deal,
        RecordKind::Task,
        RecordKind::Config,
        RecordKind::Restricted,
    ];

    /// `contact`, `visit`, `attachment`, `deal`, `task`, `config` or `restricted`: the spelling
    /// of SQL rows and the wire.
    pub fn as_str(&self) -> &'static str {
        match self {
            RecordKind::Contact => "contact",
            RecordKind::Visit => "visit",
            RecordKind::Attachment => "attachment",
            RecordKind::Deal => "deal",
            RecordKind::Task => "task",
            RecordKind::Config => "config",
            RecordKind::Restricted => crate::access::RESTRICTED_KIND,
        }
    }

    /// The kind spelled `s`; `None` for a kind this build does not know (a newer app's).
    pub fn parse(s: &str) -> Option<RecordKind> {
        RecordKind::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

impl std::fmt::Display for RecordKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where a record stands with the server, as the `records.sync_state` column and the JSON of a
/// record spell it ([`SyncState::as_str`], [`SyncState::parse`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SyncState {
    /// Changed on this device since the server last had it: changes wait in the outbox.
    Local,
    /// Everything this device wrote has reached the server.
    Synced,
    /// Written only by stores older than schema version 10, for a record with a change the
    /// server refused; the next sync undoes the refused change and makes it `local` or `synced`
    /// again. This build never writes it.
    Rejected,
}

impl SyncState {
    /// Every sync state the `records` table allows.
    pub const ALL: [SyncState; 3] = [SyncState::Local, SyncState::Synced, SyncState::Rejected];

    /// `local`, `synced` or `rejected`: the spelling of SQL rows and JSON.
    pub fn as_str(&self) -> &'static str {
        match self {
            SyncState::Local => "local",
            SyncState::Synced => "synced",
            SyncState::Rejected => "rejected",
        }
    }

    /// The sync state spelled `s`; `None` for any other text.
    pub fn parse(s: &str) -> Option<SyncState> {
        SyncState::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

impl std::fmt::Display for SyncState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A `records.sync_state` value this build does not know (a damaged or foreign database).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown sync state {0:?} in the records table (expected local, synced or rejected)")]
pub struct UnknownSyncState(pub String);

#[cfg(feature = "store")]
impl rusqlite::types::ToSql for SyncState {
    fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
        Ok(self.as_str().into())
    }
}

#[cfg(feature = "store")]
impl rusqlite::types::FromSql for SyncState {
    fn column_result(value: rusqlite::types::ValueRef<'_>) -> rusqlite::types::FromSqlResult<Self> {
        let text = value.as_str()?;
        SyncState::parse(text).ok_or_else(|| {
            rusqlite::types::FromSqlError::Other(Box::new(UnknownSyncState(text.to_string())))
        })
    }
}

/// The record kinds this build knows, as spelled on the wire.
pub const KINDS: &[&str] = &[
    "contact",
    "visit",
    "attachment",
    "deal",
    "task",
    "config",
    crate::access::RESTRICTED_KIND,
];

/// Checks that a document (for example one a server received from a device) is a valid record
/// of `kind`; the reason names the field.
pub fn validate_doc(kind: &str, doc: &AutoCommit) -> std::result::Result<(), String> {
    match RecordKind::parse(kind) {
        Some(RecordKind::Contact) => contact::validate_doc(doc),
        Some(RecordKind::Visit) => visit::validate_doc(doc),
        Some(RecordKind::Attachment) => attachment::validate_doc(doc),
        Some(RecordKind::Deal) => deal::validate_doc(doc),
        Some(RecordKind::Task) => task::validate_doc(doc),
        Some(RecordKind::Config) => config::validate_doc(doc),
        Some(RecordKind::Restricted) => restricted::validate_doc(doc),
        None => Err(format!("unknown record kind {kind:?}")),
    }
}

use crate::error::{Error, Result};
use automerge::{
    transaction::{CommitOptions, Transactable},
    ActorId, AutoCommit, ObjId, ObjType, ReadDoc, ScalarValue, Value, ROOT,
};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Who makes a change: the signed-in user and the device's id (also its Automerge actor).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    /// The user name or id signed in on this device.
    pub user: String,
    /// The device id (a UUID string); its 16 bytes are the Automerge actor id.
    pub device: String,
}

impl Actor {
    pub(crate) fn actor_id(&self) -> ActorId {
        match uuid::Uuid::parse_str(&self.device) {
            Ok(u) => ActorId::from(u.as_bytes().as_slice()),
            Err(_) => ActorId::from(self.device.as_bytes()),
        }
    }
}

/// The commit message stored in every change we make: who, and what action.
///
/// Written `action user` (`edit 张伟`): the action is a lower-case word, the user everything
/// after the first space. Changes written before protocol version 2 carry the JSON
/// `{"u":user,"a":action}`, 14 bytes longer on every change; both forms are read.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize, PartialEq, Eq)]
pub(crate) struct ChangeMessage {
    /// The user.
    #[serde(rename = "u")]
    pub user: String,
    /// What the user did.
    #[serde(rename = "a")]
    pub action: String,
}

impl ChangeMessage {
    fn plain_action(action: &str) -> bool {
        !action.is_empty()
            && action
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b == b'_' || b == b'.')
    }

    /// The message as a change carries it: `action user`, or the JSON form for an action that is
    /// not a plain lower-case word.
    pub(crate) fn encode(&self) -> String {
        if Self::plain_action(&self.action) {
            format!("{} {}", self.action, self.user)
        } else {
            serde_json::to_string(self).unwrap_or_default()
        }
    }

    /// Reads a change's message in either form; `None` for a message we did not write.
    pub(crate) fn parse(message: &str) -> Option<ChangeMessage> {
        if message.starts_with('{') {
            return serde_json::from_str(message).ok();
        }
        let (action, user) = message.split_once(' ')?;
        Self::plain_action(action).then(|| ChangeMessage {
            user: user.to_string(),
            action: action.to_string(),
        })
    }
}

/// Loads a stored document and sets this device as its actor.
pub(crate) fn load(id: &str, bytes: &[u8], actor: &Actor) -> Result<AutoCommit> {
    let doc = AutoCommit::load(bytes).map_err(|e| Error::Document {
        id: id.to_string(),
        reason: e.to_string(),
    })?;
    Ok(doc.with_actor(actor.actor_id()))
}

/// A new, empty document written by `actor`.
pub(crate) fn new_doc(actor: &Actor) -> AutoCommit {
    AutoCommit::new().with_actor(actor.actor_id())
}

/// Commits pending operations with who/when/what; `None` if nothing changed.
pub(crate) fn commit(
    doc: &mut AutoCommit,
    actor: &Actor,
    action: &str,
    now_ms: i64,
) -> Option<automerge::ChangeHash> {
    // The device is the change's actor already; the message stays short on the wire.
    commit_as(doc, &actor.user, action, now_ms)
}

/// Commits pending operations as `user` (the server writes as [`config::SERVER_USER`]),
/// with the message every change carries ([`ChangeMessage`]); `None` if nothing changed.
pub(crate) fn commit_as(
    doc: &mut AutoCommit,
    user: &str,
    action: &str,
    now_ms: i64,
) -> Option<automerge::ChangeHash> {
    let message = ChangeMessage {
        user: user.to_string(),
        action: action.to_string(),
    };
    doc.commit_with(
        CommitOptions::default()
            .with_message(message.encode())
            .with_time(now_ms),
    )
}

/// A document's root map read in one pass ([`ReadDoc::map_range`]): each key's winning value,
/// as [`ReadDoc::get`] would answer it. Reading a record's dozen fields through it walks the
/// root once instead of seeking each key (a contact's projection read 3x faster).
pub(crate) struct Root<'d> {
    doc: &'d AutoCommit,
    values: BTreeMap<String, (Value<'static>, ObjId)>,
}

impl<'d> Root<'d> {
    pub(crate) fn read(doc: &'d AutoCommit) -> Self {
        let values = doc
            .map_range(ROOT, ..)
            .map(|item| {
                let id = item.id();
                (item.key.into_owned(), (item.value.into_value(), id))
            })
            .collect();
        Root { doc, values }
    }

    /// [`get_str`] of this root.
    pub(crate) fn str(&self, key: &str) -> Option<String> {
        match self.values.get(key)? {
            (Value::Scalar(s), _) => s.as_str().map(str::to_string),
            (Value::Object(ObjType::Text), obj) => self.doc.text(obj).ok(),
            _ => None,
        }
    }

    /// [`get_str_list`] of this root.
    pub(crate) fn str_list(&self, key: &str) -> Vec<String> {
        let Some((Value::Object(ObjType::List), list)) = self.values.get(key) else {
            return Vec::new();
        };
        str_items(self.doc, list)
    }

    /// [`extra`] of this root.
    pub(crate) fn extra(&self, known: &[&str]) -> BTreeMap<String, String> {
        self.values
            .iter()
            .filter(|(k, _)| !known.contains(&k.as_str()))
            .map(|(k, (value, obj))| (k.clone(), render_value(self.doc, value.clone(), obj)))
            .collect()
    }
}

/// The string at a root key, if it holds a string scalar (or text).
pub(crate) fn get_str(doc: &AutoCommit, key: &str) -> Option<String> {
    match doc.get(ROOT, key).ok().flatten()? {
        (Value::Scalar(s), _) => s.as_str().map(str::to_string),
        (Value::Object(ObjType::Text), obj) => doc.text(&obj).ok(),
        _ => None,
    }
}

/// The number at a root key.
pub(crate) fn get_f64(doc: &AutoCommit, key: &str) -> Option<f64> {
    match doc.get(ROOT, key).ok().flatten()? {
        (Value::Scalar(s), _) => s.as_f64(),
        _ => None,
    }
}

/// The integer at a root key.
pub(crate) fn get_i64(doc: &AutoCommit, key: &str) -> Option<i64> {
    match doc.get(ROOT, key).ok().flatten()? {
        (Value::Scalar(s), _) => s.as_i64(),
        _ => None,
    }
}

/// The strings of a list at a root key (non-string items are skipped).
pub(crate) fn get_str_list(doc: &AutoCommit, key: &str) -> Vec<String> {
    let Some((Value::Object(ObjType::List), list)) = doc.get(ROOT, key).ok().flatten() else {
        return Vec::new();
    };
    str_items(doc, &list)
}

/// The string items of a list (non-string items are skipped).
fn str_items(doc: &AutoCommit, list: &ObjId) -> Vec<String> {
    doc.values(list)
        .filter_map(|(v, _)| match v {
            Value::Scalar(s) => s.as_str().map(str::to_string),
            _ => None,
        })
        .collect()
}

/// Sets a string register; an empty value deletes the key. No-op when unchanged.
pub(crate) fn put_opt_str(doc: &mut AutoCommit, key: &str, value: Option<&str>) -> Result<()> {
    let current = get_str(doc, key);
    match value.filter(|v| !v.is_empty()) {
        Some(v) if current.as_deref() != Some(v) => doc.put(ROOT, key, v)?,
        None if doc.get(ROOT, key)?.is_some() => doc.delete(ROOT, key)?,
        _ => {}
    }
    Ok(())
}

/// Sets a scalar register unless it already holds that value.
pub(crate) fn put_scalar(doc: &mut AutoCommit, key: &str, value: ScalarValue) -> Result<()> {
    let same = matches!(doc.get(ROOT, key)?, Some((Value::Scalar(s), _)) if *s == value);
    if !same {
        doc.put(ROOT, key, value)?;
    }
    Ok(())
}

/// Makes the list at `key` hold `values`, by difference: items no longer wanted are deleted and
/// new ones inserted in place, so concurrent additions on two devices are both kept.
pub(crate) fn set_str_list(doc: &mut AutoCommit, key: &str, values: &[String]) -> Result<()> {
    let list: ObjId = match doc.get(ROOT, key)? {
        Some((Value::Object(ObjType::List), id)) => id,
        _ => {
            if values.is_empty() {
                return Ok(());
            }
            doc.put_object(ROOT, key, ObjType::List)?
        }
    };
    let current: Vec<Option<String>> = doc
        .values(&list)
        .map(|(v, _)| match v {
            Value::Scalar(s) => s.as_str().map(str::to_string),
            _ => None,
        })
        .collect();
    // Delete (from the end) what is not wanted any more.
    for (i, item) in current.iter().enumerate().rev() {
        if !item.as_ref().is_some_and(|s| values.contains(s)) {
            doc.delete(&list, i)?;
        }
    }
    // Insert what is missing at its position.
    let mut kept: Vec<String> = current
        .into_iter()
        .flatten()
        .filter(|s| values.contains(s))
        .collect();
    for (i, value) in values.iter().enumerate() {
        if !kept.contains(value) {
            let at = i.min(kept.len());
            doc.insert(&list, at, value.as_str())?;
            kept.insert(at, value.clone());
        }
    }
    Ok(())
}

/// Replaces a text object's content with `value` (minimal splice), creating it if needed;
/// `None` or empty deletes it.
pub(crate) fn put_text(doc: &mut AutoCommit, key: &str, value: Option<&str>) -> Result<()> {
    match value.filter(|v| !v.is_empty()) {
        None => {
            if doc.get(ROOT, key)?.is_some() {
                doc.delete(ROOT, key)?;
            }
        }
        Some(v) => {
            let obj = match doc.get(ROOT, key)? {
                Some((Value::Object(ObjType::Text), id)) => id,
                _ => doc.put_object(ROOT, key, ObjType::Text)?,
            };
            doc.update_text(&obj, v)?;
        }
    }
    Ok(())
}

/// Renders any value for `extra`: strings as they are, other scalars as text, objects as JSON.
pub(crate) fn render_value(doc: &AutoCommit, value: Value<'_>, obj: &ObjId) -> String {
    match value {
        Value::Scalar(s) => match s.as_ref() {
            ScalarValue::Str(s) => s.to_string(),
            ScalarValue::Null => String::new(),
            ScalarValue::Bytes(b) => b.iter().map(|x| format!("{x:02x}")).collect(),
            other => other.to_string(),
        },
        Value::Object(ObjType::Text) => doc.text(obj).unwrap_or_default(),
        Value::Object(_) => doc
            .hydrate(obj, None)
            .ok()
            .and_then(|h| serde_json::to_string(&hydrate_json(&h)).ok())
            .unwrap_or_default(),
    }
}

fn hydrate_json(value: &automerge::hydrate::Value) -> serde_json::Value {
    use automerge::hydrate::Value as H;
    match value {
        H::Scalar(s) => match s {
            ScalarValue::Str(s) => serde_json::Value::String(s.to_string()),
            ScalarValue::Int(i) => (*i).into(),
            ScalarValue::Uint(u) => (*u).into(),
            ScalarValue::F64(f) => serde_json::Number::from_f64(*f)
                .map(serde_json::Value::Number)
                .unwrap_or(serde_json::Value::Null),
            ScalarValue::Boolean(b) => (*b).into(),
            ScalarValue::Null => serde_json::Value::Null,
            other => serde_json::Value::String(other.to_string()),
        },
        H::Map(m) => serde_json::Value::Object(
            m.iter()
                .map(|(k, v)| (k.to_string(), hydrate_json(&v.value)))
                .collect(),
        ),
        H::List(l) => serde_json::Value::Array(l.iter().map(|v| hydrate_json(&v.value)).collect()),
        H::Text(t) => serde_json::Value::String(t.to_string()),
    }
}

/// Every root key not in `known`, rendered for `extra`.
pub(crate) fn extra(doc: &AutoCommit, known: &[&str]) -> BTreeMap<String, String> {
    doc.keys(ROOT)
        .filter(|k| !known.contains(&k.as_str()))
        .filter_map(|k| {
            let (value, obj) = doc.get(ROOT, k.as_str()).ok().flatten()?;
            let rendered = render_value(doc, value, &obj);
            Some((k, rendered))
        })
        .collect()
}

/// Validates an `extra` key: printable, not too long, not a key this build reserves.
pub(crate) fn check_extra_key(key: &str, reserved: &[&str]) -> Result<()> {
    if key.is_empty() || key.chars().count() > 64 {
        return Err(Error::validation(
            "extra",
            key,
            "extra field names must be 1 to 64 characters",
        ));
    }
    if key
        .chars()
        .any(|c| c.is_control() || c.is_whitespace() || c == '=')
    {
        return Err(Error::validation(
            "extra",
            key,
            "extra field names may not contain spaces, = or control characters",
        ));
    }
    if reserved.contains(&key) {
        return Err(Error::validation(
            key,
            key,
            "this field is managed by Outpost and cannot be set",
        ));
    }
    Ok(())
}

/// Checks a free-text field: at most `max` characters, no control characters but newlines/tabs.
pub(crate) fn check_text(field: &str, value: &str, max: usize) -> Result<()> {
    if value.chars().count() > max {
        return Err(Error::validation(
            field,
            value.chars().take(40).collect::<String>() + "…",
            format!("longer than {max} characters"),
        ));
    }
    if value
        .chars()
        .any(|c| c.is_control() && c != '\n' && c != '\t' && c != '\r')
    {
        return Err(Error::validation(
            field,
            value,
            "contains control characters",
        ));
    }
    Ok(())
}

/// Milliseconds since the epoch rendered as an RFC 3339 UTC timestamp with milliseconds.
pub(crate) fn rfc3339_ms(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .unwrap_or_default()
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// The latest change time in the document (its `updated_at`).
pub(crate) fn last_change_ms(doc: &mut AutoCommit) -> i64 {
    doc.get_changes_meta(&[])
        .iter()
        .map(|c| c.timestamp)
        .max()
        .unwrap_or_default()
}

/// Whether some field of a document has concurrent, unresolved values (what the store's
/// `field_conflicts` lists, without rendering them): one pass over the root map.
pub(crate) fn has_field_conflicts(doc: &AutoCommit) -> bool {
    doc.map_range(automerge::ROOT, ..).any(|item| item.conflict)
}

/// The heads of a document as bytes (32 bytes each), for the `records.heads` column.
pub(crate) fn heads_bytes(doc: &mut AutoCommit) -> Vec<u8> {
    doc.get_heads().iter().flat_map(|h| h.0).collect()
}

#[cfg(test)]
mod sync_state_tests {
    use super::SyncState;

    #[test]
    fn sync_states_are_spelled_as_stored_and_as_before_in_json() -> Result<(), serde_json::Error> {
        for s in SyncState::ALL {
            assert_eq!(SyncState::parse(s.as_str()), Some(s));
            assert_eq!(serde_json::to_string(&s)?, format!("\"{s}\""));
            assert_eq!(serde_json::from_str::<SyncState>(&format!("\"{s}\""))?, s);
        }
        assert_eq!(SyncState::Local.as_str(), "local");
        assert_eq!(SyncState::Synced.as_str(), "synced");
        assert_eq!(SyncState::parse("Local"), None);
        assert!(serde_json::from_str::<SyncState>("\"pending\"").is_err());
        Ok(())
    }

    #[cfg(feature = "store")]
    #[test]
    fn a_sync_state_round_trips_through_sql_and_an_unknown_one_is_refused() -> rusqlite::Result<()>
    {
        let conn = rusqlite::Connection::open_in_memory()?;
        for s in SyncState::ALL {
            let text: String = conn.query_row("SELECT ?1", [s], |r| r.get(0))?;
            assert_eq!(text, s.as_str());
            let back: SyncState = conn.query_row("SELECT ?1", [s], |r| r.get(0))?;
            assert_eq!(back, s);
        }
        let refused = conn
            .query_row("SELECT 'pending'", [], |r| r.get::<_, SyncState>(0))
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(
            refused.contains("unknown sync state \"pending\""),
            "{refused}"
        );
        Ok(())
    }
}

#[cfg(test)]
mod change_message_tests {
    use super::ChangeMessage;

    fn msg(user: &str, action: &str) -> ChangeMessage {
        ChangeMessage {
            user: user.into(),
            action: action.into(),
        }
    }

    #[test]
    fn messages_are_short_and_both_forms_read() {
        let m = msg("张伟 (华南)", "check_in");
        assert_eq!(m.encode(), "check_in 张伟 (华南)");
        assert_eq!(ChangeMessage::parse(&m.encode()), Some(m));
        // What changes carried before protocol version 2.
        assert_eq!(
            ChangeMessage::parse(r#"{"u":"rep_a","a":"edit"}"#),
            Some(msg("rep_a", "edit"))
        );
        // An action that is not a plain word keeps the JSON form, and reads back.
        let odd = msg("rep a", "Stage Move");
        assert!(odd.encode().starts_with('{'));
        assert_eq!(ChangeMessage::parse(&odd.encode()), Some(odd));
        // Messages another Automerge program wrote are not ours.
        for foreign in ["Fix typo", "initial", "", "{not json"] {
            assert_eq!(ChangeMessage::parse(foreign), None, "{foreign}");
        }
        assert_eq!(ChangeMessage::parse("edit "), Some(msg("", "edit")));
    }
}

#[cfg(test)]
mod root_tests {
    use super::{extra, get_str, get_str_list, Root};
    use automerge::transaction::Transactable;
    use automerge::{ActorId, AutoCommit, ObjType, ROOT};

    #[test]
    fn one_pass_reads_what_key_by_key_reads() -> Result<(), automerge::AutomergeError> {
        let mut doc = AutoCommit::new().with_actor(ActorId::from([1u8; 16].as_slice()));
        doc.put(ROOT, "name", "张伟")?;
        let notes = doc.put_object(ROOT, "notes", ObjType::Text)?;
        doc.splice_text(&notes, 0, 0, "第一次拜访")?;
        let phones = doc.put_object(ROOT, "phones", ObjType::List)?;
        doc.insert(&phones, 0, "+8613800138000")?;
        doc.insert(&phones, 1, 7_i64)?;
        doc.put(ROOT, "visits", 3_i64)?;
        doc.put(ROOT, "gone", "x")?;
        doc.delete(ROOT, "gone")?;
        doc.commit();
        // A conflict: both values are kept, one wins, for both ways of reading.
        let mut other = doc.fork().with_actor(ActorId::from([2u8; 16].as_slice()));
        doc.put(ROOT, "title", "经理")?;
        other.put(ROOT, "title", "总监")?;
        doc.merge(&mut other)?;
        let root = Root::read(&doc);
        for key in [
            "name", "notes", "phones", "visits", "gone", "title", "missing",
        ] {
            assert_eq!(root.str(key), get_str(&doc, key), "{key}");
            assert_eq!(root.str_list(key), get_str_list(&doc, key), "{key}");
        }
        assert_eq!(root.str("notes").as_deref(), Some("第一次拜访"));
        assert_eq!(root.str_list("phones"), vec!["+8613800138000".to_string()]);
        assert_eq!(root.extra(&["name"]), extra(&doc, &["name"]));
        assert_eq!(root.extra(&[]).len(), 5);
        Ok(())
    }
}
