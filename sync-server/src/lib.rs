//! # outpost-server
//!
//! The Outpost sync server: devices push their Automerge changes and pull what others wrote in
//! one round trip (`POST /v1/sync`), new devices download compacted documents
//! (`POST /v1/bootstrap`), and any Automerge implementation can sync a single record with the
//! standard Automerge sync protocol (`POST /v1/records/{id}/automerge-sync`). See
//! `docs/protocol.md` for the wire format.
//!
//! Everything is stored behind one [`Storage`] trait with two implementations:
//! [`SqliteStorage`] (the embedded default) and [`PostgresStorage`] (several server processes on
//! one database). Whether a pushed change is accepted is decided by
//! [`outpost_core::sync::apply::apply_change`] (the record's own rules) and [`policy`] (who may
//! write what, on every route); the backends do the I/O around them.
//!
//! Tests and embedders start the server on a listener of their own:
//!
//! ```no_run
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! use std::sync::Arc;
//! let storage = Arc::new(outpost_server::SqliteStorage::open("/tmp/outpost".as_ref())?);
//! let tenant = outpost_server::Storage::create_tenant(&*storage, "acme").await?;
//! let enrolled =
//!     outpost_server::enroll_device(&*storage, &tenant.id, "alice", outpost_server::Role::Rep)
//!         .await?;
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
//! println!("{} may sync with token {}", listener.local_addr()?, enrolled.token);
//! outpost_server::launch(listener, storage, std::future::pending()).await?;
//! # Ok(()) }
//! ```

pub mod access;
pub mod audit;
pub mod enrol;
pub mod error;
pub mod flow;
pub mod http;
pub mod metrics;
pub mod options;
pub mod policy;
pub mod ratelimit;
pub mod reports;
pub mod routing;
pub mod rows;
pub mod storage;
pub mod sync;
pub mod token;

pub use access::{enroll_device, Enrollment};
pub use access::{AccessConfig, AccessStore, Sharing, Team, Viewer};
pub use audit::{AuditEvent, AuditHead, AuditLog, AuditRow, ChainReport};
pub use error::{AppError, StorageError};
pub use http::{blobs, serve};
pub use http::{
    launch, launch_with, launch_with_admin, router, router_with_limits, router_with_options,
    AppState,
};
pub use metrics::Metrics;
pub use options::ServerOptions;
pub use storage::blobs::BlobStatus;
pub use storage::postgres::PostgresStorage;
pub use storage::sqlite::SqliteStorage;
pub use storage::{
    open_storage, AutomergeReply, BootstrapPage, Device, PullPage, PushOutcome, Role, Storage,
    StorageConfig, StoredDoc, Tenant,
};
pub use token::{hash_token, new_token};
