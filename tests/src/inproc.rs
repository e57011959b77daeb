//! The sync server in this process: `outpost_server::launch` on a 127.0.0.1 port-0 listener over
//! real SQLite storage, with its own tokio runtime. For property tests and benchmarks that need
//! many devices quickly; end-to-end tests use the real binary ([`crate::procs`]).

use crate::procs::BoxError;
use outpost_server::storage::{open_storage, Role, Storage, StorageConfig};
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

/// A running in-process server.
pub struct InProcessServer {
    /// The runtime serving it; also use it to drive device futures.
    pub runtime: tokio::runtime::Runtime,
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    /// Its address.
    pub addr: SocketAddr,
    /// Its storage, for setting up tenants and devices directly.
    pub storage: Arc<dyn Storage>,
    _dir: Option<tempfile::TempDir>,
}

impl InProcessServer {
    /// Starts a server with its data in a new temporary directory.
    pub fn start() -> Result<InProcessServer, BoxError> {
        let dir = tempfile::tempdir()?;
        let mut server = Self::start_at(dir.path())?;
        server._dir = Some(dir);
        Ok(server)
    }

    /// Starts a server with its data in a new temporary directory and `options` (bounds and
    /// limits).
    pub fn start_with(options: outpost_server::ServerOptions) -> Result<InProcessServer, BoxError> {
        let dir = tempfile::tempdir()?;
        let mut server = Self::start_at_with(dir.path(), options)?;
        server._dir = Some(dir);
        Ok(server)
    }

    /// Starts a server with its data in `data`.
    pub fn start_at(data: &Path) -> Result<InProcessServer, BoxError> {
        Self::start_at_with(data, outpost_server::ServerOptions::default())
    }

    /// Starts a server with its data in `data` and `options`.
    pub fn start_at_with(
        data: &Path,
        options: outpost_server::ServerOptions,
    ) -> Result<InProcessServer, BoxError> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()?;
        let data = data.to_path_buf();
        let (addr, storage) = runtime.block_on(async {
            let storage = open_storage(&StorageConfig::Sqlite(data)).await?;
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
            let addr = listener.local_addr()?;
            tokio::spawn(outpost_server::launch_with(
                listener,
                storage.clone(),
                options,
                std::future::pending(),
            ));
            Ok::<_, BoxError>((addr, storage))
        })?;
        Ok(InProcessServer {
            runtime,
            url: format!("http://{addr}"),
            addr,
            storage,
            _dir: None,
        })
    }

    /// Creates a tenant with `open` sharing (every user reads every record: for tests that are
    /// not about scoped sync); returns its id.
    pub fn tenant(&self, name: &str) -> Result<String, BoxError> {
        let id = self.runtime.block_on(self.storage.create_tenant(name))?.id;
        self.runtime
            .block_on(self.storage.set_sharing(&id, outpost_server::Sharing::Open))?;
        Ok(id)
    }

    /// Enrolls a device for `user`; returns its token.
    pub fn enroll(&self, tenant: &str, user: &str, role: Role) -> Result<String, BoxError> {
        Ok(self
            .runtime
            .block_on(outpost_server::enroll_device(
                &*self.storage,
                tenant,
                user,
                role,
            ))?
            .token)
    }
}
