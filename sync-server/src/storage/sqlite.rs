//! The embedded backend: one SQLite file (WAL), one writer connection behind a mutex, a few
//! reader connections; every call runs on tokio's blocking pool. Appends take `BEGIN
//! IMMEDIATE`, which serializes all writers, also across processes sharing the file.

use super::plan::{self, readable_doc, AutomergeSession, LogRow, PushFacts, WritePlan};
use super::reports::{self, DeviceTotals, ExperienceData, ExperienceStored, StoredEvent};
use super::{
    check_tenant_name, check_user_id, new_id, new_log_id, now_ms, to_i64, to_u64, AutomergeReply,
    BootstrapPage, Device, DocMeta, PullPage, PushOutcome, Role, Storage, StoredDoc, Tenant,
};
use crate::error::StorageError;
use crate::policy;
use crate::policy::Viewer;
use async_trait::async_trait;
use outpost_core::sync::protocol::{DocSnapshot, ExperienceBatch, PushChange};
use rusqlite::{params, Connection, OptionalExtension, Transaction, TransactionBehavior};
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

mod access;
mod audit;
pub mod backup;
mod blobs;
mod enrol;
mod routing;

/// The database file's name inside the data directory.
pub const DB_FILE: &str = "outpost-server.db";

/// How many idle reader connections are kept.
const MAX_IDLE_READERS: usize = 8;

/// Versioned migrations; `PRAGMA user_version` is the number applied. Append only.
const MIGRATIONS: &[&str] = &[
    r#"
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
"#,
    // 2: resumable content-addressed blobs (attachments), per tenant.
    r#"
CREATE TABLE blobs (
    tenant_id TEXT NOT NULL REFERENCES tenants(id),
    sha256 TEXT NOT NULL,
    size INTEGER NOT NULL,
    received INTEGER NOT NULL,
    complete INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, sha256)
) WITHOUT ROWID;
CREATE TABLE blob_chunks (
    tenant_id TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    pos INTEGER NOT NULL,
    data BLOB NOT NULL,
    PRIMARY KEY (tenant_id, sha256, pos)
) WITHOUT ROWID;
"#,
    // 3: the hash-chained audit trail (see crate::storage::audit).
    audit::MIGRATION,
    // 4: lead routing (see crate::storage::routing).
    routing::MIGRATION,
    // 5: experience metrics: events numbered per device (a resent one is ignored) and each
    // device's latest created/synced totals (see crate::storage::reports).
    reports::MIGRATION,
    // 6: scoped sync (see crate::storage::access).
    super::access::MIGRATION,
    // 7: the audit heads protected like the log (see crate::storage::audit).
    audit::MIGRATION_PROTECT_HEADS,
    // 8: uploads per device, file holders, vouched attachments (see crate::storage::blobs).
    super::blobs::SQLITE_MIGRATION,
    // 9: the write policy reads a deal's evidence by its contact (see crate::policy).
    super::EVIDENCE_MIGRATION,
    // 10: the log's identity (see Storage::log_id).
    concat!(
        "CREATE TABLE server_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);\n",
        "INSERT INTO server_meta (key, value) VALUES ('log_id', lower(hex(randomblob(16))));"
    ),
    // 11: enrolment codes and device reports (see crate::storage::enrol).
    enrol::MIGRATION,
    // 12: document summaries for bootstrapping devices (see outpost_core::sync::summary).
    super::SQLITE_SUMMARY_MIGRATION,
];

/// The SQLite storage.
#[derive(Clone)]
pub struct SqliteStorage {
    inner: Arc<Inner>,
}

struct Inner {
    path: PathBuf,
    writer: Mutex<Connection>,
    readers: Mutex<Vec<Connection>>,
}

impl std::fmt::Debug for SqliteStorage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStorage")
            .field("path", &self.inner.path)
            .finish()
    }
}

fn configure(conn: &Connection) -> Result<(), StorageError> {
    conn.busy_timeout(std::time::Duration::from_secs(10))?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    Ok(())
}

fn migrate(conn: &mut Connection) -> Result<(), StorageError> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let applied: i64 = tx.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    let applied = usize::try_from(applied).unwrap_or(0);
    if applied > MIGRATIONS.len() {
        return Err(StorageError::Internal(format!(
            "the database is at schema version {applied}, newer than this server ({})",
            MIGRATIONS.len()
        )));
    }
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(applied) {
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", (i + 1) as i64)?;
    }
    tx.commit()?;
    Ok(())
}

impl SqliteStorage {
    /// Opens (creating and migrating) `DIR/outpost-server.db`. Blocking.
    pub fn open(dir: &Path) -> Result<Self, StorageError> {
        std::fs::create_dir_all(dir).map_err(|source| StorageError::Io {
            op: "creating data directory",
            path: dir.display().to_string(),
            source,
        })?;
        Self::open_file(&dir.join(DB_FILE))
    }

