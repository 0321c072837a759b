//! Double-double ("dd") arithmetic: an unevaluated sum `hi + lo` of two `f64` with
//! `|lo| <= ulp(hi) / 2`, giving about 106 bits (32 decimal digits) of precision.
//!
//! Only what the one-sided Smirnov sum needs is implemented: the error-free transformations
//! (Knuth's two-sum, Dekker's product with Veltkamp splitting, or a fused multiply-add when
//! the target has one), the four operations, `floor`, and an exponent-tracking `frexp` /
//! `ldexp` so that quantities far outside the `f64` exponent range can be carried as a
//! mantissa in `[0.5, 1)` and a separate integer exponent.
//!
//! The algorithms are the classical ones (Dekker 1971; Knuth, TAOCP vol. 2 §4.2.2; Hida, Li
//! and Bailey 2001 for the division with two correction steps). Inputs are assumed finite
//! and of moderate magnitude (well below `2^996`, where Veltkamp splitting would overflow),
//! which holds for every caller in this module.

use std::ops::{Add, Div, Mul, Neg, Sub};

/// A double-double number `hi + lo`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Dd {
    pub(crate) hi: f64,
    pub(crate) lo: f64,
}

/// `s + e == a + b` exactly, with `s = fl(a + b)` (Knuth).
#[inline]
fn two_sum(a: f64, b: f64) -> (f64, f64) {
    let s = a + b;
    let bb = s - a;
    let e = (a - (s - bb)) + (b - bb);
    (s, e)
}

/// As [`two_sum`], valid when `|a| >= |b|` (Dekker).
#[inline]
fn quick_two_sum(a: f64, b: f64) -> (f64, f64) {
    let s = a + b;
    let e = b - (s - a);
    (s, e)
}

/// Veltkamp splitting of `a` into two halves of at most 26 significant bits each.
#[inline]
fn split(a: f64) -> (f64, f64) {
    const SPLITTER: f64 = 134_217_729.0; // 2^27 + 1
    let t = SPLITTER * a;
    let hi = t - (t - a);
    (hi, a - hi)
}

/// `p + e == a * b` exactly, with `p = fl(a * b)`.
#[inline]
fn two_prod(a: f64, b: f64) -> (f64, f64) {
    let p = a * b;
    if cfg!(target_feature = "fma") {
        (p, a.mul_add(b, -p))
    } else {
        let (ah, al) = split(a);
        let (bh, bl) = split(b);
        let e = ((ah * bh - p) + ah * bl + al * bh) + al * bl;
        (p, e)
    }
}

impl Dd {
    /// The double-double holding exactly `x`.
    #[inline]
    pub(crate) const fn new(x: f64) -> Self {
        Self { hi: x, lo: 0.0 }
    }

    /// The nearest `f64`.
    #[inline]
    pub(crate) fn to_f64(self) -> f64 {
        self.hi + self.lo
    }

    /// Largest integer not above `self`.
    pub(crate) fn floor(self) -> Self {
        let hi = self.hi.floor();
        if hi == self.hi {
            let (s, e) = quick_two_sum(hi, self.lo.floor());
            Self { hi: s, lo: e }
        } else {
            Self { hi, lo: 0.0 }
        }
    }

    /// `self * 2^e`, exact unless the result leaves the normal range.
    pub(crate) fn ldexp(self, e: i64) -> Self {
        Self {
            hi: ldexp(self.hi, e),
            lo: ldexp(self.lo, e),
        }
    }

    /// Splits `self` into `(m, e)` with `self == m * 2^e` and `|m.hi|` in `[0.5, 1)`.
    /// Zero gives `(0, 0)`.
    pub(crate) fn frexp(self) -> (Self, i64) {
        let (hi, e) = frexp(self.hi);
        if hi == 0.0 {
            return (Self::new(0.0), 0);
        }
        (
            Self {
                hi,
                lo: ldexp(self.lo, -e),
            },
            e,
        )
    }

    /// Whether both parts are finite.
    #[inline]
    pub(crate) fn is_finite(self) -> bool {
        self.hi.is_finite() && self.lo.is_finite()
    }
}

impl From<f64> for Dd {
    #[inline]
    fn from(x: f64) -> Self {
        Self::new(x)
    }
}

impl Add for Dd {
    type Output = Self;
    #[inline]
    fn add(self, b: Self) -> Self {
        let (s1, s2) = two_sum(self.hi, b.hi);
        let (t1, t2) = two_sum(self.lo, b.lo);
        let (s1, s2) = quick_two_sum(s1, s2 + t1);
        let (hi, lo) = quick_two_sum(s1, s2 + t2);
        Self { hi, lo }
    }
}

impl Add<f64> for Dd {
    type Output = Self;
    #[inline]
    fn add(self, b: f64) -> Self {
        let (s1, s2) = two_sum(self.hi, b);
        let (hi, lo) = quick_two_sum(s1, s2 + self.lo);
        Self { hi, lo }
    }
}

