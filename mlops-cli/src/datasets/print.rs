//! How `mlops data` prints: tables for people, one JSON document for scripts.

use mlops_data::{Added, AliasMove, ColumnChange, DatasetDiff, DatasetSummary, Location, Manifest};
use serde_json::json;

use crate::Result;
use crate::output::table::Table;
use crate::output::text::{bytes, number, or_dash};
use crate::output::{Format, json, line};

fn when(m: &Manifest) -> String {
    m.created.format("%Y-%m-%d %H:%M:%S").to_string()
}

pub(crate) fn added(added: &Added, format: Format) -> Result<()> {
    if format == Format::Json {
        return json(added);
    }
    let m = &added.manifest;
    let what = if added.created {
        "created"
    } else {
        "exists (same content): nothing written"
    };
    line(&format!("{} {what}", m.label()))?;
    let mut table = Table::pairs();
    table.row(["digest".to_owned(), m.digest.to_string()]);
    table.row(["rows".to_owned(), m.rows.to_string()]);
    table.row(["files".to_owned(), m.files.len().to_string()]);
    table.row(["size".to_owned(), bytes(m.bytes())]);
    table.row(["written".to_owned(), bytes(added.bytes_written)]);
    table.print()
}

pub(crate) fn list(list: &[DatasetSummary], format: Format) -> Result<()> {
    if format == Format::Json {
        return json(&json!({ "datasets": list }));
    }
    let mut table = Table::new(["name", "versions", "latest", "rows", "size", "created"]);
    for d in list {
        let latest = d.latest.as_ref();
        table.row([
            d.name.to_string(),
            d.versions.to_string(),
            or_dash(latest.map(|m| m.version)),
            or_dash(latest.map(|m| m.rows)),
            or_dash(latest.map(|m| bytes(m.bytes()))),
            or_dash(latest.map(when)),
        ]);
    }
    table.print()
}

fn aliases_of(version: u64, aliases: &[AliasMove]) -> String {
    let names: Vec<&str> = aliases
        .iter()
        .filter(|a| a.version == version)
        .map(|a| a.alias.as_str())
        .collect();
    if names.is_empty() {
        "-".to_owned()
    } else {
        names.join(",")
    }
}

pub(crate) fn versions(versions: &[Manifest], aliases: &[AliasMove], format: Format) -> Result<()> {
    if format == Format::Json {
        return json(&json!({ "versions": versions, "aliases": aliases }));
    }
    let mut table = Table::new([
        "version",
        "created",
        "rows",
        "files",
        "size",
        "digest",
        "aliases",
        "description",
    ])
    .cut();
    for m in versions {
        table.row([
            m.version.to_string(),
            when(m),
            m.rows.to_string(),
            m.files.len().to_string(),
            bytes(m.bytes()),
            m.digest.to_string(),
            aliases_of(m.version, aliases),
            or_dash(m.description.as_deref()),
        ]);
    }
    table.print()
}

pub(crate) fn show(m: &Manifest, aliases: &[AliasMove], format: Format) -> Result<()> {
    if format == Format::Json {
        return json(&json!({ "version": m, "aliases": aliases }));
    }
    let mut table = Table::pairs();
    table.row(["dataset".to_owned(), m.label()]);
    table.row(["created".to_owned(), when(m)]);
    table.row(["digest".to_owned(), m.digest.to_string()]);
    table.row(["content id".to_owned(), m.content_id.clone()]);
    table.row(["rows".to_owned(), m.rows.to_string()]);
    table.row(["size".to_owned(), bytes(m.bytes())]);
    table.row(["aliases".to_owned(), aliases_of(m.version, aliases)]);
    table.row(["description".to_owned(), or_dash(m.description.as_deref())]);
    for (k, v) in &m.tags {
        table.row([format!("tag {k}"), v.clone()]);
    }
    table.row([
        "profile".to_owned(),
        or_dash(
            m.profile
                .as_ref()
                .map(|p| format!("sha256 {} ({})", p.sha256, bytes(p.size))),
        ),
    ]);
    table.print()?;
    line("")?;
    let mut schema = Table::new(["column", "type", "nullable"]);
    for f in m.schema.fields() {
        schema.row([
            f.name().clone(),
            f.data_type().to_string(),
            f.is_nullable().to_string(),
        ]);
    }
    schema.print()?;
    line("")?;
    let mut files = Table::new(["file", "size", "digest", "where"]);
    for f in &m.files {
        let place = match &f.location {
            Location::Stored { .. } => "store".to_owned(),
            Location::Dvc { remote, .. } => format!("dvc {remote}"),
        };
        files.row([f.path.clone(), bytes(f.size), f.digest_text(), place]);
    }
    files.print()
}

pub(crate) fn diff(diff: &DatasetDiff, format: Format) -> Result<()> {
    if format == Format::Json {
        return json(diff);
    }
    let mut table = Table::pairs();
    table.row(["from".to_owned(), diff.from.clone()]);
    table.row(["to".to_owned(), diff.to.clone()]);
    table.row(["same rows".to_owned(), diff.same_rows.to_string()]);
    table.row([
        "rows".to_owned(),
        format!("{} -> {}", diff.rows_from, diff.rows_to),
    ]);
    for c in &diff.schema {
        let (column, text) = match c {
            ColumnChange::Added { column, data_type } => (column, format!("added ({data_type})")),
            ColumnChange::Removed { column, data_type } => {
                (column, format!("removed ({data_type})"))
            }
            ColumnChange::Changed { column, from, to } => (column, format!("{from} -> {to}")),
        };
        table.row([format!("column {column}"), text]);
    }
    for (what, paths) in [
        ("added", &diff.files_added),
        ("removed", &diff.files_removed),
        ("changed", &diff.files_changed),
    ] {
        for p in paths {
            table.row([format!("file {what}"), p.clone()]);
        }
    }
    table.print()?;
    let Some(report) = &diff.drift else {
        return line("drift: no reference profile in the first version");
    };
    line("")?;
    let mut drift = Table::new(["column", "test", "score", "threshold", "drifted"]);
    for c in &report.columns {
        match (c.results.first(), &c.error) {
            (Some(r), _) => drift.row([
                c.column.clone(),
                r.test.to_string(),
                number(r.score),
                number(r.threshold),
                c.drifted.to_string(),
            ]),
            (None, error) => drift.row([
                c.column.clone(),
                "-".to_owned(),
                "-".to_owned(),
                "-".to_owned(),
                or_dash(error.as_deref()),
            ]),
        }
    }
    drift.print()?;
    let d = &report.dataset;
    line(&format!(
        "dataset drift: {} ({} of {} columns drifted)",
        d.dataset_drift, d.n_drifted, d.n_columns
    ))
}
