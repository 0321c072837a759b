//! The Kolmogorov distributions: the two-sided one-sample statistic `D_n` for finite `n`
//! (scipy's `kstwo`), its limit `sqrt(n) D_n -> K` (scipy's `kstwobign`, `special.kolmogorov`),
//! and the one-sided Smirnov statistic `D_n^+` (`special.smirnov`).
//!
//! These give the asymptotic p-value of the two-sample test: scipy's `ks_2samp` with
//! `method="asymp"` returns `kstwo.sf(D, round(n1 n2 / (n1 + n2)))`, the *finite-n*
//! distribution at the effective sample size, not the limit `K` (which is off by
//! `O(1/sqrt(n))`: 1.7% at 10000 vs 10000).
//!
//! # `kstwo` at finite `n`: Simard and L'Ecuyer (2011)
//!
//! [`kstwo_cdf`] and [`kstwo_sf`] follow the choice of algorithm of Simard and L'Ecuyer,
//! "Computing the Two-Sided Kolmogorov-Smirnov Distribution" (J. Stat. Softw. 39(11), 2011),
//! with scipy 1.17's cut-offs, so that they reproduce `scipy.stats.kstwo.cdf/sf` (the
//! algorithm switches are where results could otherwise differ). With `t = n d`:
//!
//! | region | method |
//! |---|---|
//! | `d <= 1/(2n)` | CDF 0 |
//! | `t <= 1` | Ruben–Gambino exact: `CDF = n!/n^n (2t - 1)^n` (a product for `n <= 140`, Stirling's series for the log otherwise) |
//! | `t >= n - 1` | Ruben–Gambino exact: `SF = 2 (1 - d)^n` |
//! | `d >= 0.5` | exact: `SF = 2 P(D_n^+ >= d)` (the two one-sided events are disjoint) |
//! | `n <= 140`, `n d^2 <= 0.754693` | Durbin matrix (exact) |
//! | `n <= 140`, `n d^2 <= 4` | Pomeranz recursion (exact) |
//! | `n <= 140`, otherwise | `SF = 2 P(D_n^+ >= d)` (Miller's approximation) |
//! | `n > 140`, SF, `n d^2 >= 370` | SF 0 (below `1e-300`) |
//! | `n > 140`, SF, `n d^2 >= 2.2` | `SF = 2 P(D_n^+ >= d)` (Miller) |
//! | `n > 140`, `n d^2 >= 18` | CDF 1 |
//! | `n > 140`, `n <= 100000` and `n d^(3/2) <= 1.4` | Durbin matrix (exact) |
//! | `n > 140`, otherwise | Pelz–Good asymptotic series (to `O(n^-3/2)`) |
//!
//! Where the CDF is computed, the SF is `1 - CDF` and conversely; both are clipped to `[0,1]`.
//!
//! # Accuracy
//!
//! Against scipy: the same algorithms run in the same regions, so only rounding differs.
//! Over the fixture grid (`tests/fixtures/ks.json`: 1084 points, n from 1 to 10^9, every
//! switch and one ulp either side) the largest relative difference is `1.2e-12`, where the SF
//! is formed as `1 - CDF` and the CDF's last-bit differences are amplified (n = 100,
//! d = 0.2, SF = 5.6e-4); it is below `1e-14` almost everywhere.
//!
//! Against the true distribution (which scipy does not always reach; we keep its numbers
//! for parity): the exact methods (Ruben–Gambino, Durbin, Pomeranz, the Smirnov sum) carry
//! only rounding errors, about `1e-14` relative. Miller's approximation `2 P(D_n^+ >= d)`
//! drops `P(D_n^+ >= d, D_n^- >= d)`, about `2 exp(-8 n d^2)`, a relative error near
//! `exp(-6 n d^2)`: below `4e-11` where it is used for `n <= 140` (`n d^2 > 4`), but up to
//! `1.9e-6` relative (`5e-8` absolute) just above `n d^2 = 2.2` for `n > 140`. Pelz–Good
//! is an asymptotic expansion to `O(n^-3/2)`; measured against an exact 40-digit Durbin
//! evaluation its absolute error on the SF reaches `2.5e-6` at `n = 141` (`sqrt(n) d = 0.6`),
//! `5.6e-7` at `n = 300` and about `1e-8` at `n = 1000`, falling roughly like `1/n^2`. For
//! `n > 10^6` the Smirnov tail is scipy's closed-form approximation (see [`smirnov_sf`]):
//! `1.2e-6` relative at `sqrt(n) d = 1.5`, growing to about 1% at `sqrt(n) d = 13`
//! (p near `1e-147`); at most `1.3e-8` absolute.
//!
//! # Cost
//!
//! Measured in release builds on one core of the development machine. Closed forms and
//! Pelz–Good are `O(1)` (at most 22 series terms). Durbin costs `O(m^3 log n)` with
//! `m = 2 ceil(n d) - 1 <= 117`: at most about 7 ms, near `n = 100000` and tiny `d`, where the
//! p-value is essentially 1. Pomeranz is only used for `n <= 140` (under 0.1 ms). The Smirnov
//! sum has at most `min(n, 10^6)` terms at about 85 ns each: 8 ms for `n = 10^5`, 45 ms for
//! `n = 5 * 10^5` and 85 ms for `n = 10^6` in the worst case (scipy 1.17 takes 0.08, 0.39 and
//! 0.8 s).
//!
//! # Domain
//!
//! Nothing here panics or loops forever. NaN `d` or `n == 0` gives NaN (as scipy does);
//! `d <= 1/(2n)` gives SF 1 and `d >= 1` gives SF 0. For `n` beyond `2^53` the count is
//! rounded to `f64` in the formulas.

