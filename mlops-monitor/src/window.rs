//! Tumbling drift windows over one model version's rows: [`WindowPolicy`] says when a
//! window closes, [`VersionMonitor`] accumulates the current side with mlops-drift's
//! [`CurrentAccumulator`] and compares it with the version's reference profile when it
//! closes, giving a [`WindowReport`].
//!
//! The report of a window is the report of `mlops drift --profile P --current W.parquet`
//! on the window's rows: the same accumulator, the same comparison, the same options.

use std::sync::Arc;
use std::time::Duration;

use arrow_array::RecordBatch;
use mlops_core::Timestamp;
use mlops_drift::{CurrentAccumulator, DriftOptions, DriftReport, ReferenceProfile};
use serde::{Deserialize, Serialize};

use crate::error::{MonitorError, Result};
use crate::features::FeatureMap;
use crate::row_buffer::RowBuffer;

/// When a window closes: after `rows` rows, after `duration` from its first row, or at
/// whichever comes first when both are set.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WindowPolicy {
    rows: Option<u64>,
    duration: Option<Duration>,
}

impl Default for WindowPolicy {
    /// Windows of [`WindowPolicy::DEFAULT_ROWS`] rows.
    fn default() -> Self {
        Self {
            rows: Some(Self::DEFAULT_ROWS),
            duration: None,
        }
    }
}

impl WindowPolicy {
    /// The default window size in rows.
    pub const DEFAULT_ROWS: u64 = 10_000;

    /// Windows of `rows` rows (each window has exactly that many, except a last one closed
    /// early).
    ///
    /// # Errors
    ///
    /// [`MonitorError::InvalidArgument`] for 0.
    pub fn rows(rows: u64) -> Result<Self> {
        Self::new(Some(rows), None)
    }

    /// Windows by time and/or rows; at least one must be given, neither may be zero.
    ///
    /// # Errors
    ///
    /// [`MonitorError::InvalidArgument`] when both are missing or one is zero.
    pub fn new(rows: Option<u64>, duration: Option<Duration>) -> Result<Self> {
        if rows == Some(0) || duration == Some(Duration::ZERO) {
            return Err(MonitorError::InvalidArgument(
                "a window of 0 rows or 0 seconds".into(),
            ));
        }
        if rows.is_none() && duration.is_none() {
            return Err(MonitorError::InvalidArgument(
                "a window needs a row count, a duration, or both".into(),
            ));
        }
        Ok(Self { rows, duration })
    }

    /// The row limit.
    pub fn max_rows(&self) -> Option<u64> {
        self.rows
    }

    /// The time limit.
    pub fn duration(&self) -> Option<Duration> {
        self.duration
    }
}

/// Which model version a window belongs to.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct VersionKey {
    /// The model name.
    pub model: String,
    /// The version served (empty when the model is not versioned).
    pub version: String,
}

/// A closed window and its drift report.
#[derive(Clone, Debug, PartialEq)]
pub struct WindowReport {
    /// The model version.
    pub key: VersionKey,
    /// A unique id: the start time, the window's number in this monitor, and a random part
    /// (`<start ms>-<sequence>-<uuid v7>`), sortable by time.
    pub id: String,
    /// The window's number for this version in this monitor, from 1.
    pub sequence: u64,
    /// The time of its first row.
    pub start: Timestamp,
    /// The time of its last row.
    pub end: Timestamp,
    /// The rows in it.
    pub rows: u64,
    /// The comparison of its rows with the reference profile.
    pub report: DriftReport,
}

impl WindowReport {
    /// The names of the drifted columns, in report order.
    pub fn drifted_features(&self) -> Vec<String> {
        self.report
            .columns
            .iter()
            .filter(|c| c.drifted)
            .map(|c| c.column.clone())
            .collect()
    }
}

/// The open window.
#[derive(Debug)]
struct Open {
    accumulator: CurrentAccumulator,
    rows: u64,
    start: Timestamp,
    end: Timestamp,
}

impl Open {
    /// Rows reserved up front in a new window's numerical columns: a window of rows is
    /// filled without regrowing (and copying) its buffers; larger windows grow past this.
    const RESERVE: u64 = 65_536;

    fn new(profile: &ReferenceProfile, policy: WindowPolicy, start: Timestamp) -> Self {
        let mut accumulator = profile.accumulator();
        if let Some(rows) = policy.rows {
            accumulator.reserve(usize::try_from(rows.min(Self::RESERVE)).unwrap_or(0));
        }
        Self {
            accumulator,
            rows: 0,
            start,
            end: start,
        }
    }
}

