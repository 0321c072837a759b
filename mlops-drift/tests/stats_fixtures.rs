//! Every number of `fixtures/stats.json` (Evidently 0.7.23, scipy 1.17.1, numpy), recomputed
//! by `mlops_drift::stats`. Regenerate with
//! `.venv/bin/python mlops-drift/tests/fixtures/gen_stats.py`.
//!
//! Tolerances: statistics within 1e-9 relative (1e-12 absolute near zero), p-values within
//! 1e-6 absolute; bin edges, counts, shares and quantiles exactly; NaN and ±inf must match as
//! such; a call that raised in Python must be an error here.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use mlops_drift::stats::binning::{
    Bins, StatsError, binned_percents, category_percents, sturges_edges,
};
use mlops_drift::stats::chisquare::{chi2_contingency_2xk, chisquare, chisquare_evidently};
use mlops_drift::stats::divergence::{
    hellinger_bins, hellinger_categorical, hellinger_numerical, jensenshannon, kl_div,
};
use mlops_drift::stats::energy::energy_distance;
use mlops_drift::stats::psi::{
    psi, psi_quantile, quantile_counts, quantile_counts_sorted, quantile_edges,
};
use mlops_drift::stats::wasserstein::{std_population, wasserstein_distance, wasserstein_normed};
use mlops_drift::stats::z::{first_category_counts, first_value_counts, z_test};
use serde_json::Value;

const STAT_RTOL: f64 = 1e-9;
const STAT_ATOL: f64 = 1e-12;
const P_ATOL: f64 = 1e-6;

fn fixtures() -> Value {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/stats.json");
    let text = std::fs::read_to_string(path).expect("read stats.json");
    serde_json::from_str(&text).expect("parse stats.json")
}

/// A float written as a string by the generator ("nan", "inf" and "-inf" included).
fn num(v: &Value) -> f64 {
    v.as_str()
        .unwrap_or_else(|| panic!("expected a float string, got {v}"))
        .parse()
        .unwrap_or_else(|e| panic!("bad float {v}: {e}"))
}

fn nums(v: &Value) -> Vec<f64> {
    v.as_array().expect("array").iter().map(num).collect()
}

fn ints(v: &Value) -> Vec<u64> {
    v.as_array()
        .expect("array")
        .iter()
        .map(|x| x.as_u64().expect("count"))
        .collect()
}

fn sorted(mut v: Vec<f64>) -> Vec<f64> {
    v.sort_by(f64::total_cmp);
    v
}

fn error_of(v: &Value) -> Option<&str> {
    v.get("error").and_then(Value::as_str)
}

/// Collects every mismatch, and the largest errors seen, so one run reports them all.
#[derive(Default)]
struct Checker {
    failures: Vec<String>,
    checks: usize,
    max_stat_rel: f64,
    worst_stat: String,
    max_p_abs: f64,
    /// Informational: the relative error of p-values, which the tolerance does not bound.
    max_p_rel: f64,
}

impl Checker {
    fn fail(&mut self, what: &str, mut msg: String) {
        msg.insert_str(0, &format!("{what}: "));
        self.failures.push(msg);
    }

    fn special(&mut self, what: &str, actual: f64, expected: f64) -> bool {
        self.checks += 1;
        if expected.is_nan() || actual.is_nan() || expected.is_infinite() || actual.is_infinite() {
            let same = (expected.is_nan() && actual.is_nan()) || expected == actual;
            if !same {
                self.fail(what, format!("got {actual:e}, expected {expected:e}"));
            }
            return true;
        }
        false
    }

    fn stat(&mut self, what: &str, actual: f64, expected: f64) {
        if self.special(what, actual, expected) {
            return;
        }
        let diff = (actual - expected).abs();
        let rel = if diff == 0.0 {
            0.0
        } else {
            diff / expected.abs()
        };
        if expected.abs() > STAT_ATOL && rel > self.max_stat_rel {
            self.max_stat_rel = rel;
            what.clone_into(&mut self.worst_stat);
        }
        if diff > STAT_ATOL && rel > STAT_RTOL {
            self.fail(
                what,
                format!("got {actual:e}, expected {expected:e} (rel {rel:e})"),
            );
        }
    }

