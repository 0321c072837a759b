//! Numerical reference columns: exact sorted values up to the cap, a sketch beyond it, and
//! the builder that streams batches into either and merges partial builds.

use std::collections::HashMap;

use crate::arrow_columns::{ValueCounts, numeric_values};
use arrow_array::Array;
use serde::{Deserialize, Serialize};

use super::options::ProfileOptions;
use super::sketch::{DistinctSketch, QuantileSketch, canonical_bits};
use crate::column::NumericSample;
use crate::error::{DriftError, Result};
use crate::stats::binning::{lane_sum, lane_sums_shifted};
use crate::weighted::WeightedSample;

/// Exact summaries of a numerical column: count, minimum, maximum, mean and the sum of
/// squared deviations from the mean (`M2`). Partial summaries merge exactly (up to
/// rounding) with Chan et al.'s pairwise update, so they can be built from partitions.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct NumericSummary {
    count: u64,
    min: f64,
    max: f64,
    mean: f64,
    m2: f64,
}

impl NumericSummary {
    /// The summary of some values (finite), by a compensated two-pass computation.
    pub fn of(values: &[f64]) -> Self {
        let Some(&first) = values.first() else {
            return Self::default();
        };
        let n = values.len() as f64;
        // Four independent minima and maxima (one chain each would wait on the last).
        let (mut min, mut max) = ([first; 4], [first; 4]);
        let chunks = values.chunks_exact(4);
        for &x in chunks.remainder() {
            min[0] = if x < min[0] { x } else { min[0] };
            max[0] = if x > max[0] { x } else { max[0] };
        }
        for c in chunks {
            for ((lo, hi), &x) in min.iter_mut().zip(&mut max).zip(c) {
                *lo = if x < *lo { x } else { *lo };
                *hi = if x > *hi { x } else { *hi };
            }
        }
        let min = min
            .into_iter()
            .fold(first, |m, x| if x < m { x } else { m });
        let max = max
            .into_iter()
            .fold(first, |m, x| if x > m { x } else { m });
        let mean = lane_sum(values, |x| x) / n;
        let (squares, d) = lane_sums_shifted(values, mean, |x| (x - mean) * (x - mean));
        let m2 = (squares - d * d / n).max(0.0);
        Self {
            count: values.len() as u64,
            min,
            max,
            mean: mean + d / n,
            m2,
        }
    }

    /// Adds another summary (Chan, Golub and LeVeque's pairwise update).
    pub fn merge(&mut self, other: &Self) {
        if other.count == 0 {
            return;
        }
        if self.count == 0 {
            *self = *other;
            return;
        }
        let (na, nb) = (self.count as f64, other.count as f64);
        let n = na + nb;
        let delta = other.mean - self.mean;
        self.mean += delta * (nb / n);
        self.m2 += other.m2 + delta * delta * (na * nb / n);
        self.count = self.count.saturating_add(other.count);
        if other.min < self.min {
            self.min = other.min;
        }
        if other.max > self.max {
            self.max = other.max;
        }
    }

    /// The number of values.
    pub fn count(&self) -> u64 {
        self.count
    }

    /// The smallest value (0 when empty).
    pub fn min(&self) -> f64 {
        self.min
    }

    /// The largest value (0 when empty).
    pub fn max(&self) -> f64 {
        self.max
    }

    /// The mean (0 when empty).
    pub fn mean(&self) -> f64 {
        self.mean
    }

    /// The sum of squared deviations from the mean.
    pub fn m2(&self) -> f64 {
        self.m2
    }

    /// The population standard deviation `sqrt(M2 / count)` (`np.std`, `ddof = 0`); NaN
    /// when empty.
    pub fn std(&self) -> f64 {
        if self.count == 0 {
            return f64::NAN;
        }
        let var = self.m2 / self.count as f64;
        if var > 0.0 { var.sqrt() } else { 0.0 }
    }

    pub(crate) fn from_parts(count: u64, min: f64, max: f64, mean: f64, m2: f64) -> Self {
        Self {
            count,
            min,
            max,
            mean,
            m2,
        }
    }
}

/// A numerical column with more valid values than the profile's exact cap: exact counts
/// and summaries, a KLL quantile sketch, and either the exact value counts (at most the
/// profile's value count limit of distinct values) or a distinct-value sketch.
///
/// With value counts every test is exact (the Wasserstein norm up to rounding: it comes
/// from [`NumericSummary::std`]); without, the tests that need the distribution are
/// approximate (see `docs/DRIFT-PROFILE.md`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct NumericSketch {
    counts: ValueCounts,
    integer: bool,
    summary: NumericSummary,
    /// `(value, count)`, ascending, distinct, `-0.0` stored as `0.0`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    value_counts: Option<Vec<(f64, u64)>>,
    quantiles: QuantileSketch,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    distinct: Option<DistinctSketch>,
}

