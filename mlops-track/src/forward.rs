//! `Arc<T>` and `Box<T>` of a [`TrackingStore`] are stores (so `Arc<dyn TrackingStore>` can
//! go wherever a store is expected, and gets [`TrackingStoreExt`](crate::TrackingStoreExt)'s
//! `start_run`). Every method forwards; `missing_trait_methods` makes a new trait method
//! that is not forwarded here a compile error instead of a silent default.

use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;
use mlops_core::{
    ArtifactPath, ExperimentId, ExperimentName, LifecycleStage, Metric, MetricKey, Param, RunId,
    RunName, RunStatus, Tag, TagKey, Timestamp,
};

use crate::entities::{DatasetInput, Experiment, Run, RunInfo};
use crate::error::Result;
use crate::store::{ArtifactInfo, ExperimentQuery, NewRun, Page, RunQuery, TrackingStore};

macro_rules! forward {
    ($wrapper:ident) => {
        #[async_trait]
        #[deny(clippy::missing_trait_methods)]
        impl<T: TrackingStore + ?Sized> TrackingStore for $wrapper<T> {
            async fn create_experiment(
                &self,
                name: &ExperimentName,
                tags: &[Tag],
            ) -> Result<ExperimentId> {
                (**self).create_experiment(name, tags).await
            }

            async fn get_experiment(&self, id: &ExperimentId) -> Result<Experiment> {
                (**self).get_experiment(id).await
            }

            async fn get_experiment_by_name(
                &self,
                name: &ExperimentName,
            ) -> Result<Option<Experiment>> {
                (**self).get_experiment_by_name(name).await
            }

            async fn search_experiments(
                &self,
                query: &ExperimentQuery,
            ) -> Result<Page<Experiment>> {
                (**self).search_experiments(query).await
            }

            async fn rename_experiment(
                &self,
                id: &ExperimentId,
                name: &ExperimentName,
            ) -> Result<()> {
                (**self).rename_experiment(id, name).await
            }

            async fn set_experiment_lifecycle(
                &self,
                id: &ExperimentId,
                stage: LifecycleStage,
            ) -> Result<()> {
                (**self).set_experiment_lifecycle(id, stage).await
            }

            async fn set_experiment_tag(&self, id: &ExperimentId, tag: &Tag) -> Result<()> {
                (**self).set_experiment_tag(id, tag).await
            }

            async fn create_run(&self, run: NewRun) -> Result<Run> {
                (**self).create_run(run).await
            }

            async fn get_run(&self, id: &RunId) -> Result<Run> {
                (**self).get_run(id).await
            }

            async fn update_run(
                &self,
                id: &RunId,
                status: Option<RunStatus>,
                end_time: Option<Timestamp>,
                run_name: Option<&RunName>,
            ) -> Result<RunInfo> {
                (**self).update_run(id, status, end_time, run_name).await
            }

            async fn set_run_lifecycle(&self, id: &RunId, stage: LifecycleStage) -> Result<()> {
                (**self).set_run_lifecycle(id, stage).await
            }

            async fn log_batch(
                &self,
                run: &RunId,
                metrics: &[Metric],
                params: &[Param],
                tags: &[Tag],
            ) -> Result<()> {
                (**self).log_batch(run, metrics, params, tags).await
            }

            async fn log_inputs(&self, run: &RunId, inputs: &[DatasetInput]) -> Result<()> {
                (**self).log_inputs(run, inputs).await
            }

            async fn get_metric_history(
                &self,
                run: &RunId,
                key: &MetricKey,
            ) -> Result<Vec<Metric>> {
                (**self).get_metric_history(run, key).await
            }

            async fn get_metric_columns(
                &self,
                run: &RunId,
                key: &MetricKey,
            ) -> Result<crate::store::MetricColumns> {
                (**self).get_metric_columns(run, key).await
            }

            async fn delete_tag(&self, run: &RunId, key: &TagKey) -> Result<()> {
                (**self).delete_tag(run, key).await
            }

            async fn search_runs(&self, query: &RunQuery) -> Result<Page<Run>> {
                (**self).search_runs(query).await
            }

            async fn log_artifact(
                &self,
                run: &RunId,
                path: &ArtifactPath,
                bytes: Bytes,
            ) -> Result<()> {
                (**self).log_artifact(run, path, bytes).await
            }

            async fn list_artifacts(
                &self,
                run: &RunId,
                dir: Option<&ArtifactPath>,
            ) -> Result<Vec<ArtifactInfo>> {
                (**self).list_artifacts(run, dir).await
            }

            fn damage(&self) -> Vec<crate::Damage> {
                (**self).damage()
            }

            async fn download_artifact(&self, run: &RunId, path: &ArtifactPath) -> Result<Bytes> {
                (**self).download_artifact(run, path).await
            }
        }
    };
}

forward!(Arc);
forward!(Box);
