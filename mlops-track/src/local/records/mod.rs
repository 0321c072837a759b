//! Everything the embedded store writes, as it is written: private record types, apart from
//! the public API types (`Run`, `Experiment`, `Tag`, `Lease`, …), so that a field added to a
//! public type never changes the storage format, and stores written by any release read the
//! same (`docs/FORMAT.md` is the contract; `tests/store_v1.rs` reads a store of the first
//! release).
//!
//! - [`frame`]: the envelope of every log record, checkpoint and segment (kind, format
//!   version, length, CRC-32C);
//! - [`log`]: the records of the experiments log and of each run's meta log;
//! - [`values`]: the stored shapes of tags, params, metric points and dataset inputs;
//! - `checkpoint`, `lease`, `marker`: the folded experiments log, a run's lease, and
//!   `FORMAT.json`;
//! - `index`: a generation of an experiment's run index (its finished runs, folded).
//!
//! Every object carries [`FORMAT_VERSION`]: framed objects in their header, the root in its
//! marker. A reader refuses an object of another version and a root of a newer one rather
//! than guess.

mod checkpoint;
pub(crate) mod frame;
mod index;
mod lease;
mod log;
mod marker;
mod values;

use mlops_core::Metric;

pub(crate) use frame::Kind;
pub(crate) use log::{
    Compaction, ExperimentOp, ExperimentRecord, RunOp, RunRecord, millis, new_txn, tick,
};
pub(crate) use marker::{FORMAT_NAME, FormatMarker};

use self::checkpoint::{CheckpointRecord, EntryRecord};
use self::index::{GenerationHeader, IndexedRunRecord};
use self::lease::LeaseRecord;
use self::values::{PointIn, PointOut};
use crate::local::Lease;
use crate::local::experiments::ExperimentEntry;
use crate::local::index::IndexedRun;

/// The storage format version this code writes, and the only one it reads.
pub(crate) const FORMAT_VERSION: u32 = 1;

/// One JSON line: `value` serialised, then `\n`. Records hold strings and numbers only, so
/// serialising cannot fail.
fn json_line<T: serde::Serialize>(value: &T) -> Vec<u8> {
    let mut line = serde_json::to_vec(value).unwrap_or_default();
    line.push(b'\n');
    line
}

fn from_json<'a, T: serde::Deserialize<'a>>(what: &str, bytes: &'a [u8]) -> Result<T, String> {
    serde_json::from_slice(bytes).map_err(|e| format!("unreadable {what}: {e}"))
}

/// A record of the experiments log, framed.
pub(crate) fn encode_experiment_record(record: &ExperimentRecord) -> Vec<u8> {
    frame::encode(Kind::ExperimentRecord, &json_line(record))
}

/// A record of the experiments log, or why it cannot be trusted.
pub(crate) fn decode_experiment_record(bytes: &[u8]) -> Result<ExperimentRecord, String> {
    from_json("record", frame::decode(Kind::ExperimentRecord, bytes)?)
}

/// A record of a run's meta log, framed.
pub(crate) fn encode_run_record(record: &RunRecord) -> Vec<u8> {
    frame::encode(Kind::RunRecord, &json_line(record))
}

/// A record of a run's meta log, or why it cannot be trusted.
pub(crate) fn decode_run_record(bytes: &[u8]) -> Result<RunRecord, String> {
    from_json("record", frame::decode(Kind::RunRecord, bytes)?)
}

/// The folded experiments log after slot `seq`, framed.
pub(crate) fn encode_checkpoint<'a>(
    seq: u64,
    entries: impl IntoIterator<Item = &'a ExperimentEntry>,
) -> Vec<u8> {
    let record = CheckpointRecord {
        seq,
        experiments: entries.into_iter().map(EntryRecord::from).collect(),
    };
    frame::encode(Kind::ExperimentCheckpoint, &json_line(&record))
}

/// A checkpoint's slot and experiments, or why it cannot be trusted.
pub(crate) fn decode_checkpoint(bytes: &[u8]) -> Result<(u64, Vec<ExperimentEntry>), String> {
    let record: CheckpointRecord = from_json(
        "checkpoint",
        frame::decode(Kind::ExperimentCheckpoint, bytes)?,
    )?;
    Ok((
        record.seq,
        record
            .experiments
            .into_iter()
            .map(ExperimentEntry::from)
            .collect(),
    ))
}

