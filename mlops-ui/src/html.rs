//! The page frame (head, navigation) and small formatting helpers shared by every page.
//! maud escapes every interpolated value, so store contents never become markup.

use axum::response::Html;
use maud::{DOCTYPE, Markup, html};
use mlops_core::Timestamp;

use crate::state::Inner;

/// A whole page: `title`, the navigation, `body`; charts pull uPlot in when `charts`.
pub(crate) fn page(inner: &Inner, title: &str, charts: bool, body: Markup) -> Html<String> {
    let markup = html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · mlops" }
                link rel="stylesheet" href=(inner.url("/assets/ui.css"));
                @if charts {
                    link rel="stylesheet" href=(inner.url("/assets/vendor/uPlot.min.css"));
                    script src=(inner.url("/assets/vendor/uPlot.iife.min.js")) {}
                    script src=(inner.url("/assets/ui.js")) {}
                }
            }
            body {
                header.top {
                    a.brand href=(inner.url("/")) { "mlops" }
                    a href=(inner.url("/experiments")) { "Experiments" }
                    a href=(inner.url("/models")) { "Models" }
                    a href=(inner.url("/approvals")) { "Approvals" }
                    a href=(inner.url("/drift")) { "Drift" }
                }
                main { (maud::PreEscaped(body.0)) }
            }
        }
    };
    Html(markup.into_string())
}

/// A timestamp as `2026-12-04 10:35:12` (UTC).
pub(crate) fn time(t: Timestamp) -> String {
    t.to_datetime().format("%Y-%m-%d %H:%M:%S").to_string()
}

/// A metric value: up to 6 significant digits, `NaN`/`inf` spelled out.
pub(crate) fn number(v: f64) -> String {
    if !v.is_finite() {
        return format!("{v}");
    }
    if v != 0.0 && (v.abs() >= 1e6 || v.abs() < 1e-4) {
        return format!("{v:.4e}");
    }
    let s = format!("{v:.6}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    if s == "-0" {
        "0".to_owned()
    } else {
        s.to_owned()
    }
}

/// A duration in ms as `1h 02m`, `3m 05s` or `4.2s`.
pub(crate) fn duration(ms: i64) -> String {
    let s = ms / 1000;
    if s >= 3600 {
        format!("{}h {:02}m", s / 3600, (s % 3600) / 60)
    } else if s >= 60 {
        format!("{}m {:02}s", s / 60, s % 60)
    } else {
        format!("{:.1}s", ms as f64 / 1000.0)
    }
}

/// A byte count as `12.3 KiB`.
pub(crate) fn bytes(n: u64) -> String {
    const UNITS: [&str; 4] = ["B", "KiB", "MiB", "GiB"];
    let mut v = n as f64;
    let mut unit = 0;
    while v >= 1024.0 && unit < UNITS.len() - 1 {
        v /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", UNITS[unit])
    }
}

/// A digest shortened for a table cell (the full value in the title).
pub(crate) fn short(digest: &str) -> Markup {
    let cut: String = digest.chars().take(12).collect();
    html! { code title=(digest) { (cut) @if digest.chars().count() > 12 { "…" } } }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_read_well() {
        assert_eq!(number(0.5), "0.5");
        assert_eq!(number(2.0), "2");
        assert_eq!(number(1.0 / 3.0), "0.333333");
        assert_eq!(number(12_345_678.0), "1.2346e7");
        assert_eq!(number(f64::NAN), "NaN");
        assert_eq!(duration(65_000), "1m 05s");
        assert_eq!(bytes(2048), "2.0 KiB");
    }
}
