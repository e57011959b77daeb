//! Task reads and writes: follow-ups (one per check-out with a follow-up date) and planned visits.

use super::records::{load_record, write_record};
use super::{RecordKind, Store};
use crate::error::{Error, Result};
use crate::record::task::{self, NewTask, Task, TaskFilter};
use crate::record::visit::{parse_day, Visit};
use crate::record::{commit, new_doc, put_opt_str, rfc3339_ms, Actor};
use automerge::{transaction::Transactable, ROOT};
use rusqlite::{params, Connection, OptionalExtension, Row, Transaction, TransactionBehavior};

const COLUMNS: &str =
    "r.id, t.task_type, t.title, t.contact_id, t.deal_id, t.visit_id, t.due, t.owner, t.status, \
     t.done_at, t.extra, t.created_at, t.updated_at, r.sync_state";

fn from_row(r: &Row<'_>) -> rusqlite::Result<Task> {
    Ok(Task {
        id: r.get(0)?,
        task_type: r.get(1)?,
        title: r.get(2)?,
        contact_id: r.get(3)?,
        deal_id: r.get(4)?,
        visit_id: r.get(5)?,
        due: r.get(6)?,
        owner: r.get(7)?,
        status: r.get(8)?,
        done_at: r.get(9)?,
        extra: serde_json::from_str(&r.get::<_, String>(10)?).unwrap_or_default(),
        created_at: r.get(11)?,
        updated_at: r.get(12)?,
        sync_state: r.get(13)?,
    })
}

/// Rebuilds a task's projection row inside `tx`.
pub(crate) fn project(tx: &Transaction<'_>, rid: i64, t: &Task) -> Result<()> {
    tx.prepare_cached(
        "INSERT OR REPLACE INTO tasks(rid, task_type, title, contact_id, deal_id, visit_id, due, owner, status, \
         done_at, extra, created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
    )?
    .execute(params![
        rid,
        t.task_type,
        t.title,
        t.contact_id,
        t.deal_id,
        t.visit_id,
        t.due,
        t.owner,
        t.status,
        t.done_at,
        serde_json::to_string(&t.extra).unwrap_or_else(|_| "{}".into()),
        t.created_at,
        t.updated_at,
    ])?;
    Ok(())
}

pub(crate) fn get(conn: &Connection, id: &str) -> Result<Task> {
    conn.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM tasks t JOIN records r ON r.rid = t.rid WHERE r.id = ?1"
    ))?
    .query_row([id], from_row)
    .optional()?
    .ok_or_else(|| Error::NotFound {
        kind: "task",
        id: id.to_string(),
    })
}

/// Tasks matching `filter`; a contact's tasks include those of the contacts merged into it.
pub(crate) fn list(conn: &Connection, filter: &TaskFilter) -> Result<Vec<Task>> {
    let sql = format!(
        "SELECT {COLUMNS} FROM tasks t JOIN records r ON r.rid = t.rid \
         WHERE (?1 IS NULL OR t.contact_id = ?1 OR t.contact_id IN ( \
           SELECT mr.id FROM contacts mc JOIN records mr ON mr.rid = mc.rid WHERE mc.merged_into = ?1)) AND (?2 OR t.status = 'open') AND (?3 IS NULL OR t.due <= ?3) \
         ORDER BY t.due, t.created_at"
    );
    let mut stmt = conn.prepare_cached(&sql)?;
    let rows = stmt.query_map(
        params![filter.contact_id, filter.include_done, filter.due_by],
        from_row,
    )?;
    Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
}

/// Writes a new task record inside `tx`. `new` must be validated.
fn insert(
    tx: &Transaction<'_>,
    actor: &Actor,
    new: &NewTask,
    visit_id: Option<&str>,
    now: i64,
) -> Result<Task> {
    let id = uuid::Uuid::now_v7().to_string();
    let task_type = new.task_type.as_deref().unwrap_or("follow_up");
    let title = new
        .title
        .clone()
        .map(|t| t.trim().to_string())
        .filter(|t| !t.is_empty())
        .unwrap_or_else(|| {
            if task_type == "visit" {
                "计划拜访".to_string()
            } else {
                "跟进".to_string()
            }
        });
    let mut doc = new_doc(actor);
    doc.put(ROOT, "id", id.as_str())?;
    doc.put(ROOT, "kind", "task")?;
    doc.put(ROOT, "task_type", task_type)?;
    doc.put(ROOT, "title", title.as_str())?;
    doc.put(ROOT, "contact_id", new.contact_id.trim())?;
    put_opt_str(&mut doc, "deal_id", new.deal_id.as_deref().map(str::trim))?;
    put_opt_str(&mut doc, "visit_id", visit_id)?;
    doc.put(ROOT, "due", new.due.as_str())?;
    let owner = new
        .owner
        .clone()
        .filter(|o| !o.trim().is_empty())
        .unwrap_or_else(|| actor.user.clone());
    doc.put(ROOT, "owner", owner.trim())?;
    doc.put(ROOT, "created_at", rfc3339_ms(now))?;
    commit(&mut doc, actor, "create", now);
    let w = write_record(tx, None, &id, RecordKind::Task, &mut doc, Some(&[]))?;
    let t = task::from_doc(&id, &doc, w.updated_at, w.sync_state);
    project(tx, w.rid, &t)?;
    Ok(t)
}

