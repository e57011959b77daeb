//! Fault-injection helper: writes contacts (and edits them) in a loop, printing each record id on
//! stdout only after its transaction committed. Tests kill it with SIGKILL at arbitrary points
//! and check that everything it printed survived and nothing was half-written.
//!
//! Usage: `outpost-writer DB_PATH COUNT`

use outpost_core::{ContactPatch, NewContact, Store, StoreOptions};
use std::io::Write;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let path = args.next().ok_or("usage: outpost-writer DB_PATH COUNT")?;
    let count: usize = args
        .next()
        .ok_or("usage: outpost-writer DB_PATH COUNT")?
        .parse()?;
    let mut store = Store::open(
        &path,
        StoreOptions {
            user: "writer".into(),
            ..Default::default()
        },
    )?;
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let mut last = None;
    for i in 0..count {
        let c = store.add_contact(NewContact {
            name: format!("写入测试{i}"),
            company: Some(format!("崩溃测试科技有限公司{}", i % 17)),
            phones: vec![format!("138{:08}", i)],
            notes: Some("断电、杀进程都不能丢数据。".repeat(20)),
            ..Default::default()
        })?;
        writeln!(out, "add {} {}", c.id, c.name)?;
        out.flush()?;
        if let Some(prev) = last.replace(c.id.clone()) {
            let title = format!("第{i}次修改");
            store.edit_contact(
                &prev,
                ContactPatch {
                    title: Some(title.clone()),
                    ..Default::default()
                },
            )?;
            writeln!(out, "edit {prev} {title}")?;
            out.flush()?;
        }
    }
    Ok(())
}
