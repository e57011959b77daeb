//! Deal reads and writes. A stage move is refused, naming every missing piece of evidence, when
//! the target stage's gate is not met.

use super::evidence::{EvidenceSource, StoreEvidence};
use super::records::{load_record, write_record};
use super::{RecordKind, Store};
use crate::access::restricted_id;
use crate::error::{Error, Result};
use crate::flow::{self, EvidenceFacts, MissingEvidence};
use crate::record::deal::{self, Deal, DealFilter, NewDeal};
use crate::record::history::HistoryEntry;
use crate::record::{commit, new_doc, put_opt_str, rfc3339_ms, SyncState};
use automerge::{transaction::Transactable, AutoCommit, ROOT};
use chrono::{DateTime, FixedOffset};
use rusqlite::{params, Connection, OptionalExtension, Row, Transaction, TransactionBehavior};
use serde::{Deserialize, Serialize};

const COLUMNS: &str =
    "r.id, d.title, d.contact_id, d.company, d.amount, d.stage, d.owner, d.notes, d.extra, \
     d.created_at, d.stage_changed_at, d.updated_at, r.sync_state, d.discount, d.contract_amount";

/// Whether a deal may enter a stage, and if not, what is missing.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StageCheck {
    /// The deal.
    pub deal_id: String,
    /// The stage asked for.
    pub stage: String,
    /// Whether the move is allowed.
    pub allowed: bool,
    /// Every missing piece of evidence (empty when allowed).
    pub missing: Vec<MissingEvidence>,
    /// Why the move is impossible regardless of evidence (closed deal, unknown stage).
    pub blocked_reason: Option<String>,
}

fn from_row(r: &Row<'_>) -> rusqlite::Result<Deal> {
    Ok(Deal {
        id: r.get(0)?,
        title: r.get(1)?,
        contact_id: r.get(2)?,
        company: r.get(3)?,
        amount: r.get(4)?,
        discount: r.get(13)?,
        contract_amount: r.get(14)?,
        stage: r.get(5)?,
        owner: r.get(6)?,
        notes: r.get(7)?,
        extra: serde_json::from_str(&r.get::<_, String>(8)?).unwrap_or_default(),
        created_at: r.get(9)?,
        stage_changed_at: r.get(10)?,
        updated_at: r.get(11)?,
        sync_state: r.get(12)?,
    })
}

/// Rebuilds a deal's projection row inside `tx` and returns the deal as shown: the restricted
/// fields come from the restricted documents this device holds, else (an older build's deal)
/// from the deal's own document.
pub(crate) fn project(tx: &Transaction<'_>, rid: i64, d: &Deal) -> Result<Deal> {
    let mut d = d.clone();
    for (field, value) in super::restricted::values_of(tx, &d.id)? {
        d.set_restricted(&field, value);
    }
    tx.prepare_cached(
        "INSERT OR REPLACE INTO deals(rid, title, contact_id, company, amount, stage, owner, notes, extra, \
         created_at, stage_changed_at, updated_at, discount, contract_amount) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)",
    )?
    .execute(params![
        rid,
        d.title,
        d.contact_id,
        d.company,
        d.amount,
        d.stage,
        d.owner,
        d.notes,
        serde_json::to_string(&d.extra).unwrap_or_else(|_| "{}".into()),
        d.created_at,
        d.stage_changed_at,
        d.updated_at,
        d.discount,
        d.contract_amount,
    ])?;
    Ok(d)
}

/// A deal that a new record names: an unknown id is refused naming `deal`.
pub(crate) fn require(conn: &Connection, id: &str) -> Result<Deal> {
    get(conn, id.trim()).map_err(|e| match e {
        Error::NotFound { .. } => Error::validation("deal", id, "no deal with this id"),
        other => other,
    })
}

pub(crate) fn get(conn: &Connection, id: &str) -> Result<Deal> {
    conn.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM deals d JOIN records r ON r.rid = d.rid WHERE r.id = ?1"
    ))?
    .query_row([id], from_row)
    .optional()?
    .ok_or_else(|| Error::NotFound {
        kind: "deal",
        id: id.to_string(),
    })
}

