//! Contact reads and writes. Each write is one transaction: document, projection, search tokens
//! and outbox together.

use super::dedup::{find, query_keys, AddedContact};
use super::records::{load_record, write_record};
use super::search::{self, parse_query};
use super::{ListOptions, RecordKind, SearchOptions, Store};
use crate::dedup::DupQuery;
use crate::error::{Error, Result};
use crate::record::contact::{
    self, Contact, ContactFields, ContactPatch, ContactStatus, NewContact,
};
use crate::record::history::HistoryEntry;
use crate::record::{commit, put_opt_str, rfc3339_ms};
use rusqlite::{params, Connection, OptionalExtension, Row, Transaction, TransactionBehavior};

const COLUMNS: &str =
    "r.id, c.name, c.company, c.title, c.phones, c.emails, c.address, c.source, c.owner, \
     c.status, c.notes, c.extra, c.invalidation, c.created_at, c.updated_at, r.sync_state, c.merged_into, \
     c.phones_typed";

/// How many of the newest matches a search ranks. A very common one-character query (a surname)
/// can match thousands of contacts; ranking all of them costs tens of milliseconds at 100,000
/// contacts, ranking the newest 2,000 a few. Typing one more character narrows it.
pub const SEARCH_WINDOW: i64 = 2_000;

fn from_row(r: &Row<'_>) -> rusqlite::Result<Contact> {
    let json_list = |s: String| serde_json::from_str::<Vec<String>>(&s).unwrap_or_default();
    Ok(Contact {
        id: r.get(0)?,
        name: r.get(1)?,
        company: r.get(2)?,
        title: r.get(3)?,
        phones: json_list(r.get(4)?),
        emails: json_list(r.get(5)?),
        address: r.get(6)?,
        source: r.get(7)?,
        owner: r.get(8)?,
        status: ContactStatus::parse(&r.get::<_, String>(9)?),
        notes: r.get(10)?,
        extra: serde_json::from_str(&r.get::<_, String>(11)?).unwrap_or_default(),
        invalidation: r
            .get::<_, Option<String>>(12)?
            .and_then(|s| serde_json::from_str(&s).ok()),
        created_at: r.get(13)?,
        updated_at: r.get(14)?,
        sync_state: r.get(15)?,
        merged_into: r.get(16)?,
        phones_typed: r
            .get::<_, Option<String>>(17)?
            .and_then(|s| serde_json::from_str(&s).ok())
            .unwrap_or_default(),
    })
}

/// Search tokens of a contact: every searchable field, each token once.
pub(crate) fn tokens(c: &Contact) -> String {
    let mut out = search::Tokens::default();
    for text in [
        Some(&c.name),
        c.company.as_ref(),
        c.title.as_ref(),
        c.address.as_ref(),
        c.notes.as_ref(),
    ]
    .into_iter()
    .flatten()
    {
        search::text_tokens(text, &mut out);
    }
    search::pinyin_tokens(&c.name, &mut out);
    for email in &c.emails {
        search::text_tokens(email, &mut out);
    }
    for phone in &c.phones {
        search::phone_tokens(phone, &mut out);
    }
    out.into_text()
}

/// Fills the search index again from every contact's projection, inside `tx` (after a
/// migration that changed the tokens).
pub(crate) fn reindex_search(tx: &Transaction<'_>) -> Result<()> {
    tx.execute(
        "INSERT INTO contact_search(contact_search) VALUES ('delete-all')",
        [],
    )?;
    let mut stmt = tx.prepare(&format!(
        "SELECT {COLUMNS}, c.rid FROM contacts c JOIN records r ON r.rid = c.rid ORDER BY c.rid"
    ))?;
    let rows = stmt.query_map([], |r| Ok((r.get::<_, i64>(18)?, from_row(r)?)))?;
    for row in rows {
        let (rid, c) = row?;
        index_search(tx, rid, &tokens(&c))?;
    }
    Ok(())
}

/// Rebuilds the projection row and search tokens of a contact, inside `tx`.
/// Stores a contact's document as edited since `before` (`None` for a new record: `rid` is
/// then `None` too), reads the contact back from it and rebuilds its projection, inside `tx`.
/// The one way an edited contact reaches the store.
pub(crate) fn save(
    tx: &Transaction<'_>,
    rid: Option<i64>,
    id: &str,
    doc: &mut automerge::AutoCommit,
    before: &[automerge::ChangeHash],
) -> Result<Contact> {
    let w = write_record(tx, rid, id, RecordKind::Contact, doc, Some(before))?;
    let c = contact::from_doc(id, doc, w.updated_at, w.sync_state);
    project(tx, w.rid, &c, rid.is_some())?;
    Ok(c)
}

