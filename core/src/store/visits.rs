//! Visit reads and writes: check-in and check-out, each one transaction.

use super::records::{load_record, write_record};
use super::{RecordKind, Store};
use crate::error::{Error, Result};
use crate::record::history::HistoryEntry;
use crate::record::visit::{self, parse_day, CheckIn, CheckOut, Visit, VisitFilter};
use crate::record::{commit, new_doc, put_opt_str, put_scalar, rfc3339_ms};
use automerge::{transaction::Transactable, ScalarValue, ROOT};
use rusqlite::{params, Connection, OptionalExtension, Row, Transaction, TransactionBehavior};

const COLUMNS: &str = "r.id, v.contact_id, v.user, v.lat, v.lon, v.accuracy_m, v.device_time, v.elapsed_ms, v.day, \
     v.checked_out_at, v.notes, v.next_follow_up, v.status, v.extra, v.created_at, v.updated_at, r.sync_state";

fn from_row(r: &Row<'_>) -> rusqlite::Result<Visit> {
    Ok(Visit {
        id: r.get(0)?,
        contact_id: r.get(1)?,
        user: r.get(2)?,
        lat: r.get(3)?,
        lon: r.get(4)?,
        accuracy_m: r.get(5)?,
        device_time: r.get(6)?,
        elapsed_ms: r.get(7)?,
        day: r.get(8)?,
        checked_out_at: r.get(9)?,
        notes: r.get(10)?,
        next_follow_up: r.get(11)?,
        status: r.get(12)?,
        extra: serde_json::from_str(&r.get::<_, String>(13)?).unwrap_or_default(),
        created_at: r.get(14)?,
        updated_at: r.get(15)?,
        sync_state: r.get(16)?,
    })
}

pub(crate) fn project(tx: &Transaction<'_>, rid: i64, v: &Visit) -> Result<()> {
    tx.prepare_cached(
        "INSERT OR REPLACE INTO visits(rid, contact_id, user, lat, lon, accuracy_m, device_time, elapsed_ms, day, \
         checked_out_at, notes, next_follow_up, status, extra, created_at, updated_at) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16)",
    )?
    .execute(params![
        rid,
        v.contact_id,
        v.user,
        v.lat,
        v.lon,
        v.accuracy_m,
        v.device_time,
        v.elapsed_ms,
        v.day,
        v.checked_out_at,
        v.notes,
        v.next_follow_up,
        v.status,
        serde_json::to_string(&v.extra).unwrap_or_else(|_| "{}".into()),
        v.created_at,
        v.updated_at,
    ])?;
    Ok(())
}

fn get(conn: &Connection, id: &str) -> Result<Visit> {
    conn.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM visits v JOIN records r ON r.rid = v.rid WHERE r.id = ?1"
    ))?
    .query_row([id], from_row)
    .optional()?
    .ok_or_else(|| Error::NotFound {
        kind: "visit",
        id: id.to_string(),
    })
}

impl Store {
    /// Checks in at a contact with the device's position and clocks.
    /// The visit is judged like [`Store::check_in_verified`] without a mock-location flag.
    pub fn check_in(&mut self, check_in: CheckIn) -> Result<Visit> {
        self.guard()?;
        self.check_in_verified(check_in, false).map(|v| v.visit)
    }

    /// Checks in at a contact and judges the check-in (`mock_location` is the platform's flag).
    /// A customer without a location gets this check-in's position, in the same transaction.
    pub fn check_in_verified(
        &mut self,
        check_in: CheckIn,
        mock_location: bool,
    ) -> Result<super::flow::VerifiedVisit> {
        self.guard()?;
        let started = std::time::Instant::now();
        let r = self.check_in_inner(check_in, mock_location);
        let v = self.ctx(r)?;
        self.note_action("visit.check_in", started);
        self.notify(RecordKind::Visit, &v.visit.id);
        if v.contact_located || v.address_filled.is_some() {
            self.notify(RecordKind::Contact, &v.visit.contact_id);
        }
        Ok(v)
    }

