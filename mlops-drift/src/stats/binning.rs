//! Histogram bins exactly as numpy and Evidently build and fill them.
//!
//! * [`sturges_edges`] is `numpy.histogram_bin_edges(a, bins="sturges")` from the sample's
//!   minimum, maximum, size and dtype: bit for bit, including numpy's handling of a zero
//!   range, the integer width floor and `linspace` rounding.
//! * [`Bins`] counts values as `numpy.histogram` does: bins are `[e_i, e_i+1)`, the last bin
//!   is closed, values outside the edges are not counted. Counts from chunks add up, so a
//!   reference profile can store its counts and current data can be counted batch by batch.
//! * [`Bins::evidently`], [`binned_percents`] and [`category_percents`] are Evidently's
//!   `get_binned_data` (`evidently/legacy/calculations/stattests/utils.py`), used by `psi`,
//!   `kl_div` and `jensenshannon`, with its zero filling in [`fill_zeros`].
//!
//! This file also holds [`StatsError`], the one error type of the `stats` module.
//!
//! Evidently defect kept for parity: `get_binned_data` ignores its `n_bins` argument (upstream
//! issue #1400), so there is no bin-count parameter here either.

/// Why a statistic cannot be computed. Shared by every function of [`crate::stats`].
///
/// The rule throughout the module: where scipy or numpy *raise*, the function returns one of
/// these; where they *return NaN* (for example chi-square with an observed and expected
/// count both zero), the function returns NaN too. No function panics on any input.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum StatsError {
    /// A sample or a count vector is empty, or its counts sum to zero.
    #[error("a sample is empty (or its counts sum to zero)")]
    Empty,
    /// Two inputs that must be aligned have different lengths.
    #[error("inputs have different lengths: {left} and {right}")]
    LengthMismatch {
        /// The length of the first input.
        left: usize,
        /// The length of the second input.
        right: usize,
    },
    /// An input is outside the function's domain (non-finite or unsorted edges, a count
    /// larger than its total, a minimum above the maximum).
    #[error("invalid input: {0}")]
    Invalid(&'static str),
    /// numpy cannot bin this range: the range is not finite, or its width overflows
    /// (`histogram_bin_edges` raises "cannot convert float NaN to integer").
    #[error("the data range is not finite")]
    NonFiniteRange,
    /// The range is too narrow for that many distinct edges in `f64` (numpy's "Too many bins
    /// for data range").
    #[error("too many bins for data range: cannot create {bins} finite-sized bins")]
    TooManyBins {
        /// The number of bins asked for.
        bins: usize,
    },
    /// `scipy.stats.chisquare`'s check: the observed and expected totals differ by more than
    /// a relative `sqrt(f64::EPSILON)`.
    #[error("observed total {observed} and expected total {expected} differ")]
    SumMismatch {
        /// The observed total.
        observed: f64,
        /// The expected total.
        expected: f64,
    },
    /// `scipy.stats.chi2_contingency` refuses a table with a zero expected frequency, that is
    /// a category counted zero times on both sides.
    #[error("category {category} has a zero expected frequency")]
    ZeroExpected {
        /// The index of the category.
        category: usize,
    },
}

/// The `Result` of this module.
pub type StatsResult<T> = Result<T, StatsError>;

/// Evidently bins a numerical column by value when the reference has at most this many
/// distinct values, and with Sturges' equal-width bins above it.
pub const EVIDENTLY_DISTINCT_LIMIT: usize = 20;

/// Evidently's zero-fill constant: zeros become this, unless the smallest non-zero share is
/// at most this, in which case they become that share divided by `1e6`.
pub const EVIDENTLY_ZERO_FILL: f64 = 1e-4;

/// The edges numpy gives for `numpy.histogram_bin_edges(a, bins="sturges")`, where `a` has
/// minimum `min`, maximum `max` and `n` elements; `integer` says whether `a` has an integer
/// dtype.
///
/// numpy's definition, reproduced operation by operation:
///
/// * `width = (max - min) / (log2(n) + 1)`; with an integer dtype a width below 1 becomes 1.
/// * `bins = ceil((last - first) / width)`, where `[first, last] = [min, max]`, or
///   `[min - 0.5, max + 0.5]` when `min == max` (then `width == 0` and `bins == 1`). A zero
///   width (a subnormal range) also gives one bin.
/// * `edges = linspace(first, last, bins + 1)`: `edge_i = i * step + first` with
///   `step = (last - first) / bins` (or `i / bins * (last - first) + first` when `step`
///   underflows to zero), and the last edge set to `last` exactly.
///
/// With an integer dtype numpy subtracts in unsigned integers; this takes `f64`, so integers
/// must be below 2^53 in magnitude to be exact.
///
/// # Errors
///
/// [`StatsError::Empty`] when `n == 0`, [`StatsError::Invalid`] when `min > max`,
/// [`StatsError::NonFiniteRange`] when a bound or the width is not finite (numpy raises), and
/// [`StatsError::TooManyBins`] when two edges coincide (numpy raises).
pub fn sturges_edges(min: f64, max: f64, n: u64, integer: bool) -> StatsResult<Vec<f64>> {
    Ok(Sturges::new(min, max, n, integer)?.edges)
}

