//! Reading the tool's inputs: Parquet files streamed as Arrow batches, profiles from JSON or
//! Parquet; writing outputs atomically.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::Path;
use std::sync::Arc;

use mlops::core::{open_local_file, read_local_file};
use mlops::drift::ReferenceProfile;
use mlops::drift::arrow_schema::{DataType, Field, Schema, SchemaRef};
use parquet::arrow::ProjectionMask;
use parquet::arrow::arrow_reader::{
    ArrowReaderMetadata, ArrowReaderOptions, ParquetRecordBatchReader,
    ParquetRecordBatchReaderBuilder,
};
use parquet::file::metadata::{FooterTail, ParquetMetaData};

use crate::Result;

/// Rows per batch when streaming a Parquet file.
const BATCH_ROWS: usize = 64 * 1024;

/// The largest Parquet footer (file metadata) read: the reader allocates what the footer's
/// length field claims (up to 4 GiB) before decoding it. Real footers are kilobytes to a few
/// megabytes (one entry per column chunk).
pub(crate) const MAX_PARQUET_FOOTER_BYTES: u64 = 64 << 20;

/// The default limit on a profile file, which is read whole: an exact profile of 20 columns
/// at the default cap (200 000 values each) is about 80 MB of JSON.
pub(crate) const DEFAULT_MAX_PROFILE_BYTES: u64 = 256 << 20;

/// A streaming reader over the batches of a Parquet file, optionally only some columns,
/// and the file's own Arrow schema.
///
/// String columns whose every column chunk is dictionary-encoded (what Parquet writers do
/// by default for repetitive text) are read as `Dictionary(Int32, Utf8)` arrays, keeping
/// the file's dictionary instead of copying each row's text out of it: counting categories
/// is then one counter per row and one hash per distinct value per batch. A page that
/// fell back to plain encoding is still read (the reader builds the dictionary for it).
/// The schema returned is the one without that hint (`Utf8`), so that what a profile
/// records about the column does not depend on how the file was read.
///
/// With `strict`, a requested column absent from the file is an error; without, it is left
/// out (the comparison then reports it missing for that column only).
pub(crate) fn open_parquet(
    path: &Path,
    columns: Option<&[String]>,
    strict: bool,
) -> Result<(ParquetRecordBatchReader, SchemaRef, usize)> {
    let unreadable = |e: parquet::errors::ParquetError| {
        format!("{} is not a readable Parquet file: {e}", path.display())
    };
    // A FIFO or a device is refused before it is opened; a footer claiming more than the
    // limit is refused before it is read.
    let file = open_local_file(path).map_err(|e| local_error("cannot open", e))?;
    check_footer(&file, path, MAX_PARQUET_FOOTER_BYTES)?;
    let metadata =
        ArrowReaderMetadata::load(&file, ArrowReaderOptions::new()).map_err(unreadable)?;
    let file_schema = Arc::clone(metadata.schema());
    let metadata = match dictionary_schema(metadata.metadata(), &file_schema) {
        Some(schema) => ArrowReaderMetadata::try_new(
            Arc::clone(metadata.metadata()),
            ArrowReaderOptions::new().with_schema(schema),
        )
        .map_err(unreadable)?,
        None => metadata,
    };
    // The row count from the footer, a size hint for the reader's consumer.
    let rows = usize::try_from(metadata.metadata().file_metadata().num_rows()).unwrap_or(0);
    let builder = ParquetRecordBatchReaderBuilder::new_with_metadata(file, metadata);
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
    Ok((
        builder.with_batch_size(BATCH_ROWS).build()?,
        file_schema,
        rows,
    ))
}

