//! The device lease: offboarding that works in airplane mode.
//!
//! Once a store has synced, it holds a lease: if it does not sync again within the lease
//! (default 14 days) it locks itself (reads and writes fail with [`Error::Locked`]; a sync,
//! which renews the lease, still works), and if it stays unsynced for a further grace period
//! (default 7 days) it wipes its local data like a revoked device ([`Store::wipe`]), without
//! any server contact. A store that never synced (a local-only store) has no lease.
//!
//! The tenant's lease (`outpost-server tenant lease`) arrives with every sync and binds the
//! device: a policy set on the device ([`Store::set_lease_policy`]) may only be stricter, and
//! the stricter of the two applies to each duration.
//!
//! The store enforces its lease itself, at the start of every read and write of records
//! ([`Store::guard`]), so that no front end (the apps' bindings, the CLI, one written later)
//! can forget it. What works on a locked store: the lease's own calls (state, policy, check),
//! signing in ([`Store::sign_in`]), the sync protocol's calls (a sync is what renews the lease;
//! `sync_store` drives them), the integrity check, and [`Store::wipe`].
//!
//! The clock is the store's ([`crate::StoreOptions::clock`], the system clock unless a test
//! gives another) or passed in (`now_ms`), so the checks are tested with an injected clock.
//! Setting the device's clock back does not extend a lease: the latest time seen since the
//! last sync is remembered and used when the clock goes backwards.

use super::settings::{self, KEY_LAST_SYNC};
use super::Store;
use crate::error::{Error, Result};
use rusqlite::TransactionBehavior;
use serde::{Deserialize, Serialize};

/// The policy set on the device.
const KEY_LEASE_MS: &str = "lease_ms";
const KEY_GRACE_MS: &str = "lease_grace_ms";
/// The tenant's policy, as the last sync answer carried it.
const KEY_TENANT_LEASE_MS: &str = "tenant_lease_ms";
const KEY_TENANT_GRACE_MS: &str = "tenant_grace_ms";
/// `"<latest now_ms seen> <last_sync_at it belongs to>"`.
const KEY_CLOCK_MAX: &str = "lease_clock_max";
/// Set when the lease wiped the store (RFC 3339).
const KEY_LEASE_WIPED: &str = "lease_wiped_at";

const DAY_MS: i64 = 24 * 3600 * 1000;

/// How long a store may go without syncing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ffi", derive(uniffi::Record))]
pub struct LeasePolicy {
    /// Without a sync for this long the store locks (default 14 days).
    pub lease_ms: i64,
    /// Locked for this long more, the store wipes its data (default 7 days).
    pub grace_ms: i64,
}

impl Default for LeasePolicy {
    fn default() -> Self {
        LeasePolicy {
            lease_ms: 14 * DAY_MS,
            grace_ms: 7 * DAY_MS,
        }
    }
}

/// Where a store stands with its lease.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ffi", derive(uniffi::Enum))]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum LeaseState {
    /// Never synced: no lease, nothing to enforce.
    Unleased,
    /// Usable; locks at `locks_at_ms` unless it syncs before.
    Valid {
        /// When the store locks (ms since the epoch).
        locks_at_ms: i64,
    },
    /// Locked: reads and writes are refused until a sync renews the lease.
    Locked {
        /// When it locked.
        since_ms: i64,
        /// When it wipes unless it syncs before.
        wipes_at_ms: i64,
    },
    /// The lease expired past its grace period and the local data was wiped.
    Wiped {
        /// When (RFC 3339).
        at: String,
    },
}

/// A sync completed inside `tx`: the lease starts again from its time, whatever clock values
/// were seen before.
pub(crate) fn renewed(tx: &rusqlite::Transaction<'_>) -> Result<()> {
    settings::remove(tx, KEY_CLOCK_MAX)?;
    settings::remove(tx, KEY_LEASE_WIPED)?;
    Ok(())
}

/// The tenant's lease from a sync answer, stored inside the transaction that applies it (a
/// policy set on the device only applies where it is stricter). Values that are not positive
/// are ignored.
pub(crate) fn apply_tenant_policy(
    tx: &rusqlite::Transaction<'_>,
    lease_ms: i64,
    grace_ms: i64,
) -> Result<()> {
    if lease_ms <= 0 || grace_ms <= 0 {
        return Ok(());
    }
    for (key, value) in [
        (KEY_TENANT_LEASE_MS, lease_ms),
        (KEY_TENANT_GRACE_MS, grace_ms),
    ] {
        settings::set(tx, key, &value.to_string())?;
    }
    Ok(())
}

fn rfc3339(ms: i64) -> String {
    crate::record::rfc3339_ms(ms)
}

/// Milliseconds as days, for messages (`3`, `0.5`).
fn days(ms: i64) -> String {
    let d = ms as f64 / DAY_MS as f64;
    format!("{}", (d * 1000.0).round() / 1000.0)
}

