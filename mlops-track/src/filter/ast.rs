//! The parsed forms: a [`Filter`] is a list of [`Clause`]s, each a [`Field`], a
//! [`Comparator`] and (except for `IS NULL` and `IS NOT NULL`) a [`Value`].

use std::fmt;
use std::ops::Range;
use std::str::FromStr;

use super::error::FilterError;

/// A run attribute that MLflow searches and sorts on.
///
/// MLflow's aliases are resolved when parsing: `created` and `Created` are
/// [`Attribute::StartTime`]; `run name`, `Run name` and `Run Name` (filters only) are
/// [`Attribute::RunName`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Attribute {
    /// `run_id` (a string; the only attribute that takes `IN` and `NOT IN`).
    RunId,
    /// `run_name` (a string; MLflow's SQL store reads it from the `mlflow.runName` tag).
    RunName,
    /// `status`: `RUNNING`, `SCHEDULED`, `FINISHED`, `FAILED` or `KILLED`.
    Status,
    /// `user_id` (a string).
    UserId,
    /// `artifact_uri` (a string).
    ArtifactUri,
    /// `start_time`, in milliseconds since the epoch (a number).
    StartTime,
    /// `end_time`, in milliseconds since the epoch (a number; absent while running).
    EndTime,
}

impl Attribute {
    /// Every attribute.
    pub const ALL: [Self; 7] = [
        Self::RunId,
        Self::RunName,
        Self::Status,
        Self::UserId,
        Self::ArtifactUri,
        Self::StartTime,
        Self::EndTime,
    ];

    /// MLflow's name for it, e.g. `start_time`.
    pub fn name(self) -> &'static str {
        match self {
            Self::RunId => "run_id",
            Self::RunName => "run_name",
            Self::Status => "status",
            Self::UserId => "user_id",
            Self::ArtifactUri => "artifact_uri",
            Self::StartTime => "start_time",
            Self::EndTime => "end_time",
        }
    }

    /// Whether it is compared as a number (`start_time`, `end_time`) rather than as text.
    pub fn is_numeric(self) -> bool {
        matches!(self, Self::StartTime | Self::EndTime)
    }

    /// The attribute a name written in a filter or order-by clause refers to, with
    /// MLflow's aliases; `run name` and its capitalisations only in filters.
    pub(crate) fn from_name(name: &str, in_filter: bool) -> Option<Self> {
        Some(match name {
            "run_id" => Self::RunId,
            "run_name" => Self::RunName,
            "run name" | "Run name" | "Run Name" if in_filter => Self::RunName,
            "status" => Self::Status,
            "user_id" => Self::UserId,
            "artifact_uri" => Self::ArtifactUri,
            "start_time" | "created" | "Created" => Self::StartTime,
            "end_time" => Self::EndTime,
            _ => return None,
        })
    }
}

impl fmt::Display for Attribute {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A field of a run's dataset inputs that MLflow filters on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum DatasetField {
    /// The dataset's name.
    Name,
    /// The dataset's digest.
    Digest,
    /// The input's context (its `mlflow.data.context` tag: `training`, `eval`, …).
    Context,
}

impl DatasetField {
    /// MLflow's name for it: `name`, `digest` or `context`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Name => "name",
            Self::Digest => "digest",
            Self::Context => "context",
        }
    }
}

/// What a clause compares, or an order-by key sorts on.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Field {
    /// `metrics.<key>`: the latest value of a metric.
    Metric(String),
    /// `params.<key>`.
    Param(String),
    /// `tags.<key>`.
    Tag(String),
    /// `attributes.<name>`, or the bare name.
    Attribute(Attribute),
    /// `datasets.<field>`: true when any of the run's dataset inputs matches.
    Dataset(DatasetField),
}

impl Field {
    /// MLflow's name for the kind of field: `metric`, `parameter`, `tag`, `attribute` or
    /// `dataset` (the `type` of MLflow's parsed clauses).
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Metric(_) => "metric",
            Self::Param(_) => "parameter",
            Self::Tag(_) => "tag",
            Self::Attribute(_) => "attribute",
            Self::Dataset(_) => "dataset",
        }
    }

    /// The key, or MLflow's name of the attribute or dataset field (aliases resolved:
    /// `created` is `start_time`).
    pub fn key(&self) -> &str {
        match self {
            Self::Metric(k) | Self::Param(k) | Self::Tag(k) => k,
            Self::Attribute(a) => a.name(),
            Self::Dataset(d) => d.name(),
        }
    }

    /// Whether values of this field are numbers (metrics, `start_time`, `end_time`).
    pub fn is_numeric(&self) -> bool {
        match self {
            Self::Metric(_) => true,
            Self::Attribute(a) => a.is_numeric(),
            _ => false,
        }
    }
}

