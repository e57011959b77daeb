//! The sync client's scope reconcile against a scripted server: the epoch changed, so the
//! device lists its scope page by page, purges what left it (never a record with something in
//! the outbox), fetches what entered it, and remembers the first page's epoch.

use super::{open, zhang, TestResult};
use outpost_core::access::Permissions;
use outpost_core::sync::protocol::{
    decode, encode, DocSnapshot, RecordsRequest, RecordsResponse, Rejection, ScopeInfo,
    ScopeRequest, ScopeResponse, SyncRequest, SyncResponse,
};
use outpost_core::{NewContact, SyncOptions};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};

/// What the scripted server answers, and what it was asked.
struct Script {
    /// Record ids listed by `/v1/scope`, in two pages (the second with another epoch).
    pages: [(u64, Vec<String>); 2],
    /// Documents `/v1/records` can answer with.
    docs: Vec<DocSnapshot>,
    /// Paths requested, in order.
    seen: Vec<String>,
    /// Ids asked for with `/v1/records`.
    fetched: Vec<String>,
}

fn answer(script: &Mutex<Script>, path: &str, body: &[u8]) -> (u16, Vec<u8>) {
    let mut s = script.lock().unwrap_or_else(|p| p.into_inner());
    s.seen.push(path.to_string());
    match path {
        "/v1/sync" => {
            let Ok(req) = SyncRequest::decode_any(body) else {
                return (400, Vec::new());
            };
            // Every pushed change is refused.
            let rejected = req
                .changes
                .iter()
                .filter_map(|c| {
                    Some(Rejection {
                        hash: automerge::Change::from_bytes(c.change.clone())
                            .ok()?
                            .hash()
                            .0
                            .to_vec(),
                        record: c.record.clone(),
                        reason: "not yours".into(),
                    })
                })
                .collect();
            let scope = ScopeInfo {
                epoch: s.pages[0].0,
                user: "rep1".into(),
                role: "rep".into(),
                permissions: Permissions::default_for("rep")
                    .map(|p| p.names())
                    .unwrap_or_default(),
                ..Default::default()
            };
            let resp = SyncResponse {
                v: 1,
                rejected,
                entries: Vec::new(),
                cursor: 1,
                more: false,
                server_time_ms: 1_800_000_000_000,
                log_id: None,
                deferred: Vec::new(),
                scope: Some(scope),
            };
            (200, encode(&resp))
        }
        "/v1/scope" => {
            let Ok(req) = decode::<ScopeRequest>("scope", body) else {
                return (400, Vec::new());
            };
            let (page, next) = match req.after {
                None => (0, s.pages[0].1.last().cloned()),
                Some(_) => (1, None),
            };
            let resp = ScopeResponse {
                v: 1,
                epoch: s.pages[page].0,
                records: s.pages[page].1.clone(),
                next,
            };
            (200, encode(&resp))
        }
        "/v1/records" => {
            let Ok(req) = decode::<RecordsRequest>("records", body) else {
                return (400, Vec::new());
            };
            s.fetched.extend(req.ids.iter().cloned());
            let docs = s
                .docs
                .iter()
                .filter(|d| req.ids.contains(&d.record))
                .cloned()
                .collect();
            (200, encode(&RecordsResponse { v: 1, docs }))
        }
        _ => (
            404,
            br#"{"error":"not_found","message":"no such route"}"#.to_vec(),
        ),
    }
}

/// Serves `script` on a local port, one request per connection; returns the base URL.
fn serve(script: Arc<Mutex<Script>>) -> Result<String, std::io::Error> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let url = format!("http://{}", listener.local_addr()?);
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let Ok(clone) = stream.try_clone() else {
                continue;
            };
            let mut reader = BufReader::new(clone);
            let mut line = String::new();
            if reader.read_line(&mut line).is_err() {
                continue;
            }
            let path = line
                .split_whitespace()
                .nth(1)
                .unwrap_or_default()
                .to_string();
            let mut length = 0usize;
            loop {
                let mut header = String::new();
                if reader.read_line(&mut header).is_err() || header.trim().is_empty() {
                    break;
                }
                if let Some((name, value)) = header.split_once(':') {
                    if name.eq_ignore_ascii_case("content-length") {
                        length = value.trim().parse().unwrap_or(0);
                    }
                }
            }
            let mut body = vec![0; length];
            if reader.read_exact(&mut body).is_err() {
                continue;
            }
            let (status, out) = answer(&script, &path, &body);
            let kind = if status == 200 {
                "application/cbor"
            } else {
                "application/json"
            };
            let head = format!(
                "HTTP/1.1 {status} X\r\nContent-Type: {kind}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                out.len()
            );
            let _ = stream.write_all(head.as_bytes());
            let _ = stream.write_all(&out);
        }
    });
    Ok(url)
}