    /// Opens (creating and migrating) the database file at `path`. Blocking.
    pub fn open_file(path: &Path) -> Result<Self, StorageError> {
        let mut writer = Connection::open(path)?;
        configure(&writer)?;
        migrate(&mut writer)?;
        Ok(Self {
            inner: Arc::new(Inner {
                path: path.to_path_buf(),
                writer: Mutex::new(writer),
                readers: Mutex::new(Vec::new()),
            }),
        })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    async fn read<T, F>(&self, f: F) -> Result<T, StorageError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, StorageError> + Send + 'static,
    {
        let inner = self.inner.clone();
        tokio::task::spawn_blocking(move || {
            let pooled = inner.readers.lock().ok().and_then(|mut r| r.pop());
            let conn = match pooled {
                Some(c) => c,
                None => {
                    let c = Connection::open(&inner.path)?;
                    configure(&c)?;
                    c
                }
            };
            let result = f(&conn);
            if let Ok(mut readers) = inner.readers.lock() {
                if readers.len() < MAX_IDLE_READERS {
                    readers.push(conn);
                }
            }
            result
        })
        .await
        .map_err(super::task_failed)?
    }

    async fn write<T, F>(&self, f: F) -> Result<T, StorageError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<T, StorageError> + Send + 'static,
    {
        let inner = self.inner.clone();
        tokio::task::spawn_blocking(move || {
            // A panic while holding the lock leaves the connection usable (the transaction
            // rolled back on drop), so a poisoned mutex is recovered.
            let mut conn = inner
                .writer
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            f(&mut conn)
        })
        .await
        .map_err(super::task_failed)?
    }
}

fn device_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<(Device, String)> {
    let role: String = r.get(3)?;
    Ok((
        Device {
            id: r.get(0)?,
            tenant_id: r.get(1)?,
            user_id: r.get(2)?,
            role: Role::Rep,
            created_at_ms: r.get(4)?,
            revoked_at_ms: r.get(5)?,
            last_seen_at_ms: r.get(6)?,
        },
        role,
    ))
}

fn finish_device((mut d, role): (Device, String)) -> Result<Device, StorageError> {
    d.role = role
        .parse()
        .map_err(|e| StorageError::Corrupt(format!("device {}: {e}", d.id)))?;
    Ok(d)
}

const DEVICE_COLUMNS: &str = "id, tenant_id, user_id, role, created_at, revoked_at, last_seen_at";

/// Inserts a new device holding the token that hashes to `token_hash`.
fn insert_device(conn: &Connection, device: &Device, token_hash: &str) -> Result<(), StorageError> {
    conn.execute(
        "INSERT INTO devices (id, tenant_id, user_id, role, token_hash, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![
            device.id,
            device.tenant_id,
            device.user_id,
            device.role.as_str(),
            token_hash,
            device.created_at_ms
        ],
    )?;
    Ok(())
}

fn get_device(conn: &Connection, id: &str) -> Result<Option<Device>, StorageError> {
    conn.query_row(
        &format!("SELECT {DEVICE_COLUMNS} FROM devices WHERE id = ?1"),
        [id],
        device_from_row,
    )
    .optional()?
    .map(finish_device)
    .transpose()
}

/// The columns of a stored document with its visibility: `d` the document, `r` its root.
pub(super) const DOC_SELECT: &str =
    "SELECT d.record_id, d.tenant_id, d.kind, d.doc, d.updated_seq, r.owner, d.root, d.field
     FROM documents d LEFT JOIN documents r ON r.record_id = COALESCE(d.root, d.record_id)";

fn get_doc(conn: &Connection, record_id: &str) -> Result<Option<StoredDoc>, StorageError> {
    conn.prepare_cached(&format!("{DOC_SELECT} WHERE d.record_id = ?1"))?
        .query_row([record_id], doc_from_row)
        .optional()?
        .transpose()
}

fn doc_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Result<StoredDoc, StorageError>> {
    let seq: i64 = r.get(4)?;
    let meta = meta_at(r, 5)?;
    Ok(Ok(StoredDoc {
        record_id: r.get(0)?,
        tenant_id: r.get(1)?,
        kind: r.get(2)?,
        doc: r.get(3)?,
        updated_seq: match to_u64(seq, "documents.updated_seq") {
            Ok(s) => s,
            Err(e) => return Ok(Err(e)),
        },
        meta,
    }))
}

