//! `mlops runs …`: list, show, compare and sync the runs of a tracking store.

use std::collections::BTreeSet;

use clap::Subcommand;
use mlops::core::{ArtifactPath, ExperimentName, RunId};
use mlops::track::sync::{SyncOptions, SyncReport, sync};
use mlops::track::{ArtifactInfo, Run, RunQuery, TrackingStore, ViewType};
use serde_json::{Value, json};

use crate::tracking::{
    DEFAULT_STORE, Format, StoreArgs, View, all_experiments, duration, experiment_by_name, number,
    open, print_json, print_table, say, time,
};
use crate::{EXIT_ERROR, EXIT_OK, Result};

/// The most metric columns `runs list` shows.
const METRIC_COLUMNS: usize = 6;

#[derive(Subcommand, Debug)]
pub(crate) enum RunsCommand {
    /// List runs with their status, duration and latest metrics.
    List {
        #[command(flatten)]
        store: StoreArgs,
        /// Only runs of this experiment (by name); repeat for several. Default: all live
        /// experiments.
        #[arg(long, short = 'e')]
        experiment: Vec<String>,
        /// MLflow's run filter syntax, e.g. "metrics.rmse < 0.5 and params.alpha = '0.1'".
        #[arg(long)]
        filter: Option<String>,
        /// Order, e.g. "metrics.rmse ASC"; repeat for several keys. Default: newest first.
        #[arg(long)]
        order_by: Vec<String>,
        /// The most runs to print.
        #[arg(long, default_value_t = 100)]
        max_results: usize,
        /// Live, deleted or all runs.
        #[arg(long, value_enum, default_value_t)]
        view: View,
        /// Output format.
        #[arg(long, value_enum, default_value_t)]
        format: Format,
    },
    /// Show one run: attributes, params, latest metrics, tags, inputs and artifacts.
    Show {
        #[command(flatten)]
        store: StoreArgs,
        /// The run's id.
        run_id: String,
        /// Output format.
        #[arg(long, value_enum, default_value_t)]
        format: Format,
    },
    /// Compare runs side by side: attributes, params and latest metrics; rows that differ are
    /// marked with `*`.
    Compare {
        #[command(flatten)]
        store: StoreArgs,
        /// Two or more run ids.
        #[arg(num_args = 2.., required = true)]
        run_ids: Vec<String>,
        /// Output format.
        #[arg(long, value_enum, default_value_t)]
        format: Format,
    },
    /// Copy experiments and runs (params, metric histories, tags, inputs, artifacts) from a
    /// local store to an MLflow server. Idempotent: a second sync copies nothing twice.
    Sync {
        /// The store to copy from: a folder or store URI.
        #[arg(long, default_value = DEFAULT_STORE)]
        from: String,
        /// The store to copy to: http(s)://HOST:PORT (an MLflow server), or any store URI.
        #[arg(long)]
        to: String,
        /// Only this experiment (by name); repeat for several. Default: all live ones.
        #[arg(long, short = 'e')]
        experiment: Vec<String>,
        /// Also copy deleted runs, and mirror deletions.
        #[arg(long)]
        include_deleted: bool,
        /// Runs copied at once.
        #[arg(long, default_value_t = 4)]
        concurrency: usize,
        /// Output format.
        #[arg(long, value_enum, default_value_t)]
        format: Format,
    },
}

pub(crate) async fn run(command: RunsCommand) -> Result<u8> {
    match command {
        RunsCommand::List {
            store,
            experiment,
            filter,
            order_by,
            max_results,
            view,
            format,
        } => {
            let store = open(&store.store, false).await?;
            list(
                store.as_ref(),
                &experiment,
                filter,
                order_by,
                max_results,
                view,
                format,
            )
            .await
        }
        RunsCommand::Show {
            store,
            run_id,
            format,
        } => {
            let store = open(&store.store, false).await?;
            show(store.as_ref(), &run_id, format).await
        }
        RunsCommand::Compare {
            store,
            run_ids,
            format,
        } => {
            let store = open(&store.store, false).await?;
            compare(store.as_ref(), &run_ids, format).await
        }
        RunsCommand::Sync {
            from,
            to,
            experiment,
            include_deleted,
            concurrency,
            format,
        } => {
            let mut options = SyncOptions::default()
                .include_deleted(include_deleted)
                .with_concurrency(concurrency);
            for name in &experiment {
                options = options.with_experiment(ExperimentName::parse(name)?);
            }
            let source = open(&from, false).await?;
            let target = open(&to, true).await?;
            let report = sync(source.as_ref(), target.as_ref(), &options).await?;
            print_sync(&report, &from, &to, format)?;
            Ok(if report.is_complete() {
                EXIT_OK
            } else {
                EXIT_ERROR
            })
        }
    }
}