impl NumericSketch {
    /// What was seen and dropped.
    pub fn counts(&self) -> ValueCounts {
        self.counts
    }

    /// Whether the Arrow type is an integer type.
    pub fn integer(&self) -> bool {
        self.integer
    }

    /// The exact summaries of the valid values.
    pub fn summary(&self) -> &NumericSummary {
        &self.summary
    }

    /// The exact `(value, count)` pairs, ascending, when the column has at most the
    /// profile's value count limit of distinct values.
    pub fn value_counts(&self) -> Option<&[(f64, u64)]> {
        self.value_counts.as_deref()
    }

    /// The KLL parameter `k`.
    pub fn sketch_k(&self) -> u16 {
        self.quantiles.k()
    }

    /// The number of values the KLL sketch retains.
    pub fn retained(&self) -> usize {
        self.quantiles.retained()
    }

    /// The sketch's a-priori normalized rank error `ε` (single-sided, 99% confidence): every
    /// reference CDF value it gives is within `ε` of the exact one.
    pub fn rank_error(&self) -> f64 {
        self.quantiles.rank_error()
    }

    /// The sketch's a-priori normalized error of the mass between two points (a bin share).
    pub fn pmf_error(&self) -> f64 {
        self.quantiles.pmf_error()
    }

    /// The number of distinct values: exact with value counts, else the HyperLogLog
    /// estimate.
    pub fn distinct(&self) -> f64 {
        match (&self.value_counts, &self.distinct) {
            (Some(pairs), _) => pairs.len() as f64,
            (None, Some(hll)) => hll.estimate(),
            (None, None) => f64::NAN,
        }
    }

    /// Whether the tests against this column are exact (it has its value counts).
    pub fn is_exact(&self) -> bool {
        self.value_counts.is_some()
    }

    /// The KLL sketch's binary image (Apache DataSketches format, `f64` items).
    pub fn sketch_bytes(&self) -> Vec<u8> {
        self.quantiles.to_bytes()
    }

    /// The distinct-value sketch's binary image (Apache DataSketches HLL format), when the
    /// column has too many distinct values for exact value counts.
    pub fn distinct_sketch_bytes(&self) -> Option<Vec<u8>> {
        self.distinct.as_ref().map(DistinctSketch::to_bytes)
    }

    /// The reference as a weighted sample: the exact value counts, or the sketch's retained
    /// values with their weights.
    pub(crate) fn weighted(&self) -> WeightedSample {
        match &self.value_counts {
            Some(pairs) => WeightedSample::from_counts(pairs),
            None => self.quantiles.weighted(),
        }
    }

    pub(crate) fn distinct_sketch(&self) -> Option<&DistinctSketch> {
        self.distinct.as_ref()
    }

    /// Builds from stored parts, checking that they agree.
    pub(crate) fn from_parts(
        counts: ValueCounts,
        integer: bool,
        summary: NumericSummary,
        value_counts: Option<Vec<(f64, u64)>>,
        quantiles: QuantileSketch,
        distinct: Option<DistinctSketch>,
    ) -> std::result::Result<Self, String> {
        let sketch = Self {
            counts,
            integer,
            summary,
            value_counts,
            quantiles,
            distinct,
        };
        sketch.check()?;
        Ok(sketch)
    }

    /// The invariants a stored sketch must satisfy.
    pub(crate) fn check(&self) -> std::result::Result<(), String> {
        let valid = self.counts.valid();
        if self.counts.dropped() > self.counts.rows {
            return Err("more dropped rows than rows".to_owned());
        }
        if self.summary.count != valid || self.quantiles.n() != valid || valid == 0 {
            return Err(format!(
                "counts disagree: {valid} valid values, a summary of {} and a sketch of {}",
                self.summary.count,
                self.quantiles.n()
            ));
        }
        let s = &self.summary;
        if ![s.min, s.max, s.mean, s.m2].iter().all(|v| v.is_finite()) || s.min > s.max {
            return Err("the summary is not finite or its minimum exceeds its maximum".to_owned());
        }
        // A sum of squares: a negative one gives a NaN standard deviation (the Wasserstein
        // norm), and no build produces one.
        if s.m2 < 0.0 {
            return Err(format!(
                "the summary's M2 (sum of squared deviations) is negative: {}",
                s.m2
            ));
        }
        if let Some((min, max)) = self.quantiles.min_max()
            && (min != s.min || max != s.max)
        {
            return Err("the sketch's extremes differ from the summary's".to_owned());
        }
        match (&self.value_counts, &self.distinct) {
            (Some(pairs), None) => {
                let total = pairs.iter().fold(0_u64, |t, p| t.saturating_add(p.1));
                if total != valid {
                    return Err(format!(
                        "the value counts sum to {total}, not to the {valid} valid values"
                    ));
                }
                if pairs.iter().any(|p| !p.0.is_finite() || p.1 == 0)
                    || pairs.windows(2).any(|w| w[0].0 >= w[1].0)
                {
                    return Err("the value counts are not finite, positive and ascending".into());
                }
                Ok(())
            }
            (None, Some(_)) => Ok(()),
            _ => Err("exactly one of value counts and a distinct sketch is expected".to_owned()),
        }
    }
}

