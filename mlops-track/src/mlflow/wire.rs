//! The JSON shapes of MLflow's REST API (`service.proto` rendered by MLflow's
//! `message_to_json`), and their conversion to this crate's model.
//!
//! Decoding is lenient where MLflow's rendering varies (int64 fields as numbers or strings,
//! fields left out when unset, unknown fields ignored) and strict where the value matters:
//! keys, ids, names and statuses are parsed into their validated types, and anything that
//! cannot be represented is a [`TrackError::Corrupt`] naming the entity, never dropped.

use std::fmt;

use mlops_core::float_json::{self, MLFLOW};
use mlops_core::{
    ExperimentId, ExperimentName, LifecycleStage, Metric, MetricKey, Param, RunId, RunName,
    RunStatus, Tag, Timestamp,
};
use serde::de::Deserializer;
use serde::{Deserialize, Serialize};

use crate::entities::{Dataset, DatasetInput, Experiment, Run, RunData, RunInfo};
use crate::error::{Result, TrackError};
use crate::store::ViewType;

/// The tag this client adds to the runs and experiments it creates, so that a create whose
/// answer was lost can be recognised and reused instead of repeated. Reads through
/// [`super::MlflowStore`] leave it out; MLflow's UI and clients show it.
pub const CLIENT_REQUEST_ID_TAG: &str = "mlops.client_request_id";

/// The largest finite `f64`: MLflow's SQL store keeps +infinity as this value (and
/// -infinity as its negation), because SQL columns cannot hold infinities.
const SQL_INFINITY: f64 = f64::MAX;

// --- requests -------------------------------------------------------------------------------

/// A `{key, value}` pair as MLflow's tags and params are sent.
#[derive(Serialize)]
pub(crate) struct KeyValue<'a> {
    pub(crate) key: &'a str,
    pub(crate) value: &'a str,
}

impl<'a> KeyValue<'a> {
    pub(crate) fn tag(tag: &'a Tag) -> Self {
        Self {
            key: tag.key().as_str(),
            value: tag.value(),
        }
    }

    pub(crate) fn param(param: &'a Param) -> Self {
        Self {
            key: param.key().as_str(),
            value: param.value(),
        }
    }
}

/// `POST experiments/create`.
#[derive(Serialize)]
pub(crate) struct CreateExperiment<'a> {
    pub(crate) name: &'a str,
    pub(crate) tags: Vec<KeyValue<'a>>,
}

/// `POST experiments/search`.
#[derive(Serialize)]
pub(crate) struct SearchExperiments<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) max_results: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) page_token: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) filter: Option<&'a str>,
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    pub(crate) order_by: &'a [String],
    pub(crate) view_type: &'static str,
}

/// `POST experiments/update`.
#[derive(Serialize)]
pub(crate) struct UpdateExperiment<'a> {
    pub(crate) experiment_id: &'a str,
    pub(crate) new_name: &'a str,
}

/// Any request that names one experiment: delete, restore.
#[derive(Serialize)]
pub(crate) struct ExperimentRef<'a> {
    pub(crate) experiment_id: &'a str,
}

/// `POST experiments/set-experiment-tag`.
#[derive(Serialize)]
pub(crate) struct SetExperimentTag<'a> {
    pub(crate) experiment_id: &'a str,
    pub(crate) key: &'a str,
    pub(crate) value: &'a str,
}

/// `POST runs/create`.
#[derive(Serialize)]
pub(crate) struct CreateRun<'a> {
    pub(crate) experiment_id: &'a str,
    pub(crate) user_id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) run_name: Option<&'a str>,
    pub(crate) start_time: i64,
    pub(crate) tags: Vec<KeyValue<'a>>,
}

/// `POST runs/update`.
#[derive(Serialize)]
pub(crate) struct UpdateRun<'a> {
    pub(crate) run_id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) status: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) end_time: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) run_name: Option<&'a str>,
}

/// Any request that names one run: delete, restore.
#[derive(Serialize)]
pub(crate) struct RunRef<'a> {
    pub(crate) run_id: &'a str,
}

/// `POST runs/log-batch`. Metrics serialise in MLflow's form already, NaN and infinities
/// as `"NaN"`, `"Infinity"`, `"-Infinity"`.
#[derive(Serialize)]
pub(crate) struct LogBatch<'a> {
    pub(crate) run_id: &'a str,
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    pub(crate) metrics: &'a [Metric],
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub(crate) params: Vec<KeyValue<'a>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub(crate) tags: Vec<KeyValue<'a>>,
}

