//! # mlops-track
//!
//! Run tracking for Rust services and training loops: experiments, runs, params, metrics,
//! tags, dataset inputs and artifacts, on an embedded crash-safe store (any `object_store`
//! root: a local folder by default) or on a real MLflow tracking server.
//!
//! ```
//! # tokio::runtime::Runtime::new()?.block_on(async {
//! use mlops_track::{ExperimentName, MetricKey, RunOptions, RunStatus, TrackingStoreExt};
//!
//! // A folder, memory://, s3://… (feature `cloud`), or http(s):// for an MLflow server.
//! let store = mlops_track::open("memory://").await?;
//! let experiment = store
//!     .get_or_create_experiment(&ExperimentName::parse("churn")?)
//!     .await?;
//! let run = store.start_run(&experiment, None, RunOptions::default()).await?;
//! run.log_param("lr", "0.01").await?;
//! let loss = MetricKey::parse("loss")?;
//! for step in 0..100 {
//!     run.log_metric(&loss, 1.0 / (step as f64 + 1.0), step); // buffered: never blocks
//! }
//! run.log_artifact("model/weights.json", b"[0.1, 0.2]".to_vec()).await?;
//! run.finish(RunStatus::Finished).await?; // flushes, then ends the run
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! # })?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! - [`TrackingStore`]: the small async trait every backend implements (its primitives);
//!   [`TrackingStoreExt`]: the conveniences built on them, for every store.
//! - [`open`] / [`open_with`]: a backend from a URI, in the manner of object_store's
//!   `parse_url`: [`LocalStore`] (the embedded store, format in `docs/FORMAT.md`) or
//!   [`mlflow::MlflowStore`] (MLflow's REST API through the `mlops-mlflow` client).
//! - [`ActiveRun`]: the run handle; `log_metric` only pushes into a buffer that a background
//!   task writes in batches.
//! - [`filter`]: MLflow's search syntax; [`sync`]: copy runs between stores; [`dataset`]:
//!   dataset lineage from Parquet.

#[cfg(feature = "conformance")]
pub mod conformance;
mod damage;
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

pub use damage::Damage;
pub use entities::{
    DATASET_CONTEXT_TAG, Dataset, DatasetInput, Experiment, RUN_NAME_TAG, Run, RunData, RunInfo,
    latest_point,
};
pub use error::{Result, TrackError};
pub use ext::{Ensured, TrackingStoreExt};
pub use local::{LocalStore, LocalStoreOptions, check_batch};
pub use open::{OpenOptions, is_mlflow_uri, open, open_with};
pub use run::environment::{self, RunEnvironment};
pub use run::{ActiveRun, Overflow, RunOptions, system_tags};
pub use store::{
    ArtifactInfo, ExperimentQuery, MetricColumns, NewRun, Page, RunQuery, TrackingStore, ViewType,
    limits,
};

pub use mlops_core::{
    DatasetRef, ExperimentId, ExperimentName, LifecycleStage, Metric, MetricKey, Param, ParamKey,
    RunId, RunName, RunStatus, Tag, TagKey, Timestamp,
};
