//! `mlops monitor performance`: an inference log joined with delayed labels.

use std::collections::HashMap;
use std::sync::Arc;

use mlops::core::{ModelName, ModelVersion, StoreUri};
use mlops_monitor::performance::{
    MetricGate, PerformanceWindow, Task, evaluate, join, labels_from,
};
use mlops_monitor::trigger::{Rule, Triggers};
use mlops_monitor::{VersionKey, read_log};
use serde::Serialize;

use super::args::{PerformanceArgs, TaskArg};
use super::run::resolve;
use super::triggers::history_root;
use crate::layout::RegistryArgs;
use crate::output::Format;
use crate::output::table::Table;
use crate::stores::{self, Open};
use crate::{Result, exit};

/// The gates with their registered values, from the baseline version's run snapshot.
async fn gates(stores: &RegistryArgs, args: &PerformanceArgs) -> Result<Vec<(MetricGate, f64)>> {
    let Some(baseline) = &args.baseline else {
        return Ok(Vec::new());
    };
    let gates: Vec<MetricGate> = args
        .gates
        .iter()
        .map(|g| g.parse())
        .collect::<std::result::Result<_, _>>()?;
    let registry = stores::registry(&stores.registry_uri(), None, Open::Existing)?;
    let (name, version) = resolve(registry.registry.as_ref(), baseline).await?;
    let info = registry.registry.get_version(&name, version).await?;
    gates
        .into_iter()
        .map(|gate| {
            let value = info
                .run
                .as_ref()
                .and_then(|run| run.metric(&gate.registered))
                .ok_or_else(|| {
                    format!(
                        "{name} v{version} has no registered metric {:?} (its run's metrics \
                         snapshot)",
                        gate.registered
                    )
                })?;
            Ok((gate, value))
        })
        .collect()
}

/// One window as the command prints it: its metrics and the events it fired.
#[derive(Serialize)]
struct Printed<'a> {
    #[serde(flatten)]
    window: &'a PerformanceWindow,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    events: Vec<String>,
}

/// The performance rules of `--trigger`; a drift rule is refused (it never sees these
/// windows), and targets without a rule are refused (the default rule is a drift rule).
fn performance_rules(args: &PerformanceArgs) -> Result<Vec<Rule>> {
    let rules: Vec<Rule> = (args.triggers.rules.iter())
        .map(|r| r.parse())
        .collect::<std::result::Result<_, _>>()?;
    if let Some(drift) = rules.iter().find(|r| r.performance().is_none()) {
        return Err(format!(
            "--trigger {drift:?} is a drift rule; `monitor performance` takes performance rules \
             (METRIC>registered*F, METRIC<registered-M, ...); drift rules go to `monitor run` \
             or `serve`"
        )
        .into());
    }
    if rules.is_empty() && args.triggers.has_targets() {
        return Err(
            "trigger targets need a performance rule: --trigger 'METRIC>registered*F' \
                    (or <, for scores)"
                .into(),
        );
    }
    Ok(rules)
}

/// The trigger pipeline and the registered values its rules compare with: each window's
/// own version's run metrics, from the registry.
async fn triggers(
    stores: &RegistryArgs,
    args: &PerformanceArgs,
    rules: &[Rule],
    windows: &[PerformanceWindow],
) -> Result<(Triggers, HashMap<(VersionKey, String), f64>)> {
    let registry = stores::registry(&stores.registry_uri(), None, Open::Existing)?;
    let mut registered = HashMap::new();
    let mut seen: Vec<VersionKey> = Vec::new();
    for window in windows {
        let key = VersionKey {
            model: window.model.clone(),
            version: window.version.clone(),
        };
        if seen.contains(&key) {
            continue;
        }
        let name = ModelName::parse(&key.model)?;
        let version = ModelVersion::parse(&key.version)?;
        let info = registry.registry.get_version(&name, version).await?;
        for rule in rules {
            let Some(condition) = rule.performance() else {
                continue;
            };
            let value = (info.run.as_ref()).and_then(|run| run.metric(&condition.registered));
            if let Some(value) = value {
                registered.insert((key.clone(), condition.registered.clone()), value);
            }
        }
        seen.push(key);
    }
    let mut triggers = args.triggers.clone();
    triggers.rules = rules.iter().map(ToString::to_string).collect();
    let history = history_root(args.history.history.as_deref(), &stores.tracking.root)?;
    let pipeline = triggers
        .build(&history, Some(Arc::clone(&registry.registry)))
        .await?;
    Ok((pipeline, registered))
}