/// Sturges edges with the uniform-bin description numpy's fast path uses.
struct Sturges {
    edges: Vec<f64>,
    first: f64,
    last: f64,
}

impl Sturges {
    fn new(min: f64, max: f64, n: u64, integer: bool) -> StatsResult<Self> {
        if n == 0 {
            return Err(StatsError::Empty);
        }
        if !(min.is_finite() && max.is_finite()) {
            return Err(StatsError::NonFiniteRange);
        }
        if min > max {
            return Err(StatsError::Invalid("min is above max"));
        }
        let (first, last) = if min == max {
            (min - 0.5, max + 0.5)
        } else {
            (min, max)
        };
        // `_hist_bin_sturges`: the width comes from the data's own range, zero when min == max.
        let mut width = (max - min) / ((n as f64).log2() + 1.0);
        // numpy tests `if width:`, which is true for NaN.
        let bins = if width != 0.0 {
            if integer && width < 1.0 {
                width = 1.0;
            }
            let ratio = ((last - first) / width).ceil();
            if !ratio.is_finite() {
                return Err(StatsError::NonFiniteRange);
            }
            // The ratio is at most log2(n) + 1 (plus rounding), so this never saturates.
            ratio.max(1.0) as usize
        } else {
            1
        };
        let edges = linspace(first, last, bins);
        if edges.windows(2).any(|w| w[0] >= w[1]) {
            return Err(StatsError::TooManyBins { bins });
        }
        Ok(Self { edges, first, last })
    }
}

/// `numpy.linspace(first, last, bins + 1)` in `f64`, as numpy evaluates it.
fn linspace(first: f64, last: f64, bins: usize) -> Vec<f64> {
    let div = bins as f64;
    let delta = last - first;
    let step = delta / div;
    let mut edges: Vec<f64> = (0..=bins)
        .map(|i| {
            let i = i as f64;
            if step == 0.0 {
                i / div * delta + first
            } else {
                i * step + first
            }
        })
        .collect();
    if let Some(end) = edges.last_mut() {
        *end = last;
    }
    edges
}

/// How values are assigned to bins: numpy edges, or one bin per distinct value.
#[derive(Clone, Debug, PartialEq)]
enum Layout {
    /// `[e_i, e_i+1)`, the last bin closed. `uniform` holds numpy's `(first_edge, last_edge)`
    /// when the edges came from `linspace` (numpy's fast path).
    Edges {
        edges: Vec<f64>,
        uniform: Option<(f64, f64)>,
    },
    /// Strictly increasing distinct values; a value falls in the bin of the equal value.
    Values(Vec<f64>),
}

/// A set of histogram bins: numpy-style edges, or one bin per distinct value.
///
/// Counting follows `numpy.histogram` exactly (its `searchsorted` definition, which its
/// uniform fast path also reproduces after its correction step): a value `x` is in bin `i`
/// when `e_i <= x < e_i+1`, and in the last bin when it equals the last edge. Values outside
/// the edges, or (for value bins) equal to no bin's value, are not counted; compare the sum
/// of the counts with the sample size to detect them. Counts of chunks add up.
///
/// ```
/// use mlops_drift::stats::binning::Bins;
///
/// let bins = Bins::sturges(0.0, 1.0, 64, false)?; // 7 bins of width 1/7
/// assert_eq!(bins.n_bins(), 7);
/// let counts = bins.count_unsorted(&[0.0, 1.0 / 7.0, 0.5, 1.0, 2.0]);
/// assert_eq!(counts, [1, 1, 0, 1, 0, 0, 1]); // 2.0 is outside the edges
/// # Ok::<(), mlops_drift::stats::binning::StatsError>(())
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct Bins {
    layout: Layout,
}

impl Bins {
    /// numpy's Sturges bins (see [`sturges_edges`]) for a sample with this minimum, maximum,
    /// size and dtype.
    ///
    /// # Errors
    ///
    /// As [`sturges_edges`].
    pub fn sturges(min: f64, max: f64, n: u64, integer: bool) -> StatsResult<Self> {
        let s = Sturges::new(min, max, n, integer)?;
        Ok(Self {
            layout: Layout::Edges {
                edges: s.edges,
                uniform: Some((s.first, s.last)),
            },
        })
    }

