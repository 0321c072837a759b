//! Criterion benches of `mlops-drift` (`cargo bench --bench drift`).
//!
//! * `ks_1m`: two-sample KS, 1M vs 1M normal values, unshifted (`no_shift`, p large) and
//!   shifted by 0.01 sd (p ~ 1e-7, where the finite-n p-value costs most); `sort_included`
//!   copies and sorts both sides (what `scipy.stats.ks_2samp` does on unsorted input),
//!   `presorted` is the validation pass, the merge and the p-value alone.
//! * `psi_1m`: Evidently's PSI (Sturges bins over both sides, zero filling), 1M vs 1M;
//!   `sort_included` is the engine's path (sorted copies, then `binned_percents`),
//!   `presorted` starts from sorted values (as with a stored reference profile), and
//!   `no_sort_sturges` bins unsorted values by Sturges edges from a min/max scan, to show
//!   what the sort costs (it skips Evidently's "more than 20 distinct values" check).
//! * `sort_1m`: sorting 10^6 values (normal, and integers with many ties) in the order of
//!   `total_cmp`: `sorted_copy` and `sort_values` (the engine's radix sorts) against the
//!   standard library's `sort_unstable_by(f64::total_cmp)`, the copy included in each.
//! * `report_20col`: `detect_drift` with default options (Evidently's `DataDriftPreset`
//!   choices) over 15 numeric and 5 categorical string columns, 100k and 1M rows per side.
//!
//! The data are generated here, deterministically (splitmix64 and Box–Muller); the Python
//! comparison (`benches/compare/drift_vs_python.py`) generates its own, equivalent data.
//! Timings are informative only: no test asserts on them.

use std::hint::black_box;
use std::sync::Arc;
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use mlops::drift::arrow_array::{ArrayRef, Float64Array, RecordBatch, StringArray};
use mlops::drift::arrow_schema::{DataType, Field, Schema};
use mlops::drift::stats::binning::{Bins, binned_percents, fill_zeros, percents};
use mlops::drift::stats::ks::{KsMethod, ks_2samp, ks_2samp_unsorted, sort_values, sorted_copy};
use mlops::drift::stats::psi::psi;
use mlops::drift::{DriftOptions, detect_drift};

const MILLION: usize = 1_000_000;
/// Rows per Arrow batch, as the CLI reads Parquet (64 Ki rows).
const BATCH_ROWS: usize = 64 * 1024;
const NUMERIC_COLUMNS: usize = 15;
const CATEGORICAL_COLUMNS: usize = 5;

/// splitmix64: tiny, fast, deterministic; good enough for benchmark data.
struct SplitMix64(u64);

impl SplitMix64 {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `[0, 1)` with 53 random bits.
    fn uniform(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1_u64 << 53) as f64)
    }

    /// Standard normal by Box–Muller (the cosine branch only: simple, and the cost is
    /// outside the measured code anyway).
    fn normal(&mut self) -> f64 {
        let u1 = 1.0 - self.uniform(); // (0, 1]: ln is finite
        let u2 = self.uniform();
        (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
    }
}

fn normals(seed: u64, n: usize, mean: f64, sd: f64) -> Vec<f64> {
    let mut rng = SplitMix64(seed);
    (0..n).map(|_| mean + sd * rng.normal()).collect()
}

/// One of `weights.len()` categories, by cumulative weights.
fn pick(rng: &mut SplitMix64, cumulative: &[f64]) -> usize {
    let total = cumulative.last().copied().unwrap_or(1.0);
    let u = rng.uniform() * total;
    cumulative
        .iter()
        .position(|&c| u < c)
        .unwrap_or(cumulative.len() - 1)
}

