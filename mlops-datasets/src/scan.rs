//! Reading what is added: the Parquet files named (or found in the folders named), their
//! version paths, and one pass over their rows for the digest, row count and profile.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use arrow_array::RecordBatch;
use arrow_schema::SchemaRef;
use mlops_core::{DatasetDigest, DatasetDigester};
use mlops_drift::{DriftOptions, ProfileOptions, ReferenceProfile};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

use crate::error::{DataError, Result};

/// Rows per decoded batch.
const BATCH_ROWS: usize = 64 * 1024;
/// The largest Parquet footer read: the reader allocates what the footer claims.
const MAX_FOOTER_BYTES: u64 = 64 << 20;
/// The most files one version may hold.
pub(crate) const MAX_FILES: usize = 100_000;

/// A local file to add and its path in the version.
#[derive(Clone, Debug)]
pub(crate) struct Input {
    pub(crate) local: PathBuf,
    pub(crate) path: String,
}

/// A version path must be relative, `/`-separated, without empty, `.` or `..` segments or
/// control characters; it becomes a local path on `get`.
pub(crate) fn check_relative(path: &str) -> std::result::Result<(), String> {
    let bad = path.is_empty()
        || path.len() > 1024
        || path.starts_with('/')
        || path.contains('\\')
        || path.chars().any(char::is_control)
        || path
            .split('/')
            .any(|s| s.is_empty() || s == "." || s == "..");
    if bad {
        Err(format!("{path:?} is not a safe relative file path"))
    } else {
        Ok(())
    }
}

/// The files named: a file is added under its file name, a folder's `*.parquet` files under
/// `FOLDER_NAME/relative/path`. Links are refused (never followed), as are two inputs with
/// the same version path.
pub(crate) fn collect(inputs: &[PathBuf]) -> Result<Vec<Input>> {
    let mut out = Vec::new();
    for input in inputs {
        let meta = std::fs::symlink_metadata(input).map_err(|e| DataError::io(input, e))?;
        let name = input
            .file_name()
            .and_then(|n| n.to_str())
            .ok_or_else(|| {
                DataError::argument(
                    "input",
                    input.display().to_string(),
                    "has no UTF-8 file name",
                )
            })?
            .to_owned();
        if meta.is_file() {
            out.push(Input {
                local: input.clone(),
                path: name,
            });
        } else if meta.is_dir() {
            walk(input, &name, &mut out)?;
        } else {
            return Err(DataError::argument(
                "input",
                input.display().to_string(),
                "is neither a regular file nor a folder (links are not followed)",
            ));
        }
        if out.len() > MAX_FILES {
            return Err(DataError::argument(
                "input",
                input.display().to_string(),
                "more than 100 000 files",
            ));
        }
    }
    if out.is_empty() {
        return Err(DataError::argument(
            "input",
            format!("{inputs:?}"),
            "holds no Parquet file",
        ));
    }
    out.sort_by(|a, b| a.path.cmp(&b.path));
    for pair in out.windows(2) {
        if pair[0].path == pair[1].path {
            return Err(DataError::argument(
                "input",
                pair[1].local.display().to_string(),
                format!("two inputs would both be {:?} in the version", pair[1].path),
            ));
        }
    }
    for input in &out {
        check_relative(&input.path)
            .map_err(|e| DataError::argument("input", input.local.display().to_string(), e))?;
    }
    Ok(out)
}

fn walk(folder: &Path, prefix: &str, out: &mut Vec<Input>) -> Result<()> {
    let entries = std::fs::read_dir(folder).map_err(|e| DataError::io(folder, e))?;
    for entry in entries {
        let entry = entry.map_err(|e| DataError::io(folder, e))?;
        let kind = entry
            .file_type()
            .map_err(|e| DataError::io(entry.path(), e))?;
        let Some(name) = entry.file_name().to_str().map(str::to_owned) else {
            tracing::warn!(path = %entry.path().display(), "skipped: not a UTF-8 name");
            continue;
        };
        let path = format!("{prefix}/{name}");
        if kind.is_dir() {
            walk(&entry.path(), &path, out)?;
        } else if kind.is_file() && name.ends_with(".parquet") {
            out.push(Input {
                local: entry.path(),
                path,
            });
        } else if kind.is_symlink() {
            tracing::warn!(path = %entry.path().display(), "skipped: links are not followed");
        }
        if out.len() > MAX_FILES {
            return Err(DataError::argument(
                "input",
                folder.display().to_string(),
                "more than 100 000 files",
            ));
        }
    }
    Ok(())
}

/// What the rows of a version are.
pub(crate) struct Summary {
    pub(crate) schema: SchemaRef,
    pub(crate) digest: DatasetDigest,
    pub(crate) rows: u64,
    pub(crate) profile: Option<ReferenceProfile>,
}