    fn p(&mut self, what: &str, actual: f64, expected: f64) {
        if self.special(what, actual, expected) {
            return;
        }
        let diff = (actual - expected).abs();
        self.max_p_abs = self.max_p_abs.max(diff);
        if expected > 0.0 {
            self.max_p_rel = self.max_p_rel.max(diff / expected);
        }
        if diff > P_ATOL {
            self.fail(
                what,
                format!("got {actual:e}, expected {expected:e} (abs {diff:e})"),
            );
        }
    }

    /// Bit-for-bit equality (NaN matching NaN).
    fn exact(&mut self, what: &str, actual: &[f64], expected: &[f64]) {
        self.checks += actual.len().max(1);
        let same = actual.len() == expected.len()
            && actual
                .iter()
                .zip(expected)
                .all(|(a, e)| a == e || (a.is_nan() && e.is_nan()));
        if !same {
            self.fail(what, format!("got {actual:?}, expected {expected:?}"));
        }
    }

    fn counts(&mut self, what: &str, actual: &[u64], expected: &[u64]) {
        self.checks += actual.len().max(1);
        if actual != expected {
            self.fail(what, format!("got {actual:?}, expected {expected:?}"));
        }
    }

    /// A score that Python returned (a float string) or raised ({"error"}).
    fn score<E: std::fmt::Debug>(
        &mut self,
        what: &str,
        expected: &Value,
        actual: Result<f64, E>,
        p_value: bool,
    ) {
        match (error_of(expected), actual) {
            (Some(_), Err(_)) => self.checks += 1,
            (Some(e), Ok(a)) => self.fail(what, format!("got {a:e}, Python raised {e}")),
            (None, Err(e)) => self.fail(what, format!("got error {e:?}, expected {expected}")),
            (None, Ok(a)) if p_value => self.p(what, a, num(expected)),
            (None, Ok(a)) => self.stat(what, a, num(expected)),
        }
    }

    /// Panics with every mismatch, or returns a one-line summary of the errors seen.
    fn finish(self, name: &str) -> String {
        if !self.failures.is_empty() {
            let mut msg = format!("{name}: {} mismatches:\n", self.failures.len());
            for f in &self.failures {
                let _ = writeln!(msg, "  {f}");
            }
            panic!("{msg}");
        }
        format!(
            "{name}: {} checks, max statistic relative error {:e} ({}), max p-value absolute \
             error {:e} (relative {:e})",
            self.checks, self.max_stat_rel, self.worst_stat, self.max_p_abs, self.max_p_rel
        )
    }
}

#[test]
fn sturges_edges_match_numpy() {
    let fx = fixtures();
    let mut ck = Checker::default();
    for (i, c) in fx["sturges"].as_array().unwrap().iter().enumerate() {
        let (min, max) = (num(&c["min"]), num(&c["max"]));
        let n = c["n"].as_u64().unwrap();
        let integer = c["integer"].as_bool().unwrap();
        let what = format!("sturges[{i}] ({min}, {max}, {n}, {integer})");
        let got = sturges_edges(min, max, n, integer);
        match (error_of(c), got) {
            (Some(e), Err(err)) => {
                ck.checks += 1;
                let expected_kind = if e.contains("Too many bins") {
                    matches!(err, StatsError::TooManyBins { .. })
                } else {
                    matches!(err, StatsError::NonFiniteRange)
                };
                if !expected_kind {
                    ck.fail(&what, format!("numpy raised {e}, got {err:?}"));
                }
            }
            (Some(e), Ok(edges)) => ck.fail(&what, format!("numpy raised {e}, got {edges:?}")),
            (None, Err(err)) => ck.fail(&what, format!("got {err:?}")),
            (None, Ok(edges)) => ck.exact(&what, &edges, &nums(&c["edges"])),
        }
    }
    eprintln!("{}", ck.finish("sturges"));
}

