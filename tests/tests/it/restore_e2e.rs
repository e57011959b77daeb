//! End to end: a server restored from a backup loses nothing its devices made. The real
//! `outpost-server` binary (embedded SQLite with `backup`/`restore`, or PostgreSQL with
//! `pg_dump`/`pg_restore` and `restored`) and `outpost` CLI devices: devices sync, a backup is
//! taken, devices go on (new records, edits of each other's records, a merge), the server is
//! restored from the backup, devices sync again. Every record and every edit of every device is
//! then on the server and on every device, nothing doubled.

use outpost_tests::procs::{BoxError, Device, Server};
use serde_json::Value;
use std::process::Command;

type TestResult = Result<(), BoxError>;

/// The PostgreSQL server the tests use (`OUTPOST_TEST_DATABASE_URL` overrides).
fn pg_admin_url() -> String {
    std::env::var("OUTPOST_TEST_DATABASE_URL")
        .ok()
        .filter(|u| !u.is_empty())
        .unwrap_or_else(|| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

/// `url` with its database replaced by `db`.
fn pg_url(db: &str) -> String {
    let admin = pg_admin_url();
    let scheme_end = admin.find("://").map_or(0, |i| i + 3);
    let (head, rest) = admin.split_at(scheme_end);
    let host = rest.split(['/', '?']).next().unwrap_or(rest);
    format!("{head}{host}/{db}")
}

fn run(program: &str, args: &[&str]) -> Result<String, BoxError> {
    let out = Command::new(program).args(args).output()?;
    if !out.status.success() {
        return Err(format!(
            "{program} {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        )
        .into());
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Databases made for one test, dropped when it ends (also on failure).
struct PgDatabases(Vec<String>);

impl PgDatabases {
    fn create(&mut self) -> Result<String, BoxError> {
        let name = format!("outpost_test_{}", uuid::Uuid::now_v7().simple());
        run(
            "psql",
            &[
                &pg_admin_url(),
                "-qc",
                &format!("CREATE DATABASE \"{name}\""),
            ],
        )?;
        self.0.push(name.clone());
        Ok(name)
    }
}

impl Drop for PgDatabases {
    fn drop(&mut self) {
        for name in &self.0 {
            let _ = run(
                "psql",
                &[
                    &pg_admin_url(),
                    "-qc",
                    &format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"),
                ],
            );
        }
    }
}

/// Where the server keeps its data, and how it is backed up and restored.
enum Backend {
    Sqlite,
    Postgres(PgDatabases),
}

struct Site {
    dir: tempfile::TempDir,
    backend: Backend,
    database: Option<String>,
    server: Server,
}

impl Site {
    fn start(backend: Backend) -> Result<Site, BoxError> {
        let dir = tempfile::tempdir()?;
        let mut backend = backend;
        let database = match &mut backend {
            Backend::Sqlite => None,
            Backend::Postgres(dbs) => Some(pg_url(&dbs.create()?)),
        };
        let server =
            Server::start_on(&dir.path().join("data"), database.as_deref(), "127.0.0.1:0")?;
        Ok(Site {
            dir,
            backend,
            database,
            server,
        })
    }

    /// Takes a backup while the server serves.
    fn backup(&self) -> Result<(), BoxError> {
        let file = self.dir.path().join("backup");
        match &self.database {
            None => {
                let file = file.to_str().ok_or("path")?;
                let info = self.server.admin(&["backup", "--to", file])?;
                assert_eq!(info["tenants"], 1, "{info}");
            }
            Some(url) => {
                let file = file.to_str().ok_or("path")?;
                run("pg_dump", &["-Fc", "-f", file, "-d", url])?;
            }
        }
        Ok(())
    }

    /// Stops the server, restores the backup (renewing the log's identity) and starts it on
    /// the same port.
    fn restore(&mut self) -> Result<(), BoxError> {
        let port = self.server.port;
        self.server.kill()?;
        let file = self.dir.path().join("backup");
        let file = file.to_str().ok_or("path")?.to_string();
        let data = self.dir.path().join("data");
        match &mut self.backend {
            Backend::Sqlite => {
                let restored = outpost_tests::procs::admin(&data, &["restore", "--from", &file])?;
                assert!(restored["previous"].is_string(), "{restored}");
            }
            Backend::Postgres(dbs) => {
                let url = pg_url(&dbs.create()?);
                run("pg_restore", &["--no-owner", "-d", &url, &file])?;
                let renewed = outpost_tests::procs::admin_on(&data, Some(&url), &["restored"])?;
                assert!(renewed["log_id"].is_string(), "{renewed}");
                self.database = Some(url);
            }
        }
        self.server = Server::start_on(
            &data,
            self.database.as_deref(),
            &format!("127.0.0.1:{port}"),
        )?;
        let check = self.server.admin(&["check"])?;
        assert_eq!(check["ok"], true, "{check}");
        Ok(())
    }
}

fn enroll(site: &Site, tenant: &str, user: &str) -> Result<Device, BoxError> {
    let enrolled = site
        .server
        .admin(&["device", "enroll", "--tenant", tenant, "--user", user])?;
    let token = enrolled["token"].as_str().ok_or("token")?;
    let device = Device::new(site.dir.path().join(format!("{user}.db")), user)?;
    device.ok(&["sync", "--server", &site.server.url, "--token", token])?;
    Ok(device)
}

fn add(device: &Device, name: &str, phone: &str) -> Result<String, BoxError> {
    let c = device.ok(&["contact", "add", "--name", name, "--phone", phone])?;
    Ok(c["id"].as_str().ok_or("id")?.to_string())
}

/// The contacts `ids` as a device holds them, without the per-device sync state, and how many
/// contacts its list shows.
fn contacts(device: &Device, ids: &[&str]) -> Result<(Vec<Value>, usize), BoxError> {
    let mut held = Vec::new();
    for id in ids {
        let mut c = device.ok(&["contact", "get", id])?;
        if let Some(o) = c.as_object_mut() {
            o.remove("sync_state");
        }
        held.push(c);
    }
    let listed = device.ok(&["contact", "list", "--include-invalid"])?;
    let listed = listed.as_array().map_or(0, Vec::len);
    Ok((held, listed))
}

fn the_restored_server_gets_back_every_change(backend: Backend) -> TestResult {
    let mut site = Site::start(backend)?;
    let tenant = site
        .server
        .admin(&["tenant", "create", "华南大区", "--sharing", "open"])?;
    let tenant = tenant["id"].as_str().ok_or("tenant id")?.to_string();
    let a = enroll(&site, &tenant, "li_lei")?;
    let b = enroll(&site, &tenant, "han_mei")?;

    // Before the backup.
    let zhang = add(&a, "张伟", "138 0013 8000")?;
    let wang = add(&b, "王芳", "139 0013 9000")?;
    for d in [&a, &b, &a] {
        d.ok(&["sync"])?;
    }
    site.backup()?;

    // After the backup: new records, edits of each other's records, a merge.
    let liu = add(&a, "刘洋", "137 0013 7000")?;
    a.ok(&["contact", "edit", &wang, "--title", "采购经理"])?;
    let chen = add(&b, "陈静", "136 0013 6000")?;
    let zhang_again = add(&b, "张伟", "138 0013 8000")?;
    b.ok(&["contact", "edit", &zhang, "--email", "zw@huaqiang.cn"])?;
    for d in [&a, &b, &a] {
        d.ok(&["sync"])?;
    }
    // B edits A's new record; A merges B's duplicate into its own contact.
    b.ok(&["contact", "edit", &liu, "--company", "佛山照明"])?;
    a.ok(&["contact", "merge", &zhang, &zhang_again])?;
    for d in [&b, &a, &b] {
        d.ok(&["sync"])?;
    }
    let ids = [
        zhang.as_str(),
        wang.as_str(),
        liu.as_str(),
        chen.as_str(),
        zhang_again.as_str(),
    ];
    let before = contacts(&a, &ids)?;
    assert_eq!(before, contacts(&b, &ids)?, "converged before the restore");
    assert_eq!(before.1, 5, "five contacts, none doubled");

    site.restore()?;

    // A syncs first: its edit of B's record and its merge depend on B's changes, which the
    // restored server lost; they wait instead of being undone.
    let report = a.ok(&["sync"])?;
    assert_eq!(report["log_reset"], true, "{report}");
    assert_eq!(report["rejected"], 0, "{report}");
    let report = b.ok(&["sync"])?;
    assert_eq!(report["log_reset"], true, "{report}");
    assert_eq!(report["rejected"], 0, "{report}");
    for d in [&a, &b, &a] {
        let report = d.ok(&["sync"])?;
        assert_eq!(report["log_reset"], false, "{report}");
    }
    let report = b.ok(&["sync"])?;
    assert_eq!(report["deferred"], 0, "{report}");

    // Every device holds everything it held before, and a new device gets the same from the
    // server: every record and every edit is on the server, nothing doubled.
    let c = enroll(&site, &tenant, "xiao_ming")?;
    for (who, device) in [("A", &a), ("B", &b), ("a new device", &c)] {
        assert_eq!(contacts(device, &ids)?, before, "{who} after the restore");
    }
    let before = before.0;
    let merged = before
        .iter()
        .find(|x| x["id"] == zhang_again.as_str())
        .ok_or("merged contact")?;
    assert_eq!(merged["status"], "merged");
    let edited = |id: &str| before.iter().find(|x| x["id"] == id).cloned();
    assert_eq!(edited(&wang).ok_or("wang")?["title"], "采购经理");
    assert_eq!(edited(&liu).ok_or("liu")?["company"], "佛山照明");
    assert_eq!(
        edited(&zhang).ok_or("zhang")?["emails"][0],
        "zw@huaqiang.cn"
    );
    assert!(edited(&chen).is_some());
    assert_eq!(
        edited(&zhang).ok_or("zhang")?["phones"]
            .as_array()
            .map(Vec::len),
        Some(1),
        "no phone doubled"
    );
    let check = site.server.admin(&["check"])?;
    assert_eq!(check["ok"], true, "{check}");
    Ok(())
}

#[test]
fn a_restored_embedded_server_loses_nothing_the_devices_made() -> TestResult {
    the_restored_server_gets_back_every_change(Backend::Sqlite)
}

#[test]
fn a_restored_postgres_server_loses_nothing_the_devices_made() -> TestResult {
    the_restored_server_gets_back_every_change(Backend::Postgres(PgDatabases(Vec::new())))
}

#[test]
fn a_restore_never_runs_under_a_serving_server_and_keeps_what_it_replaces() -> TestResult {
    let site = Site::start(Backend::Sqlite)?;
    site.server.admin(&["tenant", "create", "华东大区"])?;
    site.backup()?;
    let file = site.dir.path().join("backup");
    let file = file.to_str().ok_or("path")?;
    let data = site.dir.path().join("data");
    let refused = outpost_tests::procs::admin(&data, &["restore", "--from", file])
        .err()
        .ok_or("a restore under a serving server was not refused")?;
    assert!(refused.to_string().contains("stop it first"), "{refused}");
    let again = site
        .server
        .admin(&["backup", "--to", file])
        .err()
        .ok_or("overwrote a backup")?;
    assert!(again.to_string().contains("already exists"), "{again}");
    let damaged = site.dir.path().join("damaged");
    std::fs::write(&damaged, b"not a database at all, just text")?;
    drop(site.server);
    let refused = outpost_tests::procs::admin(
        &data,
        &["restore", "--from", damaged.to_str().ok_or("path")?],
    )
    .err()
    .ok_or("a damaged backup was restored")?;
    assert!(refused.to_string().contains("damaged"), "{refused}");
    // Nothing was replaced: the store is sound and its tenant still there.
    let check = outpost_tests::procs::admin(&data, &["check"])?;
    assert_eq!(check["ok"], true, "{check}");
    outpost_tests::procs::admin(&data, &["flow", "get", "--tenant", "华东大区"])?;
    Ok(())
}

/// How many devices sync while the backups are taken, and how many rounds each makes.
const LOAD_DEVICES: usize = 20;
const LOAD_ROUNDS: usize = 4;

#[test]
fn a_backup_taken_while_twenty_devices_sync_is_consistent_and_restores() -> TestResult {
    use outpost_core::{NewContact, Store, StoreOptions, SyncOptions};
    use outpost_server::Role;
    let dir = tempfile::tempdir()?;
    let data = dir.path().join("data");
    let server = outpost_tests::inproc::InProcessServer::start_at(&data)?;
    let tenant = server.tenant("华北大区")?;
    let mut devices = Vec::new();
    for i in 0..LOAD_DEVICES {
        let user = format!("rep{i:02}");
        let token = server.enroll(&tenant, &user, Role::Rep)?;
        let mut store = Store::open(
            dir.path().join(format!("{user}.db")),
            StoreOptions {
                user,
                ..Default::default()
            },
        )?;
        store.set_server(&server.url, &token)?;
        devices.push(std::sync::Arc::new(std::sync::Mutex::new(store)));
    }
    // Every device adds a customer and syncs, round after round, on the server's runtime; after
    // its first round it waits at a gate, so that the first backup surely comes midway.
    let gate = std::sync::Arc::new(tokio::sync::Semaphore::new(0));
    let syncing: Vec<_> = devices
        .iter()
        .enumerate()
        .map(|(i, store)| {
            let store = store.clone();
            let gate = gate.clone();
            server.runtime.spawn(async move {
                for round in 0..LOAD_ROUNDS {
                    if round == 1 {
                        if let Ok(permit) = gate.acquire().await {
                            permit.forget();
                        }
                    }
                    outpost_core::store::lock(&store).add_contact(NewContact {
                        name: format!("客户{i:02}-{round}"),
                        phones: vec![format!("1390000{i:02}{round:02}")],
                        ..Default::default()
                    })?;
                    outpost_core::sync_store(&store, SyncOptions::default()).await?;
                }
                Ok::<_, outpost_core::Error>(())
            })
        })
        .collect();
    // Backups while they sync: the first once the log has entries (the devices wait at the
    // gate after their first round), then while the others go on (at most MAX_BACKUPS).
    const MAX_BACKUPS: usize = 6;
    let started = std::time::Instant::now();
    while server
        .runtime
        .block_on(server.storage.tenant(&tenant))?
        .is_none_or(|t| t.log_head == 0)
    {
        if started.elapsed() > std::time::Duration::from_secs(120) {
            return Err("no device synced within two minutes".into());
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let mut backups = Vec::new();
    while backups.is_empty()
        || (backups.len() < MAX_BACKUPS && syncing.iter().any(|t| !t.is_finished()))
    {
        let file = dir.path().join(format!("backup-{}.db", backups.len()));
        let info =
            outpost_tests::procs::admin(&data, &["backup", "--to", file.to_str().ok_or("path")?])?;
        assert_eq!(info["tenants"], 1, "{info}");
        backups.push((file, info["log_entries"].as_u64().ok_or("log_entries")?));
        if backups.len() == 1 {
            gate.add_permits(LOAD_DEVICES);
        }
    }
    for task in syncing {
        server.runtime.block_on(task)??;
    }
    let total = (LOAD_DEVICES * LOAD_ROUNDS) as u64;
    // The one to restore: taken while the log was growing (the first one, at the latest).
    let midway = backups
        .iter()
        .position(|(_, entries)| (1..total).contains(entries))
        .ok_or_else(|| format!("no backup caught the devices midway: {backups:?}"))?;

    for (n, (file, entries)) in backups.iter().enumerate() {
        // Consistent: the log has no gap, its head is the tenant's, every logged record has its
        // document; then it restores, checks clean and serves its records to a new device.
        let copy = rusqlite::Connection::open(file)?;
        let (head, max_seq, count): (i64, i64, i64) = copy.query_row(
            "SELECT t.log_head, COALESCE(MAX(l.seq), 0), COUNT(l.seq) FROM tenants t LEFT JOIN log l ON l.tenant_id = t.id GROUP BY t.id",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )?;
        assert_eq!((head, max_seq), (count, count), "{}", file.display());
        assert_eq!(count as u64, *entries);
        let orphans: i64 = copy.query_row(
            "SELECT COUNT(DISTINCT l.record_id) FROM log l LEFT JOIN documents d ON d.record_id = l.record_id WHERE d.record_id IS NULL",
            [],
            |r| r.get(0),
        )?;
        assert_eq!(orphans, 0, "{}", file.display());
        let documents: i64 = copy.query_row(
            "SELECT COUNT(*) FROM documents WHERE kind = 'contact'",
            [],
            |r| r.get(0),
        )?;
        drop(copy);
        assert!(documents as u64 <= total);
        if n != midway {
            continue;
        }

        let name = file
            .file_stem()
            .ok_or("name")?
            .to_string_lossy()
            .into_owned();
        let restored = dir.path().join(format!("restored-{name}"));
        let info = outpost_tests::procs::admin(
            &restored,
            &["restore", "--from", file.to_str().ok_or("path")?],
        )?;
        assert!(info["log_id"].is_string(), "{info}");
        let check = outpost_tests::procs::admin(&restored, &["check"])?;
        assert_eq!(check["ok"], true, "{check}");
        let serving = Server::start(&restored, "127.0.0.1:0")?;
        let enrolled =
            serving.admin(&["device", "enroll", "--tenant", &tenant, "--user", "auditor"])?;
        let token = enrolled["token"].as_str().ok_or("token")?;
        let fresh = Device::new(dir.path().join(format!("auditor-{name}.db")), "auditor")?;
        fresh.ok(&["sync", "--server", &serving.url, "--token", token])?;
        let listed = fresh.ok(&["contact", "list", "--limit", "1000"])?;
        assert_eq!(listed.as_array().map(Vec::len), Some(documents as usize));
    }
    Ok(())
}
