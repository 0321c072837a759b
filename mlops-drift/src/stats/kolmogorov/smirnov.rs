//! The one-sided Kolmogorov–Smirnov (Smirnov) distribution for finite `n`:
//! `smirnov_sf(n, d) = P(D_n^+ >= d)`, the quantity `scipy.special.smirnov(n, d)` returns.
//!
//! # Algorithm
//!
//! The Smirnov (1944) / Birnbaum–Tingey (1951) formula is a finite sum of positive terms:
//!
//! ```text
//! P(D_n^+ >= d) = d * sum_{v=0}^{floor(n(1-d))} A_v,
//! A_v = C(n, v) (d + v/n)^(v-1) (1 - d - v/n)^(n-v).
//! ```
//!
//! The same sum over the remaining indices `v > n(1-d)` gives the CDF (Dwass 1959); its terms
//! alternate in sign, so it is used only when it has at most three terms and `d` is small
//! (`d <= 0.5 / sqrt(n)`), as in van Mulbregt (2018), which scipy follows.
//!
//! Terms are carried as a mantissa times a separate power of two, since both the binomial
//! coefficient and the powers leave the `f64` range long before their product does. Every
//! 32nd term (and every term of the short CDF sum) is computed directly: the binomial
//! coefficient in double-double, updated incrementally, and the two powers with the library
//! `pow` on the leading part of the double-double base plus a second-order correction for
//! its trailing part, in chunks small enough that none underflows. The terms in between come
//! from the ratio of consecutive terms, which needs two `ln_1p`, one `exp` and a few flops
//! (see `next_lower_term`); the drift this allows over 31 steps is a few ulps. The sum stops
//! once the remaining terms cannot change it; it has at most `n(1-d)` terms, so up to about
//! 10^6 at about 85 ns each.
//!
//! Closed forms cover the edges: `d <= 1/n` gives `1 - d (1 + d)^(n-1)`, `d >= 1 - 1/n`
//! gives `(1 - d)^n`, and `2 n d^2 > 708.4` gives 0 (below the smallest normal `f64`).
//!
//! For `n > 10^6` scipy (and therefore this function, for parity) does not sum: it returns
//! the approximation `exp(-(6nd + 1)^2 / (18n))`, whose relative error is of order `1/n`
//! for moderate `sqrt(n) d` and grows with `n d^2` (it is the first terms of the asymptotic
//! expansion of `P(sqrt(n) D_n^+ >= t)` in powers of `1/sqrt(n)`).
//!
//! # Accuracy
//!
//! Away from the `n > 10^6` approximation, the result is accurate to a few units in the last
//! place: every term carries a relative error of a few ulps (direct terms: the library
//! `pow`, whose error the chunking multiplies by at most `n d^2 / 1000 + 1`; recurrence
//! terms: at most 31 ratio steps of about one ulp each), and all terms have the same sign.
//! The upper (CDF) sum is used only where cancellation is at most a few bits. Tests compare
//! the recurrence with all-direct evaluation (within `1e-13`, observed 1 ulp) and scipy
//! (`2e-16` observed).

use super::dd::{Dd, frexp, ldexp};

/// Beyond this `n`, scipy uses an approximation instead of the sum.
const MAX_EXACT_N: u64 = 1_000_000;
/// `ln(2^-1022)`: `exp` of anything smaller is not a normal `f64`.
const MIN_LOG: f64 = -708.396_418_532_264_1;
/// Largest binary exponent magnitude a single `pow` chunk may reach (keeps both parts of a
/// double-double in the normal range).
const MAX_CHUNK_EXPONENT: f64 = 960.0;

/// Survival function and CDF, computed together.
#[derive(Clone, Copy, Debug)]
pub(super) struct SmirnovProbs {
    pub(super) sf: f64,
    pub(super) cdf: f64,
}

impl SmirnovProbs {
    fn from_sf(sf: f64) -> Self {
        Self { sf, cdf: 1.0 - sf }
    }

    fn from_cdf(cdf: f64) -> Self {
        Self { sf: 1.0 - cdf, cdf }
    }

    fn clamped(self) -> Self {
        Self {
            sf: self.sf.clamp(0.0, 1.0),
            cdf: self.cdf.clamp(0.0, 1.0),
        }
    }
}

