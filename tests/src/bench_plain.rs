//! The honest peer of the store and import benchmarks: **a plain SQLite app without sync**, what a
//! team would build instead of Outpost.
//!
//! The same contact fields in one table, the phone numbers in a table of their own with an index
//! (so that a caller's number finds its contact), and an FTS5 index with the `trigram` tokenizer
//! over the text a rep searches (name, company, title, address, notes, phones, emails), kept as an
//! external-content index of the table (the table itself is the bare-insert baseline's,
//! [`crate::bench_util::CONTACTS_TABLE`]). WAL, `synchronous=NORMAL`, like the store. A save is one
//! transaction (the row, its phones, its search row); an import is one transaction for all rows.
//! What it leaves out is what Outpost adds: no document, no history, no merge, no outbox, no
//! duplicate keys, no validation beyond what the caller did.

use crate::bench_util::BenchError;
use rusqlite::{params, Connection, TransactionBehavior};
use std::path::Path;

/// One contact as the plain app stores it: text fields, phones and emails as lists, the rest as
/// JSON text.
#[derive(Debug, Clone, Default)]
pub struct PlainContact {
    /// Record id (the app's own UUID).
    pub id: String,
    /// Name.
    pub name: String,
    /// Company.
    pub company: Option<String>,
    /// Title.
    pub title: Option<String>,
    /// Phone numbers.
    pub phones: Vec<String>,
    /// Email addresses.
    pub emails: Vec<String>,
    /// Address.
    pub address: Option<String>,
    /// Lead source.
    pub source: Option<String>,
    /// Owner.
    pub owner: Option<String>,
    /// Notes.
    pub notes: Option<String>,
    /// Other fields, as JSON text.
    pub extra: String,
    /// Created (RFC 3339).
    pub created_at: String,
    /// Updated (RFC 3339).
    pub updated_at: String,
}

impl From<&outpost_core::Contact> for PlainContact {
    fn from(c: &outpost_core::Contact) -> Self {
        PlainContact {
            id: c.id.clone(),
            name: c.name.clone(),
            company: c.company.clone(),
            title: c.title.clone(),
            phones: c.phones.clone(),
            emails: c.emails.clone(),
            address: c.address.clone(),
            source: c.source.clone(),
            owner: c.owner.clone(),
            notes: c.notes.clone(),
            extra: serde_json::to_string(&c.extra).unwrap_or_else(|_| "{}".into()),
            created_at: c.created_at.clone(),
            updated_at: c.updated_at.clone(),
        }
    }
}

/// The plain app's database.
pub struct PlainApp {
    conn: Connection,
}

impl PlainApp {
    /// Creates the database at `path` (which must not exist yet).
    pub fn create(path: &Path) -> Result<PlainApp, BenchError> {
        let conn = crate::bench_util::open_wal(path)?;
        conn.execute_batch(crate::bench_util::CONTACTS_TABLE)?;
        // What the plain app adds: unique ids, a phone index, a full-text index.
        conn.execute_batch(
            "CREATE UNIQUE INDEX contacts_id ON contacts(id);
            CREATE TABLE contact_phones (
                phone TEXT NOT NULL,
                rid   INTEGER NOT NULL REFERENCES contacts(rid)
            );
            CREATE INDEX contact_phones_phone ON contact_phones(phone);
            CREATE VIRTUAL TABLE contacts_fts USING fts5(
                name, company, title, address, notes, phones, emails,
                content = 'contacts', content_rowid = 'rid', tokenize = 'trigram'
            );",
        )?;
        Ok(PlainApp { conn })
    }

    /// Saves one contact in its own transaction: its row, its phones and its search row.
    pub fn save(&mut self, contact: &PlainContact) -> Result<(), BenchError> {
        self.save_all(std::slice::from_ref(contact))
    }

