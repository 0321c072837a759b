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
