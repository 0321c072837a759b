//! # mlops-serve
//!
//! An Open Inference Protocol (KServe V2, Triton, MLServer REST) server that you mount in
//! your own axum service, so that `tritonclient` and every other OIP client work unchanged.
//!
//! The plan for this crate (see `ARCHITECTURE.md`): a `Model` trait over named tensors,
//! JSON and binary tensor codecs, adaptive batching with bounded queues, health, Prometheus
//! metrics and graceful shutdown, and models loaded from the registry by alias. Until those
//! land, this crate re-exports the names it is built on.
//!
//! ```
//! use mlops_serve::{ModelName, ModelVersion};
//!
//! // The route /v2/models/{name}/versions/{version}/infer takes validated names only.
//! let name = ModelName::parse("iris")?;
//! let version = ModelVersion::parse("3")?;
//! assert_eq!(format!("/v2/models/{name}/versions/{version}/infer"), "/v2/models/iris/versions/3/infer");
//! assert!(ModelName::parse("../etc").is_err());
//! # Ok::<(), mlops_serve::Error>(())
//! ```

pub use mlops_core::{Error, ModelName, ModelVersion};
