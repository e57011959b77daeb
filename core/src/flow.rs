//! Field workflows, as pure rules: the tenant's configuration (deal stages and their evidence
//! gates, visit radius, stale limits, visit cadence per customer tier, calendar overrides),
//! visit verdicts, stage gates and stale checks. Nothing here does I/O; the store feeds it facts.

use crate::calendar::WorkCalendar;
use crate::error::Result;
use automerge::AutoCommit;
use chrono::{DateTime, FixedOffset, NaiveDate};
use serde::{Deserialize, Serialize};

// The settings themselves are the `config` record's; the rules below read them.
pub use crate::record::config::{
    commit_as_server, config_of_doc, config_record_id, write_config_doc, FlowConfig, Requirement,
    StageRule, SERVER_USER,
};

/// The verdict of a check-in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, PartialOrd, Ord)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// Position, accuracy and clock all check out.
    Verified,
    /// Farther from the customer's stored location than the tenant's radius.
    FarFromCustomer,
    /// The position's accuracy is worse than the tenant's limit.
    LowAccuracy,
    /// The device clock disagrees with monotonic time or the server's clock.
    ClockSuspect,
    /// The platform reported a mock (fake) location.
    MockLocation,
}

impl Verdict {
    /// `verified`, `far_from_customer`, `low_accuracy`, `clock_suspect`, `mock_location`.
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Verified => "verified",
            Verdict::FarFromCustomer => "far_from_customer",
            Verdict::LowAccuracy => "low_accuracy",
            Verdict::ClockSuspect => "clock_suspect",
            Verdict::MockLocation => "mock_location",
        }
    }

    /// Parses the stored name.
    pub fn parse(s: &str) -> Option<Verdict> {
        [
            Verdict::Verified,
            Verdict::FarFromCustomer,
            Verdict::LowAccuracy,
            Verdict::ClockSuspect,
            Verdict::MockLocation,
        ]
        .into_iter()
        .find(|v| v.as_str() == s)
    }
}

/// What a verdict is computed from.
#[derive(Debug, Clone, PartialEq)]
pub struct VerdictInput {
    /// Check-in position.
    pub lat: f64,
    /// Check-in position.
    pub lon: f64,
    /// Reported accuracy in metres.
    pub accuracy_m: Option<f64>,
    /// The platform's mock-location flag.
    pub mock_location: bool,
    /// The customer's stored location, if it has one.
    pub customer: Option<(f64, f64)>,
    /// How far the device clock is off, in ms, if it could be judged (against monotonic time
    /// since the last server contact, or against the server's clock).
    pub clock_skew_ms: Option<i64>,
}

/// A verdict with every failed check and the distance, as stored on the visit.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VisitCheck {
    /// The overall verdict: the most serious failed check, or `verified`.
    pub verdict: Verdict,
    /// Every failed check, most serious first.
    pub reasons: Vec<String>,
    /// Distance to the customer's stored location in metres, when it has one.
    pub distance_m: Option<f64>,
    /// Who decided: `device` or `server` (the server's verdict wins).
    pub by: String,
}

/// Great-circle distance in metres (haversine, mean Earth radius).
pub fn distance_m(a: (f64, f64), b: (f64, f64)) -> f64 {
    let r = 6_371_008.8_f64;
    let (lat1, lat2) = (a.0.to_radians(), b.0.to_radians());
    let dlat = (b.0 - a.0).to_radians();
    let dlon = (b.1 - a.1).to_radians();
    let h = (dlat / 2.0).sin().powi(2) + lat1.cos() * lat2.cos() * (dlon / 2.0).sin().powi(2);
    2.0 * r * h.sqrt().min(1.0).asin()
}

