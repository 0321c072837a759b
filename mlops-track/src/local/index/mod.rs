//! The run index: per experiment, a compacted, write-once *generation* holding the folded
//! state of its ended runs, so that a new process searches thousands of runs by reading one
//! object instead of every run's records (`docs/FORMAT.md`, *The run index*).
//!
//! - **Generations** `index/<experiment>/<seq>.jsonl` are numbered slots claimed with
//!   create-if-absent: claiming slot `n + 1` is the atomic switch, and of two builders that
//!   started from generation `n` only one wins. Readers take the newest slot.
//! - **Change markers** `index/<experiment>/changed/<run>.<uuid7>` invalidate a run: every
//!   write to a run whose status is terminal (a tag, a param, a reopening, a deletion,
//!   metrics) first creates one, so a reader serves a run from the index only when no marker
//!   names it, and reads the records of the others. A builder re-reads a marked run and
//!   removes its markers once they are older than the grace period, after its new
//!   generation is claimed.
//! - A run ended less than the grace period ago is not indexed from its records: a writer
//!   that logs metrics from a view up to a refresh interval old (still `RUNNING` to it)
//!   writes no marker before its write.
//! - **Summaries** `index/<experiment>/ended/<run>.<uuid7>`: the process that ends a run
//!   writes the run's folded state at once (`summary.rs`, which also argues why a reader may
//!   serve it without the grace period), and folds them into a generation every few hundred.
//!   A reader serves a summary when no marker names its run and it folded more of the run's
//!   meta log than the generation holds of it (or read of it when leaving it out).
//!
//! This file is the reading side and the markers; `build.rs` writes generations.

mod build;
mod summary;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, PoisonError};
use std::time::Instant;

use futures::{StreamExt, TryStreamExt};
use mlops_core::{ExperimentId, Metric, RunId};
use object_store::ObjectStoreExt;
use object_store::path::Path;

pub use build::IndexReport;

use super::experiments::ExperimentEntry;
use super::keys::parse_seq;
use super::records::{decode_index, new_txn, tick};
use super::run_state::RunMeta;
use super::{Inner, limits, or_damage};
use crate::entities::Run;
use crate::error::Result;

/// A search that read fewer ended runs than this from their records does not refresh the
/// index (reading them costs less than writing a generation).
const REFRESH_MIN_RUNS: usize = 256;

/// An indexed object, as errors name it.
const GENERATION: &str = "a run index generation";

/// One ended run as a generation holds it.
#[derive(Clone, Debug)]
pub(crate) struct IndexedRun {
    pub(crate) meta: RunMeta,
    /// The meta-log slots folded in: records `0..next_seq`.
    pub(crate) next_seq: u64,
    /// The latest point of each metric, sorted by key.
    pub(crate) metrics: Vec<Metric>,
    /// For a run taken from its ender's summary (not read from its records after the grace
    /// period): the `at` of its ending record (`summary.rs`).
    pub(crate) fresh: Option<i64>,
}

/// A generation's runs by id, each with its `Run` built with its own lifecycle.
type IndexedRuns = HashMap<RunId, (Arc<IndexedRun>, Arc<Run>)>;

/// Summaries read, by key, each with its `Run` built with its own lifecycle.
type Summaries = HashMap<Path, (Arc<IndexedRun>, Arc<Run>)>;

/// What this process read of one experiment's index: the newest generation's runs and the
/// ended runs' summaries not folded into it yet, less the runs a change marker names.
pub(crate) struct IndexView {
    listed_at: Instant,
    /// The generation read, if any.
    pub(crate) seq: Option<u64>,
    /// The generation's runs, each with its `Run` built with its own lifecycle.
    generation: Arc<IndexedRuns>,
    /// The runs the generation's builder read and left out, with the slots it read; `None`
    /// when the generation is damaged (then no summary is served).
    left_out: Option<Arc<BTreeMap<RunId, u64>>>,
    /// The summaries read, by key (write-once objects: kept while listed).
    summaries: Arc<Summaries>,
    /// What a search serves: the generation's runs, each replaced by a summary of it that
    /// folded more of its meta log.
    runs: Arc<IndexedRuns>,
    /// Runs a change marker names: read from their records.
    changed: HashSet<RunId>,
    /// Runs taken from summaries (`fresh`) whose ending is older than the grace period: a
    /// search refreshes the index when they are many, so a builder reads them again.
    pub(crate) fresh_settled: usize,
}

