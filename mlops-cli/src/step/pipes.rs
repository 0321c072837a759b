//! Dagster Pipes, the external side: when `DAGSTER_PIPES_CONTEXT` is set (by
//! `PipesSubprocessClient` and the other Pipes clients) the command speaks the protocol
//! (version 0.1): `opened` first, its logs as `log` messages, then at the end
//! `report_asset_materialization` with the step's outputs and metrics as metadata, a
//! `report_asset_check` for the step's check (a promotion gate, the drift gate), and
//! `closed`, carrying the error when the command failed.
//!
//! Both variables hold params encoded as base64 of zlib of JSON. The context params name a
//! JSON file (`path`) or hold the context (`data`); the messages params name a file to
//! append JSON lines to (`path`) or a stream (`stdio`: `stderr` or `stdout`). Context
//! extras: `mlops_asset_key` picks the asset when the step targets several (one is used
//! without it), `mlops_check_name` renames the check.

use std::io::{Read, Write};
use std::path::PathBuf;
use std::sync::Mutex;

use base64::Engine;
use serde_json::{Map, Value, json};
use tracing::{Event, Level as TraceLevel, Subscriber};
use tracing_subscriber::Layer;
use tracing_subscriber::layer::Context;

use super::{Ending, StepReport};

/// The protocol version written in every message.
const PROTOCOL_VERSION: &str = "0.1";

/// The largest decoded params or context file read (they are a few hundred bytes).
const MAX_PARAMS_BYTES: u64 = 1 << 20;

/// Where messages go.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Channel {
    /// Appended to a file, one JSON object a line.
    File(PathBuf),
    /// Written to stderr.
    Stderr,
    /// Written to stdout (the orchestrator asked for it; results then share the stream).
    Stdout,
}

/// An open Pipes session.
#[derive(Debug)]
struct Session {
    channel: Channel,
    /// The asset the step materializes, when it targets one.
    asset_key: Option<String>,
    /// The check's name, when the context renames it.
    check_name: Option<String>,
}

static SESSION: Mutex<Option<Session>> = Mutex::new(None);

fn session() -> std::sync::MutexGuard<'static, Option<Session>> {
    SESSION
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Opens the session when the environment asks for one, and sends `opened`. An error when
/// the variables are there but unusable: the orchestrator would wait for messages in vain.
pub(crate) fn open_from_env() -> crate::Result<()> {
    let Some(context) = std::env::var_os("DAGSTER_PIPES_CONTEXT").filter(|v| !v.is_empty()) else {
        return Ok(());
    };
    let context = decode_param(&context.to_string_lossy())
        .map_err(|e| format!("DAGSTER_PIPES_CONTEXT: {e}"))?;
    let messages = std::env::var("DAGSTER_PIPES_MESSAGES")
        .map_err(|_| "DAGSTER_PIPES_CONTEXT is set but DAGSTER_PIPES_MESSAGES is not")?;
    let messages = decode_param(&messages).map_err(|e| format!("DAGSTER_PIPES_MESSAGES: {e}"))?;
    let new = Session::from_params(&context, &messages)?;
    write(&new.channel, &message("opened", json!({"extras": {}})))?;
    *session() = Some(new);
    Ok(())
}

impl Session {
    fn from_params(context: &Value, messages: &Value) -> crate::Result<Self> {
        let data = match (context.get("path"), context.get("data")) {
            (Some(Value::String(path)), _) => {
                let text = read_limited(std::fs::File::open(path)?)
                    .map_err(|e| format!("the Pipes context file {path}: {e}"))?;
                serde_json::from_slice(&text)
                    .map_err(|e| format!("the Pipes context file {path}: {e}"))?
            }
            (_, Some(data @ Value::Object(_))) => data.clone(),
            _ => {
                return Err(
                    format!("Pipes context params without `path` or `data`: {context}").into(),
                );
            }
        };
        let channel = match (
            messages.get("path"),
            messages
                .get("stdio")
                .or_else(|| messages.get("buffered_stdio")),
        ) {
            (Some(Value::String(path)), _) => Channel::File(PathBuf::from(path)),
            (_, Some(Value::String(s))) if s == "stderr" => Channel::Stderr,
            (_, Some(Value::String(s))) if s == "stdout" => Channel::Stdout,
            _ => {
                return Err(format!(
                    "Pipes messages params without a `path` or `stdio` (stderr|stdout): {messages}"
                )
                .into());
            }
        };
        let extra = |key: &str| {
            data.pointer(&format!("/extras/{key}"))
                .and_then(Value::as_str)
                .map(str::to_owned)
        };
        let asset_key = extra("mlops_asset_key").or_else(|| match data.get("asset_keys") {
            Some(Value::Array(keys)) if keys.len() == 1 => keys[0].as_str().map(str::to_owned),
            _ => None,
        });
        Ok(Self {
            channel,
            asset_key,
            check_name: extra("mlops_check_name"),
        })
    }
}

