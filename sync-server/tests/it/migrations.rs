//! The server's schema migrations on SQLite and PostgreSQL: a database created at the oldest
//! schema (version 1, as the first release created it) and holding rows, then upgraded by
//! opening it, has exactly the schema of a fresh one (tables, columns, types, indexes,
//! constraints, triggers) and keeps its data.

use crate::support::*;
use outpost_server::{PostgresStorage, Sharing, SqliteStorage, Storage, Viewer};
use tokio_postgres::NoTls;

/// Version 1 of the SQLite schema, frozen here as the first release created it. Migrations are
/// append only, so a database of that release holds exactly this; a later edit of the first
/// migration would make the upgraded schema differ from the fresh one.
const SQLITE_V1: &str = r#"
CREATE TABLE tenants (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    log_head INTEGER NOT NULL DEFAULT 0,
    created_at INTEGER NOT NULL
);
CREATE TABLE devices (
    id TEXT PRIMARY KEY,
    tenant_id TEXT NOT NULL REFERENCES tenants(id),
    user_id TEXT NOT NULL,
    role TEXT NOT NULL,
    token_hash TEXT NOT NULL UNIQUE,
    created_at INTEGER NOT NULL,
    revoked_at INTEGER,
    last_seen_at INTEGER
);
CREATE INDEX devices_tenant ON devices(tenant_id, created_at);
CREATE TABLE device_actors (
    actor BLOB PRIMARY KEY,
    device_id TEXT NOT NULL REFERENCES devices(id)
);
CREATE TABLE documents (
    record_id TEXT PRIMARY KEY,
    tenant_id TEXT NOT NULL REFERENCES tenants(id),
    kind TEXT NOT NULL,
    doc BLOB NOT NULL,
    updated_seq INTEGER NOT NULL
);
CREATE INDEX documents_tenant ON documents(tenant_id, record_id);
CREATE TABLE log (
    tenant_id TEXT NOT NULL REFERENCES tenants(id),
    seq INTEGER NOT NULL,
    record_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    change_hash BLOB NOT NULL,
    change BLOB NOT NULL,
    actor BLOB NOT NULL,
    device_id TEXT NOT NULL,
    user_id TEXT NOT NULL,
    received_at INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, seq),
    UNIQUE (tenant_id, change_hash, record_id)
) WITHOUT ROWID;
"#;

/// Version 1 of the PostgreSQL schema, frozen like [`SQLITE_V1`], with the version table the
/// first release kept.
const POSTGRES_V1: &str = r#"
CREATE TABLE tenants (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    log_head BIGINT NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL
);
CREATE TABLE devices (
    id TEXT PRIMARY KEY,
    tenant_id TEXT NOT NULL REFERENCES tenants(id),
    user_id TEXT NOT NULL,
    role TEXT NOT NULL,
    token_hash TEXT NOT NULL UNIQUE,
    created_at BIGINT NOT NULL,
    revoked_at BIGINT,
    last_seen_at BIGINT
);
CREATE INDEX devices_tenant ON devices(tenant_id, created_at);
CREATE TABLE device_actors (
    actor BYTEA PRIMARY KEY,
    device_id TEXT NOT NULL REFERENCES devices(id)
);
CREATE TABLE documents (
    record_id TEXT PRIMARY KEY,
    tenant_id TEXT NOT NULL REFERENCES tenants(id),
    kind TEXT NOT NULL,
    doc BYTEA NOT NULL,
    updated_seq BIGINT NOT NULL
);
CREATE INDEX documents_tenant ON documents(tenant_id, record_id);
CREATE TABLE log (
    tenant_id TEXT NOT NULL REFERENCES tenants(id),
    seq BIGINT NOT NULL,
    record_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    change_hash BYTEA NOT NULL,
    change BYTEA NOT NULL,
    actor BYTEA NOT NULL,
    device_id TEXT NOT NULL,
    user_id TEXT NOT NULL,
    received_at BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, seq),
    UNIQUE (tenant_id, change_hash, record_id)
);
CREATE TABLE outpost_schema_migrations (
    version INTEGER PRIMARY KEY,
    applied_at BIGINT NOT NULL
);
INSERT INTO outpost_schema_migrations (version, applied_at) VALUES (1, 1);
"#;

const TENANT: &str = "t-old";
const DEVICE: &str = "d-old";
const TOKEN_HASH: &str = "hash-old";

/// What a version 1 database holds: a tenant, its device and actor, one contact written twice
/// (log rows and document).
struct OldRows {
    actor: Vec<u8>,
    contact: ContactWriter,
    changes: Vec<Vec<u8>>,
}

impl OldRows {
    fn new() -> Self {
        let actor = new_actor();
        let (mut contact, c1) = ContactWriter::create(&actor, "Zhang Wei");
        let c2 = contact.set("name", "Zhang Wei 2");
        Self {
            actor,
            contact,
            changes: vec![c1, c2],
        }
    }

    fn doc(&self) -> Vec<u8> {
        self.contact.doc.clone().save()
    }
}

