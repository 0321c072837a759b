//! The inference observer hook: something outside the request path (a drift monitor, an
//! inference log) sees each successful inference's model, version, inputs and outputs.
//!
//! The server calls [`Observer::observe`] on the request's task after the response is
//! encoded and before it is sent, so **`observe` must not block or do real work**: hand the
//! [`Observation`] off through a bounded queue and return (a full queue drops it, counted), as
//! [`channel`] does. A panic inside `observe` is caught: the request is answered anyway and
//! the panic is counted in `mlops_serve_observer_panics_total`.
//!
//! [`Observer::sample`] runs first: only when it says yes are the inputs copied (outputs are
//! handed over without a copy), so an observer that samples 1 % of traffic costs the other
//! 99 % nothing but that call. It is also where an observer that cannot take more (its
//! queue is full) sheds a request before anything is copied; it counts that drop itself.

use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

use tokio::sync::mpsc;

use crate::metrics::Metrics;
use crate::model::ModelMetadata;
use crate::tensor::Tensor;

/// One successful inference, as an [`Observer`] receives it.
///
/// Inputs and outputs are the decoded tensors (`ndarray`, every OIP datatype) in the order
/// and with the names of [`ModelMetadata::inputs`] and [`ModelMetadata::outputs`]; every
/// output the model produced is here, also those the request did not ask for. A batched
/// request is observed alone, with its own rows.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct Observation {
    /// The model that answered: its name, version, platform and tensor specs (to map tensor
    /// columns to feature names).
    pub metadata: Arc<ModelMetadata>,
    /// The request's OIP `id`; when it had none, the UUID v7 the server generated for it and
    /// echoed in the response's `id`.
    pub request_id: Option<String>,
    /// When the request arrived.
    pub received: SystemTime,
    /// From arrival to the encoded response.
    pub latency: Duration,
    /// The request's inputs, as the model received them.
    pub inputs: Vec<Tensor>,
    /// The model's outputs for this request.
    pub outputs: Vec<Tensor>,
}

impl Observation {
    /// An observation of `metadata`'s model (for observers' own tests and benchmarks; the
    /// server builds them itself).
    pub fn new(
        metadata: Arc<ModelMetadata>,
        request_id: Option<String>,
        received: SystemTime,
        latency: Duration,
        inputs: Vec<Tensor>,
        outputs: Vec<Tensor>,
    ) -> Self {
        Self {
            metadata,
            request_id,
            received,
            latency,
            inputs,
            outputs,
        }
    }
}

/// Sees each successful inference (see the [module docs](self)).
///
/// ```
/// use std::sync::atomic::{AtomicU64, Ordering};
/// use mlops_serve::observe::{Observation, Observer};
///
/// /// Counts rows per model, without keeping anything.
/// #[derive(Default)]
/// struct RowCounter(AtomicU64);
///
/// impl Observer for RowCounter {
///     fn observe(&self, observation: Observation) {
///         let rows = observation.inputs.first().map_or(0, |t| t.data.shape()[0]);
///         self.0.fetch_add(rows as u64, Ordering::Relaxed);
///     }
/// }
/// ```
pub trait Observer: Send + Sync + 'static {
    /// Whether to observe this request of `model` (sampling, or shedding when the observer
    /// is full); decided before the inputs are copied. Default: every request. Must not
    /// block.
    fn sample(&self, model: &ModelMetadata) -> bool {
        let _ = model;
        true
    }

    /// Receives one inference. Must not block: hand it off and return.
    fn observe(&self, observation: Observation);

    /// Metric families of the observer's own (a drift monitor's gauges) that `/metrics`
    /// appends to the server's: OpenMetrics text without its `# EOF` line when
    /// `openmetrics`, else Prometheus text 0.0.4. Default: none.
    fn encode_metrics(&self, openmetrics: bool) -> String {
        let _ = openmetrics;
        String::new()
    }
}

/// An [`Observer`] that forwards observations into a bounded Tokio channel with
/// `try_send`: never waits; when the receiver lags and the channel is full, the observation
/// is dropped and counted ([`ChannelObserver::dropped`]).
#[derive(Debug)]
pub struct ChannelObserver {
    sender: mpsc::Sender<Observation>,
    sent: AtomicU64,
    dropped: AtomicU64,
}

/// A [`ChannelObserver`] holding up to `capacity` observations (at least 1), and the
/// receiver to read them from (in a task of your own).
pub fn channel(capacity: usize) -> (Arc<ChannelObserver>, mpsc::Receiver<Observation>) {
    let (sender, receiver) = mpsc::channel(capacity.max(1));
    let observer = ChannelObserver {
        sender,
        sent: AtomicU64::new(0),
        dropped: AtomicU64::new(0),
    };
    (Arc::new(observer), receiver)
}

impl ChannelObserver {
    /// Observations handed to the channel.
    pub fn sent(&self) -> u64 {
        self.sent.load(Ordering::Relaxed)
    }

    /// Observations dropped because the channel was full or its receiver gone.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }
}

impl Observer for ChannelObserver {
    fn observe(&self, observation: Observation) {
        let counter = match self.sender.try_send(observation) {
            Ok(()) => &self.sent,
            Err(_) => &self.dropped,
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }
}

/// Runs one call into the observer, catching a panic (counted and logged) so a faulty
/// observer never fails the request.
pub(crate) fn guarded<T>(metrics: &Metrics, call: impl FnOnce() -> T) -> Option<T> {
    match std::panic::catch_unwind(AssertUnwindSafe(call)) {
        Ok(value) => Some(value),
        Err(_) => {
            metrics.observer_panics.inc();
            tracing::warn!("the inference observer panicked; the request was answered");
            None
        }
    }
}
