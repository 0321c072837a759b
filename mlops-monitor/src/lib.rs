//! # mlops-monitor
//!
//! Live monitoring of served models, with the numbers of the offline `mlops drift`:
//!
//! - **Drift windows** ([`VersionMonitor`]): the rows a model version serves, in tumbling
//!   windows by rows and/or time, each compared with the version's reference profile by
//!   mlops-drift's accumulator, so a window's report is the report `mlops drift --profile P
//!   --current W.parquet` gives on the same rows. [`FeatureMap`] names tensor columns.
//! - **Capture from `mlops-serve`** ([`capture`]): [`Capture`] is the server's observer
//!   (sampling, a bounded queue, overflow dropped and counted, never a wait); a worker thread
//!   fills each served version's windows against its [`ReferenceSource`] (the registry:
//!   [`RegistryReferences`]) and hands closed windows to the [`MonitorMetrics`] (Prometheus,
//!   appended to the server's `/metrics`) and the [`WindowSink`]s.
//! - **History** ([`History`]): each window's report rows as Hive-partitioned Parquet, its
//!   JSON and HTML, on any store.
//! - **Triggers** ([`trigger`]): rules on drift windows and on performance windows (a
//!   metric worse than the version's registered one) with debounce and cooldown, an outbox
//!   written before sending, signed webhooks (generic, Slack, Airflow) retried until
//!   acknowledged, resent after a restart with the same delivery id, recorded in the
//!   registry's audit log.
//! - **Inference log and performance** ([`InferenceLog`], [`performance`]): request rows as
//!   Parquet, joined later with labels; regression and classification metrics equal to
//!   scikit-learn's.
//!
//! See `docs/MONITOR.md` for the stored layouts and the exact webhook requests.
//!
//! ```
//! use std::sync::Arc;
//! use mlops_core::Timestamp;
//! use mlops_drift::arrow_array::{Float64Array, RecordBatch};
//! use mlops_drift::arrow_schema::{DataType, Field, Schema};
//! use mlops_drift::{DriftOptions, ReferenceProfile};
//! use mlops_monitor::{VersionKey, VersionMonitor, WindowPolicy};
//!
//! let schema = Arc::new(Schema::new(vec![Field::new("amount", DataType::Float64, true)]));
//! let rows = |shift: f64, n: i32| {
//!     let values: Vec<f64> = (0..n).map(|i| shift + f64::from(i % 50)).collect();
//!     RecordBatch::try_new(schema.clone(), vec![Arc::new(Float64Array::from(values))]).unwrap()
//! };
//! let options = Arc::new(DriftOptions::default());
//! let profile = Arc::new(ReferenceProfile::build(&[rows(0.0, 1000)], &options)?);
//! let key = VersionKey { model: "fraud".into(), version: "3".into() };
//! let mut monitor = VersionMonitor::new(key, profile, options, WindowPolicy::rows(500)?);
//! let windows = monitor.push(&rows(30.0, 1000), Timestamp::now())?;
//! assert_eq!(windows.len(), 2);
//! assert_eq!(windows[0].drifted_features(), ["amount"]);
//! # Ok::<(), mlops_monitor::MonitorError>(())
//! ```

pub mod capture;
mod error;
pub mod features;
pub mod history;
pub mod inference_log;
pub mod metrics;
pub mod performance;
pub mod registry;
mod row_buffer;
pub mod trigger;
pub mod window;

pub use capture::{
    Capture, CaptureOptions, CaptureWorker, FixedReferences, ReferenceSource, VersionReference,
    WindowSink, start,
};
pub use error::{MonitorError, Result};
pub use features::{FeatureMap, SignatureSchemas};
pub use history::{History, HistoryLocation, HistoryRow, report_from_json};
pub use inference_log::{InferenceLog, LogFile, LogOptions, read_log};
pub use metrics::MonitorMetrics;
pub use registry::{RegistryAudit, RegistryReferences, TRIGGER_TAG, profile_from_bytes};
pub use window::{VersionKey, VersionMonitor, WindowPolicy, WindowReport};
