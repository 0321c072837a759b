//! `mlops monitor performance`: an inference log joined with delayed labels.

use mlops::core::StoreUri;
use mlops_monitor::performance::{Task, evaluate, join, labels_from};
use mlops_monitor::read_log;

use super::args::{PerformanceArgs, TaskArg};
use crate::output::Format;
use crate::output::table::Table;
use crate::{Result, exit};

pub(crate) async fn run(args: PerformanceArgs) -> Result<u8> {
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
    Ok(exit::OK)
}
