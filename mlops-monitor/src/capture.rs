//! Capture from `mlops-serve`: [`Capture`] is the server's [`Observer`] (sampling, a bounded
//! queue, overflow dropped and counted, never a wait), and a worker thread of its own turns
//! observations into rows of each served version's drift windows, then hands every closed
//! window to the metrics and the [`WindowSink`]s (history, triggers).
//!
//! The worker is a plain thread so that drift arithmetic never runs on the server's async
//! workers; it enters the given Tokio runtime only to await the sinks' store and network I/O.
//!
//! **What it costs the server.** On the request path: the sampling draw, and for a sampled
//! request the copy of its inputs and a channel send. When the queue is full the request is
//! shed at [`Observer::sample`], before anything is copied (counted in
//! `mlops_monitor_dropped_total`). Off the request path, the worker gathers rows column by
//! column and hands them to the window's accumulator in blocks (see
//! [`VersionMonitor::observe_tensors`]); its drift work (mlops-drift's parallel columns)
//! runs in a one-thread pool of its own rather than on the global rayon pool, and on Linux
//! at the lowest priority ([`CaptureOptions::with_worker_nice`], default nice 19): a
//! saturated monitor sheds rows instead of taking the serving cores.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender, TrySendError};
use std::sync::{Arc, Mutex, OnceLock, Weak};
use std::time::Duration;

use arrow_schema::Schema;
use mlops_core::{StoreRoot, Timestamp};
use mlops_drift::{DriftOptions, ReferenceProfile};
use mlops_serve::ModelMetadata;
use mlops_serve::observe::{Observation, Observer};
use prometheus_client::metrics::counter::Counter;

use crate::error::{MonitorError, Result};
use crate::features::{FeatureMap, SignatureSchemas};
use crate::inference_log::{InferenceLog, LogFile, LogOptions};
use crate::metrics::MonitorMetrics;
use crate::window::{VersionKey, VersionMonitor, WindowPolicy, WindowReport};

/// A served version's reference: its drift profile and, when registered, its signature.
#[derive(Clone, Debug)]
pub struct VersionReference {
    /// The reference drift profile.
    pub profile: Arc<ReferenceProfile>,
    /// The signature's input schema.
    pub inputs: Option<Schema>,
    /// The signature's output schema.
    pub outputs: Option<Schema>,
}

/// Where a served version's reference comes from (the registry, or fixed profiles).
#[async_trait::async_trait]
pub trait ReferenceSource: Send + Sync + 'static {
    /// The reference of `model` at `version` (empty when unversioned); `None` when the
    /// version has no drift profile (it is then not monitored).
    async fn reference(&self, model: &str, version: &str) -> Result<Option<VersionReference>>;
}

/// The same reference for every version of the models it holds.
#[derive(Clone, Debug, Default)]
pub struct FixedReferences(HashMap<String, VersionReference>);

impl FixedReferences {
    /// No references.
    pub fn new() -> Self {
        Self::default()
    }

    /// Monitors `model` (every version) against `reference`.
    #[must_use]
    pub fn with(mut self, model: impl Into<String>, reference: VersionReference) -> Self {
        self.0.insert(model.into(), reference);
        self
    }
}

#[async_trait::async_trait]
impl ReferenceSource for FixedReferences {
    async fn reference(&self, model: &str, _version: &str) -> Result<Option<VersionReference>> {
        Ok(self.0.get(model).cloned())
    }
}

/// What happens to a closed window after the metrics: history, triggers.
#[async_trait::async_trait]
pub trait WindowSink: Send + Sync + 'static {
    /// Handles one closed window. An error is logged; the other sinks still run.
    async fn window(&self, window: &WindowReport) -> Result<()>;
}

/// How the capture samples, queues and windows.
#[derive(Clone, Debug)]
pub struct CaptureOptions {
    sample: f64,
    queue: usize,
    policy: WindowPolicy,
    drift: DriftOptions,
    tick: Duration,
    log: Option<(StoreRoot, LogOptions)>,
    nice: i32,
}

impl Default for CaptureOptions {
    /// Every request, a queue of 1024 observations, windows of 10 000 rows, mlops-drift's
    /// default tests and thresholds.
    fn default() -> Self {
        Self {
            sample: 1.0,
            queue: 1024,
            policy: WindowPolicy::default(),
            drift: DriftOptions::default(),
            tick: Duration::from_secs(1),
            log: None,
            nice: Self::DEFAULT_NICE,
        }
    }
}

