//! Admission control and adaptive batching, per model.
//!
//! Every model has `workers` permits (how many inferences run at once) and a bounded number
//! of admitted requests (`workers + queue_capacity`); one more is refused with 429.
//!
//! With `max_batch_size > 1` and a batchable model (dimension 0 of every tensor is `-1`), a
//! request alone in the model (no other admitted) runs at once on a free worker, as without
//! batching, unless the last batches the queue formed had company (load: a model that runs
//! inline answers within one poll, so under load a request rarely sees another admitted).
//! Since such a request never meets company, one alone request in [`PROBE_EVERY`] goes
//! through the queue anyway: under load its one-pass window collects the requests that were
//! ready meanwhile, and a batch with company sends every request through the queue again; on
//! an idle model it costs that one request one scheduler pass.
//! Any other request joins the model's queue. The request that finds the queue
//! without a leader
//! leads the next batch: it lets the batch fill, then waits for a free worker (requests keep
//! joining while all are busy), takes up to `max_batch_size` rows of requests with the same
//! trailing dimensions, concatenates their inputs along dimension 0, runs the model once and
//! splits every output back by row offsets. The fill window is bounded:
//!
//! - with `max_batch_delay == 0` (the default), one pass of the async scheduler: the leader
//!   yields, and every request that is ready to run meanwhile (read, decoded, admitted) joins.
//!   Under load the batch is every request that arrived while the previous one ran, with no
//!   timer and no tuning;
//! - otherwise until the oldest request has waited `max_batch_delay` or the batch is full.
//!
//! The leader runs its batch on its own task (no task to spawn, no wake-up to cross to), and
//! hands the rest of the batch to a task of its own when it leaves before the batch ends (its
//! deadline passed, its client went away), so a leader that gives up never fails the
//! requests it collected; a leader that leaves while collecting hands the queue to a
//! collector task. A failed batch is run again one request at a time, so a failure reaches
//! only the requests that cause it. With `max_batch_size == 1` there is no queue at all.
//!
//! Deadlines: a queued request carries its deadline and waits for its answer without a timer
//! of its own (a timer entry per request cost as much as the rest of the queueing). Whoever
//! holds a request answers it `DeadlineExceeded` once its deadline passes: the leader or
//! collector waiting for a worker or a batch window sleeps until the earliest deadline in the
//! queue, a running batch until the earliest of its requests', and a batch taken off the
//! queue leaves out the requests already due. So there is one timer per wait, not per
//! request, and none when the model answers within its first poll. A request that joins the
//! queue with an earlier deadline than the one its watcher sleeps until (deadlines follow
//! arrival, not queueing: a slow body queues late) bounds its own wait as before.

use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll, Wake, Waker};
use std::time::{Duration, Instant};

use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore, TryAcquireError, oneshot};

use super::bound;
use crate::error::{Error, Result};
use crate::metrics::ModelMetrics;
use crate::model::Servable;
use crate::tensor::{Bytes, Datatype, Element, Tensor, TensorData, f16};

/// A request's answer, sent by whoever holds its [`Job`].
type Answer = Result<Reply>;

/// The outputs of a request: its own (it ran alone), or its rows of a batch's, which the
/// request's own task copies out. So the batch's holder only sends, and each row block is
/// allocated, read and freed on the requester's thread: copying every request's rows on the
/// holder's thread made it the batch's longest serial step, and the requesters then freed
/// memory of another thread (each such free is a handoff in the allocator).
enum Reply {
    Own(Vec<Tensor>),
    Rows {
        outputs: Arc<Vec<Tensor>>,
        start: usize,
        end: usize,
    },
}

impl Reply {
    /// The request's outputs.
    fn into_outputs(self) -> Result<Vec<Tensor>> {
        match self {
            Reply::Own(outputs) => Ok(outputs),
            Reply::Rows {
                outputs,
                start,
                end,
            } => rows_of(&outputs, start, end),
        }
    }
}

/// One request waiting for a batch.
struct Job {
    servable: Servable,
    inputs: Vec<Tensor>,
    rows: usize,
    enqueued: Instant,
    /// When the caller's deadline passes: the job's holder answers `DeadlineExceeded` then.
    deadline: Instant,
    /// The model's deadline (for the error).
    limit: Duration,
    /// `None` once answered.
    reply: Option<oneshot::Sender<Answer>>,
}

impl Job {
    /// Whether the caller still waits for an answer (not answered, not gone).
    fn waiting(&self) -> bool {
        self.reply.as_ref().is_some_and(|reply| !reply.is_closed())
    }

