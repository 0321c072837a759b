//! Comparing current data with a [`ReferenceProfile`], column by column in parallel.

use std::borrow::Cow;

use arrow_array::RecordBatch;
use rayon::prelude::*;

use crate::accumulate::{CurrentAccumulator, CurrentColumn, CurrentState};
use crate::column::{CategorySample, NumericSample, distinct_union_at_most};
use crate::error::{DriftError, Result};
use crate::evaluate::{self, CategoryPair, NumericPair, SketchInfo, WeightedPair};
use crate::kind::ColumnKind;
use crate::options::DriftOptions;
use crate::profile::{ColumnProfile, NumericSummary, ProfileData, ReferenceProfile};
use crate::report::{
    ColumnReport, DatasetDrift, DriftReport, MAX_PLOT_CATEGORIES, Plot, SideCounts, TestResult,
};
use crate::stat_test::{StatTest, default_test};
use crate::stats::binning::{Bins, percents};
use crate::weighted::{WeightedSample, bin_counts, interpolated_edge_counts};

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
    /// Compares `current` batches with this profile: the batches are accumulated (in
    /// parallel over chunks of batches, see [`CurrentAccumulator`]), sorted once, and every
    /// column is tested in parallel.
    pub fn compare(&self, current: &[RecordBatch], options: &DriftOptions) -> Result<DriftReport> {
        options.validate()?;
        let projected: Vec<RecordBatch>;
        let current = match options.columns() {
            // Only the selected columns are read; the others are reported missing, unused.
            Some(names) => {
                projected = current
                    .iter()
                    .map(|b| {
                        let schema = b.schema();
                        let keep: Vec<usize> = names
                            .iter()
                            .filter_map(|n| schema.index_of(n).ok())
                            .collect();
                        b.project(&keep)
                    })
                    .collect::<std::result::Result<_, _>>()?;
                &projected
            }
            None => current,
        };
        let mut accumulator = self.accumulate(current);
        accumulator.finish();
        self.compare_accumulated(&accumulator, options)
    }

    /// Compares accumulated current data with this profile. Numerical columns not yet
    /// sorted by [`CurrentAccumulator::finish`] are sorted in a copy. With
    /// [`DriftOptions::with_columns`], only those columns are tested, in that order (a name
    /// the profile lacks is reported missing from the reference); otherwise every column of
    /// the profile.
    ///
    /// # Errors
    ///
    /// [`DriftError::InvalidOption`] for a bad option, [`DriftError::Profile`] when the
    /// accumulator was made for another profile. Column problems are reported per column.
    pub fn compare_accumulated(
        &self,
        current: &CurrentAccumulator,
        options: &DriftOptions,
    ) -> Result<DriftReport> {
        options.validate()?;
        let current = current.columns_for(self)?;
        let order: Vec<(&str, Option<usize>)> = match options.columns() {
            None => self
                .columns()
                .iter()
                .enumerate()
                .map(|(i, c)| (c.name(), Some(i)))
                .collect(),
            Some(names) => names
                .iter()
                .map(|n| {
                    let at = self.columns().iter().position(|c| c.name() == n);
                    (n.as_str(), at)
                })
                .collect(),
        };
        let columns: Vec<ColumnReport> = order
            .par_iter()
            .map(|&(name, at)| {
                match at.and_then(|i| Some((self.columns().get(i)?, current.get(i)?))) {
                    Some((profile, current)) => compare_column(profile, current, options),
                    None => not_profiled(name),
                }
            })
            .collect();
        let dataset = DatasetDrift::from_columns(&columns, options.drift_share());
        Ok(DriftReport { columns, dataset })
    }
}

/// The report of a requested column that the profile does not have.
fn not_profiled(name: &str) -> ColumnReport {
    ColumnReport {
        column: name.to_owned(),
        kind: None,
        reference: SideCounts::default(),
        current: SideCounts::default(),
        results: Vec::new(),
        drifted: false,
        // As a profile built with the column reports it.
        error: Some(
            DriftError::Profile(
                DriftError::MissingColumn {
                    column: name.to_owned(),
                    side: "reference",
                }
                .to_string(),
            )
            .to_string(),
        ),
        plot: None,
    }
}

/// Why a column could not be tested: the message of its report.
struct Failure(String);

impl From<DriftError> for Failure {
    fn from(e: DriftError) -> Self {
        Self(e.to_string())
    }
}

fn compare_column(
    profile: &ColumnProfile,
    current: &CurrentColumn,
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
    if let Err(Failure(e)) = fill_column(&mut report, profile, current, options) {
        report.results.clear();
        report.drifted = false;
        report.error = Some(e);
    }
    report
}

/// The current values of a numerical column, sorted (borrowed when already sorted).
fn sorted_current(current: &CurrentColumn) -> Result<(Cow<'_, NumericSample>, bool), Failure> {
    match current.state() {
        CurrentState::Numeric { sample, integer } => {
            let sample = if sample.is_sorted() {
                Cow::Borrowed(sample)
            } else {
                Cow::Owned(sample.to_sorted())
            };
            Ok((sample, *integer))
        }
        _ => Err(Failure(
            "internal: the current column is not numerical".to_owned(),
        )),
    }
}

