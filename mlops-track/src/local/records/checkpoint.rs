//! An experiments checkpoint as stored: the folded log after one slot, so a new reader
//! replays only what came after it. Its entries are their own record type, apart from the
//! in-memory [`ExperimentEntry`] the fold works on.

use mlops_core::{ExperimentId, ExperimentName, LifecycleStage, Tag, Timestamp};
use serde::{Deserialize, Serialize};

use super::values::tags;
use crate::local::experiments::ExperimentEntry;

/// `{"seq": <last slot folded in>, "experiments": [...]}`.
#[derive(Serialize, Deserialize)]
pub(super) struct CheckpointRecord {
    pub(super) seq: u64,
    pub(super) experiments: Vec<EntryRecord>,
}

/// One experiment of a checkpoint.
#[derive(Serialize, Deserialize)]
pub(super) struct EntryRecord {
    experiment_id: ExperimentId,
    name: ExperimentName,
    creation_time: Timestamp,
    last_update_time: Timestamp,
    lifecycle: LifecycleStage,
    lifecycle_at: i64,
    #[serde(default, with = "tags")]
    tags: Vec<Tag>,
}

impl From<&ExperimentEntry> for EntryRecord {
    fn from(e: &ExperimentEntry) -> Self {
        Self {
            experiment_id: e.experiment_id.clone(),
            name: e.name.clone(),
            creation_time: e.creation_time,
            last_update_time: e.last_update_time,
            lifecycle: e.lifecycle,
            lifecycle_at: e.lifecycle_at,
            tags: e.tags.clone(),
        }
    }
}

impl From<EntryRecord> for ExperimentEntry {
    fn from(r: EntryRecord) -> Self {
        Self {
            experiment_id: r.experiment_id,
            name: r.name,
            creation_time: r.creation_time,
            last_update_time: r.last_update_time,
            lifecycle: r.lifecycle,
            lifecycle_at: r.lifecycle_at,
            tags: r.tags,
        }
    }
}
