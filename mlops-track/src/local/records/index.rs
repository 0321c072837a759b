//! A generation of an experiment's run index as stored: a header line (`{"seq", "built_at"}`)
//! then one line per indexed run, holding the folded run a search needs (attributes, params,
//! tags, inputs, the latest value of each metric) and the meta-log slot it was folded up to.
//! Its lines are their own record types, apart from the in-memory `RunMeta`.

use std::collections::BTreeMap;

use mlops_core::{
    ExperimentId, LifecycleStage, Metric, Param, RunId, RunName, RunStatus, Tag, Timestamp,
};
use serde::{Deserialize, Serialize};

use super::values::{inputs, params, points, tags};
use crate::entities::DatasetInput;
use crate::local::index::IndexedRun;
use crate::local::run_state::RunMeta;

/// The first line of a generation.
#[derive(Serialize, Deserialize)]
pub(super) struct GenerationHeader {
    /// The generation's slot.
    pub(super) seq: u64,
    /// When it was built (the `at` clock).
    pub(super) built_at: i64,
    /// Runs a builder read from their records and left out, with the meta-log slots it
    /// read: an ended run's summary that folded no more than that is stale, and not served.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub(super) left_out: BTreeMap<RunId, u64>,
}

/// One indexed run.
#[derive(Serialize, Deserialize)]
pub(super) struct IndexedRunRecord {
    run_id: RunId,
    experiment_id: ExperimentId,
    user_id: String,
    start_time: Timestamp,
    status: RunStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    end_time: Option<Timestamp>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    run_name: Option<RunName>,
    #[serde(default, with = "params")]
    params: Vec<Param>,
    #[serde(default, with = "tags")]
    tags: Vec<Tag>,
    #[serde(default, with = "inputs")]
    inputs: Vec<DatasetInput>,
    lifecycle: LifecycleStage,
    lifecycle_at: i64,
    /// The meta-log slots folded in: records `0..next_seq`.
    next_seq: u64,
    /// The latest point of each metric.
    #[serde(default, with = "points")]
    metrics: Vec<Metric>,
    /// Set on a run taken from the summary its ender wrote: the `at` of its ending record.
    /// A builder reads such a run from its records again once that is older than the grace
    /// period (`docs/FORMAT.md`, *Ended runs' summaries*).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    fresh: Option<i64>,
}

impl From<&IndexedRun> for IndexedRunRecord {
    fn from(run: &IndexedRun) -> Self {
        let m = &run.meta;
        Self {
            run_id: m.run_id.clone(),
            experiment_id: m.experiment_id.clone(),
            user_id: m.user_id.clone(),
            start_time: m.start_time,
            status: m.status,
            end_time: m.end_time,
            run_name: m.run_name.clone(),
            params: m.params.clone(),
            tags: m.tags.clone(),
            inputs: m.inputs.clone(),
            lifecycle: m.lifecycle,
            lifecycle_at: m.lifecycle_at,
            next_seq: run.next_seq,
            metrics: run.metrics.clone(),
            fresh: run.fresh,
        }
    }
}

impl From<IndexedRunRecord> for IndexedRun {
    fn from(r: IndexedRunRecord) -> Self {
        Self {
            meta: RunMeta {
                run_id: r.run_id,
                experiment_id: r.experiment_id,
                user_id: r.user_id,
                start_time: r.start_time,
                status: r.status,
                end_time: r.end_time,
                run_name: r.run_name,
                params: r.params,
                tags: r.tags,
                inputs: r.inputs,
                lifecycle: r.lifecycle,
                lifecycle_at: r.lifecycle_at,
            },
            next_seq: r.next_seq,
            metrics: r.metrics,
            fresh: r.fresh,
        }
    }
}
