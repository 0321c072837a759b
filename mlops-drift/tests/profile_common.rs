//! Data shared by the `profile_*` tests: a deterministic generator and a mixed-type dataset.

use std::sync::Arc;

use arrow_array::types::Int32Type;
use arrow_array::{
    ArrayRef, BooleanArray, DictionaryArray, Float64Array, Int32Array, Int64Array, RecordBatch,
    StringArray,
};
use arrow_schema::{DataType, Field, Schema};
use mlops_drift::{DriftOptions, DriftReport, StatTest};

/// xorshift64*: deterministic, no dependency.
pub(crate) struct Rng(u64);

impl Rng {
    pub(crate) fn new(seed: u64) -> Self {
        Self(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    pub(crate) fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Uniform in [0, 1).
    pub(crate) fn uniform(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1_u64 << 53) as f64
    }

    /// Standard normal (Box–Muller).
    pub(crate) fn normal(&mut self) -> f64 {
        let u = self.uniform().max(1e-300);
        let v = self.uniform();
        (-2.0 * u.ln()).sqrt() * (2.0 * std::f64::consts::PI * v).cos()
    }

    pub(crate) fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }
}

/// The schema of [`mixed`].
pub(crate) fn mixed_schema() -> Arc<Schema> {
    Arc::new(Schema::new(vec![
        Field::new("amount", DataType::Float64, true),
        Field::new("rounded", DataType::Float64, true),
        Field::new("count", DataType::Int64, true),
        Field::new("level", DataType::Int32, true),
        Field::new("country", DataType::Utf8, true),
        Field::new("flag", DataType::Boolean, true),
        Field::new(
            "device",
            DataType::Dictionary(Box::new(DataType::Int32), Box::new(DataType::Utf8)),
            true,
        ),
    ]))
}

/// `rows` rows of mixed columns, cut into batches of at most `batch` rows; `shift` moves the
/// distributions. Columns: `amount` (continuous, with nulls, NaN and infinities), `rounded`
/// (a few hundred distinct values), `count` (integers, about 600 distinct), `level` (at most
/// 8 distinct integers: categorical), `country`, `flag`, `device` (a dictionary).
pub(crate) fn mixed(seed: u64, rows: usize, batch: usize, shift: f64) -> Vec<RecordBatch> {
    let mut rng = Rng::new(seed);
    let schema = mixed_schema();
    let mut out = Vec::new();
    let mut done = 0;
    while done < rows {
        let n = batch.min(rows - done);
        done += n;
        let mut amount = Vec::with_capacity(n);
        let mut rounded = Vec::with_capacity(n);
        let mut count = Vec::with_capacity(n);
        let mut level = Vec::with_capacity(n);
        let mut country = Vec::with_capacity(n);
        let mut flag = Vec::with_capacity(n);
        let mut device = Vec::with_capacity(n);
        for _ in 0..n {
            let x = rng.normal() * 10.0 + 50.0 + shift * 10.0;
            amount.push(match rng.below(100) {
                0 => None,
                1 => Some(f64::NAN),
                2 => Some(f64::INFINITY),
                _ => Some(x),
            });
            rounded.push(Some(((rng.normal() + shift) * 30.0).round() / 10.0));
            count.push(if rng.below(50) == 0 {
                None
            } else {
                Some((rng.normal() * 100.0 + 300.0 + shift * 50.0).round() as i64)
            });
            level.push(Some((rng.below(8) as i32 + i32::from(shift > 0.5)).min(7)));
            let c = ["FR", "DE", "IT", "ES", "NL"]
                [(rng.below(5) as usize + usize::from(shift > 0.0 && rng.below(4) == 0)) % 5];
            country.push(if rng.below(40) == 0 { None } else { Some(c) });
            flag.push(Some(rng.uniform() < 0.3 + shift * 0.1));
            device.push(["ios", "android", "web"][rng.below(3) as usize]);
        }
        let device: DictionaryArray<Int32Type> = device.into_iter().collect();
        let columns: Vec<ArrayRef> = vec![
            Arc::new(Float64Array::from(amount)),
            Arc::new(Float64Array::from(rounded)),
            Arc::new(Int64Array::from(count)),
            Arc::new(Int32Array::from(level)),
            Arc::new(StringArray::from(country)),
            Arc::new(BooleanArray::from(flag)),
            Arc::new(device),
        ];
        out.push(RecordBatch::try_new(schema.clone(), columns).unwrap());
    }
    out
}

/// Option sets covering the default choice and every test.
pub(crate) fn option_sets() -> Vec<DriftOptions> {
    let mut all = DriftOptions::default();
    for test in StatTest::ALL {
        for column in ["amount", "rounded", "count"] {
            all = all.with_column_test(column, test);
        }
        if test.applies_to(mlops_drift::ColumnKind::Categorical) {
            for column in ["level", "country", "flag", "device"] {
                all = all.with_column_test(column, test);
            }
        }
    }
    vec![
        DriftOptions::default(),
        all,
        DriftOptions::default()
            .with_test(StatTest::Ks)
            .with_ks_method(mlops_drift::stats::ks::KsMethod::Asymp),
    ]
}

/// A report as JSON, the form compared (NaN-safe).
pub(crate) fn json(report: &DriftReport) -> String {
    report.to_json()
}
