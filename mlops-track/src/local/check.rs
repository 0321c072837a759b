//! [`CheckReport`]: a read-only walk over the whole store.

use std::time::{Duration, Instant};

use futures::StreamExt;
use mlops_core::RunId;

use super::Inner;
use super::runs::Fresh;
use crate::error::{Result, TrackError};

/// What [`LocalStore::check`](super::LocalStore::check) found.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct CheckReport {
    /// Experiments (live and deleted).
    pub experiments: usize,
    /// Readable runs.
    pub runs: usize,
    /// Metrics of those runs (distinct keys per run, summed).
    pub metric_keys: usize,
    /// Runs whose creation record cannot be read.
    pub unreadable_runs: Vec<RunId>,
    /// Folders under `runs/` without a creation record: a run whose creation was interrupted.
    pub incomplete_runs: usize,
    /// Log records (experiments and runs) skipped because they cannot be read.
    pub unreadable_records: u64,
    /// Metric segments skipped because they cannot be read.
    pub unreadable_segments: usize,
    /// Symbolic links found inside the store (never followed: the store writes none).
    pub links: u64,
    /// How long the walk took.
    pub elapsed: Duration,
}

impl CheckReport {
    /// Whether nothing was damaged (interrupted creations are not damage).
    pub fn is_clean(&self) -> bool {
        self.unreadable_runs.is_empty()
            && self.unreadable_records == 0
            && self.unreadable_segments == 0
            && self.links == 0
    }
}

enum RunCheck {
    Readable {
        metrics: usize,
        records: u64,
        segments: usize,
    },
    Incomplete,
    Unreadable(RunId, u64),
}

impl Inner {
    pub(crate) async fn check(&self) -> Result<CheckReport> {
        let started = Instant::now();
        let mut report = CheckReport::default();
        {
            let log = self.experiments_now().await?;
            report.experiments = log.entries.len();
            report.unreadable_records += log.unreadable;
        }
        let ids = self.all_run_ids().await?;
        let results: Vec<Result<RunCheck>> = futures::stream::iter(ids)
            .map(|id| self.check_run(id))
            .buffer_unordered(self.options.concurrency)
            .collect()
            .await;
        for result in results {
            match result? {
                RunCheck::Readable {
                    metrics,
                    records,
                    segments,
                } => {
                    report.runs += 1;
                    report.metric_keys += metrics;
                    report.unreadable_records += records;
                    report.unreadable_segments += segments;
                }
                RunCheck::Incomplete => report.incomplete_runs += 1,
                RunCheck::Unreadable(id, records) => {
                    report.unreadable_records += records;
                    report.unreadable_runs.push(id);
                }
            }
        }
        report.unreadable_runs.sort();
        report.links = self
            .links_refused
            .load(std::sync::atomic::Ordering::Relaxed);
        report.elapsed = started.elapsed();
        Ok(report)
    }

    async fn check_run(&self, id: RunId) -> Result<RunCheck> {
        let slot = self.run_slot(&id);
        let mut st = slot.state.lock().await;
        match self.load_run(&id, &mut st, Fresh::Full).await {
            Ok(()) => Ok(RunCheck::Readable {
                metrics: st.latest_metrics().len(),
                records: st.unreadable_records,
                segments: st.bad_segments.len(),
            }),
            Err(TrackError::NotFound { .. }) => Ok(RunCheck::Incomplete),
            Err(TrackError::Corrupt { .. }) => Ok(RunCheck::Unreadable(id, st.unreadable_records)),
            Err(e) => Err(e),
        }
    }
}
