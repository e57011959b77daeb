//! Attachments through sync: the blob uploads before its record, resumes after an interrupted
//! upload, and another device downloads it on demand, checked against its hash.

use outpost_core::{
    fetch_blob, sha256_hex, sync_store, NewAttachment, NewContact, Store, StoreOptions, SyncClient,
    SyncOptions,
};
use outpost_server::storage::Role;
use outpost_tests::inproc::InProcessServer;
use outpost_tests::procs::BoxError;
use std::sync::Mutex;

type R = Result<(), BoxError>;

fn open(dir: &std::path::Path, name: &str, user: &str) -> Result<Store, BoxError> {
    Ok(Store::open(
        dir.join(name),
        StoreOptions {
            user: user.into(),
            ..Default::default()
        },
    )?)
}

/// A deterministic "scan" larger than one upload chunk.
fn scan_bytes() -> Vec<u8> {
    let mut x: u32 = 0x1234_5678;
    (0..2_600_000)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            (x & 0xff) as u8
        })
        .collect()
}

#[test]
fn attachment_blob_uploads_resumes_and_downloads_elsewhere() -> R {
    let server = InProcessServer::start()?;
    let tenant = server.tenant("acme")?;
    let token_a = server.enroll(&tenant, "wang", Role::Rep)?;
    let token_b = server.enroll(&tenant, "li", Role::Rep)?;
    let dir = tempfile::tempdir()?;

    let mut a = open(dir.path(), "a.db", "wang")?;
    a.set_server(&server.url, &token_a)?;
    let zhang = a.add_contact(NewContact {
        name: "张伟".into(),
        phones: vec!["13800138000".into()],
        ..Default::default()
    })?;
    let bytes = scan_bytes();
    let sha = sha256_hex(&bytes);
    let attached = a.attach(NewAttachment {
        contact_id: zhang.id.clone(),
        category: "contract".into(),
        mime: "image/png".into(),
        bytes: bytes.clone(),
        title: Some("购销合同".into()),
        fields: [("amount".to_string(), "305000.00".to_string())].into(),
        ..Default::default()
    })?;
    assert_eq!(attached.blob_sha256, sha);
    assert_eq!(attached.amount(), Some(305000.0));
    assert_eq!(a.pending_blobs()?.len(), 1);

    // The first megabyte went up, then the signal was lost: the server holds part of it.
    let client = SyncClient::new(&server.url, &token_a, SyncOptions::default())?;
    let first = server.runtime.block_on(client.put_blob_chunk(
        &sha,
        bytes.len() as u64,
        0,
        bytes[..1_048_576].to_vec(),
    ))?;
    assert!(!first.complete);

    // The next sync resumes at the server's offset, then pushes the record.
    let a = Mutex::new(a);
    let report = server
        .runtime
        .block_on(sync_store(&a, SyncOptions::default()))?;
    assert_eq!(report.blobs_uploaded, 1);
    assert!(a
        .lock()
        .map_err(|_| "poisoned")?
        .pending_blobs()?
        .is_empty());
    let on_server = server
        .runtime
        .block_on(server.storage.blob_read(&tenant, &sha))?
        .ok_or("blob missing on the server")?;
    assert_eq!(on_server, bytes);

    // Another device gets the record by sync and the file on demand.
    let mut b = open(dir.path(), "b.db", "li")?;
    b.set_server(&server.url, &token_b)?;
    let b = Mutex::new(b);
    server
        .runtime
        .block_on(sync_store(&b, SyncOptions::default()))?;
    let listed = b
        .lock()
        .map_err(|_| "poisoned")?
        .list_attachments(&zhang.id)?;
    assert_eq!(listed.len(), 1);
    assert_eq!(
        listed[0].fields.get("amount").map(String::as_str),
        Some("305000.00")
    );
    assert_eq!(b.lock().map_err(|_| "poisoned")?.blob(&sha)?, None);
    let fetched = server
        .runtime
        .block_on(fetch_blob(&b, &sha, SyncOptions::default()))?;
    assert_eq!(fetched, bytes);
    // Kept: the second read does not need the server.
    assert_eq!(b.lock().map_err(|_| "poisoned")?.blob(&sha)?, Some(bytes));
    // Not re-uploaded by the device that downloaded it.
    assert!(b
        .lock()
        .map_err(|_| "poisoned")?
        .pending_blobs()?
        .is_empty());
    Ok(())
}