/// Distinct values seen by a sketched column: exact counts up to the limit, then an
/// estimate.
#[derive(Clone, Debug)]
enum Distinct {
    Exact(HashMap<u64, u64>),
    Estimate(DistinctSketch),
}

/// The sketched state of a builder.
#[derive(Clone, Debug)]
struct SketchState {
    summary: NumericSummary,
    quantiles: QuantileSketch,
    distinct: Distinct,
}

/// What a builder holds.
#[derive(Clone, Debug)]
enum State {
    /// The valid values, unsorted, at most the cap.
    Exact(Vec<f64>),
    Sketch(Box<SketchState>),
}

/// Streams the valid values of one numerical reference column into exact values, switching
/// to a sketch beyond the cap. Builders of parts of a column merge.
#[derive(Clone, Debug)]
pub(crate) struct NumericBuilder {
    options: ProfileOptions,
    counts: ValueCounts,
    integer: bool,
    state: State,
}

impl NumericBuilder {
    pub(crate) fn new(options: ProfileOptions, integer: bool) -> Self {
        Self {
            options,
            counts: ValueCounts::default(),
            integer,
            state: State::Exact(Vec::new()),
        }
    }

    /// A builder holding a finished column again (to merge profiles).
    pub(crate) fn from_exact(
        options: ProfileOptions,
        sample: NumericSample,
        integer: bool,
    ) -> Self {
        let (values, counts) = sample.into_parts();
        let mut builder = Self {
            options,
            counts,
            integer,
            state: State::Exact(values),
        };
        builder.check_cap();
        builder
    }

    /// A builder holding a finished sketched column again (to merge profiles).
    pub(crate) fn from_sketch(options: ProfileOptions, sketch: NumericSketch) -> Self {
        let distinct = match (sketch.value_counts, sketch.distinct) {
            (Some(pairs), _) => Distinct::Exact(
                pairs
                    .into_iter()
                    .map(|(x, c)| (canonical_bits(x), c))
                    .collect(),
            ),
            (None, Some(hll)) => Distinct::Estimate(hll),
            // `check` forbids this; an empty estimate is the safe reading.
            (None, None) => Distinct::Exact(HashMap::new()),
        };
        Self {
            options,
            counts: sketch.counts,
            integer: sketch.integer,
            state: State::Sketch(Box::new(SketchState {
                summary: sketch.summary,
                quantiles: sketch.quantiles,
                distinct,
            })),
        }
    }

    /// Adds the values of one Arrow array.
    pub(crate) fn push(&mut self, array: &dyn Array, scratch: &mut Vec<f64>) -> Result<()> {
        match &mut self.state {
            State::Exact(values) => {
                self.counts += numeric_values(array, values)?;
                self.check_cap();
            }
            State::Sketch(sketch) => {
                scratch.clear();
                self.counts += numeric_values(array, scratch)?;
                sketch.feed(scratch, self.options.value_count_limit());
            }
        }
        Ok(())
    }

    /// Reserves room for `rows` more exact values.
    pub(crate) fn reserve(&mut self, rows: usize) {
        // A hint (see `NumericSample::reserve`): failing to reserve is not an error.
        if let State::Exact(values) = &mut self.state {
            let _ = values.try_reserve(rows);
        }
    }

    /// Adds `count` valid values equal to `x` (to turn category counts into numbers).
    pub(crate) fn push_repeated(&mut self, x: f64, count: u64) {
        self.counts.rows = self.counts.rows.saturating_add(count);
        match &mut self.state {
            State::Exact(values) => {
                let n = usize::try_from(count).unwrap_or(usize::MAX);
                if values.len().saturating_add(n) <= self.options.exact_cap() {
                    values.extend(std::iter::repeat_n(x, n));
                    return;
                }
                self.switch_to_sketch();
                self.push_repeated_sketch(x, count);
            }
            State::Sketch(_) => self.push_repeated_sketch(x, count),
        }
    }

