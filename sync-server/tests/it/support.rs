//! Test helpers: Automerge change builders, throwaway databases, an in-process server.

use automerge::transaction::Transactable;
use automerge::{ActorId, AutoCommit, ObjType, ROOT};
use outpost_core::sync::protocol::{self, PushChange, SyncRequest, SyncResponse, PROTOCOL_VERSION};
use outpost_server::{enroll_device, Device, Role, SqliteStorage, Storage, Tenant};
use std::sync::Arc;
use tokio_postgres::NoTls;

/// A fresh random actor id (16 bytes, like a device store's).
pub fn new_actor() -> Vec<u8> {
    uuid::Uuid::now_v7().as_bytes().to_vec()
}

/// A fresh record id.
pub fn new_record() -> String {
    uuid::Uuid::now_v7().to_string()
}

/// One contact document edited by one actor; every call returns the change's bytes.
pub struct ContactWriter {
    pub doc: AutoCommit,
    pub record: String,
}

impl ContactWriter {
    /// A new contact `name` written by `actor`; returns the writer and the first change.
    pub fn create(actor: &[u8], name: &str) -> (Self, Vec<u8>) {
        Self::create_record(actor, &new_record(), name)
    }

    /// Like [`create`] with a given record id.
    pub fn create_record(actor: &[u8], record: &str, name: &str) -> (Self, Vec<u8>) {
        let mut doc = AutoCommit::new().with_actor(ActorId::from(actor));
        doc.put(ROOT, "id", record).unwrap();
        doc.put(ROOT, "kind", "contact").unwrap();
        doc.put(ROOT, "name", name).unwrap();
        doc.put_object(ROOT, "phones", ObjType::List).unwrap();
        doc.put_object(ROOT, "emails", ObjType::List).unwrap();
        doc.commit();
        let change = doc.get_last_local_change().unwrap().raw_bytes().to_vec();
        (
            Self {
                doc,
                record: record.to_string(),
            },
            change,
        )
    }

    /// Sets a string field; returns the change.
    pub fn set(&mut self, key: &str, value: &str) -> Vec<u8> {
        self.doc.put(ROOT, key, value).unwrap();
        self.doc.commit();
        self.doc
            .get_last_local_change()
            .unwrap()
            .raw_bytes()
            .to_vec()
    }

    /// A push of `change` for this record.
    pub fn push(&self, change: Vec<u8>) -> PushChange {
        PushChange {
            record: self.record.clone(),
            kind: "contact".into(),
            change,
        }
    }
}

/// The hash of a change, as Automerge computes it.
pub fn hash(change: &[u8]) -> Vec<u8> {
    automerge::Change::from_bytes(change.to_vec())
        .unwrap()
        .hash()
        .0
        .to_vec()
}

/// The `name` of a stored document.
pub fn doc_name(doc: &[u8]) -> Option<String> {
    use automerge::ReadDoc;
    let doc = AutoCommit::load(doc).unwrap();
    let (value, _) = doc.get(ROOT, "name").unwrap()?;
    value.into_string().ok()
}

/// A tenant with one device.
pub struct Fixture {
    pub tenant: Tenant,
    pub device: Device,
    pub token: String,
}

/// Creates tenant `name` with `open` sharing (these tests are about the protocol; scoped sync
/// has its own) and enrolls one device for `user`.
pub async fn tenant_with_device(storage: &dyn Storage, name: &str, user: &str) -> Fixture {
    let tenant = storage.create_tenant(name).await.unwrap();
    storage
        .set_sharing(&tenant.id, outpost_server::Sharing::Open)
        .await
        .unwrap();
    let (device, token) = device(storage, &tenant.id, user).await;
    Fixture {
        tenant,
        device,
        token,
    }
}

/// Enrolls a device and returns it with its token.
pub async fn device(storage: &dyn Storage, tenant_id: &str, user: &str) -> (Device, String) {
    let enrolled = enroll_device(storage, tenant_id, user, Role::Rep)
        .await
        .unwrap();
    let device = storage
        .device_by_token_hash(&outpost_server::hash_token(&enrolled.token))
        .await
        .unwrap()
        .unwrap();
    (device, enrolled.token)
}

