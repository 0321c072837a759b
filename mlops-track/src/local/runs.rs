//! Runs: each run's meta log (`runs/<id>/meta/<seq>.jsonl`), read and written; folded into
//! a [`RunState`] (`run_state.rs`), plus its metric files (see `metrics.rs`).
//!
//! A writer validates a change against its folded view and claims the next slot with
//! create-if-absent. Its view holds every record before that slot, so a successful claim
//! means the change was checked against the whole history: a param can never take two
//! values, even when several processes log to one run. When the slot is taken, the writer
//! folds the new records and checks again.

use std::sync::{Arc, PoisonError};
use std::time::Instant;

use futures::{StreamExt, TryStreamExt};
use mlops_core::{
    ExperimentId, LifecycleStage, Metric, Param, RunId, RunName, RunStatus, Tag, TagKey, Timestamp,
};

use super::experiments::ExperimentEntry;
use super::keys::{new_metrics_name, parse_seq};
use super::listing::StoreListing;
use super::records::{RunOp, RunRecord, decode_run_record, encode_run_record, new_txn, tick};
use super::run_name_generator::random_run_name;
use super::run_state::{RunState, has_input};
use super::{Claim, Inner, RunIds, RunSlot, limits, or_damage};
use crate::entities::{DatasetInput, RUN_NAME_TAG, Run, RunInfo};
use crate::error::{Result, TrackError};
use crate::store::NewRun;

/// A run's meta-log record, as errors name it.
const RUN_RECORD: &str = "a run record";

/// How fresh a run's view must be before an operation.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Fresh {
    /// Meta log and metric files listed now.
    Full,
    /// Meta log listed now.
    Meta,
    /// The cached view, if its meta log was listed within the refresh interval.
    Recent,
    /// The cached view, if its meta log and metric files were listed within the refresh
    /// interval (searches).
    RecentFull,
}

/// `record` when it may be in `run`'s log: a creation record names the run it creates,
/// which must be the run whose folder holds it (a record copied or linked from another run
/// would otherwise make this run read as that one).
fn belongs_to(run: &RunId, record: RunRecord) -> std::result::Result<RunRecord, String> {
    match &record.op {
        RunOp::Create { run_id, .. } if run_id != run => Err(format!(
            "the record creates run {run_id}, but lies in the log of run {run}"
        )),
        _ => Ok(record),
    }
}

impl Inner {
    /// Folds the meta records written since the last refresh; returns their `txn`s.
    pub(crate) async fn refresh_run_meta(
        &self,
        id: &RunId,
        st: &mut RunState,
    ) -> Result<Vec<String>> {
        let offset = st
            .next_seq
            .checked_sub(1)
            .map(|s| self.keys.run_record(id, s));
        let listed = self
            .list(&self.keys.run_meta_dir(id), offset.as_ref())
            .await?;
        let slots = listed
            .into_iter()
            .filter_map(|m| parse_seq(&m.location).map(|seq| (seq, m.location, m.size)))
            .collect();
        self.fold_meta(id, st, slots, Instant::now()).await
    }

    /// Reads and folds the records among `slots` (a listing of the run's meta log: slot,
    /// key and size, in slot order, made at `listed_at`) that this process has not folded yet; returns their
    /// `txn`s.
    pub(crate) async fn fold_meta(
        &self,
        id: &RunId,
        st: &mut RunState,
        slots: Vec<(u64, object_store::path::Path, u64)>,
        listed_at: Instant,
    ) -> Result<Vec<String>> {
        let slots: Vec<(u64, object_store::path::Path, u64)> = slots
            .into_iter()
            .filter(|(seq, _, _)| *seq >= st.next_seq)
            .collect();
        type Fetched = Option<Result<bytes::Bytes, String>>;
        let fetched: Vec<(u64, object_store::path::Path, Fetched)> = futures::stream::iter(slots)
            .map(|(seq, key, size)| async move {
                let bytes = or_damage(
                    self.get_listed_opt(&key, size, RUN_RECORD, limits::RECORD)
                        .await,
                )?;
                Ok::<_, TrackError>((seq, key, bytes))
            })
            .buffered(self.options.concurrency)
            .try_collect()
            .await?;
        let mut txns = Vec::new();
        for (seq, key, bytes) in fetched {
            if seq > st.next_seq {
                self.note_damage(
                    key.as_ref(),
                    &format!(
                        "a gap in a run's meta log: record {} is missing",
                        st.next_seq
                    ),
                );
            }
            st.next_seq = seq + 1;
            let Some(bytes) = bytes else { continue };
            match bytes
                .and_then(|bytes| decode_run_record(&bytes))
                .and_then(|record| belongs_to(id, record))
            {
                Ok(record) => {
                    st.apply(seq, &record, key.as_ref());
                    txns.push(record.txn);
                }
                Err(reason) => {
                    st.unreadable_records += 1;
                    self.note_damage(key.as_ref(), &format!("an unreadable run record: {reason}"));
                }
            }
        }
        st.refreshed = Some(listed_at);
        Ok(txns)
    }

