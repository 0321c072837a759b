//! Sorting `f64` values in the order of [`f64::total_cmp`] (`-0.0` before `0.0`, negative
//! NaNs first and positive NaNs last), faster than a comparison sort.
//!
//! Each value has an order-preserving `u64` key (the sign-magnitude bits flipped to
//! two's-complement order, the order `total_cmp` defines). Large slices are sorted by a
//! least-significant-digit radix sort on the **top** key bits only: first one pass finds the
//! bits that vary at all (and whether the slice is already sorted), then `log2(n) + 12` of the
//! varying bits from the top are sorted in passes of at most 11 bits (2048 counters, which
//! stay in L1), and finally every run of values that share those bits and are out of order
//! is sorted by comparison. For data spread over its range (a million normal or log-normal
//! values) those runs hold one or two values; for clustered data the runs are larger and
//! the comparison sort does the rest, so the worst case stays `O(n log n)`.
//!
//! Values are never turned into their keys in place (a NaN bit pattern could be quieted on
//! some targets): keys are computed on the fly, and the passes move the original values
//! between the slice and a scratch buffer of the same length. [`sort_total_with`] takes
//! the buffer from the caller, so a series of sorts (the columns of a report) reuses one
//! allocation per thread instead of faulting in fresh pages for every column.
//! [`sorted_copy`] needs no buffer as large as the data: its first pass (on the top 12
//! varying bits) writes straight into the copy, and each bucket is then sorted as above.
//! From 2^16 values on, [`sort_total_with`] works the same way (`msd_sort`): the first,
//! most-significant pass scatters into the scratch buffer, and each bucket, which stays in
//! cache for most data, is sorted between the buffer and its own place in the slice. Within
//! a bucket the LSD passes are made even in number when one pass fewer still sorts
//! `log2(n) + 4` bits (`Plan::even`), so that a bucket ends where it started, without a
//! copy; the few more values that then share their sorted bits go to the comparison sort.
//! In a 20-column report of 10^6 rows per side this took the profile and comparison from
//! 0.97 to 0.85 s of CPU (busy machine, same run); `sorted_copy` of 10^6 normal values went
//! from 16.1 to 14.7 ms of CPU (same conditions).
//!
//! Both entry points take their first pass over the data for a survey of the bits that
//! matter *and* the digit counts of the first radix pass, guessing that the values take
//! both signs (and, for the LSD sort, use their whole mantissa); when the survey says
//! otherwise the digits are counted again. Integer-valued data leave most mantissa bits at
//! zero: those bits are not sorted at all (see `Bits`).
//!
//! Measured on the two-core development machine (release, one thread, `cargo bench --bench
//! drift -- sort_1m`, 10^6 values, the copy included): normal values, [`sorted_copy`]
//! 9.6 ms, a copy sorted in place with a fresh scratch buffer 14.5 ms (10.5 ms with a
//! reused one), `sort_unstable_by(f64::total_cmp)` 23 ms, rayon's `par_sort_unstable_by`
//! 28 ms of CPU (15 ms wall), pdqsort on `u64` keys 15 ms; integers with many ties
//! (300 distinct values) 5.6 ms for [`sorted_copy`] against 5.8 ms for pdqsort, whose
//! handling of equal keys is good. 10^5 values: 0.8 ms against 2.0 ms. Inside a report,
//! with the data colder in memory, a sort of 10^6 values costs 10 to 14 ms.
//!
//! Tried and left out: the `voracious_radix_sort` crate (10 ms, but below 300 values it
//! sorts with `partial_cmp(..).unwrap()`, which panics on NaN and does not order `-0.0`
//! before `0.0`; its multithreaded sort misordered signed zeros), `rdst` (13–17 ms),
//! `radsort` (17–21 ms), a plain LSD sort of all 64 bits (15.5 ms), an MSD-first sort in
//! place (no faster inside a report), and swapping the scratch buffer with the values
//! instead of copying back (slower inside a report).

/// Below this many values a comparison sort is faster than the radix passes.
pub(crate) const RADIX_MIN_LEN: usize = 1 << 12;

