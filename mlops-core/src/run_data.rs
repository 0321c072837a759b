//! What a run records: [`Metric`] points, [`Param`]s, [`Tag`]s, and its [`RunStatus`].
//!
//! Limits and JSON forms follow MLflow's tracking API, so these types go over its REST API
//! unchanged: param values up to 6000 characters, tag values up to 8000, and metric values
//! that may be NaN or ±infinity, written as the strings `"NaN"`, `"Infinity"` and
//! `"-Infinity"` because JSON numbers cannot hold them.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result, Rule};
use crate::names::{MetricKey, ParamKey, TagKey};
use crate::time::Timestamp;

/// MLflow's limit on a param value, in characters.
pub const MAX_PARAM_VALUE_CHARS: usize = 6000;
/// MLflow's limit on a run tag value, in characters.
pub const MAX_TAG_VALUE_CHARS: usize = 8000;

/// One point of a metric's history.
///
/// ```
/// use mlops_core::{Metric, MetricKey, Timestamp};
/// let m = Metric::new(MetricKey::parse("loss")?, f64::NAN, Timestamp::from_millis(5)?, 3);
/// let json = serde_json::to_string(&m)?;
/// assert_eq!(json, r#"{"key":"loss","value":"NaN","timestamp":5,"step":3}"#);
/// let back: Metric = serde_json::from_str(&json)?;
/// assert!(back.value.is_nan());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Metric {
    /// Which metric.
    pub key: MetricKey,
    /// The value; NaN and ±infinity are kept as they are.
    #[serde(with = "metric_value")]
    pub value: f64,
    /// When it was measured.
    pub timestamp: Timestamp,
    /// The training step; MLflow's default is 0.
    #[serde(default)]
    pub step: i64,
}

impl Metric {
    /// A metric point.
    pub fn new(key: MetricKey, value: f64, timestamp: Timestamp, step: i64) -> Self {
        Self {
            key,
            value,
            timestamp,
            step,
        }
    }

    /// Whether two points are the same record under MLflow's de-duplication rule: equal
    /// key, value, timestamp and step (NaN equal to NaN, so retried batches de-duplicate).
    pub fn same_point(&self, other: &Self) -> bool {
        self.key == other.key
            && self.timestamp == other.timestamp
            && self.step == other.step
            && (self.value.to_bits() == other.value.to_bits()
                || (self.value.is_nan() && other.value.is_nan()))
    }
}

/// Serde for metric values in MLflow's JSON form.
mod metric_value {
    use serde::{Deserializer, Serializer};

    use crate::float_json::{self, MLFLOW};

    pub(super) fn serialize<S: Serializer>(value: &f64, serializer: S) -> Result<S::Ok, S::Error> {
        float_json::serialize(*value, &MLFLOW, serializer)
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<f64, D::Error> {
        float_json::deserialize(&MLFLOW, deserializer)
    }
}

/// A param: a write-once key and value describing how a run was configured.
///
/// ```
/// use mlops_core::Param;
/// let p = Param::parse("lr", "0.01")?;
/// assert_eq!(p.value(), "0.01");
/// assert!(Param::parse("lr", "x".repeat(6001)).is_err());
/// # Ok::<(), mlops_core::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "RawEntry<ParamKey>")]
pub struct Param {
    key: ParamKey,
    value: String,
}

impl Param {
    /// A param; the value is checked against MLflow's limit.
    pub fn new(key: ParamKey, value: impl Into<String>) -> Result<Self> {
        let value = checked_value("param value", value.into(), MAX_PARAM_VALUE_CHARS)?;
        Ok(Self { key, value })
    }

    /// Parses the key, then as [`Param::new`].
    pub fn parse(key: &str, value: impl Into<String>) -> Result<Self> {
        Self::new(ParamKey::parse(key)?, value)
    }

    /// The key.
    pub fn key(&self) -> &ParamKey {
        &self.key
    }