/// Deals matching `filter`; a contact's deals include those of the contacts merged into it.
pub(crate) fn list(conn: &Connection, filter: &DealFilter) -> Result<Vec<Deal>> {
    let sql = format!(
        "SELECT {COLUMNS} FROM deals d JOIN records r ON r.rid = d.rid \
         WHERE (?1 IS NULL OR d.contact_id = ?1 OR d.contact_id IN ( \
           SELECT mr.id FROM contacts mc JOIN records mr ON mr.rid = mc.rid WHERE mc.merged_into = ?1)) \
         AND (?2 IS NULL OR d.stage = ?2) AND (?3 IS NULL OR d.owner = ?3) \
         ORDER BY d.updated_at DESC LIMIT ?4"
    );
    let mut stmt = conn.prepare_cached(&sql)?;
    let rows = stmt.query_map(
        params![
            filter.contact_id,
            filter.stage,
            filter.owner,
            filter.limit.map_or(-1, i64::from)
        ],
        from_row,
    )?;
    Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
}

/// Loads a deal, applies `f`, commits and writes document, projection and outbox in `tx`.
fn change_deal(
    tx: Transaction<'_>,
    actor: &crate::record::Actor,
    id: &str,
    action: &str,
    ms: i64,
    f: impl FnOnce(&mut automerge::AutoCommit) -> Result<()>,
) -> Result<Deal> {
    let (rid, mut doc, _) = load_record(&tx, RecordKind::Deal, id, actor)?;
    let before = doc.get_heads();
    f(&mut doc)?;
    if commit(&mut doc, actor, action, ms).is_none() {
        // The deal's document did not change; restricted fields written in `tx` may have.
        refresh_parent(&tx, id)?;
        let d = get(&tx, id)?;
        tx.commit()?;
        return Ok(d);
    }
    let w = write_record(
        &tx,
        Some(rid),
        id,
        RecordKind::Deal,
        &mut doc,
        Some(&before),
    )?;
    let d = deal::from_doc(id, &doc, w.updated_at, w.sync_state);
    let d = project(&tx, rid, &d)?;
    tx.commit()?;
    Ok(d)
}

/// Checks whether `deal` may enter `stage` at `now`, reading evidence through `facts`
/// ([`flow::stage_gate`], the rule the server applies again).
pub(crate) fn check_stage(
    config: &flow::FlowConfig,
    deal: &Deal,
    stage: &str,
    facts: &EvidenceFacts,
    now: DateTime<FixedOffset>,
) -> StageCheck {
    let gate = flow::stage_gate(config, &deal.id, Some(&deal.stage), stage, facts, now);
    StageCheck {
        deal_id: deal.id.clone(),
        stage: stage.to_string(),
        allowed: gate.allowed(),
        missing: gate.missing,
        blocked_reason: gate.blocked,
    }
}

/// The refusal for a check that did not pass: the field is `stage`, the reason lists exactly
/// what is missing.
fn refusal(check: &StageCheck) -> Error {
    let gate = flow::StageGate {
        blocked: check.blocked_reason.clone(),
        missing: check.missing.clone(),
    };
    let reason = gate
        .reason(&check.stage)
        .unwrap_or_else(|| format!("cannot enter {}", check.stage));
    Error::validation("stage", check.stage.clone(), reason)
}

/// Rebuilds a restricted document's projection row, then the row of the deal it belongs to (a
/// restricted document may arrive before or after its deal; whichever comes second rebuilds the
/// deal's row, so the row always shows what the device holds).
/// A document that is not a valid restricted field (or not stored under its field's id) is kept
/// but shows nowhere.
pub(crate) fn project_restricted(
    tx: &Transaction<'_>,
    rid: i64,
    id: &str,
    doc: &AutoCommit,
) -> Result<()> {
    // Only the document stored under the field's own id speaks for it: another one claiming the
    // same field is kept but ignored.
    let valid =
        crate::record::restricted::from_doc(doc).filter(|v| restricted_id(&v.of, &v.field) == id);
    let Some(v) = valid else {
        // No longer a valid restricted field (a newer build's change?): it shows nowhere, and
        // the record it belonged to stops showing it.
        let of: Option<String> = tx
            .prepare_cached("DELETE FROM restricted_values WHERE rid = ?1 RETURNING of")?
            .query_row([rid], |r| r.get(0))
            .optional()?;
        if let Some(of) = of {
            refresh_parent(tx, &of)?;
        }
        return Ok(());
    };
    tx.prepare_cached(
        "INSERT INTO restricted_values(rid, of, field, value) VALUES (?1, ?2, ?3, ?4) \
         ON CONFLICT(rid) DO UPDATE SET of = excluded.of, field = excluded.field, value = excluded.value",
    )?
    .execute(params![rid, v.of, v.field, v.value])?;
    refresh_parent(tx, &v.of)
}

