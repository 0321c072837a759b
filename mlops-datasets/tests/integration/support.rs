//! Parquet files and byte counts for the tests.

// Shared by both test binaries, each using a part.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow_array::{ArrayRef, Float64Array, RecordBatch, StringArray};
use arrow_schema::{DataType, Field, Schema};

/// Writes a Parquet file of `rows` rows: `x` = offset + i/rows, `city` cycling over three.
pub(crate) fn write_parquet(path: &Path, rows: usize, offset: f64, extra_column: bool) -> PathBuf {
    let mut fields = vec![
        Field::new("x", DataType::Float64, false),
        Field::new("city", DataType::Utf8, true),
    ];
    let x: Vec<f64> = (0..rows).map(|i| offset + i as f64 / rows as f64).collect();
    let city: Vec<&str> = (0..rows)
        .map(|i| ["paris", "lyon", "nice"][i % 3])
        .collect();
    let mut columns: Vec<ArrayRef> = vec![
        Arc::new(Float64Array::from(x)),
        Arc::new(StringArray::from(city)),
    ];
    if extra_column {
        fields.push(Field::new("y", DataType::Float64, true));
        columns.push(Arc::new(Float64Array::from(vec![1.0; rows])));
    }
    let schema = Arc::new(Schema::new(fields));
    let batch = RecordBatch::try_new(schema.clone(), columns).unwrap();
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let file = std::fs::File::create(path).unwrap();
    let mut writer = parquet::arrow::ArrowWriter::try_new(file, schema, None).unwrap();
    writer.write(&batch).unwrap();
    writer.close().unwrap();
    path.to_path_buf()
}

/// Bytes of all regular files under `dir`.
pub(crate) fn bytes_under(dir: &Path) -> u64 {
    let mut total = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let entry = entry.unwrap();
        let kind = entry.file_type().unwrap();
        if kind.is_dir() {
            total += bytes_under(&entry.path());
        } else if kind.is_file() {
            total += entry.metadata().unwrap().len();
        }
    }
    total
}

/// Every regular file under `dir` whose path contains `part`.
pub(crate) fn files_under(dir: &Path, part: &str) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let entry = entry.unwrap();
        let path = entry.path();
        if entry.file_type().unwrap().is_dir() {
            out.extend(files_under(&path, part));
        } else if path.to_string_lossy().contains(part) {
            out.push(path);
        }
    }
    out
}
