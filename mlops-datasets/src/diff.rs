//! Comparing two versions: schema changes, rows, files, and a drift report of the second
//! version's rows against the first version's stored reference profile.

use std::collections::BTreeMap;
use std::path::PathBuf;

use arrow_schema::Schema;
use mlops_drift::{DriftOptions, DriftReport};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use serde::Serialize;

use crate::datasets::Datasets;
use crate::error::{DataError, Result};
use crate::manifest::Manifest;

/// How a column changed between two versions.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "change", rename_all = "snake_case")]
pub enum ColumnChange {
    /// Only in the second version.
    Added {
        /// The column.
        column: String,
        /// Its type.
        data_type: String,
    },
    /// Only in the first version.
    Removed {
        /// The column.
        column: String,
        /// Its type.
        data_type: String,
    },
    /// In both, with another type or nullability.
    Changed {
        /// The column.
        column: String,
        /// Type (and `?` when nullable) in the first version.
        from: String,
        /// In the second.
        to: String,
    },
}

/// What changed between two versions.
#[derive(Clone, Debug, Serialize)]
pub struct DatasetDiff {
    /// The first version, `NAME@V`.
    pub from: String,
    /// The second.
    pub to: String,
    /// Whether both hold the same rows (same digest).
    pub same_rows: bool,
    /// Rows in the first version.
    pub rows_from: u64,
    /// Rows in the second.
    pub rows_to: u64,
    /// Schema changes, by column name.
    pub schema: Vec<ColumnChange>,
    /// File paths only in the second version.
    pub files_added: Vec<String>,
    /// File paths only in the first.
    pub files_removed: Vec<String>,
    /// File paths in both with other bytes.
    pub files_changed: Vec<String>,
    /// The second version's rows tested against the first version's profile (absent when
    /// the first has no profile).
    pub drift: Option<DriftReport>,
}

fn type_text(field: &arrow_schema::Field) -> String {
    let mark = if field.is_nullable() { "?" } else { "" };
    format!("{}{mark}", field.data_type())
}

/// Column-level changes from `a` to `b`.
pub fn schema_changes(a: &Schema, b: &Schema) -> Vec<ColumnChange> {
    let left: BTreeMap<&str, String> = a
        .fields()
        .iter()
        .map(|f| (f.name().as_str(), type_text(f)))
        .collect();
    let right: BTreeMap<&str, String> = b
        .fields()
        .iter()
        .map(|f| (f.name().as_str(), type_text(f)))
        .collect();
    let mut out = Vec::new();
    for (name, from) in &left {
        match right.get(name) {
            None => out.push(ColumnChange::Removed {
                column: (*name).to_owned(),
                data_type: from.clone(),
            }),
            Some(to) if to != from => out.push(ColumnChange::Changed {
                column: (*name).to_owned(),
                from: from.clone(),
                to: to.clone(),
            }),
            Some(_) => {}
        }
    }
    for (name, to) in &right {
        if !left.contains_key(name) {
            out.push(ColumnChange::Added {
                column: (*name).to_owned(),
                data_type: to.clone(),
            });
        }
    }
    out
}

impl Datasets {
    /// Compares version `from` with `to`. The drift report reads `to`'s files (downloaded,
    /// digest-checked, into a temporary folder) against `from`'s stored profile with
    /// `options` (Evidently's defaults by default).
    ///
    /// # Errors
    ///
    /// Store errors, digest mismatches, and drift option errors.
    pub async fn diff(
        &self,
        from: &Manifest,
        to: &Manifest,
        options: &DriftOptions,
    ) -> Result<DatasetDiff> {
        let paths = |m: &Manifest| -> BTreeMap<String, String> {
            m.files
                .iter()
                .map(|f| (f.path.clone(), f.digest_text()))
                .collect()
        };
        let (a, b) = (paths(from), paths(to));
        let files_added = b.keys().filter(|p| !a.contains_key(*p)).cloned().collect();
        let files_removed = a.keys().filter(|p| !b.contains_key(*p)).cloned().collect();
        let files_changed = a
            .iter()
            .filter(|(p, d)| b.get(*p).is_some_and(|other| other != *d))
            .map(|(p, _)| p.clone())
            .collect();
        let drift = match self.profile(from).await? {
            None => None,
            Some(profile) => {
                let folder =
                    tempfile::tempdir().map_err(|e| DataError::io(std::env::temp_dir(), e))?;
                self.get(to, folder.path()).await?;
                let files: Vec<PathBuf> = to
                    .files
                    .iter()
                    .map(|f| folder.path().join(&f.path))
                    .collect();
                let options = options.clone();
                let report = tokio::task::spawn_blocking(move || -> Result<DriftReport> {
                    let mut accumulator = profile.accumulator();
                    for local in &files {
                        let file = crate::scan::open_parquet(local)?;
                        let reader = ParquetRecordBatchReaderBuilder::try_new(file)
                            .and_then(|b| b.with_batch_size(64 * 1024).build())
                            .map_err(|e| DataError::Parquet {
                                path: local.display().to_string(),
                                reason: e.to_string(),
                            })?;
                        for batch in reader {
                            let batch = batch.map_err(|e| DataError::Parquet {
                                path: local.display().to_string(),
                                reason: e.to_string(),
                            })?;
                            accumulator.push(&batch)?;
                        }
                    }
                    accumulator.finish();
                    Ok(profile.compare_accumulated(&accumulator, &options)?)
                })
                .await
                .map_err(|e| DataError::argument("diff", "", e.to_string()))??;
                Some(report)
            }
        };
        Ok(DatasetDiff {
            from: from.label(),
            to: to.label(),
            same_rows: from.digest == to.digest,
            rows_from: from.rows,
            rows_to: to.rows,
            schema: schema_changes(&from.schema, &to.schema),
            files_added,
            files_removed,
            files_changed,
            drift,
        })
    }
}
