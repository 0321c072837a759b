//! The background task of a run handle: takes points from the buffer, cuts them into batches
//! of at most [`limits::METRICS`](crate::limits::METRICS), keeps up to `max_in_flight`
//! `log_batch` calls running, and keeps the first error for the next flush.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use futures::future::BoxFuture;
use futures::stream::FuturesOrdered;
use mlops_core::{Metric, RunId, RunStatus, Timestamp};
use tokio::sync::{mpsc, oneshot};
use tokio::time::MissedTickBehavior;

use super::buffer::Buffer;
use crate::error::{Result, TrackError};
use crate::store::TrackingStore;

/// What the handle asks of its task.
#[derive(Debug)]
pub(crate) enum Command {
    /// Write everything buffered, wait for it, and answer with the first error since the
    /// last answer.
    Flush(oneshot::Sender<Result<()>>),
    /// The handle was dropped without `finish`: flush, mark the run FINISHED (FAILED when an
    /// error was recorded and never reported), signal `ack`, and stop.
    Close(std::sync::mpsc::SyncSender<()>),
}

/// The task's state.
pub(crate) struct Worker {
    pub(crate) store: Arc<dyn TrackingStore>,
    pub(crate) run: RunId,
    pub(crate) buffer: Arc<Buffer>,
    pub(crate) batch: usize,
    pub(crate) max_in_flight: usize,
    pub(crate) interval: Duration,
    pending: VecDeque<Vec<Metric>>,
    in_flight: FuturesOrdered<BoxFuture<'static, (usize, Result<()>)>>,
    error: Option<TrackError>,
}

/// Closes the buffer when the task ends, however it ends, so no thread blocks on it forever.
struct CloseOnDrop(Arc<Buffer>);

impl Drop for CloseOnDrop {
    fn drop(&mut self) {
        self.0.close();
    }
}

impl Worker {
    pub(crate) fn new(
        store: Arc<dyn TrackingStore>,
        run: RunId,
        buffer: Arc<Buffer>,
        batch: usize,
        max_in_flight: usize,
        interval: Duration,
    ) -> Self {
        Self {
            store,
            run,
            buffer,
            batch,
            max_in_flight,
            interval,
            pending: VecDeque::new(),
            in_flight: FuturesOrdered::new(),
            error: None,
        }
    }

    pub(crate) async fn run(mut self, mut commands: mpsc::UnboundedReceiver<Command>) {
        let _close = CloseOnDrop(Arc::clone(&self.buffer));
        let mut tick = tokio::time::interval(self.interval);
        tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
        tick.reset();
        loop {
            tokio::select! {
                biased;
                Some((points, result)) = self.in_flight.next(), if !self.in_flight.is_empty() => {
                    self.record(points, result);
                    self.dispatch(false);
                }
                command = commands.recv() => match command {
                    Some(Command::Flush(reply)) => {
                        self.drain().await;
                        // The caller may have given up waiting; nothing to do then.
                        let _ = reply.send(self.take_error());
                    }
                    Some(Command::Close(ack)) => {
                        self.drain().await;
                        self.mark_on_drop().await;
                        let _ = ack.try_send(());
                        return;
                    }
                    // The handle finished (it flushed first) or is gone: write what is left.
                    None => {
                        self.drain().await;
                        if let Some(e) = self.take_error().err() {
                            tracing::warn!(run = %self.run, error = %e, "metrics lost after the run handle ended");
                        }
                        return;
                    }
                },
                () = self.buffer.ready.notified() => self.dispatch(false),
                _ = tick.tick() => self.dispatch(true),
            }
        }
    }

    /// Moves buffered points into batches when none are pending (all of them, or only when
    /// a full batch waits), then starts batches while fewer than `max_in_flight` run.
    fn dispatch(&mut self, all: bool) {
        if self.pending.is_empty() && (all || self.buffer.has_batch()) {
            self.take_buffer();
        }
        self.start_pending();
    }

    fn take_buffer(&mut self) {
        let spare = Vec::with_capacity(self.batch);
        let taken = self.buffer.take(spare);
        let mut points = taken.into_iter();
        loop {
            let batch: Vec<Metric> = points.by_ref().take(self.batch).collect();
            if batch.is_empty() {
                break;
            }
            self.pending.push_back(batch);
        }
    }

    /// Starts pending batches in order. `FuturesOrdered` polls new futures first in the
    /// order they were pushed, so the store sees the calls begin in logging order.
    fn start_pending(&mut self) {
        while self.in_flight.len() < self.max_in_flight {
            let Some(batch) = self.pending.pop_front() else {
                break;
            };
            let store = Arc::clone(&self.store);
            let run = self.run.clone();
            self.in_flight.push_back(Box::pin(async move {
                let result = store.log_batch(&run, &batch, &[], &[]).await;
                (batch.len(), result)
            }));
        }
    }

    /// Writes everything buffered when called, and waits for every call in flight.
    async fn drain(&mut self) {
        self.take_buffer();
        loop {
            self.start_pending();
            match self.in_flight.next().await {
                Some((points, result)) => self.record(points, result),
                None => break,
            }
        }
    }

    fn record(&mut self, points: usize, result: Result<()>) {
        if let Err(e) = result {
            tracing::warn!(run = %self.run, points, error = %e, "a metric batch was not written");
            self.error.get_or_insert(e);
        }
    }

    /// The first error since the last call, if any.
    fn take_error(&mut self) -> Result<()> {
        self.error.take().map_or(Ok(()), Err)
    }

    async fn mark_on_drop(&mut self) {
        let status = match self.take_error() {
            Ok(()) => RunStatus::Finished,
            Err(e) => {
                tracing::warn!(run = %self.run, error = %e, "run handle dropped after an error; marking the run FAILED");
                RunStatus::Failed
            }
        };
        if let Err(e) = self
            .store
            .update_run(&self.run, Some(status), Some(Timestamp::now()), None)
            .await
        {
            tracing::warn!(run = %self.run, error = %e, "could not mark a dropped run");
        }
    }
}