/// `POST runs/log-inputs`.
#[derive(Serialize)]
pub(crate) struct LogInputs<'a> {
    pub(crate) run_id: &'a str,
    pub(crate) datasets: Vec<WireDatasetInputOut<'a>>,
}

/// One dataset input as sent.
#[derive(Serialize)]
pub(crate) struct WireDatasetInputOut<'a> {
    pub(crate) tags: Vec<KeyValue<'a>>,
    pub(crate) dataset: &'a Dataset,
}

impl<'a> WireDatasetInputOut<'a> {
    pub(crate) fn new(input: &'a DatasetInput) -> Self {
        Self {
            tags: input.tags.iter().map(KeyValue::tag).collect(),
            dataset: &input.dataset,
        }
    }
}

/// `POST runs/delete-tag`.
#[derive(Serialize)]
pub(crate) struct DeleteTag<'a> {
    pub(crate) run_id: &'a str,
    pub(crate) key: &'a str,
}

/// `POST runs/search`.
#[derive(Serialize)]
pub(crate) struct SearchRuns<'a> {
    pub(crate) experiment_ids: Vec<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) filter: Option<&'a str>,
    pub(crate) run_view_type: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) max_results: Option<usize>,
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    pub(crate) order_by: &'a [String],
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) page_token: Option<&'a str>,
}

/// MLflow's name for a view type (`ViewType` in `service.proto`).
pub(crate) fn view_type(view: ViewType) -> &'static str {
    match view {
        ViewType::ActiveOnly => "ACTIVE_ONLY",
        ViewType::DeletedOnly => "DELETED_ONLY",
        ViewType::All => "ALL",
    }
}

// --- responses ------------------------------------------------------------------------------

/// `{"experiment_id": "..."}`.
#[derive(Deserialize)]
pub(crate) struct CreateExperimentResponse {
    pub(crate) experiment_id: String,
}

/// `{"experiment": {...}}`.
#[derive(Deserialize)]
pub(crate) struct ExperimentResponse {
    pub(crate) experiment: WireExperiment,
}

/// `{"experiments": [...], "next_page_token": "..."}`.
#[derive(Deserialize)]
pub(crate) struct SearchExperimentsResponse {
    #[serde(default)]
    pub(crate) experiments: Vec<WireExperiment>,
    #[serde(default)]
    pub(crate) next_page_token: Option<String>,
}

/// `{"run": {...}}`.
#[derive(Deserialize)]
pub(crate) struct RunResponse {
    pub(crate) run: WireRun,
}

/// `{"run_info": {...}}`.
#[derive(Deserialize)]
pub(crate) struct UpdateRunResponse {
    pub(crate) run_info: WireRunInfo,
}

/// `{"runs": [...], "next_page_token": "..."}`.
#[derive(Deserialize)]
pub(crate) struct SearchRunsResponse {
    #[serde(default)]
    pub(crate) runs: Vec<WireRun>,
    #[serde(default)]
    pub(crate) next_page_token: Option<String>,
}

/// `{"metrics": [...], "next_page_token": "..."}`.
#[derive(Deserialize)]
pub(crate) struct MetricHistoryResponse {
    #[serde(default)]
    pub(crate) metrics: Vec<WireMetric>,
    #[serde(default)]
    pub(crate) next_page_token: Option<String>,
}

/// A `{key, value}` pair as MLflow returns tags, params and input tags.
#[derive(Deserialize)]
pub(crate) struct WireKeyValue {
    pub(crate) key: String,
    #[serde(default)]
    pub(crate) value: String,
}

/// An experiment as MLflow renders it.
#[derive(Deserialize)]
pub(crate) struct WireExperiment {
    pub(crate) experiment_id: String,
    pub(crate) name: String,
    #[serde(default)]
    pub(crate) artifact_location: String,
    #[serde(default)]
    pub(crate) lifecycle_stage: Option<String>,
    #[serde(default, deserialize_with = "mlops_mlflow::int64::opt")]
    pub(crate) creation_time: Option<i64>,
    #[serde(default, deserialize_with = "mlops_mlflow::int64::opt")]
    pub(crate) last_update_time: Option<i64>,
    #[serde(default)]
    pub(crate) tags: Vec<WireKeyValue>,
}

