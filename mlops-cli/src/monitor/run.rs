//! `mlops monitor run`: a file's rows in windows against a registered version's profile.

use std::sync::Arc;

use mlops::core::{AliasName, ModelName, ModelVersion, Timestamp};
use mlops::drift::DriftOptions;
use mlops_monitor::{
    ReferenceSource, RegistryReferences, VersionKey, VersionMonitor, WindowPolicy, WindowReport,
};
use serde::Serialize;

use super::args::RunArgs;
use super::triggers::history_root;
use crate::layout::RegistryArgs;
use crate::output::Format;
use crate::output::table::Table;
use crate::stores::{self, Open};
use crate::{Result, exit};

/// One window as the command prints it.
#[derive(Serialize)]
struct Printed {
    window: String,
    rows: u64,
    share_drifted: f64,
    dataset_drift: bool,
    drifted_features: Vec<String>,
    events: Vec<String>,
    report: Option<String>,
}

/// Resolves NAME@ALIAS or NAME@VERSION to the model name and version number.
pub(crate) async fn resolve(
    registry: &dyn mlops::registry::ModelRegistry,
    spec: &str,
) -> Result<(ModelName, ModelVersion)> {
    let Some((name, selector)) = spec.split_once('@') else {
        return Err(format!("--model {spec:?}: give NAME@ALIAS or NAME@VERSION").into());
    };
    let name = ModelName::parse(name)?;
    let version = match ModelVersion::parse(selector) {
        Ok(v) => v,
        Err(_) => {
            registry
                .resolve_alias(&name, &AliasName::parse(selector)?)
                .await?
                .version
        }
    };
    Ok((name, version))
}

pub(crate) async fn run(stores: &RegistryArgs, args: RunArgs) -> Result<u8> {
    let registry = stores::registry(&stores.registry_uri(), None, Open::Existing)?;
    let (name, version) = resolve(registry.registry.as_ref(), &args.model).await?;
    let references = RegistryReferences::new(Arc::clone(&registry.registry));
    let reference = references
        .reference(name.as_str(), &version.to_string())
        .await?
        .ok_or_else(|| {
            format!(
                "{name} v{version} has no reference drift profile; register one with `mlops \
                 models register --drift-profile FILE`"
            )
        })?;
    let history = history_root(args.history.history.as_deref(), &stores.tracking.root)?;
    let triggers = args
        .triggers
        .build(&history, Some(Arc::clone(&registry.registry)))
        .await?;
    let options = Arc::new(DriftOptions::default());
    let key = VersionKey {
        model: name.to_string(),
        version: version.to_string(),
    };
    let profile = Arc::clone(&reference.profile);
    let mut monitor = VersionMonitor::new(
        key,
        Arc::clone(&profile),
        options,
        WindowPolicy::rows(args.window_rows)?,
    );
    let names: Vec<String> = profile
        .columns()
        .iter()
        .map(|c| c.name().to_owned())
        .collect();
    let (reader, _, _) = crate::data::open_parquet(&args.current, Some(&names), false)?;
    let now = Timestamp::now();
    let mut printed = Vec::new();
    let mut fired = false;
    let mut handle = async |window: WindowReport| -> Result<()> {
        let handled = triggers.on_window(&window).await?;
        let events = handled.events;
        fired |= !events.is_empty();
        let report = handled.location.map(|l| l.json);
        printed.push(Printed {
            window: window.id.clone(),
            rows: window.rows,
            share_drifted: window.report.dataset.share_drifted,
            dataset_drift: window.report.dataset.dataset_drift,
            drifted_features: window.drifted_features(),
            events: events.into_iter().map(|e| e.id).collect(),
            report,
        });
        Ok(())
    };
    for batch in reader {
        let batch = batch.map_err(|e| format!("reading {}: {e}", args.current.display()))?;
        for window in monitor.push(&batch, now)? {
            handle(window).await?;
        }
    }
    if let Some(window) = monitor.close()? {
        handle(window).await?;
    }
    // The step's report for GitHub Actions and Dagster Pipes (docs/CLI.md, "Pipeline steps").
    let drifted = printed.iter().filter(|p| p.dataset_drift).count();
    let events = printed.iter().map(|p| p.events.len()).sum::<usize>();
    let outcome = if fired {
        "a trigger fired"
    } else {
        "no trigger fired"
    };
    crate::step::report(
        crate::step::StepReport::new(format!("monitor run {}", args.current.display()), outcome)
            .output("fired", fired)
            .output("windows", printed.len())
            .output("drifted_windows", drifted)
            .output("events", events),
    );
    match args.format {
        // One JSON object on the last line (the step contract), the windows inside it.
        Format::Json => crate::output::json(&serde_json::json!({
            "fired": fired,
            "windows": printed,
        }))?,
        Format::Table => {
            let mut table = Table::new([
                "window",
                "rows",
                "drift share",
                "drift",
                "drifted",
                "events",
            ]);
            for p in &printed {
                table.row([
                    p.window.clone(),
                    p.rows.to_string(),
                    format!("{:.3}", p.share_drifted),
                    if p.dataset_drift { "DRIFT" } else { "ok" }.to_owned(),
                    p.drifted_features.join(","),
                    p.events.len().to_string(),
                ]);
            }
            table.print()?;
        }
    }
    Ok(if fired { exit::NEGATIVE } else { exit::OK })
}
