//! Security exports: encryption at rest (encrypting an existing store) and the device lease
//! (a store that does not sync for too long locks itself, then wipes).

use crate::error::OutpostError;
use crate::store::OutpostStore;
pub use oc::{LeasePolicy, LeaseState};
use outpost_core as oc;

/// Encrypts the unencrypted store at `path` in place with `key` (32 random bytes from the
/// Android Keystore / iOS Keychain); open it afterwards with the same key in
/// `StoreOptions.key`. Close every `OutpostStore` on the file first. The encrypted copy is
/// checked before it replaces the original, so a failure leaves the original as it was.
#[uniffi::export]
pub fn encrypt_database(path: String, key: Vec<u8>) -> Result<(), OutpostError> {
    let key = oc::StoreKey::from_bytes(&key)?;
    Ok(oc::encrypt_file(path, &key)?)
}

#[uniffi::export]
impl OutpostStore {
    /// The lease as of `now_ms` (ms since the epoch; `null`/`nil` for the device clock). Works
    /// while the store is locked, and changes nothing.
    #[uniffi::method(default(now_ms = None))]
    pub fn lease_state(&self, now_ms: Option<i64>) -> Result<LeaseState, OutpostError> {
        self.read(|s| s.lease_state(now_ms.unwrap_or_else(|| s.clock().now_ms())))
    }

    /// Enforces the lease as of `now_ms` (`null`/`nil` for the device clock), as every read
    /// and write does: `OutpostError.Locked` when it expired, after wiping the local data when
    /// the grace period is over too. Call it when the app comes to the foreground.
    #[uniffi::method(default(now_ms = None))]
    pub fn check_lease(&self, now_ms: Option<i64>) -> Result<LeaseState, OutpostError> {
        self.read(|s| match now_ms {
            Some(now) => s.enforce_lease(now),
            None => s.check_lease(),
        })
    }

    /// The lease policy in force: the tenant's once a sync brought it (a stricter duration set
    /// on the device applies where it is shorter), before that the device's.
    pub fn lease_policy(&self) -> Result<LeasePolicy, OutpostError> {
        let p = self.read(|s| s.lease_policy())?;
        Ok(LeasePolicy {
            lease_ms: p.lease_ms,
            grace_ms: p.grace_ms,
        })
    }

    /// Sets the device's lease policy. Both durations must be positive (`Validation` on
    /// `lease_ms` / `grace_ms`). Once a sync brought the tenant's lease, neither may be longer
    /// than the tenant's (`Validation` naming it): the device may only make its lease stricter.
    /// Refused while locked, so that a locked store cannot extend its own lease.
    pub fn set_lease_policy(&self, policy: LeasePolicy) -> Result<(), OutpostError> {
        self.write(|s| s.set_lease_policy(policy))
    }
}