/// After a check-out with a follow-up date: creates the follow-up task for the visit's contact,
/// inside the check-out's transaction. Only one per visit.
pub(crate) fn follow_up_from_check_out(
    tx: &Transaction<'_>,
    actor: &Actor,
    visit: &Visit,
    now: i64,
) -> Result<Option<Task>> {
    let Some(due) = visit.next_follow_up.as_deref() else {
        return Ok(None);
    };
    let exists: bool = tx
        .prepare_cached("SELECT EXISTS (SELECT 1 FROM tasks WHERE visit_id = ?1)")?
        .query_row([&visit.id], |r| r.get(0))?;
    if exists {
        return Ok(None);
    }
    let title = visit
        .notes
        .as_deref()
        .map(|n| format!("跟进: {}", n.chars().take(60).collect::<String>()))
        .unwrap_or_else(|| "跟进".to_string());
    let new = NewTask {
        task_type: Some("follow_up".into()),
        title: Some(title),
        contact_id: visit.contact_id.clone(),
        deal_id: None,
        due: due.to_string(),
        owner: Some(visit.user.clone()).filter(|u| !u.is_empty()),
    };
    insert(tx, actor, &new, Some(&visit.id), now).map(Some)
}

impl Store {
    /// Creates a task (a follow-up or a planned visit) for a contact.
    pub fn add_task(&mut self, mut new: NewTask) -> Result<Task> {
        self.guard()?;
        new.validate()?;
        let mut run = |store: &mut Store| -> Result<Task> {
            let tx = store
                .conn
                .transaction_with_behavior(TransactionBehavior::Immediate)?;
            // A task for a merged contact is the survivor's task.
            new.contact_id = super::contacts::target_of_new(&tx, &new.contact_id, false)?.id;
            if let Some(d) = &new.deal_id {
                super::deals::require(&tx, d)?;
            }
            let t = insert(&tx, &store.actor, &new, None, Self::now_ms())?;
            tx.commit()?;
            Ok(t)
        };
        let r = run(self);
        let t = self.ctx(r)?;
        self.notify(RecordKind::Task, &t.id);
        Ok(t)
    }

    /// Marks a task done.
    pub fn complete_task(&mut self, id: &str) -> Result<Task> {
        self.guard()?;
        let run = |store: &mut Store| -> Result<Task> {
            let tx = store
                .conn
                .transaction_with_behavior(TransactionBehavior::Immediate)?;
            let (rid, mut doc, _) = load_record(&tx, RecordKind::Task, id, &store.actor)?;
            if crate::record::get_str(&doc, "done_at").is_some() {
                return get(&tx, id);
            }
            let before = doc.get_heads();
            let now = Self::now_ms();
            doc.put(ROOT, "done_at", rfc3339_ms(now))?;
            commit(&mut doc, &store.actor, "complete", now);
            let w = write_record(
                &tx,
                Some(rid),
                id,
                RecordKind::Task,
                &mut doc,
                Some(&before),
            )?;
            let t = task::from_doc(id, &doc, w.updated_at, w.sync_state);
            project(&tx, rid, &t)?;
            tx.commit()?;
            Ok(t)
        };
        let r = run(self);
        let t = self.ctx(r)?;
        self.notify(RecordKind::Task, &t.id);
        Ok(t)
    }

    /// Tasks, earliest due first; open ones only unless asked. A contact's tasks include those
    /// of the contacts merged into it.
    pub fn list_tasks(&self, filter: &TaskFilter) -> Result<Vec<Task>> {
        self.guard()?;
        let mut filter = filter.clone();
        if let Some(d) = &filter.due_by {
            filter.due_by = Some(parse_day("due_by", d)?.to_string());
        }
        self.ctx(list(&self.conn, &filter))
    }
}
