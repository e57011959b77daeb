//! The device database schema. Migrations are append-only: never edit a released one, add a new
//! one. `PRAGMA user_version` holds the number of migrations applied.

use rusqlite::Transaction;

/// `PRAGMA application_id` of every Outpost device database ("OPST").
pub const APPLICATION_ID: i32 = 0x4F50_5354;

/// The migrations, in order. Index + 1 is the schema version they bring the database to.
pub(crate) const MIGRATIONS: &[&str] = &[
    // 1: records as Automerge documents, the contact projection, search, outbox, sync state, blobs.
    r#"
    CREATE TABLE records (
        rid        INTEGER PRIMARY KEY,
        id         TEXT NOT NULL UNIQUE,
        kind       TEXT NOT NULL,
        doc        BLOB NOT NULL,
        heads      BLOB NOT NULL,
        sync_state TEXT NOT NULL DEFAULT 'local' CHECK (sync_state IN ('local', 'synced', 'rejected')),
        updated_at TEXT NOT NULL
    );

    CREATE TABLE contacts (
        rid           INTEGER PRIMARY KEY REFERENCES records(rid),
        name          TEXT NOT NULL,
        company       TEXT,
        title         TEXT,
        phones        TEXT NOT NULL DEFAULT '[]',
        emails        TEXT NOT NULL DEFAULT '[]',
        address       TEXT,
        source        TEXT,
        owner         TEXT,
        status        TEXT NOT NULL,
        notes         TEXT,
        extra         TEXT NOT NULL DEFAULT '{}',
        invalidation  TEXT,
        created_at    TEXT NOT NULL,
        updated_at    TEXT NOT NULL
    );
    CREATE INDEX contacts_status_updated ON contacts(status, updated_at);

    -- Search tokens (CJK unigrams + bigrams, Latin words, phone digit suffixes), rowid = records.rid.
    CREATE VIRTUAL TABLE contact_search USING fts5(
        tokens, content = '', contentless_delete = 1, detail = none,
        tokenize = 'unicode61 remove_diacritics 2'
    );

    -- Local changes not yet acknowledged by the server, in order. The change bytes live in the
    -- record's document; the outbox names them by hash.
    CREATE TABLE outbox (
        seq         INTEGER PRIMARY KEY AUTOINCREMENT,
        rid         INTEGER NOT NULL REFERENCES records(rid),
        change_hash BLOB NOT NULL,
        created_at  TEXT NOT NULL
    );
    -- "Does this record still have unsent changes?" is asked for every record after each sync.
    CREATE INDEX outbox_rid ON outbox(rid);

    CREATE TABLE sync_state (
        key   TEXT PRIMARY KEY,
        value TEXT NOT NULL
    ) WITHOUT ROWID;

    CREATE TABLE blobs (
        sha256       TEXT PRIMARY KEY,
        size         INTEGER NOT NULL,
        mime         TEXT,
        upload_state TEXT NOT NULL DEFAULT 'pending' CHECK (upload_state IN ('pending', 'uploading', 'uploaded')),
        created_at   TEXT NOT NULL
    ) WITHOUT ROWID;
    "#,
    // 2: visits.
    r#"
    CREATE TABLE visits (
        rid            INTEGER PRIMARY KEY REFERENCES records(rid),
        contact_id     TEXT NOT NULL,
        user           TEXT NOT NULL,
        lat            REAL NOT NULL,
        lon            REAL NOT NULL,
        accuracy_m     REAL,
        device_time    TEXT NOT NULL,
        elapsed_ms     INTEGER,
        day            TEXT NOT NULL,
        checked_out_at TEXT,
        notes          TEXT,
        next_follow_up TEXT,
        status         TEXT NOT NULL,
        extra          TEXT NOT NULL DEFAULT '{}',
        created_at     TEXT NOT NULL,
        updated_at     TEXT NOT NULL
    );
    CREATE INDEX visits_contact ON visits(contact_id, device_time);
    CREATE INDEX visits_day ON visits(day, device_time);
    "#,
    // 3: sync. Rejected outbox entries stay, with the server's reason, and are not sent again.
    r#"
    ALTER TABLE outbox ADD COLUMN rejected_reason TEXT;
    ALTER TABLE outbox ADD COLUMN rejected_at TEXT;
    CREATE INDEX outbox_rejected ON outbox(seq) WHERE rejected_reason IS NOT NULL;
    "#,
    // 4: attachments; blob bytes live in the database (one transaction with their record, and
    // encrypted with the file), with how much of each the server has for resumable uploads.
    r#"
    ALTER TABLE blobs ADD COLUMN data BLOB;
    ALTER TABLE blobs ADD COLUMN uploaded_bytes INTEGER NOT NULL DEFAULT 0;
    CREATE TABLE attachments (
        rid        INTEGER PRIMARY KEY REFERENCES records(rid),
        contact_id TEXT NOT NULL,
        deal_id    TEXT,
        category   TEXT NOT NULL,
        blob       TEXT NOT NULL,
        mime       TEXT NOT NULL,
        size       INTEGER NOT NULL,
        title      TEXT,
        fields     TEXT NOT NULL DEFAULT '{}',
        amount     REAL,
        text       TEXT,
        user       TEXT NOT NULL,
        extra      TEXT NOT NULL DEFAULT '{}',
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL
    );
    CREATE INDEX attachments_contact ON attachments(contact_id, created_at);
    CREATE INDEX attachments_deal ON attachments(deal_id) WHERE deal_id IS NOT NULL;
    CREATE INDEX attachments_blob ON attachments(blob);
    CREATE INDEX blobs_pending ON blobs(created_at) WHERE upload_state <> 'uploaded';
    "#,
    // 5: duplicates and merges: each contact's match keys (E.164 phones, emails, normalized
    // name+company; see core/src/dedup/keys.rs), and merge state. `merge_target` is the
    // document's raw `merged_into`; `merged_into` and `status` hold the survivor computed from
    // all documents (docs/adr/0012-merge-survivor.md).
    r#"
    CREATE TABLE contact_keys (
        key TEXT NOT NULL,
        rid INTEGER NOT NULL,
        PRIMARY KEY (key, rid)
    ) WITHOUT ROWID;
    CREATE INDEX contact_keys_rid ON contact_keys(rid);
    ALTER TABLE contacts ADD COLUMN merge_target TEXT;
    ALTER TABLE contacts ADD COLUMN merged_into TEXT;
    CREATE INDEX contacts_merge_target ON contacts(merge_target) WHERE merge_target IS NOT NULL;
    CREATE INDEX contacts_merged_into ON contacts(merged_into) WHERE merged_into IS NOT NULL;
    "#,
    // 6: field workflows (issue 8): deals, tasks, visit verdicts, the tenant's flow settings.
    r#"
    CREATE TABLE deals (
        rid              INTEGER PRIMARY KEY REFERENCES records(rid),
        title            TEXT NOT NULL,
        contact_id       TEXT NOT NULL,
        company          TEXT,
        amount           REAL,
        stage            TEXT NOT NULL,
        owner            TEXT,
        notes            TEXT,
        extra            TEXT NOT NULL DEFAULT '{}',
        created_at       TEXT NOT NULL,
        stage_changed_at TEXT NOT NULL,
        updated_at       TEXT NOT NULL
    );
    CREATE INDEX deals_contact ON deals(contact_id);
    CREATE INDEX deals_stage ON deals(stage, updated_at);

    CREATE TABLE tasks (
        rid        INTEGER PRIMARY KEY REFERENCES records(rid),
        task_type  TEXT NOT NULL,
        title      TEXT NOT NULL,
        contact_id TEXT NOT NULL,
        deal_id    TEXT,
        visit_id   TEXT,
        due        TEXT NOT NULL,
        owner      TEXT,
        status     TEXT NOT NULL,
        done_at    TEXT,
        extra      TEXT NOT NULL DEFAULT '{}',
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL
    );
    CREATE INDEX tasks_status_due ON tasks(status, due);
    CREATE INDEX tasks_visit ON tasks(visit_id);

    -- The verdict of each visit (device's, or the server's when it re-checked).
    CREATE TABLE visit_checks (
        rid        INTEGER PRIMARY KEY REFERENCES records(rid),
        verdict    TEXT NOT NULL,
        decided_by TEXT NOT NULL,
        detail     TEXT NOT NULL
    );

    CREATE TABLE flow_settings (
        key   TEXT PRIMARY KEY,
        value TEXT NOT NULL
    ) WITHOUT ROWID;
    "#,
    // experience metrics: user action durations, crashes recovered and failed syncs (events
    // numbered per device, never reused, so the server counts each once), and whether each
    // record created on this device reached the server.
    r#"
    CREATE TABLE experience_events (
        seq   INTEGER PRIMARY KEY AUTOINCREMENT,
        at_ms INTEGER NOT NULL,
        kind  TEXT NOT NULL,
        name  TEXT NOT NULL,
        ms    INTEGER NOT NULL
    );
    CREATE INDEX experience_events_kind ON experience_events(kind, name);

    CREATE TABLE experience_created (
        rid           INTEGER PRIMARY KEY,
        created_at_ms INTEGER NOT NULL,
        synced_at_ms  INTEGER
    );
    "#,
    // 8: scoped sync. Restricted fields (a deal's amount, discount, contract amount) live in
    // documents of their own (kind `restricted`, see core/src/record/restricted.rs); this table
    // is their projection, keyed by the record they belong to, so a deal's row can show them
    // whichever of the two documents arrived first. The deal columns show what the device holds.
    r#"
    CREATE TABLE restricted_values (
        rid   INTEGER PRIMARY KEY REFERENCES records(rid),
        of    TEXT NOT NULL,
        field TEXT NOT NULL,
        value REAL
    );
    CREATE UNIQUE INDEX restricted_values_of ON restricted_values(of, field);
    ALTER TABLE deals ADD COLUMN discount REAL;
    ALTER TABLE deals ADD COLUMN contract_amount REAL;
    "#,
    // 9: search tokens, second form (docs/adr/0002-search-tokens.md): a phone number as its
    // four-digit windows instead of every suffix, Latin words with accents folded by us, and the
    // `ascii` tokenizer, which keeps each of our tokens whole. The store fills the new index
    // from the contacts in the same transaction (REINDEX_SEARCH_BELOW, store/contacts.rs).
    r#"
    DROP TABLE contact_search;
    CREATE VIRTUAL TABLE contact_search USING fts5(
        tokens, content = '', contentless_delete = 1, detail = none, tokenize = 'ascii'
    );
    "#,
    // 10: a refused change is undone on the device (core/src/store/rejections.rs) and leaves the
    // outbox; what the user is told about it stays here. `fields` is a JSON list of field names.
    r#"
    CREATE TABLE rejections (
        seq       INTEGER PRIMARY KEY AUTOINCREMENT,
        record_id TEXT NOT NULL,
        kind      TEXT NOT NULL,
        reason    TEXT NOT NULL,
        fields    TEXT NOT NULL DEFAULT '[]',
        removed   INTEGER NOT NULL DEFAULT 0,
        at        TEXT NOT NULL
    );
    "#,
    // 11: real-world input (issue 17). How each phone with an extension was typed, to show it
    // as typed (JSON object, NULL when none; record/typed.rs). The search tokens fold
    // full-width letters and digits (`Ｊｏｈｎ` → `john`): the index is rebuilt on upgrade.
    r#"
    ALTER TABLE contacts ADD COLUMN phones_typed TEXT;
    "#,
    // 12: smaller stores (issue 21). A contact's match keys are a function of its projection
    // (name, company, phones, emails), so an edit deletes the old keys by recomputing them from
    // the projection it replaces (store/dedup.rs) instead of through an index by contact, which
    // cost 178 bytes a contact. `dedup_keys_indexed` names the key version; a store whose keys
    // are of another version rebuilds them on open.
    r#"
    DROP INDEX contact_keys_rid;
    "#,
    // 13: pinyin (issue 22). Names and companies are indexed by their pinyin readings too
    // (store/search.rs, `pinyin_tokens`): no table changes, the index is rebuilt on upgrade.
    r#"
    SELECT 1;
    "#,
];

