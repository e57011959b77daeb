//! Cross-crate integration tests: one test binary, one module per area.

mod automerge_interop;
mod blobs;
mod config_e2e;
mod crash;
mod enrol_e2e;
mod experience_e2e;
mod fixtures;
mod flow_e2e;
mod lease_e2e;
mod merge_sync;
mod mobile_deps;
mod packaging;
mod pg_tls_e2e;
mod policy_e2e;
mod rejections_e2e;
mod restore_e2e;
mod routing_e2e;
mod scan_cases;
mod scan_cli;
mod scan_image;
mod scan_ocr;
mod scope_e2e;
mod server_deps;
mod sync_e2e;
mod sync_props;
mod throttle_e2e;
