//! Reading the tool's inputs: Parquet files into Arrow batches, profiles from JSON.

use std::fs::File;
use std::path::Path;

use mlops::drift::ReferenceProfile;
use mlops::drift::arrow_array::RecordBatch;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

use crate::Result;

/// Every batch of a Parquet file, optionally only some columns.
pub(crate) fn read_parquet(path: &Path, columns: Option<&[String]>) -> Result<Vec<RecordBatch>> {
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
                    .position(|c| c.path().parts() == [name.as_str()])
                    .ok_or_else(|| format!("column {name:?} is not in {}", path.display()))?;
                indices.push(index);
            }
            let mask = parquet::arrow::ProjectionMask::leaves(schema, indices);
            builder.with_projection(mask)
        }
    };
    let reader = builder.with_batch_size(64 * 1024).build()?;
    let batches = reader.collect::<std::result::Result<Vec<_>, _>>()?;
    Ok(batches)
}

/// A reference profile from its JSON file.
pub(crate) fn read_profile(path: &Path) -> Result<ReferenceProfile> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read profile {}: {e}", path.display()))?;
    Ok(ReferenceProfile::from_json(&text)?)
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
