//! The audit trail on PostgreSQL: `audit_log` rows and `audit_heads`; an append locks its
//! tenant's head row (`SELECT ... FOR UPDATE`), so concurrent servers extend a chain one row at
//! a time.

use super::PostgresStorage;
use crate::error::StorageError;
use crate::storage::audit::{next_row, AuditEvent, AuditHead, AuditLog, AuditRow, GENESIS_HASH};
use crate::storage::values::{to_i64, to_u64};
use async_trait::async_trait;
use tokio_postgres::Row;

/// Appended to the backend's migrations.
pub(super) const MIGRATION: &str = r#"
CREATE TABLE audit_log (
    tenant_id TEXT NOT NULL,
    seq BIGINT NOT NULL,
    at_ms BIGINT NOT NULL,
    event TEXT NOT NULL,
    user_id TEXT,
    device_id TEXT,
    remote TEXT,
    detail TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL,
    PRIMARY KEY (tenant_id, seq)
);
CREATE TABLE audit_heads (
    tenant_id TEXT PRIMARY KEY,
    seq BIGINT NOT NULL,
    hash TEXT NOT NULL
);
CREATE FUNCTION outpost_audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_log is append-only';
END
$$;
CREATE TRIGGER audit_log_no_change BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION outpost_audit_append_only();
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION outpost_audit_append_only();
"#;

/// Appended later: the heads protected like the log. A head is inserted once (at seq 0 with the
/// genesis hash, before its chain's first row) and then only moves forward by one row, to a row
/// that exists with its hash; it is never deleted or truncated.
pub(super) const MIGRATION_PROTECT_HEADS: &str = r#"
CREATE FUNCTION outpost_audit_heads_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        RAISE EXCEPTION 'audit_heads only moves forward';
    END IF;
    IF TG_OP = 'UPDATE' AND (NEW.tenant_id IS DISTINCT FROM OLD.tenant_id
                             OR NEW.seq IS DISTINCT FROM OLD.seq + 1) THEN
        RAISE EXCEPTION 'audit_heads only moves forward';
    END IF;
    IF NOT ((TG_OP = 'INSERT' AND NEW.seq = 0 AND NEW.hash = '0000000000000000000000000000000000000000000000000000000000000000')
            OR EXISTS (SELECT 1 FROM audit_log
                       WHERE tenant_id = NEW.tenant_id AND seq = NEW.seq AND hash = NEW.hash)) THEN
        RAISE EXCEPTION 'audit_heads only moves forward';
    END IF;
    RETURN NEW;
END
$$;
CREATE TRIGGER audit_heads_guard BEFORE INSERT OR UPDATE OR DELETE ON audit_heads
    FOR EACH ROW EXECUTE FUNCTION outpost_audit_heads_guard();
CREATE TRIGGER audit_heads_no_truncate BEFORE TRUNCATE ON audit_heads
    FOR EACH STATEMENT EXECUTE FUNCTION outpost_audit_append_only();
"#;

fn row_from(r: &Row) -> Result<AuditRow, StorageError> {
    Ok(AuditRow {
        seq: to_u64(r.try_get(1)?, "audit_log.seq")?,
        event: AuditEvent {
            tenant_id: r.try_get(0)?,
            at_ms: r.try_get(2)?,
            event: r.try_get(3)?,
            user_id: r.try_get(4)?,
            device_id: r.try_get(5)?,
            remote: r.try_get(6)?,
            detail: r.try_get(7)?,
        },
        prev_hash: r.try_get(8)?,
        hash: r.try_get(9)?,
    })
}

#[async_trait]
impl AuditLog for PostgresStorage {
    async fn audit_append(&self, event: AuditEvent) -> Result<AuditRow, StorageError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        tx.execute(
            "INSERT INTO audit_heads (tenant_id, seq, hash) VALUES ($1, 0, $2)
             ON CONFLICT (tenant_id) DO NOTHING",
            &[&event.tenant_id, &GENESIS_HASH],
        )
        .await?;
        let head = tx
            .query_one(
                "SELECT seq, hash FROM audit_heads WHERE tenant_id = $1 FOR UPDATE",
                &[&event.tenant_id],
            )
            .await?;
        let seq = to_u64(head.try_get(0)?, "audit_heads.seq")?;
        let head = (seq > 0)
            .then(|| head.try_get::<_, String>(1))
            .transpose()?;
        let row = next_row(head.map(|h| (seq, h)), event);
        let seq = to_i64(row.seq, "audit seq")?;
        let e = &row.event;
        tx.execute(
            "INSERT INTO audit_log (tenant_id, seq, at_ms, event, user_id, device_id, remote, detail, prev_hash, hash)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
            &[
                &e.tenant_id, &seq, &e.at_ms, &e.event, &e.user_id, &e.device_id, &e.remote,
                &e.detail, &row.prev_hash, &row.hash,
            ],
        )
        .await?;
        tx.execute(
            "UPDATE audit_heads SET seq = $2, hash = $3 WHERE tenant_id = $1",
            &[&e.tenant_id, &seq, &row.hash],
        )
        .await?;
        tx.commit().await?;
        Ok(row)
    }

    async fn audit_page(
        &self,
        tenant_id: &str,
        after: u64,
        limit: u32,
    ) -> Result<Vec<AuditRow>, StorageError> {
        self.client()
            .await?
            .query(
                "SELECT tenant_id, seq, at_ms, event, user_id, device_id, remote, detail, prev_hash, hash
                 FROM audit_log WHERE tenant_id = $1 AND seq > $2 ORDER BY seq LIMIT $3",
                &[&tenant_id, &to_i64(after, "after")?, &i64::from(limit)],
            )
            .await?
            .iter()
            .map(row_from)
            .collect()
    }

    async fn audit_tenants(&self) -> Result<Vec<String>, StorageError> {
        self.client()
            .await?
            .query(
                "SELECT DISTINCT tenant_id FROM audit_log ORDER BY tenant_id",
                &[],
            )
            .await?
            .iter()
            .map(|r| Ok(r.try_get(0)?))
            .collect()
    }

    async fn audit_heads(&self) -> Result<Vec<AuditHead>, StorageError> {
        self.client()
            .await?
            .query(
                "SELECT tenant_id, seq, hash FROM audit_heads WHERE seq > 0 ORDER BY tenant_id",
                &[],
            )
            .await?
            .iter()
            .map(|r| {
                Ok(AuditHead {
                    tenant_id: r.try_get(0)?,
                    seq: to_u64(r.try_get(1)?, "audit_heads.seq")?,
                    hash: r.try_get(2)?,
                })
            })
            .collect()
    }
}
