//! A Prometheus histogram that every request observes without a lock or a shared cache
//! line: one relaxed add per bucket hit and a compare-and-swap on the sum, both in the
//! calling thread's shard ([`super::shards`]).
//!
//! `prometheus_client`'s `Histogram` keeps its buckets behind a mutex, taken by every
//! observation; the request path observes four histograms, from every worker thread. This
//! one encodes exactly as that one does (same `_sum`, `_count` and cumulative `_bucket`
//! lines, `+Inf` last). A scrape reads the buckets one by one while requests go on, so it may
//! see an observation in its bucket and not yet in the sum (never a count that disagrees
//! with the buckets: the count is their total).

use std::sync::Arc;

use prometheus_client::encoding::{EncodeMetric, MetricEncoder, NoLabelSet};
use prometheus_client::metrics::{MetricType, TypedMetric};

use super::shards::Sharded;

/// A histogram with fixed upper bounds; clones share the counts.
#[derive(Clone, Debug)]
pub(crate) struct Histogram {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    /// Finite upper bounds, ascending, then `+Inf`.
    bounds: Box<[f64]>,
    /// Observations per bucket (not cumulative), then the sum of observations as `f64` bits.
    counts: Sharded,
}

impl Histogram {
    /// A histogram with these upper bounds (non-finite ones are dropped; `+Inf` is added).
    pub(crate) fn new(bounds: impl IntoIterator<Item = f64>) -> Self {
        let mut bounds: Vec<f64> = bounds.into_iter().filter(|b| b.is_finite()).collect();
        bounds.sort_by(f64::total_cmp);
        bounds.dedup();
        bounds.push(f64::INFINITY);
        // Shards start at 0, which is also the bits of 0.0: every shard's sum starts at 0.0.
        let counts = Sharded::new(bounds.len() + 1);
        Self {
            inner: Arc::new(Inner {
                bounds: bounds.into(),
                counts,
            }),
        }
    }

    /// Records one value: in the first bucket whose bound is at least `value` (NaN in `+Inf`).
    pub(crate) fn observe(&self, value: f64) {
        let inner = &*self.inner;
        let last = inner.bounds.len() - 1;
        let index = if value.is_nan() {
            last
        } else {
            inner.bounds.partition_point(|&b| b < value).min(last)
        };
        inner.counts.add(index, 1);
        inner
            .counts
            .update(last + 1, |bits| (f64::from_bits(bits) + value).to_bits());
    }

    /// The sum, count and per-bucket counts, as the encoder wants them.
    fn snapshot(&self) -> (f64, u64, Vec<(f64, u64)>) {
        let inner = &*self.inner;
        let buckets: Vec<(f64, u64)> = inner
            .bounds
            .iter()
            .enumerate()
            .map(|(index, &bound)| (bound, inner.counts.total(index)))
            .collect();
        let count = buckets.iter().map(|&(_, n)| n).sum();
        let sum = inner
            .counts
            .each(inner.bounds.len())
            .map(f64::from_bits)
            .sum();
        (sum, count, buckets)
    }
}

impl TypedMetric for Histogram {
    const TYPE: MetricType = MetricType::Histogram;
}

impl EncodeMetric for Histogram {
    fn encode(&self, mut encoder: MetricEncoder<'_>) -> Result<(), std::fmt::Error> {
        let (sum, count, buckets) = self.snapshot();
        encoder.encode_histogram::<NoLabelSet>(sum, count, &buckets, None)
    }

    fn metric_type(&self) -> MetricType {
        Self::TYPE
    }
}

#[cfg(test)]
mod tests {
    use prometheus_client::encoding::text::encode;
    use prometheus_client::registry::Registry;

    use super::*;

    fn text(register: impl FnOnce(&mut Registry)) -> String {
        let mut registry = Registry::default();
        register(&mut registry);
        let mut out = String::new();
        encode(&mut out, &registry).unwrap();
        out
    }

    #[test]
    fn encodes_as_prometheus_clients_histogram() {
        let bounds = [0.001, 0.01, 0.1, 1.0];
        let values = [0.0005, 0.001, 0.002, 0.5, 7.0, f64::NAN, 0.01];
        let ours = Histogram::new(bounds);
        let theirs = prometheus_client::metrics::histogram::Histogram::new(bounds);
        for v in values {
            ours.observe(v);
            theirs.observe(v);
        }
        let a = text(|r| r.register("h", "help", ours.clone()));
        let b = text(|r| r.register("h", "help", theirs.clone()));
        assert_eq!(a, b);
        assert!(a.contains("h_bucket{le=\"0.001\"} 2\n"), "{a}");
        assert!(a.contains("h_count 7\n"), "{a}");
    }

    #[test]
    fn observations_from_many_threads_all_count() {
        let h = Histogram::new([1.0, 2.0]);
        std::thread::scope(|s| {
            for _ in 0..4 {
                s.spawn(|| {
                    for _ in 0..1000 {
                        h.observe(1.5);
                    }
                });
            }
        });
        let (sum, count, buckets) = h.snapshot();
        assert_eq!((sum, count), (6000.0, 4000));
        assert_eq!(buckets, vec![(1.0, 0), (2.0, 4000), (f64::INFINITY, 0)]);
    }
}
