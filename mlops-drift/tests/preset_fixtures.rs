//! Whole datasets through `detect_drift`, against Evidently 0.7.23's `DataDriftPreset` on the
//! same data (`fixtures/preset.json`). Regenerate with
//! `.venv/bin/python mlops-drift/tests/fixtures/gen_preset.py` (its header explains the two
//! Evidently runs recorded per dataset).
//!
//! Per column we require Evidently's test choice, its score (within 1e-9 relative for
//! distances, 1e-6 relative for p-values), its threshold (exactly) and its verdict; per dataset
//! the number of tested and drifted columns, the share (exactly) and the verdict. Every
//! dataset is fed as several uneven batches, and the report must be identical to the one from
//! a single batch.
//!
//! The fixture holds two Evidently runs: `evidently` (Evidently as a pandas user runs it) and
//! `ours` (the same preset told each column's kind as mlops-drift infers it). Our report must
//! equal `ours` everywhere, and `evidently` wherever the fixture lists no deviation. Each
//! deviation must have a reason accepted in [`ACCEPTED`], which says whether it is a
//! documented, deliberate difference (DRIFT.md) or a known mismatch.

use std::collections::BTreeMap;
use std::sync::Arc;

use arrow_array::{ArrayRef, BooleanArray, Float64Array, Int64Array, RecordBatch, StringArray};
use arrow_schema::{DataType, Field, Schema};
use mlops_drift::{ColumnKind, DriftOptions, DriftReport, StatTest, detect_drift};
use serde_json::Value;

const DISTANCE_RTOL: f64 = 1e-9;
const P_VALUE_RTOL: f64 = 1e-6;

/// Whether a difference from Evidently is a design decision or a known gap.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Why {
    /// One of Evidently's defects that DRIFT.md says we deliberately do not copy.
    Deliberate,
    /// Not (yet) in DRIFT.md: a difference in how the column kind is inferred.
    KindInference,
}

/// Every reason the generator may give for a column where Evidently differs from us.
const ACCEPTED: &[(&str, Why, &str)] = &[
    (
        "nullable_bool_skipped",
        Why::Deliberate,
        // DRIFT.md: "nullable boolean columns are silently skipped". A bool column with nulls
        // is `object` in pandas, which Evidently infers as Unknown and leaves out of the preset
        // and of the dataset count. We test it as categorical (z-test or chi-square over the
        // non-null values), so our n_columns is one higher.
        "Evidently skips nullable booleans; we test them",
    ),
    (
        "dataset_count_keeps_inf",
        Why::Deliberate,
        // DRIFT.md: "the dataset-level count skips inf-cleaning when a column has no NaN".
        // `DriftedColumnsCount` runs the legacy `get_drift_for_columns`, which cleans a column
        // only when `isna().any()`; a column with ±inf and no NaN/null is tested with its
        // infinities. Its `ValueDrift` (and we) clean them, so the column's own verdict and the
        // dataset count disagree in Evidently; ours agree.
        "Evidently's dataset count keeps ±inf in columns without NaN; we always clean",
    ),
    (
        "integer_kind_from_current",
        Why::KindInference,
        // Evidently infers column types from the *current* dataset (`Context.data_definition`
        // is the current Dataset's), so an integer column is categorical when current has at
        // most 10 distinct values. We infer from the reference (so that a `ReferenceProfile`
        // is complete without current data). The numbers agree once the kind agrees.
        "Evidently infers the integer kind from current data, we from the reference",
    ),
    (
        "nullable_int_is_float_in_pandas",
        Why::KindInference,
        // An int64 column with nulls is float64 in pandas (`to_pandas`, `read_parquet`), hence
        // always numerical for Evidently; the Arrow column is Int64, which we treat like any
        // integer column (categorical at most 10 distinct reference values). (With pandas'
        // nullable `Int64` dtype Evidently infers Unknown and skips the column.)
        "an int column with nulls is float64 in pandas, numerical for Evidently",
    ),
];

// ---------------------------------------------------------------------------------------------
// Fixture reading

fn fixture() -> Value {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/preset.json");
    let text = std::fs::read_to_string(path).expect("read preset.json");
    serde_json::from_str(&text).expect("parse preset.json")
}