    /// Sends `answer` unless the job was answered already.
    fn answer(&mut self, answer: Answer) {
        if let Some(reply) = self.reply.take() {
            let _ = reply.send(answer);
        }
    }

    /// Answers `DeadlineExceeded` (of model `name`).
    fn expire(&mut self, name: &str) {
        let limit = self.limit;
        self.answer(Err(expired(name, limit)));
    }
}

/// The error of a request that did not get its answer within `limit`.
fn expired(name: &str, limit: Duration) -> Error {
    Error::DeadlineExceeded {
        name: name.to_owned(),
        deadline: limit,
    }
}

/// Admission, workers and the batch queue of one model.
#[derive(Debug)]
pub(crate) struct Scheduler {
    name: String,
    admitted: AtomicUsize,
    capacity: usize,
    queue_capacity: usize,
    batcher: Arc<Batcher>,
}

/// What the collector tasks share with the scheduler.
#[derive(Debug)]
struct Batcher {
    name: String,
    permits: Arc<Semaphore>,
    max_rows: usize,
    max_delay: Duration,
    metrics: ModelMetrics,
    queue: Mutex<Queue>,
    /// Woken when the queue holds a full batch (ends a `max_delay` window early).
    full: Notify,
    /// Batches in a row that the queue formed with one request (saturates at [`LONELY`]).
    lonely: AtomicUsize,
    /// Alone requests so far, counted to send one in [`PROBE_EVERY`] through the queue.
    alone: AtomicUsize,
}

/// After this many batches of one in a row, a request alone in the model skips the queue
/// again; a batch of more than one sends every request back through it.
const LONELY: usize = 8;

/// One request in this many that would run alone goes through the queue, to find out whether
/// the model is under load (see the module docs).
const PROBE_EVERY: usize = 16;

/// Requests waiting for a batch, and whether a leader or collector task is on them.
#[derive(Default)]
struct Queue {
    jobs: VecDeque<Job>,
    rows: usize,
    collecting: bool,
    /// The deadline the leader or collector sleeps until while it waits (`None`: it looks at
    /// every queued request before it waits again). A request due earlier bounds itself.
    watch: Option<Instant>,
}

impl std::fmt::Debug for Queue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Queue")
            .field("jobs", &self.jobs.len())
            .field("rows", &self.rows)
            .field("collecting", &self.collecting)
            .field("watch", &self.watch)
            .finish()
    }
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
            admitted: AtomicUsize::new(0),
            capacity: workers.max(1) + queue_capacity,
            queue_capacity,
            batcher: Arc::new(Batcher {
                name: name.to_owned(),
                permits: Arc::new(Semaphore::new(workers.max(1))),
                max_rows: max_batch.max(1),
                max_delay,
                metrics,
                queue: Mutex::new(Queue::default()),
                full: Notify::new(),
                lonely: AtomicUsize::new(LONELY),
                alone: AtomicUsize::new(0),
            }),
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

    /// Runs one (admitted) request's inference, batched with others when the model is busy;
    /// `DeadlineExceeded` when the answer is not in `limit` after `arrived`.
    pub(crate) async fn run(
        &self,
        servable: &Servable,
        inputs: Vec<Tensor>,
        rows: usize,
        arrived: Instant,
        limit: Duration,
    ) -> Result<Vec<Tensor>> {
        let deadline = arrived + limit;
        let batcher = &self.batcher;
        let permit = if batcher.max_rows > 1 && servable.metadata().batchable() {
            // Alone in the model (no other request admitted, so none queued) while recent
            // batches found no company: no one to wait for, an idle model pays nothing. Under
            // load a request that runs inline rarely sees another admitted, so the queue's
            // recent batches, not the admitted count alone, say whether to wait.
            let alone = self.admitted.load(Ordering::Acquire) <= 1
                && batcher.lonely.load(Ordering::Relaxed) >= LONELY
                && !batcher.probe();
            match alone.then(|| Arc::clone(&batcher.permits).try_acquire_owned()) {
                Some(Ok(permit)) => Some(permit),
                _ => {
                    return batcher
                        .submit(servable, inputs, rows, arrived, deadline, limit)
                        .await;
                }
            }
        } else {
            None
        };
        // Unqueued: the time bound builds its timer only when the model has to be waited for.
        let alone = async {
            let permit = match permit {
                Some(permit) => permit,
                None => Arc::clone(&batcher.permits)
                    .acquire_owned()
                    .await
                    .map_err(|_| Error::Draining)?,
            };
            let metrics = &batcher.metrics;
            let started = Instant::now();
            metrics.queue.observe((started - arrived).as_secs_f64());
            metrics.batch.observe(1.0);
            let result = servable.infer(inputs).await;
            metrics.inference.observe(started.elapsed().as_secs_f64());
            drop(permit);
            result
        };
        bound::until(deadline.into(), alone)
            .await
            .map_err(|_| expired(&self.name, limit))?
    }
}