#[test]
fn histogram_counts_match_numpy() {
    let fx = fixtures();
    let mut ck = Checker::default();
    for (i, c) in fx["histogram"].as_array().unwrap().iter().enumerate() {
        let values = nums(&c["values"]);
        let sorted_values = sorted(values.clone());
        let edges = nums(&c["edges"]);
        let what = format!("histogram[{i}]");
        let explicit = Bins::from_edges(edges.clone()).unwrap();
        let expected = ints(&c["counts_edges"]);
        ck.counts(
            &format!("{what} edges sorted"),
            &explicit.count_sorted(&sorted_values),
            &expected,
        );
        ck.counts(
            &format!("{what} edges unsorted"),
            &explicit.count_unsorted(&values),
            &expected,
        );
        if let Some(uniform) = c.get("counts_uniform") {
            // np.histogram(x, bins="sturges"): the fast path with index computation.
            let (lo, hi) = (sorted_values[0], *sorted_values.last().unwrap());
            let bins = Bins::sturges(lo, hi, values.len() as u64, false).unwrap();
            ck.exact(
                &format!("{what} sturges edges"),
                bins.edges().unwrap(),
                &edges,
            );
            let expected = ints(uniform);
            ck.counts(
                &format!("{what} uniform unsorted"),
                &bins.count_unsorted(&values),
                &expected,
            );
            ck.counts(
                &format!("{what} uniform sorted"),
                &bins.count_sorted(&sorted_values),
                &expected,
            );
        }
    }
    eprintln!("{}", ck.finish("histogram"));
}

#[test]
fn quantiles_match_numpy() {
    let fx = fixtures();
    let mut ck = Checker::default();
    for (i, c) in fx["quantile"].as_array().unwrap().iter().enumerate() {
        let values = nums(&c["values"]);
        let edges = quantile_edges(&values).unwrap();
        ck.exact(
            &format!("quantile[{i}] n={}", values.len()),
            &edges,
            &nums(&c["quantiles"]),
        );
    }
    eprintln!("{}", ck.finish("quantile"));
}

#[test]
fn chisquare_matches_scipy() {
    let fx = fixtures();
    let mut ck = Checker::default();
    for (i, c) in fx["chisquare"].as_array().unwrap().iter().enumerate() {
        let what = format!("chisquare[{i}]");
        let got = chisquare(&nums(&c["observed"]), &nums(&c["expected"]));
        match (error_of(c), got) {
            (Some(_), Err(StatsError::SumMismatch { .. })) => ck.checks += 1,
            (Some(e), got) => ck.fail(&what, format!("scipy raised {e}, got {got:?}")),
            (None, Err(e)) => ck.fail(&what, format!("got {e:?}")),
            (None, Ok(r)) => {
                ck.stat(
                    &format!("{what} statistic"),
                    r.statistic,
                    num(&c["statistic"]),
                );
                ck.p(&format!("{what} p"), r.p_value, num(&c["p_value"]));
            }
        }
    }
    for (i, c) in fx["contingency"].as_array().unwrap().iter().enumerate() {
        let what = format!("contingency[{i}]");
        let got = chi2_contingency_2xk(&ints(&c["reference"]), &ints(&c["current"]));
        check_contingency(&mut ck, &what, c, got);
    }
    eprintln!("{}", ck.finish("chisquare"));
}

