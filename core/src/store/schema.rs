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
    CREATE INDEX records_kind ON records(kind);

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
];

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
