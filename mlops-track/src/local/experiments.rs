//! Experiments: one append-only log for the whole store (`experiments/log/<seq>.jsonl`),
//! folded into the current set of experiments and their names.
//!
//! One log for all experiments makes names unique without locks: a writer folds the log,
//! checks that the name is free, and claims the next slot with create-if-absent. If another
//! writer took the slot first, it folds that record too and checks again. So of two processes
//! creating `churn` at once, exactly one succeeds and the other gets `AlreadyExists`; renames
//! are checked the same way. The log is short (a few records per experiment) and cached;
//! every [`CHECKPOINT_EVERY`] records a checkpoint of the fold spares new readers the replay.

use std::collections::HashMap;

use super::keys::parse_seq;
use super::records::{
    ExperimentOp, ExperimentRecord, decode_checkpoint, decode_experiment_record, encode_checkpoint,
    encode_experiment_record, millis, new_txn, tick,
};
use super::{Claim, Inner, limits, or_damage};

/// The experiments-log checkpoint, as errors name it.
const CHECKPOINT: &str = "an experiments checkpoint";
use crate::entities::Experiment;
use crate::error::{Result, TrackError};
use futures::{StreamExt, TryStreamExt};
use mlops_core::{ExperimentId, ExperimentName, LifecycleStage, Tag, Timestamp};

/// A checkpoint is written after every this many records.
const CHECKPOINT_EVERY: u64 = 500;

/// One experiment as the log defines it (stored in checkpoints as their own record type).
#[derive(Clone, Debug)]
pub(crate) struct ExperimentEntry {
    pub(crate) experiment_id: ExperimentId,
    pub(crate) name: ExperimentName,
    pub(crate) creation_time: Timestamp,
    pub(crate) last_update_time: Timestamp,
    pub(crate) lifecycle: LifecycleStage,
    /// When the lifecycle last changed (the `at` clock); runs compare theirs with it.
    pub(crate) lifecycle_at: i64,
    pub(crate) tags: Vec<Tag>,
}

impl ExperimentEntry {
    pub(crate) fn to_experiment(&self, base_uri: &str) -> Experiment {
        Experiment {
            experiment_id: self.experiment_id.clone(),
            name: self.name.clone(),
            artifact_location: format!("{base_uri}/runs"),
            lifecycle_stage: self.lifecycle,
            creation_time: Some(self.creation_time),
            last_update_time: Some(self.last_update_time),
            tags: self.tags.clone(),
        }
    }
}

/// The folded experiments log.
#[derive(Default, Debug)]
pub(crate) struct ExperimentLog {
    /// The next slot; every record before it has been folded.
    next_seq: u64,
    /// Whether the newest checkpoint was looked for.
    started: bool,
    pub(crate) entries: HashMap<ExperimentId, ExperimentEntry>,
    by_name: HashMap<ExperimentName, ExperimentId>,
    /// Records skipped because they could not be read.
    pub(crate) unreadable: u64,
    /// When the log was last listed.
    refreshed: Option<std::time::Instant>,
    /// Whether an empty log was checked against the run markers.
    empty_checked: bool,
}

impl ExperimentLog {
    /// Whether the log was last listed longer than `interval` ago (or never).
    pub(crate) fn is_stale(&self, interval: std::time::Duration) -> bool {
        self.refreshed.is_none_or(|t| t.elapsed() >= interval)
    }

    pub(crate) fn get(&self, id: &ExperimentId) -> Option<&ExperimentEntry> {
        self.entries.get(id)
    }

    pub(crate) fn by_name(&self, name: &ExperimentName) -> Option<&ExperimentEntry> {
        self.by_name.get(name).and_then(|id| self.entries.get(id))
    }

    fn existing(&self, id: &ExperimentId) -> Result<&ExperimentEntry> {
        self.entries.get(id).ok_or_else(|| TrackError::NotFound {
            what: "experiment",
            id: id.to_string(),
        })
    }

    fn active(&self, id: &ExperimentId, action: &str) -> Result<&ExperimentEntry> {
        let entry = self.existing(id)?;
        if entry.lifecycle != LifecycleStage::Active {
            return Err(TrackError::InvalidState(format!(
                "cannot {action} experiment {id}: it is deleted (restore it first)"
            )));
        }
        Ok(entry)
    }

