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
    let rounds = if rng.one_in(2) { 1 } else { 1 + rng.below(4) };
    for _ in 0..rounds {
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

/// `value` with one to three nodes changed: a node replaced by an edge value (huge, negative,
/// fractional or non-finite-looking numbers, empty or odd strings, null, wrong types), an
/// array element or object member dropped or repeated. Mutating the tree rather than the
/// text gets past the JSON syntax to the checks behind it.
pub fn mutate_json(value: &serde_json::Value, rng: &mut FuzzRng) -> serde_json::Value {
    let mut out = value.clone();
    for _ in 0..=rng.below(3) {
        let count = count_nodes(&out);
        let target = rng.below(count);
        let mut seen = 0;
        mutate_node(&mut out, target, &mut seen, rng);
    }
    out
}

fn count_nodes(value: &serde_json::Value) -> usize {
    1 + match value {
        serde_json::Value::Array(items) => items.iter().map(count_nodes).sum(),
        serde_json::Value::Object(map) => map.values().map(count_nodes).sum(),
        _ => 0,
    }
}

fn mutate_node(value: &mut serde_json::Value, target: usize, seen: &mut usize, rng: &mut FuzzRng) {
    use serde_json::Value;
    if *seen == target {
        *seen += 1;
        match (value, rng.below(4)) {
            (Value::Array(items), 0) if !items.is_empty() => {
                let i = rng.below(items.len());
                items.remove(i);
            }
            (Value::Array(items), 1) if !items.is_empty() => {
                let i = rng.below(items.len());
                let copy = items[i].clone();
                for _ in 0..=rng.below(3) {
                    items.push(copy.clone());
                }
            }
            (Value::Object(map), 0 | 1) if !map.is_empty() => {
                let key = map.keys().nth(rng.below(map.len())).cloned();
                if let Some(key) = key {
                    map.remove(&key);
                }
            }
            // Mostly a value of the same kind, which gets past the type checks.
            (value, _) if !rng.one_in(4) => *value = edge_like(value, rng),
            (value, _) => *value = edge_value(rng),
        }
        return;
    }
    *seen += 1;
    match value {
        Value::Array(items) => {
            for item in items {
                mutate_node(item, target, seen, rng);
            }
        }
        Value::Object(map) => {
            for item in map.values_mut() {
                mutate_node(item, target, seen, rng);
            }
        }
        _ => {}
    }
}

fn edge_like(value: &serde_json::Value, rng: &mut FuzzRng) -> serde_json::Value {
    use serde_json::{Value, json};
    match value {
        Value::Number(_) => match rng.below(10) {
            0 => json!(-1),
            1 => json!(0),
            2 => json!(u64::MAX),
            3 => json!(i64::MIN),
            4 => json!(9_007_199_254_740_993u64),
            5 => json!(1e308),
            6 => json!(-0.5),
            7 => json!(4_294_967_296u64),
            8 => json!(rng.below(4)),
            _ => json!(usize::MAX / 8),
        },
        Value::String(text) => match rng.below(4) {
            0 => json!(""),
            1 => json!(format!("{text}{text}")),
            2 => json!(text.to_uppercase()),
            _ => {
                let n = rng.below(8);
                json!(String::from_utf8_lossy(&rng.bytes(n)))
            }
        },
        Value::Bool(flag) => json!(!flag),
        _ => edge_value(rng),
    }
}

fn edge_value(rng: &mut FuzzRng) -> serde_json::Value {
    use serde_json::{Value, json};
    match rng.below(16) {
        0 => json!(-1),
        1 => json!(0),
        2 => json!(u64::MAX),
        3 => json!(i64::MIN),
        4 => json!(9_007_199_254_740_993u64),
        5 => json!(1e308),
        6 => json!(-0.5),
        7 => json!(4_294_967_296u64),
        8 => Value::Null,
        9 => json!(rng.one_in(2)),
        10 => json!(""),
        11 => json!([]),
        12 => json!({}),
        13 => json!("NaN"),
        14 => json!([[1, 2], [3, 4, 5]]),
        _ => {
            let n = rng.below(8);
            json!(String::from_utf8_lossy(&rng.bytes(n)))
        }
    }
}

/// Runs `check` on [`fuzz_cases`] inputs: a quarter random bytes, the rest mutations of
/// `seeds` (valid inputs) with `dict` (see [`run_fuzz_with`]).
pub fn run_fuzz(target: &str, seeds: &[Vec<u8>], dict: &[&[u8]], check: impl FnMut(&[u8])) {
    assert!(
        !seeds.is_empty(),
        "fuzz target {target} needs at least one seed"
    );
    run_fuzz_with(
        target,
        |rng| {
            if rng.one_in(4) {
                let len = rng.below(512);
                rng.bytes(len)
            } else if rng.one_in(16) {
                rng.pick(seeds).clone()
            } else {
                // Mutations of mutations reach further from the seeds.
                let mut input = rng.pick(seeds).clone();
                let rounds = if rng.one_in(2) { 1 } else { 1 + rng.below(3) };
                for _ in 0..rounds {
                    input = mutate(&input, dict, rng);
                }
                input
            }
        },
        check,
    );
}

/// Runs `check` on [`fuzz_cases`] inputs made by `generate`, each from its own generator
/// seeded by the run's seed and the case number. A panic in `check` (a crash in the code
/// under test, or a failed assertion on its output) fails with the input, escaped, and the
/// case number. Prints the case count and rate to stderr, which `scripts/fuzz.sh` collects.
pub fn run_fuzz_with(
    target: &str,
    generate: impl FnMut(&mut FuzzRng) -> Vec<u8>,
    check: impl FnMut(&[u8]),
) {
    run_fuzz_at_least(target, 0, generate, check);
}

/// [`run_fuzz_with`], for at least `min_cases` cases: for a cheap target whose mistakes
/// show only after thousands of cases (a differential test of a fast path), which the
/// default 256 would let through.
#[allow(clippy::print_stderr)]
pub fn run_fuzz_at_least(
    target: &str,
    min_cases: u64,
    mut generate: impl FnMut(&mut FuzzRng) -> Vec<u8>,
    mut check: impl FnMut(&[u8]),
) {
    let cases = fuzz_cases().max(min_cases);
    let seed = fuzz_seed();
    let start = Instant::now();
    for case in 0..cases {
        let mut rng = FuzzRng::new(seed ^ case.wrapping_mul(0xA24B_AED4_963E_E407));
        let mut input = generate(&mut rng);
        input.truncate(FUZZ_MAX_INPUT);
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