/// The drift windows of one model version (see the [module docs](self)).
///
/// ```
/// use std::sync::Arc;
/// use mlops_core::Timestamp;
/// use mlops_drift::arrow_array::{Float64Array, RecordBatch};
/// use mlops_drift::arrow_schema::{DataType, Field, Schema};
/// use mlops_drift::{DriftOptions, ReferenceProfile};
/// use mlops_monitor::{VersionKey, VersionMonitor, WindowPolicy};
///
/// let schema = Arc::new(Schema::new(vec![Field::new("x", DataType::Float64, true)]));
/// let batch = |shift: f64, rows: i32| {
///     let values: Vec<f64> = (0..rows).map(|i| shift + f64::from(i % 100)).collect();
///     RecordBatch::try_new(schema.clone(), vec![Arc::new(Float64Array::from(values))]).unwrap()
/// };
/// let options = Arc::new(DriftOptions::default());
/// let profile = Arc::new(ReferenceProfile::build(&[batch(0.0, 1000)], &options)?);
/// let key = VersionKey { model: "m".into(), version: "1".into() };
/// let mut monitor = VersionMonitor::new(key, profile, options, WindowPolicy::rows(200)?);
/// let now = Timestamp::now();
/// let closed = monitor.push(&batch(0.0, 200), now)?; // one full window
/// assert_eq!(closed.len(), 1);
/// assert!(!closed[0].report.dataset.dataset_drift);
/// let closed = monitor.push(&batch(80.0, 300), now)?; // 200 + 100 left open
/// assert!(closed[0].report.dataset.dataset_drift);
/// assert_eq!(monitor.open_rows(), 100);
/// # Ok::<(), mlops_monitor::MonitorError>(())
/// ```
#[derive(Debug)]
pub struct VersionMonitor {
    key: VersionKey,
    profile: Arc<ReferenceProfile>,
    options: Arc<DriftOptions>,
    policy: WindowPolicy,
    features: Option<FeatureMap>,
    /// Rows of the open window not yet in its accumulator.
    buffer: RowBuffer,
    open: Option<Open>,
    sequence: u64,
}

impl VersionMonitor {
    /// Windows of `key`'s rows against `profile`, compared with `options`.
    pub fn new(
        key: VersionKey,
        profile: Arc<ReferenceProfile>,
        options: Arc<DriftOptions>,
        policy: WindowPolicy,
    ) -> Self {
        Self {
            key,
            profile,
            options,
            policy,
            features: None,
            buffer: RowBuffer::default(),
            open: None,
            sequence: 0,
        }
    }

    /// Sets the tensor-to-feature map [`VersionMonitor::observe_tensors`] uses.
    #[must_use]
    pub fn with_features(mut self, features: FeatureMap) -> Self {
        self.features = Some(features);
        self
    }

    /// The model version.
    pub fn key(&self) -> &VersionKey {
        &self.key
    }

    /// The reference profile.
    pub fn profile(&self) -> &Arc<ReferenceProfile> {
        &self.profile
    }

    /// The rows in the open window.
    pub fn open_rows(&self) -> u64 {
        self.open.as_ref().map_or(0, |o| o.rows)
    }

    /// Adds one inference's tensors (mapped by the feature map) at `time`; returns the
    /// windows this closed, as [`VersionMonitor::push`] of [`FeatureMap::batch`] would.
    ///
    /// The rows are buffered column by column and reach the window's accumulator in blocks
    /// (see `row_buffer.rs`): the same rows, in the same order and types, so the same
    /// report, without building a batch per request. [`VersionMonitor::open_rows`] counts
    /// them at once.
    ///
    /// # Errors
    ///
    /// [`MonitorError::Mapping`] when no feature map is set or the tensors do not fit it
    /// (nothing is taken then); a comparison error when a window closes.
    pub fn observe_tensors(
        &mut self,
        inputs: &[mlops_serve::Tensor],
        outputs: &[mlops_serve::Tensor],
        time: Timestamp,
    ) -> Result<Vec<WindowReport>> {
        let Some(features) = &self.features else {
            return Err(MonitorError::Mapping {
                model: self.key.model.clone(),
                reason: "no feature map".into(),
            });
        };
        let total = features.check(inputs, outputs)?;
        let mut closed = Vec::new();
        if let Some(report) = self.tick(time)? {
            closed.push(report);
        }
        let mut offset = 0;
        while offset < total {
            let take = (total - offset).min(self.room());
            let rows = offset..offset + take;
            let appended = self.features.as_ref().is_some_and(|f| {
                f.append(&mut self.buffer, inputs, outputs, rows.clone())
                    .unwrap_or(false)
            });
            if !appended {
                // Rows of other types are buffered (or an internal mismatch): hand them
                // over, then append to the emptied buffer.
                self.flush()?;
                let Some(features) = &self.features else {
                    break;
                };
                if !features.append(&mut self.buffer, inputs, outputs, rows)? {
                    break;
                }
            }
            let open = self
                .open
                .get_or_insert_with(|| Open::new(&self.profile, self.policy, time));
            open.rows += take as u64;
            open.end = open.end.max(time);
            offset += take;
            if self.policy.rows.is_some_and(|max| open.rows >= max) {
                closed.extend(self.close()?);
            } else if self.buffer.rows() >= RowBuffer::BLOCK {
                self.flush()?;
            }
        }
        Ok(closed)
    }

