//! The two-sample Kolmogorov–Smirnov test, two-sided, matching
//! `scipy.stats.ks_2samp(reference, current, method=...)` (scipy 1.17).
//!
//! # Statistic
//!
//! `D = max_x |F_ref(x) - F_cur(x)|` over the pooled values, with right-continuous empirical
//! CDFs (`searchsorted(side="right")`: every value equal to `x` counts), so ties within and
//! across samples are handled. It is computed by one linear merge of the two sorted slices:
//! `O(n1 + n2)` time and no allocation. Each CDF difference is formed exactly as scipy does
//! (`i / n1 - j / n2` in `f64`), so the statistic, its location and its sign are the same
//! bits as scipy's, including scipy's choice of location when several values attain `D`
//! (the smallest such value of the reference sample if there is one, otherwise of the current
//! sample) and of the sign (`+1` when `max(F_ref - F_cur) >= max(F_cur - F_ref)`).
//!
//! # p-value
//!
//! * [`KsMethod::Exact`]: the exact null distribution ([`crate::stats::ks_exact`]). The
//!   statistic is reported snapped to `h / lcm(n1, n2)`, `h = round(D lcm)`, as scipy does
//!   (`exact` reports `0.3` where `asymp` reports `0.30000000000000004`). When the exact
//!   computation is impossible (`lcm` beyond `i32`) or fails numerically, the asymptotic
//!   p-value is used instead and [`KsResult::exact_fallback`] says why (scipy warns). The
//!   numerical failure does happen, exactly when scipy's does: equal sizes with `D = 1/n`
//!   for some `n` (5, 7, 13, ...), where the exact series rounds to `1 + 2^-52`.
//! * [`KsMethod::Asymp`]: `kstwo.sf(D, round(n1 n2 / (n1 + n2)))`, the finite-`n`
//!   one-sample Kolmogorov distribution at the effective size
//!   ([`crate::stats::kolmogorov::kstwo_sf`]) — not the limiting distribution. As in scipy,
//!   1 vs 1 has effective size 0 and gives a NaN p-value.
//! * [`KsMethod::Auto`]: exact when `max(n1, n2) <= 10000`, asymptotic otherwise.
//!
//! # Inputs
//!
//! Both slices must be non-empty, finite and sorted ascending (`-0.0` and `0.0` compare
//! equal, either order is fine). [`ks_2samp`] checks this with one `O(n)` pass per slice,
//! always (it is a small fraction of the test's cost, and an unsorted input would silently
//! give a wrong statistic), and returns a [`KsError`]. [`sort_values`] (in place) and
//! [`sorted_copy`] sort in the order of `f64::total_cmp` (one thread each, by a radix sort
//! on the values' bits); [`ks_2samp_unsorted`] sorts copies of both sides (in parallel with
//! each other) and tests.
//!
//! # Cost
//!
//! Release build, 1M vs 1M values, on the (two-core) development machine: validation and
//! merge about 6 ms (14 ms before the merge below); the asymptotic p-value from
//! microseconds to 85 ms depending on `n_eff` and `n_eff d^2` (the Smirnov sum at
//! `n_eff = 500000` is the slow case, about 45 ms; see [`crate::stats::kolmogorov`]); 56 ms
//! in all for presorted input with `D = 0.0029` (p = 5e-4), 80–90 ms of CPU including both
//! sorts ([`sorted_copy`]: about 13 ms of CPU per 10^6 values, the two sides in parallel).
//! scipy 1.17 takes 0.5–0.7 s for the same call on the same data (0.39 s of it in
//! `kstwo.sf`), with bit-identical statistic, location and p-value.
//!
//! The merge is branch-free on exact integer numerators (up to `n1 n2 = 2^50`) and runs
//! four independent parts of the pooled values in one loop. One merge is a chain of
//! dependent loads and compares: neither dropping the divisions (tried before) nor dropping
//! the branches alone made it faster; with the four chains, validation, merge and p-value
//! of 1M vs 1M presorted values went from 10.5 to 6.5 ms of CPU (busy machine, same run).
//! Exact p-values cost up
//! to about 0.7 s at 10000 values per side for large `D` (see [`crate::stats::ks_exact`]).

use std::cmp::Ordering;

use crate::stats::kolmogorov::kstwo_sf;
use crate::stats::ks_exact::{ExactFailure, exact_p_value, snap_to_lattice};
use crate::stats::sort::sort_total;

/// `auto` uses the exact method when both sizes are at most this (scipy's `MAX_AUTO_N`).
pub const MAX_AUTO_EXACT_N: usize = 10_000;

/// From this many values on, [`sort_values`] sorted in parallel. Unused since sorting is a
/// one-thread radix sort (kept for compatibility).
pub const PARALLEL_SORT_MIN_LEN: usize = 1 << 16;

