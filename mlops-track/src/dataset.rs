//! Dataset lineage: a [`DatasetRef`] read from a Parquet file on any storage root, and the
//! run input that records it in MLflow's format.
//!
//! The digest is mlops-core's ([`mlops_core::DatasetDigest`]): a function of the rows, the
//! column names and the logical types, never of how the data is stored. So a Parquet file
//! gives the same digest as the record batches it was written from, whatever its row
//! groups, page encodings or dictionary pages.
//!
//! ```
//! # tokio::runtime::Runtime::new()?.block_on(async {
//! use std::sync::Arc;
//! use arrow_array::{Float64Array, RecordBatch};
//! use arrow_schema::{DataType, Field, Schema};
//! use bytes::Bytes;
//! use mlops_core::{ArtifactPath, StoreUri};
//! use mlops_track::{DatasetRef, dataset};
//! use object_store::ObjectStoreExt;
//!
//! let schema = Arc::new(Schema::new(vec![Field::new("x", DataType::Float64, false)]));
//! let batch = RecordBatch::try_new(schema.clone(), vec![Arc::new(Float64Array::from(vec![1.0, 2.0]))])?;
//! let mut file = Vec::new();
//! let mut writer = parquet::arrow::ArrowWriter::try_new(&mut file, schema.clone(), None)?;
//! writer.write(&batch)?;
//! writer.close()?;
//!
//! let root = StoreUri::parse("memory://data")?.open()?;
//! let path = ArtifactPath::parse("train.parquet")?;
//! root.store().put(&root.key(&path), Bytes::from(file).into()).await?;
//!
//! let from_file = dataset::from_parquet("train", &root, &path, "memory://data/train.parquet").await?;
//! let from_batches = DatasetRef::from_batches("train", "anywhere", schema, [&batch])?;
//! assert_eq!(from_file.digest(), from_batches.digest());
//! assert_eq!(from_file.rows(), 2);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! # })?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::ops::Range;
use std::sync::Arc;

use bytes::Bytes;
use futures::future::BoxFuture;
use futures::{FutureExt, TryStreamExt};
use mlops_core::{ArtifactPath, Backend, DatasetDigester, DatasetRef, StoreRoot, StoreUri, Tag};
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt};
use parquet::arrow::ParquetRecordBatchStreamBuilder;
use parquet::arrow::arrow_reader::ArrowReaderOptions;
use parquet::arrow::async_reader::AsyncFileReader;
use parquet::errors::ParquetError;
use parquet::file::metadata::{ParquetMetaData, ParquetMetaDataReader};

use crate::entities::{DATASET_CONTEXT_TAG, Dataset, DatasetInput};
use crate::error::{Result, TrackError};

/// Rows per decoded batch: large enough to amortise per-batch work, small enough that a
/// wide file stays within a few megabytes of memory.
const BATCH_ROWS: usize = 8192;

/// A [`DatasetRef`] of the Parquet file at `path` under `root`: its Arrow schema (as the
/// file declares it, including the Arrow schema that writers such as arrow-rs and pyarrow
/// embed), its row count and its digest, streamed row group by row group (memory stays
/// bounded by one batch, whatever the file's size). `source` is recorded as where the data
/// came from (a URI or path).
///
/// # Errors
///
/// [`TrackError::Invalid`] for a bad name or source (checked before any I/O) and for a
/// column type the digest does not cover (nested types), [`TrackError::NotFound`] when
/// there is no such file, [`TrackError::Storage`] when the store fails, and
/// [`TrackError::Corrupt`] when the file is not Parquet.
pub async fn from_parquet(
    name: impl Into<String>,
    root: &StoreRoot,
    path: &ArtifactPath,
    source: impl Into<String>,
) -> Result<DatasetRef> {
    let (name, source) = (name.into(), source.into());
    // Checks the name and source before reading anything.
    let checked = DatasetRef::new(
        name,
        source,
        arrow_schema::Schema::empty(),
        mlops_core::DatasetDigest::from_bytes([0; 16]),
        0,
    )?;
    let key = root.key(path);
    let store = root.store();
    let meta = store.head(&key).await.map_err(|e| match e {
        object_store::Error::NotFound { .. } => TrackError::NotFound {
            what: "dataset file",
            id: checked.source().to_owned(),
        },
        source => TrackError::Storage {
            path: key.to_string(),
            source,
        },
    })?;
    let corrupt = |e: parquet::errors::ParquetError| TrackError::Corrupt {
        path: key.to_string(),
        reason: format!("not a readable Parquet file: {e}"),
    };
    let reader = ObjectFile {
        store: Arc::clone(store),
        key: key.clone(),
        size: meta.size,
    };
    let builder = ParquetRecordBatchStreamBuilder::new(reader)
        .await
        .map_err(corrupt)?
        .with_batch_size(BATCH_ROWS);
    let mut digester = DatasetDigester::new(Arc::clone(builder.schema()))?;
    let mut stream = builder.build().map_err(corrupt)?;
    while let Some(batch) = stream.try_next().await.map_err(corrupt)? {
        digester.update(&batch)?;
    }
    let schema = Arc::clone(digester.schema());
    let (digest, rows) = digester.finish();
    Ok(DatasetRef::new(
        checked.name(),
        checked.source(),
        schema,
        digest,
        rows,
    )?)
}

