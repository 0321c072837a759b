//! One column's section of the page: heading, error, plot, row counts, decision and tests.

use std::fmt::Write;

use super::svg;
use super::text::{count, esc, num, opt_num};
use super::verdict_badge;
use crate::report::{ColumnReport, TestResult};
use crate::stat_test::DecisionRule;

/// How the deciding test reached its verdict: `ks p-value 0.003 ≤ 0.05: drift`.
fn decision_text(r: &TestResult) -> String {
    let decision = r.test.decision();
    let what = if decision.is_p_value() {
        "p-value"
    } else {
        "distance"
    };
    let symbol = match (decision, r.drifted) {
        (DecisionRule::PValueAtMost, true) | (DecisionRule::DistanceAbove, false) => "&le;",
        (DecisionRule::PValueBelow, true) | (DecisionRule::DistanceAtLeast, false) => "&lt;",
        (DecisionRule::DistanceAtLeast, true) | (DecisionRule::PValueBelow, false) => "&ge;",
        (DecisionRule::DistanceAbove, true) | (DecisionRule::PValueAtMost, false) => "&gt;",
    };
    let verdict = if r.drifted { "drift" } else { "no drift" };
    if r.score.is_nan() {
        format!("{} {what} is nan: {verdict}.", esc(r.test.name()))
    } else {
        format!(
            "{} {what} {} {symbol} threshold {}: <strong>{verdict}</strong>.",
            esc(r.test.name()),
            num(r.score),
            num(r.threshold)
        )
    }
}

/// `key=value` pairs of a test's details, strings unquoted.
fn details(map: &serde_json::Map<String, serde_json::Value>) -> String {
    let pairs: Vec<String> = map
        .iter()
        .map(|(k, v)| match v {
            serde_json::Value::String(s) => format!("{k}={s}"),
            other => format!("{k}={other}"),
        })
        .collect();
    pairs.join(", ")
}

/// One column's section: heading, error, plot, counts and every test.
pub(super) fn write_column(out: &mut String, i: usize, c: &ColumnReport) -> std::fmt::Result {
    let badge = if c.error.is_some() {
        "<span class=\"badge err\">ERROR</span>"
    } else {
        verdict_badge(c.drifted)
    };
    writeln!(
        out,
        "<section class=\"card\" id=\"col-{i}\"><div class=\"column-head\"><h2>{}</h2>{badge}\
         <span class=\"kind\">{}</span><a class=\"top\" href=\"#summary\">&uarr; summary</a></div>",
        esc(&c.column),
        c.kind.map_or("", |k| k.as_str()),
    )?;
    if let Some(e) = &c.error {
        write!(out, "<p class=\"error-text\">{}</p>", esc(e))?;
    }
    if c.error.is_none() || c.plot.is_some() {
        out.push_str("<div class=\"body\"><div class=\"figure\">");
        match c.plot.as_ref().map(svg::plot) {
            Some(Some(svg)) => out.push_str(&svg),
            Some(None) => out.push_str("<p class=\"muted\">The plot data is inconsistent.</p>"),
            None => out.push_str("<p class=\"muted\">No plot.</p>"),
        }
        out.push_str("</div><div class=\"facts\">");
    } else {
        out.push_str("<div class=\"body\"><div class=\"facts\">");
    }
    out.push_str(
        "<h3>Rows</h3><table class=\"counts\"><thead><tr><th></th><th class=\"num\">reference</th>\
         <th class=\"num\">current</th></tr></thead><tbody>",
    );
    let (r, k) = (&c.reference, &c.current);
    for (label, a, b) in [
        ("rows", r.rows, k.rows),
        ("null", r.null, k.null),
        ("NaN", r.nan, k.nan),
        ("inf", r.inf, k.inf),
        ("valid", r.valid, k.valid),
    ] {
        write!(
            out,
            "<tr><td>{label}</td><td class=\"num\">{}</td><td class=\"num\">{}</td></tr>",
            count(a),
            count(b)
        )?;
    }
    out.push_str("</tbody></table>");
    if let Some(first) = c.results.first() {
        write!(out, "<h3>Decision</h3><p>{}</p>", decision_text(first))?;
    }
    out.push_str("</div></div>");
    if !c.results.is_empty() {
        out.push_str(
            "<h3>Tests</h3><table><thead><tr><th>test</th><th class=\"num\">statistic</th>\
             <th class=\"num\">p-value</th><th class=\"num\">score</th>\
             <th class=\"num\">threshold</th><th>verdict</th><th>details</th></tr></thead><tbody>",
        );
        for r in &c.results {
            let mut extra = r
                .method
                .as_ref()
                .map(|m| format!("method={m}"))
                .unwrap_or_default();
            if !r.details.is_empty() {
                if !extra.is_empty() {
                    extra.push_str(", ");
                }
                extra.push_str(&details(&r.details));
            }
            write!(
                out,
                "<tr><td>{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td>\
                 <td class=\"num\">{}</td><td class=\"num\">{}</td><td>{}</td>\
                 <td class=\"details muted\">{}</td></tr>",
                esc(r.test.name()),
                num(r.statistic),
                opt_num(r.p_value),
                num(r.score),
                num(r.threshold),
                verdict_badge(r.drifted),
                esc(&extra),
            )?;
        }
        out.push_str("</tbody></table>");
    }
    out.push_str("</section>\n");
    Ok(())
}
