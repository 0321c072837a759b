//! A run's state in this process: its meta log folded into attributes, params, tags and
//! inputs ([`RunMeta`]), its compactions and uncompacted segments, and the `Run` built from
//! them. The folding rules are `docs/FORMAT.md`'s; reading and writing the log is
//! `runs.rs`.

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;
use std::time::Instant;

use mlops_core::{
    ExperimentId, LifecycleStage, Metric, Param, RunId, RunName, RunStatus, Tag, Timestamp,
};

use super::experiments::ExperimentEntry;
use super::metrics::Segment;
use super::records::{Compaction, RunOp, RunRecord};
use crate::entities::{DatasetInput, RUN_NAME_TAG, Run, RunData, RunInfo, latest_point};
use crate::error::{Result, TrackError};

/// What this process knows of one run.
#[derive(Default, Debug)]
pub(crate) struct RunState {
    /// The next slot of the meta log; every record before it has been folded.
    pub(crate) next_seq: u64,
    /// The folded meta log; `None` until record 0 has been read.
    pub(crate) meta: Option<RunMeta>,
    /// Meta records skipped because they could not be read.
    pub(crate) unreadable_records: u64,
    /// Compactions, in log order.
    pub(crate) compactions: Vec<Compaction>,
    /// Segments some compaction covers.
    pub(crate) covered: HashSet<String>,
    /// Parquet files a later compaction replaced.
    pub(crate) replaced: HashSet<String>,
    /// Segments no compaction covers yet, by name (which is time order).
    pub(crate) segments: BTreeMap<String, Arc<Segment>>,
    /// Segments that could not be read, skipped.
    pub(crate) bad_segments: HashSet<String>,
    /// When the meta log was last listed.
    pub(crate) refreshed: Option<Instant>,
    /// When the meta log and the metric files were last listed together.
    pub(crate) full_refreshed: Option<Instant>,
    /// When this process last wrote the run's lease.
    pub(crate) lease_renewed: Option<Instant>,
    /// When this process first wrote the run's lease.
    pub(crate) lease_since: Option<Timestamp>,
    /// The `at` of the record that set the current status (the creation, or the last
    /// `update` with a status): the run index waits a grace period after a run ends.
    pub(crate) status_at: i64,
    /// Bumped by every change to the folded view.
    pub(crate) version: u64,
    /// The run as last built: the version and lifecycle it was built at.
    view: Option<(u64, LifecycleStage, Arc<Run>)>,
}

/// A run's attributes, params, tags and inputs, folded from its meta log.
#[derive(Clone, Debug)]
pub(crate) struct RunMeta {
    pub(crate) run_id: RunId,
    pub(crate) experiment_id: ExperimentId,
    pub(crate) user_id: String,
    pub(crate) start_time: Timestamp,
    pub(crate) status: RunStatus,
    pub(crate) end_time: Option<Timestamp>,
    pub(crate) run_name: Option<RunName>,
    pub(crate) params: Vec<Param>,
    pub(crate) tags: Vec<Tag>,
    pub(crate) inputs: Vec<DatasetInput>,
    pub(crate) lifecycle: LifecycleStage,
    pub(crate) lifecycle_at: i64,
}

impl RunMeta {
    pub(crate) fn param(&self, key: &str) -> Option<&Param> {
        self.params.iter().find(|p| p.key().as_str() == key)
    }

    pub(crate) fn tag(&self, key: &str) -> Option<&Tag> {
        self.tags.iter().find(|t| t.key().as_str() == key)
    }

    fn set_tag(&mut self, tag: &Tag) {
        if tag.key().as_str() == RUN_NAME_TAG {
            // MLflow keeps the display name in this tag; the attribute follows it when the
            // value is a valid run name.
            self.run_name = RunName::parse(tag.value()).ok();
        }
        match self.tags.iter_mut().find(|t| t.key() == tag.key()) {
            Some(existing) => *existing = tag.clone(),
            None => self.tags.push(tag.clone()),
        }
    }

