//! Versioned datasets for mlops-rs: Parquet snapshots on any object_store root (a folder,
//! S3, Azure Blob, GCS), beside the runs and models they feed.
//!
//! * **Content-addressed.** A file's bytes are stored once under their SHA-256, whatever
//!   dataset or version holds them; adding the same files again yields the same version and
//!   writes nothing.
//! * **Immutable, numbered versions.** A version is a manifest written create-if-absent
//!   at the next free number: files (path, size, SHA-256), mlops-core's layout-independent
//!   [`DatasetDigest`](mlops_core::DatasetDigest) of the rows (the digest runs record as
//!   inputs), the Arrow schema, the row count and a reference drift profile.
//! * **Aliases** (`train`, `eval`, …) move by appending create-if-absent log entries, so
//!   concurrent moves never lose one and the log is their history; `latest` is implicit.
//! * **Checked reads.** [`Datasets::get`] hashes every byte it writes out; a tampered object
//!   is refused and leaves no file behind.
//! * **DVC.** [`Datasets::import_dvc`] registers a version whose files stay in a DVC remote.
//! * **Diff.** [`Datasets::diff`]: schema, rows, files, and a drift report (mlops-drift).
//!
//! The layout under `<root>/datasets/` is in `docs/DATA.md`.
//!
//! ```
//! # tokio::runtime::Runtime::new()?.block_on(async {
//! use std::sync::Arc;
//! use arrow_array::{Float64Array, RecordBatch};
//! use arrow_schema::{DataType, Field, Schema};
//! use mlops_core::StoreUri;
//! use mlops_data::{AddOptions, DatasetName, Datasets};
//!
//! // A Parquet file to version.
//! let dir = tempfile::tempdir()?;
//! let file = dir.path().join("train.parquet");
//! let schema = Arc::new(Schema::new(vec![Field::new("x", DataType::Float64, false)]));
//! let batch = RecordBatch::try_new(schema.clone(), vec![Arc::new(Float64Array::from(vec![1.0, 2.0]))])?;
//! let mut writer = parquet::arrow::ArrowWriter::try_new(std::fs::File::create(&file)?, schema, None)?;
//! writer.write(&batch)?;
//! writer.close()?;
//!
//! let datasets = Datasets::new(&StoreUri::parse("memory://")?.open()?);
//! let name = DatasetName::parse("trips")?;
//! let first = datasets.add(&name, &[file.clone()], AddOptions::default()).await?;
//! assert_eq!((first.manifest.version, first.manifest.rows, first.created), (1, 2, true));
//! let again = datasets.add(&name, &[file], AddOptions::default()).await?;
//! assert_eq!((again.manifest.version, again.created, again.bytes_written), (1, false, 0));
//!
//! let out = dir.path().join("out");
//! datasets.get(&datasets.resolve(&"trips@1".parse()?).await?, &out).await?;
//! assert!(out.join("train.parquet").is_file());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! # })?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod aliases;
mod datasets;
mod diff;
pub mod dvc;
mod error;
mod keys;
pub mod lineage;
mod manifest;
mod names;
mod objects;
mod record;
mod scan;

pub use aliases::AliasMove;
pub use datasets::{AddOptions, Added, DATASETS_DIR, DatasetSummary, Datasets};
pub use diff::{ColumnChange, DatasetDiff, schema_changes};
pub use error::{DataError, Result};
pub use manifest::{FileEntry, Location, Manifest, SOURCE_SCHEME, StoredObject, parse_source};
pub use names::{DatasetAlias, DatasetName, DatasetSpec, LATEST, Selector};
