//! The write policy without a server: each rule, and what it asks the backend to read.

use super::*;
use crate::rows::{AccessConfig, Role, Sharing, Team};
use outpost_core::flow::{AttachmentFacts, FlowConfig};
use std::collections::BTreeMap;

fn config() -> AccessConfig {
    AccessConfig {
        sharing: Sharing::Private,
        epoch: 1,
        lease: None,
        roles: BTreeMap::new(),
        teams: vec![Team {
            name: "south".into(),
            manager: Some("boss".into()),
            members: vec!["alice".into()],
        }],
    }
}

fn viewer(user: &str, role: Role) -> Viewer {
    Viewer::new(&config(), user, &role, vec![])
}

fn owned(owner: &str) -> DocMeta {
    DocMeta {
        owner: Some(owner.into()),
        root: None,
        field: None,
    }
}

/// Facts of a document naming `id`.
fn named(id: &str) -> WriteFacts {
    WriteFacts {
        ids: vec![id.into()],
        ..WriteFacts::default()
    }
}

fn ctx() -> Context {
    Context::new("t", 1_800_000_000_000)
}

fn write<'a>(
    record: &'a str,
    kind: &'a str,
    stored: Option<&'a DocMeta>,
    before: Option<&'a WriteFacts>,
    after: &'a WriteFacts,
) -> Write<'a> {
    Write {
        record,
        kind,
        stored,
        before,
        after,
        at_ms: None,
    }
}

fn refused(d: Decision, needle: &str) -> bool {
    matches!(&d, Decision::Refused(r) if r.contains(needle)) || {
        eprintln!("{d:?} does not refuse with {needle:?}");
        false
    }
}

#[test]
fn a_document_names_its_own_record() {
    let alice = viewer("alice", Role::Rep);
    let other = named("c2");
    let d = check_write(
        &alice,
        &write("c1", "contact", None, None, &other),
        &ctx(),
        &NothingPending,
    );
    assert!(refused(d, "names record \"c2\""));
    let conflicting = WriteFacts {
        ids: vec!["c1".into(), "c2".into()],
        ..WriteFacts::default()
    };
    let d = check_write(
        &alice,
        &write(
            "c1",
            "contact",
            Some(&owned("alice")),
            Some(&named("c1")),
            &conflicting,
        ),
        &ctx(),
        &NothingPending,
    );
    assert!(refused(d, "c2"));
    let anonymous = WriteFacts::default();
    let d = check_write(
        &alice,
        &write("c1", "contact", None, None, &anonymous),
        &ctx(),
        &NothingPending,
    );
    assert!(refused(d, "must name its own id (c1)"));
    // Even the server's own writes name their record.
    let d = check_write(
        &Viewer::unrestricted(),
        &write("c1", "contact", None, None, &other),
        &ctx(),
        &NothingPending,
    );
    assert!(refused(d, "c2"));
    // A stored record from before ids (none named) may still be edited.
    let d = check_write(
        &alice,
        &write(
            "c1",
            "contact",
            Some(&owned("alice")),
            Some(&anonymous),
            &anonymous,
        ),
        &ctx(),
        &NothingPending,
    );
    assert_eq!(d, Decision::Allowed);
}

#[test]
fn writes_check_assign_merge_invalidate_and_inline_fields() {
    let alice = viewer("alice", Role::Rep);
    let mut mine = named("c1");
    mine.owner = Some("alice".into());
    let new = |after: &WriteFacts| {
        check_write(
            &alice,
            &write("c1", "contact", None, None, after),
            &ctx(),
            &NothingPending,
        )
    };
    assert_eq!(new(&mine), Decision::Allowed);
    let stored = owned("alice");
    let change = |viewer: &Viewer, after: &WriteFacts| {
        check_write(
            viewer,
            &write("c1", "contact", Some(&stored), Some(&mine), after),
            &ctx(),
            &NothingPending,
        )
    };
    let to_bob = WriteFacts {
        owner: Some("bob".into()),
        ..mine.clone()
    };
    assert!(refused(change(&alice, &to_bob), "assign"));
    assert_eq!(
        change(&viewer("boss", Role::Manager), &to_bob),
        Decision::Allowed
    );
    let merged = WriteFacts {
        merged_into: Some("c9".into()),
        ..mine.clone()
    };
    assert_eq!(change(&alice, &merged), Decision::Allowed);
    let finance = viewer("fay", Role::Finance);
    assert!(refused(change(&finance, &mine), "write contact"));
    let invalid = WriteFacts {
        invalid: true,
        ..mine.clone()
    };
    assert_eq!(change(&alice, &invalid), Decision::Allowed);
    let bobs = owned("bob");
    let d = check_write(
        &alice,
        &write(
            "c2",
            "contact",
            Some(&bobs),
            Some(&named("c2")),
            &named("c2"),
        ),
        &ctx(),
        &NothingPending,
    );
    assert!(refused(d, "not in their scope"));
    let mut inline = named("d1");
    inline.inline_restricted.insert("amount".into(), "5".into());
    inline.parent = Some("c1".into());
    let boss = viewer("boss", Role::Manager);
    let d = check_write(
        &boss,
        &write("d1", "deal", None, None, &inline),
        &ctx(),
        &NothingPending,
    );
    assert!(refused(d, "d1_amount"));
}

