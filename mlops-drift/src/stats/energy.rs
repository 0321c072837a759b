//! Energy distance between two samples (Evidently's `ed` stattest).
//!
//! [`energy_distance`] is `scipy.stats.energy_distance(u, v)` (unweighted), which Evidently's
//! `energy_distance.py` returns as its score: for one-dimensional samples it equals
//! `sqrt(2) · sqrt(∫ (U(x) − V(x))² dx)`, the integral taken over the pooled sorted values
//! with the empirical CDFs `U(x) = #{u_i <= x} / n_u`. One linear merge, no allocation.

use super::binning::{CompensatedSum, StatsError, StatsResult};
use super::wasserstein::for_each_cdf_gap;

/// `scipy.stats.energy_distance(u, v)` for sorted (ascending, finite) samples:
/// `sqrt(2) · sqrt(Σ (U(x_k) − V(x_k))² · (x_k+1 − x_k))`. `O(n_u + n_v)`.
///
/// # Errors
///
/// [`StatsError::Empty`] when a sample is empty (scipy raises).
pub fn energy_distance(sorted_u: &[f64], sorted_v: &[f64]) -> StatsResult<f64> {
    if sorted_u.is_empty() || sorted_v.is_empty() {
        return Err(StatsError::Empty);
    }
    let mut sum = CompensatedSum::default();
    for_each_cdf_gap(sorted_u, sorted_v, |a, b, delta| {
        let d = a - b;
        sum.add(d * d * delta);
    });
    Ok(std::f64::consts::SQRT_2 * sum.value().sqrt())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_values() {
        // scipy.stats.energy_distance([0], [2]) == 2.0
        assert!((energy_distance(&[0.0], &[2.0]).unwrap() - 2.0).abs() < 1e-15);
        // By hand: on [0, 1) the CDFs are 1/2 and 1/3, on [1, 8) they are 1/2 and 1.
        let d = energy_distance(&[0.0, 8.0], &[0.0, 1.0, 1.0]).unwrap();
        let exact = (2.0_f64 * ((1.0 / 6.0_f64).powi(2) + 7.0 * 0.25)).sqrt();
        assert!((d - exact).abs() < 1e-15);
        assert_eq!(energy_distance(&[1.0, 2.0], &[1.0, 2.0]).unwrap(), 0.0);
        assert_eq!(energy_distance(&[1.0], &[]), Err(StatsError::Empty));
    }
}
