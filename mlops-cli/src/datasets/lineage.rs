//! `mlops lineage dataset NAME@V|DIGEST` and `mlops lineage model NAME@ALIAS`
//! (`mlops_data::lineage`): on the root's stores, or on MLflow with `--store http(s)://…`
//! (no datasets there: inputs are then named by their digests and sources only). Both report
//! to the orchestrator running them (`super::report`).

use clap::Subcommand;
use mlops::core::{AliasName, DatasetDigest, ModelName};
use mlops_data::lineage::{DatasetLineage, ModelLineage, dataset_lineage, model_lineage};
use mlops_data::{DatasetSpec, Datasets};

use crate::Result;
use crate::exit;
use crate::layout::RegistryArgs;
use crate::output::table::Table;
use crate::output::text::{or_dash, time};
use crate::output::{Format, json, line};
use crate::stores::{self, Open};

#[derive(Subcommand, Debug)]
pub(crate) enum LineageCommand {
    /// What used a dataset version: runs, model versions registered from them, aliases.
    Dataset {
        /// NAME@VERSION, NAME@ALIAS, NAME (latest), or a 32-hex-digit dataset digest.
        dataset: String,
        #[command(flatten)]
        stores: RegistryArgs,
        /// Output format.
        #[arg(long, value_enum, default_value_t)]
        format: Format,
    },
    /// Where a model alias's version came from: alias history, run, environment, datasets.
    Model {
        /// MODEL@ALIAS.
        model: String,
        #[command(flatten)]
        stores: RegistryArgs,
        /// Output format.
        #[arg(long, value_enum, default_value_t)]
        format: Format,
    },
}

/// The datasets of the root, unless the root is an MLflow server or holds none.
fn datasets(stores: &RegistryArgs) -> Result<Option<Datasets>> {
    let root = stores.tracking.root.root_uri();
    if mlops::track::is_mlflow_uri(&root) {
        return Ok(None);
    }
    match super::open(&stores.tracking.root, false) {
        Ok(d) => Ok(Some(d)),
        Err(e) => {
            tracing::debug!(error = %e, "no datasets at the root");
            Ok(None)
        }
    }
}

pub(crate) async fn run(command: LineageCommand) -> Result<u8> {
    match command {
        LineageCommand::Dataset {
            dataset,
            stores: args,
            format,
        } => {
            let data = datasets(&args)?;
            let digest = match dataset.parse::<DatasetDigest>() {
                Ok(digest) => digest,
                Err(_) => {
                    let spec: DatasetSpec = dataset.parse()?;
                    let data = data
                        .as_ref()
                        .ok_or("no datasets at the store root: give a digest")?;
                    data.resolve(&spec).await?.digest
                }
            };
            let tracking = stores::tracking(&args.tracking.tracking_uri(), Open::Existing).await?;
            let registry = stores::registry(&args.registry_uri(), None, Open::Existing)?;
            let found = dataset_lineage(
                data.as_ref(),
                tracking.as_ref(),
                registry.registry.as_ref(),
                digest,
            )
            .await?;
            crate::step::report(super::report::dataset_lineage(&dataset, &found));
            print_dataset(&found, format)?;
        }
        LineageCommand::Model {
            model,
            stores: args,
            format,
        } => {
            let (name, alias) = model
                .split_once('@')
                .ok_or_else(|| format!("{model:?} is not MODEL@ALIAS"))?;
            let (name, alias) = (ModelName::parse(name)?, AliasName::parse(alias)?);
            let data = datasets(&args)?;
            let tracking = stores::tracking(&args.tracking.tracking_uri(), Open::Existing).await?;
            let registry = stores::registry(&args.registry_uri(), None, Open::Existing)?;
            let found = model_lineage(
                data.as_ref(),
                tracking.as_ref(),
                registry.registry.as_ref(),
                &name,
                &alias,
            )
            .await?;
            crate::step::report(super::report::model_lineage(&found));
            print_model(&found, format)?;
        }
    }
    Ok(exit::OK)
}

fn print_dataset(found: &DatasetLineage, format: Format) -> Result<()> {
    if format == Format::Json {
        return json(found);
    }
    line(&format!("digest {}", found.digest))?;
    line(&format!(
        "dataset versions: {}",
        if found.versions.is_empty() {
            "-".to_owned()
        } else {
            found.versions.join(", ")
        }
    ))?;
    line("")?;
    let mut runs = Table::new(["run", "name", "experiment", "context", "started"]);
    for r in &found.runs {
        runs.row([
            r.run_id.to_string(),
            or_dash(r.run_name.as_deref()),
            r.experiment_id.clone(),
            or_dash(r.context.as_deref()),
            time(r.start_time),
        ]);
    }
    runs.print()?;
    line("")?;
    let mut models = Table::new(["model", "version", "run", "aliases (since)"]);
    for m in &found.models {
        let aliases: Vec<String> = m
            .aliases
            .iter()
            .map(|a| format!("{} ({})", a.alias, or_dash(a.since.map(time))))
            .collect();
        models.row([
            m.model.to_string(),
            m.version.to_string(),
            or_dash(m.run_id.as_ref()),
            if aliases.is_empty() {
                "-".to_owned()
            } else {
                aliases.join(", ")
            },
        ]);
    }
    models.print()
}

fn print_model(found: &ModelLineage, format: Format) -> Result<()> {
    if format == Format::Json {
        return json(found);
    }
    line(&format!(
        "{}@{} = version {}",
        found.model, found.alias, found.version
    ))?;
    line("")?;
    let mut history = Table::new(["time", "from", "to", "actor"]);
    for s in &found.history {
        history.row([
            time(s.time),
            or_dash(s.from),
            or_dash(s.to),
            s.actor.clone(),
        ]);
    }
    history.print()?;
    line("")?;
    let mut pairs = Table::pairs();
    match &found.run {
        Some(r) => pairs.row([
            "run".to_owned(),
            format!("{} (experiment {})", r.run_id, r.experiment_id),
        ]),
        None => pairs.row(["run", "-"]),
    }
    for (k, v) in &found.environment {
        pairs.row([k.clone(), v.clone()]);
    }
    pairs.print()?;
    line("")?;
    let mut inputs = Table::new(["dataset", "context", "digest", "version", "files"]);
    for i in &found.inputs {
        let (version, files) = match &i.version {
            Some(m) => (
                m.label(),
                m.files
                    .iter()
                    .map(|f| f.path.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
            ),
            None => ("-".to_owned(), "-".to_owned()),
        };
        inputs.row([
            i.name.clone(),
            or_dash(i.context.as_deref()),
            i.digest.clone(),
            version,
            files,
        ]);
    }
    inputs.print()
}
