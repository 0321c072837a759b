//! What `mlops data` and `mlops lineage` tell an orchestrator (the step contract,
//! `crate::step`): GitHub Actions outputs and summary, Dagster Pipes metadata, and for
//! `data diff` the drift check (blocking with `--fail-on-drift`).

use mlops_data::lineage::{DatasetLineage, ModelLineage};
use mlops_data::{Added, AliasMove, ColumnChange, DatasetAlias, DatasetDiff, DatasetSummary};
use mlops_data::{DatasetName, Manifest};

use crate::step::{Check, Level, StepReport};

/// Items joined for a one-line output (`a,b,c`).
fn joined<T: ToString>(items: impl IntoIterator<Item = T>) -> String {
    items
        .into_iter()
        .map(|i| i.to_string())
        .collect::<Vec<_>>()
        .join(",")
}

/// The outputs every report about one version has.
fn version_outputs(report: StepReport, m: &Manifest) -> StepReport {
    report
        .output("dataset", m.name.to_string())
        .output("version", m.version)
        .output("label", m.label())
        .output("digest", m.digest.to_string())
        .output("rows", m.rows)
        .output("files", m.files.len())
        .output("bytes", m.bytes())
}

/// `data add` / `data import-dvc` (`command`): the version, whether it is new, what was
/// written, and the alias set on it.
pub(crate) fn added(command: &str, added: &Added, alias: Option<&DatasetAlias>) -> StepReport {
    let m = &added.manifest;
    let outcome = match added.created {
        true => format!(
            "{} created: {} rows, {} bytes written",
            m.label(),
            m.rows,
            added.bytes_written
        ),
        false => format!("{} exists (same content): nothing written", m.label()),
    };
    let mut report = StepReport::new(format!("data {command} {}", m.name), outcome);
    report = version_outputs(report, m)
        .output("created", added.created)
        .output("bytes_written", added.bytes_written)
        .output("alias", alias.map(ToString::to_string).unwrap_or_default());
    report.metrics = vec![
        ("rows".into(), m.rows as f64),
        ("files".into(), m.files.len() as f64),
        ("bytes".into(), m.bytes() as f64),
        ("bytes_written".into(), added.bytes_written as f64),
    ];
    report
}

/// `data list`.
pub(crate) fn listed(list: &[DatasetSummary]) -> StepReport {
    StepReport::new("data list", format!("{} dataset(s)", list.len()))
        .output("count", list.len())
        .output("datasets", joined(list.iter().map(|d| &d.name)))
}

/// `data versions NAME`.
pub(crate) fn versions(
    name: &DatasetName,
    versions: &[Manifest],
    aliases: &[AliasMove],
) -> StepReport {
    let latest = versions.iter().max_by_key(|m| m.version);
    let outcome = match latest {
        Some(m) => format!("{} version(s), latest {}", versions.len(), m.label()),
        None => "no versions".to_owned(),
    };
    StepReport::new(format!("data versions {name}"), outcome)
        .output("dataset", name.to_string())
        .output("count", versions.len())
        .output("latest", latest.map_or(0, |m| m.version))
        .output(
            "aliases",
            joined(aliases.iter().map(|a| format!("{}={}", a.alias, a.version))),
        )
}

/// `data show NAME@V`.
pub(crate) fn shown(m: &Manifest, aliases: &[AliasMove]) -> StepReport {
    let report = StepReport::new(
        format!("data show {}", m.label()),
        format!(
            "{}: {} rows in {} file(s)",
            m.label(),
            m.rows,
            m.files.len()
        ),
    );
    version_outputs(report, m).output("aliases", joined(aliases.iter().map(|a| &a.alias)))
}

/// `data get NAME@V --out DIR`: every file written and checked.
pub(crate) fn got(m: &Manifest, out: &std::path::Path, bytes: u64) -> StepReport {
    let report = StepReport::new(
        format!("data get {}", m.label()),
        format!(
            "{} file(s), {bytes} bytes written to {} (digests checked)",
            m.files.len(),
            out.display()
        ),
    );
    version_outputs(report, m)
        .output("out", out.display().to_string())
        .output("bytes_written", bytes)
}

/// `data alias NAME ALIAS V`.
pub(crate) fn alias_moved(name: &DatasetName, moved: &AliasMove) -> StepReport {
    StepReport::new(
        format!("data alias {name} {}", moved.alias),
        format!("{name}@{} -> {}", moved.alias, moved.version),
    )
    .output("dataset", name.to_string())
    .output("alias", moved.alias.to_string())
    .output("version", moved.version)
}

