//! Server-side downsampling of a metric's history: a chart never receives more than a
//! bounded number of points, whatever the history's length, and never loses a spike.
//!
//! The points are ordered by step (then time) and cut into equal buckets; each bucket keeps
//! its minimum, its maximum and its last point (in their original order, each once). So a
//! 1,000,000-point history draws from at most `max_points` points, every extreme is still
//! on the chart, and the line ends where the run ended.

use mlops_core::Metric;
use mlops_track::MetricColumns;
use serde::Serialize;

/// A chart-ready series: parallel arrays of steps, wall times (ms) and values.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Series {
    /// The metric's key.
    pub key: String,
    /// How many points the full history has.
    pub total: usize,
    /// The smallest finite value of the full history.
    pub min: Option<f64>,
    /// The largest finite value of the full history.
    pub max: Option<f64>,
    /// Steps of the kept points, ascending.
    pub step: Vec<i64>,
    /// Their timestamps, milliseconds since the epoch.
    pub time: Vec<i64>,
    /// Their values (NaN and infinities become `null` in JSON).
    pub value: Vec<Option<f64>>,
}

/// Downsamples `points` of metric `key` to at most `max_points` (at least 3) points (see
/// [`downsample_columns`]).
pub fn downsample(key: &str, points: &[Metric], max_points: usize) -> Series {
    downsample_columns(key, &MetricColumns::from_points(points), max_points)
}

/// Downsamples a metric's history, as columns, to at most `max_points` (at least 3) points:
/// ordered by (step, time), cut into `max_points / 3` equal buckets, each keeping its
/// minimum, maximum and last point. Histories already in order (the usual case) are not
/// copied or sorted: a million points cost one pass.
pub fn downsample_columns(key: &str, points: &MetricColumns, max_points: usize) -> Series {
    let total = points.len();
    let at = |i: usize| (points.step[i], points.timestamp[i]);
    let in_order = (1..total).all(|i| at(i - 1) <= at(i));
    // Indices in (step, time) order: only built when the history is not in order already.
    let order: Option<Vec<usize>> = (!in_order).then(|| {
        let mut order: Vec<usize> = (0..total).collect();
        order.sort_by_key(|&i| at(i));
        order
    });
    let index = |k: usize| order.as_ref().map_or(k, |o| o[k]);
    let max_points = max_points.max(3);
    let finite = points.value.iter().copied().filter(|v| v.is_finite());
    let mut series = Series {
        key: key.to_owned(),
        total,
        min: finite.clone().reduce(f64::min),
        max: finite.reduce(f64::max),
        ..Series::default()
    };
    let mut keep = |i: usize| {
        series.step.push(points.step[i]);
        series.time.push(points.timestamp[i]);
        let value = points.value[i];
        series.value.push(value.is_finite().then_some(value));
    };
    if total <= max_points {
        (0..total).for_each(|k| keep(index(k)));
        return series;
    }
    let buckets = max_points / 3;
    let size = total.div_ceil(buckets);
    let mut start = 0;
    while start < total {
        let end = (start + size).min(total);
        let (mut lo, mut hi) = (None::<usize>, None::<usize>);
        for k in start..end {
            let value = points.value[index(k)];
            if !value.is_finite() {
                continue;
            }
            if lo.is_none_or(|j| value < points.value[index(j)]) {
                lo = Some(k);
            }
            if hi.is_none_or(|j| value > points.value[index(j)]) {
                hi = Some(k);
            }
        }
        let mut picks = [lo, hi, Some(end - 1)];
        picks.sort_unstable();
        let mut previous = None;
        for k in picks.into_iter().flatten() {
            if previous != Some(k) {
                keep(index(k));
                previous = Some(k);
            }
        }
        start = end;
    }
    series
}

#[cfg(test)]
mod tests {
    use mlops_core::{MetricKey, Timestamp};

    use super::*;

    fn points(values: &[f64]) -> Vec<Metric> {
        let key = MetricKey::parse("loss").unwrap();
        values
            .iter()
            .enumerate()
            .map(|(i, v)| {
                let step = i64::try_from(i).unwrap();
                Metric::new(
                    key.clone(),
                    *v,
                    Timestamp::from_millis(1_000 + step).unwrap(),
                    step,
                )
            })
            .collect()
    }

    #[test]
    fn short_series_pass_whole() {
        let s = downsample("loss", &points(&[3.0, 1.0, f64::NAN]), 2_000);
        assert_eq!(s.total, 3);
        assert_eq!(s.step, [0, 1, 2]);
        assert_eq!(s.value, [Some(3.0), Some(1.0), None]);
    }

    #[test]
    fn long_series_keep_extremes_and_the_last_point() {
        let mut values: Vec<f64> = (0..1_000_000).map(|i| f64::from(i % 100)).collect();
        values[123_457] = 1e9;
        values[777_777] = -1e9;
        let s = downsample("loss", &points(&values), 2_000);
        assert_eq!(s.total, 1_000_000);
        assert_eq!((s.min, s.max), (Some(-1e9), Some(1e9)));
        assert!(s.step.len() <= 2_000, "{}", s.step.len());
        assert!(s.step.len() > 1_000);
        assert!(s.step.is_sorted());
        assert!(s.value.contains(&Some(1e9)));
        assert!(s.value.contains(&Some(-1e9)));
        assert_eq!(s.step.last(), Some(&999_999));
        assert_eq!(s.value.last(), Some(&Some(99.0)));
    }

    #[test]
    fn out_of_order_histories_are_sorted_by_step() {
        let mut p = points(&[1.0, 2.0, 3.0, 4.0]);
        p.reverse();
        let s = downsample("loss", &p, 3);
        assert!(s.step.is_sorted());
        assert_eq!(s.step.last(), Some(&3));
    }
}
