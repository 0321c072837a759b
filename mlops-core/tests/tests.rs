//! mlops-core's integration tests, in one binary (one link instead of one per file).

// Test helpers outside `#[test]` functions fail loudly by design.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod bad_input;
mod local_file;
mod properties;
mod stores;