/// The widest digit of one least-significant-digit pass: 2^11 counters (16 KiB) stay in L1.
const MAX_DIGIT_BITS: u32 = 11;

/// The digit of the first, most-significant pass of [`sorted_copy`]: sign and exponent for
/// data spread over both signs, so that each bucket is about one binary order of magnitude.
const MSD_BITS: u32 = 12;

/// From this length on [`sort_total_with`] sorts most-significant digit first
/// ([`msd_sort`]).
const MSD_MIN_LEN: usize = 1 << 16;

/// Buckets of [`sorted_copy`] up to this size are sorted by comparison.
const SMALL_BUCKET: usize = 64;

/// Key bits sorted by radix beyond `log2(n)`, so that values sharing the sorted bits are
/// rare (about `n · 2^-12` pairs for evenly spread keys).
const EXTRA_BITS: u32 = 12;

/// The fewest extra bits [`Plan::even`] accepts (about `n · 2^-4` values share their
/// sorted bits with another: short runs for [`sort_runs`]).
const MIN_EXTRA_BITS: u32 = 4;

const SIGN: u64 = 1 << 63;

/// The order-preserving key of `x`: `key(a) < key(b)` exactly when
/// `a.total_cmp(&b) == Less`.
#[inline(always)]
pub(crate) fn key(x: f64) -> u64 {
    let bits = x.to_bits();
    bits ^ (((bits as i64 >> 63) as u64) | SIGN)
}

/// Sorts `values` ascending in the order of `f64::total_cmp`, unstably (equal bit patterns
/// are indistinguishable anyway). Allocates a scratch buffer of `values.len()` for large
/// slices (its page faults cost about 5 ms per 10^6 values); see [`sort_total_with`] to
/// reuse one.
pub(crate) fn sort_total(values: &mut [f64]) {
    sort_total_with(values, &mut Vec::new());
}

/// [`sort_total`] with a scratch buffer that the caller keeps between sorts (its contents
/// are overwritten; it grows to the largest slice sorted).
pub(crate) fn sort_total_with(values: &mut [f64], scratch: &mut Vec<f64>) {
    if values.len() < RADIX_MIN_LEN {
        values.sort_unstable_by(f64::total_cmp);
    } else if values.len() >= MSD_MIN_LEN {
        msd_sort(values, scratch);
    } else if radix_sort(values, scratch) {
        values.copy_from_slice(&scratch[..values.len()]);
    }
}

/// A sorted copy of `values`, in the order of `f64::total_cmp`.
///
/// Faster than copying and sorting in place: the first radix pass reads `values` and
/// writes the buckets straight into the result, and the buckets are then sorted with a
/// scratch buffer only as large as the largest bucket (reused, and small enough to stay in
/// cache; a fresh buffer as large as the data costs as much in page faults as a pass).
#[must_use]
pub(crate) fn sorted_copy(values: &[f64]) -> Vec<f64> {
    let n = values.len();
    if n < RADIX_MIN_LEN {
        let mut copy = values.to_vec();
        copy.sort_unstable_by(f64::total_cmp);
        return copy;
    }
    // Survey and count the first digit in one pass, guessing that the sign varies (the
    // digit is then sign and exponent); counted again when it does not.
    let guess = Plan {
        low: u64::BITS - MSD_BITS,
        width: MSD_BITS,
        passes: 1,
    };
    let (bits, counts) = survey_and_count::<1>(values, guess);
    let Some(bits) = bits else {
        return values.to_vec(); // already sorted
    };
    let counts = (bits.top == u64::BITS).then(|| counts.into_iter().map(|[c]| c).collect());
    let mut out = vec![0.0; n];
    let (counts, low) = msd_pass(values, &mut out, bits.top, counts);
    if low <= bits.floor {
        return out; // every bit that matters was in the digit: each bucket is one value
    }
    let bits = Bits { top: low, ..bits };
    let mut aux: Vec<f64> = Vec::new();
    let mut rest = out.as_mut_slice();
    for &c in counts.iter().filter(|&&c| c > 0) {
        let (bucket, tail) = std::mem::take(&mut rest).split_at_mut(c);
        rest = tail;
        if c <= SMALL_BUCKET {
            bucket.sort_unstable_by(f64::total_cmp);
        } else {
            aux.resize(aux.len().max(c), 0.0);
            let other = &mut aux[..c];
            if lsd_with_plan(bucket, other, bits, Plan::even(bits, c)) {
                bucket.copy_from_slice(other);
            }
        }
    }
    out
}

