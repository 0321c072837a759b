//! GitHub Actions: under `GITHUB_ACTIONS=true` a step appends its outputs to the file
//! `$GITHUB_OUTPUT` (as `name<<DELIMITER` blocks, safe for values of several lines), a
//! markdown summary to `$GITHUB_STEP_SUMMARY`, and writes `::error`/`::warning` workflow
//! commands on stderr (the runner reads commands on both streams; stdout stays the result's).

use std::io::Write;
use std::path::{Path, PathBuf};

use serde_json::Value;

use super::{Level, StepReport};

/// Where this GitHub Actions step's outputs and summary go.
#[derive(Debug)]
pub(crate) struct Github {
    output: Option<PathBuf>,
    summary: Option<PathBuf>,
}

impl Github {
    /// The step's files, when running under GitHub Actions (or `act`).
    pub(crate) fn from_env() -> Option<Self> {
        if std::env::var("GITHUB_ACTIONS").ok().as_deref() != Some("true") {
            return None;
        }
        let path = |name: &str| {
            std::env::var_os(name)
                .filter(|v| !v.is_empty())
                .map(PathBuf::from)
        };
        Some(Self {
            output: path("GITHUB_OUTPUT"),
            summary: path("GITHUB_STEP_SUMMARY"),
        })
    }

    /// Writes the report: annotations on stderr, outputs, summary.
    pub(crate) fn write(&self, report: &StepReport) -> std::io::Result<()> {
        self.write_to(report, &mut std::io::stderr().lock())
    }

    /// [`Github::write`] with the annotations written to `commands`.
    fn write_to(&self, report: &StepReport, commands: &mut impl Write) -> std::io::Result<()> {
        for (level, text) in &report.annotations {
            commands.write_all(annotation(*level, &report.title, text).as_bytes())?;
        }
        if let Some(path) = &self.output {
            let values: Vec<String> = report.outputs.iter().map(|(_, v)| plain(v)).collect();
            let delimiter = delimiter(&values);
            append(path, &outputs(&report.outputs, &delimiter))?;
        }
        if let Some(path) = &self.summary {
            append(path, &summary(report))?;
        }
        Ok(())
    }
}

fn append(path: &Path, text: &str) -> std::io::Result<()> {
    let mut file = std::fs::OpenOptions::new()
        .append(true)
        .create(true)
        .open(path)?;
    file.write_all(text.as_bytes())
}

