//! The digest's contract: golden values, what it ignores, what it notices, the types it
//! covers, and the validated [`DatasetRef`].

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use arrow_array::types::{DurationMillisecondType, Time32SecondType};
use arrow_array::types::{Int8Type, Int16Type, Int32Type, UInt8Type};
use arrow_array::{
    Array, ArrayRef, BinaryArray, BooleanArray, DictionaryArray, FixedSizeBinaryArray,
    LargeStringArray, PrimitiveArray, RecordBatch, StringArray, StringViewArray,
};
use arrow_array::{
    BinaryViewArray, Date32Array, Date64Array, Decimal32Array, Decimal64Array, Decimal128Array,
    Decimal256Array, Float16Array, Float32Array, Float64Array, Int8Array, Int16Array, Int32Array,
    Int64Array, IntervalDayTimeArray, IntervalMonthDayNanoArray, IntervalYearMonthArray,
    LargeBinaryArray, NullArray, Time32MillisecondArray, Time64MicrosecondArray,
    Time64NanosecondArray, TimestampMillisecondArray, TimestampNanosecondArray,
    TimestampSecondArray, UInt8Array, UInt16Array, UInt32Array, UInt64Array,
};
use arrow_buffer::i256;
use arrow_buffer::{IntervalDayTime, IntervalMonthDayNano};
use arrow_schema::{ArrowError, DataType, Field, Schema, SchemaRef, TimeUnit};
use half::f16;

use super::digester::type_text;
use super::*;
use crate::{Error, Rule};

fn schema(fields: Vec<Field>) -> SchemaRef {
    Arc::new(Schema::new(fields))
}

fn batch(schema: &SchemaRef, columns: Vec<ArrayRef>) -> RecordBatch {
    RecordBatch::try_new(Arc::clone(schema), columns).unwrap()
}

/// One column, declared nullable, with the field type taken from the array.
fn one(name: &str, array: ArrayRef) -> RecordBatch {
    let s = schema(vec![Field::new(name, array.data_type().clone(), true)]);
    batch(&s, vec![array])
}

fn digest_of<'a>(batches: impl IntoIterator<Item = &'a RecordBatch>) -> DatasetDigest {
    let batches: Vec<&RecordBatch> = batches.into_iter().collect();
    let mut d = DatasetDigester::new(batches[0].schema()).unwrap();
    for b in &batches {
        d.update(b).unwrap();
    }
    d.finish().0
}

fn digest1(name: &str, array: ArrayRef) -> DatasetDigest {
    digest_of([&one(name, array)])
}

/// The small table of the golden test, in the given number of batches.
fn golden_table() -> (SchemaRef, Vec<ArrayRef>) {
    let s = schema(vec![
        Field::new("id", DataType::Int64, false),
        Field::new("score", DataType::Float64, true),
        Field::new("city", DataType::Utf8, true),
        Field::new("ok", DataType::Boolean, true),
        Field::new("price", DataType::Decimal128(10, 2), true),
        Field::new(
            "ts",
            DataType::Timestamp(TimeUnit::Millisecond, Some("UTC".into())),
            true,
        ),
    ]);
    // A negative NaN with a payload: canonicalised to 0x7FF8000000000000.
    let odd_nan = f64::from_bits(0xFFF8_0000_0000_0001);
    let columns: Vec<ArrayRef> = vec![
        Arc::new(Int64Array::from(vec![1, 2, 3])),
        Arc::new(Float64Array::from(vec![Some(0.5), None, Some(odd_nan)])),
        Arc::new(StringArray::from(vec![Some("Oslo"), None, Some("Zürich")])),
        Arc::new(BooleanArray::from(vec![Some(true), Some(false), None])),
        Arc::new(
            Decimal128Array::from(vec![Some(12345), Some(-1), None])
                .with_precision_and_scale(10, 2)
                .unwrap(),
        ),
        Arc::new(
            TimestampMillisecondArray::from(vec![Some(0), Some(1_700_000_000_000), None])
                .with_timezone("UTC"),
        ),
    ];
    (s, columns)
}

/// Pins version 1. This Python, written from the [`DatasetDigest`] documentation alone,
/// prints the same value; if this test fails, the algorithm changed and needs a new version tag.
///
/// ```text
/// import hashlib, struct
/// u64 = lambda x: struct.pack('<Q', x)
/// s = lambda x: u64(len(x.encode())) + x.encode()
/// fields = [("id", "int64", 0), ("score", "float64", 1), ("city", "string", 1),
///           ("ok", "bool", 1), ("price", "decimal(10,2)", 1),
///           ("ts", "timestamp[ms, tz=UTC]", 1)]
/// i256 = lambda v: v.to_bytes(32, 'little', signed=True)
/// cols = [b''.join(b'\x01' + struct.pack('<q', v) for v in [1, 2, 3]),
///         b'\x01' + struct.pack('<d', 0.5) + b'\x00'
///             + b'\x01' + bytes.fromhex('000000000000f87f'),
///         b'\x01' + s('Oslo') + b'\x00' + b'\x01' + s('Zürich'),
///         b'\x01\x01' + b'\x01\x00' + b'\x00',
///         b'\x01' + i256(12345) + b'\x01' + i256(-1) + b'\x00',
///         b'\x01' + struct.pack('<q', 0)
///             + b'\x01' + struct.pack('<q', 1700000000000) + b'\x00']
/// h = hashlib.sha256(b"mlops-dataset-digest-v1\0" + u64(6)
///     + b''.join(s(n) + s(t) + bytes([nl]) for n, t, nl in fields) + u64(3)
///     + b''.join(hashlib.sha256(c).digest() for c in cols))
/// print(h.hexdigest()[:32])
/// ```

#[test]
fn golden_digest_of_a_small_table() {
    let (s, columns) = golden_table();
    let whole = batch(&s, columns.clone());
    let r =
        DatasetRef::from_batches("golden", "memory://golden", Arc::clone(&s), [&whole]).unwrap();
    assert_eq!(r.digest().to_string(), "a3b1258d7ac0e7280c6a7e2721d43dfb");
    assert_eq!(r.rows(), 3);

    // The empty dataset with no columns.
    let (empty, rows) = DatasetDigester::new(Schema::empty()).unwrap().finish();
    assert_eq!(empty.to_string(), "66cc5aaed6e7cb27fbaa6a641e9deafd");
    assert_eq!(rows, 0);
}

mod invariance;
mod reference;
mod sensitivity;
mod types;