    fn push_repeated_sketch(&mut self, x: f64, count: u64) {
        if let State::Sketch(sketch) = &mut self.state {
            sketch.quantiles.update_repeated(x, count);
            sketch.summary.merge(&NumericSummary {
                count,
                min: x,
                max: x,
                mean: x,
                m2: 0.0,
            });
            sketch.count_distinct(x, count, self.options.value_count_limit());
        }
    }

    /// Adds the null rows of a column whose values are counted elsewhere.
    pub(crate) fn add_counts(&mut self, counts: ValueCounts) {
        self.counts += counts;
    }

    /// Adds everything `other` holds.
    pub(crate) fn merge(&mut self, other: Self) -> Result<()> {
        self.counts += other.counts;
        self.integer &= other.integer;
        let limit = self.options.value_count_limit();
        let state = std::mem::replace(&mut self.state, State::Exact(Vec::new()));
        self.state = match (state, other.state) {
            (State::Exact(mut a), State::Exact(b)) => {
                if a.is_empty() {
                    State::Exact(b)
                } else {
                    a.extend_from_slice(&b);
                    State::Exact(a)
                }
            }
            (State::Exact(a), State::Sketch(mut s)) | (State::Sketch(mut s), State::Exact(a)) => {
                s.feed(&a, limit);
                State::Sketch(s)
            }
            (State::Sketch(mut a), State::Sketch(b)) => {
                a.merge(*b, limit).map_err(DriftError::Profile)?;
                State::Sketch(a)
            }
        };
        self.check_cap();
        Ok(())
    }

    /// Switches to a sketch when the exact values exceed the cap.
    fn check_cap(&mut self) {
        if matches!(&self.state, State::Exact(v) if v.len() > self.options.exact_cap()) {
            self.switch_to_sketch();
        }
    }

    fn switch_to_sketch(&mut self) {
        let State::Exact(values) = &self.state else {
            return;
        };
        // A k outside 8..=65535 is refused by `ProfileOptions::validate` before any build;
        // fall back to the default rather than fail.
        let quantiles = QuantileSketch::new(self.options.sketch_k())
            .or_else(|_| QuantileSketch::new(super::options::DEFAULT_SKETCH_K));
        let Ok(quantiles) = quantiles else {
            return;
        };
        let mut sketch = SketchState {
            summary: NumericSummary::default(),
            quantiles,
            distinct: Distinct::Exact(HashMap::new()),
        };
        sketch.feed(values, self.options.value_count_limit());
        self.state = State::Sketch(Box::new(sketch));
    }

    /// The number of distinct valid values, when known exactly; exact values (which this
    /// sorts, with `scratch` as the sort buffer) are counted only up to `cap` ("`cap` or
    /// more").
    pub(crate) fn distinct(&mut self, scratch: &mut Vec<f64>, cap: usize) -> Option<usize> {
        match &mut self.state {
            State::Exact(values) => {
                let mut sample =
                    NumericSample::from_sorted_parts(std::mem::take(values), false, self.counts);
                sample.sort_with(scratch);
                let n = crate::column::distinct_union_at_most(sample.values(), &[], cap);
                *values = sample.into_parts().0;
                Some(n)
            }
            State::Sketch(s) => match &s.distinct {
                Distinct::Exact(map) => Some(map.len()),
                Distinct::Estimate(_) => None,
            },
        }
    }

    /// The finished column: exact sorted values, or the sketch.
    /// `scratch`: a sort buffer kept between columns.
    pub(crate) fn finish(self, scratch: &mut Vec<f64>) -> Finished {
        match self.state {
            State::Exact(values) => {
                let mut sample = NumericSample::from_sorted_parts(values, false, self.counts);
                sample.sort_with(scratch);
                Finished::Exact(sample, self.integer)
            }
            State::Sketch(s) => {
                let s = *s;
                let (value_counts, distinct) = match s.distinct {
                    Distinct::Exact(map) => {
                        let mut pairs: Vec<(f64, u64)> = map
                            .into_iter()
                            .map(|(b, c)| (f64::from_bits(b), c))
                            .collect();
                        pairs.sort_unstable_by(|a, b| a.0.total_cmp(&b.0));
                        (Some(pairs), None)
                    }
                    Distinct::Estimate(hll) => (None, Some(hll)),
                };
                Finished::Sketch(Box::new(NumericSketch {
                    counts: self.counts,
                    integer: self.integer,
                    summary: s.summary,
                    value_counts,
                    quantiles: s.quantiles,
                    distinct,
                }))
            }
        }
    }
}

