//! Everything the tool prints. Results go to stdout through [`line()`] and [`json()`] only;
//! logs and progress go to stderr. A stdout closed early (`mlops runs list | head -3`) is
//! not an error: the output stops, the command finishes and exits with its own code.

pub(crate) mod progress;
pub(crate) mod table;
pub(crate) mod text;

use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};

use clap::ValueEnum;
use serde::Serialize;
use serde_json::{Value, json};

use crate::Result;

/// How results are printed.
#[derive(ValueEnum, Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) enum Format {
    /// Aligned columns for people.
    #[default]
    Table,
    /// One JSON document for scripts.
    Json,
}

/// Set once stdout's reader has gone away: nothing more is written.
static CLOSED: AtomicBool = AtomicBool::new(false);

/// The lines printed since [`capture`] began, when capturing (an idempotent step keeps
/// them to print again on a retry).
static CAPTURED: std::sync::Mutex<Option<Vec<String>>> = std::sync::Mutex::new(None);

fn captured() -> std::sync::MutexGuard<'static, Option<Vec<String>>> {
    CAPTURED
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Starts keeping a copy of every line printed.
pub(crate) fn capture() {
    *captured() = Some(Vec::new());
}

/// The lines printed since [`capture`]; stops capturing.
pub(crate) fn take_captured() -> Vec<String> {
    captured().take().unwrap_or_default()
}

/// Prints one line to stdout.
pub(crate) fn line(text: &str) -> Result<()> {
    if let Some(lines) = captured().as_mut() {
        lines.push(text.to_owned());
    }
    if CLOSED.load(Ordering::Relaxed) {
        return Ok(());
    }
    let mut out = std::io::stdout().lock();
    match out
        .write_all(text.as_bytes())
        .and_then(|()| out.write_all(b"\n"))
    {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {
            CLOSED.store(true, Ordering::Relaxed);
            Ok(())
        }
        other => Ok(other?),
    }
}

/// Prints a value as one compact JSON document on one line: the `--format json` result of a
/// command, always its last line of stdout (Airflow hands that line on as the task's XCom).
/// Kept as the step's `result` output too (`step`).
pub(crate) fn json(value: &impl Serialize) -> Result<()> {
    let text = serde_json::to_string(value)?;
    crate::step::result(&text);
    line(&text)
}

/// A metric or param value as JSON: NaN and infinities as MLflow spells them.
pub(crate) fn json_number(value: f64) -> Value {
    if value.is_nan() {
        json!("NaN")
    } else if value.is_infinite() {
        json!(if value > 0.0 { "Infinity" } else { "-Infinity" })
    } else {
        json!(value)
    }
}
