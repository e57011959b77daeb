//! Experience metrics: how long each user action took, the unclean shutdowns the store recovered
//! from, failed syncs by reason, and whether every record created on this device reached the
//! server.
//!
//! Costs: an action's duration goes into an in-memory buffer (no I/O); the buffer is written in
//! one transaction every [`FLUSH_AT`] actions, when the metrics are read or sent, and when the
//! store is closed. A record created here gets one row in `experience_created` inside the
//! creating transaction; a sync marks the acknowledged ones inside its own transaction. So no
//! action pays a second commit. The event table is bounded: events the server has acknowledged
//! are dropped after [`KEEP_DAYS`] days, and never more than [`MAX_EVENTS`] are kept.
//!
//! An unclean shutdown is found with a marker: set when the store opens, cleared when it is
//! dropped; a marker still set at the next open means the last session ended without closing
//! (killed, crashed, power lost), and SQLite recovered the file from its write-ahead log.
//! The marker assumes one store open on a file at a time (as the apps do): a second store
//! opened on the same file while the first is open counts one unclean shutdown.

use super::settings;
use super::Store;
use crate::error::{Error, Result};
use crate::sync::protocol::{
    percentile, ExperienceAck, ExperienceBatch, ExperienceEvent, KIND_ACTION, KIND_CRASH,
    KIND_SYNC_FAILURE, MAX_EXPERIENCE_EVENTS, PROTOCOL_VERSION,
};
use rusqlite::{params, Transaction, TransactionBehavior};
use serde::{Deserialize, Serialize};
use std::time::Instant;

/// Buffered actions written at once.
pub const FLUSH_AT: usize = 64;
/// Days an acknowledged event is kept on the device.
pub const KEEP_DAYS: i64 = 30;
/// Most events kept on the device, sent or not (the oldest go first).
pub const MAX_EVENTS: i64 = 20_000;

const KEY_OPEN_MARKER: &str = "experience_open";
const KEY_SENT_SEQ: &str = "experience_sent_seq";
/// When the server last acknowledged a batch (ms since the epoch).
const KEY_SENT_AT: &str = "experience_sent_at_ms";
/// The created/synced totals when the server last acknowledged a batch (`created,synced`).
const KEY_SENT_TOTALS: &str = "experience_sent_totals";
/// Unsent events that make a batch due at the next sync, however recent the last one.
pub const EXPERIENCE_DUE_EVENTS: u64 = 100;

/// One buffered event, not yet written.
#[derive(Debug, Clone)]
pub(crate) struct Pending {
    at_ms: i64,
    kind: &'static str,
    name: String,
    ms: u64,
}

/// Durations of one action.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActionStats {
    /// The action: `contact.add`, `contact.quick_create`, `visit.check_in`, `search`,
    /// `import`, `sync`.
    pub action: String,
    /// How many were recorded.
    pub count: u64,
    /// Median duration (ms).
    pub p50_ms: u64,
    /// 95th percentile duration (ms).
    pub p95_ms: u64,
    /// Longest (ms).
    pub max_ms: u64,
}

/// How many syncs failed for one reason.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FailureCount {
    /// The reason: an error kind (`network`, `auth`, `busy`, ...) or `server_STATUS`.
    pub reason: String,
    /// How many times.
    pub count: u64,
}

/// What this device measured (events of the last [`KEEP_DAYS`] days at least).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExperienceSummary {
    /// Per action, by name.
    pub actions: Vec<ActionStats>,
    /// Unclean shutdowns recovered from.
    pub crashes_recovered: u64,
    /// Records created on this device (all creation is offline-first: a record exists here
    /// before the server hears of it).
    pub offline_created: u64,
    /// How many of them the server has acknowledged.
    pub offline_synced: u64,
    /// Failed syncs by reason.
    pub sync_failures: Vec<FailureCount>,
    /// Events not yet sent to the server.
    pub unsent_events: u64,
}

/// The reason a failed sync is counted under: the error's kind, with the status for server
/// answers (`server_503`).
pub fn failure_reason(e: &Error) -> String {
    match e {
        Error::Server { status, .. } => format!("server_{status}"),
        other => other.kind().to_string(),
    }
}

