//! Exact algorithms for the two-sided Kolmogorov CDF `P(D_n <= d)` at finite `n`: the
//! Durbin (1968) matrix algorithm in the form of Marsaglia, Tsang and Wang (2003), and the
//! Pomeranz (1974) recursion. Both work in `f64` with explicit power-of-two rescaling, so
//! their results carry only rounding errors (about `1e-14` relative in practice).

use super::dd::ldexp;

/// `2^128` and `2^-128`: rescaling thresholds and factors (exact powers of two).
const TWO_128: f64 = f64::from_bits((1023 + 128) << 52);
const TWO_M128: f64 = f64::from_bits((1023 - 128) << 52);
/// Rescaling threshold for the accumulated matrix power (exact power of two, `2^512`).
const TWO_512: f64 = f64::from_bits((1023 + 512) << 52);
const TWO_M512: f64 = f64::from_bits((1023 - 512) << 52);

/// `out = a * b` for square row-major `m x m` matrices.
fn mat_mul(a: &[f64], b: &[f64], out: &mut [f64], m: usize) {
    out.fill(0.0);
    for (out_row, a_row) in out.chunks_exact_mut(m).zip(a.chunks_exact(m)) {
        for (&a_ik, b_row) in a_row.iter().zip(b.chunks_exact(m)) {
            if a_ik == 0.0 {
                continue;
            }
            for (o, &b_kj) in out_row.iter_mut().zip(b_row) {
                *o += a_ik * b_kj;
            }
        }
    }
}

/// Largest absolute entry.
fn max_abs(a: &[f64]) -> f64 {
    a.iter().fold(0.0f64, |acc, v| acc.max(v.abs()))
}

/// Durbin's matrix algorithm (Marsaglia–Tsang–Wang form): `P(D_n <= d)`.
///
/// Write `n d = k - h` with `k` a positive integer and `0 <= h < 1`. With `m = 2k - 1`, the
/// `m x m` matrix `H` has `H[i][j] = 1/(i - j + 1)!` for `i - j + 1 >= 0` (zero above the
/// first superdiagonal), except that its first column and last row are
/// `(1 - h^(i+1))/(i+1)!` (read bottom-up along the last row), and its bottom-left corner is
/// `(1 - 2h^m + max(0, 2h - 1)^m)/m!`. Then `P(D_n <= d) = n!/n^n * (H^n)[k-1][k-1]`.
///
/// `H^n` is formed by repeated squaring (`O(m^3 log n)` flops, `O(m^2)` memory) with exact
/// power-of-two rescaling tracked in a separate exponent. Used for small `n d^2`, where `m`
/// is small: at most 21 for `n <= 140` and 117 for `n <= 100000` under scipy's rules.
pub(super) fn durbin_cdf(n: u64, d: f64) -> f64 {
    if d >= 1.0 {
        return 1.0;
    }
    let nf = n as f64;
    let nd = nf * d;
    if nd <= 0.5 {
        return 0.0;
    }
    let k_f = nd.ceil();
    let h = k_f - nd;
    let k = k_f as usize;
    let m = 2 * k - 1;

    // w[j] = 1/j!, first_col[j] = (1 - h^(j+1))/(j+1)!.
    let mut w = vec![0.0; m];
    let mut first_col = vec![0.0; m];
    let mut fac = 1.0;
    for (j, (wj, vj)) in w.iter_mut().zip(first_col.iter_mut()).enumerate() {
        let jp1 = (j + 1) as f64;
        *wj = fac;
        fac /= jp1;
        *vj = (1.0 - h.powf(jp1)) * fac;
    }
    let mf = m as f64;
    let corner = (2.0 * h - 1.0).max(0.0).powf(mf) - 2.0 * h.powf(mf);
    if let Some(last) = first_col.last_mut() {
        *last = (1.0 + corner) * fac;
    }

    let mut hmat = vec![0.0; m * m];
    for (i, row) in hmat.chunks_exact_mut(m).enumerate() {
        for (j, cell) in row.iter_mut().enumerate().skip(1) {
            if i + 1 >= j {
                *cell = w[i + 1 - j];
            }
        }
        row[0] = first_col[i];
    }
    if let Some(last_row) = hmat.chunks_exact_mut(m).last() {
        for (j, cell) in last_row.iter_mut().enumerate() {
            *cell = first_col[m - 1 - j];
        }
    }

    // Binary powering: power = H^n / 2^power_exp, square = H^(2^i) / 2^square_exp.
    let centre = (k - 1) * m + (k - 1);
    let mut power: Option<Vec<f64>> = None;
    let mut power_exp: i64 = 0;
    let mut square_exp: i64 = 0;
    let mut scratch = vec![0.0; m * m];
    let mut remaining = n;
    while remaining > 0 {
        if remaining % 2 == 1 {
            match power.as_mut() {
                None => power = Some(hmat.clone()),
                Some(p) => {
                    mat_mul(p, &hmat, &mut scratch, m);
                    std::mem::swap(p, &mut scratch);
                }
            }
            power_exp += square_exp;
            if let Some(p) = power.as_mut()
                && max_abs(p) > TWO_512
            {
                p.iter_mut().for_each(|v| *v *= TWO_M512);
                power_exp += 512;
            }
        }
        remaining /= 2;
        if remaining == 0 {
            break;
        }
        mat_mul(&hmat, &hmat, &mut scratch, m);
        std::mem::swap(&mut hmat, &mut scratch);
        square_exp *= 2;
        if hmat[centre].abs() > TWO_128 {
            hmat.iter_mut().for_each(|v| *v *= TWO_M128);
            square_exp += 128;
        }
    }
    let mut p = power.map_or(1.0, |p| p[centre]);
    let mut exponent = power_exp;

    // Multiply by n!/n^n, one factor i/n at a time, rescaling to avoid underflow.
    for i in 1..=n {
        p = (i as f64) * p / nf;
        if p.abs() < TWO_M128 {
            p *= TWO_128;
            exponent -= 128;
        }
    }
    ldexp(p, exponent).clamp(0.0, 1.0)
}