/// A value as an output holds it: strings as they are, anything else as compact JSON.
fn plain(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// A heredoc delimiter found in none of the values (GitHub's own toolkit uses a random one).
fn delimiter(values: &[String]) -> String {
    loop {
        let candidate = format!("ghadelimiter_{}", uuid::Uuid::now_v7().simple());
        if !values.iter().any(|v| v.contains(&candidate)) {
            return candidate;
        }
    }
}

/// The outputs in `$GITHUB_OUTPUT`'s multiline syntax: `name<<D`, the value, `D`.
fn outputs(outputs: &[(String, Value)], delimiter: &str) -> String {
    let mut text = String::new();
    for (name, value) in outputs {
        text.push_str(&format!(
            "{name}<<{delimiter}\n{}\n{delimiter}\n",
            plain(value)
        ));
    }
    text
}

/// A workflow command: `::error title=T::message`, escaped per GitHub's rules (`%`, CR and
/// LF in the message; also `:` and `,` in property values).
fn annotation(level: Level, title: &str, text: &str) -> String {
    let command = match level {
        Level::Warning => "warning",
        Level::Error => "error",
    };
    let title = if title.is_empty() {
        "mlops".to_owned()
    } else {
        format!("mlops {title}")
    };
    format!(
        "::{command} title={}::{}\n",
        escape_property(&title),
        escape_data(text)
    )
}

fn escape_data(text: &str) -> String {
    text.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

fn escape_property(text: &str) -> String {
    escape_data(text).replace(':', "%3A").replace(',', "%2C")
}

/// The markdown job summary: the title, the outcome, then tables of metrics, gate verdicts
/// and drifted columns (those that have rows).
pub(crate) fn summary(report: &StepReport) -> String {
    let mut md = format!(
        "### mlops {}\n\n{}\n",
        cell(&report.title),
        cell(&report.outcome)
    );
    if !report.metrics.is_empty() {
        md.push_str("\n| metric | value |\n| --- | ---: |\n");
        for (key, value) in &report.metrics {
            md.push_str(&format!("| {} | {} |\n", cell(key), number(*value)));
        }
    }
    if !report.gates.is_empty() {
        md.push_str("\n| gate | verdict | reason |\n| --- | --- | --- |\n");
        for gate in &report.gates {
            md.push_str(&format!(
                "| {} | {} | {} |\n",
                cell(&gate.gate),
                if gate.passed { "✅ pass" } else { "❌ fail" },
                cell(&gate.reason)
            ));
        }
    }
    if !report.drifted.is_empty() {
        md.push_str(
            "\n| drifted column | test | statistic | threshold |\n| --- | --- | ---: | ---: |\n",
        );
        for d in &report.drifted {
            md.push_str(&format!(
                "| {} | {} | {} | {} |\n",
                cell(&d.column),
                cell(&d.test),
                number(d.statistic),
                number(d.threshold)
            ));
        }
    }
    md.push('\n');
    md
}

/// Text safe inside a markdown table cell: no line breaks, pipes escaped, no raw HTML.
fn cell(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('|', "\\|")
        .replace(['\r', '\n'], " ")
}

fn number(value: f64) -> String {
    if value.is_finite() && value != 0.0 && value.abs() < 1e-3 {
        format!("{value:.3e}")
    } else if value.is_finite() {
        format!("{value:.4}")
            .trim_end_matches('0')
            .trim_end_matches('.')
            .to_owned()
    } else {
        value.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::super::{DriftedColumn, GateLine};
    use super::*;

    fn promotion() -> StepReport {
        let mut report = StepReport::new(
            "models promote churn v2 to champion",
            "refused (gate): gate metric(accuracy) refused: 0.80 < 0.91",
        )
        .output("outcome", "rejected")
        .output("promoted", false)
        .output("version", 2)
        .output("result", "{\"a\":1}\nsecond line")
        .annotate(
            Level::Error,
            "gate metric(accuracy) refused: 50% worse\nsee log",
        );
        report.metrics = vec![("accuracy".into(), 0.8), ("loss".into(), 0.000_12)];
        report.gates = vec![
            GateLine {
                gate: "metric(accuracy)".into(),
                passed: false,
                reason: "0.8 < 0.91 | margin <0>".into(),
            },
            GateLine {
                gate: "schema".into(),
                passed: true,
                reason: "same inputs".into(),
            },
        ];
        report.drifted = vec![DriftedColumn {
            column: "fare".into(),
            test: "wasserstein".into(),
            statistic: 0.25,
            threshold: 0.1,
        }];
        report
    }

    #[test]
    fn outputs_use_the_multiline_syntax() {
        let report = promotion();
        let text = outputs(&report.outputs, "ghadelimiter_X");
        assert_eq!(
            text,
            "outcome<<ghadelimiter_X\nrejected\nghadelimiter_X\n\
             promoted<<ghadelimiter_X\nfalse\nghadelimiter_X\n\
             version<<ghadelimiter_X\n2\nghadelimiter_X\n\
             result<<ghadelimiter_X\n{\"a\":1}\nsecond line\nghadelimiter_X\n"
        );
    }

    #[test]
    fn the_delimiter_is_in_no_value() {
        let d = delimiter(&["plain".into()]);
        assert!(d.starts_with("ghadelimiter_") && d.len() > 20);
        assert_ne!(d, delimiter(&[]));
    }

    #[test]
    fn annotations_are_escaped() {
        assert_eq!(
            annotation(Level::Error, "models gate a,b", "50% worse\r\nsee: log"),
            "::error title=mlops models gate a%2Cb::50%25 worse%0D%0Asee: log\n"
        );
        assert_eq!(
            annotation(Level::Warning, "drift", "x:y"),
            "::warning title=mlops drift::x:y\n"
        );
    }

    #[test]
    fn the_summary_is_golden() {
        assert_eq!(
            summary(&promotion()),
            "### mlops models promote churn v2 to champion\n\n\
             refused (gate): gate metric(accuracy) refused: 0.80 &lt; 0.91\n\
             \n| metric | value |\n| --- | ---: |\n\
             | accuracy | 0.8 |\n\
             | loss | 1.200e-4 |\n\
             \n| gate | verdict | reason |\n| --- | --- | --- |\n\
             | metric(accuracy) | ❌ fail | 0.8 &lt; 0.91 \\| margin &lt;0&gt; |\n\
             | schema | ✅ pass | same inputs |\n\
             \n| drifted column | test | statistic | threshold |\n| --- | --- | ---: | ---: |\n\
             | fare | wasserstein | 0.25 | 0.1 |\n\n"
        );
    }

    #[test]
    fn writes_append_to_the_files() {
        let dir = tempfile::tempdir().unwrap();
        let github = Github {
            output: Some(dir.path().join("out")),
            summary: Some(dir.path().join("summary")),
        };
        std::fs::write(dir.path().join("out"), "earlier=1\n").unwrap();
        let report = promotion();
        let mut commands = Vec::new();
        github.write_to(&report, &mut commands).unwrap();
        github.write_to(&report, &mut commands).unwrap();
        assert_eq!(
            String::from_utf8(commands).unwrap(),
            "::error title=mlops models promote churn v2 to champion::gate metric(accuracy) \
             refused: 50%25 worse%0Asee log\n"
                .repeat(2)
        );
        let out = std::fs::read_to_string(dir.path().join("out")).unwrap();
        assert!(out.starts_with("earlier=1\noutcome<<ghadelimiter_"));
        assert_eq!(out.matches("promoted<<").count(), 2);
        let summary_text = std::fs::read_to_string(dir.path().join("summary")).unwrap();
        assert_eq!(summary_text, summary(&report).repeat(2));
    }
}
