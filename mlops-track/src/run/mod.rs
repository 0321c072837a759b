//! [`ActiveRun`]: the run handle training loops and services log through (its documentation
//! describes how points travel, overflow and the end of a run).

mod buffer;
pub mod environment;
pub mod system_tags;
mod worker;

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use mlops_core::{
    ArtifactPath, DatasetRef, ExperimentId, Metric, MetricKey, Param, RunId, RunName, RunStatus,
    Tag, Timestamp,
};
use tokio::runtime::{Handle, RuntimeFlavor};
use tokio::sync::{mpsc, oneshot};

use crate::entities::{DatasetInput, RunInfo};
use crate::error::{Result, TrackError};
use crate::store::{NewRun, TrackingStore, limits};
use buffer::Buffer;
use worker::{Command, Worker};

/// What [`ActiveRun::log_metric`] does when the buffer is full.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Overflow {
    /// Drop the new point and count it ([`ActiveRun::dropped`]); the call still returns at
    /// once. The default: a hot loop (a request handler, a training step) must not stall
    /// because the store is slow, and a full 100,000-point buffer means the store cannot
    /// keep up anyway.
    #[default]
    DropAndCount,
    /// Block the calling thread until the background task makes space. On a multi-thread
    /// tokio runtime the wait goes through `block_in_place`, so other tasks keep running;
    /// on a current-thread runtime blocking would stall the very task that makes space, so
    /// there the point is dropped and counted instead. Async code should prefer
    /// [`ActiveRun::log_metric_wait`].
    Block,
}

/// How an [`ActiveRun`] starts and buffers; the defaults suit training loops and services.
///
/// ```
/// use std::time::Duration;
/// use mlops_track::{Overflow, RunOptions, Tag, system_tags};
/// let options = RunOptions::default()
///     .with_flush_interval(Duration::from_millis(200))
///     .with_overflow(Overflow::Block)
///     .with_tag(Tag::parse("team", "search")?)
///     .without_tag(system_tags::HOST);
/// assert_eq!(options.batch_size(), 1000);
/// # Ok::<(), mlops_core::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct RunOptions {
    user: Option<String>,
    system_tags: bool,
    git_dirty_check: bool,
    without: Vec<String>,
    tags: Vec<Tag>,
    buffer_capacity: usize,
    batch_size: usize,
    flush_interval: Duration,
    max_in_flight: usize,
    overflow: Overflow,
    drop_timeout: Duration,
}

impl Default for RunOptions {
    fn default() -> Self {
        Self {
            user: None,
            system_tags: true,
            git_dirty_check: true,
            without: Vec::new(),
            tags: Vec::new(),
            buffer_capacity: 100_000,
            batch_size: limits::METRICS,
            flush_interval: Duration::from_secs(1),
            max_in_flight: 4,
            overflow: Overflow::DropAndCount,
            drop_timeout: Duration::from_secs(5),
        }
    }
}

impl RunOptions {
    /// The run's user (its `user_id` and `mlflow.user` tag); by default the login name from
    /// the environment, or `unknown`.
    pub fn with_user(mut self, user: impl Into<String>) -> Self {
        self.user = Some(user.into());
        self
    }

    /// Records no system tags at all ([`system_tags`]).
    pub fn without_system_tags(mut self) -> Self {
        self.system_tags = false;
        self
    }

    /// Leaves out one system tag, e.g. [`system_tags::HOST`].
    pub fn without_tag(mut self, key: &str) -> Self {
        self.without.push(key.to_owned());
        self
    }

    /// Whether to run `git status` for [`system_tags::GIT_DIRTY`] (on by default; it costs a
    /// process start and an index scan).
    pub fn with_git_dirty_check(mut self, check: bool) -> Self {
        self.git_dirty_check = check;
        self
    }

    /// A tag set at creation; it replaces a system tag with the same key.
    pub fn with_tag(mut self, tag: Tag) -> Self {
        self.tags.retain(|t| t.key() != tag.key());
        self.tags.push(tag);
        self
    }

