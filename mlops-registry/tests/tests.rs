#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! Integration tests of mlops-registry, one module per area.

mod bad_input;
mod faults;
mod from_run;
mod mlflow;
mod mlflow_interop;
mod multiprocess;
mod object_conformance;
mod tamper;
mod util;
mod webhook;