/// At open, inside the open transaction: whether the last session ended without closing
/// (then an event is recorded), and sets the marker for this session.
pub(crate) fn opened(tx: &Transaction<'_>, now_ms: i64) -> Result<bool> {
    let unclean = settings::get(tx, KEY_OPEN_MARKER)?.is_some();
    if unclean {
        insert_event(tx, now_ms, KIND_CRASH, "", 0)?;
    }
    settings::set(tx, KEY_OPEN_MARKER, &now_ms.to_string())?;
    Ok(unclean)
}

/// Inside the transaction that creates a record on this device.
pub(crate) fn created(tx: &Transaction<'_>, rid: i64, now_ms: i64) -> Result<()> {
    tx.prepare_cached(
        "INSERT OR IGNORE INTO experience_created(rid, created_at_ms) VALUES (?1, ?2)",
    )?
    .execute(params![rid, now_ms])?;
    Ok(())
}

/// [`created`] for the records with row ids `first..=last`, in one statement.
#[cfg(feature = "import")]
pub(crate) fn created_between(
    tx: &Transaction<'_>,
    first: i64,
    last: i64,
    now_ms: i64,
) -> Result<()> {
    tx.prepare_cached(
        "INSERT OR IGNORE INTO experience_created(rid, created_at_ms) \
         SELECT rid, ?3 FROM records WHERE rid BETWEEN ?1 AND ?2",
    )?
    .execute(params![first, last, now_ms])?;
    Ok(())
}

/// Inside a sync's transaction: records created here that are still here with nothing left in
/// the outbox (sent and acknowledged) have reached the server. A record whose creation the
/// server refused was removed, and never reached it.
pub(crate) fn mark_reached(tx: &Transaction<'_>, now_ms: i64) -> Result<()> {
    tx.prepare_cached(
        "UPDATE experience_created SET synced_at_ms = ?1 WHERE synced_at_ms IS NULL \
         AND NOT EXISTS (SELECT 1 FROM outbox o WHERE o.rid = experience_created.rid) \
         AND EXISTS (SELECT 1 FROM records r WHERE r.rid = experience_created.rid)",
    )?
    .execute([now_ms])?;
    Ok(())
}

fn insert_event(tx: &Transaction<'_>, at_ms: i64, kind: &str, name: &str, ms: u64) -> Result<()> {
    tx.prepare_cached(
        "INSERT INTO experience_events(at_ms, kind, name, ms) VALUES (?1, ?2, ?3, ?4)",
    )?
    .execute(params![
        at_ms,
        kind,
        name,
        i64::try_from(ms).unwrap_or(i64::MAX)
    ])?;
    Ok(())
}

fn prune(tx: &Transaction<'_>, now_ms: i64) -> Result<()> {
    let sent: i64 = settings::get(tx, KEY_SENT_SEQ)?
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let cutoff = now_ms - KEEP_DAYS * 24 * 3600 * 1000;
    tx.prepare_cached("DELETE FROM experience_events WHERE seq <= ?1 AND at_ms < ?2")?
        .execute(params![sent, cutoff])?;
    tx.prepare_cached(
        "DELETE FROM experience_events WHERE seq <= (SELECT max(seq) FROM experience_events) - ?1",
    )?
    .execute([MAX_EVENTS])?;
    Ok(())
}

fn to_u64(v: i64) -> u64 {
    u64::try_from(v).unwrap_or(0)
}

impl Store {
    /// Notes that the user action `action` started at `started` has finished (buffered: no I/O
    /// until [`FLUSH_AT`] actions are waiting).
    pub(crate) fn note_action(&self, action: &str, started: Instant) {
        let ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.note(KIND_ACTION, action, ms);
    }

    /// Notes a failed sync under its reason (see [`failure_reason`]).
    pub fn note_sync_failure(&self, error: &Error) {
        self.note(KIND_SYNC_FAILURE, &failure_reason(error), 0);
    }

    /// Notes the duration of a whole sync.
    pub fn note_sync(&self, started: Instant) {
        self.note_action("sync", started);
    }

    fn note(&self, kind: &'static str, name: &str, ms: u64) {
        let full = {
            let mut buffer = self
                .experience
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            buffer.push(Pending {
                at_ms: Self::now_ms(),
                kind,
                name: name.to_string(),
                ms,
            });
            buffer.len() >= FLUSH_AT
        };
        if full {
            // Metrics never fail an action: a failed write keeps the events for the next try.
            let _ = self.flush_experience();
        }
    }

