//! How `mlops runs …` prints its results: tables for people, JSON for scripts.

use std::collections::BTreeSet;

use mlops::track::sync::SyncReport;
use mlops::track::{Damage, Run};
use serde_json::{Map, Value, json};

use crate::Result;
use crate::output::table::Table;
use crate::output::text::{duration, number, or_dash, time};
use crate::output::{Format, json, json_number, line};
use crate::runs::ops::{Listed, Shown};

/// The most metric columns `runs list` shows.
const METRIC_COLUMNS: usize = 6;

/// `runs list`: one row per run with up to six metric columns, or the runs as JSON (each
/// with `"stale"`: whether it is RUNNING with its writer gone).
pub(crate) fn list(listed: &Listed, damaged: &[Damage], format: Format) -> Result<()> {
    let runs = &listed.runs;
    if format == Format::Json {
        let mut items = Vec::with_capacity(runs.len());
        for run in runs {
            let mut item = serde_json::to_value(run)?;
            if let Value::Object(fields) = &mut item {
                let stale = listed.stale.contains(&run.info.run_id);
                fields.insert("stale".to_owned(), Value::Bool(stale));
            }
            items.push(item);
        }
        return super::damage::json_list("runs", &items, damaged);
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
    let mut table = Table::new(headers).cut();
    for r in runs {
        let mut row = vec![
            r.info.run_id.to_string(),
            listed
                .experiments
                .get(&r.info.experiment_id)
                .cloned()
                .unwrap_or_else(|| r.info.experiment_id.to_string()),
            run_name(r),
            if listed.stale.contains(&r.info.run_id) {
                format!("{} (stale)", r.info.status)
            } else {
                r.info.status.to_string()
            },
            time(r.info.start_time),
            duration(r.info.start_time, r.info.end_time),
        ];
        row.extend(
            keys.iter()
                .map(|k| r.data.metric(k).map(number).unwrap_or_default()),
        );
        table.row(row);
    }
    table.print()
}

fn run_name(run: &Run) -> String {
    run.info
        .run_name
        .as_ref()
        .map(ToString::to_string)
        .unwrap_or_default()
}

/// `runs show`: attributes, then params, latest metrics, tags, inputs and artifacts.
pub(crate) fn show(shown: &Shown, damaged: &[Damage], format: Format) -> Result<()> {
    let run = &shown.run;
    if format == Format::Json {
        let files: Vec<Value> = shown
            .artifacts
            .iter()
            .map(|f| json!({"path": f.path.as_str(), "size": f.size}))
            .collect();
        return json(&json!({"run": run, "artifacts": files, "damaged": damaged}));
    }
    let info = &run.info;
    let experiment = match &shown.experiment {
        Some(e) => format!("{} ({})", e.name, info.experiment_id),
        None => info.experiment_id.to_string(),
    };
    let mut attributes = Table::pairs();
    for (name, value) in [
        ("run id", info.run_id.to_string()),
        ("name", run_name(run)),
        ("experiment", experiment),
        ("status", info.status.to_string()),
        ("stage", info.lifecycle_stage.to_string()),
        ("user", info.user_id.clone()),
        ("started", time(info.start_time)),
        ("ended", or_dash(info.end_time.map(time))),
        ("duration", duration(info.start_time, info.end_time)),
        ("artifacts at", info.artifact_uri.clone()),
    ] {
        attributes.row([name.to_owned(), value]);
    }
    attributes.print()?;

    let mut params = section("params", ["key", "value"])?;
    for p in &run.data.params {
        params.row([indent(p.key().as_str()), p.value().to_owned()]);
    }
    params.print()?;

    let mut metrics = section("metrics (latest)", ["key", "value", "step", "logged"])?;
    for m in &run.data.metrics {
        metrics.row([
            indent(m.key.as_str()),
            number(m.value),
            m.step.to_string(),
            time(m.timestamp),
        ]);
    }
    metrics.print()?;

    let mut tags = section("tags", ["key", "value"])?;
    for t in &run.data.tags {
        tags.row([indent(t.key().as_str()), t.value().to_owned()]);
    }
    tags.print()?;

    let mut inputs = section("inputs", ["name", "context", "digest", "rows", "source"])?;
    for i in &run.inputs {
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
        inputs.row([
            indent(&i.dataset.name),
            context,
            i.dataset.digest.clone(),
            rows,
            i.dataset.source.clone(),
        ]);
    }
    inputs.print()?;

    let mut files = section("artifacts", ["path", "bytes"])?;
    for f in &shown.artifacts {
        files.row([
            indent(f.path.as_str()),
            f.size.map(|s| s.to_string()).unwrap_or_default(),
        ]);
    }
    files.print()
}

/// Prints a section title after a blank line; its table, first column indented.
fn section<const N: usize>(title: &str, headers: [&str; N]) -> Result<Table> {
    line(&format!("\n{title}"))?;
    let mut headers = headers.map(str::to_owned);
    headers[0] = indent(&headers[0]);
    Ok(Table::new(headers).cut())
}

fn indent(text: &str) -> String {
    format!("  {text}")
}

/// `runs compare`: one column per run, a `*` on rows whose values differ.
pub(crate) fn compare(runs: &[Run], format: Format) -> Result<()> {
    let params: BTreeSet<&str> = runs
        .iter()
        .flat_map(|r| r.data.params.iter().map(|p| p.key().as_str()))
        .collect();
    let metrics: BTreeSet<&str> = runs
        .iter()
        .flat_map(|r| r.data.metrics.iter().map(|m| m.key.as_str()))
        .collect();
    if format == Format::Json {
        let param_values: Map<String, Value> = params
            .iter()
            .map(|k| {
                let values: Vec<Value> = runs.iter().map(|r| json!(r.data.param(k))).collect();
                ((*k).to_owned(), Value::Array(values))
            })
            .collect();
        let metric_values: Map<String, Value> = metrics
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
        return json(&json!({"runs": infos, "params": param_values, "metrics": metric_values}));
    }
    let mut headers = vec![String::new(), String::new()];
    headers.extend(runs.iter().map(|r| match &r.info.run_name {
        Some(name) => name.to_string(),
        None => r.info.run_id.as_str().chars().take(8).collect(),
    }));
    let mut table = Table::new(headers).cut();
    let mut push = |label: String, values: Vec<String>| {
        let differs = values.iter().any(|v| v != &values[0]);
        let mut row = vec![if differs { "*" } else { "" }.to_owned(), label];
        row.extend(values);
        table.row(row);
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
    table.print()
}

/// `runs sync`: the counts, or the whole report as JSON; each failure on stderr.
pub(crate) fn sync(report: &SyncReport, from: &str, to: &str, format: Format) -> Result<()> {
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
        json(&json!({
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
        line(&format!(
            "synced {} runs from {from} to {to}",
            report.runs.len()
        ))?;
        let mut counts = Table::pairs();
        for (name, value) in [
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
        ] {
            counts.row([indent(name), value]);
        }
        counts.print()?;
    }
    for f in &report.failures {
        match &f.source_run {
            Some(run) => tracing::error!(
                "experiment {:?}, run {run}: {}",
                f.experiment.as_str(),
                f.error
            ),
            None => tracing::error!("experiment {:?}: {}", f.experiment.as_str(), f.error),
        }
    }
    Ok(())
}