pub(crate) fn project(tx: &Transaction<'_>, rid: i64, c: &Contact, existed: bool) -> Result<()> {
    let old_keys = if existed {
        super::dedup::stored_keys(tx, rid)?
    } else {
        Vec::new()
    };
    project_row(tx, rid, c)?;
    if existed {
        tx.prepare_cached("DELETE FROM contact_search WHERE rowid = ?1")?
            .execute([rid])?;
    }
    index_search(tx, rid, &tokens(c))?;
    super::survivors::project_merge_state(tx, rid, c, existed)?;
    super::dedup::index_keys(tx, rid, c, &old_keys)?;
    Ok(())
}

/// Writes (or replaces) the projection row of a contact, inside `tx`.
pub(crate) fn project_row(tx: &Transaction<'_>, rid: i64, c: &Contact) -> Result<()> {
    project_row_with(tx, rid, c, &Columns::of(c))
}

/// A contact's list and map columns as its row stores them (JSON), made without SQLite so that
/// the bulk paths (import, bootstrap) make them on all cores, away from their one writer.
pub(crate) struct Columns {
    phones: String,
    emails: String,
    extra: String,
    invalidation: Option<String>,
    phones_typed: Option<String>,
}

impl Columns {
    pub(crate) fn of(c: &Contact) -> Self {
        let to_json = |v: &Vec<String>| serde_json::to_string(v).unwrap_or_else(|_| "[]".into());
        Columns {
            phones: to_json(&c.phones),
            emails: to_json(&c.emails),
            extra: serde_json::to_string(&c.extra).unwrap_or_else(|_| "{}".into()),
            invalidation: c
                .invalidation
                .as_ref()
                .and_then(|i| serde_json::to_string(i).ok()),
            phones_typed: crate::record::typed::to_json(&c.phones_typed),
        }
    }
}

/// [`project_row`] with the contact's [`Columns`] made beforehand.
pub(crate) fn project_row_with(
    tx: &Transaction<'_>,
    rid: i64,
    c: &Contact,
    columns: &Columns,
) -> Result<()> {
    tx.prepare_cached(
        "INSERT OR REPLACE INTO contacts(rid, name, company, title, phones, emails, address, source, owner, \
         status, notes, extra, invalidation, created_at, updated_at, phones_typed) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16)",
    )?
    .execute(params![
        rid,
        c.name,
        c.company,
        c.title,
        columns.phones,
        columns.emails,
        c.address,
        c.source,
        c.owner,
        c.status.as_str(),
        c.notes,
        columns.extra,
        columns.invalidation,
        c.created_at,
        c.updated_at,
        columns.phones_typed,
    ])?;
    Ok(())
}

/// Adds a contact's search tokens (see [`tokens`]), inside `tx`.
pub(crate) fn index_search(tx: &Transaction<'_>, rid: i64, tokens: &str) -> Result<()> {
    tx.prepare_cached("INSERT INTO contact_search(rowid, tokens) VALUES (?1, ?2)")?
        .execute(params![rid, tokens])?;
    Ok(())
}

/// The contact that a new visit, deal, task or attachment for contact `id` belongs to: the
/// contact, or the survivor it was merged into. An unknown id is refused naming `contact`; so
/// is a contact marked invalid when `active` is asked for.
pub(crate) fn target_of_new(conn: &Connection, id: &str, active: bool) -> Result<Contact> {
    let contact = get(conn, id.trim()).map_err(|e| match e {
        Error::NotFound { .. } => Error::validation("contact", id, "no contact with this id"),
        other => other,
    })?;
    let contact = match (contact.status, &contact.merged_into) {
        (ContactStatus::Merged, Some(survivor)) => get(conn, survivor)?,
        _ => contact,
    };
    if active && contact.status != ContactStatus::Active {
        return Err(Error::validation(
            "contact",
            id,
            "this contact was marked invalid",
        ));
    }
    Ok(contact)
}

pub(crate) fn get(conn: &Connection, id: &str) -> Result<Contact> {
    conn.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM contacts c JOIN records r ON r.rid = c.rid WHERE r.id = ?1"
    ))?
    .query_row([id], from_row)
    .optional()?
    .ok_or_else(|| Error::NotFound {
        kind: "contact",
        id: id.to_string(),
    })
}