/// The one-sided Smirnov survival function `P(D_n^+ >= d)` for a sample of size `n`: exactly
/// `scipy.special.smirnov(n, d)`.
///
/// Returns NaN when `d` is NaN, `n == 0` or `d` lies outside `[0, 1]`; `n == 1` gives `1 - d`.
/// For `n > 10^6` this is scipy's closed-form approximation (see the [module
/// docs](crate::stats::kolmogorov)); otherwise it is the exact finite sum. Never panics and
/// always terminates: the cost is at most `O(min(n, 10^6))` terms.
///
/// ```
/// use mlops_drift::stats::kolmogorov::smirnov_sf;
///
/// assert!((smirnov_sf(10, 0.2) - 0.396_761_691_6).abs() < 1e-12);
/// assert_eq!(smirnov_sf(5, 0.0), 1.0);
/// assert_eq!(smirnov_sf(5, 1.0), 0.0);
/// assert!(smirnov_sf(0, 0.5).is_nan());
/// ```
#[must_use]
pub fn smirnov_sf(n: u64, d: f64) -> f64 {
    smirnov(n, d).sf
}

/// The one-sided Smirnov CDF `P(D_n^+ < d)`: `scipy.special.smirnovc(n, d)`. Same domain,
/// algorithm and guarantees as [`smirnov_sf`].
#[must_use]
pub fn smirnov_cdf(n: u64, d: f64) -> f64 {
    smirnov(n, d).cdf
}

/// `a^m` in double-double, for `a` of either sign: the library `pow` on `a.hi` (accurate to
/// about one ulp) times `(1 + a.lo/a.hi)^m` expanded to second order.
fn pow_dd(a: Dd, m: u64) -> Dd {
    if m == 0 {
        return Dd::new(1.0);
    }
    if a.hi == 0.0 {
        return Dd::new(0.0);
    }
    let mf = m as f64;
    let leading = a.hi.powf(mf);
    let r = a.lo / a.hi;
    let mr = mf * r;
    let adjust = if mr.abs() < 1e-4 {
        mr + mr * ((mf - 1.0) * 0.5 * r)
    } else {
        (mf * r.ln_1p()).exp_m1()
    };
    Dd::new(leading) + leading * adjust
}

/// `a^m` as `(mantissa, exponent)` with `a^m = mantissa * 2^exponent` and the mantissa's
/// leading part in `[0.5, 1)` in magnitude (or zero), so that results far below the `f64`
/// range stay representable.
fn pow_scaled(a: Dd, m: u64) -> (Dd, i64) {
    if m == 0 {
        return (Dd::new(0.5), 1);
    }
    let (y, y_exp) = a.frexp();
    if y.hi == 0.0 {
        return (Dd::new(0.0), 0);
    }
    let negative = y.hi < 0.0 && m % 2 == 1;
    let y = if y.hi < 0.0 { -y } else { y };
    let (mantissa, exponent) = pow_unit(y, m);
    let m_i = i64::try_from(m).unwrap_or(i64::MAX);
    let exponent = exponent.saturating_add(m_i.saturating_mul(y_exp));
    (if negative { -mantissa } else { mantissa }, exponent)
}

/// `y^m` for `y` in `[0.5, 1)`, as `(mantissa, exponent)`. Splits `m` into chunks `c` with
/// `y^c >= 2^-960`: `y^m = (y^c)^q * y^r`, recursing on the normalised `y^c` (each level
/// divides the exponent by at least 960, so the depth is at most 7).
fn pow_unit(y: Dd, m: u64) -> (Dd, i64) {
    let mf = m as f64;
    // Cheap sufficient test first: ln(y) >= (y - 1) / y.
    let fits = mf * (y.hi - 1.0) / y.hi >= -MAX_CHUNK_EXPONENT * std::f64::consts::LN_2
        || mf * y.hi.log2() >= -MAX_CHUNK_EXPONENT;
    if fits {
        return pow_dd(y, m).frexp();
    }
    // y.hi < 1, so log2 < 0; y.hi >= 0.5 (up to a tiny low part), so the chunk is >= 960.
    let chunk_f = (MAX_CHUNK_EXPONENT / -y.hi.log2()).floor().max(1.0);
    let chunk = if chunk_f >= mf { m } else { chunk_f as u64 };
    if chunk >= m {
        return pow_dd(y, m).frexp();
    }
    let (quotient, remainder) = (m / chunk, m % chunk);
    let (y_chunk, e_chunk) = pow_dd(y, chunk).frexp();
    let (y_q, e_q) = pow_unit(y_chunk, quotient);
    let (y_r, e_r) = pow_dd(y, remainder).frexp();
    let (product, e_p) = (y_q * y_r).frexp();
    let q_i = i64::try_from(quotient).unwrap_or(i64::MAX);
    let exponent = e_p
        .saturating_add(e_q)
        .saturating_add(e_chunk.saturating_mul(q_i))
        .saturating_add(e_r);
    (product, exponent)
}