/// Reads the owner, root and field columns starting at `at`.
pub(super) fn meta_at(r: &rusqlite::Row<'_>, at: usize) -> rusqlite::Result<DocMeta> {
    Ok(DocMeta {
        owner: r.get(at)?,
        root: r.get(at + 1)?,
        field: r.get(at + 2)?,
    })
}

fn actor_owner(conn: &Connection, actor: &[u8]) -> Result<Option<String>, StorageError> {
    Ok(conn
        .prepare_cached("SELECT device_id FROM device_actors WHERE actor = ?1")?
        .query_row([actor], |r| r.get(0))
        .optional()?)
}

/// Reads what [`plan::plan_push`] needs about a push.
fn read_facts(
    conn: &Connection,
    tenant_id: &str,
    actor: &[u8],
    records: &[String],
    changes: &[PushChange],
    hashes: &[[u8; 32]],
) -> Result<PushFacts, StorageError> {
    let mut facts = PushFacts::new(tenant_id, now_ms());
    facts.actor_owner = actor_owner(conn, actor)?;
    for record in records {
        if let Some(doc) = get_doc(conn, record)? {
            facts.docs.insert(record.clone(), doc);
        }
    }
    let mut known = conn.prepare_cached(
        "SELECT 1 FROM log WHERE tenant_id = ?1 AND change_hash = ?2 AND record_id = ?3",
    )?;
    for (change, hash) in changes.iter().zip(hashes) {
        if known.exists(params![tenant_id, hash.as_slice(), change.record])? {
            facts.known.insert((change.record.clone(), *hash));
        }
    }
    Ok(facts)
}

/// Reads into `ctx` what the write policy asked for (see [`crate::policy::Needs`]).
fn read_context(
    conn: &Connection,
    ctx: &mut policy::Context,
    needs: &policy::Needs,
) -> Result<(), StorageError> {
    for id in &needs.records {
        let found = get_doc(conn, id)?;
        ctx.records
            .insert(id.clone(), found.as_ref().map(policy::Related::from));
    }
    if needs.flow && ctx.flow.is_none() {
        let id = outpost_core::flow::config_record_id(&ctx.tenant_id);
        let found = get_doc(conn, &id)?.filter(|d| d.tenant_id == ctx.tenant_id);
        ctx.flow = Some(policy::flow_of(found.as_ref()));
        ctx.records
            .insert(id, found.as_ref().map(policy::Related::from));
    }
    for contact in &needs.evidence {
        if ctx.evidence.contains_key(contact) {
            continue;
        }
        let mut walk = policy::MergeWalk::new(contact);
        while let Some(next) = walk.next_contact() {
            let doc = get_doc(conn, &next)?
                .filter(|d| d.tenant_id == ctx.tenant_id && d.kind == "contact")
                .map(|d| load_doc(&d.record_id, &d.doc))
                .transpose()?;
            walk.visit(doc.as_ref());
        }
        let mut evidence = policy::StoredEvidence {
            contacts: walk.contacts(),
            ..Default::default()
        };
        let mut stmt = conn.prepare_cached(
            "SELECT record_id, kind, doc FROM documents
             WHERE tenant_id = ?1 AND root = ?2 AND kind IN ('attachment', 'visit')",
        )?;
        for root in evidence.contacts.clone() {
            let rows = stmt
                .query_map(params![ctx.tenant_id, root], |r| {
                    Ok((
                        r.get::<_, String>(0)?,
                        r.get::<_, String>(1)?,
                        r.get::<_, Vec<u8>>(2)?,
                    ))
                })?
                .collect::<Result<Vec<_>, _>>()?;
            for (id, kind, bytes) in rows {
                evidence.add(&id, &kind, &load_doc(&id, &bytes)?);
            }
        }
        ctx.evidence.insert(contact.clone(), evidence);
    }
    Ok(())
}

/// A stored document, loaded.
fn load_doc(record: &str, bytes: &[u8]) -> Result<automerge::AutoCommit, StorageError> {
    automerge::AutoCommit::load(bytes)
        .map_err(|e| StorageError::Corrupt(format!("document {record}: {e}")))
}

/// Plans a push, reading what the write policy asks for into `facts` until it asks nothing.
fn plan_push(
    conn: &Connection,
    device: &Device,
    viewer: &Viewer,
    actor: &[u8],
    changes: &[PushChange],
    hashes: &[[u8; 32]],
    facts: &mut PushFacts,
) -> Result<WritePlan, StorageError> {
    let mut needs = policy::Needs::default();
    for _ in 0..plan::MAX_POLICY_ROUNDS {
        let plan = plan::plan_push(
            &device.tenant_id,
            &device.id,
            viewer,
            actor,
            changes,
            hashes,
            facts,
        )?;
        if plan.needs.is_empty() {
            return Ok(plan);
        }
        needs = plan.needs;
        read_context(conn, &mut facts.context, &needs)?;
    }
    Err(plan::policy_rounds_exceeded(&needs))
}