/// A generation of an experiment's run index: a header line (with the runs read and left
/// out, `left_out`), then one line per run, framed.
pub(crate) fn encode_index<'a>(
    seq: u64,
    built_at: i64,
    runs: impl IntoIterator<Item = &'a IndexedRun>,
    left_out: &std::collections::BTreeMap<mlops_core::RunId, u64>,
) -> Vec<u8> {
    let mut body = json_line(&GenerationHeader {
        seq,
        built_at,
        left_out: left_out.clone(),
    });
    for run in runs {
        body.extend_from_slice(&json_line(&IndexedRunRecord::from(run)));
    }
    frame::encode(Kind::RunIndex, &body)
}

/// The encoded length of one indexed run's line (the builder bounds a generation's size).
pub(crate) fn index_line_len(run: &IndexedRun) -> usize {
    json_line(&IndexedRunRecord::from(run)).len()
}

/// A decoded generation: its slot, its runs, and the runs it read and left out.
#[derive(Debug)]
pub(crate) struct DecodedIndex {
    pub(crate) seq: u64,
    pub(crate) runs: Vec<IndexedRun>,
    pub(crate) left_out: std::collections::BTreeMap<mlops_core::RunId, u64>,
}

/// A generation, or why it cannot be trusted: any line that does not decode, or a run that
/// is not terminal (only ended runs are indexed), refuses the whole generation.
pub(crate) fn decode_index(bytes: &[u8]) -> Result<DecodedIndex, String> {
    let body = frame::decode(Kind::RunIndex, bytes)?;
    let mut lines = body.split(|&b| b == b'\n').filter(|line| !line.is_empty());
    let header: GenerationHeader = from_json("index header", lines.next().unwrap_or_default())?;
    let mut runs = Vec::new();
    for line in lines {
        let run = IndexedRun::from(from_json::<IndexedRunRecord>("indexed run", line)?);
        if !run.meta.status.is_terminal() {
            return Err(format!(
                "indexed run {} is {}; only ended runs are indexed",
                run.meta.run_id,
                run.meta.status.as_str()
            ));
        }
        runs.push(run);
    }
    Ok(DecodedIndex {
        seq: header.seq,
        runs,
        left_out: header.left_out,
    })
}

/// A metric segment: one JSON line per point, in the order given, framed.
pub(crate) fn encode_segment(points: &[Metric]) -> Vec<u8> {
    let mut body = Vec::with_capacity(points.len() * 64);
    for point in points {
        body.extend_from_slice(&json_line(&PointOut::from(point)));
    }
    frame::encode(Kind::MetricSegment, &body)
}

/// A metric segment's points, or why it cannot be trusted.
pub(crate) fn decode_segment(bytes: &[u8]) -> Result<Vec<Metric>, String> {
    let body = frame::decode(Kind::MetricSegment, bytes)?;
    body.split(|&b| b == b'\n')
        .filter(|line| !line.is_empty())
        .map(|line| {
            from_json::<PointIn>("point", line)?
                .into_metric::<serde_json::Error>()
                .map_err(|e| format!("unreadable point: {e}"))
        })
        .collect()
}

/// A run's lease, as one JSON line (not framed: it is replaced whole, never appended).
pub(crate) fn encode_lease(lease: &Lease) -> Vec<u8> {
    json_line(&LeaseRecord::from(lease))
}

/// A run's lease, or why it cannot be read.
pub(crate) fn decode_lease(bytes: &[u8]) -> Result<Lease, String> {
    from_json::<LeaseRecord>("lease", bytes).map(Lease::from)
}

/// `FORMAT.json` of a new store, pretty-printed.
pub(crate) fn encode_marker() -> Vec<u8> {
    let mut bytes = serde_json::to_vec_pretty(&FormatMarker::current()).unwrap_or_default();
    bytes.push(b'\n');
    bytes
}

/// A root's `FORMAT.json`, or why it is not one.
pub(crate) fn decode_marker(bytes: &[u8]) -> Result<FormatMarker, String> {
    serde_json::from_slice(bytes).map_err(|e| format!("not an mlops-track format marker: {e}"))
}

#[cfg(test)]
mod tests;
