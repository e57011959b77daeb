//! A new record's first change, encoded directly from its fields.
//!
//! A record created on this device is one Automerge change: the root map's keys, with lists and
//! text filled in. Building it through a document (`init_root_from_hydrate`, commit, then
//! `get_last_local_change`) splices every operation into an op set, encodes the change at the
//! commit, throws it away and encodes it again when asked for it. A bulk import needs only the
//! change's bytes (which load as the document) and its hash, so [`FirstChange`] lays the
//! operations out exactly as Automerge's batch insertion does (root keys in byte order, then
//! each list's or text's elements, breadth first) and encodes them once. A test checks that the
//! bytes are identical to the ones the document path produces.

use super::{Actor, ChangeMessage};
use automerge::{
    legacy::{ElementId, Key, ObjectId, Op, OpId, OpType, SortedVec},
    Change, ExpandedChange, ObjType, ScalarValue,
};
use std::collections::BTreeMap;
use std::num::NonZeroU64;

/// A value at a root key of a new record.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Init<'a> {
    /// A string scalar.
    Str(&'a str),
    /// A list of string scalars.
    List(&'a [String]),
    /// A text object (one element per Unicode scalar value, as Automerge's default encoding).
    Text(&'a str),
}

/// The root of a new record, built up key by key; a later value for a key replaces an earlier.
#[derive(Debug, Default)]
pub(crate) struct FirstChange<'a> {
    root: BTreeMap<&'a str, Init<'a>>,
}

impl<'a> FirstChange<'a> {
    pub(crate) fn new() -> Self {
        Self::default()
    }

    /// Sets `key` to `value`.
    pub(crate) fn put(&mut self, key: &'a str, value: Init<'a>) {
        self.root.insert(key, value);
    }

    /// The change by `actor` at `now_ms` for `action`: the first of its document (sequence 1,
    /// no dependencies).
    pub(crate) fn build(&self, actor: &Actor, action: &str, now_ms: i64) -> Change {
        let actor_id = actor.actor_id();
        let id = |counter: u64| OpId(counter, actor_id.clone());
        let mut ops: Vec<Op> = Vec::with_capacity(self.root.len() * 2);
        // Containers whose elements follow the root, in the order they were made.
        let mut queue: Vec<(u64, Init<'a>)> = Vec::new();
        for (key, value) in &self.root {
            let counter = ops.len() as u64 + 1;
            let action = match value {
                Init::Str(s) => OpType::Put(ScalarValue::Str((*s).into())),
                Init::List(_) => OpType::Make(ObjType::List),
                Init::Text(_) => OpType::Make(ObjType::Text),
            };
            if !matches!(value, Init::Str(_)) {
                queue.push((counter, *value));
            }
            ops.push(Op {
                action,
                obj: ObjectId::Root,
                key: Key::Map((*key).into()),
                pred: SortedVec::new(),
                insert: false,
            });
        }
        for (container, value) in queue {
            let obj = ObjectId::Id(id(container));
            let mut after = ElementId::Head;
            let mut insert = |ops: &mut Vec<Op>, value: ScalarValue| {
                let counter = ops.len() as u64 + 1;
                ops.push(Op {
                    action: OpType::Put(value),
                    obj: obj.clone(),
                    key: Key::Seq(std::mem::replace(&mut after, ElementId::Id(id(counter)))),
                    pred: SortedVec::new(),
                    insert: true,
                });
            };
            match value {
                Init::List(items) => {
                    for item in items {
                        insert(&mut ops, ScalarValue::Str(item.as_str().into()));
                    }
                }
                Init::Text(text) => {
                    let mut buf = [0u8; 4];
                    for c in text.chars() {
                        insert(
                            &mut ops,
                            ScalarValue::Str((&*c.encode_utf8(&mut buf)).into()),
                        );
                    }
                }
                Init::Str(_) => {}
            }
        }
        let message = ChangeMessage {
            user: actor.user.clone(),
            action: action.to_string(),
        };
        Change::from(ExpandedChange {
            operations: ops,
            actor_id: actor_id.clone(),
            hash: None,
            seq: 1,
            start_op: NonZeroU64::MIN,
            time: now_ms,
            message: Some(message.encode()),
            deps: Vec::new(),
            extra_bytes: Vec::new(),
            author: None,
        })
    }
}