fn fill_column(
    report: &mut ColumnReport,
    profile: &ColumnProfile,
    current: &CurrentColumn,
    options: &DriftOptions,
) -> Result<(), Failure> {
    let name = profile.name();
    if let Some(error) = current.error() {
        return Err(Failure(error.to_owned()));
    }
    match profile.data() {
        ProfileData::Unusable { reason } => {
            return Err(DriftError::Profile(reason.clone()).into());
        }
        ProfileData::Numerical { sample, integer } => {
            let (cur, cur_integer) = sorted_current(current)?;
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
                || distinct_union_at_most(sample.values(), cur.values(), DEFAULT_TEST_DISTINCT),
            );
            report.results = run(&tests, |t| evaluate::numerical(name, t, &pair, options))?;
            report.plot = histogram(sample.values(), cur.values());
        }
        ProfileData::NumericalSketch(sketch) => {
            let (cur, cur_integer) = sorted_current(current)?;
            report.reference = sketch.counts().into();
            report.current = cur.counts().into();
            let reference = sketch.weighted();
            let interpolate = !sketch.is_exact();
            let n_ref = usize::try_from(reference.n()).unwrap_or(usize::MAX);
            require_valid(name, n_ref, &report.reference, "reference")?;
            require_valid(name, cur.values().len(), &report.current, "current")?;
            let largest = reference.max_weight() as f64 / reference.n().max(1) as f64;
            let pair = WeightedPair {
                reference: &reference,
                summary: sketch.summary(),
                current: cur.values(),
                integer: sketch.integer() && cur_integer,
                sketch: (!sketch.is_exact()).then(|| SketchInfo {
                    rank_error: sketch.rank_error(),
                    cdf_error: sketch.pmf_error(),
                    share_error: sketch.pmf_error() + 2.0 * largest,
                    distinct: sketch.distinct_sketch(),
                }),
            };
            let tests = tests_for(
                options,
                name,
                ColumnKind::Numerical,
                report.reference.valid,
                || {
                    if sketch.is_exact() {
                        // The reference's values are sorted and distinct.
                        distinct_union_at_most(
                            reference.values(),
                            cur.values(),
                            DEFAULT_TEST_DISTINCT,
                        )
                    } else {
                        // More distinct values than the value-count limit (at least 20):
                        // the estimate only has to be above 5 for the default choice.
                        sketch.distinct().max(0.0) as usize
                    }
                },
            );
            report.results = run(&tests, |t| {
                evaluate::numerical_weighted(name, t, &pair, options)
            })?;
            report.plot =
                histogram_weighted(&reference, sketch.summary(), cur.values(), interpolate);
        }
        ProfileData::Categorical(reference) => {
            let CurrentState::Categorical(cur) = current.state() else {
                return Err(Failure(
                    "internal: the current column is not categorical".to_owned(),
                ));
            };
            report.reference = reference.counts().into();
            report.current = cur.counts().into();
            require_valid(
                name,
                category_total(reference),
                &report.reference,
                "reference",
            )?;
            require_valid(name, category_total(cur), &report.current, "current")?;
            let pair = CategoryPair::new(reference, cur);
            let tests = tests_for(
                options,
                name,
                ColumnKind::Categorical,
                report.reference.valid,
                || pair.keys.len(),
            );
            report.results = run(&tests, |t| evaluate::categorical(name, t, &pair, options))?;
            report.plot = Some(categories_plot(&pair));
        }
    }
    report.drifted = report.results.first().is_some_and(|r| r.drifted);
    Ok(())
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

/// [`default_test`] tells apart 0..=2, 3..=5 and more distinct values: counting stops here.
const DEFAULT_TEST_DISTINCT: usize = 6;

/// The tests requested for a column, or Evidently's default choice (`distinct` is called
/// only then, and may stop counting at [`DEFAULT_TEST_DISTINCT`]).
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

fn histogram(reference: &[f64], current: &[f64]) -> Option<Plot> {
    let min = reference.first()?.min(*current.first()?);
    let max = reference.last()?.max(*current.last()?);
    // At most one distinct value on each side (sorted: first == last): no histogram.
    let single = reference.first() == reference.last() && current.first() == current.last();
    // Sturges gives about log2(n) + 1 bins: 22 for two million values.
    let n = (reference.len() + current.len()) as u64;
    let bins = Bins::sturges(min, max, n, false).ok()?;
    let edges = bins.edges()?.to_vec();
    if single || edges.len() < 2 {
        return None;
    }
    Some(Plot::Histogram {
        reference: percents(&bins.count_sorted(reference), reference.len() as u64),
        current: percents(&bins.count_sorted(current), current.len() as u64),
        edges,
    })
}

/// [`histogram`] with a weighted reference (value counts or a sketch).
fn histogram_weighted(
    reference: &WeightedSample,
    summary: &NumericSummary,
    current: &[f64],
    interpolate: bool,
) -> Option<Plot> {
    let min = summary.min().min(*current.first()?);
    let max = summary.max().max(*current.last()?);
    let single = reference.values().len() <= 1 && current.first() == current.last();
    let n = reference.n().saturating_add(current.len() as u64);
    let bins = Bins::sturges(min, max, n, false).ok()?;
    let edges = bins.edges()?.to_vec();
    if single || edges.len() < 2 {
        return None;
    }
    let counts = if interpolate {
        interpolated_edge_counts(reference, summary.min(), summary.max(), &edges)
    } else {
        bin_counts(reference, &bins)
    };
    Some(Plot::Histogram {
        reference: percents(&counts, reference.n()),
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
