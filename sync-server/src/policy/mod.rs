//! The server's write policy: the one place that decides whether a change may be stored, asked
//! by every route that writes (`/v1/sync` and the Automerge route through
//! [`crate::storage::plan`], and the blob routes through [`may_upload_file`] and
//! [`may_read_file`]). See `docs/security.md`, "The server's write policy".
//!
//! [`check_write`] is pure: it is given the viewer (user, role, permissions, scope), the record
//! (id, kind, stored visibility), what its document said before and after the change
//! ([`WriteFacts`]) and the facts it needs about other stored records ([`Context`]: the
//! record a new one hangs on, the tenant's flow settings, a deal's evidence). When the context
//! lacks a fact, the answer is [`Decision::Needs`]: the storage backend reads what is named
//! ([`Needs`]) and plans again, so the decision is always made with the server's own documents.
//!
//! In order, a change is refused when:
//! 1. its document does not name its own record id (every value of `id`; a new record must name
//!    it): a record's first change cannot be stored under a second id (also through the
//!    Automerge route, where it would merge into another document);
//! 2. (the server's own writes pass from here) the stored record is outside the user's scope;
//! 3. the kind is not one devices write: `config` needs `flow:configure` and is the tenant's
//!    single settings document; kinds outside the known ones are the server's;
//! 4. the role lacks the kind's or the restricted field's write permission, `assign`, `merge`
//!    or `invalidate` for what the change does, or the change writes a restricted field inline;
//! 5. it sets or changes a server-only marker (`routed_at`, `routed_by`, `routing_reason`);
//! 6. the record it hangs on (a contact, a restricted field's deal) or the deal it names is a
//!    stored record the user may not see (or of the wrong kind), when the record is new or that
//!    link changes;
//! 7. a deal enters a stage whose gate ([`outpost_core::flow::stage_gate`]) is not met with the
//!    evidence the server holds (and the request brings) and the tenant's settings.

mod facts;
mod viewer;

pub use facts::{
    flow_of, Context, Evidence, MergeWalk, Needs, NothingPending, Pending, Related, StoredEvidence,
    WriteFacts, MAX_MERGED_CONTACTS,
};

pub use viewer::Viewer;

use crate::rows::DocMeta;
use chrono::{DateTime, FixedOffset, TimeZone};
use outpost_core::access::{self, RESTRICTED_FIELDS, RESTRICTED_KIND};
use outpost_core::flow::{self, EvidenceFacts, FlowConfig};
use std::collections::BTreeMap;

/// How far back a change's own time is believed for a stage gate (a device offline this long
/// is judged at the time it made the move); older or future times are replaced by the server's.
pub const GATE_CLOCK_WINDOW_MS: i64 = 30 * 24 * 3600 * 1000;

/// One change to one record, as the policy sees it.
#[derive(Debug, Clone, Copy)]
pub struct Write<'a> {
    /// The record id.
    pub record: &'a str,
    /// The record kind.
    pub kind: &'a str,
    /// The stored record's visibility (`None` when the server does not have it yet).
    pub stored: Option<&'a DocMeta>,
    /// The document before the change (`None` for a new record).
    pub before: Option<&'a WriteFacts>,
    /// The document after it.
    pub after: &'a WriteFacts,
    /// When the change says it was made (ms since the epoch).
    pub at_ms: Option<i64>,
}

/// The policy's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// The change may be stored.
    Allowed,
    /// The change is refused, with the reason for the user.
    Refused(String),
    /// The facts named must be read first.
    Needs(Needs),
}

/// Decides one change (see the module docs for the rules, in order).
pub fn check_write(
    viewer: &Viewer,
    write: &Write<'_>,
    ctx: &Context,
    pending: &dyn Pending,
) -> Decision {
    match decide(viewer, write, ctx, pending) {
        Ok(needs) if needs.is_empty() => Decision::Allowed,
        Ok(needs) => Decision::Needs(needs),
        Err(reason) => Decision::Refused(reason),
    }
}

