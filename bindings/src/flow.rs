//! Field workflows for the apps: verified check-ins, deals with stage gates, tasks, today's list,
//! alerts, the tenant's flow settings and Chinese address parsing. Conversions only.

use crate::error::OutpostError;
use crate::store::OutpostStore;
use crate::types::{CheckIn, HistoryEntry, Visit};
pub use oc::{Alert, Deal, DealFilter, NewDeal, NewTask, Task, TodayItem, TodayReason};
use outpost_core as oc;

/// The verdict of a check-in, with every failed check.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct VisitCheck {
    /// `verified`, `far_from_customer`, `low_accuracy`, `clock_suspect` or `mock_location`.
    pub verdict: String,
    /// Every failed check, most serious first (empty when verified).
    pub reasons: Vec<String>,
    /// Distance to the customer's stored location in metres, when it has one.
    pub distance_m: Option<f64>,
    /// `device`, or `server` once the server re-checked (its verdict wins).
    pub decided_by: String,
}

/// A check-in with its verdict and what it filled in on the customer.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct VerifiedVisit {
    /// The visit as stored.
    pub visit: Visit,
    /// Its verdict.
    pub check: VisitCheck,
    /// Whether this check-in set the customer's location (it had none).
    pub contact_located: bool,
    /// The district filled into the customer's empty address, if any.
    pub address_filled: Option<String>,
}

/// One piece of evidence a stage needs and the deal lacks.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct MissingEvidence {
    /// `attachment`, `recent_visit` or `contract_with_amount`.
    pub requirement: String,
    /// What is missing, for people.
    pub description: String,
}

/// Whether a deal may enter a stage.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct StageCheck {
    /// The deal.
    pub deal_id: String,
    /// The stage asked for.
    pub stage: String,
    /// Whether the move is allowed.
    pub allowed: bool,
    /// Every missing piece of evidence.
    pub missing: Vec<MissingEvidence>,
    /// Why the move is impossible whatever the evidence (closed deal, unknown stage).
    pub blocked_reason: Option<String>,
}

/// A Chinese address split into its administrative parts.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct ParsedAddress {
    /// Province, autonomous region or municipality.
    pub province: Option<String>,
    /// Prefecture-level city.
    pub city: Option<String>,
    /// County-level district.
    pub district: Option<String>,
    /// What follows.
    pub rest: String,
    /// The official code of the most specific division found.
    pub code: Option<String>,
    /// The address written out in full.
    pub full: String,
    /// Whether levels the text left out were filled in.
    pub completed: bool,
    /// Whether the district name exists in several places and one was chosen.
    pub ambiguous: bool,
    /// The other places it could be.
    pub alternatives: Vec<String>,
}

impl From<oc::VisitCheck> for VisitCheck {
    fn from(c: oc::VisitCheck) -> Self {
        VisitCheck {
            verdict: c.verdict.as_str().to_string(),
            reasons: c.reasons,
            distance_m: c.distance_m,
            decided_by: c.by,
        }
    }
}

impl From<oc::StageCheck> for StageCheck {
    fn from(c: oc::StageCheck) -> Self {
        StageCheck {
            deal_id: c.deal_id,
            stage: c.stage,
            allowed: c.allowed,
            missing: c
                .missing
                .into_iter()
                .map(|m| MissingEvidence {
                    requirement: match m.requirement {
                        oc::Requirement::Attachment { .. } => "attachment",
                        oc::Requirement::RecentVisit { .. } => "recent_visit",
                        oc::Requirement::ContractWithAmount { .. } => "contract_with_amount",
                    }
                    .to_string(),
                    description: m.description,
                })
                .collect(),
            blocked_reason: c.blocked_reason,
        }
    }
}

/// Splits a Chinese address into province / city / district / rest from the official division
/// table, filling in the levels the text leaves out (`南山区科技园` → 广东省 深圳市 南山区). Offline.
#[uniffi::export]
pub fn parse_address(text: String) -> ParsedAddress {
    let p = oc::parse_address(&text);
    ParsedAddress {
        full: p.full(),
        province: p.province,
        city: p.city,
        district: p.district,
        rest: p.rest,
        code: p.code,
        completed: p.completed,
        ambiguous: p.ambiguous,
        alternatives: p.alternatives,
    }
}

/// Reads an amount in yuan as a rep types it (`305000`, `¥305,000.00`, `305000元`, `RMB 30.5万`,
/// `人民币…`, `叁拾万伍仟元整`, full-width digits), for [`NewDeal`] and `set_deal_field`. A
/// foreign currency (`$`, `USD`, `美元`) or anything else is a validation error naming `field`
/// and showing what is accepted.
#[uniffi::export]
pub fn parse_amount(field: String, text: String) -> Result<f64, OutpostError> {
    Ok(oc::amount::parse(&field, &text)?)
}

/// Reads the value of a deal's restricted field as typed: `discount` as a percentage (`15`,
/// `15%`), `amount` and `contract_amount` like [`parse_amount`].
#[uniffi::export]
pub fn parse_deal_field_value(field: String, text: String) -> Result<f64, OutpostError> {
    Ok(oc::amount::parse_deal_field(&field, &text)?)
}