    /// Brings a run's view up to date as `fresh` asks; fails with `NotFound` when the run does
    /// not exist and `Corrupt` when its creation record cannot be read.
    pub(crate) async fn load_run(&self, id: &RunId, st: &mut RunState, fresh: Fresh) -> Result<()> {
        let due = st
            .refreshed
            .is_none_or(|t| t.elapsed() >= self.options.refresh_interval);
        let fresh = if st.meta.is_none() {
            Fresh::Full
        } else {
            fresh
        };
        match fresh {
            Fresh::Full => self.refresh_run_full(id, st).await?,
            Fresh::Meta => {
                self.refresh_run_meta(id, st).await?;
            }
            Fresh::Recent if due => {
                self.refresh_run_meta(id, st).await?;
            }
            Fresh::Recent => {}
            Fresh::RecentFull => {
                let due = st
                    .full_refreshed
                    .is_none_or(|t| t.elapsed() >= self.options.refresh_interval);
                if due {
                    self.refresh_run_full(id, st).await?;
                }
            }
        }
        self.loaded(id, st)
    }

    /// `Ok` when the run's view has its creation record; else `NotFound` (no record at all:
    /// the run's cache entry is dropped) or `Corrupt` (record 0 unreadable).
    pub(crate) fn loaded(&self, id: &RunId, st: &RunState) -> Result<()> {
        if st.meta.is_some() {
            return Ok(());
        }
        if st.next_seq == 0 {
            self.forget_run(id);
            return Err(TrackError::NotFound {
                what: "run",
                id: id.to_string(),
            });
        }
        Err(TrackError::Corrupt {
            path: self.keys.run_record(id, 0).to_string(),
            reason: "the run's creation record cannot be read".to_owned(),
        })
    }

    /// [`Self::refresh_run_full`] from a listing of every run: folds the records and
    /// segments the listing names that this process has not seen, without listing the run's
    /// folders. When the two disagree (a segment this process knew has gone: a compaction
    /// the listing caught half-way), or the listing does not have the run, lists the run's
    /// own folders as usual.
    pub(crate) async fn refresh_run_listed(
        &self,
        id: &RunId,
        st: &mut RunState,
        listing: &StoreListing,
    ) -> Result<()> {
        let Some(run) = listing.runs.get(id) else {
            return self.refresh_run_full(id, st).await;
        };
        self.fold_meta(id, st, run.meta.clone(), listing.listed_at)
            .await?;
        if st.meta.is_none() {
            st.full_refreshed = st.refreshed;
            return Ok(());
        }
        let segments = run
            .metric_files
            .iter()
            .filter(|n| n.ends_with(".jsonl"))
            .cloned()
            .collect();
        if self.fold_metric_files(id, st, segments).await? {
            st.full_refreshed = Some(listing.listed_at);
            Ok(())
        } else {
            self.refresh_run_full(id, st).await
        }
    }

    /// Lists the meta log and the metric files until both agree (a compaction by another
    /// process between the two listings is folded on the next round).
    pub(crate) async fn refresh_run_full(&self, id: &RunId, st: &mut RunState) -> Result<()> {
        for _ in 0..8 {
            self.refresh_run_meta(id, st).await?;
            if st.meta.is_none() || self.refresh_run_metrics(id, st).await? {
                st.full_refreshed = st.refreshed;
                return Ok(());
            }
        }
        tracing::warn!(run = %id, "a run's metric files kept changing while being listed");
        Ok(())
    }