/// `Ok` with what is still needed (nothing: allowed), or the refusal.
fn decide(
    viewer: &Viewer,
    w: &Write<'_>,
    ctx: &Context,
    pending: &dyn Pending,
) -> Result<Needs, String> {
    let Write {
        record,
        kind,
        stored,
        before,
        after,
        ..
    } = *w;
    if let Some(other) = after.ids.iter().find(|id| id.as_str() != record) {
        return Err(format!(
            "id: the document names record {other:?}, not {record}: a record's changes are \
             stored under its own id only"
        ));
    }
    if before.is_none() && after.ids.is_empty() {
        return Err(format!(
            "id: a new record's document must name its own id ({record})"
        ));
    }
    if viewer.is_server() {
        return Ok(Needs::default());
    }
    let denied = |what: String| {
        Err(format!(
            "permission denied: role {} may not {what}",
            viewer.role
        ))
    };
    if let Some(meta) = stored {
        if !viewer.sees(record, kind, meta) {
            return denied(format!("change record {record}: it is not in their scope"));
        }
    }
    let mut needs = Needs::default();
    match kind {
        "config" => {
            if !viewer.permissions.has(access::FLOW_CONFIGURE) {
                return denied(format!(
                    "change the tenant's flow settings (record {record}): that needs {}",
                    access::FLOW_CONFIGURE
                ));
            }
            let own = flow::config_record_id(&ctx.tenant_id);
            if record != own {
                return Err(format!(
                    "record {record}: the tenant's flow settings are record {own}, the only \
                     config record a device may write"
                ));
            }
            return Ok(needs);
        }
        RESTRICTED_KIND => {
            let field = after.field.as_deref().unwrap_or("");
            if !viewer.permissions.can_write_field(field) {
                return denied(format!("write field {field}"));
            }
            let of = RESTRICTED_FIELDS
                .iter()
                .find(|(f, _)| *f == field)
                .map_or("deal", |(_, k)| *k);
            link_in_scope(viewer, w, ctx, pending, "of", of, |f| &f.parent, &mut needs)?;
            return Ok(needs);
        }
        k if access::RECORD_KINDS.contains(&k) => {}
        other => {
            return Err(format!(
                "record kind {other:?} is written by the server only"
            ))
        }
    }
    if !viewer.permissions.can_write_kind(kind) {
        return denied(format!("write {kind} records"));
    }
    let unchanged = |f: fn(&WriteFacts) -> &Option<String>| before.map_or(&None, f) == f(after);
    // Naming an owner at creation is allowed (it decides visibility only when it names the
    // writer or the writer may assign, see `DocWrite`); changing it later is assigning.
    if before.is_some() && !unchanged(|f| &f.owner) {
        // Taking an unowned record one may write is not an assignment.
        let claims_unowned = before.is_some_and(|b| b.owner.is_none())
            && after.owner.as_deref() == Some(&viewer.user);
        if !claims_unowned && !viewer.permissions.has("assign") {
            return denied("assign records to another owner".into());
        }
    }
    if !unchanged(|f| &f.merged_into) && !viewer.permissions.has("merge") {
        return denied("merge records".into());
    }
    let invalid_before = before.is_some_and(|b| b.invalid);
    if after.invalid != invalid_before && !viewer.permissions.has("invalidate") {
        return denied("invalidate records".into());
    }
    for (field, value) in &after.inline_restricted {
        let old = before.and_then(|b| b.inline_restricted.get(field));
        if old != Some(value) {
            return Err(format!(
                "{field} is a restricted field: it is written in its own document \
                 ({}), never in the {kind}",
                access::restricted_id(record, field)
            ));
        }
    }
    let no_markers = BTreeMap::new();
    let markers_before = before.map_or(&no_markers, |b| &b.markers);
    for key in outpost_core::routing::MARKER_KEYS {
        if markers_before.get(*key) != after.markers.get(*key) {
            return Err(format!(
                "{key} is written by the server only (lead routing): a device may not set, \
                 change or remove it"
            ));
        }
    }
    if kind != "contact" {
        link_in_scope(
            viewer,
            w,
            ctx,
            pending,
            "contact_id",
            "contact",
            |f| &f.parent,
            &mut needs,
        )?;
    }
    if matches!(kind, "task" | "attachment") {
        link_in_scope(
            viewer,
            w,
            ctx,
            pending,
            "deal_id",
            "deal",
            |f| &f.deal,
            &mut needs,
        )?;
    }
    if kind == "deal" {
        stage_gate(w, ctx, pending, &mut needs)?;
    }
    Ok(needs)
}

/// Refuses a new record, or a changed link, that names a stored record the writer may not see
/// (or one of another kind than `want`). A record the request wrote itself passed the policy;
/// one the server does not have is allowed (its visibility follows whoever owns that id).
#[allow(clippy::too_many_arguments)]
fn link_in_scope(
    viewer: &Viewer,
    w: &Write<'_>,
    ctx: &Context,
    pending: &dyn Pending,
    field: &str,
    want: &str,
    link: fn(&WriteFacts) -> &Option<String>,
    needs: &mut Needs,
) -> Result<(), String> {
    let Some(target) = link(w.after).as_deref() else {
        return Ok(());
    };
    if w.before.is_some_and(|b| link(b).as_deref() == Some(target)) {
        return Ok(());
    }
    let wrong_kind = |kind: &str| {
        Err(format!(
            "{field}: {target} is a {kind}, a {} needs a {want}",
            w.kind
        ))
    };
    if let Some((kind, _)) = pending.get(target) {
        return if kind == want {
            Ok(())
        } else {
            wrong_kind(kind)
        };
    }
    match ctx.records.get(target) {
        None => {
            needs.records.insert(target.to_string());
            Ok(())
        }
        Some(None) => Ok(()),
        Some(Some(r)) if r.tenant_id != ctx.tenant_id => Err(format!(
            "{field}: record {target} is not accessible to this device"
        )),
        Some(Some(r)) if r.kind != want => wrong_kind(&r.kind),
        Some(Some(r)) if !viewer.sees(target, &r.kind, &r.meta) => Err(format!(
            "permission denied: role {} may not write a {} on {want} {target}: it is not in \
             their scope",
            viewer.role, w.kind
        )),
        Some(Some(_)) => Ok(()),
    }
}

