//! Running one feature's chain: fitting each step on the output of the steps before it, and
//! applying fitted steps. The same code runs in training and in serving.

use chrono::{DateTime, Datelike, Timelike};

use crate::column::Values;
use crate::error::{Result, TransformError};
use crate::fitted::FittedStep;
use crate::spec::{DatePart, Impute, Step, Unknown};

/// A chain's intermediate values.
pub(crate) enum Stage {
    /// Numbers (NaN missing).
    Num(Vec<f64>),
    /// Categories (None missing).
    Cat(Vec<Option<String>>),
    /// Instants in microseconds (None missing).
    Time(Vec<Option<i64>>),
    /// One-hot rows, row-major, `width` columns.
    Encoded {
        /// Columns per row.
        width: usize,
        /// The values.
        data: Vec<f64>,
    },
}

impl From<Values> for Stage {
    fn from(v: Values) -> Self {
        match v {
            Values::Num(x) => Self::Num(x),
            Values::Cat(x) => Self::Cat(x),
            Values::Time(x) => Self::Time(x),
        }
    }
}

/// Where an error happened.
pub(crate) struct At<'a> {
    /// The raw column.
    pub(crate) column: &'a str,
    /// The step's op.
    pub(crate) step: &'static str,
}

impl At<'_> {
    fn missing(&self, row: usize) -> TransformError {
        TransformError::Missing {
            column: self.column.to_owned(),
            row,
            step: self.step.to_owned(),
        }
    }

    fn mismatch(&self) -> TransformError {
        // check_chain rules this out before any data is touched.
        TransformError::InvalidSpec(format!(
            "column {:?}: step {} got the wrong kind of values",
            self.column, self.step
        ))
    }
}

/// The first missing row of numbers, if any.
fn first_missing(x: &[f64]) -> Option<usize> {
    x.iter().position(|v| v.is_nan())
}

/// Learns what `step` needs from the stage it reads (the whole training column).
pub(crate) fn fit_step(step: &Step, stage: &Stage, at: &At<'_>) -> Result<FittedStep> {
    let nothing = |rows: usize| TransformError::NothingToFit {
        column: at.column.to_owned(),
        step: at.step.to_owned(),
        rows,
    };
    Ok(match (step, stage) {
        (Step::Impute { strategy }, Stage::Num(x)) => {
            let present: Vec<f64> = x.iter().copied().filter(|v| !v.is_nan()).collect();
            let value = match strategy {
                Impute::Constant(v) => *v,
                Impute::Mean => mean(&present).ok_or_else(|| nothing(x.len()))?,
                Impute::Median => median(present).ok_or_else(|| nothing(x.len()))?,
            };
            FittedStep::Impute { value }
        }
        (Step::FillCategory { value }, Stage::Cat(_)) => FittedStep::FillCategory {
            value: value.clone(),
        },
        (Step::Standardize, Stage::Num(x)) => {
            if let Some(row) = first_missing(x) {
                return Err(at.missing(row));
            }
            let m = mean(x).ok_or_else(|| nothing(0))?;
            #[allow(clippy::cast_precision_loss)]
            let var = x.iter().map(|v| (v - m) * (v - m)).sum::<f64>() / x.len() as f64;
            let sd = var.sqrt();
            // A constant column: scale 1, as scikit-learn, so it maps to 0 instead of NaN.
            let scale = if sd > 0.0 && sd.is_finite() { sd } else { 1.0 };
            FittedStep::Standardize { mean: m, scale }
        }
        (Step::MinMax { min, max }, Stage::Num(x)) => {
            if let Some(row) = first_missing(x) {
                return Err(at.missing(row));
            }
            let lo = x.iter().copied().fold(f64::INFINITY, f64::min);
            let hi = x.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            if x.is_empty() {
                return Err(nothing(0));
            }
            let range = if hi - lo > 0.0 { hi - lo } else { 1.0 };
            let scale = (max - min) / range;
            FittedStep::MinMax {
                data_min: lo,
                data_max: hi,
                scale,
                offset: min - lo * scale,
            }
        }
        (Step::Clip { min, max }, Stage::Num(_)) => FittedStep::Clip {
            min: *min,
            max: *max,
        },
        (Step::Log1p, Stage::Num(_)) => FittedStep::Log1p,
        (Step::Bucketize { boundaries }, Stage::Num(_)) => FittedStep::Bucketize {
            boundaries: boundaries.clone(),
        },
        (Step::OneHot { unknown }, Stage::Cat(x)) => FittedStep::OneHot {
            categories: categories(x, at)?,
            unknown: *unknown,
        },
        (Step::Ordinal { unknown }, Stage::Cat(x)) => FittedStep::Ordinal {
            categories: categories(x, at)?,
            unknown: *unknown,
        },
        (Step::DatePart { part }, Stage::Time(_)) => FittedStep::DatePart { part: *part },
        _ => return Err(at.mismatch()),
    })
}

#[allow(clippy::cast_precision_loss)]
fn mean(x: &[f64]) -> Option<f64> {
    (!x.is_empty()).then(|| x.iter().sum::<f64>() / x.len() as f64)
}

fn median(mut x: Vec<f64>) -> Option<f64> {
    if x.is_empty() {
        return None;
    }
    x.sort_by(f64::total_cmp);
    let n = x.len();
    Some(if n % 2 == 1 {
        x[n / 2]
    } else {
        (x[n / 2 - 1] + x[n / 2]) / 2.0
    })
}