#[test]
fn settings_need_flow_configure_and_are_one_record() {
    let settings = named("config-t");
    let d = check_write(
        &viewer("alice", Role::Rep),
        &write(
            "config-t",
            "config",
            Some(&DocMeta::default()),
            Some(&settings),
            &settings,
        ),
        &ctx(),
        &NothingPending,
    );
    assert!(refused(d, "flow:configure"));
    let boss = viewer("boss", Role::Manager);
    let d = check_write(
        &boss,
        &write(
            "config-t",
            "config",
            Some(&DocMeta::default()),
            Some(&settings),
            &settings,
        ),
        &ctx(),
        &NothingPending,
    );
    assert_eq!(d, Decision::Allowed);
    let squat = named("config-u");
    let d = check_write(
        &boss,
        &write("config-u", "config", None, None, &squat),
        &ctx(),
        &NothingPending,
    );
    assert!(refused(d, "config-t"));
    let unknown = named("x");
    let d = check_write(
        &boss,
        &write("x", "secret", None, None, &unknown),
        &ctx(),
        &NothingPending,
    );
    assert!(refused(d, "server only"));
}

#[test]
fn routing_markers_are_the_servers() {
    let ada = viewer("ada", Role::Admin);
    let mut forged = named("c1");
    forged
        .markers
        .insert("routed_at".into(), vec!["2026-01-01T00:00:00Z".into()]);
    let d = check_write(
        &ada,
        &write("c1", "contact", None, None, &forged),
        &ctx(),
        &NothingPending,
    );
    assert!(refused(d, "routed_at is written by the server only"));
    // Unchanged markers (a routed contact edited) pass; the server writes them.
    let stored = owned("ada");
    let d = check_write(
        &ada,
        &write("c1", "contact", Some(&stored), Some(&forged), &forged),
        &ctx(),
        &NothingPending,
    );
    assert_eq!(d, Decision::Allowed);
    let d = check_write(
        &Viewer::unrestricted(),
        &write("c1", "contact", Some(&stored), Some(&named("c1")), &forged),
        &ctx(),
        &NothingPending,
    );
    assert_eq!(d, Decision::Allowed);
}

#[test]
fn a_record_hangs_only_on_what_the_writer_sees() {
    let alice = viewer("alice", Role::Rep);
    let mut task = named("t1");
    task.parent = Some("c2".into());
    let decide = |ctx: &Context| {
        check_write(
            &alice,
            &write("t1", "task", None, None, &task),
            ctx,
            &NothingPending,
        )
    };
    // Not read yet: the backend is asked for the contact.
    let mut c = ctx();
    match decide(&c) {
        Decision::Needs(n) => assert!(n.records.contains("c2")),
        other => panic!("expected a lookup, got {other:?}"),
    }
    let related = |kind: &str, owner: &str| Related {
        kind: kind.into(),
        tenant_id: "t".into(),
        meta: owned(owner),
        updated_seq: 1,
    };
    c.records
        .insert("c2".into(), Some(related("contact", "bob")));
    assert!(refused(decide(&c), "not in their scope"));
    c.records
        .insert("c2".into(), Some(related("contact", "alice")));
    assert_eq!(decide(&c), Decision::Allowed);
    c.records
        .insert("c2".into(), Some(related("deal", "alice")));
    assert!(refused(decide(&c), "a task needs a contact"));
    // A contact the server does not have yet decides nothing.
    c.records.insert("c2".into(), None);
    assert_eq!(decide(&c), Decision::Allowed);
    // A manager's restricted field on a deal out of their team.
    let boss = viewer("boss", Role::Manager);
    let mut amount = named("d9_amount");
    amount.field = Some("amount".into());
    amount.parent = Some("d9".into());
    c.records.insert("d9".into(), Some(related("deal", "zed")));
    let d = check_write(
        &boss,
        &write("d9_amount", RESTRICTED_KIND, None, None, &amount),
        &c,
        &NothingPending,
    );
    assert!(refused(d, "not in their scope"));
    c.records
        .insert("d9".into(), Some(related("deal", "alice")));
    let d = check_write(
        &boss,
        &write("d9_amount", RESTRICTED_KIND, None, None, &amount),
        &c,
        &NothingPending,
    );
    assert_eq!(d, Decision::Allowed);
}

