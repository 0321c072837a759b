#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! Integration tests of mlops-track that need nothing but Rust, one module per area. Tests
//! that need MLflow, moto or Azurite are in `services.rs` (feature `service-tests`).

mod support;

mod crash;
mod dataset;
mod filter_fixtures;
mod fuzz_filter;
mod fuzz_records;
mod killed_writer;
mod local_conformance;
mod local_damage;
mod local_disk_full;
mod local_index;
mod local_index_ended;
mod local_limits;
mod local_links;
mod local_listing;
mod local_multiprocess;
mod local_stale;
mod local_store;
mod metric_columns;
mod open;
mod run_environment;
mod run_handle;
mod store_v1;
mod sync;
