//! mlops-drift's integration tests, in one binary.

// Test helpers outside `#[test]` functions fail loudly by design.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod edge_cases;
mod fuzz_profile;
mod gate;
mod ks_fixtures;
mod preset_fixtures;
mod profile_accumulate;
mod profile_approx;
mod profile_common;
mod profile_exact;
mod profile_refusals;
mod profile_roundtrip;
mod stats_fixtures;
