//! [`MlflowStore`] and its builder; the [`TrackingStore`] impl, whose methods live beside
//! their kind: `experiments.rs`, `runs.rs`, `batch.rs`, `artifacts.rs`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use mlops_core::{
    ArtifactPath, ExperimentId, ExperimentName, LifecycleStage, Metric, MetricKey, Param, RunId,
    RunName, RunStatus, Tag, TagKey, Timestamp,
};
use mlops_mlflow::{RestClient, RestClientBuilder};

use crate::entities::{DatasetInput, Experiment, Run, RunInfo};
use crate::error::Result;
use crate::store::{ArtifactInfo, ExperimentQuery, NewRun, Page, RunQuery, TrackingStore};

/// A [`TrackingStore`] on an MLflow 3.x tracking server, through its REST API
/// (`/api/2.0/mlflow/...`) and its artifact proxy (`/api/2.0/mlflow-artifacts/...`).
///
/// Cloning is cheap and clones share one connection pool.
///
/// ```no_run
/// use std::time::Duration;
/// use mlops_track::{ExperimentName, TrackingStoreExt};
/// use mlops_track::mlflow::MlflowStore;
///
/// # async fn demo() -> mlops_track::Result<()> {
/// let store = MlflowStore::builder("http://127.0.0.1:5000")
///     .timeout(Duration::from_secs(30))
///     .max_retries(5)
///     .build()?;
/// let id = store
///     .get_or_create_experiment(&ExperimentName::parse("churn")?)
///     .await?;
/// # let _ = id;
/// # Ok(())
/// # }
/// ```
///
/// See [the module documentation](crate::mlflow) for retries, limits and MLflow's quirks.
#[derive(Clone)]
pub struct MlflowStore {
    inner: Arc<Inner>,
}

struct Inner {
    client: RestClient,
    history_page_size: usize,
    /// Each run's folder under the artifact proxy (a run's never changes).
    artifact_roots: Mutex<HashMap<RunId, Arc<[String]>>>,
}

impl std::fmt::Debug for MlflowStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MlflowStore")
            .field("client", &self.inner.client)
            .field("history_page_size", &self.inner.history_page_size)
            .finish_non_exhaustive()
    }
}

/// Settings of an [`MlflowStore`]; [`MlflowStore::builder`] starts one. The HTTP settings
/// are those of [`mlops_mlflow::RestClientBuilder`].
#[derive(Clone, Debug)]
pub struct MlflowStoreBuilder {
    client: RestClientBuilder,
    history_page_size: usize,
}

impl MlflowStoreBuilder {
    /// The deadline of one call, all its retries included. Default: 120 s, MLflow's own
    /// request timeout.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.client = self.client.timeout(timeout);
        self
    }

    /// The deadline of one artifact upload or download, retries included. Default: 600 s.
    pub fn artifact_timeout(mut self, timeout: Duration) -> Self {
        self.client = self.client.artifact_timeout(timeout);
        self
    }

    /// How long opening a connection may take. Default: 10 s.
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.client = self.client.connect_timeout(timeout);
        self
    }

    /// Attempts after the first one of a failed call. Default: 8 (with the default backoff,
    /// about 40 s of retrying: enough to ride out a server restart).
    pub fn max_retries(mut self, retries: u32) -> Self {
        self.client = self.client.max_retries(retries);
        self
    }

    /// The first backoff and the longest; each retry waits twice as long as the previous
    /// one, with jitter in its upper half. Defaults: 250 ms and 16 s.
    pub fn backoff(mut self, initial: Duration, max: Duration) -> Self {
        self.client = self.client.backoff(initial, max);
        self
    }

    /// Sends `Authorization: Bearer <token>` (MLflow's `MLFLOW_TRACKING_TOKEN`).
    pub fn token(mut self, token: impl Into<String>) -> Self {
        self.client = self.client.token(token);
        self
    }

    /// Sends HTTP basic authentication (MLflow's `MLFLOW_TRACKING_USERNAME` and
    /// `MLFLOW_TRACKING_PASSWORD`). Credentials never go in the URL.
    pub fn basic_auth(mut self, user: impl Into<String>, password: impl Into<String>) -> Self {
        self.client = self.client.basic_auth(user, password);
        self
    }

    /// Takes credentials from MLflow's variables when set: `MLFLOW_TRACKING_TOKEN`, else
    /// `MLFLOW_TRACKING_USERNAME` with `MLFLOW_TRACKING_PASSWORD`.
    pub fn credentials_from_env(mut self) -> Self {
        self.client = self.client.credentials_from_env();
        self
    }

    /// How many points one metric-history request asks for. Default: 10 000.
    pub fn metric_history_page_size(mut self, size: usize) -> Self {
        self.history_page_size = size.clamp(1, i32::MAX as usize);
        self
    }

    /// The store. Fails on a URL that is not `http://` or `https://`, that carries user
    /// info, a query or a fragment, or that is `https://` in a build without the `tls`
    /// feature.
    pub fn build(self) -> Result<MlflowStore> {
        let client = self.client.build()?;
        Ok(MlflowStore::with_client(client, self.history_page_size))
    }
}

impl MlflowStore {
    /// A store on the server at `base_url` (e.g. `http://127.0.0.1:5000`, or with the path
    /// prefix of a reverse proxy), with default settings.
    pub fn new(base_url: &str) -> Result<Self> {
        Self::builder(base_url).build()
    }