/// Refuses a deal entering a stage whose gate is not met.
fn stage_gate(
    w: &Write<'_>,
    ctx: &Context,
    pending: &dyn Pending,
    needs: &mut Needs,
) -> Result<(), String> {
    let Some(target) = w.after.stage.as_deref() else {
        return Ok(());
    };
    let current = w.before.and_then(|b| b.stage.as_deref());
    if current == Some(target) {
        return Ok(());
    }
    let Some(contact) = w.after.parent.as_deref() else {
        return Ok(());
    };
    let Some(config) = ctx.flow.as_ref() else {
        // The evidence is read only when the target stage asks for some.
        needs.flow = true;
        return Ok(());
    };
    let now = gate_clock(w.at_ms, ctx.now_ms, config);
    let gate = match ctx.evidence.get(contact) {
        Some(stored) => {
            let facts = evidence_for(stored, pending);
            flow::stage_gate(config, w.record, current, target, &facts, now)
        }
        None => {
            // Without evidence: enough when the stage is refused anyway or asks for nothing.
            let none = EvidenceFacts::default();
            let gate = flow::stage_gate(config, w.record, current, target, &none, now);
            if gate.blocked.is_none() && !gate.missing.is_empty() {
                needs.evidence.insert(contact.to_string());
                return Ok(());
            }
            gate
        }
    };
    match gate.reason(target) {
        Some(reason) => Err(format!("stage: {reason}")),
        None => Ok(()),
    }
}

/// The evidence of a deal: what the server holds under its contact (and the contacts merged
/// with it), overlaid with the attachments and visits the request wrote under them. Which
/// attachments count for the deal is the gate's rule ([`flow::missing_evidence`]).
fn evidence_for(stored: &StoredEvidence, pending: &dyn Pending) -> EvidenceFacts {
    let mut attachments = stored.attachments.clone();
    let mut visits = stored.visits.clone();
    pending.each(&mut |id, _, facts| {
        let linked = facts
            .parent
            .as_deref()
            .is_some_and(|p| stored.contacts.contains(p));
        match &facts.evidence {
            Some(Evidence::Attachment(a)) if linked => {
                let mut a = a.clone();
                a.id = id.to_string();
                attachments.insert(id.to_string(), a);
            }
            Some(Evidence::Visit(at)) if linked => {
                visits.insert(id.to_string(), *at);
            }
            _ => {}
        }
    });
    EvidenceFacts {
        attachments: attachments.into_values().collect(),
        last_visit: visits.into_values().flatten().max(),
    }
}

/// The time a stage gate judges a move at: the change's own time when it is within
/// [`GATE_CLOCK_WINDOW_MS`] before the server's clock (a move made offline is judged when it
/// was made), else the server's clock; in the tenant's time zone.
fn gate_clock(at_ms: Option<i64>, now_ms: i64, config: &FlowConfig) -> DateTime<FixedOffset> {
    let ms = at_ms
        .filter(|t| *t <= now_ms && *t >= now_ms - GATE_CLOCK_WINDOW_MS)
        .unwrap_or(now_ms);
    config
        .offset()
        .timestamp_millis_opt(ms)
        .single()
        .unwrap_or_else(|| chrono::Utc::now().with_timezone(&config.offset()))
}
/// Whether the user may upload files (the blobs attachments name): `attachment:write`.
pub fn may_upload_file(viewer: &Viewer) -> Result<(), String> {
    if viewer.is_server() || viewer.permissions.can_write_kind("attachment") {
        Ok(())
    } else {
        Err(format!(
            "permission denied: role {} may not upload files (that needs attachment:write)",
            viewer.role
        ))
    }
}

/// Whether the user may read a file, given the tenant's records that name it (id, kind,
/// visibility): only through an attachment they may read.
pub fn may_read_file(viewer: &Viewer, naming: &[(String, String, DocMeta)]) -> bool {
    naming
        .iter()
        .any(|(id, kind, meta)| kind == "attachment" && viewer.sees(id, kind, meta))
}

#[cfg(test)]
mod tests;