    /// The cached experiment entry of a run (refreshed within the refresh interval).
    pub(crate) async fn experiment_of(
        &self,
        experiment: &ExperimentId,
    ) -> Result<Option<ExperimentEntry>> {
        let mut log = self.experiments.lock().await;
        if log.get(experiment).is_none() || log.is_stale(self.options.refresh_interval) {
            self.refresh_experiments(&mut log).await?;
        }
        Ok(log.get(experiment).cloned())
    }

    /// Appends the op `build` makes from the run's current view, validated against every
    /// record before its slot (see the module docs). Returns whether a record was written.
    pub(crate) async fn append_run<F>(
        &self,
        id: &RunId,
        st: &mut RunState,
        build: F,
    ) -> Result<bool>
    where
        F: Fn(&RunState, Option<&ExperimentEntry>) -> Result<Option<RunOp>> + Send,
    {
        let mut marked = false;
        loop {
            let experiment = match st.meta.as_ref() {
                Some(meta) => self.experiment_of(&meta.experiment_id).await?,
                None => None,
            };
            let Some(op) = build(st, experiment.as_ref())? else {
                return Ok(false);
            };
            // A change to an ended run may make an index stale: mark it first. (A compaction
            // changes nothing a search sees.)
            if !marked
                && !matches!(op, RunOp::Compacted(_))
                && let Some(meta) = st.meta.as_ref()
                && meta.status.is_terminal()
            {
                let experiment_id = meta.experiment_id.clone();
                self.mark_changed(&experiment_id, id).await?;
                marked = true;
            }
            let record = RunRecord {
                txn: new_txn(),
                at: tick(),
                op,
            };
            let seq = st.next_seq;
            let key = self.keys.run_record(id, seq);
            let bytes = encode_run_record(&record);
            Self::check_size(&key, &bytes, RUN_RECORD, limits::RECORD)?;
            match self.claim(&key, bytes).await? {
                Claim::Won => {
                    st.apply(seq, &record, key.as_ref());
                    st.next_seq = seq + 1;
                    self.touched(id);
                    return Ok(true);
                }
                Claim::Taken => {
                    let txns = self.refresh_run_meta(id, st).await?;
                    if txns.contains(&record.txn) {
                        return Ok(true);
                    }
                }
            }
        }
    }

    pub(crate) async fn create_run(&self, new: NewRun) -> Result<Run> {
        let experiment = {
            let log = self.experiments_now().await?;
            log.get(&new.experiment_id)
                .cloned()
                .ok_or_else(|| TrackError::NotFound {
                    what: "experiment",
                    id: new.experiment_id.to_string(),
                })?
        };
        if experiment.lifecycle != LifecycleStage::Active {
            return Err(TrackError::InvalidState(format!(
                "cannot create a run in experiment {}: it is deleted",
                experiment.experiment_id
            )));
        }
        let name_tag = new
            .tags
            .iter()
            .rev()
            .find(|t| t.key().as_str() == RUN_NAME_TAG);
        if let (Some(name), Some(tag)) = (&new.run_name, name_tag)
            && name.as_str() != tag.value()
        {
            return Err(TrackError::InvalidArgument(format!(
                "run_name {:?} and tag {RUN_NAME_TAG} {:?} disagree",
                name.as_str(),
                tag.value()
            )));
        }
        let run_name = match (&new.run_name, name_tag) {
            (Some(name), _) => Some(name.clone()),
            (None, Some(tag)) => RunName::parse(tag.value()).ok(),
            (None, None) => random_run_name(),
        };
        let id = RunId::generate();
        let marker = self.keys.run_marker(&new.experiment_id, &id);
        if let Claim::Taken = self.claim(&marker, b"{}\n".to_vec()).await? {
            return Err(TrackError::InvalidState(format!("run id {id} is taken")));
        }
        let record = RunRecord {
            txn: new_txn(),
            at: tick(),
            op: RunOp::Create {
                run_id: id.clone(),
                experiment_id: new.experiment_id.clone(),
                user_id: new.user_id,
                start_time: new.start_time,
                run_name: if name_tag.is_some() && new.run_name.is_none() {
                    None
                } else {
                    run_name
                },
                tags: new.tags,
            },
        };
        let key = self.keys.run_record(&id, 0);
        let bytes = encode_run_record(&record);
        Self::check_size(&key, &bytes, RUN_RECORD, limits::RECORD)?;
        if let Claim::Taken = self.claim(&key, bytes).await? {
            return Err(TrackError::InvalidState(format!("run id {id} is taken")));
        }
        self.note_run_id(&new.experiment_id, &id);
        let slot = self.run_slot(&id);
        let mut st = slot.state.lock().await;
        st.apply(0, &record, key.as_ref());
        st.next_seq = 1;
        st.refreshed = Some(Instant::now());
        self.renew_lease(&id, &mut st).await;
        st.to_run(Some(&experiment), &self.base_uri)
            .ok_or_else(|| TrackError::InvalidState(format!("run {id} could not be read back")))
    }