mod dd;
mod exact;
mod smirnov;

pub use smirnov::{smirnov_cdf, smirnov_sf};

use std::f64::consts::PI;

/// `n` up to which the Ruben–Gambino lower edge is a direct product, and the boundary
/// between the small-`n` and large-`n` rules.
const SMALL_N: u64 = 140;
/// Durbin is used for `n <= 140` below this `n d^2`.
const SMALL_N_DURBIN_MAX_NDSQ: f64 = 0.754_693;
/// Pomeranz is used for `n <= 140` below this `n d^2`.
const SMALL_N_POMERANZ_MAX_NDSQ: f64 = 4.0;
/// For `n > 140`, the SF is 0 from this `n d^2` on.
const LARGE_N_SF_ZERO_NDSQ: f64 = 370.0;
/// For `n > 140`, the SF comes from the Smirnov tail from this `n d^2` on.
const LARGE_N_SF_SMIRNOV_NDSQ: f64 = 2.2;
/// For `n > 140`, the CDF is 1 from this `n d^2` on.
const LARGE_N_CDF_ONE_NDSQ: f64 = 18.0;
/// Durbin is used for `140 < n <= 100000` while `n d^1.5 <= 1.4`.
const LARGE_N_DURBIN_MAX_N: u64 = 100_000;
const LARGE_N_DURBIN_MAX_ND15: f64 = 1.4;

/// Which tail the caller wants.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Tail {
    Cdf,
    Sf,
}

/// Picks the requested tail from a (CDF, SF) pair and clips it to `[0, 1]` (NaN stays NaN).
fn select(tail: Tail, cdf: f64, sf: f64) -> f64 {
    let p = match tail {
        Tail::Cdf => cdf,
        Tail::Sf => sf,
    };
    p.clamp(0.0, 1.0)
}

/// Survival function of the two-sided one-sample Kolmogorov–Smirnov statistic for a sample
/// of size `n`: `P(D_n >= d)`, exactly what `scipy.stats.kstwo.sf(d, n)` computes.
///
/// This is the two-sample asymptotic p-value at `n = round(n1 n2 / (n1 + n2))`. NaN for
/// NaN `d` or `n == 0`; 1 for `d <= 1/(2n)`; 0 for `d >= 1`. See the [module
/// docs](self) for the algorithms, their accuracy and cost.
///
/// ```
/// use mlops_drift::stats::kolmogorov::kstwo_sf;
///
/// // ks_2samp(method="asymp") for 20 vs 20 samples with D = 0.3 uses n = 10.
/// assert!((kstwo_sf(0.3, 10) - 0.270_535_574_8).abs() < 1e-9);
/// assert_eq!(kstwo_sf(0.0, 10), 1.0);
/// assert_eq!(kstwo_sf(1.0, 10), 0.0);
/// assert!(kstwo_sf(0.5, 0).is_nan());
/// ```
#[must_use]
pub fn kstwo_sf(d: f64, n: u64) -> f64 {
    kstwo(n, d, Tail::Sf)
}

