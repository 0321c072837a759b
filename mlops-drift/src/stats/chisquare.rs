//! Pearson's chi-square: scipy's goodness-of-fit test, Evidently's `chisquare` stattest built
//! on it, and the 2 × k test of homogeneity.
//!
//! * [`chisquare`] is `scipy.stats.chisquare(f_obs, f_exp)`.
//! * [`chisquare_evidently`] is Evidently's `chisquare` stattest (`chisquare_stattest.py`):
//!   observed = current counts, expected = reference counts · `n_cur / n_ref`, over the union
//!   of categories. The order of the categories does not matter (Evidently's is a Python set's,
//!   so only the last ulp of the sum depends on it).
//! * [`chi2_contingency_2xk`] is `scipy.stats.chi2_contingency([ref, cur], correction=True)`.
//!
//! Evidently defects kept for parity by [`chisquare_evidently`], with their alternative:
//!
//! * The reference is taken as the truth, so a category present only in current data has an
//!   expected count of 0: the statistic is infinite and p = 0 however rare the category is.
//! * With a single category there are 0 degrees of freedom and scipy's `chdtrc(0, x)` is NaN
//!   at `x == 0` and 0 for `x > 0`: identical columns get p = NaN, or p = 0 (drift!) when
//!   `n_ref · (n_cur / n_ref)` rounds away from `n_cur` (e.g. `n_ref = 7, n_cur = 29`).
//!
//! [`chi2_contingency_2xk`] has neither problem: it treats both sides as samples (a new
//! category weighs by its count), and a single category gives p = 1. It is the documented
//! alternative; the statistic differs from Evidently's, so the verdicts do too.

use statrs::distribution::{ChiSquared, ContinuousCDF};

use super::binning::{CompensatedSum, StatsError, StatsResult, check_aligned, total};

/// A chi-square test result.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ChiSquare {
    /// Pearson's statistic `Σ (o − e)² / e`.
    pub statistic: f64,
    /// The upper-tail probability of the statistic under `χ²(dof)`.
    pub p_value: f64,
    /// The degrees of freedom: categories − 1.
    pub dof: usize,
}

/// scipy's `chdtrc(dof, x)`, the upper tail of `χ²(dof)` at `x`, including its edge cases:
/// NaN for NaN or negative `x`; with `dof == 0`, NaN at `x == 0` and 0 above; otherwise 1 at
/// `x == 0` and 0 at `+inf`. Computed with `statrs`'s regularised upper incomplete gamma.
pub fn chi2_sf(x: f64, dof: usize) -> f64 {
    if x.is_nan() || x < 0.0 {
        return f64::NAN;
    }
    if dof == 0 {
        return if x > 0.0 { 0.0 } else { f64::NAN };
    }
    if x == f64::INFINITY {
        return 0.0;
    }
    if x == 0.0 {
        return 1.0;
    }
    ChiSquared::new(dof as f64).map_or(f64::NAN, |d| d.sf(x))
}

/// `sqrt(f64::EPSILON)`: scipy's relative tolerance between the observed and expected totals.
const SUM_RTOL: f64 = 1.490_116_119_384_765_6e-8;

/// Pearson's test over `(observed, expected)` pairs, as `scipy.stats.chisquare`.
fn pearson<I>(pairs: I) -> StatsResult<ChiSquare>
where
    I: Iterator<Item = (f64, f64)> + Clone,
{
    let mut k = 0_usize;
    let (mut so, mut se) = (CompensatedSum::default(), CompensatedSum::default());
    for (o, e) in pairs.clone() {
        k += 1;
        so.add(o);
        se.add(e);
    }
    let dof = k.checked_sub(1).ok_or(StatsError::Empty)?;
    let (so, se) = (so.value(), se.value());
    // NaN (both totals zero) passes, as in scipy.
    let relative = (so - se).abs() / so.min(se);
    if relative > SUM_RTOL {
        return Err(StatsError::SumMismatch {
            observed: so,
            expected: se,
        });
    }
    let statistic = pairs
        .map(|(o, e)| (o - e) * (o - e) / e)
        .collect::<CompensatedSum>()
        .value();
    Ok(ChiSquare {
        statistic,
        p_value: chi2_sf(statistic, dof),
        dof,
    })
}

