//! mlops-drift's integration tests, in one binary.

// Test helpers outside `#[test]` functions fail loudly by design.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod ks_fixtures;
mod preset_fixtures;
mod stats_fixtures;