/// `base64 → zlib → JSON`, as dagster-pipes' `decode_param`.
fn decode_param(text: &str) -> crate::Result<Value> {
    let compressed = base64::engine::general_purpose::STANDARD
        .decode(text.trim())
        .map_err(|e| format!("not base64: {e}"))?;
    let json = read_limited(flate2::read::ZlibDecoder::new(compressed.as_slice()))
        .map_err(|e| format!("not zlib: {e}"))?;
    Ok(serde_json::from_slice(&json).map_err(|e| format!("not JSON: {e}"))?)
}

fn read_limited(reader: impl Read) -> std::io::Result<Vec<u8>> {
    let mut bytes = Vec::new();
    reader.take(MAX_PARAMS_BYTES + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > MAX_PARAMS_BYTES {
        return Err(std::io::Error::other(format!(
            "larger than {MAX_PARAMS_BYTES} bytes"
        )));
    }
    Ok(bytes)
}

fn message(method: &str, params: Value) -> Value {
    let mut m = json!({"__dagster_pipes_version": PROTOCOL_VERSION, "method": method});
    m["params"] = params;
    m
}

fn write(channel: &Channel, message: &Value) -> std::io::Result<()> {
    let mut line = message.to_string();
    line.push('\n');
    match channel {
        Channel::File(path) => std::fs::OpenOptions::new()
            .append(true)
            .create(true)
            .open(path)?
            .write_all(line.as_bytes()),
        Channel::Stderr => std::io::stderr().lock().write_all(line.as_bytes()),
        Channel::Stdout => std::io::stdout().lock().write_all(line.as_bytes()),
    }
}

/// Sends one log line, when a session is open.
fn log(level: &str, text: &str) {
    if let Some(open) = session().as_ref() {
        // A failed log line must not fail the command (nor log again).
        let _ = write(
            &open.channel,
            &message("log", json!({"message": text, "level": level})),
        );
    }
}

/// Forwards the tool's log events (those the `-v` filter lets through) as `log` messages.
pub(crate) struct LogLayer;

impl<S: Subscriber> Layer<S> for LogLayer {
    fn on_event(&self, event: &Event<'_>, _ctx: Context<'_, S>) {
        let level = match *event.metadata().level() {
            TraceLevel::ERROR => "ERROR",
            TraceLevel::WARN => "WARNING",
            TraceLevel::INFO => "INFO",
            TraceLevel::DEBUG | TraceLevel::TRACE => "DEBUG",
        };
        let mut text = Text(String::new());
        event.record(&mut text);
        log(level, &text.0);
    }
}

/// An event's message and fields as one line.
struct Text(String);

impl tracing::field::Visit for Text {
    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        if !self.0.is_empty() {
            self.0.push(' ');
        }
        if field.name() == "message" {
            self.0.push_str(&format!("{value:?}"));
        } else {
            self.0.push_str(&format!("{}={value:?}", field.name()));
        }
    }

    fn record_str(&mut self, field: &tracing::field::Field, value: &str) {
        if field.name() == "message" {
            if !self.0.is_empty() {
                self.0.push(' ');
            }
            self.0.push_str(value);
        } else {
            self.record_debug(field, &value);
        }
    }
}

/// Ends the session: the materialization and check (unless the command failed), then
/// `closed`, with the error.
pub(crate) fn close(report: &StepReport, ending: &Ending<'_>) {
    let Some(open) = session().take() else {
        return;
    };
    for m in messages(&open, report, ending) {
        if let Err(e) = write(&open.channel, &m) {
            tracing::warn!("cannot write a Dagster Pipes message: {e}");
        }
    }
}

