//! The Parquet form of a profile: one row per profiled column, in memory (the caller writes
//! and reads the file). The schema is documented in `docs/DRIFT-PROFILE.md`.

use std::collections::HashMap;
use std::sync::Arc;

use arrow_array::builder::{BinaryBuilder, BooleanBuilder, StringBuilder};
use arrow_array::cast::AsArray;
use arrow_array::types::{Float64Type, UInt64Type};
use arrow_array::{
    Array, ArrayRef, BinaryArray, BooleanArray, Float64Array, GenericListArray, LargeListArray,
    ListArray, OffsetSizeTrait, RecordBatch, StringArray, StructArray, UInt32Array, UInt64Array,
};
use arrow_buffer::{NullBuffer, OffsetBuffer, ScalarBuffer};
use arrow_schema::{DataType, Field, Fields, Schema};
use bytes::Bytes;
use parquet::arrow::ArrowWriter;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::basic::{Compression, Encoding, ZstdLevel};
use parquet::file::properties::WriterProperties;
use parquet::schema::types::ColumnPath;

use super::error::ProfileFormatError;
use super::numeric::{NumericSketch, NumericSummary};
use super::options::ProfileOptions;
use super::sketch::{DistinctSketch, QuantileSketch, guarded};
use super::{ColumnProfile, PROFILE_FORMAT_VERSION, ProfileData, ReferenceProfile};
use crate::arrow_columns::{CategoryCounts, ValueCounts};
use crate::column::{CategorySample, NumericSample};
use crate::error::{DriftError, Result};

/// The schema-metadata key holding the format version.
pub(crate) const VERSION_KEY: &str = "mlops_drift.profile.format_version";
/// The schema-metadata key holding the [`ProfileOptions`] as JSON.
pub(crate) const OPTIONS_KEY: &str = "mlops_drift.profile.options";

fn value_count_fields() -> Fields {
    Fields::from(vec![
        Field::new("value", DataType::Float64, false),
        Field::new("count", DataType::UInt64, false),
    ])
}

fn category_fields() -> Fields {
    Fields::from(vec![
        Field::new("key", DataType::Utf8, false),
        Field::new("count", DataType::UInt64, false),
    ])
}

/// The Arrow schema of the Parquet form (without its metadata).
fn schema() -> Schema {
    let list = |name: &str, fields: Fields| {
        Field::new(
            name,
            DataType::List(Arc::new(Field::new(
                "item",
                DataType::Struct(fields),
                false,
            ))),
            true,
        )
    };
    Schema::new(vec![
        Field::new("format_version", DataType::UInt32, false),
        Field::new("name", DataType::Utf8, false),
        Field::new("data_type", DataType::Utf8, false),
        Field::new("kind", DataType::Utf8, false),
        Field::new("representation", DataType::Utf8, true),
        Field::new("kind_forced", DataType::Boolean, false),
        Field::new("reason", DataType::Utf8, true),
        Field::new("rows", DataType::UInt64, false),
        Field::new("nulls", DataType::UInt64, false),
        Field::new("nan", DataType::UInt64, false),
        Field::new("pos_inf", DataType::UInt64, false),
        Field::new("neg_inf", DataType::UInt64, false),
        Field::new("integer", DataType::Boolean, true),
        Field::new("count", DataType::UInt64, true),
        Field::new("min", DataType::Float64, true),
        Field::new("max", DataType::Float64, true),
        Field::new("mean", DataType::Float64, true),
        Field::new("m2", DataType::Float64, true),
        Field::new(
            "values",
            DataType::LargeList(Arc::new(Field::new("item", DataType::Float64, false))),
            true,
        ),
        list("value_counts", value_count_fields()),
        list("categories", category_fields()),
        Field::new("kll_sketch", DataType::Binary, true),
        Field::new("hll_sketch", DataType::Binary, true),
    ])
}

/// Offsets and validity of a list column being built.
struct Lists<O> {
    offsets: Vec<O>,
    valid: Vec<bool>,
}

impl<O: OffsetSizeTrait> Lists<O> {
    fn new(rows: usize) -> Self {
        let mut offsets = Vec::with_capacity(rows + 1);
        offsets.push(O::usize_as(0));
        Self {
            offsets,
            valid: Vec::with_capacity(rows),
        }
    }

