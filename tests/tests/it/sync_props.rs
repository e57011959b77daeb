//! Property tests of sync against the real server (in process, real HTTP on a port-0 listener,
//! real SQLite storage): random interleavings of offline edits, syncs, duplicated and replayed
//! (reordered) requests and killed syncs always converge, and no edit is ever lost.

use outpost_core::sync::protocol::SyncResponse;
use outpost_core::{
    ContactPatch, ListOptions, NewContact, Outgoing, Store, StoreOptions, SyncClient, SyncOptions,
};
use outpost_server::storage::Role;
use proptest::prelude::*;

const FIELDS: &[&str] = &["title", "company", "address", "wechat"];
const VALUES: &[&str] = &["经理", "总监", "华强科技", "白云贸易", "南山区", "天河区"];

#[derive(Debug, Clone)]
enum Op {
    /// An offline edit of one field of one record on one device.
    Edit {
        device: usize,
        record: usize,
        field: usize,
        value: usize,
    },
    /// A new record created offline.
    Add { device: usize },
    /// A normal sync.
    Sync { device: usize },
    /// The device sends its push and dies before applying the answer.
    KilledSync { device: usize },
    /// The same request is sent twice (a retry after a lost answer), then the answer applied.
    DuplicateSync { device: usize },
    /// An old request is sent again later (reordered), and its stale answer applied.
    StaleReplay { device: usize },
}

fn op(devices: usize) -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (0..devices, 0..4usize, 0..FIELDS.len(), 0..VALUES.len())
            .prop_map(|(device, record, field, value)| Op::Edit { device, record, field, value }),
        1 => (0..devices).prop_map(|device| Op::Add { device }),
        3 => (0..devices).prop_map(|device| Op::Sync { device }),
        1 => (0..devices).prop_map(|device| Op::KilledSync { device }),
        1 => (0..devices).prop_map(|device| Op::DuplicateSync { device }),
        1 => (0..devices).prop_map(|device| Op::StaleReplay { device }),
    ]
}

/// The real server, in process, on SQLite in a temporary directory.
type Harness = outpost_tests::inproc::InProcessServer;

struct Dev {
    store: std::sync::Mutex<Store>,
    client: SyncClient,
    last: Option<Outgoing>,
}

type R<T> = Result<T, outpost_tests::procs::BoxError>;

impl Dev {
    fn store(&self) -> std::sync::MutexGuard<'_, Store> {
        self.store.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn send(&self, h: &Harness, out: &Outgoing) -> R<SyncResponse> {
        Ok(h.runtime.block_on(self.client.sync(&out.request))?.response)
    }

    fn round(&mut self, h: &Harness) -> R<bool> {
        let out = self.store().prepare_sync(50, Some(5))?;
        let response = self.send(h, &out)?;
        let applied = self.store().apply_sync_response(&out, response)?;
        let done = out.is_empty() && !applied.more;
        self.last = Some(out);
        Ok(done)
    }

    fn full_sync(&mut self, h: &Harness) -> R<()> {
        if self.store().needs_bootstrap()? {
            let mut store = self.store();
            store.finish_bootstrap(0)?;
        }
        for _ in 0..1000 {
            if self.round(h)? {
                return Ok(());
            }
        }
        Err("sync did not finish".into())
    }
}