impl IndexView {
    /// The run as a search sees it, when the index covers it.
    pub(crate) fn view(&self, run: &RunId, experiment: &ExperimentEntry) -> Option<Arc<Run>> {
        if self.changed.contains(run) {
            return None;
        }
        let (indexed, view) = self.runs.get(run)?;
        let lifecycle = indexed.meta.effective_lifecycle(Some(experiment));
        if lifecycle == view.info.lifecycle_stage {
            return Some(Arc::clone(view));
        }
        let mut run = (**view).clone();
        run.info.lifecycle_stage = lifecycle;
        Some(Arc::new(run))
    }

    /// The generation's runs, shared (for a builder that starts from it).
    pub(crate) fn generation_runs(&self) -> HashMap<RunId, Arc<IndexedRun>> {
        self.generation
            .iter()
            .map(|(id, (run, _))| (id.clone(), Arc::clone(run)))
            .collect()
    }

    /// The runs the generation's builder left out, with the slots it read.
    pub(crate) fn left_out(&self) -> Option<BTreeMap<RunId, u64>> {
        self.left_out.as_deref().cloned()
    }

    /// A summary this view read, by key (for a builder: write-once, so still what it was).
    pub(crate) fn summary(&self, key: &Path) -> Option<Arc<IndexedRun>> {
        self.summaries.get(key).map(|(run, _)| Arc::clone(run))
    }

    /// How many runs the view serves (generation and summaries).
    pub(crate) fn len(&self) -> usize {
        self.runs.len()
    }

    /// The view of a generation this process just wrote, as a reader listing the folder
    /// when the build listed it would read it (the summaries it folded are in it; the
    /// others, of marked runs, are not served anyway): the next build or search of this
    /// process need not read it back. Runs unchanged from `previous` keep their built `Run`.
    pub(crate) fn built(
        listed_at: Instant,
        seq: u64,
        runs: &[Arc<IndexedRun>],
        left_out: BTreeMap<RunId, u64>,
        changed: HashSet<RunId>,
        previous: Option<&IndexView>,
        base_uri: &str,
    ) -> Self {
        let mut known: HashMap<*const IndexedRun, &Arc<Run>> = HashMap::new();
        if let Some(previous) = previous {
            for (run, view) in previous
                .generation
                .values()
                .chain(previous.summaries.values())
            {
                known.insert(Arc::as_ptr(run), view);
            }
        }
        let generation: IndexedRuns = runs
            .iter()
            .map(|run| {
                let view = match known.get(&Arc::as_ptr(run)) {
                    Some(view) => Arc::clone(view),
                    None => Arc::new(run.meta.to_run(run.metrics.clone(), None, base_uri)),
                };
                (run.meta.run_id.clone(), (Arc::clone(run), view))
            })
            .collect();
        let generation = Arc::new(generation);
        Self {
            listed_at,
            seq: Some(seq),
            runs: Arc::clone(&generation),
            generation,
            left_out: Some(Arc::new(left_out)),
            summaries: Arc::default(),
            changed,
            fresh_settled: 0,
        }
    }

    fn empty(listed_at: Instant, changed: HashSet<RunId>) -> Self {
        Self {
            listed_at,
            seq: None,
            generation: Arc::default(),
            left_out: None,
            summaries: Arc::default(),
            runs: Arc::default(),
            changed,
            fresh_settled: 0,
        }
    }
}

/// One listing of an experiment's index folder.
pub(crate) struct IndexListing {
    /// The generations: slot, key, size, in slot order.
    pub(crate) generations: Vec<(u64, Path, u64)>,
    /// The change markers: run, key, and the marker's time (µs, from its UUID v7).
    pub(crate) changes: Vec<(RunId, Path, i64)>,
    /// The ended runs' summaries: run, key, size.
    pub(crate) summaries: Vec<(RunId, Path, u64)>,
}

