#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! Integration tests of mlops-registry that need no service, one module per area. Those
//! that need MLflow, moto or Azurite are the `services` target (`services.rs`).

mod append_cost;
mod bad_input;
mod conformance_macro;
mod disk_full;
mod faults;
mod from_run;
mod fuzz_records;
mod hole_window;
mod log_hole;
mod migration;
mod multiprocess;
mod multiprocess_folder;
mod object_conformance;
mod open;
mod oversize;
mod tamper;
mod util;
mod webhook;
