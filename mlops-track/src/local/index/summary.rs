//! Ended runs' summaries: the process that ends a run writes the run's folded state to
//! `index/<experiment>/ended/<run>.<uuid7>`, so that a new process searching right after a
//! training run reads one small object per just-ended run (or, once folded, one generation)
//! instead of the run's records, without waiting out the grace period
//! (`docs/FORMAT.md`, *Ended runs' summaries*).
//!
//! # Writing
//!
//! `update_run` to an ended status, when the run was not ended before:
//!
//! 1. claims the ending record (status, end time) in the meta log: from then on every
//!    writer that sees the run ended marks it before writing (`append_run`, `log_batch`);
//! 2. lists the run's meta log and metric files again (the writes of other processes that
//!    landed before step 1 are folded in) and compacts every segment into one Parquet file
//!    (a `Compacted` record);
//! 3. only when the run is then *whole* (no uncompacted or unreadable segment, no
//!    unreadable record, no segment of this process still being written) writes the
//!    summary: the folded meta (params, tags, inputs, attributes), the latest point of each
//!    metric, `next_seq` (the meta-log slots folded) and `fresh` (the ending record's time),
//!    framed and CRC-checked like a generation, with create-if-absent.
//!
//! Every `FOLD_MIN` summaries (or a thirty-second of the generation, when larger) this process
//! wrote to an experiment, it folds the experiment's summaries into a new generation
//! (`build.rs`, without reading any run's records), so readers read a bounded number of
//! summaries.
//!
//! # Why a reader may serve a summary without the grace period
//!
//! A reader serves a summary's run only when no change marker names it (and this process
//! has not written to it since it listed the index), exactly as for a generation's runs.
//! The claim: *every write to the run that lands after the summary was built, and that the
//! summary does not hold, is named by a marker created before the writer's call returns*.
//!
//! - **Meta writes** (params, tags, a status, a name, inputs, a deletion): each is validated
//!   against every record before its slot. One claimed after the ending record saw the run
//!   ended, and created a marker first (`append_run`); one claimed before it is folded into
//!   the summary (step 2 lists the meta log after step 1).
//! - **Metric segments** carry no slot. A writer decides on a view that may be up to a
//!   refresh interval old, so it may write to a run it still believes running after step 1
//!   (the *stale writer*). Hence the check after writing ([`Inner::check_after_write`]):
//!   after a segment lands, a writer that did not mark the run looks at the meta-log slot
//!   after its view (one `HEAD`, without the run's lock), folds any new records, and
//!   creates a marker when the run has ended, before `log_batch` returns. Slots are claimed in order, so if that slot was
//!   free when looked at, the ending record (if any) was claimed later, i.e. after the
//!   segment landed, and step 2 of that ending lists the segment. Otherwise the writer sees
//!   the ending and marks the run. Either way a summary never misses a returned write
//!   silently: a segment that lands between step 2 and the marker belongs to a call still
//!   in flight.
//! - **A crash between the steps**: before step 3 there is no summary (readers read the
//!   records, as before); the summary is written last, whole, with create-if-absent, so a
//!   torn or half-written summary cannot be read (a failed frame check is damage: the run is
//!   read from its records). A stale writer killed after its segment landed and before its
//!   check leaves a write no marker names: a search may miss those points until a builder
//!   reads the run's records again, which builders do for every `fresh` run once its ending
//!   is older than the grace period (and a search triggers such a build when many are) —
//!   the same bound the index had before for any write (a write lands within the grace
//!   period of its decision).
//! - **Clock skew** plays no part in serving a summary: it is validated by markers and slot
//!   order, never by comparing times. Times matter only to builders, which consume a marker
//!   and re-read a `fresh` run after the grace period, as before, with the writers' clocks
//!   (the grace period covers their differences).
//! - A **reopened** run (a status back to `RUNNING`) is marked by the reopening, so its
//!   summaries are not served; when it ends again a new summary is written, served once a
//!   builder consumed the marker (after the grace period) — until then its records are read.

use std::sync::PoisonError;

use mlops_core::{ExperimentId, RunId};
use object_store::ObjectStoreExt;
use object_store::path::Path;

use super::super::records::{decode_index, encode_index, new_txn};
use super::super::run_state::RunState;
use super::super::{Claim, Inner, limits, or_damage};
use super::IndexedRun;
use crate::error::Result;

/// An ended run's summary, as errors name it.
pub(crate) const SUMMARY: &str = "an ended run's summary";

/// A writer folds its experiment's summaries into a generation after writing this many
/// (or a thirty-second of the generation's runs, when more): each fold writes the whole
/// generation, so folding after a constant fraction of its size bounds the cost to a
/// constant per run ended, and readers read at most about that many summaries.
const FOLD_MIN: usize = 256;

/// ... and past `FOLD_MIN * FOLD_FRACTION` runs, after this fraction of the generation.
const FOLD_FRACTION: usize = 32;