    /// Bins from explicit edges, as `numpy.histogram(x, bins=edges)`.
    ///
    /// # Errors
    ///
    /// [`StatsError::Invalid`] unless there are at least two edges, all finite and
    /// non-decreasing (numpy allows repeated edges: the bin between them stays empty).
    pub fn from_edges(edges: Vec<f64>) -> StatsResult<Self> {
        if edges.len() < 2 {
            return Err(StatsError::Invalid("at least two edges are needed"));
        }
        if edges.iter().any(|e| !e.is_finite()) || edges.windows(2).any(|w| w[0] > w[1]) {
            return Err(StatsError::Invalid(
                "edges must be finite and non-decreasing",
            ));
        }
        Ok(Self {
            layout: Layout::Edges {
                edges,
                uniform: None,
            },
        })
    }

    /// One bin per value.
    ///
    /// # Errors
    ///
    /// [`StatsError::Invalid`] unless the values are finite and strictly increasing, and
    /// [`StatsError::Empty`] when there are none.
    pub fn from_values(values: Vec<f64>) -> StatsResult<Self> {
        if values.is_empty() {
            return Err(StatsError::Empty);
        }
        if values.iter().any(|v| !v.is_finite()) || values.windows(2).any(|w| w[0] >= w[1]) {
            return Err(StatsError::Invalid(
                "values must be finite and strictly increasing",
            ));
        }
        Ok(Self {
            layout: Layout::Values(values),
        })
    }

    /// One bin per distinct value of the union of two sorted samples (ascending, finite).
    /// `-0.0` and `0.0` are one value, as in Python.
    pub fn distinct_union(sorted_a: &[f64], sorted_b: &[f64]) -> Self {
        let mut values = Vec::new();
        merge_distinct(sorted_a, sorted_b, |x| values.push(x));
        Self {
            layout: Layout::Values(values),
        }
    }

    /// The bins Evidently's `get_binned_data` uses for a numerical column, from the sorted
    /// (ascending, finite) reference and current values: Sturges edges over the two samples
    /// together (`n = n_ref + n_cur`) when the reference has more than
    /// [`EVIDENTLY_DISTINCT_LIMIT`] distinct values, otherwise one bin per distinct value of
    /// the union. `integer`: both columns have an integer dtype (pandas concatenates an
    /// integer and a float column to float).
    ///
    /// # Errors
    ///
    /// [`StatsError::Empty`] when a side is empty; otherwise as [`sturges_edges`].
    pub fn evidently(sorted_ref: &[f64], sorted_cur: &[f64], integer: bool) -> StatsResult<Self> {
        let (Some(&r0), Some(&c0), Some(&r1), Some(&c1)) = (
            sorted_ref.first(),
            sorted_cur.first(),
            sorted_ref.last(),
            sorted_cur.last(),
        ) else {
            return Err(StatsError::Empty);
        };
        if distinct_sorted(sorted_ref) > EVIDENTLY_DISTINCT_LIMIT {
            let n = (sorted_ref.len() as u64).saturating_add(sorted_cur.len() as u64);
            let min = if c0 < r0 { c0 } else { r0 };
            let max = if c1 > r1 { c1 } else { r1 };
            Self::sturges(min, max, n, integer)
        } else {
            Ok(Self::distinct_union(sorted_ref, sorted_cur))
        }
    }

    /// The number of bins.
    pub fn n_bins(&self) -> usize {
        match &self.layout {
            Layout::Edges { edges, .. } => edges.len().saturating_sub(1),
            Layout::Values(values) => values.len(),
        }
    }

    /// The edges, for edge bins.
    pub fn edges(&self) -> Option<&[f64]> {
        match &self.layout {
            Layout::Edges { edges, .. } => Some(edges),
            Layout::Values(_) => None,
        }
    }

    /// The values, for one-bin-per-value bins.
    pub fn values(&self) -> Option<&[f64]> {
        match &self.layout {
            Layout::Edges { .. } => None,
            Layout::Values(values) => Some(values),
        }
    }

    /// The bin of one value, or `None` when it is in no bin.
    pub fn bin_of(&self, x: f64) -> Option<usize> {
        match &self.layout {
            Layout::Edges { edges, uniform } => match uniform {
                Some((first, last)) => uniform_bin(edges, *first, *last, x),
                None => edge_bin(edges, x),
            },
            Layout::Values(values) => {
                let i = values.partition_point(|&v| v < x);
                (values.get(i) == Some(&x)).then_some(i)
            }
        }
    }