/// How the p-value is computed (scipy's `method` argument).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum KsMethod {
    /// Exact if `max(n1, n2) <= 10000` ([`MAX_AUTO_EXACT_N`]), asymptotic otherwise.
    #[default]
    Auto,
    /// The exact null distribution of the two-sample statistic.
    Exact,
    /// The one-sample Kolmogorov distribution at the effective size
    /// `round(n1 n2 / (n1 + n2))`.
    Asymp,
}

/// Which sample an error is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Side {
    /// The reference sample (scipy's `data1`).
    Reference,
    /// The current sample (scipy's `data2`).
    Current,
}

impl std::fmt::Display for Side {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Reference => "reference",
            Self::Current => "current",
        })
    }
}

/// Invalid input to the two-sample test.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KsError {
    /// A sample has no values.
    #[error("the {side} sample is empty")]
    EmptySample {
        /// The empty sample.
        side: Side,
    },
    /// A sample is not sorted ascending: the value at `index` is below its predecessor.
    #[error("the {side} sample is not sorted ascending (at index {index})")]
    NotSorted {
        /// The offending sample.
        side: Side,
        /// First index whose value is smaller than the previous one.
        index: usize,
    },
    /// A sample holds NaN or an infinity.
    #[error("the {side} sample holds a non-finite value (at index {index})")]
    NonFinite {
        /// The offending sample.
        side: Side,
        /// Index of a non-finite value.
        index: usize,
    },
}

/// The outcome of [`ks_2samp`], with scipy's `KstestResult` fields.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct KsResult {
    /// `D`; snapped to `h / lcm(n1, n2)` when the exact method was used (as scipy does).
    pub statistic: f64,
    /// Two-sided p-value, in `[0, 1]` (NaN only for 1 vs 1 with the asymptotic method, as in
    /// scipy).
    pub p_value: f64,
    /// The method actually used: [`KsMethod::Exact`] or [`KsMethod::Asymp`], never `Auto`.
    pub method: KsMethod,
    /// The pooled value at which `D` is attained (scipy's `statistic_location`).
    pub statistic_location: f64,
    /// `+1` if `D = max(F_ref - F_cur)`, `-1` if `D = max(F_cur - F_ref)` (scipy's
    /// `statistic_sign`).
    pub statistic_sign: i8,
    /// Set when the exact method was requested (or chosen by `auto`) but could not be used,
    /// so the asymptotic p-value was returned instead (scipy warns in that case).
    pub exact_fallback: Option<ExactFailure>,
}

/// The statistic alone: `D`, where it is attained and its sign (unsnapped).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct KsStatistic {
    /// `D = max |F_ref - F_cur|` over the pooled values.
    pub statistic: f64,
    /// The pooled value at which `D` is attained (scipy's choice among ties).
    pub location: f64,
    /// `+1` if `D = max(F_ref - F_cur)`, `-1` otherwise.
    pub sign: i8,
}

/// Two-sided two-sample Kolmogorov–Smirnov test on sorted samples, as
/// `scipy.stats.ks_2samp(reference, current, method=method)`.
///
/// `reference_sorted` and `current_sorted` must be non-empty, finite and sorted ascending;
/// this is checked in `O(n)` (see the [module docs](self)).
///
/// # Errors
///
/// [`KsError::EmptySample`], [`KsError::NonFinite`] or [`KsError::NotSorted`] for invalid
/// input. The computation itself cannot fail: an exact computation that is impossible falls
/// back to the asymptotic p-value (see [`KsResult::exact_fallback`]).
///
/// ```
/// use mlops_drift::stats::ks::{KsMethod, ks_2samp};
///
/// let reference: Vec<f64> = (0..20).map(f64::from).collect();
/// let current: Vec<f64> = (6..26).map(f64::from).collect();
/// let exact = ks_2samp(&reference, &current, KsMethod::Auto)?;
/// assert_eq!(exact.method, KsMethod::Exact);
/// assert_eq!(exact.statistic, 0.3);
/// assert!((exact.p_value - 0.335_590_981_26).abs() < 1e-9);
/// let asymp = ks_2samp(&reference, &current, KsMethod::Asymp)?;
/// assert_eq!(asymp.statistic, 0.30000000000000004);
/// assert!((asymp.p_value - 0.270_535_574_8).abs() < 1e-9);
/// # Ok::<(), mlops_drift::stats::ks::KsError>(())
/// ```
pub fn ks_2samp(
    reference_sorted: &[f64],
    current_sorted: &[f64],
    method: KsMethod,
) -> Result<KsResult, KsError> {
    validate(reference_sorted, Side::Reference)?;
    validate(current_sorted, Side::Current)?;
    Ok(ks_2samp_validated(reference_sorted, current_sorted, method))
}