impl CaptureOptions {
    /// The worker thread's default nice value on Linux: the lowest priority. When the
    /// request workers keep every core busy, Linux's scheduler gives a nice-19 thread about
    /// 1.5 % of a core (weight 15 against 1024 per nice-0 thread), so the monitor takes
    /// almost nothing from the serving and sees (and counts as dropped) what it can; with
    /// idle CPU it runs at full speed. At 1.5 % of a core it still takes a few hundred
    /// requests of 64 rows per second, tens of thousands of rows for the windows.
    pub const DEFAULT_NICE: i32 = 19;

    /// The worker thread's nice value on Linux, clamped to `0..=19` (default
    /// [`CaptureOptions::DEFAULT_NICE`]; 0 keeps the server's priority). With a higher value
    /// the kernel runs the request workers first when the cores are busy: the worker then
    /// falls behind and the queue sheds observations (counted) instead of slowing the
    /// serving. Only that thread's priority changes (Linux's `setpriority` on a thread id);
    /// elsewhere the option does nothing.
    #[must_use]
    pub fn with_worker_nice(mut self, nice: i32) -> Self {
        self.nice = nice.clamp(0, 19);
        self
    }

    /// The share of requests observed, in `[0, 1]`.
    ///
    /// # Errors
    ///
    /// [`MonitorError::InvalidArgument`] outside `[0, 1]` (or NaN).
    pub fn with_sample(mut self, sample: f64) -> Result<Self> {
        if !(0.0..=1.0).contains(&sample) {
            return Err(MonitorError::InvalidArgument(format!(
                "sample rate {sample} is not in [0, 1]"
            )));
        }
        self.sample = sample;
        Ok(self)
    }

    /// Observations the queue holds before it drops (at least 1).
    #[must_use]
    pub fn with_queue(mut self, observations: usize) -> Self {
        self.queue = observations.max(1);
        self
    }

    /// The windows.
    #[must_use]
    pub fn with_windows(mut self, policy: WindowPolicy) -> Self {
        self.policy = policy;
        self
    }

    /// The tests and thresholds.
    #[must_use]
    pub fn with_drift(mut self, options: DriftOptions) -> Self {
        self.drift = options;
        self
    }

    /// Also writes every observed request to an inference log under `root`.
    #[must_use]
    pub fn with_inference_log(mut self, root: StoreRoot, options: LogOptions) -> Self {
        self.log = Some((root, options));
        self
    }

    /// How often time windows are checked when no traffic arrives (default 1 s).
    #[must_use]
    pub fn with_tick(mut self, tick: Duration) -> Self {
        self.tick = tick.max(Duration::from_millis(10));
        self
    }
}

/// The server-side half: an [`Observer`] that samples and queues (see the [module docs](self)).
#[derive(Debug)]
pub struct Capture {
    sender: SyncSender<Observation>,
    /// The queue's size: at this many observations in it, requests are shed unsampled.
    capacity: u64,
    /// Observations the worker took off the queue (`queued - taken` are in it).
    taken: Arc<AtomicU64>,
    /// Each version's dropped counter, found without allocating or locking: slots filled
    /// in order, read with atomic loads only (the request workers share them, and a lock's
    /// write on every drop would bounce its cache line between their cores).
    dropped_counters: Box<[OnceLock<(VersionKey, Counter)>]>,
    /// Observe when a draw is below this (`u64::MAX` at rate 1: always).
    threshold: u64,
    always: bool,
    draws: AtomicU64,
    queued: AtomicU64,
    dropped: AtomicU64,
    metrics: Arc<MonitorMetrics>,
}

impl Capture {
    /// Observations queued so far.
    pub fn queued(&self) -> u64 {
        self.queued.load(Ordering::Relaxed)
    }

    /// Observations dropped because the queue was full or the worker gone.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    /// Counts one observation of `model` dropped.
    fn drop_one(&self, model: &ModelMetadata) {
        self.dropped.fetch_add(1, Ordering::Relaxed);
        let version = model.version.as_deref().unwrap_or_default();
        for slot in &self.dropped_counters {
            match slot.get() {
                Some((key, counter)) if key.model == model.name && key.version == version => {
                    counter.inc();
                    return;
                }
                Some(_) => {}
                None => {
                    let key = key_of(model);
                    let counter = self.metrics.dropped_counter(&key);
                    counter.inc();
                    // Another version may take the slot first: this one is then found, or
                    // cached, next time (two slots of one version share its series).
                    let _ = slot.set((key, counter));
                    return;
                }
            }
        }
        // Every slot taken: the series is looked up.
        self.metrics.dropped(&key_of(model), 1);
    }
}