/// Hands the queue to a collector task if the leader holding it is dropped before it took
/// its batch (its caller gave up while the batch filled or waited for a worker).
struct Leading<'a> {
    batcher: &'a Arc<Batcher>,
    done: bool,
}

impl Drop for Leading<'_> {
    fn drop(&mut self) {
        if !self.done {
            self.batcher.spawn_collector();
        }
    }
}

/// A batch that its leader runs on its own task; handed to a task of its own when the
/// leader leaves (or is dropped) before it ends, so the requests it holds are still answered.
struct HandOff(Option<Pin<Box<dyn Future<Output = ()> + Send>>>);

impl Drop for HandOff {
    fn drop(&mut self) {
        if let Some(batch) = self.0.take() {
            // Without a runtime (shutting down) the batch is dropped: its callers get an
            // error from their closed channel, as nothing will run it.
            if let Ok(runtime) = tokio::runtime::Handle::try_current() {
                runtime.spawn(batch);
            }
        }
    }
}

/// A batch taken off the queue: its jobs, their rows, a worker's permit, and whether
/// requests remain queued beyond it.
type Batch = (Vec<Job>, usize, OwnedSemaphorePermit, bool);

impl Batcher {
    /// The answer of a request whose reply channel closed unanswered (its holder was dropped).
    fn stopped(&self) -> Answer {
        Err(Error::inference(&self.name, "the batch worker stopped"))
    }

    /// Whether this alone request should go through the queue to probe for load.
    fn probe(&self) -> bool {
        self.alone.fetch_add(1, Ordering::Relaxed) % PROBE_EVERY == PROBE_EVERY - 1
    }

    /// Queues a request; leads the next batch if no request does, and waits for the answer.
    async fn submit(
        self: &Arc<Self>,
        servable: &Servable,
        inputs: Vec<Tensor>,
        rows: usize,
        arrived: Instant,
        deadline: Instant,
        limit: Duration,
    ) -> Result<Vec<Tensor>> {
        let (reply, answer) = oneshot::channel();
        let job = Job {
            servable: servable.clone(),
            inputs,
            rows,
            enqueued: arrived,
            deadline,
            limit,
            reply: Some(reply),
        };
        let (lead, watched) = {
            let mut queue = self.queue.lock().unwrap_or_else(PoisonError::into_inner);
            queue.jobs.push_back(job);
            queue.rows += rows;
            if queue.rows >= self.max_rows {
                self.full.notify_one();
            }
            let lead = !std::mem::replace(&mut queue.collecting, true);
            (
                lead,
                lead || queue.watch.is_none_or(|watch| deadline >= watch),
            )
        };
        let answer = if lead {
            self.lead(answer).await
        } else if watched {
            answer.await.unwrap_or_else(|_| self.stopped())
        } else {
            bound::until(deadline.into(), answer)
                .await
                .map_err(|_| expired(&self.name, limit))?
                .unwrap_or_else(|_| self.stopped())
        };
        answer?.into_outputs()
    }

    /// Leads the next batch (the caller's request is its oldest) and runs it on this task;
    /// leaves as soon as the caller's answer is in (the batch goes on on a task of its own).
    async fn lead(self: &Arc<Self>, mut answer: oneshot::Receiver<Answer>) -> Answer {
        let mut leading = Leading {
            batcher: self,
            done: false,
        };
        // The batch, unless the caller's deadline passed while it filled or waited for a
        // worker (the leader's own wait expired it): then `leading` hands the queue on.
        let batch = {
            let mut next = std::pin::pin!(self.next_batch());
            std::future::poll_fn(|cx| {
                if let Poll::Ready(batch) = next.as_mut().poll(cx) {
                    return Poll::Ready(Ok(batch));
                }
                Pin::new(&mut answer).poll(cx).map(Err)
            })
            .await
        };
        let batch = match batch {
            Ok(batch) => batch,
            Err(result) => return result.unwrap_or_else(|_| self.stopped()),
        };
        leading.done = true;
        let Some((jobs, rows, permit, more)) = batch else {
            // Nothing left to lead: every queued request, this one too, was answered.
            return answer.await.unwrap_or_else(|_| self.stopped());
        };
        if more {
            self.spawn_collector();
        }
        let mut run = HandOff(Some(Box::pin(
            Arc::clone(self).run_batch(jobs, rows, permit),
        )));
        std::future::poll_fn(|cx| {
            if let Some(batch) = run.0.as_mut()
                && batch.as_mut().poll(cx).is_ready()
            {
                run.0 = None;
            }
            Pin::new(&mut answer).poll(cx)
        })
        .await
        .unwrap_or_else(|_| self.stopped())
    }