/// `data diff A B`: schema, rows and files changed, and the drift report's verdict as the
/// `drift` check (blocking with `--fail-on-drift`; a first version without a reference
/// profile has no drift report, and the check then passes with a warning).
pub(crate) fn diffed(diff: &DatasetDiff, fail_on_drift: bool) -> StepReport {
    let title = format!("data diff {} {}", diff.from, diff.to);
    let changes =
        |pick: fn(&ColumnChange) -> Option<&String>| joined(diff.schema.iter().filter_map(pick));
    let head = format!(
        "rows {} -> {}, {} schema change(s), {} file(s) added, {} removed, {} changed",
        diff.rows_from,
        diff.rows_to,
        diff.schema.len(),
        diff.files_added.len(),
        diff.files_removed.len(),
        diff.files_changed.len()
    );
    let mut report = match &diff.drift {
        Some(drift) => {
            let mut step =
                crate::drift::step_report(drift, std::path::Path::new(&diff.to), fail_on_drift);
            step.title = title;
            step.outcome = format!("{head}; {}", step.outcome);
            step
        }
        None => StepReport::new(title, format!("{head}; no drift report"))
            .annotate(
                Level::Warning,
                format!("{} has no reference profile: no drift report", diff.from),
            )
            .output("dataset_drift", false),
    };
    if report.check.is_none() {
        report.check = Some(Check {
            name: "drift".into(),
            passed: true,
            blocking: fail_on_drift,
        });
    }
    report = report
        .output("from", diff.from.clone())
        .output("to", diff.to.clone())
        .output("same_rows", diff.same_rows)
        .output("rows_from", diff.rows_from)
        .output("rows_to", diff.rows_to)
        .output(
            "columns_added",
            changes(|c| match c {
                ColumnChange::Added { column, .. } => Some(column),
                _ => None,
            }),
        )
        .output(
            "columns_removed",
            changes(|c| match c {
                ColumnChange::Removed { column, .. } => Some(column),
                _ => None,
            }),
        )
        .output(
            "columns_changed",
            changes(|c| match c {
                ColumnChange::Changed { column, .. } => Some(column),
                _ => None,
            }),
        )
        .output("files_added", joined(&diff.files_added))
        .output("files_removed", joined(&diff.files_removed))
        .output("files_changed", joined(&diff.files_changed));
    report
        .metrics
        .push(("rows_from".into(), diff.rows_from as f64));
    report.metrics.push(("rows_to".into(), diff.rows_to as f64));
    report
}

/// `lineage dataset …`: the runs that used it, the model versions registered from them and
/// the aliases holding those now.
pub(crate) fn dataset_lineage(query: &str, found: &DatasetLineage) -> StepReport {
    let serving: Vec<String> = (found.models.iter())
        .flat_map(|m| {
            (m.aliases.iter()).map(move |a| format!("{}@{}={}", m.model, a.alias, m.version))
        })
        .collect();
    let outcome = format!(
        "{} run(s), {} model version(s), {} alias(es) holding them",
        found.runs.len(),
        found.models.len(),
        serving.len()
    );
    StepReport::new(format!("lineage dataset {query}"), outcome)
        .output("digest", found.digest.to_string())
        .output("versions", joined(&found.versions))
        .output("runs", joined(found.runs.iter().map(|r| &r.run_id)))
        .output(
            "models",
            joined(
                found
                    .models
                    .iter()
                    .map(|m| format!("{}@{}", m.model, m.version)),
            ),
        )
        .output("aliases", joined(serving))
}

/// `lineage model NAME@ALIAS`: the version, its run and the datasets it was trained on.
pub(crate) fn model_lineage(found: &ModelLineage) -> StepReport {
    let datasets: Vec<String> = (found.inputs.iter())
        .map(|i| match &i.version {
            Some(m) => m.label(),
            None => format!("{}#{}", i.name, i.digest),
        })
        .collect();
    let run = found.run.as_ref().map(|r| r.run_id.to_string());
    let outcome = format!(
        "{}@{} = version {}, run {}, {} dataset input(s)",
        found.model,
        found.alias,
        found.version,
        run.as_deref().unwrap_or("-"),
        datasets.len()
    );
    StepReport::new(
        format!("lineage model {}@{}", found.model, found.alias),
        outcome,
    )
    .output("model", found.model.to_string())
    .output("alias", found.alias.to_string())
    .output("version", found.version.to_string())
    .output("run_id", run.unwrap_or_default())
    .output("datasets", joined(datasets))
    .output("alias_moves", found.history.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn diff() -> DatasetDiff {
        DatasetDiff {
            from: "sales@1".into(),
            to: "sales@2".into(),
            same_rows: false,
            rows_from: 10,
            rows_to: 12,
            schema: vec![
                ColumnChange::Added {
                    column: "b".into(),
                    data_type: "Int64".into(),
                },
                ColumnChange::Changed {
                    column: "a".into(),
                    from: "Int32".into(),
                    to: "Int64".into(),
                },
            ],
            files_added: vec!["x.parquet".into(), "y.parquet".into()],
            files_removed: Vec::new(),
            files_changed: Vec::new(),
            drift: None,
        }
    }

    fn get<'a>(report: &'a StepReport, name: &str) -> &'a serde_json::Value {
        (report.outputs.iter().find(|(n, _)| n == name))
            .map(|(_, v)| v)
            .unwrap_or_else(|| panic!("no output {name}"))
    }

    #[test]
    fn a_diff_without_a_profile_passes_its_check_with_a_warning() {
        for blocking in [false, true] {
            let report = diffed(&diff(), blocking);
            assert_eq!(report.title, "data diff sales@1 sales@2");
            let check = report.check.clone().unwrap();
            assert!(check.passed);
            assert_eq!(check.blocking, blocking);
            assert_eq!(report.annotations.len(), 1);
            assert_eq!(report.annotations[0].0, Level::Warning);
            assert_eq!(get(&report, "dataset_drift"), false);
            assert_eq!(get(&report, "columns_added"), "b");
            assert_eq!(get(&report, "columns_changed"), "a");
            assert_eq!(get(&report, "columns_removed"), "");
            assert_eq!(get(&report, "files_added"), "x.parquet,y.parquet");
            assert!(
                report
                    .outcome
                    .starts_with("rows 10 -> 12, 2 schema change(s)")
            );
        }
    }
}