    /// The value.
    pub fn value(&self) -> &str {
        &self.value
    }
}

/// A tag: a key and a value that a later write replaces.
///
/// ```
/// use mlops_core::Tag;
/// let t = Tag::parse("mlflow.user", "ada")?;
/// assert_eq!(t.key().as_str(), "mlflow.user");
/// # Ok::<(), mlops_core::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "RawEntry<TagKey>")]
pub struct Tag {
    key: TagKey,
    value: String,
}

impl Tag {
    /// A tag; the value is checked against MLflow's limit.
    pub fn new(key: TagKey, value: impl Into<String>) -> Result<Self> {
        let value = checked_value("tag value", value.into(), MAX_TAG_VALUE_CHARS)?;
        Ok(Self { key, value })
    }

    /// Parses the key, then as [`Tag::new`].
    pub fn parse(key: &str, value: impl Into<String>) -> Result<Self> {
        Self::new(TagKey::parse(key)?, value)
    }

    /// The key.
    pub fn key(&self) -> &TagKey {
        &self.key
    }

    /// The value.
    pub fn value(&self) -> &str {
        &self.value
    }
}

/// The unvalidated JSON form of a param or tag, validated on the way in.
#[derive(Deserialize)]
struct RawEntry<K> {
    key: K,
    value: String,
}

impl TryFrom<RawEntry<ParamKey>> for Param {
    type Error = Error;
    fn try_from(raw: RawEntry<ParamKey>) -> Result<Self> {
        Self::new(raw.key, raw.value)
    }
}

impl TryFrom<RawEntry<TagKey>> for Tag {
    type Error = Error;
    fn try_from(raw: RawEntry<TagKey>) -> Result<Self> {
        Self::new(raw.key, raw.value)
    }
}

/// Values may hold any text (configs with newlines are common) except NUL, which databases
/// and C consumers truncate at; the length counts characters, as MLflow does.
fn checked_value(kind: &'static str, value: String, max_chars: usize) -> Result<String> {
    let chars = value.chars().count();
    if chars > max_chars {
        return Err(Error::invalid(
            kind,
            value,
            Rule::TooLong {
                max: max_chars,
                len: chars,
                unit: "characters",
            },
        ));
    }
    if value.contains('\0') {
        return Err(Error::invalid(
            kind,
            value,
            Rule::ControlCharacter { ch: '\0' },
        ));
    }
    Ok(value)
}

/// Where a run is in its life, with MLflow's names.
///
/// ```
/// use mlops_core::RunStatus;
/// let s: RunStatus = "FINISHED".parse()?;
/// assert!(s.is_terminal());
/// assert_eq!(RunStatus::Running.as_str(), "RUNNING");
/// # Ok::<(), mlops_core::Error>(())
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum RunStatus {
    /// Created, but not started yet.
    Scheduled,
    /// Logging.
    Running,
    /// Ended normally.
    Finished,
    /// Ended with an error.
    Failed,
    /// Stopped from outside (a signal, a user, or a crash detected later).
    Killed,
}

impl RunStatus {
    /// Every status, in lifecycle order.
    pub const ALL: [Self; 5] = [
        Self::Scheduled,
        Self::Running,
        Self::Finished,
        Self::Failed,
        Self::Killed,
    ];

    /// MLflow's name for the status.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Scheduled => "SCHEDULED",
            Self::Running => "RUNNING",
            Self::Finished => "FINISHED",
            Self::Failed => "FAILED",
            Self::Killed => "KILLED",
        }
    }

    /// Whether the run has ended: `FINISHED`, `FAILED` or `KILLED`.
    pub fn is_terminal(self) -> bool {
        matches!(self, Self::Finished | Self::Failed | Self::Killed)
    }
}

impl fmt::Display for RunStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for RunStatus {
    type Err = Error;
    fn from_str(value: &str) -> Result<Self> {
        Self::ALL
            .into_iter()
            .find(|s| s.as_str() == value)
            .ok_or_else(|| {
                Error::invalid(
                    "run status",
                    value,
                    Rule::Format {
                        expected: "one of SCHEDULED, RUNNING, FINISHED, FAILED, KILLED",
                    },
                )
            })
    }
}

/// Whether an experiment or run is live or in the trash (restorable), as in MLflow.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LifecycleStage {
    /// Live.
    #[default]
    Active,
    /// Deleted, and restorable until garbage-collected.
    Deleted,
}