    /// Starts a task that forms batches until the queue is empty.
    fn spawn_collector(self: &Arc<Self>) {
        let batcher = Arc::clone(self);
        let collect = async move {
            while let Some((jobs, rows, permit, more)) = batcher.next_batch().await {
                tokio::spawn(Arc::clone(&batcher).run_batch(jobs, rows, permit));
                if !more {
                    break;
                }
            }
        };
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) => {
                runtime.spawn(collect);
            }
            // No runtime (it is shutting down): nothing will run a batch again.
            Err(_) => self.fail_queued(&Error::Draining),
        }
    }

    /// Lets the next batch fill, waits for a worker and takes the batch off the queue, with
    /// the worker's permit and whether requests remain queued beyond it (the caller then
    /// stays on the queue). `None` when the queue is empty: nothing is left to lead. While
    /// it waits, queued requests whose deadline passes are answered.
    async fn next_batch(&self) -> Option<Batch> {
        self.fill_window().await;
        let permit = loop {
            let next = match Arc::clone(&self.permits).try_acquire_owned() {
                Ok(permit) => break permit,
                Err(TryAcquireError::NoPermits) => self.expire_queued()?,
                Err(TryAcquireError::Closed) => {
                    self.fail_queued(&Error::Draining);
                    return None;
                }
            };
            // Every worker is busy: sleep until one is free or the earliest queued deadline
            // passes, whichever comes first.
            let acquire = Arc::clone(&self.permits).acquire_owned();
            match tokio::time::timeout_at(next.into(), acquire).await {
                Ok(Ok(permit)) => break permit,
                Ok(Err(_closed)) => {
                    self.fail_queued(&Error::Draining);
                    return None;
                }
                Err(_elapsed) => {}
            }
        };
        let (jobs, rows, more) = self.take_batch();
        (!jobs.is_empty()).then_some((jobs, rows, permit, more))
    }

    /// Answers the queued requests whose deadline has passed and drops those whose caller
    /// left; returns the earliest deadline left (the one to sleep until), or `None` (and
    /// leaves the queue) when none is left.
    fn expire_queued(&self) -> Option<Instant> {
        let now = Instant::now();
        let mut due = Vec::new();
        let next = {
            let mut queue = self.queue.lock().unwrap_or_else(PoisonError::into_inner);
            let mut kept = VecDeque::with_capacity(queue.jobs.len());
            let mut next: Option<Instant> = None;
            while let Some(job) = queue.jobs.pop_front() {
                if job.deadline <= now || !job.waiting() {
                    queue.rows -= job.rows;
                    due.push(job);
                } else {
                    next = Some(next.map_or(job.deadline, |next| next.min(job.deadline)));
                    kept.push_back(job);
                }
            }
            queue.jobs = kept;
            queue.collecting = next.is_some();
            queue.watch = next;
            next
        };
        for mut job in due {
            job.expire(&self.name);
        }
        next
    }

    /// Lets the batch fill: one scheduler pass, or up to `max_delay` after the oldest request
    /// (or the earliest deadline, if sooner) unless the batch fills first.
    async fn fill_window(&self) {
        if self.max_delay.is_zero() {
            one_scheduler_pass().await;
            return;
        }
        let end = {
            let mut queue = self.queue.lock().unwrap_or_else(PoisonError::into_inner);
            if queue.rows >= self.max_rows {
                return;
            }
            let Some(oldest) = queue.jobs.front().map(|job| job.enqueued) else {
                return;
            };
            let due = queue.jobs.iter().map(|job| job.deadline).min();
            queue.watch = due;
            let end = oldest + self.max_delay;
            due.map_or(end, |due| due.min(end))
        };
        let _ = tokio::time::timeout_at(end.into(), self.full.notified()).await;
    }

    /// Takes the next batch off the queue: the oldest request and every later one with the
    /// same trailing dimensions, up to `max_rows` rows; requests whose caller left are
    /// dropped, those whose deadline passed answered. Returns the jobs, their rows, and
    /// whether requests remain queued (then the collector stays on the queue; otherwise it
    /// leaves it).
    fn take_batch(&self) -> (Vec<Job>, usize, bool) {
        let now = Instant::now();
        let mut due = Vec::new();
        let mut queue = self.queue.lock().unwrap_or_else(PoisonError::into_inner);
        let mut jobs: Vec<Job> = Vec::new();
        let mut rows = 0;
        let mut kept = VecDeque::new();
        while let Some(job) = queue.jobs.pop_front() {
            if !job.waiting() || job.deadline <= now {
                queue.rows -= job.rows;
                due.push(job); // Its caller gave up (disconnect), or its deadline passed.
                continue;
            }
            let fits = match jobs.first() {
                None => true,
                Some(first) => rows + job.rows <= self.max_rows && compatible(first, &job),
            };
            if !fits {
                kept.push_back(job);
                if rows >= self.max_rows {
                    break;
                }
                continue;
            }
            rows += job.rows;
            queue.rows -= job.rows;
            jobs.push(job);
        }
        kept.append(&mut queue.jobs);
        queue.jobs = kept;
        let more = !queue.jobs.is_empty();
        queue.collecting = more;
        queue.watch = None;
        drop(queue);
        for mut job in due {
            job.expire(&self.name);
        }
        let lonely = match jobs.len() {
            0 => self.lonely.load(Ordering::Relaxed),
            1 => (self.lonely.load(Ordering::Relaxed) + 1).min(LONELY),
            _ => 0,
        };
        self.lonely.store(lonely, Ordering::Relaxed);
        (jobs, rows, more)
    }

    /// Answers every queued request with `error` (the server is shutting down).
    fn fail_queued(&self, error: &Error) {
        let jobs: Vec<Job> = {
            let mut queue = self.queue.lock().unwrap_or_else(PoisonError::into_inner);
            queue.rows = 0;
            queue.collecting = false;
            queue.watch = None;
            queue.jobs.drain(..).collect()
        };
        fail_all(jobs, error);
    }

    /// `work`, answering each of `jobs` whose deadline passes meanwhile: no timer when the
    /// work is done at its first poll, one at the earliest deadline of the jobs still waiting
    /// otherwise.
    async fn watch<F: Future>(&self, work: F, jobs: &mut [Job]) -> F::Output {
        let mut work = std::pin::pin!(work);
        if let Some(output) = bound::poll_once(work.as_mut()).await {
            return output;
        }
        loop {
            let now = Instant::now();
            let mut next: Option<Instant> = None;
            for job in jobs.iter_mut().filter(|job| job.reply.is_some()) {
                if job.deadline <= now {
                    job.expire(&self.name);
                } else {
                    next = Some(next.map_or(job.deadline, |next| next.min(job.deadline)));
                }
            }
            let Some(next) = next else {
                return work.await;
            };
            if let Ok(output) = tokio::time::timeout_at(next.into(), work.as_mut()).await {
                return output;
            }
        }
    }

    /// Runs one batch and answers its requests; the worker permit is released at the end.
    async fn run_batch(
        self: Arc<Self>,
        mut jobs: Vec<Job>,
        rows: usize,
        permit: OwnedSemaphorePermit,
    ) {
        let metrics = &self.metrics;
        let now = Instant::now();
        for job in &jobs {
            metrics
                .queue
                .observe(now.duration_since(job.enqueued).as_secs_f64());
        }
        #[allow(clippy::cast_precision_loss)]
        metrics.batch.observe(jobs.len() as f64);
        let servable = jobs[0].servable.clone();
        if jobs.len() == 1 {
            let inputs = std::mem::take(&mut jobs[0].inputs);
            let result = self.watch(servable.infer(inputs), &mut jobs).await;
            metrics.inference.observe(now.elapsed().as_secs_f64());
            drop(permit);
            jobs[0].answer(result.map(Reply::Own));
            return;
        }
        let result = match merge_inputs(&jobs) {
            Ok(merged) => self.watch(servable.infer(merged), &mut jobs).await,
            Err(e) => Err(e),
        };
        metrics.inference.observe(now.elapsed().as_secs_f64());
        match result.and_then(|outputs| check_rows(&servable, outputs, rows)) {
            Ok(outputs) => {
                drop(permit);
                split_outputs(&mut jobs, outputs);
            }
            Err(_) => {
                // One request may be the cause: run each alone, so only its caller fails.
                for index in 0..jobs.len() {
                    if !jobs[index].waiting() {
                        continue;
                    }
                    let started = Instant::now();
                    let inputs = std::mem::take(&mut jobs[index].inputs);
                    let result = self.watch(servable.infer(inputs), &mut jobs[index..]).await;
                    metrics.inference.observe(started.elapsed().as_secs_f64());
                    jobs[index].answer(result.map(Reply::Own));
                }
                drop(permit);
            }
        }
    }
}

