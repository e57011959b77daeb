//! The PostgreSQL backend: a connection pool (deadpool), versioned migrations applied at start
//! under an advisory lock (safe when several servers start together), and appends serialized
//! per tenant by `SELECT log_head ... FOR UPDATE` inside the push transaction, so a seq is
//! only handed out after every smaller one of the tenant has committed.

use super::plan::{self, readable_doc, AutomergeSession, LogRow, PushFacts, WritePlan};
use super::reports::{self, DeviceTotals, ExperienceData, ExperienceStored, StoredEvent};
use super::{
    check_tenant_name, check_user_id, new_id, new_log_id, now_ms, task_failed, to_i64, to_u64,
    AutomergeReply, BootstrapPage, Device, DocMeta, PullPage, PushOutcome, Role, Storage,
    StoredDoc, Tenant,
};
use crate::error::StorageError;
use crate::policy;
use crate::policy::Viewer;
use async_trait::async_trait;
use deadpool_postgres::{
    GenericClient, Manager, ManagerConfig, Object, Pool, RecyclingMethod, Transaction,
};
use outpost_core::sync::protocol::{DocSnapshot, ExperienceBatch, PushChange};
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use tokio_postgres::error::SqlState;
use tokio_postgres::Row;

mod access;
mod audit;
mod blobs;
mod enrol;
mod routing;
mod tls;

/// The advisory lock key held while migrating ("outpost" in ASCII).
const MIGRATION_LOCK: i64 = 0x006f_7574_706f_7374;

/// Pooled connections per server process unless the operator says otherwise.
pub const DEFAULT_POOL_SIZE: usize = 16;

/// Versioned migrations, recorded in `outpost_schema_migrations`. Append only.
const MIGRATIONS: &[&str] = &[
    r#"
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
"#,
    // 2: resumable content-addressed blobs (attachments), per tenant.
    r#"
CREATE TABLE blobs (
    tenant_id TEXT NOT NULL REFERENCES tenants(id),
    sha256 TEXT NOT NULL,
    size BIGINT NOT NULL,
    received BIGINT NOT NULL,
    complete BOOLEAN NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, sha256)
);
CREATE TABLE blob_chunks (
    tenant_id TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    pos BIGINT NOT NULL,
    data BYTEA NOT NULL,
    PRIMARY KEY (tenant_id, sha256, pos)
);
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
    super::blobs::POSTGRES_MIGRATION,
    // 9: the write policy reads a deal's evidence by its contact (see crate::policy).
    super::EVIDENCE_MIGRATION,
    // 10: the log's identity (see Storage::log_id).
    concat!(
        "CREATE TABLE server_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);\n",
        "INSERT INTO server_meta (key, value) VALUES ('log_id', md5(random()::text || clock_timestamp()::text));"
    ),
    // 11: enrolment codes and device reports (see crate::storage::enrol).
    enrol::MIGRATION,
    // 12: document summaries for bootstrapping devices (see outpost_core::sync::summary).
    super::POSTGRES_SUMMARY_MIGRATION,
];

/// The PostgreSQL storage.
#[derive(Clone)]
pub struct PostgresStorage {
    pool: Pool,
}

impl std::fmt::Debug for PostgresStorage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresStorage").finish_non_exhaustive()
    }
}

impl PostgresStorage {
    /// Connects to `url` (`postgres://user@host:port/db`, or libpq's `key=value` form) and
    /// applies missing migrations. TLS as libpq's `sslmode` and `sslrootcert` say (see
    /// `postgres/tls.rs`): `disable`, `prefer` (the default), `require`, `verify-ca`, `verify-full`.
    pub async fn connect(url: &str) -> Result<Self, StorageError> {
        Self::connect_with(url, DEFAULT_POOL_SIZE).await
    }

