//! Sync: copy experiments and runs from one tracking store to another, typically from an
//! embedded [`LocalStore`](crate::LocalStore) written offline (a laptop, an HPC node without
//! network) to a shared MLflow server, with everything a run holds: params, tags, full metric
//! histories (steps, timestamps, NaN and ±infinity), dataset inputs, artifacts, status and
//! end time.
//!
//! ```
//! # tokio::runtime::Runtime::new()?.block_on(async {
//! use mlops_track::sync::{SyncOptions, sync};
//! use mlops_track::{ExperimentName, LocalStore, NewRun, Param, Timestamp, TrackingStore};
//!
//! let offline = LocalStore::open_uri(&"memory://".parse()?).await?;
//! let shared = LocalStore::open_uri(&"memory://".parse()?).await?; // an MlflowStore in practice
//! let experiment = offline.create_experiment(&ExperimentName::parse("churn")?, &[]).await?;
//! let run = offline
//!     .create_run(NewRun {
//!         experiment_id: experiment,
//!         run_name: None,
//!         user_id: "ada".into(),
//!         start_time: Timestamp::now(),
//!         tags: vec![],
//!     })
//!     .await?;
//! offline.log_batch(&run.info.run_id, &[], &[Param::parse("lr", "0.1")?], &[]).await?;
//!
//! let first = sync(&offline, &shared, &SyncOptions::default()).await?;
//! assert_eq!((first.runs_created, first.params), (1, 1));
//! let second = sync(&offline, &shared, &SyncOptions::default()).await?;
//! assert_eq!((second.runs_created, second.runs_written), (0, 0)); // nothing copied twice
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! # })?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # How it stays idempotent
//!
//! - Experiments are matched **by name**; a missing one is created with the source's tags.
//! - Every run created on the target carries the tag [`SOURCE_RUN_TAG`] with the source
//!   run's id, set in the same request that creates the run. A later sync finds the target
//!   run by that tag, so a run is never created twice, even after a sync was interrupted
//!   right after creating it.
//! - Each sync compares the two runs and writes only the difference: params the target
//!   lacks (a param with another value on the target is a
//!   [`ParamConflict`](crate::TrackError::ParamConflict) for that run), tags whose value
//!   differs, the metric points missing from the target's history (compared as a multiset
//!   on key, step, timestamp and value, so a point is never sent twice whatever the
//!   target's own de-duplication does; MLflow's SQL store keeps ±infinity as ±`f64::MAX`,
//!   so those compare equal), the inputs it lacks (by name and digest), artifacts missing
//!   on the target or with another size, and the status, end time and name when they
//!   differ.
//! - A run still `RUNNING` at the source is copied as it is; the next sync appends what it
//!   logged since and copies its final status.
//! - With [`SyncOptions::include_deleted`], runs in the source's trash are copied and then
//!   moved to the target's trash; a target run that was deleted while its source is live is
//!   restored.
//!
//! A failure in one run (a param conflict, a server error) does not stop the others: it is
//! recorded in [`SyncReport::failures`] and the sync goes on. Running the sync again retries
//! whatever is still missing.

use std::collections::{HashMap, HashSet};

use futures::StreamExt;
use mlops_core::{
    ArtifactPath, ExperimentId, ExperimentName, LifecycleStage, Metric, MetricKey, Param, RunId,
    Tag,
};

use crate::entities::{DatasetInput, Experiment, Run};
use crate::error::{Result, TrackError};
use crate::ext::{Ensured, TrackingStoreExt};
use crate::store::{ExperimentQuery, NewRun, RunQuery, TrackingStore, ViewType, limits};

/// The tag each run created by a sync carries on the target: the id of its source run.
pub const SOURCE_RUN_TAG: &str = "mlops.sync.source_run_id";

/// The byte budget of the params and tags in one `log_batch` (MLflow's request limit is
/// about 1 MB).
const BATCH_BYTES: usize = 512 * 1024;
/// Page size of the searches that list experiments and runs.
const PAGE: usize = 1000;

/// What to sync.
///
/// ```
/// use mlops_track::ExperimentName;
/// use mlops_track::sync::SyncOptions;
/// let options = SyncOptions::default()
///     .with_experiment(ExperimentName::parse("churn")?)
///     .with_concurrency(8);
/// assert_eq!(options.concurrency(), 8);
/// # Ok::<(), mlops_core::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct SyncOptions {
    experiments: Vec<ExperimentName>,
    include_deleted: bool,
    concurrency: usize,
}

