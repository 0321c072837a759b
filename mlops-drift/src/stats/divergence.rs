//! Divergences between two binned distributions: Kullback–Leibler, Jensen–Shannon and
//! Evidently's Hellinger distance.
//!
//! * [`kl_div`] is `scipy.stats.entropy(p, q)`, which Evidently's `kl_div` stattest applies
//!   to the zero-filled shares of
//!   [`binned_percents`](super::binning::binned_percents) /
//!   [`category_percents`](super::binning::category_percents).
//! * [`jensenshannon`] is `scipy.spatial.distance.jensenshannon(p, q)` (natural log), which
//!   Evidently's `jensenshannon` stattest applies to the shares *without* zero filling.
//! * [`hellinger_categorical`] and [`hellinger_numerical`] are Evidently's own
//!   `hellinger_distance.py`, which bins numerical data its own way (see
//!   [`hellinger_bins`]).
//!
//! All sums are compensated, so long vectors agree with numpy's pairwise sums to a few ulps.

use super::binning::{
    Bins, CompensatedSum, StatsError, StatsResult, check_aligned, merge_distinct, total,
};

/// `scipy.special.rel_entr(x, y)`: `x · ln(x / y)` for `x, y > 0`, 0 for `x == 0, y >= 0`,
/// +inf otherwise, NaN when either is NaN.
pub fn rel_entr(x: f64, y: f64) -> f64 {
    if x.is_nan() || y.is_nan() {
        f64::NAN
    } else if x > 0.0 && y > 0.0 {
        x * (x / y).ln()
    } else if x == 0.0 && y >= 0.0 {
        0.0
    } else {
        f64::INFINITY
    }
}

/// The sum of a slice, compensated.
fn sum(values: &[f64]) -> f64 {
    values.iter().copied().collect::<CompensatedSum>().value()
}

/// Kullback–Leibler divergence `KL(p ‖ q)` as `scipy.stats.entropy(p, q)`: both vectors are
/// normalised to sum to one, then `Σ rel_entr(p_i, q_i)` (natural log). A category with
/// `p_i > 0 = q_i` makes it infinite; Evidently avoids that by zero filling first. A vector
/// summing to zero gives NaN, as in scipy; empty vectors give 0.
///
/// # Errors
///
/// [`StatsError::LengthMismatch`] when `p` and `q` are not aligned.
pub fn kl_div(p: &[f64], q: &[f64]) -> StatsResult<f64> {
    check_aligned(p.len(), q.len())?;
    let (sp, sq) = (sum(p), sum(q));
    Ok(p.iter()
        .zip(q)
        .map(|(&a, &b)| rel_entr(a / sp, b / sq))
        .collect::<CompensatedSum>()
        .value())
}

/// Jensen–Shannon distance as `scipy.spatial.distance.jensenshannon(p, q)` with natural log
/// (`base=None`): with `p` and `q` normalised and `m = (p + q) / 2`,
/// `sqrt((Σ rel_entr(p, m) + Σ rel_entr(q, m)) / 2)`. It is at most `sqrt(ln 2)`.
///
/// One deliberate difference: when rounding makes the sum a tiny negative number (nearly
/// equal `p` and `q`), scipy returns NaN and this returns 0.
///
/// # Errors
///
/// [`StatsError::LengthMismatch`] when `p` and `q` are not aligned.
pub fn jensenshannon(p: &[f64], q: &[f64]) -> StatsResult<f64> {
    check_aligned(p.len(), q.len())?;
    let (sp, sq) = (sum(p), sum(q));
    let mut left = CompensatedSum::default();
    let mut right = CompensatedSum::default();
    for (&a, &b) in p.iter().zip(q) {
        let (a, b) = (a / sp, b / sq);
        let m = (a + b) / 2.0;
        left.add(rel_entr(a, m));
        right.add(rel_entr(b, m));
    }
    let js = (left.value() + right.value()) / 2.0;
    Ok(if js < 0.0 { 0.0 } else { js.sqrt() })
}

/// Evidently's Hellinger distance for a categorical column, from counts aligned over the
/// union of categories: with `p_i = ref_i / n_ref` and `c_i = cur_i / n_cur`,
/// `sqrt(1 − clip(Σ sqrt(p_i · c_i), 0, 1))`, from 0 (same shares) to 1 (disjoint).
///
/// # Errors
///
/// [`StatsError::LengthMismatch`] when the counts are not aligned, [`StatsError::Empty`] when
/// a side's counts sum to zero.
pub fn hellinger_categorical(ref_counts: &[u64], cur_counts: &[u64]) -> StatsResult<f64> {
    check_aligned(ref_counts.len(), cur_counts.len())?;
    let (n_ref, n_cur) = (total(ref_counts), total(cur_counts));
    if n_ref == 0 || n_cur == 0 {
        return Err(StatsError::Empty);
    }
    let (n_ref, n_cur) = (n_ref as f64, n_cur as f64);
    // Evidently adds in a Python loop; the order is its set's, so only the last ulp varies.
    let mut bc = 0.0;
    for (&r, &c) in ref_counts.iter().zip(cur_counts) {
        bc += ((r as f64 / n_ref) * (c as f64 / n_cur)).sqrt();
    }
    Ok(hellinger_from_coefficient(bc))
}

/// `sqrt(1 − clip(bc, 0, 1))`, NaN staying NaN as with `np.clip`.
fn hellinger_from_coefficient(bc: f64) -> f64 {
    let bc = if bc.is_nan() { bc } else { bc.clamp(0.0, 1.0) };
    (1.0 - bc).sqrt()
}

