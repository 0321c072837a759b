//! The data generator: NYC TLC yellow-taxi trips (the published schema's core columns) priced
//! with the published metered tariff plus noise, one Parquet file per week.
//!
//! The tariff (TLC, since December 2022): $3.00 initial charge, $0.70 per 1/5 mile above
//! 12 mph or per minute in slow traffic, $70 flat between Manhattan and JFK (rate code 2);
//! the surcharges (MTA tax, improvement, congestion, night, weekday rush) are added to
//! `total_amount`, not to `fare_amount`. A *shifted* week raises the metered rates by 20 %
//! and makes trips 40 % longer: the model trained before it no longer fits it.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use mlops::drift::arrow_array::{
    ArrayRef, Float64Array, Int32Array, Int64Array, RecordBatch, StringArray,
    TimestampMicrosecondArray,
};
use mlops::drift::arrow_schema::{DataType, Field, Schema, TimeUnit};
use parquet::arrow::ArrowWriter;

use crate::Error;

/// Monday 2026-01-05, the first generated week, in days since 1970-01-01.
pub(crate) const FIRST_WEEK_DAY: i64 = 20_458;
const MICROS_PER_DAY: i64 = 86_400_000_000;
const MICROS_PER_HOUR: i64 = 3_600_000_000;

/// The published meter rates, and the generator's shift of them.
#[derive(Clone, Copy, Debug)]
struct Tariff {
    initial: f64,
    per_mile: f64,
    per_slow_minute: f64,
    jfk_flat: f64,
}

const TARIFF: Tariff = Tariff {
    initial: 3.00,
    per_mile: 3.50,
    per_slow_minute: 0.70,
    jfk_flat: 70.0,
};

/// How much a shifted week raises fares and stretches trips.
const SHIFT_FARE: f64 = 1.20;
const SHIFT_DISTANCE: f64 = 1.40;

/// Relative pickup frequency by hour of day (night lull, morning and evening peaks).
const HOUR_WEIGHTS: [f64; 24] = [
    0.6, 0.4, 0.3, 0.2, 0.2, 0.3, 0.7, 1.2, 1.5, 1.4, 1.3, 1.3, 1.4, 1.4, 1.5, 1.6, 1.6, 1.8, 2.0,
    1.9, 1.7, 1.6, 1.4, 1.0,
];

/// What to generate.
#[derive(Clone, Debug)]
pub(crate) struct Plan {
    /// Weeks 1..=weeks.
    pub(crate) weeks: u32,
    /// Trips per week.
    pub(crate) rows: usize,
    /// Weeks from this one on are shifted (fare increase, longer trips); 0: none.
    pub(crate) shift_from: u32,
    /// The random seed (each week derives its own, so weeks are stable when more are added).
    pub(crate) seed: u64,
}

/// The folder of week `week` (1-based) under `root`: `week=YYYY-MM-DD` (its Monday).
pub(crate) fn week_dir(root: &Path, week: u32) -> PathBuf {
    root.join(format!("week={}", date(week_start_day(week))))
}

/// The file of week `week` under `root`.
pub(crate) fn week_file(root: &Path, week: u32) -> PathBuf {
    week_dir(root, week).join("part-0.parquet")
}

/// Days since 1970-01-01 of week `week`'s Monday.
pub(crate) fn week_start_day(week: u32) -> i64 {
    FIRST_WEEK_DAY + 7 * (i64::from(week) - 1)
}

/// Writes every missing week of `plan` under `root` (an existing week file is kept: weeks
/// are deterministic, so a rerun or a longer plan only adds). Returns each week's file and
/// whether it was written now.
pub(crate) fn generate(root: &Path, plan: &Plan) -> Result<Vec<(PathBuf, bool)>, Error> {
    if plan.weeks == 0 || plan.rows == 0 {
        return Err("--weeks and --rows must be at least 1".into());
    }
    let mut files = Vec::new();
    for week in 1..=plan.weeks {
        let path = week_file(root, week);
        if path.is_file() {
            files.push((path, false));
            continue;
        }
        let shifted = plan.shift_from > 0 && week >= plan.shift_from;
        let seed = plan.seed ^ u64::from(week).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        let batch = trips(week_start_day(week), plan.rows, shifted, seed)?;
        write_atomic(&path, &batch)?;
        files.push((path, true));
    }
    Ok(files)
}

