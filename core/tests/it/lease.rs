//! The device lease with an injected clock: a store that does not sync locks, then wipes,
//! offline.

use super::{open, zhang, TestResult};
use outpost_core::sync::protocol::{SyncResponse, PROTOCOL_VERSION};
use outpost_core::{Clock, Error, LeasePolicy, LeaseState, Store, StoreOptions};

const DAY: i64 = 24 * 3600 * 1000;

/// Completes one (empty) sync round as if the server had answered, which renews the lease.
fn synced(store: &mut Store) -> Result<i64, outpost_core::Error> {
    let outgoing = store.prepare_sync(100, None)?;
    store.apply_sync_response(
        &outgoing,
        SyncResponse {
            v: PROTOCOL_VERSION,
            rejected: vec![],
            entries: vec![],
            cursor: 0,
            more: false,
            server_time_ms: 0,
            log_id: None,
            deferred: Vec::new(),
            scope: None,
        },
    )?;
    // The lease runs from the device clock at the end of the sync.
    match store.lease_state(0)? {
        LeaseState::Valid { locks_at_ms } => Ok(locks_at_ms - store.lease_policy()?.lease_ms),
        other => panic!("after a sync the lease is valid, got {other:?}"),
    }
}

#[test]
fn a_store_that_never_synced_has_no_lease() -> TestResult {
    let dir = tempfile::tempdir()?;
    let mut store = open(&dir)?;
    store.add_contact(zhang())?;
    let far = i64::MAX / 2;
    assert_eq!(store.enforce_lease(far)?, LeaseState::Unleased);
    assert_eq!(store.list_contacts(&Default::default())?.len(), 1);
    Ok(())
}

#[test]
fn an_unsynced_store_locks_then_wipes_offline() -> TestResult {
    let dir = tempfile::tempdir()?;
    let mut store = open(&dir)?;
    let id = store.add_contact(zhang())?.id;
    let t0 = synced(&mut store)?;
    assert!(matches!(
        store.enforce_lease(t0 + 13 * DAY)?,
        LeaseState::Valid { .. }
    ));

    let err = store
        .enforce_lease(t0 + 15 * DAY)
        .err()
        .ok_or("must lock")?;
    assert_eq!(err.kind(), "locked", "{err}");
    assert!(matches!(
        err,
        outpost_core::Error::Locked { wiped: false, .. }
    ));
    assert!(matches!(
        store.lease_state(t0 + 15 * DAY)?,
        LeaseState::Locked { since_ms, wipes_at_ms } if since_ms == t0 + 14 * DAY && wipes_at_ms == t0 + 21 * DAY
    ));
    // The latest time seen is remembered: reads at the store's own clock are refused too.
    let err = store
        .get_contact(&id)
        .err()
        .ok_or("locked: reads refused")?;
    assert!(
        matches!(err, outpost_core::Error::Locked { wiped: false, .. }),
        "{err}"
    );
    // A sync renews the lease, and the data was still there.
    let t0 = synced(&mut store)?;
    assert_eq!(
        store.get_contact(&id)?.name,
        "张伟",
        "locked, not yet wiped"
    );

    let err = store
        .enforce_lease(t0 + 22 * DAY)
        .err()
        .ok_or("must wipe")?;
    assert!(
        matches!(err, outpost_core::Error::Locked { wiped: true, .. }),
        "{err}"
    );
    assert!(matches!(
        store.lease_state(t0 + 23 * DAY)?,
        LeaseState::Wiped { .. }
    ));
    // Still refused afterwards, until the device signs in and syncs again.
    assert!(store.enforce_lease(t0 + 23 * DAY).is_err());
    let err = store
        .list_contacts(&Default::default())
        .err()
        .ok_or("wiped: reads refused")?;
    assert!(
        matches!(err, outpost_core::Error::Locked { wiped: true, .. }),
        "{err}"
    );
    let t1 = synced(&mut store)?;
    assert!(matches!(
        store.enforce_lease(t1 + DAY)?,
        LeaseState::Valid { .. }
    ));
    assert!(
        store.list_contacts(&Default::default())?.is_empty(),
        "wiped"
    );
    assert_eq!(store.status()?.outbox_len, 0);
    Ok(())
}

#[test]
fn a_sync_renews_the_lease() -> TestResult {
    let dir = tempfile::tempdir()?;
    let mut store = open(&dir)?;
    let t0 = synced(&mut store)?;
    assert!(store.enforce_lease(t0 + 15 * DAY).is_err());
    let t1 = synced(&mut store)?;
    assert!(t1 >= t0);
    assert!(matches!(
        store.enforce_lease(t1 + 13 * DAY)?,
        LeaseState::Valid { .. }
    ));
    Ok(())
}