/// A push that wrote one attachment.
struct OneAttachment(WriteFacts);

impl Pending for OneAttachment {
    fn get(&self, id: &str) -> Option<(&str, &WriteFacts)> {
        (id == "a1").then_some(("attachment", &self.0))
    }
    fn each(&self, f: &mut dyn FnMut(&str, &str, &WriteFacts)) {
        f("a1", "attachment", &self.0);
    }
}

#[test]
fn stage_gates_read_the_servers_evidence_and_the_tenants_settings() {
    let alice = viewer("alice", Role::Rep);
    let mut lead = named("d1");
    lead.parent = Some("c1".into());
    lead.stage = Some("lead".into());
    let won = WriteFacts {
        stage: Some("won".into()),
        ..lead.clone()
    };
    let stored = owned("alice");
    let mut c = ctx();
    c.records.insert(
        "c1".into(),
        Some(Related {
            kind: "contact".into(),
            tenant_id: "t".into(),
            meta: owned("alice"),
            updated_seq: 1,
        }),
    );
    let decide = |c: &Context, pending: &dyn Pending| {
        check_write(
            &alice,
            &write("d1", "deal", Some(&stored), Some(&lead), &won),
            c,
            pending,
        )
    };
    match decide(&c, &NothingPending) {
        Decision::Needs(n) => assert!(n.flow && n.evidence.is_empty()),
        other => panic!("expected the settings asked for, got {other:?}"),
    }
    c.flow = Some(FlowConfig::default());
    match decide(&c, &NothingPending) {
        Decision::Needs(n) => assert!(!n.flow && n.evidence.contains("c1")),
        other => panic!("expected the evidence asked for, got {other:?}"),
    }
    c.evidence.insert(
        "c1".into(),
        StoredEvidence {
            contacts: ["c1".to_string()].into(),
            ..Default::default()
        },
    );
    assert!(refused(
        decide(&c, &NothingPending),
        "cannot enter won without a contract"
    ));
    // The request's own contract (linked to this deal) opens it; another deal's does not.
    let contract = |deal: &str| WriteFacts {
        parent: Some("c1".into()),
        evidence: Some(Evidence::Attachment(AttachmentFacts {
            id: String::new(),
            category: "contract".into(),
            amount: Some(305_000.0),
            deal_id: Some(deal.into()),
        })),
        ..named("a1")
    };
    assert_eq!(
        decide(&c, &OneAttachment(contract("d1"))),
        Decision::Allowed
    );
    assert!(refused(
        decide(&c, &OneAttachment(contract("d2"))),
        "contract"
    ));
    // A stored contract of the contact alone opens it too.
    if let Some(e) = c.evidence.get_mut("c1") {
        e.attachments.insert(
            "a0".into(),
            AttachmentFacts {
                id: "a0".into(),
                category: "contract".into(),
                amount: Some(1.0),
                deal_id: None,
            },
        );
    }
    assert_eq!(decide(&c, &NothingPending), Decision::Allowed);
    // Settings without gates need no evidence at all.
    let mut open = FlowConfig::default();
    for s in &mut open.stages {
        s.requires.clear();
    }
    let mut bare = ctx();
    bare.flow = Some(open);
    bare.records = c.records.clone();
    assert_eq!(decide(&bare, &NothingPending), Decision::Allowed);
}

#[test]
fn merges_are_walked_both_ways() {
    use automerge::transaction::Transactable;
    let mut survivor = automerge::AutoCommit::new();
    survivor.put(automerge::ROOT, "merged_from:c2", "{}").ok();
    survivor
        .put(automerge::ROOT, "merged_from:c2:copied", "{}")
        .ok();
    let mut loser = automerge::AutoCommit::new();
    loser.put(automerge::ROOT, "status", "merged").ok();
    loser.put(automerge::ROOT, "merged_into", "c1").ok();
    let mut walk = MergeWalk::new("c2");
    while let Some(next) = walk.next_contact() {
        walk.visit(match next.as_str() {
            "c1" => Some(&survivor),
            "c2" => Some(&loser),
            _ => None,
        });
    }
    assert_eq!(walk.contacts(), ["c1".to_string(), "c2".to_string()].into());
}

#[test]
fn files_follow_attachments() {
    let alice = viewer("alice", Role::Rep);
    assert!(may_upload_file(&alice).is_ok());
    assert!(may_upload_file(&viewer("fay", Role::Finance))
        .is_err_and(|e| e.contains("attachment:write")));
    let mine = ("a1".to_string(), "attachment".to_string(), owned("alice"));
    let bobs = ("a2".to_string(), "attachment".to_string(), owned("bob"));
    assert!(may_read_file(&alice, &[bobs.clone(), mine]));
    assert!(!may_read_file(&alice, &[bobs]));
}