/// A binomial coefficient `C(n, j)` kept as a normalised double-double mantissa and an
/// exponent (it overflows `f64` for `n` beyond about 1030).
struct Binomial {
    mantissa: Dd,
    exponent: i64,
}

impl Binomial {
    fn one() -> Self {
        Self {
            mantissa: Dd::new(1.0),
            exponent: 0,
        }
    }

    /// `C(n, j)` becomes `C(n, j + 1)`.
    fn step(&mut self, n: u64, j: u64) {
        let ratio = Dd::new((n - j) as f64) / ((j + 1) as f64);
        let (mantissa, e) = (self.mantissa * ratio).frexp();
        self.mantissa = mantissa;
        self.exponent += e;
    }
}

/// The Smirnov survival function and CDF; see [`smirnov_sf`].
pub(super) fn smirnov(n: u64, x: f64) -> SmirnovProbs {
    if !(n > 0 && (0.0..=1.0).contains(&x)) {
        return SmirnovProbs {
            sf: f64::NAN,
            cdf: f64::NAN,
        };
    }
    if n == 1 {
        return SmirnovProbs::from_sf(1.0 - x);
    }
    if x == 0.0 {
        return SmirnovProbs { sf: 1.0, cdf: 0.0 };
    }
    if x == 1.0 {
        return SmirnovProbs { sf: 0.0, cdf: 1.0 };
    }
    let nf = n as f64;
    // floor(n x) and the fractional part, exactly (n x is exact in double-double).
    let nx = Dd::new(x) * nf;
    let nx_floor = nx.floor();
    let mut alpha = (nx - nx_floor).hi;
    let mut nxfl = nx_floor.to_f64() as u64;
    if alpha >= 1.0 {
        nxfl += 1;
        alpha = 0.0;
    }

    // d <= 1/n: only the first term of the CDF sum.
    if nxfl == 0 || (nxfl == 1 && alpha == 0.0) {
        let t = pow_dd(Dd::new(1.0) + x, n - 1).to_f64();
        return SmirnovProbs::from_cdf(x * t);
    }
    if -2.0 * nf * x * x < MIN_LOG {
        return SmirnovProbs { sf: 0.0, cdf: 1.0 };
    }
    // d >= 1 - 1/n: only the first term of the survival sum.
    if nxfl >= n - 1 {
        return SmirnovProbs::from_sf(pow_dd(Dd::new(1.0) - x, n).to_f64());
    }
    if n > MAX_EXACT_N {
        let log_p = -(6.0 * nf * x + 1.0).powi(2) / 18.0 / nf;
        return if log_p < -std::f64::consts::LN_2 {
            SmirnovProbs::from_sf(log_p.exp())
        } else {
            SmirnovProbs::from_cdf(-log_p.exp_m1())
        };
    }
    summed(n, x, nxfl, alpha).clamped()
}

/// In the survival sum, every this many terms one is computed directly; the ones in between
/// come from the ratio recurrence (see [`next_lower_term`]).
const ANCHOR_EVERY: u64 = 32;

/// The finite sums, for `2 <= n <= 10^6` and `1/n < x < 1 - 1/n`.
fn summed(n: u64, x: f64, nxfl: u64, alpha: f64) -> SmirnovProbs {
    summed_with(n, x, nxfl, alpha, ANCHOR_EVERY)
}