    fn set_run_name(&mut self, name: &RunName) {
        self.run_name = Some(name.clone());
        if let Ok(tag) = Tag::parse(RUN_NAME_TAG, name.as_str()) {
            match self.tags.iter_mut().find(|t| t.key() == tag.key()) {
                Some(existing) => *existing = tag,
                None => self.tags.push(tag),
            }
        }
    }

    /// The lifecycle as callers see it: the run's own, unless its experiment was deleted or
    /// restored after it changed (MLflow deletes and restores an experiment's runs with it).
    pub(crate) fn effective_lifecycle(
        &self,
        experiment: Option<&ExperimentEntry>,
    ) -> LifecycleStage {
        match experiment {
            Some(e) if e.lifecycle_at > self.lifecycle_at => e.lifecycle,
            _ => self.lifecycle,
        }
    }

    pub(crate) fn require_active(&self, experiment: Option<&ExperimentEntry>) -> Result<()> {
        if self.effective_lifecycle(experiment) != LifecycleStage::Active {
            return Err(TrackError::InvalidState(format!(
                "run {} is deleted (restore it first)",
                self.run_id
            )));
        }
        Ok(())
    }
}

impl RunState {
    /// Folds one meta record at `seq`.
    pub(crate) fn apply(&mut self, seq: u64, record: &RunRecord, key: &str) {
        self.version += 1;
        if seq == 0 {
            match &record.op {
                RunOp::Create {
                    run_id,
                    experiment_id,
                    user_id,
                    start_time,
                    run_name,
                    tags,
                } => {
                    let mut meta = RunMeta {
                        run_id: run_id.clone(),
                        experiment_id: experiment_id.clone(),
                        user_id: user_id.clone(),
                        start_time: *start_time,
                        status: RunStatus::Running,
                        end_time: None,
                        run_name: None,
                        params: Vec::new(),
                        tags: Vec::new(),
                        inputs: Vec::new(),
                        lifecycle: LifecycleStage::Active,
                        lifecycle_at: record.at,
                    };
                    for tag in tags {
                        meta.set_tag(tag);
                    }
                    if let Some(name) = run_name {
                        meta.set_run_name(name);
                    }
                    self.meta = Some(meta);
                    self.status_at = record.at;
                }
                _ => {
                    self.unreadable_records += 1;
                    tracing::warn!(
                        key,
                        "the first record of a run is not its creation; the run is unreadable"
                    );
                }
            }
            return;
        }
        let Some(meta) = self.meta.as_mut() else {
            return;
        };
        match &record.op {
            RunOp::Create { .. } => {
                tracing::warn!(key, "ignoring a second creation record");
            }
            RunOp::Update {
                status,
                end_time,
                run_name,
            } => {
                if let Some(status) = status {
                    meta.status = *status;
                    self.status_at = record.at;
                }
                if let Some(end_time) = end_time {
                    meta.end_time = Some(*end_time);
                }
                if let Some(name) = run_name {
                    meta.set_run_name(name);
                }
            }
            RunOp::Data { params, tags } => {
                for param in params {
                    match meta.param(param.key().as_str()) {
                        None => meta.params.push(param.clone()),
                        Some(existing) if existing.value() == param.value() => {}
                        Some(existing) => tracing::warn!(
                            key,
                            param = %param.key(),
                            kept = existing.value(),
                            ignored = param.value(),
                            "a param was logged twice with different values; the first stays"
                        ),
                    }
                }
                for tag in tags {
                    meta.set_tag(tag);
                }
            }
            RunOp::DeleteTag { key: tag_key } => {
                meta.tags.retain(|t| t.key() != tag_key);
            }
            RunOp::Lifecycle { stage } => {
                meta.lifecycle = *stage;
                meta.lifecycle_at = record.at;
            }
            RunOp::Inputs { inputs } => {
                for input in inputs {
                    if !has_input(&meta.inputs, input) {
                        meta.inputs.push(input.clone());
                    }
                }
            }
            RunOp::Compacted(compaction) => {
                for segment in &compaction.segments {
                    self.covered.insert(segment.clone());
                    self.segments.remove(segment);
                }
                self.replaced.extend(compaction.replaces.iter().cloned());
                self.compactions.push(compaction.clone());
            }
        }
    }

