//! Opening the configured backend.

use super::postgres::PostgresStorage;
use super::sqlite::SqliteStorage;
use super::Storage;
use crate::error::StorageError;
use std::path::PathBuf;
use std::sync::Arc;

/// Where the server keeps its data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StorageConfig {
    /// Embedded SQLite in this directory (`outpost-server.db`).
    Sqlite(PathBuf),
    /// PostgreSQL at this URL (`postgres://user@host:port/db`).
    Postgres(String),
}

/// How the storage is opened, apart from where.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StorageOptions {
    /// Most PostgreSQL connections per server process.
    pub pool_size: usize,
}

impl Default for StorageOptions {
    fn default() -> Self {
        Self {
            pool_size: super::postgres::DEFAULT_POOL_SIZE,
        }
    }
}

/// Opens (and migrates) the configured storage.
pub async fn open_storage(config: &StorageConfig) -> Result<Arc<dyn Storage>, StorageError> {
    open_storage_with(config, StorageOptions::default()).await
}

/// [`open_storage`] with options.
pub async fn open_storage_with(
    config: &StorageConfig,
    options: StorageOptions,
) -> Result<Arc<dyn Storage>, StorageError> {
    Ok(match config {
        StorageConfig::Sqlite(dir) => {
            let dir = dir.clone();
            let storage = tokio::task::spawn_blocking(move || SqliteStorage::open(&dir))
                .await
                .map_err(|e| StorageError::Internal(format!("opening SQLite: {e}")))??;
            Arc::new(storage)
        }
        StorageConfig::Postgres(url) => {
            Arc::new(PostgresStorage::connect_with(url, options.pool_size).await?)
        }
    })
}