/// The sort behind [`sort_total_with`] for large slices, as [`sorted_copy`] with `scratch`
/// as the copy: one most-significant-digit pass scatters the values into `scratch`, then
/// each bucket (small enough to stay in cache for most data) is sorted by LSD passes
/// between `scratch` and its own place in `values`, and copied back while it is in cache
/// when it ended in `scratch`.
fn msd_sort(values: &mut [f64], scratch: &mut Vec<f64>) {
    let n = values.len();
    let guess = Plan {
        low: u64::BITS - MSD_BITS,
        width: MSD_BITS,
        passes: 1,
    };
    let (bits, counts) = survey_and_count::<1>(values, guess);
    let Some(bits) = bits else {
        return; // already sorted
    };
    let counts = (bits.top == u64::BITS).then(|| counts.into_iter().map(|[c]| c).collect());
    if scratch.len() < n {
        scratch.resize(n, 0.0); // overwritten below: a reused buffer needs no clearing
    }
    let scratch = &mut scratch[..n];
    let (counts, low) = msd_pass(values, scratch, bits.top, counts);
    if low <= bits.floor {
        values.copy_from_slice(scratch);
        return;
    }
    let bits = Bits { top: low, ..bits };
    let mut start = 0;
    for &c in counts.iter().filter(|&&c| c > 0) {
        let range = start..start + c;
        start += c;
        let bucket = &mut scratch[range.clone()];
        let home = &mut values[range];
        if c <= SMALL_BUCKET {
            bucket.sort_unstable_by(f64::total_cmp);
            home.copy_from_slice(bucket);
        } else if !lsd_with_plan(bucket, home, bits, Plan::even(bits, c)) {
            home.copy_from_slice(bucket);
        }
    }
}

/// The radix sort behind [`sort_total_with`], for any length (the tests call it on short
/// slices too). Returns whether the sorted values are in `scratch[..n]` rather than in
/// `values`.
///
/// The first pass over the data both surveys the bits that matter and counts the digits,
/// on the guess that the values take both signs and use their whole mantissa (every
/// varying bit below the sign): when the survey says otherwise (values of one sign,
/// integers), the digits are counted again for the bits that do matter.
fn radix_sort(values: &mut [f64], scratch: &mut Vec<f64>) -> bool {
    let n = values.len();
    let guess = Bits { top: 64, floor: 0 };
    let fused = match Plan::new(guess, n) {
        Some(plan) if plan.passes == 3 => Some(plan),
        _ => None,
    };
    let (bits, counts) = match fused {
        Some(plan) => {
            let (bits, counts) = survey_and_count::<3>(values, plan);
            let Some(bits) = bits else {
                return false;
            };
            (bits, (Plan::new(bits, n) == Some(plan)).then_some(counts))
        }
        None => match varying_bits(values) {
            Some(bits) => (bits, None),
            None => return false,
        },
    };
    if scratch.len() < n {
        scratch.resize(n, 0.0); // overwritten below: a reused buffer needs no clearing
    }
    let scratch = &mut scratch[..n];
    match counts {
        Some(counts) => {
            let Some(plan) = Plan::new(bits, n) else {
                return false;
            };
            let in_scratch = lsd_passes::<3>(values, scratch, plan, Some(counts));
            if plan.low > bits.floor {
                sort_runs(if in_scratch { scratch } else { values }, plan.low);
            }
            in_scratch
        }
        None => lsd_top_bits(values, scratch, bits),
    }
}