/// The 20-column table: numeric columns `n0..n14` (normal, some shifted or rescaled on the
/// current side) and categorical columns `c0..c4` (strings, Zipf-like shares, some shifted).
fn table(rows: usize, current: bool, seed: u64) -> Vec<RecordBatch> {
    let mut fields = Vec::new();
    let mut columns: Vec<Vec<ArrayRef>> = Vec::new();
    for k in 0..NUMERIC_COLUMNS {
        // Current side: n0..n4 shifted (0.5, 0.3, 0.2, 0.15, 0.12 sd), n5 rescaled (x1.5),
        // the rest unchanged.
        let (mean, sd) = match (current, k) {
            (true, 0..=4) => ([0.5, 0.3, 0.2, 0.15, 0.12][k], 1.0),
            (true, 5) => (0.0, 1.5),
            _ => (0.0, 1.0),
        };
        let scale = 1.0 + k as f64;
        let values = normals(
            seed.wrapping_add(k as u64 * 7919),
            rows,
            mean * scale,
            sd * scale,
        );
        fields.push(Field::new(format!("n{k}"), DataType::Float64, true));
        columns.push(
            values
                .chunks(BATCH_ROWS)
                .map(|c| Arc::new(Float64Array::from(c.to_vec())) as ArrayRef)
                .collect(),
        );
    }
    let cardinalities: [usize; CATEGORICAL_COLUMNS] = [3, 8, 20, 50, 200];
    for (k, &cardinality) in cardinalities.iter().enumerate() {
        let shifted = current && k < 2;
        let mut cumulative = Vec::with_capacity(cardinality);
        let mut sum = 0.0;
        for i in 0..cardinality {
            let mut w = 1.0 / (1.0 + i as f64);
            if shifted && i == 0 {
                w *= 2.5;
            }
            sum += w;
            cumulative.push(sum);
        }
        let names: Vec<String> = (0..cardinality).map(|i| format!("cat_{i}")).collect();
        let mut rng = SplitMix64(seed.wrapping_add(1_000_003 + k as u64));
        let picks: Vec<&str> = (0..rows)
            .map(|_| names[pick(&mut rng, &cumulative)].as_str())
            .collect();
        fields.push(Field::new(format!("c{k}"), DataType::Utf8, true));
        columns.push(
            picks
                .chunks(BATCH_ROWS)
                .map(|c| Arc::new(StringArray::from(c.to_vec())) as ArrayRef)
                .collect(),
        );
    }
    let schema = Arc::new(Schema::new(fields));
    let n_batches = rows.div_ceil(BATCH_ROWS);
    (0..n_batches)
        .filter_map(|b| {
            let arrays = columns.iter().map(|c| c[b].clone()).collect();
            RecordBatch::try_new(schema.clone(), arrays).ok()
        })
        .collect()
}

fn bench_ks(c: &mut Criterion) {
    let mut group = c.benchmark_group("ks_1m");
    group.throughput(Throughput::Elements(2 * MILLION as u64));
    group.sample_size(20);
    // The p-value's cost depends on where it falls: with no shift p is large and cheap; a
    // 0.01 sd shift gives p ~ 1e-7, where the finite-n Kolmogorov sum runs in full.
    for (label, shift) in [("no_shift", 0.0), ("shift_0.01sd", 0.01)] {
        let reference = normals(1, MILLION, 0.0, 1.0);
        let current = normals(2, MILLION, shift, 1.0);
        let (ref_sorted, cur_sorted) = (sorted_copy(&reference), sorted_copy(&current));
        group.bench_function(BenchmarkId::new("sort_included", label), |b| {
            b.iter(|| {
                ks_2samp_unsorted(black_box(&reference), black_box(&current), KsMethod::Auto)
            });
        });
        group.bench_function(BenchmarkId::new("presorted", label), |b| {
            b.iter(|| {
                ks_2samp(
                    black_box(&ref_sorted),
                    black_box(&cur_sorted),
                    KsMethod::Auto,
                )
            });
        });
    }
    group.finish();
}

