//! The `config` record: a tenant's workflow settings (deal stages and their evidence gates,
//! visit radius, stale limits, visit cadence per customer tier, calendar overrides), authored on
//! the server as one Automerge document that every device applies. The rules that read these
//! settings live in [`crate::flow`], above the records.

use crate::calendar::{CalendarOverride, WorkCalendar};
use crate::error::{Error, Result};
use automerge::AutoCommit;
use chrono::{FixedOffset, Offset};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Evidence a deal needs before it may enter a stage.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Requirement {
    /// An attachment of this category (e.g. `quotation`) linked to the deal or its contact.
    Attachment {
        /// The attachment category.
        category: String,
    },
    /// A visit to the deal's contact within the last `days` days.
    RecentVisit {
        /// How many days back a visit counts.
        days: u32,
    },
    /// A scanned contract (attachment of this category) whose extracted amount is above zero.
    ContractWithAmount {
        /// The attachment category (default `contract`).
        #[serde(default = "contract_category")]
        category: String,
    },
}

fn contract_category() -> String {
    "contract".to_string()
}

impl Requirement {
    /// What is missing when this requirement is not met, for people.
    pub fn describe_missing(&self) -> String {
        match self {
            Requirement::Attachment { category } => {
                format!("a {category} attachment linked to the deal or its contact")
            }
            Requirement::RecentVisit { days } => {
                format!("a visit to the deal's contact in the last {days} days")
            }
            Requirement::ContractWithAmount { category } => {
                format!("a {category} scan with an amount")
            }
        }
    }
}

/// One stage of the deal pipeline.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StageRule {
    /// The stage name (`lead`, `proposal`, ...).
    pub name: String,
    /// Early stages go stale after `stale_early_hours`; later ones after
    /// `stale_late_working_days`.
    #[serde(default)]
    pub early: bool,
    /// A deal in a terminal stage (`won`, `lost`) is closed: never stale, never moved again.
    #[serde(default)]
    pub terminal: bool,
    /// Evidence needed to enter this stage.
    #[serde(default)]
    pub requires: Vec<Requirement>,
}

/// A tenant's workflow settings. Authored on the server; every device applies the same.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct FlowConfig {
    /// The pipeline, in order; a new deal starts in the first stage.
    pub stages: Vec<StageRule>,
    /// A check-in farther than this from the customer's location is `far_from_customer`.
    pub visit_radius_m: f64,
    /// A check-in with an accuracy worse than this is `low_accuracy`.
    pub max_accuracy_m: f64,
    /// A device clock off by more than this is `clock_suspect`.
    pub clock_tolerance_minutes: i64,
    /// A deal in an early stage without activity for this many hours is stale.
    pub stale_early_hours: i64,
    /// A deal in a later stage without activity for this many working days is stale.
    pub stale_late_working_days: u32,
    /// Longest time between visits, in days, per customer tier (the contact's `tier` field).
    pub tier_visit_days: BTreeMap<String, u32>,
    /// The tenant's UTC offset in minutes (480 for China): what "today" and a calendar day mean.
    pub utc_offset_minutes: i32,
    /// Tenant changes to the working-day calendar.
    pub calendar_overrides: Vec<CalendarOverride>,
}

impl Default for FlowConfig {
    fn default() -> Self {
        let stage =
            |name: &str, early: bool, terminal: bool, requires: Vec<Requirement>| StageRule {
                name: name.to_string(),
                early,
                terminal,
                requires,
            };
        FlowConfig {
            stages: vec![
                stage("lead", true, false, vec![]),
                stage("qualified", true, false, vec![]),
                stage(
                    "proposal",
                    false,
                    false,
                    vec![Requirement::Attachment {
                        category: "quotation".into(),
                    }],
                ),
                stage(
                    "negotiation",
                    false,
                    false,
                    vec![Requirement::RecentVisit { days: 30 }],
                ),
                stage(
                    "won",
                    false,
                    true,
                    vec![Requirement::ContractWithAmount {
                        category: contract_category(),
                    }],
                ),
                stage("lost", false, true, vec![]),
            ],
            visit_radius_m: 500.0,
            max_accuracy_m: 200.0,
            clock_tolerance_minutes: 10,
            stale_early_hours: 72,
            stale_late_working_days: 5,
            tier_visit_days: [("A", 7), ("B", 14), ("C", 30)]
                .into_iter()
                .map(|(k, v)| (k.to_string(), v))
                .collect(),
            utc_offset_minutes: 480,
            calendar_overrides: Vec::new(),
        }
    }
}

