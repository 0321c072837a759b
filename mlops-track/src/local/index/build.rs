//! Writing a generation of an experiment's run index: the previous generation's runs that
//! no marker names are kept as they are (no read); new and marked runs are read from their
//! records and indexed when ended, fully compacted, undamaged and ended longer ago than
//! the grace period. The new generation is claimed as slot `n + 1` (create-if-absent; a
//! builder that loses the slot to another writes nothing more); only then are the markers
//! it consumed and generations older than `n` removed.
//!
//! Cost: one listing of the index folder and of the experiment's run markers, the previous
//! generation (not read again when the search refreshing the index holds it), the records of
//! the runs not indexed yet (or changed; a refreshing search has just read them), and one
//! write of the whole generation (bounded by [`limits::INDEX`]: runs past it are left out).

use std::collections::HashMap;
use std::sync::{Arc, PoisonError};

use futures::StreamExt;
use mlops_core::{ExperimentId, RunId};
use object_store::path::Path;

use super::super::records::{decode_index, encode_index, index_line_len, tick};
use super::super::runs::Fresh;
use super::super::{Claim, Inner, limits, or_damage};
use super::{GENERATION, IndexedRun};
use crate::error::{Result, TrackError};

/// What [`LocalStore::build_run_index`](crate::local::LocalStore::build_run_index) did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct IndexReport {
    /// Experiments whose index got a new generation.
    pub generations_written: usize,
    /// Experiments where another process claimed the same generation first (nothing of
    /// this builder's is kept there; the other's generation is as good).
    pub lost_races: usize,
    /// Runs the new generations hold.
    pub runs_indexed: usize,
    /// Runs whose records were read (new, changed, or not indexable before).
    pub runs_read: usize,
    /// Runs left out: still running, ended within the grace period, changed within it,
    /// uncompacted, damaged, or past the size limit.
    pub runs_left_out: usize,
    /// Change markers consumed (removed).
    pub markers_consumed: usize,
}

impl IndexReport {
    fn add(&mut self, other: &Self) {
        self.generations_written += other.generations_written;
        self.lost_races += other.lost_races;
        self.runs_indexed += other.runs_indexed;
        self.runs_read += other.runs_read;
        self.runs_left_out += other.runs_left_out;
        self.markers_consumed += other.markers_consumed;
    }
}

impl Inner {
    /// Builds a new generation of the run index of every experiment (live and deleted).
    pub(crate) async fn build_run_index(&self) -> Result<IndexReport> {
        let experiments: Vec<ExperimentId> = {
            let log = self.experiments_now().await?;
            log.entries.keys().cloned().collect()
        };
        let mut report = IndexReport::default();
        for experiment in experiments {
            report.add(&self.build_experiment_index(&experiment, false).await?);
        }
        Ok(report)
    }

