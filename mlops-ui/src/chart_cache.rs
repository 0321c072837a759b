//! A small cache of downsampled series of **finished** runs, so that opening a chart again
//! (another visit, another reviewer) does not read and downsample its history again.
//!
//! An entry is keyed by the run, the metric, the point budget and what can still change
//! it: the run's status and end time and the metric's latest point. A run still running is
//! never cached. Bounded by entry count (each entry at most `max_points` points), oldest
//! evicted first.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, PoisonError};

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

/// The entries, and their keys oldest first.
type Entries = (HashMap<Key, Arc<Series>>, VecDeque<Key>);

/// The cache.
#[derive(Debug)]
pub(crate) struct ChartCache {
    capacity: usize,
    inner: Mutex<Entries>,
}

impl ChartCache {
    pub(crate) fn new(capacity: usize) -> Self {
        Self {
            capacity,
            inner: Mutex::new((HashMap::new(), VecDeque::new())),
        }
    }

    pub(crate) fn get(&self, key: &Key) -> Option<Arc<Series>> {
        let guard = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        guard.0.get(key).cloned()
    }

    pub(crate) fn put(&self, key: Key, series: Arc<Series>) {
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
        let cache = ChartCache::new(2);
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
