//! The arguments of `mlops monitor …`.

use std::path::PathBuf;

use clap::{Args, Subcommand};

use super::triggers::TriggerArgs;
use crate::layout::RegistryArgs;
use crate::output::Format;

/// `mlops monitor …`.
#[derive(Args, Debug)]
pub(crate) struct MonitorArgs {
    #[command(flatten)]
    pub(crate) stores: RegistryArgs,
    #[command(subcommand)]
    pub(crate) command: MonitorCommand,
}

#[derive(Subcommand, Debug)]
pub(crate) enum MonitorCommand {
    /// Compare a file's rows, window by window, with the reference drift profile registered
    /// with a model version; append each window to the history and fire the triggers. Exits
    /// 3 when a trigger fired, 0 when none did, 1 on error.
    Run(RunArgs),
    /// A model's drift windows, oldest first: drift share and drifted features.
    History(HistoryArgs),
    /// Join an inference log with delayed labels and print each window's metrics
    /// (regression: MAE, RMSE, R², MAPE; classification: accuracy, precision, recall, F1,
    /// ROC AUC), as scikit-learn computes them.
    Performance(PerformanceArgs),
}

/// `mlops monitor performance`.
#[derive(Args, Debug)]
pub(crate) struct PerformanceArgs {
    /// The inference log (a store URI, as given to `mlops serve --inference-log`).
    #[arg(long, value_name = "URI")]
    pub(crate) log: String,
    /// The labels (Parquet): one row per logged row id.
    #[arg(long)]
    pub(crate) labels: PathBuf,
    /// The labels' id column (matches the log's `id`: the request id, or `<request id>:<row>`
    /// for a row of a request of several).
    #[arg(long)]
    pub(crate) id: String,
    /// The labels' ground-truth column.
    #[arg(long)]
    pub(crate) label: String,
    /// Only this model's log.
    #[arg(long)]
    pub(crate) model: Option<String>,
    /// The logged column that holds the prediction [default: the only `out.` column].
    #[arg(long)]
    pub(crate) prediction: Option<String>,
    /// Regression metrics, or binary classification metrics (labels 0/1, predictions are
    /// scores of class 1).
    #[arg(long, value_enum, default_value_t = TaskArg::Regression)]
    pub(crate) task: TaskArg,
    /// Classification: the score at and above which the predicted class is 1.
    #[arg(long, default_value_t = 0.5)]
    pub(crate) threshold: f64,
    /// Labelled rows per window.
    #[arg(long, default_value_t = 10_000)]
    pub(crate) window_rows: usize,
    /// A gate on each window: `METRIC[=RUN_METRIC]:higher|lower[:MARGIN]`, against the
    /// --baseline version's registered run metric; exit 3 when a window is worse by more
    /// than the margin. Repeatable.
    #[arg(long = "gate", value_name = "GATE", requires = "baseline")]
    pub(crate) gates: Vec<String>,
    /// The version whose registered metrics the gates compare with: NAME@ALIAS or
    /// NAME@VERSION (in the registry of --store or --registry).
    #[arg(long, value_name = "NAME@ALIAS")]
    pub(crate) baseline: Option<String>,
    /// Where the trigger outbox is (its `_outbox/` folder).
    #[command(flatten)]
    pub(crate) history: HistoryStore,
    /// Performance rules (`--trigger 'rmse>registered*1.1'`) fire events on windows worse
    /// than the serving version's registered metric; exit 3 when one fired.
    #[command(flatten)]
    pub(crate) triggers: TriggerArgs,
    /// Output format.
    #[arg(long, value_enum, default_value_t)]
    pub(crate) format: Format,
}

/// `--task`.
#[derive(clap::ValueEnum, Clone, Copy, Debug)]
pub(crate) enum TaskArg {
    /// MAE, RMSE, R², MAPE.
    Regression,
    /// Accuracy, precision, recall, F1, ROC AUC.
    Classification,
}

/// `mlops monitor run`.
#[derive(Args, Debug)]
pub(crate) struct RunArgs {
    /// The model version: NAME@ALIAS or NAME@VERSION.
    #[arg(long)]
    pub(crate) model: String,
    /// The current data (Parquet).
    #[arg(long)]
    pub(crate) current: PathBuf,
    /// Rows per window (the last window may be shorter).
    #[arg(long, default_value_t = mlops_monitor::WindowPolicy::DEFAULT_ROWS)]
    pub(crate) window_rows: u64,
    #[command(flatten)]
    pub(crate) history: HistoryStore,
    #[command(flatten)]
    pub(crate) triggers: TriggerArgs,
    /// Output format.
    #[arg(long, value_enum, default_value_t)]
    pub(crate) format: Format,
}

/// Where the drift history is.
#[derive(Args, Debug, Clone)]
pub(crate) struct HistoryStore {
    /// The drift history (a store URI) [default: the `monitor/` folder of the store root].
    /// Its `_outbox/` folder holds the trigger events.
    #[arg(long = "history", value_name = "URI")]
    pub(crate) history: Option<String>,
}

/// `mlops monitor history`.
#[derive(Args, Debug)]
pub(crate) struct HistoryArgs {
    /// The model.
    #[arg(long)]
    pub(crate) model: String,
    /// Only windows that started at or after this time (RFC 3339, or a date YYYY-MM-DD).
    #[arg(long)]
    pub(crate) since: Option<String>,
    #[command(flatten)]
    pub(crate) history: HistoryStore,
    /// Output format.
    #[arg(long, value_enum, default_value_t)]
    pub(crate) format: Format,
}