/// CDF of the two-sided one-sample Kolmogorov–Smirnov statistic: `P(D_n <= d)`, exactly
/// what `scipy.stats.kstwo.cdf(d, n)` computes. Same domain and guarantees as
/// [`kstwo_sf`]; note that, as in scipy, `kstwo_cdf + kstwo_sf` can differ from 1 by the
/// approximation error where the two use different methods (`140 < n`, `2.2 <= n d^2 < 18`).
#[must_use]
pub fn kstwo_cdf(d: f64, n: u64) -> f64 {
    kstwo(n, d, Tail::Cdf)
}

/// scipy's `kstwo` wrapper around the dispatcher: support `[1/(2n), 1]`, NaN outside the
/// parameter domain.
fn kstwo(n: u64, d: f64, tail: Tail) -> f64 {
    if n == 0 || d.is_nan() {
        return f64::NAN;
    }
    let lower_edge = 0.5 / n as f64;
    if d <= lower_edge {
        return select(tail, 0.0, 1.0);
    }
    if d >= 1.0 {
        return select(tail, 1.0, 0.0);
    }
    kolmogorov_n(n, d, tail)
}

/// The Simard–L'Ecuyer dispatcher (see the table in the module docs).
fn kolmogorov_n(n: u64, x: f64, tail: Tail) -> f64 {
    if x >= 1.0 {
        return select(tail, 1.0, 0.0);
    }
    if x <= 0.0 {
        return select(tail, 0.0, 1.0);
    }
    let nf = n as f64;
    let t = nf * x;
    if t <= 1.0 {
        if t <= 0.5 {
            return select(tail, 0.0, 1.0);
        }
        let cdf = ruben_gambino_lower(n, t);
        return select(tail, cdf, 1.0 - cdf);
    }
    if t >= nf - 1.0 {
        let sf = 2.0 * (1.0 - x).powf(nf);
        return select(tail, 1.0 - sf, sf);
    }
    if x >= 0.5 {
        let sf = 2.0 * smirnov_sf(n, x);
        return select(tail, 1.0 - sf, sf);
    }
    let ndsq = t * x;
    if n <= SMALL_N {
        let cdf = if ndsq <= SMALL_N_DURBIN_MAX_NDSQ {
            exact::durbin_cdf(n, x)
        } else if ndsq <= SMALL_N_POMERANZ_MAX_NDSQ {
            exact::pomeranz_cdf(n, x)
        } else {
            let sf = 2.0 * smirnov_sf(n, x);
            return select(tail, 1.0 - sf, sf);
        };
        return select(tail, cdf, 1.0 - cdf);
    }
    if tail == Tail::Sf {
        if ndsq >= LARGE_N_SF_ZERO_NDSQ {
            return 0.0;
        }
        if ndsq >= LARGE_N_SF_SMIRNOV_NDSQ {
            return (2.0 * smirnov_sf(n, x)).clamp(0.0, 1.0);
        }
    }
    let cdf = if ndsq >= LARGE_N_CDF_ONE_NDSQ {
        1.0
    } else if n <= LARGE_N_DURBIN_MAX_N && nf * x.powf(1.5) <= LARGE_N_DURBIN_MAX_ND15 {
        exact::durbin_cdf(n, x)
    } else {
        pelz_good_cdf(n, x)
    };
    select(tail, cdf, 1.0 - cdf)
}

/// Ruben and Gambino (1982): for `1/(2n) < d <= 1/n` (`t = n d`),
/// `P(D_n <= d) = n!/n^n (2t - 1)^n`.
fn ruben_gambino_lower(n: u64, t: f64) -> f64 {
    let nf = n as f64;
    let base = 2.0 * t - 1.0;
    if n <= SMALL_N {
        let inv_n = 1.0 / nf;
        (1..=n).fold(1.0, |p, i| p * ((i as f64 * inv_n) * base))
    } else {
        (log_factorial_over_power(nf) + nf * base.ln()).exp()
    }
}

