//! Stored profiles: JSON and Parquet give back the same profile and the same reports, and
//! corrupt or foreign input is a typed error, never a panic.

use std::collections::HashMap;
use std::sync::Arc;

use arrow_array::{Array, ArrayRef, RecordBatch, UInt32Array, UInt64Array};
use arrow_schema::Schema;
use bytes::Bytes;
use mlops_drift::{
    DriftOptions, ProfileData, ProfileFormatError, ProfileOptions, ReferenceProfile,
};
use parquet::arrow::ArrowWriter;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

use crate::profile_common::{Rng, json, mixed, option_sets};

/// A profile with every representation: exact values, sketches with and without value
/// counts, categories, and an unusable column.
fn profile(cap: usize) -> ReferenceProfile {
    let reference = mixed(21, 12_000, 5_000, 0.0);
    let options = DriftOptions::default().with_columns([
        "amount", "rounded", "count", "level", "country", "flag", "device", "missing",
    ]);
    ReferenceProfile::build_with(
        &reference,
        &options,
        &ProfileOptions::default().with_exact_cap(cap),
    )
    .unwrap()
}

#[test]
fn json_and_parquet_round_trips_are_lossless() {
    let current = mixed(22, 9_000, 2_500, 0.2);
    for cap in [usize::MAX, 1_000] {
        let profile = profile(cap);
        if cap == 1_000 {
            let kinds: Vec<bool> = profile
                .columns()
                .iter()
                .map(|c| matches!(c.data(), ProfileData::NumericalSketch(s) if !s.is_exact()))
                .collect();
            assert!(kinds[0], "amount is sketched without value counts");
        }
        assert!(matches!(
            profile.columns()[7].data(),
            ProfileData::Unusable { .. }
        ));
        let from_json = ReferenceProfile::from_json(&profile.to_json().unwrap()).unwrap();
        let from_parquet = ReferenceProfile::from_parquet(&profile.to_parquet().unwrap()).unwrap();
        assert!(from_json == profile, "JSON changed the profile (cap {cap})");
        assert!(
            from_parquet == profile,
            "Parquet changed the profile (cap {cap})"
        );
        assert_eq!(from_parquet.to_json().unwrap(), profile.to_json().unwrap());
        for options in option_sets() {
            let options = options.with_columns(["x"]); // ignored: the profile fixes the columns
            let expected = json(&profile.compare(&current, &options).unwrap());
            assert_eq!(
                json(&from_json.compare(&current, &options).unwrap()),
                expected
            );
            assert_eq!(
                json(&from_parquet.compare(&current, &options).unwrap()),
                expected
            );
        }
    }
}

fn is_err<T>(result: Result<T, ProfileFormatError>) -> ProfileFormatError {
    match result {
        Ok(_) => panic!("corrupt input was accepted"),
        Err(e) => e,
    }
}

#[test]
fn truncated_and_garbled_bytes_are_errors() {
    let profile = profile(1_000);
    let parquet = profile.to_parquet().unwrap();
    let text = profile.to_json().unwrap();
    let n = parquet.len();
    for cut in [0, 1, 3, 4, 8, 16, 100, n / 4, n / 2, n - 9, n - 8, n - 1] {
        let e = is_err(ReferenceProfile::from_parquet(&parquet[..cut]));
        assert!(matches!(e, ProfileFormatError::Parquet(_)), "{cut}: {e}");
    }
    for cut in [0, 1, 10, text.len() / 3, text.len() - 1] {
        let e = is_err(ReferenceProfile::from_json(&text[..cut]));
        assert!(matches!(e, ProfileFormatError::Json(_)), "{cut}: {e}");
    }
    is_err(ReferenceProfile::from_parquet(
        b"PAR1 this is not parquet PAR1",
    ));
    is_err(ReferenceProfile::from_json("[1, 2, 3]"));
    // Flipped bytes anywhere: an error or a consistent profile, never a panic.
    let mut rng = Rng::new(99);
    let mut errors = 0;
    for _ in 0..300 {
        let mut bad = parquet.clone();
        let at = rng.below(n as u64) as usize;
        bad[at] ^= 1 << rng.below(8);
        if ReferenceProfile::from_parquet(&bad).is_err() {
            errors += 1;
        }
    }
    assert!(errors > 0);
    let bytes = text.as_bytes();
    for _ in 0..300 {
        let mut bad = bytes.to_vec();
        let at = rng.below(bad.len() as u64) as usize;
        bad[at] = b"0123456789abcdef\"{}[],:-e."[rng.below(26) as usize];
        if let Ok(text) = std::str::from_utf8(&bad) {
            let _ = ReferenceProfile::from_json(text);
        }
    }
}

/// The batches and metadata of a Parquet profile.
fn read(data: &[u8]) -> (Vec<RecordBatch>, HashMap<String, String>) {
    let builder = ParquetRecordBatchReaderBuilder::try_new(Bytes::copy_from_slice(data)).unwrap();
    let metadata = builder
        .schema()
        .metadata()
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let batches = builder.build().unwrap().map(Result::unwrap).collect();
    (batches, metadata)
}

/// Writes batches with `metadata`, replacing the column `name` by `f(column)`.
fn rewrite(
    batches: &[RecordBatch],
    metadata: HashMap<String, String>,
    name: &str,
    f: impl Fn(&ArrayRef) -> Option<ArrayRef>,
) -> Vec<u8> {
    let first = &batches[0];
    let mut fields = Vec::new();
    for field in first.schema().fields() {
        if field.name() == name && f(first.column_by_name(name).unwrap()).is_none() {
            continue; // dropped
        }
        fields.push(field.as_ref().clone());
    }
    let schema = Arc::new(Schema::new(fields).with_metadata(metadata));
    let mut writer = ArrowWriter::try_new(Vec::new(), schema.clone(), None).unwrap();
    for batch in batches {
        let columns: Vec<ArrayRef> = batch
            .schema()
            .fields()
            .iter()
            .zip(batch.columns())
            .filter_map(|(field, column)| {
                if field.name() == name {
                    f(column)
                } else {
                    Some(column.clone())
                }
            })
            .collect();
        writer
            .write(&RecordBatch::try_new(schema.clone(), columns).unwrap())
            .unwrap();
    }
    writer.into_inner().unwrap()
}