/// Versions whose dropped counter [`Capture`] keeps at hand (more still count, looked up).
const MAX_CACHED_COUNTERS: usize = 64;

impl Observer for Capture {
    fn sample(&self, model: &ModelMetadata) -> bool {
        if !self.always {
            // splitmix64 over a counter: uniform draws without a random-number crate or a
            // lock.
            let n = self.draws.fetch_add(1, Ordering::Relaxed);
            let mut z = n
                .wrapping_add(0x9e37_79b9_7f4a_7c15)
                .wrapping_mul(0x9e37_79b9_7f4a_7c15);
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            if (z ^ (z >> 31)) >= self.threshold {
                return false;
            }
        }
        // Drop before copy: with the queue full, the observation would be dropped at the
        // send anyway; dropping it here spares the request the copy of its inputs.
        let taken = self.taken.load(Ordering::Relaxed);
        let queued = self.queued.load(Ordering::Relaxed);
        if queued.saturating_sub(taken) >= self.capacity {
            self.drop_one(model);
            return false;
        }
        true
    }

    fn encode_metrics(&self, openmetrics: bool) -> String {
        if openmetrics {
            let text = self.metrics.encode();
            match text.rfind("# EOF") {
                Some(at) => text[..at].to_owned(),
                None => text,
            }
        } else {
            self.metrics.encode_prometheus()
        }
    }

    fn observe(&self, observation: Observation) {
        match self.sender.try_send(observation) {
            Ok(()) => {
                self.queued.fetch_add(1, Ordering::Relaxed);
            }
            Err(TrySendError::Full(o) | TrySendError::Disconnected(o)) => {
                self.drop_one(&o.metadata);
            }
        }
    }
}

fn key_of(metadata: &ModelMetadata) -> VersionKey {
    VersionKey {
        model: metadata.name.clone(),
        version: metadata.version.clone().unwrap_or_default(),
    }
}

/// The worker's half: stop it to close the open windows (handed to the sinks) and join.
#[derive(Debug)]
pub struct CaptureWorker {
    stop: Arc<AtomicBool>,
    thread: Mutex<Option<std::thread::JoinHandle<()>>>,
}

impl CaptureWorker {
    /// Drains what is queued, closes every open window (even a partial one), runs the sinks
    /// on them, and ends the worker thread.
    pub fn stop(&self) {
        self.stop.store(true, Ordering::Release);
        let thread = self.thread.lock().map(|mut t| t.take()).unwrap_or(None);
        if let Some(thread) = thread
            && thread.join().is_err()
        {
            tracing::error!("the monitor worker panicked");
        }
    }
}

/// Starts the capture: the [`Capture`] to give the server ([`mlops_serve::ServerBuilder::observer`])
/// and the worker thread, which awaits the sinks on `runtime`.
///
/// # Errors
///
/// [`MonitorError::InvalidArgument`] when the thread cannot be started.
pub fn start(
    options: CaptureOptions,
    references: Arc<dyn ReferenceSource>,
    sinks: Vec<Arc<dyn WindowSink>>,
    metrics: Arc<MonitorMetrics>,
    runtime: tokio::runtime::Handle,
) -> Result<(Arc<Capture>, CaptureWorker)> {
    let (sender, receiver) = std::sync::mpsc::sync_channel(options.queue);
    let always = options.sample >= 1.0;
    // `as` saturates: rate 1 → u64::MAX, rate 0 → 0 (never observed).
    let threshold = (options.sample * 18_446_744_073_709_551_616.0) as u64;
    let taken = Arc::new(AtomicU64::new(0));
    let capture = Arc::new(Capture {
        sender,
        capacity: options.queue as u64,
        taken: Arc::clone(&taken),
        dropped_counters: (0..MAX_CACHED_COUNTERS).map(|_| OnceLock::new()).collect(),
        threshold,
        always,
        draws: AtomicU64::new(0),
        queued: AtomicU64::new(0),
        dropped: AtomicU64::new(0),
        metrics: Arc::clone(&metrics),
    });
    let stop = Arc::new(AtomicBool::new(false));
    let log = options
        .log
        .clone()
        .map(|(root, log_options)| InferenceLog::new(root, log_options));
    let worker = Worker {
        log,
        options,
        references,
        sinks,
        metrics,
        runtime,
        versions: HashMap::new(),
        last: None,
        taken,
    };
    let flag = Arc::clone(&stop);
    let thread = std::thread::Builder::new()
        .name("mlops-monitor".into())
        .spawn(move || run_in_own_pool(worker, receiver, &flag))
        .map_err(|e| {
            MonitorError::InvalidArgument(format!("cannot start the monitor thread: {e}"))
        })?;
    Ok((
        capture,
        CaptureWorker {
            stop,
            thread: Mutex::new(Some(thread)),
        },
    ))
}