impl Neg for Dd {
    type Output = Self;
    #[inline]
    fn neg(self) -> Self {
        Self {
            hi: -self.hi,
            lo: -self.lo,
        }
    }
}

impl Sub for Dd {
    type Output = Self;
    #[inline]
    fn sub(self, b: Self) -> Self {
        self + (-b)
    }
}

impl Sub<f64> for Dd {
    type Output = Self;
    #[inline]
    fn sub(self, b: f64) -> Self {
        self + (-b)
    }
}

impl Mul for Dd {
    type Output = Self;
    #[inline]
    fn mul(self, b: Self) -> Self {
        let (p1, p2) = two_prod(self.hi, b.hi);
        let p2 = p2 + (self.hi * b.lo + self.lo * b.hi);
        let (hi, lo) = quick_two_sum(p1, p2);
        Self { hi, lo }
    }
}

impl Mul<f64> for Dd {
    type Output = Self;
    #[inline]
    fn mul(self, b: f64) -> Self {
        let (p1, p2) = two_prod(self.hi, b);
        let (hi, lo) = quick_two_sum(p1, p2 + self.lo * b);
        Self { hi, lo }
    }
}

impl Div for Dd {
    type Output = Self;
    /// Long division with two correction steps (accurate to a few units of 2^-106).
    fn div(self, b: Self) -> Self {
        let q1 = self.hi / b.hi;
        let r = self - b * q1;
        let q2 = r.hi / b.hi;
        let r = r - b * q2;
        let q3 = r.hi / b.hi;
        let (hi, lo) = quick_two_sum(q1, q2);
        Self { hi, lo } + q3
    }
}

impl Div<f64> for Dd {
    type Output = Self;
    #[inline]
    fn div(self, b: f64) -> Self {
        self / Self::new(b)
    }
}

/// Splits a finite non-zero `x` into `(m, e)` with `x == m * 2^e` and `|m|` in `[0.5, 1)`;
/// zero and non-finite values come back unchanged with exponent 0.
pub(crate) fn frexp(x: f64) -> (f64, i64) {
    const EXP_MASK: u64 = 0x7ff << 52;
    if x == 0.0 || !x.is_finite() {
        return (x, 0);
    }
    let bits = x.to_bits();
    let biased = (bits & EXP_MASK) >> 52;
    if biased == 0 {
        // Subnormal: scale into the normal range first (2^64 is exact).
        let (m, e) = frexp(x * 18_446_744_073_709_551_616.0);
        return (m, e - 64);
    }
    let m = f64::from_bits((bits & !EXP_MASK) | (1022 << 52));
    // `biased` is at most 2046, so the cast is lossless.
    (m, biased as i64 - 1022)
}

/// `x * 2^e`, computed in steps so that no intermediate overflows or underflows early;
/// the result is exact unless it leaves the normal range.
pub(crate) fn ldexp(mut x: f64, mut e: i64) -> f64 {
    /// 2^960 and 2^-960.
    const BIG: f64 = f64::from_bits((1023 + 960) << 52);
    const SMALL: f64 = f64::from_bits((1023 - 960) << 52);
    if x == 0.0 || !x.is_finite() {
        return x;
    }
    while e > 960 {
        x *= BIG;
        e -= 960;
        if x.is_infinite() {
            return x;
        }
    }
    while e < -960 {
        x *= SMALL;
        e += 960;
        if x == 0.0 {
            return x;
        }
    }
    // Now |e| <= 960: 2^e is a normal number.
    let scale = f64::from_bits(((e + 1023) as u64) << 52);
    x * scale
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frexp_and_ldexp_round_trip() {
        for &x in &[1.0, 0.75, -3.5, 1e-310, 5e-324, 1.7e308, 123_456.789] {
            let (m, e) = frexp(x);
            assert!((0.5..1.0).contains(&m.abs()), "{x} -> {m}");
            assert_eq!(ldexp(m, e), x);
        }
        assert_eq!(ldexp(1.0, 960), 2f64.powi(960));
        assert_eq!(ldexp(1.0, -1074), 5e-324);
        assert_eq!(ldexp(1.0, -1075 - 2000), 0.0);
        assert_eq!(ldexp(1.0, 2000), f64::INFINITY);
    }

    #[test]
    fn one_third_is_accurate() {
        let third = Dd::new(1.0) / 3.0;
        let back = third * 3.0 - 1.0;
        assert!(back.to_f64().abs() < 1e-31, "{back:?}");
        let x = Dd::new(0.1) * Dd::new(0.1) - Dd::new(0.01);
        // 0.1 and 0.01 are not exact in binary: the residual is the known representation error.
        assert!(x.to_f64().abs() < 1e-18 && x.to_f64() != 0.0);
    }

    #[test]
    fn floor_handles_low_parts() {
        let x = Dd {
            hi: 3.0,
            lo: -1e-20,
        };
        assert_eq!(x.floor().to_f64(), 2.0);
        let y = Dd { hi: 3.5, lo: 1e-20 };
        assert_eq!(y.floor().to_f64(), 3.0);
    }
}