fn run_case(h: &Harness, case: usize, ops: &[Op]) -> R<()> {
    let dir = tempfile::tempdir()?;
    let tenant = h.runtime.block_on(
        h.storage
            .create_tenant(&format!("prop-{case}-{}", uuid_like())),
    )?;
    h.runtime.block_on(
        h.storage
            .set_sharing(&tenant.id, outpost_server::Sharing::Open),
    )?;
    let mut devs = Vec::new();
    for i in 0..3 {
        let user = format!("rep{i}");
        let enrolled = h.runtime.block_on(outpost_server::enroll_device(
            &*h.storage,
            &tenant.id,
            &user,
            Role::Rep,
        ))?;
        let store = Store::open(
            dir.path().join(format!("{i}.db")),
            StoreOptions {
                user,
                ..Default::default()
            },
        )?;
        let options = SyncOptions {
            attempts: 1,
            ..Default::default()
        };
        devs.push(Dev {
            store: std::sync::Mutex::new(store),
            client: SyncClient::new(&h.url, &enrolled.token, options)?,
            last: None,
        });
    }
    // Device 0 creates the records everyone starts from.
    let mut ids = Vec::new();
    for n in 0..4 {
        let c = devs[0].store().add_contact(NewContact {
            name: format!("客户{n}"),
            ..Default::default()
        })?;
        ids.push(c.id);
    }
    for d in devs.iter_mut() {
        d.full_sync(h)?;
    }
    devs[0].full_sync(h)?;
    for d in devs.iter_mut().skip(1) {
        d.full_sync(h)?;
    }
    // Every edit made, to check none is lost.
    let mut edits: Vec<(String, String, String)> = Vec::new();
    for op in ops {
        match op.clone() {
            Op::Edit {
                device,
                record,
                field,
                value,
            } => {
                let id = ids[record % ids.len()].clone();
                let (field, value) = (FIELDS[field], VALUES[value]);
                let mut patch = ContactPatch::default();
                patch.set.insert(field.to_string(), value.to_string());
                let before = devs[device].store().get_contact(&id)?;
                let after = devs[device].store().edit_contact(&id, patch)?;
                if before != after {
                    edits.push((id, field.to_string(), value.to_string()));
                }
            }
            Op::Add { device } => {
                let c = devs[device].store().add_contact(NewContact {
                    name: format!("新客户{}", ids.len()),
                    ..Default::default()
                })?;
                ids.push(c.id);
            }
            Op::Sync { device } => devs[device].full_sync(h)?,
            Op::KilledSync { device } => {
                let out = devs[device].store().prepare_sync(50, Some(5))?;
                let _lost = devs[device].send(h, &out)?; // the device dies: the answer is never applied
            }
            Op::DuplicateSync { device } => {
                let out = devs[device].store().prepare_sync(50, Some(5))?;
                let _first = devs[device].send(h, &out)?;
                let second = devs[device].send(h, &out)?;
                devs[device].store().apply_sync_response(&out, second)?;
            }
            Op::StaleReplay { device } => {
                if let Some(old) = devs[device].last.clone() {
                    let response = devs[device].send(h, &old)?;
                    devs[device].store().apply_sync_response(&old, response)?;
                }
            }
        }
    }
    // Everyone syncs until nothing moves.
    for _ in 0..2 {
        for d in devs.iter_mut() {
            d.full_sync(h)?;
        }
    }
    let snapshot = |d: &Dev| -> R<Vec<serde_json::Value>> {
        let list = d.store().list_contacts(&ListOptions {
            include_invalid: true,
            limit: None,
        })?;
        let mut v: Vec<serde_json::Value> = list
            .into_iter()
            .map(|c| {
                let mut j = serde_json::to_value(c).unwrap_or_default();
                if let Some(o) = j.as_object_mut() {
                    o.remove("sync_state");
                }
                j
            })
            .collect();
        v.sort_by_key(|c| c["id"].as_str().unwrap_or_default().to_string());
        Ok(v)
    };
    let first = snapshot(&devs[0])?;
    assert_eq!(first.len(), ids.len(), "every record everywhere");
    for d in &devs[1..] {
        assert_eq!(
            snapshot(d)?,
            first,
            "all devices converge to the same state"
        );
    }
    for d in &devs {
        let status = d.store().status()?;
        assert_eq!(status.outbox_len, 0, "everything acknowledged");
        assert!(
            status.rejected.is_empty(),
            "nothing refused: {:?}",
            status.rejected
        );
        assert!(
            status.sync_states.iter().all(|k| k.status == "synced"),
            "{:?}",
            status.sync_states
        );
    }
    // No edit lost: each is in the record's history on every device (as winner or as a loser
    // that a later write superseded, or still visible as a conflict).
    for (id, field, value) in &edits {
        for d in &devs {
            let history = d.store().contact_history(id)?;
            let found = history
                .iter()
                .flat_map(|h| h.changes.iter())
                .any(|c| &c.field == field && c.new.as_deref() == Some(value.as_str()));
            assert!(found, "edit {field}={value} of {id} is in the history");
        }
    }
    Ok(())
}

fn uuid_like() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0)
}

#[test]
fn random_interleavings_converge_and_lose_nothing() -> R<()> {
    let h = Harness::start()?;
    let mut runner = proptest::test_runner::TestRunner::new(ProptestConfig {
        cases: 24,
        ..ProptestConfig::default()
    });
    let case = std::cell::Cell::new(0usize);
    runner
        .run(&proptest::collection::vec(op(3), 1..40), |ops| {
            case.set(case.get() + 1);
            run_case(&h, case.get(), &ops).map_err(|e| TestCaseError::fail(e.to_string()))
        })
        .map_err(|e| format!("{e}"))?;
    Ok(())
}

#[test]
fn only_one_sync_of_a_store_runs_at_a_time() -> R<()> {
    let h = Harness::start()?;
    let dir = tempfile::tempdir()?;
    let tenant = h
        .runtime
        .block_on(h.storage.create_tenant("single-flight"))?;
    let enrolled = h.runtime.block_on(outpost_server::enroll_device(
        &*h.storage,
        &tenant.id,
        "rep",
        Role::Rep,
    ))?;
    let mut store = Store::open(dir.path().join("rep.db"), StoreOptions::default())?;
    store.set_server(&h.url, &enrolled.token)?;
    store.add_contact(NewContact {
        name: "并发".into(),
        ..Default::default()
    })?;
    let store = std::sync::Mutex::new(store);
    // The first sync parks on its HTTP request; the second finds it running.
    let (first, second) = h.runtime.block_on(async {
        tokio::join!(
            outpost_core::sync_store(&store, SyncOptions::default()),
            outpost_core::sync_store(&store, SyncOptions::default())
        )
    });
    assert_eq!(first?.pushed, 1);
    assert!(
        matches!(second, Err(outpost_core::Error::SyncInProgress)),
        "{second:?}"
    );
    let again = h
        .runtime
        .block_on(outpost_core::sync_store(&store, SyncOptions::default()))?;
    assert_eq!(again.pushed, 0, "the flag is cleared when a sync ends");
    Ok(())
}

