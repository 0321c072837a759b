//! `mlops monitor history`: a model's drift windows.

use mlops::core::Timestamp;
use mlops_monitor::History;

use super::args::HistoryArgs;
use super::triggers::history_root;
use crate::Result;
use crate::layout::RegistryArgs;
use crate::output::Format;
use crate::output::table::Table;

/// `--since`: RFC 3339, or a date (midnight UTC).
fn since(text: &str) -> Result<Timestamp> {
    let parsed = chrono::DateTime::parse_from_rfc3339(text)
        .map(|t| t.with_timezone(&chrono::Utc))
        .or_else(|_| {
            chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d")
                .map(|d| d.and_time(chrono::NaiveTime::MIN).and_utc())
        })
        .map_err(|_| {
            format!("--since {text:?}: give RFC 3339 (2026-01-31T12:00:00Z) or YYYY-MM-DD")
        })?;
    Ok(Timestamp::from_datetime(parsed)?)
}

pub(crate) async fn run(stores: &RegistryArgs, args: HistoryArgs) -> Result<u8> {
    let since = args.since.as_deref().map(since).transpose()?;
    let root = history_root(args.history.history.as_deref(), &stores.tracking.root)?;
    let rows = History::new(root).list(&args.model, since).await?;
    match args.format {
        Format::Json => crate::output::json(&rows)?,
        Format::Table => {
            let mut table = Table::new([
                "start",
                "version",
                "window",
                "rows",
                "drift share",
                "drift",
                "drifted",
            ]);
            for r in &rows {
                table.row([
                    crate::output::text::time(r.start),
                    r.version.clone(),
                    r.window.clone(),
                    r.rows.to_string(),
                    format!("{:.3}", r.share_drifted),
                    if r.dataset_drift { "DRIFT" } else { "ok" }.to_owned(),
                    r.drifted_features.join(","),
                ]);
            }
            table.print()?;
        }
    }
    Ok(crate::exit::OK)
}
