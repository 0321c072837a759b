//! Inline SVG plots of a [`Plot`]: reference in blue-grey, current in orange.

use std::fmt::{self, Write};

use super::text::{esc, num, pct, tick, truncate};
use crate::report::Plot;

/// The reference colour.
pub(super) const REFERENCE: &str = "#6b7f99";
/// The current colour.
pub(super) const CURRENT: &str = "#f28e2b";

const WIDTH: f64 = 720.0;
const GRID: &str = "#e5e7eb";
const AXIS: &str = "#9ca3af";
const LABEL: &str = "#4b5563";
const INK: &str = "#1f2933";

/// The plot as an `<svg>` element, or `None` when its vectors do not line up.
pub(super) fn plot(plot: &Plot) -> Option<String> {
    let mut out = String::new();
    let drawn = match plot {
        Plot::Histogram {
            edges,
            reference,
            current,
        } => {
            if reference.is_empty()
                || reference.len() != current.len()
                || edges.len() != reference.len() + 1
            {
                return None;
            }
            histogram(&mut out, edges, reference, current)
        }
        Plot::Categories {
            categories,
            reference,
            current,
        } => {
            if categories.is_empty()
                || reference.len() != categories.len()
                || current.len() != categories.len()
            {
                return None;
            }
            bars(&mut out, categories, reference, current)
        }
    };
    drawn.ok().map(|()| out)
}

/// A share usable as a length: non-finite and negative shares draw as nothing.
fn len(share: f64) -> f64 {
    if share.is_finite() {
        share.max(0.0)
    } else {
        0.0
    }
}

/// A "nice" step (1, 2, 2.5 or 5 × 10^k) that cuts `span` into about `target` parts.
fn nice_step(span: f64, target: f64) -> f64 {
    let raw = span / target;
    let scale = 10f64.powf(raw.log10().floor());
    let norm = raw / scale;
    let nice = match norm {
        n if n <= 1.0 => 1.0,
        n if n <= 2.0 => 2.0,
        n if n <= 2.5 => 2.5,
        n if n <= 5.0 => 5.0,
        _ => 10.0,
    };
    nice * scale
}

/// Nice tick values within `[lo, hi]` (both finite, `lo < hi`).
fn ticks(lo: f64, hi: f64, target: f64) -> Vec<f64> {
    let step = nice_step(hi - lo, target);
    let slack = step * 1e-9;
    let mut value = (lo / step).ceil() * step;
    let mut out = Vec::new();
    while value <= hi + slack && out.len() < 50 {
        out.push(if value.abs() < slack { 0.0 } else { value });
        value += step;
    }
    out
}

/// The top of a share axis, at a nice step above `max`, and that step.
fn share_axis(max: f64) -> (f64, f64) {
    let max = if max > 0.0 { max } else { 1.0 };
    let step = nice_step(max, 4.0);
    ((max / step - 1e-9).ceil() * step, step)
}

/// Labels for `values`, with more digits when the compact form repeats itself.
fn labels(values: &[f64]) -> Vec<String> {
    let compact: Vec<String> = values.iter().map(|&v| tick(v)).collect();
    if compact.windows(2).any(|w| w[0] == w[1]) {
        values.iter().map(|&v| num(v)).collect()
    } else {
        compact
    }
}

fn open(out: &mut String, height: f64, label: &str) -> fmt::Result {
    write!(
        out,
        r#"<svg class="plot" viewBox="0 0 {WIDTH} {height}" width="{WIDTH}" height="{height}" role="img" aria-label="{}">"#,
        esc(label)
    )
}

fn legend(out: &mut String, y: f64) -> fmt::Result {
    let x = WIDTH - 190.0;
    write!(
        out,
        r#"<g class="legend" font-size="12" fill="{LABEL}"><rect x="{x}" y="{y}" width="12" height="12" rx="2" fill="{REFERENCE}"/><text x="{}" y="{}">reference</text><rect x="{}" y="{y}" width="12" height="12" rx="2" fill="{CURRENT}"/><text x="{}" y="{}">current</text></g>"#,
        x + 17.0,
        y + 10.5,
        x + 100.0,
        x + 117.0,
        y + 10.5,
    )
}

