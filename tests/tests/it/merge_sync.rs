//! Merges travel through the real sync path (in-process server, real HTTP, real SQLite on both
//! sides) and converge: concurrent merges A into B and B into A, chains, and cycles of three
//! end with every device showing the same survivor (docs/adr/0012-merge-survivor.md).

use outpost_core::{
    CheckIn, ContactStatus, ListOptions, NewContact, Store, StoreOptions, SyncClient, SyncOptions,
    VisitFilter,
};
use outpost_server::storage::Role;
use proptest::prelude::*;

type Harness = outpost_tests::inproc::InProcessServer;
type R<T> = Result<T, outpost_tests::procs::BoxError>;

struct Dev {
    store: Store,
    client: SyncClient,
}

impl Dev {
    fn sync(&mut self, h: &Harness) -> R<()> {
        if self.store.needs_bootstrap()? {
            self.store.finish_bootstrap(0)?;
        }
        for _ in 0..1000 {
            let out = self.store.prepare_sync(50, Some(5))?;
            let response = h.runtime.block_on(self.client.sync(&out.request))?.response;
            let applied = self.store.apply_sync_response(&out, response)?;
            if out.is_empty() && !applied.more {
                return Ok(());
            }
        }
        Err("sync did not finish".into())
    }
}

/// A name no other test uses.
fn unique() -> String {
    static N: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    format!(
        "{nanos}-{}",
        N.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    )
}

/// `n` devices of one new tenant, each with its own store in `dir`.
fn devices(h: &Harness, dir: &std::path::Path, n: usize) -> R<Vec<Dev>> {
    let tenant = h
        .runtime
        .block_on(h.storage.create_tenant(&format!("merge-{}", unique())))?;
    h.runtime.block_on(
        h.storage
            .set_sharing(&tenant.id, outpost_server::Sharing::Open),
    )?;
    let mut devs = Vec::new();
    for i in 0..n {
        let user = format!("rep{i}");
        let enrolled = h.runtime.block_on(outpost_server::enroll_device(
            &*h.storage,
            &tenant.id,
            &user,
            Role::Rep,
        ))?;
        devs.push(Dev {
            store: Store::open(
                dir.join(format!("{i}.db")),
                StoreOptions {
                    user,
                    ..Default::default()
                },
            )?,
            client: SyncClient::new(
                &h.url,
                &enrolled.token,
                SyncOptions {
                    attempts: 1,
                    ..Default::default()
                },
            )?,
        });
    }
    Ok(devs)
}

/// Device 0 creates `n` contacts and everyone syncs them.
fn shared_contacts(h: &Harness, devs: &mut [Dev], n: usize) -> R<Vec<String>> {
    let mut ids = Vec::new();
    for i in 0..n {
        ids.push(
            devs[0]
                .store
                .add_contact(NewContact {
                    name: format!("客户{i}"),
                    phones: vec![format!("1380013{:04}", 8000 + i)],
                    ..Default::default()
                })?
                .id,
        );
    }
    settle(h, devs)?;
    Ok(ids)
}

/// Everyone syncs until nothing moves.
fn settle(h: &Harness, devs: &mut [Dev]) -> R<()> {
    for _ in 0..2 {
        for d in devs.iter_mut() {
            d.sync(h)?;
        }
    }
    Ok(())
}

/// What a device shows of every contact: (id, status, merged_into).
fn view(d: &Dev) -> R<Vec<(String, String, Option<String>)>> {
    let mut v: Vec<_> = d
        .store
        .list_contacts(&ListOptions {
            include_invalid: true,
            limit: None,
        })?
        .into_iter()
        .map(|c| (c.id, c.status.as_str().to_string(), c.merged_into))
        .collect();
    v.sort();
    Ok(v)
}

fn assert_converged(devs: &[Dev]) -> R<Vec<(String, String, Option<String>)>> {
    let first = view(&devs[0])?;
    for (i, d) in devs.iter().enumerate().skip(1) {
        assert_eq!(view(d)?, first, "device {i} differs from device 0");
    }
    // Every merged contact points at a survivor that is not merged itself.
    for (id, status, into) in &first {
        if status == "merged" {
            let target = first.iter().find(|(t, _, _)| Some(t) == into.as_ref());
            assert!(
                target.is_some_and(|(_, s, _)| s != "merged"),
                "{id} merged into {into:?}, which is not a survivor: {first:?}"
            );
        } else {
            assert!(
                into.is_none(),
                "{id} is {status} but has merged_into {into:?}"
            );
        }
    }
    Ok(first)
}

