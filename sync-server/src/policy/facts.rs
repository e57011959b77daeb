//! What the write policy reads: a record's document before and after a change
//! ([`WriteFacts`]), and what the storage backend looked up for it ([`Context`], asked for as
//! [`Needs`]).

use crate::rows::{DocMeta, StoredDoc};
use automerge::{AutoCommit, ObjId, ObjType, ReadDoc, Value, ROOT};
use chrono::{DateTime, FixedOffset};
use outpost_core::access::{RESTRICTED_FIELDS, RESTRICTED_KIND};
use outpost_core::flow::{self, AttachmentFacts, FlowConfig};
use std::collections::{BTreeMap, BTreeSet, HashMap};

/// Most contacts followed through merges when a deal's evidence is gathered.
pub const MAX_MERGED_CONTACTS: usize = 256;

/// What the policy compares in a document before and after a change.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct WriteFacts {
    /// Every value of `id` (more than one while concurrent writes conflict).
    pub ids: Vec<String>,
    /// `owner`.
    pub owner: Option<String>,
    /// `merged_into`.
    pub merged_into: Option<String>,
    /// Whether `status` is `invalid`.
    pub invalid: bool,
    /// A restricted document's `field`.
    pub field: Option<String>,
    /// Restricted fields found inside the record itself, with their value as text.
    pub inline_restricted: BTreeMap<String, String>,
    /// The blob an attachment names.
    pub blob: Option<String>,
    /// The record this one hangs on: a visit's, deal's, task's or attachment's `contact_id`, a
    /// restricted document's `of`.
    pub parent: Option<String>,
    /// The deal a task or an attachment names (`deal_id`).
    pub deal: Option<String>,
    /// A deal's `stage`.
    pub stage: Option<String>,
    /// A contact's server-only markers (every value of each), see
    /// [`outpost_core::routing::MARKER_KEYS`].
    pub markers: BTreeMap<String, Vec<String>>,
    /// What a stage gate reads of an attachment or a visit.
    pub evidence: Option<Evidence>,
}

/// What a stage gate reads of one record.
#[derive(Debug, Clone, PartialEq)]
pub enum Evidence {
    /// An attachment: category, contract amount, deal.
    Attachment(AttachmentFacts),
    /// A visit: when the check-in was made.
    Visit(Option<DateTime<FixedOffset>>),
}

impl WriteFacts {
    /// Reads them from a record document of `kind`.
    pub fn of(kind: &str, doc: &AutoCommit) -> Self {
        // One walk over the root, not a lookup per fact: this runs for every pushed change.
        let root = RootValues::read(doc);
        let mut inline_restricted = BTreeMap::new();
        for (field, on) in RESTRICTED_FIELDS {
            if *on == kind {
                if let Some(value) = root.value(field) {
                    inline_restricted.insert(field.to_string(), value.to_string());
                }
            }
        }
        let mut markers = BTreeMap::new();
        if kind == "contact" {
            for key in outpost_core::routing::MARKER_KEYS {
                let values = root.all(key);
                if !values.is_empty() {
                    markers.insert(key.to_string(), values);
                }
            }
        }
        let evidence = match kind {
            "attachment" => Some(Evidence::Attachment(AttachmentFacts::of_doc("", doc))),
            "visit" => Some(Evidence::Visit(flow::visit_time_of_doc(doc))),
            _ => None,
        };
        Self {
            ids: root.all("id"),
            owner: root.str("owner"),
            merged_into: root.str("merged_into"),
            invalid: root.str("status").as_deref() == Some("invalid"),
            field: root.str("field"),
            inline_restricted,
            blob: root.str("blob"),
            parent: parent_of(kind, |key| root.str(key)),
            deal: match kind {
                "task" | "attachment" => root.str("deal_id").filter(|d| !d.trim().is_empty()),
                _ => None,
            },
            stage: (kind == "deal")
                .then(|| root.str("stage"))
                .flatten()
                .map(|s| s.trim().to_string()),
            markers,
            evidence,
        }
    }
}