/// [`summed`] with a chosen anchor spacing (1 computes every term directly).
fn summed_with(n: u64, x: f64, nxfl: u64, alpha: f64, anchor_every: u64) -> SmirnovProbs {
    let nf = n as f64;
    // Indices: the survival sum runs over v = 0..=last_lower, the CDF sum over
    // v = first_upper..=n. When n x is an integer, the term v = n(1 - x) is zero (lower)
    // or singular (upper) and is excluded from both.
    let (last_lower, first_upper) = if alpha == 0.0 {
        (n - nxfl - 1, n - nxfl + 1)
    } else {
        (n - nxfl - 1, n - nxfl)
    };
    let n_upper_terms = n - first_upper + 1;
    let use_upper =
        (n_upper_terms <= 1 && x < 0.5) || (n >= 10 && n_upper_terms <= 3 && x <= 0.5 / nf.sqrt());
    let n_terms = if use_upper {
        n_upper_terms
    } else {
        last_lower + 1
    };

    // First term (v = n for the upper sum, v = 0 for the lower one), without C(n, v) = 1.
    let mut sum = if use_upper {
        pow_dd(Dd::new(1.0) + x, n - 1)
    } else {
        pow_dd(Dd::new(1.0) - x, n) / x
    };
    let mut binomial = Binomial::one();
    binomial.step(n, 0);
    let v_mid = n / 2;
    let nd = Dd::new(x) * nf;
    // The current term as mantissa * 2^exponent (never underflows).
    let mut scaled = (0.0f64, 0i64);
    for j in 1..n_terms {
        let v = if use_upper { n - j } else { j };
        let term = if use_upper || (j - 1) % anchor_every.max(1) == 0 {
            let (mantissa, exponent) = term_scaled(n, x, v, &binomial);
            let (m, e) = frexp(mantissa.to_f64());
            scaled = (m, exponent + e);
            mantissa.ldexp(exponent)
        } else {
            scaled = next_lower_term(n, v, nd, scaled);
            Dd::new(ldexp(scaled.0, scaled.1))
        };
        if term.is_finite() && term.hi != 0.0 {
            sum = sum + term;
        }
        if term.hi != 0.0 {
            let remaining = (n_terms - j) as f64;
            if 4.0 * remaining * term.hi.abs() < f64::EPSILON * sum.hi && j != n_terms - 1 {
                break;
            }
        } else if j > v_mid {
            break;
        }
        binomial.step(n, j);
    }
    let prob = (sum * x).to_f64();
    if use_upper {
        SmirnovProbs::from_cdf(prob)
    } else {
        SmirnovProbs::from_sf(prob)
    }
}

/// `A_v = C(n, v) (x + v/n)^(v-1) (1 - x - v/n)^(n-v)` for `1 <= v <= n`, with `C(n, v)`
/// given, as a double-double mantissa and a power of two.
fn term_scaled(n: u64, x: f64, v: u64, binomial: &Binomial) -> (Dd, i64) {
    let nf = n as f64;
    let base_hi = Dd::new(v as f64) / nf + x;
    let base_lo = Dd::new((n - v) as f64) / nf - x;
    let (p_hi, e_hi) = pow_scaled(base_hi, v - 1);
    let (p_lo, e_lo) = pow_scaled(base_lo, n - v);
    let mantissa = p_hi * p_lo * binomial.mantissa;
    (mantissa, binomial.exponent + e_hi + e_lo)
}