    fn name_free(&self, name: &ExperimentName, for_id: &ExperimentId) -> Result<()> {
        match self.by_name.get(name) {
            Some(owner) if owner != for_id => Err(TrackError::AlreadyExists {
                what: "experiment",
                name: name.to_string(),
            }),
            _ => Ok(()),
        }
    }

    /// Checks `op` against the current state: `Ok(true)` to write it, `Ok(false)` when it
    /// would change nothing.
    fn check(&self, op: &ExperimentOp) -> Result<bool> {
        match op {
            ExperimentOp::Create {
                experiment_id,
                name,
                ..
            } => {
                self.name_free(name, experiment_id)?;
                if self.entries.contains_key(experiment_id) {
                    return Err(TrackError::InvalidState(format!(
                        "experiment id {experiment_id} is taken"
                    )));
                }
                Ok(true)
            }
            ExperimentOp::Rename {
                experiment_id,
                name,
            } => {
                let entry = self.active(experiment_id, "rename")?;
                self.name_free(name, experiment_id)?;
                Ok(&entry.name != name)
            }
            ExperimentOp::Delete { experiment_id } => {
                self.active(experiment_id, "delete")?;
                Ok(true)
            }
            ExperimentOp::Restore { experiment_id } => {
                let entry = self.existing(experiment_id)?;
                if entry.lifecycle != LifecycleStage::Deleted {
                    return Err(TrackError::InvalidState(format!(
                        "cannot restore experiment {experiment_id}: it is not deleted"
                    )));
                }
                Ok(true)
            }
            ExperimentOp::SetTag { experiment_id, tag } => {
                let entry = self.active(experiment_id, "tag")?;
                Ok(!entry.tags.iter().any(|t| t == tag))
            }
        }
    }

    /// Folds one record. A record that breaks the rules (possible only if something other
    /// than this code wrote it) is ignored with a warning.
    fn apply(&mut self, record: &ExperimentRecord, key: &str) {
        if let Err(e) = self.check(&record.op) {
            tracing::warn!(key, error = %e, "ignoring an experiments-log record that breaks the rules");
            return;
        }
        let time = millis(record.at);
        match &record.op {
            ExperimentOp::Create {
                experiment_id,
                name,
                tags,
            } => {
                let mut entry = ExperimentEntry {
                    experiment_id: experiment_id.clone(),
                    name: name.clone(),
                    creation_time: time,
                    last_update_time: time,
                    lifecycle: LifecycleStage::Active,
                    lifecycle_at: record.at,
                    tags: Vec::new(),
                };
                for tag in tags {
                    set_tag(&mut entry.tags, tag);
                }
                self.by_name.insert(name.clone(), experiment_id.clone());
                self.entries.insert(experiment_id.clone(), entry);
            }
            ExperimentOp::Rename {
                experiment_id,
                name,
            } => {
                if let Some(entry) = self.entries.get_mut(experiment_id) {
                    self.by_name.remove(&entry.name);
                    entry.name = name.clone();
                    entry.last_update_time = time;
                    self.by_name.insert(name.clone(), experiment_id.clone());
                }
            }
            ExperimentOp::Delete { experiment_id } | ExperimentOp::Restore { experiment_id } => {
                if let Some(entry) = self.entries.get_mut(experiment_id) {
                    entry.lifecycle = if matches!(record.op, ExperimentOp::Delete { .. }) {
                        LifecycleStage::Deleted
                    } else {
                        LifecycleStage::Active
                    };
                    entry.lifecycle_at = record.at;
                    entry.last_update_time = time;
                }
            }
            ExperimentOp::SetTag { experiment_id, tag } => {
                if let Some(entry) = self.entries.get_mut(experiment_id) {
                    set_tag(&mut entry.tags, tag);
                }
            }
        }
    }
}

/// Sets a tag in a list, keeping first-set order (last write wins on the value).
fn set_tag(tags: &mut Vec<Tag>, tag: &Tag) {
    match tags.iter_mut().find(|t| t.key() == tag.key()) {
        Some(existing) => *existing = tag.clone(),
        None => tags.push(tag.clone()),
    }
}