/// [`ks_2samp`] on input known to be non-empty, finite and sorted.
fn ks_2samp_validated(
    reference_sorted: &[f64],
    current_sorted: &[f64],
    method: KsMethod,
) -> KsResult {
    let stat = merge_statistic(reference_sorted, current_sorted);
    let (n1, n2) = (reference_sorted.len() as u64, current_sorted.len() as u64);
    result_from_statistic(stat, n1, n2, method)
}

/// The p-value, method and (for exact) snapped statistic for a statistic computed over
/// samples of sizes `n1` and `n2`, as scipy's `ks_2samp` chooses and falls back; shared by
/// the exact path and the weighted (profile) path.
pub(crate) fn result_from_statistic(
    stat: KsStatistic,
    n1: u64,
    n2: u64,
    method: KsMethod,
) -> KsResult {
    let exact = match method {
        KsMethod::Auto => n1.max(n2) <= MAX_AUTO_EXACT_N as u64,
        KsMethod::Exact => true,
        KsMethod::Asymp => false,
    };
    let mut d = stat.statistic;
    let mut exact_fallback = None;
    if exact {
        match exact_p_value(n1, n2, d) {
            Ok(r) => {
                return KsResult {
                    statistic: r.statistic,
                    p_value: r.p_value.clamp(0.0, 1.0),
                    method: KsMethod::Exact,
                    statistic_location: stat.location,
                    statistic_sign: stat.sign,
                    exact_fallback: None,
                };
            }
            Err(failure) => {
                // Like scipy: after a failed attempt the statistic stays snapped; when the
                // attempt was not made (lcm overflow) it stays as computed.
                if failure != ExactFailure::LcmOverflow
                    && let Some((_, snapped)) = snap_to_lattice(n1, n2, d)
                {
                    d = snapped;
                }
                exact_fallback = Some(failure);
            }
        }
    }
    KsResult {
        statistic: d,
        p_value: asymp_p_value(d, n1, n2),
        method: KsMethod::Asymp,
        statistic_location: stat.location,
        statistic_sign: stat.sign,
        exact_fallback,
    }
}

/// The asymptotic two-sided p-value: `kstwo.sf(d, round(n1 n2 / (n1 + n2)))` (ties to even),
/// clipped to `[0, 1]`. NaN when the effective size rounds to 0 (1 vs 1), as in scipy.
#[must_use]
pub fn asymp_p_value(d: f64, n1: u64, n2: u64) -> f64 {
    let (m, n) = (n1.max(n2) as f64, n1.min(n2) as f64);
    let n_eff = (m * n / (m + n)).round_ties_even();
    // A NaN (0 vs 0) or huge value saturates; kstwo_sf(d, 0) is NaN.
    kstwo_sf(d, n_eff as u64).clamp(0.0, 1.0)
}

/// The two-sample statistic alone, by a linear merge of the sorted samples (see the
/// [module docs](self)); validates the input like [`ks_2samp`].
///
/// # Errors
///
/// As [`ks_2samp`].
pub fn ks_statistic(
    reference_sorted: &[f64],
    current_sorted: &[f64],
) -> Result<KsStatistic, KsError> {
    validate(reference_sorted, Side::Reference)?;
    validate(current_sorted, Side::Current)?;
    Ok(merge_statistic(reference_sorted, current_sorted))
}

/// Sorts both samples (copies) and runs [`ks_2samp`]; the two sorts run in parallel.
///
/// # Errors
///
/// [`KsError::EmptySample`] or [`KsError::NonFinite`] (NaN and infinities sort to the
/// ends and are reported there).
pub fn ks_2samp_unsorted(
    reference: &[f64],
    current: &[f64],
    method: KsMethod,
) -> Result<KsResult, KsError> {
    let (reference, current) = rayon::join(|| sorted_copy(reference), || sorted_copy(current));
    // Sorted in the order of `total_cmp`, NaNs and infinities are at the ends: checking the
    // ends replaces the validation pass of `ks_2samp` (and reports the index it would).
    for (values, side) in [(&reference, Side::Reference), (&current, Side::Current)] {
        let (Some(&first), Some(&last)) = (values.first(), values.last()) else {
            return Err(KsError::EmptySample { side });
        };
        let last_index = values.len() - 1;
        let bad = if first.is_nan() {
            Some(0)
        } else if last.is_nan() {
            Some(last_index)
        } else if !first.is_finite() {
            Some(0)
        } else if !last.is_finite() {
            Some(last_index)
        } else {
            None
        };
        if let Some(index) = bad {
            return Err(KsError::NonFinite { side, index });
        }
    }
    Ok(ks_2samp_validated(&reference, &current, method))
}