    /// Closes one row whose children now end at `len` (`None`: a null list).
    fn row(&mut self, len: Option<usize>) -> Result<()> {
        let last = self
            .offsets
            .last()
            .copied()
            .unwrap_or_else(|| O::usize_as(0));
        let end = match len {
            Some(len) => O::from_usize(len).ok_or_else(|| {
                DriftError::Profile("a profile list is too long for its offsets".to_owned())
            })?,
            None => last,
        };
        self.offsets.push(end);
        self.valid.push(len.is_some());
        Ok(())
    }

    fn finish(self, field: Arc<Field>, values: ArrayRef) -> Result<GenericListArray<O>> {
        GenericListArray::try_new(
            field,
            OffsetBuffer::new(ScalarBuffer::from(self.offsets)),
            values,
            Some(NullBuffer::from(self.valid)),
        )
        .map_err(DriftError::from)
    }
}

impl ReferenceProfile {
    /// The profile as a Parquet file, in memory: one row per column (schema in
    /// `docs/DRIFT-PROFILE.md`), zstd-compressed, sorted values stored with Parquet's
    /// byte-stream-split encoding.
    pub fn to_parquet(&self) -> Result<Vec<u8>> {
        let rows = self.columns.len();
        let mut name = StringBuilder::new();
        let mut data_type = StringBuilder::new();
        let mut kind = StringBuilder::new();
        let mut representation = StringBuilder::new();
        let mut kind_forced = BooleanBuilder::new();
        let mut reason = StringBuilder::new();
        let mut counts: [Vec<u64>; 5] = Default::default();
        let mut integer = BooleanBuilder::new();
        let mut count: Vec<Option<u64>> = Vec::with_capacity(rows);
        let mut summary: [Vec<Option<f64>>; 4] = Default::default();
        let (mut values, mut value_lists) = (Vec::<f64>::new(), Lists::<i64>::new(rows));
        let (mut vc_values, mut vc_counts, mut vc_lists) = (
            Vec::<f64>::new(),
            Vec::<u64>::new(),
            Lists::<i32>::new(rows),
        );
        let (mut cat_keys, mut cat_counts, mut cat_lists) = (
            StringBuilder::new(),
            Vec::<u64>::new(),
            Lists::<i32>::new(rows),
        );
        let mut kll = BinaryBuilder::new();
        let mut hll = BinaryBuilder::new();

        for column in &self.columns {
            name.append_value(&column.name);
            let type_json = serde_json::to_string(&column.data_type)
                .map_err(|e| DriftError::Profile(e.to_string()))?;
            data_type.append_value(type_json);
            kind_forced.append_value(column.kind_forced);
            let (value_counts, stats, numeric): (
                ValueCounts,
                Option<NumericSummary>,
                Option<bool>,
            ) = match &column.data {
                ProfileData::Numerical { sample, integer } => (
                    sample.counts(),
                    Some(NumericSummary::of(sample.values())),
                    Some(*integer),
                ),
                ProfileData::NumericalSketch(s) => {
                    (s.counts(), Some(*s.summary()), Some(s.integer()))
                }
                ProfileData::Categorical(s) => (s.counts(), None, None),
                ProfileData::Unusable { .. } => (ValueCounts::default(), None, None),
            };
            for (slot, v) in counts.iter_mut().zip([
                value_counts.rows,
                value_counts.nulls,
                value_counts.nan,
                value_counts.pos_inf,
                value_counts.neg_inf,
            ]) {
                slot.push(v);
            }
            integer.append_option(numeric);
            count.push(stats.map(|s| s.count()));
            for (slot, v) in summary.iter_mut().zip([
                stats.map(|s| s.min()),
                stats.map(|s| s.max()),
                stats.map(|s| s.mean()),
                stats.map(|s| s.m2()),
            ]) {
                slot.push(v);
            }
            let (mut has_values, mut has_vc, mut has_cats) = (false, false, false);
            match &column.data {
                ProfileData::Numerical { sample, .. } => {
                    kind.append_value("numerical");
                    representation.append_value("exact");
                    reason.append_null();
                    values.extend_from_slice(sample.values());
                    has_values = true;
                    kll.append_null();
                    hll.append_null();
                }
                ProfileData::NumericalSketch(s) => {
                    kind.append_value("numerical");
                    representation.append_value("sketch");
                    reason.append_null();
                    if let Some(pairs) = s.value_counts() {
                        for &(v, c) in pairs {
                            vc_values.push(v);
                            vc_counts.push(c);
                        }
                        has_vc = true;
                    }
                    kll.append_value(s.sketch_bytes());
                    hll.append_option(s.distinct_sketch_bytes());
                }
                ProfileData::Categorical(s) => {
                    kind.append_value("categorical");
                    representation.append_null();
                    reason.append_null();
                    for (key, c) in s.categories().sorted() {
                        cat_keys.append_value(key);
                        cat_counts.push(c);
                    }
                    has_cats = true;
                    kll.append_null();
                    hll.append_null();
                }
                ProfileData::Unusable { reason: why } => {
                    kind.append_value("unusable");
                    representation.append_null();
                    reason.append_value(why);
                    kll.append_null();
                    hll.append_null();
                }
            }
            value_lists.row(has_values.then_some(values.len()))?;
            vc_lists.row(has_vc.then_some(vc_values.len()))?;
            cat_lists.row(has_cats.then_some(cat_counts.len()))?;
        }

        let schema = schema();
        let field = |i: &str| -> Result<Arc<Field>> {
            match schema.field_with_name(i)?.data_type() {
                DataType::List(f) | DataType::LargeList(f) => Ok(f.clone()),
                _ => Err(DriftError::Profile(format!("{i} is not a list"))),
            }
        };
        let value_counts_struct = StructArray::try_new(
            value_count_fields(),
            vec![
                Arc::new(Float64Array::from(vc_values)),
                Arc::new(UInt64Array::from(vc_counts)),
            ],
            None,
        )?;
        let categories_struct = StructArray::try_new(
            category_fields(),
            vec![
                Arc::new(cat_keys.finish()),
                Arc::new(UInt64Array::from(cat_counts)),
            ],
            None,
        )?;
        let [rows_c, nulls_c, nan_c, pos_c, neg_c] = counts;
        let [min, max, mean, m2] = summary;
        let columns: Vec<ArrayRef> = vec![
            Arc::new(UInt32Array::from(vec![PROFILE_FORMAT_VERSION; rows])),
            Arc::new(name.finish()),
            Arc::new(data_type.finish()),
            Arc::new(kind.finish()),
            Arc::new(representation.finish()),
            Arc::new(kind_forced.finish()),
            Arc::new(reason.finish()),
            Arc::new(UInt64Array::from(rows_c)),
            Arc::new(UInt64Array::from(nulls_c)),
            Arc::new(UInt64Array::from(nan_c)),
            Arc::new(UInt64Array::from(pos_c)),
            Arc::new(UInt64Array::from(neg_c)),
            Arc::new(integer.finish()),
            Arc::new(UInt64Array::from(count)),
            Arc::new(Float64Array::from(min)),
            Arc::new(Float64Array::from(max)),
            Arc::new(Float64Array::from(mean)),
            Arc::new(Float64Array::from(m2)),
            Arc::new(value_lists.finish(field("values")?, Arc::new(Float64Array::from(values)))?),
            Arc::new(vc_lists.finish(field("value_counts")?, Arc::new(value_counts_struct))?),
            Arc::new(cat_lists.finish(field("categories")?, Arc::new(categories_struct))?),
            Arc::new(kll.finish()),
            Arc::new(hll.finish()),
        ];
        let options_json =
            serde_json::to_string(&self.options).map_err(|e| DriftError::Profile(e.to_string()))?;
        let metadata = HashMap::from([
            (VERSION_KEY.to_owned(), PROFILE_FORMAT_VERSION.to_string()),
            (OPTIONS_KEY.to_owned(), options_json),
        ]);
        let schema = Arc::new(schema.with_metadata(metadata));
        let batch = RecordBatch::try_new(schema.clone(), columns)?;
        let parquet_err = |e: parquet::errors::ParquetError| DriftError::Profile(e.to_string());
        let level = ZstdLevel::try_new(3).map_err(parquet_err)?;
        let properties = WriterProperties::builder()
            .set_compression(Compression::ZSTD(level))
            .set_column_dictionary_enabled(ColumnPath::from("values.list.item"), false)
            .set_column_encoding(
                ColumnPath::from("values.list.item"),
                Encoding::BYTE_STREAM_SPLIT,
            )
            .build();
        let mut writer =
            ArrowWriter::try_new(Vec::new(), schema, Some(properties)).map_err(parquet_err)?;
        writer.write(&batch).map_err(parquet_err)?;
        writer.into_inner().map_err(parquet_err)
    }

