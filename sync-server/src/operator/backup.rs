//! `backup`, `restore`, `restored` and `check`: the store's backups and their checks
//! (`docs/operations.md`, "Backup and restore").

use super::print_json;
use anyhow::{anyhow, Context as _};
use outpost_server::audit;
use outpost_server::storage::sqlite::backup::{self, ServeLock};
use outpost_server::{open_storage, Storage, StorageConfig};
use serde_json::json;
use std::path::Path;

/// `backup --to FILE`: a consistent copy of the embedded store, taken while it serves.
pub async fn backup(config: &StorageConfig, to: &Path) -> anyhow::Result<()> {
    let StorageConfig::Sqlite(dir) = config else {
        return Err(anyhow!(
            "backup: the server runs on PostgreSQL; back it up with pg_dump (docs/operations.md, \"Backup and restore\"), then run `outpost-server restored` after a restore"
        ));
    };
    let (dir, to) = (dir.clone(), to.to_path_buf());
    let info = tokio::task::spawn_blocking(move || backup::backup(&dir, &to))
        .await
        .context("backup task")??;
    print_json(&serde_json::to_value(info)?)
}

/// `restore --from FILE`: replaces the embedded store (never under a running server) and
/// renews the log's identity.
pub async fn restore(config: &StorageConfig, from: &Path) -> anyhow::Result<()> {
    let StorageConfig::Sqlite(dir) = config else {
        return Err(anyhow!(
            "restore: the server runs on PostgreSQL; restore it with pg_restore, then run `outpost-server restored` (docs/operations.md)"
        ));
    };
    let info = backup::restore(dir, from).await?;
    let storage = open_storage(config).await.context("opening storage")?;
    audit_renewal(&*storage, &info.log_id, "restore").await;
    print_json(&serde_json::to_value(info)?)
}

/// `restored`: renews the log's identity after the store was restored by other means
/// (`pg_restore`, a file copied back). Refused while a server serves the embedded store.
pub async fn restored(config: &StorageConfig) -> anyhow::Result<()> {
    let _lock = match config {
        StorageConfig::Sqlite(dir) => Some(ServeLock::take(dir)?),
        StorageConfig::Postgres(_) => None,
    };
    let storage = open_storage(config).await.context("opening storage")?;
    let log_id = storage.renew_log_id().await?;
    audit_renewal(&*storage, &log_id, "restored").await;
    print_json(&json!({ "log_id": log_id }))
}

/// Every tenant's audit trail says the log was replaced (a failure is logged, never fatal:
/// the identity is already renewed).
async fn audit_renewal(storage: &dyn Storage, log_id: &str, how: &str) {
    let event = audit::AuditEvent::new(
        "",
        audit::event::SERVER_RESTORE,
        &json!({ "log_id": log_id, "by": how }),
    )
    .from_remote("operator");
    if let Err(e) = storage.audit_append(event).await {
        tracing::warn!(error = %e, "recording the restore in the audit trail failed");
    }
}

/// `check`: the store's integrity and files (embedded store) and every audit chain. Returns
/// whether everything is sound.
pub async fn check(config: &StorageConfig) -> anyhow::Result<bool> {
    let file = match config {
        StorageConfig::Sqlite(dir) => {
            let path = dir.join(outpost_server::storage::sqlite::DB_FILE);
            let checked = tokio::task::spawn_blocking(move || backup::check_file(&path))
                .await
                .context("check task")??;
            Some(checked)
        }
        StorageConfig::Postgres(_) => None,
    };
    let storage = open_storage(config).await.context("opening storage")?;
    let chains = audit::verify(&*storage, None).await?;
    let problems: Vec<String> = file.iter().flat_map(|f| f.problems.clone()).collect();
    let ok = problems.is_empty() && chains.iter().all(|c| c.ok);
    print_json(&json!({
        "ok": ok,
        "backend": storage.backend(),
        "log_id": storage.log_id().await?,
        "blobs_checked": file.as_ref().map(|f| f.blobs_checked),
        "problems": problems,
        "audit_chains": chains,
    }))?;
    Ok(ok)
}