impl Default for SyncOptions {
    fn default() -> Self {
        Self {
            experiments: Vec::new(),
            include_deleted: false,
            concurrency: 4,
        }
    }
}

impl SyncOptions {
    /// Syncs this experiment (by name); call again for several. Without any, every live
    /// experiment of the source is synced.
    pub fn with_experiment(mut self, name: ExperimentName) -> Self {
        self.experiments.push(name);
        self
    }

    /// Also copies deleted experiments' and runs' data, and mirrors their deletion.
    pub fn include_deleted(mut self, include: bool) -> Self {
        self.include_deleted = include;
        self
    }

    /// How many runs are copied at once (4 by default; at least 1).
    pub fn with_concurrency(mut self, runs: usize) -> Self {
        self.concurrency = runs.max(1);
        self
    }

    /// The run concurrency.
    pub fn concurrency(&self) -> usize {
        self.concurrency
    }

    fn view(&self) -> ViewType {
        if self.include_deleted {
            ViewType::All
        } else {
            ViewType::ActiveOnly
        }
    }
}

/// One source run and where it went.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SyncedRun {
    /// The experiment, by name.
    pub experiment: ExperimentName,
    /// The run in the source store.
    pub source: RunId,
    /// Its copy in the target store.
    pub target: RunId,
    /// Whether this sync created the copy.
    pub created: bool,
    /// Whether this sync wrote anything to it.
    pub written: bool,
}

/// A run (or an experiment) that could not be synced, and why.
#[derive(Debug)]
pub struct SyncFailure {
    /// The experiment, by name.
    pub experiment: ExperimentName,
    /// The source run, when the failure is a run's.
    pub source_run: Option<RunId>,
    /// What went wrong.
    pub error: TrackError,
}

/// What a sync did. The counts are of items written to the target by this sync: a second
/// sync of unchanged runs reports zero everywhere but [`runs`](Self::runs).
#[derive(Debug, Default)]
pub struct SyncReport {
    /// Experiments created on the target.
    pub experiments_created: usize,
    /// Runs created on the target.
    pub runs_created: usize,
    /// Runs to which anything was written (created ones included).
    pub runs_written: usize,
    /// Params logged.
    pub params: usize,
    /// Tags set (run and experiment tags).
    pub tags: usize,
    /// Metric points logged.
    pub metric_points: usize,
    /// Dataset inputs logged.
    pub inputs: usize,
    /// Artifact files uploaded.
    pub artifacts: usize,
    /// Bytes of those files.
    pub artifact_bytes: u64,
    /// Every source run looked at, with its target.
    pub runs: Vec<SyncedRun>,
    /// What failed; the rest was synced.
    pub failures: Vec<SyncFailure>,
}

impl SyncReport {
    /// Whether everything was synced.
    pub fn is_complete(&self) -> bool {
        self.failures.is_empty()
    }

    fn add(&mut self, run: RunCounts) {
        self.runs_created += usize::from(run.created);
        self.runs_written += usize::from(run.written());
        self.params += run.params;
        self.tags += run.tags;
        self.metric_points += run.metric_points;
        self.inputs += run.inputs;
        self.artifacts += run.artifacts;
        self.artifact_bytes += run.artifact_bytes;
    }
}

/// What one run's sync wrote.
#[derive(Clone, Copy, Debug, Default)]
struct RunCounts {
    created: bool,
    lifecycle: bool,
    info: bool,
    params: usize,
    tags: usize,
    metric_points: usize,
    inputs: usize,
    artifacts: usize,
    artifact_bytes: u64,
}

impl RunCounts {
    fn written(&self) -> bool {
        self.created
            || self.lifecycle
            || self.info
            || self.params + self.tags + self.metric_points + self.inputs + self.artifacts > 0
    }
}

/// Copies experiments and runs from `from` to `to` (see the [module docs](self)).
///
/// # Errors
///
/// Only when the source cannot be listed; failures of single experiments and runs are in
/// [`SyncReport::failures`].
pub async fn sync(
    from: &dyn TrackingStore,
    to: &dyn TrackingStore,
    options: &SyncOptions,
) -> Result<SyncReport> {
    let mut report = SyncReport::default();
    for experiment in source_experiments(from, options).await? {
        let name = experiment.name.clone();
        if let Err(error) = sync_experiment(from, to, &experiment, options, &mut report).await {
            report.failures.push(SyncFailure {
                experiment: name,
                source_run: None,
                error,
            });
        }
    }
    Ok(report)
}

