//! One listing of the whole `runs/` prefix, shared by the runs of a search.
//!
//! Bringing a run's view up to date costs two listings (its `meta/` and `metrics/` folders).
//! A search over thousands of runs whose views are stale (a new process, or a cache older
//! than the refresh interval) would make thousands of listings: on a local disk each is a
//! hand-off to a blocking thread and back, and that, not the file system, dominated (about
//! 25 µs a listing, 0.5 s for 10,000 runs); on S3 each is a request. One listing of `runs/`
//! names every record and metric file of every run at once (on a local disk a walk of the
//! folder tree, handed off once per thousand entries; on S3 one request per thousand keys),
//! and each run then folds only the records and segments it has not seen.
//!
//! The listing covers the whole store, so it is made only when the search covers every
//! experiment of the store (then the runs it must refresh are all the store's runs, and the
//! listing names nothing it does not need): a search of one small experiment in a store of
//! a million runs never lists the million. [`worth_listing`] is that rule.

use std::collections::HashMap;
use std::time::Instant;

use mlops_core::RunId;
use object_store::path::Path;

use super::Inner;
use super::keys::parse_seq;
use crate::error::Result;

/// Fewer stale runs than this are refreshed one by one.
const MIN_RUNS: usize = 256;

/// What one listing of `runs/` says about one run.
#[derive(Debug, Default)]
pub(crate) struct RunListing {
    /// The meta records: slot number, key and size, in slot order.
    pub(crate) meta: Vec<(u64, Path, u64)>,
    /// The names of the files in `metrics/` (segments and Parquet files).
    pub(crate) metric_files: Vec<String>,
}

/// Every run's files, from one listing of `runs/` that started at `listed_at`.
#[derive(Debug)]
pub(crate) struct StoreListing {
    pub(crate) listed_at: Instant,
    pub(crate) runs: HashMap<RunId, RunListing>,
}

/// Whether a search that must refresh `stale` of the store's `total` runs lists `runs/` once
/// instead of each stale run's folders: when they are many (at least [`MIN_RUNS`]), the
/// search covers every experiment of the store, and they are at least a third of its runs
/// (the listing names every file of every run, about six per ended run, where refreshing
/// one run lists two folders: with the rest served from the run index or the cache, a few
/// stale runs cost less one by one).
pub(crate) fn worth_listing(stale: usize, total: usize, covers_every_experiment: bool) -> bool {
    covers_every_experiment && stale >= MIN_RUNS && stale.saturating_mul(3) >= total
}

impl Inner {
    /// Lists `runs/` once and groups what it finds by run. Keys that are not a run's meta
    /// record or metric file (leases, artifacts, foreign files) are left out.
    pub(crate) async fn list_all_runs(&self) -> Result<StoreListing> {
        let listed_at = Instant::now();
        let dir = self.keys.runs_dir();
        let listed = self.list(&dir, None).await?;
        let mut runs: HashMap<RunId, RunListing> = HashMap::new();
        for meta in listed {
            let Some((run, folder, file)) = run_file(&dir, &meta.location) else {
                continue;
            };
            let entry = runs.entry(run).or_default();
            match folder.as_str() {
                "meta" => {
                    if let Some(seq) = parse_seq(&meta.location) {
                        entry.meta.push((seq, meta.location, meta.size));
                    }
                }
                "metrics" => entry.metric_files.push(file),
                _ => {}
            }
        }
        for run in runs.values_mut() {
            run.meta.sort_by_key(|(seq, _, _)| *seq);
        }
        Ok(StoreListing { listed_at, runs })
    }
}

/// `(run, folder, file)` of a key `<dir>/<run>/<folder>/<file>`; `None` for any other key
/// (a lease, an artifact in a sub-folder, a foreign name).
fn run_file(dir: &Path, location: &Path) -> Option<(RunId, String, String)> {
    let mut parts = location.prefix_match(dir)?;
    let (Some(run), Some(folder), Some(file), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return None;
    };
    let run = RunId::parse(run.as_ref()).ok()?;
    Some((run, folder.as_ref().to_owned(), file.as_ref().to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_many_runs_of_every_experiment_are_listed_at_once() {
        assert!(!worth_listing(MIN_RUNS - 1, MIN_RUNS, true));
        assert!(worth_listing(MIN_RUNS, MIN_RUNS, true));
        assert!(!worth_listing(1_000_000, 1_000_000, false));
        // A few hundred stale runs among 10,000 others served without I/O.
        assert!(!worth_listing(300, 10_300, true));
        assert!(worth_listing(3_500, 10_300, true));
    }

    #[test]
    fn keys_are_sorted_into_runs_and_folders() {
        let dir = Path::from("root/runs");
        let run = "0190c5a2e3b47e2f9d4c1a2b3c4d5e6f";
        let key = |tail: &str| Path::from(format!("root/runs/{run}/{tail}"));
        let (id, folder, file) = run_file(&dir, &key("meta/0000000003.jsonl")).unwrap();
        assert_eq!(
            (id.as_str(), folder.as_str(), file.as_str()),
            (run, "meta", "0000000003.jsonl")
        );
        assert_eq!(
            run_file(&dir, &key("metrics/a.parquet")).unwrap().1,
            "metrics"
        );
        assert!(run_file(&dir, &key("lease.json")).is_none());
        assert!(run_file(&dir, &key("artifacts/model/weights.bin")).is_none());
        assert!(
            run_file(
                &dir,
                &Path::from("root/runs/not-a-run/meta/0000000000.jsonl")
            )
            .is_none()
        );
        assert!(run_file(&dir, &Path::from("root/experiments/log/0000000000.jsonl")).is_none());
    }
}