/// Reference and current shares side by side in each bin, with a value axis below.
fn histogram(out: &mut String, edges: &[f64], reference: &[f64], current: &[f64]) -> fmt::Result {
    let (left, right, top, bottom) = (56.0, 16.0, 34.0, 44.0);
    let height = 280.0;
    let (plot_w, plot_h) = (WIDTH - left - right, height - top - bottom);
    let base = top + plot_h;
    let n = reference.len();
    let (lo, hi) = (edges[0], edges[n]);
    // Bars sit at their values when the edges allow it, else at equal widths.
    let by_value =
        edges.iter().all(|e| e.is_finite()) && edges.windows(2).all(|w| w[0] <= w[1]) && hi > lo;
    #[allow(clippy::cast_precision_loss)] // Bin counts are small.
    let x_of_edge = |i: usize| -> f64 {
        if by_value {
            left + (edges[i] - lo) / (hi - lo) * plot_w
        } else {
            left + i as f64 / n as f64 * plot_w
        }
    };
    let max = reference
        .iter()
        .chain(current)
        .copied()
        .map(len)
        .fold(0.0, f64::max);
    let (y_top, y_step) = share_axis(max);
    let y_of = |share: f64| base - len(share) / y_top * plot_h;

    open(out, height, "histogram of reference and current values")?;
    write!(
        out,
        r#"<text x="{left}" y="20" font-size="12" fill="{LABEL}">share of valid values</text>"#
    )?;
    legend(out, 9.0)?;

    // Horizontal grid and share labels.
    let mut share = 0.0;
    while share <= y_top + y_step * 1e-9 {
        let y = y_of(share);
        write!(
            out,
            r#"<line x1="{left}" x2="{:.1}" y1="{y:.1}" y2="{y:.1}" stroke="{GRID}"/><text x="{:.1}" y="{:.1}" font-size="11" fill="{LABEL}" text-anchor="end">{}</text>"#,
            left + plot_w,
            left - 6.0,
            y + 4.0,
            pct(share),
        )?;
        share += y_step;
    }

    // Bars: reference on the left half of each bin, current on the right.
    for i in 0..n {
        let (x0, x1) = (x_of_edge(i), x_of_edge(i + 1));
        let width = x1 - x0;
        let pad = if width > 6.0 { width * 0.1 } else { 0.0 };
        let bar = (width - 2.0 * pad) / 2.0;
        let range = format!("[{}, {})", tick(edges[i]), tick(edges[i + 1]));
        for (side, value, x, colour) in [
            ("reference", reference[i], x0 + pad, REFERENCE),
            ("current", current[i], x0 + pad + bar, CURRENT),
        ] {
            let y = y_of(value);
            write!(
                out,
                r#"<rect x="{x:.1}" y="{y:.1}" width="{bar:.2}" height="{:.1}" fill="{colour}"><title>{side} {}: {}</title></rect>"#,
                base - y,
                esc(&range),
                pct(value),
            )?;
        }
    }

    // The value axis.
    write!(
        out,
        r#"<line x1="{left}" x2="{:.1}" y1="{base:.1}" y2="{base:.1}" stroke="{AXIS}"/>"#,
        left + plot_w
    )?;
    let marks: Vec<(f64, f64)> = if by_value {
        ticks(lo, hi, 6.0)
            .into_iter()
            .map(|v| (left + (v - lo) / (hi - lo) * plot_w, v))
            .collect()
    } else {
        let every = n.div_ceil(6).max(1);
        (0..=n)
            .step_by(every)
            .map(|i| (x_of_edge(i), edges[i]))
            .collect()
    };
    let values: Vec<f64> = marks.iter().map(|&(_, v)| v).collect();
    for ((x, _), label) in marks.iter().zip(labels(&values)) {
        write!(
            out,
            r#"<line x1="{x:.1}" x2="{x:.1}" y1="{base:.1}" y2="{:.1}" stroke="{AXIS}"/><text x="{x:.1}" y="{:.1}" font-size="11" fill="{LABEL}" text-anchor="middle">{}</text>"#,
            base + 5.0,
            base + 18.0,
            esc(&label),
        )?;
    }
    out.push_str("</svg>");
    Ok(())
}

