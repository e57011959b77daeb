//! Fuzzing the server's push planning (`check_push` + `plan_push`): random bytes, real
//! Automerge changes with hostile contents, mutated and re-chunked changes, and inflation and
//! run-length bombs, for a bounded number of cases. Nothing may panic, and whatever is planned
//! stays within the bounds (a bomb is refused before Automerge expands it).

use automerge::transaction::Transactable;
use automerge::{ActorId, AutoCommit, ObjType, ScalarValue, ROOT};
use outpost_core::sync::bounds::{MAX_CHANGE_OPS, MAX_INFLATED_CHANGE_BYTES};
use outpost_core::sync::protocol::PushChange;
use outpost_server::access::{AccessConfig, Sharing, Viewer};
use outpost_server::storage::plan::{check_push, plan_push, PushFacts};
use outpost_server::storage::{DocMeta, StoredDoc};
use outpost_server::Role;
use proptest::prelude::*;
use std::collections::{BTreeMap, HashMap};
use std::io::Write;

const ACTOR: [u8; 16] = [9; 16];
const KINDS: &[&str] = &[
    "contact",
    "deal",
    "visit",
    "task",
    "attachment",
    "restricted",
    "config",
    "bogus",
];
const KEYS: &[&str] = &[
    "kind",
    "name",
    "owner",
    "status",
    "merged_into",
    "amount",
    "contact_id",
    "blob",
    "field",
    "of",
    "stage",
    "phones",
    "notes",
    "routed_at",
];

/// One operation of a hostile change.
#[derive(Debug, Clone)]
enum Op {
    Put(usize, Value),
    Delete(usize),
    List(usize, Vec<Value>),
    Text(usize, String),
}

#[derive(Debug, Clone)]
enum Value {
    Str(String),
    Int(i64),
    F64(f64),
    Bool(bool),
    Null,
    Bytes(Vec<u8>),
}

impl Value {
    fn scalar(&self) -> ScalarValue {
        match self {
            Value::Str(s) => ScalarValue::Str(s.as_str().into()),
            Value::Int(i) => ScalarValue::Int(*i),
            Value::F64(f) => ScalarValue::F64(*f),
            Value::Bool(b) => ScalarValue::Boolean(*b),
            Value::Null => ScalarValue::Null,
            Value::Bytes(b) => ScalarValue::Bytes(b.clone()),
        }
    }
}

fn value() -> impl Strategy<Value = Value> {
    prop_oneof![
        prop_oneof![
            Just("contact".to_string()),
            Just("invalid".to_string()),
            Just("won".to_string()),
            Just(String::new()),
            "[a-z张伟0-9 ]{0,12}",
        ]
        .prop_map(Value::Str),
        any::<i64>().prop_map(Value::Int),
        any::<f64>().prop_map(Value::F64),
        any::<bool>().prop_map(Value::Bool),
        Just(Value::Null),
        proptest::collection::vec(any::<u8>(), 0..8).prop_map(Value::Bytes),
    ]
}

fn op() -> impl Strategy<Value = Op> {
    let key = 0..KEYS.len();
    prop_oneof![
        4 => (key.clone(), value()).prop_map(|(k, v)| Op::Put(k, v)),
        1 => key.clone().prop_map(Op::Delete),
        1 => (key.clone(), proptest::collection::vec(value(), 0..4)).prop_map(|(k, v)| Op::List(k, v)),
        1 => (key, "[a-z客户 ]{0,40}").prop_map(|(k, t)| Op::Text(k, t)),
    ]
}

/// How a generated change's bytes are sent.
#[derive(Debug, Clone)]
enum Wire {
    Plain,
    /// Automerge's own compressed form.
    Compressed,
    /// Byte `at` (modulo the length) xor `with`.
    Flip(usize, u8),
    /// Cut to `at` bytes (modulo the length).
    Cut(usize),
}

fn wire() -> impl Strategy<Value = Wire> {
    prop_oneof![
        4 => Just(Wire::Plain),
        2 => Just(Wire::Compressed),
        2 => (any::<usize>(), 1..=255u8).prop_map(|(a, w)| Wire::Flip(a, w)),
        1 => any::<usize>().prop_map(Wire::Cut),
    ]
}

