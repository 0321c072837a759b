#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! Integration tests of mlops-track, one module per area.

mod crash;
mod dataset;
mod filter_fixtures;
mod local_conformance;
mod local_listing;
mod local_multiprocess;
mod local_store;
mod mlflow_backend;
mod run_handle;
mod store_v1;
mod sync;