/// The bins Evidently's Hellinger distance uses for a numerical column: Sturges edges (see
/// [`sturges_edges`](super::binning::sturges_edges)) over the *distinct* values of the union
/// of both samples, that is `n` = the number of distinct values, not the number of rows.
/// Inputs are sorted ascending and finite; `integer` says whether the union has an integer
/// dtype.
///
/// A consequence worth knowing (Evidently's, kept): an integer column with two distinct
/// values gets width 1/2, floored to 1, hence a single bin and a distance of 0 whatever the
/// shares.
///
/// # Errors
///
/// [`StatsError::Empty`] when a side is empty; otherwise as
/// [`sturges_edges`](super::binning::sturges_edges).
pub fn hellinger_bins(sorted_ref: &[f64], sorted_cur: &[f64], integer: bool) -> StatsResult<Bins> {
    let (Some(&r0), Some(&c0), Some(&r1), Some(&c1)) = (
        sorted_ref.first(),
        sorted_cur.first(),
        sorted_ref.last(),
        sorted_cur.last(),
    ) else {
        return Err(StatsError::Empty);
    };
    let mut distinct = 0_u64;
    merge_distinct(sorted_ref, sorted_cur, |_| distinct += 1);
    let min = if c0 < r0 { c0 } else { r0 };
    let max = if c1 > r1 { c1 } else { r1 };
    Bins::sturges(min, max, distinct, integer)
}

/// Evidently's Hellinger distance for a numerical column, from counts per bin over `edges`
/// (normally those of [`hellinger_bins`]): numpy's densities
/// `h_i = count_i / (e_i+1 − e_i) / Σ count`, then
/// `sqrt(1 − clip(Σ sqrt(h_ref,i · h_cur,i) · w, 0, 1))` with the mean width
/// `w = (e_last − e_first) / bins`, summed in Evidently's order (bit-exact).
///
/// # Errors
///
/// [`StatsError::LengthMismatch`] when the counts do not have one entry per bin,
/// [`StatsError::Empty`] when a side's counts sum to zero.
pub fn hellinger_binned(edges: &[f64], ref_counts: &[u64], cur_counts: &[u64]) -> StatsResult<f64> {
    let bins = edges.len().saturating_sub(1);
    check_aligned(bins, ref_counts.len())?;
    check_aligned(bins, cur_counts.len())?;
    let (n_ref, n_cur) = (total(ref_counts), total(cur_counts));
    let (Some(&first), Some(&last)) = (edges.first(), edges.last()) else {
        return Err(StatsError::Empty);
    };
    if n_ref == 0 || n_cur == 0 || bins == 0 {
        return Err(StatsError::Empty);
    }
    let (n_ref, n_cur) = (n_ref as f64, n_cur as f64);
    let width = (last - first) / bins as f64;
    let mut bc = 0.0;
    for ((w, &r), &c) in edges.windows(2).zip(ref_counts).zip(cur_counts) {
        let db = w[1] - w[0];
        let h1 = r as f64 / db / n_ref;
        let h2 = c as f64 / db / n_cur;
        bc += (h1 * h2).sqrt() * width;
    }
    Ok(hellinger_from_coefficient(bc))
}

/// Evidently's Hellinger distance for a numerical column from sorted (ascending, finite)
/// samples: [`hellinger_bins`], counts per bin, then [`hellinger_binned`].
///
/// # Errors
///
/// As [`hellinger_bins`].
pub fn hellinger_numerical(
    sorted_ref: &[f64],
    sorted_cur: &[f64],
    integer: bool,
) -> StatsResult<f64> {
    let bins = hellinger_bins(sorted_ref, sorted_cur, integer)?;
    let edges = bins
        .edges()
        .ok_or(StatsError::Invalid("Sturges bins have edges"))?;
    hellinger_binned(
        edges,
        &bins.count_sorted(sorted_ref),
        &bins.count_sorted(sorted_cur),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kl_and_js_known_values() {
        assert_eq!(kl_div(&[0.5, 0.5], &[0.5, 0.5]).unwrap(), 0.0);
        // Not normalised: scipy normalises both.
        assert_eq!(kl_div(&[1.0, 1.0], &[2.0, 2.0]).unwrap(), 0.0);
        assert_eq!(kl_div(&[1.0, 0.0], &[0.0, 1.0]).unwrap(), f64::INFINITY);
        let js = jensenshannon(&[1.0, 0.0], &[0.0, 1.0]).unwrap();
        assert!((js - 2.0_f64.ln().sqrt()).abs() < 1e-15);
        assert_eq!(jensenshannon(&[0.3, 0.7], &[0.3, 0.7]).unwrap(), 0.0);
        assert!(kl_div(&[0.0], &[0.0]).unwrap().is_nan());
        assert!(jensenshannon(&[1.0], &[1.0, 2.0]).is_err());
    }

    #[test]
    fn hellinger_known_values() {
        assert_eq!(hellinger_categorical(&[5, 0], &[0, 3]).unwrap(), 1.0);
        assert_eq!(hellinger_categorical(&[2, 2], &[1, 1]).unwrap(), 0.0);
        assert_eq!(
            hellinger_categorical(&[0, 0], &[1, 1]),
            Err(StatsError::Empty)
        );
        // Evidently on pd.Series([1, 2, 3]) vs pd.Series([1, 2, 2]): 0.0 (int floor).
        let h = hellinger_numerical(&[1.0, 2.0, 3.0], &[1.0, 2.0, 2.0], true).unwrap();
        assert_eq!(h, 0.0);
        assert!(hellinger_numerical(&[], &[1.0], false).is_err());
        assert!(hellinger_binned(&[0.0, 1.0], &[1, 2], &[1]).is_err());
        let _ = hellinger_numerical(&[f64::NAN], &[1.0], false);
    }
}