/// `ln(n!/n^n)` from Stirling's series, `n > 140`:
/// `ln(n)/2 - n + ln(2 pi)/2 + sum_j B_2j / (2j (2j - 1) n^(2j-1))`, with eight terms
/// (the first omitted term is below `1e-40` for `n > 140`).
fn log_factorial_over_power(n: f64) -> f64 {
    // B_2j / (2j (2j - 1)) for j = 8 down to 1 (B_2j the Bernoulli numbers).
    const COEFFS: [f64; 8] = [
        -3617.0 / 122_400.0,
        1.0 / 156.0,
        -691.0 / 360_360.0,
        1.0 / 1188.0,
        -1.0 / 1680.0,
        1.0 / 1260.0,
        -1.0 / 360.0,
        1.0 / 12.0,
    ];
    let r = 1.0 / n;
    let r2 = r / n;
    let series = COEFFS.iter().fold(0.0, |acc, &c| acc * r2 + c);
    n.ln() / 2.0 - n + (2.0 * PI).ln() / 2.0 + r * series
}

/// The Pelz–Good (1976) asymptotic expansion of `P(D_n <= d)`:
/// `K0(z) + K1(z)/sqrt(n) + K2(z)/n + K3(z)/n^1.5` at `z = sqrt(n) d`, with each `K_i` in the
/// Jacobi-theta-transformed form that converges fast for small `z` (sums over odd integers
/// of polynomials times `exp(-(2k-1)^2 pi^2 / (8 z^2))`, plus sums over all integers with
/// `exp(-k^2 pi^2 / (2 z^2))` in `K2` and `K3`). `ceil(16 z / pi)` terms are taken.
fn pelz_good_cdf(n: u64, x: f64) -> f64 {
    if x <= 0.0 {
        return 0.0;
    }
    if x >= 1.0 {
        return 1.0;
    }
    let nf = n as f64;
    let z = nf.sqrt() * x;
    let z2 = z * z;
    let z3 = z2 * z;
    let z4 = z2 * z2;
    let z6 = z4 * z2;
    let pi2 = PI * PI;
    let pi4 = pi2 * pi2;
    let pi6 = pi4 * pi2;
    let log_q = -pi2 / 8.0 / z2;
    if log_q < -708.0 {
        return 0.0;
    }
    let q = log_q.exp();

    let k1a = -z2;
    let k1b = pi2 / 4.0;
    let k2a = 6.0 * z6 + 2.0 * z4;
    let k2b = (2.0 * z4 - 5.0 * z2) * pi2 / 4.0;
    let k2c = pi4 * (1.0 - 2.0 * z2) / 16.0;
    let k3d = pi6 * (5.0 - 30.0 * z2) / 64.0;
    let k3c = pi4 * (-60.0 * z2 + 212.0 * z4) / 16.0;
    let k3b = pi2 * (135.0 * z4 - 96.0 * z6) / 4.0;
    let k3a = -30.0 * z6 - 90.0 * z4 * z4;

    // Sum over odd m = 2k - 1 of c_i(m) q^(m^2) = q * sum_k c_i(2k-1) q^(4k(k-1)), by Horner
    // in the ratios q^(8k).
    let max_k = (16.0 * z / PI).ceil().max(0.0) as u64;
    let mut big_k = [0.0f64; 4];
    for k in (1..=max_k).rev() {
        let m = (2 * k - 1) as f64;
        let m2 = m * m;
        let m4 = m2 * m2;
        let m6 = m4 * m2;
        let q_pow = q.powf(8.0 * k as f64);
        let coeffs = [
            1.0,
            k1a + k1b * m2,
            k2a + k2b * m2 + k2c * m4,
            k3a + k3b * m2 + k3c * m4 + k3d * m6,
        ];
        for (acc, c) in big_k.iter_mut().zip(coeffs) {
            *acc = *acc * q_pow + c;
        }
    }
    let sqrt_2pi = (2.0 * PI).sqrt();
    let denominators = [z, 6.0 * z4, 72.0 * z6 * z, 6480.0 * z6 * z4];
    for (acc, den) in big_k.iter_mut().zip(denominators) {
        *acc = *acc * q * sqrt_2pi / den;
    }

    // The sums over all integers k in K2 and K3.
    let q2 = (-pi2 / 2.0 / z2).exp();
    let sqrt3_z = 3.0f64.sqrt() * z;
    let mut k2_extra = 0.0;
    let mut k3_extra = 0.0;
    for k in (1..=max_k).rev() {
        let kf = k as f64;
        let k_sq = kf * kf;
        let weight = k_sq * q2.powf(k_sq);
        let k_pi = PI * kf;
        k2_extra += weight;
        k3_extra += (sqrt3_z + k_pi) * (sqrt3_z - k_pi) * weight;
    }
    big_k[2] += k2_extra * pi2 * sqrt_2pi / (-36.0 * z3);
    big_k[3] += k3_extra * pi2 * sqrt_2pi / (216.0 * z6);

    let root_n = nf.sqrt();
    big_k[0] + big_k[1] / root_n + big_k[2] / nf + big_k[3] / (nf * root_n)
}