    /// Rows the open window (or a new one) still takes.
    fn room(&self) -> usize {
        let rows = self.open_rows();
        let room = self
            .policy
            .rows
            .map_or(u64::MAX, |max| max.saturating_sub(rows));
        usize::try_from(room).unwrap_or(usize::MAX)
    }

    /// Hands the buffered rows to the open window's accumulator.
    fn flush(&mut self) -> Result<()> {
        if self.buffer.rows() == 0 {
            return Ok(());
        }
        let batch = self.buffer.take();
        if let (Some(open), Some(batch)) = (&mut self.open, batch) {
            let batch = batch.map_err(|e| MonitorError::Mapping {
                model: self.key.model.clone(),
                reason: e.to_string(),
            })?;
            open.accumulator.push(&batch)?;
        }
        Ok(())
    }

    /// Adds rows observed at `time`; returns the windows this closed (a window whose time
    /// is up closes before the rows go into a new one; a batch that fills a window by rows
    /// is split at the boundary).
    ///
    /// # Errors
    ///
    /// A comparison error of a closing window.
    pub fn push(&mut self, batch: &RecordBatch, time: Timestamp) -> Result<Vec<WindowReport>> {
        let mut closed = Vec::new();
        if let Some(report) = self.tick(time)? {
            closed.push(report);
        }
        // Rows buffered by `observe_tensors` go first.
        self.flush()?;
        let total = batch.num_rows();
        let mut offset = 0;
        while offset < total {
            let take = (total - offset).min(self.room());
            let open = self
                .open
                .get_or_insert_with(|| Open::new(&self.profile, self.policy, time));
            open.accumulator.push(&batch.slice(offset, take))?;
            open.rows += take as u64;
            open.end = open.end.max(time);
            offset += take;
            if self.policy.rows.is_some_and(|max| open.rows >= max) {
                closed.extend(self.close()?);
            }
        }
        Ok(closed)
    }

    /// Closes the open window when its time is up at `now`.
    ///
    /// # Errors
    ///
    /// A comparison error.
    pub fn tick(&mut self, now: Timestamp) -> Result<Option<WindowReport>> {
        let due = match (&self.open, self.policy.duration) {
            (Some(open), Some(duration)) => {
                let elapsed = now.as_millis().saturating_sub(open.start.as_millis());
                u128::from(elapsed.unsigned_abs()) >= duration.as_millis() && elapsed >= 0
            }
            _ => false,
        };
        if due { self.close() } else { Ok(None) }
    }

    /// Closes the open window now, whatever its size (none when it is empty).
    ///
    /// # Errors
    ///
    /// A comparison error.
    pub fn close(&mut self) -> Result<Option<WindowReport>> {
        self.flush()?;
        let Some(mut open) = self.open.take() else {
            return Ok(None);
        };
        if open.rows == 0 {
            return Ok(None);
        }
        open.accumulator.finish();
        let report = self
            .profile
            .compare_accumulated(&open.accumulator, &self.options)?;
        self.sequence += 1;
        let id = format!(
            "{:013}-{:06}-{}",
            open.start.as_millis().max(0),
            self.sequence,
            uuid::Uuid::now_v7().simple()
        );
        Ok(Some(WindowReport {
            key: self.key.clone(),
            id,
            sequence: self.sequence,
            start: open.start,
            end: open.end,
            rows: open.rows,
            report,
        }))
    }
}
