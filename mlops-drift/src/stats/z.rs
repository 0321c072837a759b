//! Evidently's two-proportion z-test (`z` stattest, `z_stattest.py`).
//!
//! Evidently's definition: when both sides hold one and the same single value, the p-value
//! is 1. Otherwise the distinct values of the union are sorted, the first becomes 0 and every
//! other value 1, and a pooled two-proportion z-test compares the share of ones:
//!
//! ```text
//! p1 = ones_ref / n_ref,  p2 = ones_cur / n_cur,  P = (p1·n_ref + p2·n_cur) / (n_ref + n_cur)
//! z  = (p1 − p2) / sqrt(P·(1 − P)·(1/n_ref + 1/n_cur)),   p = 2·(1 − Φ(|z|))
//! ```
//!
//! evaluated here in Evidently's order of operations. The input is the count of the first
//! value and the total on each side ([`FirstCounts`]); [`first_value_counts`] and
//! [`first_category_counts`] derive them.
//!
//! Evidently defect kept for parity: `2·(1 − Φ(|z|))` loses every digit below about 1e-16
//! and is exactly 0 beyond |z| ≈ 8.3. [`ZTest::p_value_accurate`] is the accurate
//! `2·Φ(−|z|)`, for callers that rank or log p-values rather than compare them with 0.05.

use statrs::distribution::{ContinuousCDF, Normal};

use super::binning::{StatsError, StatsResult};

/// How many values on each side equal the first (smallest) value of the union.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FirstCounts {
    /// Reference values equal to the first value.
    pub reference_first: u64,
    /// All reference values.
    pub reference_total: u64,
    /// Current values equal to the first value.
    pub current_first: u64,
    /// All current values.
    pub current_total: u64,
}

/// The result of [`z_test`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ZTest {
    /// `z = (p1 − p2) / se`, where `p1` and `p2` are the shares of values *other than* the
    /// first; 0 when both sides hold the same single value; NaN when the pooled share is 0
    /// or 1 otherwise (impossible for counts from real data: the first value occurs).
    pub statistic: f64,
    /// Evidently's two-sided p-value `2·(1 − Φ(|z|))`; 1 when both sides hold the same
    /// single value.
    pub p_value: f64,
}

impl ZTest {
    /// The two-sided p-value computed from the upper tail, `2·Φ(−|z|)`: equal to
    /// [`ZTest::p_value`] up to rounding, but accurate to the last digits for large `|z|`
    /// where Evidently's formula gives 0.
    pub fn p_value_accurate(&self) -> f64 {
        2.0 * Normal::standard().sf(self.statistic.abs())
    }
}

/// Evidently's z-test from the first-value counts (see the module documentation).
///
/// # Errors
///
/// [`StatsError::Empty`] when a side's total is zero, and [`StatsError::Invalid`] when a
/// first-value count exceeds its total.
pub fn z_test(counts: &FirstCounts) -> StatsResult<ZTest> {
    let FirstCounts {
        reference_first: rf,
        reference_total: rt,
        current_first: cf,
        current_total: ct,
    } = *counts;
    if rt == 0 || ct == 0 {
        return Err(StatsError::Empty);
    }
    if rf > rt || cf > ct {
        return Err(StatsError::Invalid("a first-value count exceeds its total"));
    }
    if rf == rt && cf == ct {
        return Ok(ZTest {
            statistic: 0.0,
            p_value: 1.0,
        });
    }
    let (n1, n2) = (rt as f64, ct as f64);
    // Evidently maps the first value to 0 and sums: the shares are of the other values.
    let p1 = (rt - rf) as f64 / n1;
    let p2 = (ct - cf) as f64 / n2;
    let pooled = (p1 * n1 + p2 * n2) / rt.saturating_add(ct) as f64;
    let statistic = (p1 - p2) / (pooled * (1.0 - pooled) * (1.0 / n1 + 1.0 / n2)).sqrt();
    let p_value = 2.0 * (1.0 - Normal::standard().cdf(statistic.abs()));
    Ok(ZTest { statistic, p_value })
}

