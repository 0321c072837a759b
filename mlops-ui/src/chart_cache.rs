//! A small cache of what a **finished** run's metric history gives (its downsampled series
//! for charts, its extremes for the runs table's best columns), so that showing it again
//! (another visit, another reviewer) does not read the history again.
//!
//! An entry is keyed by the run, the metric, the point budget and what can still change
//! it: the run's status and end time and the metric's latest point. A run still running is
//! never cached. Bounded by entry count (each entry at most `max_points` points), oldest
//! evicted first.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, PoisonError};

use mlops_core::{Metric, RunStatus};
use mlops_track::Run;

use crate::series::Series;

/// What an entry is valid for.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) struct Key {
    pub(crate) run: String,
    pub(crate) metric: String,
    pub(crate) points: usize,
    /// Status, end time, latest point's (step, time, value bits): any change is a miss.
    pub(crate) version: (String, Option<i64>, i64, i64, u64),
}

impl Key {
    /// The key of `latest`'s history in `run` for `points`, or `None` while the run may
    /// still log (running or scheduled runs are never cached).
    pub(crate) fn of(run: &Run, latest: &Metric, points: usize) -> Option<Self> {
        let finished = !matches!(run.info.status, RunStatus::Running | RunStatus::Scheduled);
        finished.then(|| Self {
            run: run.info.run_id.as_str().to_owned(),
            metric: latest.key.as_str().to_owned(),
            points,
            version: (
                run.info.status.as_str().to_owned(),
                run.info.end_time.map(|t| t.as_millis()),
                latest.step,
                latest.timestamp.as_millis(),
                latest.value.to_bits(),
            ),
        })
    }
}

/// The entries, and their keys oldest first.
type Entries<V> = (HashMap<Key, V>, VecDeque<Key>);

/// The cache of values `V` (cheap to clone).
#[derive(Debug)]
pub(crate) struct ChartCache<V = Arc<Series>> {
    capacity: usize,
    inner: Mutex<Entries<V>>,
}

impl<V: Clone> ChartCache<V> {
    pub(crate) fn new(capacity: usize) -> Self {
        Self {
            capacity,
            inner: Mutex::new((HashMap::new(), VecDeque::new())),
        }
    }

    pub(crate) fn get(&self, key: &Key) -> Option<V> {
        let guard = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        guard.0.get(key).cloned()
    }

    pub(crate) fn put(&self, key: Key, series: V) {
        if self.capacity == 0 {
            return;
        }
        let mut guard = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        let (map, order) = &mut *guard;
        if map.insert(key.clone(), series).is_none() {
            order.push_back(key);
        }
        while order.len() > self.capacity {
            if let Some(old) = order.pop_front() {
                map.remove(&old);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(run: &str) -> Key {
        Key {
            run: run.into(),
            metric: "loss".into(),
            points: 2000,
            version: ("FINISHED".into(), Some(1), 0, 0, 0),
        }
    }

    #[test]
    fn bounded_oldest_first() {
        let cache: ChartCache = ChartCache::new(2);
        for run in ["a", "b", "c"] {
            cache.put(key(run), Arc::new(Series::default()));
        }
        assert!(cache.get(&key("a")).is_none());
        assert!(cache.get(&key("b")).is_some() && cache.get(&key("c")).is_some());
        let mut changed = key("c");
        changed.version.2 = 7;
        assert!(
            cache.get(&changed).is_none(),
            "a new latest point is a miss"
        );
    }
}