    /// The Parquet files that hold compacted points, in log order.
    pub(crate) fn live_parquet(&self) -> Vec<String> {
        self.compactions
            .iter()
            .filter(|c| !self.replaced.contains(&c.file))
            .map(|c| c.file.clone())
            .collect()
    }

    /// The latest point of each metric, sorted by key.
    pub(crate) fn latest_metrics(&self) -> Vec<Metric> {
        let mut latest: BTreeMap<&str, &Metric> = BTreeMap::new();
        let live: HashSet<String> = self.live_parquet().into_iter().collect();
        let compacted = self
            .compactions
            .iter()
            .filter(|c| live.contains(&c.file))
            .flat_map(|c| c.latest.iter());
        let segments = self.segments.values().flat_map(|s| s.latest.values());
        for point in compacted.chain(segments) {
            let entry = latest.entry(point.key.as_str()).or_insert(point);
            if let Some(best) = latest_point([*entry, point]) {
                *entry = best;
            }
        }
        latest.into_values().cloned().collect()
    }

    /// Adds an uncovered segment.
    pub(crate) fn add_segment(&mut self, name: String, segment: Arc<Segment>) {
        if !self.covered.contains(&name) {
            self.version += 1;
            self.segments.insert(name, segment);
        }
    }

    /// The run as the trait returns it, shared: built again only after a change.
    pub(crate) fn view(
        &mut self,
        experiment: Option<&ExperimentEntry>,
        base_uri: &str,
    ) -> Option<Arc<Run>> {
        let lifecycle = self.meta.as_ref()?.effective_lifecycle(experiment);
        if let Some((version, built_for, run)) = &self.view
            && *version == self.version
            && *built_for == lifecycle
        {
            return Some(Arc::clone(run));
        }
        let run = Arc::new(self.to_run(experiment, base_uri)?);
        self.view = Some((self.version, lifecycle, Arc::clone(&run)));
        Some(run)
    }

    /// The run as the trait returns it, or `None` before its creation record was read.
    pub(crate) fn to_run(
        &self,
        experiment: Option<&ExperimentEntry>,
        base_uri: &str,
    ) -> Option<Run> {
        let meta = self.meta.as_ref()?;
        Some(meta.to_run(self.latest_metrics(), experiment, base_uri))
    }
}

impl RunMeta {
    /// The run as the trait returns it, with `metrics` (the latest point of each metric).
    pub(crate) fn to_run(
        &self,
        metrics: Vec<Metric>,
        experiment: Option<&ExperimentEntry>,
        base_uri: &str,
    ) -> Run {
        let mut params = self.params.clone();
        params.sort_by(|a, b| a.key().cmp(b.key()));
        let mut tags = self.tags.clone();
        tags.sort_by(|a, b| a.key().cmp(b.key()));
        Run {
            info: RunInfo {
                run_id: self.run_id.clone(),
                run_name: self.run_name.clone(),
                experiment_id: self.experiment_id.clone(),
                user_id: self.user_id.clone(),
                status: self.status,
                start_time: self.start_time,
                end_time: self.end_time,
                artifact_uri: format!("{base_uri}/runs/{}/artifacts", self.run_id),
                lifecycle_stage: self.effective_lifecycle(experiment),
            },
            data: RunData {
                metrics,
                params,
                tags,
            },
            inputs: self.inputs.clone(),
        }
    }
}

/// Whether an input with the same dataset name and digest is there (MLflow's rule).
pub(crate) fn has_input(inputs: &[DatasetInput], input: &DatasetInput) -> bool {
    inputs
        .iter()
        .any(|i| i.dataset.name == input.dataset.name && i.dataset.digest == input.dataset.digest)
}
