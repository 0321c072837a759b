//! Population stability index: Evidently's (`psi`) and the quantile variant (`psi_quantile`).
//!
//! * [`psi`] reproduces Evidently's `psi` stattest
//!   (`evidently/legacy/calculations/stattests/psi.py`): `Σ (r_i − c_i) · ln(r_i / c_i)`
//!   over the shares of [`binned_percents`](super::binning::binned_percents) or
//!   [`category_percents`](super::binning::category_percents) *with* zero filling.
//! * [`quantile_edges`], [`quantile_counts`] and [`psi_quantile`] are the credit-risk
//!   convention of `DRIFT.md` ("psi_quantile", not in Evidently): ten bins cut at the
//!   reference deciles (`numpy.quantile(ref, [0.1, …, 0.9], method="linear")`), a value's bin
//!   is `numpy.searchsorted(edges, x, side="right")`, shares are floored at
//!   [`QUANTILE_PSI_FLOOR`] without renormalisation.
//!
//! Both are symmetric in the two sides and non-negative.

use super::binning::{CompensatedSum, StatsError, StatsResult, check_aligned, total};

/// The deciles that cut the reference into [`QUANTILE_BINS`] bins.
pub const QUANTILES: [f64; 9] = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9];

/// The number of bins of the quantile PSI.
pub const QUANTILE_BINS: usize = 10;

/// The floor applied to each share of the quantile PSI.
pub const QUANTILE_PSI_FLOOR: f64 = 1e-4;

/// Evidently's PSI from aligned reference and current shares (already zero-filled):
/// `Σ (r_i − c_i) · ln(r_i / c_i)`. A zero share gives an infinite or NaN term, as in numpy;
/// an empty input gives 0.
///
/// # Errors
///
/// [`StatsError::LengthMismatch`] when the shares are not aligned.
pub fn psi(reference: &[f64], current: &[f64]) -> StatsResult<f64> {
    check_aligned(reference.len(), current.len())?;
    Ok(reference
        .iter()
        .zip(current)
        .map(|(&r, &c)| (r - c) * (r / c).ln())
        .collect::<CompensatedSum>()
        .value())
}

/// The `q` quantile of sorted (ascending, finite) values, as
/// `numpy.quantile(values, q, method="linear")`: with `h = (n − 1) · q`, `i = floor(h)` and
/// `g = h − i`, numpy's `_lerp` gives `v_i + (v_i+1 − v_i) · g` when `g < 0.5` and
/// `v_i+1 − (v_i+1 − v_i) · (1 − g)` otherwise; `h >= n − 1` gives the last value.
///
/// # Errors
///
/// [`StatsError::Empty`] when there are no values (numpy raises), and
/// [`StatsError::Invalid`] when `q` is not in `[0, 1]`.
pub fn quantile_linear(sorted: &[f64], q: f64) -> StatsResult<f64> {
    if !(0.0..=1.0).contains(&q) {
        return Err(StatsError::Invalid("a quantile must be in [0, 1]"));
    }
    let last = sorted.len().checked_sub(1).ok_or(StatsError::Empty)?;
    let h = last as f64 * q;
    if h >= last as f64 {
        return sorted.get(last).copied().ok_or(StatsError::Empty);
    }
    let below = h.floor();
    // 0 <= below < last, so both indices are in range.
    let i = below as usize;
    let gamma = h - below;
    match (sorted.get(i), sorted.get(i + 1)) {
        (Some(&a), Some(&b)) => {
            let diff = b - a;
            Ok(if gamma >= 0.5 {
                b - diff * (1.0 - gamma)
            } else {
                a + diff * gamma
            })
        }
        _ => Err(StatsError::Empty),
    }
}

/// The nine interior edges of the quantile PSI: the reference deciles [`QUANTILES`] by
/// [`quantile_linear`], from sorted (ascending, finite) reference values.
///
/// # Errors
///
/// [`StatsError::Empty`] when the reference is empty.
pub fn quantile_edges(sorted_ref: &[f64]) -> StatsResult<[f64; 9]> {
    let mut edges = [0.0; 9];
    for (edge, &q) in edges.iter_mut().zip(&QUANTILES) {
        *edge = quantile_linear(sorted_ref, q)?;
    }
    Ok(edges)
}

