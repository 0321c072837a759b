//! [`TrackingStore`]: the one small trait every tracking backend implements.
//!
//! Backends implement only primitives; conveniences built from them live in
//! [`TrackingStoreExt`](crate::TrackingStoreExt) (blanket-implemented for every store) and
//! in the run handle. Every method validates nothing itself that the types already guarantee
//! (names, keys and paths arrive parsed) and checks what they cannot: batch sizes, param
//! conflicts, lifecycle rules.

use std::fmt::Debug;

use async_trait::async_trait;
use bytes::Bytes;
use mlops_core::{
    ArtifactPath, ExperimentId, ExperimentName, LifecycleStage, Metric, MetricKey, Param, RunId,
    RunName, RunStatus, Tag, TagKey, Timestamp,
};

use crate::entities::{DatasetInput, Experiment, Run, RunInfo};
use crate::error::Result;

/// MLflow's limits on one `log-batch` request.
pub mod limits {
    /// Metrics per batch.
    pub const METRICS: usize = 1000;
    /// Params per batch.
    pub const PARAMS: usize = 100;
    /// Tags per batch.
    pub const TAGS: usize = 100;
    /// Items of every kind together per batch.
    pub const TOTAL: usize = 1000;
}

/// Which experiments or runs a search returns.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ViewType {
    /// Live ones only (MLflow's default).
    #[default]
    ActiveOnly,
    /// Deleted ones only.
    DeletedOnly,
    /// Both.
    All,
}

/// A run search: MLflow's filter and order-by syntax, paged.
#[derive(Clone, Debug, Default)]
pub struct RunQuery {
    /// The experiments to search.
    pub experiment_ids: Vec<ExperimentId>,
    /// MLflow's filter syntax, e.g. `metrics.rmse < 0.5 and params.alpha = '0.1'`.
    pub filter: Option<String>,
    /// Order-by clauses, e.g. `metrics.rmse DESC`.
    pub order_by: Vec<String>,
    /// Live, deleted or both.
    pub view: ViewType,
    /// The page size (MLflow's default is 1000).
    pub max_results: Option<usize>,
    /// The token from the previous page.
    pub page_token: Option<String>,
}

/// An experiment search.
#[derive(Clone, Debug, Default)]
pub struct ExperimentQuery {
    /// MLflow's experiment filter syntax, e.g. `name LIKE 'churn%'`.
    pub filter: Option<String>,
    /// Order-by clauses.
    pub order_by: Vec<String>,
    /// Live, deleted or both.
    pub view: ViewType,
    /// The page size.
    pub max_results: Option<usize>,
    /// The token from the previous page.
    pub page_token: Option<String>,
}

/// One metric's history as columns: the points [`TrackingStore::get_metric_history`] gives,
/// in the same order, as three parallel vectors (a chart of a million points needs no
/// `Metric`, with its key, per point).
///
/// ```
/// use mlops_track::{Metric, MetricKey, MetricColumns, Timestamp};
/// let loss = MetricKey::parse("loss")?;
/// let points = [Metric::new(loss, 0.5, Timestamp::from_millis(7)?, 2)];
/// let columns = MetricColumns::from_points(&points);
/// assert_eq!((columns.step, columns.timestamp, columns.value), (vec![2], vec![7], vec![0.5]));
/// # Ok::<(), mlops_core::Error>(())
/// ```
#[derive(Clone, Debug, Default, PartialEq)]
#[non_exhaustive]
pub struct MetricColumns {
    /// Each point's step.
    pub step: Vec<i64>,
    /// Each point's time, in milliseconds since the Unix epoch.
    pub timestamp: Vec<i64>,
    /// Each point's value (NaN and ±infinity kept).
    pub value: Vec<f64>,
}

impl MetricColumns {
    /// The columns of `points`.
    pub fn from_points(points: &[Metric]) -> Self {
        Self {
            step: points.iter().map(|p| p.step).collect(),
            timestamp: points.iter().map(|p| p.timestamp.as_millis()).collect(),
            value: points.iter().map(|p| p.value).collect(),
        }
    }

    /// How many points.
    pub fn len(&self) -> usize {
        self.value.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.value.is_empty()
    }
}

/// One page of results.
#[derive(Clone, Debug, PartialEq)]
pub struct Page<T> {
    /// The items.
    pub items: Vec<T>,
    /// The token for the next page, or `None` on the last.
    pub next_page_token: Option<String>,
}

impl<T> Page<T> {
    /// Every item of a paged search, page after page: `search` is called with `None`, then
    /// with each page's `next_page_token`, until a page has none.
    ///
    /// ```
    /// # tokio::runtime::Runtime::new()?.block_on(async {
    /// use mlops_track::Page;
    ///
    /// let pages = [(vec![1, 2], Some("b")), (vec![3], None)];
    /// let all = Page::collect_all(|token: Option<String>| {
    ///     let (items, next) = pages[usize::from(token.is_some())].clone();
    ///     async move {
    ///         Ok::<_, std::convert::Infallible>(Page {
    ///             items,
    ///             next_page_token: next.map(str::to_owned),
    ///         })
    ///     }
    /// })
    /// .await?;
    /// assert_eq!(all, [1, 2, 3]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # })?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    ///
    /// The first error of `search`.
    pub async fn collect_all<E, F, Fut>(mut search: F) -> std::result::Result<Vec<T>, E>
    where
        F: FnMut(Option<String>) -> Fut,
        Fut: std::future::Future<Output = std::result::Result<Page<T>, E>>,
    {
        let mut all = Vec::new();
        let mut token = None;
        loop {
            let page = search(token.take()).await?;
            all.extend(page.items);
            match page.next_page_token {
                Some(next) => token = Some(next),
                None => return Ok(all),
            }
        }
    }
}

