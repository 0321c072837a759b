//! The statistics against a *weighted* reference: distinct values with counts, either the
//! exact value counts of a profile or the retained values of a KLL sketch with their
//! weights. The current side is always the exact sorted sample.
//!
//! Each function mirrors its exact counterpart in [`crate::stats`] operation by operation
//! (the same merge over pooled distinct values, the same `i / n` fractions, the same
//! compensated sums), so a weighted sample built from exact value counts gives the same
//! bits as the expanded sorted sample; built from a sketch it gives the sketch's answer.

use crate::stats::binning::{Bins, CompensatedSum, merge_distinct};
use crate::stats::ks::{KsMethod, KsResult, KsStatistic};
use crate::stats::psi::{QUANTILE_BINS, QUANTILES};

/// Distinct values, ascending, with cumulative counts.
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct WeightedSample {
    values: Vec<f64>,
    /// `cum[i]`: the total count of values `<= values[i]`.
    cum: Vec<u64>,
}

impl WeightedSample {
    /// From `(value, count)` pairs sorted ascending by value; equal values (`-0.0 == 0.0`)
    /// are joined and zero counts skipped.
    pub(crate) fn from_counts(pairs: &[(f64, u64)]) -> Self {
        let mut sample = Self::default();
        let mut total = 0_u64;
        for &(x, count) in pairs {
            if count == 0 {
                continue;
            }
            total = total.saturating_add(count);
            match (sample.values.last(), sample.cum.last_mut()) {
                (Some(&last), Some(cum)) if last == x => *cum = total,
                _ => {
                    sample.values.push(x);
                    sample.cum.push(total);
                }
            }
        }
        sample
    }

    /// The total count.
    pub(crate) fn n(&self) -> u64 {
        self.cum.last().copied().unwrap_or(0)
    }

    /// The largest count of one distinct value.
    pub(crate) fn max_weight(&self) -> u64 {
        let mut below = 0;
        let mut most = 0;
        for &c in &self.cum {
            most = most.max(c.saturating_sub(below));
            below = c;
        }
        most
    }

    /// The distinct values, ascending.
    pub(crate) fn values(&self) -> &[f64] {
        &self.values
    }

    /// The count of values before distinct value `i` (`i` may be `len`).
    fn before(&self, i: usize) -> u64 {
        match i.checked_sub(1) {
            Some(j) => self.cum.get(j).copied().unwrap_or(0),
            None => 0,
        }
    }

    /// The count of values `<= x`.
    pub(crate) fn count_le(&self, x: f64) -> u64 {
        self.before(self.values.partition_point(|&v| v <= x))
    }

    /// The count of values `< x`.
    pub(crate) fn count_lt(&self, x: f64) -> u64 {
        self.before(self.values.partition_point(|&v| v < x))
    }

    /// The count of values equal to `x`.
    pub(crate) fn count_eq(&self, x: f64) -> u64 {
        self.count_le(x) - self.count_lt(x)
    }

    /// The value at 0-based position `k` of the expanded sorted sample.
    pub(crate) fn value_at(&self, k: u64) -> Option<f64> {
        self.values
            .get(self.cum.partition_point(|&c| c <= k))
            .copied()
    }
}

/// Running extremes of `F_ref − F_cur`, as in [`crate::stats::ks`].
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