fn check_contingency(
    ck: &mut Checker,
    what: &str,
    expected: &Value,
    got: Result<mlops_drift::stats::chisquare::ChiSquare, StatsError>,
) {
    match (error_of(expected), got) {
        (Some(_), Err(StatsError::ZeroExpected { .. } | StatsError::Empty)) => ck.checks += 1,
        (Some(e), got) => ck.fail(what, format!("scipy raised {e}, got {got:?}")),
        (None, Err(e)) => ck.fail(what, format!("got {e:?}")),
        (None, Ok(r)) => {
            ck.stat(
                &format!("{what} statistic"),
                r.statistic,
                num(&expected["statistic"]),
            );
            ck.p(&format!("{what} p"), r.p_value, num(&expected["p_value"]));
            ck.checks += 1;
            if r.dof as u64 != expected["dof"].as_u64().unwrap() {
                ck.fail(what, format!("dof {} vs {}", r.dof, expected["dof"]));
            }
        }
    }
}

/// A category key: strings by code point, integers numerically (Python's sort).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Key {
    Int(i64),
    Str(String),
}

/// Counts aligned over the sorted union of categories.
fn category_counts(reference: &[Key], current: &[Key]) -> (Vec<Key>, Vec<u64>, Vec<u64>) {
    let keys: BTreeSet<Key> = reference.iter().chain(current).cloned().collect();
    let count = |side: &[Key]| {
        let mut m: BTreeMap<&Key, u64> = BTreeMap::new();
        for k in side {
            *m.entry(k).or_default() += 1;
        }
        keys.iter()
            .map(|k| m.get(k).copied().unwrap_or(0))
            .collect::<Vec<_>>()
    };
    let (r, c) = (count(reference), count(current));
    (keys.into_iter().collect(), r, c)
}

fn check_numerical_case(ck: &mut Checker, name: &str, c: &Value) {
    let integer = c["kind"] == "int";
    let parse = |v: &Value| -> Vec<f64> {
        if integer {
            v.as_array()
                .unwrap()
                .iter()
                .map(|x| x.as_i64().unwrap() as f64)
                .collect()
        } else {
            nums(v)
        }
    };
    let (reference, current) = (parse(&c["reference"]), parse(&c["current"]));
    let (r, k) = (sorted(reference.clone()), sorted(current.clone()));
    let ev = &c["evidently"];
    let binned = &c["binned"];

    // get_binned_data: bins, counts, shares.
    let bins = Bins::evidently(&r, &k, integer).unwrap();
    match binned.get("edges") {
        Some(edges) => match bins.edges() {
            Some(got) => ck.exact(&format!("{name} binned edges"), got, &nums(edges)),
            None => ck.fail(name, "expected Sturges edges, got value bins".into()),
        },
        None => match bins.values() {
            Some(got) => ck.exact(&format!("{name} binned keys"), got, &nums(&binned["keys"])),
            None => ck.fail(name, "expected value bins, got edges".into()),
        },
    }
    ck.counts(
        &format!("{name} reference counts"),
        &bins.count_sorted(&r),
        &ints(&binned["reference_counts"]),
    );
    ck.counts(
        &format!("{name} current counts"),
        &bins.count_sorted(&k),
        &ints(&binned["current_counts"]),
    );
    ck.counts(
        &format!("{name} reference counts unsorted"),
        &bins.count_unsorted(&reference),
        &ints(&binned["reference_counts"]),
    );
    let filled = binned_percents(&r, &k, integer, true).unwrap();
    let raw = binned_percents(&r, &k, integer, false).unwrap();
    check_percents_and_divergences(ck, name, binned, ev, &filled, &raw);

    // Hellinger: Evidently's own binning over the distinct values.
    let hb = hellinger_bins(&r, &k, integer).unwrap();
    ck.exact(
        &format!("{name} hellinger edges"),
        hb.edges().unwrap(),
        &nums(&c["numerical"]["hellinger_edges"]),
    );
    ck.score(
        &format!("{name} hellinger"),
        &ev["hellinger"],
        hellinger_numerical(&r, &k, integer),
        false,
    );

    // Distances.
    ck.score(
        &format!("{name} wasserstein"),
        &ev["wasserstein"],
        wasserstein_normed(&r, &k),
        false,
    );
    ck.score(
        &format!("{name} ed"),
        &ev["ed"],
        energy_distance(&r, &k),
        false,
    );
    let nx = &c["numerical"];
    ck.stat(
        &format!("{name} scipy wasserstein"),
        wasserstein_distance(&r, &k).unwrap(),
        num(&nx["wasserstein_distance"]),
    );
    ck.stat(
        &format!("{name} scipy energy"),
        energy_distance(&r, &k).unwrap(),
        num(&nx["energy_distance"]),
    );
    ck.stat(
        &format!("{name} np.std"),
        std_population(&reference),
        num(&nx["std_reference"]),
    );

    // z and chi-square over the distinct values.
    let z = first_value_counts(&r, &k)
        .and_then(|fc| z_test(&fc))
        .map(|z| z.p_value);
    ck.score(&format!("{name} z"), &ev["z"], z, true);
    let values = Bins::distinct_union(&r, &k);
    let (rc, cc) = (values.count_sorted(&r), values.count_sorted(&k));
    check_chisquare(ck, name, c, ev, &rc, &cc);

    // Quantile PSI.
    let q = &nx["psi_quantile"];
    let edges = quantile_edges(&r).unwrap();
    ck.exact(
        &format!("{name} psi_quantile edges"),
        &edges,
        &nums(&q["edges"]),
    );
    let (qr, qc) = (
        quantile_counts(&edges, &reference),
        quantile_counts(&edges, &current),
    );
    ck.counts(
        &format!("{name} psi_quantile ref counts"),
        &qr,
        &ints(&q["reference_counts"]),
    );
    ck.counts(
        &format!("{name} psi_quantile cur counts"),
        &qc,
        &ints(&q["current_counts"]),
    );
    ck.counts(
        &format!("{name} psi_quantile sorted counts"),
        &quantile_counts_sorted(&edges, &k),
        &ints(&q["current_counts"]),
    );
    ck.stat(
        &format!("{name} psi_quantile"),
        psi_quantile(&qr, &qc),
        num(&q["psi"]),
    );
}