impl Store {
    /// Creates a contact like [`Store::add_contact`] and returns it with the likely duplicates
    /// that existed before it, so the app can offer to merge.
    pub fn add_contact_checked(&mut self, new: NewContact) -> Result<AddedContact> {
        self.guard()?;
        let started = std::time::Instant::now();
        let query = DupQuery {
            name: Some(new.name.clone()),
            company: new.company.clone(),
            phones: new.phones.clone(),
            emails: new.emails.clone(),
        };
        let contact = self.add_contact(new)?;
        let keys = query_keys(&query, self.region);
        let duplicates = self.ctx(find(&self.conn, &keys, Some(&contact.id)))?;
        self.note_action("contact.quick_create", started);
        Ok(AddedContact {
            contact,
            duplicates,
        })
    }

    /// Creates a contact. Phones are normalized to E.164 and emails lower-cased; an invalid value
    /// is refused naming the field, and nothing is written.
    pub fn add_contact(&mut self, new: NewContact) -> Result<Contact> {
        self.guard()?;
        let started = std::time::Instant::now();
        let r = self.add_contact_inner(new);
        let c = self.ctx(r)?;
        self.note_action("contact.add", started);
        self.notify(RecordKind::Contact, &c.id);
        Ok(c)
    }

    fn add_contact_inner(&mut self, new: NewContact) -> Result<Contact> {
        let mut patch = ContactPatch::from(new);
        if patch.owner.as_deref().is_none_or(|o| o.trim().is_empty()) {
            patch.owner = Some(self.actor.user.clone());
        }
        let fields = ContactFields::from_patch(patch, self.region, true)?;
        let id = uuid::Uuid::now_v7().to_string();
        let now = Self::now_ms();
        let (mut doc, _) = fields.create(&id, &self.actor, "create", now)?;
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let c = save(&tx, None, &id, &mut doc, &[])?;
        tx.commit()?;
        Ok(c)
    }

