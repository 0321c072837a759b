//! [`Run`] as something the search filter can evaluate.

use crate::entities::{DATASET_CONTEXT_TAG, RUN_NAME_TAG, Run};
use crate::filter::{AttrValue, Attribute, DatasetView, Searchable};

impl Searchable for Run {
    fn metric(&self, key: &str) -> Option<f64> {
        self.data.metric(key)
    }

    fn param(&self, key: &str) -> Option<&str> {
        self.data.param(key)
    }

    fn tag(&self, key: &str) -> Option<&str> {
        self.data.tag(key)
    }

    fn attribute(&self, attribute: Attribute) -> Option<AttrValue<'_>> {
        let info = &self.info;
        Some(match attribute {
            Attribute::RunId => AttrValue::Text(info.run_id.as_str()),
            // MLflow's SQL store searches the name in the `mlflow.runName` tag.
            Attribute::RunName => AttrValue::Text(
                self.data
                    .tag(RUN_NAME_TAG)
                    .or(info.run_name.as_ref().map(|n| n.as_str()))?,
            ),
            Attribute::Status => AttrValue::Text(info.status.as_str()),
            Attribute::UserId => AttrValue::Text(&info.user_id),
            Attribute::ArtifactUri => AttrValue::Text(&info.artifact_uri),
            Attribute::StartTime => AttrValue::Millis(info.start_time.as_millis()),
            Attribute::EndTime => AttrValue::Millis(info.end_time?.as_millis()),
        })
    }

    fn datasets(&self) -> Vec<DatasetView<'_>> {
        self.inputs
            .iter()
            .map(|input| DatasetView {
                name: &input.dataset.name,
                digest: &input.dataset.digest,
                context: input
                    .tags
                    .iter()
                    .find(|t| t.key().as_str() == DATASET_CONTEXT_TAG)
                    .map(|t| t.value()),
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow_schema::{DataType, Field, Schema};
    use mlops_core::{
        DatasetDigest, DatasetRef, ExperimentId, LifecycleStage, Metric, MetricKey, Param, RunId,
        RunStatus, Tag, Timestamp,
    };

    use crate::entities::{Dataset, DatasetInput, RunData, RunInfo};
    use crate::filter::Filter;

    use super::*;

    fn run() -> Run {
        let schema = Arc::new(Schema::new(vec![Field::new("x", DataType::Float64, false)]));
        let dataset = DatasetRef::new(
            "train",
            "s3://bucket/train.parquet",
            schema,
            DatasetDigest::from_bytes([7; 16]),
            10,
        )
        .unwrap();
        Run {
            info: RunInfo {
                run_id: RunId::generate(),
                run_name: None,
                experiment_id: ExperimentId::parse("0").unwrap(),
                user_id: "ada".into(),
                status: RunStatus::Finished,
                start_time: Timestamp::from_millis(1000).unwrap(),
                end_time: None,
                artifact_uri: "mlflow-artifacts:/0/x/artifacts".into(),
                lifecycle_stage: LifecycleStage::Active,
            },
            data: RunData {
                metrics: vec![Metric::new(
                    MetricKey::parse("rmse").unwrap(),
                    0.4,
                    Timestamp::EPOCH,
                    0,
                )],
                params: vec![Param::parse("alpha", "0.1").unwrap()],
                tags: vec![Tag::parse(RUN_NAME_TAG, "owl").unwrap()],
            },
            inputs: vec![DatasetInput {
                dataset: Dataset::from_ref(&dataset),
                tags: vec![Tag::parse(DATASET_CONTEXT_TAG, "training").unwrap()],
            }],
        }
    }

    #[test]
    fn runs_are_searchable_with_mlflow_filters() {
        let run = run();
        for (filter, expected) in [
            ("metrics.rmse < 0.5 and params.alpha = '0.1'", true),
            (
                "attributes.status = 'FINISHED' and tags.`mlflow.runName` = 'owl'",
                true,
            ),
            ("attributes.run_name LIKE 'o%'", true),
            ("attributes.end_time > 0", false),
            (
                "datasets.context = 'training' and datasets.name = 'train'",
                true,
            ),
            ("metrics.rmse >= 0.5", false),
        ] {
            assert_eq!(
                Filter::parse(filter).unwrap().matches(&run),
                expected,
                "{filter}"
            );
        }
    }

    #[test]
    fn dataset_records_follow_mlflow() {
        let dataset = &run().inputs[0].dataset;
        assert_eq!(dataset.source_type, "s3");
        assert_eq!(dataset.digest, "07070707070707070707070707070707");
        let schema: serde_json::Value =
            serde_json::from_str(dataset.schema.as_deref().unwrap()).unwrap();
        assert_eq!(schema["mlflow_colspec"][0]["type"], "double");
        assert_eq!(dataset.profile.as_deref(), Some(r#"{"num_rows":10}"#));
    }
}