/// The quantile bin of one value: the number of edges `<= x`
/// (`numpy.searchsorted(edges, x, side="right")`), from 0 to 9; the outer bins are open.
pub fn quantile_bin(edges: &[f64; 9], x: f64) -> usize {
    edges.partition_point(|&e| e <= x)
}

/// The counts per quantile bin of values in any order. Counts of chunks add up.
pub fn quantile_counts(edges: &[f64; 9], values: &[f64]) -> [u64; QUANTILE_BINS] {
    let mut counts = [0_u64; QUANTILE_BINS];
    for &x in values {
        if let Some(c) = counts.get_mut(quantile_bin(edges, x)) {
            *c += 1;
        }
    }
    counts
}

/// The counts per quantile bin of sorted (ascending) values, in `O(log n)` per edge.
pub fn quantile_counts_sorted(edges: &[f64; 9], sorted: &[f64]) -> [u64; QUANTILE_BINS] {
    let mut counts = [0_u64; QUANTILE_BINS];
    let mut below = 0;
    for (i, c) in counts.iter_mut().enumerate() {
        let upto = match edges.get(i) {
            // Bins 0..=i hold exactly the values below edge i.
            Some(&e) => sorted.partition_point(|&x| x < e),
            None => sorted.len(),
        };
        *c = upto.saturating_sub(below) as u64;
        below = upto;
    }
    counts
}

/// The quantile PSI from the two count vectors of [`quantile_counts`]:
/// `Σ (c_i − r_i) · ln(c_i / r_i)` with `r_i = max(count_i / n_ref, 1e-4)` and likewise
/// `c_i`, without renormalisation. A side whose counts sum to zero gives NaN (numpy's
/// `0 / 0` propagates through `np.maximum`).
pub fn psi_quantile(ref_counts: &[u64; QUANTILE_BINS], cur_counts: &[u64; QUANTILE_BINS]) -> f64 {
    let (n_ref, n_cur) = (total(ref_counts), total(cur_counts));
    if n_ref == 0 || n_cur == 0 {
        return f64::NAN;
    }
    let share = |c: u64, n: u64| (c as f64 / n as f64).max(QUANTILE_PSI_FLOOR);
    ref_counts
        .iter()
        .zip(cur_counts)
        .map(|(&r, &c)| {
            let (r, c) = (share(r, n_ref), share(c, n_cur));
            (c - r) * (c / r).ln()
        })
        .collect::<CompensatedSum>()
        .value()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn psi_of_equal_shares_is_zero() {
        assert_eq!(psi(&[0.5, 0.5], &[0.5, 0.5]).unwrap(), 0.0);
        assert_eq!(psi(&[], &[]).unwrap(), 0.0);
        assert!(psi(&[0.5], &[0.5, 0.5]).is_err());
        let p = psi(&[0.25, 0.75], &[0.5, 0.5]).unwrap();
        let expected = -0.25 * (0.5_f64).ln() + 0.25 * (1.5_f64).ln();
        assert!((p - expected).abs() < 1e-15);
    }

    #[test]
    fn quantiles_are_numpys() {
        let v: Vec<f64> = (0..11).map(f64::from).collect();
        assert_eq!(
            quantile_edges(&v).unwrap(),
            [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0]
        );
        assert_eq!(quantile_edges(&[3.0]).unwrap(), [3.0; 9]);
        assert_eq!(quantile_linear(&[1.0, 2.0], 0.5).unwrap(), 1.5);
        assert_eq!(quantile_linear(&[], 0.5), Err(StatsError::Empty));
        assert!(quantile_linear(&[1.0], f64::NAN).is_err());
    }

    #[test]
    fn quantile_counts_sorted_and_unsorted_agree() {
        let v: Vec<f64> = (0..50).map(|i| f64::from(i % 7)).collect();
        let mut sorted = v.clone();
        sorted.sort_by(f64::total_cmp);
        let edges = quantile_edges(&sorted).unwrap();
        assert_eq!(
            quantile_counts(&edges, &v),
            quantile_counts_sorted(&edges, &sorted)
        );
        assert_eq!(quantile_counts(&edges, &v).iter().sum::<u64>(), 50);
        let c = quantile_counts(&edges, &v);
        assert_eq!(psi_quantile(&c, &c), 0.0);
        assert!(psi_quantile(&[0; 10], &c).is_nan());
    }
}
