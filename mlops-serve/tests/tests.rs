//! Integration tests of mlops-serve that need nothing but Rust: one binary, one module per
//! area. Tests that need Python or promtool are in `services.rs`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod batching;
mod connections;
mod direct_route;
mod follow;
mod fuzz_oip;
mod http_errors;
mod http_protocol;
mod loading;
mod observer;
#[cfg(feature = "onnx")]
mod onnx;
#[cfg(feature = "registry")]
mod poll_cost;
mod production;
mod rollout;
mod source;
mod table;
#[cfg(feature = "transform")]
mod transformed;
mod util;