/// Runs the worker in a one-thread rayon pool at the configured priority: mlops-drift
/// parallelises over columns on the current rayon pool, and on the global one (a thread
/// per core, spinning while it waits for work) a busy monitor would take every serving core.
/// In its own pool the work stays on one thread, whose priority alone is lowered.
fn run_in_own_pool(worker: Worker, receiver: Receiver<Observation>, stop: &AtomicBool) {
    let nice = worker.options.nice;
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .thread_name(|_| "mlops-monitor-drift".into())
        .start_handler(move |_| lower_priority(nice))
        .build();
    match pool {
        Ok(pool) => pool.install(move || worker.run(&receiver, stop)),
        Err(e) => {
            tracing::warn!("cannot start the monitor's thread pool ({e}); using the global one");
            lower_priority(nice);
            worker.run(&receiver, stop);
        }
    }
}

/// Lowers the calling thread's priority to `nice` (Linux: `setpriority` on the thread id
/// changes that thread only, see `man 2 setpriority`).
fn lower_priority(nice: i32) {
    #[cfg(target_os = "linux")]
    if nice > 0 {
        let thread = rustix::thread::gettid();
        if let Err(e) = rustix::process::setpriority_process(Some(thread), nice) {
            tracing::warn!("cannot lower the monitor thread's priority to nice {nice}: {e}");
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = nice;
}

/// A version's state in the worker.
enum Slot {
    /// Its windows, and its rows counter.
    Monitored(Box<VersionMonitor>, Counter),
    /// No profile or no mapping: its observations are counted as dropped.
    Unmonitored,
}

struct Worker {
    log: Option<InferenceLog>,
    options: CaptureOptions,
    references: Arc<dyn ReferenceSource>,
    sinks: Vec<Arc<dyn WindowSink>>,
    metrics: Arc<MonitorMetrics>,
    runtime: tokio::runtime::Handle,
    versions: HashMap<VersionKey, Slot>,
    /// The last observation's model metadata and its key: the server shares one metadata
    /// per version, so most observations find their key without building it. (A `Weak`
    /// keeps the allocation, so the address is not reused while it is cached.)
    last: Option<(Weak<ModelMetadata>, VersionKey)>,
    /// Observations taken off the queue, for [`Capture`]'s drop-before-copy.
    taken: Arc<AtomicU64>,
}

impl Worker {
    fn run(mut self, receiver: &Receiver<Observation>, stop: &AtomicBool) {
        loop {
            match receiver.recv_timeout(self.options.tick) {
                Ok(observation) => {
                    self.taken.fetch_add(1, Ordering::Relaxed);
                    self.observe(&observation);
                }
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => break,
            }
            if stop.load(Ordering::Acquire) {
                while let Ok(observation) = receiver.try_recv() {
                    self.taken.fetch_add(1, Ordering::Relaxed);
                    self.observe(&observation);
                }
                break;
            }
            self.tick();
        }
        self.close_all();
    }

    fn observe(&mut self, observation: &Observation) {
        let key = match self.last.take() {
            Some((metadata, key))
                if std::ptr::eq(metadata.as_ptr(), Arc::as_ptr(&observation.metadata)) =>
            {
                (metadata, key)
            }
            _ => (
                Arc::downgrade(&observation.metadata),
                key_of(&observation.metadata),
            ),
        };
        self.observe_as(&key.1, observation);
        self.last = Some(key);
    }

    fn observe_as(&mut self, key: &VersionKey, observation: &Observation) {
        self.log_rows(key, observation);
        if !self.versions.contains_key(key) {
            let slot = self.open(key, &observation.metadata);
            self.versions.insert(key.clone(), slot);
        }
        let time = Timestamp::from_datetime(observation.received.into())
            .unwrap_or_else(|_| Timestamp::now());
        let result = match self.versions.get_mut(key) {
            Some(Slot::Monitored(monitor, rows)) => {
                let before = monitor.open_rows();
                let result =
                    monitor.observe_tensors(&observation.inputs, &observation.outputs, time);
                if let Ok(windows) = &result {
                    let closed: u64 = windows.iter().map(|w| w.rows).sum();
                    rows.inc_by((monitor.open_rows() + closed).saturating_sub(before));
                }
                result
            }
            // Not monitored (no profile, or tensors that map to no feature): said once when
            // the version was first seen; its rows may still be in the inference log.
            _ => return,
        };
        match result {
            Ok(windows) => self.publish(windows),
            Err(e) => {
                self.metrics.dropped(key, 1);
                tracing::warn!(model = %key.model, version = %key.version, "observation not monitored: {e}");
            }
        }
    }

    fn open(&self, key: &VersionKey, metadata: &ModelMetadata) -> Slot {
        let reference = self
            .runtime
            .block_on(self.references.reference(&key.model, &key.version));
        let reference = match reference {
            Ok(Some(reference)) => reference,
            Ok(None) => {
                tracing::warn!(model = %key.model, version = %key.version, "no reference drift profile: not monitored");
                return Slot::Unmonitored;
            }
            Err(e) => {
                tracing::warn!(model = %key.model, version = %key.version, "cannot load the reference: {e}; not monitored");
                return Slot::Unmonitored;
            }
        };
        let signature = SignatureSchemas {
            inputs: reference.inputs.as_ref(),
            outputs: reference.outputs.as_ref(),
        };
        match FeatureMap::new(metadata, signature, &reference.profile) {
            Ok(features) => {
                let monitor = VersionMonitor::new(
                    key.clone(),
                    reference.profile,
                    Arc::new(self.options.drift.clone()),
                    self.options.policy,
                )
                .with_features(features);
                Slot::Monitored(Box::new(monitor), self.metrics.rows_counter(key))
            }
            Err(e) => {
                tracing::warn!("{e}; not monitored");
                Slot::Unmonitored
            }
        }
    }

    /// Appends the observation to the inference log, storing what rolls.
    fn log_rows(&mut self, key: &VersionKey, observation: &Observation) {
        let Some(log) = &mut self.log else { return };
        let time = Timestamp::from_datetime(observation.received.into())
            .unwrap_or_else(|_| Timestamp::now());
        let rolled = log.append(
            key,
            observation.request_id.as_deref(),
            time,
            &observation.inputs,
            &observation.outputs,
        );
        self.store_log(rolled);
    }

    fn store_log(&self, rolled: Result<Vec<LogFile>>) {
        let Some(log) = &self.log else { return };
        match rolled {
            Ok(files) => {
                for file in files {
                    if let Err(e) = self.runtime.block_on(log.store(file)) {
                        tracing::warn!("inference log: {e}");
                    }
                }
            }
            Err(e) => tracing::warn!("inference log: {e}"),
        }
    }

    fn tick(&mut self) {
        let now = Timestamp::now();
        if let Some(log) = &mut self.log {
            let rolled = log.tick(now);
            self.store_log(rolled);
        }
        let mut closed = Vec::new();
        for slot in self.versions.values_mut() {
            if let Slot::Monitored(monitor, _) = slot {
                match monitor.tick(now) {
                    Ok(Some(window)) => closed.push(window),
                    Ok(None) => {}
                    Err(e) => tracing::warn!("closing a window: {e}"),
                }
            }
        }
        self.publish(closed);
    }

    fn close_all(&mut self) {
        if let Some(log) = &mut self.log {
            let rolled = log.close();
            self.store_log(rolled);
        }
        let mut closed = Vec::new();
        for slot in self.versions.values_mut() {
            if let Slot::Monitored(monitor, _) = slot {
                match monitor.close() {
                    Ok(Some(window)) => closed.push(window),
                    Ok(None) => {}
                    Err(e) => tracing::warn!("closing a window: {e}"),
                }
            }
        }
        self.publish(closed);
    }

    fn publish(&self, windows: Vec<WindowReport>) {
        for window in windows {
            self.metrics.window(&window);
            for sink in &self.sinks {
                if let Err(e) = self.runtime.block_on(sink.window(&window)) {
                    tracing::warn!(model = %window.key.model, window = %window.id, "{e}");
                }
            }
        }
    }
}