/// One pushed change.
#[derive(Debug, Clone)]
enum Pushed {
    /// A real change of `ops` on record `record` (one of a few), sent as `wire`.
    Change {
        record: usize,
        kind: usize,
        ops: Vec<Op>,
        wire: Wire,
        foreign: bool,
    },
    /// Random bytes.
    Bytes(usize, Vec<u8>),
    /// A compressed chunk of `mib` MiB of zeros.
    Deflated(usize, usize),
    /// A change whose action column declares `count` operations.
    Declares(usize, i64),
}

fn pushed() -> impl Strategy<Value = Pushed> {
    prop_oneof![
        8 => (0..3usize, 0..KINDS.len(), proptest::collection::vec(op(), 0..8), wire(), proptest::bool::weighted(0.1))
            .prop_map(|(record, kind, ops, wire, foreign)| Pushed::Change { record, kind, ops, wire, foreign }),
        2 => (0..3usize, proptest::collection::vec(any::<u8>(), 0..300)).prop_map(|(r, b)| Pushed::Bytes(r, b)),
        1 => (0..3usize, 1..4usize).prop_map(|(r, m)| Pushed::Deflated(r, m)),
        1 => (0..3usize, any::<i64>()).prop_map(|(r, n)| Pushed::Declares(r, n)),
    ]
}

fn record_id(n: usize) -> String {
    format!("rec-{n}")
}

fn chunk(kind: u8, data: &[u8]) -> Vec<u8> {
    let mut out = vec![0x85, 0x6f, 0x4a, 0x83, 0, 0, 0, 0, kind];
    out.extend(uleb(data.len() as u64));
    out.extend_from_slice(data);
    out
}

fn uleb(mut v: u64) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let byte = (v & 0x7f) as u8;
        v >>= 7;
        if v == 0 {
            out.push(byte);
            return out;
        }
        out.push(byte | 0x80);
    }
}

fn sleb(mut v: i64) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let byte = (v & 0x7f) as u8;
        v >>= 7;
        let done = (v == 0 && byte & 0x40 == 0) || (v == -1 && byte & 0x40 != 0);
        out.push(if done { byte } else { byte | 0x80 });
        if done {
            return out;
        }
    }
}

/// Builds the pushes: each record's real changes are made on one document per record, so
/// later changes depend on earlier ones (some of which may be refused).
fn build(pushes: &[Pushed]) -> Vec<PushChange> {
    let mut docs: HashMap<usize, AutoCommit> = HashMap::new();
    pushes
        .iter()
        .map(|p| match p {
            Pushed::Change {
                record,
                kind,
                ops,
                wire,
                foreign,
            } => {
                let doc = docs.entry(*record).or_insert_with(|| {
                    AutoCommit::new().with_actor(ActorId::from(ACTOR.as_slice()))
                });
                if *foreign {
                    doc.set_actor(ActorId::from([1u8; 16].as_slice()));
                }
                for op in ops {
                    let _ = apply(doc, op);
                }
                doc.commit();
                let mut change = doc.get_last_local_change();
                doc.set_actor(ActorId::from(ACTOR.as_slice()));
                let bytes = match (&mut change, wire) {
                    (None, _) => Vec::new(),
                    (Some(c), Wire::Plain) => c.raw_bytes().to_vec(),
                    (Some(c), Wire::Compressed) => c.bytes().to_vec(),
                    (Some(c), Wire::Flip(at, with)) => {
                        let mut b = c.raw_bytes().to_vec();
                        let i = at % b.len();
                        b[i] ^= with;
                        b
                    }
                    (Some(c), Wire::Cut(at)) => {
                        let b = c.raw_bytes();
                        b[..at % b.len()].to_vec()
                    }
                };
                PushChange {
                    record: record_id(*record),
                    kind: KINDS[*kind].to_string(),
                    change: bytes,
                }
            }
            Pushed::Bytes(record, bytes) => PushChange {
                record: record_id(*record),
                kind: "contact".into(),
                change: bytes.clone(),
            },
            Pushed::Deflated(record, mib) => {
                let mut e =
                    flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::fast());
                e.write_all(&vec![0u8; mib * 1024 * 1024]).unwrap();
                PushChange {
                    record: record_id(*record),
                    kind: "contact".into(),
                    change: chunk(2, &e.finish().unwrap()),
                }
            }
            Pushed::Declares(record, count) => {
                let mut data = vec![0u8, 16];
                data.extend_from_slice(&ACTOR);
                data.extend_from_slice(&[1, 1, 0, 0, 0]);
                let mut action = sleb(*count);
                action.push(1);
                data.push(1);
                data.extend(uleb((4 << 4) | 2));
                data.extend(uleb(action.len() as u64));
                data.extend(action);
                PushChange {
                    record: record_id(*record),
                    kind: "contact".into(),
                    change: chunk(1, &data),
                }
            }
        })
        .collect()
}

