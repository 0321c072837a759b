//! The stored shapes of the values records hold: tags and params as `{key, value}`, metric
//! points as `{key, value, timestamp, step}`, dataset inputs as MLflow's
//! `{dataset: {...}, tags}`. Each is a private struct of plain fields, converted to and from
//! the public type, and used through `#[serde(with = ...)]` on record fields: the public
//! types' own serde forms never reach the disk, so a field added to one of them cannot change
//! what is stored (nor how old stores read).
//!
//! Reading validates as the public constructors do; a value they refuse makes the record
//! unreadable (skipped with a warning, counted by `check`), never silently different.

use mlops_core::float_json::{self, MLFLOW};
use mlops_core::{Metric, MetricKey, Param, Tag, Timestamp};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::entities::{Dataset, DatasetInput};

/// A tag or param as stored.
#[derive(Serialize)]
struct KeyValueOut<'a> {
    key: &'a str,
    value: &'a str,
}

#[derive(Deserialize)]
struct KeyValueIn {
    key: String,
    value: String,
}

impl<'a> KeyValueOut<'a> {
    fn tag(tag: &'a Tag) -> Self {
        Self {
            key: tag.key().as_str(),
            value: tag.value(),
        }
    }

    fn param(param: &'a Param) -> Self {
        Self {
            key: param.key().as_str(),
            value: param.value(),
        }
    }
}

impl KeyValueIn {
    fn tag<E: serde::de::Error>(self) -> Result<Tag, E> {
        Tag::parse(&self.key, self.value).map_err(E::custom)
    }

    fn param<E: serde::de::Error>(self) -> Result<Param, E> {
        Param::parse(&self.key, self.value).map_err(E::custom)
    }
}

/// One tag (`set_tag` of the experiments log).
pub(super) mod tag {
    use super::*;

    pub(in crate::local::records) fn serialize<S: Serializer>(
        tag: &Tag,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        KeyValueOut::tag(tag).serialize(s)
    }

    pub(in crate::local::records) fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Tag, D::Error> {
        KeyValueIn::deserialize(d)?.tag()
    }
}

/// A list of tags.
pub(super) mod tags {
    use super::*;

    pub(in crate::local::records) fn serialize<S: Serializer>(
        tags: &[Tag],
        s: S,
    ) -> Result<S::Ok, S::Error> {
        s.collect_seq(tags.iter().map(KeyValueOut::tag))
    }

    pub(in crate::local::records) fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Vec<Tag>, D::Error> {
        Vec::<KeyValueIn>::deserialize(d)?
            .into_iter()
            .map(KeyValueIn::tag)
            .collect()
    }
}

/// A list of params.
pub(super) mod params {
    use super::*;

    pub(in crate::local::records) fn serialize<S: Serializer>(
        params: &[Param],
        s: S,
    ) -> Result<S::Ok, S::Error> {
        s.collect_seq(params.iter().map(KeyValueOut::param))
    }

    pub(in crate::local::records) fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Vec<Param>, D::Error> {
        Vec::<KeyValueIn>::deserialize(d)?
            .into_iter()
            .map(KeyValueIn::param)
            .collect()
    }
}

/// A metric point as stored: the value as a JSON number, or `"NaN"`, `"Infinity"`,
/// `"-Infinity"` (MLflow's spellings), so every `f64` but NaN payloads round-trips.
#[derive(Serialize)]
pub(super) struct PointOut<'a> {
    key: &'a str,
    #[serde(serialize_with = "value_out")]
    value: f64,
    timestamp: i64,
    step: i64,
}

#[derive(Deserialize)]
pub(super) struct PointIn {
    key: String,
    #[serde(deserialize_with = "value_in")]
    value: f64,
    timestamp: i64,
    #[serde(default)]
    step: i64,
}

fn value_out<S: Serializer>(value: &f64, s: S) -> Result<S::Ok, S::Error> {
    float_json::serialize(*value, &MLFLOW, s)
}

fn value_in<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
    float_json::deserialize(&MLFLOW, d)
}

impl<'a> From<&'a Metric> for PointOut<'a> {
    fn from(point: &'a Metric) -> Self {
        Self {
            key: point.key.as_str(),
            value: point.value,
            timestamp: point.timestamp.as_millis(),
            step: point.step,
        }
    }
}

impl PointIn {
    pub(super) fn into_metric<E: serde::de::Error>(self) -> Result<Metric, E> {
        Ok(Metric::new(
            MetricKey::parse(&self.key).map_err(E::custom)?,
            self.value,
            Timestamp::from_millis(self.timestamp).map_err(E::custom)?,
            self.step,
        ))
    }
}

/// A list of metric points (a compaction's latest points).
pub(super) mod points {
    use super::*;

    pub(in crate::local::records) fn serialize<S: Serializer>(
        points: &[Metric],
        s: S,
    ) -> Result<S::Ok, S::Error> {
        s.collect_seq(points.iter().map(PointOut::from))
    }

    pub(in crate::local::records) fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Vec<Metric>, D::Error> {
        Vec::<PointIn>::deserialize(d)?
            .into_iter()
            .map(PointIn::into_metric)
            .collect()
    }
}

/// A dataset input as stored: MLflow's shape.
#[derive(Serialize, Deserialize)]
struct InputRecord {
    dataset: DatasetRecord,
    #[serde(default, with = "tags")]
    tags: Vec<Tag>,
}

#[derive(Serialize, Deserialize)]
struct DatasetRecord {
    name: String,
    digest: String,
    source_type: String,
    source: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    schema: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    profile: Option<String>,
}

impl From<&DatasetInput> for InputRecord {
    fn from(input: &DatasetInput) -> Self {
        let d = &input.dataset;
        Self {
            dataset: DatasetRecord {
                name: d.name.clone(),
                digest: d.digest.clone(),
                source_type: d.source_type.clone(),
                source: d.source.clone(),
                schema: d.schema.clone(),
                profile: d.profile.clone(),
            },
            tags: input.tags.clone(),
        }
    }
}

impl From<InputRecord> for DatasetInput {
    fn from(record: InputRecord) -> Self {
        let d = record.dataset;
        Self {
            dataset: Dataset {
                name: d.name,
                digest: d.digest,
                source_type: d.source_type,
                source: d.source,
                schema: d.schema,
                profile: d.profile,
            },
            tags: record.tags,
        }
    }
}

/// A list of dataset inputs.
pub(super) mod inputs {
    use super::*;

    pub(in crate::local::records) fn serialize<S: Serializer>(
        inputs: &[DatasetInput],
        s: S,
    ) -> Result<S::Ok, S::Error> {
        s.collect_seq(inputs.iter().map(InputRecord::from))
    }

    pub(in crate::local::records) fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Vec<DatasetInput>, D::Error> {
        Ok(Vec::<InputRecord>::deserialize(d)?
            .into_iter()
            .map(DatasetInput::from)
            .collect())
    }
}
