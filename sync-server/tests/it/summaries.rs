//! Document summaries (ADR 0021): every push writes a contact's summary with its document, on
//! both backends, and a write that replaces the document without one clears it.

use crate::audit::Raw;
use crate::support::*;
use automerge::AutoCommit;
use outpost_core::sync::protocol::DocSnapshot;
use outpost_core::sync::summary;
use outpost_server::{Storage, Viewer};

async fn snapshot(s: &dyn Storage, tenant: &str, record: &str) -> DocSnapshot {
    let page = s
        .bootstrap(tenant, &Viewer::unrestricted(), None, 100)
        .await
        .unwrap();
    page.docs.into_iter().find(|d| d.record == record).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pushes_write_summaries_that_follow_the_document_on_both_storages() {
    for (raw, s) in Raw::open().await {
        let f = tenant_with_device(&*s, "acme", "alice").await;
        let actor = new_actor();
        let (mut w, c) = ContactWriter::create(&actor, "张伟");
        let first = w.push(c);
        let c = w.set("title", "采购经理");
        s.push(
            &f.device,
            &Viewer::unrestricted(),
            &actor,
            &[first, w.push(c)],
        )
        .await
        .unwrap();
        let snap = snapshot(&*s, &f.tenant.id, &w.record).await;
        let bytes = snap.summary.clone().expect("a contact's summary");
        let sum = summary::read(&w.record, &bytes, &snap.doc).expect("a usable summary");
        let mut doc = AutoCommit::load(&snap.doc).unwrap();
        assert_eq!(
            sum.heads,
            doc.get_heads()
                .iter()
                .flat_map(|h| h.0)
                .collect::<Vec<u8>>()
        );
        assert_eq!(sum.contact.name, "张伟");
        assert_eq!(sum.contact.title.as_deref(), Some("采购经理"));
        assert_eq!(
            summary::summarize(&w.record, "contact", &mut doc),
            Some(bytes.clone()),
            "the device would have made the same summary"
        );

        // The next push replaces it.
        let c = w.set("title", "总经理");
        s.push(&f.device, &Viewer::unrestricted(), &actor, &[w.push(c)])
            .await
            .unwrap();
        let snap = snapshot(&*s, &f.tenant.id, &w.record).await;
        let sum = summary::read(&w.record, &snap.summary.unwrap(), &snap.doc).unwrap();
        assert_eq!(sum.contact.title.as_deref(), Some("总经理"));

        // A write of the document alone (an operator's repair, a future path that forgets
        // it) clears the summary: devices load that document instead of trusting stale rows.
        let record = w.record.replace('\'', "''");
        // The document's chunks twice: still the same document to Automerge, other bytes.
        let doubled = match raw {
            Raw::Sqlite(_) => "CAST(doc || doc AS BLOB)",
            Raw::Postgres(_) => "doc || doc",
        };
        assert!(
            raw.try_sql(&format!(
                "UPDATE documents SET doc = {doubled} WHERE record_id = '{record}'"
            ))
            .await
        );
        let snap = snapshot(&*s, &f.tenant.id, &w.record).await;
        assert_eq!(snap.summary, None);
        // Updating other columns keeps it.
        let c = w.set("title", "董事长");
        s.push(&f.device, &Viewer::unrestricted(), &actor, &[w.push(c)])
            .await
            .unwrap();
        assert!(
            raw.try_sql(&format!(
                "UPDATE documents SET updated_seq = updated_seq WHERE record_id = '{record}'"
            ))
            .await
        );
        let snap = snapshot(&*s, &f.tenant.id, &w.record).await;
        assert!(snap.summary.is_some());
    }
}