    /// Counts per bin of sorted (ascending) values, in `O(bins · log n)` for edges and
    /// `O(n + bins)` for values.
    pub fn count_sorted(&self, sorted: &[f64]) -> Vec<u64> {
        match &self.layout {
            Layout::Edges { edges, .. } => {
                // numpy's `_search_sorted_inclusive`: left positions, the last one right.
                let k = edges.len().saturating_sub(1);
                let mut counts = Vec::with_capacity(k);
                let mut below = edges
                    .first()
                    .map_or(0, |&e| sorted.partition_point(|&x| x < e));
                for (i, &e) in edges.iter().enumerate().skip(1) {
                    let upto = if i == k {
                        sorted.partition_point(|&x| x <= e)
                    } else {
                        sorted.partition_point(|&x| x < e)
                    };
                    counts.push(upto.saturating_sub(below) as u64);
                    below = upto;
                }
                counts
            }
            Layout::Values(values) => {
                let mut counts = vec![0_u64; values.len()];
                let mut i = 0;
                for &x in sorted {
                    while values.get(i).is_some_and(|&v| v < x) {
                        i += 1;
                    }
                    match (values.get(i), counts.get_mut(i)) {
                        (Some(&v), Some(c)) if v == x => *c += 1,
                        _ => {}
                    }
                }
                counts
            }
        }
    }

    /// Counts per bin of values in any order, in `O(n)` for Sturges edges (numpy's index
    /// computation) and `O(n · log bins)` otherwise.
    pub fn count_unsorted(&self, values: &[f64]) -> Vec<u64> {
        let mut counts = vec![0_u64; self.n_bins()];
        for &x in values {
            if let Some(c) = self.bin_of(x).and_then(|i| counts.get_mut(i)) {
                *c += 1;
            }
        }
        counts
    }
}

/// numpy's fast path for equal-width bins: `((x - first) / (last - first)) * bins`,
/// truncated, then moved by the edge comparisons so that the result is exactly the
/// `searchsorted` bin (numpy moves at most one step; more is never needed but costs nothing).
fn uniform_bin(edges: &[f64], first: f64, last: f64, x: f64) -> Option<usize> {
    if !(x >= first && x <= last) {
        return None;
    }
    let k = edges.len().checked_sub(1).filter(|&k| k > 0)?;
    let f = (x - first) / (last - first) * k as f64;
    // A float-to-int `as` saturates (and maps NaN to 0), which the loops below correct.
    let mut i = (f as usize).min(k - 1);
    while i > 0 && edges.get(i).is_some_and(|&e| x < e) {
        i -= 1;
    }
    while i + 1 < k && edges.get(i + 1).is_some_and(|&e| x >= e) {
        i += 1;
    }
    Some(i)
}

/// The bin of `x` for explicit edges: the last `i` with `e_i <= x < e_i+1`, the last bin
/// when `x` equals the last edge.
fn edge_bin(edges: &[f64], x: f64) -> Option<usize> {
    let (&first, &last) = (edges.first()?, edges.last()?);
    if !(x >= first && x <= last) {
        return None;
    }
    let k = edges.len().checked_sub(1).filter(|&k| k > 0)?;
    if x == last {
        return Some(k - 1);
    }
    // The number of edges <= x is at least 1 (first <= x) and at most k (x < last).
    Some(edges.partition_point(|&e| e <= x).saturating_sub(1))
}

/// The number of distinct values of a sorted slice (`-0.0 == 0.0`).
pub(crate) fn distinct_sorted(sorted: &[f64]) -> usize {
    match sorted.first() {
        None => 0,
        Some(_) => 1 + sorted.windows(2).filter(|w| w[0] != w[1]).count(),
    }
}

/// Calls `f` on every value of two sorted slices in merged ascending order. Always makes
/// progress, whatever the input (NaN or unsorted values give a meaningless order, no hang).
pub(crate) fn merge_sorted(a: &[f64], b: &[f64], mut f: impl FnMut(f64)) {
    let (mut i, mut j) = (0, 0);
    loop {
        match (a.get(i), b.get(j)) {
            (Some(&x), Some(&y)) => {
                if y < x {
                    j += 1;
                    f(y);
                } else {
                    i += 1;
                    f(x);
                }
            }
            (Some(&x), None) => {
                i += 1;
                f(x);
            }
            (None, Some(&y)) => {
                j += 1;
                f(y);
            }
            (None, None) => break,
        }
    }
}

