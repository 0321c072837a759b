//! # mlops-core
//!
//! The shared vocabulary of mlops-rs, and nothing heavy: every other crate builds on it.
//!
//! - **Validated names and ids** ([`ExperimentName`], [`RunName`], [`ModelName`],
//!   [`AliasName`], [`ParamKey`], [`MetricKey`], [`TagKey`], [`ExperimentId`], [`RunId`],
//!   [`ModelVersion`]) and **safe relative paths** ([`ArtifactPath`]). They are built only by
//!   parsing, which refuses (never normalises) traversal, absolute paths, backslashes,
//!   percent-encoding, control characters, URL metacharacters, look-alike punctuation,
//!   non-NFC text and over-long values, with an [`Error::Invalid`] that names the value and
//!   the [`Rule`] it broke. So a value that exists is valid, no accepted path can leave its
//!   prefix, and two different accepted strings are two different object keys.
//! - **Storage roots**: a [`StoreUri`] names where data lives and opens to a [`StoreRoot`],
//!   an `Arc<dyn ObjectStore>` plus a key prefix.
//!
//!   | URI | backend | notes |
//!   | --- | --- | --- |
//!   | `./mlops-data`, `/srv/mlops` | local folder | created if missing; fsync on every write |
//!   | `file:///srv/mlops` | local folder | host empty or `localhost` |
//!   | `memory://` or `memory://prefix` | in-process memory | a fresh, empty store per open |
//!   | `s3://bucket/prefix` (also `s3a://`) | S3 and compatibles | feature `cloud` |
//!   | `az://container/prefix` (also `azure://`, `abfs://`, `abfss://`) | Azure Blob | feature `cloud` |
//!   | `gs://bucket/prefix` | Google Cloud Storage | feature `cloud` |
//!
//!   Cloud stores are configured like object_store's builders: from the environment
//!   (`AWS_*`, `AZURE_*`, `GOOGLE_*`), then from options with object_store's config keys;
//!   an unknown option key is an error rather than silently ignored.
//! - **Run data**: [`Timestamp`] (UTC milliseconds, as MLflow stores time), [`Metric`],
//!   [`Param`], [`Tag`], [`RunStatus`], [`LifecycleStage`], with MLflow's limits and JSON
//!   forms (NaN and ±infinity round-trip as `"NaN"`, `"Infinity"`, `"-Infinity"`).
//! - **Datasets**: [`DatasetRef`] and its [`DatasetDigest`], computed from the data by a
//!   documented, stable algorithm that ignores batch boundaries and Arrow's memory layout.
//!
//! - **Bounded local reads**: [`read_local_file`] and [`open_local_file`] refuse anything
//!   but a regular file (FIFOs, devices, directories) before opening it, and never hold more
//!   than a limit; every file that mlops-rs parses is read through them.
//!
//! mlops-core starts no async runtime and does no network I/O of its own.
//!
//! ```
//! use mlops_core::{ArtifactPath, MetricKey, Rule, StoreUri};
//!
//! // Names are parsed once, then trusted everywhere.
//! let key = MetricKey::parse("val/loss")?;
//! assert_eq!(key.as_str(), "val/loss");
//!
//! // Traversal is refused with a typed rule, before any I/O.
//! let err = ArtifactPath::parse("model/../../etc/passwd").unwrap_err();
//! assert_eq!(err.rule(), Some(&Rule::DotSegment));
//!
//! // A storage root maps safe paths to object keys under its prefix.
//! let root = StoreUri::parse("memory://tenant-a")?.open()?;
//! let weights = root.key(&ArtifactPath::parse("models/churn/weights.onnx")?);
//! assert_eq!(weights.as_ref(), "tenant-a/models/churn/weights.onnx");
//! # Ok::<(), mlops_core::Error>(())
//! ```

mod artifact_path;
mod backoff;
mod bounded_get;
mod create;
mod dataset;
mod error;
pub mod float_json;
mod local_file;
mod names;
mod run_data;
#[cfg(feature = "cloud")]
mod store_cloud;
mod store_uri;
#[cfg(feature = "test-util")]
pub mod testing;
#[cfg(feature = "test-util")]
mod testing_count;
#[cfg(feature = "test-util")]
mod testing_disk;
#[cfg(feature = "test-util")]
mod testing_fuzz;
#[cfg(feature = "test-util")]
mod testing_proxy;
mod time;
mod validate;

pub use artifact_path::ArtifactPath;
pub use backoff::Backoff;
pub use bounded_get::{Bounded, get_bounded};
pub use create::{Created, put_if_absent};
pub use dataset::{DatasetDigest, DatasetDigester, DatasetRef};
pub use error::{Error, Result, Rule};
pub use local_file::{open_local_file, read_local_file};
pub use names::{
    AliasName, ExperimentId, ExperimentName, MetricKey, ModelName, ModelVersion, ParamKey, RunId,
    RunName, TagKey,
};
pub use run_data::{
    LifecycleStage, MAX_PARAM_VALUE_CHARS, MAX_TAG_VALUE_CHARS, Metric, Param, RunStatus, Tag,
};
pub use store_uri::{Backend, CloudKind, StoreRoot, StoreUri};
pub use time::Timestamp;