#[test]
fn setting_the_clock_back_does_not_unlock() -> TestResult {
    let dir = tempfile::tempdir()?;
    let mut store = open(&dir)?;
    store.set_lease_policy(LeasePolicy {
        lease_ms: 2 * DAY,
        grace_ms: 5 * DAY,
    })?;
    let t0 = synced(&mut store)?;
    assert!(
        store.enforce_lease(t0 + 3 * DAY).is_err(),
        "locked after 2 days"
    );
    // The rep sets the phone's clock back a week.
    let err = store
        .enforce_lease(t0 - 7 * DAY)
        .err()
        .ok_or("still locked")?;
    assert_eq!(err.kind(), "locked");
    // And the grace period still runs out on the latest time seen.
    assert!(store.enforce_lease(t0 + 8 * DAY).is_err());
    assert!(matches!(store.lease_state(t0)?, LeaseState::Wiped { .. }));
    Ok(())
}

#[test]
fn lease_policies_must_be_positive() -> TestResult {
    let dir = tempfile::tempdir()?;
    let mut store = open(&dir)?;
    let err = store
        .set_lease_policy(LeasePolicy {
            lease_ms: 0,
            grace_ms: DAY,
        })
        .err()
        .ok_or("must fail")?;
    assert!(
        matches!(err, outpost_core::Error::Validation { ref field, .. } if field == "lease_ms")
    );
    assert_eq!(store.lease_policy()?, LeasePolicy::default());
    Ok(())
}

/// One (empty) sync round whose answer carries the tenant's lease.
fn synced_with_tenant_lease(store: &mut Store, lease_ms: i64, grace_ms: i64) -> TestResult {
    let outgoing = store.prepare_sync(100, None)?;
    store.apply_sync_response(
        &outgoing,
        SyncResponse {
            v: PROTOCOL_VERSION,
            rejected: vec![],
            entries: vec![],
            cursor: 0,
            more: false,
            server_time_ms: 0,
            log_id: None,
            deferred: Vec::new(),
            scope: Some(outpost_core::sync::protocol::ScopeInfo {
                epoch: 1,
                user: "rep1".into(),
                role: "rep".into(),
                lease_ms: Some(lease_ms),
                grace_ms: Some(grace_ms),
                ..Default::default()
            }),
        },
    )?;
    Ok(())
}

#[test]
fn the_tenants_lease_binds_the_device_which_may_only_be_stricter() -> TestResult {
    let dir = tempfile::tempdir()?;
    let mut store = open(&dir)?;
    // Before the server said anything, the device sets its own.
    store.set_lease_policy(LeasePolicy {
        lease_ms: 365 * DAY,
        grace_ms: 30 * DAY,
    })?;
    synced_with_tenant_lease(&mut store, 3 * DAY, DAY)?;
    let tenant = LeasePolicy {
        lease_ms: 3 * DAY,
        grace_ms: DAY,
    };
    assert_eq!(store.tenant_lease_policy()?, Some(tenant));
    assert_eq!(
        store.lease_policy()?,
        tenant,
        "the tenant's lease is in force"
    );

    // Longer than the tenant's: refused, naming the field; nothing changes.
    for (policy, field) in [
        (
            LeasePolicy {
                lease_ms: 365 * DAY,
                grace_ms: DAY,
            },
            "lease_ms",
        ),
        (
            LeasePolicy {
                lease_ms: DAY,
                grace_ms: 2 * DAY,
            },
            "grace_ms",
        ),
    ] {
        let err = store
            .set_lease_policy(policy)
            .err()
            .ok_or("a longer lease must be refused")?;
        assert!(
            matches!(err, outpost_core::Error::Validation { field: ref f, ref reason, .. } if f == field && reason.contains("stricter")),
            "{err}"
        );
        assert_eq!(store.lease_policy()?, tenant);
    }
    // Stricter: allowed, and it stays after the next sync brings the tenant's lease again.
    store.set_lease_policy(LeasePolicy {
        lease_ms: DAY,
        grace_ms: DAY / 2,
    })?;
    synced_with_tenant_lease(&mut store, 3 * DAY, DAY)?;
    let strict = LeasePolicy {
        lease_ms: DAY,
        grace_ms: DAY / 2,
    };
    assert_eq!(store.lease_policy()?, strict);
    // The tenant shortens its lease below the device's: the tenant's applies there.
    synced_with_tenant_lease(&mut store, DAY / 2, 5 * DAY)?;
    assert_eq!(
        store.lease_policy()?,
        LeasePolicy {
            lease_ms: DAY / 2,
            grace_ms: DAY / 2,
        }
    );
    Ok(())
}