/// A metric or param value as JSON: NaN and infinities as MLflow spells them.
fn json_number(value: f64) -> Value {
    if value.is_nan() {
        json!("NaN")
    } else if value.is_infinite() {
        json!(if value > 0.0 { "Infinity" } else { "-Infinity" })
    } else {
        json!(value)
    }
}

async fn list(
    store: &dyn TrackingStore,
    experiments: &[String],
    filter: Option<String>,
    order_by: Vec<String>,
    max_results: usize,
    view: View,
    format: Format,
) -> Result<u8> {
    let mut ids = Vec::new();
    let mut names = std::collections::HashMap::new();
    if experiments.is_empty() {
        for e in all_experiments(store, ViewType::ActiveOnly, None).await? {
            names.insert(e.experiment_id.clone(), e.name.to_string());
            ids.push(e.experiment_id);
        }
    } else {
        for name in experiments {
            let e = experiment_by_name(store, name).await?;
            names.insert(e.experiment_id.clone(), e.name.to_string());
            ids.push(e.experiment_id);
        }
    }
    let mut runs: Vec<Run> = Vec::new();
    if !ids.is_empty() {
        let mut query = RunQuery {
            experiment_ids: ids,
            filter,
            order_by,
            view: view.into(),
            max_results: Some(max_results.clamp(1, 1000)),
            page_token: None,
        };
        while runs.len() < max_results {
            let page = store.search_runs(&query).await?;
            runs.extend(page.items);
            match page.next_page_token {
                Some(token) => query.page_token = Some(token),
                None => break,
            }
        }
        runs.truncate(max_results);
    }
    if format == Format::Json {
        print_json(&serde_json::to_value(&runs)?)?;
        return Ok(EXIT_OK);
    }
    let keys: BTreeSet<&str> = runs
        .iter()
        .flat_map(|r| r.data.metrics.iter().map(|m| m.key.as_str()))
        .collect();
    let keys: Vec<&str> = keys.into_iter().take(METRIC_COLUMNS).collect();
    let mut headers: Vec<String> = [
        "run id",
        "experiment",
        "name",
        "status",
        "started",
        "duration",
    ]
    .map(String::from)
    .into();
    headers.extend(keys.iter().map(|k| (*k).to_owned()));
    let rows: Vec<Vec<String>> = runs
        .iter()
        .map(|r| {
            let mut row = vec![
                r.info.run_id.to_string(),
                names
                    .get(&r.info.experiment_id)
                    .cloned()
                    .unwrap_or_else(|| r.info.experiment_id.to_string()),
                r.info
                    .run_name
                    .as_ref()
                    .map(ToString::to_string)
                    .unwrap_or_default(),
                r.info.status.to_string(),
                time(r.info.start_time),
                duration(r.info.start_time, r.info.end_time),
            ];
            row.extend(
                keys.iter()
                    .map(|k| r.data.metric(k).map(number).unwrap_or_default()),
            );
            row
        })
        .collect();
    print_table(&headers, &rows);
    Ok(EXIT_OK)
}