    /// [`PostgresStorage::connect`] with at most `pool_size` connections (at least 1).
    pub async fn connect_with(url: &str, pool_size: usize) -> Result<Self, StorageError> {
        let (config, tls) = tls::parse_connection_string(url)?;
        let connector = tls::RustlsConnect::new(&tls)?;
        let manager = Manager::from_config(
            config,
            connector,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(pool_size.max(1))
            .build()
            .map_err(|e| StorageError::Pool(e.to_string()))?;
        let storage = Self { pool };
        // The first connection: a refused one says which sslmode it was made with.
        if let Err(e) = storage.pool.get().await {
            return Err(StorageError::Pool(format!(
                "connecting to PostgreSQL (sslmode={}): {}",
                tls.mode,
                tls::error_chain(&e)
            )));
        }
        storage.migrate().await?;
        Ok(storage)
    }

    async fn client(&self) -> Result<Object, StorageError> {
        self.pool
            .get()
            .await
            .map_err(|e| StorageError::Pool(e.to_string()))
    }

    async fn migrate(&self) -> Result<(), StorageError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
            .await?;
        tx.batch_execute(
            "CREATE TABLE IF NOT EXISTS outpost_schema_migrations (
                 version INTEGER PRIMARY KEY,
                 applied_at BIGINT NOT NULL
             )",
        )
        .await?;
        let applied: i32 = tx
            .query_one(
                "SELECT COALESCE(MAX(version), 0) FROM outpost_schema_migrations",
                &[],
            )
            .await?
            .try_get(0)?;
        let applied = usize::try_from(applied).unwrap_or(0);
        if applied > MIGRATIONS.len() {
            return Err(StorageError::Internal(format!(
                "the database is at schema version {applied}, newer than this server ({})",
                MIGRATIONS.len()
            )));
        }
        for (i, sql) in MIGRATIONS.iter().enumerate().skip(applied) {
            tx.batch_execute(sql).await?;
            let version = i32::try_from(i + 1).unwrap_or(i32::MAX);
            tx.execute(
                "INSERT INTO outpost_schema_migrations (version, applied_at) VALUES ($1, $2)",
                &[&version, &now_ms()],
            )
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }
}

fn device_from_row(row: &Row) -> Result<Device, StorageError> {
    let id: String = row.try_get(0)?;
    let role: String = row.try_get(3)?;
    Ok(Device {
        role: role
            .parse()
            .map_err(|e| StorageError::Corrupt(format!("device {id}: {e}")))?,
        id,
        tenant_id: row.try_get(1)?,
        user_id: row.try_get(2)?,
        created_at_ms: row.try_get(4)?,
        revoked_at_ms: row.try_get(5)?,
        last_seen_at_ms: row.try_get(6)?,
    })
}

/// A tenant from a row of `SELECT id, name, log_head, created_at FROM tenants`.
fn tenant_from_row(r: &Row) -> Result<Tenant, StorageError> {
    Ok(Tenant {
        id: r.try_get(0)?,
        name: r.try_get(1)?,
        log_head: to_u64(r.try_get(2)?, "tenants.log_head")?,
        created_at_ms: r.try_get(3)?,
    })
}

const DEVICE_COLUMNS: &str = "id, tenant_id, user_id, role, created_at, revoked_at, last_seen_at";

/// Inserts a new device holding the token that hashes to `token_hash`.
async fn insert_device(
    c: &impl deadpool_postgres::GenericClient,
    device: &Device,
    token_hash: &str,
) -> Result<(), StorageError> {
    c.execute(
        "INSERT INTO devices (id, tenant_id, user_id, role, token_hash, created_at)
         VALUES ($1, $2, $3, $4, $5, $6)",
        &[
            &device.id,
            &device.tenant_id,
            &device.user_id,
            &device.role.as_str(),
            &token_hash,
            &device.created_at_ms,
        ],
    )
    .await?;
    Ok(())
}

fn doc_from_row(row: &Row) -> Result<StoredDoc, StorageError> {
    Ok(StoredDoc {
        record_id: row.try_get(0)?,
        tenant_id: row.try_get(1)?,
        kind: row.try_get(2)?,
        doc: row.try_get(3)?,
        updated_seq: to_u64(row.try_get(4)?, "documents.updated_seq")?,
        meta: meta_at(row, 5)?,
    })
}

/// Reads the owner, root and field columns starting at `at`.
pub(super) fn meta_at(row: &Row, at: usize) -> Result<DocMeta, StorageError> {
    Ok(DocMeta {
        owner: row.try_get(at)?,
        root: row.try_get(at + 1)?,
        field: row.try_get(at + 2)?,
    })
}

/// A document row (record_id, kind, doc, owner, root, field, summary) as a snapshot with its
/// visibility.
pub(super) fn snapshot_row(row: &Row) -> Result<(DocSnapshot, DocMeta), StorageError> {
    Ok((
        DocSnapshot {
            record: row.try_get(0)?,
            kind: row.try_get(1)?,
            doc: row.try_get(2)?,
            summary: row.try_get(6)?,
        },
        meta_at(row, 3)?,
    ))
}

/// The columns of a stored document with its visibility: `d` the document, `r` its root.
const DOC_SELECT: &str =
    "SELECT d.record_id, d.tenant_id, d.kind, d.doc, d.updated_seq, r.owner, d.root, d.field
     FROM documents d LEFT JOIN documents r ON r.record_id = COALESCE(d.root, d.record_id)";