    /// Sets where the customer is (the `lat`/`lon` fields its check-ins are judged against),
    /// given in `coords` (WGS-84 when `None`; `Gcj02` from AMap or Tencent Maps, `Bd09` from
    /// Baidu Maps) and stored in WGS-84, with `location_source` = `manual:<system>`.
    pub fn locate_contact(
        &mut self,
        id: &str,
        lat: f64,
        lon: f64,
        coords: Option<crate::CoordSystem>,
    ) -> Result<Contact> {
        self.guard()?;
        let system = coords.unwrap_or_default();
        let (lat, lon) = crate::coords::checked_wgs84(lat, lon, system)?;
        let set = [
            ("lat", lat.to_string()),
            ("lon", lon.to_string()),
            ("location_source", format!("manual:{system}")),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
        self.edit_contact(
            id,
            ContactPatch {
                set,
                ..ContactPatch::default()
            },
        )
    }

    /// Edits a contact: only the fields given change. Unknown fields in the document are kept.
    pub fn edit_contact(&mut self, id: &str, patch: ContactPatch) -> Result<Contact> {
        self.guard()?;
        // The owner can be written three ways (the field, `set`, `unset`); each needs `assign`.
        let owner = patch
            .owner
            .as_deref()
            .or_else(|| patch.set.get("owner").map(String::as_str))
            .map(str::trim)
            .or_else(|| {
                patch
                    .unset
                    .iter()
                    .any(|k| k.trim() == "owner")
                    .then_some("")
            });
        if let Some(o) = owner {
            let current = self.ctx(get(&self.conn, id))?;
            if current.owner.as_deref().unwrap_or_default() != o {
                let r = super::scope::require(&self.conn, "assign", "change a contact's owner");
                self.ctx(r)?;
            }
        }
        let fields = ContactFields::from_patch(patch, self.region, false)?;
        let r = self.change_contact(id, "edit", |doc| fields.apply(doc));
        let c = self.ctx(r)?;
        self.notify(RecordKind::Contact, &c.id);
        Ok(c)
    }

    /// Marks a contact invalid (soft delete) with a reason; it is hidden from lists and search.
    /// A contact already marked invalid is refused, naming who marked it, when and why: the
    /// first reason is never overwritten ([`Store::restore_contact`] first, to mark it again).
    pub fn invalidate_contact(&mut self, id: &str, reason: &str) -> Result<Contact> {
        self.guard()?;
        let reason = reason.trim();
        if reason.is_empty() {
            return Err(Error::validation(
                "reason",
                reason,
                "say why the contact is invalid",
            ));
        }
        crate::record::check_text("reason", reason, contact::MAX_FIELD_CHARS)?;
        let r = super::scope::require(&self.conn, "invalidate", "invalidate records");
        self.ctx(r)?;
        let current = self.ctx(get(&self.conn, id))?;
        if current.status == ContactStatus::Invalid {
            let first = current.invalidation.unwrap_or(contact::Invalidation {
                reason: String::new(),
                by: String::new(),
                at: String::new(),
            });
            return Err(Error::validation(
                "contact",
                id,
                format!(
                    "already marked invalid by {} at {}: {}; restore it first to mark it again",
                    first.by, first.at, first.reason
                ),
            ));
        }
        let by = self.actor.user.clone();
        let at = rfc3339_ms(Self::now_ms());
        let r = self.change_contact(id, "invalidate", |doc| {
            put_opt_str(doc, "status", Some("invalid"))?;
            put_opt_str(doc, "invalid_reason", Some(reason))?;
            put_opt_str(doc, "invalidated_by", Some(&by))?;
            put_opt_str(doc, "invalidated_at", Some(&at))
        });
        let c = self.ctx(r)?;
        self.notify(RecordKind::Contact, &c.id);
        Ok(c)
    }

    /// Brings back a contact marked invalid: it is active again, shown in lists and search, and
    /// its invalidation (reason, who, when) is cleared; the history keeps both. Needs the right
    /// to invalidate. A contact that is not marked invalid is refused.
    pub fn restore_contact(&mut self, id: &str) -> Result<Contact> {
        self.guard()?;
        let r = super::scope::require(&self.conn, "invalidate", "restore invalidated records");
        self.ctx(r)?;
        let current = self.ctx(get(&self.conn, id))?;
        if current.status != ContactStatus::Invalid {
            return Err(Error::validation(
                "contact",
                id,
                format!(
                    "this contact is {}, not marked invalid: nothing to restore",
                    current.status.as_str()
                ),
            ));
        }
        let r = self.change_contact(id, "restore", |doc| {
            put_opt_str(doc, "status", Some("active"))?;
            for key in ["invalid_reason", "invalidated_by", "invalidated_at"] {
                put_opt_str(doc, key, None)?;
            }
            Ok(())
        });
        let c = self.ctx(r)?;
        self.notify(RecordKind::Contact, &c.id);
        Ok(c)
    }

    /// Loads the document, applies `f`, commits, and writes document, projection, search and
    /// outbox in one transaction. No change → nothing written.
    pub(crate) fn change_contact(
        &mut self,
        id: &str,
        action: &str,
        f: impl FnOnce(&mut automerge::AutoCommit) -> Result<()>,
    ) -> Result<Contact> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let (rid, mut doc, _) = load_record(&tx, RecordKind::Contact, id, &self.actor)?;
        let before = doc.get_heads();
        f(&mut doc)?;
        if commit(&mut doc, &self.actor, action, Self::now_ms()).is_none() {
            return get(&tx, id);
        }
        let c = save(&tx, Some(rid), id, &mut doc, &before)?;
        tx.commit()?;
        Ok(c)
    }

    /// One contact by id (invalid ones too).
    pub fn get_contact(&self, id: &str) -> Result<Contact> {
        self.guard()?;
        self.ctx(get(&self.conn, id))
    }

    /// Contacts, most recently updated first; invalid ones only when asked for.
    pub fn list_contacts(&self, options: &ListOptions) -> Result<Vec<Contact>> {
        self.guard()?;
        let run = || -> Result<Vec<Contact>> {
            let limit = options.limit.map_or(-1, i64::from);
            let sql = if options.include_invalid {
                format!("SELECT {COLUMNS} FROM contacts c JOIN records r ON r.rid = c.rid ORDER BY c.updated_at DESC LIMIT ?1")
            } else {
                format!("SELECT {COLUMNS} FROM contacts c JOIN records r ON r.rid = c.rid WHERE c.status = 'active' ORDER BY c.updated_at DESC LIMIT ?1")
            };
            let mut stmt = self.conn.prepare_cached(&sql)?;
            let rows = stmt.query_map([limit], from_row)?;
            Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
        };
        self.ctx(run())
    }