/// Every artifact file of a run, depth first, folders included.
async fn artifacts(store: &dyn TrackingStore, run: &RunId) -> Result<Vec<ArtifactInfo>> {
    let mut out = Vec::new();
    let mut folders: Vec<Option<ArtifactPath>> = vec![None];
    while let Some(folder) = folders.pop() {
        let mut listing = store.list_artifacts(run, folder.as_ref()).await?;
        listing.sort_by(|a, b| b.path.as_str().cmp(a.path.as_str()));
        for entry in listing.into_iter().rev() {
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

async fn show(store: &dyn TrackingStore, run_id: &str, format: Format) -> Result<u8> {
    let id = RunId::parse(run_id)?;
    let run = store.get_run(&id).await?;
    let files = artifacts(store, &id).await?;
    if format == Format::Json {
        let files: Vec<Value> = files
            .iter()
            .map(|f| json!({"path": f.path.as_str(), "size": f.size}))
            .collect();
        print_json(&json!({"run": run, "artifacts": files}))?;
        return Ok(EXIT_OK);
    }
    let experiment = store.get_experiment(&run.info.experiment_id).await?;
    let info = &run.info;
    let attributes = [
        ("run id", info.run_id.to_string()),
        (
            "name",
            info.run_name
                .as_ref()
                .map(ToString::to_string)
                .unwrap_or_default(),
        ),
        (
            "experiment",
            format!("{} ({})", experiment.name, info.experiment_id),
        ),
        ("status", info.status.to_string()),
        ("stage", info.lifecycle_stage.to_string()),
        ("user", info.user_id.clone()),
        ("started", time(info.start_time)),
        (
            "ended",
            info.end_time.map(time).unwrap_or_else(|| "-".into()),
        ),
        ("duration", duration(info.start_time, info.end_time)),
        ("artifacts at", info.artifact_uri.clone()),
    ];
    for (name, value) in attributes {
        say(&format!("{name:<13}{value}"));
    }
    let section = |title: &str| say(&format!("\n{title}"));
    section("params");
    let params: Vec<Vec<String>> = run
        .data
        .params
        .iter()
        .map(|p| vec![format!("  {}", p.key()), p.value().to_owned()])
        .collect();
    print_table(&["  key".into(), "value".into()], &params);
    section("metrics (latest)");
    let metrics: Vec<Vec<String>> = run
        .data
        .metrics
        .iter()
        .map(|m| {
            vec![
                format!("  {}", m.key),
                number(m.value),
                m.step.to_string(),
                time(m.timestamp),
            ]
        })
        .collect();
    print_table(
        &["  key", "value", "step", "logged"].map(String::from),
        &metrics,
    );
    section("tags");
    let tags: Vec<Vec<String>> = run
        .data
        .tags
        .iter()
        .map(|t| vec![format!("  {}", t.key()), t.value().to_owned()])
        .collect();
    print_table(&["  key".into(), "value".into()], &tags);
    section("inputs");
    let inputs: Vec<Vec<String>> = run
        .inputs
        .iter()
        .map(|i| {
            let rows = i
                .dataset
                .profile
                .as_deref()
                .and_then(|p| serde_json::from_str::<Value>(p).ok())
                .and_then(|p| p["num_rows"].as_u64())
                .map(|n| n.to_string())
                .unwrap_or_default();
            let context = i
                .tags
                .iter()
                .find(|t| t.key().as_str() == mlops::track::DATASET_CONTEXT_TAG)
                .map(|t| t.value().to_owned())
                .unwrap_or_default();
            vec![
                format!("  {}", i.dataset.name),
                context,
                i.dataset.digest.clone(),
                rows,
                i.dataset.source.clone(),
            ]
        })
        .collect();
    print_table(
        &["  name", "context", "digest", "rows", "source"].map(String::from),
        &inputs,
    );
    section("artifacts");
    let files: Vec<Vec<String>> = files
        .iter()
        .map(|f| {
            vec![
                format!("  {}", f.path),
                f.size.map(|s| s.to_string()).unwrap_or_default(),
            ]
        })
        .collect();
    print_table(&["  path".into(), "bytes".into()], &files);
    Ok(EXIT_OK)
}

async fn compare(store: &dyn TrackingStore, run_ids: &[String], format: Format) -> Result<u8> {
    let mut runs = Vec::new();
    for id in run_ids {
        runs.push(store.get_run(&RunId::parse(id)?).await?);
    }
    let params: BTreeSet<&str> = runs
        .iter()
        .flat_map(|r| r.data.params.iter().map(|p| p.key().as_str()))
        .collect();
    let metrics: BTreeSet<&str> = runs
        .iter()
        .flat_map(|r| r.data.metrics.iter().map(|m| m.key.as_str()))
        .collect();
    if format == Format::Json {
        let param_values: serde_json::Map<String, Value> = params
            .iter()
            .map(|k| {
                let values: Vec<Value> = runs.iter().map(|r| json!(r.data.param(k))).collect();
                ((*k).to_owned(), Value::Array(values))
            })
            .collect();
        let metric_values: serde_json::Map<String, Value> = metrics
            .iter()
            .map(|k| {
                let values: Vec<Value> = runs
                    .iter()
                    .map(|r| r.data.metric(k).map_or(Value::Null, json_number))
                    .collect();
                ((*k).to_owned(), Value::Array(values))
            })
            .collect();
        let infos: Vec<Value> = runs
            .iter()
            .map(|r| {
                json!({
                    "run_id": r.info.run_id.as_str(),
                    "run_name": r.info.run_name.as_ref().map(|n| n.as_str()),
                    "experiment_id": r.info.experiment_id.as_str(),
                    "status": r.info.status.as_str(),
                    "start_time": r.info.start_time.as_millis(),
                    "end_time": r.info.end_time.map(|t| t.as_millis()),
                })
            })
            .collect();
        print_json(&json!({"runs": infos, "params": param_values, "metrics": metric_values}))?;
        return Ok(EXIT_OK);
    }
    let mut headers = vec![String::new(), String::new()];
    headers.extend(runs.iter().map(|r| match &r.info.run_name {
        Some(name) => name.to_string(),
        None => r.info.run_id.as_str().chars().take(8).collect(),
    }));
    let mut rows = Vec::new();
    let mut push = |label: String, values: Vec<String>| {
        let differs = values.iter().any(|v| v != &values[0]);
        let mut row = vec![if differs { "*" } else { "" }.to_owned(), label];
        row.extend(values);
        rows.push(row);
    };
    push(
        "run id".into(),
        runs.iter().map(|r| r.info.run_id.to_string()).collect(),
    );
    push(
        "status".into(),
        runs.iter().map(|r| r.info.status.to_string()).collect(),
    );
    push(
        "duration".into(),
        runs.iter()
            .map(|r| duration(r.info.start_time, r.info.end_time))
            .collect(),
    );
    for key in &params {
        let values = runs
            .iter()
            .map(|r| r.data.param(key).unwrap_or("-").to_owned())
            .collect();
        push(format!("params.{key}"), values);
    }
    for key in &metrics {
        let values = runs
            .iter()
            .map(|r| r.data.metric(key).map_or_else(|| "-".to_owned(), number))
            .collect();
        push(format!("metrics.{key}"), values);
    }
    print_table(&headers, &rows);
    Ok(EXIT_OK)
}

fn print_sync(report: &SyncReport, from: &str, to: &str, format: Format) -> Result<()> {
    let failures: Vec<Value> = report
        .failures
        .iter()
        .map(|f| {
            json!({
                "experiment": f.experiment.as_str(),
                "source_run": f.source_run.as_ref().map(|r| r.as_str()),
                "error": f.error.to_string(),
            })
        })
        .collect();
    if format == Format::Json {
        let runs: Vec<Value> = report
            .runs
            .iter()
            .map(|r| {
                json!({
                    "experiment": r.experiment.as_str(),
                    "source": r.source.as_str(),
                    "target": r.target.as_str(),
                    "created": r.created,
                    "written": r.written,
                })
            })
            .collect();
        print_json(&json!({
            "from": from,
            "to": to,
            "experiments_created": report.experiments_created,
            "runs_created": report.runs_created,
            "runs_written": report.runs_written,
            "params": report.params,
            "tags": report.tags,
            "metric_points": report.metric_points,
            "inputs": report.inputs,
            "artifacts": report.artifacts,
            "artifact_bytes": report.artifact_bytes,
            "runs": runs,
            "failures": failures,
        }))?;
    } else {
        say(&format!(
            "synced {} runs from {from} to {to}",
            report.runs.len()
        ));
        let counts = [
            (
                "experiments created",
                report.experiments_created.to_string(),
            ),
            ("runs created", report.runs_created.to_string()),
            ("runs written", report.runs_written.to_string()),
            ("params", report.params.to_string()),
            ("tags", report.tags.to_string()),
            ("metric points", report.metric_points.to_string()),
            ("inputs", report.inputs.to_string()),
            (
                "artifacts",
                format!("{} ({} bytes)", report.artifacts, report.artifact_bytes),
            ),
        ];
        for (name, value) in counts {
            say(&format!("  {name:<21}{value}"));
        }
    }
    for f in &report.failures {
        match &f.source_run {
            Some(run) => eprintln!(
                "error: experiment {:?}, run {run}: {}",
                f.experiment.as_str(),
                f.error
            ),
            None => eprintln!("error: experiment {:?}: {}", f.experiment.as_str(), f.error),
        }
    }
    Ok(())
}
