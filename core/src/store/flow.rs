//! Field workflows in the store: the tenant's flow settings, verified check-ins (verdict, first
//! check-in locating the customer), the rep's "today" list and the manager's alerts.

use super::settings::{flow_config as config, Table, KEY_FLOW_CONFIG};
use super::{contacts, deals, tasks, RecordKind, Store};
use crate::error::{Error, Result};
use crate::flow::{self, FlowConfig, Verdict, VerdictInput, VisitCheck};
use crate::record::contact::{Contact, ContactStatus};
use crate::record::deal::DealFilter;
use crate::record::task::TaskFilter;
use crate::record::visit::{parse_day, CheckIn, Visit};
use crate::record::{commit, Actor};
use automerge::{transaction::Transactable, AutoCommit, ROOT};
use chrono::{DateTime, FixedOffset, NaiveDate, NaiveTime, TimeZone};
use rusqlite::{params, Connection, Transaction, TransactionBehavior};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

const KEY_CLOCK: &str = "clock_ref";

/// A check-in with its verdict.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VerifiedVisit {
    /// The visit as stored.
    pub visit: Visit,
    /// Its verdict, reasons and distance.
    pub check: VisitCheck,
    /// Whether this check-in set the customer's location (it had none).
    pub contact_located: bool,
    /// The district this check-in filled into the customer's empty address (from the nearest
    /// customer with a known address within 2 km), if it did.
    pub address_filled: Option<String>,
}

/// The device's wall clock and monotonic clock read together at the last server contact.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClockReference {
    /// Wall-clock time in ms since the epoch (the server's clock, where known).
    pub wall_ms: i64,
    /// The monotonic clock (ms since boot) at the same moment.
    pub elapsed_ms: i64,
}

/// Why a customer is on today's list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ffi", derive(uniffi::Record))]
pub struct TodayReason {
    /// `follow_up_overdue`, `follow_up_due`, `planned_visit`, `deal_stale` or `visit_overdue`.
    pub kind: String,
    /// For people.
    pub detail: String,
    /// The task or deal concerned, if any.
    pub record_id: Option<String>,
}

/// One customer on today's list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ffi", derive(uniffi::Record))]
pub struct TodayItem {
    /// The contact.
    pub contact_id: String,
    /// Their name.
    pub name: String,
    /// Their company.
    pub company: Option<String>,
    /// Higher is more urgent; the list is sorted by it.
    pub score: i64,
    /// Every reason, most urgent first.
    pub reasons: Vec<TodayReason>,
}

/// Something a manager should look at.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ffi", derive(uniffi::Record))]
pub struct Alert {
    /// `deal_stale` or `visit_unverified`.
    pub kind: String,
    /// The deal or visit.
    pub record_id: String,
    /// The contact concerned.
    pub contact_id: String,
    /// Whose it is.
    pub owner: Option<String>,
    /// For people.
    pub detail: String,
}

/// A number held in a contact's extra field (`"22.54"`).
fn extra_f64(c: &Contact, key: &str) -> Option<f64> {
    c.extra
        .get(key)
        .and_then(|v| v.trim().parse::<f64>().ok())
        .filter(|v| v.is_finite())
}

/// The customer's stored location (`lat`/`lon` fields of the contact), if valid.
pub(crate) fn contact_location(c: &Contact) -> Option<(f64, f64)> {
    let (lat, lon) = (extra_f64(c, "lat")?, extra_f64(c, "lon")?);
    ((-90.0..=90.0).contains(&lat) && (-180.0..=180.0).contains(&lon)).then_some((lat, lon))
}

/// Judges a check-in on the device: position against the customer's location, accuracy, the
/// mock flag, and the device clock against monotonic time since the last server contact.
pub(crate) fn judge_check_in(
    conn: &Connection,
    config: &FlowConfig,
    contact: &Contact,
    c: &CheckIn,
    device_time: DateTime<FixedOffset>,
    mock_location: bool,
) -> Result<VisitCheck> {
    let reference: Option<ClockReference> = Table::Flow
        .get(conn, KEY_CLOCK)?
        .and_then(|j| serde_json::from_str(&j).ok());
    let clock_skew_ms = match (reference, c.elapsed_ms) {
        // A smaller monotonic reading means the phone rebooted since: nothing to compare.
        (Some(r), Some(e)) if e >= r.elapsed_ms => {
            Some((device_time.timestamp_millis() - r.wall_ms) - (e - r.elapsed_ms))
        }
        _ => None,
    };
    Ok(flow::judge_visit(
        &VerdictInput {
            lat: c.lat,
            lon: c.lon,
            accuracy_m: c.accuracy_m,
            mock_location,
            customer: contact_location(contact),
            clock_skew_ms,
        },
        config,
        "device",
    ))
}