/// Refuses a Parquet file whose footer claims more than `limit` bytes of metadata, before
/// the Parquet reader allocates and reads it. A file too short or without Parquet's magic
/// bytes is left to the reader, which names the problem.
fn check_footer(file: &File, path: &Path, limit: u64) -> Result<()> {
    let mut file = file;
    let mut tail = [0u8; 8];
    let read = file
        .seek(SeekFrom::End(-8))
        .and_then(|_| file.read_exact(&mut tail));
    let footer = read.ok().and_then(|()| FooterTail::try_new(&tail).ok());
    file.seek(SeekFrom::Start(0))
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    if let Some(footer) = footer
        && footer.metadata_length() as u64 > limit
    {
        return Err(format!(
            "{}: the Parquet footer claims {} bytes of metadata, over the limit of {limit} bytes",
            path.display(),
            footer.metadata_length()
        )
        .into());
    }
    Ok(())
}

/// `schema` with its top-level string columns read as dictionaries, for those whose column
/// chunks all start with a dictionary page; `None` when there is none.
pub(crate) fn dictionary_schema(metadata: &ParquetMetaData, schema: &Schema) -> Option<SchemaRef> {
    let leaves = metadata.file_metadata().schema_descr();
    let mut changed = false;
    let fields: Vec<Arc<Field>> = schema
        .fields()
        .iter()
        .map(|field| {
            let value_type = match field.data_type() {
                DataType::Utf8 => DataType::Utf8,
                DataType::LargeUtf8 => DataType::LargeUtf8,
                _ => return Arc::clone(field),
            };
            let leaf = leaves
                .columns()
                .iter()
                .position(|c| c.path().parts() == [field.name().as_str()]);
            let encoded = leaf.is_some_and(|i| {
                metadata.num_row_groups() > 0
                    && metadata.row_groups().iter().all(|rg| {
                        rg.columns()
                            .get(i)
                            .is_some_and(|c| c.dictionary_page_offset().is_some())
                    })
            });
            if !encoded {
                return Arc::clone(field);
            }
            changed = true;
            let dictionary = DataType::Dictionary(Box::new(DataType::Int32), Box::new(value_type));
            Arc::new(field.as_ref().clone().with_data_type(dictionary))
        })
        .collect();
    changed.then(|| Arc::new(Schema::new_with_metadata(fields, schema.metadata().clone())))
}

/// A reference profile from its file of at most `limit` bytes: Parquet when the file starts
/// with Parquet's magic bytes, JSON otherwise.
pub(crate) fn read_profile(path: &Path, limit: u64) -> Result<ReferenceProfile> {
    // Read whole, bounded: a FIFO, a device or an over-limit file is refused (naming the file
    // and the limit) before memory grows.
    let bytes = read_local_file(path, limit).map_err(|e| match e {
        mlops::core::Error::FileTooLarge { .. } => {
            format!("cannot read profile: {e} (raise it with --max-profile-bytes)")
        }
        other => local_error("cannot read profile", other),
    })?;
    let profile = if bytes.starts_with(b"PAR1") {
        ReferenceProfile::from_parquet(&bytes)
    } else {
        let text = std::str::from_utf8(&bytes)
            .map_err(|_| format!("profile {} is neither Parquet nor JSON", path.display()))?;
        ReferenceProfile::from_json(text)
    };
    Ok(profile.map_err(|e| format!("cannot read profile {}: {e}", path.display()))?)
}