    /// Finds contacts by any substring of Chinese text (one character and up), Latin word
    /// prefixes (case-insensitive, full width folded), or phone digits (typed with `0086`,
    /// `+86`, a trunk `0` or in full width), across name, company, title, phones, emails,
    /// address and notes. Best match first: name matches, then company, then the rest. A
    /// contact merged into another is found by its own name, as the survivor it reads as.
    pub fn search(&self, query: &str, options: &SearchOptions) -> Result<Vec<Contact>> {
        self.guard()?;
        if query.chars().count() > 200 {
            return Err(Error::validation(
                "query",
                query.chars().take(40).collect::<String>(),
                "search text longer than 200 characters",
            ));
        }
        let started = std::time::Instant::now();
        let Some(q) = parse_query(query, self.region) else {
            return Ok(Vec::new());
        };
        let run = || -> Result<Vec<Contact>> {
            let haystack = "(c.name || char(10) || coalesce(c.company, '') || char(10) || coalesce(c.title, '') \
                            || char(10) || coalesce(c.address, '') || char(10) || coalesce(c.notes, ''))";
            // Only the newest SEARCH_WINDOW matches (rowid order is creation order, which FTS5
            // scans backwards cheaply) are ranked, and only the rank columns go through the sort;
            // the full rows are read for the page alone. See docs/adr/0002-search-tokens.md.
            // A merged contact is found by its own name, and shows as the survivor it reads as
            // (`s`), once however many of its merged contacts match. (What else it held the
            // survivor has too, or kept its own value for.)
            let mut filters = String::from(if options.include_invalid {
                " AND (c.status <> 'merged' OR (s.rid IS NOT NULL AND instr(lower(c.name), ?2) > 0))"
            } else {
                " AND (c.status = 'active' OR (c.status = 'merged' AND s.status = 'active' \
                   AND instr(lower(c.name), ?2) > 0))"
            });
            for i in 0..q.must_contain.len() {
                filters.push_str(&format!(" AND instr({haystack}, ?{}) > 0", i + 5));
            }
            if q.phone_digits.is_some() {
                let n = q.must_contain.len() + 5;
                filters.push_str(&format!(
                    " AND ({}(c.phones, ?{n}) OR instr(c.emails || char(10) || {haystack}, ?{n}) > 0)",
                    search::PHONE_HAS,
                ));
            }
            let sql = format!(
                "WITH m AS MATERIALIZED ( \
                   SELECT rowid AS rid FROM contact_search WHERE contact_search MATCH ?1 ORDER BY rowid DESC LIMIT ?4), \
                 hits AS MATERIALIZED ( \
                   SELECT coalesce(s.rid, c.rid) AS rid, coalesce(s.updated_at, c.updated_at) AS updated_at, \
                     CASE WHEN lower(c.name) = ?2 THEN 0 WHEN instr(lower(c.name), ?2) = 1 THEN 1 \
                          WHEN instr(lower(c.name), ?2) > 0 THEN 2 \
                          WHEN instr(lower(coalesce(c.company, '')), ?2) > 0 THEN 3 ELSE 4 END AS rank \
                   FROM m CROSS JOIN contacts c ON c.rid = m.rid \
                   LEFT JOIN records sr ON c.status = 'merged' AND sr.id = c.merged_into \
                   LEFT JOIN contacts s ON s.rid = sr.rid WHERE 1 {filters}), \
                 ranked AS MATERIALIZED ( \
                   SELECT rid, max(updated_at) AS updated_at, min(rank) AS rank FROM hits \
                   GROUP BY rid ORDER BY rank, updated_at DESC LIMIT ?3) \
                 SELECT {COLUMNS} FROM ranked CROSS JOIN contacts c ON c.rid = ranked.rid \
                 JOIN records r ON r.rid = c.rid ORDER BY ranked.rank, ranked.updated_at DESC"
            );
            let limit = i64::from(options.limit.unwrap_or(50));
            let mut values: Vec<rusqlite::types::Value> = vec![
                q.fts.clone().into(),
                q.lowered.clone().into(),
                limit.into(),
                SEARCH_WINDOW.into(),
            ];
            values.extend(q.must_contain.iter().map(|s| s.clone().into()));
            values.extend(q.phone_digits.iter().map(|d| d.clone().into()));
            let mut stmt = self.conn.prepare_cached(&sql)?;
            let rows = stmt.query_map(rusqlite::params_from_iter(values), from_row)?;
            Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
        };
        let found = self.ctx(run())?;
        self.note_action("search", started);
        Ok(found)
    }

    /// Who changed what, when: one entry per change, oldest first.
    pub fn contact_history(&self, id: &str) -> Result<Vec<HistoryEntry>> {
        self.guard()?;
        let run = || -> Result<Vec<HistoryEntry>> {
            let (_, mut doc, _) = load_record(&self.conn, RecordKind::Contact, id, &self.actor)?;
            Ok(crate::record::history::history(&mut doc))
        };
        self.ctx(run())
    }
}