/// [`varying_bits`] and the digit counts of `plan` in one pass.
fn survey_and_count<const P: usize>(values: &[f64], plan: Plan) -> (Option<Bits>, Vec<[usize; P]>) {
    const MANTISSA: u64 = (1 << 52) - 1;
    let mask = (1_u64 << plan.width) - 1;
    let mut counts = vec![[0_usize; P]; 1 << plan.width];
    let Some(&first) = values.first() else {
        return (None, counts);
    };
    let k0 = key(first);
    let (mut diff, mut mantissas, mut sorted, mut previous) = (0_u64, 0_u64, true, k0);
    for &x in values {
        let k = key(x);
        diff |= k ^ k0;
        mantissas |= x.to_bits() & MANTISSA;
        sorted &= previous <= k;
        previous = k;
        let digits = k >> plan.low;
        for d in 0..P {
            counts[((digits >> (d as u32 * plan.width)) & mask) as usize][d] += 1;
        }
    }
    let bits = (!sorted).then(|| Bits {
        top: u64::BITS - diff.leading_zeros(),
        floor: mantissas.trailing_zeros().min(52),
    });
    (bits, counts)
}

/// The most-significant-digit pass: `from` scattered into `to` by the [`MSD_BITS`] key bits
/// below `top` (all the varying bits when fewer), counted unless `counts` has them. Returns
/// the bucket sizes in order and the number of key bits below the digit.
fn msd_pass(
    from: &[f64],
    to: &mut [f64],
    top: u32,
    counts: Option<Vec<usize>>,
) -> (Vec<usize>, u32) {
    let width = MSD_BITS.min(top);
    let low = top - width;
    let mask = (1_u64 << width) - 1;
    let counts = counts.unwrap_or_else(|| {
        let mut counts = vec![0_usize; 1 << width];
        for &x in from {
            counts[((key(x) >> low) & mask) as usize] += 1;
        }
        counts
    });
    let mut offsets = Vec::with_capacity(counts.len());
    let mut sum = 0;
    for &c in &counts {
        offsets.push(sum);
        sum += c;
    }
    scatter(from, to, &mut offsets, low, mask);
    (counts, low)
}

/// The key bits that matter, from one pass over the data: every key agrees on the bits at
/// and above `top`, and within each sign on the bits below `floor` (the low mantissa bits
/// that are zero in every value: integers, or values with few significant digits in
/// binary, leave most of the mantissa at zero; a negative value's key has ones there).
/// Sorting by bits `floor..top` therefore orders the values completely.
#[derive(Clone, Copy, Debug)]
struct Bits {
    top: u32,
    floor: u32,
}

/// One pass over the keys: `None` when `values` is already sorted (or empty), else the bits
/// that matter.
fn varying_bits(values: &[f64]) -> Option<Bits> {
    const MANTISSA: u64 = (1 << 52) - 1;
    let k0 = key(*values.first()?);
    let (mut diff, mut mantissas, mut sorted, mut previous) = (0_u64, 0_u64, true, k0);
    for &x in values {
        let k = key(x);
        diff |= k ^ k0;
        mantissas |= x.to_bits() & MANTISSA;
        sorted &= previous <= k;
        previous = k;
    }
    (!sorted).then(|| Bits {
        top: u64::BITS - diff.leading_zeros(),
        floor: mantissas.trailing_zeros().min(52),
    })
}

/// How the least-significant-digit passes cut the key: `passes` digits of `width` bits,
/// from bit `low` up.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Plan {
    low: u32,
    width: u32,
    passes: u32,
}

impl Plan {
    /// The `log2(n) + EXTRA_BITS` key bits below `bits.top` (no lower than needed: see
    /// [`Bits`]) in passes of at most [`MAX_DIGIT_BITS`]; `None` when no bit matters.
    fn new(bits: Bits, n: usize) -> Option<Self> {
        let Bits { top, floor } = bits;
        let log_n = usize::BITS - n.leading_zeros();
        let wanted = (log_n + EXTRA_BITS).min(top.saturating_sub(floor));
        if wanted == 0 {
            return None;
        }
        let passes = wanted.div_ceil(MAX_DIGIT_BITS);
        let width = wanted.div_ceil(passes);
        // The top digit may reach above `top`: constant bits.
        let low = top - (width * passes).min(top);
        Some(Self { low, width, passes })
    }