/// Sorts values ascending with `f64::total_cmp` (`-0.0` before `0.0`, NaNs at the ends),
/// unstably: on one thread, by a radix sort on the values' bits (faster in CPU time, and on
/// two cores also in wall time, than the parallel comparison sort used before).
pub fn sort_values(values: &mut [f64]) {
    sort_total(values);
}

/// A sorted copy of `values`, in the order of `f64::total_cmp` (as [`sort_values`]): the
/// first radix pass writes straight into the copy.
#[must_use]
pub fn sorted_copy(values: &[f64]) -> Vec<f64> {
    crate::stats::sort::sorted_copy(values)
}

/// Checks that a sample is non-empty, finite and sorted ascending, in one pass.
fn validate(values: &[f64], side: Side) -> Result<(), KsError> {
    const BLOCK: usize = 4096;
    let (Some(&first), Some(&last)) = (values.first(), values.last()) else {
        return Err(KsError::EmptySample { side });
    };
    // Blocks of branch-free comparisons (`a <= b` is false for NaN too), then locate.
    let pairs = values.len() - 1;
    let mut start = 0;
    while start < pairs {
        let end = (start + BLOCK).min(pairs);
        let block = &values[start..=end];
        let ordered = block
            .iter()
            .zip(&block[1..])
            .fold(true, |ok, (a, b)| ok & (a <= b));
        if !ordered {
            let offset = block
                .iter()
                .zip(&block[1..])
                .position(|(a, b)| a.partial_cmp(b).is_none_or(|o| o == Ordering::Greater))
                .unwrap_or(0);
            let (i, j) = (start + offset, start + offset + 1);
            return Err(if values[i].is_nan() {
                KsError::NonFinite { side, index: i }
            } else if values[j].is_nan() {
                KsError::NonFinite { side, index: j }
            } else {
                KsError::NotSorted { side, index: j }
            });
        }
        start = end;
    }
    // Sorted and NaN-free: all finite iff both ends are.
    if !first.is_finite() {
        return Err(KsError::NonFinite { side, index: 0 });
    }
    if !last.is_finite() {
        return Err(KsError::NonFinite {
            side,
            index: values.len() - 1,
        });
    }
    Ok(())
}

/// Running extremes of `F_ref - F_cur` over the distinct values present in one sample, with
/// the first (smallest) value attaining each.
struct Extremes {
    max: f64,
    max_at: f64,
    min: f64,
    min_at: f64,
}

impl Extremes {
    fn new() -> Self {
        Self {
            max: f64::NEG_INFINITY,
            max_at: f64::NAN,
            min: f64::INFINITY,
            min_at: f64::NAN,
        }
    }

    #[inline]
    fn update(&mut self, diff: f64, at: f64) {
        if diff > self.max {
            self.max = diff;
            self.max_at = at;
        }
        if diff < self.min {
            self.min = diff;
            self.min_at = at;
        }
    }
}

/// The statistic by a linear merge. scipy evaluates `cdf1 - cdf2` at every element of
/// `concat(ref, cur)` and takes the first arg-max and arg-min: so among the values attaining
/// an extreme, a value of the reference sample wins over one of the current sample, and the
/// smallest wins within a sample. Tracking the extremes separately per sample reproduces
/// that choice.
///
/// Up to `n1 n2 = 2^50` the merge is [`merge_statistic_exact`], branch-free on exact integer
/// numerators; beyond, [`merge_statistic_float`] forms every difference in `f64`.
fn merge_statistic(a: &[f64], b: &[f64]) -> KsStatistic {
    match (a.len() as u64).checked_mul(b.len() as u64) {
        Some(product) if product <= EXACT_NUMERATOR_MAX_PRODUCT => merge_statistic_exact(a, b),
        _ => merge_statistic_float(a, b),
    }
}

/// [`merge_statistic`] with every difference formed in `f64` at every distinct value.
fn merge_statistic_float(a: &[f64], b: &[f64]) -> KsStatistic {
    let (n1, n2) = (a.len() as f64, b.len() as f64);
    let (mut i, mut j) = (0usize, 0usize);
    let mut in_a = Extremes::new();
    let mut in_b = Extremes::new();
    loop {
        let v = match (a.get(i), b.get(j)) {
            (Some(&x), Some(&y)) => {
                if x <= y {
                    x
                } else {
                    y
                }
            }
            (Some(&x), None) => x,
            (None, Some(&y)) => y,
            (None, None) => break,
        };
        let i0 = i;
        while i < a.len() && a[i] <= v {
            i += 1;
        }
        let j0 = j;
        while j < b.len() && b[j] <= v {
            j += 1;
        }
        let diff = i as f64 / n1 - j as f64 / n2;
        if i > i0 {
            in_a.update(diff, v);
        }
        if j > j0 {
            in_b.update(diff, v);
        }
    }
    statistic_from_extremes(&in_a, &in_b)
}

