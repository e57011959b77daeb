//! The audit trail on both storages: chains that verify, tampering named by row, concurrent
//! appends; through HTTP: pushes, invalidations, auth failures with remote addresses, the
//! failed-authentication limit; through the operator CLI: verify, export, user disable.

use crate::support::*;
use outpost_core::sync::protocol;
use outpost_server::audit::{self, event, AuditEvent, AuditLog};
use outpost_server::Storage;
use std::path::Path;
use std::sync::Arc;

fn ev(tenant: &str, name: &str, n: u64) -> AuditEvent {
    AuditEvent::new(tenant, name, &serde_json::json!({ "n": n, "客户": "张伟" }))
        .by("wang", Some("device-1"))
        .from_remote("10.1.2.3:4567")
}

/// A backend whose underlying database a test can tamper with.
pub(crate) enum Raw {
    Sqlite(tempfile::TempDir),
    Postgres(PgDb),
}

impl Raw {
    pub(crate) async fn open() -> Vec<(Raw, Arc<dyn Storage>)> {
        let dir = tempfile::tempdir().unwrap();
        let sqlite: Arc<dyn Storage> =
            Arc::new(outpost_server::SqliteStorage::open(dir.path()).unwrap());
        let db = PgDb::create().await;
        let pg: Arc<dyn Storage> = Arc::new(
            outpost_server::PostgresStorage::connect(&db.url)
                .await
                .unwrap(),
        );
        vec![(Raw::Sqlite(dir), sqlite), (Raw::Postgres(db), pg)]
    }

    /// Runs `sql` as someone with full database access (the append-only triggers dropped).
    async fn tamper(&self, sql: &str) {
        match self {
            Raw::Sqlite(dir) => {
                let conn = rusqlite::Connection::open(
                    dir.path().join(outpost_server::storage::sqlite::DB_FILE),
                )
                .unwrap();
                let triggers: Vec<String> = conn
                    .prepare("SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name IN ('audit_log', 'audit_heads')")
                    .unwrap()
                    .query_map([], |r| r.get(0))
                    .unwrap()
                    .collect::<Result<_, _>>()
                    .unwrap();
                for t in triggers {
                    conn.execute_batch(&format!("DROP TRIGGER {t}")).unwrap();
                }
                conn.execute_batch(sql).unwrap();
            }
            Raw::Postgres(db) => {
                let (client, conn) = tokio_postgres::connect(&db.url, tokio_postgres::NoTls)
                    .await
                    .unwrap();
                tokio::spawn(conn);
                client
                    .batch_execute(&format!(
                        "ALTER TABLE audit_log DISABLE TRIGGER USER; \
                         ALTER TABLE audit_heads DISABLE TRIGGER USER; {sql}"
                    ))
                    .await
                    .unwrap();
            }
        }
    }

    /// Tries to change a row the normal way; the storage must refuse.
    async fn try_update(&self) -> bool {
        self.try_sql("UPDATE audit_log SET user_id = 'li' WHERE seq = 1")
            .await
    }

    /// Runs `sql` with ordinary access (triggers in place); whether it succeeded.
    pub(crate) async fn try_sql(&self, sql: &str) -> bool {
        match self {
            Raw::Sqlite(dir) => rusqlite::Connection::open(
                dir.path().join(outpost_server::storage::sqlite::DB_FILE),
            )
            .unwrap()
            .execute_batch(sql)
            .is_ok(),
            Raw::Postgres(db) => {
                let (client, conn) = tokio_postgres::connect(&db.url, tokio_postgres::NoTls)
                    .await
                    .unwrap();
                tokio::spawn(conn);
                client.batch_execute(sql).await.is_ok()
            }
        }
    }
}