impl Inner {
    /// Lists `index/<experiment>/`.
    pub(crate) async fn list_index(&self, experiment: &ExperimentId) -> Result<IndexListing> {
        let dir = self.keys.index_dir(experiment);
        let listed = self.list(&dir, None).await?;
        let mut generations = Vec::new();
        let mut changes = Vec::new();
        let mut summaries = Vec::new();
        for meta in listed {
            let parts: Vec<String> = match meta.location.prefix_match(&dir) {
                Some(parts) => parts.map(|p| p.as_ref().to_owned()).collect(),
                None => continue,
            };
            match parts.as_slice() {
                [_] => {
                    if let Some(seq) = parse_seq(&meta.location) {
                        generations.push((seq, meta.location, meta.size));
                    }
                }
                [folder, file] if folder == "changed" => {
                    if let Some((run, at)) = parse_change(file) {
                        changes.push((run, meta.location, at));
                    }
                }
                [folder, file] if folder == "ended" => {
                    if let Some((run, _)) = parse_change(file) {
                        summaries.push((run, meta.location, meta.size));
                    }
                }
                _ => {}
            }
        }
        generations.sort_by_key(|(seq, _, _)| *seq);
        Ok(IndexListing {
            generations,
            changes,
            summaries,
        })
    }

    /// The index of an experiment as this process last read it, read again when older than
    /// the refresh interval. `None` when the index is off; a damaged generation is reported
    /// as damage and gives an empty view (every run read from its records).
    pub(crate) async fn index_view(&self, experiment: &ExperimentId) -> Option<Arc<IndexView>> {
        if !self.options.run_index {
            return None;
        }
        let cached = {
            let views = self.index.lock().unwrap_or_else(PoisonError::into_inner);
            views.get(experiment).cloned()
        };
        if let Some(view) = &cached
            && view.listed_at.elapsed() < self.options.refresh_interval
        {
            return Some(Arc::clone(view));
        }
        let view = match self.read_index(experiment, cached.as_deref()).await {
            Ok(view) => Arc::new(view),
            Err(e) => {
                tracing::warn!(experiment = %experiment, error = %e,
                    "could not read the run index; reading runs from their records");
                return None;
            }
        };
        let mut views = self.index.lock().unwrap_or_else(PoisonError::into_inner);
        views.insert(experiment.clone(), Arc::clone(&view));
        Some(view)
    }

