//! Lineage: from a dataset version to the runs that read it, the model versions registered
//! from those runs and the aliases holding them now (and since when); and back, from a
//! model alias to its run and the dataset versions (and files) it read. Works on any
//! tracking store and registry (embedded or MLflow): runs are matched by their inputs'
//! digests, model versions by their source run.

use mlops_core::{AliasName, DatasetDigest, ModelName, ModelVersion, RunId, Timestamp};
use mlops_registry::{ModelRegistry, Page, VersionInfo, VersionQuery};
use mlops_track::{
    DATASET_CONTEXT_TAG, ExperimentQuery, Run, RunQuery, TrackingStore, TrackingStoreExt,
};
use serde::Serialize;

use crate::datasets::Datasets;
use crate::error::{DataError, Result};
use crate::manifest::{Manifest, parse_source};

/// A run that read a dataset.
#[derive(Clone, Debug, Serialize)]
pub struct RunUse {
    /// The run.
    pub run_id: RunId,
    /// Its name.
    pub run_name: Option<String>,
    /// Its experiment's id.
    pub experiment_id: String,
    /// The input's role (`training`, `eval`, …) when recorded.
    pub context: Option<String>,
    /// When the run started.
    pub start_time: Timestamp,
}

/// An alias holding a model version, and since when.
#[derive(Clone, Debug, Serialize)]
pub struct AliasHeld {
    /// The alias.
    pub alias: AliasName,
    /// When it was last moved to this version (from the alias history), when known.
    pub since: Option<Timestamp>,
}

/// A model version registered from a run.
#[derive(Clone, Debug, Serialize)]
pub struct ModelUse {
    /// The model.
    pub model: ModelName,
    /// The version.
    pub version: ModelVersion,
    /// The run it was registered from, when that run read the data (absent when the
    /// version records the dataset itself).
    pub run_id: Option<RunId>,
    /// The aliases holding it now.
    pub aliases: Vec<AliasHeld>,
}

/// What used a dataset version (or any data with its digest).
#[derive(Clone, Debug, Serialize)]
pub struct DatasetLineage {
    /// The digest looked for.
    #[serde(serialize_with = "digest_text")]
    pub digest: DatasetDigest,
    /// The dataset versions holding these rows.
    pub versions: Vec<String>,
    /// The runs whose inputs have this digest.
    pub runs: Vec<RunUse>,
    /// The model versions registered from those runs.
    pub models: Vec<ModelUse>,
}

/// A dataset a run read, resolved to a dataset version where one matches.
#[derive(Clone, Debug, Serialize)]
pub struct InputUse {
    /// The input's name.
    pub name: String,
    /// Its digest.
    pub digest: String,
    /// Its source.
    pub source: String,
    /// Its role, when recorded.
    pub context: Option<String>,
    /// The dataset version it is (by source, else by digest), with its files.
    pub version: Option<Manifest>,
}

/// One move of the model alias asked about.
#[derive(Clone, Debug, Serialize)]
pub struct AliasStep {
    /// What it held before.
    pub from: Option<ModelVersion>,
    /// What it held after.
    pub to: Option<ModelVersion>,
    /// Who moved it.
    pub actor: String,
    /// When.
    pub time: Timestamp,
}

/// Where a model alias's version came from.
#[derive(Clone, Debug, Serialize)]
pub struct ModelLineage {
    /// The model.
    pub model: ModelName,
    /// The alias.
    pub alias: AliasName,
    /// The version it holds.
    pub version: ModelVersion,
    /// The alias's moves, oldest first.
    pub history: Vec<AliasStep>,
    /// The source run, when the version has one.
    pub run: Option<RunUse>,
    /// The run's environment tags (`mlops.rustc.version`, git commit, …).
    pub environment: Vec<(String, String)>,
    /// The datasets the run read.
    pub inputs: Vec<InputUse>,
}

fn digest_text<S: serde::Serializer>(
    digest: &DatasetDigest,
    s: S,
) -> std::result::Result<S::Ok, S::Error> {
    s.collect_str(digest)
}

fn lineage_error(e: impl std::fmt::Display) -> DataError {
    DataError::argument("lineage", "", e.to_string())
}

/// Every run of every experiment (live and deleted experiments' live runs).
async fn all_runs(tracking: &dyn TrackingStore) -> Result<Vec<Run>> {
    let experiments = tracking
        .search_all_experiments(&ExperimentQuery::default())
        .await
        .map_err(lineage_error)?;
    let ids: Vec<_> = experiments.into_iter().map(|e| e.experiment_id).collect();
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let mut runs = Vec::new();
    // MLflow searches at most 100 experiments per call.
    for chunk in ids.chunks(100) {
        let query = RunQuery {
            experiment_ids: chunk.to_vec(),
            ..RunQuery::default()
        };
        runs.extend(
            tracking
                .search_all_runs(&query)
                .await
                .map_err(lineage_error)?,
        );
    }
    Ok(runs)
}

fn context_of(input: &mlops_track::DatasetInput) -> Option<String> {
    input
        .tags
        .iter()
        .find(|t| t.key().as_str() == DATASET_CONTEXT_TAG)
        .map(|t| t.value().to_owned())
}

fn run_use(run: &Run, context: Option<String>) -> RunUse {
    RunUse {
        run_id: run.info.run_id.clone(),
        run_name: run.info.run_name.as_ref().map(ToString::to_string),
        experiment_id: run.info.experiment_id.to_string(),
        context,
        start_time: run.info.start_time,
    }
}

