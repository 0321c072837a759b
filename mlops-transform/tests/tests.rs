//! The crate's integration tests, one binary.

// Test helpers outside `#[test]` functions fail loudly by design.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod chains;
mod columns;
mod file;
mod sklearn_parity;