/// Survival function of the Kolmogorov distribution, the limit of `sqrt(n) D_n`:
/// `P(K > x) = 2 sum_{k>=1} (-1)^(k-1) exp(-2 k^2 x^2)`, exactly what
/// `scipy.special.kolmogorov(x)` (= `scipy.stats.kstwobign.sf(x)`) computes.
///
/// Uses the alternating series above for `x > 0.82` (four terms reach full precision) and
/// the Jacobi-transformed series `CDF = sqrt(2 pi)/x sum_{k>=1} exp(-(2k-1)^2 pi^2/(8x^2))`
/// below (four terms as well). Accurate to a few ulps. `x <= 0` gives 1 (and terminates,
/// unlike a naive series), NaN gives NaN, `+inf` gives 0.
///
/// ```
/// use mlops_drift::stats::kolmogorov::kolmogorov_limit_sf;
///
/// assert_eq!(kolmogorov_limit_sf(0.0), 1.0);
/// assert!((kolmogorov_limit_sf(1.0) - 0.269_999_671_677_354_56).abs() < 1e-15);
/// assert_eq!(kolmogorov_limit_sf(f64::INFINITY), 0.0);
/// ```
#[must_use]
pub fn kolmogorov_limit_sf(x: f64) -> f64 {
    kolmogorov_limit(x).1
}

/// CDF of the Kolmogorov distribution: `1 - kolmogorov_limit_sf(x)` computed without
/// cancellation for small `x` (scipy's `special.kolmogc`, `kstwobign.cdf`).
#[must_use]
pub fn kolmogorov_limit_cdf(x: f64) -> f64 {
    kolmogorov_limit(x).0
}