#[uniffi::export]
impl OutpostStore {
    /// Checks in at a customer and judges the check-in. Pass the platform's mock-location flag
    /// (Android `Location.isMock()`, iOS `CLLocationSourceInformation.isSimulatedBySoftware`).
    /// A customer without a location gets this position; one without an address gets the
    /// district of the nearest customer with a known address within 2 km.
    pub fn check_in_verified(
        &self,
        check_in: CheckIn,
        mock_location: bool,
    ) -> Result<VerifiedVisit, OutpostError> {
        let v = self.write(|s| s.check_in_verified(check_in, mock_location))?;
        Ok(VerifiedVisit {
            visit: v.visit,
            check: v.check.into(),
            contact_located: v.contact_located,
            address_filled: v.address_filled,
        })
    }

    /// The verdict of a visit (`null` for visits made before verdicts existed).
    pub fn visit_check(&self, visit_id: String) -> Result<Option<VisitCheck>, OutpostError> {
        Ok(self.read(|s| s.visit_check(&visit_id))?.map(Into::into))
    }

    /// Remembers the server's clock (from the last sync) and `SystemClock.elapsedRealtime()` /
    /// `systemUptime` read at the same moment; later check-ins whose device clock disagrees
    /// with the monotonic clock by more than the tenant's tolerance are `clock_suspect`.
    pub fn set_clock_reference(&self, wall_ms: i64, elapsed_ms: i64) -> Result<(), OutpostError> {
        self.write(|s| {
            s.set_clock_reference(oc::ClockReference {
                wall_ms,
                elapsed_ms,
            })
        })
    }

    /// The server's clock (ms since the epoch) in the last sync answer.
    pub fn last_server_time_ms(&self) -> Result<Option<i64>, OutpostError> {
        self.read(|s| s.last_server_time_ms())
    }

    /// Creates a deal with a contact.
    pub fn add_deal(&self, deal: NewDeal) -> Result<Deal, OutpostError> {
        self.write(|s| s.add_deal(deal))
    }

    /// Sets a restricted field of a deal (`amount`, `discount` or `contract_amount`); `null`
    /// clears it. Throws `OutpostException.Permission` when the user's role may not write it.
    pub fn set_deal_field(
        &self,
        deal_id: String,
        field: String,
        value: Option<f64>,
    ) -> Result<Deal, OutpostError> {
        self.write(|s| s.set_deal_field(&deal_id, &field, value))
    }

    /// One deal.
    pub fn get_deal(&self, id: String) -> Result<Deal, OutpostError> {
        self.read(|s| s.get_deal(&id))
    }

    /// Deals, most recently changed first.
    pub fn list_deals(&self, filter: DealFilter) -> Result<Vec<Deal>, OutpostError> {
        self.read(|s| s.list_deals(&filter))
    }

    /// Moves a deal to a stage. Refused with `OutpostException.Validation` (field `stage`) whose
    /// reason lists every missing piece of evidence; `checkDealStage` gives them as a list.
    pub fn move_deal(&self, id: String, stage: String) -> Result<Deal, OutpostError> {
        self.write(|s| s.move_deal(&id, &stage))
    }

    /// Whether a deal may enter a stage now, and what evidence is missing.
    pub fn check_deal_stage(&self, id: String, stage: String) -> Result<StageCheck, OutpostError> {
        self.read(|s| s.check_deal_stage(&id, &stage))
            .map(Into::into)
    }

    /// Who moved or changed a deal, when, oldest first.
    pub fn deal_history(&self, id: String) -> Result<Vec<HistoryEntry>, OutpostError> {
        self.read(|s| s.deal_history(&id))
    }

    /// Creates a follow-up or a planned visit.
    pub fn add_task(&self, task: NewTask) -> Result<Task, OutpostError> {
        self.write(|s| s.add_task(task))
    }

    /// Marks a task done.
    pub fn complete_task(&self, id: String) -> Result<Task, OutpostError> {
        self.write(|s| s.complete_task(&id))
    }

    /// Tasks, earliest due first (open ones unless `include_done`); a contact's tasks include
    /// those of the contacts merged into it.
    pub fn list_tasks(
        &self,
        contact_id: Option<String>,
        include_done: bool,
    ) -> Result<Vec<Task>, OutpostError> {
        let filter = oc::TaskFilter {
            contact_id,
            include_done,
            due_by: None,
        };
        self.read(|s| s.list_tasks(&filter))
    }

    /// The rep's must-contact list for `date` (`YYYY-MM-DD`, default today), best first.
    pub fn today(&self, date: Option<String>) -> Result<Vec<TodayItem>, OutpostError> {
        self.read(|s| s.today(date.as_deref()))
    }

    /// The manager's alerts: every rep's stale deals and unverified check-ins.
    pub fn alerts(&self, date: Option<String>) -> Result<Vec<Alert>, OutpostError> {
        self.read(|s| s.alerts(date.as_deref()))
    }

    /// The tenant's flow settings as JSON (stages and gates, radius, stale limits, tiers,
    /// calendar overrides).
    pub fn flow_config_json(&self) -> Result<String, OutpostError> {
        self.read(|s| s.flow_config_json())
    }

    /// Replaces the flow settings from JSON (missing keys take their defaults). Once the device
    /// knows its role (after a sync), a user without `flow:configure` is refused
    /// (`OutpostError.Permission`); the server re-checks every stage gate with the tenant's own
    /// settings anyway.
    pub fn set_flow_config_json(&self, json: String) -> Result<(), OutpostError> {
        self.write(|s| s.set_flow_config_json(&json))
    }
}
