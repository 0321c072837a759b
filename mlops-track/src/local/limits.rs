//! The largest object of each kind this store reads (docs/SECURITY.md lists them).
//!
//! Every object the store parses is read with its kind's limit: an object over it (a record
//! replaced by a 1 GiB file, a body that streams without end) is refused before its bytes
//! are held, and reported like any other unreadable object. Each limit is far above what
//! this store writes, so only damage or tampering reaches one.

/// A record of the experiments log or of a run's meta log. The largest a writer makes is one
/// `log_batch` (100 params of 6,000 and 100 tags of 8,000 characters, 1,000 metrics): under
/// 2 MiB.
pub(crate) const RECORD: u64 = 16 << 20;

/// A metric segment: the points of one `log_batch` or one background flush.
pub(crate) const SEGMENT: u64 = 64 << 20;

/// The experiments-log checkpoint: every experiment of the store, with its tags.
pub(crate) const CHECKPOINT: u64 = 256 << 20;

/// A generation of an experiment's run index: its ended runs, folded (about 1 KiB a run
/// with a few params, tags and metrics). The builder leaves out the runs that would not fit,
/// and searches read those from their records.
pub(crate) const INDEX: u64 = 256 << 20;

/// An ended run's summary (one run as a generation holds it, written by the process that
/// ended it): a writer makes none over this size, and such a run is read from its records.
pub(crate) const SUMMARY: u64 = 16 << 20;

/// A compacted-metrics Parquet file: every point of a run.
pub(crate) const PARQUET: u64 = 1 << 30;

/// A run's lease and the root's `FORMAT.json`: a few hundred bytes.
pub(crate) const SMALL: u64 = 64 << 10;