/// scipy's choice of `D`, location and sign from the extremes over each sample's values.
fn statistic_from_extremes(in_a: &Extremes, in_b: &Extremes) -> KsStatistic {
    let (max_s, max_at) = if in_a.max >= in_b.max {
        (in_a.max, in_a.max_at)
    } else {
        (in_b.max, in_b.max_at)
    };
    let (min_d, min_at) = if in_a.min <= in_b.min {
        (in_a.min, in_a.min_at)
    } else {
        (in_b.min, in_b.min_at)
    };
    let min_s = (-min_d).clamp(0.0, 1.0);
    if min_s > max_s {
        KsStatistic {
            statistic: min_s,
            location: min_at,
            sign: -1,
        }
    } else {
        KsStatistic {
            statistic: max_s,
            location: max_at,
            sign: 1,
        }
    }
}

/// Largest `n1 n2` for [`merge_statistic_exact`]. `F_ref - F_cur` at counts `(i, j)` is
/// `(i n2 - j n1) / (n1 n2)` exactly, and scipy's `f64` form `i / n1 - j / n2` is within
/// `3 * 2^-53` of it (three roundings of numbers at most 1). Two different numerators are
/// at least `1 / (n1 n2) >= 2^-50 = 8 * 2^-53` apart, more than the `6 * 2^-53` the two
/// roundings can close: below this bound, ordering by the integer numerator is ordering by
/// scipy's `f64` differences, except that equal numerators can round differently.
const EXACT_NUMERATOR_MAX_PRODUCT: u64 = 1 << 50;

/// Extremes of the difference at the values of one sample, keyed by the exact integer
/// numerator `i n2 - j n1`; among equal numerators the `f64` differences (scipy's, which
/// may differ in the last bit) decide, so the result is that of [`Extremes::update`].
struct ExactExtremes {
    max_num: i64,
    min_num: i64,
    float: Extremes,
}

impl ExactExtremes {
    fn new() -> Self {
        Self {
            max_num: i64::MIN,
            min_num: i64::MAX,
            float: Extremes::new(),
        }
    }

    /// Whether `num` may change an extreme (ties included): cheap, branch-free.
    #[inline(always)]
    fn may_change(&self, num: i64) -> bool {
        (num >= self.max_num) | (num <= self.min_num)
    }

    /// Takes the extremes of a later part of the values (earlier extremes win ties).
    fn combine(&mut self, later: &Self) {
        if later.max_num > i64::MIN {
            self.record_max(later.max_num, later.float.max, later.float.max_at);
        }
        if later.min_num < i64::MAX {
            self.record_min(later.min_num, later.float.min, later.float.min_at);
        }
    }

    fn record(&mut self, num: i64, diff: f64, at: f64) {
        self.record_max(num, diff, at);
        self.record_min(num, diff, at);
    }

    fn record_max(&mut self, num: i64, diff: f64, at: f64) {
        if num > self.max_num || (num == self.max_num && diff > self.float.max) {
            self.max_num = num;
            self.float.max = diff;
            self.float.max_at = at;
        }
    }

    fn record_min(&mut self, num: i64, diff: f64, at: f64) {
        if num < self.min_num || (num == self.min_num && diff < self.float.min) {
            self.min_num = num;
            self.float.min = diff;
            self.float.min_at = at;
        }
    }
}

/// The state of the branch-free merge of [`merge_statistic_exact`]: the counts taken from
/// each sample, the first value of the current run of equal values (a "group", closed when a
/// larger value comes) and which samples it holds.
struct ExactMerge {
    n1: i64,
    n2: i64,
    n1f: f64,
    n2f: f64,
    i: usize,
    j: usize,
    i_end: usize,
    j_end: usize,
    group: f64,
    group_a: bool,
    group_b: bool,
    in_a: ExactExtremes,
    in_b: ExactExtremes,
}

impl ExactMerge {
    fn new(n1: usize, n2: usize) -> Self {
        Self {
            n1: n1 as i64,
            n2: n2 as i64,
            n1f: n1 as f64,
            n2f: n2 as f64,
            i: 0,
            j: 0,
            i_end: n1,
            j_end: n2,
            group: f64::NEG_INFINITY,
            group_a: false,
            group_b: false,
            in_a: ExactExtremes::new(),
            in_b: ExactExtremes::new(),
        }
    }

    /// The values left to take.
    fn left(&self) -> usize {
        (self.i_end - self.i) + (self.j_end - self.j)
    }