/// Judges a check-in.
pub fn judge_visit(input: &VerdictInput, config: &FlowConfig, by: &str) -> VisitCheck {
    let mut failed: Vec<(Verdict, String)> = Vec::new();
    if input.mock_location {
        failed.push((
            Verdict::MockLocation,
            "the platform reported a mock location".into(),
        ));
    }
    if let Some(skew) = input.clock_skew_ms {
        let tolerance = config.clock_tolerance_minutes * 60_000;
        if skew.abs() > tolerance {
            failed.push((
                Verdict::ClockSuspect,
                format!(
                    "the device clock is off by {} minutes (tolerance {})",
                    skew.abs() / 60_000,
                    config.clock_tolerance_minutes
                ),
            ));
        }
    }
    match input.accuracy_m {
        Some(a) if a > config.max_accuracy_m => failed.push((
            Verdict::LowAccuracy,
            format!(
                "accuracy {a:.0} m is worse than {:.0} m",
                config.max_accuracy_m
            ),
        )),
        Some(_) => {}
        // A position without its accuracy could be anywhere: it verifies nothing.
        None => failed.push((
            Verdict::LowAccuracy,
            "no accuracy reported: the position cannot be judged".into(),
        )),
    }
    let distance = input
        .customer
        .map(|c| distance_m((input.lat, input.lon), c));
    if let Some(d) = distance {
        if d > config.visit_radius_m {
            failed.push((
                Verdict::FarFromCustomer,
                format!(
                    "{d:.0} m from the customer's location (radius {:.0} m)",
                    config.visit_radius_m
                ),
            ));
        }
    }
    failed.sort_by_key(|f| std::cmp::Reverse(f.0));
    VisitCheck {
        verdict: failed.first().map_or(Verdict::Verified, |f| f.0),
        reasons: failed.into_iter().map(|f| f.1).collect(),
        distance_m: distance.map(|d| (d * 10.0).round() / 10.0),
        by: by.to_string(),
    }
}

/// The facts about a deal's evidence that the gates read.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct EvidenceFacts {
    /// Attachments of the deal's contact (and of the contacts merged with it); those linked to
    /// another deal are left out by the gates.
    pub attachments: Vec<AttachmentFacts>,
    /// The latest visit to the deal's contact.
    pub last_visit: Option<DateTime<FixedOffset>>,
}

/// What a gate needs to know of one attachment record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AttachmentFacts {
    /// The attachment record id.
    pub id: String,
    /// Its category (`quotation`, `contract`, ...).
    pub category: String,
    /// The amount extracted from it (contracts), if any.
    pub amount: Option<f64>,
    /// The deal it is linked to; `None` for an attachment of the contact alone. An attachment
    /// of another deal is no evidence for this one.
    #[serde(default)]
    pub deal_id: Option<String>,
}

impl AttachmentFacts {
    /// Reads them from an attachment document (category trimmed and lower-cased, the contract
    /// amount read from `fields.amount`).
    pub fn of_doc(id: &str, doc: &AutoCommit) -> Self {
        use automerge::{ObjType, ReadDoc, ScalarValue, Value, ROOT};
        let get = crate::record::get_str;
        // Only `fields.amount` is read: an attachment's OCR text may be long.
        let amount = match doc.get(ROOT, "fields") {
            Ok(Some((Value::Object(ObjType::Map), fields))) => match doc.get(&fields, "amount") {
                Ok(Some((Value::Scalar(v), _))) => match v.as_ref() {
                    ScalarValue::Str(t) => evidence_amount(t),
                    ScalarValue::F64(f) => Some(*f).filter(|f| f.is_finite()),
                    ScalarValue::Int(i) => Some(*i as f64),
                    ScalarValue::Uint(u) => Some(*u as f64),
                    _ => None,
                },
                _ => None,
            },
            _ => None,
        };
        AttachmentFacts {
            id: id.to_string(),
            category: get(doc, "category")
                .unwrap_or_default()
                .trim()
                .to_lowercase(),
            amount,
            deal_id: get(doc, "deal_id").filter(|d| !d.trim().is_empty()),
        }
    }

    /// Whether this attachment is evidence for deal `deal_id`: linked to it, or to no deal.
    pub fn counts_for(&self, deal_id: &str) -> bool {
        self.deal_id.as_deref().is_none_or(|d| d == deal_id)
    }
}

/// A contract amount written as text (`"288000.00"`, `"288,000"`, `"288，000"`), as a gate
/// reads it.
pub fn evidence_amount(text: &str) -> Option<f64> {
    text.replace([',', '，', ' '], "")
        .parse::<f64>()
        .ok()
        .filter(|n| n.is_finite())
}

/// When a visit document says the check-in was made (its `device_time`), for the gates.
pub fn visit_time_of_doc(doc: &AutoCommit) -> Option<DateTime<FixedOffset>> {
    crate::record::get_str(doc, "device_time").and_then(|t| DateTime::parse_from_rfc3339(&t).ok())
}

/// One piece of evidence a stage needs and the deal lacks.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MissingEvidence {
    /// The requirement.
    pub requirement: Requirement,
    /// What is missing, for people.
    pub description: String,
}