    /// A profile from its Parquet form, checked for consistency. Never panics: truncated,
    /// corrupt or foreign input gives an error.
    ///
    /// # Errors
    ///
    /// [`ProfileFormatError::Parquet`] for bytes that are not a readable Parquet file,
    /// [`ProfileFormatError::Version`] for another format version,
    /// [`ProfileFormatError::Schema`] for a file with another schema, and the other variants
    /// for a profile whose parts disagree.
    pub fn from_parquet(data: &[u8]) -> std::result::Result<Self, ProfileFormatError> {
        let mut outcome = Err(ProfileFormatError::Parquet("unreadable".to_owned()));
        let read = guarded("the Parquet profile", || {
            outcome = read_parquet(data);
            Ok(())
        });
        match read {
            Ok(()) => outcome,
            Err(e) => Err(ProfileFormatError::Parquet(e)),
        }
    }
}

fn read_parquet(data: &[u8]) -> std::result::Result<ReferenceProfile, ProfileFormatError> {
    let parquet = |e: &dyn std::fmt::Display| ProfileFormatError::Parquet(e.to_string());
    let builder = ParquetRecordBatchReaderBuilder::try_new(Bytes::copy_from_slice(data))
        .map_err(|e| parquet(&e))?;
    let metadata = builder.schema().metadata().clone();
    match metadata.get(VERSION_KEY) {
        Some(v) if v.trim() == PROFILE_FORMAT_VERSION.to_string() => {}
        Some(v) => {
            return Err(ProfileFormatError::Version {
                found: v.clone(),
                supported: PROFILE_FORMAT_VERSION,
            });
        }
        None => {
            return Err(ProfileFormatError::Parquet(format!(
                "no {VERSION_KEY:?} metadata: not a reference profile"
            )));
        }
    }
    let options: ProfileOptions = metadata
        .get(OPTIONS_KEY)
        .ok_or_else(|| ProfileFormatError::Options(format!("no {OPTIONS_KEY:?} metadata")))
        .and_then(|text| {
            serde_json::from_str(text).map_err(|e| ProfileFormatError::Options(e.to_string()))
        })?;
    let reader = builder.build().map_err(|e| parquet(&e))?;
    let mut columns = Vec::new();
    for batch in reader {
        let batch = batch.map_err(|e| parquet(&e))?;
        let rows = Rows::new(&batch)?;
        for i in 0..batch.num_rows() {
            columns.push(rows.column(i)?);
        }
    }
    let profile = ReferenceProfile::from_parts(options, columns);
    profile.check()?;
    Ok(profile)
}