    /// [`Plan::new`], but with one pass fewer when that makes the number of passes even
    /// and still sorts at least `log2(n) + MIN_EXTRA_BITS` bits: the result then ends in
    /// the slice sorted, not in the other buffer (no copy back), and the few more values
    /// that share the sorted bits are left to [`sort_runs`].
    fn even(bits: Bits, n: usize) -> Option<Self> {
        let plan = Self::new(bits, n)?;
        let log_n = usize::BITS - n.leading_zeros();
        let fewer = (plan.passes - 1) * MAX_DIGIT_BITS;
        if plan.passes % 2 == 0 || plan.passes < 3 || fewer < log_n + MIN_EXTRA_BITS {
            return Some(plan);
        }
        let Bits { top, .. } = bits;
        let passes = plan.passes - 1;
        let width = fewer.div_ceil(passes);
        Some(Self {
            low: top - (width * passes).min(top),
            width,
            passes,
        })
    }
}

/// Sorts `data`, whose keys agree on every bit at and above `bits.top`, with `other` (as
/// long) as the second buffer: the LSD passes of [`Plan::new`], then [`sort_runs`].
/// Returns whether the result ended in `other`.
fn lsd_top_bits(data: &mut [f64], other: &mut [f64], bits: Bits) -> bool {
    lsd_with_plan(data, other, bits, Plan::new(bits, data.len()))
}

/// [`lsd_top_bits`] with the plan given (`None`: no bit matters).
fn lsd_with_plan(data: &mut [f64], other: &mut [f64], bits: Bits, plan: Option<Plan>) -> bool {
    let Some(plan) = plan else {
        return false; // one value (per sign, and the sign is above `top`)
    };
    let in_other = match plan.passes {
        1 => lsd_passes::<1>(data, other, plan, None),
        2 => lsd_passes::<2>(data, other, plan, None),
        3 => lsd_passes::<3>(data, other, plan, None),
        // 64 + 12 bits at most: seven passes of 11 bits.
        4 => lsd_passes::<4>(data, other, plan, None),
        5 => lsd_passes::<5>(data, other, plan, None),
        6 => lsd_passes::<6>(data, other, plan, None),
        _ => lsd_passes::<7>(data, other, plan, None),
    };
    if plan.low > bits.floor {
        sort_runs(if in_other { other } else { data }, plan.low);
    }
    in_other
}

/// `P` stable counting-sort passes over the digits of `plan` (`P == plan.passes`), lowest
/// digit first, ping-ponging between `data` and `other`; returns whether the result is in
/// `other`. A digit on which every value agrees is skipped. `counts`: the digit counts, when
/// already taken.
fn lsd_passes<const P: usize>(
    data: &mut [f64],
    other: &mut [f64],
    plan: Plan,
    counts: Option<Vec<[usize; P]>>,
) -> bool {
    let n = data.len();
    let Plan { low, width, .. } = plan;
    let radix = 1_usize << width;
    let mask = (radix as u64) - 1;
    // All the histograms in one pass over the data.
    let counts = counts.unwrap_or_else(|| {
        let mut counts = vec![[0_usize; P]; radix];
        for &x in data.iter() {
            let k = key(x) >> low;
            for d in 0..P {
                counts[((k >> (d as u32 * width)) & mask) as usize][d] += 1;
            }
        }
        counts
    });
    let mut in_data = true;
    let mut offsets = vec![0_usize; radix];
    for d in 0..P {
        let mut sum = 0;
        let mut trivial = false;
        for (offset, count) in offsets.iter_mut().zip(&counts) {
            trivial |= count[d] == n;
            *offset = sum;
            sum += count[d];
        }
        if trivial {
            continue;
        }
        let shift = low + d as u32 * width;
        if in_data {
            scatter(data, other, &mut offsets, shift, mask);
        } else {
            scatter(other, data, &mut offsets, shift, mask);
        }
        in_data = !in_data;
    }
    !in_data
}