    pub(crate) async fn get_run(&self, id: &RunId) -> Result<Run> {
        let slot = self.run_slot(id);
        let mut st = slot.state.lock().await;
        self.load_run(id, &mut st, Fresh::Full).await?;
        self.run_view(id, &st).await
    }

    /// Builds the run from a loaded state, with its experiment's lifecycle.
    pub(crate) async fn run_view(&self, id: &RunId, st: &RunState) -> Result<Run> {
        let experiment = match st.meta.as_ref() {
            Some(meta) => self.experiment_of(&meta.experiment_id).await?,
            None => None,
        };
        st.to_run(experiment.as_ref(), &self.base_uri)
            .ok_or_else(|| TrackError::NotFound {
                what: "run",
                id: id.to_string(),
            })
    }

    pub(crate) async fn update_run(
        &self,
        id: &RunId,
        status: Option<RunStatus>,
        end_time: Option<Timestamp>,
        run_name: Option<&RunName>,
    ) -> Result<RunInfo> {
        let slot = self.run_slot(id);
        let mut st = slot.state.lock().await;
        self.load_run(id, &mut st, Fresh::Meta).await?;
        let was_ended = st.meta.as_ref().is_some_and(|m| m.status.is_terminal());
        let written = self
            .append_run(id, &mut st, |st, experiment| {
                let meta = st.meta.as_ref().ok_or_else(|| not_found(id))?;
                meta.require_active(experiment)?;
                if status.is_none() && end_time.is_none() && run_name.is_none() {
                    return Ok(None);
                }
                Ok(Some(RunOp::Update {
                    status,
                    end_time,
                    run_name: run_name.cloned(),
                }))
            })
            .await?;
        if status.is_some_and(RunStatus::is_terminal) {
            // The run has ended: fold its metrics into one Parquet file, from a listing made
            // after the ending record (so every segment that landed before it is in), and
            // write its summary for the run index (`index/summary.rs`). The status change is
            // already durable; a failed compaction is retried by the next one, and a run
            // without a summary is read from its records.
            let listed = if self.options.run_index {
                self.refresh_run_full(id, &mut st).await
            } else {
                Ok(())
            };
            let compacted = match listed {
                Ok(()) => self.compact_locked(id, &mut st, true).await.map(drop),
                Err(e) => Err(e),
            };
            match compacted {
                Ok(()) if written && !was_ended => self.summarize_ended(id, &st).await,
                Ok(()) => {}
                Err(e) => {
                    tracing::warn!(run = %id, error = %e, "could not compact a finished run's metrics");
                }
            }
        }
        self.renew_lease(id, &mut st).await;
        Ok(self.run_view(id, &st).await?.info)
    }

