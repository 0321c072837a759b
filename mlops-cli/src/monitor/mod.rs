//! `mlops monitor …`: drift windows over a file against a registered version's reference
//! profile, with the history and triggers `mlops serve --monitor` uses (`run`), the history
//! of a model's windows (`history`), and performance from an inference log and delayed
//! labels (`performance`). `args` parses, `triggers` builds the trigger pipeline (shared
//! with `serve`), `run` and `history` do the work.

mod args;
mod history;
mod performance;
mod run;
mod serve;
pub(crate) mod triggers;

pub(crate) use args::MonitorArgs;
pub(crate) use serve::ServeMonitorArgs;

use args::MonitorCommand;

use crate::Result;

/// Runs `mlops monitor …`; its exit code.
pub(crate) async fn run(args: MonitorArgs) -> Result<u8> {
    match args.command {
        MonitorCommand::Run(run) => run::run(&args.stores, run).await,
        MonitorCommand::History(history) => history::run(&args.stores, history).await,
        MonitorCommand::Performance(performance) => {
            performance::run(&args.stores, performance).await
        }
    }
}