fn apply(doc: &mut AutoCommit, op: &Op) -> Result<(), automerge::AutomergeError> {
    match op {
        Op::Put(k, v) => doc.put(ROOT, KEYS[*k], v.scalar()),
        Op::Delete(k) => doc.delete(ROOT, KEYS[*k]),
        Op::List(k, vs) => {
            let list = doc.put_object(ROOT, KEYS[*k], ObjType::List)?;
            for (i, v) in vs.iter().enumerate() {
                doc.insert(&list, i, v.scalar())?;
            }
            Ok(())
        }
        Op::Text(k, t) => {
            let text = doc.put_object(ROOT, KEYS[*k], ObjType::Text)?;
            doc.splice_text(&text, 0, 0, t)
        }
    }
}

fn viewers() -> Vec<Viewer> {
    let config = AccessConfig {
        sharing: Sharing::Private,
        epoch: 1,
        roles: BTreeMap::new(),
        teams: Vec::new(),
        lease: None,
    };
    vec![
        Viewer::unrestricted(),
        Viewer::new(&config, "alice", &Role::Rep, vec![]),
        Viewer::new(&config, "boss", &Role::Manager, vec![]),
    ]
}

/// Plans `changes` for each viewer; the accepted documents become the stored facts of a
/// second push of the same changes (a retry), which must acknowledge without new entries.
fn plan_all(changes: &[PushChange]) {
    let Ok(hashes) = check_push(&ACTOR, changes) else {
        return;
    };
    for viewer in viewers() {
        let Ok(plan) = plan_push(
            "t",
            "d",
            &viewer,
            &ACTOR,
            changes,
            &hashes,
            &PushFacts::default(),
        ) else {
            continue;
        };
        assert!(plan.entries.len() + plan.rejected.len() <= changes.len());
        let mut facts = PushFacts::default();
        for doc in &plan.docs {
            facts.docs.insert(
                doc.record.clone(),
                StoredDoc {
                    record_id: doc.record.clone(),
                    tenant_id: "t".into(),
                    kind: doc.kind.clone(),
                    doc: doc.doc.clone(),
                    updated_seq: 1,
                    meta: DocMeta {
                        owner: Some("alice".into()),
                        root: doc.parent.clone(),
                        field: doc.field.clone(),
                    },
                },
            );
        }
        for e in &plan.entries {
            facts.known.insert((e.record.clone(), e.hash));
        }
        facts.actor_owner = Some("d".into());
        let again = plan_push("t", "d", &viewer, &ACTOR, changes, &hashes, &facts);
        if let Ok(again) = again {
            assert!(
                again.entries.is_empty(),
                "a retried push adds nothing: {again:?}"
            );
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, failure_persistence: None, ..ProptestConfig::default() })]

    /// Real changes with hostile contents, mutated, compressed, and bombs among them.
    #[test]
    fn push_planning_survives_hostile_changes(pushes in proptest::collection::vec(pushed(), 1..12)) {
        let changes = build(&pushes);
        let bombs = pushes.iter().any(|p| matches!(p, Pushed::Deflated(_, m) if m * 1024 * 1024 > MAX_INFLATED_CHANGE_BYTES)
            || matches!(p, Pushed::Declares(_, n) if n.unsigned_abs() > MAX_CHANGE_OPS));
        let checked = check_push(&ACTOR, &changes);
        if bombs {
            prop_assert!(checked.is_err(), "a bomb is refused before planning");
        }
        plan_all(&changes);
    }

    /// Random bytes as changes.
    #[test]
    fn push_planning_survives_random_bytes(
        raw in proptest::collection::vec((0..3usize, 0..KINDS.len(), proptest::collection::vec(any::<u8>(), 0..400)), 1..8)
    ) {
        let changes: Vec<PushChange> = raw
            .into_iter()
            .map(|(r, k, mut bytes)| {
                // Half of them start like an Automerge chunk, so the header paths are reached.
                if r == 0 && bytes.len() > 9 {
                    bytes[..4].copy_from_slice(&[0x85, 0x6f, 0x4a, 0x83]);
                    bytes[8] %= 4;
                }
                PushChange { record: record_id(r), kind: KINDS[k].to_string(), change: bytes }
            })
            .collect();
        plan_all(&changes);
    }
}
