//! # mlops-track
//!
//! Run tracking for Rust services and training loops: experiments, runs, params, metrics,
//! tags, dataset inputs and artifacts.
//!
//! The plan for this crate (see `ARCHITECTURE.md`): one small async `TrackingStore` trait
//! with two backends, an embedded crash-safe store on any `object_store` root (a local
//! folder by default) and a client for a real MLflow tracking server, plus a run handle
//! whose `log_metric` never blocks: points are buffered and flushed in batches by a
//! background task. Until those land, this crate re-exports the run vocabulary it is built
//! on, from `mlops-core`.
//!
//! ```
//! use mlops_track::{Metric, MetricKey, Param, RunStatus, Timestamp};
//!
//! let point = Metric::new(MetricKey::parse("val/loss")?, 0.42, Timestamp::now(), 7);
//! let param = Param::parse("optimizer/lr", "0.001")?;
//! assert_eq!(param.key().as_str(), "optimizer/lr");
//! assert!(point.value < 1.0);
//! assert!(RunStatus::Finished.is_terminal());
//! # Ok::<(), mlops_core::Error>(())
//! ```

#[cfg(feature = "conformance")]
pub mod conformance;
pub mod dataset;
mod entities;
mod error;
mod ext;
pub mod filter;
mod forward;
pub mod local;
pub mod mlflow;
mod open;
mod run;
mod searchable;
mod store;
pub mod sync;

pub use entities::{
    DATASET_CONTEXT_TAG, Dataset, DatasetInput, Experiment, RUN_NAME_TAG, Run, RunData, RunInfo,
    latest_point,
};
pub use error::{Result, TrackError};
pub use ext::{Ensured, TrackingStoreExt};
pub use local::{LocalStore, LocalStoreOptions, check_batch};
pub use open::{OpenOptions, is_mlflow_uri, open, open_with};
pub use run::{ActiveRun, Overflow, RunOptions, system_tags};
pub use store::{
    ArtifactInfo, ExperimentQuery, NewRun, Page, RunQuery, TrackingStore, ViewType, limits,
};

pub use mlops_core::{
    DatasetRef, ExperimentId, ExperimentName, LifecycleStage, Metric, MetricKey, Param, ParamKey,
    RunId, RunName, RunStatus, Tag, TagKey, Timestamp,
};