/// The first-value counts of two sorted (ascending, finite) numerical samples: the first
/// value is the smaller of the two minima (`-0.0 == 0.0`).
///
/// # Errors
///
/// [`StatsError::Empty`] when a sample is empty.
pub fn first_value_counts(sorted_ref: &[f64], sorted_cur: &[f64]) -> StatsResult<FirstCounts> {
    let (Some(&r0), Some(&c0)) = (sorted_ref.first(), sorted_cur.first()) else {
        return Err(StatsError::Empty);
    };
    let first = if c0 < r0 { c0 } else { r0 };
    Ok(FirstCounts {
        reference_first: sorted_ref.partition_point(|&x| x <= first) as u64,
        reference_total: sorted_ref.len() as u64,
        current_first: sorted_cur.partition_point(|&x| x <= first) as u64,
        current_total: sorted_cur.len() as u64,
    })
}

/// The first-value counts from counts aligned over categories in any order. The first
/// category is the smallest by `K`'s order among those counted at least once: pass the
/// values themselves (Python sorts strings by code point, which is `str`'s order, and
/// numbers numerically, so integers coded as categories must be compared as integers).
///
/// # Errors
///
/// [`StatsError::LengthMismatch`] when the three slices are not aligned, and
/// [`StatsError::Empty`] when a side's counts sum to zero.
pub fn first_category_counts<K: Ord>(
    categories: &[K],
    ref_counts: &[u64],
    cur_counts: &[u64],
) -> StatsResult<FirstCounts> {
    super::binning::check_aligned(categories.len(), ref_counts.len())?;
    super::binning::check_aligned(categories.len(), cur_counts.len())?;
    let first = categories
        .iter()
        .zip(ref_counts.iter().zip(cur_counts))
        .filter(|(_, (r, c))| **r > 0 || **c > 0)
        .min_by(|a, b| a.0.cmp(b.0))
        .map(|(_, (&r, &c))| (r, c));
    let (rt, ct) = (
        super::binning::total(ref_counts),
        super::binning::total(cur_counts),
    );
    match first {
        Some((rf, cf)) if rt > 0 && ct > 0 => Ok(FirstCounts {
            reference_first: rf,
            reference_total: rt,
            current_first: cf,
            current_total: ct,
        }),
        _ => Err(StatsError::Empty),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn evidently_examples() {
        // Evidently: z on ['a'] * 5 vs ['b'] * 3 gives 0.004677734981047177.
        let c = first_category_counts(&["a", "b"], &[5, 0], &[0, 3]).unwrap();
        let z = z_test(&c).unwrap();
        assert!((z.p_value - 0.004677734981047177).abs() < 1e-12);
        assert!((z.p_value_accurate() - z.p_value).abs() < 1e-12);
        // Same single value: p = 1.
        let c = first_value_counts(&[2.0, 2.0], &[2.0]).unwrap();
        assert_eq!(z_test(&c).unwrap().p_value, 1.0);
        assert_eq!(z_test(&c).unwrap().p_value_accurate(), 1.0);
    }

    #[test]
    fn bad_counts_are_errors() {
        let c = FirstCounts {
            reference_first: 3,
            reference_total: 2,
            current_first: 0,
            current_total: 1,
        };
        assert!(z_test(&c).is_err());
        let c = FirstCounts {
            reference_first: 0,
            reference_total: 0,
            current_first: 0,
            current_total: 1,
        };
        assert_eq!(z_test(&c), Err(StatsError::Empty));
        // The first value absent from both sides: Evidently's arithmetic gives NaN.
        let c = FirstCounts {
            reference_first: 0,
            reference_total: 2,
            current_first: 0,
            current_total: 1,
        };
        assert!(z_test(&c).unwrap().p_value.is_nan());
        assert!(first_value_counts(&[], &[1.0]).is_err());
        assert!(first_category_counts(&["a"], &[1], &[1, 2]).is_err());
        assert!(first_category_counts(&["a"], &[0], &[0]).is_err());
    }
}
