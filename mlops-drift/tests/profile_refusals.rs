//! Stored profiles whose parts disagree are refused on read (issue 17), in JSON and in
//! Parquet, with an error naming the column: a duplicate column, a negative `M2`, data that
//! the recorded Arrow type cannot hold.

use mlops_drift::{DriftOptions, ProfileFormatError, ProfileOptions, ReferenceProfile};
use serde_json::{Value, json};

use crate::profile_common::mixed;

/// Columns 0..7 of `mixed`: amount, rounded, count (Int64, numerical), level (Int32,
/// categorical), country (Utf8), flag (Boolean), device (dictionary).
fn profile(cap: usize) -> ReferenceProfile {
    ReferenceProfile::build_with(
        &mixed(31, 6_000, 2_000, 0.0),
        &DriftOptions::default(),
        &ProfileOptions::default().with_exact_cap(cap),
    )
    .unwrap()
}

fn value(profile: &ReferenceProfile) -> Value {
    serde_json::from_str(&profile.to_json().unwrap()).unwrap()
}

/// Refused as JSON and as Parquet (the JSON bypassing the reader's checks only to be
/// written as Parquet), naming `column`, with `reason` in the message.
fn assert_refused(value: &Value, column: &str, reason: &str) {
    let text = value.to_string();
    let from_json = ReferenceProfile::from_json(&text).unwrap_err();
    let unchecked: ReferenceProfile = serde_json::from_str(&text).unwrap();
    let from_parquet =
        ReferenceProfile::from_parquet(&unchecked.to_parquet().unwrap()).unwrap_err();
    for e in [from_json, from_parquet] {
        match &e {
            ProfileFormatError::Invalid {
                column: c,
                reason: r,
            } => {
                assert_eq!(c, column, "{e}");
                assert!(r.contains(reason), "{e}");
            }
            other => panic!("expected Invalid for {column:?}, got {other:?}"),
        }
        assert!(e.to_string().contains(&format!("{column:?}")), "{e}");
    }
}

#[test]
fn the_profiles_we_write_are_accepted() {
    for cap in [usize::MAX, 1_000] {
        let profile = profile(cap);
        let text = profile.to_json().unwrap();
        assert_eq!(ReferenceProfile::from_json(&text).unwrap(), profile);
        let bytes = profile.to_parquet().unwrap();
        assert_eq!(ReferenceProfile::from_parquet(&bytes).unwrap(), profile);
    }
}

#[test]
fn a_duplicate_column_is_refused() {
    let mut v = value(&profile(usize::MAX));
    let country = v["columns"][4].clone();
    v["columns"].as_array_mut().unwrap().push(country);
    assert_refused(&v, "country", "more than once");
}

#[test]
fn a_negative_m2_is_refused() {
    let mut v = value(&profile(1_000));
    assert_eq!(v["columns"][0]["data"]["kind"], "numerical_sketch");
    v["columns"][0]["data"]["summary"]["m2"] = json!(-1.0);
    assert_refused(&v, "amount", "M2");
}

#[test]
fn numbers_under_a_text_type_are_refused() {
    let mut v = value(&profile(usize::MAX));
    assert_eq!(v["columns"][0]["data"]["kind"], "numerical");
    v["columns"][0]["data_type"] = json!("Utf8");
    assert_refused(&v, "amount", "disagrees with the data");
    // Sketched, the same.
    let mut v = value(&profile(1_000));
    v["columns"][0]["data_type"] = json!("Boolean");
    assert_refused(&v, "amount", "disagrees with the data");
}

#[test]
fn an_integer_flag_under_a_float_type_or_with_fractions_is_refused() {
    let exact = profile(usize::MAX);
    let mut v = value(&exact);
    assert_eq!(v["columns"][2]["data"]["integer"], true);
    v["columns"][2]["data_type"] = json!("Float64");
    assert_refused(&v, "count", "disagrees with the data");

    let mut v = value(&exact);
    let values = v["columns"][2]["data"]["sample"]["values"]
        .as_array_mut()
        .unwrap();
    let last = values.last().unwrap().as_f64().unwrap();
    values.push(json!(last + 0.5));
    let counts = &mut v["columns"][2]["data"]["sample"]["counts"];
    counts["rows"] = json!(counts["rows"].as_u64().unwrap() + 1);
    assert_refused(&v, "count", "not integers");
}

#[test]
fn categories_that_the_type_cannot_hold_are_refused() {
    let exact = profile(usize::MAX);
    // An integer column (few distinct values: categorical) with text categories.
    let mut v = value(&exact);
    assert_eq!(v["columns"][3]["data"]["kind"], "categorical");
    let categories = v["columns"][3]["data"]["categories"]
        .as_object_mut()
        .unwrap();
    let (key, count) = categories
        .iter()
        .next()
        .map(|(k, c)| (k.clone(), c.clone()))
        .unwrap();
    categories.remove(&key);
    categories.insert("seven".to_owned(), count);
    assert_refused(&v, "level", "disagrees with the data");
    // A boolean column with a third category.
    let mut v = value(&exact);
    let categories = v["columns"][5]["data"]["categories"]
        .as_object_mut()
        .unwrap();
    let count = categories.remove("true").unwrap();
    categories.insert("yes".to_owned(), count);
    assert_refused(&v, "flag", "disagrees with the data");
    // Categories under a float type.
    let mut v = value(&exact);
    v["columns"][4]["data_type"] = json!("Float64");
    assert_refused(&v, "country", "disagrees with the data");
}
