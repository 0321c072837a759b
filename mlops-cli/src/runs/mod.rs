//! `mlops runs …`: list, show, compare and sync the runs of a tracking store. `args` parses,
//! `ops` calls the library, `print` prints.

pub(crate) mod args;
pub(crate) mod damage;
pub(crate) mod ops;
mod print;
mod stale;

pub(crate) use args::RunsCommand;

use crate::stores::{self, Open};
use crate::{Result, exit};

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
            allow_damaged,
        } => {
            let uri = store.tracking_uri();
            let store = stores::tracking(&uri, Open::Existing).await?;
            let query = ops::ListQuery {
                experiments: experiment,
                filter,
                order_by,
                max_results,
                view: view.into(),
            };
            let mut listed = ops::list(store.as_ref(), query).await?;
            listed.stale = stale::stale_among(&uri, &listed.runs).await?;
            let damaged = store.damage();
            print::list(&listed, &damaged, format)?;
            return damage::verdict(&damaged, allow_damaged);
        }
        RunsCommand::Show {
            store,
            run_id,
            format,
            allow_damaged,
        } => {
            let store = stores::tracking(&store.tracking_uri(), Open::Existing).await?;
            let with_experiment = format == crate::output::Format::Table;
            let shown = ops::show(store.as_ref(), &run_id, with_experiment).await?;
            let damaged = store.damage();
            print::show(&shown, &damaged, format)?;
            return damage::verdict(&damaged, allow_damaged);
        }
        RunsCommand::Compare {
            store,
            run_ids,
            format,
        } => {
            let store = stores::tracking(&store.tracking_uri(), Open::Existing).await?;
            let runs = ops::runs(store.as_ref(), &run_ids).await?;
            print::compare(&runs, format)?;
        }
        RunsCommand::MarkStale {
            store,
            older_than_secs,
            status,
            format,
        } => {
            let status = status.into();
            let older_than = std::time::Duration::from_secs(older_than_secs);
            let marked = stale::mark(&store.tracking_uri(), older_than, status).await?;
            stale::print(&marked, status, format)?;
        }
        RunsCommand::Sync {
            store,
            from,
            to,
            experiment,
            include_deleted,
            concurrency,
            format,
        } => {
            let job = ops::SyncJob {
                from: from.unwrap_or_else(|| store.tracking_uri()),
                to,
                experiments: experiment,
                include_deleted,
                concurrency,
            };
            let report = ops::sync_runs(&job).await?;
            print::sync(&report, &job.from, &job.to, format)?;
            if !report.is_complete() {
                return Ok(exit::ERROR);
            }
        }
    }
    Ok(exit::OK)
}