/// Writes a verdict into a visit document (one register: the latest writer wins, and the
/// server's re-check is written after the device's).
pub(crate) fn put_check(doc: &mut AutoCommit, check: &VisitCheck) -> Result<()> {
    let json = serde_json::to_string(check).unwrap_or_default();
    doc.put(ROOT, "check", json)?;
    Ok(())
}

/// The verdict stored in a visit document.
pub(crate) fn read_check(doc: &AutoCommit) -> Option<VisitCheck> {
    crate::record::get_str(doc, "check").and_then(|j| serde_json::from_str(&j).ok())
}

/// Rebuilds the verdict projection of a visit inside `tx`.
pub(crate) fn project_check(tx: &Transaction<'_>, rid: i64, doc: &AutoCommit) -> Result<()> {
    match read_check(doc) {
        Some(check) => {
            tx.prepare_cached(
                "INSERT OR REPLACE INTO visit_checks(rid, verdict, decided_by, detail) VALUES (?1, ?2, ?3, ?4)",
            )?
            .execute(params![
                rid,
                check.verdict.as_str(),
                check.by,
                serde_json::to_string(&check).unwrap_or_default()
            ])?;
        }
        None => {
            tx.prepare_cached("DELETE FROM visit_checks WHERE rid = ?1")?
                .execute([rid])?;
        }
    }
    Ok(())
}

/// How far a customer with a known address may be for its district to be lent to a check-in at
/// a customer without an address.
pub(crate) const NEARBY_DISTRICT_M: f64 = 2_000.0;

/// The district of the nearest other customer with a location and an address naming a district,
/// within [`NEARBY_DISTRICT_M`]: (district, that customer's id).
fn nearby_district(
    conn: &Connection,
    at: (f64, f64),
    exclude: &str,
) -> Result<Option<(String, String)>> {
    let mut stmt = conn.prepare_cached(
        "SELECT r.id, c.address, json_extract(c.extra, '$.lat'), json_extract(c.extra, '$.lon') \
         FROM contacts c JOIN records r ON r.rid = c.rid \
         WHERE c.status = 'active' AND c.address IS NOT NULL AND r.id <> ?1 \
         AND json_extract(c.extra, '$.lat') IS NOT NULL",
    )?;
    let rows = stmt.query_map([exclude], |r| {
        Ok((
            r.get::<_, String>(0)?,
            r.get::<_, String>(1)?,
            r.get::<_, Option<String>>(2)?,
            r.get::<_, Option<String>>(3)?,
        ))
    })?;
    let mut best: Option<(f64, String, String)> = None;
    for row in rows {
        let (id, address, lat, lon) = row?;
        let (Some(lat), Some(lon)) = (
            lat.and_then(|v| v.parse::<f64>().ok()),
            lon.and_then(|v| v.parse::<f64>().ok()),
        ) else {
            continue;
        };
        let d = flow::distance_m(at, (lat, lon));
        if d > NEARBY_DISTRICT_M || best.as_ref().is_some_and(|b| b.0 <= d) {
            continue;
        }
        if let Some(district) = crate::address::district_of(&address) {
            best = Some((d, district, id));
        }
    }
    Ok(best.map(|(_, district, id)| (district, id)))
}

/// What a check-in filled in on its customer.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Filled {
    pub located: bool,
    pub address: Option<String>,
}