/// A run as MLflow renders it.
#[derive(Deserialize)]
pub(crate) struct WireRun {
    pub(crate) info: WireRunInfo,
    #[serde(default)]
    pub(crate) data: WireRunData,
    #[serde(default)]
    pub(crate) inputs: WireRunInputs,
}

/// A run's attributes.
#[derive(Deserialize)]
pub(crate) struct WireRunInfo {
    #[serde(default)]
    pub(crate) run_id: Option<String>,
    #[serde(default)]
    pub(crate) run_uuid: Option<String>,
    #[serde(default)]
    pub(crate) run_name: Option<String>,
    pub(crate) experiment_id: String,
    #[serde(default)]
    pub(crate) user_id: String,
    #[serde(default)]
    pub(crate) status: Option<String>,
    #[serde(default, deserialize_with = "mlops_mlflow::int64::opt")]
    pub(crate) start_time: Option<i64>,
    #[serde(default, deserialize_with = "mlops_mlflow::int64::opt")]
    pub(crate) end_time: Option<i64>,
    #[serde(default)]
    pub(crate) artifact_uri: String,
    #[serde(default)]
    pub(crate) lifecycle_stage: Option<String>,
}

/// A run's metrics (latest values), params and tags.
#[derive(Default, Deserialize)]
pub(crate) struct WireRunData {
    #[serde(default)]
    pub(crate) metrics: Vec<WireMetric>,
    #[serde(default)]
    pub(crate) params: Vec<WireKeyValue>,
    #[serde(default)]
    pub(crate) tags: Vec<WireKeyValue>,
}

/// A run's inputs.
#[derive(Default, Deserialize)]
pub(crate) struct WireRunInputs {
    #[serde(default)]
    pub(crate) dataset_inputs: Vec<WireDatasetInput>,
}

/// One dataset input as returned.
#[derive(Deserialize)]
pub(crate) struct WireDatasetInput {
    #[serde(default)]
    pub(crate) tags: Vec<WireKeyValue>,
    pub(crate) dataset: WireDataset,
}

/// A dataset as returned.
#[derive(Deserialize)]
pub(crate) struct WireDataset {
    #[serde(default)]
    pub(crate) name: String,
    #[serde(default)]
    pub(crate) digest: String,
    #[serde(default)]
    pub(crate) source_type: String,
    #[serde(default)]
    pub(crate) source: String,
    #[serde(default)]
    pub(crate) schema: Option<String>,
    #[serde(default)]
    pub(crate) profile: Option<String>,
}

/// A metric point as returned.
#[derive(Deserialize)]
pub(crate) struct WireMetric {
    pub(crate) key: String,
    #[serde(deserialize_with = "metric_value")]
    pub(crate) value: f64,
    #[serde(default, deserialize_with = "mlops_mlflow::int64::opt")]
    pub(crate) timestamp: Option<i64>,
    #[serde(default, deserialize_with = "mlops_mlflow::int64::opt")]
    pub(crate) step: Option<i64>,
}

// --- conversions ----------------------------------------------------------------------------

/// A value the server sent that this crate's model cannot hold.
fn foreign(entity: impl fmt::Display, reason: impl fmt::Display) -> TrackError {
    TrackError::Corrupt {
        path: format!("MLflow {entity}"),
        reason: format!("the server's answer cannot be represented: {reason}"),
    }
}

fn timestamp(entity: &dyn fmt::Display, field: &str, millis: i64) -> Result<Timestamp> {
    Timestamp::from_millis(millis).map_err(|e| foreign(entity, format_args!("{field}: {e}")))
}

fn lifecycle(entity: &dyn fmt::Display, stage: Option<&str>) -> Result<LifecycleStage> {
    match stage {
        None | Some("") => Ok(LifecycleStage::Active),
        Some(s) => s.parse().map_err(|e| foreign(entity, e)),
    }
}

/// Tags as returned, without this client's own bookkeeping tag.
fn tags(entity: &dyn fmt::Display, tags: Vec<WireKeyValue>) -> Result<Vec<Tag>> {
    tags.into_iter()
        .filter(|t| t.key != CLIENT_REQUEST_ID_TAG)
        .map(|t| Tag::parse(&t.key, t.value).map_err(|e| foreign(entity, e)))
        .collect()
}