/// The record whose visibility a record of `kind` follows, with the root's text values read
/// by `get`.
fn parent_of(kind: &str, get: impl Fn(&str) -> Option<String>) -> Option<String> {
    match kind {
        "visit" | "deal" | "task" | "attachment" => get("contact_id"),
        RESTRICTED_KIND => get("of"),
        _ => None,
    }
    .filter(|p| !p.trim().is_empty())
}

/// A document's root read in one pass: each key's current value, and whether other values
/// conflict with it (then [`RootValues::all`] asks the document for all of them).
struct RootValues<'d> {
    doc: &'d AutoCommit,
    values: HashMap<String, (Value<'static>, ObjId, bool)>,
}

impl<'d> RootValues<'d> {
    fn read(doc: &'d AutoCommit) -> Self {
        let values = doc
            .map_range(ROOT, ..)
            .map(|item| {
                let (id, conflict) = (item.id(), item.conflict);
                (
                    item.key.into_owned(),
                    (item.value.into_value(), id, conflict),
                )
            })
            .collect();
        Self { doc, values }
    }

    /// The current value of `key`.
    fn value(&self, key: &str) -> Option<&Value<'static>> {
        self.values.get(key).map(|(value, _, _)| value)
    }

    /// [`get_str`] of this root.
    fn str(&self, key: &str) -> Option<String> {
        match self.values.get(key)? {
            (Value::Scalar(s), _, _) => s.as_str().map(str::to_string),
            (Value::Object(ObjType::Text), obj, _) => self.doc.text(obj).ok(),
            _ => None,
        }
    }

    /// [`all_values`] of this root.
    fn all(&self, key: &str) -> Vec<String> {
        match self.values.get(key) {
            None => Vec::new(),
            Some((_, _, true)) => all_values(self.doc, key),
            Some((value, obj, false)) => vec![render(self.doc, value, obj)],
        }
    }
}

/// What the policy knows of a stored record other than the one written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Related {
    /// Its kind.
    pub kind: String,
    /// Its tenant.
    pub tenant_id: String,
    /// Who may see it.
    pub meta: DocMeta,
    /// Its version (see [`crate::storage::plan::PushFacts::versions`]).
    pub updated_seq: u64,
}

impl From<&StoredDoc> for Related {
    fn from(d: &StoredDoc) -> Self {
        Related {
            kind: d.kind.clone(),
            tenant_id: d.tenant_id.clone(),
            meta: d.meta.clone(),
            updated_seq: d.updated_seq,
        }
    }
}

/// The evidence the server holds for the deals of one contact: the contacts joined to it by
/// merges, and the attachments and visits stored under any of them, by record id.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct StoredEvidence {
    /// The contact and those merged with it.
    pub contacts: BTreeSet<String>,
    /// Attachments of these contacts.
    pub attachments: BTreeMap<String, AttachmentFacts>,
    /// Check-in times of their visits.
    pub visits: BTreeMap<String, Option<DateTime<FixedOffset>>>,
}

impl StoredEvidence {
    /// Adds a stored attachment or visit document (others are ignored).
    pub fn add(&mut self, record: &str, kind: &str, doc: &AutoCommit) {
        match WriteFacts::of(kind, doc).evidence {
            Some(Evidence::Attachment(mut a)) => {
                a.id = record.to_string();
                self.attachments.insert(record.to_string(), a);
            }
            Some(Evidence::Visit(at)) => {
                self.visits.insert(record.to_string(), at);
            }
            None => {}
        }
    }
}

/// The contacts a contact's merges join, walked one stored document at a time so that both
/// backends (blocking and async) share the rule: from the contact, follow `merged_into` and
/// the `merged_from:ID` keys a merge leaves on its survivor, up to [`MAX_MERGED_CONTACTS`].
#[derive(Debug, Clone, Default)]
pub struct MergeWalk {
    seen: BTreeSet<String>,
    queue: Vec<String>,
}

