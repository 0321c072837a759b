//! Comparing current data with a [`ReferenceProfile`], column by column in parallel.

use arrow_array::RecordBatch;
use rayon::prelude::*;

use crate::column::{CategorySample, NumericSample, distinct_in_sorted};
use crate::error::{DriftError, Result};
use crate::evaluate::{self, CategoryPair, NumericPair};
use crate::kind::{ColumnKind, TypeFamily};
use crate::options::DriftOptions;
use crate::profile::{ColumnProfile, ProfileData, ReferenceProfile, arrays, categories_of};
use crate::report::{
    ColumnReport, DatasetDrift, DriftReport, MAX_PLOT_CATEGORIES, Plot, SideCounts, TestResult,
};
use crate::stat_test::{StatTest, default_test};
use crate::stats::binning::{Bins, percents};

/// Compares `current` with `reference` (both any number of batches), column by column,
/// with Evidently's defaults unless `options` say otherwise.
///
/// A column that cannot be tested (missing, unsupported type, no valid values on a side)
/// gets an `error` in its report; the other columns are unaffected.
///
/// ```
/// use std::sync::Arc;
/// use arrow_array::{Float64Array, RecordBatch};
/// use arrow_schema::{DataType, Field, Schema};
/// use mlops_drift::{DriftOptions, StatTest, detect_drift};
///
/// let schema = Arc::new(Schema::new(vec![Field::new("x", DataType::Float64, true)]));
/// let batch = |values: Vec<f64>| {
///     RecordBatch::try_new(schema.clone(), vec![Arc::new(Float64Array::from(values))]).unwrap()
/// };
/// let reference = batch((0..500).map(|i| f64::from(i) / 500.0).collect());
/// let current = batch((0..500).map(|i| 0.3 + f64::from(i) / 500.0).collect());
/// let report = detect_drift(&[reference], &[current], &DriftOptions::default())?;
/// let x = &report.columns[0];
/// assert_eq!(x.results[0].test, StatTest::Ks); // Evidently's choice for 500 numeric rows
/// assert!(x.drifted);
/// assert!(report.dataset.dataset_drift);
/// # Ok::<(), mlops_drift::DriftError>(())
/// ```
pub fn detect_drift(
    reference: &[RecordBatch],
    current: &[RecordBatch],
    options: &DriftOptions,
) -> Result<DriftReport> {
    ReferenceProfile::build(reference, options)?.compare(current, options)
}

impl ReferenceProfile {
    /// Compares `current` batches with this profile.
    pub fn compare(&self, current: &[RecordBatch], options: &DriftOptions) -> Result<DriftReport> {
        options.validate()?;
        let columns: Vec<ColumnReport> = self
            .columns()
            .par_iter()
            .map(|profile| compare_column(profile, current, options))
            .collect();
        let dataset = DatasetDrift::from_columns(&columns, options.drift_share());
        Ok(DriftReport { columns, dataset })
    }
}

fn compare_column(
    profile: &ColumnProfile,
    current: &[RecordBatch],
    options: &DriftOptions,
) -> ColumnReport {
    let name = profile.name();
    let mut report = ColumnReport {
        column: name.to_owned(),
        kind: profile.kind(),
        reference: SideCounts::default(),
        current: SideCounts::default(),
        results: Vec::new(),
        drifted: false,
        error: None,
        plot: None,
    };
    if let Err(e) = fill_column(&mut report, profile, current, options) {
        report.results.clear();
        report.drifted = false;
        report.error = Some(e.to_string());
    }
    report
}

fn fill_column(
    report: &mut ColumnReport,
    profile: &ColumnProfile,
    current: &[RecordBatch],
    options: &DriftOptions,
) -> Result<()> {
    let name = profile.name();
    let arrays = arrays(name, current, "current")?;
    match profile.data() {
        ProfileData::Unusable { reason } => Err(DriftError::Profile(reason.clone())),
        ProfileData::Numerical { sample, integer } => {
            let mut cur = NumericSample::new();
            let mut cur_integer = true;
            for array in &arrays {
                cur_integer &= TypeFamily::of(array.data_type()) == TypeFamily::Integer;
                cur.push(*array)?;
            }
            cur.sort();
            report.reference = sample.counts().into();
            report.current = cur.counts().into();
            require_valid(name, sample.values().len(), &report.reference, "reference")?;
            require_valid(name, cur.values().len(), &report.current, "current")?;
            let pair = NumericPair {
                reference: sample,
                current: &cur,
                integer: *integer && cur_integer,
            };
            let tests = tests_for(
                options,
                name,
                ColumnKind::Numerical,
                report.reference.valid,
                || union_distinct(sample.values(), cur.values()),
            );
            report.results = run(&tests, |t| evaluate::numerical(name, t, &pair, options))?;
            report.plot = histogram(sample.values(), cur.values());
            Ok(())
        }
        ProfileData::Categorical(reference) => {
            let cur = categories_of(&arrays)?;
            report.reference = reference.counts().into();
            report.current = cur.counts().into();
            require_valid(
                name,
                category_total(reference),
                &report.reference,
                "reference",
            )?;
            require_valid(name, category_total(&cur), &report.current, "current")?;
            let pair = CategoryPair::new(reference, &cur);
            let tests = tests_for(
                options,
                name,
                ColumnKind::Categorical,
                report.reference.valid,
                || pair.keys.len(),
            );
            report.results = run(&tests, |t| evaluate::categorical(name, t, &pair, options))?;
            report.plot = Some(categories_plot(&pair));
            Ok(())
        }
    }
    .map(|()| {
        report.drifted = report.results.first().is_some_and(|r| r.drifted);
    })
}