    /// Takes `value` from the reference sample (`from_a`) or the current one. The only
    /// data-dependent branch is the rare one into [`Self::record`].
    #[inline(always)]
    fn take(&mut self, value: f64, from_a: bool) {
        // The previous group ends when a larger value comes (the first value closes the
        // empty group of -inf, which holds no sample).
        let closed = value > self.group;
        let num = self.i as i64 * self.n2 - self.j as i64 * self.n1;
        let hit = closed
            & ((self.group_a & self.in_a.may_change(num))
                | (self.group_b & self.in_b.may_change(num)));
        if hit {
            self.record(num);
        }
        self.group_a = (self.group_a & !closed) | from_a;
        self.group_b = (self.group_b & !closed) | !from_a;
        self.i += usize::from(from_a);
        self.j += usize::from(!from_a);
        // A group is located at its first value (scipy's first index: the sign of a zero).
        self.group = if closed { value } else { self.group };
    }

    /// The current group closes at counts `(i, j)`.
    #[cold]
    #[inline(never)]
    fn record(&mut self, num: i64) {
        let diff = self.i as f64 / self.n1f - self.j as f64 / self.n2f;
        if self.group_a {
            self.in_a.record(num, diff, self.group);
        }
        if self.group_b {
            self.in_b.record(num, diff, self.group);
        }
    }
}

/// Independent merges interleaved by [`merge_statistic_exact`]: each step of one merge
/// waits for the comparison of the previous step (a chain of a load, a compare and an
/// add), so several chains in one loop run in parallel in the processor.
const CHAINS: usize = 4;