/// After a trustworthy check-in (not mock, not inaccurate, clock fine): a customer without a
/// location gets the check-in's position, and a customer without an address gets the district
/// of the nearest customer with a known address within 2 km (the division table has no
/// coordinates of its own). Returns what it filled.
pub(crate) fn fill_contact(
    tx: &Transaction<'_>,
    actor: &Actor,
    contact: &Contact,
    visit: &Visit,
    check: &VisitCheck,
    now: i64,
) -> Result<Filled> {
    if matches!(
        check.verdict,
        Verdict::MockLocation | Verdict::LowAccuracy | Verdict::ClockSuspect
    ) {
        return Ok(Filled::default());
    }
    let locate = contact_location(contact).is_none();
    let address = if contact
        .address
        .as_deref()
        .is_none_or(|a| a.trim().is_empty())
    {
        nearby_district(tx, (visit.lat, visit.lon), &contact.id)?
    } else {
        None
    };
    if !locate && address.is_none() {
        return Ok(Filled::default());
    }
    let (rid, mut doc, _) =
        super::records::load_record(tx, RecordKind::Contact, &contact.id, actor)?;
    let before = doc.get_heads();
    if locate {
        doc.put(ROOT, "lat", visit.lat.to_string())?;
        doc.put(ROOT, "lon", visit.lon.to_string())?;
        doc.put(ROOT, "location_source", format!("check_in:{}", visit.id))?;
    }
    if let Some((district, from)) = &address {
        doc.put(ROOT, "address", district.as_str())?;
        doc.put(ROOT, "address_source", format!("nearby:{from}"))?;
    }
    commit(&mut doc, actor, "locate", now);
    contacts::save(tx, Some(rid), &contact.id, &mut doc, &before)?;
    Ok(Filled {
        located: locate,
        address: address.map(|a| a.0),
    })
}

/// The tenant's settings arrived by sync (a server-authored `config` record): they replace the
/// local ones, inside the sync's transaction.
pub(crate) fn project_config(tx: &Transaction<'_>, doc: &AutoCommit) -> Result<()> {
    let config = flow::config_of_doc(doc);
    if config.validate().is_ok() {
        let json = serde_json::to_string(&config).unwrap_or_default();
        Table::Flow.set(tx, KEY_FLOW_CONFIG, &json)?;
    }
    Ok(())
}

/// Resolves contact ids to the contact each reads as (the survivor of a merge, or itself),
/// remembering the answers: tasks, deals and visits of a merged contact are its survivor's.
struct Survivors<'a> {
    conn: &'a Connection,
    known: BTreeMap<String, String>,
}

impl<'a> Survivors<'a> {
    fn new(conn: &'a Connection) -> Self {
        Survivors {
            conn,
            known: BTreeMap::new(),
        }
    }

    fn of(&mut self, id: &str) -> Result<String> {
        if let Some(s) = self.known.get(id) {
            return Ok(s.clone());
        }
        let s = super::evidence::reads_as(self.conn, id)?;
        self.known.insert(id.to_string(), s.clone());
        Ok(s)
    }
}

/// Parses a stored RFC 3339 time.
fn parse_time(s: &str) -> Option<DateTime<FixedOffset>> {
    DateTime::parse_from_rfc3339(s).ok()
}

impl Store {
    /// The tenant's flow settings (the defaults until the server sends the tenant's).
    pub fn flow_config(&self) -> Result<FlowConfig> {
        self.guard()?;
        self.ctx(config(&self.conn))
    }

    /// Replaces the flow settings, after checking them (the error names the setting). Once the
    /// server said what the user may do, a user without `flow:configure` is refused
    /// ([`Error::Permission`]): the tenant's settings are the server's, which re-checks every
    /// stage gate with them anyway.
    pub fn set_flow_config(&mut self, config: &FlowConfig) -> Result<()> {
        self.guard()?;
        let r = super::scope::require(
            &self.conn,
            crate::access::FLOW_CONFIGURE,
            "change the tenant's flow settings",
        );
        self.ctx(r)?;
        config.validate()?;
        let json = serde_json::to_string(config).map_err(|e| {
            Error::validation("config", "", format!("cannot be written as JSON: {e}"))
        })?;
        let run = |conn: &mut Connection| -> Result<()> {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            Table::Flow.set(&tx, KEY_FLOW_CONFIG, &json)?;
            tx.commit()?;
            Ok(())
        };
        let r = run(&mut self.conn);
        self.ctx(r)
    }

    /// The flow settings as JSON (for apps and tools that edit them as a document).
    pub fn flow_config_json(&self) -> Result<String> {
        self.guard()?;
        let config = self.flow_config()?;
        serde_json::to_string(&config)
            .map_err(|e| Error::validation("config", "", format!("cannot be written as JSON: {e}")))
    }

