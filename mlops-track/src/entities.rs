//! The entities a tracking store holds, shaped like MLflow's so they cross its REST API
//! unchanged: [`Experiment`], [`Run`] ([`RunInfo`], [`RunData`], [`DatasetInput`]).

use mlops_core::{
    DatasetRef, ExperimentId, ExperimentName, LifecycleStage, Metric, Param, RunId, RunName,
    RunStatus, Tag, Timestamp,
};
use serde::{Deserialize, Serialize};

/// An experiment: a named group of runs.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Experiment {
    /// Its id.
    pub experiment_id: ExperimentId,
    /// Its unique name.
    pub name: ExperimentName,
    /// Where its runs' artifacts live, as the store names it.
    pub artifact_location: String,
    /// Live or deleted.
    pub lifecycle_stage: LifecycleStage,
    /// When it was created.
    pub creation_time: Option<Timestamp>,
    /// When it last changed.
    pub last_update_time: Option<Timestamp>,
    /// Its tags.
    #[serde(default)]
    pub tags: Vec<Tag>,
}

/// The attributes of a run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunInfo {
    /// Its id.
    pub run_id: RunId,
    /// Its display name (MLflow's `mlflow.runName` tag).
    pub run_name: Option<RunName>,
    /// The experiment it belongs to.
    pub experiment_id: ExperimentId,
    /// Who started it.
    pub user_id: String,
    /// Where it is in its life.
    pub status: RunStatus,
    /// When it started.
    pub start_time: Timestamp,
    /// When it ended, once it has.
    pub end_time: Option<Timestamp>,
    /// Where its artifacts live, as the store names it.
    pub artifact_uri: String,
    /// Live or deleted.
    pub lifecycle_stage: LifecycleStage,
}

/// What a run logged: the latest value of each metric, its params and its tags.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct RunData {
    /// The latest point of each metric (MLflow's rule: highest step, then latest
    /// timestamp, then largest value).
    #[serde(default)]
    pub metrics: Vec<Metric>,
    /// Its params.
    #[serde(default)]
    pub params: Vec<Param>,
    /// Its tags.
    #[serde(default)]
    pub tags: Vec<Tag>,
}

impl RunData {
    /// The latest value of metric `key`.
    pub fn metric(&self, key: &str) -> Option<f64> {
        self.metrics
            .iter()
            .find(|m| m.key.as_str() == key)
            .map(|m| m.value)
    }

    /// The value of param `key`.
    pub fn param(&self, key: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|p| p.key().as_str() == key)
            .map(Param::value)
    }

    /// The value of tag `key`.
    pub fn tag(&self, key: &str) -> Option<&str> {
        self.tags
            .iter()
            .find(|t| t.key().as_str() == key)
            .map(Tag::value)
    }
}

/// A dataset as MLflow records it. Digests from other tools (MLflow's own are 8 hex
/// digits) are kept as given; [`Dataset::from_ref`] records a [`DatasetRef`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Dataset {
    /// Its name.
    pub name: String,
    /// Its digest (at most 36 characters in MLflow).
    pub digest: String,
    /// Where it came from, as a kind: `local`, `s3`, `gs`, `http`, …
    pub source_type: String,
    /// Where it came from: a URI or path.
    pub source: String,
    /// Its schema as MLflow's JSON, `{"mlflow_colspec": [...]}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schema: Option<String>,
    /// Its profile as JSON, `{"num_rows": N}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profile: Option<String>,
}

impl Dataset {
    /// The MLflow record of a [`DatasetRef`]: its digest, its schema as MLflow column
    /// specs, its row count as the profile, and the source type from the source URI's scheme.
    pub fn from_ref(dataset: &DatasetRef) -> Self {
        let source = dataset.source();
        let source_type = match source.split_once("://") {
            Some(("file", _)) | None => "local".to_owned(),
            Some(("https", _)) => "http".to_owned(),
            Some((scheme, _)) => scheme.to_ascii_lowercase(),
        };
        let colspec: Vec<serde_json::Value> = dataset
            .schema()
            .fields()
            .iter()
            .map(|f| {
                serde_json::json!({
                    "type": mlflow_type(f.data_type()),
                    "name": f.name(),
                    "required": !f.is_nullable(),
                })
            })
            .collect();
        Self {
            name: dataset.name().to_owned(),
            digest: dataset.digest().to_string(),
            source_type,
            source: source.to_owned(),
            schema: Some(serde_json::json!({ "mlflow_colspec": colspec }).to_string()),
            profile: Some(serde_json::json!({ "num_rows": dataset.rows() }).to_string()),
        }
    }
}

