//! The integration tests of mlops-monitor (one binary).

// Test helpers outside `#[test]` functions fail loudly by design.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod capture;
mod features;
mod history;
mod inference_log;
mod performance;
mod performance_triggers;
mod receiver;
mod triggers;
mod util;
mod windows;
