//! Counters split into per-thread shards ([`crate::shard`]), each on cache lines of its own.
//!
//! Every request bumps a dozen counters (the outcome, four histograms, the in-flight gauge,
//! the rollout statistics). One shared atomic per counter made each bump move a cache line
//! between the cores serving requests: under load, profiles showed a third of those
//! functions' time right after their `lock` instructions. A thread adds to its own shard
//! instead (an uncontended atomic add), and readers (a scrape, a rollout check) sum the
//! shards.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use prometheus_client::encoding::{EncodeMetric, MetricEncoder, NoLabelSet};
use prometheus_client::metrics::{MetricType, TypedMetric};

use crate::shard::{SHARDS, index as shard};

/// `u64`s per block: one block is 128 bytes, two cache lines (adjacent-line prefetch).
const LANES: usize = 16;

/// One aligned block of counters.
#[repr(align(128))]
#[derive(Debug)]
struct Block([AtomicU64; LANES]);

impl Default for Block {
    fn default() -> Self {
        Self(std::array::from_fn(|_| AtomicU64::new(0)))
    }
}

/// `len` counters (`u64`, wrapping), each kept once per shard.
#[derive(Debug)]
pub(crate) struct Sharded {
    blocks: Box<[Block]>,
    /// Blocks per shard.
    stride: usize,
    len: usize,
}

impl Sharded {
    /// `len` counters at zero.
    pub(crate) fn new(len: usize) -> Self {
        let stride = len.div_ceil(LANES).max(1);
        Self {
            blocks: (0..stride * SHARDS).map(|_| Block::default()).collect(),
            stride,
            len,
        }
    }

    /// ShardedCounter `index` of shard `shard`.
    fn cell(&self, shard: usize, index: usize) -> &AtomicU64 {
        debug_assert!(index < self.len);
        let block = &self.blocks[shard * self.stride + index / LANES];
        &block.0[index % LANES]
    }

    /// Adds `value` to counter `index` (in the calling thread's shard).
    pub(crate) fn add(&self, index: usize, value: u64) {
        self.cell(shard(), index)
            .fetch_add(value, Ordering::Relaxed);
    }

    /// Replaces counter `index` of the calling thread's shard with `update(old)`.
    pub(crate) fn update(&self, index: usize, update: impl Fn(u64) -> u64) {
        let _ =
            self.cell(shard(), index)
                .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |old| {
                    Some(update(old))
                });
    }

    /// The sum of counter `index` over the shards (wrapping).
    pub(crate) fn total(&self, index: usize) -> u64 {
        (0..SHARDS).fold(0u64, |sum, shard| {
            sum.wrapping_add(self.cell(shard, index).load(Ordering::Relaxed))
        })
    }

    /// ShardedCounter `index` of every shard.
    pub(crate) fn each(&self, index: usize) -> impl Iterator<Item = u64> + '_ {
        (0..SHARDS).map(move |shard| self.cell(shard, index).load(Ordering::Relaxed))
    }
}

/// A Prometheus counter in shards; clones share the count.
#[derive(Clone, Debug)]
pub(crate) struct ShardedCounter(Arc<Sharded>);

impl Default for ShardedCounter {
    fn default() -> Self {
        Self(Arc::new(Sharded::new(1)))
    }
}

impl ShardedCounter {
    /// Adds one.
    pub(crate) fn inc(&self) {
        self.0.add(0, 1);
    }

    /// The count.
    pub(crate) fn get(&self) -> u64 {
        self.0.total(0)
    }
}

impl TypedMetric for ShardedCounter {
    const TYPE: MetricType = MetricType::Counter;
}

impl EncodeMetric for ShardedCounter {
    fn encode(&self, mut encoder: MetricEncoder<'_>) -> Result<(), std::fmt::Error> {
        encoder.encode_counter::<NoLabelSet, _, u64>(&self.get(), None)
    }

    fn metric_type(&self) -> MetricType {
        Self::TYPE
    }
}

/// A Prometheus gauge that goes up and down by one, in shards (a shard may go below zero:
/// a request can end on another thread than it began); clones share the value.
#[derive(Clone, Debug)]
pub(crate) struct ShardedGauge(Arc<Sharded>);

impl Default for ShardedGauge {
    fn default() -> Self {
        Self(Arc::new(Sharded::new(1)))
    }
}

impl ShardedGauge {
    /// Adds one.
    pub(crate) fn inc(&self) {
        self.0.add(0, 1);
    }

    /// Takes one away.
    pub(crate) fn dec(&self) {
        self.0.add(0, 1u64.wrapping_neg());
    }

    /// The value: the shards' wrapping sum read as signed.
    pub(crate) fn get(&self) -> i64 {
        i64::from_ne_bytes(self.0.total(0).to_ne_bytes())
    }
}

impl TypedMetric for ShardedGauge {
    const TYPE: MetricType = MetricType::Gauge;
}

impl EncodeMetric for ShardedGauge {
    fn encode(&self, mut encoder: MetricEncoder<'_>) -> Result<(), std::fmt::Error> {
        encoder.encode_gauge(&self.get())
    }

    fn metric_type(&self) -> MetricType {
        Self::TYPE
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_thread_adds_to_the_total() {
        let counters = Sharded::new(20);
        std::thread::scope(|s| {
            for t in 0..40u64 {
                let counters = &counters;
                s.spawn(move || {
                    for _ in 0..1000 {
                        counters.add(0, 1);
                        counters.add(19, t);
                    }
                });
            }
        });
        assert_eq!(counters.total(0), 40_000);
        assert_eq!(counters.total(19), (0..40).sum::<u64>() * 1000);
        assert_eq!(counters.total(7), 0);
        assert_eq!(counters.each(0).sum::<u64>(), 40_000);
    }

    #[test]
    fn wrapping_adds_make_a_signed_sum() {
        let counters = Sharded::new(1);
        counters.add(0, 5);
        std::thread::scope(|s| {
            s.spawn(|| counters.add(0, 7u64.wrapping_neg()));
        });
        #[allow(clippy::cast_possible_wrap)]
        let total = counters.total(0) as i64;
        assert_eq!(total, -2);
    }

    #[test]
    fn counters_and_gauges_encode_as_prometheus_clients() {
        use prometheus_client::encoding::text::encode;
        use prometheus_client::metrics::counter::Counter;
        use prometheus_client::metrics::gauge::Gauge;
        use prometheus_client::registry::Registry;
        let ours = (ShardedCounter::default(), ShardedGauge::default());
        let theirs = (Counter::<u64>::default(), Gauge::<i64>::default());
        std::thread::scope(|s| {
            for _ in 0..3 {
                s.spawn(|| {
                    ours.0.inc();
                    theirs.0.inc();
                    ours.1.dec();
                    theirs.1.dec();
                });
            }
        });
        ours.1.inc();
        theirs.1.inc();
        let mut registry = Registry::default();
        registry.register("c", "help", ours.0.clone());
        registry.register("g", "help", ours.1.clone());
        let mut a = String::new();
        encode(&mut a, &registry).unwrap();
        let mut registry = Registry::default();
        registry.register("c", "help", theirs.0.clone());
        registry.register("g", "help", theirs.1);
        let mut b = String::new();
        encode(&mut b, &registry).unwrap();
        assert_eq!(a, b);
        assert_eq!((ours.0.get(), ours.1.get()), (3, -2));
    }

    #[test]
    fn blocks_are_cache_line_aligned() {
        let counters = Sharded::new(17);
        assert_eq!(counters.stride, 2);
        for block in counters.blocks.iter() {
            assert_eq!(std::ptr::from_ref(block).addr() % 128, 0);
        }
    }
}
