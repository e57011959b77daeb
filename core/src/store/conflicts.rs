//! Concurrent edits of one field: the competing values a contact's fields hold after sync, and
//! resolving them with a fresh write that supersedes all of them, on every device.

use super::records::load_record;
use super::{RecordKind, Store};
use crate::error::{Error, Result};
use crate::record::{self, contact};
use automerge::{
    transaction::Transactable, AutoCommit, ObjType, ReadDoc, ScalarValue, Value, ROOT,
};
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;

/// One competing value of a field edited concurrently on several devices.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ffi", derive(uniffi::Record))]
pub struct ConflictValue {
    /// The value (lists comma-separated).
    pub value: String,
    /// The user who wrote it.
    pub actor: String,
    /// When (RFC 3339, the writing device's clock).
    pub at: String,
}

/// A field with competing values. Every device shows the same winner (`values[0]`) until a
/// user resolves it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ffi", derive(uniffi::Record))]
pub struct FieldConflict {
    /// The field.
    pub field: String,
    /// The competing values, the current winner first.
    pub values: Vec<ConflictValue>,
}

fn render(value: &Value<'_>, doc: &AutoCommit, obj: &automerge::ObjId) -> String {
    match value {
        Value::Object(ObjType::List) => doc
            .values(obj)
            .filter_map(|(v, _)| match v {
                Value::Scalar(s) => s.as_str().map(str::to_string),
                _ => None,
            })
            .collect::<Vec<_>>()
            .join(", "),
        other => record::render_value(doc, other.clone(), obj),
    }
}

pub(crate) use crate::record::has_field_conflicts;

/// The fields of a document with concurrent, unresolved values.
pub(crate) fn field_conflicts(doc: &mut AutoCommit) -> Vec<FieldConflict> {
    let keys: Vec<String> = doc.keys(ROOT).collect();
    let mut out = Vec::new();
    for key in keys {
        let Ok(all) = doc.get_all(ROOT, key.as_str()) else {
            continue;
        };
        let all: Vec<(Value<'static>, automerge::ObjId)> =
            all.into_iter().map(|(v, o)| (v.into_owned(), o)).collect();
        if all.len() < 2 {
            continue;
        }
        // The winner is what `get` returns; list it first.
        let winner = doc.get(ROOT, key.as_str()).ok().flatten().map(|(_, id)| id);
        let mut values: Vec<(bool, ConflictValue)> = Vec::new();
        for (value, obj) in all {
            let rendered = render(&value, doc, &obj);
            let (actor, at) = doc
                .hash_for_opid(&obj)
                .and_then(|h| {
                    doc.get_change_meta_by_hash(&h)
                        .map(|m| (m.message.map(|s| s.to_string()), m.timestamp))
                })
                .map(|(msg, ts)| {
                    let user = msg
                        .and_then(|m| record::ChangeMessage::parse(&m))
                        .map(|m| m.user)
                        .unwrap_or_default();
                    (user, record::rfc3339_ms(ts))
                })
                .unwrap_or_default();
            values.push((
                Some(&obj) == winner.as_ref(),
                ConflictValue {
                    value: rendered,
                    actor,
                    at,
                },
            ));
        }
        values.sort_by_key(|(is_winner, _)| !*is_winner);
        out.push(FieldConflict {
            field: key,
            values: values.into_iter().map(|(_, v)| v).collect(),
        });
    }
    out
}

impl Store {
    /// Fields of a contact that were edited concurrently on several devices and not yet resolved.
    pub fn contact_conflicts(&self, id: &str) -> Result<Vec<FieldConflict>> {
        self.guard()?;
        let run = || -> Result<Vec<FieldConflict>> {
            let (_, mut doc, _) = load_record(&self.conn, RecordKind::Contact, id, &self.actor)?;
            Ok(field_conflicts(&mut doc))
        };
        self.ctx(run())
    }

    /// Resolves a conflict: `value`, one of the competing values of `field` (as
    /// [`Store::contact_conflicts`] lists them; a list of phones or emails in any order and in
    /// any form the contact form accepts), is written so that it supersedes every competing
    /// value, on this device now and on every device after sync. A field without a conflict, or
    /// a value that is not one of the competing ones, is refused naming the field (an ordinary
    /// edit changes a field to a new value; [`Store::resolve_contact_conflict_with_new_value`]
    /// resolves with a value none of them had).
    pub fn resolve_contact_conflict(
        &mut self,
        id: &str,
        field: &str,
        value: &str,
    ) -> Result<crate::Contact> {
        self.guard()?;
        self.resolve(id, field, value, false)
    }

    /// Resolves a conflict on `field` with a new `value` that none of the competing values had
    /// (both were wrong), validated like an edit; it supersedes every competing value. A field
    /// without a conflict is refused naming the field.
    pub fn resolve_contact_conflict_with_new_value(
        &mut self,
        id: &str,
        field: &str,
        value: &str,
    ) -> Result<crate::Contact> {
        self.guard()?;
        self.resolve(id, field, value, true)
    }

    fn resolve(
        &mut self,
        id: &str,
        field: &str,
        value: &str,
        new_value: bool,
    ) -> Result<crate::Contact> {
        let conflicts = self.contact_conflicts(id)?;
        check_choice(&conflicts, field, value, self.region, new_value)?;
        let mut patch = crate::ContactPatch::default();
        let items = || {
            value
                .split(',')
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty())
                .collect::<Vec<_>>()
        };
        match field {
            "phones" => patch.phones = Some(items()),
            "emails" => patch.emails = Some(items()),
            _ => {
                patch.set.insert(field.to_string(), value.to_string());
            }
        }
        let fields = contact::ContactFields::from_patch(patch, self.region, false)?;
        let r = self.change_contact(id, "resolve", |doc| {
            // A fresh write, even of the value that currently wins, supersedes all of them.
            match field {
                "phones" | "emails" => {
                    let values = if field == "phones" {
                        fields.phones.clone()
                    } else {
                        fields.emails.clone()
                    };
                    let list = doc.put_object(ROOT, field, ObjType::List)?;
                    for (i, v) in values.unwrap_or_default().iter().enumerate() {
                        doc.insert(&list, i, v.as_str())?;
                    }
                }
                "notes" => {
                    let text = doc.put_object(ROOT, field, ObjType::Text)?;
                    doc.splice_text(&text, 0, 0, fields.notes.as_deref().unwrap_or_default())?;
                }
                _ => {
                    let v = if field == "name" {
                        fields.name.clone()
                    } else {
                        fields.text_field(field).cloned()
                    }
                    .or_else(|| fields.extra.get(field).cloned())
                    .unwrap_or_default();
                    doc.put(ROOT, field, ScalarValue::Str(v.into()))?;
                }
            }
            Ok(())
        });
        let c = self.ctx(r)?;
        self.notify(RecordKind::Contact, &c.id);
        Ok(c)
    }
}