    /// Writes the buffered events, in one transaction, and drops old acknowledged ones.
    pub(crate) fn flush_experience(&self) -> Result<()> {
        let pending: Vec<Pending> = {
            let mut buffer = self
                .experience
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            std::mem::take(&mut *buffer)
        };
        if pending.is_empty() {
            return Ok(());
        }
        let write = || -> Result<()> {
            let tx = Transaction::new_unchecked(&self.conn, TransactionBehavior::Immediate)?;
            for p in &pending {
                insert_event(&tx, p.at_ms, p.kind, &p.name, p.ms)?;
            }
            prune(&tx, Self::now_ms())?;
            tx.commit()?;
            Ok(())
        };
        let r = write();
        if r.is_err() {
            let mut buffer = self
                .experience
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            let later = std::mem::take(&mut *buffer);
            *buffer = pending;
            buffer.extend(later);
        }
        self.ctx(r)
    }

    /// Clears the open marker (a clean close); called when the store is dropped.
    pub(crate) fn close_experience(&self) -> Result<()> {
        self.flush_experience()?;
        settings::remove(&self.conn, KEY_OPEN_MARKER)?;
        Ok(())
    }

    /// What this device measured: per action count, p50, p95 and max; crashes recovered;
    /// records created here and how many reached the server; failed syncs by reason.
    pub fn experience(&self) -> Result<ExperienceSummary> {
        self.guard()?;
        self.flush_experience()?;
        let run = || -> Result<ExperienceSummary> {
            let mut actions: Vec<ActionStats> = Vec::new();
            {
                let mut stmt = self.conn.prepare_cached(
                    "SELECT name, ms FROM experience_events WHERE kind = ?1 ORDER BY name, ms",
                )?;
                let rows = stmt.query_map([KIND_ACTION], |r| {
                    Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?))
                })?;
                let mut current: Option<(String, Vec<u64>)> = None;
                let mut finish = |name: String, ms: Vec<u64>| {
                    actions.push(ActionStats {
                        action: name,
                        count: ms.len() as u64,
                        p50_ms: percentile(&ms, 50),
                        p95_ms: percentile(&ms, 95),
                        max_ms: ms.last().copied().unwrap_or(0),
                    })
                };
                for row in rows {
                    let (name, ms) = row?;
                    match &mut current {
                        Some((n, v)) if *n == name => v.push(to_u64(ms)),
                        _ => {
                            if let Some((n, v)) = current.take() {
                                finish(n, v);
                            }
                            current = Some((name, vec![to_u64(ms)]));
                        }
                    }
                }
                if let Some((n, v)) = current {
                    finish(n, v);
                }
            }
            let crashes: i64 = self.conn.query_row(
                "SELECT count(*) FROM experience_events WHERE kind = ?1",
                [KIND_CRASH],
                |r| r.get(0),
            )?;
            let sync_failures = self
                .conn
                .prepare_cached(
                    "SELECT name, count(*) FROM experience_events WHERE kind = ?1 \
                     GROUP BY name ORDER BY name",
                )?
                .query_map([KIND_SYNC_FAILURE], |r| {
                    Ok(FailureCount {
                        reason: r.get(0)?,
                        count: to_u64(r.get(1)?),
                    })
                })?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            let (created, synced) = self.created_counts()?;
            let unsent = self.unsent_events()?;
            Ok(ExperienceSummary {
                actions,
                crashes_recovered: to_u64(crashes),
                offline_created: created,
                offline_synced: synced,
                sync_failures,
                unsent_events: unsent,
            })
        };
        self.ctx(run())
    }

    fn created_counts(&self) -> Result<(u64, u64)> {
        created_counts(&self.conn)
    }

    /// Events not yet acknowledged by the server.
    fn unsent_events(&self) -> Result<u64> {
        let unsent: i64 = self.conn.query_row(
            "SELECT count(*) FROM experience_events WHERE seq > ?1",
            [self.sent_seq()?],
            |r| r.get(0),
        )?;
        Ok(to_u64(unsent))
    }

    /// Whether a metrics batch should follow this sync: the records created or synced changed
    /// since the last batch (what a manager's report counts), or events wait and none was ever
    /// acknowledged, or the last one was `every` ago or more, or [`EXPERIENCE_DUE_EVENTS`] wait.
    /// So a sync that only edits or pulls costs no second request.
    pub fn experience_due(&self, every: std::time::Duration) -> Result<bool> {
        self.flush_experience()?;
        let run = || -> Result<bool> {
            let (created, synced) = self.created_counts()?;
            let totals = settings::get(&self.conn, KEY_SENT_TOTALS)?;
            if totals.is_some_and(|t| t != format!("{created},{synced}")) {
                return Ok(true);
            }
            let unsent = self.unsent_events()?;
            if unsent == 0 {
                return Ok(false);
            }
            let Some(sent_at) =
                settings::get(&self.conn, KEY_SENT_AT)?.and_then(|v| v.parse::<i64>().ok())
            else {
                return Ok(true);
            };
            let every_ms = i64::try_from(every.as_millis()).unwrap_or(i64::MAX);
            Ok(unsent >= EXPERIENCE_DUE_EVENTS
                || Self::now_ms().saturating_sub(sent_at) >= every_ms
                || Self::now_ms() < sent_at)
        };
        self.ctx(run())
    }

    fn sent_seq(&self) -> Result<i64> {
        Ok(settings::get(&self.conn, KEY_SENT_SEQ)?
            .and_then(|v| v.parse().ok())
            .unwrap_or(0))
    }

    /// The next `POST /v1/metrics` body: events not yet acknowledged (oldest first, at most
    /// [`MAX_EXPERIENCE_EVENTS`]) and the created/synced totals.
    pub fn prepare_experience(&self) -> Result<ExperienceBatch> {
        self.flush_experience()?;
        let run = || -> Result<ExperienceBatch> {
            let sent = self.sent_seq()?;
            let events = self
                .conn
                .prepare_cached(
                    "SELECT seq, at_ms, kind, name, ms FROM experience_events WHERE seq > ?1 \
                     ORDER BY seq LIMIT ?2",
                )?
                .query_map(params![sent, MAX_EXPERIENCE_EVENTS as i64], |r| {
                    Ok(ExperienceEvent {
                        seq: to_u64(r.get(0)?),
                        at_ms: r.get(1)?,
                        kind: r.get(2)?,
                        name: r.get(3)?,
                        ms: to_u64(r.get(4)?),
                    })
                })?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            let (offline_created, offline_synced) = self.created_counts()?;
            Ok(ExperienceBatch {
                v: PROTOCOL_VERSION,
                events,
                offline_created,
                offline_synced,
            })
        };
        self.ctx(run())
    }

    /// Records the server's answer to a metrics batch: events up to `acked_seq` are not sent
    /// again (an older answer never moves the mark back).
    pub fn apply_experience_ack(&mut self, ack: &ExperienceAck) -> Result<()> {
        let run = |store: &mut Store| -> Result<()> {
            let acked = i64::try_from(ack.acked_seq).unwrap_or(i64::MAX);
            let tx = store
                .conn
                .transaction_with_behavior(TransactionBehavior::Immediate)?;
            let sent: i64 = settings::get(&tx, KEY_SENT_SEQ)?
                .and_then(|v| v.parse().ok())
                .unwrap_or(0);
            if acked > sent {
                settings::set(&tx, KEY_SENT_SEQ, &acked.to_string())?;
            }
            settings::set(&tx, KEY_SENT_AT, &Self::now_ms().to_string())?;
            // What the batch carried (a record created while it was in flight is counted as
            // reported; it shows at the next batch, within the interval).
            let (created, synced) = created_counts(&tx)?;
            settings::set(&tx, KEY_SENT_TOTALS, &format!("{created},{synced}"))?;
            prune(&tx, Self::now_ms())?;
            tx.commit()?;
            Ok(())
        };
        let r = run(self);
        self.ctx(r)
    }
}

/// Records created on this device, and how many of them the server has acknowledged.
fn created_counts(conn: &rusqlite::Connection) -> Result<(u64, u64)> {
    let (created, synced): (i64, i64) = conn.query_row(
        "SELECT count(*), count(synced_at_ms) FROM experience_created",
        [],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )?;
    Ok((to_u64(created), to_u64(synced)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_failures_carry_their_status() {
        let e = Error::Server {
            status: 503,
            code: "unavailable".into(),
            message: "down".into(),
        };
        assert_eq!(failure_reason(&e), "server_503");
        assert_eq!(failure_reason(&Error::SyncInProgress), "busy");
    }
}
