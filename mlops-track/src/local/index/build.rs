//! Writing a generation of an experiment's run index: the previous generation's runs that
//! no marker names are kept as they are (no read), replaced by an ended run's summary that
//! folded more of its meta log; new and marked runs are read from their records and indexed
//! when ended, fully compacted, undamaged and ended longer ago than the grace period, and so
//! are runs taken from summaries once their ending is older than the grace period (a writer
//! killed between its segment and its check after writing leaves points no marker names).
//! Runs read and left out keep the slots read in the generation's `left_out`, so that no
//! summary older than that is served. The new generation is claimed as slot `n + 1`
//! (create-if-absent; a builder that loses the slot to another writes nothing more); only
//! then are the summaries it holds or supersedes, the markers it consumed and generations
//! older than `n` removed. A *fold* ([`Mode::Fold`], by a writer after ending runs) only adds
//! summaries to the previous generation: it reads no records and consumes no markers.
//!
//! Cost: one listing of the index folder and of the experiment's run markers, the previous
//! generation (not read again when the search refreshing the index holds it), the summaries
//! not folded yet, the records of the runs not indexed yet (or changed; a refreshing search
//! has just read them), and one write of the whole generation (bounded by
//! [`limits::INDEX`]: runs past it are left out). A fold lists only the index folder.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, PoisonError};

use futures::{StreamExt, TryStreamExt};
use mlops_core::{ExperimentId, RunId};
use object_store::path::Path;

use super::super::records::{decode_index, encode_index, index_line_len, tick};
use super::super::runs::Fresh;
use super::super::{Claim, Inner, limits, or_damage};
use super::{GENERATION, IndexView, IndexedRun};
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
    /// Ended runs' summaries folded into the new generation, or superseded by it (removed).
    pub summaries_folded: usize,
}

impl IndexReport {
    fn add(&mut self, other: &Self) {
        self.generations_written += other.generations_written;
        self.lost_races += other.lost_races;
        self.runs_indexed += other.runs_indexed;
        self.runs_read += other.runs_read;
        self.runs_left_out += other.runs_left_out;
        self.markers_consumed += other.markers_consumed;
        self.summaries_folded += other.summaries_folded;
    }
}

/// What a build reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Mode {
    /// New runs, marked runs whose markers are older than the grace period, and runs taken
    /// from summaries whose ending is older than it are read from their records; the
    /// previous generation's other runs and the summaries are kept as they are. With
    /// `reuse_cache`, unmarked runs are taken from this process's cache when it is within
    /// the refresh interval (a search just read them); marked runs are always read again,
    /// after the markers were listed, so that the state indexed includes the change they
    /// announce.
    Full {
        /// Take unmarked runs from this process's recent cache.
        reuse_cache: bool,
    },
    /// The previous generation with the summaries folded in: no record is read, no marker
    /// consumed (a writer, after ending runs).
    Fold,
}

/// The generation a build starts from.
#[derive(Default)]
struct Previous {
    runs: HashMap<RunId, Arc<IndexedRun>>,
    left_out: BTreeMap<RunId, u64>,
    seq: Option<u64>,
    /// Its slot is taken but it could not be read.
    damaged: bool,
}