/// One pass of the async scheduler: pending until the runtime has run every task that was
/// ready (tokio's `yield_now` defers its wake-up until then). `yield_now` alone is ready at
/// its second poll whether or not it was woken, and a time bound polls the work once before
/// it builds its timer and once more in it (`bound::until`): the batch window would close
/// before any other request could join. This one is ready only once it was woken.
async fn one_scheduler_pass() {
    let flag = Arc::new(WakeFlag::default());
    let mut inner = std::pin::pin!(tokio::task::yield_now());
    let mut polled = false;
    std::future::poll_fn(|cx| {
        *flag.task.lock().unwrap_or_else(PoisonError::into_inner) = Some(cx.waker().clone());
        if std::mem::replace(&mut polled, true) && !flag.woken.load(Ordering::Acquire) {
            return Poll::Pending;
        }
        let waker = Waker::from(Arc::clone(&flag));
        inner.as_mut().poll(&mut Context::from_waker(&waker))
    })
    .await;
}

/// Whether the scheduler woke [`one_scheduler_pass`], and the task to wake then.
#[derive(Default)]
struct WakeFlag {
    woken: AtomicBool,
    task: Mutex<Option<Waker>>,
}

impl Wake for WakeFlag {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.woken.store(true, Ordering::Release);
        let task = self
            .task
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(task) = task {
            task.wake();
        }
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

/// `$f::<T>(args)` for the element type `T` of the datatype `$datatype`.
macro_rules! by_datatype {
    ($datatype:expr, $f:ident($($arg:expr),*)) => {
        match $datatype {
            Datatype::Bool => $f::<bool>($($arg),*),
            Datatype::Uint8 => $f::<u8>($($arg),*),
            Datatype::Uint16 => $f::<u16>($($arg),*),
            Datatype::Uint32 => $f::<u32>($($arg),*),
            Datatype::Uint64 => $f::<u64>($($arg),*),
            Datatype::Int8 => $f::<i8>($($arg),*),
            Datatype::Int16 => $f::<i16>($($arg),*),
            Datatype::Int32 => $f::<i32>($($arg),*),
            Datatype::Int64 => $f::<i64>($($arg),*),
            Datatype::Fp16 => $f::<f16>($($arg),*),
            Datatype::Fp32 => $f::<f32>($($arg),*),
            Datatype::Fp64 => $f::<f64>($($arg),*),
            Datatype::Bytes => $f::<Bytes>($($arg),*),
        }
    };
}

/// `parts` (one element type, the same trailing dimensions) concatenated along dimension 0
/// with one copy per part, when every part is contiguous in standard order (as decoded
/// requests are); `None` otherwise, for ndarray's general concatenation (which costs more
/// than the model call of a small model for a batch of single rows).
fn concat_contiguous<T: Element>(parts: &[&TensorData]) -> Option<TensorData> {
    let first = T::unwrap_ref(parts.first()?)?;
    let (mut rows, mut len) = (0usize, 0usize);
    for part in parts {
        let array = T::unwrap_ref(part)?;
        if array.ndim() != first.ndim() || array.shape().get(1..) != first.shape().get(1..) {
            return None;
        }
        array.as_slice()?;
        rows += array.shape().first()?;
        len += array.len();
    }
    let mut values = Vec::with_capacity(len);
    for part in parts {
        values.extend_from_slice(T::unwrap_ref(part)?.as_slice()?);
    }
    with_rows(first, rows, values).map(T::wrap)
}

/// Rows `start..end` of `data` as a tensor of their own, copied straight from its buffer
/// when it is contiguous in standard order; `None` otherwise (or out of range), for the
/// general slicing and its error.
fn rows_contiguous<T: Element>(data: &TensorData, start: usize, end: usize) -> Option<TensorData> {
    let array = T::unwrap_ref(data)?;
    let values = array.as_slice()?;
    let rows = *array.shape().first()?;
    if start > end || end > rows {
        return None;
    }
    let row = values.len().checked_div(rows).unwrap_or(0);
    let part = values.get(start * row..end * row)?.to_vec();
    Some(T::wrap(with_rows(array, end - start, part)?))
}

/// `values` as an array of `rows` rows shaped like `like` after dimension 0. Rank 2 (a row
/// of features or outputs, the usual case) goes through ndarray's fixed-rank constructor:
/// the dynamic one's stride computation cost as much as the copy and allocation together.
fn with_rows<T>(
    like: &ndarray::ArrayD<T>,
    rows: usize,
    values: Vec<T>,
) -> Option<ndarray::ArrayD<T>> {
    if let &[_, columns] = like.shape() {
        return ndarray::Array2::from_shape_vec((rows, columns), values)
            .ok()
            .map(ndarray::ArrayBase::into_dyn);
    }
    let mut dim = like.raw_dim();
    dim[0] = rows;
    ndarray::ArrayD::from_shape_vec(dim, values).ok()
}

/// The batch's inputs, each the requests' tensors concatenated along dimension 0.
fn merge_inputs(jobs: &[Job]) -> Result<Vec<Tensor>> {
    let mut merged = Vec::with_capacity(jobs[0].inputs.len());
    for (index, first) in jobs[0].inputs.iter().enumerate() {
        let parts: Vec<&TensorData> = jobs.iter().map(|job| &job.inputs[index].data).collect();
        let data = match by_datatype!(first.data.datatype(), concat_contiguous(&parts)) {
            Some(data) => data,
            None => TensorData::concat_rows(&parts)?,
        };
        merged.push(Tensor {
            name: first.name.clone(),
            data,
        });
    }
    Ok(merged)
}

/// `outputs`, once every one has `rows` rows along dimension 0.
fn check_rows(servable: &Servable, outputs: Vec<Tensor>, rows: usize) -> Result<Vec<Tensor>> {
    match outputs
        .iter()
        .find(|t| t.data.shape().first() != Some(&rows))
    {
        None => Ok(outputs),
        Some(bad) => Err(Error::inference(
            &servable.metadata().name,
            format!(
                "output {:?} has shape {:?}; a batch of {rows} rows needs {rows} along dimension 0",
                bad.name,
                bad.data.shape()
            ),
        )),
    }
}

/// Answers each job still waiting with its rows of the batch's outputs (copied out by the
/// job's own task, see [`Reply`]).
fn split_outputs(jobs: &mut [Job], outputs: Vec<Tensor>) {
    let outputs = Arc::new(outputs);
    let mut offset = 0;
    for job in jobs {
        let (start, end) = (offset, offset + job.rows);
        offset = end;
        if !job.waiting() {
            continue; // Answered (deadline) or gone.
        }
        job.answer(Ok(Reply::Rows {
            outputs: Arc::clone(&outputs),
            start,
            end,
        }));
    }
}

/// Rows `start..end` of every output.
fn rows_of(outputs: &[Tensor], start: usize, end: usize) -> Result<Vec<Tensor>> {
    let mut split = Vec::with_capacity(outputs.len());
    for t in outputs {
        let data = match by_datatype!(t.data.datatype(), rows_contiguous(&t.data, start, end)) {
            Some(data) => data,
            None => t.data.slice_rows(start, end)?,
        };
        split.push(Tensor {
            name: t.name.clone(),
            data,
        });
    }
    Ok(split)
}

/// Sends a copy of `error` to every job.
fn fail_all(jobs: Vec<Job>, error: &Error) {
    for mut job in jobs {
        let copy = match error {
            Error::InvalidRequest(m) => Error::InvalidRequest(m.clone()),
            Error::Inference { model, message } => Error::inference(model, message),
            Error::Draining => Error::Draining,
            other => Error::inference(job.servable.metadata().name.clone(), other.to_string()),
        };
        job.answer(Err(copy));
    }
}

#[cfg(test)]
mod tests {
    use std::sync::mpsc;