/// The closing messages, in order.
fn messages(open: &Session, report: &StepReport, ending: &Ending<'_>) -> Vec<Value> {
    let mut out = Vec::new();
    if ending.error.is_none() {
        match &open.asset_key {
            Some(asset_key) => {
                out.push(message(
                    "report_asset_materialization",
                    json!({"asset_key": asset_key, "data_version": null, "metadata": metadata(report)}),
                ));
                if let Some(check) = &report.check {
                    let mut meta = Map::new();
                    meta.insert(
                        "outcome".into(),
                        typed(&Value::from(report.outcome.clone())),
                    );
                    for gate in &report.gates {
                        let verdict = if gate.passed { "pass" } else { "FAIL" };
                        meta.insert(
                            gate.gate.clone(),
                            typed(&Value::from(format!("{verdict}: {}", gate.reason))),
                        );
                    }
                    out.push(message(
                        "report_asset_check",
                        json!({
                            "asset_key": asset_key,
                            "check_name": open.check_name.as_deref().unwrap_or(&check.name),
                            "passed": check.passed,
                            "severity": if check.blocking { "ERROR" } else { "WARN" },
                            "metadata": meta,
                        }),
                    ));
                }
            }
            None => out.push(message(
                "log",
                json!({"message": "no single asset in the Pipes context (set the extra \
                    mlops_asset_key): nothing materialized", "level": "WARNING"}),
            )),
        }
    }
    let params = match ending.error {
        Some(error) => json!({"exception": exception(error)}),
        None => json!({}),
    };
    out.push(message("closed", params));
    out
}

/// The step's outputs and metrics as Pipes metadata, each with its type.
fn metadata(report: &StepReport) -> Map<String, Value> {
    let mut meta = Map::new();
    for (name, value) in &report.outputs {
        let value = match (name.as_str(), value) {
            // The command's JSON result: shown as JSON, not as a string.
            ("result", Value::String(text)) => {
                serde_json::from_str(text).unwrap_or_else(|_| value.clone())
            }
            _ => value.clone(),
        };
        meta.insert(name.clone(), typed(&value));
    }
    for (key, value) in &report.metrics {
        if !meta.contains_key(key) && value.is_finite() {
            meta.insert(key.clone(), json!({"raw_value": value, "type": "float"}));
        }
    }
    meta
}

fn typed(value: &Value) -> Value {
    let kind = match value {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(n) if n.is_i64() || n.is_u64() => "int",
        Value::Number(_) => "float",
        Value::String(_) => "text",
        Value::Array(_) | Value::Object(_) => "json",
    };
    json!({"raw_value": value, "type": kind})
}

