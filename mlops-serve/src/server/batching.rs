//! Admission control and adaptive batching, per model.
//!
//! Every model has `workers` permits (how many inferences run at once) and a bounded number
//! of admitted requests (`workers + queue_capacity`); one more is refused with 429.
//!
//! With `max_batch_size > 1` and a batchable model (dimension 0 of every tensor is `-1`), a
//! request that finds a free worker runs at once, alone: batching never adds latency to an
//! idle model. When all workers are busy, requests queue for the model's batcher task, which
//! waits for a worker, then takes every queued request (up to `max_batch_size` rows, waiting
//! at most `max_batch_delay` after the oldest for more), concatenates their inputs along
//! dimension 0, runs the model once and splits every output back by row offsets. With
//! `max_batch_size == 1` there is no batcher task and no channel hop at all.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use tokio::sync::{Semaphore, mpsc, oneshot};

use crate::error::{Error, Result};
use crate::metrics::ModelMetrics;
use crate::model::Servable;
use crate::tensor::{Tensor, TensorData};

/// One request waiting for the batcher.
struct Job {
    servable: Servable,
    inputs: Vec<Tensor>,
    rows: usize,
    enqueued: Instant,
    reply: oneshot::Sender<Result<Vec<Tensor>>>,
}

/// Admission, workers and the batcher of one model.
#[derive(Debug)]
pub(crate) struct Scheduler {
    name: String,
    permits: Arc<Semaphore>,
    admitted: AtomicUsize,
    capacity: usize,
    queue_capacity: usize,
    max_batch: usize,
    max_delay: Duration,
    metrics: ModelMetrics,
    batcher: OnceLock<mpsc::UnboundedSender<Job>>,
}

/// A request counted against the model's capacity until dropped.
#[derive(Debug)]
pub(crate) struct Admission<'a>(&'a AtomicUsize);

impl Drop for Admission<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

impl Scheduler {
    pub(crate) fn new(
        name: &str,
        workers: usize,
        queue_capacity: usize,
        max_batch: usize,
        max_delay: Duration,
        metrics: ModelMetrics,
    ) -> Self {
        Self {
            name: name.to_owned(),
            permits: Arc::new(Semaphore::new(workers.max(1))),
            admitted: AtomicUsize::new(0),
            capacity: workers.max(1) + queue_capacity,
            queue_capacity,
            max_batch: max_batch.max(1),
            max_delay,
            metrics,
            batcher: OnceLock::new(),
        }
    }

    /// Admits one request, or refuses it with 429 when the queue is full.
    pub(crate) fn admit(&self) -> Result<Admission<'_>> {
        let before = self.admitted.fetch_add(1, Ordering::AcqRel);
        let admission = Admission(&self.admitted);
        if before >= self.capacity {
            return Err(Error::QueueFull {
                name: self.name.clone(),
                capacity: self.queue_capacity,
            });
        }
        Ok(admission)
    }

    /// Runs one request's inference, batched with others when the model is busy.
    pub(crate) async fn run(
        &self,
        servable: &Servable,
        inputs: Vec<Tensor>,
        rows: usize,
    ) -> Result<Vec<Tensor>> {
        let arrived = Instant::now();
        let batching = self.max_batch > 1 && servable.metadata().batchable();
        let permit = if batching {
            match Arc::clone(&self.permits).try_acquire_owned() {
                Ok(permit) => permit,
                Err(_) => return self.enqueue(servable, inputs, rows, arrived).await,
            }
        } else {
            Arc::clone(&self.permits)
                .acquire_owned()
                .await
                .map_err(|_| Error::Draining)?
        };
        self.metrics.queue.observe(arrived.elapsed().as_secs_f64());
        self.metrics.batch.observe(1.0);
        let started = Instant::now();
        let result = servable.infer(inputs).await;
        self.metrics
            .inference
            .observe(started.elapsed().as_secs_f64());
        drop(permit);
        result
    }

    async fn enqueue(
        &self,
        servable: &Servable,
        inputs: Vec<Tensor>,
        rows: usize,
        arrived: Instant,
    ) -> Result<Vec<Tensor>> {
        let sender = self.batcher.get_or_init(|| {
            let (tx, rx) = mpsc::unbounded_channel();
            tokio::spawn(batcher(
                rx,
                Arc::clone(&self.permits),
                self.max_batch,
                self.max_delay,
                self.metrics.clone(),
            ));
            tx
        });
        let (reply, answer) = oneshot::channel();
        sender
            .send(Job {
                servable: servable.clone(),
                inputs,
                rows,
                enqueued: arrived,
                reply,
            })
            .map_err(|_| Error::Draining)?;
        answer
            .await
            .unwrap_or_else(|_| Err(Error::inference(&self.name, "the batch worker stopped")))
    }
}