/// One counting-sort pass: each value of `from` goes to the next free slot of its digit.
#[inline(always)]
fn scatter(from: &[f64], to: &mut [f64], offsets: &mut [usize], shift: u32, mask: u64) {
    for &x in from {
        let slot = &mut offsets[((key(x) >> shift) & mask) as usize];
        to[*slot] = x;
        *slot += 1;
    }
}

/// After sorting by key bits `low..`, every inversion lies within a run of values that
/// share those bits: sorts each such run that is out of order, by comparison.
fn sort_runs(values: &mut [f64], low: u32) {
    let n = values.len();
    let mut i = 1;
    while i < n {
        let k = key(values[i]);
        if k < key(values[i - 1]) {
            let run = k >> low;
            let mut start = i - 1;
            while start > 0 && key(values[start - 1]) >> low == run {
                start -= 1;
            }
            let mut end = i + 1;
            while end < n && key(values[end]) >> low == run {
                end += 1;
            }
            values[start..end].sort_unstable_by(f64::total_cmp);
            i = end;
        } else {
            i += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn reference(values: &[f64]) -> Vec<u64> {
        let mut copy = values.to_vec();
        copy.sort_by(f64::total_cmp);
        copy.iter().map(|x| x.to_bits()).collect()
    }

    fn bits(values: &[f64]) -> Vec<u64> {
        values.iter().map(|x| x.to_bits()).collect()
    }

    fn check(values: &[f64]) {
        let want = reference(values);
        let mut a = values.to_vec();
        let mut scratch = Vec::new();
        let n = a.len();
        if radix_sort(&mut a, &mut scratch) {
            a.copy_from_slice(&scratch[..n]);
        }
        assert_eq!(bits(&a), want, "radix on {} values", values.len());
        let mut m = values.to_vec();
        msd_sort(&mut m, &mut vec![f64::NAN; 5]);
        assert_eq!(bits(&m), want, "msd on {} values", values.len());
        let mut v = values.to_vec();
        sort_total_with(&mut v, &mut vec![f64::NAN; 7]);
        assert_eq!(bits(&v), want, "sort_total_with on {} values", values.len());
        let mut b = values.to_vec();
        sort_total(&mut b);
        assert_eq!(bits(&b), want, "sort_total on {} values", values.len());
        assert_eq!(
            bits(&sorted_copy(values)),
            want,
            "sorted_copy of {}",
            values.len()
        );
    }

    /// splitmix64.
    fn random(seed: u64) -> impl FnMut() -> u64 {
        let mut state = seed;
        move || {
            state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = state;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^ (z >> 31)
        }
    }

    #[test]
    fn keys_follow_total_cmp() {
        let specials = [
            f64::NEG_INFINITY,
            f64::MIN,
            -1.0,
            -f64::MIN_POSITIVE,
            -1e-310,
            -0.0,
            0.0,
            1e-310,
            f64::MIN_POSITIVE,
            1.0,
            f64::MAX,
            f64::INFINITY,
            f64::NAN,
            -f64::NAN,
        ];
        for a in specials {
            for b in specials {
                assert_eq!(key(a).cmp(&key(b)), a.total_cmp(&b), "{a:?} vs {b:?}");
            }
        }
    }

    #[test]
    fn special_values_and_signed_zeros() {
        let mut values = vec![
            3.5,
            -0.0,
            0.0,
            f64::NAN,
            -f64::NAN,
            f64::INFINITY,
            f64::NEG_INFINITY,
            -1e-310,
            1e-310,
            -2.0,
            2.0,
            f64::MIN,
            f64::MAX,
            -0.0,
            0.0,
            0.0,
            -0.0,
        ];
        check(&values);
        let mut next = random(7);
        for _ in 0..10_000 {
            values.push(f64::from_bits(next()) % 1e6);
        }
        check(&values);
    }

    #[test]
    fn shapes_that_exercise_every_path() {
        let mut next = random(11);
        let mut uniform = move || (next() >> 11) as f64 / (1_u64 << 53) as f64;
        for n in [0, 1, 2, 3, 100, RADIX_MIN_LEN - 1, RADIX_MIN_LEN, 50_000] {
            // Spread out, both signs.
            let spread: Vec<f64> = (0..n).map(|_| (uniform() - 0.5) * 1e3).collect();
            check(&spread);
            // Integers with many ties, signed zeros among them.
            let ints: Vec<f64> = (0..n).map(|_| ((uniform() - 0.5) * 20.0).round()).collect();
            check(&ints);
            // Clustered: a huge offset with a tiny spread, and one far outlier (large runs
            // left to the comparison sort).
            let mut clustered: Vec<f64> = (0..n).map(|_| 1e9 + uniform()).collect();
            if let Some(first) = clustered.first_mut() {
                *first = -1e300;
            }
            check(&clustered);
            // Already sorted, reversed, constant.
            let mut sorted = spread.clone();
            sorted.sort_by(f64::total_cmp);
            check(&sorted);
            sorted.reverse();
            check(&sorted);
            check(&vec![4.25; n]);
            // Neighbouring floats: at most 12 (then 13) varying key bits, so the first
            // digit of `sorted_copy` holds all of them (then all but one).
            for span in [4096, 8192] {
                let near: Vec<f64> = (0..n)
                    .map(|_| {
                        f64::from_bits(1.5_f64.to_bits() + (uniform() * f64::from(span)) as u64)
                    })
                    .collect();
                check(&near);
            }
            // Few significant bits (the low mantissa bits zero in every value): eighths of
            // both signs, and integers near 2^53 with an odd one out.
            let eighths: Vec<f64> = (0..n)
                .map(|_| ((uniform() - 0.5) * 800.0).round() / 8.0)
                .collect();
            check(&eighths);
            let mut big: Vec<f64> = (0..n)
                .map(|_| (uniform() * 1e3).round() * 2f64.powi(40))
                .collect();
            if let Some(last) = big.last_mut() {
                *last = 2f64.powi(52) + 1.0;
            }
            check(&big);
            // Powers of two: keys differ only in the exponent bits.
            let powers: Vec<f64> = (0..n).map(|i| 2f64.powi((i % 200) as i32 - 100)).collect();
            check(&powers);
        }
    }

    #[test]
    fn scratch_is_reused_whatever_it_held() {
        let mut scratch = vec![f64::NAN; 3];
        let mut next = random(3);
        for n in [5_000, 20_000, 7_000] {
            let values: Vec<f64> = (0..n).map(|_| f64::from_bits(next() >> 2)).collect();
            let mut sorted = values.clone();
            sort_total_with(&mut sorted, &mut scratch);
            assert_eq!(bits(&sorted), reference(&values));
        }
        assert!(scratch.capacity() >= 20_000);
    }

    /// Any bit pattern, including NaNs with payloads and subnormals.
    fn any_f64() -> impl Strategy<Value = f64> {
        prop_oneof![
            any::<u64>().prop_map(f64::from_bits),
            (-1000_i32..1000).prop_map(f64::from),
            prop_oneof![Just(0.0), Just(-0.0), Just(f64::NAN), Just(f64::INFINITY)],
            (-1.0e3..1.0e3_f64),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        #[test]
        fn radix_matches_total_cmp(values in proptest::collection::vec(any_f64(), 0..3000)) {
            let want = reference(&values);
            let mut sorted = values;
            let mut scratch = Vec::new();
            let n = sorted.len();
            if radix_sort(&mut sorted, &mut scratch) {
                sorted.copy_from_slice(&scratch[..n]);
            }
            prop_assert_eq!(bits(&sorted), want);
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(16))]

        #[test]
        fn large_slices_match_total_cmp(
            values in proptest::collection::vec(any_f64(), RADIX_MIN_LEN..3 * RADIX_MIN_LEN),
        ) {
            let want = reference(&values);
            let mut sorted = values.clone();
            sort_total(&mut sorted);
            prop_assert_eq!(&bits(&sorted), &want);
            let mut msd = values.clone();
            msd_sort(&mut msd, &mut Vec::new());
            prop_assert_eq!(&bits(&msd), &want);
            prop_assert_eq!(bits(&sorted_copy(&values)), want);
        }
    }
}