impl Inner {
    /// Writes the summary of a run this call just ended (`st` is its state after the ending
    /// record, a fresh listing and a full compaction), when the run is whole; then folds the
    /// experiment's summaries when this process wrote enough of them. Failures are logged:
    /// the run has ended either way, and without a summary it is read from its records.
    pub(crate) async fn summarize_ended(&self, id: &RunId, st: &RunState) {
        if !self.options.run_index {
            return;
        }
        let Some(meta) = st.meta.as_ref() else {
            return;
        };
        let whole = meta.status.is_terminal()
            && st.segments.is_empty()
            && st.bad_segments.is_empty()
            && st.unreadable_records == 0
            && self.run_slot(id).first_in_flight().is_none();
        if !whole {
            tracing::debug!(run = %id, "an ended run with uncompacted or unreadable data gets no summary");
            return;
        }
        let summary = IndexedRun {
            meta: meta.clone(),
            next_seq: st.next_seq,
            metrics: st.latest_metrics(),
            fresh: Some(st.status_at),
        };
        let experiment = meta.experiment_id.clone();
        let key = self.keys.index_summary(&experiment, id, &new_txn());
        let bytes = encode_index(0, st.status_at, [&summary], &Default::default());
        let written = match Self::check_size(&key, &bytes, SUMMARY, limits::SUMMARY) {
            Ok(()) => self.claim(&key, bytes).await,
            Err(e) => Err(e),
        };
        match written {
            Ok(Claim::Won) => {}
            Ok(Claim::Taken) => return,
            Err(e) => {
                tracing::warn!(run = %id, error = %e,
                    "could not write an ended run's summary; searches read its records");
                return;
            }
        }
        if self.summaries_due(&experiment) {
            match self.fold_summaries(&experiment).await {
                Ok(report) => {
                    tracing::debug!(experiment = %experiment, ?report, "ended runs' summaries folded");
                    self.summaries_folded(&experiment, report.runs_indexed);
                }
                Err(e) => tracing::warn!(experiment = %experiment, error = %e,
                    "could not fold ended runs' summaries into the run index"),
            }
        }
    }

    /// Counts one summary written to `experiment`; whether it is time to fold (then the
    /// count starts again, so that of several enders at once only one folds).
    fn summaries_due(&self, experiment: &ExperimentId) -> bool {
        let mut counts = self
            .summaries_written
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let (written, indexed) = counts.entry(experiment.clone()).or_default();
        *written += 1;
        let due = *written >= FOLD_MIN.max(*indexed / FOLD_FRACTION);
        if due {
            *written = 0;
        }
        due
    }

    /// Records a fold's size: the next waits for a thirty-second of it.
    fn summaries_folded(&self, experiment: &ExperimentId, indexed: usize) {
        let mut counts = self
            .summaries_written
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        counts.entry(experiment.clone()).or_default().1 = indexed;
    }

    /// One summary: `None` when it is gone (folded since the listing) or damaged (reported:
    /// not one ended run of `experiment` named `run`, or a failed frame check).
    pub(crate) async fn read_summary(
        &self,
        experiment: &ExperimentId,
        run: &RunId,
        key: &Path,
        size: u64,
    ) -> Result<Option<IndexedRun>> {
        let Some(bytes) = or_damage(
            self.get_listed_opt(key, size, SUMMARY, limits::SUMMARY)
                .await,
        )?
        else {
            return Ok(None);
        };
        let decoded = bytes.and_then(|b| decode_index(&b)).and_then(|decoded| {
            let mut runs = decoded.runs.into_iter();
            match (runs.next(), runs.next()) {
                (Some(one), None)
                    if one.meta.run_id == *run
                        && one.meta.experiment_id == *experiment
                        && one.fresh.is_some() =>
                {
                    Ok(one)
                }
                _ => Err(format!(
                    "not the summary of one ended run {run} of experiment {experiment}"
                )),
            }
        });
        match decoded {
            Ok(summary) => Ok(Some(summary)),
            Err(reason) => {
                self.note_damage(
                    key.as_ref(),
                    &format!(
                        "an unreadable ended run's summary (the run is read from its records): \
                         {reason}"
                    ),
                );
                Ok(None)
            }
        }
    }

    /// Whether slot `seq` of `id`'s meta log is taken: the first half of the check after
    /// writing, made without the run's lock once a segment landed (`seq` is the slot after
    /// the view the write was decided on).
    pub(crate) async fn slot_taken(&self, id: &RunId, seq: u64) -> Result<bool> {
        let key = self.keys.run_record(id, seq);
        match self.store.head(&key).await {
            Ok(_) => Ok(true),
            Err(object_store::Error::NotFound { .. }) => Ok(false),
            Err(e) => Err(Self::storage(&key, e)),
        }
    }

    /// The second half of the check after writing: given whether the slot after the view a
    /// metrics write was decided on was taken once its segment landed ([`Self::slot_taken`]),
    /// folds the new records and marks the run when it has ended. See the module docs for
    /// why this keeps summaries exact: a free slot means any ending is claimed after the
    /// segment landed, and its ender lists the segment. A failure to look marks the run
    /// anyway (a marker is always safe). Done whether or not this process uses the index
    /// (like change markers): another process may have written the run's summary.
    pub(crate) async fn check_after_write(
        &self,
        id: &RunId,
        st: &mut RunState,
        slot_taken: Result<bool>,
    ) -> Result<()> {
        let ended = match slot_taken {
            Ok(false) => return Ok(()),
            Ok(true) => match self.refresh_run_meta(id, st).await {
                Ok(_) => st.meta.as_ref().is_some_and(|m| m.status.is_terminal()),
                Err(e) => {
                    tracing::warn!(run = %id, error = %e,
                        "could not check whether a run ended while logging to it; marking it");
                    true
                }
            },
            Err(e) => {
                tracing::warn!(run = %id, error = %e,
                    "could not check whether a run ended while logging to it; marking it");
                true
            }
        };
        if ended && let Some(meta) = st.meta.as_ref() {
            let experiment = meta.experiment_id.clone();
            self.mark_changed(&experiment, id).await?;
        }
        Ok(())
    }
}
