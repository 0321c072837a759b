//! A small fuzz harness on stable Rust for the workspace's parsers (issue 17): a seeded
//! generator, structure-aware mutations of valid inputs, and a loop that names the failing
//! input. The crates that need it have `mlops-core/test-util` as a dev-dependency but not
//! proptest, and a fixed seed keeps every failure reproducible from its message.
//!
//! The number of cases is `PROPTEST_CASES` (256 by default, so `cargo test` stays fast;
//! `scripts/fuzz.sh` raises it to millions), the seed is `FUZZ_SEED`.

#![allow(clippy::panic)] // Test support: failing loudly is the point.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::time::Instant;

/// Inputs are capped at this many bytes, so a target's memory stays bounded.
pub const FUZZ_MAX_INPUT: usize = 64 * 1024;

/// A deterministic generator (SplitMix64): fast, and the same on every platform.
#[derive(Debug, Clone)]
pub struct FuzzRng(u64);

impl FuzzRng {
    /// A generator started from `seed`.
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (0 when `n` is 0).
    pub fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next_u64() % n as u64) as usize
        }
    }

    /// True with probability `1 / n`.
    pub fn one_in(&mut self, n: usize) -> bool {
        self.below(n) == 0
    }

    /// One element of a non-empty slice.
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }

    /// `len` random bytes, biased towards the bytes parsers care about.
    pub fn bytes(&mut self, len: usize) -> Vec<u8> {
        (0..len).map(|_| self.byte()).collect()
    }

    fn byte(&mut self) -> u8 {
        const INTERESTING: &[u8] = b"\0\x7f\xff\"'\\{}[]():,.-+0129eE \n\t=<>!%_`";
        if self.one_in(2) {
            *self.pick(INTERESTING)
        } else {
            self.next_u64() as u8
        }
    }
}

/// `input` changed by one to four mutations: bit flips, interesting bytes, deleted,
/// duplicated or truncated ranges, and tokens from `dict` inserted or overwritten (the
/// structure-aware part: a target passes its grammar's keywords and numbers).
pub fn mutate(input: &[u8], dict: &[&[u8]], rng: &mut FuzzRng) -> Vec<u8> {
    let mut out = input.to_vec();
    for _ in 0..=rng.below(4) {
        let len = out.len();
        let at = rng.below(len + 1);
        match rng.below(8) {
            0 if len > 0 => {
                let i = rng.below(len);
                out[i] ^= 1 << rng.below(8);
            }
            1 if len > 0 => {
                let i = rng.below(len);
                out[i] = rng.byte();
            }
            2 => {
                let end = (at + 1 + rng.below(16)).min(len);
                out.drain(at..end);
            }
            3 if len > 0 => {
                let start = rng.below(len);
                let end = (start + 1 + rng.below(64)).min(len);
                let copy = out[start..end].to_vec();
                for _ in 0..=rng.below(4) {
                    out.splice(at..at, copy.iter().copied());
                }
            }
            4 => out.truncate(at),
            5 | 6 if !dict.is_empty() => {
                let token = *rng.pick(dict);
                if rng.one_in(2) {
                    out.splice(at..at, token.iter().copied());
                } else {
                    let end = (at + token.len()).min(len);
                    out.splice(at..end, token.iter().copied());
                }
            }
            _ => {
                let n = 1 + rng.below(8);
                let extra = rng.bytes(n);
                out.splice(at..at, extra);
            }
        }
    }
    out.truncate(FUZZ_MAX_INPUT);
    out
}

/// How many cases each target runs: `PROPTEST_CASES`, or 256.
pub fn fuzz_cases() -> u64 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(256)
}

/// The run's seed: `FUZZ_SEED`, or a fixed one so `cargo test` is reproducible.
pub fn fuzz_seed() -> u64 {
    std::env::var("FUZZ_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0x006D_6C6F_7073_3137)
}

/// Runs `check` on [`fuzz_cases`] inputs: a quarter random bytes, the rest mutations of
/// `seeds` (valid inputs) with `dict`. A panic in `check` (a crash in the code under test,
/// or a failed assertion on its output) fails with the input, escaped, and the case number.
/// Prints the case count and rate to stderr, which `scripts/fuzz.sh` collects.
#[allow(clippy::print_stderr)]
pub fn run_fuzz(target: &str, seeds: &[Vec<u8>], dict: &[&[u8]], mut check: impl FnMut(&[u8])) {
    assert!(
        !seeds.is_empty(),
        "fuzz target {target} needs at least one seed"
    );
    let cases = fuzz_cases();
    let seed = fuzz_seed();
    let start = Instant::now();
    for case in 0..cases {
        let mut rng = FuzzRng::new(seed ^ case.wrapping_mul(0xA24B_AED4_963E_E407));
        let input = if rng.one_in(4) {
            let len = rng.below(512);
            rng.bytes(len)
        } else {
            // Mutations of mutations reach further from the seeds.
            let mut input = rng.pick(seeds).clone();
            for _ in 0..=rng.below(3) {
                input = mutate(&input, dict, &mut rng);
            }
            input
        };
        if let Err(payload) = catch_unwind(AssertUnwindSafe(|| check(&input))) {
            let message = payload
                .downcast_ref::<String>()
                .map(String::as_str)
                .or_else(|| payload.downcast_ref::<&str>().copied())
                .unwrap_or("(non-string panic)");
            panic!(
                "fuzz target {target} failed at case {case} (FUZZ_SEED={seed}): {message}\n\
                 input ({} bytes): b\"{}\"",
                input.len(),
                input.escape_ascii()
            );
        }
    }
    let secs = start.elapsed().as_secs_f64();
    eprintln!(
        "fuzz {target}: {cases} cases in {secs:.1} s ({:.0} cases/s), no failure",
        cases as f64 / secs.max(1e-9)
    );
}