/// The columns of one batch of the Parquet form, typed.
struct Rows<'a> {
    version: &'a UInt32Array,
    name: &'a StringArray,
    data_type: &'a StringArray,
    kind: &'a StringArray,
    representation: &'a StringArray,
    kind_forced: &'a BooleanArray,
    reason: &'a StringArray,
    counts: [&'a UInt64Array; 5],
    integer: &'a BooleanArray,
    count: &'a UInt64Array,
    summary: [&'a Float64Array; 4],
    values: &'a dyn Array,
    value_counts: &'a dyn Array,
    categories: &'a dyn Array,
    kll: &'a BinaryArray,
    hll: &'a BinaryArray,
}

/// The column `name` of `batch` as `T`, or the error naming its expected type.
fn typed<'a, T: 'static>(
    batch: &'a RecordBatch,
    name: &'static str,
    expected: &'static str,
) -> std::result::Result<&'a T, ProfileFormatError> {
    batch
        .column_by_name(name)
        .and_then(|a| a.as_any().downcast_ref::<T>())
        .ok_or(ProfileFormatError::Schema {
            column: name,
            expected,
        })
}

fn list_column<'a>(
    batch: &'a RecordBatch,
    name: &'static str,
    expected: &'static str,
) -> std::result::Result<&'a dyn Array, ProfileFormatError> {
    batch
        .column_by_name(name)
        .map(|a| a.as_ref())
        .filter(|a| matches!(a.data_type(), DataType::List(_) | DataType::LargeList(_)))
        .ok_or(ProfileFormatError::Schema {
            column: name,
            expected,
        })
}