    /// Settings for a store on the server at `base_url`.
    pub fn builder(base_url: &str) -> MlflowStoreBuilder {
        MlflowStoreBuilder {
            client: RestClient::builder(base_url),
            history_page_size: 10_000,
        }
    }

    /// A store calling MLflow through `client` (its URL, credentials, deadlines and
    /// retries), for instance one shared with a model registry.
    pub fn from_client(client: RestClient) -> Self {
        Self::with_client(client, 10_000)
    }

    fn with_client(client: RestClient, history_page_size: usize) -> Self {
        Self {
            inner: Arc::new(Inner {
                client,
                history_page_size,
                artifact_roots: Mutex::new(HashMap::new()),
            }),
        }
    }

    /// The server's base URL, ending in `/`.
    pub fn base_url(&self) -> &str {
        self.inner.client.base_url()
    }

    /// The [`RestClient`] this store calls MLflow through (cheap to clone; clones share its
    /// connection pool, credentials, deadlines and retries), for endpoints this crate does
    /// not wrap.
    pub fn rest_client(&self) -> &RestClient {
        &self.inner.client
    }

    pub(super) fn client(&self) -> &RestClient {
        &self.inner.client
    }

    pub(super) fn history_page_size(&self) -> usize {
        self.inner.history_page_size
    }

    pub(super) fn artifact_roots(&self) -> &Mutex<HashMap<RunId, Arc<[String]>>> {
        &self.inner.artifact_roots
    }
}

#[async_trait]
impl TrackingStore for MlflowStore {
    async fn create_experiment(&self, name: &ExperimentName, tags: &[Tag]) -> Result<ExperimentId> {
        self.create_experiment_once(name, tags).await
    }

    async fn get_experiment(&self, id: &ExperimentId) -> Result<Experiment> {
        self.experiment(id).await
    }

    async fn get_experiment_by_name(&self, name: &ExperimentName) -> Result<Option<Experiment>> {
        self.experiment_by_name(name).await
    }

    async fn search_experiments(&self, query: &ExperimentQuery) -> Result<Page<Experiment>> {
        self.experiments_page(query).await
    }

    async fn rename_experiment(&self, id: &ExperimentId, name: &ExperimentName) -> Result<()> {
        self.rename(id, name).await
    }

    async fn set_experiment_lifecycle(
        &self,
        id: &ExperimentId,
        stage: LifecycleStage,
    ) -> Result<()> {
        self.move_experiment(id, stage).await
    }

    async fn set_experiment_tag(&self, id: &ExperimentId, tag: &Tag) -> Result<()> {
        self.experiment_tag(id, tag).await
    }

    async fn create_run(&self, run: NewRun) -> Result<Run> {
        self.create_run_once(run).await
    }

    async fn get_run(&self, id: &RunId) -> Result<Run> {
        self.run(id).await
    }

    async fn update_run(
        &self,
        id: &RunId,
        status: Option<RunStatus>,
        end_time: Option<Timestamp>,
        run_name: Option<&RunName>,
    ) -> Result<RunInfo> {
        self.update(id, status, end_time, run_name).await
    }

    async fn set_run_lifecycle(&self, id: &RunId, stage: LifecycleStage) -> Result<()> {
        self.move_run(id, stage).await
    }

    async fn log_batch(
        &self,
        run: &RunId,
        metrics: &[Metric],
        params: &[Param],
        tags: &[Tag],
    ) -> Result<()> {
        self.log_one_batch(run, metrics, params, tags).await
    }

    async fn log_inputs(&self, run: &RunId, inputs: &[DatasetInput]) -> Result<()> {
        self.inputs(run, inputs).await
    }

    async fn get_metric_history(&self, run: &RunId, key: &MetricKey) -> Result<Vec<Metric>> {
        self.history(run, key).await
    }

    async fn delete_tag(&self, run: &RunId, key: &TagKey) -> Result<()> {
        self.remove_tag(run, key).await
    }

    async fn search_runs(&self, query: &RunQuery) -> Result<Page<Run>> {
        self.runs_page(query).await
    }

    async fn log_artifact(&self, run: &RunId, path: &ArtifactPath, bytes: Bytes) -> Result<()> {
        self.upload(run, path, bytes).await
    }

    async fn list_artifacts(
        &self,
        run: &RunId,
        dir: Option<&ArtifactPath>,
    ) -> Result<Vec<ArtifactInfo>> {
        self.list(run, dir).await
    }

    async fn download_artifact(&self, run: &RunId, path: &ArtifactPath) -> Result<Bytes> {
        self.download(run, path).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_output_hides_credentials() {
        let builder = MlflowStore::builder("http://h:1").token("s3cret");
        assert!(!format!("{builder:?}").contains("s3cret"));
        let store = builder.build().unwrap();
        assert!(!format!("{store:?}").contains("s3cret"));
    }

    #[test]
    fn bad_urls_are_refused_as_invalid() {
        for refused in ["ftp://h/", "http://user:pw@h:5000/", "sqlite:///mlflow.db"] {
            let err = MlflowStore::new(refused).unwrap_err();
            assert!(
                matches!(err, crate::TrackError::Invalid(_)),
                "{refused}: {err}"
            );
        }
        let store = MlflowStore::new("http://localhost:5000/mlflow").unwrap();
        assert_eq!(store.base_url(), "http://localhost:5000/mlflow/");
    }
}