    /// Replaces the flow settings from JSON; missing keys take their defaults. A malformed
    /// document or setting is refused naming it.
    pub fn set_flow_config_json(&mut self, json: &str) -> Result<()> {
        self.guard()?;
        let config: FlowConfig = serde_json::from_str(json).map_err(|e| {
            Error::validation("config", "", format!("not valid flow settings: {e}"))
        })?;
        self.set_flow_config(&config)
    }

    /// Remembers the wall clock (the server's, where known) and the monotonic clock read at the
    /// same moment, typically right after a sync. Later check-ins compare against it.
    pub fn set_clock_reference(&mut self, reference: ClockReference) -> Result<()> {
        self.guard()?;
        if reference.elapsed_ms < 0 {
            return Err(Error::validation(
                "elapsed_ms",
                reference.elapsed_ms.to_string(),
                "monotonic time cannot be negative",
            ));
        }
        let json = serde_json::to_string(&reference).unwrap_or_default();
        let run = |conn: &mut Connection| -> Result<()> {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            Table::Flow.set(&tx, KEY_CLOCK, &json)?;
            tx.commit()?;
            Ok(())
        };
        let r = run(&mut self.conn);
        self.ctx(r)
    }

    /// The server's clock (ms since the epoch) in the last sync answer, if this store synced.
    pub fn last_server_time_ms(&self) -> Result<Option<i64>> {
        self.guard()?;
        Ok(
            super::settings::get(&self.conn, super::settings::KEY_SERVER_TIME)?
                .and_then(|v| v.parse().ok()),
        )
    }

    /// The verdict of a visit (`None` for a visit made before verdicts existed).
    pub fn visit_check(&self, visit_id: &str) -> Result<Option<VisitCheck>> {
        self.guard()?;
        let run = || -> Result<Option<VisitCheck>> {
            let (_, doc, _) =
                super::records::load_record(&self.conn, RecordKind::Visit, visit_id, &self.actor)?;
            Ok(read_check(&doc))
        };
        self.ctx(run())
    }

    /// The rep's must-contact list for `date` (`YYYY-MM-DD`; default today in the tenant's time
    /// zone), best first, each customer with every reason: follow-ups due or overdue, planned
    /// visits, deals going stale, customers not visited for longer than their tier allows.
    /// A given date is judged as of 09:00 that morning.
    pub fn today(&self, date: Option<&str>) -> Result<Vec<TodayItem>> {
        self.guard()?;
        let config = self.flow_config()?;
        let now = match date {
            Some(d) => {
                let day = parse_day("date", d)?;
                morning(&config, day)
            }
            None => chrono::Utc::now().with_timezone(&config.offset()),
        };
        self.ctx(self.today_at(&config, now))
    }