fn category_total(sample: &CategorySample) -> usize {
    usize::try_from(sample.categories().total()).unwrap_or(usize::MAX)
}

fn require_valid(name: &str, valid: usize, counts: &SideCounts, side: &'static str) -> Result<()> {
    if valid == 0 {
        return Err(DriftError::NoValidValues {
            column: name.to_owned(),
            side,
            rows: counts.rows,
        });
    }
    Ok(())
}

/// The tests requested for a column, or Evidently's default choice.
fn tests_for(
    options: &DriftOptions,
    name: &str,
    kind: ColumnKind,
    n_reference: u64,
    distinct: impl FnOnce() -> usize,
) -> Vec<StatTest> {
    let requested = options.tests_for(name);
    if requested.is_empty() {
        vec![default_test(kind, n_reference, distinct() as u64)]
    } else {
        requested.to_vec()
    }
}

fn run(
    tests: &[StatTest],
    mut one: impl FnMut(StatTest) -> Result<TestResult>,
) -> Result<Vec<TestResult>> {
    tests.iter().map(|&t| one(t)).collect()
}

/// The number of distinct values of two sorted samples together.
fn union_distinct(a: &[f64], b: &[f64]) -> usize {
    let (mut i, mut j, mut n, mut last) = (0, 0, 0, None::<f64>);
    while i < a.len() || j < b.len() {
        let x = match (a.get(i), b.get(j)) {
            (Some(&x), Some(&y)) if x <= y => {
                i += 1;
                x
            }
            (_, Some(&y)) => {
                j += 1;
                y
            }
            (Some(&x), None) => {
                i += 1;
                x
            }
            (None, None) => break,
        };
        if last != Some(x) {
            n += 1;
            last = Some(x);
        }
    }
    n
}

fn histogram(reference: &[f64], current: &[f64]) -> Option<Plot> {
    let min = reference.first()?.min(*current.first()?);
    let max = reference.last()?.max(*current.last()?);
    // Few distinct values: one bar per value reads better than a histogram.
    let distinct = distinct_in_sorted(reference).max(distinct_in_sorted(current));
    // Sturges gives about log2(n) + 1 bins: 22 for two million values.
    let n = (reference.len() + current.len()) as u64;
    let bins = Bins::sturges(min, max, n, false).ok()?;
    let edges = bins.edges()?.to_vec();
    if distinct <= 1 || edges.len() < 2 {
        return None;
    }
    Some(Plot::Histogram {
        reference: percents(&bins.count_sorted(reference), reference.len() as u64),
        current: percents(&bins.count_sorted(current), current.len() as u64),
        edges,
    })
}

fn categories_plot(pair: &CategoryPair) -> Plot {
    let (n_ref, n_cur) = (
        pair.reference.iter().sum::<u64>().max(1),
        pair.current.iter().sum::<u64>().max(1),
    );
    let mut order: Vec<usize> = (0..pair.keys.len()).collect();
    order.sort_by_key(|&i| std::cmp::Reverse(pair.reference[i] + pair.current[i]));
    let share = |count: u64, total: u64| {
        #[allow(clippy::cast_precision_loss)]
        let s = count as f64 / total as f64;
        s
    };
    let (mut categories, mut reference, mut current) = (Vec::new(), Vec::new(), Vec::new());
    let (mut rest_ref, mut rest_cur) = (0, 0);
    for (rank, &i) in order.iter().enumerate() {
        if rank < MAX_PLOT_CATEGORIES {
            categories.push(pair.keys[i].text.clone());
            reference.push(share(pair.reference[i], n_ref));
            current.push(share(pair.current[i], n_cur));
        } else {
            rest_ref += pair.reference[i];
            rest_cur += pair.current[i];
        }
    }
    if order.len() > MAX_PLOT_CATEGORIES {
        categories.push("(other)".to_owned());
        reference.push(share(rest_ref, n_ref));
        current.push(share(rest_cur, n_cur));
    }
    Plot::Categories {
        categories,
        reference,
        current,
    }
}