async fn source_experiments(
    from: &dyn TrackingStore,
    options: &SyncOptions,
) -> Result<Vec<Experiment>> {
    if !options.experiments.is_empty() {
        let mut found = Vec::new();
        for name in &options.experiments {
            match from.get_experiment_by_name(name).await? {
                Some(e)
                    if options.include_deleted || e.lifecycle_stage == LifecycleStage::Active =>
                {
                    found.push(e);
                }
                _ => {
                    return Err(TrackError::NotFound {
                        what: "experiment",
                        id: name.to_string(),
                    });
                }
            }
        }
        return Ok(found);
    }
    from.search_all_experiments(&ExperimentQuery {
        view: options.view(),
        max_results: Some(PAGE),
        ..ExperimentQuery::default()
    })
    .await
}

async fn all_runs(store: &dyn TrackingStore, query: RunQuery) -> Result<Vec<Run>> {
    store
        .search_all_runs(&RunQuery {
            max_results: Some(PAGE),
            ..query
        })
        .await
}

async fn target_experiment(
    to: &dyn TrackingStore,
    source: &Experiment,
    report: &mut SyncReport,
) -> Result<ExperimentId> {
    // Race-safe: another sync creating it meanwhile is fine, theirs is used.
    let existing = match to.ensure_experiment(&source.name, &source.tags).await? {
        Ensured::Created(id) => {
            report.experiments_created += 1;
            report.tags += source.tags.len();
            return Ok(id);
        }
        Ensured::Existing(existing) => existing,
    };
    if existing.lifecycle_stage == LifecycleStage::Deleted {
        return Err(TrackError::InvalidState(format!(
            "experiment {:?} is deleted on the target; restore it there first",
            source.name.as_str()
        )));
    }
    for tag in &source.tags {
        let same = existing
            .tags
            .iter()
            .any(|t| t.key() == tag.key() && t.value() == tag.value());
        if !same {
            to.set_experiment_tag(&existing.experiment_id, tag).await?;
            report.tags += 1;
        }
    }
    Ok(existing.experiment_id)
}

async fn sync_experiment(
    from: &dyn TrackingStore,
    to: &dyn TrackingStore,
    experiment: &Experiment,
    options: &SyncOptions,
    report: &mut SyncReport,
) -> Result<()> {
    let target = target_experiment(to, experiment, report).await?;
    let copies = all_runs(
        to,
        RunQuery {
            experiment_ids: vec![target.clone()],
            filter: Some(format!("tags.`{SOURCE_RUN_TAG}` LIKE '%'")),
            view: ViewType::All,
            ..RunQuery::default()
        },
    )
    .await?;
    let mut by_source: HashMap<String, RunId> = HashMap::new();
    for copy in copies {
        if let Some(source) = copy.data.tag(SOURCE_RUN_TAG) {
            // Two copies of one source (only possible if created outside a sync): the
            // oldest id wins, deterministically.
            let entry = by_source
                .entry(source.to_owned())
                .or_insert_with(|| copy.info.run_id.clone());
            if copy.info.run_id.as_str() < entry.as_str() {
                *entry = copy.info.run_id.clone();
            }
        }
    }
    let runs = all_runs(
        from,
        RunQuery {
            experiment_ids: vec![experiment.experiment_id.clone()],
            view: options.view(),
            order_by: vec!["attributes.start_time ASC".to_owned()],
            ..RunQuery::default()
        },
    )
    .await?;
    let by_source = &by_source;
    let target = &target;
    let results: Vec<_> = futures::stream::iter(runs)
        .map(|run| async move {
            let copy = by_source.get(run.info.run_id.as_str()).cloned();
            let outcome = sync_run(from, to, &run, target, copy).await;
            (run.info.run_id, outcome)
        })
        .buffer_unordered(options.concurrency)
        .collect()
        .await;
    for (source, outcome) in results {
        match outcome {
            Ok((target, counts)) => {
                report.runs.push(SyncedRun {
                    experiment: experiment.name.clone(),
                    source,
                    target,
                    created: counts.created,
                    written: counts.written(),
                });
                report.add(counts);
            }
            Err(error) => report.failures.push(SyncFailure {
                experiment: experiment.name.clone(),
                source_run: Some(source),
                error,
            }),
        }
    }
    Ok(())
}