/// A float written as a string by the generator ("nan", "inf" and "-inf" included).
fn num(v: &Value) -> f64 {
    v.as_str()
        .unwrap_or_else(|| panic!("expected a float string, got {v}"))
        .parse()
        .unwrap_or_else(|e| panic!("bad float {v}: {e}"))
}

fn text<'a>(v: &'a Value, key: &str) -> &'a str {
    v[key]
        .as_str()
        .unwrap_or_else(|| panic!("missing string {key} in {v}"))
}

fn flag(v: &Value, key: &str) -> bool {
    v[key]
        .as_bool()
        .unwrap_or_else(|| panic!("missing bool {key} in {v}"))
}

fn count(v: &Value, key: &str) -> u64 {
    v[key]
        .as_u64()
        .unwrap_or_else(|| panic!("missing count {key} in {v}"))
}

/// One side of one column as an Arrow array.
fn array(dtype: &str, values: &[Value]) -> ArrayRef {
    match dtype {
        "float64" => Arc::new(Float64Array::from(
            values
                .iter()
                .map(|v| (!v.is_null()).then(|| num(v)))
                .collect::<Vec<_>>(),
        )),
        "int64" => Arc::new(Int64Array::from(
            values
                .iter()
                .map(|v| (!v.is_null()).then(|| v.as_i64().expect("int64 value")))
                .collect::<Vec<_>>(),
        )),
        "string" => Arc::new(StringArray::from(
            values.iter().map(Value::as_str).collect::<Vec<_>>(),
        )),
        "bool" => Arc::new(BooleanArray::from(
            values.iter().map(Value::as_bool).collect::<Vec<_>>(),
        )),
        other => panic!("unknown dtype {other}"),
    }
}

fn data_type(dtype: &str) -> DataType {
    match dtype {
        "float64" => DataType::Float64,
        "int64" => DataType::Int64,
        "string" => DataType::Utf8,
        "bool" => DataType::Boolean,
        other => panic!("unknown dtype {other}"),
    }
}

/// One side of a dataset as batches cut at `cuts` (fractions of the rows, ascending).
fn batches(dataset: &Value, side: &str, cuts: &[f64]) -> Vec<RecordBatch> {
    let columns = dataset["columns"].as_array().expect("columns");
    let schema = Arc::new(Schema::new(
        columns
            .iter()
            .map(|c| Field::new(text(c, "name"), data_type(text(c, "dtype")), true))
            .collect::<Vec<_>>(),
    ));
    let arrays: Vec<ArrayRef> = columns
        .iter()
        .map(|c| array(text(c, "dtype"), c[side].as_array().expect("values")))
        .collect();
    let rows = arrays[0].len();
    let whole = RecordBatch::try_new(schema, arrays).expect("batch");
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let mut bounds: Vec<usize> = cuts
        .iter()
        .map(|f| (f * rows as f64).round() as usize)
        .collect();
    bounds.insert(0, 0);
    bounds.push(rows);
    bounds
        .windows(2)
        .map(|w| whole.slice(w[0], w[1] - w[0]))
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Comparison

/// Collects every mismatch so that one run reports them all.
#[derive(Default)]
struct Checker {
    failures: Vec<String>,
    checks: usize,
    worst: BTreeMap<&'static str, f64>,
}

impl Checker {
    fn check(&mut self, ok: bool, what: impl FnOnce() -> String) {
        self.checks += 1;
        if !ok {
            self.failures.push(what());
        }
    }

    /// `ours` against `expected` at relative tolerance `rtol`; equal values (0 and ±inf
    /// included) always pass.
    fn close(&mut self, test: StatTest, ours: f64, expected: f64, what: &str) {
        let rtol = if test.decision().is_p_value() {
            P_VALUE_RTOL
        } else {
            DISTANCE_RTOL
        };
        let rel = if ours == expected {
            0.0
        } else {
            (ours - expected).abs() / expected.abs().max(ours.abs())
        };
        let worst = self.worst.entry(test.name()).or_insert(0.0);
        if rel.is_finite() {
            *worst = worst.max(rel);
        }
        self.check(rel <= rtol, || {
            format!("{what}: {test} score {ours:e}, expected {expected:e} (relative error {rel:e})")
        });
    }
}

fn accepted(reason: &str) -> Option<Why> {
    ACCEPTED
        .iter()
        .find(|(r, _, _)| *r == reason)
        .map(|(_, why, _)| *why)
}

/// Our column result against one recorded Evidently result (`test`, `score`, `threshold`,
/// `drifted`).
fn check_column(ck: &mut Checker, report: &DriftReport, name: &str, expected: &Value, what: &str) {
    let Some(ours) = report.columns.iter().find(|c| c.column == name) else {
        ck.check(false, || format!("{what}: column missing from our report"));
        return;
    };
    ck.check(ours.error.is_none(), || {
        format!("{what}: our error {:?}", ours.error)
    });
    let Some(result) = ours.results.first() else {
        ck.check(false, || format!("{what}: no result"));
        return;
    };
    let test: StatTest = text(expected, "test").parse().expect("test name");
    ck.check(result.test == test, || {
        format!("{what}: we chose {}, Evidently {test}", result.test)
    });
    if result.test == test {
        ck.close(test, result.score, num(&expected["score"]), what);
    }
    let threshold = num(&expected["threshold"]);
    ck.check(result.threshold == threshold, || {
        format!(
            "{what}: threshold {}, expected {threshold}",
            result.threshold
        )
    });
    let drifted = flag(expected, "drifted");
    ck.check(ours.drifted == drifted && result.drifted == drifted, || {
        format!(
            "{what}: drifted {}, expected {drifted} (score {:e})",
            ours.drifted, result.score
        )
    });
}

fn kind_name(kind: Option<ColumnKind>) -> &'static str {
    match kind {
        Some(ColumnKind::Numerical) => "num",
        Some(ColumnKind::Categorical) => "cat",
        None => "none",
    }
}

