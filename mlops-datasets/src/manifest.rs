//! A dataset version as callers see it: its files and what the data is.

use std::collections::BTreeMap;

use std::sync::Arc;

use arrow_schema::SchemaRef;
use chrono::{DateTime, Utc};
use mlops_core::DatasetDigest;
use serde::Serialize;

use crate::names::DatasetName;

/// One immutable, numbered version of a dataset.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Manifest {
    /// The dataset.
    pub name: DatasetName,
    /// Its number (1, 2, ...).
    pub version: u64,
    /// When it was created.
    pub created: DateTime<Utc>,
    /// Free text given at creation.
    pub description: Option<String>,
    /// Tags given at creation.
    pub tags: BTreeMap<String, String>,
    /// The identity of its content: SHA-256 over the sorted (path, file digest) list. Two
    /// versions never share one.
    pub content_id: String,
    /// mlops-core's layout-independent digest of the rows (the one runs record).
    #[serde(serialize_with = "digest_text")]
    pub digest: DatasetDigest,
    /// The rows, over all files.
    pub rows: u64,
    /// The Arrow schema every file has.
    pub schema: SchemaRef,
    /// The files, sorted by path.
    pub files: Vec<FileEntry>,
    /// The reference drift profile of the whole version (JSON, content-addressed), when
    /// one could be built.
    pub profile: Option<StoredObject>,
}

impl Manifest {
    /// `NAME@VERSION`.
    pub fn label(&self) -> String {
        format!("{}@{}", self.name, self.version)
    }

    /// The run input that records this version (`ActiveRun::log_input` in mlops-track):
    /// the dataset's name, its rows' digest, schema and row count, and the source
    /// `mlops-data://NAME@VERSION`, which MLflow shows as the source type `mlops-data`.
    ///
    /// # Errors
    ///
    /// Never for a manifest read from a store (its name is always a valid dataset name).
    pub fn dataset_ref(&self) -> Result<mlops_core::DatasetRef, mlops_core::Error> {
        mlops_core::DatasetRef::new(
            self.name.as_str(),
            format!("{SOURCE_SCHEME}://{}", self.label()),
            Arc::clone(&self.schema),
            self.digest,
            self.rows,
        )
    }

    /// The bytes of all files.
    pub fn bytes(&self) -> u64 {
        self.files.iter().map(|f| f.size).sum()
    }
}

/// The scheme of a run input's source that names a dataset version.
pub const SOURCE_SCHEME: &str = "mlops-data";

/// The dataset version a run input's source names (`mlops-data://NAME@VERSION`), if any.
pub fn parse_source(source: &str) -> Option<(DatasetName, u64)> {
    let rest = source.strip_prefix(SOURCE_SCHEME)?.strip_prefix("://")?;
    let (name, version) = rest.split_once('@')?;
    let version = version.parse().ok().filter(|v| *v > 0)?;
    Some((DatasetName::parse(name).ok()?, version))
}

fn digest_text<S: serde::Serializer>(digest: &DatasetDigest, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(digest)
}

/// An object in the datasets' content-addressed store.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct StoredObject {
    /// Its SHA-256 (64 lowercase hex digits), also its key.
    pub sha256: String,
    /// Its size in bytes.
    pub size: u64,
}

/// One file of a version.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct FileEntry {
    /// Its path inside the version (`/`-separated, relative).
    pub path: String,
    /// Its size in bytes.
    pub size: u64,
    /// Where the bytes are and the digest they are checked against on read.
    pub location: Location,
}

/// Where a file's bytes are kept.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Location {
    /// In the datasets' object store, under its SHA-256.
    Stored {
        /// The SHA-256 of the bytes (64 lowercase hex digits).
        sha256: String,
    },
    /// In a DVC remote, referenced without a copy (`import-dvc`).
    Dvc {
        /// The remote's store URI.
        remote: String,
        /// The object's key relative to the remote (`files/md5/ab/cdef…`).
        key: String,
        /// The MD5 DVC addresses it by (32 lowercase hex digits).
        md5: String,
    },
}

impl FileEntry {
    /// The digest text (`sha256:…` or `md5:…`) the content id is built from.
    pub fn digest_text(&self) -> String {
        match &self.location {
            Location::Stored { sha256 } => format!("sha256:{sha256}"),
            Location::Dvc { md5, .. } => format!("md5:{md5}"),
        }
    }
}