/// The requirements of `stage` that `facts` do not meet at `now` for deal `deal_id`: an
/// attachment linked to another deal of the same contact is no evidence for this one.
pub fn missing_evidence(
    stage: &StageRule,
    deal_id: &str,
    facts: &EvidenceFacts,
    now: DateTime<FixedOffset>,
) -> Vec<MissingEvidence> {
    let attachments = facts.attachments.iter().filter(|a| a.counts_for(deal_id));
    stage
        .requires
        .iter()
        .filter(|r| match r {
            Requirement::Attachment { category } => {
                !attachments.clone().any(|a| &a.category == category)
            }
            Requirement::RecentVisit { days } => !facts.last_visit.is_some_and(|v| {
                now.signed_duration_since(v) <= chrono::Duration::days(i64::from(*days))
            }),
            Requirement::ContractWithAmount { category } => !attachments
                .clone()
                .any(|a| &a.category == category && a.amount.is_some_and(|x| x > 0.0)),
        })
        .map(|r| MissingEvidence {
            requirement: r.clone(),
            description: r.describe_missing(),
        })
        .collect()
}

/// Whether a stage move may happen: why it is impossible whatever the evidence, or what
/// evidence it lacks. Decided by [`stage_gate`], on the device and again on the server.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct StageGate {
    /// Why the move is impossible regardless of evidence (unknown stage, closed deal).
    pub blocked: Option<String>,
    /// Every missing piece of evidence (empty when the gate is met).
    pub missing: Vec<MissingEvidence>,
}

impl StageGate {
    /// Whether the move is allowed.
    pub fn allowed(&self) -> bool {
        self.blocked.is_none() && self.missing.is_empty()
    }

    /// Why entering `stage` is refused, for people (`None` when allowed): the blocking reason,
    /// or `cannot enter STAGE without ...` listing exactly what is missing.
    pub fn reason(&self, stage: &str) -> Option<String> {
        if let Some(blocked) = &self.blocked {
            return Some(blocked.clone());
        }
        (!self.missing.is_empty()).then(|| {
            format!(
                "cannot enter {stage} without {}",
                self.missing
                    .iter()
                    .map(|m| m.description.as_str())
                    .collect::<Vec<_>>()
                    .join("; and ")
            )
        })
    }
}

/// The gate of deal `deal_id` entering `target` from `current` (`None` for a new deal) at
/// `now`, with the tenant's `config` and the deal's evidence: an unknown stage is refused, a
/// closed deal (in a terminal stage) does not move, and the target's requirements must be met.
pub fn stage_gate(
    config: &FlowConfig,
    deal_id: &str,
    current: Option<&str>,
    target: &str,
    facts: &EvidenceFacts,
    now: DateTime<FixedOffset>,
) -> StageGate {
    let blocked = |reason: String| StageGate {
        blocked: Some(reason),
        missing: Vec::new(),
    };
    let Some(rule) = config.stage(target) else {
        return blocked(format!(
            "unknown stage {target:?}; the stages are {}",
            config.stage_names().join(", ")
        ));
    };
    if let Some(current) = current {
        if config.stage(current).is_some_and(|s| s.terminal) && current != target {
            return blocked(format!(
                "the deal is closed ({current}); a closed deal does not move"
            ));
        }
    }
    StageGate {
        blocked: None,
        missing: missing_evidence(rule, deal_id, facts, now),
    }
}

/// Whether a deal in `stage` whose last activity was at `last_activity` is stale at `now`, and
/// why. Early stages: `stale_early_hours` hours. Later ones: more than `stale_late_working_days`
/// working days passed after the activity's day (in the tenant's time zone). Terminal: never.
pub fn stale_reason(
    stage: &StageRule,
    last_activity: DateTime<FixedOffset>,
    now: DateTime<FixedOffset>,
    config: &FlowConfig,
    calendar: &WorkCalendar,
) -> Option<String> {
    if stage.terminal {
        return None;
    }
    if stage.early {
        let hours = now.signed_duration_since(last_activity).num_hours();
        return (hours >= config.stale_early_hours).then(|| {
            format!(
                "no activity for {hours} hours in stage {} (limit {} hours)",
                stage.name, config.stale_early_hours
            )
        });
    }
    let offset = config.offset();
    let from = last_activity.with_timezone(&offset).date_naive();
    let today = now.with_timezone(&offset).date_naive();
    let deadline = calendar.add_working_days(from, config.stale_late_working_days);
    (today > deadline).then(|| {
        format!(
            "no activity for {} working days in stage {} (limit {}, last activity {from})",
            calendar.working_days_between(from, today),
            stage.name,
            config.stale_late_working_days
        )
    })
}