/// The `updated_seq` of the stored documents among `records`.
fn doc_versions(
    conn: &Connection,
    records: &[String],
) -> Result<BTreeMap<String, u64>, StorageError> {
    let mut stmt = conn.prepare_cached("SELECT updated_seq FROM documents WHERE record_id = ?1")?;
    let mut versions = BTreeMap::new();
    for record in records {
        if let Some(seq) = stmt
            .query_row([record], |r| r.get::<_, i64>(0))
            .optional()?
        {
            versions.insert(record.clone(), to_u64(seq, "documents.updated_seq")?);
        }
    }
    Ok(versions)
}

/// Takes the tenant's row (the whole database is already locked by `BEGIN IMMEDIATE`).
fn lock_tenant(tx: &Transaction<'_>, tenant_id: &str) -> Result<u64, StorageError> {
    let head: Option<i64> = tx
        .prepare_cached("SELECT log_head FROM tenants WHERE id = ?1")?
        .query_row([tenant_id], |r| r.get(0))
        .optional()?;
    let head = head.ok_or_else(|| StorageError::NotFound(format!("tenant {tenant_id}")))?;
    to_u64(head, "tenants.log_head")
}

/// Writes a plan: binds actors, appends entries after `head`, writes documents, moves the
/// head. Returns the new head.
fn write_plan(
    tx: &Transaction<'_>,
    device: &Device,
    head: u64,
    plan: &WritePlan,
    now: i64,
) -> Result<u64, StorageError> {
    if !plan.needs.is_empty() {
        return Err(StorageError::Internal(
            "a write plan the policy has not decided was about to be written".into(),
        ));
    }
    for actor in &plan.bind_actors {
        tx.prepare_cached(
            "INSERT INTO device_actors (actor, device_id) VALUES (?1, ?2) ON CONFLICT (actor) DO NOTHING",
        )?
        .execute(params![actor, device.id])?;
        if actor_owner(tx, actor)?.as_deref() != Some(device.id.as_str()) {
            return Err(StorageError::Forbidden(
                "actor: this actor id belongs to another device".into(),
            ));
        }
    }
    {
        let mut insert = tx.prepare_cached(
            "INSERT INTO log (tenant_id, seq, record_id, kind, change_hash, change, actor, device_id, user_id, received_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
        )?;
        for (i, e) in plan.entries.iter().enumerate() {
            insert.execute(params![
                device.tenant_id,
                to_i64(WritePlan::seq(head, i), "seq")?,
                e.record,
                e.kind,
                e.hash.as_slice(),
                e.change,
                e.actor,
                device.id,
                device.user_id,
                now
            ])?;
        }
    }
    {
        let mut old_owner =
            tx.prepare_cached("SELECT owner FROM documents WHERE record_id = ?1")?;
        let mut upsert = tx.prepare_cached(
            "INSERT INTO documents (record_id, tenant_id, kind, doc, updated_seq, owner, root, field, blob, summary)
             VALUES (?1, ?2, ?3, ?4, ?5, COALESCE(?6, ?7),
                 CASE WHEN ?8 IS NULL THEN ?1
                      ELSE COALESCE((SELECT p.root FROM documents p WHERE p.record_id = ?8), ?8) END,
                 ?9, ?10, ?11)
             ON CONFLICT (record_id) DO UPDATE SET kind = excluded.kind, doc = excluded.doc,
                 summary = excluded.summary, updated_seq = excluded.updated_seq, owner = COALESCE(?6, documents.owner),
                 root = excluded.root, field = COALESCE(excluded.field, documents.field),
                 blob = COALESCE(excluded.blob, documents.blob)
             WHERE documents.tenant_id = excluded.tenant_id",
        )?;
        let mut scope_moved = false;
        for d in &plan.docs {
            if let Some(new_owner) = &d.owner {
                let old: Option<Option<String>> =
                    old_owner.query_row([&d.record], |r| r.get(0)).optional()?;
                scope_moved |= matches!(old, Some(Some(o)) if &o != new_owner);
            }
            let n = upsert.execute(params![
                d.record,
                device.tenant_id,
                d.kind,
                d.doc,
                to_i64(WritePlan::seq(head, d.last_entry), "seq")?,
                d.owner,
                device.user_id,
                d.parent,
                d.field,
                d.blob,
                d.summary
            ])?;
            if n != 1 {
                return Err(StorageError::Forbidden(format!(
                    "record {} is not accessible to this device",
                    d.record
                )));
            }
        }
        // A record and its parent written together: follow the parent to its own root.
        let mut reroot = tx.prepare_cached(
            "UPDATE documents SET root = (SELECT p.root FROM documents p WHERE p.record_id = documents.root)
             WHERE record_id = ?1 AND root <> record_id
                 AND (SELECT p.root FROM documents p WHERE p.record_id = documents.root) IS NOT NULL",
        )?;
        for d in plan.docs.iter().filter(|d| d.parent.is_some()) {
            reroot.execute([&d.record])?;
        }
        if scope_moved {
            // A record changed hands: devices reconcile their scope at their next sync.
            tx.prepare_cached("UPDATE tenants SET scope_epoch = scope_epoch + 1 WHERE id = ?1")?
                .execute([&device.tenant_id])?;
        }
    }
    let new_head = head + plan.entries.len() as u64;
    if new_head != head {
        tx.prepare_cached("UPDATE tenants SET log_head = ?2 WHERE id = ?1")?
            .execute(params![device.tenant_id, to_i64(new_head, "log_head")?])?;
    }
    tx.prepare_cached("UPDATE devices SET last_seen_at = ?2 WHERE id = ?1")?
        .execute(params![device.id, now])?;
    Ok(new_head)
}