/// One group of two horizontal bars per category, labelled on the left.
fn bars(
    out: &mut String,
    categories: &[String],
    reference: &[f64],
    current: &[f64],
) -> fmt::Result {
    let (label_w, right, top, bottom) = (190.0, 56.0, 34.0, 30.0);
    let (bar_h, group_h) = (10.0, 30.0);
    #[allow(clippy::cast_precision_loss)] // At most a few dozen categories.
    let height = top + categories.len() as f64 * group_h + bottom;
    let left = label_w + 10.0;
    let plot_w = WIDTH - left - right;
    let base = height - bottom;
    let max = reference
        .iter()
        .chain(current)
        .copied()
        .map(len)
        .fold(0.0, f64::max);
    let (x_top, x_step) = share_axis(max);
    let x_of = |share: f64| left + len(share) / x_top * plot_w;

    open(
        out,
        height,
        "category shares of reference and current values",
    )?;
    write!(
        out,
        r#"<text x="{left}" y="20" font-size="12" fill="{LABEL}">share of valid values</text>"#
    )?;
    legend(out, 9.0)?;

    // Vertical grid and share labels.
    let mut share = 0.0;
    while share <= x_top + x_step * 1e-9 {
        let x = x_of(share);
        write!(
            out,
            r#"<line x1="{x:.1}" x2="{x:.1}" y1="{top}" y2="{base:.1}" stroke="{GRID}"/><text x="{x:.1}" y="{:.1}" font-size="11" fill="{LABEL}" text-anchor="middle">{}</text>"#,
            base + 16.0,
            pct(share),
        )?;
        share += x_step;
    }

    let mut y = top;
    for ((category, &r), &c) in categories.iter().zip(reference).zip(current) {
        let name = esc(category);
        write!(
            out,
            r#"<text x="{label_w}" y="{:.1}" font-size="12" fill="{INK}" text-anchor="end"><title>{name}</title>{}</text>"#,
            y + group_h / 2.0 + 4.0,
            esc(&truncate(category, 28)),
        )?;
        for (side, value, bar_y, colour) in [
            ("reference", r, y + 4.0, REFERENCE),
            ("current", c, y + 5.0 + bar_h, CURRENT),
        ] {
            let end = x_of(value);
            write!(
                out,
                r#"<rect x="{left}" y="{bar_y:.1}" width="{:.1}" height="{bar_h}" fill="{colour}"><title>{name}, {side}: {}</title></rect><text x="{:.1}" y="{:.1}" font-size="10" fill="{LABEL}">{}</text>"#,
                end - left,
                pct(value),
                end + 4.0,
                bar_y + bar_h - 1.5,
                pct(value),
            )?;
        }
        y += group_h;
    }
    write!(
        out,
        r#"<line x1="{left}" x2="{left}" y1="{top}" y2="{base:.1}" stroke="{AXIS}"/>"#
    )?;
    out.push_str("</svg>");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nice_ticks() {
        assert_eq!(
            ticks(0.0, 1.0, 5.0),
            [0.0, 0.2, 0.4, 0.6000000000000001, 0.8, 1.0]
        );
        assert_eq!(ticks(-3.0, 97.0, 6.0), [0.0, 20.0, 40.0, 60.0, 80.0]);
        assert_eq!(share_axis(0.37), (0.4, 0.1));
        assert_eq!(share_axis(0.0), (1.0, 0.25));
    }

    #[test]
    fn mismatched_plots_are_skipped() {
        let bad = Plot::Histogram {
            edges: vec![0.0, 1.0],
            reference: vec![1.0],
            current: vec![],
        };
        assert!(plot(&bad).is_none());
        let bad = Plot::Categories {
            categories: vec!["a".to_owned()],
            reference: vec![1.0, 0.0],
            current: vec![1.0],
        };
        assert!(plot(&bad).is_none());
    }

    #[test]
    fn degenerate_histograms_still_draw() {
        // A constant column: zero-width range; and non-finite edges.
        for edges in [vec![5.0, 5.0], vec![f64::NEG_INFINITY, 0.0]] {
            let svg = plot(&Plot::Histogram {
                edges,
                reference: vec![1.0],
                current: vec![f64::NAN],
            })
            .unwrap();
            assert!(svg.starts_with("<svg") && svg.ends_with("</svg>"));
            assert!(!svg.contains("NaN") && !svg.contains("inf\""));
        }
    }

    #[test]
    fn histogram_has_bars_axis_and_legend() {
        let svg = plot(&Plot::Histogram {
            edges: vec![0.0, 2500.0, 5000.0, 7500.0, 10_000.0],
            reference: vec![0.25, 0.25, 0.25, 0.25],
            current: vec![0.1, 0.2, 0.3, 0.4],
        })
        .unwrap();
        assert_eq!(svg.matches("<rect").count(), 8 + 2);
        assert!(svg.contains(">reference</text>") && svg.contains(">current</text>"));
        assert!(svg.contains(">10k</text>"), "{svg}");
        assert!(svg.contains(">40%</text>"));
    }
}
