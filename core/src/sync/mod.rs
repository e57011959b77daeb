//! Sync: the protocol shared with the server, the pure rules for applying changes, and (with the
//! `client` feature) the device's HTTP sync client.

pub mod apply;
pub mod bounds;
#[cfg(feature = "client")]
pub mod client;
pub mod protocol;
pub mod summary;