/// A finished numerical column.
pub(crate) enum Finished {
    Exact(NumericSample, bool),
    Sketch(Box<NumericSketch>),
}

impl SketchState {
    /// Adds valid values.
    fn feed(&mut self, values: &[f64], limit: usize) {
        if values.is_empty() {
            return;
        }
        self.summary.merge(&NumericSummary::of(values));
        self.quantiles.update_all(values);
        for &x in values {
            self.count_distinct(x, 1, limit);
        }
    }

    fn count_distinct(&mut self, x: f64, count: u64, limit: usize) {
        match &mut self.distinct {
            Distinct::Exact(map) => {
                *map.entry(canonical_bits(x)).or_insert(0) += count;
                if map.len() > limit {
                    self.overflow();
                }
            }
            Distinct::Estimate(hll) => hll.update(x),
        }
    }

    /// Replaces exact value counts by a distinct-value sketch of the same values.
    fn overflow(&mut self) {
        let Distinct::Exact(map) = &self.distinct else {
            return;
        };
        let Ok(mut hll) = DistinctSketch::new() else {
            return;
        };
        for &bits in map.keys() {
            hll.update_bits(bits);
        }
        self.distinct = Distinct::Estimate(hll);
    }

    fn merge(&mut self, other: Self, limit: usize) -> std::result::Result<(), String> {
        self.summary.merge(&other.summary);
        self.quantiles.merge(&other.quantiles)?;
        let mine = std::mem::replace(&mut self.distinct, Distinct::Exact(HashMap::new()));
        self.distinct = match (mine, other.distinct) {
            (Distinct::Exact(mut a), Distinct::Exact(b)) => {
                for (bits, c) in b {
                    *a.entry(bits).or_insert(0) += c;
                }
                Distinct::Exact(a)
            }
            (Distinct::Exact(map), Distinct::Estimate(mut hll))
            | (Distinct::Estimate(mut hll), Distinct::Exact(map)) => {
                for &bits in map.keys() {
                    hll.update_bits(bits);
                }
                Distinct::Estimate(hll)
            }
            (Distinct::Estimate(mut a), Distinct::Estimate(b)) => {
                a.merge(&b);
                Distinct::Estimate(a)
            }
        };
        if matches!(&self.distinct, Distinct::Exact(map) if map.len() > limit) {
            self.overflow();
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summaries_merge_like_one_pass() {
        let values: Vec<f64> = (0..1000)
            .map(|i| f64::from(i).sin() * 100.0 + 1e6)
            .collect();
        let whole = NumericSummary::of(&values);
        let mut parts = NumericSummary::default();
        for chunk in values.chunks(77) {
            parts.merge(&NumericSummary::of(chunk));
        }
        assert_eq!(parts.count(), whole.count());
        assert_eq!((parts.min(), parts.max()), (whole.min(), whole.max()));
        assert!((parts.mean() - whole.mean()).abs() < 1e-9);
        assert!((parts.std() - whole.std()).abs() < 1e-9 * whole.std());
        let std = crate::stats::wasserstein::std_population(&values);
        assert!((whole.std() - std).abs() < 1e-12 * std);
        assert!(NumericSummary::default().std().is_nan());
    }

    #[test]
    fn builders_switch_to_a_sketch_beyond_the_cap() {
        let options = ProfileOptions::default()
            .with_exact_cap(100)
            .with_value_count_limit(20);
        let mut builder = NumericBuilder::new(options, false);
        let mut scratch = Vec::new();
        let array = arrow_array::Float64Array::from(
            (0..150).map(|i| f64::from(i % 10)).collect::<Vec<_>>(),
        );
        builder.push(&array, &mut scratch).unwrap();
        assert_eq!(builder.distinct(&mut Vec::new(), usize::MAX), Some(10));
        let Finished::Sketch(sketch) = builder.clone().finish(&mut Vec::new()) else {
            panic!("expected a sketch");
        };
        assert!(sketch.is_exact());
        assert_eq!(sketch.value_counts().unwrap().len(), 10);
        sketch.check().unwrap();
        let more = arrow_array::Float64Array::from((0..50).map(f64::from).collect::<Vec<_>>());
        builder.push(&more, &mut scratch).unwrap();
        assert_eq!(builder.distinct(&mut Vec::new(), usize::MAX), None);
        let Finished::Sketch(sketch) = builder.finish(&mut Vec::new()) else {
            panic!("expected a sketch");
        };
        assert!(!sketch.is_exact());
        assert_eq!(sketch.counts().valid(), 200);
        sketch.check().unwrap();
    }
}