fn is_unique_violation(e: &rusqlite::Error) -> bool {
    matches!(
        e,
        rusqlite::Error::SqliteFailure(f, _) if f.code == rusqlite::ErrorCode::ConstraintViolation
    )
}

#[async_trait]
impl Storage for SqliteStorage {
    fn backend(&self) -> &'static str {
        "sqlite"
    }

    async fn ping(&self) -> Result<(), StorageError> {
        self.read(|c| {
            Ok(c.query_row("SELECT 1", [], |r| r.get::<_, i64>(0))
                .map(|_| ())?)
        })
        .await
    }

    async fn log_id(&self) -> Result<String, StorageError> {
        self.read(|c| {
            Ok(
                c.prepare_cached("SELECT value FROM server_meta WHERE key = 'log_id'")?
                    .query_row([], |r| r.get(0))?,
            )
        })
        .await
    }

    async fn renew_log_id(&self) -> Result<String, StorageError> {
        let id = new_log_id();
        self.write(move |c| {
            c.execute(
                "INSERT INTO server_meta (key, value) VALUES ('log_id', ?1) \
                 ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                [&id],
            )?;
            Ok(id)
        })
        .await
    }

    async fn create_tenant(&self, name: &str) -> Result<Tenant, StorageError> {
        check_tenant_name(name)?;
        let name = name.to_string();
        self.write(move |c| {
            let tenant = Tenant {
                id: new_id(),
                name,
                log_head: 0,
                created_at_ms: now_ms(),
            };
            match c.execute(
                "INSERT INTO tenants (id, name, log_head, created_at, sharing) VALUES (?1, ?2, 0, ?3, 'private')",
                params![tenant.id, tenant.name, tenant.created_at_ms],
            ) {
                Ok(_) => Ok(tenant),
                Err(e) if is_unique_violation(&e) => Err(StorageError::Conflict(format!(
                    "a tenant named {:?} already exists",
                    tenant.name
                ))),
                Err(e) => Err(e.into()),
            }
        })
        .await
    }

    async fn tenant(&self, id_or_name: &str) -> Result<Option<Tenant>, StorageError> {
        let key = id_or_name.to_string();
        self.read(move |c| {
            let row = c
                .query_row(
                    "SELECT id, name, log_head, created_at FROM tenants WHERE id = ?1 OR name = ?1
                     ORDER BY id = ?1 DESC LIMIT 1",
                    [&key],
                    |r| {
                        Ok((
                            r.get::<_, String>(0)?,
                            r.get::<_, String>(1)?,
                            r.get::<_, i64>(2)?,
                            r.get::<_, i64>(3)?,
                        ))
                    },
                )
                .optional()?;
            row.map(|(id, name, head, created_at_ms)| {
                Ok(Tenant {
                    id,
                    name,
                    log_head: to_u64(head, "tenants.log_head")?,
                    created_at_ms,
                })
            })
            .transpose()
        })
        .await
    }

    async fn enroll_device(
        &self,
        tenant_id: &str,
        user_id: &str,
        role: Role,
        token_hash: &str,
    ) -> Result<Device, StorageError> {
        check_user_id(user_id)?;
        let (tenant_id, user_id, token_hash) = (
            tenant_id.to_string(),
            user_id.to_string(),
            token_hash.to_string(),
        );
        self.write(move |c| {
            let exists: Option<i64> = c
                .query_row("SELECT 1 FROM tenants WHERE id = ?1", [&tenant_id], |r| {
                    r.get(0)
                })
                .optional()?;
            if exists.is_none() {
                return Err(StorageError::NotFound(format!("tenant {tenant_id}")));
            }
            let device = Device {
                id: new_id(),
                tenant_id,
                user_id,
                role: role.clone(),
                created_at_ms: now_ms(),
                revoked_at_ms: None,
                last_seen_at_ms: None,
            };
            insert_device(c, &device, &token_hash)?;
            Ok(device)
        })
        .await
    }

    async fn revoke_device(&self, device_id: &str) -> Result<Device, StorageError> {
        let id = device_id.to_string();
        self.write(move |c| {
            c.execute(
                "UPDATE devices SET revoked_at = COALESCE(revoked_at, ?2) WHERE id = ?1",
                params![id, now_ms()],
            )?;
            get_device(c, &id)?.ok_or_else(|| StorageError::NotFound(format!("device {id}")))
        })
        .await
    }

    async fn list_devices(&self, tenant_id: &str) -> Result<Vec<Device>, StorageError> {
        let tenant_id = tenant_id.to_string();
        self.read(move |c| {
            let mut stmt = c.prepare(&format!(
                "SELECT {DEVICE_COLUMNS} FROM devices WHERE tenant_id = ?1 ORDER BY created_at, id"
            ))?;
            let rows = stmt
                .query_map([&tenant_id], device_from_row)?
                .collect::<Result<Vec<_>, _>>()?;
            rows.into_iter().map(finish_device).collect()
        })
        .await
    }

    async fn device_by_token_hash(&self, token_hash: &str) -> Result<Option<Device>, StorageError> {
        let hash = token_hash.to_string();
        self.read(move |c| {
            c.prepare_cached(&format!(
                "SELECT {DEVICE_COLUMNS} FROM devices WHERE token_hash = ?1"
            ))?
            .query_row([&hash], device_from_row)
            .optional()?
            .map(finish_device)
            .transpose()
        })
        .await
    }

    async fn touch_device(&self, device_id: &str, now_ms: i64) -> Result<(), StorageError> {
        let id = device_id.to_string();
        self.write(move |c| {
            c.prepare_cached("UPDATE devices SET last_seen_at = ?2 WHERE id = ?1")?
                .execute(params![id, now_ms])?;
            Ok(())
        })
        .await
    }

    async fn active_devices(&self, since_ms: i64) -> Result<u64, StorageError> {
        self.read(move |c| {
            let n: i64 = c.query_row(
                "SELECT COUNT(*) FROM devices WHERE revoked_at IS NULL AND last_seen_at >= ?1",
                [since_ms],
                |r| r.get(0),
            )?;
            to_u64(n, "count")
        })
        .await
    }

    async fn push(
        &self,
        device: &Device,
        viewer: &Viewer,
        actor: &[u8],
        changes: &[PushChange],
    ) -> Result<PushOutcome, StorageError> {
        let hashes = plan::check_push(actor, changes)?;
        let records = plan::touched_records(changes);
        let push = Arc::new((
            device.clone(),
            actor.to_vec(),
            changes.to_vec(),
            hashes,
            viewer.clone(),
        ));
        // Plan from a reader, outside the writer lock, so requests plan in parallel...
        let (facts, early) = {
            let (push, records) = (push.clone(), records.clone());
            self.read(move |c| {
                let (device, actor, changes, hashes, viewer) = &*push;
                let mut facts = read_facts(c, &device.tenant_id, actor, &records, changes, hashes)?;
                let plan = plan_push(c, device, viewer, actor, changes, hashes, &mut facts);
                Ok((facts, plan))
            })
            .await?
        };
        self.write(move |c| {
            let (device, actor, changes, hashes, viewer) = &*push;
            let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let head = lock_tenant(&tx, &device.tenant_id)?;
            // ...and keep that plan only if nothing it read changed meanwhile.
            let unchanged = facts.reusable()
                && doc_versions(&tx, &facts.version_ids(&records))? == facts.versions()
                && actor_owner(&tx, actor)? == facts.actor_owner;
            let plan = if unchanged {
                early?
            } else {
                let mut facts =
                    read_facts(&tx, &device.tenant_id, actor, &records, changes, hashes)?;
                plan_push(&tx, device, viewer, actor, changes, hashes, &mut facts)?
            };
            let prior = blobs::prior_vouches(&tx, &plan)?;
            let log_head = write_plan(&tx, device, head, &plan, now_ms())?;
            blobs::vouch(&tx, device, viewer, &plan, &prior)?;
            tx.commit()?;
            Ok(PushOutcome {
                applied: plan.entries.len() as u64,
                rejected: plan.rejected,
                deferred: plan.deferred,
                log_head,
            })
        })
        .await
    }

    async fn pull(
        &self,
        tenant_id: &str,
        viewer: &Viewer,
        actor: &[u8],
        cursor: u64,
        limit: u32,
    ) -> Result<PullPage, StorageError> {
        let (tenant_id, actor, viewer) = (tenant_id.to_string(), actor.to_vec(), viewer.clone());
        self.read(move |c| {
            let mut stmt = c.prepare_cached(
                "SELECT l.seq, l.record_id, l.kind,
                        CASE WHEN l.actor = ?3 THEN NULL ELSE l.change END, r.owner, d.root, d.field
                 FROM log l
                 LEFT JOIN documents d ON d.record_id = l.record_id
                 LEFT JOIN documents r ON r.record_id = COALESCE(d.root, l.record_id)
                 WHERE l.tenant_id = ?1 AND l.seq > ?2 ORDER BY l.seq LIMIT ?4",
            )?;
            let rows = stmt
                .query_map(
                    params![
                        tenant_id,
                        to_i64(cursor, "cursor")?,
                        actor,
                        i64::from(limit) + 1
                    ],
                    |r| {
                        Ok((
                            r.get::<_, i64>(0)?,
                            r.get::<_, String>(1)?,
                            r.get::<_, String>(2)?,
                            r.get::<_, Option<Vec<u8>>>(3)?,
                            meta_at(r, 4)?,
                        ))
                    },
                )?
                .collect::<Result<Vec<_>, _>>()?;
            let rows = rows
                .into_iter()
                .map(|(seq, record, kind, change, meta)| {
                    Ok(LogRow {
                        seq: to_u64(seq, "log.seq")?,
                        record,
                        kind,
                        change,
                        meta,
                    })
                })
                .collect::<Result<Vec<_>, StorageError>>()?;
            Ok(plan::pull_page(rows, cursor, limit, &viewer))
        })
        .await
    }

    async fn bootstrap(
        &self,
        tenant_id: &str,
        viewer: &Viewer,
        after: Option<&str>,
        limit: u32,
    ) -> Result<BootstrapPage, StorageError> {
        let (tenant_id, after) = (tenant_id.to_string(), after.unwrap_or("").to_string());
        let viewer = viewer.clone();
        self.read(move |c| {
            // One read transaction: the head and the documents come from one snapshot.
            let tx = c.unchecked_transaction()?;
            let head: i64 = tx
                .query_row(
                    "SELECT log_head FROM tenants WHERE id = ?1",
                    [&tenant_id],
                    |r| r.get(0),
                )
                .optional()?
                .ok_or_else(|| StorageError::NotFound(format!("tenant {tenant_id}")))?;
            let mut stmt = tx.prepare_cached(
                "SELECT d.record_id, d.kind, d.doc, r.owner, d.root, d.field, d.summary FROM documents d
                 LEFT JOIN documents r ON r.record_id = COALESCE(d.root, d.record_id)
                 WHERE d.tenant_id = ?1 AND d.record_id > ?2 ORDER BY d.record_id LIMIT ?3",
            )?;
            let docs = stmt
                .query_map(
                    params![tenant_id, after, i64::from(limit) + 1],
                    snapshot_row,
                )?
                .collect::<Result<Vec<_>, _>>()?;
            drop(stmt);
            tx.finish()?;
            Ok(plan::bootstrap_page(
                docs,
                to_u64(head, "log_head")?,
                limit,
                &viewer,
            ))
        })
        .await
    }

    async fn document(&self, record_id: &str) -> Result<Option<StoredDoc>, StorageError> {
        let id = record_id.to_string();
        self.read(move |c| get_doc(c, &id)).await
    }

    async fn automerge_sync(
        &self,
        device: &Device,
        viewer: &Viewer,
        record_id: &str,
        message: &[u8],
    ) -> Result<AutomergeReply, StorageError> {
        plan::check_record_id(record_id)?;
        let (device, id, message) = (device.clone(), record_id.to_string(), message.to_vec());
        let viewer = viewer.clone();
        let first = {
            let (device, id, message) = (device.clone(), id.clone(), message.clone());
            let viewer = viewer.clone();
            self.read(move |c| {
                let stored = readable_doc(get_doc(c, &id)?, &device, &viewer, &id)?;
                AutomergeSession::receive(&stored, &message)
            })
            .await?
        };
        if !first.has_changes() {
            return Ok(AutomergeReply {
                reply: first.reply(),
                applied: 0,
            });
        }
        drop(first);
        self.write(move |c| {
            let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let head = lock_tenant(&tx, &device.tenant_id)?;
            let stored = readable_doc(get_doc(&tx, &id)?, &device, &viewer, &id)?;
            let session = AutomergeSession::receive(&stored, &message)?;
            let mut owners = HashMap::new();
            for actor in session.new_actors() {
                if let Some(owner) = actor_owner(&tx, &actor)? {
                    owners.insert(actor, owner);
                }
            }
            let mut context = policy::Context::new(&device.tenant_id, now_ms());
            let mut rounds = 0;
            let plan = loop {
                let plan = session.plan(&stored, &device.id, &viewer, &owners, &context)?;
                if plan.needs.is_empty() {
                    break plan;
                }
                rounds += 1;
                if rounds >= plan::MAX_POLICY_ROUNDS {
                    return Err(plan::policy_rounds_exceeded(&plan.needs));
                }
                read_context(&tx, &mut context, &plan.needs)?;
            };
            let prior = blobs::prior_vouches(&tx, &plan)?;
            write_plan(&tx, &device, head, &plan, now_ms())?;
            blobs::vouch(&tx, &device, &viewer, &plan, &prior)?;
            tx.commit()?;
            Ok(AutomergeReply {
                applied: plan.entries.len() as u64,
                reply: session.reply(),
            })
        })
        .await
    }

    async fn put_experience(
        &self,
        device: &Device,
        batch: &ExperienceBatch,
        now_ms: i64,
    ) -> Result<ExperienceStored, StorageError> {
        reports::check_batch(batch)?;
        let (device, batch) = (device.clone(), batch.clone());
        self.write(move |c| {
            let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let mut stored = 0u64;
            {
                let mut insert = tx.prepare_cached(
                    "INSERT INTO experience_events \
                     (tenant_id, device_id, seq, at_ms, kind, name, ms, received_at) \
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) ON CONFLICT DO NOTHING",
                )?;
                for e in &batch.events {
                    stored += insert.execute(params![
                        device.tenant_id,
                        device.id,
                        to_i64(e.seq, "seq")?,
                        e.at_ms,
                        e.kind,
                        e.name,
                        to_i64(e.ms, "ms")?,
                        now_ms
                    ])? as u64;
                }
            }
            tx.prepare_cached(
                "INSERT INTO experience_devices \
                 (device_id, tenant_id, offline_created, offline_synced, updated_at) \
                 VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (device_id) DO UPDATE SET \
                 offline_created = excluded.offline_created, \
                 offline_synced = excluded.offline_synced, updated_at = excluded.updated_at",
            )?
            .execute(params![
                device.id,
                device.tenant_id,
                to_i64(batch.offline_created, "offline_created")?,
                to_i64(batch.offline_synced, "offline_synced")?,
                now_ms
            ])?;
            tx.prepare_cached(
                "DELETE FROM experience_events WHERE device_id = ?1 AND received_at < ?2",
            )?
            .execute(params![device.id, now_ms - reports::KEEP_MS])?;
            let acked: i64 = tx.query_row(
                "SELECT COALESCE(MAX(seq), 0) FROM experience_events WHERE device_id = ?1",
                [&device.id],
                |r| r.get(0),
            )?;
            tx.commit()?;
            Ok(ExperienceStored {
                stored,
                acked_seq: to_u64(acked, "seq")?,
            })
        })
        .await
    }

    async fn experience(&self, tenant_id: &str) -> Result<ExperienceData, StorageError> {
        let tenant = tenant_id.to_string();
        self.read(move |c| {
            let mut data = ExperienceData::default();
            let mut stmt = c.prepare_cached(
                "SELECT device_id, kind, name, ms FROM experience_events WHERE tenant_id = ?1",
            )?;
            let mut rows = stmt.query([&tenant])?;
            while let Some(r) = rows.next()? {
                data.events.push(StoredEvent {
                    device_id: r.get(0)?,
                    kind: r.get(1)?,
                    name: r.get(2)?,
                    ms: to_u64(r.get(3)?, "ms")?,
                });
            }
            let mut stmt = c.prepare_cached(
                "SELECT device_id, offline_created, offline_synced FROM experience_devices \
                 WHERE tenant_id = ?1 ORDER BY device_id",
            )?;
            let mut rows = stmt.query([&tenant])?;
            while let Some(r) = rows.next()? {
                data.devices.push(DeviceTotals {
                    device_id: r.get(0)?,
                    offline_created: to_u64(r.get(1)?, "offline_created")?,
                    offline_synced: to_u64(r.get(2)?, "offline_synced")?,
                });
            }
            Ok(data)
        })
        .await
    }
}

/// A document row (record_id, kind, doc, owner, root, field, summary) as a snapshot with its
/// visibility.
pub(super) fn snapshot_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<(DocSnapshot, DocMeta)> {
    Ok((
        DocSnapshot {
            record: r.get(0)?,
            kind: r.get(1)?,
            doc: r.get(2)?,
            summary: r.get(6)?,
        },
        meta_at(r, 3)?,
    ))
}