/// Checks one dataset; returns the accepted deviations seen, for the summary.
fn check_dataset(ck: &mut Checker, dataset: &Value) -> Vec<String> {
    let name = text(dataset, "name");
    let reference = batches(dataset, "reference", &[0.2, 0.65]);
    let current = batches(dataset, "current", &[0.45]);
    let options = DriftOptions::default();
    let report = detect_drift(&reference, &current, &options).expect("detect_drift");

    // Batching does not matter: one batch per side gives the same report, bit for bit.
    let whole = detect_drift(
        &batches(dataset, "reference", &[]),
        &batches(dataset, "current", &[]),
        &options,
    )
    .expect("detect_drift on single batches");
    ck.check(report == whole, || {
        format!("{name}: the report depends on how the data is split into batches")
    });

    let mut deviated: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    let mut seen = Vec::new();
    for d in dataset["deviations"].as_array().expect("deviations") {
        let (column, reason) = (text(d, "column"), text(d, "reason"));
        let why = accepted(reason);
        ck.check(why.is_some(), || {
            format!("{name}.{column}: Evidently differs from us for an unaccepted reason: {reason}")
        });
        deviated.entry(column).or_default().push(reason);
        seen.push(format!("{name}.{column}: {reason} ({why:?})"));
    }

    let ours = &dataset["ours"];
    let evidently = &dataset["evidently"];
    for column in dataset["columns"].as_array().expect("columns") {
        let col = text(column, "name");
        // Against Evidently told our column kinds: always.
        let expected = &ours["columns"][col];
        let what = format!("{name}.{col} (vs Evidently with our kinds)");
        check_column(ck, &report, col, expected, &what);
        let our_kind = report
            .columns
            .iter()
            .find(|c| c.column == col)
            .map(|c| kind_name(c.kind));
        ck.check(our_kind == Some(text(expected, "kind")), || {
            format!(
                "{name}.{col}: our kind {our_kind:?}, expected {}",
                expected["kind"]
            )
        });

        // Against Evidently as is: unless a column-level deviation explains the difference.
        let reasons = deviated.get(col).cloned().unwrap_or_default();
        let column_level = reasons.iter().any(|r| *r != "dataset_count_keeps_inf");
        let theirs = &evidently["columns"][col];
        if !column_level {
            let what = format!("{name}.{col} (vs Evidently)");
            check_column(ck, &report, col, theirs, &what);
            ck.check(our_kind == Some(text(theirs, "type")), || {
                format!(
                    "{name}.{col}: our kind {our_kind:?}, Evidently {}",
                    theirs["type"]
                )
            });
        }
        if reasons.contains(&"dataset_count_keeps_inf") {
            // Evidently's dataset path saw the infinities and decided otherwise; we follow
            // the column's own (cleaned) verdict.
            let path = &theirs["dataset_path"];
            let ours_drifted = report
                .columns
                .iter()
                .find(|c| c.column == col)
                .is_some_and(|c| c.drifted);
            ck.check(ours_drifted != flag(path, "drifted"), || {
                format!("{name}.{col}: expected to differ from Evidently's dataset path {path}")
            });
        }
    }

    // Dataset level: as derived from the per-column verdicts (Evidently's own rule, share >=
    // drift_share), exactly.
    let d = &report.dataset;
    let want = &ours["dataset"];
    let what = format!("{name} dataset");
    ck.check(d.n_errors == 0, || {
        format!("{what}: {} columns errored", d.n_errors)
    });
    ck.check(d.n_columns == count(want, "n_columns"), || {
        format!("{what}: n_columns {} vs {}", d.n_columns, want["n_columns"])
    });
    ck.check(d.n_drifted == count(want, "n_drifted"), || {
        format!("{what}: n_drifted {} vs {}", d.n_drifted, want["n_drifted"])
    });
    ck.check(d.share_drifted == num(&want["share"]), || {
        format!("{what}: share {} vs {}", d.share_drifted, want["share"])
    });
    ck.check(d.dataset_drift == flag(want, "drift"), || {
        format!("{what}: drift {} vs {}", d.dataset_drift, want["drift"])
    });
    ck.check(d.drift_share == 0.5, || {
        format!("{what}: drift share {}", d.drift_share)
    });

    // And Evidently's own DriftedColumnsCount, when nothing in this dataset deviates.
    if deviated.is_empty() {
        let theirs = &evidently["dataset"];
        ck.check(
            d.n_columns == count(theirs, "n_columns")
                && d.n_drifted == count(theirs, "n_drifted")
                && d.share_drifted == num(&theirs["share"])
                && d.dataset_drift == flag(theirs, "drift"),
            || format!("{what}: ours {d:?}, Evidently {theirs}"),
        );
    }
    seen
}