impl Inner {
    /// Folds the records written since the last refresh. Returns the `txn`s folded.
    pub(crate) async fn refresh_experiments(&self, log: &mut ExperimentLog) -> Result<Vec<String>> {
        if !log.started {
            self.load_experiment_checkpoint(log).await?;
            log.started = true;
        }
        let dir = self.keys.experiment_log_dir();
        let offset = log
            .next_seq
            .checked_sub(1)
            .map(|seq| self.keys.experiment_record(seq));
        let listed = self.list(&dir, offset.as_ref()).await?;
        let slots: Vec<(u64, object_store::path::Path)> = listed
            .into_iter()
            .filter_map(|m| parse_seq(&m.location).map(|seq| (seq, m.location)))
            .filter(|(seq, _)| *seq >= log.next_seq)
            .collect();
        type Fetched = Option<Result<bytes::Bytes, String>>;
        let fetched: Vec<(u64, object_store::path::Path, Fetched)> = futures::stream::iter(slots)
            .map(|(seq, key)| async move {
                let bytes = or_damage(
                    self.get_opt(&key, "an experiments-log record", limits::RECORD)
                        .await,
                )?;
                Ok::<_, TrackError>((seq, key, bytes))
            })
            .buffered(self.options.concurrency)
            .try_collect()
            .await?;
        log.refreshed = Some(std::time::Instant::now());
        let mut txns = Vec::new();
        for (seq, key, bytes) in fetched {
            if seq > log.next_seq {
                self.note_damage(
                    key.as_ref(),
                    &format!(
                        "a gap in the experiments log: record {} is missing",
                        log.next_seq
                    ),
                );
            }
            log.next_seq = seq + 1;
            let Some(bytes) = bytes else { continue };
            match bytes.and_then(|bytes| decode_experiment_record(&bytes)) {
                Ok(record) => {
                    log.apply(&record, key.as_ref());
                    txns.push(record.txn);
                }
                Err(reason) => {
                    log.unreadable += 1;
                    self.note_damage(
                        key.as_ref(),
                        &format!("an unreadable experiments-log record: {reason}"),
                    );
                }
            }
        }
        if log.entries.is_empty() && !log.empty_checked {
            log.empty_checked = true;
            self.check_empty_log().await?;
        }
        Ok(txns)
    }

    /// An experiments log that holds no experiment while runs are filed under experiments
    /// was emptied (or lost): report it rather than list an empty store.
    async fn check_empty_log(&self) -> Result<()> {
        let dir = self.keys.experiment_runs_root();
        let markers = self.list(&dir, None).await?;
        let mut experiments: Vec<String> = markers
            .iter()
            .filter_map(|m| m.location.prefix_match(&dir)?.next())
            .map(|part| part.as_ref().to_owned())
            .collect();
        experiments.dedup();
        if !experiments.is_empty() {
            self.note_damage(
                self.keys.experiment_log_dir().as_ref(),
                &format!(
                    "the experiments log holds no experiment, but {} run(s) are filed under {} \
                     experiment(s) (first: {}); the log was emptied or lost",
                    markers.len(),
                    experiments.len(),
                    experiments[0]
                ),
            );
        }
        Ok(())
    }

    async fn load_experiment_checkpoint(&self, log: &mut ExperimentLog) -> Result<()> {
        let listed = self
            .list(&self.keys.experiment_checkpoint_dir(), None)
            .await?;
        for meta in listed.iter().rev() {
            if parse_seq(&meta.location).is_none() {
                continue;
            }
            let read = self
                .get_opt(&meta.location, CHECKPOINT, limits::CHECKPOINT)
                .await;
            let Some(bytes) = or_damage(read)? else {
                continue;
            };
            match bytes.and_then(|bytes| decode_checkpoint(&bytes)) {
                Ok((seq, experiments)) => {
                    log.next_seq = seq + 1;
                    for entry in experiments {
                        log.by_name
                            .insert(entry.name.clone(), entry.experiment_id.clone());
                        log.entries.insert(entry.experiment_id.clone(), entry);
                    }
                    return Ok(());
                }
                Err(reason) => {
                    self.note_damage(
                        meta.location.as_ref(),
                        &format!("an unreadable experiments checkpoint: {reason}"),
                    );
                }
            }
        }
        Ok(())
    }

