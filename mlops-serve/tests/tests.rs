//! Integration tests of mlops-serve: one binary, one module per area.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod http_errors;
mod http_protocol;
mod loading;
#[cfg(feature = "onnx")]
mod onnx;
mod production;
mod promtool;
mod triton;
mod util;