/// The value of this client's bookkeeping tag, if present.
pub(crate) fn client_request_id(tags: &[WireKeyValue]) -> Option<&str> {
    tags.iter()
        .find(|t| t.key == CLIENT_REQUEST_ID_TAG)
        .map(|t| t.value.as_str())
}

impl WireExperiment {
    /// The experiment in this crate's model.
    pub(crate) fn into_model(self) -> Result<Experiment> {
        let entity = format!("experiment {}", self.experiment_id);
        let experiment_id =
            ExperimentId::parse(&self.experiment_id).map_err(|e| foreign(&entity, e))?;
        let name = ExperimentName::parse(&self.name).map_err(|e| foreign(&entity, e))?;
        Ok(Experiment {
            experiment_id,
            name,
            artifact_location: self.artifact_location,
            lifecycle_stage: lifecycle(&entity, self.lifecycle_stage.as_deref())?,
            creation_time: self
                .creation_time
                .map(|t| timestamp(&entity, "creation_time", t))
                .transpose()?,
            last_update_time: self
                .last_update_time
                .map(|t| timestamp(&entity, "last_update_time", t))
                .transpose()?,
            tags: tags(&entity, self.tags)?,
        })
    }
}

impl WireRunInfo {
    /// The run id, from `run_id` or the deprecated `run_uuid`.
    fn id(&self) -> &str {
        self.run_id
            .as_deref()
            .or(self.run_uuid.as_deref())
            .unwrap_or_default()
    }

    /// The run's attributes in this crate's model.
    pub(crate) fn into_model(self) -> Result<RunInfo> {
        let entity = format!("run {}", self.id());
        let run_id = RunId::parse(self.id()).map_err(|e| foreign(&entity, e))?;
        let status = match self.status.as_deref() {
            None | Some("") => RunStatus::Running,
            Some(s) => s.parse().map_err(|e| foreign(&entity, e))?,
        };
        Ok(RunInfo {
            experiment_id: ExperimentId::parse(&self.experiment_id)
                .map_err(|e| foreign(&entity, e))?,
            // A display name this crate cannot hold (MLflow takes any text) is left out
            // here; the `mlflow.runName` tag still carries it verbatim.
            run_name: self
                .run_name
                .as_deref()
                .filter(|n| !n.is_empty())
                .and_then(|n| RunName::parse(n).ok()),
            user_id: self.user_id,
            status,
            start_time: timestamp(&entity, "start_time", self.start_time.unwrap_or(0))?,
            end_time: self
                .end_time
                .map(|t| timestamp(&entity, "end_time", t))
                .transpose()?,
            artifact_uri: self.artifact_uri,
            lifecycle_stage: lifecycle(&entity, self.lifecycle_stage.as_deref())?,
            run_id,
        })
    }
}

impl WireMetric {
    /// The point in this crate's model. MLflow's SQL store keeps ±infinity as ±`f64::MAX`;
    /// those come back as the infinities they were logged as.
    pub(crate) fn into_model(self, entity: &dyn fmt::Display) -> Result<Metric> {
        let key = MetricKey::parse(&self.key).map_err(|e| foreign(entity, e))?;
        let value = if self.value == SQL_INFINITY {
            f64::INFINITY
        } else if self.value == -SQL_INFINITY {
            f64::NEG_INFINITY
        } else {
            self.value
        };
        Ok(Metric::new(
            key,
            value,
            timestamp(entity, "metric timestamp", self.timestamp.unwrap_or(0))?,
            self.step.unwrap_or(0),
        ))
    }
}

impl WireRun {
    /// The run in this crate's model.
    pub(crate) fn into_model(self) -> Result<Run> {
        let info = self.info.into_model()?;
        let entity = format!("run {}", info.run_id);
        let metrics = self
            .data
            .metrics
            .into_iter()
            .map(|m| m.into_model(&entity))
            .collect::<Result<_>>()?;
        let params = self
            .data
            .params
            .into_iter()
            .map(|p| Param::parse(&p.key, p.value).map_err(|e| foreign(&entity, e)))
            .collect::<Result<_>>()?;
        let run_tags = tags(&entity, self.data.tags)?;
        let inputs = self
            .inputs
            .dataset_inputs
            .into_iter()
            .map(|input| {
                Ok(DatasetInput {
                    dataset: Dataset {
                        name: input.dataset.name,
                        digest: input.dataset.digest,
                        source_type: input.dataset.source_type,
                        source: input.dataset.source,
                        schema: input.dataset.schema,
                        profile: input.dataset.profile,
                    },
                    tags: tags(&entity, input.tags)?,
                })
            })
            .collect::<Result<_>>()?;
        Ok(Run {
            info,
            data: RunData {
                metrics,
                params,
                tags: run_tags,
            },
            inputs,
        })
    }
}

