//! # mlops
//!
//! The machine-learning lifecycle as Rust libraries: track runs, register and promote models,
//! detect data drift over Apache Arrow data, and serve models over the Open Inference
//! Protocol. This facade re-exports each crate behind a feature of the same name (the
//! libraries are on by default), so one dependency brings the whole toolkit and
//! `default-features = false` plus a feature list brings only what a service needs. The
//! `mlops` command-line tool is a package of its own (`mlops-cli`): depending on this crate
//! compiles no command-line parser.
//!
//! | feature | module | crate |
//! | --- | --- | --- |
//! | always | [`core`] | `mlops-core`: names, paths, store URIs, run data, datasets |
//! | `track` | `track` | `mlops-track`: experiments and runs |
//! | `registry` | `registry` | `mlops-registry`: models, versions, aliases, promotion |
//! | `drift` | `drift` | `mlops-drift`: drift tests over Arrow batches |
//! | `serve` | `serve` | `mlops-serve`: an Open Inference Protocol server |
//! | `transform` | `transform` | `mlops-transform`: feature transformations shipped with the model |
//! | `monitor` | `monitor` | `mlops-monitor`: live drift windows, history, retraining triggers |
//! | `data` | `data` | `mlops-data`: versioned datasets and lineage |
//! | `onnx` (opt-in) | | ONNX models in `serve` (tract, pure Rust) |
//! | `cloud` (opt-in) | | S3, Azure Blob and GCS stores for every crate |
//! | `tls` (opt-in) | | `https://` MLflow servers and webhooks |
//!
//! ```
//! use mlops::core::{ArtifactPath, StoreUri};
//!
//! // Every store is named by a URI: a local folder, memory, or (with `cloud`) S3/Azure/GCS.
//! let root = StoreUri::parse("memory://demo")?.open()?;
//! let key = root.key(&ArtifactPath::parse("models/churn/weights.onnx")?);
//! assert_eq!(key.as_ref(), "demo/models/churn/weights.onnx");
//! # Ok::<(), mlops::core::Error>(())
//! ```

pub use mlops_core as core;
#[cfg(feature = "data")]
pub use mlops_data as data;
#[cfg(feature = "drift")]
pub use mlops_drift as drift;
#[cfg(feature = "monitor")]
pub use mlops_monitor as monitor;
#[cfg(feature = "registry")]
pub use mlops_registry as registry;
#[cfg(feature = "serve")]
pub use mlops_serve as serve;
#[cfg(feature = "track")]
pub use mlops_track as track;
#[cfg(feature = "transform")]
pub use mlops_transform as transform;
