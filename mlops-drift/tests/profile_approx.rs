//! Beyond the exact cap: a sketched profile of one million reference values against the
//! exact profile of the same values. Every approximate statistic must be within the
//! `error_bound` its result reports (see `docs/DRIFT-PROFILE.md`), and the bound itself must
//! be small enough to be useful.

use std::collections::BTreeMap;
use std::sync::Arc;

use arrow_array::{ArrayRef, Float64Array, Int64Array, RecordBatch};
use arrow_schema::{DataType, Field, Schema};
use mlops_drift::{
    ColumnKind, DriftOptions, DriftReport, ProfileData, ProfileOptions, ReferenceProfile, StatTest,
};
use serde_json::Value;

use crate::profile_common::Rng;

const ROWS: usize = 1_000_000;
const BATCH: usize = 65_536;

/// Reference or current data: five numerical columns of different shapes, moved by `shift`
/// standard deviations.
fn data(seed: u64, rows: usize, shift: f64) -> Vec<RecordBatch> {
    let schema = Arc::new(Schema::new(vec![
        Field::new("normal", DataType::Float64, false),
        Field::new("lognormal", DataType::Float64, false),
        Field::new("bimodal", DataType::Float64, false),
        Field::new("uniform", DataType::Float64, false),
        Field::new("ids", DataType::Int64, false),
    ]));
    let mut rng = Rng::new(seed);
    let mut out = Vec::new();
    let mut done = 0;
    while done < rows {
        let n = BATCH.min(rows - done);
        done += n;
        let mut cols: [Vec<f64>; 4] = Default::default();
        let mut ids = Vec::with_capacity(n);
        for _ in 0..n {
            let z = rng.normal() + shift;
            cols[0].push(z * 3.0 + 100.0);
            cols[1].push((z * 0.8).exp());
            cols[2].push(if rng.below(3) == 0 {
                z - 4.0
            } else {
                z * 0.5 + 2.0
            });
            cols[3].push(rng.uniform() * 10.0 + shift);
            ids.push((rng.normal() * 1500.0 + 5000.0 + shift * 1500.0).round() as i64);
        }
        let [a, b, c, d] = cols;
        let columns: Vec<ArrayRef> = vec![
            Arc::new(Float64Array::from(a)),
            Arc::new(Float64Array::from(b)),
            Arc::new(Float64Array::from(c)),
            Arc::new(Float64Array::from(d)),
            Arc::new(Int64Array::from(ids)),
        ];
        out.push(RecordBatch::try_new(schema.clone(), columns).unwrap());
    }
    out
}

fn number(v: &Value) -> f64 {
    match v {
        Value::Number(n) => n.as_f64().unwrap(),
        Value::String(s) if s == "inf" => f64::INFINITY,
        other => panic!("not a number: {other}"),
    }
}

/// Worst error seen per test: (largest |approximate − exact|, largest error / bound, the
/// largest bound).
type Worst = BTreeMap<&'static str, (f64, f64, f64)>;

fn check(exact: &DriftReport, approx: &DriftReport, what: &str, worst: &mut Worst) {
    for (e, a) in exact.columns.iter().zip(&approx.columns) {
        assert_eq!(e.error, None);
        assert_eq!(a.error, None, "{what} {}", a.column);
        assert_eq!(e.reference, a.reference);
        for (re, ra) in e.results.iter().zip(&a.results) {
            assert_eq!(re.test, ra.test);
            let name = re.test.name();
            assert_eq!(ra.details["approximate"], Value::Bool(true), "{name}");
            let rank_error = number(&ra.details["rank_error"]);
            assert!(rank_error > 0.0 && rank_error < 0.011, "{rank_error}");
            let Some(bound) = ra.details.get("error_bound").map(number) else {
                // chisquare and z by value on a sketch have no bound; they must still run.
                assert!(
                    matches!(re.test, StatTest::ChiSquare | StatTest::Z),
                    "{name}"
                );
                continue;
            };
            if re.drifted != ra.drifted {
                assert_eq!(ra.details["verdict_certain"], Value::Bool(false), "{name}");
            }
            let error = (ra.statistic - re.statistic).abs();
            assert!(
                error <= bound,
                "{what} {} {name}: approximate {} vs exact {} (error {error:.3e} > bound {bound:.3e})",
                a.column,
                ra.statistic,
                re.statistic
            );
            let entry = worst.entry(name).or_insert((0.0, 0.0, 0.0));
            entry.0 = entry.0.max(error);
            entry.1 = entry.1.max(if bound > 0.0 { error / bound } else { 0.0 });
            entry.2 = entry.2.max(bound);
            if re.test == StatTest::Ks {
                let [low, high] = [0, 1].map(|i| number(&ra.details["p_value_bounds"][i]));
                let p = re.p_value.unwrap();
                assert!(
                    low <= p * (1.0 + 1e-9) && p <= high * (1.0 + 1e-9),
                    "{p} not in [{low}, {high}]"
                );
            }
        }
    }
}

#[test]
fn sketched_profiles_stay_within_their_bounds_at_one_million_values() {
    let reference = data(11, ROWS, 0.0);
    let mut options = DriftOptions::default();
    for test in StatTest::ALL {
        for column in ["normal", "lognormal", "bimodal", "uniform", "ids"] {
            options = options.with_column_test(column, test);
        }
    }
    let t = std::time::Instant::now();
    let exact = ReferenceProfile::build(&reference, &options).unwrap();
    let exact_build = t.elapsed();
    let t = std::time::Instant::now();
    let sketched =
        ReferenceProfile::build_with(&reference, &options, &ProfileOptions::default()).unwrap();
    let sketch_build = t.elapsed();
    drop(reference);
    for column in sketched.columns() {
        assert_eq!(column.kind(), Some(ColumnKind::Numerical));
        let ProfileData::NumericalSketch(s) = column.data() else {
            panic!("{} is not sketched", column.name());
        };
        assert!(!s.is_exact(), "{}", column.name());
        assert_eq!(s.summary().count(), ROWS as u64);
    }
    let stored = ReferenceProfile::from_parquet(&sketched.to_parquet().unwrap()).unwrap();
    assert!(stored == sketched);
    let mut worst = Worst::new();
    let mut timings = Vec::new();
    for (seed, shift) in [(12, 0.0), (13, 0.02), (14, 0.25)] {
        let current = data(seed, ROWS / 4, shift);
        let t = std::time::Instant::now();
        let e = exact.compare(&current, &options).unwrap();
        let te = t.elapsed();
        let t = std::time::Instant::now();
        let a = stored.compare(&current, &options).unwrap();
        timings.push((shift, te, t.elapsed()));
        check(&e, &a, &format!("shift {shift}"), &mut worst);
    }
    println!(
        "build: exact {exact_build:?}, sketched {sketch_build:?}; compare (exact, sketched): {timings:?}"
    );
    println!(
        "{:<14} {:>12} {:>12} {:>12}",
        "test", "max error", "max err/bnd", "max bound"
    );
    for (test, (error, ratio, bound)) in &worst {
        println!("{test:<14} {error:>12.3e} {ratio:>12.3} {bound:>12.3e}");
    }
    // The KS bound is the sketch's rank error: informative, not merely true.
    assert!(worst["ks"].2 < 0.0125);
}