/// The sorted distinct categories; a missing one is an error (fill it first).
fn categories(x: &[Option<String>], at: &At<'_>) -> Result<Vec<String>> {
    let mut out = Vec::new();
    for (row, v) in x.iter().enumerate() {
        out.push(v.as_deref().ok_or_else(|| at.missing(row))?);
    }
    out.sort_unstable();
    out.dedup();
    if out.is_empty() {
        return Err(TransformError::NothingToFit {
            column: at.column.to_owned(),
            step: at.step.to_owned(),
            rows: 0,
        });
    }
    Ok(out.into_iter().map(str::to_owned).collect())
}

/// Applies one fitted step.
pub(crate) fn apply_step(step: &FittedStep, stage: Stage, at: &At<'_>) -> Result<Stage> {
    Ok(match (step, stage) {
        (FittedStep::Impute { value }, Stage::Num(mut x)) => {
            for v in &mut x {
                if v.is_nan() {
                    *v = *value;
                }
            }
            Stage::Num(x)
        }
        (FittedStep::FillCategory { value }, Stage::Cat(mut x)) => {
            for v in &mut x {
                if v.is_none() {
                    *v = Some(value.clone());
                }
            }
            Stage::Cat(x)
        }
        (FittedStep::Standardize { mean, scale }, Stage::Num(x)) => {
            num_map(x, at, |v| Some((v - mean) / scale))?
        }
        (FittedStep::MinMax { scale, offset, .. }, Stage::Num(x)) => {
            num_map(x, at, |v| Some(v * scale + offset))?
        }
        (FittedStep::Clip { min, max }, Stage::Num(x)) => num_map(x, at, |v| {
            let v = min.map_or(v, |lo| v.max(lo));
            Some(max.map_or(v, |hi| v.min(hi)))
        })?,
        (FittedStep::Log1p, Stage::Num(x)) => {
            if let Some((row, v)) = x.iter().enumerate().find(|(_, v)| **v <= -1.0) {
                return Err(TransformError::Input(format!(
                    "column {:?} row {row}: log1p of {v} is undefined (values must be above -1)",
                    at.column
                )));
            }
            num_map(x, at, |v| Some(v.ln_1p()))?
        }
        #[allow(clippy::cast_precision_loss)]
        (FittedStep::Bucketize { boundaries }, Stage::Num(x)) => num_map(x, at, |v| {
            Some(boundaries.partition_point(|b| *b <= v) as f64)
        })?,
        (
            FittedStep::OneHot {
                categories,
                unknown,
            },
            Stage::Cat(x),
        ) => {
            let width = categories.len();
            let mut data = vec![0.0; x.len() * width];
            for (row, v) in x.iter().enumerate() {
                let v = v.as_deref().ok_or_else(|| at.missing(row))?;
                match categories.binary_search_by(|c| c.as_str().cmp(v)) {
                    Ok(i) => data[row * width + i] = 1.0,
                    Err(_) if *unknown == Unknown::Ignore => {}
                    Err(_) => return Err(unknown_category(at, row, v, width)),
                }
            }
            Stage::Encoded { width, data }
        }
        (
            FittedStep::Ordinal {
                categories,
                unknown,
            },
            Stage::Cat(x),
        ) => {
            let mut out = Vec::with_capacity(x.len());
            for (row, v) in x.iter().enumerate() {
                let v = v.as_deref().ok_or_else(|| at.missing(row))?;
                #[allow(clippy::cast_precision_loss)]
                out.push(
                    match (categories.binary_search_by(|c| c.as_str().cmp(v)), unknown) {
                        (Ok(i), _) => i as f64,
                        (Err(_), Unknown::Ignore) => -1.0,
                        (Err(_), Unknown::Value(u)) => *u,
                        (Err(_), Unknown::Error) => {
                            return Err(unknown_category(at, row, v, categories.len()));
                        }
                    },
                );
            }
            Stage::Num(out)
        }
        (FittedStep::DatePart { part }, Stage::Time(x)) => {
            let mut out = Vec::with_capacity(x.len());
            for (row, v) in x.iter().enumerate() {
                let micros = v.ok_or_else(|| at.missing(row))?;
                let dt = DateTime::from_timestamp_micros(micros).ok_or_else(|| {
                    TransformError::Input(format!(
                        "column {:?} row {row}: instant {micros} µs is out of range",
                        at.column
                    ))
                })?;
                out.push(f64::from(date_part(&dt, *part)));
            }
            Stage::Num(out)
        }
        _ => return Err(at.mismatch()),
    })
}

fn unknown_category(at: &At<'_>, row: usize, value: &str, known: usize) -> TransformError {
    TransformError::UnknownCategory {
        column: at.column.to_owned(),
        row,
        value: value.to_owned(),
        known,
    }
}

/// Maps every number; a missing one is an error (impute first).
fn num_map(mut x: Vec<f64>, at: &At<'_>, f: impl Fn(f64) -> Option<f64>) -> Result<Stage> {
    for (row, v) in x.iter_mut().enumerate() {
        if v.is_nan() {
            return Err(at.missing(row));
        }
        *v = f(*v).ok_or_else(|| at.missing(row))?;
    }
    Ok(Stage::Num(x))
}

#[allow(clippy::cast_possible_wrap)] // calendar parts are small
fn date_part(dt: &DateTime<chrono::Utc>, part: DatePart) -> i32 {
    match part {
        DatePart::Year => dt.year(),
        DatePart::Month => dt.month() as i32,
        DatePart::Day => dt.day() as i32,
        DatePart::Weekday => dt.weekday().num_days_from_monday() as i32,
        DatePart::DayOfYear => dt.ordinal() as i32,
        DatePart::Hour => dt.hour() as i32,
        DatePart::Minute => dt.minute() as i32,
    }
}