/// Checks, through the storage, that the rows written at version 1 survived the upgrade and
/// that the log goes on after them.
async fn old_rows_survive(s: &dyn Storage, old: &mut OldRows) {
    let tenant = s.tenant("acme").await.unwrap().unwrap();
    assert_eq!((tenant.id.as_str(), tenant.log_head), (TENANT, 2));
    let device = s.device_by_token_hash(TOKEN_HASH).await.unwrap().unwrap();
    assert_eq!(
        (device.id.as_str(), device.user_id.as_str()),
        (DEVICE, "alice")
    );
    assert_eq!(device.role, outpost_server::Role::Rep);
    assert_eq!(
        s.access_config(TENANT).await.unwrap().sharing,
        Sharing::Open,
        "a tenant from before scoped sync keeps seeing everything"
    );
    let doc = s.document(&old.contact.record).await.unwrap().unwrap();
    assert_eq!((doc.tenant_id.as_str(), doc.updated_seq), (TENANT, 2));
    assert_eq!(doc_name(&doc.doc).as_deref(), Some("Zhang Wei 2"));
    assert_eq!(
        doc.meta.owner.as_deref(),
        Some("alice"),
        "a record stored before owners were kept is owned by its first writer"
    );
    let page = s
        .pull(TENANT, &Viewer::unrestricted(), &new_actor(), 0, 10)
        .await
        .unwrap();
    let changes: Vec<&[u8]> = page.entries.iter().map(|e| e.change.as_slice()).collect();
    assert_eq!(changes, [&old.changes[0][..], &old.changes[1][..]]);
    assert_eq!(
        page.entries.iter().map(|e| e.seq).collect::<Vec<_>>(),
        [1, 2]
    );
    // The actor is still bound to its device, and the log goes on at seq 3.
    let c3 = old.contact.set("title", "Buyer");
    let out = s
        .push(
            &device,
            &Viewer::unrestricted(),
            &old.actor,
            &[old.contact.push(c3)],
        )
        .await
        .unwrap();
    assert!(out.rejected.is_empty(), "{:?}", out.rejected);
    assert_eq!((out.applied, out.log_head), (1, 3));
}

/// Every schema object of a SQLite database, with the statement that makes it.
fn sqlite_schema(conn: &rusqlite::Connection) -> Vec<(String, String, String, Option<String>)> {
    conn.prepare("SELECT type, name, tbl_name, sql FROM sqlite_master ORDER BY type, name")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}

fn user_version(conn: &rusqlite::Connection) -> i64 {
    conn.pragma_query_value(None, "user_version", |r| r.get(0))
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_upgraded_from_the_oldest_schema_equals_fresh() {
    use rusqlite::{params, Connection};
    let dir = tempfile::tempdir().unwrap();
    let fresh_path = dir.path().join("fresh.db");
    drop(SqliteStorage::open_file(&fresh_path).unwrap());
    let fresh = Connection::open(&fresh_path).unwrap();

    let mut old = OldRows::new();
    let old_path = dir.path().join("old.db");
    {
        let conn = Connection::open(&old_path).unwrap();
        conn.execute_batch(SQLITE_V1).unwrap();
        conn.pragma_update(None, "user_version", 1).unwrap();
        conn.execute(
            "INSERT INTO tenants (id, name, log_head, created_at) VALUES (?1, 'acme', 2, 1)",
            [TENANT],
        )
        .unwrap();
        conn.execute(
            "INSERT INTO devices (id, tenant_id, user_id, role, token_hash, created_at)
             VALUES (?1, ?2, 'alice', 'rep', ?3, 1)",
            params![DEVICE, TENANT, TOKEN_HASH],
        )
        .unwrap();
        conn.execute(
            "INSERT INTO device_actors (actor, device_id) VALUES (?1, ?2)",
            params![old.actor, DEVICE],
        )
        .unwrap();
        conn.execute(
            "INSERT INTO documents (record_id, tenant_id, kind, doc, updated_seq)
             VALUES (?1, ?2, 'contact', ?3, 2)",
            params![old.contact.record, TENANT, old.doc()],
        )
        .unwrap();
        for (i, change) in old.changes.iter().enumerate() {
            conn.execute(
                "INSERT INTO log (tenant_id, seq, record_id, kind, change_hash, change, actor,
                                  device_id, user_id, received_at)
                 VALUES (?1, ?2, ?3, 'contact', ?4, ?5, ?6, ?7, 'alice', 1)",
                params![
                    TENANT,
                    i as i64 + 1,
                    old.contact.record,
                    hash(change),
                    change,
                    old.actor,
                    DEVICE
                ],
            )
            .unwrap();
        }
    }

    let storage = SqliteStorage::open_file(&old_path).unwrap();
    old_rows_survive(&storage, &mut old).await;
    drop(storage);

    let upgraded = Connection::open(&old_path).unwrap();
    let (up, fr) = (sqlite_schema(&upgraded), sqlite_schema(&fresh));
    let names = |v: &[(String, String, String, Option<String>)]| {
        v.iter()
            .map(|o| format!("{} {}", o.0, o.1))
            .collect::<Vec<_>>()
    };
    assert_eq!(names(&up), names(&fr), "the same objects");
    assert_eq!(up, fr, "the same definitions");
    assert_eq!(user_version(&upgraded), user_version(&fresh));
    assert!(user_version(&fresh) > 1);
}