pub(crate) async fn run(stores: &RegistryArgs, args: PerformanceArgs) -> Result<u8> {
    let gates = gates(stores, &args).await?;
    let rules = performance_rules(&args)?;
    let (reader, _, _) = crate::data::open_parquet(
        &args.labels,
        Some(&[args.id.clone(), args.label.clone()]),
        true,
    )?;
    let batches = reader
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(|e| format!("reading {}: {e}", args.labels.display()))?;
    let labels = labels_from(&batches, &args.id, &args.label)?;
    let root = StoreUri::parse(&args.log)?.open()?;
    let log = read_log(&root, args.model.as_deref()).await?;
    let joined = join(&log, &labels, args.prediction.as_deref())?;
    tracing::info!("{} labelled rows of {} labels", joined.len(), labels.len());
    let task = match args.task {
        TaskArg::Regression => Task::Regression,
        TaskArg::Classification => Task::Classification {
            threshold: args.threshold,
        },
    };
    let windows = evaluate(joined, task, args.window_rows)?;
    let mut events: Vec<Vec<String>> = vec![Vec::new(); windows.len()];
    if !rules.is_empty() {
        let (pipeline, registered) = triggers(stores, &args, &rules, &windows).await?;
        let lookup = |key: &VersionKey, metric: &str| {
            registered.get(&(key.clone(), metric.to_owned())).copied()
        };
        for (window, fired) in windows.iter().zip(&mut events) {
            let handled = pipeline.on_performance(window, &lookup).await?;
            fired.extend(handled.into_iter().map(|e| e.id));
        }
    }
    let fired = events.iter().any(|e| !e.is_empty());
    match args.format {
        Format::Json => {
            let printed: Vec<Printed<'_>> = (windows.iter().zip(events))
                .map(|(window, events)| Printed { window, events })
                .collect();
            crate::output::json(&printed)?;
        }
        Format::Table => {
            let number = |v: f64| format!("{v:.6}");
            let mut table = match args.task {
                TaskArg::Regression => Table::new([
                    "model", "version", "start", "rows", "MAE", "RMSE", "R2", "MAPE",
                ]),
                TaskArg::Classification => Table::new([
                    "model",
                    "version",
                    "start",
                    "rows",
                    "accuracy",
                    "precision",
                    "recall",
                    "F1",
                    "ROC AUC",
                ]),
            };
            for w in &windows {
                let mut row = vec![
                    w.model.clone(),
                    w.version.clone(),
                    crate::output::text::time(w.start),
                ];
                if let Some(m) = w.regression {
                    row.extend([
                        m.n.to_string(),
                        number(m.mae),
                        number(m.rmse),
                        number(m.r2),
                        number(m.mape),
                    ]);
                }
                if let Some(m) = w.classification {
                    row.extend([
                        m.n.to_string(),
                        number(m.accuracy),
                        number(m.precision),
                        number(m.recall),
                        number(m.f1),
                        m.roc_auc.map_or("-".to_owned(), number),
                    ]);
                }
                table.row(row);
            }
            table.print()?;
        }
    }
    let mut failed = false;
    for window in &windows {
        for (gate, registered) in &gates {
            let Some(value) = gate.value(window) else {
                return Err(format!(
                    "gate {:?}: the windows have no {} (see --task)",
                    gate.metric, gate.metric
                )
                .into());
            };
            if gate.fails(value, *registered) {
                failed = true;
                tracing::warn!(
                    "{} v{} window from {}: {} {value} is worse than the registered {registered} \
                     by more than {}",
                    window.model,
                    window.version,
                    window.start,
                    gate.metric,
                    gate.margin
                );
            }
        }
    }
    Ok(if failed || fired {
        exit::NEGATIVE
    } else {
        exit::OK
    })
}
