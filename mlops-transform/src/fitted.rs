//! A fitted transform: the spec with every statistic it learned, the file shipped with the
//! model version and read back by the server.

use serde::{Deserialize, Serialize};

use crate::column::InputKind;
use crate::error::{Result, TransformError};
use crate::spec::{DatePart, Unknown, check_boundaries};

/// The `format` tag of the file.
pub const FORMAT: &str = "mlops-transform/1";

/// The largest fitted transform file read (a one-hot step of a million categories is ~20 MB).
pub const MAX_FILE_BYTES: usize = 64 << 20;

/// A transform with its learned statistics: apply it to raw Arrow data to get the model's
/// input tensor. Serialised with [`FittedTransform::to_json`]; immutable once fitted.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FittedTransform {
    /// Always [`FORMAT`].
    pub format: String,
    /// The features, in tensor column order.
    pub features: Vec<FittedFeature>,
}

/// One fitted feature.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FittedFeature {
    /// The raw column it reads.
    pub column: String,
    /// How it reads that column.
    pub input: InputKind,
    /// The steps, in order, with what each learned.
    pub steps: Vec<FittedStep>,
    /// The names of its output columns (several for one-hot).
    pub outputs: Vec<String>,
}

/// A step with its learned parameters.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case", deny_unknown_fields)]
#[non_exhaustive]
pub enum FittedStep {
    /// Missing numbers become `value`.
    Impute {
        /// The fill value.
        value: f64,
    },
    /// Missing categories become `value`.
    FillCategory {
        /// The fill category.
        value: String,
    },
    /// `(x - mean) / scale`.
    Standardize {
        /// The fitted mean.
        mean: f64,
        /// The fitted population standard deviation (1 where it was 0).
        scale: f64,
    },
    /// `x * scale + offset`.
    MinMax {
        /// The smallest value seen when fitting.
        data_min: f64,
        /// The largest value seen when fitting.
        data_max: f64,
        /// The factor.
        scale: f64,
        /// The shift.
        offset: f64,
    },
    /// Limit to `[min, max]`.
    Clip {
        /// The lower bound.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        min: Option<f64>,
        /// The upper bound.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        max: Option<f64>,
    },
    /// `ln(1 + x)`.
    Log1p,
    /// The bucket index.
    Bucketize {
        /// The bucket edges, strictly increasing.
        boundaries: Vec<f64>,
    },
    /// One column per category.
    OneHot {
        /// The categories seen when fitting, sorted.
        categories: Vec<String>,
        /// What an unseen category becomes.
        unknown: Unknown,
    },
    /// The category's index.
    Ordinal {
        /// The categories seen when fitting, sorted.
        categories: Vec<String>,
        /// What an unseen category becomes.
        unknown: Unknown,
    },
    /// A calendar part.
    DatePart {
        /// Which part.
        part: DatePart,
    },
}

/// What flows between steps: the type half of a chain.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Flow {
    /// Numbers.
    Num,
    /// Categories.
    Cat,
    /// Instants.
    Time,
    /// One-hot columns (the end of a chain).
    Encoded,
}

impl Flow {
    pub(crate) fn of(input: InputKind) -> Self {
        match input {
            InputKind::Number => Self::Num,
            InputKind::Category => Self::Cat,
            InputKind::Time => Self::Time,
        }
    }

    pub(crate) fn name(self) -> &'static str {
        match self {
            Self::Num => "numbers",
            Self::Cat => "categories",
            Self::Time => "date-times",
            Self::Encoded => "one-hot columns",
        }
    }
}

/// The flow a step reads and the flow it yields, by op name.
pub(crate) fn flow_of(op: &str) -> (Flow, Flow) {
    match op {
        "fill_category" => (Flow::Cat, Flow::Cat),
        "one_hot" => (Flow::Cat, Flow::Encoded),
        "ordinal" => (Flow::Cat, Flow::Num),
        "date_part" => (Flow::Time, Flow::Num),
        _ => (Flow::Num, Flow::Num),
    }
}

/// Checks that ops chain from `input`: each step reads what the previous one yields and the
/// chain ends in numbers or one-hot columns.
pub(crate) fn check_chain<'a>(
    column: &str,
    input: Flow,
    ops: impl Iterator<Item = &'a str>,
) -> Result<()> {
    let mut flow = input;
    for op in ops {
        let (takes, gives) = flow_of(op);
        if flow != takes {
            return Err(TransformError::InvalidSpec(format!(
                "column {column:?}: step {op} reads {} but gets {}",
                takes.name(),
                flow.name()
            )));
        }
        flow = gives;
    }
    match flow {
        Flow::Num | Flow::Encoded => Ok(()),
        other => Err(TransformError::InvalidSpec(format!(
            "column {column:?}: the chain ends with {} and needs an encoding step (one_hot, ordinal or date_part)",
            other.name()
        ))),
    }
}

