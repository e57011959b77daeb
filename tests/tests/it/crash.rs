//! A process killed mid-write loses nothing that was committed and leaves no half-written record.

use outpost_core::{ListOptions, Store, StoreOptions};
use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

type TestResult = Result<(), Box<dyn std::error::Error>>;
/// Contact id → (name, title of its acknowledged edit).
type Acked = HashMap<String, (String, Option<String>)>;

/// Starts the writer, lets it acknowledge `after` writes, then SIGKILLs it.
fn write_then_kill(db: &std::path::Path, after: usize, acked: &mut Acked) -> TestResult {
    let mut child = Command::new(env!("CARGO_BIN_EXE_outpost-writer"))
        .arg(db)
        .arg("100000")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()?;
    let stdout = child.stdout.take().ok_or("no stdout")?;
    let mut lines = BufReader::new(stdout).lines();
    let mut seen = 0;
    while seen < after {
        let Some(line) = lines.next() else { break };
        let line = line?;
        let mut parts = line.splitn(3, ' ');
        match (parts.next(), parts.next(), parts.next()) {
            (Some("add"), Some(id), Some(name)) => {
                acked.insert(id.to_string(), (name.to_string(), None));
            }
            (Some("edit"), Some(id), Some(title)) => {
                if let Some(entry) = acked.get_mut(id) {
                    entry.1 = Some(title.to_string());
                }
            }
            _ => return Err(format!("unexpected writer output: {line}").into()),
        }
        seen += 1;
    }
    // SIGKILL: no destructors, no checkpoint; the writer is usually inside its next transaction.
    child.kill()?;
    child.wait()?;
    Ok(())
}

fn check_consistent(db: &std::path::Path, acked: &Acked) -> TestResult {
    let store = Store::open(db, StoreOptions::default())?;
    assert!(store.check_integrity()?.is_empty(), "SQLite integrity");
    for (id, (name, title)) in acked {
        let c = store.get_contact(id)?;
        assert_eq!(&c.name, name, "acknowledged record {id} survived");
        if let Some(title) = title {
            // Each record is edited once, so an acknowledged edit is exactly what we read.
            assert_eq!(
                c.title.as_ref(),
                Some(title),
                "acknowledged edit of {id} survived"
            );
        }
        // The projection equals the document: the history (read from the document) ends at the
        // title the projection shows.
        let history = store.contact_history(id)?;
        let last_title = history
            .iter()
            .rev()
            .flat_map(|h| h.changes.iter())
            .find(|f| f.field == "title")
            .and_then(|f| f.new.clone());
        assert_eq!(last_title, c.title, "projection matches document for {id}");
    }
    // No half-written record: every record has its projection, its search row and its outbox entry.
    let conn = rusqlite::Connection::open(db)?;
    let q = |sql: &str| conn.query_row(sql, [], |r| r.get::<_, i64>(0));
    let records = q("SELECT count(*) FROM records WHERE kind = 'contact'")?;
    assert_eq!(records, q("SELECT count(*) FROM contacts")?);
    assert_eq!(records, q("SELECT count(*) FROM contact_search")?);
    assert_eq!(0, q("SELECT count(*) FROM records r WHERE NOT EXISTS (SELECT 1 FROM outbox o WHERE o.rid = r.rid)")?);
    assert_eq!(
        records as usize,
        store.list_contacts(&ListOptions::default())?.len()
    );
    Ok(())
}

#[test]
fn killed_writer_loses_nothing_committed() -> TestResult {
    let dir = tempfile::tempdir()?;
    let db = dir.path().join("crash.db");
    let mut acked = Acked::new();
    for after in [1, 7, 40, 3, 120, 15] {
        write_then_kill(&db, after, &mut acked)?;
        check_consistent(&db, &acked)?;
    }
    assert!(
        acked.len() >= 80,
        "the writer acknowledged records across several kills"
    );
    Ok(())
}