/// Reads one HTTP/1.1 message (headers + `content-length` body) from `stream`.
fn read_http(stream: &mut std::net::TcpStream) -> R<Vec<u8>> {
    use std::io::Read;
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    loop {
        let n = stream.read(&mut chunk)?;
        if n == 0 {
            return Err("connection closed before a full message".into());
        }
        buf.extend_from_slice(&chunk[..n]);
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..end]).to_ascii_lowercase();
            let len: usize = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .and_then(|v| v.trim().parse().ok())
                .unwrap_or(0);
            while buf.len() < end + 4 + len {
                let n = stream.read(&mut chunk)?;
                if n == 0 {
                    return Err("connection closed mid-body".into());
                }
                buf.extend_from_slice(&chunk[..n]);
            }
            return Ok(buf);
        }
    }
}

#[test]
fn a_connection_dropped_mid_answer_loses_and_duplicates_nothing() -> R<()> {
    use std::io::Write;
    let h = Harness::start()?;
    let server_addr = h.url.trim_start_matches("http://").to_string();
    // A proxy that forwards one request, then delivers only half of the server's answer.
    let proxy = std::net::TcpListener::bind("127.0.0.1:0")?;
    let proxy_url = format!("http://{}", proxy.local_addr()?);
    let cutter = std::thread::spawn(move || -> Result<(), String> {
        let (mut device, _) = proxy.accept().map_err(|e| e.to_string())?;
        let request = read_http(&mut device).map_err(|e| e.to_string())?;
        let mut server = std::net::TcpStream::connect(&server_addr).map_err(|e| e.to_string())?;
        server.write_all(&request).map_err(|e| e.to_string())?;
        let answer = read_http(&mut server).map_err(|e| e.to_string())?;
        device
            .write_all(&answer[..answer.len() / 2])
            .map_err(|e| e.to_string())?;
        Ok(()) // both connections drop here, mid-body
    });
    let dir = tempfile::tempdir()?;
    let tenant = h.runtime.block_on(h.storage.create_tenant("cut"))?;
    h.runtime.block_on(
        h.storage
            .set_sharing(&tenant.id, outpost_server::Sharing::Open),
    )?;
    let rep = h.runtime.block_on(outpost_server::enroll_device(
        &*h.storage,
        &tenant.id,
        "rep",
        Role::Rep,
    ))?;
    let mut store = Store::open(dir.path().join("rep.db"), StoreOptions::default())?;
    let c = store.add_contact(NewContact {
        name: "断线".into(),
        ..Default::default()
    })?;
    store.finish_bootstrap(0)?;
    store.set_server(&proxy_url, &rep.token)?;
    let store = std::sync::Mutex::new(store);
    let once = SyncOptions {
        attempts: 1,
        ..Default::default()
    };
    let cut = h
        .runtime
        .block_on(outpost_core::sync_store(&store, once.clone()));
    assert!(
        matches!(cut, Err(outpost_core::Error::Network { .. })),
        "{cut:?}"
    );
    cutter.join().map_err(|_| "proxy panicked")??;
    assert_eq!(
        store.lock().map_err(|_| "poisoned")?.status()?.outbox_len,
        1,
        "not acknowledged, still queued"
    );
    // The server did apply it; the retry (straight to the server now) is acknowledged once.
    store
        .lock()
        .map_err(|_| "poisoned")?
        .set_server(&h.url, &rep.token)?;
    let report = h.runtime.block_on(outpost_core::sync_store(&store, once))?;
    assert_eq!(report.pushed, 1);
    assert_eq!(
        store.lock().map_err(|_| "poisoned")?.status()?.outbox_len,
        0
    );
    let head = h
        .runtime
        .block_on(h.storage.tenant(&tenant.id))?
        .ok_or("tenant")?
        .log_head;
    assert_eq!(head, 1, "the change is in the log exactly once");
    // Another device sees exactly that one record.
    let other = h.runtime.block_on(outpost_server::enroll_device(
        &*h.storage,
        &tenant.id,
        "mgr",
        Role::Manager,
    ))?;
    let mut store_b = Store::open(dir.path().join("mgr.db"), StoreOptions::default())?;
    store_b.set_server(&h.url, &other.token)?;
    let store_b = std::sync::Mutex::new(store_b);
    h.runtime
        .block_on(outpost_core::sync_store(&store_b, SyncOptions::default()))?;
    let got = store_b.lock().map_err(|_| "poisoned")?.get_contact(&c.id)?;
    assert_eq!(got.name, "断线");
    Ok(())
}
