//! The records of the two kinds of log (the experiments log and each run's meta log), as
//! they are stored: one JSON object per record, framed by [`super::frame`].
//!
//! Every record carries `txn`, a fresh UUID, so that a writer whose create-if-absent put
//! lost its answer can recognise its own record when it reads the slot back, and `at`, a
//! microsecond clock reading that orders lifecycle changes of a run and of its experiment.
//!
//! Ids, names, keys, statuses and timestamps are stored as the strings and integers their
//! types stand for (validated when read); tags, params, metric points and dataset inputs go
//! through the stored shapes of [`super::values`], never the public types' serde.

use std::sync::atomic::{AtomicI64, Ordering};

use mlops_core::{
    ExperimentId, ExperimentName, LifecycleStage, Metric, Param, RunId, RunName, RunStatus, Tag,
    TagKey, Timestamp,
};
use serde::{Deserialize, Serialize};

use super::values::{inputs, params, points, tag, tags};
use crate::entities::DatasetInput;

/// A record of the experiments log (`experiments/log/<seq>.jsonl`).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) struct ExperimentRecord {
    pub(crate) txn: String,
    pub(crate) at: i64,
    #[serde(flatten)]
    pub(crate) op: ExperimentOp,
}

/// What an experiments-log record does.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub(crate) enum ExperimentOp {
    /// A new experiment; its name must be free.
    Create {
        experiment_id: ExperimentId,
        name: ExperimentName,
        #[serde(default, with = "tags")]
        tags: Vec<Tag>,
    },
    /// A new name; it must be free.
    Rename {
        experiment_id: ExperimentId,
        name: ExperimentName,
    },
    /// To the trash, with its runs.
    Delete { experiment_id: ExperimentId },
    /// Back from the trash, with its runs.
    Restore { experiment_id: ExperimentId },
    /// A tag, last write wins.
    SetTag {
        experiment_id: ExperimentId,
        #[serde(with = "tag")]
        tag: Tag,
    },
}

/// A record of a run's meta log (`runs/<id>/meta/<seq>.jsonl`).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) struct RunRecord {
    pub(crate) txn: String,
    pub(crate) at: i64,
    #[serde(flatten)]
    pub(crate) op: RunOp,
}

/// What a run-log record does.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub(crate) enum RunOp {
    /// Always record 0: the run's fixed attributes.
    Create {
        run_id: RunId,
        experiment_id: ExperimentId,
        user_id: String,
        start_time: Timestamp,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        run_name: Option<RunName>,
        #[serde(default, with = "tags")]
        tags: Vec<Tag>,
    },
    /// Status, end time and name changes (`update_run`).
    Update {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        status: Option<RunStatus>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        end_time: Option<Timestamp>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        run_name: Option<RunName>,
    },
    /// Params (write-once) and tags (last write wins) of one `log_batch`.
    Data {
        #[serde(default, with = "params")]
        params: Vec<Param>,
        #[serde(default, with = "tags")]
        tags: Vec<Tag>,
    },
    /// A tag removed.
    DeleteTag { key: TagKey },
    /// To the trash or back.
    Lifecycle { stage: LifecycleStage },
    /// Dataset inputs.
    Inputs {
        #[serde(with = "inputs")]
        inputs: Vec<DatasetInput>,
    },
    /// Metric segments folded into a Parquet file (see `metrics.rs`).
    Compacted(Compaction),
}

/// One compaction: `file` holds every point of `segments` (and of the Parquet files it
/// `replaces`), in their order.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) struct Compaction {
    /// The Parquet file's name in `runs/<id>/metrics/`.
    pub(crate) file: String,
    /// The segment names it covers.
    #[serde(default)]
    pub(crate) segments: Vec<String>,
    /// Earlier Parquet files it replaces.
    #[serde(default)]
    pub(crate) replaces: Vec<String>,
    /// Its number of rows.
    pub(crate) points: u64,
    /// The latest point of each metric in it, so that reading a run needs no Parquet.
    #[serde(default, with = "points")]
    pub(crate) latest: Vec<Metric>,
}

/// A fresh transaction id.
pub(crate) fn new_txn() -> String {
    uuid::Uuid::now_v7().simple().to_string()
}

static CLOCK: AtomicI64 = AtomicI64::new(0);

/// Microseconds since the epoch, strictly increasing within this process, so that two
/// changes made one after the other in one process are always ordered.
pub(crate) fn tick() -> i64 {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_micros()).unwrap_or(i64::MAX));
    let mut prev = CLOCK.load(Ordering::Relaxed);
    loop {
        let next = now.max(prev.saturating_add(1));
        match CLOCK.compare_exchange_weak(prev, next, Ordering::Relaxed, Ordering::Relaxed) {
            Ok(_) => return next,
            Err(seen) => prev = seen,
        }
    }
}

/// The millisecond timestamp of a `tick` value.
pub(crate) fn millis(at: i64) -> Timestamp {
    Timestamp::from_millis(at.max(0) / 1000).unwrap_or(Timestamp::EPOCH)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_serialise_flat_with_their_op() {
        let record = RunRecord {
            txn: "t".into(),
            at: 5,
            op: RunOp::Update {
                status: Some(RunStatus::Finished),
                end_time: None,
                run_name: None,
            },
        };
        let json = serde_json::to_string(&record).unwrap();
        assert_eq!(
            json,
            r#"{"txn":"t","at":5,"op":"update","status":"FINISHED"}"#
        );
        let back: RunRecord = serde_json::from_str(&json).unwrap();
        assert!(matches!(
            back.op,
            RunOp::Update {
                status: Some(RunStatus::Finished),
                ..
            }
        ));
        assert!(serde_json::from_str::<RunRecord>(r#"{"txn":"t","at":5,"op":"nope"}"#).is_err());
    }

    #[test]
    fn the_clock_never_repeats() {
        let a = tick();
        let b = tick();
        assert!(b > a);
        assert_eq!(millis(1_700_000_000_123_456).as_millis(), 1_700_000_000_123);
    }
}