/// `A_v` from `A_{v-1}` in the survival sum (`2 <= v < n(1 - x)`), both as
/// `(mantissa, exponent)`. With `a = n x + v - 1` and `b = n - n x - v + 1` (so that
/// `x + (v-1)/n = a/n` and `1 - x - (v-1)/n = b/n`):
///
/// ```text
/// A_v / A_{v-1} = (n - v + 1)/v * (a + 1)/b * exp((v - 2) ln(1 + 1/a) + (n - v) ln(1 - 1/b)).
/// ```
///
/// Both logarithms are of the form `m ln(1 + u)` with `m |u|` of order one over the terms
/// that matter, so the ratio is accurate to a few ulps; the drift over the
/// [`ANCHOR_EVERY`] steps between directly computed terms stays below `1e-13` relative.
fn next_lower_term(n: u64, v: u64, nd: Dd, (mantissa, exponent): (f64, i64)) -> (f64, i64) {
    let a = (nd + (v - 1) as f64).to_f64();
    let a_next = (nd + v as f64).to_f64();
    let b = (Dd::new((n - v + 1) as f64) - nd).to_f64();
    let vf = v as f64;
    let log_power = (vf - 2.0) * (1.0 / a).ln_1p() + (n - v) as f64 * (-1.0 / b).ln_1p();
    let factor = ((n - v + 1) as f64 * a_next) / (vf * b) * log_power.exp();
    let (m, e) = frexp(mantissa * factor);
    (m, exponent + e)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pow_scaled_matches_logs_far_below_the_f64_range() {
        // 0.3^5000 = 2^(5000 log2 0.3), far below 1e-308.
        let (m, e) = pow_scaled(Dd::new(0.3), 5000);
        let log2 = m.to_f64().log2() + e as f64;
        let expected = 5000.0 * 0.3f64.log2();
        assert!((log2 - expected).abs() < 1e-9, "{log2} vs {expected}");
        // Odd powers of negative bases are negative.
        let (m, _) = pow_scaled(Dd::new(-0.3), 3);
        assert!(m.hi < 0.0);
        let (m, e) = pow_scaled(Dd::new(-0.5), 2);
        assert_eq!(ldexp(m.to_f64(), e), 0.25);
    }

    #[test]
    fn recurrence_matches_direct_terms() {
        for &(n, x) in &[
            (50u64, 0.2),
            (1000, 0.05),
            (1000, 0.3),
            (20_000, 0.0105),
            (20_000, 0.03),
            (200_000, 0.004),
        ] {
            let nx = Dd::new(x) * n as f64;
            let fl = nx.floor();
            let (nxfl, alpha) = (fl.to_f64() as u64, (nx - fl).hi);
            let fast = summed_with(n, x, nxfl, alpha, ANCHOR_EVERY).sf;
            let direct = summed_with(n, x, nxfl, alpha, 1).sf;
            let rel = (fast - direct).abs() / direct;
            assert!(rel < 1e-13, "n={n} x={x}: {fast:e} vs {direct:e} ({rel:e})");
        }
    }

    #[test]
    fn domain_never_panics() {
        for &n in &[0u64, 1, 2, 3, 10, 141, 1_000_001, 1 << 40, u64::MAX] {
            for &d in &[
                f64::NAN,
                -1.0,
                0.0,
                1e-300,
                1e-9,
                1e-3,
                0.3,
                0.5,
                0.999,
                1.0,
                2.0,
            ] {
                let (sf, cdf) = (smirnov_sf(n, d), smirnov_cdf(n, d));
                if n == 0 || !(0.0..=1.0).contains(&d) {
                    assert!(sf.is_nan() && cdf.is_nan(), "n={n} d={d}");
                } else {
                    assert!((0.0..=1.0).contains(&sf), "n={n} d={d} sf={sf}");
                    assert!((0.0..=1.0).contains(&cdf), "n={n} d={d} cdf={cdf}");
                }
            }
        }
    }

    #[test]
    fn edges() {
        assert!(smirnov_sf(3, f64::NAN).is_nan());
        assert!(smirnov_sf(3, -0.1).is_nan());
        assert!(smirnov_sf(3, 1.1).is_nan());
        assert_eq!(smirnov_sf(1, 0.25), 0.75);
        // d <= 1/n: 1 - d (1 + d)^(n - 1).
        let d: f64 = 0.05;
        assert!((smirnov_sf(10, d) - (1.0 - d * (1.0 + d).powi(9))).abs() < 1e-15);
        // d >= 1 - 1/n: (1 - d)^n.
        assert!((smirnov_sf(10, 0.95) - 0.05f64.powi(10)).abs() < 1e-25);
        assert_eq!(smirnov_sf(1000, 0.9), 0.0);
    }

    #[test]
    fn matches_a_direct_small_n_sum() {
        // Plain f64 evaluation of the Birnbaum-Tingey sum is accurate for small n.
        fn direct(n: u64, d: f64) -> f64 {
            let nf = n as f64;
            let mut s = 0.0;
            let mut c = 1.0;
            let last = (nf * (1.0 - d)).floor() as u64;
            for v in 0..=last {
                let vf = v as f64;
                s += c * (d + vf / nf).powf(vf - 1.0) * (1.0 - d - vf / nf).powf(nf - vf);
                c = c * (nf - vf) / (vf + 1.0);
            }
            d * s
        }
        for &(n, d) in &[(5, 0.3), (20, 0.13), (20, 0.31), (50, 0.07), (100, 0.2)] {
            let (a, b) = (smirnov_sf(n, d), direct(n, d));
            assert!((a - b).abs() <= 1e-13 * b, "n={n} d={d}: {a} vs {b}");
        }
    }
}