#[test]
fn wrong_versions_are_refused() {
    let profile = profile(1_000);
    let text = profile.to_json().unwrap();
    assert!(text.starts_with("{\"version\":1,"));
    let e = is_err(ReferenceProfile::from_json(&text.replacen(
        "\"version\":1",
        "\"version\":2",
        1,
    )));
    assert_eq!(
        e,
        ProfileFormatError::Version {
            found: "2".to_owned(),
            supported: 1
        }
    );
    let (batches, metadata) = read(&profile.to_parquet().unwrap());
    let mut newer = metadata.clone();
    newer.insert("mlops_drift.profile.format_version".into(), "2".into());
    let e = is_err(ReferenceProfile::from_parquet(&rewrite(
        &batches,
        newer,
        "",
        |c| Some(c.clone()),
    )));
    assert!(
        matches!(e, ProfileFormatError::Version { ref found, .. } if found == "2"),
        "{e}"
    );
    let rows_newer = rewrite(&batches, metadata, "format_version", |c| {
        Some(Arc::new(UInt32Array::from(vec![2; c.len()])))
    });
    let e = is_err(ReferenceProfile::from_parquet(&rows_newer));
    assert!(matches!(e, ProfileFormatError::Version { .. }), "{e}");
}

#[test]
fn inconsistent_profiles_are_refused() {
    let exact = profile(usize::MAX);
    // JSON: one value fewer than the counts say.
    let mut value: serde_json::Value = serde_json::from_str(&exact.to_json().unwrap()).unwrap();
    let values = value["columns"][0]["data"]["sample"]["values"]
        .as_array_mut()
        .unwrap();
    values.pop();
    let e = is_err(ReferenceProfile::from_json(&value.to_string()));
    assert!(
        matches!(
            e,
            ProfileFormatError::LengthMismatch {
                field: "values",
                ..
            }
        ),
        "{e}"
    );
    // JSON: values out of order.
    let values = value["columns"][0]["data"]["sample"]["values"]
        .as_array_mut()
        .unwrap();
    values.push(serde_json::json!(-1.0));
    let e = is_err(ReferenceProfile::from_json(&value.to_string()));
    assert!(matches!(e, ProfileFormatError::Invalid { .. }), "{e}");
    // JSON: category counts that do not add up to the valid rows.
    let mut value: serde_json::Value = serde_json::from_str(&exact.to_json().unwrap()).unwrap();
    value["columns"][4]["data"]["categories"]["FR"] = serde_json::json!(1);
    let e = is_err(ReferenceProfile::from_json(&value.to_string()));
    assert!(
        matches!(
            e,
            ProfileFormatError::LengthMismatch {
                field: "category counts",
                ..
            }
        ),
        "{e}"
    );
    // JSON: a corrupt sketch image.
    let sketched = profile(1_000);
    let mut value: serde_json::Value = serde_json::from_str(&sketched.to_json().unwrap()).unwrap();
    value["columns"][0]["data"]["quantiles"] = serde_json::json!("0102");
    is_err(ReferenceProfile::from_json(&value.to_string()));

    // Parquet: a row count that disagrees with the stored values.
    let (batches, metadata) = read(&exact.to_parquet().unwrap());
    let more_rows = rewrite(&batches, metadata.clone(), "rows", |c| {
        let rows = c.as_any().downcast_ref::<UInt64Array>().unwrap();
        Some(Arc::new(UInt64Array::from_iter_values(
            rows.values().iter().map(|r| r + 5),
        )))
    });
    let e = is_err(ReferenceProfile::from_parquet(&more_rows));
    assert!(
        matches!(
            e,
            ProfileFormatError::LengthMismatch {
                field: "values",
                ..
            }
        ),
        "{e}"
    );
    // Parquet: a column of the schema missing.
    let missing = rewrite(&batches, metadata, "values", |_| None);
    let e = is_err(ReferenceProfile::from_parquet(&missing));
    assert_eq!(
        e,
        ProfileFormatError::Schema {
            column: "values",
            expected: "List<Float64>"
        }
    );
    // Parquet: a truncated sketch image.
    let (batches, metadata) = read(&sketched.to_parquet().unwrap());
    let cut = rewrite(&batches, metadata, "kll_sketch", |c| {
        let images = c
            .as_any()
            .downcast_ref::<arrow_array::BinaryArray>()
            .unwrap();
        Some(Arc::new(arrow_array::BinaryArray::from_iter(
            images.iter().map(|b| b.map(|b| &b[..b.len() / 2])),
        )))
    });
    let e = is_err(ReferenceProfile::from_parquet(&cut));
    assert!(matches!(e, ProfileFormatError::Invalid { .. }), "{e}");
    // Parquet: a file that is not a profile.
    let data = mixed(1, 100, 100, 0.0);
    let mut writer = ArrowWriter::try_new(Vec::new(), data[0].schema(), None).unwrap();
    writer.write(&data[0]).unwrap();
    let e = is_err(ReferenceProfile::from_parquet(
        &writer.into_inner().unwrap(),
    ));
    assert!(matches!(e, ProfileFormatError::Parquet(_)), "{e}");
}