/// Milliseconds since the epoch on the device clock: the one reading of the system clock in the
/// store (the lease's default [`Clock`] and every write's time).
pub(crate) fn system_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// Where a store reads the time for its lease: the system clock, or one a test gives.
#[derive(Clone)]
pub struct Clock(std::sync::Arc<dyn Fn() -> i64 + Send + Sync>);

impl Clock {
    /// The device's clock.
    pub fn system() -> Clock {
        Clock(std::sync::Arc::new(system_ms))
    }

    /// A clock that always says `ms` (ms since the epoch), for tests.
    pub fn fixed(ms: i64) -> Clock {
        Clock(std::sync::Arc::new(move || ms))
    }

    /// A clock read from `f` (ms since the epoch), for tests that move time.
    pub fn from_fn(f: impl Fn() -> i64 + Send + Sync + 'static) -> Clock {
        Clock(std::sync::Arc::new(f))
    }

    /// The time now, in ms since the epoch.
    pub fn now_ms(&self) -> i64 {
        (self.0)()
    }
}

impl Default for Clock {
    fn default() -> Self {
        Clock::system()
    }
}

impl std::fmt::Debug for Clock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Clock({})", self.now_ms())
    }
}

impl Store {
    /// Sets how long this store may go without syncing (`lease_ms`, then `grace_ms` until it
    /// wipes). Both must be positive. Once the server sent the tenant's lease, neither may be
    /// longer than the tenant's ([`Error::Validation`] naming it): the device may only make its
    /// lease stricter.
    ///
    /// Refused while the store is locked ([`Error::Locked`]): a locked store cannot extend its
    /// own lease.
    pub fn set_lease_policy(&mut self, policy: LeasePolicy) -> Result<()> {
        self.guard()?;
        if policy.lease_ms <= 0 {
            return Err(Error::validation(
                "lease_ms",
                policy.lease_ms.to_string(),
                "must be positive",
            ));
        }
        if policy.grace_ms <= 0 {
            return Err(Error::validation(
                "grace_ms",
                policy.grace_ms.to_string(),
                "must be positive",
            ));
        }
        if let Some(tenant) = self.tenant_lease_policy()? {
            for (field, mine, theirs) in [
                ("lease_ms", policy.lease_ms, tenant.lease_ms),
                ("grace_ms", policy.grace_ms, tenant.grace_ms),
            ] {
                if mine > theirs {
                    return Err(Error::validation(
                        field,
                        mine.to_string(),
                        format!(
                            "longer than the tenant's ({theirs} ms, {} days): a device may only make its lease stricter",
                            days(theirs)
                        ),
                    ));
                }
            }
        }
        let run = |conn: &mut rusqlite::Connection| -> Result<()> {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            for (key, value) in [
                (KEY_LEASE_MS, policy.lease_ms),
                (KEY_GRACE_MS, policy.grace_ms),
            ] {
                settings::set(&tx, key, &value.to_string())?;
            }
            tx.commit()?;
            Ok(())
        };
        let r = run(&mut self.conn);
        self.ctx(r)
    }

    /// The lease policy in force: the tenant's once a sync brought it, with each duration set
    /// on the device applying where it is shorter; before that, the device's (the defaults
    /// unless set).
    pub fn lease_policy(&self) -> Result<LeasePolicy> {
        let own_lease = self.setting_ms(KEY_LEASE_MS)?;
        let own_grace = self.setting_ms(KEY_GRACE_MS)?;
        let d = LeasePolicy::default();
        Ok(match self.tenant_lease_policy()? {
            Some(t) => LeasePolicy {
                lease_ms: own_lease.map_or(t.lease_ms, |o| o.min(t.lease_ms)),
                grace_ms: own_grace.map_or(t.grace_ms, |o| o.min(t.grace_ms)),
            },
            None => LeasePolicy {
                lease_ms: own_lease.unwrap_or(d.lease_ms),
                grace_ms: own_grace.unwrap_or(d.grace_ms),
            },
        })
    }

    /// The tenant's lease policy, as the last sync answer carried it (`None` before one did).
    pub fn tenant_lease_policy(&self) -> Result<Option<LeasePolicy>> {
        let lease = self.setting_ms(KEY_TENANT_LEASE_MS)?;
        let grace = self.setting_ms(KEY_TENANT_GRACE_MS)?;
        Ok(lease
            .zip(grace)
            .map(|(lease_ms, grace_ms)| LeasePolicy { lease_ms, grace_ms }))
    }

    fn setting_ms(&self, key: &str) -> Result<Option<i64>> {
        let r = settings::get(&self.conn, key).map(|v| v.and_then(|v| v.parse().ok()));
        self.ctx(r)
    }

    /// The clock this store checks its lease at ([`crate::StoreOptions::clock`]).
    pub fn clock(&self) -> &Clock {
        &self.clock
    }