#[test]
fn a_new_scope_epoch_purges_what_left_and_fetches_what_entered() -> TestResult {
    let dir = tempfile::tempdir()?;
    // A record that entered the scope, as another device wrote it.
    let mut other = outpost_core::Store::open(dir.path().join("other.db"), Default::default())?;
    let entered = other.add_contact(NewContact {
        name: "赵敏".into(),
        ..Default::default()
    })?;
    let entered_doc: Vec<u8> = rusqlite::Connection::open(other.path())?.query_row(
        "SELECT doc FROM records WHERE id = ?1",
        [&entered.id],
        |r| r.get(0),
    )?;

    let mut store = open(&dir)?;
    let stays = store.add_contact(zhang())?;
    let leaves = store.add_contact(NewContact {
        name: "李娜".into(),
        ..Default::default()
    })?;
    // Both acknowledged by the server before the scope changed.
    let outgoing = store.prepare_sync(100, None)?;
    store.apply_sync_response(
        &outgoing,
        SyncResponse {
            v: 1,
            rejected: Vec::new(),
            entries: Vec::new(),
            cursor: 1,
            more: false,
            server_time_ms: 1_800_000_000_000,
            log_id: None,
            deferred: Vec::new(),
            scope: None,
        },
    )?;
    store.finish_bootstrap(1)?;
    // Written after: the server refuses the record itself, so it is removed with the refusal
    // reported (a record with changes still in the outbox is never purged by a reconcile: see
    // `purging_removes_every_trace_and_reconciling_keeps_unsent_records`).
    let unsent = store.add_contact(NewContact {
        name: "王芳".into(),
        ..Default::default()
    })?;

    let script = Arc::new(Mutex::new(Script {
        pages: [
            (5, vec![stays.id.clone(), entered.id.clone()]),
            (6, vec!["zz-unreadable".to_string()]),
        ],
        docs: vec![DocSnapshot {
            record: entered.id.clone(),
            kind: "contact".into(),
            doc: entered_doc,
            summary: None,
        }],
        seen: Vec::new(),
        fetched: Vec::new(),
    }));
    let url = serve(script.clone())?;
    store.set_server(&url, "token")?;
    let store = Mutex::new(store);
    let options = SyncOptions {
        attempts: 1,
        backoff: std::time::Duration::from_millis(1),
        ..Default::default()
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let report = runtime.block_on(outpost_core::sync_store(&store, options.clone()))?;
    assert_eq!(report.purged, 1, "{report:?}");
    assert_eq!(report.fetched, 1, "{report:?}");
    assert_eq!(report.rejected, 1);
    {
        let s = store.lock().unwrap_or_else(|p| p.into_inner());
        assert!(s.get_contact(&leaves.id).is_err(), "left the scope");
        assert!(s.get_contact(&stays.id).is_ok());
        assert!(s.get_contact(&unsent.id).is_err(), "refused: removed");
        let rejected = s.status()?.rejected;
        assert_eq!(rejected.len(), 1, "{rejected:?}");
        assert!(rejected[0].removed && rejected[0].reason == "not yours");
        assert_eq!(report.rejections, rejected);
        assert_eq!(s.get_contact(&entered.id)?.name, "赵敏");
        assert_eq!(
            s.search("赵敏", &Default::default())?.len(),
            1,
            "fetched records are searchable"
        );
        assert_eq!(s.scope_epoch()?, Some(5), "the first page's epoch");
        let access = s.access()?.ok_or("access known")?;
        assert_eq!((access.role.as_str(), access.epoch), ("rep", 5));
    }
    {
        let s = script.lock().unwrap_or_else(|p| p.into_inner());
        assert_eq!(
            s.seen.iter().filter(|p| *p == "/v1/scope").count(),
            2,
            "two pages"
        );
        let mut fetched = s.fetched.clone();
        fetched.sort();
        assert_eq!(fetched, [entered.id.clone(), "zz-unreadable".to_string()]);
    }
    // Same epoch next time: no listing.
    let report = runtime.block_on(outpost_core::sync_store(&store, options))?;
    assert_eq!((report.purged, report.fetched), (0, 0));
    let s = script.lock().unwrap_or_else(|p| p.into_inner());
    assert_eq!(s.seen.iter().filter(|p| *p == "/v1/scope").count(), 2);
    Ok(())
}