/// A database migrated from below this version gets its search index rebuilt from its contacts
/// (migrations 9, 11 and 13 changed the tokens).
pub(crate) const REINDEX_SEARCH_BELOW: i64 = 13;

/// The schema version this build writes.
pub const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

/// Applies migrations `from..to` inside `tx` and records the new version.
pub(crate) fn migrate(tx: &Transaction<'_>, from: i64, to: i64) -> rusqlite::Result<()> {
    for (i, sql) in MIGRATIONS.iter().enumerate() {
        let version = i as i64 + 1;
        if version > from && version <= to {
            tx.execute_batch(sql)?;
        }
    }
    tx.pragma_update(None, "application_id", APPLICATION_ID)?;
    tx.pragma_update(None, "user_version", to)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{NewContact, Store, StoreOptions};
    use rusqlite::Connection;

    fn schema_of(conn: &Connection) -> Vec<(String, String, Option<String>)> {
        let mut stmt =
            match conn.prepare("SELECT type, name, sql FROM sqlite_master ORDER BY type, name") {
                Ok(s) => s,
                Err(e) => panic!("schema query: {e}"),
            };
        let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)));
        match rows.and_then(|r| r.collect()) {
            Ok(v) => v,
            Err(e) => panic!("schema rows: {e}"),
        }
    }

    fn pragma(conn: &Connection, name: &str) -> i64 {
        conn.pragma_query_value(None, name, |r| r.get(0))
            .unwrap_or(-1)
    }

    /// A database created at every older version and then upgraded has exactly the schema of a
    /// fresh one, and keeps its data.
    #[test]
    fn upgraded_equals_fresh() -> Result<(), Box<dyn std::error::Error>> {
        let dir = tempfile::tempdir()?;
        let fresh_path = dir.path().join("fresh.db");
        drop(Store::open(&fresh_path, StoreOptions::default())?);
        let fresh = Connection::open(&fresh_path)?;
        for start in 1..SCHEMA_VERSION {
            let old_path = dir.path().join(format!("v{start}.db"));
            {
                let mut conn = Connection::open(&old_path)?;
                conn.pragma_update(None, "journal_mode", "WAL")?;
                let tx = conn.transaction()?;
                migrate(&tx, 0, start)?;
                tx.execute(
                    "INSERT INTO records(id, kind, doc, heads, updated_at) VALUES ('old', 'note', x'00', x'', '2025-01-01')",
                    [],
                )?;
                tx.commit()?;
            }
            let mut store = Store::open(&old_path, StoreOptions::default())?;
            store.add_contact(NewContact {
                name: "升级后".into(),
                ..Default::default()
            })?;
            drop(store);
            let upgraded = Connection::open(&old_path)?;
            assert_eq!(
                schema_of(&upgraded),
                schema_of(&fresh),
                "upgrade from v{start}"
            );
            assert_eq!(pragma(&upgraded, "user_version"), SCHEMA_VERSION);
            assert_eq!(
                pragma(&upgraded, "application_id"),
                i64::from(APPLICATION_ID)
            );
            let kept: i64 =
                upgraded.query_row("SELECT count(*) FROM records WHERE id = 'old'", [], |r| {
                    r.get(0)
                })?;
            assert_eq!(kept, 1, "data written at v{start} survives the upgrade");
        }
        Ok(())
    }

    /// A store written before migration 9 (phone suffix tokens, the unicode61 tokenizer) gets
    /// its search index rebuilt from its contacts on open: every contact is found again by a
    /// phone fragment, a Chinese name and an accented Latin word.
    #[test]
    fn the_search_index_is_rebuilt_from_the_contacts_on_upgrade(
    ) -> Result<(), Box<dyn std::error::Error>> {
        use crate::SearchOptions;
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("v8.db");
        let mut store = Store::open(&path, StoreOptions::default())?;
        let saved = store.add_contact(NewContact {
            name: "张伟".into(),
            company: Some("Café Müller".into()),
            phones: vec!["138 0013 8000".into()],
            ..Default::default()
        })?;
        drop(store);
        {
            // Back to version 8: its FTS table with an index that knows nothing, and none of
            // the tables of later migrations.
            let conn = Connection::open(&path)?;
            conn.execute_batch(
                "DROP TABLE rejections;
                 DROP TABLE contact_search;
                 CREATE VIRTUAL TABLE contact_search USING fts5(
                     tokens, content = '', contentless_delete = 1, detail = none,
                     tokenize = 'unicode61 remove_diacritics 2');
                 ALTER TABLE contacts DROP COLUMN phones_typed;
                 CREATE INDEX contact_keys_rid ON contact_keys(rid);
                 PRAGMA user_version = 8;",
            )?;
        }
        let store = Store::open(&path, StoreOptions::default())?;
        for query in ["0013 80", "张伟", "muller", "cafe"] {
            let found = store.search(query, &SearchOptions::default())?;
            let ids: Vec<&str> = found.iter().map(|c| c.id.as_str()).collect();
            assert_eq!(ids, vec![saved.id.as_str()], "{query}");
        }
        assert!(store
            .search("0013 90", &SearchOptions::default())?
            .is_empty());
        Ok(())
    }

    /// A store of version 9 indexed full-width letters as they were typed; after the upgrade
    /// `john` finds `Ｊｏｈｎ`, and a phone with an extension keeps how it was typed.
    #[test]
    fn version_9_stores_fold_full_width_search_tokens_on_upgrade(
    ) -> Result<(), Box<dyn std::error::Error>> {
        use crate::SearchOptions;
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("v9.db");
        let mut store = Store::open(&path, StoreOptions::default())?;
        let saved = store.add_contact(NewContact {
            name: "Ｊｏｈｎ Ｌｅｅ".into(),
            ..Default::default()
        })?;
        drop(store);
        {
            // Back to version 9: the full-width word as its token, no typed phones.
            let conn = Connection::open(&path)?;
            conn.execute_batch(
                "INSERT INTO contact_search(contact_search) VALUES ('delete-all');
                 INSERT INTO contact_search(rowid, tokens)
                     SELECT rid, 'ｊｏｈｎ ｌｅｅ' FROM contacts;
                 ALTER TABLE contacts DROP COLUMN phones_typed;
                 DROP TABLE rejections;
                 CREATE INDEX contact_keys_rid ON contact_keys(rid);
                 PRAGMA user_version = 9;",
            )?;
        }
        let mut store = Store::open(&path, StoreOptions::default())?;
        let found = store.search("john", &SearchOptions::default())?;
        assert_eq!(
            found.iter().map(|c| c.id.as_str()).collect::<Vec<_>>(),
            [saved.id.as_str()]
        );
        let edited = store.edit_contact(
            &saved.id,
            crate::ContactPatch {
                phones: Some(vec!["0755-8888 8888 转 123".into()]),
                ..Default::default()
            },
        )?;
        assert_eq!(
            edited
                .phones_typed
                .get("+8675588888888;ext=123")
                .map(String::as_str),
            Some("0755-8888 8888 转 123")
        );
        assert_eq!(store.get_contact(&saved.id)?, edited);
        Ok(())
    }
}