impl MergeWalk {
    /// Starts at `contact`.
    pub fn new(contact: &str) -> Self {
        Self {
            seen: BTreeSet::from([contact.to_string()]),
            queue: vec![contact.to_string()],
        }
    }

    /// The next contact whose document the walk needs, if any.
    pub fn next_contact(&mut self) -> Option<String> {
        self.queue.pop()
    }

    /// Reads the merge links of `contact`'s stored document (`None`: not stored, or another
    /// tenant's).
    pub fn visit(&mut self, doc: Option<&AutoCommit>) {
        let Some(doc) = doc else {
            return;
        };
        let mut links: Vec<String> = Vec::new();
        if get_str(doc, "status").as_deref() == Some("merged") {
            links.extend(get_str(doc, "merged_into"));
        }
        for key in doc.keys(ROOT) {
            if let Some(loser) = key.strip_prefix(MERGED_FROM) {
                if !loser.contains(':') && get_str(doc, &key).is_some() {
                    links.push(loser.to_string());
                }
            }
        }
        for link in links {
            let link = link.trim().to_string();
            if link.is_empty() || self.seen.len() >= MAX_MERGED_CONTACTS {
                continue;
            }
            if self.seen.insert(link.clone()) {
                self.queue.push(link);
            }
        }
    }

    /// The contacts found.
    pub fn contacts(self) -> BTreeSet<String> {
        self.seen
    }
}

/// The key prefix a merge leaves on its survivor, one per merged contact.
const MERGED_FROM: &str = "merged_from:";

/// What the storage backend read for the policy. Every lookup it was asked for is recorded,
/// found or not, so the policy can tell "not stored" from "not read yet".
#[derive(Debug, Clone, Default)]
pub struct Context {
    /// The writer's tenant.
    pub tenant_id: String,
    /// The server's clock when the facts were read (ms since the epoch).
    pub now_ms: i64,
    /// Stored records looked up, by id (`None`: not stored).
    pub records: HashMap<String, Option<Related>>,
    /// The tenant's flow settings, once read.
    pub flow: Option<FlowConfig>,
    /// A deal's evidence, by the contact id the deal names.
    pub evidence: HashMap<String, StoredEvidence>,
}

impl Context {
    /// An empty context for a request of `tenant_id` at `now_ms`.
    pub fn new(tenant_id: &str, now_ms: i64) -> Self {
        Self {
            tenant_id: tenant_id.to_string(),
            now_ms,
            ..Self::default()
        }
    }

    /// Whether it holds everything `needs` names.
    pub fn covers(&self, needs: &Needs) -> bool {
        needs.records.iter().all(|r| self.records.contains_key(r))
            && (!needs.flow || self.flow.is_some())
            && needs.evidence.iter().all(|c| self.evidence.contains_key(c))
    }
}

/// What the policy needs read before it can decide.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Needs {
    /// Stored records to look up.
    pub records: BTreeSet<String>,
    /// The tenant's flow settings.
    pub flow: bool,
    /// Contacts whose evidence (merged contacts, their attachments and visits) to read.
    pub evidence: BTreeSet<String>,
}

impl Needs {
    /// Whether nothing is needed.
    pub fn is_empty(&self) -> bool {
        self.records.is_empty() && !self.flow && self.evidence.is_empty()
    }

    /// Adds what `other` needs.
    pub fn merge(&mut self, other: Needs) {
        self.records.extend(other.records);
        self.flow |= other.flow;
        self.evidence.extend(other.evidence);
    }
}

/// Records written earlier in the same request (a push or an Automerge message): their own
/// writes passed the policy, and they count as evidence.
pub trait Pending {
    /// The kind and current facts of record `id`, if the request wrote it.
    fn get(&self, id: &str) -> Option<(&str, &WriteFacts)>;
    /// Calls `f` with the id, kind and facts of every record the request wrote.
    fn each(&self, f: &mut dyn FnMut(&str, &str, &WriteFacts));
}

/// A request that wrote nothing else.
pub struct NothingPending;