fn check_percents_and_divergences(
    ck: &mut Checker,
    name: &str,
    binned: &Value,
    ev: &Value,
    filled: &mlops_drift::stats::binning::BinnedPercents,
    raw: &mlops_drift::stats::binning::BinnedPercents,
) {
    ck.exact(
        &format!("{name} ref% filled"),
        &filled.reference,
        &nums(&binned["reference_percents_filled"]),
    );
    ck.exact(
        &format!("{name} cur% filled"),
        &filled.current,
        &nums(&binned["current_percents_filled"]),
    );
    ck.exact(
        &format!("{name} ref% raw"),
        &raw.reference,
        &nums(&binned["reference_percents_raw"]),
    );
    ck.exact(
        &format!("{name} cur% raw"),
        &raw.current,
        &nums(&binned["current_percents_raw"]),
    );
    ck.score(
        &format!("{name} psi"),
        &ev["psi"],
        psi(&filled.reference, &filled.current),
        false,
    );
    ck.score(
        &format!("{name} kl_div"),
        &ev["kl_div"],
        kl_div(&filled.reference, &filled.current),
        false,
    );
    ck.score(
        &format!("{name} jensenshannon"),
        &ev["jensenshannon"],
        jensenshannon(&raw.reference, &raw.current),
        false,
    );
    ck.stat(
        &format!("{name} scipy entropy"),
        kl_div(&filled.reference, &filled.current).unwrap(),
        num(&binned["entropy"]),
    );
    ck.stat(
        &format!("{name} scipy jensenshannon"),
        jensenshannon(&raw.reference, &raw.current).unwrap(),
        num(&binned["jensenshannon"]),
    );
}