/// Calls `f` once per distinct value of two sorted slices together, ascending (`-0.0` and
/// `0.0` are one value, as in Python).
pub(crate) fn merge_distinct(a: &[f64], b: &[f64], mut f: impl FnMut(f64)) {
    let mut last: Option<f64> = None;
    merge_sorted(a, b, |x| {
        if last != Some(x) {
            f(x);
            last = Some(x);
        }
    });
}

/// Shares of a total: `count / n` for each count, as Evidently's `count / len(side)`.
/// With `n == 0` the shares are infinite (NaN for a zero count), as numpy's division.
pub fn percents(counts: &[u64], n: u64) -> Vec<f64> {
    let n = n as f64;
    counts.iter().map(|&c| c as f64 / n).collect()
}

/// Evidently's zero filling, for one side: every share equal to zero becomes
/// `min_nonzero / 1e6` when the smallest non-zero share is at most [`EVIDENTLY_ZERO_FILL`],
/// and [`EVIDENTLY_ZERO_FILL`] otherwise. There is no renormalisation, so the shares no
/// longer sum to one (Evidently's behaviour, kept). When no share is non-zero (Evidently
/// raises) the shares are left as they are.
pub fn fill_zeros(percents: &mut [f64]) {
    // Python's `min` over the non-zero entries; NaN entries are non-zero but never the min
    // of finite ones here (a NaN share only arises from an empty side).
    let min_nonzero =
        percents
            .iter()
            .copied()
            .filter(|&p| p != 0.0)
            .fold(None, |m: Option<f64>, p| match m {
                Some(m) if m <= p => Some(m),
                _ => Some(p),
            });
    let Some(min_nonzero) = min_nonzero else {
        return;
    };
    let fill = if min_nonzero <= EVIDENTLY_ZERO_FILL {
        min_nonzero / 1e6
    } else {
        EVIDENTLY_ZERO_FILL
    };
    for p in percents.iter_mut().filter(|p| **p == 0.0) {
        *p = fill;
    }
}

/// The reference and current shares per bin, aligned.
#[derive(Clone, Debug, PartialEq)]
pub struct BinnedPercents {
    /// Reference shares, `count / n_ref`.
    pub reference: Vec<f64>,
    /// Current shares, `count / n_cur`.
    pub current: Vec<f64>,
}

/// Evidently's `get_binned_data` for a numerical column, from sorted (ascending, finite)
/// values: the bins of [`Bins::evidently`], shares `count / n_side`, and with `fill` the
/// zero filling of [`fill_zeros`] on each side (Evidently fills for `psi` and `kl_div`, not
/// for `jensenshannon`).
///
/// # Errors
///
/// As [`Bins::evidently`].
pub fn binned_percents(
    sorted_ref: &[f64],
    sorted_cur: &[f64],
    integer: bool,
    fill: bool,
) -> StatsResult<BinnedPercents> {
    let bins = Bins::evidently(sorted_ref, sorted_cur, integer)?;
    let mut reference = percents(&bins.count_sorted(sorted_ref), sorted_ref.len() as u64);
    let mut current = percents(&bins.count_sorted(sorted_cur), sorted_cur.len() as u64);
    if fill {
        fill_zeros(&mut reference);
        fill_zeros(&mut current);
    }
    Ok(BinnedPercents { reference, current })
}

/// Evidently's `get_binned_data` for a categorical column (or a numerical one binned by
/// value), from counts aligned over the union of categories in any order: shares
/// `count / total_side` and, with `fill`, [`fill_zeros`] on each side.
///
/// # Errors
///
/// [`StatsError::LengthMismatch`] when the count vectors differ in length, and
/// [`StatsError::Empty`] when a side's counts sum to zero.
pub fn category_percents(
    ref_counts: &[u64],
    cur_counts: &[u64],
    fill: bool,
) -> StatsResult<BinnedPercents> {
    check_aligned(ref_counts.len(), cur_counts.len())?;
    let (n_ref, n_cur) = (total(ref_counts), total(cur_counts));
    if n_ref == 0 || n_cur == 0 {
        return Err(StatsError::Empty);
    }
    let mut reference = percents(ref_counts, n_ref);
    let mut current = percents(cur_counts, n_cur);
    if fill {
        fill_zeros(&mut reference);
        fill_zeros(&mut current);
    }
    Ok(BinnedPercents { reference, current })
}

/// The sum of counts (saturating).
pub(crate) fn total(counts: &[u64]) -> u64 {
    counts.iter().fold(0_u64, |s, &c| s.saturating_add(c))
}