impl Pending for NothingPending {
    fn get(&self, _: &str) -> Option<(&str, &WriteFacts)> {
        None
    }
    fn each(&self, _: &mut dyn FnMut(&str, &str, &WriteFacts)) {}
}

/// The tenant's flow settings held in its stored `config` document (defaults when there is
/// none or it cannot be read).
pub fn flow_of(stored: Option<&StoredDoc>) -> FlowConfig {
    stored
        .and_then(|d| AutoCommit::load(&d.doc).ok())
        .map(|d| flow::config_of_doc(&d))
        .unwrap_or_default()
}

/// A root string field of a document.
fn get_str(doc: &AutoCommit, key: &str) -> Option<String> {
    match doc.get(ROOT, key) {
        Ok(Some((Value::Scalar(s), _))) => s.as_str().map(str::to_string),
        Ok(Some((Value::Object(ObjType::Text), obj))) => doc.text(&obj).ok(),
        _ => None,
    }
}

/// Every value of a root key, conflicts included, as text.
fn all_values(doc: &AutoCommit, key: &str) -> Vec<String> {
    let Ok(values) = doc.get_all(ROOT, key) else {
        return Vec::new();
    };
    values
        .into_iter()
        .map(|(value, obj)| render(doc, &value, &obj))
        .collect()
}

/// A root value as text, as [`all_values`] lists it.
fn render(doc: &AutoCommit, value: &Value<'_>, obj: &ObjId) -> String {
    match value {
        Value::Scalar(s) => s.as_str().map_or_else(|| s.to_string(), str::to_string),
        Value::Object(ObjType::Text) => doc.text(obj).unwrap_or_default(),
        Value::Object(other) => format!("({other:?})"),
    }
}

#[cfg(test)]
mod tests {
    use super::{all_values, get_str, WriteFacts};
    use automerge::transaction::Transactable;
    use automerge::{ActorId, AutoCommit, ObjType, ROOT};
    use outpost_core::routing::{MARKER_KEYS, ROUTED_BY};

    type TestResult = Result<(), automerge::AutomergeError>;

    /// Two devices wrote `id`, `owner` and a marker concurrently: the facts read in one pass
    /// are what a lookup per key reads, conflicting values included.
    #[test]
    fn facts_read_in_one_pass_equal_a_lookup_per_key() -> TestResult {
        let mut a = AutoCommit::new().with_actor(ActorId::from(&[1u8; 16][..]));
        a.put(ROOT, "id", "c-1")?;
        a.put(ROOT, "name", "王芳")?;
        a.put(ROOT, "status", "invalid")?;
        let notes = a.put_object(ROOT, "merged_into", ObjType::Text)?;
        a.splice_text(&notes, 0, 0, "c-0")?;
        let mut b = a.fork().with_actor(ActorId::from(&[2u8; 16][..]));
        a.put(ROOT, "id", "c-1a")?;
        a.put(ROOT, "owner", "li")?;
        a.put(ROOT, ROUTED_BY, "rule-1")?;
        b.put(ROOT, "id", "c-1b")?;
        b.put(ROOT, "owner", "wang")?;
        b.put(ROOT, ROUTED_BY, 7)?;
        a.merge(&mut b)?;

        let facts = WriteFacts::of("contact", &a);
        assert_eq!(facts.ids, all_values(&a, "id"));
        assert_eq!(facts.ids.len(), 2, "{:?}", facts.ids);
        assert_eq!(facts.owner, get_str(&a, "owner"));
        assert!(facts.owner.is_some());
        assert_eq!(facts.merged_into.as_deref(), Some("c-0"));
        assert!(facts.invalid);
        for key in MARKER_KEYS {
            let expected = all_values(&a, key);
            assert_eq!(
                facts.markers.get(*key).cloned().unwrap_or_default(),
                expected
            );
        }
        assert_eq!(facts.markers.get(ROUTED_BY).map(Vec::len), Some(2));
        Ok(())
    }
}