/// Rebuilds the row of record `of` (a deal) from its document and the restricted values held
/// now; nothing when the device does not have it.
pub(crate) fn refresh_parent(tx: &Transaction<'_>, of: &str) -> Result<()> {
    let row: Option<(i64, Vec<u8>, String, SyncState)> = tx
        .prepare_cached(
            "SELECT rid, doc, updated_at, sync_state FROM records WHERE id = ?1 AND kind = 'deal'",
        )?
        .query_row([of], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
        .optional()?;
    let Some((rid, bytes, updated_at, sync_state)) = row else {
        return Ok(());
    };
    let doc = AutoCommit::load(&bytes).map_err(|e| Error::Document {
        id: of.to_string(),
        reason: e.to_string(),
    })?;
    let d = deal::from_doc(of, &doc, updated_at, sync_state);
    project(tx, rid, &d)?;
    Ok(())
}

impl Store {
    /// Creates a deal with a contact, in the pipeline's first stage (or `stage`, if its gate
    /// passes).
    pub fn add_deal(&mut self, new: NewDeal) -> Result<Deal> {
        self.guard()?;
        let r = self.add_deal_inner(new, Self::local_now());
        let d = self.ctx(r)?;
        self.notify(RecordKind::Deal, &d.id);
        Ok(d)
    }

    fn add_deal_inner(&mut self, mut new: NewDeal, now: DateTime<FixedOffset>) -> Result<Deal> {
        new.validate()?;
        let restricted = new.restricted();
        let config = self.ctx(super::settings::flow_config(&self.conn))?;
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        // A deal for a merged contact is the survivor's deal.
        let contact = super::contacts::target_of_new(&tx, &new.contact_id, true)?;
        let id = uuid::Uuid::now_v7().to_string();
        let stage = new
            .stage
            .clone()
            .map(|s| s.trim().to_string())
            .unwrap_or_else(|| config.stages[0].name.clone());
        let probe = Deal {
            id: id.clone(),
            title: new.title.clone(),
            contact_id: contact.id.clone(),
            company: None,
            amount: None,
            discount: None,
            contract_amount: None,
            stage: config.stages[0].name.clone(),
            owner: None,
            notes: None,
            extra: Default::default(),
            created_at: String::new(),
            stage_changed_at: String::new(),
            updated_at: String::new(),
            sync_state: SyncState::Local,
        };
        let facts = StoreEvidence::new(&tx).facts(&probe)?;
        let check = check_stage(&config, &probe, &stage, &facts, now);
        if !check.allowed {
            return Err(refusal(&check));
        }
        let ms = now.timestamp_millis();
        let mut doc = new_doc(&self.actor);
        doc.put(ROOT, "id", id.as_str())?;
        doc.put(ROOT, "kind", "deal")?;
        doc.put(ROOT, "title", new.title.as_str())?;
        doc.put(ROOT, "contact_id", contact.id.as_str())?;
        let company = new
            .company
            .map(|c| c.trim().to_string())
            .filter(|c| !c.is_empty())
            .or(contact.company);
        put_opt_str(&mut doc, "company", company.as_deref())?;
        doc.put(ROOT, "stage", stage.as_str())?;
        let owner = new
            .owner
            .map(|o| o.trim().to_string())
            .filter(|o| !o.is_empty())
            .unwrap_or_else(|| self.actor.user.clone());
        doc.put(ROOT, "owner", owner.as_str())?;
        put_opt_str(&mut doc, "notes", new.notes.as_deref().map(str::trim))?;
        doc.put(ROOT, "created_at", rfc3339_ms(ms))?;
        doc.put(ROOT, "stage_changed_at", rfc3339_ms(ms))?;
        commit(&mut doc, &self.actor, "create", ms);
        let w = write_record(&tx, None, &id, RecordKind::Deal, &mut doc, Some(&[]))?;
        // Restricted fields: a document each, in the same transaction, queued after the deal.
        for (field, value) in restricted {
            if value.is_some() {
                super::restricted::put(&tx, &self.actor, &id, field, value, "create", ms)?;
            }
        }
        let d = deal::from_doc(&id, &doc, w.updated_at, w.sync_state);
        let d = project(&tx, w.rid, &d)?;
        tx.commit()?;
        Ok(d)
    }

    /// One deal by id.
    pub fn get_deal(&self, id: &str) -> Result<Deal> {
        self.guard()?;
        self.ctx(get(&self.conn, id))
    }

    /// Deals, most recently changed first. A contact's deals include those of the contacts
    /// merged into it. A stage that is not one of the tenant's (and that no deal is in, as
    /// one removed from the settings may be) is refused, naming it and listing the stages.
    pub fn list_deals(&self, filter: &DealFilter) -> Result<Vec<Deal>> {
        self.guard()?;
        let run = || -> Result<Vec<Deal>> {
            if let Some(stage) = &filter.stage {
                let config = self.ctx(super::settings::flow_config(&self.conn))?;
                if config.stage(stage).is_none() {
                    let held: bool = self
                        .conn
                        .prepare_cached("SELECT EXISTS (SELECT 1 FROM deals WHERE stage = ?1)")?
                        .query_row([stage], |r| r.get(0))?;
                    if !held {
                        return Err(Error::validation(
                            "stage",
                            stage.as_str(),
                            format!(
                                "no such stage; the stages are {}",
                                config.stage_names().join(", ")
                            ),
                        ));
                    }
                }
            }
            list(&self.conn, filter)
        };
        self.ctx(run())
    }

    /// Whether deal `id` may enter `stage` now, and what evidence is missing.
    pub fn check_deal_stage(&self, id: &str, stage: &str) -> Result<StageCheck> {
        self.guard()?;
        let run = || -> Result<StageCheck> {
            let config = self.ctx(super::settings::flow_config(&self.conn))?;
            let deal = get(&self.conn, id)?;
            let facts = StoreEvidence::new(&self.conn).facts(&deal)?;
            Ok(check_stage(
                &config,
                &deal,
                stage.trim(),
                &facts,
                Self::local_now(),
            ))
        };
        self.ctx(run())
    }

    /// Moves a deal to `stage`. Refused (field `stage`) with every missing piece of evidence
    /// when the stage's gate is not met, for an unknown stage, or for a closed deal.
    pub fn move_deal(&mut self, id: &str, stage: &str) -> Result<Deal> {
        self.guard()?;
        let r = self.move_deal_at(id, stage, Self::local_now());
        let d = self.ctx(r)?;
        self.notify(RecordKind::Deal, &d.id);
        Ok(d)
    }

    pub(crate) fn move_deal_at(
        &mut self,
        id: &str,
        stage: &str,
        now: DateTime<FixedOffset>,
    ) -> Result<Deal> {
        let stage = stage.trim();
        let config = self.ctx(super::settings::flow_config(&self.conn))?;
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let current = get(&tx, id)?;
        if current.stage == stage {
            return Ok(current);
        }
        let facts = StoreEvidence::new(&tx).facts(&current)?;
        let check = check_stage(&config, &current, stage, &facts, now);
        if !check.allowed {
            return Err(refusal(&check));
        }
        let ms = now.timestamp_millis();
        change_deal(tx, &self.actor, id, "move", ms, |doc| {
            doc.put(ROOT, "stage", stage)?;
            doc.put(ROOT, "stage_changed_at", rfc3339_ms(ms))?;
            Ok(())
        })
    }

    /// Changes a deal's amount, notes or owner (`None` leaves a field alone, `Some("")` clears
    /// notes or owner). The amount is a restricted field: it is written to its own document as
    /// [`Store::set_deal_field`] does, in the same transaction as the rest.
    pub fn edit_deal(
        &mut self,
        id: &str,
        amount: Option<f64>,
        notes: Option<String>,
        owner: Option<String>,
    ) -> Result<Deal> {
        self.guard()?;
        if let Some(a) = amount {
            crate::record::restricted::check_value("amount", a)?;
        }
        if let Some(n) = &notes {
            crate::record::check_text("notes", n, crate::record::contact::MAX_NOTES_CHARS)?;
        }
        let run = |store: &mut Store| -> Result<Deal> {
            let tx = store
                .conn
                .transaction_with_behavior(TransactionBehavior::Immediate)?;
            let ms = Self::now_ms();
            if let Some(o) = owner.as_deref().map(str::trim) {
                if get(&tx, id)?.owner.as_deref().unwrap_or_default() != o {
                    super::scope::require(&tx, "assign", "change a deal's owner")?;
                }
            }
            if let Some(a) = amount {
                let deal = get(&tx, id)?;
                super::restricted::put(&tx, &store.actor, &deal.id, "amount", Some(a), "edit", ms)?;
            }
            change_deal(tx, &store.actor, id, "edit", ms, |doc| {
                if let Some(n) = &notes {
                    put_opt_str(doc, "notes", Some(n.trim()))?;
                }
                if let Some(o) = &owner {
                    put_opt_str(doc, "owner", Some(o.trim()))?;
                }
                Ok(())
            })
        };
        let r = run(self);
        let d = self.ctx(r)?;
        self.notify(RecordKind::Deal, &d.id);
        Ok(d)
    }

    /// Who moved or changed a deal, when: one entry per change, oldest first. Changes of its
    /// restricted fields that this device holds are included, named by field (`amount`, ...).
    pub fn deal_history(&self, id: &str) -> Result<Vec<HistoryEntry>> {
        self.guard()?;
        let run = || -> Result<Vec<HistoryEntry>> {
            let (_, mut doc, _) = load_record(&self.conn, RecordKind::Deal, id, &self.actor)?;
            let own = crate::record::history::history(&mut doc);
            let mut restricted = super::restricted::history_of(&self.conn, id, &self.actor)?;
            restricted.sort_by(|a, b| a.at.cmp(&b.at));
            // The deal's own changes keep their causal order (device clocks may disagree); the
            // restricted fields' changes are merged in by time.
            let mut out = Vec::with_capacity(own.len() + restricted.len());
            let mut restricted = restricted.into_iter().peekable();
            for entry in own {
                while let Some(r) = restricted.next_if(|r| r.at < entry.at) {
                    out.push(r);
                }
                out.push(entry);
            }
            out.extend(restricted);
            Ok(out)
        };
        self.ctx(run())
    }

    /// Now, in the machine's local offset.
    pub(crate) fn local_now() -> DateTime<FixedOffset> {
        chrono::Local::now().fixed_offset()
    }
}

impl Store {
    /// Sets a restricted field of a deal (`amount`, `discount` or `contract_amount`); `None`
    /// clears it. The value lives in a document of its own, so it reaches only devices whose
    /// user may read the field. Refused with [`Error::Permission`] when the user's role may not
    /// write it (once the server has said), and naming `field` or the value when invalid.
    pub fn set_deal_field(
        &mut self,
        deal_id: &str,
        field: &str,
        value: Option<f64>,
    ) -> Result<crate::Deal> {
        self.guard()?;
        let field = field.trim();
        crate::record::restricted::check_field("deal", field)?;
        if let Some(v) = value {
            crate::record::restricted::check_value(field, v)?;
        }
        let run = |store: &mut Store| -> Result<crate::Deal> {
            let tx = store
                .conn
                .transaction_with_behavior(TransactionBehavior::Immediate)?;
            let deal = get(&tx, deal_id.trim())?;
            super::restricted::put(
                &tx,
                &store.actor,
                &deal.id,
                field,
                value,
                "edit",
                Self::now_ms(),
            )?;
            refresh_parent(&tx, &deal.id)?;
            let d = get(&tx, &deal.id)?;
            tx.commit()?;
            Ok(d)
        };
        let r = run(self);
        let d = self.ctx(r)?;
        self.notify(super::RecordKind::Deal, &d.id);
        Ok(d)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{NewContact, StoreOptions};

    fn t(s: &str) -> DateTime<FixedOffset> {
        DateTime::parse_from_rfc3339(s).unwrap_or_default()
    }

    /// Attaches a small file of `category` to the contact (and deal), with an amount field.
    fn attach(
        store: &mut Store,
        category: &str,
        contact: &str,
        deal: &str,
        amount: Option<&str>,
    ) -> Result<(), Box<dyn std::error::Error>> {
        store.attach(crate::NewAttachment {
            contact_id: contact.to_string(),
            deal_id: Some(deal.to_string()),
            category: category.to_string(),
            mime: "application/pdf".into(),
            bytes: format!("{category} {amount:?}").into_bytes(),
            fields: amount
                .map(|a| [("amount".to_string(), a.to_string())].into())
                .unwrap_or_default(),
            ..Default::default()
        })?;
        Ok(())
    }

    fn setup() -> Result<(tempfile::TempDir, Store, String), Box<dyn std::error::Error>> {
        let dir = tempfile::tempdir()?;
        let mut store = Store::open(dir.path().join("rep.db"), StoreOptions::default())?;
        let c = store.add_contact(NewContact {
            name: "张伟".into(),
            company: Some("深圳市华强科技有限公司".into()),
            ..Default::default()
        })?;
        Ok((dir, store, c.id))
    }

    #[test]
    fn gates_refuse_with_what_is_missing_then_pass_with_evidence(
    ) -> Result<(), Box<dyn std::error::Error>> {
        let (_dir, mut store, contact) = setup()?;
        let d = store.add_deal(NewDeal {
            title: "ERP 项目".into(),
            contact_id: contact.clone(),
            amount: Some(300_000.0),
            ..Default::default()
        })?;
        assert_eq!(d.stage, "lead");
        assert_eq!(d.company.as_deref(), Some("深圳市华强科技有限公司"));
        store.move_deal(&d.id, "qualified")?;
        // Proposal needs a quotation.
        let e = store.move_deal(&d.id, "proposal");
        match e {
            Err(Error::Validation { field, reason, .. }) => {
                assert_eq!(field, "stage");
                assert!(reason.contains("quotation"), "{reason}");
            }
            other => panic!("expected a refusal, got {other:?}"),
        }
        assert_eq!(store.get_deal(&d.id)?.stage, "qualified", "nothing written");
        attach(&mut store, "quotation", &contact, &d.id, None)?;
        assert!(store.check_deal_stage(&d.id, "proposal")?.allowed);
        store.move_deal(&d.id, "proposal")?;
        // Negotiation needs a recent visit; won needs a contract with an amount.
        let check = store.check_deal_stage(&d.id, "negotiation")?;
        assert!(!check.allowed);
        assert!(check.missing[0].description.contains("visit"));
        store.check_in(crate::CheckIn {
            contact_id: contact.clone(),
            lat: 22.54,
            lon: 113.95,
            accuracy_m: Some(10.0),
            device_time: None,
            elapsed_ms: None,
            coords: None,
        })?;
        store.move_deal(&d.id, "negotiation")?;
        // A visit 40 days before "now" would not count.
        let later = t("2099-01-01T10:00:00+08:00");
        let e = store.move_deal_at(&d.id, "qualified", later);
        assert!(e.is_ok(), "moving back needs no evidence: {e:?}");
        assert!(store.move_deal_at(&d.id, "negotiation", later).is_err());
        store.move_deal(&d.id, "negotiation")?;
        attach(&mut store, "contract", &contact, &d.id, None)?;
        let e = store.move_deal(&d.id, "won");
        assert!(
            matches!(e, Err(Error::Validation { ref reason, .. }) if reason.contains("contract scan with an amount"))
        );
        attach(&mut store, "contract", &contact, &d.id, Some("288,000.00"))?;
        let won = store.move_deal(&d.id, "won")?;
        assert_eq!(won.stage, "won");
        let e = store.move_deal(&d.id, "lost");
        assert!(
            matches!(e, Err(Error::Validation { ref reason, .. }) if reason.contains("closed"))
        );
        let h = store.deal_history(&d.id)?;
        let stages: Vec<_> = h
            .iter()
            .flat_map(|e| e.changes.iter())
            .filter(|c| c.field == "stage")
            .filter_map(|c| c.new.clone())
            .collect();
        assert_eq!(
            stages,
            [
                "lead",
                "qualified",
                "proposal",
                "negotiation",
                "qualified",
                "negotiation",
                "won"
            ]
        );
        Ok(())
    }

    #[test]
    fn unknown_stages_and_contacts_are_refused() -> Result<(), Box<dyn std::error::Error>> {
        let (_dir, mut store, contact) = setup()?;
        let e = store.add_deal(NewDeal {
            title: "x".into(),
            contact_id: "nope".into(),
            ..Default::default()
        });
        assert!(matches!(e, Err(Error::Validation { ref field, .. }) if field == "contact"));
        let d = store.add_deal(NewDeal {
            title: "x".into(),
            contact_id: contact,
            ..Default::default()
        })?;
        let e = store.move_deal(&d.id, "signed");
        assert!(
            matches!(e, Err(Error::Validation { ref reason, .. }) if reason.contains("lead, qualified, proposal"))
        );
        // A file for a deal that does not exist is refused, not linked to nothing.
        let e = attach(&mut store, "quotation", &d.contact_id, "no-such-deal", None);
        assert!(
            e.as_ref()
                .is_err_and(|e| e.to_string().contains("invalid deal: no deal with this id")),
            "{e:?}"
        );
        assert!(store.list_attachments(&d.contact_id)?.is_empty());
        attach(&mut store, "quotation", &d.contact_id, &d.id, None)?;
        assert_eq!(store.list_attachments(&d.contact_id)?.len(), 1);
        // The store's overview counts deals by stage.
        let deals: Vec<(String, u64)> = store
            .status()?
            .records
            .into_iter()
            .filter(|k| k.kind == "deal")
            .map(|k| (k.status, k.count))
            .collect();
        assert_eq!(deals, [("lead".to_string(), 1)]);
        Ok(())
    }
}
