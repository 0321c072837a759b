//! Shadow traffic: copies of requests handed to another version through a bounded queue
//! (a full queue drops the copy, counted), run one at a time off the request path, and
//! compared with the answer the caller got. Nothing here can delay or fail a caller: the
//! handler only tries to enqueue.

use std::sync::{Arc, OnceLock};

use tokio::sync::mpsc;

use super::table::Entry;
use crate::metrics::Metrics;
use crate::tensor::{Tensor, TensorData};

/// Copies waiting for the shadow versions, across all models.
pub(crate) const SHADOW_QUEUE: usize = 1024;

/// One copy: the shadow version, the request's inputs and the served answer.
pub(crate) struct Job {
    pub(crate) entry: Arc<Entry>,
    pub(crate) inputs: Vec<Tensor>,
    pub(crate) served: Vec<Tensor>,
}

/// The queue, started with its worker on first use (the builder runs outside a runtime).
#[derive(Debug)]
pub(crate) struct ShadowQueue {
    sender: OnceLock<mpsc::Sender<Job>>,
    metrics: Arc<Metrics>,
}

impl ShadowQueue {
    pub(crate) fn new(metrics: Arc<Metrics>) -> Self {
        Self {
            sender: OnceLock::new(),
            metrics,
        }
    }

    /// Enqueues a copy, or drops it (counted) when the queue is full.
    pub(crate) fn offer(&self, job: Job) {
        let sender = self.sender.get_or_init(|| {
            let (sender, receiver) = mpsc::channel(SHADOW_QUEUE);
            tokio::spawn(work(receiver, Arc::clone(&self.metrics)));
            sender
        });
        if let Err(error) = sender.try_send(job) {
            let job = match error {
                mpsc::error::TrySendError::Full(job) | mpsc::error::TrySendError::Closed(job) => {
                    job
                }
            };
            self.metrics.shadow_dropped(job.entry.name());
        }
    }
}

async fn work(mut receiver: mpsc::Receiver<Job>, metrics: Arc<Metrics>) {
    while let Some(job) = receiver.recv().await {
        let Some(servable) = job.entry.servable.clone() else {
            continue;
        };
        let (name, version) = (job.entry.name(), job.entry.version().unwrap_or(""));
        match servable.infer(job.inputs).await {
            Ok(answer) => {
                let (difference, mismatch) = disagreement(&job.served, &answer);
                metrics.shadow_answered(name, version, difference, mismatch);
            }
            Err(error) => {
                tracing::debug!(model = name, version, %error, "shadow inference failed");
                metrics.shadow_failed(name, version);
            }
        }
    }
}

/// The values of a tensor as numbers, or `None` for labels (`BYTES`, `BOOL`).
fn numbers(data: &TensorData) -> Option<Vec<f64>> {
    macro_rules! cast {
        ($a:expr) => {
            Some($a.iter().map(|&v| v as f64).collect())
        };
    }
    #[allow(clippy::cast_precision_loss, clippy::cast_lossless)]
    match data {
        TensorData::Uint8(a) => cast!(a),
        TensorData::Uint16(a) => cast!(a),
        TensorData::Uint32(a) => cast!(a),
        TensorData::Uint64(a) => cast!(a),
        TensorData::Int8(a) => cast!(a),
        TensorData::Int16(a) => cast!(a),
        TensorData::Int32(a) => cast!(a),
        TensorData::Int64(a) => cast!(a),
        TensorData::Fp16(a) => Some(a.iter().map(|v| f64::from(*v)).collect()),
        TensorData::Fp32(a) => Some(a.iter().map(|&v| f64::from(v)).collect()),
        TensorData::Fp64(a) => Some(a.iter().copied().collect()),
        _ => None,
    }
}

/// How far the shadow's answer is from the served one, over the outputs both have: the mean
/// absolute difference of numeric values, and the share of label values that differ. A
/// label output whose shape differs counts as all mismatched; a numeric one as undefined.
pub(crate) fn disagreement(served: &[Tensor], shadow: &[Tensor]) -> (Option<f64>, Option<f64>) {
    let (mut diff_sum, mut diff_n, mut mismatched, mut labels) = (0.0, 0usize, 0usize, 0usize);
    for ours in served {
        let Some(theirs) = shadow.iter().find(|t| t.name == ours.name) else {
            continue;
        };
        let same_shape = ours.data.shape() == theirs.data.shape();
        match (numbers(&ours.data), numbers(&theirs.data)) {
            (Some(a), Some(b)) if same_shape => {
                diff_sum += a.iter().zip(&b).map(|(x, y)| (x - y).abs()).sum::<f64>();
                diff_n += a.len();
            }
            (None, None) => {
                labels += ours.data.len();
                mismatched += if same_shape && ours.data == theirs.data {
                    0
                } else if same_shape {
                    label_mismatches(&ours.data, &theirs.data)
                } else {
                    ours.data.len()
                };
            }
            _ => {}
        }
    }
    #[allow(clippy::cast_precision_loss)]
    let mean = |sum: f64, n: usize| (n > 0).then(|| sum / n as f64);
    #[allow(clippy::cast_precision_loss)]
    (mean(diff_sum, diff_n), mean(mismatched as f64, labels))
}

fn label_mismatches(a: &TensorData, b: &TensorData) -> usize {
    match (a, b) {
        (TensorData::Bytes(a), TensorData::Bytes(b)) => {
            a.iter().zip(b.iter()).filter(|(x, y)| x != y).count()
        }
        (TensorData::Bool(a), TensorData::Bool(b)) => {
            a.iter().zip(b.iter()).filter(|(x, y)| x != y).count()
        }
        _ => a.len(),
    }
}