    /// Builds a new generation of one experiment's run index. With `reuse_cache`, runs no
    /// marker names are taken from this process's cache when it is within the refresh
    /// interval (a search just read them); marked runs are always read again, after the
    /// markers were listed, so that the state indexed includes the change they announce.
    pub(crate) async fn build_experiment_index(
        &self,
        experiment: &ExperimentId,
        reuse_cache: bool,
    ) -> Result<IndexReport> {
        let now = tick();
        let grace = i64::try_from(self.options.index_grace.as_micros()).unwrap_or(i64::MAX);
        let listing = self.list_index(experiment).await?;
        let newest = listing.generations.last().map(|(seq, _, _)| *seq);
        // A search refreshing the index holds the newest generation already.
        let held = reuse_cache
            .then(|| {
                let views = self.index.lock().unwrap_or_else(PoisonError::into_inner);
                views.get(experiment).cloned()
            })
            .flatten()
            .filter(|view| view.seq.is_some() && view.seq == newest);
        let (previous, previous_seq) = match held {
            Some(view) => (view.generation_runs(), newest),
            None => self.previous_generation(&listing.generations).await?,
        };
        let mut changes: HashMap<RunId, Vec<(Path, i64)>> = HashMap::new();
        for (run, key, at) in listing.changes {
            changes.entry(run).or_default().push((key, at));
        }
        let ids: Vec<RunId> = self
            .list(&self.keys.experiment_runs_dir(experiment), None)
            .await?
            .iter()
            .filter_map(|m| m.location.filename().and_then(|n| RunId::parse(n).ok()))
            .collect();
        let mut report = IndexReport::default();
        let mut kept: Vec<Arc<IndexedRun>> = Vec::new();
        let mut to_read: Vec<(RunId, Fresh)> = Vec::new();
        let unmarked = if reuse_cache {
            Fresh::RecentFull
        } else {
            Fresh::Full
        };
        let mut consumed: Vec<Path> = Vec::new();
        for id in ids {
            match (changes.remove(&id), previous.get(&id)) {
                (None, Some(indexed)) => kept.push(Arc::clone(indexed)),
                (None, None) => to_read.push((id, unmarked)),
                (Some(marks), _) => {
                    // A marker younger than the grace period may precede a write that has
                    // not landed yet: the run waits for a later build.
                    if marks.iter().all(|(_, at)| now.saturating_sub(*at) >= grace) {
                        consumed.extend(marks.into_iter().map(|(key, _)| key));
                        to_read.push((id, Fresh::Full));
                    } else {
                        report.runs_left_out += 1;
                    }
                }
            }
        }
        // Markers of runs this experiment does not list (an interrupted creation) are
        // garbage once old.
        for marks in changes.into_values() {
            consumed.extend(
                marks
                    .into_iter()
                    .filter(|(_, at)| now.saturating_sub(*at) >= grace)
                    .map(|(key, _)| key),
            );
        }
        report.runs_read = to_read.len();
        let read: Vec<Option<Arc<IndexedRun>>> =
            futures::stream::iter(to_read)
                .map(|(id, fresh)| async move {
                    self.indexable(id, fresh, experiment, now, grace).await
                })
                .buffer_unordered(self.options.concurrency)
                .collect()
                .await;
        let mut runs = kept;
        let before = runs.len();
        runs.extend(read.into_iter().flatten());
        report.runs_left_out += report.runs_read - (runs.len() - before);
        runs.sort_by(|a, b| a.meta.run_id.cmp(&b.meta.run_id));
        // Leave out what would make the generation larger than readers accept.
        let mut size: u64 = 4096;
        let total = runs.len();
        runs.retain(|run| {
            size += index_line_len(run) as u64;
            size <= limits::INDEX
        });
        report.runs_left_out += total - runs.len();
        // Nothing new to index and nothing to clean up: the previous generation stands.
        let unchanged = consumed.is_empty()
            && match previous_seq {
                Some(_) => {
                    runs.len() == previous.len()
                        && runs.iter().all(|r| previous.contains_key(&r.meta.run_id))
                }
                None => runs.is_empty(),
            };
        if unchanged {
            report.runs_indexed = runs.len();
            return Ok(report);
        }
        let seq = previous_seq.map_or(0, |s| s + 1);
        let key = self.keys.index_generation(experiment, seq);
        let bytes = encode_index(seq, now, runs.iter().map(|run| &**run));
        Self::check_size(&key, &bytes, GENERATION, limits::INDEX)?;
        match self.claim(&key, bytes).await? {
            Claim::Taken => {
                report.lost_races = 1;
                return Ok(report);
            }
            Claim::Won => {}
        }
        report.generations_written = 1;
        report.runs_indexed = runs.len();
        report.markers_consumed = consumed.len();
        // Generations before the previous one: a reader that listed the previous one may
        // still be reading it.
        let old: Vec<Path> = listing
            .generations
            .iter()
            .filter(|(s, _, _)| previous_seq.is_some_and(|p| *s < p))
            .map(|(_, key, _)| key.clone())
            .collect();
        self.delete_quietly(consumed).await;
        self.delete_quietly(old).await;
        Ok(report)
    }

    /// The newest readable generation's runs, and the newest slot (taken even when
    /// unreadable, so the next generation goes after it).
    async fn previous_generation(
        &self,
        generations: &[(u64, Path, u64)],
    ) -> Result<(HashMap<RunId, Arc<IndexedRun>>, Option<u64>)> {
        let Some((seq, key, _)) = generations.last() else {
            return Ok((HashMap::new(), None));
        };
        let bytes = or_damage(self.get_opt(key, GENERATION, limits::INDEX).await)?;
        let runs = match bytes.map(|b| b.and_then(|b| decode_index(&b))) {
            Some(Ok((_, runs))) => runs
                .into_iter()
                .map(|run| (run.meta.run_id.clone(), Arc::new(run)))
                .collect(),
            Some(Err(reason)) => {
                self.note_damage(
                    key.as_ref(),
                    &format!("an unreadable run index generation, rebuilt: {reason}"),
                );
                HashMap::new()
            }
            None => HashMap::new(),
        };
        Ok((runs, Some(*seq)))
    }

    /// A run read from its records, as the index holds it, when it may be indexed.
    async fn indexable(
        &self,
        id: RunId,
        fresh: Fresh,
        experiment: &ExperimentId,
        now: i64,
        grace: i64,
    ) -> Option<Arc<IndexedRun>> {
        let slot = self.run_slot(&id);
        let mut st = slot.state.lock().await;
        match self.load_run(&id, &mut st, fresh).await {
            Ok(()) => {}
            Err(TrackError::NotFound { .. }) => return None,
            Err(e) => {
                tracing::debug!(run = %id, error = %e, "an unreadable run is not indexed");
                return None;
            }
        }
        let meta = st.meta.as_ref()?;
        let ended_long_ago = now.saturating_sub(st.status_at) >= grace;
        let whole = st.segments.is_empty()
            && st.bad_segments.is_empty()
            && st.unreadable_records == 0
            && meta.experiment_id == *experiment;
        (meta.status.is_terminal() && ended_long_ago && whole).then(|| {
            Arc::new(IndexedRun {
                meta: meta.clone(),
                next_seq: st.next_seq,
                metrics: st.latest_metrics(),
            })
        })
    }
}