impl fmt::Display for Field {
    /// ``metric `rmse` ``, ``param `lr` ``, ``attribute `status` ``, …
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match self {
            Self::Param(_) => "param",
            Self::Dataset(_) => "dataset field",
            other => other.kind(),
        };
        write!(f, "{kind} `{}`", self.key())
    }
}

/// A comparison operator.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Comparator {
    /// `=`
    Eq,
    /// `!=`
    Ne,
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `>`
    Gt,
    /// `>=`
    Ge,
    /// `LIKE`: `%` matches any run of characters, `_` one character; case-sensitive.
    Like,
    /// `ILIKE`: `LIKE`, ignoring case.
    ILike,
    /// `IN (…)`
    In,
    /// `NOT IN (…)`
    NotIn,
    /// `IS NULL`: the param or tag is not set.
    IsNull,
    /// `IS NOT NULL`: the param or tag is set.
    IsNotNull,
}

impl Comparator {
    /// How MLflow writes it, upper case: `=`, `LIKE`, `NOT IN`, `IS NULL`, …
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Eq => "=",
            Self::Ne => "!=",
            Self::Lt => "<",
            Self::Le => "<=",
            Self::Gt => ">",
            Self::Ge => ">=",
            Self::Like => "LIKE",
            Self::ILike => "ILIKE",
            Self::In => "IN",
            Self::NotIn => "NOT IN",
            Self::IsNull => "IS NULL",
            Self::IsNotNull => "IS NOT NULL",
        }
    }
}

impl fmt::Display for Comparator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The right-hand side of a comparison.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum Value {
    /// A number, for metrics, `start_time` and `end_time`.
    Number(f64),
    /// A quoted string, its text kept verbatim as MLflow keeps it (no escape processing).
    String(String),
    /// The strings of an `IN (…)` or `NOT IN (…)` list (read as Python string literals, as
    /// MLflow reads them, so `\'` is a quote there).
    List(Vec<String>),
}

/// One comparison of a filter: `metrics.rmse < 0.5`, `tags.team IS NOT NULL`, …
///
/// Only the parser builds clauses, so the comparator always suits the field and the value
/// always suits both.
#[derive(Clone, Debug, PartialEq)]
pub struct Clause {
    pub(crate) field: Field,
    pub(crate) comparator: Comparator,
    pub(crate) value: Option<Value>,
    pub(crate) span: Range<usize>,
}

impl Clause {
    /// What it compares.
    pub fn field(&self) -> &Field {
        &self.field
    }

    /// How.
    pub fn comparator(&self) -> Comparator {
        self.comparator
    }

    /// With what: `None` for `IS NULL` and `IS NOT NULL`.
    pub fn value(&self) -> Option<&Value> {
        self.value.as_ref()
    }

    /// Where the clause is in the filter text, in bytes.
    pub fn span(&self) -> Range<usize> {
        self.span.clone()
    }
}

/// A parsed search filter: comparisons joined by `AND`; a run matches when it satisfies
/// all of them (the empty filter matches every run).
///
/// ```
/// use mlops_track::filter::{Comparator, Field, Filter, Value};
///
/// let f = Filter::parse("metrics.rmse < 0.5 and params.`model type` = 'gbm'")?;
/// let [rmse, model] = f.clauses() else { panic!() };
/// assert_eq!(rmse.field(), &Field::Metric("rmse".into()));
/// assert_eq!(rmse.comparator(), Comparator::Lt);
/// assert_eq!(rmse.value(), Some(&Value::Number(0.5)));
/// assert_eq!(model.field().key(), "model type");
///
/// let err = Filter::parse("metrics.rmse == 0.5").unwrap_err();
/// assert_eq!(err.to_string(), "at 13: expected a comparator after `metrics.rmse`, found `==`");
/// # Ok::<(), mlops_track::filter::FilterError>(())
/// ```
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Filter {
    pub(crate) text: String,
    pub(crate) clauses: Vec<Clause>,
}

impl Filter {
    /// Parses MLflow's filter syntax; the empty string is the filter that matches every run
    /// (a string of whitespace only is refused, as MLflow refuses it).
    pub fn parse(text: &str) -> Result<Self, FilterError> {
        let clauses = super::parser::parse_filter(text)?;
        Ok(Self {
            text: text.to_owned(),
            clauses,
        })
    }

    /// The comparisons, in the order written.
    pub fn clauses(&self) -> &[Clause] {
        &self.clauses
    }

    /// Whether there are no comparisons (every run matches).
    pub fn is_empty(&self) -> bool {
        self.clauses.is_empty()
    }

    /// The text it was parsed from.
    pub fn as_str(&self) -> &str {
        &self.text
    }
}

impl FromStr for Filter {
    type Err = FilterError;
    fn from_str(text: &str) -> Result<Self, FilterError> {
        Self::parse(text)
    }
}

impl fmt::Display for Filter {
    /// The text it was parsed from.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}