    /// Lists the index folder and reads its newest generation (unless `cached` holds it)
    /// and the summaries of runs no marker names (those `cached` read are not read again).
    /// A builder claims its generation before it removes the markers and summaries it
    /// consumed, so a listing that missed the newest generation may also have missed
    /// markers: when the slot after the newest listed one exists, the folder is listed again.
    async fn read_index(
        &self,
        experiment: &ExperimentId,
        cached: Option<&IndexView>,
    ) -> Result<IndexView> {
        'listing: for _ in 0..4 {
            let listed_at = Instant::now();
            let listing = self.list_index(experiment).await?;
            let changed: HashSet<RunId> = listing
                .changes
                .iter()
                .map(|(run, _, _)| run.clone())
                .collect();
            let (seq, generation, left_out) = match listing.generations.last().cloned() {
                None => (None, Arc::default(), Some(Arc::default())),
                Some((seq, key, _)) => {
                    let next = self.keys.index_generation(experiment, seq + 1);
                    match self.store.head(&next).await {
                        Ok(_) => continue 'listing,
                        Err(object_store::Error::NotFound { .. }) => {}
                        Err(e) => return Err(Self::storage(&next, e)),
                    }
                    match cached.filter(|c| c.seq == Some(seq)) {
                        Some(cached) => (
                            Some(seq),
                            Arc::clone(&cached.generation),
                            cached.left_out.clone(),
                        ),
                        None => match self.read_generation(experiment, seq, &key).await? {
                            Some((runs, left_out)) => {
                                (Some(seq), Arc::new(runs), left_out.map(Arc::new))
                            }
                            // Removed by a newer builder since the listing.
                            None => continue 'listing,
                        },
                    }
                }
            };
            // Without the left-out runs of a readable generation, no summary can be checked
            // against them: none is served.
            let summaries = match &left_out {
                Some(_) => {
                    self.read_summaries(experiment, &listing.summaries, &changed, cached)
                        .await?
                }
                None => HashMap::new(),
            };
            // A summary is served when it folded more of its run's meta log than the
            // generation holds of the run, or read of it when leaving it out.
            let mut runs: IndexedRuns = (*generation).clone();
            for (run, view) in summaries.values() {
                let id = &run.meta.run_id;
                let known = runs
                    .get(id)
                    .map(|(held, _)| held.next_seq)
                    .max(left_out.as_ref().and_then(|l| l.get(id).copied()));
                if known.is_none_or(|known| known < run.next_seq) {
                    runs.insert(run.meta.run_id.clone(), (Arc::clone(run), Arc::clone(view)));
                }
            }
            let now = tick();
            let grace = i64::try_from(self.options.index_grace.as_micros()).unwrap_or(i64::MAX);
            let fresh_settled = runs
                .values()
                .filter(|(run, _)| run.fresh.is_some_and(|at| now.saturating_sub(at) >= grace))
                .count();
            return Ok(IndexView {
                listed_at,
                seq,
                generation,
                left_out,
                summaries: Arc::new(summaries),
                runs: Arc::new(runs),
                changed,
                fresh_settled,
            });
        }
        // The index keeps changing under this reader: read the runs' records instead.
        Ok(IndexView::empty(Instant::now(), HashSet::new()))
    }

    /// A generation's runs and left-out runs, or `None` when it is gone; a damaged one is
    /// reported and gives none. A damaged generation's left-out runs are lost with it, so
    /// no summary is served then either (`u64::MAX` for every run is not known): the
    /// summaries' runs are read from their records.
    async fn read_generation(
        &self,
        experiment: &ExperimentId,
        seq: u64,
        key: &Path,
    ) -> Result<Option<(IndexedRuns, Option<BTreeMap<RunId, u64>>)>> {
        // Through `get_bounded`: a generation replaced by something larger than the limit is
        // refused before its bytes are held.
        let Some(bytes) = or_damage(self.get_opt(key, GENERATION, limits::INDEX).await)? else {
            return Ok(None);
        };
        let decoded = bytes.and_then(|b| decode_index(&b)).and_then(|decoded| {
            if decoded.seq == seq {
                Ok(decoded)
            } else {
                Err(format!("generation {} in slot {seq}", decoded.seq))
            }
        });
        Ok(Some(match decoded {
            Ok(decoded) => (
                self.index_runs(experiment, key, decoded.runs),
                Some(decoded.left_out),
            ),
            Err(reason) => {
                self.note_damage(
                    key.as_ref(),
                    &format!(
                        "an unreadable run index generation (its runs are read from their \
                         records): {reason}"
                    ),
                );
                (HashMap::new(), None)
            }
        }))
    }

    /// The summaries among `listed` of runs no marker names, by key: those `cached` holds
    /// are taken from it, the others read concurrently. One that is gone (folded into a
    /// generation by a builder since the listing) or damaged (reported) is left out: its run
    /// is read from its records.
    async fn read_summaries(
        &self,
        experiment: &ExperimentId,
        listed: &[(RunId, Path, u64)],
        changed: &HashSet<RunId>,
        cached: Option<&IndexView>,
    ) -> Result<Summaries> {
        let mut out = HashMap::new();
        let mut to_read = Vec::new();
        for (run, key, size) in listed {
            if changed.contains(run) {
                continue;
            }
            match cached.and_then(|c| c.summaries.get(key)) {
                Some(held) => {
                    out.insert(key.clone(), held.clone());
                }
                None => to_read.push((run.clone(), key.clone(), *size)),
            }
        }
        let read: Vec<(Path, Option<IndexedRun>)> = futures::stream::iter(to_read)
            .map(|(run, key, size)| async move {
                let summary = self.read_summary(experiment, &run, &key, size).await?;
                Ok::<_, crate::error::TrackError>((key, summary))
            })
            .buffer_unordered(self.options.concurrency)
            .try_collect()
            .await?;
        for (key, summary) in read {
            if let Some(run) = summary {
                let view = Arc::new(run.meta.to_run(run.metrics.clone(), None, &self.base_uri));
                out.insert(key, (Arc::new(run), view));
            }
        }
        Ok(out)
    }

    /// A generation's runs by id, each with its view; a run of another experiment is
    /// reported as damage and left out.
    fn index_runs(
        &self,
        experiment: &ExperimentId,
        key: &Path,
        runs: Vec<IndexedRun>,
    ) -> IndexedRuns {
        let mut out = HashMap::with_capacity(runs.len());
        for run in runs {
            if run.meta.experiment_id != *experiment {
                self.note_damage(
                    key.as_ref(),
                    &format!(
                        "the run index of experiment {experiment} holds run {} of experiment {}",
                        run.meta.run_id, run.meta.experiment_id
                    ),
                );
                continue;
            }
            let view = Arc::new(run.meta.to_run(run.metrics.clone(), None, &self.base_uri));
            out.insert(run.meta.run_id.clone(), (Arc::new(run), view));
        }
        out
    }

    /// After a search read `ended` ended runs of `experiment` from their records: when they
    /// are many (at least [`REFRESH_MIN_RUNS`], and a quarter of what the index holds), builds
    /// a new generation from what the search just read, so the next new process reads one
    /// object. Each build writes the whole generation; building only after a quarter of its
    /// size was read from records bounds that to a constant per run read. A failure (a
    /// read-only store) is logged and stops this process's refreshes.
    pub(crate) async fn refresh_index(
        &self,
        experiment: &ExperimentId,
        ended: usize,
        indexed: usize,
    ) {
        if !self.options.run_index
            || ended < REFRESH_MIN_RUNS
            || ended.saturating_mul(4) < indexed
            || self
                .index_refresh_failed
                .load(std::sync::atomic::Ordering::Relaxed)
        {
            return;
        }
        match self
            .build_experiment_index(experiment, build::Mode::Full { reuse_cache: true })
            .await
        {
            Ok(report) => tracing::debug!(experiment = %experiment, ?report, "run index refreshed"),
            Err(e) => {
                self.index_refresh_failed
                    .store(true, std::sync::atomic::Ordering::Relaxed);
                tracing::warn!(experiment = %experiment, error = %e,
                    "could not refresh the run index; searches read runs from their records");
            }
        }
    }

    /// Before a write to a run whose status is terminal (it may be indexed): creates a change
    /// marker, so no reader serves the run from an index built before the write.
    pub(crate) async fn mark_changed(&self, experiment: &ExperimentId, run: &RunId) -> Result<()> {
        let key = self.keys.index_change(experiment, run, &new_txn());
        self.claim(&key, b"{}\n".to_vec()).await?;
        self.touched(run);
        Ok(())
    }

    /// After (or before) a write by this process: an index view listed before it no longer
    /// serves the run, so this process sees its own writes at once. A view listed after it
    /// holds the write's marker, or was built after the write.
    pub(crate) fn touched(&self, run: &RunId) {
        let now = Instant::now();
        let mut touched = self.touched.lock().unwrap_or_else(PoisonError::into_inner);
        if touched.len() >= TOUCHED_PRUNE_AT {
            // A view is used only within the refresh interval of its listing, so writes
            // older than that precede every view still in use.
            let horizon = self.options.refresh_interval;
            touched.retain(|_, at| now.saturating_duration_since(*at) < horizon);
        }
        touched.insert(run.clone(), now);
    }

    /// Whether this process wrote to `run` after `view` was listed.
    pub(crate) fn written_since(&self, run: &RunId, view: &IndexView) -> bool {
        self.touched
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(run)
            .is_some_and(|at| *at >= view.listed_at)
    }
}

/// The size of the table of this process's recent writes past which old entries are dropped.
const TOUCHED_PRUNE_AT: usize = 4096;

/// `(run, µs)` of a change marker's file name `<run>.<uuid7>`.
fn parse_change(name: &str) -> Option<(RunId, i64)> {
    let (run, uuid) = name.split_once('.')?;
    let run = RunId::parse(run).ok()?;
    let uuid = uuid::Uuid::try_parse(uuid).ok()?;
    let (secs, nanos) = uuid.get_timestamp()?.to_unix();
    let micros = i64::try_from(secs).ok()?.checked_mul(1_000_000)? + i64::from(nanos / 1000);
    Some((run, micros))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn change_markers_name_their_run_and_time() {
        let run = RunId::parse("0190c5a2e3b47e2f9d4c1a2b3c4d5e6f").unwrap();
        let before = super::super::records::tick();
        let name = format!("{run}.{}", new_txn());
        let (parsed, at) = parse_change(&name).unwrap();
        assert_eq!(parsed, run);
        // UUID v7 keeps milliseconds.
        assert!(at >= before / 1000 * 1000 - 1000, "{at} {before}");
        assert!(parse_change("nope").is_none());
        assert!(parse_change(&format!("{run}.xyz")).is_none());
    }
}