/// Whether a customer of `tier` last visited on `last` (or never, since `since`) is overdue on
/// `today`, and why.
pub fn visit_overdue(
    tier: &str,
    last: Option<NaiveDate>,
    since: NaiveDate,
    today: NaiveDate,
    config: &FlowConfig,
) -> Option<String> {
    let limit = *config.tier_visit_days.get(tier)?;
    let from = last.unwrap_or(since);
    let days = (today - from).num_days();
    (days > i64::from(limit)).then(|| match last {
        Some(d) => format!("tier {tier}: last visit {d}, {days} days ago (limit {limit} days)"),
        None => format!("tier {tier}: never visited in {days} days (limit {limit} days)"),
    })
}

/// The contact a visit document is for.
pub fn visit_contact_id(doc: &AutoCommit) -> Option<String> {
    crate::record::get_str(doc, "contact_id")
}

/// The verdict stored in a visit document.
pub fn visit_check_of(doc: &AutoCommit) -> Option<VisitCheck> {
    crate::record::get_str(doc, "check").and_then(|j| serde_json::from_str(&j).ok())
}

/// A number held as a number or a numeric string at a root key.
fn doc_number(doc: &AutoCommit, key: &str) -> Option<f64> {
    crate::record::get_f64(doc, key)
        .or_else(|| crate::record::get_str(doc, key).and_then(|s| s.trim().parse().ok()))
        .filter(|v: &f64| v.is_finite())
}

/// The server's re-check of a visit at sync: the customer's location as the server knows it,
/// the tenant's radius and accuracy limit, the mock flag the device recorded, and the device
/// clock against the server's (a check-in time later than the server's clock by more than the
/// tolerance). Returns the verdict to write when it differs from the stored one.
pub fn recheck_visit(
    visit: &AutoCommit,
    contact: Option<&AutoCommit>,
    config: &FlowConfig,
    server_now_ms: i64,
) -> Option<VisitCheck> {
    use automerge::{ReadDoc, ScalarValue, Value, ROOT};
    let lat = doc_number(visit, "lat")?;
    let lon = doc_number(visit, "lon")?;
    let mock_location = matches!(
        visit.get(ROOT, "mock_location").ok().flatten(),
        Some((Value::Scalar(s), _)) if matches!(s.as_ref(), ScalarValue::Boolean(true))
    );
    let customer = contact.and_then(|c| Some((doc_number(c, "lat")?, doc_number(c, "lon")?)));
    let device_ms = crate::record::get_str(visit, "device_time")
        .and_then(|t| DateTime::parse_from_rfc3339(&t).ok())
        .map(|t| t.timestamp_millis());
    let clock_skew_ms = device_ms
        .map(|d| d - server_now_ms)
        .filter(|skew| *skew > 0);
    let check = judge_visit(
        &VerdictInput {
            lat,
            lon,
            accuracy_m: doc_number(visit, "accuracy_m"),
            mock_location,
            // A customer located by this very check-in is trivially near it: the device judged
            // that already, and the server has nothing better.
            customer: customer.filter(|c| *c != (lat, lon)),
            clock_skew_ms,
        },
        config,
        "server",
    );
    match visit_check_of(visit) {
        Some(stored) if stored.verdict == check.verdict => None,
        _ => Some(check),
    }
}