/// Sorting 10^6 values in the order of `total_cmp`: the engine's radix sorts against the
/// standard library's comparison sort (the copy included in every case).
fn bench_sort(c: &mut Criterion) {
    let mut group = c.benchmark_group("sort_1m");
    group.throughput(Throughput::Elements(MILLION as u64));
    group.sample_size(20);
    let normal = normals(5, MILLION, 0.0, 1.0);
    // Integers with many ties (a few hundred distinct values), as the int64 columns.
    let integers: Vec<f64> = normals(6, MILLION, 0.0, 50.0)
        .into_iter()
        .map(f64::round)
        .collect();
    for (label, values) in [("normal", &normal), ("integers", &integers)] {
        group.bench_function(BenchmarkId::new("sorted_copy", label), |b| {
            b.iter(|| sorted_copy(black_box(values)));
        });
        group.bench_function(BenchmarkId::new("copy_sort_values", label), |b| {
            b.iter(|| {
                let mut copy = black_box(values).clone();
                sort_values(&mut copy);
                copy
            });
        });
        group.bench_function(
            BenchmarkId::new("copy_sort_unstable_total_cmp", label),
            |b| {
                b.iter(|| {
                    let mut copy = black_box(values).clone();
                    copy.sort_unstable_by(f64::total_cmp);
                    copy
                });
            },
        );
    }
    group.finish();
}

/// Evidently's PSI on sorted values, as the engine computes it.
fn psi_sorted(reference: &[f64], current: &[f64]) -> Option<f64> {
    let shares = binned_percents(reference, current, false, true).ok()?;
    psi(&shares.reference, &shares.current).ok()
}

/// PSI over unsorted values with Sturges bins from a min/max scan (no distinct check).
fn psi_no_sort(reference: &[f64], current: &[f64]) -> Option<f64> {
    let (min, max) = reference
        .iter()
        .chain(current)
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), &x| {
            (lo.min(x), hi.max(x))
        });
    let n = (reference.len() + current.len()) as u64;
    let bins = Bins::sturges(min, max, n, false).ok()?;
    let mut r = percents(&bins.count_unsorted(reference), reference.len() as u64);
    let mut k = percents(&bins.count_unsorted(current), current.len() as u64);
    fill_zeros(&mut r);
    fill_zeros(&mut k);
    psi(&r, &k).ok()
}

fn bench_psi(c: &mut Criterion) {
    let reference = normals(3, MILLION, 0.0, 1.0);
    let current = normals(4, MILLION, 0.05, 1.0);
    let (ref_sorted, cur_sorted) = (sorted_copy(&reference), sorted_copy(&current));
    let mut group = c.benchmark_group("psi_1m");
    group.throughput(Throughput::Elements(2 * MILLION as u64));
    group.sample_size(20);
    group.bench_function("sort_included", |b| {
        b.iter(|| {
            let (r, k) = rayon::join(
                || sorted_copy(black_box(&reference)),
                || sorted_copy(black_box(&current)),
            );
            psi_sorted(&r, &k)
        });
    });
    group.bench_function("presorted", |b| {
        b.iter(|| psi_sorted(black_box(&ref_sorted), black_box(&cur_sorted)));
    });
    group.bench_function("no_sort_sturges", |b| {
        b.iter(|| psi_no_sort(black_box(&reference), black_box(&current)));
    });
    group.finish();
}

fn bench_report(c: &mut Criterion) {
    let options = DriftOptions::default();
    let mut group = c.benchmark_group("report_20col");
    for (rows, samples, seconds) in [(100_000_usize, 20_usize, 10_u64), (MILLION, 10, 30)] {
        let reference = table(rows, false, 11);
        let current = table(rows, true, 12);
        group.sample_size(samples);
        group.measurement_time(Duration::from_secs(seconds));
        group.throughput(Throughput::Elements(2 * rows as u64));
        group.bench_with_input(BenchmarkId::new("default", rows), &rows, |b, _| {
            b.iter(|| detect_drift(black_box(&reference), black_box(&current), &options));
        });
    }
    group.finish();
}

criterion_group!(benches, bench_sort, bench_ks, bench_psi, bench_report);
criterion_main!(benches);
