//! What to compute, before fitting: a list of output features, each one source column run
//! through a chain of steps.

use serde::{Deserialize, Serialize};

use crate::error::{Result, TransformError};

/// A transform before fitting: the model's input tensor, column by column.
///
/// Serialised as JSON (or any serde format) so it can live beside the training code's
/// configuration; [`TransformSpec::fit`](crate::TransformSpec::fit) learns its statistics.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TransformSpec {
    /// The output features, in tensor column order.
    pub features: Vec<FeatureSpec>,
}

/// One source column and the steps that turn it into one output column (or several, for
/// one-hot encoding).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FeatureSpec {
    /// The raw column read from the data.
    pub column: String,
    /// The output name; default: the column (with `_PART` for a date part). One-hot outputs
    /// are named `NAME=CATEGORY`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The steps, applied in order.
    #[serde(default)]
    pub steps: Vec<Step>,
}

impl FeatureSpec {
    /// A feature reading `column` with no steps yet.
    pub fn new(column: impl Into<String>) -> Self {
        Self {
            column: column.into(),
            name: None,
            steps: Vec::new(),
        }
    }

    /// Names the output.
    #[must_use]
    pub fn named(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// Appends a step.
    #[must_use]
    pub fn then(mut self, step: Step) -> Self {
        self.steps.push(step);
        self
    }
}

/// One step of a feature's chain.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case", deny_unknown_fields)]
#[non_exhaustive]
pub enum Step {
    /// Replace missing numbers (null or NaN) by a learned or given value.
    Impute {
        /// How the value is chosen.
        strategy: Impute,
    },
    /// Replace missing categories by a given one.
    FillCategory {
        /// The category missing values become.
        value: String,
    },
    /// `(x - mean) / std` with the population standard deviation (1 where it is 0), as
    /// scikit-learn's `StandardScaler`.
    Standardize,
    /// Scale the fitted range onto `[min, max]`, as scikit-learn's `MinMaxScaler`.
    MinMax {
        /// The low end of the output range.
        #[serde(default)]
        min: f64,
        /// The high end of the output range.
        #[serde(default = "one")]
        max: f64,
    },
    /// Limit numbers to `[min, max]` (either bound optional).
    Clip {
        /// The lower bound.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        min: Option<f64>,
        /// The upper bound.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        max: Option<f64>,
    },
    /// `ln(1 + x)`; values at or below -1 are an error.
    Log1p,
    /// The bucket index: how many `boundaries` (strictly increasing) are `<= x`.
    Bucketize {
        /// The bucket edges.
        boundaries: Vec<f64>,
    },
    /// One output column per category seen when fitting (sorted), 1.0 in the row's
    /// category's column. Must be the chain's last step.
    OneHot {
        /// What an unseen category becomes.
        #[serde(default)]
        unknown: Unknown,
    },
    /// The category's index among those seen when fitting (sorted).
    Ordinal {
        /// What an unseen category becomes.
        #[serde(default)]
        unknown: Unknown,
    },
    /// A calendar part of a timestamp (date, timestamp, or an RFC 3339 /
    /// `YYYY-MM-DD[ HH:MM:SS]` string), of the UTC instant for zoned timestamps.
    DatePart {
        /// Which part.
        part: DatePart,
    },
}

fn one() -> f64 {
    1.0
}

/// How [`Step::Impute`] picks its value.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Impute {
    /// The mean of the values seen when fitting.
    Mean,
    /// Their median (the mean of the two middle values for an even count, as numpy).
    Median,
    /// A given number.
    Constant(f64),
}

/// What a category not seen when fitting becomes.
#[derive(Clone, Copy, Debug, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Unknown {
    /// Refuse the row (the default: a silent zero is the train/serve skew this crate exists
    /// to prevent).
    #[default]
    Error,
    /// One-hot: all zeros; ordinal: -1.
    Ignore,
    /// Ordinal only: this number.
    Value(f64),
}

/// The calendar parts [`Step::DatePart`] extracts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DatePart {
    /// The year.
    Year,
    /// 1 to 12.
    Month,
    /// Day of the month, 1 to 31.
    Day,
    /// 0 (Monday) to 6 (Sunday), as pandas' `dayofweek`.
    Weekday,
    /// Day of the year, 1 to 366.
    DayOfYear,
    /// 0 to 23.
    Hour,
    /// 0 to 59.
    Minute,
}

impl DatePart {
    /// The suffix of default output names.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Year => "year",
            Self::Month => "month",
            Self::Day => "day",
            Self::Weekday => "weekday",
            Self::DayOfYear => "day_of_year",
            Self::Hour => "hour",
            Self::Minute => "minute",
        }
    }
}

impl Step {
    /// The step's name in messages (its `op`).
    pub fn op(&self) -> &'static str {
        match self {
            Self::Impute { .. } => "impute",
            Self::FillCategory { .. } => "fill_category",
            Self::Standardize => "standardize",
            Self::MinMax { .. } => "min_max",
            Self::Clip { .. } => "clip",
            Self::Log1p => "log1p",
            Self::Bucketize { .. } => "bucketize",
            Self::OneHot { .. } => "one_hot",
            Self::Ordinal { .. } => "ordinal",
            Self::DatePart { .. } => "date_part",
        }
    }

    /// Checks the step's own parameters.
    pub(crate) fn check(&self, column: &str) -> Result<()> {
        let bad = |what: String| {
            Err(TransformError::InvalidSpec(format!(
                "column {column:?}, step {}: {what}",
                self.op()
            )))
        };
        match self {
            Self::Impute {
                strategy: Impute::Constant(v),
            } if !v.is_finite() => bad(format!("constant {v} is not finite")),
            Self::MinMax { min, max } if !(min.is_finite() && max.is_finite() && min < max) => bad(
                format!("range [{min}, {max}] must be finite with min < max"),
            ),
            Self::Clip { min, max } => {
                if min.is_some_and(|v| !v.is_finite()) || max.is_some_and(|v| !v.is_finite()) {
                    return bad("bounds must be finite".into());
                }
                if let (Some(lo), Some(hi)) = (min, max)
                    && lo > hi
                {
                    return bad(format!("min {lo} is above max {hi}"));
                }
                if min.is_none() && max.is_none() {
                    return bad("needs min, max or both".into());
                }
                Ok(())
            }
            Self::Bucketize { boundaries } => check_boundaries(boundaries).or_else(bad),
            Self::OneHot {
                unknown: Unknown::Value(v),
            } => bad(format!(
                "unknown = {{\"value\": {v}}} is for ordinal; one-hot takes error or ignore"
            )),
            Self::Ordinal {
                unknown: Unknown::Value(v),
            } if !v.is_finite() => bad(format!("unknown value {v} is not finite")),
            _ => Ok(()),
        }
    }
}

/// Bucket edges: at least one, finite, strictly increasing.
pub(crate) fn check_boundaries(boundaries: &[f64]) -> std::result::Result<(), String> {
    if boundaries.is_empty() {
        return Err("needs at least one boundary".into());
    }
    if let Some(b) = boundaries.iter().find(|b| !b.is_finite()) {
        return Err(format!("boundary {b} is not finite"));
    }
    if let Some(w) = boundaries.windows(2).find(|w| w[0] >= w[1]) {
        return Err(format!(
            "boundaries must increase strictly ({} then {})",
            w[0], w[1]
        ));
    }
    Ok(())
}