#[test]
fn the_store_checks_its_lease_at_the_clock_in_its_options() -> TestResult {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("rep.db");
    let options = |clock| outpost_core::StoreOptions {
        user: "rep1".into(),
        clock,
        ..Default::default()
    };
    let t0 = {
        let mut store = Store::open(&path, options(outpost_core::Clock::system()))?;
        store.add_contact(zhang())?;
        let t0 = synced(&mut store)?;
        store.add_contact(zhang())?;
        assert!(matches!(store.check_lease()?, LeaseState::Valid { .. }));
        t0
    };
    // Fifteen days later by the store's clock: locked, the data still there.
    {
        let store = Store::open(&path, options(outpost_core::Clock::fixed(t0 + 15 * DAY)))?;
        let err = store.check_lease().err().ok_or("must lock")?;
        assert!(
            matches!(err, outpost_core::Error::Locked { wiped: false, .. }),
            "{err}"
        );
        // The unsent change is kept for the sync that renews the lease.
        assert_eq!(store.prepare_sync(100, None)?.len(), 1);
    }
    // Twenty-two days later: wiped.
    let store = Store::open(&path, options(outpost_core::Clock::fixed(t0 + 22 * DAY)))?;
    let err = store.check_lease().err().ok_or("must wipe")?;
    assert!(
        matches!(err, outpost_core::Error::Locked { wiped: true, .. }),
        "{err}"
    );
    assert!(store.prepare_sync(100, None)?.is_empty(), "wiped");
    Ok(())
}

/// What a front end that forgets the lease gets: nothing. The store is opened and used through
/// the core API alone, at the clock in its options, with no lease call in between.
#[test]
fn a_store_past_its_lease_refuses_reads_and_writes_by_itself() -> TestResult {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("rep.db");
    let options = |clock| StoreOptions {
        user: "rep1".into(),
        clock,
        ..Default::default()
    };
    let (t0, id) = {
        let mut store = Store::open(&path, options(Clock::system()))?;
        let id = store.add_contact(zhang())?.id;
        (synced(&mut store)?, id)
    };

    // Fifteen days without a sync: every read and write is refused.
    {
        let mut store = Store::open(&path, options(Clock::fixed(t0 + 15 * DAY)))?;
        let refused = [
            store.get_contact(&id).err(),
            store.list_contacts(&Default::default()).err(),
            store.search("张伟", &Default::default()).err(),
            store.status().err(),
            store.add_contact(zhang()).err(),
            store
                .check_in(outpost_core::CheckIn {
                    contact_id: id.clone(),
                    lat: 22.54,
                    lon: 114.06,
                    accuracy_m: Some(10.0),
                    device_time: None,
                    elapsed_ms: None,
                    coords: None,
                })
                .err(),
            // A locked store may not extend its own lease either.
            store
                .set_lease_policy(LeasePolicy {
                    lease_ms: 30 * DAY,
                    grace_ms: 30 * DAY,
                })
                .err(),
        ];
        for (i, err) in refused.into_iter().enumerate() {
            let err = err.ok_or(format!("call {i} must be refused"))?;
            assert!(
                matches!(err, Error::Locked { wiped: false, .. }),
                "call {i}: {err}"
            );
        }
        // What works locked: the lease's own calls, and the sync that renews it (nothing was
        // written by the refused calls).
        assert!(matches!(
            store.lease_state(t0 + 15 * DAY)?,
            LeaseState::Locked { .. }
        ));
        assert_eq!(store.lease_policy()?, LeasePolicy::default());
        assert!(store.prepare_sync(100, None)?.is_empty());
    }

    // Twenty-two days: the first read wipes the store, offline.
    {
        let store = Store::open(&path, options(Clock::fixed(t0 + 22 * DAY)))?;
        let err = store
            .get_contact(&id)
            .err()
            .ok_or("past the grace period: refused")?;
        assert!(matches!(err, Error::Locked { wiped: true, .. }), "{err}");
        assert!(matches!(
            store.lease_state(t0 + 22 * DAY)?,
            LeaseState::Wiped { .. }
        ));
    }

    // Signing in and syncing again starts afresh: the contact is gone from the device.
    let mut store = Store::open(&path, options(Clock::system()))?;
    assert!(store.status().is_err(), "wiped: refused until a sync");
    synced(&mut store)?;
    assert!(store.list_contacts(&Default::default())?.is_empty());
    assert!(matches!(
        store.get_contact(&id),
        Err(Error::NotFound { .. })
    ));
    Ok(())
}
