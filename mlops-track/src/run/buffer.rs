//! The bounded buffer between a run handle's hot path and its background task: a vector
//! behind a mutex that the task swaps out whole, so a push is one uncontended lock and one
//! `Vec::push`.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Condvar, Mutex, MutexGuard};
use std::time::Duration;

use mlops_core::Metric;
use tokio::sync::Notify;

/// Points waiting for the background task.
#[derive(Debug)]
pub(crate) struct Buffer {
    points: Mutex<Vec<Metric>>,
    /// At most this many points wait here.
    capacity: usize,
    /// A full batch: the background task is woken when the buffer reaches it.
    batch: usize,
    dropped: AtomicU64,
    /// Set once the background task will take no more points.
    closed: AtomicBool,
    /// A full batch is waiting (or the buffer is full).
    pub(crate) ready: Notify,
    /// Space was made: async waiters.
    space: Notify,
    /// Space was made: blocked threads.
    space_cv: Condvar,
}

impl Buffer {
    pub(crate) fn new(capacity: usize, batch: usize) -> Self {
        Self {
            points: Mutex::new(Vec::with_capacity(capacity.min(batch * 4))),
            capacity,
            batch,
            dropped: AtomicU64::new(0),
            closed: AtomicBool::new(false),
            ready: Notify::new(),
            space: Notify::new(),
            space_cv: Condvar::new(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Vec<Metric>> {
        // A panic while holding the lock cannot leave the vector inconsistent.
        self.points
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Adds a point unless the buffer is full (or closed); gives it back then.
    pub(crate) fn try_push(&self, point: Metric) -> Result<(), Metric> {
        let mut points = self.lock();
        if points.len() >= self.capacity || self.closed.load(Ordering::Relaxed) {
            return Err(point);
        }
        points.push(point);
        let len = points.len();
        drop(points);
        if len == self.batch || len == self.capacity {
            self.ready.notify_one();
        }
        Ok(())
    }

    /// Adds points while there is space; returns how many did not fit.
    pub(crate) fn push_many(&self, points: impl Iterator<Item = Metric>) -> usize {
        let mut buffered = self.lock();
        let closed = self.closed.load(Ordering::Relaxed);
        let before = buffered.len();
        let mut rejected = 0;
        for point in points {
            if closed || buffered.len() >= self.capacity {
                rejected += 1;
            } else {
                buffered.push(point);
            }
        }
        let after = buffered.len();
        drop(buffered);
        if (before < self.batch && after >= self.batch) || after >= self.capacity {
            self.ready.notify_one();
        }
        rejected
    }

    /// Adds a point, parking the thread until there is space (or `closed`); gives the point
    /// back when the buffer closed.
    pub(crate) fn push_blocking(&self, point: Metric) -> Result<(), Metric> {
        let mut points = self.lock();
        loop {
            if self.closed.load(Ordering::Relaxed) {
                return Err(point);
            }
            if points.len() < self.capacity {
                points.push(point);
                return Ok(());
            }
            self.ready.notify_one();
            // A timeout so a missed wake-up costs a little latency, never a hang.
            points = self
                .space_cv
                .wait_timeout(points, Duration::from_millis(10))
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .0;
        }
    }

    /// Adds a point, waiting asynchronously for space; gives it back when the buffer closed.
    pub(crate) async fn push_wait(&self, mut point: Metric) -> Result<(), Metric> {
        loop {
            let space = self.space.notified();
            tokio::pin!(space);
            space.as_mut().enable();
            match self.try_push(point) {
                Ok(()) => return Ok(()),
                Err(back) if self.closed.load(Ordering::Relaxed) => return Err(back),
                Err(back) => point = back,
            }
            self.ready.notify_one();
            space.await;
        }
    }

    /// Counts points that were not buffered.
    pub(crate) fn count_dropped(&self, n: usize) {
        self.dropped.fetch_add(n as u64, Ordering::Relaxed);
    }

    /// Points dropped so far.
    pub(crate) fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    /// Points waiting now.
    pub(crate) fn len(&self) -> usize {
        self.lock().len()
    }

    /// Whether at least a full batch waits.
    pub(crate) fn has_batch(&self) -> bool {
        self.len() >= self.batch
    }

    /// Takes every waiting point, leaving `spare` (empty, with its capacity) in its place,
    /// and wakes anyone waiting for space.
    pub(crate) fn take(&self, spare: Vec<Metric>) -> Vec<Metric> {
        let taken = std::mem::replace(&mut *self.lock(), spare);
        if !taken.is_empty() {
            self.space_cv.notify_all();
            self.space.notify_waiters();
        }
        taken
    }

    /// Refuses every later point and wakes every waiter.
    pub(crate) fn close(&self) {
        // Under the lock, so no push sees "open" after the final take.
        let guard = self.lock();
        self.closed.store(true, Ordering::Relaxed);
        drop(guard);
        self.space_cv.notify_all();
        self.space.notify_waiters();
    }
}