async fn sync_run(
    from: &dyn TrackingStore,
    to: &dyn TrackingStore,
    source: &Run,
    experiment: &ExperimentId,
    copy: Option<RunId>,
) -> Result<(RunId, RunCounts)> {
    let mut counts = RunCounts::default();
    let source_id = &source.info.run_id;
    let target = match copy {
        Some(id) => to.get_run(&id).await?,
        None => {
            let mut tags = vec![Tag::parse(SOURCE_RUN_TAG, source_id.as_str())?];
            if let Some(name) = source
                .data
                .tags
                .iter()
                .find(|t| t.key().as_str() == crate::entities::RUN_NAME_TAG)
            {
                tags.push(name.clone());
            }
            counts.created = true;
            counts.tags += tags.len() - 1;
            to.create_run(NewRun {
                experiment_id: experiment.clone(),
                run_name: source.info.run_name.clone(),
                user_id: source.info.user_id.clone(),
                start_time: source.info.start_time,
                tags,
            })
            .await?
        }
    };
    let target_id = target.info.run_id.clone();

    // Plan everything before writing, so a deleted target is restored only when needed.
    let params = missing_params(source, &target)?;
    let tags: Vec<Tag> = source
        .data
        .tags
        .iter()
        .filter(|t| {
            t.key().as_str() != SOURCE_RUN_TAG
                && target.data.tag(t.key().as_str()) != Some(t.value())
        })
        .cloned()
        .collect();
    let mut points = Vec::new();
    for latest in &source.data.metrics {
        points.extend(missing_points(from, to, source, &target, &latest.key).await?);
    }
    let have: HashSet<(&str, &str)> = target
        .inputs
        .iter()
        .map(|i| (i.dataset.name.as_str(), i.dataset.digest.as_str()))
        .collect();
    let inputs: Vec<DatasetInput> = source
        .inputs
        .iter()
        .filter(|i| !have.contains(&(i.dataset.name.as_str(), i.dataset.digest.as_str())))
        .cloned()
        .collect();
    let source_files = artifact_files(from, source_id).await?;
    let target_files: HashMap<ArtifactPath, Option<u64>> = if counts.created {
        HashMap::new()
    } else {
        artifact_files(to, &target_id).await?.into_iter().collect()
    };
    let files: Vec<(ArtifactPath, Option<u64>)> = source_files
        .into_iter()
        .filter(|(path, size)| match target_files.get(path) {
            Some(theirs) => theirs != size,
            None => true,
        })
        .collect();
    let status_differs =
        target.info.status != source.info.status || target.info.end_time != source.info.end_time;
    let name_differs =
        source.info.run_name.is_some() && target.info.run_name != source.info.run_name;
    let data_to_write = !params.is_empty()
        || !tags.is_empty()
        || !points.is_empty()
        || !inputs.is_empty()
        || !files.is_empty()
        || status_differs
        || name_differs;
    let source_live = source.info.lifecycle_stage == LifecycleStage::Active;
    let target_live = target.info.lifecycle_stage == LifecycleStage::Active;

    if !target_live && (source_live || data_to_write) {
        to.restore_run(&target_id).await?;
        counts.lifecycle = true;
    }
    write_params_and_tags(to, &target_id, &params, &tags).await?;
    counts.params += params.len();
    counts.tags += tags.len();
    for chunk in points.chunks(limits::METRICS) {
        to.log_batch(&target_id, chunk, &[], &[]).await?;
        counts.metric_points += chunk.len();
    }
    if !inputs.is_empty() {
        to.log_inputs(&target_id, &inputs).await?;
        counts.inputs += inputs.len();
    }
    for (path, _) in &files {
        let bytes = from.download_artifact(source_id, path).await?;
        counts.artifact_bytes += bytes.len() as u64;
        to.log_artifact(&target_id, path, bytes).await?;
        counts.artifacts += 1;
    }
    if status_differs || name_differs {
        to.update_run(
            &target_id,
            Some(source.info.status),
            source.info.end_time,
            source.info.run_name.as_ref().filter(|_| name_differs),
        )
        .await?;
        counts.info = true;
    }
    if !source_live && (target_live || counts.lifecycle) {
        to.delete_run(&target_id).await?;
        counts.lifecycle = true;
    }
    Ok((target_id, counts))
}