    pub(crate) fn check_in_inner(
        &mut self,
        c: CheckIn,
        mock_location: bool,
    ) -> Result<super::flow::VerifiedVisit> {
        let local_now = chrono::Local::now().fixed_offset();
        let device_time = c.validate(local_now)?;
        // Stored, judged and used to locate the customer in WGS-84.
        let c = c.in_wgs84()?;
        let config = super::settings::flow_config(&self.conn)?;
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        // A merged contact's visits are its survivor's: check in there.
        let contact = super::contacts::target_of_new(&tx, &c.contact_id, true)?;
        let id = uuid::Uuid::now_v7().to_string();
        let now = Self::now_ms();
        let mut doc = new_doc(&self.actor);
        doc.put(ROOT, "id", id.as_str())?;
        doc.put(ROOT, "kind", "visit")?;
        doc.put(ROOT, "contact_id", contact.id.as_str())?;
        doc.put(ROOT, "user", self.actor.user.as_str())?;
        doc.put(ROOT, "lat", c.lat)?;
        doc.put(ROOT, "lon", c.lon)?;
        if let Some(a) = c.accuracy_m {
            doc.put(ROOT, "accuracy_m", a)?;
        }
        doc.put(
            ROOT,
            "device_time",
            device_time.to_rfc3339_opts(chrono::SecondsFormat::Millis, false),
        )?;
        if let Some(e) = c.elapsed_ms {
            doc.put(ROOT, "elapsed_ms", ScalarValue::Int(e))?;
        }
        if mock_location {
            doc.put(ROOT, "mock_location", true)?;
        }
        let check =
            super::flow::judge_check_in(&tx, &config, &contact, &c, device_time, mock_location)?;
        super::flow::put_check(&mut doc, &check)?;
        doc.put(ROOT, "created_at", rfc3339_ms(now))?;
        commit(&mut doc, &self.actor, "check_in", now);
        let w = write_record(&tx, None, &id, RecordKind::Visit, &mut doc, Some(&[]))?;
        let v = visit::from_doc(&id, &doc, w.updated_at, w.sync_state);
        project(&tx, w.rid, &v)?;
        super::flow::project_check(&tx, w.rid, &doc)?;
        let filled = super::flow::fill_contact(&tx, &self.actor, &contact, &v, &check, now)?;
        tx.commit()?;
        Ok(super::flow::VerifiedVisit {
            visit: v,
            check,
            contact_located: filled.located,
            address_filled: filled.address,
        })
    }

    /// Checks out of a visit with notes and the next follow-up date. A visit is checked out once.
    pub fn check_out(&mut self, visit_id: &str, check_out: CheckOut) -> Result<Visit> {
        self.guard()?;
        check_out.validate()?;
        let r = self.check_out_inner(visit_id, check_out);
        let v = self.ctx(r)?;
        self.notify(RecordKind::Visit, &v.id);
        Ok(v)
    }

    fn check_out_inner(&mut self, visit_id: &str, c: CheckOut) -> Result<Visit> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let (rid, mut doc, _) = load_record(&tx, RecordKind::Visit, visit_id, &self.actor)?;
        if let Some(at) = crate::record::get_str(&doc, "checked_out_at") {
            return Err(Error::validation(
                "visit",
                visit_id,
                format!("already checked out at {at}"),
            ));
        }
        let before = doc.get_heads();
        let now = Self::now_ms();
        put_scalar(
            &mut doc,
            "checked_out_at",
            ScalarValue::Str(rfc3339_ms(now).into()),
        )?;
        put_opt_str(&mut doc, "notes", c.notes.as_deref().map(str::trim))?;
        let follow_up = c
            .next_follow_up
            .as_deref()
            .map(|d| parse_day("next_follow_up", d))
            .transpose()?;
        put_opt_str(
            &mut doc,
            "next_follow_up",
            follow_up.map(|d| d.to_string()).as_deref(),
        )?;
        commit(&mut doc, &self.actor, "check_out", now);
        let w = write_record(
            &tx,
            Some(rid),
            visit_id,
            RecordKind::Visit,
            &mut doc,
            Some(&before),
        )?;
        let v = visit::from_doc(visit_id, &doc, w.updated_at, w.sync_state);
        project(&tx, rid, &v)?;
        // The next follow-up date becomes a task, in the same transaction.
        super::tasks::follow_up_from_check_out(&tx, &self.actor, &v, now)?;
        tx.commit()?;
        Ok(v)
    }

    /// One visit by id.
    pub fn get_visit(&self, id: &str) -> Result<Visit> {
        self.guard()?;
        self.ctx(get(&self.conn, id))
    }

    /// Visits of a contact and/or of a local day, newest first. A contact's visits include those
    /// of the contacts merged into it.
    pub fn list_visits(&self, filter: &VisitFilter) -> Result<Vec<Visit>> {
        self.guard()?;
        let day = filter
            .day
            .as_deref()
            .map(|d| parse_day("day", d))
            .transpose()?
            .map(|d| d.to_string());
        let run = || -> Result<Vec<Visit>> {
            let limit = filter.limit.map_or(-1, i64::from);
            let sql = format!(
                "SELECT {COLUMNS} FROM visits v JOIN records r ON r.rid = v.rid \
                 WHERE (?1 IS NULL OR v.contact_id = ?1 OR v.contact_id IN ( \
                   SELECT mr.id FROM contacts mc JOIN records mr ON mr.rid = mc.rid WHERE mc.merged_into = ?1)) \
                 AND (?2 IS NULL OR v.day = ?2) \
                 ORDER BY v.device_time DESC LIMIT ?3"
            );
            let mut stmt = self.conn.prepare_cached(&sql)?;
            let rows = stmt.query_map(params![filter.contact_id, day, limit], from_row)?;
            Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
        };
        self.ctx(run())
    }

    /// Who changed what on a visit, oldest first.
    pub fn visit_history(&self, id: &str) -> Result<Vec<HistoryEntry>> {
        self.guard()?;
        let run = || -> Result<Vec<HistoryEntry>> {
            let (_, mut doc, _) = load_record(&self.conn, RecordKind::Visit, id, &self.actor)?;
            Ok(crate::record::history::history(&mut doc))
        };
        self.ctx(run())
    }
}