impl FlowConfig {
    /// Checks the configuration; the error names the setting.
    pub fn validate(&self) -> Result<()> {
        if self.stages.is_empty() {
            return Err(Error::validation(
                "stages",
                "",
                "the pipeline needs at least one stage",
            ));
        }
        let mut seen = std::collections::BTreeSet::new();
        for s in &self.stages {
            if s.name.trim().is_empty() || s.name.chars().count() > 64 {
                return Err(Error::validation(
                    "stages",
                    s.name.clone(),
                    "a stage name must be 1 to 64 characters",
                ));
            }
            if !seen.insert(s.name.as_str()) {
                return Err(Error::validation(
                    "stages",
                    s.name.clone(),
                    "stage names must be unique",
                ));
            }
        }
        for (field, v) in [
            ("visit_radius_m", self.visit_radius_m),
            ("max_accuracy_m", self.max_accuracy_m),
        ] {
            if !v.is_finite() || v <= 0.0 {
                return Err(Error::validation(
                    field,
                    v.to_string(),
                    "must be a positive number of metres",
                ));
            }
        }
        if self.clock_tolerance_minutes <= 0 || self.stale_early_hours <= 0 {
            return Err(Error::validation(
                "clock_tolerance_minutes/stale_early_hours",
                "",
                "must be positive",
            ));
        }
        if !(-14 * 60..=14 * 60).contains(&self.utc_offset_minutes) {
            return Err(Error::validation(
                "utc_offset_minutes",
                self.utc_offset_minutes.to_string(),
                "must be between -840 and 840",
            ));
        }
        self.calendar()?;
        Ok(())
    }

    /// The working-day calendar with this tenant's overrides.
    pub fn calendar(&self) -> Result<WorkCalendar> {
        WorkCalendar::with_overrides(&self.calendar_overrides)
    }

    /// The tenant's time zone.
    pub fn offset(&self) -> FixedOffset {
        FixedOffset::east_opt(self.utc_offset_minutes * 60)
            .unwrap_or_else(|| FixedOffset::east_opt(0).unwrap_or(chrono::Utc.fix()))
    }

    /// The rule of a stage, if the pipeline has it.
    pub fn stage(&self, name: &str) -> Option<&StageRule> {
        self.stages.iter().find(|s| s.name == name)
    }

    /// The names of the stages, in order.
    pub fn stage_names(&self) -> Vec<String> {
        self.stages.iter().map(|s| s.name.clone()).collect()
    }
}

/// The record id of a tenant's flow settings document (kind `config`), authored by the server.
pub fn config_record_id(tenant_id: &str) -> String {
    format!("config-{tenant_id}")
}

/// The user name the server writes its own changes as (verdicts, settings, assignments).
pub const SERVER_USER: &str = "outpost-server";

/// Commits pending operations as the server, with `action`; the change bytes, if anything changed.
pub fn commit_as_server(doc: &mut AutoCommit, action: &str, now_ms: i64) -> Option<Vec<u8>> {
    super::commit_as(doc, SERVER_USER, action, now_ms)?;
    doc.get_last_local_change().map(|c| c.raw_bytes().to_vec())
}

/// Writes a tenant's flow settings into its `config` document (created when `doc` is new).
/// Returns the change bytes, or `None` when nothing changed.
pub fn write_config_doc(
    doc: &mut AutoCommit,
    tenant_id: &str,
    config: &FlowConfig,
    now_ms: i64,
) -> Result<Option<Vec<u8>>> {
    config.validate()?;
    let json = serde_json::to_string(config)
        .map_err(|e| Error::validation("config", "", format!("cannot be written as JSON: {e}")))?;
    let id = config_record_id(tenant_id);
    super::put_opt_str(doc, "id", Some(&id))?;
    super::put_opt_str(doc, "kind", Some("config"))?;
    super::put_opt_str(doc, "flow", Some(&json))?;
    Ok(commit_as_server(doc, "settings", now_ms))
}

/// The flow settings held in a `config` document (defaults when it holds none).
pub fn config_of_doc(doc: &AutoCommit) -> FlowConfig {
    super::get_str(doc, "flow")
        .and_then(|j| serde_json::from_str(&j).ok())
        .unwrap_or_default()
}

/// Checks a `config` document received from elsewhere.
pub(crate) fn validate_doc(doc: &AutoCommit) -> std::result::Result<(), String> {
    let json = super::get_str(doc, "flow").ok_or("flow: settings missing")?;
    let config: FlowConfig =
        serde_json::from_str(&json).map_err(|e| format!("flow: not valid settings: {e}"))?;
    config.validate().map_err(|e| e.to_string())
}