    pub(crate) async fn set_run_lifecycle(&self, id: &RunId, target: LifecycleStage) -> Result<()> {
        let slot = self.run_slot(id);
        let mut st = slot.state.lock().await;
        self.load_run(id, &mut st, Fresh::Meta).await?;
        self.append_run(id, &mut st, |st, experiment| {
            let meta = st.meta.as_ref().ok_or_else(|| not_found(id))?;
            if meta.effective_lifecycle(experiment) == target {
                return Ok(None);
            }
            Ok(Some(RunOp::Lifecycle { stage: target }))
        })
        .await
        .map(drop)
    }

    pub(crate) async fn log_batch(
        &self,
        id: &RunId,
        metrics: &[Metric],
        params: &[Param],
        tags: &[Tag],
    ) -> Result<()> {
        super::check_batch(metrics, params, tags)?;
        let slot = self.run_slot(id);
        let mut st = slot.state.lock().await;
        let has_meta = !params.is_empty() || !tags.is_empty();
        self.load_run(
            id,
            &mut st,
            if has_meta { Fresh::Meta } else { Fresh::Recent },
        )
        .await?;
        if has_meta {
            self.append_run(id, &mut st, |st, experiment| {
                let meta = st.meta.as_ref().ok_or_else(|| not_found(id))?;
                meta.require_active(experiment)?;
                let mut new_params = Vec::new();
                for param in params {
                    match meta.param(param.key().as_str()) {
                        None => new_params.push(param.clone()),
                        Some(existing) if existing.value() == param.value() => {}
                        Some(existing) => {
                            return Err(TrackError::ParamConflict {
                                run: id.to_string(),
                                key: param.key().to_string(),
                                existing: existing.value().to_owned(),
                                new: param.value().to_owned(),
                            });
                        }
                    }
                }
                // The last value of a key repeated in one batch wins; unchanged tags are not
                // written again.
                let mut new_tags: Vec<Tag> = Vec::new();
                for tag in tags {
                    new_tags.retain(|t| t.key() != tag.key());
                    new_tags.push(tag.clone());
                }
                new_tags.retain(|t| meta.tag(t.key().as_str()) != Some(t));
                if new_params.is_empty() && new_tags.is_empty() {
                    return Ok(None);
                }
                Ok(Some(RunOp::Data {
                    params: new_params,
                    tags: new_tags,
                }))
            })
            .await?;
        } else if !metrics.is_empty() {
            let experiment = match st.meta.as_ref() {
                Some(meta) => self.experiment_of(&meta.experiment_id).await?,
                None => None,
            };
            st.meta
                .as_ref()
                .ok_or_else(|| not_found(id))?
                .require_active(experiment.as_ref())?;
        }
        if metrics.is_empty() {
            self.renew_lease_if_due(id, &mut st).await;
            return Ok(());
        }
        // Metrics logged to an ended run change what an index holds of it.
        let marked = match st.meta.as_ref() {
            Some(meta) if meta.status.is_terminal() => {
                let experiment_id = meta.experiment_id.clone();
                self.mark_changed(&experiment_id, id).await?;
                true
            }
            _ => false,
        };
        self.touched(id);
        // The segment's name is taken under the lock, so names (and thus history order)
        // follow the order of the calls; the write itself runs unlocked, so that concurrent
        // calls on one run write (and fsync) in parallel.
        let name = new_metrics_name("jsonl");
        let in_flight = InFlight::new(&slot, &name);
        let decided_at = st.next_seq;
        drop(st);
        let segment = self.write_segment(id, &name, metrics).await?;
        // The run may have ended since this call decided it was running: an ended run's
        // summary may lack these points, so look, and mark it (`index/summary.rs`).
        let slot_taken = if marked {
            None
        } else {
            Some(self.slot_taken(id, decided_at).await)
        };
        let mut st = slot.state.lock().await;
        drop(in_flight);
        st.add_segment(name, segment);
        if let Some(slot_taken) = slot_taken {
            self.check_after_write(id, &mut st, slot_taken).await?;
        }
        if st.segments.len() >= self.options.compact_after_segments
            && let Err(e) = self.compact_locked(id, &mut st, false).await
        {
            tracing::warn!(run = %id, error = %e, "could not compact a run's metric segments");
        }
        self.renew_lease_if_due(id, &mut st).await;
        Ok(())
    }