/// Writes the server's verdict into a visit document and commits it as the server.
pub fn write_server_check(
    doc: &mut AutoCommit,
    check: &VisitCheck,
    now_ms: i64,
) -> Result<Option<Vec<u8>>> {
    use automerge::transaction::Transactable;
    let json = serde_json::to_string(check).unwrap_or_default();
    doc.put(automerge::ROOT, "check", json)?;
    Ok(commit_as_server(doc, "server_verdict", now_ms))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Error;

    fn t(s: &str) -> DateTime<FixedOffset> {
        DateTime::parse_from_rfc3339(s).unwrap_or_default()
    }

    fn input() -> VerdictInput {
        VerdictInput {
            lat: 22.5431,
            lon: 113.9480,
            accuracy_m: Some(15.0),
            mock_location: false,
            customer: Some((22.5440, 113.9490)),
            clock_skew_ms: Some(30_000),
        }
    }

    #[test]
    fn each_verdict() {
        let cfg = FlowConfig::default();
        let ok = judge_visit(&input(), &cfg, "device");
        assert_eq!(ok.verdict, Verdict::Verified, "{ok:?}");
        assert!(ok.distance_m.is_some_and(|d| d < 200.0));

        let mut far = input();
        far.customer = Some((22.5600, 113.9480)); // ~1.9 km north
        let v = judge_visit(&far, &cfg, "device");
        assert_eq!(v.verdict, Verdict::FarFromCustomer);
        assert!(v.distance_m.is_some_and(|d| d > 1_800.0 && d < 2_000.0));

        let mut low = input();
        low.accuracy_m = Some(350.0);
        assert_eq!(
            judge_visit(&low, &cfg, "device").verdict,
            Verdict::LowAccuracy
        );

        let mut clock = input();
        clock.clock_skew_ms = Some(-11 * 60_000);
        assert_eq!(
            judge_visit(&clock, &cfg, "device").verdict,
            Verdict::ClockSuspect
        );

        let mut mock = far.clone();
        mock.mock_location = true;
        let v = judge_visit(&mock, &cfg, "device");
        assert_eq!(v.verdict, Verdict::MockLocation);
        assert_eq!(v.reasons.len(), 2, "every failed check is listed: {v:?}");

        let mut none = input();
        none.customer = None;
        assert_eq!(
            judge_visit(&none, &cfg, "device").verdict,
            Verdict::Verified
        );
    }

    #[test]
    fn radius_is_configurable() {
        let mut cfg = FlowConfig::default();
        let mut near = input();
        near.customer = Some((22.5471, 113.9480)); // ~445 m
        assert_eq!(judge_visit(&near, &cfg, "d").verdict, Verdict::Verified);
        cfg.visit_radius_m = 300.0;
        assert_eq!(
            judge_visit(&near, &cfg, "d").verdict,
            Verdict::FarFromCustomer
        );
    }

    #[test]
    fn gates_list_what_is_missing() {
        let cfg = FlowConfig::default();
        let now = t("2026-11-23T10:00:00+08:00");
        let proposal = cfg
            .stage("proposal")
            .cloned()
            .unwrap_or_else(|| cfg.stages[0].clone());
        let none = EvidenceFacts::default();
        let missing = missing_evidence(&proposal, "d", &none, now);
        assert_eq!(missing.len(), 1);
        assert!(missing[0].description.contains("quotation"));

        let negotiation = cfg
            .stage("negotiation")
            .cloned()
            .unwrap_or_else(|| cfg.stages[0].clone());
        let old_visit = EvidenceFacts {
            attachments: vec![],
            last_visit: Some(t("2026-10-20T10:00:00+08:00")),
        };
        assert_eq!(
            missing_evidence(&negotiation, "d", &old_visit, now).len(),
            1
        );
        let recent = EvidenceFacts {
            attachments: vec![],
            last_visit: Some(t("2026-11-01T10:00:00+08:00")),
        };
        assert!(missing_evidence(&negotiation, "d", &recent, now).is_empty());

        let won = cfg
            .stage("won")
            .cloned()
            .unwrap_or_else(|| cfg.stages[0].clone());
        let no_amount = EvidenceFacts {
            attachments: vec![AttachmentFacts {
                id: "a".into(),
                category: "contract".into(),
                amount: None,
                deal_id: None,
            }],
            last_visit: None,
        };
        assert_eq!(missing_evidence(&won, "d", &no_amount, now).len(), 1);
        let with_amount = EvidenceFacts {
            attachments: vec![AttachmentFacts {
                id: "a".into(),
                category: "contract".into(),
                amount: Some(120_000.0),
                deal_id: None,
            }],
            last_visit: None,
        };
        assert!(missing_evidence(&won, "d", &with_amount, now).is_empty());
    }

    /// Item 15: a contract attached to deal X does not open the won gate of deal Y of the same
    /// contact; one attached to Y, or to the contact alone, does.
    #[test]
    fn another_deals_contract_is_no_evidence() {
        let cfg = FlowConfig::default();
        let now = t("2026-11-23T10:00:00+08:00");
        let contract = |deal_id: Option<&str>| EvidenceFacts {
            attachments: vec![AttachmentFacts {
                id: "a".into(),
                category: "contract".into(),
                amount: Some(305_000.0),
                deal_id: deal_id.map(str::to_string),
            }],
            last_visit: None,
        };
        let gate = |facts: &EvidenceFacts| stage_gate(&cfg, "y", Some("lead"), "won", facts, now);
        let refused = gate(&contract(Some("x")));
        assert!(!refused.allowed());
        assert!(refused
            .reason("won")
            .is_some_and(|r| r.contains("cannot enter won without a contract")));
        assert!(gate(&contract(Some("y"))).allowed());
        assert!(gate(&contract(None)).allowed());
    }

    #[test]
    fn attachment_facts_are_read_from_the_document() -> Result<()> {
        use automerge::{transaction::Transactable, ObjType, ROOT};
        let mut doc = AutoCommit::new();
        doc.put(ROOT, "category", " Contract ")?;
        doc.put(ROOT, "deal_id", "d1")?;
        let fields = doc.put_object(ROOT, "fields", ObjType::Map)?;
        doc.put(&fields, "amount", "305,000.00")?;
        let facts = AttachmentFacts::of_doc("a1", &doc);
        assert_eq!(facts.category, "contract");
        assert_eq!(facts.amount, Some(305_000.0));
        assert_eq!(facts.deal_id.as_deref(), Some("d1"));
        assert!(facts.counts_for("d1") && !facts.counts_for("d2"));
        Ok(())
    }

    #[test]
    fn gates_block_unknown_stages_and_closed_deals() {
        let cfg = FlowConfig::default();
        let now = t("2026-11-23T10:00:00+08:00");
        let none = EvidenceFacts::default();
        let unknown = stage_gate(&cfg, "d", Some("lead"), "不存在", &none, now);
        assert!(unknown
            .reason("不存在")
            .is_some_and(|r| r.contains("unknown stage")));
        let closed = stage_gate(&cfg, "d", Some("lost"), "lead", &none, now);
        assert!(closed.reason("lead").is_some_and(|r| r.contains("closed")));
        assert!(stage_gate(&cfg, "d", Some("won"), "won", &none, now)
            .blocked
            .is_none());
        assert!(stage_gate(&cfg, "d", None, "lead", &none, now).allowed());
    }

    #[test]
    fn stale_follows_the_working_day_calendar() -> Result<()> {
        let cfg = FlowConfig::default();
        let cal = cfg.calendar()?;
        let proposal = cfg
            .stage("proposal")
            .cloned()
            .unwrap_or_else(|| cfg.stages[0].clone());
        let lead = cfg
            .stage("lead")
            .cloned()
            .unwrap_or_else(|| cfg.stages[0].clone());
        let activity = t("2026-02-12T16:00:00+08:00");
        // Without the holiday, 5 working days would end on 19 Feb; with it, on 26 Feb.
        assert!(stale_reason(
            &proposal,
            activity,
            t("2026-02-20T09:00:00+08:00"),
            &cfg,
            &cal
        )
        .is_none());
        assert!(stale_reason(
            &proposal,
            activity,
            t("2026-02-26T18:00:00+08:00"),
            &cfg,
            &cal
        )
        .is_none());
        let r = stale_reason(
            &proposal,
            activity,
            t("2026-02-27T09:00:00+08:00"),
            &cfg,
            &cal,
        );
        assert!(r.is_some_and(|r| r.contains("6 working days")));
        // Early stages count plain hours, holidays or not.
        assert!(
            stale_reason(&lead, activity, t("2026-02-15T15:00:00+08:00"), &cfg, &cal).is_none()
        );
        assert!(
            stale_reason(&lead, activity, t("2026-02-15T16:00:00+08:00"), &cfg, &cal).is_some()
        );
        // National Day 2026: Tue 29 Sep + 5 working days ends on Mon 12 Oct (Sat 10 Oct worked).
        let sep = t("2026-09-29T10:00:00+08:00");
        assert!(stale_reason(&proposal, sep, t("2026-10-12T10:00:00+08:00"), &cfg, &cal).is_none());
        assert!(stale_reason(&proposal, sep, t("2026-10-13T10:00:00+08:00"), &cfg, &cal).is_some());
        Ok(())
    }

    #[test]
    fn config_round_trips_and_is_checked() -> Result<()> {
        let cfg = FlowConfig::default();
        cfg.validate()?;
        let json = serde_json::to_string(&cfg).unwrap_or_default();
        let back: FlowConfig = serde_json::from_str(&json).unwrap_or_default();
        assert_eq!(back, cfg);
        let partial: FlowConfig =
            serde_json::from_str(r#"{"visit_radius_m": 300}"#).unwrap_or_default();
        assert_eq!(partial.visit_radius_m, 300.0);
        assert_eq!(partial.stages.len(), 6);
        let mut bad = cfg.clone();
        bad.stages.push(bad.stages[0].clone());
        assert!(
            matches!(bad.validate(), Err(Error::Validation { ref field, .. }) if field == "stages")
        );
        Ok(())
    }
}
