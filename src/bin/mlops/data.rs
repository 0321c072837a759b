//! Reading the tool's inputs: Parquet files streamed as Arrow batches, profiles from JSON or
//! Parquet; writing outputs atomically.

use std::fs::File;
use std::path::Path;

use mlops::drift::ReferenceProfile;
use parquet::arrow::ProjectionMask;
use parquet::arrow::arrow_reader::{ParquetRecordBatchReader, ParquetRecordBatchReaderBuilder};

use crate::Result;

/// Rows per batch when streaming a Parquet file.
const BATCH_ROWS: usize = 64 * 1024;

/// A streaming reader over the batches of a Parquet file, optionally only some columns.
/// With `strict`, a requested column absent from the file is an error; without, it is left
/// out (the comparison then reports it missing for that column only).
pub(crate) fn open_parquet(
    path: &Path,
    columns: Option<&[String]>,
    strict: bool,
) -> Result<ParquetRecordBatchReader> {
    let file = File::open(path).map_err(|e| format!("cannot open {}: {e}", path.display()))?;
    let builder = ParquetRecordBatchReaderBuilder::try_new(file)
        .map_err(|e| format!("{} is not a readable Parquet file: {e}", path.display()))?;
    let builder = match columns {
        None => builder,
        Some(names) => {
            let schema = builder.parquet_schema();
            let mut indices = Vec::new();
            for name in names {
                let index = schema
                    .columns()
                    .iter()
                    .position(|c| c.path().parts() == [name.as_str()]);
                match index {
                    Some(index) => indices.push(index),
                    None if strict => {
                        return Err(format!("column {name:?} is not in {}", path.display()).into());
                    }
                    None => {}
                }
            }
            let mask = ProjectionMask::leaves(schema, indices);
            builder.with_projection(mask)
        }
    };
    Ok(builder.with_batch_size(BATCH_ROWS).build()?)
}

/// A reference profile from its file: Parquet when the file starts with Parquet's magic
/// bytes, JSON otherwise.
pub(crate) fn read_profile(path: &Path) -> Result<ReferenceProfile> {
    let bytes =
        std::fs::read(path).map_err(|e| format!("cannot read profile {}: {e}", path.display()))?;
    let profile = if bytes.starts_with(b"PAR1") {
        ReferenceProfile::from_parquet(&bytes)
    } else {
        let text = std::str::from_utf8(&bytes)
            .map_err(|_| format!("profile {} is neither Parquet nor JSON", path.display()))?;
        ReferenceProfile::from_json(text)
    };
    Ok(profile.map_err(|e| format!("cannot read profile {}: {e}", path.display()))?)
}

/// Writes `contents` to `path` atomically: a temporary file beside it, then a rename, so a
/// crash never leaves a half-written report or profile.
pub(crate) fn write_atomic(path: &Path, contents: &[u8]) -> Result<()> {
    use std::io::Write;
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .ok_or_else(|| format!("{} is not a file path", path.display()))?;
    let tmp = dir.join(format!(
        ".{}.tmp.{}",
        name.to_string_lossy(),
        std::process::id()
    ));
    let mut file =
        File::create(&tmp).map_err(|e| format!("cannot create {}: {e}", tmp.display()))?;
    file.write_all(contents)?;
    file.sync_all()?;
    drop(file);
    std::fs::rename(&tmp, path).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    Ok(())
}