    /// How many points may wait in the buffer (100,000 by default; at least the batch size).
    pub fn with_buffer_capacity(mut self, points: usize) -> Self {
        self.buffer_capacity = points.max(1);
        self
    }

    /// The buffer's capacity in points.
    pub fn buffer_capacity(&self) -> usize {
        self.buffer_capacity.max(self.batch_size)
    }

    /// Points per `log_batch` call: 1 to [`limits::METRICS`] (1000, the default).
    pub fn with_batch_size(mut self, points: usize) -> Self {
        self.batch_size = points.clamp(1, limits::METRICS);
        self
    }

    /// Points per `log_batch` call.
    pub fn batch_size(&self) -> usize {
        self.batch_size
    }

    /// How long a point may wait before it is written even if no batch filled (1 s by
    /// default; at least 1 ms).
    pub fn with_flush_interval(mut self, interval: Duration) -> Self {
        self.flush_interval = interval.max(Duration::from_millis(1));
        self
    }

    /// How many `log_batch` calls may run at once (4 by default; at least 1). See the
    /// [`ActiveRun`] documentation on ordering.
    pub fn with_max_in_flight(mut self, calls: usize) -> Self {
        self.max_in_flight = calls.max(1);
        self
    }

    /// What `log_metric` does when the buffer is full.
    pub fn with_overflow(mut self, overflow: Overflow) -> Self {
        self.overflow = overflow;
        self
    }

    /// How long dropping a handle without `finish` may wait for the final flush (5 s by
    /// default; zero never waits). See the [`ActiveRun`] documentation.
    pub fn with_drop_timeout(mut self, timeout: Duration) -> Self {
        self.drop_timeout = timeout;
        self
    }
}

/// A running run: logs metrics without blocking, params and tags, and ends the run.
///
/// `ActiveRun` is `Send + Sync`; share it between threads or tasks behind an `Arc`.
///
/// ```
/// # tokio::runtime::Runtime::new()?.block_on(async {
/// use std::sync::Arc;
/// use mlops_track::{ActiveRun, ExperimentName, LocalStore, MetricKey, RunOptions, RunStatus, TrackingStore};
///
/// let store = Arc::new(LocalStore::open_uri(&"memory://".parse()?).await?);
/// let experiment = store.create_experiment(&ExperimentName::parse("demo")?, &[]).await?;
/// let run = ActiveRun::start(store.clone(), &experiment, None, RunOptions::default()).await?;
/// run.log_param("lr", "0.1").await?;
/// let loss = MetricKey::parse("loss")?;
/// for step in 0..100 {
///     run.log_metric(&loss, 1.0 / (step as f64 + 1.0), step); // never blocks, no I/O
/// }
/// let id = run.run_id().clone();
/// run.finish(RunStatus::Finished).await?; // flushes, then marks the run
/// assert_eq!(store.get_metric_history(&id, &loss).await?.len(), 100);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// # })?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// # How points travel
///
/// [`ActiveRun::log_metric`] stamps the point with the current time and pushes it into a
/// bounded in-memory buffer (one uncontended mutex and a `Vec::push`, well under a
/// microsecond). A background tokio task, spawned by [`ActiveRun::start`], takes the whole
/// buffer when it holds a full batch ([`RunOptions::with_batch_size`], 1000 by default, the
/// most MLflow accepts per request) or when the flush interval elapses
/// ([`RunOptions::with_flush_interval`], 1 s), cuts it into batches and calls
/// [`TrackingStore::log_batch`], keeping up to [`RunOptions::with_max_in_flight`] calls
/// running at once. Calls are started in logging order, so a store that serves calls in the
/// order they begin keeps every key's history in logging order: `LocalStore` names its
/// segments in call order while writing them in parallel. A store that may reorder
/// concurrent requests (an MLflow server behind several workers) should get
/// `with_max_in_flight(1)` when arrival order matters; MLflow itself orders histories by
/// step and timestamp in its UI.
///
/// A failed batch is not retried here (backends retry what is safe to retry); its error is
/// kept and returned by the next [`ActiveRun::flush`] or [`ActiveRun::finish`], and later
/// batches are still written.
///
/// # When the buffer is full
///
/// See [`Overflow`]. The default drops the new point and counts it ([`ActiveRun::dropped`]):
/// the hot loop of a service must never stall on a slow store. The buffer holds 100,000
/// points by default ([`RunOptions::with_buffer_capacity`]), a few seconds of a very busy
/// loop, so a loop that flushes now and then loses nothing. [`ActiveRun::log_metric_wait`]
/// always waits for space instead, whatever the policy.
///
/// # Ending a run
///
/// [`ActiveRun::finish`] flushes, then sets the status and end time. A handle dropped
/// without `finish` asks its task to flush what is buffered and mark the run `FINISHED`, or
/// `FAILED` when a batch failed since the last flush (the error is then logged with
/// `tracing`, as nobody is left to receive it). Where the drop waits for that:
///
/// - on a multi-thread tokio runtime, or outside any runtime while the multi-thread runtime
///   that started the run still runs: the dropping thread waits up to
///   [`RunOptions::with_drop_timeout`] (5 s) for the task (inside the runtime through
///   `block_in_place`, so other tasks keep running);
/// - on a current-thread runtime: it cannot wait (the task needs this very thread), so the
///   work is left to the task, which completes it as soon as the runtime gets to run it
///   again; if the runtime stops first, the buffered points are lost and the run stays
///   `RUNNING`;
/// - when the runtime that started the run has shut down, its task is gone: the buffered
///   points are lost and the run stays `RUNNING` (`LocalStore`'s lease lets
///   [`LocalStore::stale_runs`](crate::LocalStore::stale_runs) find it).
///
/// Call `finish` (or at least `flush`) to know that everything was written.
pub struct ActiveRun {
    store: Arc<dyn TrackingStore>,
    info: RunInfo,
    buffer: Arc<Buffer>,
    overflow: Overflow,
    commands: mpsc::UnboundedSender<Command>,
    runtime: Handle,
    drop_timeout: Duration,
    ended: bool,
}