    /// Appends the op that `build` makes from the current state, validated against every
    /// record before its slot. `build` returns `Ok(None)` when there is nothing to write.
    async fn append_experiment<F>(&self, build: F) -> Result<bool>
    where
        F: Fn(&ExperimentLog) -> Result<Option<ExperimentOp>> + Send,
    {
        let mut log = self.experiments.lock().await;
        self.refresh_experiments(&mut log).await?;
        loop {
            let Some(op) = build(&log)? else {
                return Ok(false);
            };
            if !log.check(&op)? {
                return Ok(false);
            }
            let record = ExperimentRecord {
                txn: new_txn(),
                at: tick(),
                op,
            };
            let seq = log.next_seq;
            let key = self.keys.experiment_record(seq);
            let bytes = encode_experiment_record(&record);
            Self::check_size(&key, &bytes, "an experiments-log record", limits::RECORD)?;
            match self.claim(&key, bytes).await? {
                Claim::Won => {
                    log.apply(&record, key.as_ref());
                    log.next_seq = seq + 1;
                    if (seq + 1) % CHECKPOINT_EVERY == 0 {
                        self.write_experiment_checkpoint(&log, seq).await;
                    }
                    return Ok(true);
                }
                Claim::Taken => {
                    // Another writer took the slot (or our earlier attempt did, its answer
                    // lost): fold it and check again.
                    let txns = self.refresh_experiments(&mut log).await?;
                    if txns.contains(&record.txn) {
                        return Ok(true);
                    }
                }
            }
        }
    }

    async fn write_experiment_checkpoint(&self, log: &ExperimentLog, seq: u64) {
        let key = self.keys.experiment_checkpoint(seq);
        let bytes = encode_checkpoint(seq, log.entries.values());
        // A checkpoint is an optimisation: one its readers would refuse is not written.
        let written = match Self::check_size(&key, &bytes, CHECKPOINT, limits::CHECKPOINT) {
            Ok(()) => self.claim(&key, bytes).await.map(|_| ()),
            Err(e) => Err(e),
        };
        if let Err(e) = written {
            tracing::warn!(key = %key, error = %e, "could not write an experiments checkpoint");
        }
    }

    /// The folded experiments log, refreshed.
    pub(crate) async fn experiments_now(
        &self,
    ) -> Result<tokio::sync::MutexGuard<'_, ExperimentLog>> {
        let mut log = self.experiments.lock().await;
        self.refresh_experiments(&mut log).await?;
        Ok(log)
    }

    pub(crate) async fn create_experiment(
        &self,
        name: &ExperimentName,
        tags: &[Tag],
    ) -> Result<ExperimentId> {
        let id = ExperimentId::generate();
        self.append_experiment(|_| {
            Ok(Some(ExperimentOp::Create {
                experiment_id: id.clone(),
                name: name.clone(),
                tags: tags.to_vec(),
            }))
        })
        .await?;
        Ok(id)
    }

    pub(crate) async fn get_experiment(&self, id: &ExperimentId) -> Result<Experiment> {
        let log = self.experiments_now().await?;
        Ok(log.existing(id)?.to_experiment(&self.base_uri))
    }

    pub(crate) async fn get_experiment_by_name(
        &self,
        name: &ExperimentName,
    ) -> Result<Option<Experiment>> {
        let log = self.experiments_now().await?;
        Ok(log.by_name(name).map(|e| e.to_experiment(&self.base_uri)))
    }

    pub(crate) async fn rename_experiment(
        &self,
        id: &ExperimentId,
        name: &ExperimentName,
    ) -> Result<()> {
        self.append_experiment(|_| {
            Ok(Some(ExperimentOp::Rename {
                experiment_id: id.clone(),
                name: name.clone(),
            }))
        })
        .await
        .map(drop)
    }

    pub(crate) async fn set_experiment_lifecycle(
        &self,
        id: &ExperimentId,
        stage: LifecycleStage,
    ) -> Result<()> {
        self.append_experiment(|_| {
            let experiment_id = id.clone();
            Ok(Some(match stage {
                LifecycleStage::Deleted => ExperimentOp::Delete { experiment_id },
                LifecycleStage::Active => ExperimentOp::Restore { experiment_id },
            }))
        })
        .await
        .map(drop)
    }

    pub(crate) async fn set_experiment_tag(&self, id: &ExperimentId, tag: &Tag) -> Result<()> {
        self.append_experiment(|_| {
            Ok(Some(ExperimentOp::SetTag {
                experiment_id: id.clone(),
                tag: tag.clone(),
            }))
        })
        .await
        .map(drop)
    }
}