/// (CDF, SF) of the Kolmogorov limit distribution.
fn kolmogorov_limit(x: f64) -> (f64, f64) {
    /// Below this the CDF underflows: `exp(-pi^2 / (8 x^2)) < e^-746`.
    const MIN_EXPONENT: f64 = -746.0;
    /// Switch between the two series.
    const CUTOVER: f64 = 0.82;
    if x.is_nan() {
        return (f64::NAN, f64::NAN);
    }
    if x <= 0.0 || x <= PI / (-8.0 * MIN_EXPONENT).sqrt() {
        return (0.0, 1.0);
    }
    let (cdf, sf) = if x <= CUTOVER {
        // CDF = w u (1 + u^8 + u^24 + u^48 + ...), u = exp(-pi^2/(8x^2)), w = sqrt(2 pi)/x.
        let w = (2.0 * PI).sqrt() / x;
        let log_u8 = -PI * PI / (x * x);
        let u = (log_u8 / 8.0).exp();
        let cdf = if u == 0.0 {
            (log_u8 / 8.0 + w.ln()).exp()
        } else {
            let u8 = log_u8.exp();
            let u16 = u8 * u8;
            let u24 = u16 * u8;
            // Exponents (2k-1)^2 - 1 for k = 1..4: 0, 8, 24, 48.
            w * u * (1.0 + u8 * (1.0 + u16 * (1.0 + u24)))
        };
        (cdf, 1.0 - cdf)
    } else {
        // SF = 2 (v - v^4 + v^9 - v^16 + ...) = 2v (1 - v^3 (1 - v^5 (1 - v^7))), v = exp(-2x^2).
        let v = (-2.0 * x * x).exp();
        let v3 = v * v * v;
        let v5 = v3 * v * v;
        let v7 = v5 * v * v;
        let sf = 2.0 * v * (1.0 - v3 * (1.0 - v5 * (1.0 - v7)));
        (1.0 - sf, sf)
    };
    (cdf.clamp(0.0, 1.0), sf.clamp(0.0, 1.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limit_terminates_at_zero_and_edges() {
        assert_eq!(kolmogorov_limit_sf(0.0), 1.0);
        assert_eq!(kolmogorov_limit_sf(-3.0), 1.0);
        assert_eq!(kolmogorov_limit_sf(1e-300), 1.0);
        assert_eq!(kolmogorov_limit_cdf(0.0), 0.0);
        assert!(kolmogorov_limit_sf(f64::NAN).is_nan());
        assert_eq!(kolmogorov_limit_sf(f64::INFINITY), 0.0);
        assert_eq!(kolmogorov_limit_sf(40.0), 0.0);
    }

    #[test]
    fn limit_series_agree_at_the_cutover() {
        // Both series are valid everywhere; compare them on either side of 0.82.
        for &x in &[0.5f64, 0.7, 0.82, 0.9, 1.2] {
            let v: f64 = (-2.0 * x * x).exp();
            let alt = 2.0
                * (1..=20).fold(0.0, |acc, k| {
                    let kf = f64::from(k);
                    acc + if k % 2 == 1 { 1.0 } else { -1.0 } * v.powf(kf * kf)
                });
            assert!((kolmogorov_limit_sf(x) - alt).abs() < 1e-15, "x={x}");
        }
    }

    #[test]
    fn kstwo_domain_never_panics() {
        for &n in &[
            0u64,
            1,
            2,
            3,
            140,
            141,
            100_000,
            100_001,
            1_000_001,
            u64::MAX,
        ] {
            for &d in &[
                f64::NAN,
                f64::NEG_INFINITY,
                -1.0,
                0.0,
                1e-300,
                1e-9,
                0.001,
                0.3,
                0.5,
                0.999_999,
                1.0,
                2.0,
                f64::INFINITY,
            ] {
                let (sf, cdf) = (kstwo_sf(d, n), kstwo_cdf(d, n));
                if n == 0 || d.is_nan() {
                    assert!(sf.is_nan() && cdf.is_nan());
                } else {
                    assert!((0.0..=1.0).contains(&sf), "n={n} d={d} sf={sf}");
                    assert!((0.0..=1.0).contains(&cdf), "n={n} d={d} cdf={cdf}");
                }
            }
        }
    }

    #[test]
    fn n_one_is_uniform_on_half_to_one() {
        // D_1 = max(U, 1 - U) is uniform on [1/2, 1]: SF = 2 (1 - d).
        for &d in &[0.5, 0.6, 0.75, 0.9] {
            assert!((kstwo_sf(d, 1) - 2.0 * (1.0 - d)).abs() < 1e-15);
        }
        assert_eq!(kstwo_sf(0.25, 1), 1.0);
    }

    #[test]
    fn durbin_and_pomeranz_agree() {
        // Both are exact; compare them across the n <= 140 switch at n d^2 = 0.754693.
        for &(n, d) in &[
            (10u64, 0.2),
            (10, 0.3),
            (50, 0.1),
            (50, 0.15),
            (140, 0.07),
            (140, 0.1),
        ] {
            let a = exact::durbin_cdf(n, d);
            let b = exact::pomeranz_cdf(n, d);
            assert!(
                (a - b).abs() <= 1e-13 * a.max(1e-300),
                "n={n} d={d}: {a} vs {b}"
            );
        }
    }

    #[test]
    fn stirling_matches_direct_log_factorial() {
        let n = 150.0f64;
        let direct: f64 = (1..=150).map(|i| (f64::from(i) / n).ln()).sum();
        assert!((log_factorial_over_power(n) - direct).abs() < 1e-12);
    }
}