impl fmt::Debug for ActiveRun {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ActiveRun")
            .field("run_id", &self.info.run_id)
            .field("store", &self.store)
            .field("buffered", &self.buffer.len())
            .field("dropped", &self.buffer.dropped())
            .finish_non_exhaustive()
    }
}

impl ActiveRun {
    /// Creates a run (`RUNNING`, with the [`system_tags`] and the tags of `options`) in
    /// `experiment`, and starts its background task on the current tokio runtime.
    ///
    /// Fails with [`TrackError::InvalidState`] outside a tokio runtime, and with whatever
    /// the store's `create_run` returns.
    pub async fn start(
        store: Arc<dyn TrackingStore>,
        experiment: &ExperimentId,
        name: Option<RunName>,
        options: RunOptions,
    ) -> Result<Self> {
        let runtime = Handle::try_current().map_err(|_| {
            TrackError::InvalidState("ActiveRun::start needs a tokio runtime".to_owned())
        })?;
        let user = options
            .user
            .clone()
            .or_else(system_tags::user_name)
            .unwrap_or_else(|| "unknown".to_owned());
        let mut tags = if options.system_tags {
            let (user, dirty) = (user.clone(), options.git_dirty_check);
            match tokio::task::spawn_blocking(move || system_tags::collect(&user, dirty)).await {
                Ok(tags) => tags,
                Err(e) => {
                    tracing::warn!(error = %e, "could not collect system tags");
                    Vec::new()
                }
            }
        } else {
            Vec::new()
        };
        tags.retain(|t| {
            !options.without.iter().any(|k| k == t.key().as_str())
                && !options.tags.iter().any(|o| o.key() == t.key())
        });
        tags.extend(options.tags.iter().cloned());
        let run = store
            .create_run(NewRun {
                experiment_id: experiment.clone(),
                run_name: name,
                user_id: user,
                start_time: Timestamp::now(),
                tags,
            })
            .await?;
        let buffer = Arc::new(Buffer::new(options.buffer_capacity(), options.batch_size));
        let (commands, receiver) = mpsc::unbounded_channel();
        let worker = Worker::new(
            Arc::clone(&store),
            run.info.run_id.clone(),
            Arc::clone(&buffer),
            options.batch_size,
            options.max_in_flight,
            options.flush_interval,
        );
        runtime.spawn(worker.run(receiver));
        Ok(Self {
            store,
            info: run.info,
            buffer,
            overflow: options.overflow,
            commands,
            runtime,
            drop_timeout: options.drop_timeout,
            ended: false,
        })
    }