/// `Ok` when two aligned inputs have the same length.
pub(crate) fn check_aligned(left: usize, right: usize) -> StatsResult<()> {
    if left == right {
        Ok(())
    } else {
        Err(StatsError::LengthMismatch { left, right })
    }
}

/// Neumaier's compensated sum: the error does not grow with the number of terms, so long
/// sums agree with numpy's pairwise sums to a few ulps.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct CompensatedSum {
    sum: f64,
    compensation: f64,
}

impl CompensatedSum {
    /// Adds one term.
    ///
    /// The rounding error of `sum + x` comes from Knuth's branch-free TwoSum. It is exact,
    /// so it is the same number Neumaier's ordered Fast2Sum gives (`(sum − t) + x` when
    /// `|sum| >= |x|`, else `(x − t) + sum`), without the branch on the magnitudes, which
    /// is unpredictable when the terms change sign (deviations from a mean).
    #[inline]
    pub(crate) fn add(&mut self, x: f64) {
        let t = self.sum + x;
        let z = t - self.sum;
        self.compensation += (self.sum - (t - z)) + (x - z);
        self.sum = t;
    }

    /// The sum so far. Infinite or NaN terms give the plain IEEE sum.
    pub(crate) fn value(self) -> f64 {
        let v = self.sum + self.compensation;
        if v.is_finite() { v } else { self.sum }
    }
}

/// Independent [`CompensatedSum`]s in this many lanes: a single sum is a chain of four
/// dependent additions per term (about 16 cycles); four chains overlap in the processor (and
/// vectorise), which makes a long sum about as fast as reading its terms.
pub(crate) const LANES: usize = 4;

/// [`CompensatedSum`] over [`LANES`] lanes, combined at the end: term `k` goes to lane
/// `k % LANES`. The result differs from one compensated sum by rounding only (each lane's
/// error is exact, the lanes are combined compensated), a few ulps at most.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct LaneSum {
    sum: [f64; LANES],
    compensation: [f64; LANES],
}

impl LaneSum {
    /// Adds one term per lane (Knuth's TwoSum in each, as [`CompensatedSum::add`]).
    #[inline(always)]
    pub(crate) fn add_lanes(&mut self, x: [f64; LANES]) {
        for ((sum, compensation), x) in self.sum.iter_mut().zip(&mut self.compensation).zip(x) {
            let t = *sum + x;
            let z = t - *sum;
            *compensation += (*sum - (t - z)) + (x - z);
            *sum = t;
        }
    }

    /// The sum of all lanes. Infinite or NaN terms give the plain IEEE sum.
    pub(crate) fn value(self) -> f64 {
        let mut total = CompensatedSum::default();
        for s in self.sum {
            total.add(s);
        }
        total.add(self.compensation.iter().sum());
        let plain: f64 = self.sum.iter().sum();
        let v = total.value();
        if v.is_finite() { v } else { plain }
    }
}

/// The compensated sum of `term(x)` over `values`, in [`LANES`] lanes.
#[inline]
pub(crate) fn lane_sum(values: &[f64], term: impl Fn(f64) -> f64) -> f64 {
    let mut lanes = LaneSum::default();
    let chunks = values.chunks_exact(LANES);
    let rest = chunks.remainder();
    for c in chunks {
        lanes.add_lanes(std::array::from_fn(|l| term(c[l])));
    }
    let mut tail = [0.0; LANES];
    for (t, &x) in tail.iter_mut().zip(rest) {
        *t = term(x);
    }
    lanes.add_lanes(tail);
    lanes.value()
}

/// The compensated sums of `term(x)` and of `x - shift` over `values`, together in one
/// pass, in [`LANES`] lanes each (the two sums of a two-pass variance).
#[inline]
pub(crate) fn lane_sums_shifted(
    values: &[f64],
    shift: f64,
    term: impl Fn(f64) -> f64,
) -> (f64, f64) {
    let (mut terms, mut deviations) = (LaneSum::default(), LaneSum::default());
    let chunks = values.chunks_exact(LANES);
    let rest = chunks.remainder();
    for c in chunks {
        terms.add_lanes(std::array::from_fn(|l| term(c[l])));
        deviations.add_lanes(std::array::from_fn(|l| c[l] - shift));
    }
    let (mut t, mut d) = ([0.0; LANES], [0.0; LANES]);
    for ((t, d), &x) in t.iter_mut().zip(d.iter_mut()).zip(rest) {
        *t = term(x);
        *d = x - shift;
    }
    terms.add_lanes(t);
    deviations.add_lanes(d);
    (terms.value(), deviations.value())
}