/// A [`DatasetRef`] of the Parquet file at `uri`: a path (`data/train.parquet`, made
/// absolute for the recorded source), `file://`, `memory://` or, with the `cloud` feature,
/// `s3://`, `az://`, `gs://` (configured from the environment, as [`StoreUri::open`]).
///
/// The recorded source is the absolute path for local files, else the URI as given.
///
/// # Errors
///
/// [`TrackError::Invalid`] for a URI that names no file, then as [`from_parquet`].
pub async fn from_parquet_uri(name: impl Into<String>, uri: &str) -> Result<DatasetRef> {
    let not_a_file = || {
        TrackError::Invalid(mlops_core::Error::InvalidStoreUri {
            uri: uri.to_owned(),
            reason: "it does not name a file".to_owned(),
        })
    };
    let (parent, file) = match uri.rsplit_once('/') {
        // `s3://bucket`: a bucket, not a file.
        Some((parent, _)) if parent.ends_with(":/") => return Err(not_a_file()),
        // `/train.parquet`: a file in the root folder.
        Some(("", file)) => ("/", file),
        Some((parent, file)) => (parent, file),
        None => (".", uri),
    };
    if file.is_empty() {
        return Err(not_a_file());
    }
    let path = ArtifactPath::parse(file)?;
    let store_uri = StoreUri::parse(parent)?;
    let source = match store_uri.backend() {
        Backend::Local(folder) => {
            // Opening a local root creates its folder: refuse a missing one first.
            if !folder.is_dir() {
                return Err(TrackError::NotFound {
                    what: "dataset file",
                    id: folder.join(file).display().to_string(),
                });
            }
            folder.join(file).display().to_string()
        }
        _ => uri.to_owned(),
    };
    let root = store_uri.open()?;
    from_parquet(name, &root, &path, source).await
}

/// A Parquet file read range by range through object_store: the footer first, then only
/// the column chunks being decoded.
struct ObjectFile {
    store: Arc<dyn ObjectStore>,
    key: Path,
    size: u64,
}

fn external(e: object_store::Error) -> ParquetError {
    ParquetError::External(Box::new(e))
}

impl AsyncFileReader for ObjectFile {
    fn get_bytes(&mut self, range: Range<u64>) -> BoxFuture<'_, parquet::errors::Result<Bytes>> {
        async move {
            self.store
                .get_range(&self.key, range)
                .await
                .map_err(external)
        }
        .boxed()
    }

    fn get_byte_ranges(
        &mut self,
        ranges: Vec<Range<u64>>,
    ) -> BoxFuture<'_, parquet::errors::Result<Vec<Bytes>>> {
        async move {
            self.store
                .get_ranges(&self.key, &ranges)
                .await
                .map_err(external)
        }
        .boxed()
    }

    fn get_metadata<'a>(
        &'a mut self,
        _options: Option<&'a ArrowReaderOptions>,
    ) -> BoxFuture<'a, parquet::errors::Result<Arc<ParquetMetaData>>> {
        async move {
            let size = self.size;
            let metadata = ParquetMetaDataReader::new()
                .with_prefetch_hint(Some(64 * 1024))
                .load_and_finish(self, size)
                .await?;
            Ok(Arc::new(metadata))
        }
        .boxed()
    }
}

impl DatasetInput {
    /// The run input that records `dataset` in MLflow's format ([`Dataset::from_ref`]),
    /// with its role in the tag `mlflow.data.context` (`training`, `eval`, …) when given.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use arrow_schema::{DataType, Field, Schema};
    /// use mlops_core::DatasetDigest;
    /// use mlops_track::{DatasetInput, DatasetRef};
    ///
    /// let schema = Arc::new(Schema::new(vec![Field::new("x", DataType::Int64, true)]));
    /// let data = DatasetRef::new("train", "/data/train.parquet", schema, DatasetDigest::from_bytes([1; 16]), 10)?;
    /// let input = DatasetInput::from_ref(&data, Some("training"))?;
    /// assert_eq!(input.dataset.digest, "01010101010101010101010101010101");
    /// assert_eq!(input.tags[0].value(), "training");
    /// # Ok::<(), mlops_track::TrackError>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`TrackError::Invalid`] when the context is not a valid tag value.
    pub fn from_ref(dataset: &DatasetRef, context: Option<&str>) -> Result<Self> {
        let tags = match context {
            Some(context) => vec![Tag::parse(DATASET_CONTEXT_TAG, context)?],
            None => Vec::new(),
        };
        Ok(Self {
            dataset: Dataset::from_ref(dataset),
            tags,
        })
    }
}