/// The TLC yellow-taxi columns this template uses, with their published types.
pub(crate) fn schema() -> Schema {
    let time = DataType::Timestamp(TimeUnit::Microsecond, None);
    Schema::new(vec![
        Field::new("VendorID", DataType::Int32, false),
        Field::new("tpep_pickup_datetime", time.clone(), false),
        Field::new("tpep_dropoff_datetime", time, false),
        Field::new("passenger_count", DataType::Int64, true),
        Field::new("trip_distance", DataType::Float64, false),
        Field::new("RatecodeID", DataType::Int64, true),
        Field::new("store_and_fwd_flag", DataType::Utf8, true),
        Field::new("payment_type", DataType::Int64, false),
        Field::new("fare_amount", DataType::Float64, false),
        Field::new("tip_amount", DataType::Float64, false),
        Field::new("total_amount", DataType::Float64, false),
    ])
}

/// `rows` trips picked up in the week starting on day `start_day`.
fn trips(start_day: i64, rows: usize, shifted: bool, seed: u64) -> Result<RecordBatch, Error> {
    let mut rng = Rng::new(seed);
    let hour_total: f64 = HOUR_WEIGHTS.iter().sum();
    let (fare_factor, distance_factor) = match shifted {
        true => (SHIFT_FARE, SHIFT_DISTANCE),
        false => (1.0, 1.0),
    };
    let mut c = Columns::default();
    for _ in 0..rows {
        let day = (rng.uniform() * 7.0) as i64;
        let hour = pick_hour(&mut rng, hour_total);
        let pickup = (start_day + day) * MICROS_PER_DAY
            + hour * MICROS_PER_HOUR
            + (rng.uniform() * MICROS_PER_HOUR as f64) as i64;
        let weekday = day; // weeks start on Monday
        let rush = weekday < 5 && (16..20).contains(&hour);
        let night = !(6..20).contains(&hour);
        let jfk = rng.uniform() < 0.02;
        let distance = match jfk {
            true => (17.0 + rng.normal() * 1.5).clamp(12.0, 25.0),
            false => (1.8 * (0.8 * rng.normal()).exp()).clamp(0.1, 30.0),
        } * distance_factor;
        // Average speed by time of day, with trip-to-trip spread.
        let base_mph = match (rush, night) {
            (true, _) => 8.0,
            (_, true) => 17.0,
            _ if (7..10).contains(&hour) => 9.0,
            _ => 11.5,
        };
        let mph = (base_mph * (0.25 * rng.normal()).exp()).clamp(3.0, 40.0);
        let minutes = distance / mph * 60.0;
        // The meter charges time, not distance, while the cab crawls.
        let slow_share = ((14.0 - mph) / 14.0).clamp(0.05, 0.9);
        let fare = match jfk {
            true => TARIFF.jfk_flat * fare_factor,
            false => {
                let metered = TARIFF.initial
                    + TARIFF.per_mile * distance * (1.0 - slow_share)
                    + TARIFF.per_slow_minute * minutes * slow_share;
                (metered * fare_factor + rng.normal() * 0.6).max(TARIFF.initial)
            }
        };
        let fare = (fare * 100.0).round() / 100.0;
        let payment = match rng.uniform() {
            u if u < 0.70 => 1, // credit card
            u if u < 0.98 => 2, // cash
            _ => 3,             // no charge
        };
        let tip = match payment {
            1 => (fare * (0.12 + 0.1 * rng.uniform()) * 100.0).round() / 100.0,
            _ => 0.0,
        };
        let surcharges =
            0.5 + 1.0 + 2.5 + if night { 1.0 } else { 0.0 } + if rush { 2.5 } else { 0.0 };
        c.vendor.push(if rng.uniform() < 0.35 { 1 } else { 2 });
        c.pickup.push(pickup);
        c.dropoff.push(pickup + (minutes * 60_000_000.0) as i64);
        c.passengers.push(match rng.uniform() {
            u if u < 0.70 => 1,
            u if u < 0.85 => 2,
            u if u < 0.90 => 3,
            u if u < 0.95 => 5,
            _ => 6,
        });
        c.distance.push((distance * 100.0).round() / 100.0);
        c.ratecode.push(if jfk { 2 } else { 1 });
        c.flag.push(if rng.uniform() < 0.01 { "Y" } else { "N" });
        c.payment.push(payment);
        c.fare.push(fare);
        c.tip.push(tip);
        c.total
            .push(((fare + tip + surcharges) * 100.0).round() / 100.0);
    }
    c.into_batch()
}