async fn get_doc(
    client: &impl GenericClient,
    record_id: &str,
) -> Result<Option<StoredDoc>, StorageError> {
    client
        .query_opt(
            &format!("{DOC_SELECT} WHERE d.record_id = $1"),
            &[&record_id],
        )
        .await?
        .as_ref()
        .map(doc_from_row)
        .transpose()
}

async fn actor_owner(
    client: &impl GenericClient,
    actor: &[u8],
) -> Result<Option<String>, StorageError> {
    Ok(client
        .query_opt(
            "SELECT device_id FROM device_actors WHERE actor = $1",
            &[&actor],
        )
        .await?
        .map(|r| r.try_get(0))
        .transpose()?)
}

/// A push, shared with the blocking pool: device, actor, changes, their hashes.
type PushInput = Arc<(Device, Vec<u8>, Vec<PushChange>, Vec<[u8; 32]>, Viewer)>;

/// Reads what [`plan::plan_push`] needs about a push.
async fn read_facts(
    client: &impl GenericClient,
    tenant_id: &str,
    actor: &[u8],
    records: &[String],
    push: &PushInput,
) -> Result<PushFacts, StorageError> {
    let (_, _, _, hashes, _) = &**push;
    let mut facts = PushFacts::new(tenant_id, now_ms());
    facts.actor_owner = actor_owner(client, actor).await?;
    for row in client
        .query(
            &format!("{DOC_SELECT} WHERE d.record_id = ANY($1)"),
            &[&records],
        )
        .await?
    {
        let doc = doc_from_row(&row)?;
        facts.docs.insert(doc.record_id.clone(), doc);
    }
    let hash_slices: Vec<&[u8]> = hashes.iter().map(|h| h.as_slice()).collect();
    for row in client
        .query(
            "SELECT record_id, change_hash FROM log
             WHERE tenant_id = $1 AND change_hash = ANY($2)",
            &[&tenant_id, &hash_slices],
        )
        .await?
    {
        let record: String = row.try_get(0)?;
        let hash: Vec<u8> = row.try_get(1)?;
        if let Ok(hash) = <[u8; 32]>::try_from(hash.as_slice()) {
            facts.known.insert((record, hash));
        }
    }
    Ok(facts)
}

/// Plans a push on the blocking pool (applying changes is CPU work); returns the facts back.
async fn plan_off_thread(
    push: PushInput,
    facts: PushFacts,
) -> Result<(PushFacts, Result<WritePlan, StorageError>), StorageError> {
    tokio::task::spawn_blocking(move || {
        let (device, actor, changes, hashes, viewer) = &*push;
        let plan = plan::plan_push(
            &device.tenant_id,
            &device.id,
            viewer,
            actor,
            changes,
            hashes,
            &facts,
        );
        (facts, plan)
    })
    .await
    .map_err(task_failed)
}

/// Plans a push, reading what the write policy asks for into the facts until it asks
/// nothing; returns the facts with the plan (or the push's refusal).
async fn plan_with_policy(
    client: &impl GenericClient,
    push: PushInput,
    mut facts: PushFacts,
) -> Result<(PushFacts, Result<WritePlan, StorageError>), StorageError> {
    let mut needs = policy::Needs::default();
    for _ in 0..plan::MAX_POLICY_ROUNDS {
        let (planned, plan) = plan_off_thread(push.clone(), facts).await?;
        facts = planned;
        match plan {
            Ok(p) if !p.needs.is_empty() => {
                needs = p.needs;
                read_context(client, &mut facts.context, &needs).await?;
            }
            decided => return Ok((facts, decided)),
        }
    }
    Ok((facts, Err(plan::policy_rounds_exceeded(&needs))))
}