#[test]
fn crossed_merges_on_two_devices_converge_on_the_smallest_id() -> R<()> {
    let h = Harness::start()?;
    let dir = tempfile::tempdir()?;
    let mut devs = devices(&h, dir.path(), 2)?;
    let ids = shared_contacts(&h, &mut devs, 2)?;
    let (a, b) = (ids[0].clone(), ids[1].clone());
    // A visit at B on device 1, before anyone merges.
    let visit = devs[1].store.check_in(CheckIn {
        contact_id: b.clone(),
        lat: 22.54,
        lon: 113.95,
        accuracy_m: None,
        device_time: None,
        elapsed_ms: None,
        coords: None,
    })?;
    // Offline, device 0 merges A into B and device 1 merges B into A.
    devs[0].store.merge_contacts(&b, &a)?;
    devs[1].store.merge_contacts(&a, &b)?;
    settle(&h, &mut devs)?;
    let view = assert_converged(&devs)?;
    let survivor = a.clone().min(b.clone());
    let loser = if survivor == a { b.clone() } else { a.clone() };
    for d in &devs {
        let s = d.store.get_contact(&survivor)?;
        assert_eq!(s.status, ContactStatus::Active, "{view:?}");
        let l = d.store.get_contact(&loser)?;
        assert_eq!(l.status, ContactStatus::Merged);
        assert_eq!(l.merged_into.as_deref(), Some(survivor.as_str()));
        assert_eq!(d.store.list_contacts(&ListOptions::default())?.len(), 1);
        // Both sides' phones are on the survivor.
        assert_eq!(s.phones.len(), 2, "{:?}", s.phones);
        // The visit reads as the survivor's everywhere.
        let visits = d.store.list_visits(&VisitFilter {
            contact_id: Some(survivor.clone()),
            ..Default::default()
        })?;
        assert_eq!(
            visits.iter().map(|v| &v.id).collect::<Vec<_>>(),
            [&visit.id]
        );
    }
    // Unmerging the loser on one device restores it everywhere.
    devs[0].store.unmerge_contact(&loser)?;
    settle(&h, &mut devs)?;
    assert_converged(&devs)?;
    for d in &devs {
        assert_eq!(d.store.list_contacts(&ListOptions::default())?.len(), 2);
    }
    Ok(())
}

#[test]
fn a_cycle_of_three_and_a_chain_converge() -> R<()> {
    let h = Harness::start()?;
    let dir = tempfile::tempdir()?;
    let mut devs = devices(&h, dir.path(), 3)?;
    let ids = shared_contacts(&h, &mut devs, 5)?;
    // A cycle: 0 into 1, 1 into 2, 2 into 0, each on its own device.
    devs[0].store.merge_contacts(&ids[1], &ids[0])?;
    devs[1].store.merge_contacts(&ids[2], &ids[1])?;
    devs[2].store.merge_contacts(&ids[0], &ids[2])?;
    // A chain across devices: 3 into 4 here, and concurrently 4 into 0 (of the cycle) there.
    devs[0].store.merge_contacts(&ids[4], &ids[3])?;
    devs[1].store.merge_contacts(&ids[0], &ids[4])?;
    settle(&h, &mut devs)?;
    let view = assert_converged(&devs)?;
    let survivor = ids[..3].iter().min().cloned().unwrap_or_default();
    for (id, status, into) in &view {
        if *id == survivor {
            assert_eq!(status, "active");
        } else {
            assert_eq!(status, "merged", "{id}: {view:?}");
            assert_eq!(into.as_deref(), Some(survivor.as_str()), "{id}: {view:?}");
        }
    }
    Ok(())
}

#[derive(Debug, Clone)]
enum Op {
    Merge {
        device: usize,
        winner: usize,
        loser: usize,
    },
    Unmerge {
        device: usize,
        contact: usize,
    },
    Sync {
        device: usize,
    },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (0..3usize, 0..4usize, 0..4usize)
            .prop_map(|(device, winner, loser)| Op::Merge { device, winner, loser }),
        1 => (0..3usize, 0..4usize).prop_map(|(device, contact)| Op::Unmerge { device, contact }),
        2 => (0..3usize).prop_map(|device| Op::Sync { device }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 12, ..ProptestConfig::default() })]

    /// Any interleaving of merges, unmerges and syncs on three devices ends with every device
    /// showing the same survivors, and no contact merged into a merged one.
    #[test]
    fn random_merges_converge(ops in proptest::collection::vec(op(), 1..14)) {
        let run = || -> R<()> {
            let h = Harness::start()?;
            let dir = tempfile::tempdir()?;
            let mut devs = devices(&h, dir.path(), 3)?;
            let ids = shared_contacts(&h, &mut devs, 4)?;
            for op in &ops {
                match *op {
                    // Refusals (already merged, into itself, ...) are part of the game.
                    Op::Merge { device, winner, loser } => {
                        let _ = devs[device].store.merge_contacts(&ids[winner], &ids[loser]);
                    }
                    Op::Unmerge { device, contact } => {
                        let _ = devs[device].store.unmerge_contact(&ids[contact]);
                    }
                    Op::Sync { device } => devs[device].sync(&h)?,
                }
            }
            settle(&h, &mut devs)?;
            assert_converged(&devs)?;
            Ok(())
        };
        if let Err(e) = run() {
            return Err(TestCaseError::fail(e.to_string()));
        }
    }
}