/// The message for a local file that could not be opened or read: `action path: cause` for
/// an I/O error, the error itself (which names the file) otherwise.
fn local_error(action: &str, error: mlops::core::Error) -> String {
    match error {
        mlops::core::Error::Io { path, source } => {
            format!("{action} {}: {source}", path.display())
        }
        other => format!("{action}: {other}"),
    }
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
    // A full disk fails here: the error names the output, and no temporary file is left.
    let written = file
        .write_all(contents)
        .and_then(|()| file.sync_all())
        .map_err(|e| format!("cannot write {}: {e}", path.display()));
    drop(file);
    if let Err(e) = written {
        let _ = std::fs::remove_file(&tmp);
        return Err(e.into());
    }
    if let Err(e) = std::fs::rename(&tmp, path) {
        let _ = std::fs::remove_file(&tmp);
        return Err(format!("cannot write {}: {e}", path.display()).into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use mlops::drift::CategorySample;
    use mlops::drift::arrow_array::{Array, ArrayRef, Int64Array, RecordBatch, StringArray};
    use parquet::arrow::ArrowWriter;
    use parquet::basic::Encoding;
    use parquet::file::properties::WriterProperties;

    use super::*;

    /// A string column with many distinct values (so that a small dictionary limit makes
    /// the writer fall back to plain pages) and an integer column.
    fn batch() -> RecordBatch {
        let text: Vec<Option<String>> = (0..6000)
            .map(|i| (i % 11 != 0).then(|| format!("category-{}", (i * 7) % 3000)))
            .collect();
        let numbers: Vec<i64> = (0..6000).collect();
        RecordBatch::try_from_iter([
            ("s", Arc::new(StringArray::from(text)) as ArrayRef),
            ("n", Arc::new(Int64Array::from(numbers)) as ArrayRef),
        ])
        .unwrap()
    }

    fn write(path: &Path, properties: WriterProperties) {
        let batch = batch();
        let file = File::create(path).unwrap();
        let mut writer = ArrowWriter::try_new(file, batch.schema(), Some(properties)).unwrap();
        writer.write(&batch).unwrap();
        writer.close().unwrap();
    }

    /// The encodings of the string column's chunk.
    fn encodings(path: &Path) -> Vec<Encoding> {
        let reader = parquet::file::reader::SerializedFileReader::new(File::open(path).unwrap());
        let metadata = parquet::file::reader::FileReader::metadata(&reader.unwrap()).clone();
        metadata.row_group(0).column(0).encodings().collect()
    }

    #[test]
    fn strings_are_read_as_dictionaries_when_every_chunk_has_one() {
        let dir = tempfile::tempdir().unwrap();
        let small = || {
            WriterProperties::builder()
                .set_data_page_size_limit(512)
                .set_write_batch_size(64)
        };
        let cases = [
            ("dictionary", WriterProperties::builder().build(), true),
            // The dictionary outgrows its page limit: the later pages are plain.
            (
                "fallback",
                small().set_dictionary_page_size_limit(2048).build(),
                true,
            ),
            (
                "plain",
                small().set_dictionary_enabled(false).build(),
                false,
            ),
        ];
        let mut expected = CategorySample::new();
        expected.push(batch().column(0).as_ref()).unwrap();
        for (name, properties, dictionary) in cases {
            let path = dir.path().join(format!("{name}.parquet"));
            write(&path, properties);
            let found = encodings(&path);
            if name == "fallback" {
                assert!(found.contains(&Encoding::PLAIN), "{found:?}");
                assert!(found.contains(&Encoding::RLE_DICTIONARY), "{found:?}");
            }
            let (reader, schema, _) = open_parquet(&path, None, true).unwrap();
            // The file's own schema, whatever the reader was asked for.
            assert_eq!(schema.field(0).data_type(), &DataType::Utf8, "{name}");
            let mut counted = CategorySample::new();
            let mut rows = 0;
            for batch in reader {
                let batch = batch.unwrap();
                let column = batch.column(0);
                assert_eq!(
                    matches!(column.data_type(), DataType::Dictionary(..)),
                    dictionary,
                    "{name}: {}",
                    column.data_type()
                );
                assert_eq!(batch.column(1).data_type(), &DataType::Int64);
                counted.push(column.as_ref()).unwrap();
                rows += batch.num_rows();
            }
            assert_eq!(rows, 6000, "{name}");
            assert_eq!(counted, expected, "{name}");
            // A projection keeps the hint on the column read.
            let only = ["s".to_owned()];
            let (reader, _, _) = open_parquet(&path, Some(&only), true).unwrap();
            let first = reader.into_iter().next().unwrap().unwrap();
            assert_eq!(first.num_columns(), 1);
            assert_eq!(
                matches!(first.column(0).data_type(), DataType::Dictionary(..)),
                dictionary
            );
        }
    }
}