/// What a new run starts with.
#[derive(Clone, Debug)]
pub struct NewRun {
    /// The experiment.
    pub experiment_id: ExperimentId,
    /// A display name (MLflow generates one when absent).
    pub run_name: Option<RunName>,
    /// Who starts it.
    pub user_id: String,
    /// When it starts.
    pub start_time: Timestamp,
    /// Tags to set at creation (system tags, for example).
    pub tags: Vec<Tag>,
}

/// A file or folder in a run's artifacts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ArtifactInfo {
    /// Its path, relative to the run's artifact root.
    pub path: ArtifactPath,
    /// Whether it is a folder.
    pub is_dir: bool,
    /// Its size in bytes (files only).
    pub size: Option<u64>,
}

/// A tracking backend: experiments, runs, their data, artifacts and search.
///
/// The methods are the primitives a backend must provide; [`TrackingStoreExt`] builds the
/// rest from them (get-or-create an experiment, start a run handle, delete and restore,
/// log one value, read every page). `Arc<T>` and `Box<T>` of a store are stores too.
///
/// [`TrackingStoreExt`]: crate::TrackingStoreExt
#[async_trait]
pub trait TrackingStore: Debug + Send + Sync + 'static {
    /// Creates an experiment, or fails with `AlreadyExists` when the name is taken.
    async fn create_experiment(&self, name: &ExperimentName, tags: &[Tag]) -> Result<ExperimentId>;

    /// The experiment with this id.
    async fn get_experiment(&self, id: &ExperimentId) -> Result<Experiment>;

    /// The experiment with this name, live or deleted, if any.
    async fn get_experiment_by_name(&self, name: &ExperimentName) -> Result<Option<Experiment>>;

    /// Experiments matching a query.
    async fn search_experiments(&self, query: &ExperimentQuery) -> Result<Page<Experiment>>;

    /// Renames an experiment.
    async fn rename_experiment(&self, id: &ExperimentId, name: &ExperimentName) -> Result<()>;

    /// Moves an experiment and its runs to the trash (`Deleted`), or brings them back
    /// (`Active`). Moving it where it already is succeeds.
    async fn set_experiment_lifecycle(
        &self,
        id: &ExperimentId,
        stage: LifecycleStage,
    ) -> Result<()>;

    /// Sets a tag on an experiment.
    async fn set_experiment_tag(&self, id: &ExperimentId, tag: &Tag) -> Result<()>;

    /// Creates a run in `RUNNING` state.
    async fn create_run(&self, run: NewRun) -> Result<Run>;

    /// The run with this id.
    async fn get_run(&self, id: &RunId) -> Result<Run>;

    /// Changes a run's status, end time or name.
    async fn update_run(
        &self,
        id: &RunId,
        status: Option<RunStatus>,
        end_time: Option<Timestamp>,
        run_name: Option<&RunName>,
    ) -> Result<RunInfo>;

    /// Moves a run to the trash (`Deleted`), or brings it back (`Active`). Moving it where
    /// it already is succeeds.
    async fn set_run_lifecycle(&self, id: &RunId, stage: LifecycleStage) -> Result<()>;

    /// Logs metrics, params and tags at once, within [`limits`]. Params are write-once (the
    /// same value again is a no-op, another value is `ParamConflict`), tags last-write-wins,
    /// and metric points are de-duplicated on (key, value, timestamp, step), so a retried
    /// batch is safe.
    async fn log_batch(
        &self,
        run: &RunId,
        metrics: &[Metric],
        params: &[Param],
        tags: &[Tag],
    ) -> Result<()>;

    /// Records datasets the run used.
    async fn log_inputs(&self, run: &RunId, inputs: &[DatasetInput]) -> Result<()>;

    /// Every point of one metric, in the order logged.
    async fn get_metric_history(&self, run: &RunId, key: &MetricKey) -> Result<Vec<Metric>>;

    /// [`Self::get_metric_history`] as columns. The embedded store reads a compacted run's
    /// metric straight into them; other backends convert the points.
    async fn get_metric_columns(&self, run: &RunId, key: &MetricKey) -> Result<MetricColumns> {
        let points = self.get_metric_history(run, key).await?;
        Ok(MetricColumns::from_points(&points))
    }

    /// Deletes a tag from a run.
    async fn delete_tag(&self, run: &RunId, key: &TagKey) -> Result<()>;

    /// Runs matching a query.
    async fn search_runs(&self, query: &RunQuery) -> Result<Page<Run>>;

    /// Stores an artifact of a run.
    async fn log_artifact(&self, run: &RunId, path: &ArtifactPath, bytes: Bytes) -> Result<()>;

    /// The artifacts directly under `dir` (the root when `None`).
    async fn list_artifacts(
        &self,
        run: &RunId,
        dir: Option<&ArtifactPath>,
    ) -> Result<Vec<ArtifactInfo>>;

    /// The bytes of one artifact.
    async fn download_artifact(&self, run: &RunId, path: &ArtifactPath) -> Result<Bytes>;

    /// The damaged objects this handle's reads have skipped so far (unreadable records,
    /// links, runs filed in the wrong place), so that a caller can report an incomplete
    /// answer instead of a quietly shorter one. Empty for a backend that cannot tell (a
    /// server reports its own errors).
    fn damage(&self) -> Vec<crate::Damage> {
        Vec::new()
    }
}