/// A database's schema, section by section: every query returns text columns only.
const PG_SCHEMA: &[(&str, &str)] = &[
    (
        "tables",
        "SELECT table_name::text, table_type::text FROM information_schema.tables
         WHERE table_schema = 'public' ORDER BY 1",
    ),
    (
        "columns",
        "SELECT table_name::text, column_name::text, ordinal_position::text, data_type::text,
                is_nullable::text, column_default::text, character_maximum_length::text
         FROM information_schema.columns WHERE table_schema = 'public' ORDER BY 1, 3",
    ),
    (
        "indexes",
        "SELECT tablename::text, indexname::text, indexdef::text FROM pg_indexes
         WHERE schemaname = 'public' ORDER BY 1, 2",
    ),
    (
        "constraints",
        "SELECT conrelid::regclass::text, conname::text, contype::text, pg_get_constraintdef(oid)
         FROM pg_constraint WHERE connamespace = 'public'::regnamespace ORDER BY 1, 2",
    ),
    (
        "triggers",
        "SELECT tgrelid::regclass::text, tgname::text, tgenabled::text, pg_get_triggerdef(oid)
         FROM pg_trigger WHERE NOT tgisinternal ORDER BY 1, 2",
    ),
    (
        "functions",
        "SELECT proname::text, pg_get_function_identity_arguments(oid), prosrc FROM pg_proc
         WHERE pronamespace = 'public'::regnamespace ORDER BY 1, 2",
    ),
    (
        "sequences",
        "SELECT sequence_name::text, data_type::text FROM information_schema.sequences
         WHERE sequence_schema = 'public' ORDER BY 1",
    ),
    (
        "versions",
        "SELECT version::text FROM outpost_schema_migrations ORDER BY version",
    ),
];

type Rows = Vec<Vec<Option<String>>>;

/// A connection to `url` (its connection task runs until the client is dropped).
async fn pg_client(url: &str) -> tokio_postgres::Client {
    let (client, conn) = tokio_postgres::connect(url, NoTls).await.unwrap();
    tokio::spawn(conn);
    client
}

async fn pg_schema(client: &tokio_postgres::Client) -> Vec<(&'static str, Rows)> {
    let mut out = Vec::new();
    for (section, sql) in PG_SCHEMA {
        let rows = client.query(*sql, &[]).await.unwrap();
        let rows: Rows = rows
            .iter()
            .map(|r| {
                (0..r.len())
                    .map(|i| r.get::<_, Option<String>>(i))
                    .collect()
            })
            .collect();
        out.push((*section, rows));
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_upgraded_from_the_oldest_schema_equals_fresh() {
    let fresh_db = PgDb::create().await;
    drop(PostgresStorage::connect(&fresh_db.url).await.unwrap());
    let fresh = pg_schema(&pg_client(&fresh_db.url).await).await;

    let mut old = OldRows::new();
    let old_db = PgDb::create().await;
    {
        let client = pg_client(&old_db.url).await;
        client.batch_execute(POSTGRES_V1).await.unwrap();
        client
            .execute(
                "INSERT INTO tenants (id, name, log_head, created_at) VALUES ($1, 'acme', 2, 1)",
                &[&TENANT],
            )
            .await
            .unwrap();
        client
            .execute(
                "INSERT INTO devices (id, tenant_id, user_id, role, token_hash, created_at)
                 VALUES ($1, $2, 'alice', 'rep', $3, 1)",
                &[&DEVICE, &TENANT, &TOKEN_HASH],
            )
            .await
            .unwrap();
        client
            .execute(
                "INSERT INTO device_actors (actor, device_id) VALUES ($1, $2)",
                &[&old.actor, &DEVICE],
            )
            .await
            .unwrap();
        client
            .execute(
                "INSERT INTO documents (record_id, tenant_id, kind, doc, updated_seq)
                 VALUES ($1, $2, 'contact', $3, 2)",
                &[&old.contact.record, &TENANT, &old.doc()],
            )
            .await
            .unwrap();
        for (i, change) in old.changes.iter().enumerate() {
            client
                .execute(
                    "INSERT INTO log (tenant_id, seq, record_id, kind, change_hash, change, actor,
                                      device_id, user_id, received_at)
                     VALUES ($1, $2, $3, 'contact', $4, $5, $6, $7, 'alice', 1)",
                    &[
                        &TENANT,
                        &(i as i64 + 1),
                        &old.contact.record,
                        &hash(change),
                        change,
                        &old.actor,
                        &DEVICE,
                    ],
                )
                .await
                .unwrap();
        }
    }

    let storage = PostgresStorage::connect(&old_db.url).await.unwrap();
    old_rows_survive(&storage, &mut old).await;
    drop(storage);

    let client = pg_client(&old_db.url).await;
    let upgraded = pg_schema(&client).await;
    for ((section, up), (_, fr)) in upgraded.iter().zip(&fresh) {
        assert!(
            !fr.is_empty() || *section == "sequences",
            "{section}: none found"
        );
        assert_eq!(up, fr, "{section}");
    }
}