/// `scipy.stats.chisquare(observed, expected)`: `Σ (o − e)² / e` with `k − 1` degrees of
/// freedom. An expected 0 with an observed count above 0 makes the statistic infinite and
/// p = 0; both 0 makes them NaN.
///
/// # Errors
///
/// [`StatsError::LengthMismatch`] when the vectors are not aligned, [`StatsError::Empty`]
/// when they are empty, and [`StatsError::SumMismatch`] when the totals differ by more than a
/// relative `sqrt(f64::EPSILON)` (scipy raises `ValueError`).
pub fn chisquare(observed: &[f64], expected: &[f64]) -> StatsResult<ChiSquare> {
    check_aligned(observed.len(), expected.len())?;
    pearson(observed.iter().copied().zip(expected.iter().copied()))
}

/// Evidently's `chisquare` stattest from counts aligned over the union of categories, in
/// any order: `chisquare(cur, ref · (n_cur / n_ref))`, with `n_side` the sum of that side's
/// counts. See the module documentation for the two defects this keeps on purpose.
///
/// # Errors
///
/// [`StatsError::LengthMismatch`] when the counts are not aligned, [`StatsError::Empty`] when
/// a side's counts sum to zero; [`StatsError::SumMismatch`] cannot happen with real counts.
pub fn chisquare_evidently(ref_counts: &[u64], cur_counts: &[u64]) -> StatsResult<ChiSquare> {
    check_aligned(ref_counts.len(), cur_counts.len())?;
    let (n_ref, n_cur) = (total(ref_counts), total(cur_counts));
    if n_ref == 0 || n_cur == 0 {
        return Err(StatsError::Empty);
    }
    let k_norm = n_cur as f64 / n_ref as f64;
    pearson(
        cur_counts
            .iter()
            .zip(ref_counts)
            .map(|(&c, &r)| (c as f64, r as f64 * k_norm)),
    )
}

/// `scipy.stats.chi2_contingency([ref_counts, cur_counts], correction=True)` on the 2 × k
/// table of counts aligned over categories: expected counts `row total · column total /
/// grand total`, `k − 1` degrees of freedom, Yates' continuity correction (each observed
/// count moves toward its expected count by `min(0.5, |e − o|)`) only when `dof == 1`, and
/// `statistic = 0, p = 1` when `dof == 0`.
///
/// # Errors
///
/// [`StatsError::LengthMismatch`] when the counts are not aligned, [`StatsError::Empty`] when
/// there is no category or a side's counts sum to zero, and [`StatsError::ZeroExpected`] for
/// a category counted on neither side (scipy raises for both).
pub fn chi2_contingency_2xk(ref_counts: &[u64], cur_counts: &[u64]) -> StatsResult<ChiSquare> {
    check_aligned(ref_counts.len(), cur_counts.len())?;
    let (n_ref, n_cur) = (total(ref_counts), total(cur_counts));
    if ref_counts.is_empty() || n_ref == 0 || n_cur == 0 {
        return Err(StatsError::Empty);
    }
    if let Some(category) = ref_counts
        .iter()
        .zip(cur_counts)
        .position(|(&r, &c)| r == 0 && c == 0)
    {
        return Err(StatsError::ZeroExpected { category });
    }
    let dof = ref_counts.len() - 1;
    if dof == 0 {
        return Ok(ChiSquare {
            statistic: 0.0,
            p_value: 1.0,
            dof,
        });
    }
    let grand = u128::from(n_ref) + u128::from(n_cur);
    // numpy multiplies the integer margins exactly, then divides as floats.
    let expected = |row: u64, column: u128| (u128::from(row) * column) as f64 / grand as f64;
    let yates = dof == 1;
    let mut statistic = CompensatedSum::default();
    for (row_total, side, other) in [
        (n_ref, ref_counts, cur_counts),
        (n_cur, cur_counts, ref_counts),
    ] {
        for (&o, &p) in side.iter().zip(other) {
            let e = expected(row_total, u128::from(o) + u128::from(p));
            let mut o = o as f64;
            if yates {
                let diff = e - o;
                o += diff.abs().min(0.5) * sign(diff);
            }
            statistic.add((o - e) * (o - e) / e);
        }
    }
    let statistic = statistic.value();
    Ok(ChiSquare {
        statistic,
        p_value: chi2_sf(statistic, dof),
        dof,
    })
}

