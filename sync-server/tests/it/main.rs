//! Integration tests of outpost-server: the storage conformance suite (SQLite and
//! PostgreSQL), the schema migrations (an upgraded database equals a fresh one), the HTTP API
//! against hostile input, and the cursor test with two server processes on one PostgreSQL
//! database.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod audit;
mod bounds;
mod conformance;
mod cursor;
mod files;
mod fuzz;
mod http;
mod input;
mod migrations;
mod policy;
mod proxy;
mod routing;
mod scope;
mod serve;
mod summaries;
mod support;
