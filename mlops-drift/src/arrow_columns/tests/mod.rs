//! The column readers against every Arrow type they take, and the ones they refuse.

use std::sync::Arc;

use arrow_array::types::{
    DurationMicrosecondType, DurationMillisecondType, DurationNanosecondType, Int8Type, Int16Type,
    Int32Type, Int64Type, UInt8Type, UInt16Type, UInt32Type, UInt64Type,
};
use arrow_array::{
    ArrayRef, BinaryArray, BooleanArray, Date32Array, Date64Array, Decimal32Array, Decimal64Array,
    Decimal128Array, Decimal256Array, DictionaryArray, DurationSecondArray, Float16Array,
    Float32Array, Float64Array, Int8Array, Int16Array, Int32Array, Int64Array, LargeStringArray,
    ListArray, NullArray, PrimitiveArray, StringArray, StringViewArray, Time32MillisecondArray,
    Time32SecondArray, Time64MicrosecondArray, Time64NanosecondArray, TimestampMicrosecondArray,
    TimestampMillisecondArray, TimestampNanosecondArray, TimestampSecondArray, UInt8Array,
    UInt16Array, UInt32Array, UInt64Array,
};
use arrow_buffer::i256;
use arrow_schema::{Field, Schema};
use half::f16;

use super::*;

fn numbers(array: &dyn Array) -> (Vec<f64>, ValueCounts) {
    let mut out = Vec::new();
    let counts = numeric_values(array, &mut out).unwrap();
    (out, counts)
}

fn counts(rows: u64, nulls: u64) -> ValueCounts {
    ValueCounts {
        rows,
        nulls,
        ..ValueCounts::default()
    }
}

fn categories(array: &dyn Array) -> (Vec<(String, u64)>, ValueCounts) {
    let mut cats = CategoryCounts::new();
    let vc = count_categories(array, &mut cats).unwrap();
    let sorted = cats
        .sorted()
        .into_iter()
        .map(|(k, n)| (k.to_owned(), n))
        .collect();
    (sorted, vc)
}

fn cats(pairs: &[(&str, u64)]) -> Vec<(String, u64)> {
    pairs.iter().map(|&(k, n)| (k.to_owned(), n)).collect()
}

/// The error of a reader given a bare array: no column to name, and a message that
/// names none.
fn assert_unsupported(err: DriftError, want: &DataType, expected_kind: &str) {
    assert!(!err.to_string().contains("column"), "{err}");
    match err {
        DriftError::UnsupportedArray { data_type, kind } => {
            assert_eq!(&data_type, want);
            assert_eq!(kind, expected_kind);
        }
        other => panic!("expected UnsupportedArray, got {other:?}"),
    }
}

mod categorical;
mod counts;
mod numeric;