#[test]
fn preset_matches_evidently() {
    let fixture = fixture();
    let datasets = fixture["datasets"].as_array().expect("datasets");
    assert!(datasets.len() >= 4, "the fixture lost datasets");
    let mut ck = Checker::default();
    let mut seen = Vec::new();
    for dataset in datasets {
        seen.extend(check_dataset(&mut ck, dataset));
    }
    eprintln!(
        "preset: {} datasets, {} checks; worst relative score errors: {:?}",
        datasets.len(),
        ck.checks,
        ck.worst
    );
    for s in &seen {
        eprintln!("  accepted deviation: {s}");
    }
    assert!(
        ck.failures.is_empty(),
        "{} mismatches with Evidently:\n{}",
        ck.failures.len(),
        ck.failures.join("\n")
    );
}

/// The fixture exercises what it claims to: every test Evidently's preset picks by default,
/// and each accepted deviation at least once.
#[test]
fn preset_fixture_covers_the_default_tests_and_deviations() {
    let fixture = fixture();
    let mut tests = std::collections::BTreeSet::new();
    let mut reasons = std::collections::BTreeSet::new();
    for dataset in fixture["datasets"].as_array().expect("datasets") {
        for (_, column) in dataset["evidently"]["columns"]
            .as_object()
            .expect("columns")
        {
            if let Some(t) = column["test"].as_str() {
                tests.insert(t.to_owned());
            }
        }
        for d in dataset["deviations"].as_array().expect("deviations") {
            reasons.insert(text(d, "reason").to_owned());
        }
    }
    for t in ["ks", "chisquare", "z", "wasserstein", "jensenshannon"] {
        assert!(tests.contains(t), "no column where Evidently picks {t}");
    }
    for (reason, _, _) in ACCEPTED {
        assert!(
            reasons.contains(*reason),
            "no column exercises the accepted deviation {reason}"
        );
    }
}