// --- serde helpers --------------------------------------------------------------------------

/// A metric value: a JSON number or `"NaN"`, `"Infinity"`, `"-Infinity"`.
fn metric_value<'de, D: Deserializer<'de>>(deserializer: D) -> Result<f64, D::Error> {
    float_json::deserialize(&MLFLOW, deserializer)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn int64_fields_read_as_numbers_or_strings() {
        let json = r#"{"experiment_id": "3", "name": "e", "creation_time": "17",
                       "last_update_time": 18, "lifecycle_stage": "deleted"}"#;
        let e: WireExperiment = serde_json::from_str(json).unwrap();
        let e = e.into_model().unwrap();
        assert_eq!(e.creation_time.unwrap().as_millis(), 17);
        assert_eq!(e.last_update_time.unwrap().as_millis(), 18);
        assert_eq!(e.lifecycle_stage, LifecycleStage::Deleted);
    }

    #[test]
    fn sql_infinities_come_back_as_infinities() {
        let json = r#"{"metrics": [
            {"key": "m", "value": "NaN", "timestamp": 1, "step": 1},
            {"key": "m", "value": 1.7976931348623157e308, "timestamp": 2},
            {"key": "m", "value": -1.7976931348623157e308, "timestamp": 3, "step": 3},
            {"key": "m", "value": "Infinity", "timestamp": 4, "step": 4}
        ]}"#;
        let page: MetricHistoryResponse = serde_json::from_str(json).unwrap();
        let values: Vec<Metric> = page
            .metrics
            .into_iter()
            .map(|m| m.into_model(&"run x").unwrap())
            .collect();
        assert!(values[0].value.is_nan());
        assert_eq!(values[1].value, f64::INFINITY);
        assert_eq!(values[1].step, 0);
        assert_eq!(values[2].value, f64::NEG_INFINITY);
        assert_eq!(values[3].value, f64::INFINITY);
    }

    #[test]
    fn runs_drop_the_client_tag_and_keep_odd_names_in_the_tag() {
        let json = r#"{"info": {"run_id": "0123456789abcdef0123456789abcdef",
                                "experiment_id": "0", "run_name": "a (copy)",
                                "status": "FINISHED", "start_time": 5},
                       "data": {"tags": [{"key": "mlops.client_request_id", "value": "x"},
                                         {"key": "mlflow.runName", "value": "a (copy)"}]},
                       "inputs": {}}"#;
        let run: WireRun = serde_json::from_str(json).unwrap();
        assert_eq!(client_request_id(&run.data.tags), Some("x"));
        let run = run.into_model().unwrap();
        assert_eq!(run.info.run_name, None);
        assert_eq!(run.info.status, RunStatus::Finished);
        assert_eq!(run.data.tags.len(), 1);
        assert_eq!(run.data.tag("mlflow.runName"), Some("a (copy)"));
    }

    #[test]
    fn unrepresentable_entities_are_corrupt_not_dropped() {
        let json = r#"{"experiment_id": "4", "name": "a#b"}"#;
        let e: WireExperiment = serde_json::from_str(json).unwrap();
        let err = e.into_model().unwrap_err();
        assert!(matches!(err, TrackError::Corrupt { .. }), "{err}");
        assert!(err.to_string().contains("experiment 4"), "{err}");
    }

    #[test]
    fn requests_use_mlflow_field_names() {
        let metrics = [Metric::new(
            MetricKey::parse("m").unwrap(),
            f64::NEG_INFINITY,
            Timestamp::from_millis(3).unwrap(),
            2,
        )];
        let param = Param::parse("lr", "0.1").unwrap();
        let body = LogBatch {
            run_id: "r",
            metrics: &metrics,
            params: vec![KeyValue::param(&param)],
            tags: vec![],
        };
        assert_eq!(
            serde_json::to_string(&body).unwrap(),
            r#"{"run_id":"r","metrics":[{"key":"m","value":"-Infinity","timestamp":3,"step":2}],"params":[{"key":"lr","value":"0.1"}]}"#
        );
    }
}
