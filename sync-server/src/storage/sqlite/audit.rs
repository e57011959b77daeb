//! The audit trail on SQLite: `audit_log` rows and `audit_heads`, appended under `BEGIN
//! IMMEDIATE` (every writer is serialized, so each chain grows one row at a time).

use super::SqliteStorage;
use crate::error::StorageError;
use crate::storage::audit::{next_row, AuditEvent, AuditHead, AuditLog, AuditRow};
use crate::storage::values::{to_i64, to_u64};
use async_trait::async_trait;
use rusqlite::{params, OptionalExtension, TransactionBehavior};

/// Appended to the backend's migrations.
pub(super) const MIGRATION: &str = r#"
CREATE TABLE audit_log (
    tenant_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    at_ms INTEGER NOT NULL,
    event TEXT NOT NULL,
    user_id TEXT,
    device_id TEXT,
    remote TEXT,
    detail TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL,
    PRIMARY KEY (tenant_id, seq)
) WITHOUT ROWID;
CREATE TABLE audit_heads (
    tenant_id TEXT PRIMARY KEY,
    seq INTEGER NOT NULL,
    hash TEXT NOT NULL
);
CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;
"#;

/// Appended later: the heads protected like the log, and no `INSERT OR REPLACE` past the log's
/// no-delete trigger (REPLACE deletes the old row without firing delete triggers unless
/// `recursive_triggers` is on, which a connection of someone else's need not set: a `BEFORE
/// INSERT` trigger refuses any insert whose key exists, whatever the conflict clause). A head
/// is inserted once and then only moves forward by one row, to a row that exists with its hash.
pub(super) const MIGRATION_PROTECT_HEADS: &str = r#"
CREATE TRIGGER audit_log_no_replace BEFORE INSERT ON audit_log
WHEN EXISTS (SELECT 1 FROM audit_log WHERE tenant_id = NEW.tenant_id AND seq = NEW.seq)
BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;
CREATE TRIGGER audit_heads_no_delete BEFORE DELETE ON audit_heads
BEGIN SELECT RAISE(ABORT, 'audit_heads only moves forward'); END;
CREATE TRIGGER audit_heads_insert BEFORE INSERT ON audit_heads
WHEN EXISTS (SELECT 1 FROM audit_heads WHERE tenant_id = NEW.tenant_id)
    OR NOT ((NEW.seq = 0 AND NEW.hash = '0000000000000000000000000000000000000000000000000000000000000000')
        OR EXISTS (SELECT 1 FROM audit_log
                   WHERE tenant_id = NEW.tenant_id AND seq = NEW.seq AND hash = NEW.hash))
BEGIN SELECT RAISE(ABORT, 'audit_heads only moves forward'); END;
CREATE TRIGGER audit_heads_update BEFORE UPDATE ON audit_heads
WHEN NEW.tenant_id IS NOT OLD.tenant_id OR NEW.seq IS NOT OLD.seq + 1
    OR NOT EXISTS (SELECT 1 FROM audit_log
                   WHERE tenant_id = NEW.tenant_id AND seq = NEW.seq AND hash = NEW.hash)
BEGIN SELECT RAISE(ABORT, 'audit_heads only moves forward'); END;
"#;

fn row_from(r: &rusqlite::Row<'_>) -> rusqlite::Result<(i64, AuditEvent, String, String)> {
    Ok((
        r.get(1)?,
        AuditEvent {
            tenant_id: r.get(0)?,
            at_ms: r.get(2)?,
            event: r.get(3)?,
            user_id: r.get(4)?,
            device_id: r.get(5)?,
            remote: r.get(6)?,
            detail: r.get(7)?,
        },
        r.get(8)?,
        r.get(9)?,
    ))
}

#[async_trait]
impl AuditLog for SqliteStorage {
    async fn audit_append(&self, event: AuditEvent) -> Result<AuditRow, StorageError> {
        self.write(move |c| {
            let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let head: Option<(i64, String)> = tx
                .prepare_cached("SELECT seq, hash FROM audit_heads WHERE tenant_id = ?1")?
                .query_row([&event.tenant_id], |r| Ok((r.get(0)?, r.get(1)?)))
                .optional()?;
            let head = head
                .map(|(seq, hash)| Ok::<_, StorageError>((to_u64(seq, "audit_heads.seq")?, hash)))
                .transpose()?;
            let row = next_row(head, event);
            let seq = to_i64(row.seq, "audit seq")?;
            let e = &row.event;
            tx.prepare_cached(
                "INSERT INTO audit_log (tenant_id, seq, at_ms, event, user_id, device_id, remote, detail, prev_hash, hash)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
            )?
            .execute(params![
                e.tenant_id, seq, e.at_ms, e.event, e.user_id, e.device_id, e.remote, e.detail,
                row.prev_hash, row.hash
            ])?;
            // An upsert would fire the heads' insert trigger for an existing head: update it.
            let sql = if row.seq == 1 {
                "INSERT INTO audit_heads (tenant_id, seq, hash) VALUES (?1, ?2, ?3)"
            } else {
                "UPDATE audit_heads SET seq = ?2, hash = ?3 WHERE tenant_id = ?1"
            };
            tx.prepare_cached(sql)?
                .execute(params![e.tenant_id, seq, row.hash])?;
            tx.commit()?;
            Ok(row)
        })
        .await
    }

    async fn audit_page(
        &self,
        tenant_id: &str,
        after: u64,
        limit: u32,
    ) -> Result<Vec<AuditRow>, StorageError> {
        let tenant_id = tenant_id.to_string();
        let after = to_i64(after, "after")?;
        self.read(move |c| {
            let mut stmt = c.prepare_cached(
                "SELECT tenant_id, seq, at_ms, event, user_id, device_id, remote, detail, prev_hash, hash
                 FROM audit_log WHERE tenant_id = ?1 AND seq > ?2 ORDER BY seq LIMIT ?3",
            )?;
            let rows = stmt.query_map(params![tenant_id, after, limit], row_from)?;
            let mut out = Vec::new();
            for row in rows {
                let (seq, event, prev_hash, hash) = row?;
                out.push(AuditRow {
                    seq: to_u64(seq, "audit_log.seq")?,
                    event,
                    prev_hash,
                    hash,
                });
            }
            Ok(out)
        })
        .await
    }

    async fn audit_tenants(&self) -> Result<Vec<String>, StorageError> {
        self.read(|c| {
            let mut stmt =
                c.prepare_cached("SELECT DISTINCT tenant_id FROM audit_log ORDER BY tenant_id")?;
            let rows = stmt.query_map([], |r| r.get(0))?;
            Ok(rows.collect::<Result<_, _>>()?)
        })
        .await
    }

    async fn audit_heads(&self) -> Result<Vec<AuditHead>, StorageError> {
        self.read(|c| {
            let mut stmt = c.prepare_cached(
                "SELECT tenant_id, seq, hash FROM audit_heads ORDER BY tenant_id",
            )?;
            let rows = stmt.query_map([], |r| {
                Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?, r.get(2)?))
            })?;
            let mut out = Vec::new();
            for row in rows {
                let (tenant_id, seq, hash) = row?;
                out.push(AuditHead {
                    tenant_id,
                    seq: to_u64(seq, "audit_heads.seq")?,
                    hash,
                });
            }
            Ok(out)
        })
        .await
    }
}
