//! Tests that need a service from `scripts/test.sh`: the test venv's Python (tritonclient,
//! scikit-learn with skl2onnx) or promtool. Built only with the `service-tests` feature; a
//! missing service fails the test loudly (`mlops_core::testing::require_env`).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod follow_services;
#[cfg(feature = "onnx")]
mod onnx_dense;
#[cfg(feature = "onnx")]
mod onnx_sklearn;
mod promtool;
mod triton;
mod util;