/// The two-sample KS statistic, with scipy's location and sign rules (see
/// [`crate::stats::ks::ks_statistic`]); both sides non-empty.
pub(crate) fn ks_statistic(a: &WeightedSample, b: &[f64]) -> KsStatistic {
    let (n1, n2) = (a.n() as f64, b.len() as f64);
    let (mut i, mut j) = (0_usize, 0_usize);
    let mut in_a = Extremes::new();
    let mut in_b = Extremes::new();
    loop {
        let v = match (a.values.get(i), b.get(j)) {
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
        while a.values.get(i).is_some_and(|&x| x <= v) {
            i += 1;
        }
        let j0 = j;
        while b.get(j).is_some_and(|&y| y <= v) {
            j += 1;
        }
        let diff = a.before(i) as f64 / n1 - j as f64 / n2;
        if i > i0 {
            in_a.update(diff, v);
        }
        if j > j0 {
            in_b.update(diff, v);
        }
    }
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

/// The p-value of a KS statistic for sizes `n1` and `n2`, chosen and computed as
/// [`crate::stats::ks::ks_2samp`] does.
pub(crate) fn ks_result(stat: KsStatistic, n1: u64, n2: u64, method: KsMethod) -> KsResult {
    crate::stats::ks::result_from_statistic(stat, n1, n2, method)
}

/// Walks the pooled distinct values `x < y` of both sides, calling `f(U(x), V(x), y − x)`
/// with the right-continuous CDFs, as [`crate::stats::wasserstein`] does.
fn for_each_cdf_gap(u: &WeightedSample, v: &[f64], mut f: impl FnMut(f64, f64, f64)) {
    let (nu, nv) = (u.n() as f64, v.len() as f64);
    for_each_count_gap(u, v, |cu, cv, delta| {
        f(cu as f64 / nu, cv as f64 / nv, delta);
    });
}

/// [`for_each_cdf_gap`] with the counts `#{u <= x}` and `#{v <= x}` instead of the CDFs.
fn for_each_count_gap(u: &WeightedSample, v: &[f64], mut f: impl FnMut(u64, u64, f64)) {
    let (mut i, mut j) = (0_usize, 0_usize);
    loop {
        let x = match (u.values.get(i), v.get(j)) {
            (Some(&a), Some(&b)) => {
                if b < a {
                    j += 1;
                    b
                } else {
                    i += 1;
                    a
                }
            }
            (Some(&a), None) => {
                i += 1;
                a
            }
            (None, Some(&b)) => {
                j += 1;
                b
            }
            (None, None) => return,
        };
        while u.values.get(i).is_some_and(|&a| a <= x) {
            i += 1;
        }
        while v.get(j).is_some_and(|&b| b <= x) {
            j += 1;
        }
        let next = match (u.values.get(i), v.get(j)) {
            (Some(&a), Some(&b)) => {
                if b < a {
                    b
                } else {
                    a
                }
            }
            (Some(&a), None) => a,
            (None, Some(&b)) => b,
            (None, None) => return,
        };
        f(u.before(i), j as u64, next - x);
    }
}

/// `scipy.stats.wasserstein_distance` between the weighted and the sorted sample, with the
/// bits of [`crate::stats::wasserstein::wasserstein_distance`] on the expanded sample. For
/// equal sizes, the same order-statistic differences; otherwise the same terms `|#u·n_v − #v·n_u| · (y − x)` (exact integers), summed in the same order
/// (the raw merge's extra terms for tied values are zeros, which leave a compensated sum
/// unchanged), divided once by `n_u·n_v`; the division form when that overflows `i64`.
pub(crate) fn wasserstein_distance(u: &WeightedSample, v: &[f64]) -> f64 {
    let mut sum = CompensatedSum::default();
    if u.n() == v.len() as u64 {
        // Equal sizes: `Σ |u_(i) − v_(i)| / n` as the raw samples, term by term.
        let mut k = 0;
        for (i, &b) in (0_u64..).zip(v) {
            while u.cum.get(k).is_some_and(|&c| c <= i) {
                k += 1;
            }
            let a = u.values.get(k).copied().unwrap_or(f64::NAN);
            sum.add((a - b).abs());
        }
        return sum.value() / v.len() as f64;
    }
    let sizes = (i64::try_from(u.n()), i64::try_from(v.len()));
    if let (Ok(nu), Ok(nv)) = sizes
        && nu.checked_mul(nv).is_some()
    {
        let (nu, nv) = (i128::from(nu), i128::from(nv));
        for_each_count_gap(u, v, |cu, cv, delta| {
            let numerator = i128::from(cu) * nv - i128::from(cv) * nu;
            sum.add(numerator.unsigned_abs() as f64 * delta);
        });
        return sum.value() / (nu as f64 * nv as f64);
    }
    for_each_cdf_gap(u, v, |a, b, delta| sum.add((a - b).abs() * delta));
    sum.value()
}

/// `scipy.stats.energy_distance` between the weighted and the sorted sample.
pub(crate) fn energy_distance(u: &WeightedSample, v: &[f64]) -> f64 {
    let mut sum = CompensatedSum::default();
    for_each_cdf_gap(u, v, |a, b, delta| {
        let d = a - b;
        sum.add(d * d * delta);
    });
    std::f64::consts::SQRT_2 * sum.value().sqrt()
}

/// Counts per bin of `edges`, with numpy's rule (`[e_i, e_i+1)`, the last bin closed), as
/// [`Bins::count_sorted`].
pub(crate) fn edge_counts(w: &WeightedSample, edges: &[f64]) -> Vec<u64> {
    let k = edges.len().saturating_sub(1);
    let mut counts = Vec::with_capacity(k);
    let mut below = edges.first().map_or(0, |&e| w.count_lt(e));
    for (i, &e) in edges.iter().enumerate().skip(1) {
        let upto = if i == k { w.count_le(e) } else { w.count_lt(e) };
        counts.push(upto.saturating_sub(below));
        below = upto;
    }
    counts
}

/// The sketch's CDF made continuous, for binning: each retained value's weight spread
/// evenly around it, that is the CDF interpolated linearly through the knots
/// `(x_i, (c_i−1 + c_i) / 2n)` (the middle of each value's step), anchored at the exact
/// `(min, 0)` and `(max, 1)`. It differs from the step function by at most half a retained
/// weight; unlike the step, it leaves some mass in the bins between the last retained
/// values and the exact extremes, which the log-ratio divergences (PSI, KL) punish hard
/// when empty. Measured at one million values it is much closer to the exact bin shares on
/// heavy tails (see `docs/DRIFT-PROFILE.md`); it does not help the CDF integrals, whose
/// error is the sketch's own.
#[derive(Clone, Debug)]
pub(crate) struct Interpolated {
    /// Strictly increasing.
    xs: Vec<f64>,
    /// Non-decreasing, from 0 to `n`.
    ys: Vec<f64>,
    n: f64,
}

impl Interpolated {
    pub(crate) fn new(w: &WeightedSample, min: f64, max: f64) -> Self {
        let n = w.n() as f64;
        let mut xs = vec![min];
        let mut ys = vec![0.0];
        for (j, &x) in w.values.iter().enumerate() {
            if x > min && x < max {
                xs.push(x);
                ys.push((w.before(j) + w.cum.get(j).copied().unwrap_or(0)) as f64 / 2.0);
            }
        }
        if max > min {
            xs.push(max);
            ys.push(n);
        }
        Self { xs, ys, n }
    }

    /// The count of values below `x`, interpolated.
    pub(crate) fn count_below(&self, x: f64) -> f64 {
        let i = self.xs.partition_point(|&k| k <= x);
        let (Some(j), Some(&x1), Some(&y1)) = (i.checked_sub(1), self.xs.get(i), self.ys.get(i))
        else {
            // Below the minimum: none; at or above the maximum: all.
            return if i == 0 { 0.0 } else { self.n };
        };
        let (x0, y0) = (self.xs[j], self.ys[j]);
        if x1 <= x0 {
            return y1;
        }
        (y0 + (y1 - y0) * (x - x0) / (x1 - x0)).clamp(0.0, self.n)
    }
}

/// Counts per bin of `edges` from the [`Interpolated`] CDF, rounded to whole values.
pub(crate) fn interpolated_edge_counts(
    w: &WeightedSample,
    min: f64,
    max: f64,
    edges: &[f64],
) -> Vec<u64> {
    let f = Interpolated::new(w, min, max);
    let cum: Vec<u64> = edges
        .iter()
        .map(|&e| f.count_below(e).round() as u64)
        .collect();
    let k = edges.len().saturating_sub(1);
    (0..k)
        .map(|i| {
            let lo = cum.get(i).copied().unwrap_or(0);
            let hi = if i + 1 == k {
                w.n()
            } else {
                cum.get(i + 1).copied().unwrap_or(0)
            };
            hi.saturating_sub(lo)
        })
        .collect()
}

/// Quantile-bin counts from the [`Interpolated`] CDF.
pub(crate) fn interpolated_quantile_counts(
    edges: &[f64; 9],
    w: &WeightedSample,
    min: f64,
    max: f64,
) -> [u64; QUANTILE_BINS] {
    let f = Interpolated::new(w, min, max);
    let mut counts = [0_u64; QUANTILE_BINS];
    let mut below = 0;
    for (i, c) in counts.iter_mut().enumerate() {
        let upto = match edges.get(i) {
            Some(&e) => f.count_below(e).round() as u64,
            None => w.n(),
        };
        *c = upto.saturating_sub(below);
        below = upto.max(below);
    }
    counts
}

/// Counts per bin of `bins` (edges or one bin per value).
pub(crate) fn bin_counts(w: &WeightedSample, bins: &Bins) -> Vec<u64> {
    match (bins.edges(), bins.values()) {
        (Some(edges), _) => edge_counts(w, edges),
        (None, Some(values)) => values.iter().map(|&x| w.count_eq(x)).collect(),
        (None, None) => Vec::new(),
    }
}

/// The distinct values of a sorted slice and a weighted sample together (`-0.0 == 0.0`),
/// as [`Bins::distinct_union`].
pub(crate) fn distinct_union(w: &WeightedSample, sorted: &[f64]) -> Vec<f64> {
    let mut values = Vec::new();
    merge_distinct(w.values(), sorted, |x| values.push(x));
    values
}

/// The number of distinct values of a weighted sample and a sorted slice together.
pub(crate) fn distinct_union_count(w: &WeightedSample, sorted: &[f64]) -> u64 {
    let mut n = 0_u64;
    merge_distinct(w.values(), sorted, |_| n += 1);
    n
}

/// `numpy.quantile(values, q, method="linear")` of the expanded sample, as
/// [`crate::stats::psi::quantile_linear`].
pub(crate) fn quantile_linear(w: &WeightedSample, q: f64) -> Option<f64> {
    if !(0.0..=1.0).contains(&q) {
        return None;
    }
    let last = w.n().checked_sub(1)?;
    let h = last as f64 * q;
    if h >= last as f64 {
        return w.value_at(last);
    }
    let below = h.floor();
    let i = below as u64;
    let gamma = h - below;
    let (a, b) = (w.value_at(i)?, w.value_at(i + 1)?);
    let diff = b - a;
    Some(if gamma >= 0.5 {
        b - diff * (1.0 - gamma)
    } else {
        a + diff * gamma
    })
}

/// The deciles of the quantile PSI.
pub(crate) fn quantile_edges(w: &WeightedSample) -> Option<[f64; 9]> {
    let mut edges = [0.0; 9];
    for (edge, &q) in edges.iter_mut().zip(&QUANTILES) {
        *edge = quantile_linear(w, q)?;
    }
    Some(edges)
}

/// Counts per quantile bin (`searchsorted(edges, x, side="right")`), as
/// [`crate::stats::psi::quantile_counts_sorted`].
pub(crate) fn quantile_counts(edges: &[f64; 9], w: &WeightedSample) -> [u64; QUANTILE_BINS] {
    let mut counts = [0_u64; QUANTILE_BINS];
    let mut below = 0;
    for (i, c) in counts.iter_mut().enumerate() {
        let upto = match edges.get(i) {
            Some(&e) => w.count_lt(e),
            None => w.n(),
        };
        *c = upto.saturating_sub(below);
        below = upto;
    }
    counts
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::binning::Bins;
    use crate::stats::energy::energy_distance as exact_energy;
    use crate::stats::ks::ks_2samp;
    use crate::stats::psi::{quantile_counts_sorted, quantile_edges as exact_edges};
    use crate::stats::wasserstein::wasserstein_distance as exact_wasserstein;

    fn expand(pairs: &[(f64, u64)]) -> Vec<f64> {
        pairs
            .iter()
            .flat_map(|&(x, c)| std::iter::repeat_n(x, c as usize))
            .collect()
    }

    /// Reference value counts and a current sample.
    type Case = (Vec<(f64, u64)>, Vec<f64>);

    fn cases() -> Vec<Case> {
        vec![
            (
                vec![(1.0, 3), (2.0, 1), (5.0, 7)],
                vec![0.5, 1.0, 2.0, 2.0, 6.0],
            ),
            (vec![(0.0, 10)], vec![0.0, 0.0]),
            (vec![(-3.0, 1), (0.0, 2)], vec![1.0, 2.0, 3.0]),
            (
                (0..40)
                    .map(|i| (f64::from(i) * 0.25, 1 + (i % 5) as u64))
                    .collect(),
                (0..57).map(|i| f64::from(i) * 0.2 - 1.0).collect(),
            ),
        ]
    }

    #[test]
    fn value_counts_give_the_exact_bits() {
        for (pairs, cur) in cases() {
            let w = WeightedSample::from_counts(&pairs);
            let r = expand(&pairs);
            assert_eq!(w.n(), r.len() as u64);
            for method in [KsMethod::Auto, KsMethod::Asymp, KsMethod::Exact] {
                let exact = ks_2samp(&r, &cur, method).unwrap();
                let ours = ks_result(ks_statistic(&w, &cur), w.n(), cur.len() as u64, method);
                assert_eq!(exact, ours);
            }
            assert_eq!(
                exact_wasserstein(&r, &cur).unwrap(),
                wasserstein_distance(&w, &cur)
            );
            assert_eq!(exact_energy(&r, &cur).unwrap(), energy_distance(&w, &cur));
            let edges = exact_edges(&r).unwrap();
            assert_eq!(quantile_edges(&w).unwrap(), edges);
            assert_eq!(
                quantile_counts(&edges, &w),
                quantile_counts_sorted(&edges, &r)
            );
            let bins = Bins::sturges(-3.0, 10.0, 100, false).unwrap();
            assert_eq!(bin_counts(&w, &bins), bins.count_sorted(&r));
            let union = Bins::distinct_union(&r, &cur);
            assert_eq!(union.values().unwrap(), distinct_union(&w, &cur));
            assert_eq!(bin_counts(&w, &union), union.count_sorted(&r));
            assert_eq!(
                distinct_union_count(&w, &cur),
                union.values().unwrap().len() as u64
            );
        }
    }

    #[test]
    fn the_interpolated_cdf_stays_within_half_a_weight_of_the_step() {
        let w = WeightedSample::from_counts(&[(1.0, 4), (2.0, 2), (4.0, 6), (9.0, 4)]);
        let f = Interpolated::new(&w, 0.0, 10.0);
        assert_eq!(f.count_below(-1.0), 0.0);
        assert_eq!(f.count_below(0.0), 0.0);
        assert_eq!(f.count_below(1.0), 2.0); // the middle of the first step
        assert_eq!(f.count_below(3.0), 7.0); // halfway between the middles of 2 and 4: 5, 9
        assert_eq!(f.count_below(10.0), 16.0);
        let mut last = 0.0;
        for i in 0..=200 {
            let x = f64::from(i) * 0.05;
            let y = f.count_below(x);
            assert!(y >= last);
            last = y;
            let (lt, le) = (w.count_lt(x) as f64, w.count_le(x) as f64);
            assert!(
                y >= lt - 3.0 && y <= le + 3.0,
                "{x}: {y} not near [{lt}, {le}]"
            );
        }
        let counts = interpolated_edge_counts(&w, 0.0, 10.0, &[0.0, 2.5, 5.0, 10.0]);
        assert_eq!(counts.iter().sum::<u64>(), 16);
        let one = Interpolated::new(&WeightedSample::from_counts(&[(3.0, 5)]), 3.0, 3.0);
        assert_eq!((one.count_below(2.0), one.count_below(3.0)), (0.0, 5.0));
    }

    #[test]
    fn weighted_samples_join_equal_values() {
        let w = WeightedSample::from_counts(&[(-0.0, 1), (0.0, 2), (1.0, 0), (2.0, 1)]);
        assert_eq!(w.values(), [-0.0, 2.0]);
        assert_eq!((w.n(), w.count_eq(0.0), w.count_lt(2.0)), (4, 3, 3));
        assert_eq!(w.value_at(3), Some(2.0));
        assert_eq!(w.value_at(4), None);
        assert_eq!(WeightedSample::default().n(), 0);
        assert_eq!(quantile_linear(&WeightedSample::default(), 0.5), None);
    }
}