/// MLflow's column-spec type for an Arrow type (`mlflow.types.DataType`).
fn mlflow_type(data_type: &arrow_schema::DataType) -> &'static str {
    use arrow_schema::DataType as T;
    match data_type {
        T::Boolean => "boolean",
        T::Int8 | T::Int16 | T::Int32 | T::UInt8 | T::UInt16 => "integer",
        T::Int64 | T::UInt32 | T::UInt64 => "long",
        T::Float16 | T::Float32 => "float",
        T::Float64
        | T::Decimal32(..)
        | T::Decimal64(..)
        | T::Decimal128(..)
        | T::Decimal256(..) => "double",
        T::Utf8 | T::LargeUtf8 | T::Utf8View => "string",
        T::Binary | T::LargeBinary | T::BinaryView | T::FixedSizeBinary(_) => "binary",
        T::Date32 | T::Date64 | T::Timestamp(..) => "datetime",
        T::Dictionary(_, values) => mlflow_type(values),
        _ => "string",
    }
}

/// A dataset a run used, with MLflow's input tags (`mlflow.data.context` = `train`, …).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DatasetInput {
    /// The dataset.
    pub dataset: Dataset,
    /// Tags of the input, such as its context.
    #[serde(default)]
    pub tags: Vec<Tag>,
}

/// The input tag MLflow keeps a dataset's role under (`training`, `eval`, …).
pub const DATASET_CONTEXT_TAG: &str = "mlflow.data.context";

/// A run: its attributes, what it logged and what it read.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Run {
    /// Attributes.
    pub info: RunInfo,
    /// Metrics, params and tags.
    pub data: RunData,
    /// Dataset inputs.
    #[serde(default)]
    pub inputs: Vec<DatasetInput>,
}

/// The metric point that is a run's value of a metric: the highest step, then the latest
/// timestamp, then the largest value. MLflow compares the same triple; where step and
/// timestamp tie and one value is NaN, MLflow keeps whichever arrived first (Python's NaN
/// comparisons are all false), so here NaN counts as the largest value instead, making the
/// answer independent of arrival order.
pub fn latest_point<'a>(points: impl IntoIterator<Item = &'a Metric>) -> Option<&'a Metric> {
    points.into_iter().max_by(|a, b| {
        a.step
            .cmp(&b.step)
            .then(a.timestamp.cmp(&b.timestamp))
            .then_with(|| match (a.value.is_nan(), b.value.is_nan()) {
                (true, true) => std::cmp::Ordering::Equal,
                (true, false) => std::cmp::Ordering::Greater,
                (false, true) => std::cmp::Ordering::Less,
                (false, false) => a.value.total_cmp(&b.value),
            })
    })
}

/// The name MLflow keeps a run's display name under.
pub const RUN_NAME_TAG: &str = "mlflow.runName";

#[cfg(test)]
mod tests {
    use mlops_core::MetricKey;

    use super::*;

    fn point(step: i64, ts: i64, value: f64) -> Metric {
        Metric::new(
            MetricKey::parse("m").unwrap(),
            value,
            Timestamp::from_millis(ts).unwrap(),
            step,
        )
    }

    #[test]
    fn latest_point_orders_step_then_time_then_value() {
        let points = [
            point(1, 5, 0.1),
            point(2, 1, 0.3),
            point(2, 1, 0.2),
            point(0, 9, 9.0),
        ];
        assert_eq!(latest_point(&points).unwrap().value, 0.3);
        let later = [point(2, 1, 0.3), point(2, 2, -1.0)];
        assert_eq!(latest_point(&later).unwrap().value, -1.0);
        assert!(latest_point(&[]).is_none());
    }

    #[test]
    fn nan_is_the_largest_value_whatever_the_order() {
        let a = [point(1, 1, f64::NAN), point(1, 1, 5.0)];
        let b = [point(1, 1, 5.0), point(1, 1, f64::NAN)];
        assert!(latest_point(&a).unwrap().value.is_nan());
        assert!(latest_point(&b).unwrap().value.is_nan());
    }

    #[test]
    fn run_data_lookups() {
        let data = RunData {
            metrics: vec![point(0, 0, 1.5)],
            params: vec![Param::parse("lr", "0.1").unwrap()],
            tags: vec![Tag::parse(RUN_NAME_TAG, "owl").unwrap()],
        };
        assert_eq!(data.metric("m"), Some(1.5));
        assert_eq!(data.param("lr"), Some("0.1"));
        assert_eq!(data.tag(RUN_NAME_TAG), Some("owl"));
        assert_eq!(data.metric("x"), None);
    }
}