/// The batcher task of one model: forms batches while workers are busy.
async fn batcher(
    mut queue: mpsc::UnboundedReceiver<Job>,
    permits: Arc<Semaphore>,
    max_rows: usize,
    max_delay: Duration,
    metrics: ModelMetrics,
) {
    let mut carried: Option<Job> = None;
    loop {
        let first = match carried.take() {
            Some(job) => job,
            None => match queue.recv().await {
                Some(job) => job,
                None => return,
            },
        };
        let Ok(permit) = Arc::clone(&permits).acquire_owned().await else {
            return;
        };
        let mut rows = first.rows;
        let window_end = first.enqueued + max_delay;
        let mut jobs = vec![first];
        while rows < max_rows {
            let next = match queue.try_recv() {
                Ok(job) => Some(job),
                Err(mpsc::error::TryRecvError::Disconnected) => None,
                Err(mpsc::error::TryRecvError::Empty) => {
                    if max_delay.is_zero() {
                        None
                    } else {
                        tokio::time::timeout_at(window_end.into(), queue.recv())
                            .await
                            .ok()
                            .flatten()
                    }
                }
            };
            let Some(job) = next else { break };
            if job.reply.is_closed() {
                continue; // Its caller gave up (deadline or disconnect).
            }
            if rows + job.rows > max_rows || !compatible(&jobs[0], &job) {
                carried = Some(job);
                break;
            }
            rows += job.rows;
            jobs.push(job);
        }
        jobs.retain(|job| !job.reply.is_closed());
        if jobs.is_empty() {
            continue;
        }
        let metrics = metrics.clone();
        tokio::spawn(async move {
            run_batch(jobs, rows, &metrics).await;
            drop(permit);
        });
    }
}

/// Whether `job` can join a batch started by `first`: same model instance, and the same
/// dimensions after the batch dimension for every input.
fn compatible(first: &Job, job: &Job) -> bool {
    let same_model = match (&first.servable, &job.servable) {
        (Servable::Sync(a), Servable::Sync(b)) => Arc::ptr_eq(a, b),
        (Servable::Async(a), Servable::Async(b)) => Arc::ptr_eq(a, b),
        _ => false,
    };
    same_model
        && first.inputs.len() == job.inputs.len()
        && first
            .inputs
            .iter()
            .zip(&job.inputs)
            .all(|(a, b)| a.data.shape().get(1..) == b.data.shape().get(1..))
}

async fn run_batch(jobs: Vec<Job>, rows: usize, metrics: &ModelMetrics) {
    let now = Instant::now();
    for job in &jobs {
        metrics
            .queue
            .observe(now.duration_since(job.enqueued).as_secs_f64());
    }
    #[allow(clippy::cast_precision_loss)]
    metrics.batch.observe(jobs.len() as f64);
    let servable = jobs[0].servable.clone();
    let name = servable.metadata().name.clone();
    if jobs.len() == 1 {
        let mut jobs = jobs;
        let Some(job) = jobs.pop() else { return };
        let result = servable.infer(job.inputs).await;
        metrics.inference.observe(now.elapsed().as_secs_f64());
        let _ = job.reply.send(result);
        return;
    }
    let mut merged = Vec::with_capacity(jobs[0].inputs.len());
    for (index, first) in jobs[0].inputs.iter().enumerate() {
        let parts: Vec<&TensorData> = jobs.iter().map(|job| &job.inputs[index].data).collect();
        match TensorData::concat_rows(&parts) {
            Ok(data) => merged.push(Tensor {
                name: first.name.clone(),
                data,
            }),
            Err(e) => {
                fail_all(jobs, &e);
                return;
            }
        }
    }
    let result = servable.infer(merged).await;
    metrics.inference.observe(now.elapsed().as_secs_f64());
    let outputs = match result {
        Ok(outputs) => outputs,
        Err(e) => {
            fail_all(jobs, &e);
            return;
        }
    };
    if let Some(bad) = outputs
        .iter()
        .find(|t| t.data.shape().first() != Some(&rows))
    {
        let e = Error::inference(
            &name,
            format!(
                "output {:?} has shape {:?}; a batch of {rows} rows needs {rows} along dimension 0",
                bad.name,
                bad.data.shape()
            ),
        );
        fail_all(jobs, &e);
        return;
    }
    let mut offset = 0;
    for job in jobs {
        let end = offset + job.rows;
        let split: Result<Vec<Tensor>> = outputs
            .iter()
            .map(|t| {
                Ok(Tensor {
                    name: t.name.clone(),
                    data: t.data.slice_rows(offset, end)?,
                })
            })
            .collect();
        offset = end;
        let _ = job.reply.send(split);
    }
}

/// Sends a copy of `error` to every job of a failed batch.
fn fail_all(jobs: Vec<Job>, error: &Error) {
    for job in jobs {
        let copy = match error {
            Error::InvalidRequest(m) => Error::InvalidRequest(m.clone()),
            Error::Inference { model, message } => Error::inference(model, message),
            other => Error::inference(job.servable.metadata().name.clone(), other.to_string()),
        };
        let _ = job.reply.send(Err(copy));
    }
}
