//! The library calls behind `mlops runs …` and `mlops experiments …`: each returns what the
//! command prints, and prints nothing.

use std::collections::HashMap;

use mlops::core::{ArtifactPath, ExperimentId, ExperimentName, RunId};
use mlops::track::sync::{SyncOptions, SyncReport, sync};
use mlops::track::{
    ArtifactInfo, Experiment, ExperimentQuery, Page, Run, RunQuery, TrackingStore, ViewType,
};

use crate::Result;
use crate::output::progress::Progress;
use crate::stores::{self, Open};

/// Every experiment in `view`, following page tokens.
pub(crate) async fn all_experiments(
    store: &dyn TrackingStore,
    view: ViewType,
    filter: Option<String>,
) -> Result<Vec<Experiment>> {
    let all = Page::collect_all(|page_token| {
        let query = ExperimentQuery {
            filter: filter.clone(),
            view,
            max_results: Some(1000),
            page_token,
            ..ExperimentQuery::default()
        };
        async move { store.search_experiments(&query).await }
    })
    .await?;
    Ok(all)
}

/// The experiment named `name`, or an error that says so.
pub(crate) async fn experiment_by_name(
    store: &dyn TrackingStore,
    name: &str,
) -> Result<Experiment> {
    let parsed = ExperimentName::parse(name)?;
    store
        .get_experiment_by_name(&parsed)
        .await?
        .ok_or_else(|| format!("no experiment named {name:?} in this store").into())
}

/// What `runs list` found.
pub(crate) struct Listed {
    /// The runs, in the order asked for.
    pub(crate) runs: Vec<Run>,
    /// The name of each experiment searched.
    pub(crate) experiments: HashMap<ExperimentId, String>,
    /// The `RUNNING` runs whose writer is gone.
    pub(crate) stale: std::collections::HashSet<RunId>,
}

/// What `runs list` asks for.
pub(crate) struct ListQuery {
    /// Experiment names; empty: every live experiment.
    pub(crate) experiments: Vec<String>,
    /// MLflow's filter syntax.
    pub(crate) filter: Option<String>,
    /// MLflow's order-by clauses.
    pub(crate) order_by: Vec<String>,
    /// The most runs returned.
    pub(crate) max_results: usize,
    /// Live, deleted or all runs.
    pub(crate) view: ViewType,
}

/// Up to `max_results` runs of the experiments asked for.
pub(crate) async fn list(store: &dyn TrackingStore, query: ListQuery) -> Result<Listed> {
    let mut experiments = HashMap::new();
    let mut ids = Vec::new();
    let found = if query.experiments.is_empty() {
        all_experiments(store, ViewType::ActiveOnly, None).await?
    } else {
        let mut named = Vec::new();
        for name in &query.experiments {
            named.push(experiment_by_name(store, name).await?);
        }
        named
    };
    for e in found {
        experiments.insert(e.experiment_id.clone(), e.name.to_string());
        ids.push(e.experiment_id);
    }
    let mut runs: Vec<Run> = Vec::new();
    if !ids.is_empty() {
        let mut search = RunQuery {
            experiment_ids: ids,
            filter: query.filter,
            order_by: query.order_by,
            view: query.view,
            max_results: Some(query.max_results.clamp(1, 1000)),
            page_token: None,
        };
        while runs.len() < query.max_results {
            let page = store.search_runs(&search).await?;
            runs.extend(page.items);
            match page.next_page_token {
                Some(token) => search.page_token = Some(token),
                None => break,
            }
        }
        runs.truncate(query.max_results);
    }
    Ok(Listed {
        runs,
        experiments,
        stale: std::collections::HashSet::new(),
    })
}

/// What `runs show` prints.
pub(crate) struct Shown {
    /// The run.
    pub(crate) run: Run,
    /// Its experiment, when asked for.
    pub(crate) experiment: Option<Experiment>,
    /// Every artifact file, by path.
    pub(crate) artifacts: Vec<ArtifactInfo>,
}

/// A run, its artifact files and (with `with_experiment`) its experiment.
pub(crate) async fn show(
    store: &dyn TrackingStore,
    run_id: &str,
    with_experiment: bool,
) -> Result<Shown> {
    let id = RunId::parse(run_id)?;
    let run = store.get_run(&id).await?;
    let artifacts = artifacts(store, &id).await?;
    let experiment = if with_experiment {
        Some(store.get_experiment(&run.info.experiment_id).await?)
    } else {
        None
    };
    Ok(Shown {
        run,
        experiment,
        artifacts,
    })
}

/// Every artifact file of a run, by path (folders walked, not listed).
async fn artifacts(store: &dyn TrackingStore, run: &RunId) -> Result<Vec<ArtifactInfo>> {
    let mut out = Vec::new();
    let mut folders: Vec<Option<ArtifactPath>> = vec![None];
    while let Some(folder) = folders.pop() {
        for entry in store.list_artifacts(run, folder.as_ref()).await? {
            if entry.is_dir {
                folders.push(Some(entry.path));
            } else {
                out.push(entry);
            }
        }
    }
    out.sort_by(|a, b| a.path.as_str().cmp(b.path.as_str()));
    Ok(out)
}

/// The runs with these ids, in order.
pub(crate) async fn runs(store: &dyn TrackingStore, ids: &[String]) -> Result<Vec<Run>> {
    let mut runs = Vec::new();
    for id in ids {
        runs.push(store.get_run(&RunId::parse(id)?).await?);
    }
    Ok(runs)
}

/// What `runs sync` copies.
pub(crate) struct SyncJob {
    /// The source store's URI.
    pub(crate) from: String,
    /// The target's URI (created when missing).
    pub(crate) to: String,
    /// Experiment names; empty: every live one.
    pub(crate) experiments: Vec<String>,
    /// Also deleted runs.
    pub(crate) include_deleted: bool,
    /// Runs copied at once.
    pub(crate) concurrency: usize,
}

/// Copies the runs; the report says what was written and what failed.
pub(crate) async fn sync_runs(job: &SyncJob) -> Result<SyncReport> {
    let mut options = SyncOptions::default()
        .include_deleted(job.include_deleted)
        .with_concurrency(job.concurrency);
    for name in &job.experiments {
        options = options.with_experiment(ExperimentName::parse(name)?);
    }
    let source = stores::tracking(&job.from, Open::Existing).await?;
    let target = stores::tracking(&job.to, Open::OrCreate).await?;
    let _progress = Progress::spinner(format!("syncing runs from {} to {}", job.from, job.to));
    Ok(sync(source.as_ref(), target.as_ref(), &options).await?)
}
