//! Sync: the protocol shared with the server, and the pure rules for applying changes.

pub mod apply;
pub mod protocol;
