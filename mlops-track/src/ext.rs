//! [`TrackingStoreExt`]: conveniences built from [`TrackingStore`]'s primitives, for every
//! store (object_store's `ObjectStoreExt` pattern: a blanket impl, so backends implement
//! only the primitives and every store gets these the same way).

use std::sync::Arc;

use async_trait::async_trait;
use mlops_core::{
    ExperimentId, ExperimentName, LifecycleStage, Metric, Param, RunId, RunName, RunStatus, Tag,
    Timestamp,
};

use crate::entities::{Experiment, Run, RunInfo};
use crate::error::{Result, TrackError};
use crate::run::{ActiveRun, RunOptions};
use crate::store::{ExperimentQuery, Page, RunQuery, TrackingStore};

/// What [`TrackingStoreExt::ensure_experiment`] found.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum Ensured {
    /// This call created it, with the tags given.
    Created(ExperimentId),
    /// It was there already (live or deleted): made earlier, or by another process while
    /// this call was creating it.
    Existing(Experiment),
}

impl Ensured {
    /// The experiment's id.
    pub fn id(&self) -> &ExperimentId {
        match self {
            Self::Created(id) => id,
            Self::Existing(experiment) => &experiment.experiment_id,
        }
    }

    /// Whether this call created it.
    pub fn created(&self) -> bool {
        matches!(self, Self::Created(_))
    }
}

/// Conveniences for every [`TrackingStore`], built from its primitives. Bring it into scope
/// with `use mlops_track::TrackingStoreExt;`.
///
/// ```
/// # tokio::runtime::Runtime::new()?.block_on(async {
/// use mlops_track::{ExperimentName, RunOptions, RunStatus, TrackingStoreExt};
///
/// let store = mlops_track::open("memory://").await?;
/// let experiment = store
///     .get_or_create_experiment(&ExperimentName::parse("churn")?)
///     .await?;
/// let run = store
///     .start_run(&experiment, None, RunOptions::default().without_system_tags())
///     .await?;
/// run.log_param("lr", "0.1").await?;
/// run.log_artifact("model/weights.json", b"[0.5, 1.5]".to_vec()).await?;
/// let id = run.run_id().clone();
/// run.finish(RunStatus::Finished).await?;
/// store.delete_run(&id).await?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// # })?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[async_trait]
pub trait TrackingStoreExt: TrackingStore {
    /// The id of the live experiment named `name`, created (without tags) when there is
    /// none. Race-safe: when another process creates it between this call's lookup and its
    /// create, this call uses theirs. A deleted experiment of that name is
    /// [`TrackError::InvalidState`] (restore it, or pick another name), as in MLflow's
    /// `set_experiment`.
    async fn get_or_create_experiment(&self, name: &ExperimentName) -> Result<ExperimentId> {
        match self.ensure_experiment(name, &[]).await? {
            Ensured::Created(id) => Ok(id),
            Ensured::Existing(found) if found.lifecycle_stage == LifecycleStage::Deleted => {
                Err(TrackError::InvalidState(format!(
                    "experiment {name:?} is deleted; restore it ({}) or choose another name",
                    found.experiment_id
                )))
            }
            Ensured::Existing(found) => Ok(found.experiment_id),
        }
    }

    /// The experiment named `name` as it is (live or deleted), or a new one with `tags`,
    /// saying which. Race-safe as [`get_or_create_experiment`](Self::get_or_create_experiment).
    async fn ensure_experiment(&self, name: &ExperimentName, tags: &[Tag]) -> Result<Ensured> {
        if let Some(found) = self.get_experiment_by_name(name).await? {
            return Ok(Ensured::Existing(found));
        }
        match self.create_experiment(name, tags).await {
            Ok(id) => Ok(Ensured::Created(id)),
            // Created by someone else meanwhile: use theirs.
            Err(TrackError::AlreadyExists { .. }) => self
                .get_experiment_by_name(name)
                .await?
                .map(Ensured::Existing)
                .ok_or_else(|| TrackError::NotFound {
                    what: "experiment",
                    id: name.to_string(),
                }),
            Err(e) => Err(e),
        }
    }

    /// Starts a run in `experiment` and returns its handle, as [`ActiveRun::start`] on a
    /// clone of this store (cheap for every store here: they share their state).
    async fn start_run(
        &self,
        experiment: &ExperimentId,
        name: Option<RunName>,
        options: RunOptions,
    ) -> Result<ActiveRun>
    where
        Self: Clone + Sized,
    {
        let store: Arc<dyn TrackingStore> = Arc::new(self.clone());
        ActiveRun::start(store, experiment, name, options).await
    }

    /// Moves an experiment and its runs to the trash.
    async fn delete_experiment(&self, id: &ExperimentId) -> Result<()> {
        self.set_experiment_lifecycle(id, LifecycleStage::Deleted)
            .await
    }

    /// Brings an experiment (and the runs deleted with it) back from the trash.
    async fn restore_experiment(&self, id: &ExperimentId) -> Result<()> {
        self.set_experiment_lifecycle(id, LifecycleStage::Active)
            .await
    }

    /// Moves a run to the trash.
    async fn delete_run(&self, id: &RunId) -> Result<()> {
        self.set_run_lifecycle(id, LifecycleStage::Deleted).await
    }

    /// Brings a run back from the trash.
    async fn restore_run(&self, id: &RunId) -> Result<()> {
        self.set_run_lifecycle(id, LifecycleStage::Active).await
    }

    /// Ends a run: sets its status and its end time to now.
    async fn set_terminated(&self, run: &RunId, status: RunStatus) -> Result<RunInfo> {
        self.update_run(run, Some(status), Some(Timestamp::now()), None)
            .await
    }

    /// Logs one metric point, directly (a run handle's
    /// [`log_metric`](ActiveRun::log_metric) buffers instead).
    async fn log_metric(&self, run: &RunId, point: &Metric) -> Result<()> {
        self.log_batch(run, std::slice::from_ref(point), &[], &[])
            .await
    }

    /// Logs one param (write-once: the same value again is a no-op, another is
    /// [`TrackError::ParamConflict`]).
    async fn log_param(&self, run: &RunId, param: &Param) -> Result<()> {
        self.log_batch(run, &[], std::slice::from_ref(param), &[])
            .await
    }

    /// Sets one run tag (last write wins).
    async fn set_tag(&self, run: &RunId, tag: &Tag) -> Result<()> {
        self.log_batch(run, &[], &[], std::slice::from_ref(tag))
            .await
    }

    /// Every experiment matching `query`, following page tokens from its `page_token`.
    async fn search_all_experiments(&self, query: &ExperimentQuery) -> Result<Vec<Experiment>> {
        let first = query.page_token.clone();
        let mut started = false;
        Page::collect_all(|page_token| {
            let token = if started { page_token } else { first.clone() };
            started = true;
            let query = ExperimentQuery {
                page_token: token,
                ..query.clone()
            };
            async move { self.search_experiments(&query).await }
        })
        .await
    }

    /// Every run matching `query`, following page tokens from its `page_token`.
    async fn search_all_runs(&self, query: &RunQuery) -> Result<Vec<Run>> {
        let first = query.page_token.clone();
        let mut started = false;
        Page::collect_all(|page_token| {
            let token = if started { page_token } else { first.clone() };
            started = true;
            let query = RunQuery {
                page_token: token,
                ..query.clone()
            };
            async move { self.search_runs(&query).await }
        })
        .await
    }
}

impl<T: TrackingStore + ?Sized> TrackingStoreExt for T {}