    pub(crate) fn today_at(
        &self,
        config: &FlowConfig,
        now: DateTime<FixedOffset>,
    ) -> Result<Vec<TodayItem>> {
        let offset = config.offset();
        let today = now.with_timezone(&offset).date_naive();
        let calendar = config.calendar()?;
        let user = self.actor.user.as_str();
        let mine = |owner: &Option<String>| owner.as_deref().is_none_or(|o| o == user);
        let mut by_contact: BTreeMap<String, Vec<(i64, TodayReason)>> = BTreeMap::new();
        let mut survivors = Survivors::new(&self.conn);

        for t in tasks::list(
            &self.conn,
            &TaskFilter {
                due_by: Some(today.to_string()),
                ..Default::default()
            },
        )? {
            if !mine(&t.owner) {
                continue;
            }
            let Ok(due) = NaiveDate::parse_from_str(&t.due, "%Y-%m-%d") else {
                continue;
            };
            let late = (today - due).num_days();
            let (kind, score, detail) = match (t.task_type.as_str(), late) {
                ("visit", 0) => (
                    "planned_visit",
                    70,
                    format!("planned visit today: {}", t.title),
                ),
                ("visit", n) => (
                    "planned_visit",
                    75 + n.min(30),
                    format!("planned visit {n} days ago not done: {}", t.title),
                ),
                (_, 0) => (
                    "follow_up_due",
                    80,
                    format!("follow-up due today: {}", t.title),
                ),
                (_, n) => (
                    "follow_up_overdue",
                    100 + 3 * n.min(30),
                    format!("follow-up overdue by {n} days (due {due}): {}", t.title),
                ),
            };
            by_contact
                .entry(survivors.of(&t.contact_id)?)
                .or_default()
                .push((
                    score,
                    TodayReason {
                        kind: kind.into(),
                        detail,
                        record_id: Some(t.id.clone()),
                    },
                ));
        }

        for (deal, reason) in stale_deals(&self.conn, config, &calendar, now)? {
            if !mine(&deal.owner) {
                continue;
            }
            let bonus = deal.amount.map_or(0, |a| (a / 50_000.0).min(30.0) as i64);
            by_contact
                .entry(survivors.of(&deal.contact_id)?)
                .or_default()
                .push((
                    60 + bonus,
                    TodayReason {
                        kind: "deal_stale".into(),
                        detail: format!("{}: {reason}", deal.title),
                        record_id: Some(deal.id.clone()),
                    },
                ));
        }

        let last_visits = last_visit_days(&self.conn, offset, now)?;
        for c in contacts_with_tier(&self.conn)? {
            if !mine(&c.owner) {
                continue;
            }
            let Some(tier) = c.extra.get("tier") else {
                continue;
            };
            let since = parse_time(&c.created_at)
                .map(|t| t.with_timezone(&offset).date_naive())
                .unwrap_or(today);
            let last = last_visits.get(&c.id).copied();
            if let Some(reason) = flow::visit_overdue(tier.trim(), last, since, today, config) {
                let limit = config
                    .tier_visit_days
                    .get(tier.trim())
                    .copied()
                    .unwrap_or(0);
                let over = (today - last.unwrap_or(since)).num_days() - i64::from(limit);
                by_contact.entry(c.id.clone()).or_default().push((
                    40 + over.clamp(0, 30),
                    TodayReason {
                        kind: "visit_overdue".into(),
                        detail: reason,
                        record_id: None,
                    },
                ));
            }
        }

        let mut items = Vec::new();
        for (contact_id, mut reasons) in by_contact {
            let Ok(c) = contacts::get(&self.conn, &contact_id) else {
                continue;
            };
            if c.status != ContactStatus::Active {
                continue;
            }
            reasons.sort_by_key(|r| std::cmp::Reverse(r.0));
            items.push(TodayItem {
                contact_id,
                name: c.name,
                company: c.company,
                score: reasons.iter().map(|r| r.0).sum(),
                reasons: reasons.into_iter().map(|r| r.1).collect(),
            });
        }
        items.sort_by(|a, b| b.score.cmp(&a.score).then_with(|| a.name.cmp(&b.name)));
        Ok(items)
    }

    /// The manager's alerts at `date` (default now): stale deals of every rep, and check-ins of
    /// the last 7 days whose verdict is not `verified`.
    pub fn alerts(&self, date: Option<&str>) -> Result<Vec<Alert>> {
        self.guard()?;
        let config = self.flow_config()?;
        let now = match date {
            Some(d) => morning(&config, parse_day("date", d)?),
            None => chrono::Utc::now().with_timezone(&config.offset()),
        };
        let run = || -> Result<Vec<Alert>> {
            let calendar = config.calendar()?;
            let mut survivors = Survivors::new(&self.conn);
            let mut out = Vec::new();
            for (d, reason) in stale_deals(&self.conn, &config, &calendar, now)? {
                out.push(Alert {
                    kind: "deal_stale".into(),
                    record_id: d.id,
                    contact_id: survivors.of(&d.contact_id)?,
                    owner: d.owner,
                    detail: format!("{}: {reason}", d.title),
                });
            }
            let mut stmt = self.conn.prepare_cached(
                "SELECT r.id, v.contact_id, v.user, v.device_time, k.detail FROM visit_checks k \
                 JOIN visits v ON v.rid = k.rid JOIN records r ON r.rid = k.rid \
                 WHERE k.verdict <> 'verified' ORDER BY v.device_time DESC",
            )?;
            let rows = stmt.query_map([], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, String>(3)?,
                    r.get::<_, String>(4)?,
                ))
            })?;
            for row in rows {
                let (id, contact_id, user, at, detail) = row?;
                let recent = parse_time(&at).is_some_and(|t| {
                    let age = now.signed_duration_since(t);
                    age >= -chrono::Duration::days(1) && age <= chrono::Duration::days(7)
                });
                if !recent {
                    continue;
                }
                let check: Option<VisitCheck> = serde_json::from_str(&detail).ok();
                out.push(Alert {
                    kind: "visit_unverified".into(),
                    record_id: id,
                    contact_id: survivors.of(&contact_id)?,
                    owner: Some(user),
                    detail: check
                        .map(|c| {
                            format!(
                                "{} ({}): {}",
                                c.verdict.as_str(),
                                c.by,
                                c.reasons.join("; ")
                            )
                        })
                        .unwrap_or(detail),
                });
            }
            Ok(out)
        };
        self.ctx(run())
    }
}

