//! mlops-monitor tests that need the services of scripts/test.sh (promtool).

// Test helpers outside `#[test]` functions fail loudly by design.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod promtool;
mod util;