    /// The run's id.
    pub fn run_id(&self) -> &RunId {
        &self.info.run_id
    }

    /// The run's experiment.
    pub fn experiment_id(&self) -> &ExperimentId {
        &self.info.experiment_id
    }

    /// The run as it was created.
    pub fn info(&self) -> &RunInfo {
        &self.info
    }

    /// The store the run logs to.
    pub fn store(&self) -> &Arc<dyn TrackingStore> {
        &self.store
    }

    /// Logs one point of `key` at `step`, stamped now. Never does I/O and never blocks
    /// (unless the policy is [`Overflow::Block`] and the buffer is full).
    pub fn log_metric(&self, key: &MetricKey, value: f64, step: i64) {
        self.log_point(Metric::new(key.clone(), value, Timestamp::now(), step));
    }

    /// Logs one point as given (its own timestamp), like [`log_metric`](Self::log_metric).
    pub fn log_point(&self, point: Metric) {
        if let Err(point) = self.buffer.try_push(point) {
            self.overflow(point);
        }
    }

    /// Logs several metrics at one step and one timestamp, like
    /// [`log_metric`](Self::log_metric).
    pub fn log_metrics<'a>(
        &self,
        points: impl IntoIterator<Item = (&'a MetricKey, f64)>,
        step: i64,
    ) {
        let now = Timestamp::now();
        let points = points
            .into_iter()
            .map(|(key, value)| Metric::new(key.clone(), value, now, step));
        match self.overflow {
            Overflow::DropAndCount => {
                let rejected = self.buffer.push_many(points);
                if rejected > 0 {
                    self.buffer.count_dropped(rejected);
                }
            }
            Overflow::Block => points.for_each(|p| self.log_point(p)),
        }
    }

    /// Logs one point, waiting (asynchronously) for space in the buffer whatever the
    /// [`Overflow`] policy. Fails with [`TrackError::LoggerStopped`] when the background
    /// task has stopped.
    pub async fn log_metric_wait(&self, key: &MetricKey, value: f64, step: i64) -> Result<()> {
        let point = Metric::new(key.clone(), value, Timestamp::now(), step);
        self.buffer
            .push_wait(point)
            .await
            .map_err(|_| TrackError::LoggerStopped("the run's background task ended".to_owned()))
    }

    fn overflow(&self, point: Metric) {
        let pushed = match self.overflow {
            Overflow::DropAndCount => false,
            Overflow::Block => match Handle::try_current().map(|h| h.runtime_flavor()) {
                Ok(RuntimeFlavor::MultiThread) => {
                    tokio::task::block_in_place(|| self.buffer.push_blocking(point)).is_ok()
                }
                Ok(_) => false,
                Err(_) => self.buffer.push_blocking(point).is_ok(),
            },
        };
        if !pushed {
            self.buffer.count_dropped(1);
        }
    }

    /// Points dropped because the buffer was full (or the task had stopped).
    pub fn dropped(&self) -> u64 {
        self.buffer.dropped()
    }

    /// Points waiting in the buffer now (not counting batches the task holds).
    pub fn buffered(&self) -> usize {
        self.buffer.len()
    }

    /// Logs a param, directly to the store. Params are write-once: the same value again is
    /// a no-op, another value is [`TrackError::ParamConflict`].
    pub async fn log_param(&self, key: &str, value: impl Into<String>) -> Result<()> {
        let param = Param::parse(key, value)?;
        self.log_params(std::slice::from_ref(&param)).await
    }