/// [`merge_statistic`] for `n1 n2 <= 2^50` (see [`EXACT_NUMERATOR_MAX_PRODUCT`]): one step
/// per value, without data-dependent branches (the next value's sample is a comparison
/// turned into an index increment), tracking the exact numerator `i n2 - j n1` and forming
/// scipy's `f64` difference only where an extreme may change. The order of values equal as
/// `f64` (`-0.0` and `0.0`) does not matter: only complete groups are evaluated.
///
/// The pooled values are cut at [`CHAINS`] - 1 values of the reference sample (its
/// quantiles; each cut after every value equal to it, so that no group straddles two
/// parts), and the parts are merged together in one loop, then combined in order: the
/// first extreme of the earliest part wins, as in one merge.
fn merge_statistic_exact(a: &[f64], b: &[f64]) -> KsStatistic {
    let (n1, n2) = (a.len(), b.len());
    // Part k covers a[bounds[k].0..bounds[k + 1].0] and b[bounds[k].1..bounds[k + 1].1].
    let mut bounds = [(0, 0); CHAINS + 1];
    bounds[CHAINS] = (n1, n2);
    for (k, bound) in bounds.iter_mut().enumerate().take(CHAINS).skip(1) {
        let cut = a[(k * n1 / CHAINS).max(1) - 1];
        *bound = (
            a.partition_point(|&v| v <= cut),
            b.partition_point(|&v| v <= cut),
        );
    }
    let mut parts: [ExactMerge; CHAINS] = std::array::from_fn(|k| {
        let mut m = ExactMerge::new(n1, n2);
        (m.i, m.j) = bounds[k];
        (m.i_end, m.j_end) = bounds[k + 1];
        m
    });
    // All parts together while every one has values left, then each to its end.
    let common = parts.iter().map(ExactMerge::left).min().unwrap_or(0);
    for _ in 0..common {
        for m in &mut parts {
            let x = if m.i < m.i_end { a[m.i] } else { f64::INFINITY };
            let y = if m.j < m.j_end { b[m.j] } else { f64::INFINITY };
            let from_a = x <= y;
            m.take(if from_a { x } else { y }, from_a);
        }
    }
    let mut in_a = ExactExtremes::new();
    let mut in_b = ExactExtremes::new();
    for mut m in parts {
        while m.i < m.i_end && m.j < m.j_end {
            let (x, y) = (a[m.i], b[m.j]);
            let from_a = x <= y;
            m.take(if from_a { x } else { y }, from_a);
        }
        while m.i < m.i_end {
            m.take(a[m.i], true);
        }
        while m.j < m.j_end {
            m.take(b[m.j], false);
        }
        // Close the last group.
        m.take(f64::INFINITY, true);
        in_a.combine(&m.in_a);
        in_b.combine(&m.in_b);
    }
    statistic_from_extremes(&in_a.float, &in_b.float)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// scipy's definition, literally: searchsorted at every pooled value, first arg-extremes.
    fn naive(a: &[f64], b: &[f64]) -> KsStatistic {
        let all: Vec<f64> = a.iter().chain(b).copied().collect();
        let cdf = |s: &[f64], x: f64| s.partition_point(|&v| v <= x) as f64 / s.len() as f64;
        let diffs: Vec<f64> = all.iter().map(|&x| cdf(a, x) - cdf(b, x)).collect();
        let (mut amax, mut amin) = (0, 0);
        for (k, &d) in diffs.iter().enumerate() {
            if d > diffs[amax] {
                amax = k;
            }
            if d < diffs[amin] {
                amin = k;
            }
        }
        let min_s = (-diffs[amin]).clamp(0.0, 1.0);
        if min_s > diffs[amax] {
            KsStatistic {
                statistic: min_s,
                location: all[amin],
                sign: -1,
            }
        } else {
            KsStatistic {
                statistic: diffs[amax],
                location: all[amax],
                sign: 1,
            }
        }
    }

    #[test]
    fn merge_matches_the_definition_with_ties() {
        let cases: [(&[f64], &[f64]); 7] = [
            (&[1.0], &[1.0]),
            (&[1.0], &[2.0]),
            (&[2.0], &[1.0]),
            (&[0.0, 0.0, 1.0, 2.0, 2.0, 3.0], &[0.0, 1.0, 1.0, 1.0, 3.0]),
            (&[1.0, 2.0, 3.0], &[1.0, 2.0, 3.0]),
            (&[5.0; 4], &[5.0; 9]),
            (&[-1.0, 0.5, 0.5, 4.0], &[0.5, 0.5, 0.5, 7.0, 8.0]),
        ];
        for (a, b) in cases {
            assert_eq!(merge_statistic(a, b), naive(a, b), "{a:?} vs {b:?}");
            assert_eq!(merge_statistic(b, a).statistic, naive(a, b).statistic);
        }
    }

    #[test]
    fn merge_matches_the_definition_on_pseudo_random_ties() {
        let mut state = 12_345u64;
        let mut next = move || {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1);
            (state >> 33) % 7
        };
        for round in 0..200 {
            let n1 = 1 + (round % 13);
            let n2 = 1 + (round % 7) * 3;
            let mut a: Vec<f64> = (0..n1).map(|_| next() as f64).collect();
            let mut b: Vec<f64> = (0..n2)
                .map(|_| next() as f64 + 0.5 * (next() % 2) as f64)
                .collect();
            sort_values(&mut a);
            sort_values(&mut b);
            assert_eq!(merge_statistic(&a, &b), naive(&a, &b), "{a:?} vs {b:?}");
        }
    }

    #[test]
    fn exact_merge_matches_the_float_merge() {
        // splitmix64
        let mut state = 99u64;
        let mut next = move || {
            state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = state;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^ (z >> 31)
        };
        let bits = |s: KsStatistic| (s.statistic.to_bits(), s.location.to_bits(), s.sign);
        for round in 0..60_u64 {
            let n1 = 1 + (next() % [3, 50, 3000, 40_000][(round % 4) as usize]) as usize;
            let n2 = 1 + (next() % [7, 900, 10_000, 25_000][(round / 4 % 4) as usize]) as usize;
            // Continuous values, values with many ties (signed zeros among them), and a
            // shifted side.
            let distinct = [u64::MAX, 9, 1000][(round % 3) as usize];
            let shift = [0.0, 0.5, 3.0][(round / 3 % 3) as usize];
            let mut draw = |offset: f64| {
                let r = next();
                if distinct == u64::MAX {
                    (r >> 11) as f64 / (1_u64 << 53) as f64 + offset
                } else {
                    let v = (r % distinct) as f64 - (distinct / 2) as f64 + offset.round();
                    if v == 0.0 && r & (1 << 40) != 0 {
                        -0.0
                    } else {
                        v
                    }
                }
            };
            let mut a: Vec<f64> = (0..n1).map(|_| draw(0.0)).collect();
            let mut b: Vec<f64> = (0..n2).map(|_| draw(shift)).collect();
            sort_values(&mut a);
            sort_values(&mut b);
            assert_eq!(
                bits(merge_statistic_exact(&a, &b)),
                bits(merge_statistic_float(&a, &b)),
                "round {round}: {n1} vs {n2}"
            );
            assert_eq!(
                bits(merge_statistic_exact(&b, &a)),
                bits(merge_statistic_float(&b, &a)),
                "round {round}: {n2} vs {n1}"
            );
        }
        // Signed zeros in either order within a sample.
        let (a, b) = ([-1.0, 0.0, -0.0, 0.0, 2.0], [-0.0, -0.0, 0.0, 1.0]);
        assert_eq!(
            bits(merge_statistic_exact(&a, &b)),
            bits(merge_statistic_float(&a, &b))
        );
        assert_eq!(
            bits(merge_statistic_exact(&b, &a)),
            bits(merge_statistic_float(&b, &a))
        );
    }

    #[test]
    fn sorted_copy_is_total_cmp_order() {
        let mut values = vec![
            3.5,
            -0.0,
            0.0,
            f64::NAN,
            -f64::NAN,
            f64::INFINITY,
            f64::NEG_INFINITY,
            -1e-310,
            1e-310,
            -2.0,
            2.0,
            f64::MIN,
            f64::MAX,
        ];
        let mut state = 7u64;
        for _ in 0..70_000 {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1);
            values.push(f64::from_bits(state) % 1e6);
        }
        let copy = sorted_copy(&values);
        sort_values(&mut values);
        assert_eq!(copy.len(), values.len());
        for (a, b) in copy.iter().zip(&values) {
            assert_eq!(a.to_bits(), b.to_bits());
        }
    }

    #[test]
    fn validation_errors() {
        let ok = [1.0, 2.0];
        assert_eq!(
            ks_2samp(&[], &ok, KsMethod::Auto),
            Err(KsError::EmptySample {
                side: Side::Reference
            })
        );
        assert_eq!(
            ks_2samp(&ok, &[], KsMethod::Auto),
            Err(KsError::EmptySample {
                side: Side::Current
            })
        );
        assert_eq!(
            ks_2samp(&[1.0, 3.0, 2.0], &ok, KsMethod::Auto),
            Err(KsError::NotSorted {
                side: Side::Reference,
                index: 2
            })
        );
        assert_eq!(
            ks_2samp(&ok, &[1.0, f64::NAN, 2.0], KsMethod::Auto),
            Err(KsError::NonFinite {
                side: Side::Current,
                index: 1
            })
        );
        assert_eq!(
            ks_2samp(&ok, &[f64::NEG_INFINITY, 2.0], KsMethod::Auto),
            Err(KsError::NonFinite {
                side: Side::Current,
                index: 0
            })
        );
        assert_eq!(
            ks_2samp(&[f64::NAN], &ok, KsMethod::Auto),
            Err(KsError::NonFinite {
                side: Side::Reference,
                index: 0
            })
        );
        let mut long: Vec<f64> = (0..10_000).map(f64::from).collect();
        long[9_000] = -1.0;
        assert_eq!(
            ks_2samp(&long, &ok, KsMethod::Auto),
            Err(KsError::NotSorted {
                side: Side::Reference,
                index: 9_000
            })
        );
        long[9_000] = f64::INFINITY;
        assert_eq!(
            ks_2samp(&long, &ok, KsMethod::Auto),
            Err(KsError::NotSorted {
                side: Side::Reference,
                index: 9_001
            })
        );
        // Signed zeros compare equal: either order is sorted.
        assert!(ks_2samp(&[0.0, -0.0, 1.0], &[-0.0, 0.0], KsMethod::Auto).is_ok());
        let unsorted = ks_2samp_unsorted(&[f64::NAN, 1.0], &ok, KsMethod::Auto);
        assert!(matches!(unsorted, Err(KsError::NonFinite { .. })));
        // The same errors as validating the sorted copies.
        let cases: [&[f64]; 6] = [
            &[f64::NEG_INFINITY, 1.0, f64::NAN],
            &[-f64::NAN, 2.0, f64::INFINITY],
            &[3.0, f64::INFINITY, 1.0],
            &[f64::NEG_INFINITY, 0.0],
            &[f64::NAN],
            &[],
        ];
        for values in cases {
            let sorted = sorted_copy(values);
            assert_eq!(
                ks_2samp_unsorted(values, &ok, KsMethod::Auto),
                ks_2samp(&sorted, &ok, KsMethod::Auto),
                "{values:?}"
            );
            assert_eq!(
                ks_2samp_unsorted(&ok, values, KsMethod::Auto),
                ks_2samp(&ok, &sorted, KsMethod::Auto),
                "{values:?}"
            );
        }
    }

    #[test]
    fn lcm_overflow_falls_back_to_asymp_unsnapped() {
        let a: Vec<f64> = (0..50_000).map(|k| f64::from(k) * 2.0).collect();
        let b: Vec<f64> = (0..49_999).map(|k| f64::from(k) * 2.0 + 1.0).collect();
        let r = ks_2samp(&a, &b, KsMethod::Exact).unwrap();
        assert_eq!(r.method, KsMethod::Asymp);
        assert_eq!(r.exact_fallback, Some(ExactFailure::LcmOverflow));
        let asymp = ks_2samp(&a, &b, KsMethod::Asymp).unwrap();
        assert_eq!((r.statistic, r.p_value), (asymp.statistic, asymp.p_value));
        assert_eq!(asymp.exact_fallback, None);
    }
}