/// The source's params that the target lacks; a param the target holds with another value
/// is a conflict.
fn missing_params(source: &Run, target: &Run) -> Result<Vec<Param>> {
    let mut missing = Vec::new();
    for param in &source.data.params {
        match target.data.param(param.key().as_str()) {
            None => missing.push(param.clone()),
            Some(theirs) if theirs == param.value() => {}
            Some(theirs) => {
                return Err(TrackError::ParamConflict {
                    run: target.info.run_id.to_string(),
                    key: param.key().to_string(),
                    existing: theirs.to_owned(),
                    new: param.value().to_owned(),
                });
            }
        }
    }
    Ok(missing)
}

/// A point as compared across stores: MLflow's SQL store keeps ±infinity as ±`f64::MAX`,
/// every NaN is one NaN, and `-0.0` is `0.0`.
fn point_key(point: &Metric) -> (i64, i64, u64) {
    let value = point.value;
    let canonical = if value.is_nan() {
        f64::NAN
    } else if value == f64::MAX {
        f64::INFINITY
    } else if value == -f64::MAX {
        f64::NEG_INFINITY
    } else if value == 0.0 {
        0.0
    } else {
        value
    };
    (point.step, point.timestamp.as_millis(), canonical.to_bits())
}

/// The points of `key` in the source's history that the target's history lacks, counted as
/// a multiset, in the source's order.
async fn missing_points(
    from: &dyn TrackingStore,
    to: &dyn TrackingStore,
    source: &Run,
    target: &Run,
    key: &MetricKey,
) -> Result<Vec<Metric>> {
    let history = from.get_metric_history(&source.info.run_id, key).await?;
    let mut have: HashMap<(i64, i64, u64), usize> = HashMap::new();
    if target.data.metrics.iter().any(|m| &m.key == key) {
        for point in to.get_metric_history(&target.info.run_id, key).await? {
            *have.entry(point_key(&point)).or_default() += 1;
        }
    }
    Ok(history
        .into_iter()
        .filter(|point| match have.get_mut(&point_key(point)) {
            Some(n) if *n > 0 => {
                *n -= 1;
                false
            }
            _ => true,
        })
        .collect())
}

/// Writes params and tags in batches within MLflow's limits (counts and about 512 kB).
async fn write_params_and_tags(
    to: &dyn TrackingStore,
    run: &RunId,
    params: &[Param],
    tags: &[Tag],
) -> Result<()> {
    let size = |key: &str, value: &str| key.len() + value.len() + 32;
    let mut start = 0;
    while start < params.len() {
        let (mut end, mut bytes) = (start, 0);
        while end < params.len() && end - start < limits::PARAMS {
            let next = size(params[end].key().as_str(), params[end].value());
            if end > start && bytes + next > BATCH_BYTES {
                break;
            }
            bytes += next;
            end += 1;
        }
        to.log_batch(run, &[], &params[start..end], &[]).await?;
        start = end;
    }
    let mut start = 0;
    while start < tags.len() {
        let (mut end, mut bytes) = (start, 0);
        while end < tags.len() && end - start < limits::TAGS {
            let next = size(tags[end].key().as_str(), tags[end].value());
            if end > start && bytes + next > BATCH_BYTES {
                break;
            }
            bytes += next;
            end += 1;
        }
        to.log_batch(run, &[], &[], &tags[start..end]).await?;
        start = end;
    }
    Ok(())
}

/// Every file under a run's artifact root, with its size when the store knows it.
async fn artifact_files(
    store: &dyn TrackingStore,
    run: &RunId,
) -> Result<Vec<(ArtifactPath, Option<u64>)>> {
    let mut files = Vec::new();
    let mut folders: Vec<Option<ArtifactPath>> = vec![None];
    while let Some(folder) = folders.pop() {
        let listing = match store.list_artifacts(run, folder.as_ref()).await {
            Ok(listing) => listing,
            // A run without artifacts may have no artifact folder at all.
            Err(TrackError::NotFound { .. }) if folder.is_none() => Vec::new(),
            Err(e) => return Err(e),
        };
        for entry in listing {
            if entry.is_dir {
                folders.push(Some(entry.path));
            } else {
                files.push((entry.path, entry.size));
            }
        }
    }
    files.sort_by(|a, b| a.0.as_str().cmp(b.0.as_str()));
    Ok(files)
}