/// The tenant's log head.
pub async fn log_head(storage: &dyn Storage, tenant_id: &str) -> u64 {
    storage.tenant(tenant_id).await.unwrap().unwrap().log_head
}

/// A storage backend under test and what keeps it alive (a temp dir or a database).
pub struct Backend {
    pub storage: Arc<dyn Storage>,
    _dir: Option<tempfile::TempDir>,
    _db: Option<PgDb>,
}

impl Backend {
    /// SQLite in a temp dir.
    pub fn sqlite() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let storage = SqliteStorage::open(dir.path()).unwrap();
        Self {
            storage: Arc::new(storage),
            _dir: Some(dir),
            _db: None,
        }
    }

    /// PostgreSQL in a fresh database, dropped afterwards.
    pub async fn postgres() -> Self {
        let db = PgDb::create().await;
        let storage = outpost_server::PostgresStorage::connect(&db.url)
            .await
            .unwrap();
        Self {
            storage: Arc::new(storage),
            _dir: None,
            _db: Some(db),
        }
    }
}

/// The PostgreSQL server tests use (`OUTPOST_TEST_DATABASE_URL` overrides).
pub fn admin_url() -> String {
    std::env::var("OUTPOST_TEST_DATABASE_URL")
        .ok()
        .filter(|u| !u.is_empty())
        .unwrap_or_else(|| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

/// `url` with its database name replaced by `db`.
fn with_database(url: &str, db: &str) -> String {
    let scheme_end = url.find("://").map_or(0, |i| i + 3);
    let (head, rest) = url.split_at(scheme_end);
    let (rest, query) = match rest.find('?') {
        Some(i) => rest.split_at(i),
        None => (rest, ""),
    };
    let host = rest.split('/').next().unwrap_or(rest);
    format!("{head}{host}/{db}{query}")
}

/// A database created for one test and dropped when this guard goes (also on panic).
pub struct PgDb {
    pub url: String,
    name: String,
    admin: String,
}

impl PgDb {
    /// Creates `outpost_test_<uuid>`. Panics (fails the test) if PostgreSQL is unreachable.
    pub async fn create() -> Self {
        let admin = admin_url();
        let name = format!("outpost_test_{}", uuid::Uuid::now_v7().simple());
        let (client, conn) = tokio_postgres::connect(&admin, NoTls)
            .await
            .unwrap_or_else(|e| {
                panic!("PostgreSQL is required for these tests but {admin} is unreachable: {e} (set OUTPOST_TEST_DATABASE_URL)")
            });
        let task = tokio::spawn(conn);
        client
            .batch_execute(&format!("CREATE DATABASE \"{name}\""))
            .await
            .unwrap();
        drop(client);
        let _ = task.await;
        Self {
            url: with_database(&admin, &name),
            name,
            admin,
        }
    }
}

impl Drop for PgDb {
    fn drop(&mut self) {
        let (admin, name) = (self.admin.clone(), self.name.clone());
        // Drop runs inside the test's runtime: use a thread with a runtime of its own.
        let dropped = std::thread::spawn(move || -> Result<(), String> {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| e.to_string())?;
            rt.block_on(async {
                let (client, conn) = tokio_postgres::connect(&admin, NoTls)
                    .await
                    .map_err(|e| e.to_string())?;
                tokio::spawn(conn);
                client
                    .batch_execute(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
                    .await
                    .map_err(|e| e.to_string())
            })
        })
        .join();
        if let Ok(Err(e)) = dropped {
            eprintln!("could not drop test database {}: {e}", self.name);
        }
    }
}

/// An HTTP client (reqwest over rustls with the ring provider, as the devices use).
pub fn client() -> reqwest::Client {
    static PROVIDER: std::sync::Once = std::sync::Once::new();
    PROVIDER.call_once(|| {
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
    reqwest::Client::new()
}

/// A server launched in-process on a port-0 listener.
pub struct TestServer {
    pub url: String,
    pub client: reqwest::Client,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
}

impl TestServer {
    /// Launches the real router over `storage`.
    pub async fn start(storage: Arc<dyn Storage>) -> Self {
        Self::start_with(storage, outpost_server::ServerOptions::default()).await
    }

    /// Launches the real router over `storage` with `options`.
    pub async fn start_with(
        storage: Arc<dyn Storage>,
        options: outpost_server::ServerOptions,
    ) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(outpost_server::launch_with(
            listener,
            storage,
            options,
            async move {
                let _ = stopped.await;
            },
        ));
        Self {
            url,
            client: client(),
            stop: Some(stop),
            task: Some(task),
        }
    }

    /// A client of a server running elsewhere (another process) at `url`; `stop` does nothing.
    pub fn attach(url: &str) -> Self {
        Self {
            url: url.to_string(),
            client: client(),
            stop: None,
            task: None,
        }
    }

    /// Stops the server gracefully and waits for it.
    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            task.await.unwrap().unwrap();
        }
    }
}

/// A raw answer: status, content type, body.
pub struct Answer {
    pub status: u16,
    pub content_type: String,
    pub body: Vec<u8>,
}

impl Answer {
    /// The JSON error code of an error answer (panics if the body is not an ErrorBody).
    pub fn error_code(&self) -> String {
        assert!(
            self.content_type.starts_with("application/json"),
            "error answer is {} not JSON: {:?}",
            self.content_type,
            String::from_utf8_lossy(&self.body)
        );
        let body: protocol::ErrorBody = serde_json::from_slice(&self.body).unwrap();
        assert!(!body.message.is_empty());
        body.error
    }

    /// The decoded sync response of a 200 answer.
    pub fn sync_response(&self) -> SyncResponse {
        assert_eq!(
            self.status,
            200,
            "sync failed: {}",
            String::from_utf8_lossy(&self.body)
        );
        protocol::decode("sync response", &self.body).unwrap()
    }
}

/// POSTs `body` to `url` with an optional bearer token and content type.
pub async fn post(
    client: &reqwest::Client,
    url: &str,
    token: Option<&str>,
    content_type: Option<&str>,
    body: Vec<u8>,
) -> Answer {
    let mut req = client.post(url).body(body);
    if let Some(token) = token {
        req = req.header("authorization", format!("Bearer {token}"));
    }
    if let Some(ct) = content_type {
        req = req.header("content-type", ct);
    }
    let res = req.send().await.unwrap();
    let status = res.status().as_u16();
    let content_type = res
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let body = res.bytes().await.unwrap().to_vec();
    Answer {
        status,
        content_type,
        body,
    }
}

/// POSTs a sync request to `base` (a server URL).
pub async fn sync(
    client: &reqwest::Client,
    base: &str,
    token: &str,
    request: &SyncRequest,
) -> Answer {
    post(
        client,
        &format!("{base}/v1/sync"),
        Some(token),
        Some(protocol::CONTENT_TYPE),
        protocol::encode(request),
    )
    .await
}

/// A sync request of the current version.
pub fn sync_request(
    actor: &[u8],
    cursor: u64,
    changes: Vec<PushChange>,
    limit: Option<u32>,
) -> SyncRequest {
    SyncRequest {
        v: PROTOCOL_VERSION,
        actor: actor.to_vec(),
        cursor,
        changes,
        limit,
        client: None,
    }
}

/// Starts `command` (an `outpost-server serve` on port 0) with stderr piped and waits until it
/// says where it listens; returns the child (killed when dropped) and that address. stderr is
/// drained afterwards so the server never blocks on it.
pub async fn spawn_listening(
    command: &mut tokio::process::Command,
) -> (tokio::process::Child, String) {
    use tokio::io::AsyncBufReadExt;
    let mut child = command
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("outpost-server starts");
    let stderr = child.stderr.take().expect("the server's stderr is piped");
    let mut lines = tokio::io::BufReader::new(stderr).lines();
    let addr = tokio::time::timeout(std::time::Duration::from_secs(60), async {
        while let Some(line) = lines.next_line().await.unwrap() {
            if let Some(addr) = line.strip_prefix("outpost-server listening on ") {
                return addr.trim().to_string();
            }
        }
        panic!("the server exited before listening");
    })
    .await
    .expect("the server did not start");
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    (child, addr)
}