fn pick_hour(rng: &mut Rng, total: f64) -> i64 {
    let mut left = rng.uniform() * total;
    for (hour, weight) in HOUR_WEIGHTS.iter().enumerate() {
        if left < *weight {
            return hour as i64;
        }
        left -= weight;
    }
    23
}

#[derive(Default)]
struct Columns {
    vendor: Vec<i32>,
    pickup: Vec<i64>,
    dropoff: Vec<i64>,
    passengers: Vec<i64>,
    distance: Vec<f64>,
    ratecode: Vec<i64>,
    flag: Vec<&'static str>,
    payment: Vec<i64>,
    fare: Vec<f64>,
    tip: Vec<f64>,
    total: Vec<f64>,
}

impl Columns {
    fn into_batch(self) -> Result<RecordBatch, Error> {
        let columns: Vec<ArrayRef> = vec![
            Arc::new(Int32Array::from(self.vendor)),
            Arc::new(TimestampMicrosecondArray::from(self.pickup)),
            Arc::new(TimestampMicrosecondArray::from(self.dropoff)),
            Arc::new(Int64Array::from(self.passengers)),
            Arc::new(Float64Array::from(self.distance)),
            Arc::new(Int64Array::from(self.ratecode)),
            Arc::new(StringArray::from(self.flag)),
            Arc::new(Int64Array::from(self.payment)),
            Arc::new(Float64Array::from(self.fare)),
            Arc::new(Float64Array::from(self.tip)),
            Arc::new(Float64Array::from(self.total)),
        ];
        Ok(RecordBatch::try_new(Arc::new(schema()), columns)?)
    }
}

/// Writes `batch` to `path` through a temporary file and a rename, so a reader (or a
/// retried task) never sees half a week.
fn write_atomic(path: &Path, batch: &RecordBatch) -> Result<(), Error> {
    let dir = path.parent().ok_or("a week file has a folder")?;
    std::fs::create_dir_all(dir)?;
    let tmp = dir.join(format!(".part-0.{}.tmp", std::process::id()));
    let file = std::fs::File::create(&tmp)?;
    let mut writer = ArrowWriter::try_new(file, batch.schema(), None)?;
    writer.write(batch)?;
    writer.into_inner()?.sync_all()?;
    std::fs::rename(&tmp, path)?;
    Ok(())
}

/// `YYYY-MM-DD` of a day counted from 1970-01-01 (proleptic Gregorian; Howard Hinnant's
/// civil-from-days).
pub(crate) fn date(days: i64) -> String {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}")
}

/// A small deterministic generator (SplitMix64): the data must be the same on every machine
/// and every run, so tests and templates can state what the gate decides.
pub(crate) struct Rng(u64);

impl Rng {
    pub(crate) fn new(seed: u64) -> Self {
        Self(seed)
    }

    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    pub(crate) fn uniform(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Standard normal (Box–Muller).
    pub(crate) fn normal(&mut self) -> f64 {
        let u = 1.0 - self.uniform(); // (0, 1]
        let v = self.uniform();
        (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()
    }
}