    /// Enforces the lease at the store's clock ([`crate::StoreOptions::clock`]), as every read
    /// and write of records does first; see [`Store::enforce_lease`].
    pub fn check_lease(&self) -> Result<LeaseState> {
        let now = self.clock.now_ms();
        self.enforce_lease(now)
    }

    /// The lease check at the start of every read and write of records: `Ok` while the lease
    /// is valid (or there is none), [`Error::Locked`] otherwise, after wiping the store when
    /// the grace period is over too.
    pub(crate) fn guard(&self) -> Result<()> {
        self.check_lease().map(|_| ())
    }

    /// The lease at `now_ms` (the device clock; a clock set back counts as the latest time
    /// seen since the last sync). Changes nothing.
    pub fn lease_state(&self, now_ms: i64) -> Result<LeaseState> {
        Ok(self.lease_at(now_ms)?.0)
    }

    /// The state, and the effective time and last sync it was computed from.
    fn lease_at(&self, now_ms: i64) -> Result<(LeaseState, i64, Option<String>)> {
        let Some(last_sync) = settings::get(&self.conn, KEY_LAST_SYNC)? else {
            // The wipe removed the last sync time; a new sync (after signing in again) sets it
            // and the lease starts afresh.
            return Ok(match settings::get(&self.conn, KEY_LEASE_WIPED)? {
                Some(at) => (LeaseState::Wiped { at }, now_ms, None),
                None => (LeaseState::Unleased, now_ms, None),
            });
        };
        let synced_ms = chrono::DateTime::parse_from_rfc3339(&last_sync)
            .map(|t| t.timestamp_millis())
            .map_err(|e| Error::Document {
                id: "sync_state.last_sync_at".into(),
                reason: format!("not an RFC 3339 time: {e}"),
            })?;
        let seen_max = settings::get(&self.conn, KEY_CLOCK_MAX)?.and_then(|v| {
            let (ms, for_sync) = v.split_once(' ')?;
            (for_sync == last_sync).then(|| ms.parse::<i64>().ok())?
        });
        let now = seen_max.map_or(now_ms, |m| m.max(now_ms));
        let policy = self.lease_policy()?;
        let locks_at = synced_ms.saturating_add(policy.lease_ms);
        let wipes_at = locks_at.saturating_add(policy.grace_ms);
        let state = if now < locks_at {
            LeaseState::Valid {
                locks_at_ms: locks_at,
            }
        } else {
            LeaseState::Locked {
                since_ms: locks_at,
                wipes_at_ms: wipes_at,
            }
        };
        Ok((state, now, Some(last_sync)))
    }

    /// Enforces the lease at `now_ms`: `Ok` while it is valid (or there is none); otherwise
    /// [`Error::Locked`], after wiping the store if the grace period is over too. Remembers
    /// the latest time seen, so that setting the clock back does not unlock the store.
    pub fn enforce_lease(&self, now_ms: i64) -> Result<LeaseState> {
        let (state, now, last_sync) = self.lease_at(now_ms)?;
        if let Some(last_sync) = &last_sync {
            self.remember_clock(now, last_sync)?;
        }
        match state {
            LeaseState::Unleased | LeaseState::Valid { .. } => Ok(state),
            LeaseState::Wiped { at } => Err(Error::Locked {
                reason: format!(
                    "the lease expired and local data was wiped at {at}; sign in again"
                ),
                wiped: true,
            }),
            LeaseState::Locked {
                since_ms,
                wipes_at_ms,
            } => {
                if now >= wipes_at_ms {
                    self.wipe_data()?;
                    let at = rfc3339(now);
                    let r = settings::set(&self.conn, KEY_LEASE_WIPED, &at);
                    self.ctx(r)?;
                    return Err(Error::Locked {
                        reason: format!(
                            "not synced since {}: the lease and its grace period expired, local data was wiped",
                            rfc3339(since_ms - self.lease_policy()?.lease_ms)
                        ),
                        wiped: true,
                    });
                }
                Err(Error::Locked {
                    reason: format!(
                        "not synced for too long: locked since {}; sync to unlock (local data is wiped at {})",
                        rfc3339(since_ms),
                        rfc3339(wipes_at_ms)
                    ),
                    wiped: false,
                })
            }
        }
    }

    /// Stores the latest time seen since `last_sync` when it moved forward by a minute or more
    /// (one small write at most a minute apart).
    fn remember_clock(&self, now: i64, last_sync: &str) -> Result<()> {
        let stored = settings::get(&self.conn, KEY_CLOCK_MAX)?.and_then(|v| {
            let (ms, for_sync) = v.split_once(' ')?;
            (for_sync == last_sync).then(|| ms.parse::<i64>().ok())?
        });
        if stored.is_some_and(|m| now < m + 60_000) {
            return Ok(());
        }
        let r = settings::set(&self.conn, KEY_CLOCK_MAX, &format!("{now} {last_sync}"));
        self.ctx(r)
    }
}