/// 09:00 on `day` in the tenant's time zone.
fn morning(config: &FlowConfig, day: NaiveDate) -> DateTime<FixedOffset> {
    let nine = day.and_time(NaiveTime::from_hms_opt(9, 0, 0).unwrap_or_default());
    config
        .offset()
        .from_local_datetime(&nine)
        .single()
        .unwrap_or_else(|| chrono::Utc.from_utc_datetime(&nine).fixed_offset())
}

/// Open deals that are stale at `now`, with the reason. Activity is the deal's last change or
/// the latest believable visit to its contact (or to a contact merged with it), whichever is
/// later: a check-in judged `clock_suspect` or dated after `now` is no activity.
fn stale_deals(
    conn: &Connection,
    config: &FlowConfig,
    calendar: &crate::calendar::WorkCalendar,
    now: DateTime<FixedOffset>,
) -> Result<Vec<(crate::record::deal::Deal, String)>> {
    let mut out = Vec::new();
    for d in deals::list(conn, &DealFilter::default())? {
        let Some(rule) = config.stage(&d.stage) else {
            continue;
        };
        let Some(changed) = parse_time(&d.updated_at) else {
            continue;
        };
        let visited = super::evidence::last_trusted_visit(conn, &d.contact_id, now)?;
        let activity = visited.map_or(changed, |v| v.max(changed));
        if let Some(reason) = flow::stale_reason(rule, activity, now, config, calendar) {
            out.push((d, reason));
        }
    }
    Ok(out)
}

/// Active contacts that have a `tier`.
fn contacts_with_tier(conn: &Connection) -> Result<Vec<Contact>> {
    let mut stmt = conn.prepare_cached(
        "SELECT r.id FROM contacts c JOIN records r ON r.rid = c.rid \
         WHERE c.status = 'active' AND json_extract(c.extra, '$.tier') IS NOT NULL",
    )?;
    let ids = stmt
        .query_map([], |r| r.get::<_, String>(0))?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    ids.iter().map(|id| contacts::get(conn, id)).collect()
}

/// The day of each contact's latest visit, in the tenant's time zone; a merged contact's visits
/// count for its survivor. As for stale deals, a visit judged `clock_suspect` or dated after
/// `now` does not count.
fn last_visit_days(
    conn: &Connection,
    offset: FixedOffset,
    now: DateTime<FixedOffset>,
) -> Result<BTreeMap<String, NaiveDate>> {
    let mut stmt = conn.prepare_cached(
        "SELECT COALESCE(CASE WHEN c.status = 'merged' THEN c.merged_into END, v.contact_id), \
         v.device_time FROM visits v \
         LEFT JOIN records r ON r.id = v.contact_id LEFT JOIN contacts c ON c.rid = r.rid \
         LEFT JOIN visit_checks k ON k.rid = v.rid \
         WHERE k.verdict IS NULL OR k.verdict <> 'clock_suspect'",
    )?;
    let rows = stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))?;
    let mut out: BTreeMap<String, NaiveDate> = BTreeMap::new();
    for row in rows {
        let (contact, at) = row?;
        if let Some(t) = parse_time(&at).filter(|t| *t <= now) {
            let day = t.with_timezone(&offset).date_naive();
            let e = out.entry(contact).or_insert(day);
            if day > *e {
                *e = day;
            }
        }
    }
    Ok(out)
}
