//! Runs left `RUNNING` by a writer that is gone (killed, crashed, a lost host): `runs list`
//! marks them stale, and `runs mark-stale` ends them (`LocalStore::mark_stale_runs`). Only
//! the embedded store keeps the leases this needs; an MLflow server cannot tell.

use std::collections::HashSet;
use std::time::Duration;

use mlops::core::{RunId, RunStatus, StoreUri};
use mlops::track::local::StaleRun;
use mlops::track::{self, LocalStore, Run};
use serde_json::json;

use crate::Result;
use crate::output::table::Table;
use crate::output::text::time;
use crate::output::{Format, json};
use crate::stores::{self, Open};

/// How long a lease may go unrenewed before `runs list` calls its run stale (a writer on
/// this host that exited is stale at once).
pub(crate) const STALE_AFTER: Duration = Duration::from_secs(600);

/// The embedded store at `uri`, or an error for an MLflow server.
async fn local(uri: &str) -> Result<LocalStore> {
    if track::is_mlflow_uri(uri) {
        return Err(format!(
            "{uri} is an MLflow server; stale runs are found from the leases only the \
             embedded store keeps"
        )
        .into());
    }
    // The tool's own existence check, so that a mistyped path is an error.
    stores::tracking(uri, Open::Existing).await?;
    Ok(LocalStore::open_uri(&StoreUri::parse(uri)?).await?)
}

/// The ids of the `RUNNING` runs among `runs` whose writer is gone; none on MLflow.
pub(crate) async fn stale_among(uri: &str, runs: &[Run]) -> Result<HashSet<RunId>> {
    let mut stale = HashSet::new();
    if track::is_mlflow_uri(uri) || !runs.iter().any(|r| r.info.status == RunStatus::Running) {
        return Ok(stale);
    }
    let store = local(uri).await?;
    for run in runs.iter().filter(|r| r.info.status == RunStatus::Running) {
        if store
            .stale_run(&run.info.run_id, STALE_AFTER)
            .await?
            .is_some()
        {
            stale.insert(run.info.run_id.clone());
        }
    }
    Ok(stale)
}

/// Ends the stale runs of the store at `uri` with `status`; returns them.
pub(crate) async fn mark(
    uri: &str,
    older_than: Duration,
    status: RunStatus,
) -> Result<Vec<StaleRun>> {
    let store = local(uri).await?;
    Ok(store.mark_stale_runs(older_than, status).await?)
}

/// `runs mark-stale`'s output: one row per run marked.
pub(crate) fn print(marked: &[StaleRun], status: RunStatus, format: Format) -> Result<()> {
    if format == Format::Json {
        let rows: Vec<_> = marked
            .iter()
            .map(|s| {
                json!({
                    "run_id": s.run_id.as_str(),
                    "experiment_id": s.experiment_id.as_str(),
                    "reason": s.reason.as_str(),
                    "last_seen": s.last_seen.as_millis(),
                    "status": status.to_string(),
                })
            })
            .collect();
        return json(&rows);
    }
    let mut table = Table::new(["run id", "experiment", "reason", "last seen", "now"]).cut();
    for s in marked {
        table.row([
            s.run_id.to_string(),
            s.experiment_id.to_string(),
            s.reason.as_str().to_owned(),
            time(s.last_seen),
            status.to_string(),
        ]);
    }
    table.print()
}
