//! What `mlops runs …` and `mlops experiments …` share: opening the tracking store named by
//! `--store` / `MLOPS_TRACKING_URI`, and printing tables and JSON.

use std::sync::Arc;

use clap::{Args, ValueEnum};
use mlops::core::{ExperimentName, Timestamp};
use mlops::track::{
    Experiment, ExperimentQuery, OpenOptions, Page, TrackError, TrackingStore, ViewType,
};

use crate::Result;

/// The default store: a folder whose name cannot be mistaken for MLflow's `./mlruns`.
pub(crate) const DEFAULT_STORE: &str = "./mlops-runs";

/// The tracking store option every tracking command takes.
#[derive(Args, Debug, Clone)]
pub(crate) struct StoreArgs {
    /// The tracking store: a folder (the embedded store), file://, memory://, s3://, az://,
    /// gs:// (the last three need the `cloud` feature), or http(s)://HOST:PORT for an MLflow
    /// tracking server (credentials from MLFLOW_TRACKING_TOKEN or _USERNAME/_PASSWORD).
    #[arg(long = "store", env = "MLOPS_TRACKING_URI", default_value = DEFAULT_STORE)]
    pub(crate) store: String,
}

/// How results are printed.
#[derive(ValueEnum, Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) enum Format {
    /// Aligned columns for people.
    #[default]
    Table,
    /// One JSON document for scripts.
    Json,
}

/// Which experiments or runs to list.
#[derive(ValueEnum, Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) enum View {
    /// Live ones.
    #[default]
    Active,
    /// Deleted ones.
    Deleted,
    /// Both.
    All,
}

impl From<View> for ViewType {
    fn from(view: View) -> Self {
        match view {
            View::Active => ViewType::ActiveOnly,
            View::Deleted => ViewType::DeletedOnly,
            View::All => ViewType::All,
        }
    }
}

/// Opens the store at `uri` (`mlops::track::open_with`: an MLflow server for http(s)://, else
/// the embedded store). An embedded store that does not exist yet is created only when
/// `create` is set, so that a mistyped path in a read command is an error, not a new store.
pub(crate) async fn open(uri: &str, create: bool) -> Result<Arc<dyn TrackingStore>> {
    let options = OpenOptions::default().create_if_missing(create);
    match mlops::track::open_with(uri, options).await {
        Err(TrackError::NotFound {
            what: "tracking store",
            id,
        }) => Err(format!(
            "no tracking store at {id} (give one with --store or MLOPS_TRACKING_URI; \
             the default is {DEFAULT_STORE})"
        )
        .into()),
        opened => Ok(opened?),
    }
}

/// Every experiment in `view`, following page tokens.
pub(crate) async fn all_experiments(
    store: &dyn TrackingStore,
    view: ViewType,
    filter: Option<String>,
) -> Result<Vec<Experiment>> {
    let all = Page::collect_all(|page_token| {
        let query = ExperimentQuery {
            filter: filter.clone(),
            view,
            max_results: Some(1000),
            page_token,
            ..ExperimentQuery::default()
        };
        async move { store.search_experiments(&query).await }
    })
    .await?;
    Ok(all)
}

/// The experiment named `name`, or an error that says so.
pub(crate) async fn experiment_by_name(
    store: &dyn TrackingStore,
    name: &str,
) -> Result<Experiment> {
    let parsed = ExperimentName::parse(name)?;
    store
        .get_experiment_by_name(&parsed)
        .await?
        .ok_or_else(|| format!("no experiment named {name:?} in this store").into())
}

/// A time as `2026-11-26 18:20:01` (UTC).
pub(crate) fn time(t: Timestamp) -> String {
    t.to_datetime().format("%Y-%m-%d %H:%M:%S").to_string()
}

/// A duration in milliseconds as `1h02m`, `3m07s`, `12.3s`.
pub(crate) fn duration(start: Timestamp, end: Option<Timestamp>) -> String {
    let Some(end) = end else {
        return "-".to_owned();
    };
    let ms = (end.as_millis() - start.as_millis()).max(0);
    let secs = ms / 1000;
    if secs >= 3600 {
        format!("{}h{:02}m", secs / 3600, (secs % 3600) / 60)
    } else if secs >= 60 {
        format!("{}m{:02}s", secs / 60, secs % 60)
    } else {
        format!("{:.1}s", ms as f64 / 1000.0)
    }
}

/// A metric value, short: up to 6 significant digits.
pub(crate) fn number(value: f64) -> String {
    if value.is_nan() {
        "NaN".to_owned()
    } else if value.is_infinite() {
        if value > 0.0 { "inf" } else { "-inf" }.to_owned()
    } else if value != 0.0 && (value.abs() >= 1e6 || value.abs() < 1e-4) {
        format!("{value:.5e}")
    } else {
        let text = format!("{value:.6}");
        let text = text.trim_end_matches('0').trim_end_matches('.');
        if text == "-0" { "0" } else { text }.to_owned()
    }
}

/// The longest cell, in characters; longer ones are cut with `…`.
const MAX_CELL: usize = 48;

fn cell(text: &str) -> String {
    let one_line = text.replace(['\n', '\r', '\t'], " ");
    if one_line.chars().count() > MAX_CELL {
        let mut cut: String = one_line.chars().take(MAX_CELL - 1).collect();
        cut.push('…');
        cut
    } else {
        one_line
    }
}

/// Prints rows under headers in aligned columns.
pub(crate) fn print_table(headers: &[String], rows: &[Vec<String>]) {
    let rows: Vec<Vec<String>> = rows
        .iter()
        .map(|row| row.iter().map(|c| cell(c)).collect())
        .collect();
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for row in &rows {
        for (width, c) in widths.iter_mut().zip(row) {
            *width = (*width).max(c.chars().count());
        }
    }
    let line = |cells: &[String]| {
        let padded: Vec<String> = cells
            .iter()
            .zip(&widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect();
        say(padded.join("  ").trim_end());
    };
    line(headers);
    for row in &rows {
        line(row);
    }
}

/// Prints a JSON value, pretty.
pub(crate) fn print_json(value: &serde_json::Value) -> Result<()> {
    say(&serde_json::to_string_pretty(value)?);
    Ok(())
}

/// Prints one line to stdout. A closed pipe (`mlops runs list | head`) ends the output
/// quietly instead of panicking as `println!` would.
pub(crate) fn say(line: &str) {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    let _ = out
        .write_all(line.as_bytes())
        .and_then(|()| out.write_all(b"\n"));
}
