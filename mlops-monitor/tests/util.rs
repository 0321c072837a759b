//! Test data: deterministic tabular rows drawn from a reference distribution, optionally
//! shifted on chosen features.
#![allow(dead_code)]

use std::sync::Arc;

use mlops_drift::arrow_array::{ArrayRef, Float64Array, Int64Array, RecordBatch, StringArray};
use mlops_drift::arrow_schema::{DataType, Field, Schema};

/// A small deterministic generator (xorshift64*), so tests need no RNG crate.
pub(crate) struct Rng(u64);

impl Rng {
    pub(crate) fn new(seed: u64) -> Self {
        // splitmix64 of the seed: nearby seeds give unrelated streams.
        let mut z = seed.wrapping_add(0x9e37_79b9_7f4a_7c15);
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        Self((z ^ (z >> 31)) | 1)
    }

    pub(crate) fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// Uniform in [0, 1).
    pub(crate) fn uniform(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Standard normal (Box-Muller).
    pub(crate) fn normal(&mut self) -> f64 {
        let u = self.uniform().max(1e-300);
        let v = self.uniform();
        (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()
    }
}

/// How rows are shifted away from the reference.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Shift {
    /// Added to `x`.
    pub(crate) x: f64,
    /// Added to `y`.
    pub(crate) y: f64,
    /// Makes every `country` "DE".
    pub(crate) country: bool,
}

/// `rows` rows of `x`, `y` (normal floats), `count` (small integers) and `country`
/// (strings).
pub(crate) fn rows(seed: u64, rows: usize, shift: Shift) -> RecordBatch {
    let mut rng = Rng::new(seed);
    let mut x = Vec::with_capacity(rows);
    let mut y = Vec::with_capacity(rows);
    let mut count = Vec::with_capacity(rows);
    let mut country = Vec::with_capacity(rows);
    for _ in 0..rows {
        x.push(rng.normal() + shift.x);
        y.push(2.0 * rng.normal() + 10.0 + shift.y);
        count.push((rng.uniform() * 5.0) as i64);
        let c = ["FR", "DE", "IT", "ES"][(rng.uniform() * 4.0) as usize % 4];
        country.push(if shift.country { "DE" } else { c });
    }
    let schema = Arc::new(Schema::new(vec![
        Field::new("x", DataType::Float64, true),
        Field::new("y", DataType::Float64, true),
        Field::new("count", DataType::Int64, true),
        Field::new("country", DataType::Utf8, true),
    ]));
    let columns: Vec<ArrayRef> = vec![
        Arc::new(Float64Array::from(x)),
        Arc::new(Float64Array::from(y)),
        Arc::new(Int64Array::from(count)),
        Arc::new(StringArray::from(country)),
    ];
    RecordBatch::try_new(schema, columns).unwrap()
}

/// Relative closeness for statistics (1e-12, exact for equal values).
pub(crate) fn close(a: f64, b: f64) -> bool {
    a == b || (a - b).abs() <= 1e-12 * a.abs().max(b.abs())
}