    /// Saves `contacts` in one transaction (an import).
    pub fn save_all(&mut self, contacts: &[PlainContact]) -> Result<(), BenchError> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        {
            let mut row = tx.prepare_cached(
                "INSERT INTO contacts(id, name, company, title, phones, emails, address, source, owner, \
                 notes, extra, created_at, updated_at) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
            )?;
            let mut phone =
                tx.prepare_cached("INSERT INTO contact_phones(phone, rid) VALUES (?1, ?2)")?;
            let mut fts = tx.prepare_cached(
                "INSERT INTO contacts_fts(rowid, name, company, title, address, notes, phones, emails) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            )?;
            for c in contacts {
                let phones = serde_json::to_string(&c.phones)?;
                let emails = serde_json::to_string(&c.emails)?;
                row.execute(params![
                    c.id,
                    c.name,
                    c.company,
                    c.title,
                    phones,
                    emails,
                    c.address,
                    c.source,
                    c.owner,
                    c.notes,
                    c.extra,
                    c.created_at,
                    c.updated_at
                ])?;
                let rid = tx.last_insert_rowid();
                for p in &c.phones {
                    phone.execute(params![p, rid])?;
                }
                fts.execute(params![
                    rid,
                    c.name,
                    c.company,
                    c.title,
                    c.address,
                    c.notes,
                    c.phones.join(" "),
                    c.emails.join(" ")
                ])?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    /// Ids of the contacts whose indexed text contains `text` (at least three characters, as the
    /// trigram tokenizer needs), at most `limit`.
    pub fn search(&self, text: &str, limit: usize) -> Result<Vec<String>, BenchError> {
        let quoted = format!("\"{}\"", text.replace('"', "\"\""));
        let mut stmt = self.conn.prepare_cached(
            "SELECT c.id FROM contacts_fts f JOIN contacts c ON c.rid = f.rowid \
             WHERE contacts_fts MATCH ?1 LIMIT ?2",
        )?;
        let ids = stmt
            .query_map(params![quoted, limit as i64], |r| r.get(0))?
            .collect::<rusqlite::Result<Vec<String>>>()?;
        Ok(ids)
    }

    /// Ids of the contacts holding the phone number `phone` exactly.
    pub fn by_phone(&self, phone: &str) -> Result<Vec<String>, BenchError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT c.id FROM contact_phones p JOIN contacts c ON c.rid = p.rid WHERE p.phone = ?1",
        )?;
        let ids = stmt
            .query_map([phone], |r| r.get(0))?
            .collect::<rusqlite::Result<Vec<String>>>()?;
        Ok(ids)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn zhang() -> PlainContact {
        PlainContact {
            id: "c1".into(),
            name: "张伟".into(),
            company: Some("深圳市恒通科技有限公司".into()),
            phones: vec!["+8613800138000".into()],
            emails: vec!["zhang@hengtong.cn".into()],
            extra: "{}".into(),
            created_at: "2026-12-06T10:00:00Z".into(),
            updated_at: "2026-12-06T10:00:00Z".into(),
            ..PlainContact::default()
        }
    }

    #[test]
    fn a_saved_contact_is_found_by_text_and_by_phone() -> Result<(), BenchError> {
        let dir = tempfile::tempdir()?;
        let mut app = PlainApp::create(&dir.path().join("plain.db"))?;
        app.save(&zhang())?;
        let li = PlainContact {
            id: "c2".into(),
            name: "李娜".into(),
            company: Some("华信电子".into()),
            phones: vec!["+8613900139000".into()],
            emails: vec!["li@huaxin.cn".into()],
            ..zhang()
        };
        app.save_all(&[li])?;
        assert_eq!(app.search("恒通科技", 10)?, ["c1"]);
        assert_eq!(app.search("hengtong", 10)?, ["c1"]);
        assert_eq!(app.search("华信电", 10)?, ["c2"]);
        assert_eq!(app.by_phone("+8613900139000")?, ["c2"]);
        assert!(app.by_phone("+8613700137000")?.is_empty());
        Ok(())
    }

    #[test]
    fn an_id_is_saved_once() -> Result<(), BenchError> {
        let dir = tempfile::tempdir()?;
        let mut app = PlainApp::create(&dir.path().join("plain.db"))?;
        app.save(&zhang())?;
        assert!(app.save(&zhang()).is_err(), "the id is unique");
        assert_eq!(
            app.search("恒通科技", 10)?,
            ["c1"],
            "the refused save left nothing"
        );
        Ok(())
    }
}
