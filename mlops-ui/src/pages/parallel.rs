//! Parallel coordinates of many runs, drawn on the server as SVG (no script): one vertical
//! axis per numeric param or metric, one polyline per run, each axis scaled to its own range.

use maud::{Markup, html};
use mlops_track::Run;

/// Axes drawn, at most.
const MAX_AXES: usize = 12;
const WIDTH: f64 = 960.0;
const HEIGHT: f64 = 300.0;
const LEFT: f64 = 60.0;
const TOP: f64 = 34.0;
const BOTTOM: f64 = 40.0;
const COLORS: [&str; 10] = [
    "#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
    "#bcbd22", "#17becf",
];

/// One axis: a label and each run's value.
struct Axis {
    label: String,
    values: Vec<Option<f64>>,
}

/// The axes: params whose every value is a number, then metrics; only those that vary.
fn axes(runs: &[Run]) -> Vec<Axis> {
    let mut params: Vec<&str> = runs
        .iter()
        .flat_map(|r| r.data.params.iter().map(|p| p.key().as_str()))
        .collect();
    params.sort_unstable();
    params.dedup();
    let mut metrics: Vec<&str> = runs
        .iter()
        .flat_map(|r| r.data.metrics.iter().map(|m| m.key.as_str()))
        .collect();
    metrics.sort_unstable();
    metrics.dedup();
    let mut out = Vec::new();
    for key in params {
        let values: Vec<Option<f64>> = runs
            .iter()
            .map(|r| r.data.param(key).and_then(|v| v.parse::<f64>().ok()))
            .collect();
        let numeric = runs
            .iter()
            .zip(&values)
            .all(|(r, v)| r.data.param(key).is_none() || v.is_some());
        if numeric {
            out.push(Axis {
                label: format!("params.{key}"),
                values,
            });
        }
    }
    for key in metrics {
        let values = runs
            .iter()
            .map(|r| r.data.metric(key).filter(|v| v.is_finite()))
            .collect();
        out.push(Axis {
            label: format!("metrics.{key}"),
            values,
        });
    }
    out.retain(|a| {
        let mut present = a.values.iter().flatten();
        present
            .next()
            .is_some_and(|first| present.any(|v| v != first))
    });
    out.truncate(MAX_AXES);
    out
}

/// The SVG, or nothing when fewer than two axes vary.
pub(crate) fn chart(runs: &[Run], names: &[String]) -> Option<Markup> {
    let axes = axes(runs);
    if axes.len() < 2 {
        return None;
    }
    let step = (WIDTH - 2.0 * LEFT) / (axes.len() - 1) as f64;
    let x = |i: usize| LEFT + step * i as f64;
    let span = HEIGHT - TOP - BOTTOM;
    let ranges: Vec<(f64, f64)> = axes
        .iter()
        .map(|a| {
            let present = a.values.iter().flatten();
            let lo = present.clone().copied().fold(f64::INFINITY, f64::min);
            let hi = present.copied().fold(f64::NEG_INFINITY, f64::max);
            (lo, hi)
        })
        .collect();
    let y = |axis: usize, v: f64| {
        let (lo, hi) = ranges[axis];
        TOP + span * (1.0 - (v - lo) / (hi - lo))
    };
    // Each run's line, broken where it has no value on an axis.
    let lines: Vec<Vec<String>> = (0..runs.len())
        .map(|r| {
            let mut parts = vec![String::new()];
            for (i, axis) in axes.iter().enumerate() {
                match axis.values[r] {
                    Some(v) => {
                        let last = parts.len() - 1;
                        parts[last].push_str(&format!("{:.1},{:.1} ", x(i), y(i, v)));
                    }
                    None => parts.push(String::new()),
                }
            }
            parts.retain(|p| p.split(' ').filter(|s| !s.is_empty()).count() > 1);
            parts
        })
        .collect();
    Some(html! {
        svg.parallel #parallel viewBox=(format!("0 0 {WIDTH} {HEIGHT}")) role="img" aria-label="parallel coordinates" {
            @for (r, parts) in lines.iter().enumerate() {
                g.run data-run=(names[r]) {
                    title { (names[r]) }
                    @for p in parts {
                        polyline points=(p.trim_end()) fill="none" stroke=(COLORS[r % COLORS.len()]) stroke-width="1.5" stroke-opacity="0.8" {}
                    }
                }
            }
            @for (i, a) in axes.iter().enumerate() {
                line x1=(x(i)) x2=(x(i)) y1=(TOP) y2=(HEIGHT - BOTTOM) stroke="#5f6b7a" stroke-width="1" {}
                text x=(x(i)) y=(TOP - 18.0) text-anchor="middle" font-size="11" fill="#1d2330" { (a.label) }
                text x=(x(i)) y=(TOP - 5.0) text-anchor="middle" font-size="10" fill="#5f6b7a" { (crate::html::number(ranges[i].1)) }
                text x=(x(i)) y=(HEIGHT - BOTTOM + 14.0) text-anchor="middle" font-size="10" fill="#5f6b7a" { (crate::html::number(ranges[i].0)) }
            }
        }
    })
}