async fn aliases_held(
    registry: &dyn ModelRegistry,
    version: &VersionInfo,
) -> Result<Vec<AliasHeld>> {
    let mut out = Vec::new();
    for alias in &version.aliases {
        let history = registry
            .alias_history(&version.model, alias)
            .await
            .unwrap_or_default();
        let since = history
            .iter()
            .rev()
            .find(|e| e.to == Some(version.version))
            .map(|e| e.time);
        out.push(AliasHeld {
            alias: alias.clone(),
            since,
        });
    }
    Ok(out)
}

/// What used the rows with `digest`: runs, model versions, aliases. `datasets`, when given,
/// names the dataset versions holding them.
///
/// # Errors
///
/// Errors of the stores.
pub async fn dataset_lineage(
    datasets: Option<&Datasets>,
    tracking: &dyn TrackingStore,
    registry: &dyn ModelRegistry,
    digest: DatasetDigest,
) -> Result<DatasetLineage> {
    let versions = match datasets {
        Some(d) => d
            .find_digest(digest)
            .await?
            .iter()
            .map(Manifest::label)
            .collect(),
        None => Vec::new(),
    };
    let text = digest.to_string();
    let mut runs = Vec::new();
    for run in all_runs(tracking).await? {
        if let Some(input) = run.inputs.iter().find(|i| i.dataset.digest == text) {
            runs.push(run_use(&run, context_of(input)));
        }
    }
    runs.sort_by_key(|r| r.start_time);
    // Every version: registered from one of those runs, or recording the digest itself
    // (`NewVersion::with_dataset`).
    let all = Page::collect_all(|page_token| {
        let query = VersionQuery {
            page_token,
            ..VersionQuery::default()
        };
        async move { registry.search_versions(&query).await }
    })
    .await
    .map_err(lineage_error)?;
    let mut models = Vec::new();
    for version in all {
        let from_run = version
            .run
            .as_ref()
            .filter(|link| runs.iter().any(|r| r.run_id == link.run_id))
            .map(|link| link.run_id.clone());
        let recorded = version.datasets.iter().any(|d| d.digest() == digest);
        if from_run.is_none() && !recorded {
            continue;
        }
        models.push(ModelUse {
            aliases: aliases_held(registry, &version).await?,
            model: version.model.clone(),
            version: version.version,
            run_id: from_run,
        });
    }
    models.sort_by(|a, b| (a.model.as_str(), a.version).cmp(&(b.model.as_str(), b.version)));
    Ok(DatasetLineage {
        digest,
        versions,
        runs,
        models,
    })
}

/// Where the version `alias` of `model` holds came from: its alias history, its run, the
/// run's environment tags and inputs, resolved to dataset versions (by source, else by
/// digest) with their files when `datasets` is given.
///
/// # Errors
///
/// Errors of the stores; a missing model or alias.
pub async fn model_lineage(
    datasets: Option<&Datasets>,
    tracking: &dyn TrackingStore,
    registry: &dyn ModelRegistry,
    model: &ModelName,
    alias: &AliasName,
) -> Result<ModelLineage> {
    let version = registry
        .resolve_alias(model, alias)
        .await
        .map_err(lineage_error)?;
    let history = registry
        .alias_history(model, alias)
        .await
        .map_err(lineage_error)?
        .into_iter()
        .map(|e| AliasStep {
            from: e.from,
            to: e.to,
            actor: e.actor,
            time: e.time,
        })
        .collect();
    let mut run_use_ = None;
    let mut environment = Vec::new();
    let mut inputs = Vec::new();
    if let Some(link) = &version.run {
        let run = tracking
            .get_run(&link.run_id)
            .await
            .map_err(lineage_error)?;
        run_use_ = Some(run_use(&run, None));
        environment = run
            .data
            .tags
            .iter()
            .filter(|t| {
                let k = t.key().as_str();
                k.starts_with("mlops.rustc")
                    || k == "mlops.target"
                    || k.starts_with("mlops.cargo")
                    || k.starts_with("mlops.config")
                    || k.starts_with("mlflow.source.git")
                    || k == "mlops.source.git.dirty"
            })
            .map(|t| (t.key().to_string(), t.value().to_owned()))
            .collect();
        for input in &run.inputs {
            let found = match datasets {
                None => None,
                Some(d) => resolve_input(d, &input.dataset).await?,
            };
            inputs.push(InputUse {
                name: input.dataset.name.clone(),
                digest: input.dataset.digest.clone(),
                source: input.dataset.source.clone(),
                context: context_of(input),
                version: found,
            });
        }
    }
    for dataset in &version.datasets {
        let text = dataset.digest().to_string();
        if inputs.iter().any(|i| i.digest == text) {
            continue;
        }
        let found = match datasets {
            None => None,
            Some(d) => d.find_digest(dataset.digest()).await?.into_iter().next(),
        };
        inputs.push(InputUse {
            name: dataset.name().to_owned(),
            digest: text,
            source: dataset.source().to_owned(),
            context: Some("registered".to_owned()),
            version: found,
        });
    }
    Ok(ModelLineage {
        model: model.clone(),
        alias: alias.clone(),
        version: version.version,
        history,
        run: run_use_,
        environment,
        inputs,
    })
}

async fn resolve_input(
    datasets: &Datasets,
    dataset: &mlops_track::Dataset,
) -> Result<Option<Manifest>> {
    if let Some((name, version)) = parse_source(&dataset.source) {
        match datasets.version(&name, version).await {
            Ok(m) if m.digest.to_string() == dataset.digest => return Ok(Some(m)),
            Ok(_) | Err(DataError::NotFound { .. }) => {}
            Err(e) => return Err(e),
        }
    }
    let Ok(digest) = dataset.digest.parse::<DatasetDigest>() else {
        return Ok(None);
    };
    Ok(datasets.find_digest(digest).await?.into_iter().next())
}
