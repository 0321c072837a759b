#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! Integration tests of mlops-track, one module per area.

mod filter_fixtures;