/// An error chain as a Pipes exception: the message, and each cause as `cause`.
fn exception(error: &(dyn std::error::Error + 'static)) -> Value {
    json!({
        "name": "MlopsError",
        "message": error.to_string(),
        "stack": [],
        "cause": error.source().map(exception),
        "context": null,
    })
}

#[cfg(test)]
mod tests {
    use std::io::Write as _;

    use super::super::{Check, GateLine, Level};
    use super::*;

    /// dagster-pipes' `encode_param`.
    fn encode(value: &Value) -> String {
        let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
        z.write_all(value.to_string().as_bytes()).unwrap();
        base64::engine::general_purpose::STANDARD.encode(z.finish().unwrap())
    }

    #[test]
    fn params_decode_as_dagster_encodes_them() {
        // What dagster-pipes' `encode_param({"path": "/tmp/x"})` gives (Python json + zlib).
        let python = "eJyrVipILMlQslJQ0i/JLdCvUKoFADYYBa8=";
        assert_eq!(decode_param(python).unwrap(), json!({"path": "/tmp/x"}));
        let value = json!({"data": {"asset_keys": ["model"], "extras": {}}});
        assert_eq!(decode_param(&encode(&value)).unwrap(), value);
        assert!(decode_param("not base64!").is_err());
        assert!(decode_param("aGVsbG8=").is_err());
    }

    #[test]
    fn the_session_reads_context_files_and_inline_data() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("context.json");
        std::fs::write(&file, r#"{"asset_keys": ["a", "b"], "extras": {"mlops_asset_key": "b", "mlops_check_name": "better"}}"#).unwrap();
        let s = Session::from_params(
            &json!({"path": file.to_str().unwrap()}),
            &json!({"path": "/tmp/messages"}),
        )
        .unwrap();
        assert_eq!(s.channel, Channel::File("/tmp/messages".into()));
        assert_eq!(s.asset_key.as_deref(), Some("b"));
        assert_eq!(s.check_name.as_deref(), Some("better"));
        let s = Session::from_params(
            &json!({"data": {"asset_keys": ["model"], "extras": {}}}),
            &json!({"stdio": "stderr"}),
        )
        .unwrap();
        assert_eq!(
            (s.channel, s.asset_key.as_deref()),
            (Channel::Stderr, Some("model"))
        );
        // Several assets and no extra: none picked.
        let s = Session::from_params(
            &json!({"data": {"asset_keys": ["a", "b"], "extras": {}}}),
            &json!({"stdio": "stdout"}),
        )
        .unwrap();
        assert_eq!((s.channel, s.asset_key), (Channel::Stdout, None));
        assert!(Session::from_params(&json!({}), &json!({"stdio": "stderr"})).is_err());
        assert!(Session::from_params(&json!({"data": {}}), &json!({"stdio": "x"})).is_err());
    }

    fn gate_report() -> StepReport {
        let mut report = StepReport::new("models gate churn v2 for champion", "refused")
            .output("outcome", "rejected")
            .output("passed", false)
            .output("version", 2)
            .output("result", r#"{"passed":false}"#)
            .annotate(Level::Error, "refused");
        report.metrics = vec![("accuracy".into(), 0.5)];
        report.gates = vec![GateLine {
            gate: "metric(accuracy)".into(),
            passed: false,
            reason: "0.5 < 0.9".into(),
        }];
        report.check = Some(Check {
            name: "gate".into(),
            passed: false,
            blocking: true,
        });
        report
    }

    #[test]
    fn a_finished_step_materializes_checks_and_closes() {
        let open = Session {
            channel: Channel::Stderr,
            asset_key: Some("model".into()),
            check_name: None,
        };
        let ending = Ending {
            code: 3,
            rejected: true,
            error: None,
        };
        let got = messages(&open, &gate_report(), &ending);
        assert_eq!(
            got,
            [
                json!({"__dagster_pipes_version": "0.1", "method": "report_asset_materialization",
                "params": {"asset_key": "model", "data_version": null, "metadata": {
                    "outcome": {"raw_value": "rejected", "type": "text"},
                    "passed": {"raw_value": false, "type": "bool"},
                    "version": {"raw_value": 2, "type": "int"},
                    "result": {"raw_value": {"passed": false}, "type": "json"},
                    "accuracy": {"raw_value": 0.5, "type": "float"},
                }}}),
                json!({"__dagster_pipes_version": "0.1", "method": "report_asset_check",
                "params": {"asset_key": "model", "check_name": "gate", "passed": false,
                    "severity": "ERROR", "metadata": {
                        "outcome": {"raw_value": "refused", "type": "text"},
                        "metric(accuracy)": {"raw_value": "FAIL: 0.5 < 0.9", "type": "text"},
                    }}}),
                json!({"__dagster_pipes_version": "0.1", "method": "closed", "params": {}}),
            ]
        );
    }

    #[derive(Debug)]
    struct Failure(&'static str, Option<Box<Failure>>);
    impl std::fmt::Display for Failure {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str(self.0)
        }
    }
    impl std::error::Error for Failure {
        fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
            self.1.as_deref().map(|c| c as _)
        }
    }

    #[test]
    fn a_failed_step_closes_with_the_exception_only() {
        let open = Session {
            channel: Channel::Stderr,
            asset_key: Some("model".into()),
            check_name: None,
        };
        let error = Failure(
            "cannot register",
            Some(Box::new(Failure("disk full", None))),
        );
        let ending = Ending {
            code: 1,
            rejected: false,
            error: Some(&error),
        };
        let got = messages(&open, &gate_report(), &ending);
        assert_eq!(
            got,
            [
                json!({"__dagster_pipes_version": "0.1", "method": "closed", "params": {
                "exception": {"name": "MlopsError", "message": "cannot register", "stack": [],
                    "context": null, "cause": {"name": "MlopsError", "message": "disk full",
                        "stack": [], "cause": null, "context": null}}}})
            ]
        );
    }
}