impl LifecycleStage {
    /// MLflow's name: `active` or `deleted`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Deleted => "deleted",
        }
    }
}

impl fmt::Display for LifecycleStage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for LifecycleStage {
    type Err = Error;
    fn from_str(value: &str) -> Result<Self> {
        match value {
            "active" => Ok(Self::Active),
            "deleted" => Ok(Self::Deleted),
            _ => Err(Error::invalid(
                "lifecycle stage",
                value,
                Rule::Format {
                    expected: "`active` or `deleted`",
                },
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn point(value: f64) -> Metric {
        Metric::new(MetricKey::parse("m").unwrap(), value, Timestamp::EPOCH, 0)
    }

    #[test]
    fn non_finite_values_round_trip_as_mlflow_strings() {
        for (value, text) in [
            (f64::NAN, "\"NaN\""),
            (f64::INFINITY, "\"Infinity\""),
            (f64::NEG_INFINITY, "\"-Infinity\""),
            (1.5, "1.5"),
        ] {
            let json = serde_json::to_string(&point(value)).unwrap();
            assert!(json.contains(&format!("\"value\":{text}")), "{json}");
            let back: Metric = serde_json::from_str(&json).unwrap();
            assert!(back.same_point(&point(value)));
        }
    }

    #[test]
    fn metric_json_refuses_non_numbers() {
        for bad in ["true", "\"1.0\"", "\"nan\"", "null", "[1]"] {
            let json = format!(r#"{{"key":"m","value":{bad},"timestamp":0}}"#);
            assert!(serde_json::from_str::<Metric>(&json).is_err(), "{bad}");
        }
        let json = r#"{"key":"m","value":3,"timestamp":0}"#;
        let m: Metric = serde_json::from_str(json).unwrap();
        assert_eq!((m.value, m.step), (3.0, 0));
    }

    #[test]
    fn metric_json_validates_key_and_timestamp() {
        let bad_key = r#"{"key":"../m","value":1,"timestamp":0}"#;
        assert!(serde_json::from_str::<Metric>(bad_key).is_err());
        let bad_time = r#"{"key":"m","value":1,"timestamp":-1}"#;
        assert!(serde_json::from_str::<Metric>(bad_time).is_err());
    }

    #[test]
    fn same_point_is_mlflows_dedup_rule() {
        assert!(point(f64::NAN).same_point(&point(f64::NAN)));
        assert!(!point(1.0).same_point(&point(2.0)));
        let mut later = point(1.0);
        later.step = 1;
        assert!(!point(1.0).same_point(&later));
    }

    #[test]
    fn value_limits_count_characters() {
        // 6000 two-byte characters are 12000 bytes but within MLflow's limit.
        assert!(Param::parse("k", "é".repeat(6000)).is_ok());
        let err = Param::parse("k", "é".repeat(6001)).unwrap_err();
        assert!(matches!(
            err.rule(),
            Some(Rule::TooLong {
                max: 6000,
                len: 6001,
                ..
            })
        ));
        assert!(Tag::parse("k", "x".repeat(8000)).is_ok());
        assert!(Tag::parse("k", "x".repeat(8001)).is_err());
        assert!(Tag::parse("k", "a\0b").is_err());
        assert!(Tag::parse("k", "line one\nline two").is_ok());
    }

    #[test]
    fn params_and_tags_validate_when_deserialised() {
        assert!(serde_json::from_str::<Param>(r#"{"key":"a b","value":"1"}"#).is_ok());
        assert!(serde_json::from_str::<Param>(r#"{"key":"a\\b","value":"1"}"#).is_err());
        assert!(serde_json::from_str::<Tag>(r#"{"key":"t","value":"a\u0000"}"#).is_err());
    }

    #[test]
    fn statuses_parse_strictly() {
        for status in RunStatus::ALL {
            assert_eq!(status.as_str().parse::<RunStatus>().unwrap(), status);
            let json = serde_json::to_string(&status).unwrap();
            assert_eq!(json, format!("\"{}\"", status.as_str()));
        }
        assert!("running".parse::<RunStatus>().is_err());
        assert_eq!(
            "deleted".parse::<LifecycleStage>().unwrap(),
            LifecycleStage::Deleted
        );
    }
}