/// The compensated sum of `term(a, b)` over pairs of equal-length slices, in [`LANES`]
/// lanes (the shorter length when they differ).
#[inline]
pub(crate) fn lane_sum_pairs(a: &[f64], b: &[f64], term: impl Fn(f64, f64) -> f64) -> f64 {
    let n = a.len().min(b.len());
    let (a, b) = (&a[..n], &b[..n]);
    let mut lanes = LaneSum::default();
    let (ca, cb) = (a.chunks_exact(LANES), b.chunks_exact(LANES));
    let (ra, rb) = (ca.remainder(), cb.remainder());
    for (x, y) in ca.zip(cb) {
        lanes.add_lanes(std::array::from_fn(|l| term(x[l], y[l])));
    }
    let mut tail = [0.0; LANES];
    for ((t, &x), &y) in tail.iter_mut().zip(ra).zip(rb) {
        *t = term(x, y);
    }
    lanes.add_lanes(tail);
    lanes.value()
}

impl FromIterator<f64> for CompensatedSum {
    fn from_iter<I: IntoIterator<Item = f64>>(iter: I) -> Self {
        let mut s = Self::default();
        for x in iter {
            s.add(x);
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sturges_matches_numpy_on_simple_ranges() {
        // np.histogram_bin_edges([0.]*63 + [1.], "sturges"): log2(64) + 1 = 7 bins.
        let e = sturges_edges(0.0, 1.0, 64, false).unwrap();
        assert_eq!(e.len(), 8);
        assert_eq!(e[0], 0.0);
        assert_eq!(e[7], 1.0);
        assert_eq!(e[1], 1.0 / 7.0);
        // min == max: one bin of width 1 around the value.
        assert_eq!(sturges_edges(5.0, 5.0, 10, false).unwrap(), [4.5, 5.5]);
        assert_eq!(sturges_edges(7.0, 7.0, 1, true).unwrap(), [6.5, 7.5]);
        // Integer floor: 2 values 0 and 1 -> width 0.5 floored to 1 -> one bin.
        assert_eq!(sturges_edges(0.0, 1.0, 2, true).unwrap(), [0.0, 1.0]);
        assert_eq!(sturges_edges(0.0, 1.0, 2, false).unwrap(), [0.0, 0.5, 1.0]);
    }

    #[test]
    fn sturges_errors_like_numpy() {
        assert_eq!(sturges_edges(0.0, 1.0, 0, false), Err(StatsError::Empty));
        assert_eq!(
            sturges_edges(-1.7e308, 1.7e308, 2, false),
            Err(StatsError::NonFiniteRange)
        );
        assert_eq!(
            sturges_edges(f64::NAN, 1.0, 2, false),
            Err(StatsError::NonFiniteRange)
        );
        assert_eq!(
            sturges_edges(1.0, 1.0 + 4.0 * f64::EPSILON, 2002, false),
            Err(StatsError::TooManyBins { bins: 12 })
        );
        assert!(matches!(
            sturges_edges(2.0, 1.0, 3, false),
            Err(StatsError::Invalid(_))
        ));
        // A subnormal range: the width rounds to zero, so numpy makes one bin.
        assert_eq!(sturges_edges(0.0, 5e-324, 2, false).unwrap(), [0.0, 5e-324]);
    }

    #[test]
    fn counting_agrees_sorted_unsorted_and_on_edges() {
        let bins = Bins::sturges(0.0, 1.0, 64, false).unwrap();
        let edges = bins.edges().unwrap().to_vec();
        let mut values: Vec<f64> = edges.clone();
        values.extend(edges.iter().map(|e| e + 1e-17));
        values.extend([-0.1, 1.1, 0.5, 0.999]);
        let unsorted = bins.count_unsorted(&values);
        values.sort_by(f64::total_cmp);
        assert_eq!(bins.count_sorted(&values), unsorted);
        let explicit = Bins::from_edges(edges).unwrap();
        assert_eq!(explicit.count_sorted(&values), unsorted);
        assert_eq!(explicit.count_unsorted(&values), unsorted);
        // Every edge opens its bin; the last edge closes the last bin; 2 values outside.
        assert_eq!(unsorted.iter().sum::<u64>(), values.len() as u64 - 2);
    }

    #[test]
    fn value_bins_count_by_equality() {
        let bins = Bins::distinct_union(&[-0.0, 1.0, 1.0, 3.0], &[0.0, 2.0, 3.0]);
        assert_eq!(bins.values().unwrap(), [-0.0, 1.0, 2.0, 3.0]);
        assert_eq!(bins.count_sorted(&[0.0, 0.0, 1.0, 2.5, 3.0]), [2, 1, 0, 1]);
        assert_eq!(
            bins.count_unsorted(&[3.0, 2.5, 0.0, -0.0, 1.0]),
            [2, 1, 0, 1]
        );
        assert_eq!(bins.bin_of(f64::NAN), None);
    }

    #[test]
    fn zero_fill_is_evidentlys() {
        let mut p = vec![0.5, 0.0, 0.5];
        fill_zeros(&mut p);
        assert_eq!(p, [0.5, 1e-4, 0.5]);
        let mut p = vec![0.99995, 0.0, 0.00005];
        fill_zeros(&mut p);
        assert_eq!(p, [0.99995, 0.00005 / 1e6, 0.00005]);
        let mut p = vec![0.0, 0.0];
        fill_zeros(&mut p);
        assert_eq!(p, [0.0, 0.0]);
    }

    #[test]
    fn no_panics_on_degenerate_input() {
        assert_eq!(Bins::evidently(&[], &[1.0], false), Err(StatsError::Empty));
        let nan = [f64::NAN, f64::NAN];
        let _ = Bins::evidently(&nan, &nan, false);
        let bins = Bins::distinct_union(&nan, &[1.0]);
        let _ = bins.count_sorted(&nan);
        let _ = bins.count_unsorted(&nan);
        let b = Bins::sturges(0.0, 1.0, 10, false).unwrap();
        assert_eq!(
            b.count_unsorted(&[f64::NAN, f64::INFINITY]),
            vec![0; b.n_bins()]
        );
        let _ = b.count_sorted(&nan);
        assert!(Bins::from_edges(vec![1.0]).is_err());
        assert!(Bins::from_values(vec![]).is_err());
        assert!(percents(&[0, 2], 0)[0].is_nan());
        assert!(percents(&[0, 2], 0)[1].is_infinite());
        assert_eq!(
            category_percents(&[1], &[1, 2], true),
            Err(StatsError::LengthMismatch { left: 1, right: 2 })
        );
        assert_eq!(category_percents(&[0], &[1], true), Err(StatsError::Empty));
    }

    #[test]
    fn compensated_sum_is_accurate() {
        let s: CompensatedSum = [1e16, 1.0, -1e16, 1.0].into_iter().collect();
        assert_eq!(s.value(), 2.0);
        let s: CompensatedSum = [f64::INFINITY, 1.0].into_iter().collect();
        assert_eq!(s.value(), f64::INFINITY);
    }

    #[test]
    fn lane_sums_are_accurate_and_match_one_sum() {
        // Cancellation across lanes: 1e16 and -1e16 land in different lanes.
        let cancel = [1e16, 1.0, -1e16, 1.0, 0.5];
        assert_eq!(lane_sum(&cancel, |x| x), 2.5);
        assert_eq!(lane_sum(&[], |x| x), 0.0);
        assert_eq!(
            lane_sum(&[f64::INFINITY, 1.0, 2.0, 3.0, 4.0], |x| x),
            f64::INFINITY
        );
        assert_eq!(lane_sum(&[1e200, -1e200, 1e200], |x| x * x), f64::INFINITY);
        // Against one compensated sum, over every remainder length.
        let values: Vec<f64> = (0..1004)
            .map(|i| (f64::from(i) * 0.37).sin() * 1e3 + 1e9)
            .collect();
        for n in [1, 2, 3, 4, 5, 7, 1000, 1003] {
            let v = &values[..n];
            let one: CompensatedSum = v.iter().copied().collect();
            let lanes = lane_sum(v, |x| x);
            assert!(
                (lanes - one.value()).abs() <= 4.0 * f64::EPSILON * one.value().abs(),
                "{n}"
            );
            let (sq, dev) = lane_sums_shifted(v, 1e9, |x| (x - 1e9) * (x - 1e9));
            let one_sq: CompensatedSum = v.iter().map(|x| (x - 1e9) * (x - 1e9)).collect();
            let one_dev: CompensatedSum = v.iter().map(|x| x - 1e9).collect();
            assert!((sq - one_sq.value()).abs() <= 4.0 * f64::EPSILON * one_sq.value().abs());
            assert!(
                (dev - one_dev.value()).abs() <= 1e-6,
                "{n}: {dev} vs {}",
                one_dev.value()
            );
            let pairs = lane_sum_pairs(v, &values[1..=n], |a, b| (a - b).abs());
            let one_pairs: CompensatedSum = v
                .iter()
                .zip(&values[1..=n])
                .map(|(a, b)| (a - b).abs())
                .collect();
            assert!((pairs - one_pairs.value()).abs() <= 4.0 * f64::EPSILON * one_pairs.value());
        }
    }
}
