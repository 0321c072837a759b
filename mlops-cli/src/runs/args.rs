//! The arguments of `mlops runs …` (and the `--view` of `mlops experiments list`).

use clap::{Subcommand, ValueEnum};
use mlops::track::ViewType;

use crate::layout::TrackingArgs;
use crate::output::Format;

#[derive(Subcommand, Debug)]
pub(crate) enum RunsCommand {
    /// List runs with their status, duration and latest metrics.
    List {
        #[command(flatten)]
        store: TrackingArgs,
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
        /// Exit 0 even when damaged records were left out (they are still reported).
        #[arg(long)]
        allow_damaged: bool,
    },
    /// Show one run: attributes, params, latest metrics, tags, inputs and artifacts.
    Show {
        #[command(flatten)]
        store: TrackingArgs,
        /// The run's id.
        run_id: String,
        /// Output format.
        #[arg(long, value_enum, default_value_t)]
        format: Format,
        /// Exit 0 even when damaged records were left out (they are still reported).
        #[arg(long)]
        allow_damaged: bool,
    },
    /// Compare runs side by side: attributes, params and latest metrics; rows that differ are
    /// marked with `*`.
    Compare {
        #[command(flatten)]
        store: TrackingArgs,
        /// Two or more run ids.
        #[arg(num_args = 2.., required = true)]
        run_ids: Vec<String>,
        /// Output format.
        #[arg(long, value_enum, default_value_t)]
        format: Format,
    },
    /// End runs left RUNNING by a writer that is gone (its process exited on this host, or
    /// its lease was not renewed for --older-than-secs): each gets the status asked for, the
    /// time its writer was last seen as end time, and the tag `mlops.stale` saying why.
    /// Embedded stores only.
    MarkStale {
        #[command(flatten)]
        store: TrackingArgs,
        /// How long a lease may go unrenewed before its run counts as stale.
        #[arg(long, default_value_t = 600)]
        older_than_secs: u64,
        /// The status the stale runs end with.
        #[arg(long, value_enum, default_value_t)]
        status: StaleStatus,
        /// Output format.
        #[arg(long, value_enum, default_value_t)]
        format: Format,
    },
    /// Copy experiments and runs (params, metric histories, tags, inputs, artifacts) from a
    /// local store to an MLflow server. Idempotent: a second sync copies nothing twice.
    Sync {
        #[command(flatten)]
        store: TrackingArgs,
        /// The store to copy from: a folder or store URI [default: the tracking store of
        /// --store / --tracking].
        #[arg(long)]
        from: Option<String>,
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

/// How `runs mark-stale` ends a stale run.
#[derive(ValueEnum, Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) enum StaleStatus {
    /// KILLED: the writer was stopped.
    #[default]
    Killed,
    /// FAILED: the run did not complete.
    Failed,
}

impl From<StaleStatus> for mlops::core::RunStatus {
    fn from(status: StaleStatus) -> Self {
        match status {
            StaleStatus::Killed => Self::Killed,
            StaleStatus::Failed => Self::Failed,
        }
    }
}

/// Which experiments or runs to list.
#[derive(ValueEnum, Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) enum View {
    /// Live ones.
    #[default]
    Active,
    /// Deleted ones.
    Deleted,
    /// Both.
    All,
}

impl From<View> for ViewType {
    fn from(view: View) -> Self {
        match view {
            View::Active => ViewType::ActiveOnly,
            View::Deleted => ViewType::DeletedOnly,
            View::All => ViewType::All,
        }
    }
}