impl<'a> Rows<'a> {
    fn new(batch: &'a RecordBatch) -> std::result::Result<Self, ProfileFormatError> {
        let text = |name| typed::<StringArray>(batch, name, "Utf8");
        let count = |name| typed::<UInt64Array>(batch, name, "UInt64");
        let float = |name| typed::<Float64Array>(batch, name, "Float64");
        Ok(Self {
            version: typed(batch, "format_version", "UInt32")?,
            name: text("name")?,
            data_type: text("data_type")?,
            kind: text("kind")?,
            representation: text("representation")?,
            kind_forced: typed(batch, "kind_forced", "Boolean")?,
            reason: text("reason")?,
            counts: [
                count("rows")?,
                count("nulls")?,
                count("nan")?,
                count("pos_inf")?,
                count("neg_inf")?,
            ],
            integer: typed(batch, "integer", "Boolean")?,
            count: count("count")?,
            summary: [float("min")?, float("max")?, float("mean")?, float("m2")?],
            values: list_column(batch, "values", "List<Float64>")?,
            value_counts: list_column(batch, "value_counts", "List<Struct<value, count>>")?,
            categories: list_column(batch, "categories", "List<Struct<key, count>>")?,
            kll: typed(batch, "kll_sketch", "Binary")?,
            hll: typed(batch, "hll_sketch", "Binary")?,
        })
    }

    fn column(&self, i: usize) -> std::result::Result<ColumnProfile, ProfileFormatError> {
        let text = |a: &StringArray| a.is_valid(i).then(|| a.value(i).to_owned());
        let name = text(self.name).unwrap_or_default();
        let invalid = |reason: String| ProfileFormatError::Invalid {
            column: name.clone(),
            reason,
        };
        if !self.version.is_valid(i) || self.version.value(i) != PROFILE_FORMAT_VERSION {
            return Err(ProfileFormatError::Version {
                found: if self.version.is_valid(i) {
                    self.version.value(i).to_string()
                } else {
                    "null".to_owned()
                },
                supported: PROFILE_FORMAT_VERSION,
            });
        }
        let data_type: DataType = text(self.data_type)
            .and_then(|t| serde_json::from_str(&t).ok())
            .ok_or_else(|| invalid("data_type is not an Arrow type in JSON".to_owned()))?;
        let kind_forced = self.kind_forced.is_valid(i) && self.kind_forced.value(i);
        let [rows, nulls, nan, pos_inf, neg_inf] = self
            .counts
            .map(|a| if a.is_valid(i) { a.value(i) } else { 0 });
        let counts = ValueCounts {
            rows,
            nulls,
            nan,
            pos_inf,
            neg_inf,
        };
        let integer = self.integer.is_valid(i) && self.integer.value(i);
        let data = match (
            text(self.kind).as_deref(),
            text(self.representation).as_deref(),
        ) {
            (Some("unusable"), _) => ProfileData::Unusable {
                reason: text(self.reason).unwrap_or_default(),
            },
            (Some("categorical"), _) => {
                let (keys, cats) = categories(self.categories, i)
                    .map_err(invalid)?
                    .ok_or_else(|| invalid("a categorical column without categories".into()))?;
                let mut categories = CategoryCounts::new();
                for (key, &c) in keys.iter().zip(&cats) {
                    categories.add(key, c);
                }
                if categories.len() != keys.len() {
                    return Err(invalid("categories repeat or have zero counts".to_owned()));
                }
                ProfileData::Categorical(CategorySample::from_parts(categories, counts))
            }
            (Some("numerical"), Some("exact")) => {
                let values = floats(self.values, i)
                    .map_err(invalid)?
                    .ok_or_else(|| invalid("an exact column without values".to_owned()))?;
                let sorted = values.windows(2).all(|w| w[0] <= w[1]);
                ProfileData::Numerical {
                    sample: NumericSample::from_sorted_parts(values, sorted, counts),
                    integer,
                }
            }
            (Some("numerical"), Some("sketch")) => {
                let [min, max, mean, m2] = self.summary.map(|a| a.is_valid(i).then(|| a.value(i)));
                let (Some(count), Some(min), Some(max), Some(mean), Some(m2)) = (
                    self.count.is_valid(i).then(|| self.count.value(i)),
                    min,
                    max,
                    mean,
                    m2,
                ) else {
                    return Err(invalid("a sketched column without its summary".to_owned()));
                };
                let summary = NumericSummary::from_parts(count, min, max, mean, m2);
                let kll = self
                    .kll
                    .is_valid(i)
                    .then(|| self.kll.value(i))
                    .ok_or_else(|| invalid("a sketched column without its KLL sketch".into()))?;
                let quantiles = QuantileSketch::from_bytes(kll).map_err(invalid)?;
                let distinct = match self.hll.is_valid(i).then(|| self.hll.value(i)) {
                    Some(bytes) => Some(DistinctSketch::from_bytes(bytes).map_err(invalid)?),
                    None => None,
                };
                let value_counts = value_counts(self.value_counts, i).map_err(invalid)?;
                ProfileData::NumericalSketch(
                    NumericSketch::from_parts(
                        counts,
                        integer,
                        summary,
                        value_counts,
                        quantiles,
                        distinct,
                    )
                    .map_err(invalid)?,
                )
            }
            (kind, representation) => {
                return Err(invalid(format!(
                    "unknown kind {kind:?} with representation {representation:?}"
                )));
            }
        };
        Ok(ColumnProfile::from_parts(
            name,
            data_type,
            kind_forced,
            data,
        ))
    }
}