    /// Logs params, directly to the store, [`limits::PARAMS`] per call.
    pub async fn log_params(&self, params: &[Param]) -> Result<()> {
        for chunk in params.chunks(limits::PARAMS) {
            self.store.log_batch(self.run_id(), &[], chunk, &[]).await?;
        }
        Ok(())
    }

    /// Sets a tag (last write wins), directly to the store.
    pub async fn set_tag(&self, key: &str, value: impl Into<String>) -> Result<()> {
        let tag = Tag::parse(key, value)?;
        self.set_tags(std::slice::from_ref(&tag)).await
    }

    /// Sets tags, directly to the store, [`limits::TAGS`] per call.
    pub async fn set_tags(&self, tags: &[Tag]) -> Result<()> {
        for chunk in tags.chunks(limits::TAGS) {
            self.store.log_batch(self.run_id(), &[], &[], chunk).await?;
        }
        Ok(())
    }

    /// Records a dataset the run read, in MLflow's format, with its role (`training`,
    /// `eval`, …) in the input tag `mlflow.data.context` when given; directly to the store.
    pub async fn log_input(&self, dataset: &DatasetRef, context: Option<&str>) -> Result<()> {
        let input = DatasetInput::from_ref(dataset, context)?;
        self.store
            .log_inputs(self.run_id(), std::slice::from_ref(&input))
            .await
    }

    /// Stores a file of the run at `path` (e.g. `model/weights.json`, a validated
    /// [`ArtifactPath`]), replacing any file there; directly to the store.
    pub async fn log_artifact(&self, path: &str, bytes: impl Into<Bytes>) -> Result<()> {
        let path = ArtifactPath::parse(path)?;
        self.store
            .log_artifact(self.run_id(), &path, bytes.into())
            .await
    }

    /// Writes every point logged before this call and waits until the store has them;
    /// returns the first error of a background write since the last flush (the points of a
    /// failed batch are lost; later batches are still written).
    pub async fn flush(&self) -> Result<()> {
        let (reply, answer) = oneshot::channel();
        let stopped = || TrackError::LoggerStopped("the run's background task ended".to_owned());
        self.commands
            .send(Command::Flush(reply))
            .map_err(|_| stopped())?;
        answer.await.map_err(|_| stopped())?
    }

    /// Flushes, then sets the run's `status` and end time (even when the flush failed).
    /// Returns the flush's error first, else the update's.
    pub async fn finish(mut self, status: RunStatus) -> Result<()> {
        self.ended = true;
        let flushed = self.flush().await;
        let updated = self
            .store
            .update_run(self.run_id(), Some(status), Some(Timestamp::now()), None)
            .await;
        flushed.and(updated.map(drop))
    }
}

impl Drop for ActiveRun {
    fn drop(&mut self) {
        if self.ended {
            // The task sees its channel close, writes anything logged since, and stops.
            return;
        }
        let (ack, done) = std::sync::mpsc::sync_channel(1);
        if self.commands.send(Command::Close(ack)).is_err() {
            tracing::warn!(run = %self.info.run_id, "run handle dropped after its background task ended; the run stays RUNNING");
            return;
        }
        if self.drop_timeout.is_zero() {
            return;
        }
        let timeout = self.drop_timeout;
        let run = &self.info.run_id;
        let wait = || {
            if done.recv_timeout(timeout).is_err() {
                tracing::warn!(run = %run, ?timeout, "run handle dropped: the final flush did not finish in time");
            }
        };
        match Handle::try_current().map(|h| h.runtime_flavor()) {
            Ok(RuntimeFlavor::MultiThread) => tokio::task::block_in_place(wait),
            // The task needs this thread to run: leave the work to it.
            Ok(_) => {}
            Err(_) if self.runtime.runtime_flavor() == RuntimeFlavor::MultiThread => wait(),
            Err(_) => {}
        }
    }
}