/// Decoded batches waiting for the profile thread: enough to keep it busy, few enough that
/// memory stays bounded (each is at most `BATCH_ROWS` rows).
const PROFILE_QUEUE: usize = 4;

/// Reads every file (in order) once: the digest over all rows, the row count and a stored
/// reference profile. Every file must have the first one's schema.
///
/// The profile (quantile and distinct sketches) costs about as much CPU as decoding and the
/// digest together, so it runs on a second thread fed the same decoded batches through a
/// bounded queue: the digest must see rows in order, the profile need not wait for it.
pub(crate) fn summarise(files: &[PathBuf]) -> Result<Summary> {
    let Some(first) = files.first() else {
        return Err(DataError::argument("input", "", "no files"));
    };
    let schema = {
        let file = open_parquet(first)?;
        ParquetRecordBatchReaderBuilder::try_new(file)
            .map_err(|e| parquet_error(first, &e))?
            .schema()
            .clone()
    };
    let profile = match ReferenceProfile::builder(
        &schema,
        &DriftOptions::default(),
        &ProfileOptions::default(),
    ) {
        Ok(b) => Some(b),
        Err(e) => {
            tracing::warn!(error = %e, "no reference profile for this version");
            None
        }
    };
    let mut digester = DatasetDigester::new(schema)?;
    let (scanned, profiled) = std::thread::scope(|scope| {
        let (tx, rx) = std::sync::mpsc::sync_channel::<RecordBatch>(PROFILE_QUEUE);
        let worker = profile.map(|mut builder| {
            scope.spawn(move || -> Result<ReferenceProfile> {
                for batch in rx {
                    builder.push(&batch)?;
                }
                Ok(builder.finish())
            })
        });
        let scanned = read_rows(files, &mut digester, worker.as_ref().map(|_| &tx));
        // Closing the queue ends the profile thread, after an error too.
        drop(tx);
        let profiled = worker.map(|w| {
            w.join().unwrap_or_else(|_| {
                Err(DataError::corrupt(
                    &"profile",
                    &"the profile thread panicked",
                ))
            })
        });
        (scanned, profiled)
    });
    scanned?;
    let profile = profiled.transpose()?;
    let schema = digester.schema().clone();
    let (digest, rows) = digester.finish();
    Ok(Summary {
        schema,
        digest,
        rows,
        profile,
    })
}

/// Decodes every file in order into the digest and hands each batch to the profile queue.
fn read_rows(
    files: &[PathBuf],
    digester: &mut DatasetDigester,
    profile: Option<&std::sync::mpsc::SyncSender<RecordBatch>>,
) -> Result<()> {
    for local in files {
        let file = open_parquet(local)?;
        let reader = ParquetRecordBatchReaderBuilder::try_new(file)
            .map_err(|e| parquet_error(local, &e))?
            .with_batch_size(BATCH_ROWS)
            .build()
            .map_err(|e| parquet_error(local, &e))?;
        for batch in reader {
            let batch = batch.map_err(|e| DataError::Parquet {
                path: local.display().to_string(),
                reason: e.to_string(),
            })?;
            digester.update(&batch).map_err(|e| DataError::Parquet {
                path: local.display().to_string(),
                reason: e.to_string(),
            })?;
            // A send fails only when the profile thread stopped on an error, which it returns.
            if let Some(tx) = profile
                && tx.send(batch).is_err()
            {
                return Ok(());
            }
        }
    }
    Ok(())
}

/// Opens a Parquet file for reading after checking its footer length against the limit.
pub(crate) fn open_parquet(path: &Path) -> Result<File> {
    let mut file = mlops_core::open_local_file(path)?;
    let len = file.metadata().map_err(|e| DataError::io(path, e))?.len();
    if len < 12 {
        return Err(DataError::Parquet {
            path: path.display().to_string(),
            reason: "too short".into(),
        });
    }
    let mut tail = [0u8; 8];
    file.seek(SeekFrom::End(-8))
        .map_err(|e| DataError::io(path, e))?;
    file.read_exact(&mut tail)
        .map_err(|e| DataError::io(path, e))?;
    let footer = u64::from(u32::from_le_bytes([tail[0], tail[1], tail[2], tail[3]]));
    if &tail[4..] != b"PAR1" || footer > MAX_FOOTER_BYTES.min(len) {
        return Err(DataError::Parquet {
            path: path.display().to_string(),
            reason: format!("no Parquet footer, or one over {MAX_FOOTER_BYTES} bytes"),
        });
    }
    file.seek(SeekFrom::Start(0))
        .map_err(|e| DataError::io(path, e))?;
    Ok(file)
}

fn parquet_error(path: &Path, e: &parquet::errors::ParquetError) -> DataError {
    DataError::Parquet {
        path: path.display().to_string(),
        reason: e.to_string(),
    }
}