fn check_chisquare(ck: &mut Checker, name: &str, c: &Value, ev: &Value, rc: &[u64], cc: &[u64]) {
    let evidently = chisquare_evidently(rc, cc);
    ck.score(
        &format!("{name} chisquare"),
        &ev["chisquare"],
        evidently.clone().map(|r| r.p_value),
        true,
    );
    let sc = &c["scipy"]["chisquare"];
    match (error_of(sc), evidently) {
        (None, Ok(r)) => {
            ck.stat(
                &format!("{name} scipy chisquare statistic"),
                r.statistic,
                num(&sc["statistic"]),
            );
            ck.p(
                &format!("{name} scipy chisquare p"),
                r.p_value,
                num(&sc["p_value"]),
            );
        }
        (e, got) => ck.fail(name, format!("scipy chisquare {e:?} vs {got:?}")),
    }
    check_contingency(
        ck,
        &format!("{name} chi2_contingency"),
        &c["scipy"]["chi2_contingency"],
        chi2_contingency_2xk(rc, cc),
    );
}

fn check_categorical_case(ck: &mut Checker, name: &str, c: &Value) {
    let parse = |v: &Value| -> Vec<Key> {
        v.as_array()
            .unwrap()
            .iter()
            .map(|x| match x {
                Value::String(s) => Key::Str(s.clone()),
                other => Key::Int(other.as_i64().unwrap()),
            })
            .collect()
    };
    let (reference, current) = (parse(&c["reference"]), parse(&c["current"]));
    let (keys, rc, cc) = category_counts(&reference, &current);
    let ev = &c["evidently"];
    let binned = &c["binned"];

    let expected_keys: Vec<Key> = binned["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| match keys.first() {
            Some(Key::Int(_)) => Key::Int(num(k) as i64),
            _ => Key::Str(k.as_str().unwrap().to_owned()),
        })
        .collect();
    ck.checks += 1;
    if keys != expected_keys {
        ck.fail(name, format!("keys {keys:?} vs {expected_keys:?}"));
    }
    ck.counts(
        &format!("{name} reference counts"),
        &rc,
        &ints(&binned["reference_counts"]),
    );
    ck.counts(
        &format!("{name} current counts"),
        &cc,
        &ints(&binned["current_counts"]),
    );
    let filled = category_percents(&rc, &cc, true).unwrap();
    let raw = category_percents(&rc, &cc, false).unwrap();
    check_percents_and_divergences(ck, name, binned, ev, &filled, &raw);
    ck.score(
        &format!("{name} hellinger"),
        &ev["hellinger"],
        hellinger_categorical(&rc, &cc),
        false,
    );
    let z = first_category_counts(&keys, &rc, &cc)
        .and_then(|fc| z_test(&fc))
        .map(|z| z.p_value);
    ck.score(&format!("{name} z"), &ev["z"], z, true);
    check_chisquare(ck, name, c, ev, &rc, &cc);
}

#[test]
fn data_cases_match_evidently_numpy_and_scipy() {
    let fx = fixtures();
    let mut ck = Checker::default();
    let cases = fx["cases"].as_array().unwrap();
    assert!(cases.len() >= 40, "fixture cases missing");
    for c in cases {
        let name = c["name"].as_str().unwrap();
        match c["kind"].as_str().unwrap() {
            "float" | "int" => check_numerical_case(&mut ck, name, c),
            "category" | "int_category" => check_categorical_case(&mut ck, name, c),
            other => panic!("unknown kind {other}"),
        }
    }
    eprintln!("{}", ck.finish("cases"));
}