/// A run read from its records by a builder.
enum Read {
    Indexed(Arc<IndexedRun>),
    /// Not indexable: the meta-log slots read, when it could be read.
    LeftOut(Option<u64>),
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
            report.add(
                &self
                    .build_experiment_index(&experiment, Mode::Full { reuse_cache: false })
                    .await?,
            );
        }
        Ok(report)
    }

    /// Builds a new generation of one experiment's run index (see [`Mode`]).
    pub(crate) async fn build_experiment_index(
        &self,
        experiment: &ExperimentId,
        mode: Mode,
    ) -> Result<IndexReport> {
        let now = tick();
        let grace = i64::try_from(self.options.index_grace.as_micros()).unwrap_or(i64::MAX);
        let past_grace = |at: i64| now.saturating_sub(at) >= grace;
        let listed_at = std::time::Instant::now();
        let listing = self.list_index(experiment).await?;
        let marked: HashSet<RunId> = listing
            .changes
            .iter()
            .map(|(run, _, _)| run.clone())
            .collect();
        let newest = listing.generations.last().map(|(seq, _, _)| *seq);
        // A search refreshing the index (or a writer that read it) holds the newest
        // generation already.
        let reuse_cache = match mode {
            Mode::Full { reuse_cache } => reuse_cache,
            Mode::Fold => true,
        };
        let held = reuse_cache
            .then(|| {
                let views = self.index.lock().unwrap_or_else(PoisonError::into_inner);
                views.get(experiment).cloned()
            })
            .flatten()
            .filter(|view| view.seq.is_some() && view.seq == newest);
        let held_previous = held.as_ref().and_then(|view| {
            view.left_out().map(|left_out| Previous {
                runs: view.generation_runs(),
                left_out,
                seq: newest,
                damaged: false,
            })
        });
        let Previous {
            runs: previous,
            left_out: previous_left_out,
            seq: previous_seq,
            damaged,
        } = match held_previous {
            Some(previous) => previous,
            None => self.previous_generation(&listing.generations).await?,
        };
        if damaged && mode == Mode::Fold {
            // Folding keeps the previous generation's runs: with none readable, leave the
            // rebuild to a full build, which reads the records.
            return Ok(IndexReport::default());
        }
        let mut changes: HashMap<RunId, Vec<(Path, i64)>> = HashMap::new();
        for (run, key, at) in listing.changes {
            changes.entry(run).or_default().push((key, at));
        }
        // The summaries of runs no marker names, the one that folded the most per run; the
        // keys of all (a marked run's are read again from its records).
        let mut summary_keys: HashMap<RunId, Vec<Path>> = HashMap::new();
        let mut to_fetch = Vec::new();
        for (run, key, size) in &listing.summaries {
            summary_keys
                .entry(run.clone())
                .or_default()
                .push(key.clone());
            if !changes.contains_key(run) {
                let held = held.as_ref().and_then(|view| view.summary(key));
                to_fetch.push((run.clone(), key.clone(), *size, held));
            }
        }
        let fetched: Vec<(Path, Option<Arc<IndexedRun>>)> = futures::stream::iter(to_fetch)
            .map(|(run, key, size, held)| async move {
                let summary = match held {
                    Some(summary) => Some(summary),
                    None => self
                        .read_summary(experiment, &run, &key, size)
                        .await?
                        .map(Arc::new),
                };
                Ok::<_, TrackError>((key, summary))
            })
            .buffer_unordered(self.options.concurrency)
            .try_collect()
            .await?;
        let mut summary_seq: HashMap<Path, u64> = HashMap::new();
        let mut summaries: HashMap<RunId, Arc<IndexedRun>> = HashMap::new();
        for (key, summary) in fetched {
            let Some(summary) = summary else { continue };
            summary_seq.insert(key, summary.next_seq);
            let id = summary.meta.run_id.clone();
            let known = previous
                .get(&id)
                .map(|run| run.next_seq)
                .max(previous_left_out.get(&id).copied());
            let best = summaries.get(&id).map(|s| s.next_seq).max(known);
            if best.is_none_or(|best| best < summary.next_seq) {
                summaries.insert(id, summary);
            }
        }
        let mut report = IndexReport::default();
        let mut kept: Vec<Arc<IndexedRun>> = Vec::new();
        let mut to_read: Vec<(RunId, Fresh)> = Vec::new();
        let mut consumed: Vec<Path> = Vec::new();
        // Runs whose markers are consumed: they are read again, and left out with the slots
        // read when they cannot be indexed, so that no older summary of them is served.
        let mut reread: HashSet<RunId> = HashSet::new();
        match mode {
            Mode::Fold => {
                // Every run of the previous generation stays (a marked one is not served
                // anyway); summaries that folded more replace them; no record is read and
                // no marker consumed.
                for (id, run) in &previous {
                    if !summaries.contains_key(id) {
                        kept.push(Arc::clone(run));
                    }
                }
                kept.extend(summaries.values().cloned());
            }
            Mode::Full { reuse_cache } => {
                let ids: Vec<RunId> = self
                    .list(&self.keys.experiment_runs_dir(experiment), None)
                    .await?
                    .iter()
                    .filter_map(|m| m.location.filename().and_then(|n| RunId::parse(n).ok()))
                    .collect();
                let unmarked = if reuse_cache {
                    Fresh::RecentFull
                } else {
                    Fresh::Full
                };
                for id in ids {
                    let current = summaries.get(&id).or_else(|| previous.get(&id)).cloned();
                    match (changes.remove(&id), current) {
                        // Taken from a summary and ended longer than the grace period ago:
                        // read once more from the records (a writer killed before its
                        // check after writing leaves points no marker names).
                        (None, Some(run)) if run.fresh.is_some_and(past_grace) => {
                            reread.insert(id.clone());
                            to_read.push((id, Fresh::Full));
                        }
                        (None, Some(run)) => kept.push(run),
                        (None, None) => to_read.push((id, unmarked)),
                        (Some(marks), _) => {
                            // A marker younger than the grace period may precede a write
                            // that has not landed yet: the run waits for a later build.
                            if marks.iter().all(|(_, at)| past_grace(*at)) {
                                consumed.extend(marks.into_iter().map(|(key, _)| key));
                                reread.insert(id.clone());
                                to_read.push((id, Fresh::Full));
                            } else {
                                report.runs_left_out += 1;
                            }
                        }
                    }
                }
                // Markers of runs this experiment does not list (an interrupted creation)
                // are garbage once old.
                for marks in changes.into_values() {
                    consumed.extend(
                        marks
                            .into_iter()
                            .filter(|(_, at)| past_grace(*at))
                            .map(|(key, _)| key),
                    );
                }
            }
        }
        report.runs_read = to_read.len();
        let read: Vec<(RunId, Read)> = futures::stream::iter(to_read)
            .map(|(id, fresh)| async move {
                let read = self
                    .indexable(id.clone(), fresh, experiment, now, grace)
                    .await;
                (id, read)
            })
            .buffer_unordered(self.options.concurrency)
            .collect()
            .await;
        let mut runs = kept;
        let mut left_out: BTreeMap<RunId, u64> = previous_left_out;
        for (id, read) in read {
            match read {
                Read::Indexed(run) => runs.push(run),
                Read::LeftOut(slots) => {
                    report.runs_left_out += 1;
                    if damaged || reread.contains(&id) || summary_keys.contains_key(&id) {
                        let slots = slots.unwrap_or(u64::MAX);
                        let entry = left_out.entry(id).or_default();
                        *entry = (*entry).max(slots);
                    }
                }
            }
        }
        runs.sort_by(|a, b| a.meta.run_id.cmp(&b.meta.run_id));
        // Leave out what would make the generation larger than readers accept (runs read
        // again keep their slots in `left_out`).
        let mut size: u64 = 4096;
        let total = runs.len();
        runs.retain(|run| {
            size += index_line_len(run) as u64;
            let fits = size <= limits::INDEX;
            if !fits && reread.contains(&run.meta.run_id) {
                left_out.insert(run.meta.run_id.clone(), run.next_seq);
            }
            fits
        });
        report.runs_left_out += total - runs.len();
        // A run indexed again needs no left-out entry: its line folded at least as much.
        for run in &runs {
            if left_out
                .get(&run.meta.run_id)
                .is_some_and(|slots| *slots <= run.next_seq)
            {
                left_out.remove(&run.meta.run_id);
            }
        }
        // Summaries the new generation supersedes (it holds, or left out after reading, at
        // least what they folded), and every summary of a run read again.
        let indexed: HashMap<&RunId, u64> = runs
            .iter()
            .map(|run| (&run.meta.run_id, run.next_seq))
            .collect();
        let mut folded: Vec<Path> = Vec::new();
        for (id, keys) in &summary_keys {
            let known = indexed.get(id).copied().max(left_out.get(id).copied());
            for key in keys {
                let superseded = match summary_seq.get(key) {
                    Some(slots) => known.is_some_and(|known| known >= *slots),
                    None => reread.contains(id),
                };
                if superseded || reread.contains(id) {
                    folded.push(key.clone());
                }
            }
        }
        // Nothing new to index and nothing to clean up: the previous generation stands.
        let unchanged = consumed.is_empty()
            && folded.is_empty()
            && match previous_seq {
                Some(_) => {
                    runs.len() == previous.len()
                        && runs.iter().all(|r| {
                            previous
                                .get(&r.meta.run_id)
                                .is_some_and(|p| Arc::ptr_eq(p, r))
                        })
                }
                None => runs.is_empty(),
            };
        if unchanged {
            report.runs_indexed = runs.len();
            return Ok(report);
        }
        let seq = previous_seq.map_or(0, |s| s + 1);
        let key = self.keys.index_generation(experiment, seq);
        let bytes = encode_index(seq, now, runs.iter().map(|run| &**run), &left_out);
        Self::check_size(&key, &bytes, GENERATION, limits::INDEX)?;
        match self.claim(&key, bytes).await? {
            Claim::Taken => {
                report.lost_races = 1;
                return Ok(report);
            }
            Claim::Won => {}
        }
        // This process holds what it wrote: its next fold or search need not read it back.
        let view = IndexView::built(
            listed_at,
            seq,
            &runs,
            left_out,
            marked,
            held.as_deref(),
            &self.base_uri,
        );
        self.index
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(experiment.clone(), Arc::new(view));
        report.generations_written = 1;
        report.runs_indexed = runs.len();
        report.markers_consumed = consumed.len();
        report.summaries_folded = folded.len();
        // Generations before the previous one: a reader that listed the previous one may
        // still be reading it.
        let old: Vec<Path> = listing
            .generations
            .iter()
            .filter(|(s, _, _)| previous_seq.is_some_and(|p| *s < p))
            .map(|(_, key, _)| key.clone())
            .collect();
        self.delete_quietly(folded).await;
        self.delete_quietly(consumed).await;
        self.delete_quietly(old).await;
        Ok(report)
    }

    /// Folds an experiment's ended runs' summaries into a new generation (a writer, every
    /// few hundred runs it ended).
    pub(crate) async fn fold_summaries(&self, experiment: &ExperimentId) -> Result<IndexReport> {
        self.build_experiment_index(experiment, Mode::Fold).await
    }

    /// The newest readable generation's runs and left-out runs, and the newest slot (taken
    /// even when unreadable, so the next generation goes after it). An unreadable one lost
    /// its left-out runs: every run with a summary is then left out with `u64::MAX` until
    /// read again, so that no summary older than what it had read is served.
    async fn previous_generation(&self, generations: &[(u64, Path, u64)]) -> Result<Previous> {
        let Some((seq, key, _)) = generations.last() else {
            return Ok(Previous::default());
        };
        let bytes = or_damage(self.get_opt(key, GENERATION, limits::INDEX).await)?;
        let mut previous = Previous {
            seq: Some(*seq),
            ..Previous::default()
        };
        match bytes.map(|b| b.and_then(|b| decode_index(&b))) {
            Some(Ok(decoded)) => {
                previous.runs = decoded
                    .runs
                    .into_iter()
                    .map(|run| (run.meta.run_id.clone(), Arc::new(run)))
                    .collect();
                previous.left_out = decoded.left_out;
            }
            Some(Err(reason)) => {
                self.note_damage(
                    key.as_ref(),
                    &format!("an unreadable run index generation, rebuilt: {reason}"),
                );
                previous.damaged = true;
            }
            // Removed by a newer builder since the listing: this build will lose its race.
            None => previous.damaged = true,
        }
        Ok(previous)
    }

    /// A run read from its records, as the index holds it, when it may be indexed.
    async fn indexable(
        &self,
        id: RunId,
        fresh: Fresh,
        experiment: &ExperimentId,
        now: i64,
        grace: i64,
    ) -> Read {
        let slot = self.run_slot(&id);
        let mut st = slot.state.lock().await;
        match self.load_run(&id, &mut st, fresh).await {
            Ok(()) => {}
            Err(TrackError::NotFound { .. }) => return Read::LeftOut(None),
            Err(e) => {
                tracing::debug!(run = %id, error = %e, "an unreadable run is not indexed");
                return Read::LeftOut(None);
            }
        }
        let Some(meta) = st.meta.as_ref() else {
            return Read::LeftOut(None);
        };
        let ended_long_ago = now.saturating_sub(st.status_at) >= grace;
        let whole = st.segments.is_empty()
            && st.bad_segments.is_empty()
            && st.unreadable_records == 0
            && meta.experiment_id == *experiment;
        if meta.status.is_terminal() && ended_long_ago && whole {
            Read::Indexed(Arc::new(IndexedRun {
                meta: meta.clone(),
                next_seq: st.next_seq,
                metrics: st.latest_metrics(),
                fresh: None,
            }))
        } else {
            Read::LeftOut(Some(st.next_seq))
        }
    }
}