/// Reads into `ctx` what the write policy asked for (see [`crate::policy::Needs`]).
async fn read_context(
    client: &impl GenericClient,
    ctx: &mut policy::Context,
    needs: &policy::Needs,
) -> Result<(), StorageError> {
    for id in &needs.records {
        let found = get_doc(client, id).await?;
        ctx.records
            .insert(id.clone(), found.as_ref().map(policy::Related::from));
    }
    if needs.flow && ctx.flow.is_none() {
        let id = outpost_core::flow::config_record_id(&ctx.tenant_id);
        let found = get_doc(client, &id)
            .await?
            .filter(|d| d.tenant_id == ctx.tenant_id);
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
            let doc = get_doc(client, &next)
                .await?
                .filter(|d| d.tenant_id == ctx.tenant_id && d.kind == "contact")
                .map(|d| load_doc(&d.record_id, &d.doc))
                .transpose()?;
            walk.visit(doc.as_ref());
        }
        let mut evidence = policy::StoredEvidence {
            contacts: walk.contacts(),
            ..Default::default()
        };
        let roots: Vec<&str> = evidence.contacts.iter().map(String::as_str).collect();
        let rows = client
            .query(
                "SELECT record_id, kind, doc FROM documents
                 WHERE tenant_id = $1 AND root = ANY($2) AND kind IN ('attachment', 'visit')",
                &[&ctx.tenant_id, &roots],
            )
            .await?;
        for row in rows {
            let id: String = row.try_get(0)?;
            let kind: String = row.try_get(1)?;
            let bytes: Vec<u8> = row.try_get(2)?;
            evidence.add(&id, &kind, &load_doc(&id, &bytes)?);
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

/// The `updated_seq` of the stored documents among `records`.
async fn doc_versions(
    client: &impl GenericClient,
    records: &[String],
) -> Result<BTreeMap<String, u64>, StorageError> {
    client
        .query(
            "SELECT record_id, updated_seq FROM documents WHERE record_id = ANY($1)",
            &[&records],
        )
        .await?
        .iter()
        .map(|r| {
            Ok((
                r.try_get(0)?,
                to_u64(r.try_get(1)?, "documents.updated_seq")?,
            ))
        })
        .collect()
}

/// Locks the tenant's row until the transaction ends and returns its log head.
async fn lock_tenant(tx: &Transaction<'_>, tenant_id: &str) -> Result<u64, StorageError> {
    let row = tx
        .query_opt(
            "SELECT log_head FROM tenants WHERE id = $1 FOR UPDATE",
            &[&tenant_id],
        )
        .await?
        .ok_or_else(|| StorageError::NotFound(format!("tenant {tenant_id}")))?;
    to_u64(row.try_get(0)?, "tenants.log_head")
}

/// Writes a plan (see the SQLite twin): bind actors, append entries after `head`, write
/// documents, move the head, touch the device. Returns the new head.
async fn write_plan(
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
        tx.execute(
            "INSERT INTO device_actors (actor, device_id) VALUES ($1, $2) ON CONFLICT (actor) DO NOTHING",
            &[actor, &device.id],
        )
        .await?;
        if actor_owner(tx, actor).await?.as_deref() != Some(device.id.as_str()) {
            return Err(StorageError::Forbidden(
                "actor: this actor id belongs to another device".into(),
            ));
        }
    }
    if !plan.entries.is_empty() {
        let mut seqs = Vec::with_capacity(plan.entries.len());
        for i in 0..plan.entries.len() {
            seqs.push(to_i64(WritePlan::seq(head, i), "seq")?);
        }
        let records: Vec<&str> = plan.entries.iter().map(|e| e.record.as_str()).collect();
        let kinds: Vec<&str> = plan.entries.iter().map(|e| e.kind.as_str()).collect();
        let hashes: Vec<&[u8]> = plan.entries.iter().map(|e| e.hash.as_slice()).collect();
        let changes: Vec<&[u8]> = plan.entries.iter().map(|e| e.change.as_slice()).collect();
        let actors: Vec<&[u8]> = plan.entries.iter().map(|e| e.actor.as_slice()).collect();
        tx.execute(
            "INSERT INTO log (tenant_id, seq, record_id, kind, change_hash, change, actor, device_id, user_id, received_at)
             SELECT $1, s, r, k, h, c, a, $8, $9, $10
             FROM UNNEST($2::int8[], $3::text[], $4::text[], $5::bytea[], $6::bytea[], $7::bytea[])
                  AS t(s, r, k, h, c, a)",
            &[
                &device.tenant_id,
                &seqs,
                &records,
                &kinds,
                &hashes,
                &changes,
                &actors,
                &device.id,
                &device.user_id,
                &now,
            ],
        )
        .await?;
    }
    if !plan.docs.is_empty() {
        let records: Vec<&str> = plan.docs.iter().map(|d| d.record.as_str()).collect();
        let kinds: Vec<&str> = plan.docs.iter().map(|d| d.kind.as_str()).collect();
        let docs: Vec<&[u8]> = plan.docs.iter().map(|d| d.doc.as_slice()).collect();
        let owners: Vec<Option<&str>> = plan.docs.iter().map(|d| d.owner.as_deref()).collect();
        let parents: Vec<Option<&str>> = plan.docs.iter().map(|d| d.parent.as_deref()).collect();
        let fields: Vec<Option<&str>> = plan.docs.iter().map(|d| d.field.as_deref()).collect();
        let blobs: Vec<Option<&str>> = plan.docs.iter().map(|d| d.blob.as_deref()).collect();
        let summaries: Vec<Option<&[u8]>> =
            plan.docs.iter().map(|d| d.summary.as_deref()).collect();
        let mut seqs = Vec::with_capacity(plan.docs.len());
        for d in &plan.docs {
            seqs.push(to_i64(WritePlan::seq(head, d.last_entry), "seq")?);
        }
        // A record changing hands moves the tenant's scope epoch.
        let mut old_owners: HashMap<String, String> = HashMap::new();
        for row in tx
            .query(
                "SELECT record_id, owner FROM documents WHERE record_id = ANY($1) AND owner IS NOT NULL",
                &[&records],
            )
            .await?
        {
            old_owners.insert(row.try_get(0)?, row.try_get(1)?);
        }
        let scope_moved = plan.docs.iter().any(|d| {
            d.owner
                .as_ref()
                .is_some_and(|new| old_owners.get(&d.record).is_some_and(|old| old != new))
        });
        let written = tx
            .execute(
                "INSERT INTO documents (record_id, tenant_id, kind, doc, updated_seq, owner, root, field, blob, summary)
                 SELECT r, $1, k, d, s, COALESCE(o, $6),
                     CASE WHEN p IS NULL THEN r
                          ELSE COALESCE((SELECT x.root FROM documents x WHERE x.record_id = p), p) END,
                     f, b, y
                 FROM UNNEST($2::text[], $3::text[], $4::bytea[], $5::int8[], $7::text[], $8::text[], $9::text[], $11::text[], $12::bytea[])
                      AS t(r, k, d, s, o, p, f, b, y)
                 ON CONFLICT (record_id) DO UPDATE SET kind = EXCLUDED.kind, doc = EXCLUDED.doc,
                     summary = EXCLUDED.summary, updated_seq = EXCLUDED.updated_seq,
                     owner = CASE WHEN documents.owner IS NOT NULL
                                  AND NOT (EXCLUDED.record_id = ANY($10)) THEN documents.owner
                                  ELSE EXCLUDED.owner END,
                     root = EXCLUDED.root, field = COALESCE(EXCLUDED.field, documents.field),
                     blob = COALESCE(EXCLUDED.blob, documents.blob)
                 WHERE documents.tenant_id = EXCLUDED.tenant_id",
                &[
                    &device.tenant_id,
                    &records,
                    &kinds,
                    &docs,
                    &seqs,
                    &device.user_id,
                    &owners,
                    &parents,
                    &fields,
                    &plan
                        .docs
                        .iter()
                        .filter(|d| d.owner.is_some())
                        .map(|d| d.record.as_str())
                        .collect::<Vec<_>>(),
                    &blobs,
                    &summaries,
                ],
            )
            .await?;
        if written != plan.docs.len() as u64 {
            return Err(StorageError::Forbidden(
                "a record of this push is not accessible to this device".into(),
            ));
        }
        // A record and its parent written together: follow the parent to its own root.
        tx.execute(
            "UPDATE documents d SET root = p.root FROM documents p
             WHERE d.record_id = ANY($1) AND p.record_id = d.root AND p.record_id <> d.record_id
                 AND p.root IS NOT NULL AND p.root <> p.record_id",
            &[&records],
        )
        .await?;
        if scope_moved {
            tx.execute(
                "UPDATE tenants SET scope_epoch = scope_epoch + 1 WHERE id = $1",
                &[&device.tenant_id],
            )
            .await?;
        }
    }
    let new_head = head + plan.entries.len() as u64;
    if new_head != head {
        tx.execute(
            "UPDATE tenants SET log_head = $2 WHERE id = $1",
            &[&device.tenant_id, &to_i64(new_head, "log_head")?],
        )
        .await?;
    }
    tx.execute(
        "UPDATE devices SET last_seen_at = $2 WHERE id = $1",
        &[&device.id, &now],
    )
    .await?;
    Ok(new_head)
}

#[async_trait]
impl Storage for PostgresStorage {
    fn backend(&self) -> &'static str {
        "postgres"
    }

    async fn ping(&self) -> Result<(), StorageError> {
        self.client().await?.query_one("SELECT 1", &[]).await?;
        Ok(())
    }

    async fn log_id(&self) -> Result<String, StorageError> {
        let row = self
            .client()
            .await?
            .query_one("SELECT value FROM server_meta WHERE key = 'log_id'", &[])
            .await?;
        Ok(row.get(0))
    }

    async fn renew_log_id(&self) -> Result<String, StorageError> {
        let id = new_log_id();
        self.client()
            .await?
            .execute(
                "INSERT INTO server_meta (key, value) VALUES ('log_id', $1) \
                 ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                &[&id],
            )
            .await?;
        Ok(id)
    }

    async fn create_tenant(&self, name: &str) -> Result<Tenant, StorageError> {
        check_tenant_name(name)?;
        let tenant = Tenant {
            id: new_id(),
            name: name.to_string(),
            log_head: 0,
            created_at_ms: now_ms(),
        };
        let result = self
            .client()
            .await?
            .execute(
                "INSERT INTO tenants (id, name, log_head, created_at, sharing) VALUES ($1, $2, 0, $3, 'private')",
                &[&tenant.id, &tenant.name, &tenant.created_at_ms],
            )
            .await;
        match result {
            Ok(_) => Ok(tenant),
            Err(e) if e.code() == Some(&SqlState::UNIQUE_VIOLATION) => Err(StorageError::Conflict(
                format!("a tenant named {name:?} already exists"),
            )),
            Err(e) => Err(e.into()),
        }
    }

    async fn tenant(&self, id_or_name: &str) -> Result<Option<Tenant>, StorageError> {
        self.client()
            .await?
            .query_opt(
                "SELECT id, name, log_head, created_at FROM tenants WHERE id = $1 OR name = $1
                 ORDER BY (id = $1) DESC LIMIT 1",
                &[&id_or_name],
            )
            .await?
            .as_ref()
            .map(tenant_from_row)
            .transpose()
    }

    async fn enroll_device(
        &self,
        tenant_id: &str,
        user_id: &str,
        role: Role,
        token_hash: &str,
    ) -> Result<Device, StorageError> {
        check_user_id(user_id)?;
        let client = self.client().await?;
        if client
            .query_opt("SELECT 1 FROM tenants WHERE id = $1", &[&tenant_id])
            .await?
            .is_none()
        {
            return Err(StorageError::NotFound(format!("tenant {tenant_id}")));
        }
        let device = Device {
            id: new_id(),
            tenant_id: tenant_id.to_string(),
            user_id: user_id.to_string(),
            role: role.clone(),
            created_at_ms: now_ms(),
            revoked_at_ms: None,
            last_seen_at_ms: None,
        };
        insert_device(&client, &device, token_hash).await?;
        Ok(device)
    }

    async fn revoke_device(&self, device_id: &str) -> Result<Device, StorageError> {
        self.client()
            .await?
            .query_opt(
                &format!(
                    "UPDATE devices SET revoked_at = COALESCE(revoked_at, $2) WHERE id = $1
                     RETURNING {DEVICE_COLUMNS}"
                ),
                &[&device_id, &now_ms()],
            )
            .await?
            .as_ref()
            .map(device_from_row)
            .transpose()?
            .ok_or_else(|| StorageError::NotFound(format!("device {device_id}")))
    }

    async fn list_devices(&self, tenant_id: &str) -> Result<Vec<Device>, StorageError> {
        self.client()
            .await?
            .query(
                &format!(
                    "SELECT {DEVICE_COLUMNS} FROM devices WHERE tenant_id = $1 ORDER BY created_at, id"
                ),
                &[&tenant_id],
            )
            .await?
            .iter()
            .map(device_from_row)
            .collect()
    }

    async fn device_by_token_hash(&self, token_hash: &str) -> Result<Option<Device>, StorageError> {
        self.client()
            .await?
            .query_opt(
                &format!("SELECT {DEVICE_COLUMNS} FROM devices WHERE token_hash = $1"),
                &[&token_hash],
            )
            .await?
            .as_ref()
            .map(device_from_row)
            .transpose()
    }

    async fn touch_device(&self, device_id: &str, now_ms: i64) -> Result<(), StorageError> {
        self.client()
            .await?
            .execute(
                "UPDATE devices SET last_seen_at = $2 WHERE id = $1",
                &[&device_id, &now_ms],
            )
            .await?;
        Ok(())
    }

    async fn active_devices(&self, since_ms: i64) -> Result<u64, StorageError> {
        let n: i64 = self
            .client()
            .await?
            .query_one(
                "SELECT COUNT(*) FROM devices WHERE revoked_at IS NULL AND last_seen_at >= $1",
                &[&since_ms],
            )
            .await?
            .try_get(0)?;
        to_u64(n, "count")
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
        let mut client = self.client().await?;
        // Plan before taking the tenant's lock, so the lock is held only for the writes...
        let facts = read_facts(&client, &device.tenant_id, actor, &records, &push).await?;
        let (facts, early) = plan_with_policy(&client, push.clone(), facts).await?;
        let tx = client.transaction().await?;
        let head = lock_tenant(&tx, &device.tenant_id).await?;
        // ...and keep that plan only if nothing it read changed meanwhile.
        let unchanged = facts.reusable()
            && doc_versions(&tx, &facts.version_ids(&records)).await? == facts.versions()
            && actor_owner(&tx, actor).await? == facts.actor_owner;
        let plan = if unchanged {
            early?
        } else {
            let facts = read_facts(&tx, &device.tenant_id, actor, &records, &push).await?;
            plan_with_policy(&tx, push.clone(), facts).await?.1?
        };
        let prior = blobs::prior_vouches(&tx, &plan).await?;
        let log_head = write_plan(&tx, device, head, &plan, now_ms()).await?;
        blobs::vouch(&tx, device, viewer, &plan, &prior).await?;
        tx.commit().await?;
        Ok(PushOutcome {
            applied: plan.entries.len() as u64,
            rejected: plan.rejected,
            deferred: plan.deferred,
            log_head,
        })
    }

    async fn pull(
        &self,
        tenant_id: &str,
        viewer: &Viewer,
        actor: &[u8],
        cursor: u64,
        limit: u32,
    ) -> Result<PullPage, StorageError> {
        let rows = self
            .client()
            .await?
            .query(
                "SELECT l.seq, l.record_id, l.kind,
                        CASE WHEN l.actor = $3 THEN NULL ELSE l.change END, r.owner, d.root, d.field
                 FROM log l
                 LEFT JOIN documents d ON d.record_id = l.record_id
                 LEFT JOIN documents r ON r.record_id = COALESCE(d.root, l.record_id)
                 WHERE l.tenant_id = $1 AND l.seq > $2 ORDER BY l.seq LIMIT $4",
                &[
                    &tenant_id,
                    &to_i64(cursor, "cursor")?,
                    &actor,
                    &(i64::from(limit) + 1),
                ],
            )
            .await?;
        let rows = rows
            .iter()
            .map(|r| {
                Ok(LogRow {
                    seq: to_u64(r.try_get(0)?, "log.seq")?,
                    record: r.try_get(1)?,
                    kind: r.try_get(2)?,
                    change: r.try_get(3)?,
                    meta: meta_at(r, 4)?,
                })
            })
            .collect::<Result<Vec<_>, StorageError>>()?;
        Ok(plan::pull_page(rows, cursor, limit, viewer))
    }

    async fn bootstrap(
        &self,
        tenant_id: &str,
        viewer: &Viewer,
        after: Option<&str>,
        limit: u32,
    ) -> Result<BootstrapPage, StorageError> {
        let client = self.client().await?;
        // Read committed: the head is read first, so the documents read next include at
        // least every change up to it.
        let head: i64 = client
            .query_opt("SELECT log_head FROM tenants WHERE id = $1", &[&tenant_id])
            .await?
            .ok_or_else(|| StorageError::NotFound(format!("tenant {tenant_id}")))?
            .try_get(0)?;
        let docs = client
            .query(
                "SELECT d.record_id, d.kind, d.doc, r.owner, d.root, d.field, d.summary FROM documents d
                 LEFT JOIN documents r ON r.record_id = COALESCE(d.root, d.record_id)
                 WHERE d.tenant_id = $1 AND d.record_id > $2 ORDER BY d.record_id LIMIT $3",
                &[&tenant_id, &after.unwrap_or(""), &(i64::from(limit) + 1)],
            )
            .await?
            .iter()
            .map(snapshot_row)
            .collect::<Result<Vec<_>, StorageError>>()?;
        Ok(plan::bootstrap_page(
            docs,
            to_u64(head, "log_head")?,
            limit,
            viewer,
        ))
    }

    async fn document(&self, record_id: &str) -> Result<Option<StoredDoc>, StorageError> {
        get_doc(&self.client().await?, record_id).await
    }

    async fn automerge_sync(
        &self,
        device: &Device,
        viewer: &Viewer,
        record_id: &str,
        message: &[u8],
    ) -> Result<AutomergeReply, StorageError> {
        plan::check_record_id(record_id)?;
        let mut client = self.client().await?;
        let stored = readable_doc(
            get_doc(&client, record_id).await?,
            device,
            viewer,
            record_id,
        )?;
        let first = AutomergeSession::receive(&stored, message)?;
        if !first.has_changes() {
            return Ok(AutomergeReply {
                reply: first.reply(),
                applied: 0,
            });
        }
        drop(first);
        let tx = client.transaction().await?;
        let head = lock_tenant(&tx, &device.tenant_id).await?;
        let stored = readable_doc(get_doc(&tx, record_id).await?, device, viewer, record_id)?;
        let session = AutomergeSession::receive(&stored, message)?;
        let mut owners = HashMap::new();
        for actor in session.new_actors() {
            if let Some(owner) = actor_owner(&tx, &actor).await? {
                owners.insert(actor, owner);
            }
        }
        let mut context = policy::Context::new(&device.tenant_id, now_ms());
        let mut rounds = 0;
        let plan = loop {
            let plan = session.plan(&stored, &device.id, viewer, &owners, &context)?;
            if plan.needs.is_empty() {
                break plan;
            }
            rounds += 1;
            if rounds >= plan::MAX_POLICY_ROUNDS {
                return Err(plan::policy_rounds_exceeded(&plan.needs));
            }
            read_context(&tx, &mut context, &plan.needs).await?;
        };
        let prior = blobs::prior_vouches(&tx, &plan).await?;
        write_plan(&tx, device, head, &plan, now_ms()).await?;
        blobs::vouch(&tx, device, viewer, &plan, &prior).await?;
        tx.commit().await?;
        Ok(AutomergeReply {
            applied: plan.entries.len() as u64,
            reply: session.reply(),
        })
    }

    async fn put_experience(
        &self,
        device: &Device,
        batch: &ExperienceBatch,
        now_ms: i64,
    ) -> Result<ExperienceStored, StorageError> {
        reports::check_batch(batch)?;
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        let insert = tx
            .prepare(
                "INSERT INTO experience_events \
                 (tenant_id, device_id, seq, at_ms, kind, name, ms, received_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT DO NOTHING",
            )
            .await?;
        let mut stored = 0u64;
        for e in &batch.events {
            stored += tx
                .execute(
                    &insert,
                    &[
                        &device.tenant_id,
                        &device.id,
                        &to_i64(e.seq, "seq")?,
                        &e.at_ms,
                        &e.kind,
                        &e.name,
                        &to_i64(e.ms, "ms")?,
                        &now_ms,
                    ],
                )
                .await?;
        }
        tx.execute(
            "INSERT INTO experience_devices \
             (device_id, tenant_id, offline_created, offline_synced, updated_at) \
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT (device_id) DO UPDATE SET \
             offline_created = excluded.offline_created, \
             offline_synced = excluded.offline_synced, updated_at = excluded.updated_at",
            &[
                &device.id,
                &device.tenant_id,
                &to_i64(batch.offline_created, "offline_created")?,
                &to_i64(batch.offline_synced, "offline_synced")?,
                &now_ms,
            ],
        )
        .await?;
        tx.execute(
            "DELETE FROM experience_events WHERE device_id = $1 AND received_at < $2",
            &[&device.id, &(now_ms - reports::KEEP_MS)],
        )
        .await?;
        let acked: i64 = tx
            .query_one(
                "SELECT COALESCE(MAX(seq), 0) FROM experience_events WHERE device_id = $1",
                &[&device.id],
            )
            .await?
            .try_get(0)?;
        tx.commit().await?;
        Ok(ExperienceStored {
            stored,
            acked_seq: to_u64(acked, "seq")?,
        })
    }

    async fn experience(&self, tenant_id: &str) -> Result<ExperienceData, StorageError> {
        let client = self.client().await?;
        let mut data = ExperienceData::default();
        for r in client
            .query(
                "SELECT device_id, kind, name, ms FROM experience_events WHERE tenant_id = $1",
                &[&tenant_id],
            )
            .await?
        {
            data.events.push(StoredEvent {
                device_id: r.try_get(0)?,
                kind: r.try_get(1)?,
                name: r.try_get(2)?,
                ms: to_u64(r.try_get(3)?, "ms")?,
            });
        }
        for r in client
            .query(
                "SELECT device_id, offline_created, offline_synced FROM experience_devices \
                 WHERE tenant_id = $1 ORDER BY device_id",
                &[&tenant_id],
            )
            .await?
        {
            data.devices.push(DeviceTotals {
                device_id: r.try_get(0)?,
                offline_created: to_u64(r.try_get(1)?, "offline_created")?,
                offline_synced: to_u64(r.try_get(2)?, "offline_synced")?,
            });
        }
        Ok(data)
    }
}