/// `np.sign`: -1, 0 or 1 (Rust's `signum` gives ±1 for ±0).
fn sign(x: f64) -> f64 {
    if x > 0.0 {
        1.0
    } else if x < 0.0 {
        -1.0
    } else {
        0.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scipy_examples() {
        // scipy.stats.chisquare([10, 20, 30], [20, 20, 20]) -> (10.0, 0.006737946999085468)
        let r = chisquare(&[10.0, 20.0, 30.0], &[20.0, 20.0, 20.0]).unwrap();
        assert_eq!(r.statistic, 10.0);
        assert!((r.p_value - 0.006_737_946_999_085_468).abs() < 1e-15);
        assert_eq!(r.dof, 2);
        let r = chisquare(&[3.0, 1.0, 4.0], &[4.0, 0.0, 4.0]).unwrap();
        assert_eq!((r.statistic, r.p_value), (f64::INFINITY, 0.0));
        let r = chisquare(&[0.0, 0.0], &[0.0, 0.0]).unwrap();
        assert!(r.statistic.is_nan() && r.p_value.is_nan());
        assert!(matches!(
            chisquare(&[10.0, 20.0], &[10.0, 21.0]),
            Err(StatsError::SumMismatch { .. })
        ));
        assert_eq!(chisquare(&[], &[]), Err(StatsError::Empty));
    }

    #[test]
    fn evidently_single_category_quirk() {
        // Evidently: ['a'] * 7 vs ['a'] * 29 gives p = 0; ['a'] * 3 vs ['a'] * 7 gives NaN.
        assert_eq!(chisquare_evidently(&[7], &[29]).unwrap().p_value, 0.0);
        assert!(chisquare_evidently(&[3], &[7]).unwrap().p_value.is_nan());
        assert_eq!(chi2_contingency_2xk(&[7], &[29]).unwrap().p_value, 1.0);
        assert_eq!(chisquare_evidently(&[0], &[1]), Err(StatsError::Empty));
    }

    #[test]
    fn contingency_examples() {
        // scipy.stats.chi2_contingency([[10, 20], [12, 18]]): Yates applies.
        let r = chi2_contingency_2xk(&[10, 20], &[12, 18]).unwrap();
        assert_eq!(r.dof, 1);
        assert!(r.p_value > 0.5 && r.p_value <= 1.0);
        assert_eq!(
            chi2_contingency_2xk(&[5, 0], &[5, 0]),
            Err(StatsError::ZeroExpected { category: 1 })
        );
        assert_eq!(chi2_contingency_2xk(&[], &[]), Err(StatsError::Empty));
    }

    #[test]
    fn chi2_sf_edges() {
        assert!(chi2_sf(0.0, 0).is_nan());
        assert_eq!(chi2_sf(1e-30, 0), 0.0);
        assert_eq!(chi2_sf(0.0, 3), 1.0);
        assert_eq!(chi2_sf(f64::INFINITY, 3), 0.0);
        assert!(chi2_sf(-1.0, 3).is_nan());
        assert!(chi2_sf(f64::NAN, 3).is_nan());
    }
}