/// Row `i` of a list column as the sliced child array, or `None` when null.
fn list_row(list: &dyn Array, i: usize) -> Option<ArrayRef> {
    if list.is_null(i) {
        return None;
    }
    if let Some(l) = list.as_any().downcast_ref::<ListArray>() {
        return Some(l.value(i));
    }
    list.as_any()
        .downcast_ref::<LargeListArray>()
        .map(|l| l.value(i))
}

fn floats(list: &dyn Array, i: usize) -> std::result::Result<Option<Vec<f64>>, String> {
    let Some(row) = list_row(list, i) else {
        return Ok(None);
    };
    let values = row
        .as_primitive_opt::<Float64Type>()
        .ok_or("the values are not Float64")?;
    if values.null_count() > 0 {
        return Err("the values hold nulls".to_owned());
    }
    Ok(Some(values.values().to_vec()))
}

fn struct_row(list: &dyn Array, i: usize) -> std::result::Result<Option<StructArray>, String> {
    let Some(row) = list_row(list, i) else {
        return Ok(None);
    };
    let row = row.as_struct_opt().ok_or("a list of structs is expected")?;
    if row.null_count() > 0 {
        return Err("a list holds null entries".to_owned());
    }
    Ok(Some(row.clone()))
}

fn counts_of(row: &StructArray) -> std::result::Result<Vec<u64>, String> {
    let counts = row
        .column_by_name("count")
        .and_then(|a| a.as_primitive_opt::<UInt64Type>())
        .ok_or("the entries have no UInt64 count")?;
    if counts.null_count() > 0 {
        return Err("the counts hold nulls".to_owned());
    }
    Ok(counts.values().to_vec())
}

fn value_counts(
    list: &dyn Array,
    i: usize,
) -> std::result::Result<Option<Vec<(f64, u64)>>, String> {
    let Some(row) = struct_row(list, i)? else {
        return Ok(None);
    };
    let values = row
        .column_by_name("value")
        .and_then(|a| a.as_primitive_opt::<Float64Type>())
        .ok_or("the value counts have no Float64 value")?;
    if values.null_count() > 0 {
        return Err("the values hold nulls".to_owned());
    }
    let counts = counts_of(&row)?;
    Ok(Some(values.values().iter().copied().zip(counts).collect()))
}

/// Category keys and their counts, aligned.
type Categories = (Vec<String>, Vec<u64>);

fn categories(list: &dyn Array, i: usize) -> std::result::Result<Option<Categories>, String> {
    let Some(row) = struct_row(list, i)? else {
        return Ok(None);
    };
    let keys = row
        .column_by_name("key")
        .and_then(|a| a.as_string_opt::<i32>())
        .ok_or("the categories have no Utf8 key")?;
    if keys.null_count() > 0 {
        return Err("the category keys hold nulls".to_owned());
    }
    let keys = keys.iter().flatten().map(str::to_owned).collect();
    Ok(Some((keys, counts_of(&row)?)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_schema_is_stable() {
        let names: Vec<String> = schema().fields().iter().map(|f| f.name().clone()).collect();
        assert_eq!(names.len(), 23);
        assert_eq!(names[0], "format_version");
    }
}