async fn chain_rows(s: &dyn AuditLog, tenant: &str) -> Vec<outpost_server::AuditRow> {
    s.audit_page(tenant, 0, 10_000).await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chains_append_verify_and_page_on_both_storages() {
    for (_raw, s) in Raw::open().await {
        for n in 0..5 {
            s.audit_append(ev("t1", event::SYNC_PUSH, n)).await.unwrap();
        }
        s.audit_append(ev("t2", event::DEVICE_ENROLL, 0))
            .await
            .unwrap();
        let rows = chain_rows(&*s, "t1").await;
        assert_eq!(
            rows.iter().map(|r| r.seq).collect::<Vec<_>>(),
            [1, 2, 3, 4, 5]
        );
        assert_eq!(rows[0].prev_hash, audit::GENESIS_HASH);
        assert_eq!(rows[3].prev_hash, rows[2].hash);
        assert_eq!(rows[0].event.remote.as_deref(), Some("10.1.2.3:4567"));
        assert_eq!(
            s.audit_page("t1", 3, 1).await.unwrap()[0].seq,
            4,
            "pages by seq"
        );
        let heads = s.audit_heads().await.unwrap();
        assert_eq!(heads.len(), 2, "{} heads", s.backend());
        let reports = audit::verify(&*s, None).await.unwrap();
        assert!(reports.iter().all(|r| r.ok), "{reports:?}");
        assert_eq!(reports.iter().map(|r| r.rows).sum::<u64>(), 6);
        let mut exported = Vec::new();
        let n = audit::export(&*s, Some("t1"), Some(rows[2].event.at_ms), |r| {
            exported.push(r.seq);
            Ok(true)
        })
        .await
        .unwrap();
        assert_eq!(n as usize, exported.len());
        assert!(exported.contains(&5) && !exported.is_empty());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tampering_is_refused_or_detected_naming_the_row() {
    for (raw, s) in Raw::open().await {
        for n in 0..6 {
            s.audit_append(ev("t1", event::SYNC_PUSH, n)).await.unwrap();
        }
        let backend = s.backend();
        assert!(
            !raw.try_update().await,
            "{backend}: audit_log must refuse UPDATE"
        );
        assert!(audit::verify(&*s, Some("t1")).await.unwrap()[0].ok);

        raw.tamper("UPDATE audit_log SET user_id = 'li' WHERE tenant_id = 't1' AND seq = 2")
            .await;
        let report = &audit::verify(&*s, Some("t1")).await.unwrap()[0];
        assert!(!report.ok);
        assert!(
            report
                .problems
                .iter()
                .any(|p| p.starts_with("row 2:") && p.contains("altered")),
            "{backend}: {:?}",
            report.problems
        );

        raw.tamper("DELETE FROM audit_log WHERE tenant_id = 't1' AND seq = 4")
            .await;
        let report = &audit::verify(&*s, Some("t1")).await.unwrap()[0];
        assert!(
            report
                .problems
                .iter()
                .any(|p| p == "row 4: missing (deleted)"),
            "{backend}: {:?}",
            report.problems
        );

        raw.tamper("DELETE FROM audit_log WHERE tenant_id = 't1' AND seq = 6")
            .await;
        let report = &audit::verify(&*s, Some("t1")).await.unwrap()[0];
        assert!(
            report
                .problems
                .iter()
                .any(|p| p == "row 6: missing (deleted)"),
            "{backend}: the head catches a deleted last row: {:?}",
            report.problems
        );
    }
}

/// The heads are protected like the log: no delete, no rollback, no replacement; on SQLite an
/// `INSERT OR REPLACE` cannot rewrite a log row past the no-delete trigger; and `verify`
/// without a tenant walks every tenant that has log rows, with or without a head.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn heads_are_protected_and_verify_walks_every_chain_with_rows() {
    for (raw, s) in Raw::open().await {
        let backend = s.backend();
        for n in 0..3 {
            s.audit_append(ev("t1", event::SYNC_PUSH, n)).await.unwrap();
            s.audit_append(ev("t2", event::SYNC_PUSH, n)).await.unwrap();
        }
        for sql in [
            "DELETE FROM audit_heads WHERE tenant_id = 't1'",
            "UPDATE audit_heads SET seq = 1 WHERE tenant_id = 't1'",
            "UPDATE audit_heads SET hash = 'feed' WHERE tenant_id = 't1'",
            "UPDATE audit_heads SET tenant_id = 't9' WHERE tenant_id = 't1'",
            "INSERT INTO audit_heads (tenant_id, seq, hash) VALUES ('t7', 5, 'feed')",
            "UPDATE audit_log SET detail = '{}' WHERE tenant_id = 't1' AND seq = 2",
            "DELETE FROM audit_log WHERE tenant_id = 't1'",
        ] {
            assert!(!raw.try_sql(sql).await, "{backend}: must refuse {sql}");
        }
        if matches!(raw, Raw::Sqlite(_)) {
            for sql in [
                "INSERT OR REPLACE INTO audit_log (tenant_id, seq, at_ms, event, user_id, device_id, remote, detail, prev_hash, hash)
                 SELECT tenant_id, seq, at_ms, event, 'li', device_id, remote, detail, prev_hash, hash
                 FROM audit_log WHERE tenant_id = 't1' AND seq = 2",
                "REPLACE INTO audit_heads (tenant_id, seq, hash) VALUES ('t1', 1, 'feed')",
                "INSERT OR REPLACE INTO audit_heads (tenant_id, seq, hash) SELECT 't1', seq, hash FROM audit_log WHERE tenant_id = 't1' AND seq = 1",
            ] {
                assert!(!raw.try_sql(sql).await, "sqlite: must refuse {sql}");
            }
        }
        let rows = chain_rows(&*s, "t1").await;
        assert_eq!(rows[1].event.user_id.as_deref(), Some("wang"), "{backend}");
        let reports = audit::verify(&*s, None).await.unwrap();
        assert!(reports.iter().all(|r| r.ok), "{backend}: {reports:?}");
        // Appends still work with the triggers in place.
        s.audit_append(ev("t1", event::SYNC_PUSH, 9)).await.unwrap();
        assert!(audit::verify(&*s, Some("t1")).await.unwrap()[0].ok);

        // Someone with full access deletes a head: verify still walks that chain and says so.
        raw.tamper("DELETE FROM audit_heads WHERE tenant_id = 't2'")
            .await;
        let reports = audit::verify(&*s, None).await.unwrap();
        let t2 = reports
            .iter()
            .find(|r| r.tenant_id == "t2")
            .unwrap_or_else(|| panic!("{backend}: t2 has rows but was not verified: {reports:?}"));
        assert!(!t2.ok);
        assert!(
            t2.problems.iter().any(|p| p.contains("no head")),
            "{backend}: {:?}",
            t2.problems
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_appends_make_one_unbroken_chain() {
    for (_raw, s) in Raw::open().await {
        let mut tasks = Vec::new();
        for n in 0..24 {
            let s = s.clone();
            tasks.push(tokio::spawn(async move {
                s.audit_append(ev("t1", event::SYNC_PUSH, n)).await.unwrap()
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
        let rows = chain_rows(&*s, "t1").await;
        assert_eq!(rows.len(), 24);
        let report = &audit::verify(&*s, Some("t1")).await.unwrap()[0];
        assert!(report.ok, "{}: {:?}", s.backend(), report.problems);
    }
}

/// The audit rows of `tenant` with event `name`.
async fn events(s: &dyn AuditLog, tenant: &str, name: &str) -> Vec<AuditEvent> {
    chain_rows(s, tenant)
        .await
        .into_iter()
        .map(|r| r.event)
        .filter(|e| e.event == name)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_pushes_invalidations_and_auth_failures_are_audited() {
    let backend = Backend::sqlite();
    let s = backend.storage.clone();
    let acme = tenant_with_device(&*s, "acme", "alice").await;
    let (gone, gone_token) = device(&*s, &acme.tenant.id, "gone").await;
    s.revoke_device(&gone.id).await.unwrap();
    let server = TestServer::start(s.clone()).await;
    let c = &server.client;

    let actor = new_actor();
    let (mut w, c1) = ContactWriter::create(&actor, "张伟");
    let c2 = w.set("status", "invalid");
    let answer = sync(
        c,
        &server.url,
        &acme.token,
        &sync_request(
            &actor,
            0,
            vec![w.push(c1.clone()), w.push(c2.clone())],
            None,
        ),
    )
    .await;
    assert!(answer.sync_response().rejected.is_empty());
    // A retry applies nothing and adds no row.
    sync(
        c,
        &server.url,
        &acme.token,
        &sync_request(&actor, 0, vec![w.push(c1.clone())], None),
    )
    .await
    .sync_response();

    let pushes = events(&*s, &acme.tenant.id, event::SYNC_PUSH).await;
    assert_eq!(pushes.len(), 1, "{pushes:?}");
    let push = &pushes[0];
    assert_eq!(push.user_id.as_deref(), Some("alice"));
    assert_eq!(push.device_id.as_deref(), Some(acme.device.id.as_str()));
    assert!(
        push.remote
            .as_deref()
            .is_some_and(|r| r.starts_with("127.0.0.1:")),
        "{:?}",
        push.remote
    );
    let detail: serde_json::Value = serde_json::from_str(&push.detail).unwrap();
    assert_eq!(detail["applied"], 2);
    assert_eq!(detail["changes"][0][0], w.record.as_str());
    assert_eq!(detail["changes"][1][2], hex::encode(hash(&c2)));
    let invalidations = events(&*s, &acme.tenant.id, event::RECORD_INVALIDATE).await;
    assert_eq!(invalidations.len(), 1);
    assert!(invalidations[0].detail.contains(&w.record));

    let body = protocol::encode(&sync_request(&actor, 0, vec![], None));
    let url = format!("{}/v1/sync", server.url);
    assert_eq!(
        post(
            c,
            &url,
            Some("feedbeef"),
            Some(protocol::CONTENT_TYPE),
            body.clone()
        )
        .await
        .status,
        401
    );
    assert_eq!(
        post(
            c,
            &url,
            Some(&gone_token),
            Some(protocol::CONTENT_TYPE),
            body.clone()
        )
        .await
        .status,
        401
    );
    // The offboarded device still pushes what it wrote offline: refused, but kept for a manager.
    let gone_actor = new_actor();
    let (g, offline) = ContactWriter::create(&gone_actor, "离职前录入的客户");
    let gone_body = protocol::encode(&sync_request(
        &gone_actor,
        0,
        vec![g.push(offline.clone())],
        None,
    ));
    let refused = post(
        c,
        &url,
        Some(&gone_token),
        Some(protocol::CONTENT_TYPE),
        gone_body,
    )
    .await;
    assert_eq!(refused.error_code(), "device_revoked");
    assert!(
        s.document(&g.record).await.unwrap().is_none(),
        "not applied"
    );
    let kept = events(&*s, &acme.tenant.id, event::SYNC_QUARANTINED).await;
    assert_eq!(kept.len(), 1);
    assert_eq!(kept[0].device_id.as_deref(), Some(gone.id.as_str()));
    let detail: serde_json::Value = serde_json::from_str(&kept[0].detail).unwrap();
    assert_eq!(detail["changes"][0]["record"], g.record.as_str());
    assert_eq!(detail["changes"][0]["hash"], hex::encode(hash(&offline)));
    assert_eq!(detail["changes"][0]["bytes"], offline.len());
    let failed = events(&*s, "", event::AUTH_FAILED).await;
    assert_eq!(failed.len(), 1);
    assert!(failed[0]
        .remote
        .as_deref()
        .is_some_and(|r| r.starts_with("127.0.0.1:")));
    let revoked = events(&*s, &acme.tenant.id, event::AUTH_REVOKED).await;
    assert_eq!(revoked.len(), 2, "both attempts of the revoked device");
    assert_eq!(revoked[0].device_id.as_deref(), Some(gone.id.as_str()));
    assert!(audit::verify(&*s, None).await.unwrap().iter().all(|r| r.ok));
    server.stop().await;
}

/// A revoked device that keeps pushing large bodies does not fill the disk: the audit trail
/// keeps each body's hash and size and its changes' hashes and sizes, never their bytes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quarantined_bodies_are_kept_as_hash_and_size_on_both_storages() {
    use sha2::{Digest, Sha256};
    for (_raw, s) in Raw::open().await {
        let backend = s.backend();
        let acme = tenant_with_device(&*s, "acme", "alice").await;
        let (gone, gone_token) = device(&*s, &acme.tenant.id, "gone").await;
        s.revoke_device(&gone.id).await.unwrap();
        let server = TestServer::start(s.clone()).await;
        let actor = new_actor();
        let mut changes = Vec::new();
        for i in 0..6 {
            let (mut w, first) = ContactWriter::create(&actor, &format!("客户{i}"));
            let notes: String = "离职前录入的备注".chars().cycle().take(300_000).collect();
            let big = w.set("notes", &notes);
            changes.push(w.push(first));
            changes.push(w.push(big));
        }
        let body = protocol::encode(&sync_request(&actor, 0, changes.clone(), None));
        assert!(body.len() > 5 * 1024 * 1024, "{}", body.len());
        for _ in 0..5 {
            let refused = post(
                &server.client,
                &format!("{}/v1/sync", server.url),
                Some(&gone_token),
                Some(protocol::CONTENT_TYPE),
                body.clone(),
            )
            .await;
            assert_eq!(refused.error_code(), "device_revoked");
        }
        let kept = events(&*s, &acme.tenant.id, event::SYNC_QUARANTINED).await;
        assert_eq!(kept.len(), 5, "{backend}");
        let stored: usize = kept.iter().map(|e| e.detail.len()).sum();
        assert!(
            stored < 64 * 1024,
            "{backend}: five {}-byte bodies took {stored} bytes of audit trail",
            body.len()
        );
        let detail: serde_json::Value = serde_json::from_str(&kept[0].detail).unwrap();
        assert_eq!(detail["review"], "manager");
        assert_eq!(detail["body"]["bytes"], body.len());
        assert_eq!(
            detail["body"]["sha256"],
            hex::encode(Sha256::digest(&body)),
            "{backend}"
        );
        assert_eq!(detail["changes_total"], changes.len());
        assert_eq!(detail["changes"][1]["record"], changes[1].record.as_str());
        assert_eq!(
            detail["changes"][1]["hash"],
            hex::encode(hash(&changes[1].change))
        );
        assert_eq!(detail["changes"][1]["bytes"], changes[1].change.len());
        assert!(detail["changes"][1].get("change").is_none());
        assert!(audit::verify(&*s, None).await.unwrap().iter().all(|r| r.ok));
        server.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn repeated_failed_authentication_is_refused_with_429() {
    let backend = Backend::sqlite();
    let s = backend.storage.clone();
    let acme = tenant_with_device(&*s, "acme", "alice").await;
    let server = TestServer::start(s.clone()).await;
    let c = &server.client;
    let url = format!("{}/v1/sync", server.url);
    let body = protocol::encode(&sync_request(&new_actor(), 0, vec![], None));
    let limit = outpost_server::ratelimit::LimitConfig::default().max_failures;
    for i in 0..limit {
        let a = post(
            c,
            &url,
            Some(&format!("guess{i}")),
            Some(protocol::CONTENT_TYPE),
            body.clone(),
        )
        .await;
        assert_eq!(a.status, 401, "guess {i}");
    }
    let res = c
        .post(&url)
        .header("authorization", "Bearer guess-again")
        .header("content-type", protocol::CONTENT_TYPE)
        .body(body.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 429);
    let retry: u64 = res.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&retry), "{retry}");
    let code: protocol::ErrorBody = serde_json::from_slice(&res.bytes().await.unwrap()).unwrap();
    assert_eq!(code.error, "too_many_requests");
    // A valid token from that address is still served (tokens cannot be guessed; the limit
    // must not lock out the reps sharing an address); health is never limited.
    assert_eq!(
        sync(
            c,
            &server.url,
            &acme.token,
            &sync_request(&new_actor(), 0, vec![], None)
        )
        .await
        .status,
        200
    );
    let health = c
        .get(format!("{}/healthz", server.url))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status().as_u16(), 200);
    server.stop().await;
}

fn server_cli(data: &Path, args: &[&str]) -> (i32, String, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_outpost-server"))
        .arg("--data")
        .arg(data)
        .args(args)
        .env_remove("OUTPOST_DATABASE_URL")
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

fn ok_json(data: &Path, args: &[&str]) -> serde_json::Value {
    let (code, stdout, stderr) = server_cli(data, args);
    assert_eq!(code, 0, "outpost-server {args:?}: {stderr}");
    serde_json::from_str(stdout.trim()).unwrap()
}

#[test]
fn operator_cli_disables_users_verifies_and_exports() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path();
    ok_json(data, &["tenant", "create", "华强销售部"]);
    let d1 = ok_json(
        data,
        &[
            "device",
            "enroll",
            "--tenant",
            "华强销售部",
            "--user",
            "wang",
        ],
    );
    let d2 = ok_json(
        data,
        &[
            "device",
            "enroll",
            "--tenant",
            "华强销售部",
            "--user",
            "wang",
        ],
    );
    ok_json(
        data,
        &["device", "enroll", "--tenant", "华强销售部", "--user", "li"],
    );
    let disabled = ok_json(data, &["user", "disable", "wang", "--tenant", "华强销售部"]);
    let revoked: Vec<&str> = disabled["revoked_devices"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|v| v.as_str())
        .collect();
    assert_eq!(
        revoked,
        [
            d1["device_id"].as_str().unwrap(),
            d2["device_id"].as_str().unwrap()
        ]
    );
    let devices = ok_json(data, &["device", "list", "--tenant", "华强销售部"]);
    for d in devices.as_array().unwrap() {
        assert_eq!(d["revoked_at"].is_null(), d["user"] == "li", "{d}");
    }

    let verdict = ok_json(data, &["audit", "verify"]);
    assert_eq!(verdict["ok"], true, "{verdict}");
    let (code, lines, stderr) = server_cli(data, &["audit", "export", "--tenant", "华强销售部"]);
    assert_eq!(code, 0, "{stderr}");
    let rows: Vec<serde_json::Value> = lines
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let names: Vec<&str> = rows.iter().filter_map(|r| r["event"].as_str()).collect();
    assert_eq!(
        names,
        [
            event::DEVICE_ENROLL,
            event::DEVICE_ENROLL,
            event::DEVICE_ENROLL,
            event::USER_DISABLE
        ],
        "user disable is one row listing the devices"
    );
    assert_eq!(rows[3]["remote"], "operator");
    let (_, only, _) = server_cli(data, &["audit", "export", "--event", event::USER_DISABLE]);
    assert_eq!(only.lines().count(), 1, "{only}");
    assert!(only.contains("\"user.disable\""), "{only}");
    let (_, future, _) = server_cli(
        data,
        &["audit", "export", "--since", "2999-01-01T00:00:00Z"],
    );
    assert!(future.trim().is_empty(), "nothing after --since: {future}");

    // Someone edits a row behind the server's back.
    let conn =
        rusqlite::Connection::open(data.join(outpost_server::storage::sqlite::DB_FILE)).unwrap();
    conn.execute_batch(
        "DROP TRIGGER audit_log_no_update; UPDATE audit_log SET user_id = 'zhao' WHERE seq = 2 AND event = 'device.enroll';",
    )
    .unwrap();
    let (code, stdout, stderr) = server_cli(data, &["audit", "verify"]);
    assert_eq!(code, 1, "{stdout} {stderr}");
    assert!(
        stdout.contains("row 2: its contents do not match its hash"),
        "{stdout}"
    );
    assert!(stderr.contains("tampered"), "{stderr}");
}