    pub(crate) async fn log_inputs(&self, id: &RunId, inputs: &[DatasetInput]) -> Result<()> {
        let slot = self.run_slot(id);
        let mut st = slot.state.lock().await;
        self.load_run(id, &mut st, Fresh::Meta).await?;
        self.append_run(id, &mut st, |st, experiment| {
            let meta = st.meta.as_ref().ok_or_else(|| not_found(id))?;
            meta.require_active(experiment)?;
            let mut new_inputs: Vec<DatasetInput> = Vec::new();
            for input in inputs {
                if !has_input(&meta.inputs, input) && !has_input(&new_inputs, input) {
                    new_inputs.push(input.clone());
                }
            }
            Ok((!new_inputs.is_empty()).then_some(RunOp::Inputs { inputs: new_inputs }))
        })
        .await
        .map(drop)
    }

    pub(crate) async fn delete_tag(&self, id: &RunId, key: &TagKey) -> Result<()> {
        let slot = self.run_slot(id);
        let mut st = slot.state.lock().await;
        self.load_run(id, &mut st, Fresh::Meta).await?;
        self.append_run(id, &mut st, |st, experiment| {
            let meta = st.meta.as_ref().ok_or_else(|| not_found(id))?;
            meta.require_active(experiment)?;
            if meta.tag(key.as_str()).is_none() {
                return Err(TrackError::NotFound {
                    what: "tag",
                    id: format!("{key} of run {id}"),
                });
            }
            Ok(Some(RunOp::DeleteTag { key: key.clone() }))
        })
        .await
        .map(drop)
    }

    /// The ids of the runs an experiment holds, from its run markers (listed again when the
    /// last listing is older than the refresh interval; this process's creations are added at
    /// once).
    pub(crate) async fn run_ids_of(&self, experiment: &ExperimentId) -> Result<RunIds> {
        {
            let cache = self.run_ids.lock().unwrap_or_else(PoisonError::into_inner);
            if let Some((listed, ids)) = cache.get(experiment)
                && listed.elapsed() < self.options.refresh_interval
            {
                return Ok(Arc::clone(ids));
            }
        }
        let started = Instant::now();
        let listed = self
            .list(&self.keys.experiment_runs_dir(experiment), None)
            .await?;
        let ids: RunIds = Arc::new(
            listed
                .iter()
                .filter_map(|m| m.location.filename().and_then(|n| RunId::parse(n).ok()))
                .collect(),
        );
        let mut cache = self.run_ids.lock().unwrap_or_else(PoisonError::into_inner);
        cache.insert(experiment.clone(), (started, Arc::clone(&ids)));
        Ok(ids)
    }

    /// Adds a run this process created to the cached run ids of its experiment.
    fn note_run_id(&self, experiment: &ExperimentId, run: &RunId) {
        let mut cache = self.run_ids.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some((_, ids)) = cache.get_mut(experiment) {
            Arc::make_mut(ids).push(run.clone());
        }
    }

    /// Every run id in the store, from the `runs/` folder.
    pub(crate) async fn all_run_ids(&self) -> Result<Vec<RunId>> {
        let dir = self.keys.runs_dir();
        let listed = self
            .store
            .list_with_delimiter(Some(&dir))
            .await
            .map_err(|e| Self::storage(&dir, e))?;
        let mut ids: Vec<RunId> = listed
            .common_prefixes
            .iter()
            .filter_map(|p| p.filename().and_then(|n| RunId::parse(n).ok()))
            .collect();
        ids.sort();
        Ok(ids)
    }
}

/// Marks a segment name as being written until dropped (also when the call is cancelled).
struct InFlight<'a> {
    slot: &'a RunSlot,
    name: String,
}

impl<'a> InFlight<'a> {
    fn new(slot: &'a RunSlot, name: &str) -> Self {
        slot.in_flight
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(name.to_owned());
        Self {
            slot,
            name: name.to_owned(),
        }
    }
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.slot
            .in_flight
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .remove(&self.name);
    }
}

fn not_found(id: &RunId) -> TrackError {
    TrackError::NotFound {
        what: "run",
        id: id.to_string(),
    }
}
