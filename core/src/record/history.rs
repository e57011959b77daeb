//! "Who changed what, when", read from the document's own change history.

use super::ChangeMessage;
use automerge::{AutoCommit, ChangeHash, ObjType, ReadDoc, ScalarValue, Value, ROOT};
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;

/// One change of a record: when, by whom, and which fields went from what to what.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ffi", derive(uniffi::Record))]
pub struct HistoryEntry {
    /// When the change was made (RFC 3339, the writing device's clock).
    pub at: String,
    /// The user who made it.
    pub actor: String,
    /// The device it was made on.
    pub device: String,
    /// What the user did (`create`, `edit`, `invalidate`, `check_in`, ...).
    pub action: String,
    /// The fields it changed.
    pub changes: Vec<FieldChange>,
}

/// One field's change. Lists are shown comma-separated.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ffi", derive(uniffi::Record))]
pub struct FieldChange {
    /// The field (`name`, `phones`, or an extra field's key).
    pub field: String,
    /// The value before, if it had one.
    pub old: Option<String>,
    /// The value after, if it has one.
    pub new: Option<String>,
}

/// Fields that are bookkeeping, not something a person changed.
const HIDDEN: &[&str] = &["id", "kind"];

fn value_at(doc: &AutoCommit, key: &str, heads: &[ChangeHash]) -> Option<String> {
    let (value, obj) = doc.get_at(ROOT, key, heads).ok().flatten()?;
    Some(match value {
        Value::Scalar(s) => match s.as_ref() {
            ScalarValue::Str(s) => s.to_string(),
            other => other.to_string(),
        },
        Value::Object(ObjType::Text) => doc.text_at(&obj, heads).ok()?,
        Value::Object(ObjType::List) => doc
            .values_at(&obj, heads)
            .filter_map(|(v, _)| match v {
                Value::Scalar(s) => Some(match s.as_ref() {
                    ScalarValue::Str(s) => s.to_string(),
                    other => other.to_string(),
                }),
                _ => None,
            })
            .collect::<Vec<_>>()
            .join(", "),
        Value::Object(_) => doc
            .hydrate(&obj, Some(heads))
            .map(|h| format!("{h:?}"))
            .unwrap_or_default(),
    })
}

/// What we need of one change's metadata, owned so the document can be read meanwhile.
struct ChangeInfo {
    hash: ChangeHash,
    deps: Vec<ChangeHash>,
    timestamp: i64,
    message: Option<String>,
    actor_hex: String,
}

fn hex_bytes(hex: &str) -> Vec<u8> {
    (0..hex.len() / 2)
        .filter_map(|i| u8::from_str_radix(hex.get(2 * i..2 * i + 2)?, 16).ok())
        .collect()
}

/// The history of a document, oldest first.
pub(crate) fn history(doc: &mut AutoCommit) -> Vec<HistoryEntry> {
    let metas: Vec<ChangeInfo> = doc
        .get_changes_meta(&[])
        .into_iter()
        .map(|m| ChangeInfo {
            hash: m.hash,
            deps: m.deps.clone(),
            timestamp: m.timestamp,
            message: m.message.map(|s| s.to_string()),
            actor_hex: m.actor.to_hex_string(),
        })
        .collect();
    let mut out = Vec::with_capacity(metas.len());
    for ChangeInfo {
        hash,
        deps,
        timestamp,
        message,
        actor_hex,
    } in metas
    {
        let after = [hash];
        let keys: BTreeSet<String> = doc
            .keys_at(ROOT, &deps)
            .chain(doc.keys_at(ROOT, &after))
            .collect();
        let changes: Vec<FieldChange> = keys
            .into_iter()
            .filter(|k| !HIDDEN.contains(&k.as_str()))
            .filter_map(|field| {
                let old = value_at(doc, &field, &deps);
                let new = value_at(doc, &field, &after);
                (old != new).then_some(FieldChange { field, old, new })
            })
            .collect();
        let msg = message.as_deref().and_then(ChangeMessage::parse);
        let device = uuid::Uuid::from_slice(&hex_bytes(&actor_hex))
            .map(|u| u.to_string())
            .unwrap_or(actor_hex.clone());
        let (actor, action) = match msg {
            Some(m) => (m.user, m.action),
            None => (device.clone(), "edit".to_string()),
        };
        out.push(HistoryEntry {
            at: super::rfc3339_ms(timestamp),
            actor,
            device,
            action,
            changes,
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::{commit, new_doc, put_opt_str, set_str_list, Actor};

    #[test]
    fn history_lists_who_what_and_old_to_new() {
        let rep = Actor {
            user: "rep1".into(),
            device: uuid::Uuid::now_v7().to_string(),
        };
        let mgr = Actor {
            user: "mgr".into(),
            device: uuid::Uuid::now_v7().to_string(),
        };
        let mut doc = new_doc(&rep);
        put_opt_str(&mut doc, "name", Some("张伟")).ok();
        put_opt_str(&mut doc, "title", Some("经理")).ok();
        set_str_list(&mut doc, "phones", &["+8613800138000".to_string()]).ok();
        commit(&mut doc, &rep, "create", 1_700_000_000_000);
        doc.set_actor(mgr.actor_id());
        put_opt_str(&mut doc, "title", Some("总监")).ok();
        commit(&mut doc, &mgr, "edit", 1_700_000_060_000);
        let h = history(&mut doc);
        assert_eq!(h.len(), 2);
        assert_eq!(h[0].actor, "rep1");
        assert_eq!(h[0].action, "create");
        assert!(h[0]
            .changes
            .iter()
            .any(|c| c.field == "name" && c.old.is_none() && c.new.as_deref() == Some("张伟")));
        assert!(h[0]
            .changes
            .iter()
            .any(|c| c.field == "phones" && c.new.as_deref() == Some("+8613800138000")));
        assert_eq!(h[1].actor, "mgr");
        assert_eq!(
            h[1].changes,
            vec![FieldChange {
                field: "title".into(),
                old: Some("经理".into()),
                new: Some("总监".into())
            }]
        );
        assert_eq!(h[1].at, "2023-11-14T22:14:20.000Z");
    }
}