    use ndarray::{ArrayD, IxDyn, ShapeBuilder};

    use super::*;
    use crate::metrics::Metrics;
    use crate::model::{Model, ModelMetadata};
    use crate::tensor::TensorSpec;

    /// Answers its input; every call waits for the gate first (run on the blocking pool).
    struct Blocking {
        metadata: ModelMetadata,
        gate: Mutex<mpsc::Receiver<()>>,
    }

    impl Model for Blocking {
        fn metadata(&self) -> &ModelMetadata {
            &self.metadata
        }
        fn infer(&self, inputs: Vec<Tensor>) -> Result<Vec<Tensor>> {
            let _ = self
                .gate
                .lock()
                .unwrap()
                .recv_timeout(Duration::from_secs(60));
            Ok(inputs)
        }
    }

    fn one_row() -> Vec<Tensor> {
        vec![Tensor::new("x", fp32(&[1, 1], vec![1.0]))]
    }

    /// Deadlines follow arrival, not queueing: a request whose body took most of its
    /// deadline joins the queue due long before the deadline its leader sleeps until, and
    /// bounds its own wait (else it would wait for the leader's, a minute here).
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_request_due_before_the_watched_deadline_bounds_its_own_wait() {
        let (open, gate) = mpsc::channel();
        let model = Blocking {
            metadata: ModelMetadata {
                name: "m".into(),
                version: None,
                platform: "test".into(),
                inputs: vec![TensorSpec::new("x", Datatype::Fp32, [-1, 1])],
                outputs: vec![TensorSpec::new("x", Datatype::Fp32, [-1, 1])],
            },
            gate: Mutex::new(gate),
        };
        let servable = Servable::Sync(Arc::new(model));
        let metrics = Metrics::new().model("m", None);
        let scheduler = Arc::new(Scheduler::new("m", 1, 8, 8, Duration::ZERO, metrics));
        let limit = Duration::from_secs(60);
        let run = |arrived: Instant| {
            let (scheduler, servable) = (Arc::clone(&scheduler), servable.clone());
            tokio::spawn(
                async move { scheduler.run(&servable, one_row(), 1, arrived, limit).await },
            )
        };
        let blocker = run(Instant::now()); // Alone: takes the only worker, waits at the gate.
        let batcher = &scheduler.batcher;
        while batcher.permits.available_permits() > 0 {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        let leader = run(Instant::now()); // Queued: sleeps until its deadline, a minute away.
        let watched = || batcher.queue.lock().unwrap().watch;
        while watched().is_none() {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        let late = Instant::now()
            .checked_sub(limit - Duration::from_millis(200))
            .unwrap();
        let answer = tokio::time::timeout(Duration::from_secs(30), run(late))
            .await
            .expect("the late request waited for its leader's deadline")
            .unwrap();
        assert!(
            matches!(answer, Err(Error::DeadlineExceeded { .. })),
            "{answer:?}"
        );
        drop(open);
        assert!(blocker.await.unwrap().is_ok());
        assert!(leader.await.unwrap().is_ok());
    }

    fn fp32(shape: &[usize], values: Vec<f32>) -> TensorData {
        TensorData::from_vec(shape, values).unwrap()
    }

    #[test]
    fn contiguous_rows_join_and_split_as_ndarray_does() {
        let a = fp32(&[2, 3], (0..6u8).map(f32::from).collect());
        let b = fp32(&[1, 3], vec![6.0, 7.0, 8.0]);
        let empty = fp32(&[0, 3], vec![]);
        let parts = [&a, &empty, &b];
        let joined = concat_contiguous::<f32>(&parts).unwrap();
        assert_eq!(joined, TensorData::concat_rows(&parts).unwrap());
        for (start, end) in [(0, 1), (1, 3), (0, 3), (2, 2)] {
            assert_eq!(
                rows_contiguous::<f32>(&joined, start, end).unwrap(),
                joined.slice_rows(start, end).unwrap()
            );
        }
        assert!(rows_contiguous::<f32>(&joined, 2, 4).is_none());
        assert!(rows_contiguous::<f64>(&joined, 0, 1).is_none());
        // Another datatype or other trailing dimensions are the general path's (and error).
        let other = fp32(&[1, 2], vec![1.0, 2.0]);
        assert!(concat_contiguous::<f32>(&[&a, &other]).is_none());
    }

    #[test]
    fn rows_of_every_rank_join_and_split_as_ndarray_does() {
        let vector = fp32(&[3], vec![1.0, 2.0, 3.0]);
        let cube = fp32(&[2, 2, 2], (0..8u8).map(f32::from).collect());
        for data in [vector, cube] {
            let joined = concat_contiguous::<f32>(&[&data, &data]).unwrap();
            assert_eq!(joined, TensorData::concat_rows(&[&data, &data]).unwrap());
            let rows = data.shape()[0];
            for (start, end) in [(0, 1), (1, rows + 1), (0, 2 * rows)] {
                assert_eq!(
                    rows_contiguous::<f32>(&joined, start, end).unwrap(),
                    joined.slice_rows(start, end).unwrap()
                );
            }
        }
    }

    #[test]
    fn arrays_not_in_standard_order_take_the_general_path() {
        let fortran =
            ArrayD::from_shape_vec(IxDyn(&[2, 3]).f(), (0..6u8).map(f32::from).collect()).unwrap();
        let data = TensorData::Fp32(fortran);
        assert!(rows_contiguous::<f32>(&data, 0, 1).is_none());
        assert!(concat_contiguous::<f32>(&[&data, &data]).is_none());
        let general = TensorData::concat_rows(&[&data, &data]).unwrap();
        assert_eq!(general.shape(), &[4, 3]);
    }
}