/// Another device of the tenant starts the same file first with a false `Upload-Length`: the
/// honest device's sync still uploads it and ends (it used to loop forever).
#[test]
fn a_false_upload_length_from_another_device_does_not_stall_the_sync() -> R {
    let server = InProcessServer::start()?;
    let tenant = server.tenant("acme")?;
    let token = server.enroll(&tenant, "wang", Role::Rep)?;
    let mallory = server.enroll(&tenant, "mallory", Role::Rep)?;
    let dir = tempfile::tempdir()?;
    let mut a = open(dir.path(), "a.db", "wang")?;
    a.set_server(&server.url, &token)?;
    let zhang = a.add_contact(NewContact {
        name: "张伟".into(),
        ..Default::default()
    })?;
    let bytes = scan_bytes();
    let sha = sha256_hex(&bytes);
    a.attach(NewAttachment {
        contact_id: zhang.id.clone(),
        category: "contract".into(),
        mime: "image/png".into(),
        bytes: bytes.clone(),
        ..Default::default()
    })?;
    let liar = SyncClient::new(&server.url, &mallory, SyncOptions::default())?;
    let poisoned = server.runtime.block_on(liar.put_blob_chunk(
        &sha,
        bytes.len() as u64 + 1_000,
        0,
        bytes[..1_048_576].to_vec(),
    ))?;
    assert!(!poisoned.complete);
    let a = Mutex::new(a);
    let report = server.runtime.block_on(async {
        tokio::time::timeout(
            std::time::Duration::from_secs(120),
            sync_store(&a, SyncOptions::default()),
        )
        .await
    })??;
    assert_eq!(report.blobs_uploaded, 1);
    assert_eq!(report.rejected, 0);
    let on_server = server
        .runtime
        .block_on(server.storage.blob_read(&tenant, &sha))?
        .ok_or("blob missing on the server")?;
    assert_eq!(on_server, bytes);
    Ok(())
}

#[test]
fn attaching_refuses_bad_input_and_keeps_the_store_unchanged() -> R {
    let dir = tempfile::tempdir()?;
    let mut s = open(dir.path(), "s.db", "wang")?;
    let c = s.add_contact(NewContact {
        name: "李娜".into(),
        ..Default::default()
    })?;
    let good = NewAttachment {
        contact_id: c.id.clone(),
        category: "contract".into(),
        mime: "image/png".into(),
        bytes: vec![1, 2, 3],
        ..Default::default()
    };
    // An unknown contact is not found (the CLI's exit 3), naming it.
    match s.attach(NewAttachment {
        contact_id: "nope".into(),
        ..good.clone()
    }) {
        Err(outpost_core::Error::NotFound { kind, id }) => {
            assert_eq!((kind, id.as_str()), ("contact", "nope"))
        }
        other => return Err(format!("expected contact nope not found, got {other:?}").into()),
    }
    for (bad, field) in [
        (
            NewAttachment {
                category: "invoice".into(),
                ..good.clone()
            },
            "category",
        ),
        (
            NewAttachment {
                bytes: vec![],
                ..good.clone()
            },
            "file",
        ),
    ] {
        match s.attach(bad) {
            Err(outpost_core::Error::Validation { field: f, .. }) => assert_eq!(f, field),
            other => {
                return Err(format!("{field}: expected a validation error, got {other:?}").into())
            }
        }
    }
    assert!(s.list_attachments(&c.id)?.is_empty());
    assert!(s.pending_blobs()?.is_empty());
    // The same file twice is one blob.
    let one = s.attach(good.clone())?;
    let two = s.attach(good)?;
    assert_eq!(one.blob_sha256, two.blob_sha256);
    assert_eq!(s.pending_blobs()?.len(), 1);
    assert_eq!(s.list_attachments(&c.id)?.len(), 2);
    Ok(())
}

#[test]
fn attachments_of_a_merged_contact_read_as_the_survivors() -> R {
    let dir = tempfile::tempdir()?;
    let mut s = open(dir.path(), "s.db", "wang")?;
    let winner = s.add_contact(NewContact {
        name: "张伟".into(),
        phones: vec!["13800138000".into()],
        ..Default::default()
    })?;
    let loser = s.add_contact(NewContact {
        name: "张经理".into(),
        phones: vec!["+86 138-0013-8000".into()],
        ..Default::default()
    })?;
    let scan = NewAttachment {
        contact_id: loser.id.clone(),
        category: "contract".into(),
        mime: "image/png".into(),
        bytes: vec![9, 9, 9],
        ..Default::default()
    };
    let before = s.attach(scan.clone())?;
    s.merge_contacts(&winner.id, &loser.id)?;
    let listed: Vec<String> = s
        .list_attachments(&winner.id)?
        .into_iter()
        .map(|a| a.id)
        .collect();
    assert_eq!(listed, std::slice::from_ref(&before.id));
    // Attaching to the merged contact lands on the survivor.
    let after = s.attach(scan)?;
    assert_eq!(after.contact_id, winner.id);
    assert_eq!(s.list_attachments(&winner.id)?.len(), 2);
    Ok(())
}
