//! The pipeline step contract beyond stdout and the exit code: what a command reports to the
//! orchestrator running it. A command describes its outcome once, as a [`StepReport`]
//! ([`report`]); when the command ends, [`finish`] hands it to each orchestrator found in the
//! environment: GitHub Actions (`GITHUB_ACTIONS=true`: outputs, a job summary, annotations;
//! [`github`]) and Dagster Pipes (`DAGSTER_PIPES_CONTEXT`: materialization, asset checks,
//! logs, `closed`; [`pipes`]). Outside them nothing here writes anything.
//!
//! The JSON result a command prints (`output::json`) is also kept, as the `result` output.

pub(crate) mod github;
pub(crate) mod pipes;

use std::sync::Mutex;

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// How serious an annotation is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) enum Level {
    /// Worth a look; the step did not fail for it.
    Warning,
    /// The step's answer is no, or it failed.
    Error,
}

/// A gate's verdict, as the summary and the asset check show it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct GateLine {
    /// The gate, e.g. `metric(accuracy)`.
    pub(crate) gate: String,
    /// Whether it passed.
    pub(crate) passed: bool,
    /// Why.
    pub(crate) reason: String,
}

/// A drifted column, as the summary shows it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub(crate) struct DriftedColumn {
    /// The column.
    pub(crate) column: String,
    /// The test that found drift.
    pub(crate) test: String,
    /// Its statistic.
    pub(crate) statistic: f64,
    /// Its threshold.
    pub(crate) threshold: f64,
}

/// A check the step made (a promotion gate, the drift gate): a Dagster asset check.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Check {
    /// The check's name (`gate`, `drift`).
    pub(crate) name: String,
    /// Whether it passed.
    pub(crate) passed: bool,
    /// Whether a failure is an error (it fails the step) or a warning.
    pub(crate) blocking: bool,
}

/// What one command reports about its outcome.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub(crate) struct StepReport {
    /// What ran, e.g. `models promote churn v3 to champion`.
    pub(crate) title: String,
    /// The outcome in one line.
    pub(crate) outcome: String,
    /// Named results (GitHub step outputs, Dagster metadata), in order.
    pub(crate) outputs: Vec<(String, Value)>,
    /// Metrics to show in a table.
    pub(crate) metrics: Vec<(String, f64)>,
    /// Gate verdicts.
    pub(crate) gates: Vec<GateLine>,
    /// Drifted columns.
    pub(crate) drifted: Vec<DriftedColumn>,
    /// The check the step made, if any.
    pub(crate) check: Option<Check>,
    /// Messages worth an annotation.
    pub(crate) annotations: Vec<(Level, String)>,
}

impl StepReport {
    /// A report titled `title` whose outcome is `outcome`.
    pub(crate) fn new(title: impl Into<String>, outcome: impl Into<String>) -> Self {
        Self {
            title: title.into(),
            outcome: outcome.into(),
            ..Self::default()
        }
    }

    /// Adds an output.
    pub(crate) fn output(mut self, name: &str, value: impl Into<Value>) -> Self {
        self.outputs.push((name.to_owned(), value.into()));
        self
    }

    /// Adds an annotation.
    pub(crate) fn annotate(mut self, level: Level, text: impl Into<String>) -> Self {
        self.annotations.push((level, text.into()));
        self
    }
}

/// What the command reported, and the JSON result it printed.
#[derive(Default)]
struct State {
    report: Option<StepReport>,
    result: Option<String>,
}

static STATE: Mutex<State> = Mutex::new(State {
    report: None,
    result: None,
});

fn state() -> std::sync::MutexGuard<'static, State> {
    // A panic while holding the lock leaves plain data behind: still usable.
    STATE
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Records the command's report (the last one wins).
pub(crate) fn report(report: StepReport) {
    state().report = Some(report);
}

/// The report and JSON result recorded so far (kept: the command has not ended).
pub(crate) fn snapshot() -> (Option<StepReport>, Option<String>) {
    let state = state();
    (state.report.clone(), state.result.clone())
}

/// Records the compact JSON result the command printed.
pub(crate) fn result(json: &str) {
    state().result = Some(json.to_owned());
}

/// How the command ended, for the orchestrators.
pub(crate) struct Ending<'a> {
    /// The exit code the process ends with.
    pub(crate) code: u8,
    /// Whether the answer was no (exit 3 before `--on-reject`).
    pub(crate) rejected: bool,
    /// The error, when the command failed.
    pub(crate) error: Option<&'a (dyn std::error::Error + 'static)>,
}

/// The largest JSON result kept as the `result` output.
const MAX_RESULT_OUTPUT: usize = 256 * 1024;

/// The report and result recorded so far, with the outputs every step has (`outcome`,
/// `exit_code`, `result`) added.
fn finished_report(ending: &Ending<'_>) -> StepReport {
    let mut state = state();
    let mut report = state.report.take().unwrap_or_default();
    let outcome = match (ending.error, ending.rejected) {
        (Some(_), _) => "error",
        (None, true) => "rejected",
        (None, false) => "done",
    };
    report
        .outputs
        .insert(0, ("outcome".to_owned(), Value::from(outcome)));
    report
        .outputs
        .push(("exit_code".to_owned(), Value::from(ending.code)));
    match state.result.take() {
        Some(result) if result.len() <= MAX_RESULT_OUTPUT => {
            report
                .outputs
                .push(("result".to_owned(), Value::from(result)));
        }
        // GitHub caps a job's outputs at 1 MB; a listing's result stays on stdout only.
        Some(result) => tracing::warn!(
            "the JSON result ({} bytes) is over {MAX_RESULT_OUTPUT} bytes: not kept as the \
             `result` output (it is on stdout)",
            result.len()
        ),
        None => {}
    }
    if let Some(error) = ending.error {
        report.annotations.push((Level::Error, error.to_string()));
    }
    report
}

/// Hands the command's report to every orchestrator in the environment. Failures to write
/// are warnings: the command's own outcome stands.
pub(crate) fn finish(ending: &Ending<'_>) {
    let report = finished_report(ending);
    if !report.title.is_empty() {
        tracing::info!("{}: {}", report.title, report.outcome);
    }
    if let Some(github) = github::Github::from_env()
        && let Err(e) = github.write(&report)
    {
        tracing::warn!("cannot write the GitHub Actions outputs: {e}");
    }
    pipes::close(&report, ending);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_report_gets_outcome_exit_code_and_result() {
        report(StepReport::new("models gate", "passed").output("passed", true));
        result(r#"{"passed":true}"#);
        let finished = finished_report(&Ending {
            code: 0,
            rejected: false,
            error: None,
        });
        let names: Vec<&str> = finished.outputs.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["outcome", "passed", "exit_code", "result"]);
        assert_eq!(finished.outputs[0].1, "done");
        // Taken: a second ending starts empty.
        let empty = finished_report(&Ending {
            code: 99,
            rejected: true,
            error: None,
        });
        assert_eq!(empty.outputs[0].1, "rejected");
        assert_eq!(empty.outputs.len(), 2);
        // A result too large for GitHub's outputs stays on stdout only.
        result(&"x".repeat(MAX_RESULT_OUTPUT + 1));
        let big = finished_report(&Ending {
            code: 0,
            rejected: false,
            error: None,
        });
        assert!(big.outputs.iter().all(|(name, _)| name != "result"));
    }
}