impl FittedStep {
    /// The step's name (its `op`).
    pub fn op(&self) -> &'static str {
        match self {
            Self::Impute { .. } => "impute",
            Self::FillCategory { .. } => "fill_category",
            Self::Standardize { .. } => "standardize",
            Self::MinMax { .. } => "min_max",
            Self::Clip { .. } => "clip",
            Self::Log1p => "log1p",
            Self::Bucketize { .. } => "bucketize",
            Self::OneHot { .. } => "one_hot",
            Self::Ordinal { .. } => "ordinal",
            Self::DatePart { .. } => "date_part",
        }
    }

    /// How many output columns the step yields if it ends a chain.
    pub(crate) fn width(&self) -> usize {
        match self {
            Self::OneHot { categories, .. } => categories.len(),
            _ => 1,
        }
    }

    fn check(&self) -> std::result::Result<(), String> {
        let finite = |name: &str, v: f64| {
            if v.is_finite() {
                Ok(())
            } else {
                Err(format!("{name} {v} is not finite"))
            }
        };
        match self {
            Self::Impute { value } => finite("value", *value),
            Self::Standardize { mean, scale } => {
                finite("mean", *mean)?;
                finite("scale", *scale)?;
                if *scale == 0.0 {
                    Err("scale is 0".into())
                } else {
                    Ok(())
                }
            }
            Self::MinMax {
                data_min,
                data_max,
                scale,
                offset,
            } => {
                finite("data_min", *data_min)?;
                finite("data_max", *data_max)?;
                finite("scale", *scale)?;
                finite("offset", *offset)
            }
            Self::Clip { min, max } => {
                if let Some(v) = min {
                    finite("min", *v)?;
                }
                if let Some(v) = max {
                    finite("max", *v)?;
                }
                match (min, max) {
                    (Some(lo), Some(hi)) if lo > hi => Err(format!("min {lo} is above max {hi}")),
                    _ => Ok(()),
                }
            }
            Self::Bucketize { boundaries } => check_boundaries(boundaries),
            Self::OneHot {
                categories,
                unknown,
            }
            | Self::Ordinal {
                categories,
                unknown,
            } => {
                let mut sorted: Vec<&String> = categories.iter().collect();
                sorted.sort();
                if let Some(w) = sorted.windows(2).find(|w| w[0] == w[1]) {
                    return Err(format!("category {:?} appears twice", w[0]));
                }
                match unknown {
                    Unknown::Value(v) if matches!(self, Self::OneHot { .. }) => {
                        Err(format!("unknown = value {v} is for ordinal only"))
                    }
                    Unknown::Value(v) => finite("unknown value", *v),
                    _ => Ok(()),
                }
            }
            Self::FillCategory { .. } | Self::Log1p | Self::DatePart { .. } => Ok(()),
        }
    }
}

impl FittedTransform {
    /// The transform as JSON bytes (exact floats: reading it back gives the same bits).
    pub fn to_json(&self) -> Vec<u8> {
        // Serialising plain data with string keys cannot fail.
        serde_json::to_vec_pretty(self).unwrap_or_default()
    }

    /// Reads a transform written by [`FittedTransform::to_json`], checking everything a
    /// damaged or hand-edited file could get wrong before it is trusted with traffic.
    pub fn from_json(bytes: &[u8]) -> Result<Self> {
        if bytes.len() > MAX_FILE_BYTES {
            return Err(TransformError::Format(format!(
                "{} bytes is over the limit of {MAX_FILE_BYTES} bytes",
                bytes.len()
            )));
        }
        let this: Self =
            serde_json::from_slice(bytes).map_err(|e| TransformError::Format(e.to_string()))?;
        this.validate()?;
        Ok(this)
    }

    /// Checks the invariants a fitted transform keeps (format, chains, finite statistics,
    /// output names).
    pub fn validate(&self) -> Result<()> {
        if self.format != FORMAT {
            return Err(TransformError::Format(format!(
                "format {:?} is not {FORMAT:?} (written by a newer release?)",
                self.format
            )));
        }
        if self.features.is_empty() {
            return Err(TransformError::Format("no features".into()));
        }
        let mut names = std::collections::HashSet::new();
        for f in &self.features {
            check_chain(
                &f.column,
                Flow::of(f.input),
                f.steps.iter().map(FittedStep::op),
            )
            .map_err(|e| TransformError::Format(e.to_string()))?;
            for s in &f.steps {
                s.check().map_err(|e| {
                    TransformError::Format(format!("column {:?}, step {}: {e}", f.column, s.op()))
                })?;
            }
            let width = f.steps.last().map_or(1, FittedStep::width);
            if f.outputs.len() != width {
                return Err(TransformError::Format(format!(
                    "column {:?}: {} output names for {width} output columns",
                    f.column,
                    f.outputs.len()
                )));
            }
            for name in &f.outputs {
                if !names.insert(name.as_str()) {
                    return Err(TransformError::Format(format!(
                        "output {name:?} appears twice"
                    )));
                }
            }
        }
        Ok(())
    }

    /// The output column names, in tensor order.
    pub fn output_names(&self) -> Vec<&str> {
        self.features
            .iter()
            .flat_map(|f| f.outputs.iter().map(String::as_str))
            .collect()
    }

    /// How many columns the output has.
    pub fn width(&self) -> usize {
        self.features.iter().map(|f| f.outputs.len()).sum()
    }

    /// The raw columns the transform reads, each once, in first-use order, with how it reads
    /// them: what a client must send.
    pub fn inputs(&self) -> Vec<(&str, InputKind)> {
        let mut seen: Vec<(&str, InputKind)> = Vec::new();
        for f in &self.features {
            if !seen.iter().any(|(c, _)| *c == f.column) {
                seen.push((f.column.as_str(), f.input));
            }
        }
        seen
    }
}