/// Checks that `field` has a conflict among `conflicts` and, unless `new_value`, that `value`
/// is one of its competing values: the same text (trimmed), or for `phones` and `emails` the
/// same values in any order, each compared in its stored form.
fn check_choice(
    conflicts: &[FieldConflict],
    field: &str,
    value: &str,
    region: crate::Region,
    new_value: bool,
) -> Result<()> {
    let Some(conflict) = conflicts.iter().find(|c| c.field == field) else {
        let open: Vec<&str> = conflicts.iter().map(|c| c.field.as_str()).collect();
        return Err(Error::validation(
            field,
            value,
            if open.is_empty() {
                "no conflict on this field (nor on any other of this contact): change it with an edit"
                    .to_string()
            } else {
                format!(
                    "no conflict on this field (the fields in conflict: {}): change it with an edit",
                    open.join(", ")
                )
            },
        ));
    };
    if new_value {
        return Ok(());
    }
    let list = |text: &str| -> Result<BTreeSet<String>> {
        text.split(',')
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .map(|v| match field {
                "phones" => crate::normalize::phone(field, v, region),
                _ => crate::normalize::email(field, v),
            })
            .collect()
    };
    let chosen = |candidate: &str| -> Result<bool> {
        Ok(match field {
            "phones" | "emails" => list(value)? == list(candidate).unwrap_or_default(),
            _ => value.trim() == candidate.trim(),
        })
    };
    for candidate in &conflict.values {
        if chosen(&candidate.value)? {
            return Ok(());
        }
    }
    let values: Vec<String> = conflict
        .values
        .iter()
        .map(|v| format!("{:?}", v.value))
        .collect();
    Err(Error::validation(
        field,
        value,
        format!(
            "not one of the competing values: choose {} (or resolve with a new value explicitly)",
            values.join(" or ")
        ),
    ))
}

#[cfg(test)]
mod tests {
    use super::{field_conflicts, has_field_conflicts};
    use automerge::transaction::Transactable;
    use automerge::{ActorId, AutoCommit, ROOT};

    #[test]
    fn the_quick_check_agrees_with_the_list() -> Result<(), automerge::AutomergeError> {
        let mut a = AutoCommit::new().with_actor(ActorId::from([1u8; 16].as_slice()));
        a.put(ROOT, "name", "张伟")?;
        a.put(ROOT, "title", "经理")?;
        a.commit();
        assert!(!has_field_conflicts(&a));
        assert!(field_conflicts(&mut a).is_empty());
        // Two devices write the same field concurrently; one writes another field.
        let mut b = a.fork().with_actor(ActorId::from([2u8; 16].as_slice()));
        a.put(ROOT, "title", "总经理")?;
        b.put(ROOT, "title", "销售总监")?;
        b.put(ROOT, "notes", "带样品")?;
        a.merge(&mut b)?;
        assert!(has_field_conflicts(&a));
        let listed = field_conflicts(&mut a);
        assert_eq!(listed.len(), 1);
        assert_eq!(listed[0].field, "title");
        // Resolved by a later write: no conflict left.
        a.put(ROOT, "title", "总经理")?;
        a.commit();
        assert!(!has_field_conflicts(&a));
        assert!(field_conflicts(&mut a).is_empty());
        Ok(())
    }
}