/// No input makes a statistic panic or hang; counting agrees however the values come.
mod properties {
    use mlops_drift::stats::binning::{Bins, binned_percents, category_percents, sturges_edges};
    use mlops_drift::stats::chisquare::{chi2_contingency_2xk, chisquare, chisquare_evidently};
    use mlops_drift::stats::divergence::{
        hellinger_categorical, hellinger_numerical, jensenshannon, kl_div,
    };
    use mlops_drift::stats::energy::energy_distance;
    use mlops_drift::stats::psi::{
        psi, psi_quantile, quantile_counts, quantile_counts_sorted, quantile_edges,
    };
    use mlops_drift::stats::wasserstein::{wasserstein_distance, wasserstein_normed};
    use mlops_drift::stats::z::{first_category_counts, first_value_counts, z_test};
    use proptest::collection::vec;
    use proptest::prelude::*;

    fn sorted(mut v: Vec<f64>) -> Vec<f64> {
        v.sort_by(f64::total_cmp);
        v
    }

    proptest! {
        #[test]
        fn nothing_panics(
            a in vec(any::<f64>(), 0..30),
            b in vec(any::<f64>(), 0..30),
            ca in vec(0_u64..5, 0..8),
            cb in vec(0_u64..5, 0..8),
            integer in any::<bool>(),
        ) {
            for (u, v) in [(a.clone(), b.clone()), (sorted(a), sorted(b))] {
                let _ = Bins::evidently(&u, &v, integer).map(|bins| {
                    (bins.count_sorted(&u), bins.count_unsorted(&v))
                });
                let _ = binned_percents(&u, &v, integer, true);
                let _ = hellinger_numerical(&u, &v, integer);
                let _ = wasserstein_distance(&u, &v);
                let _ = wasserstein_normed(&u, &v);
                let _ = energy_distance(&u, &v);
                let _ = first_value_counts(&u, &v).and_then(|c| z_test(&c));
                let _ = psi(&u, &v);
                let _ = kl_div(&u, &v);
                let _ = jensenshannon(&u, &v);
                let _ = chisquare(&u, &v);
                if let Ok(edges) = quantile_edges(&u) {
                    let _ = psi_quantile(&quantile_counts(&edges, &v), &quantile_counts_sorted(&edges, &v));
                }
                if let (Some(&lo), Some(&hi)) = (u.first(), u.last()) {
                    let _ = sturges_edges(lo, hi, u.len() as u64, integer);
                }
            }
            let keys: Vec<usize> = (0..ca.len()).collect();
            let _ = category_percents(&ca, &cb, true);
            let _ = hellinger_categorical(&ca, &cb);
            let _ = chisquare_evidently(&ca, &cb);
            let _ = chi2_contingency_2xk(&ca, &cb);
            let _ = first_category_counts(&keys, &ca, &cb).and_then(|c| z_test(&c));
        }

        #[test]
        fn counting_is_order_free_and_complete(
            a in vec(-1e3_f64..1e3, 1..200),
            b in vec(-1e3_f64..1e3, 1..200),
        ) {
            let (sa, sb) = (sorted(a.clone()), sorted(b.clone()));
            let bins = Bins::evidently(&sa, &sb, false).unwrap();
            let counts = bins.count_unsorted(&a);
            prop_assert_eq!(&counts, &bins.count_sorted(&sa));
            // Bins built over both samples hold every value.
            prop_assert_eq!(counts.iter().sum::<u64>(), a.len() as u64);
            prop_assert_eq!(bins.count_sorted(&sb).iter().sum::<u64>(), b.len() as u64);
            let edges = quantile_edges(&sa).unwrap();
            prop_assert_eq!(quantile_counts(&edges, &b), quantile_counts_sorted(&edges, &sb));
            // Symmetric distances.
            let (w1, w2) = (wasserstein_distance(&sa, &sb).unwrap(), wasserstein_distance(&sb, &sa).unwrap());
            prop_assert!((w1 - w2).abs() <= 1e-12 * w1.abs().max(1.0));
            let (e1, e2) = (energy_distance(&sa, &sb).unwrap(), energy_distance(&sb, &sa).unwrap());
            prop_assert!((e1 - e2).abs() <= 1e-12 * e1.abs().max(1.0));
        }
    }
}