/// Pomeranz's recursion: `P(D_n <= d)`.
///
/// With `t = n d = l + f` (`l` integer, `0 <= f < 1`) and `g = min(f, 1 - f)`, the interval
/// `[0, n]` is cut at the `2n + 2` breakpoints of the lines `j +- t`; between consecutive
/// breakpoints the number of uniform order statistics is Poisson-like with a mean of
/// `g/n`, `2g/n` or `(1 - 2g)/n`. Row `i` of the recursion is the convolution of row `i - 1`
/// with the matching truncated series `(mean)^r / r!`, restricted to the admissible counts
/// `[j1(i), j2(i)]` (those keeping the empirical CDF within `t/n` of the diagonal); the
/// answer is `n!` times the entry for count `n` of the last row. Each row has at most
/// `2(l + 1)` non-zero entries, so the cost is `O(n l^2)` with `O(l)` memory. Rows are
/// rescaled by `2^128` when they become small; the scale is undone at the end.
pub(super) fn pomeranz_cdf(n: u64, d: f64) -> f64 {
    let nf = n as f64;
    let t = nf * d;
    let l_f = t.floor();
    let f = t - l_f;
    let g = f.min(1.0 - f);
    let l = l_f as i64;
    let n_i = i64::try_from(n).unwrap_or(i64::MAX);
    let ceil_f = i64::from(f > 0.0);
    let round_f = i64::from(f > 0.5);
    let width = 2 * (l as usize + 1);

    // Truncated series (mean)^r / r! for the three possible means.
    let series = |mean: f64| -> Vec<f64> {
        let mut s = vec![1.0; width];
        for r in 1..width {
            s[r] = s[r - 1] * mean / r as f64;
        }
        s
    };
    let g_series = series(g / nf);
    let two_g_series = series(2.0 * g / nf);
    let rest_series = series((1.0 - 2.0 * g) / nf);

    // Admissible counts for row i: floor(A_i - t) + 1 ..= ceil(A_i + t) - 1, clamped to
    // [0, n], where A_i is the i-th breakpoint (0, then alternately k - 1 + g and k - g...).
    let bounds = |i: i64| -> (i64, i64) {
        let (lo, hi) = if i == 0 {
            (-l - ceil_f - 1, l + ceil_f - 1)
        } else {
            let half = (i + 1) / 2;
            if (i + 1) % 2 == 0 {
                if half == n_i + 1 {
                    (n_i - l - ceil_f - 1, n_i + l + ceil_f - 1)
                } else {
                    (half - l - round_f - 2, half + l + ceil_f - 2)
                }
            } else {
                (half - l - 2, half + l + round_f - 1)
            }
        };
        ((lo + 2).max(0), hi.min(n_i))
    };

    let mut prev = vec![0.0; width];
    let mut cur = vec![0.0; width];
    cur[0] = 1.0;
    let (mut j1, _) = bounds(0);
    let mut exponent: i64 = 0;
    let last_row = 2 * n_i + 1;
    for i in 1..=last_row {
        let k1 = j1;
        std::mem::swap(&mut prev, &mut cur);
        cur.fill(0.0);
        let (new_j1, j2) = bounds(i);
        j1 = new_j1;
        let weights = if i == 1 || i == last_row {
            &g_series
        } else if i % 2 == 1 {
            &two_g_series
        } else {
            &rest_series
        };
        if j2 < k1 {
            // No admissible path survives: every later row is zero.
            return 0.0;
        }
        // cur[c] holds count j1 + c; prev[a] holds count k1 + a.
        let len = usize::try_from(j2 - j1 + 1).unwrap_or(0);
        let offset = usize::try_from(j1 - k1).unwrap_or(0);
        for (c, out) in cur.iter_mut().enumerate().take(len) {
            let top = offset + c;
            let mut s = 0.0;
            for (a, &pa) in prev.iter().enumerate().take(top + 1) {
                if let Some(&wt) = weights.get(top - a) {
                    s += pa * wt;
                }
            }
            *out = s;
        }
        let biggest = cur.iter().fold(0.0f64, |acc, &v| acc.max(v));
        if biggest > 0.0 && biggest < TWO_M128 {
            cur.iter_mut().for_each(|v| *v *= TWO_128);
            exponent -= 128;
        }
    }
    let index = usize::try_from(n_i - j1).unwrap_or(usize::MAX);
    let mut ans = cur.get(index).copied().unwrap_or(0.0);
    for r in 1..=n {
        if ans.abs() > TWO_128 {
            ans *= TWO_M128;
            exponent += 128;
        }
        ans *= r as f64;
    }
    ldexp(ans, exponent).clamp(0.0, 1.0)
}
