//! `mlops monitor performance`: an inference log joined with delayed labels.

use mlops::core::StoreUri;
use mlops_monitor::performance::{MetricGate, Task, evaluate, join, labels_from};
use mlops_monitor::read_log;

use super::args::{PerformanceArgs, TaskArg};
use super::run::resolve;
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

pub(crate) async fn run(stores: &RegistryArgs, args: PerformanceArgs) -> Result<u8> {
    let gates = gates(stores, &args).await?;
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
    match args.format {
        Format::Json => crate::output::json(&windows)?,
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
    Ok(if failed { exit::NEGATIVE } else { exit::OK })
}
