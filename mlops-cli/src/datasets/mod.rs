//! `mlops data …`: versioned datasets under the store root's `datasets/` folder
//! (`mlops_data`): add, list, versions, show, get, diff, alias, import-dvc. Each reports
//! its outcome to the orchestrator running it (`report`, the step contract).

pub(crate) mod lineage;
mod print;
mod report;

use std::collections::BTreeMap;
use std::path::PathBuf;

use clap::Subcommand;
use mlops::core::{Backend, StoreUri};
use mlops::drift::DriftOptions;
use mlops_data::{AddOptions, DatasetAlias, DatasetName, DatasetSpec, Datasets};

use crate::Result;
use crate::exit;
use crate::layout::RootArgs;
use crate::output::{Format, json};

#[derive(Subcommand, Debug)]
pub(crate) enum DataCommand {
    /// Snapshot Parquet files (or folders of them) as a new version; identical content is
    /// the existing version, and no byte is stored twice.
    Add {
        /// The dataset's name (letters, digits, '.', '_', '-').
        name: String,
        /// Parquet files, or folders whose *.parquet files are taken.
        #[arg(required = true)]
        inputs: Vec<PathBuf>,
        /// A description of this version.
        #[arg(long)]
        description: Option<String>,
        /// A tag, KEY=VALUE (repeatable).
        #[arg(long = "tag", value_name = "KEY=VALUE")]
        tags: Vec<String>,
        /// Also point this alias at the version.
        #[arg(long)]
        alias: Option<String>,
        #[command(flatten)]
        root: RootArgs,
        /// Output format.
        #[arg(long, value_enum, default_value_t)]
        format: Format,
    },
    /// Register a version whose files stay in a DVC remote (read and MD5-checked, never
    /// copied).
    ImportDvc {
        /// The .dvc file.
        file: PathBuf,
        /// The DVC remote holding the objects: a folder, s3://, az://, gs://.
        #[arg(long)]
        remote: String,
        /// The dataset's name [default: the .dvc file's name without extension].
        #[arg(long)]
        name: Option<String>,
        /// A description of this version.
        #[arg(long)]
        description: Option<String>,
        #[command(flatten)]
        root: RootArgs,
        /// Output format.
        #[arg(long, value_enum, default_value_t)]
        format: Format,
    },
    /// List datasets: name, versions, latest version's rows, size and time.
    List {
        #[command(flatten)]
        root: RootArgs,
        /// Output format.
        #[arg(long, value_enum, default_value_t)]
        format: Format,
    },
    /// List the versions of a dataset, with the aliases on each.
    Versions {
        /// The dataset.
        name: String,
        #[command(flatten)]
        root: RootArgs,
        /// Output format.
        #[arg(long, value_enum, default_value_t)]
        format: Format,
    },
    /// Show a version: digest, schema, rows, files, aliases.
    Show {
        /// NAME, NAME@VERSION, NAME@ALIAS or NAME@latest.
        dataset: String,
        #[command(flatten)]
        root: RootArgs,
        /// Output format.
        #[arg(long, value_enum, default_value_t)]
        format: Format,
    },
    /// Write a version's files into a folder, each checked against its recorded digest.
    Get {
        /// NAME, NAME@VERSION, NAME@ALIAS or NAME@latest.
        dataset: String,
        /// The folder to write into (created if missing).
        #[arg(long)]
        out: PathBuf,
        #[command(flatten)]
        root: RootArgs,
    },
    /// Compare two versions: schema changes, rows, files, and drift of the second against
    /// the first one's reference profile.
    Diff {
        /// The first version (NAME@V).
        from: String,
        /// The second version (NAME@V).
        to: String,
        /// Exit 3 when the drift report finds dataset drift (`--on-reject` maps the 3).
        #[arg(long)]
        fail_on_drift: bool,
        /// The share of drifted columns at which the dataset drifts (Evidently's 0.5).
        #[arg(long, default_value_t = 0.5)]
        drift_share: f64,
        #[command(flatten)]
        root: RootArgs,
        /// Output format.
        #[arg(long, value_enum, default_value_t)]
        format: Format,
    },
    /// Point an alias (train, eval, …) at a version; every move is kept in its history.
    Alias {
        /// The dataset.
        name: String,
        /// The alias.
        alias: String,
        /// The version number.
        version: u64,
        #[command(flatten)]
        root: RootArgs,
        /// Output format.
        #[arg(long, value_enum, default_value_t)]
        format: Format,
    },
}

/// The datasets of the root. A read command on a local root without a `datasets/` folder is
/// an error (it never creates a store).
pub(crate) fn open(root: &RootArgs, create: bool) -> Result<Datasets> {
    let uri = StoreUri::parse(&root.root_uri())?;
    if let Backend::Local(folder) = uri.backend()
        && !create
        && !folder.join(mlops_data::DATASETS_DIR).is_dir()
    {
        return Err(format!(
            "no datasets at {} (give the store root with --store or MLOPS_STORE)",
            folder.display()
        )
        .into());
    }
    Ok(Datasets::new(&uri.open()?))
}

fn tags(pairs: &[String]) -> Result<BTreeMap<String, String>> {
    pairs
        .iter()
        .map(|p| match p.split_once('=') {
            Some((k, v)) if !k.is_empty() => Ok((k.to_owned(), v.to_owned())),
            _ => Err(format!("tag {p:?} is not KEY=VALUE").into()),
        })
        .collect()
}

pub(crate) async fn run(command: DataCommand) -> Result<u8> {
    match command {
        DataCommand::Add {
            name,
            inputs,
            description,
            tags: pairs,
            alias,
            root,
            format,
        } => {
            let name = DatasetName::parse(name)?;
            let alias = alias.map(DatasetAlias::parse).transpose()?;
            let options = AddOptions {
                description,
                tags: tags(&pairs)?,
            };
            let datasets = open(&root, true)?;
            let added = datasets.add(&name, &inputs, options).await?;
            if let Some(alias) = &alias {
                datasets
                    .set_alias(&name, alias, added.manifest.version, None)
                    .await?;
            }
            crate::step::report(report::added("add", &added, alias.as_ref()));
            print::added(&added, format)?;
        }
        DataCommand::ImportDvc {
            file,
            remote,
            name,
            description,
            root,
            format,
        } => {
            let name = match name {
                Some(n) => n,
                None => file
                    .file_stem()
                    .and_then(|s| s.to_str())
                    .ok_or("give the dataset's name with --name")?
                    .to_owned(),
            };
            let name = DatasetName::parse(name)?;
            let options = AddOptions {
                description,
                ..AddOptions::default()
            };
            let datasets = open(&root, true)?;
            let added = datasets.import_dvc(&name, &file, &remote, options).await?;
            crate::step::report(report::added("import-dvc", &added, None));
            print::added(&added, format)?;
        }
        DataCommand::List { root, format } => {
            let list = open(&root, false)?.list().await?;
            crate::step::report(report::listed(&list));
            print::list(&list, format)?;
        }
        DataCommand::Versions { name, root, format } => {
            let name = DatasetName::parse(name)?;
            let datasets = open(&root, false)?;
            let versions = datasets.versions(&name).await?;
            let aliases = datasets.aliases(&name).await?;
            crate::step::report(report::versions(&name, &versions, &aliases));
            print::versions(&versions, &aliases, format)?;
        }
        DataCommand::Show {
            dataset,
            root,
            format,
        } => {
            let spec: DatasetSpec = dataset.parse()?;
            let datasets = open(&root, false)?;
            let manifest = datasets.resolve(&spec).await?;
            let aliases: Vec<_> = datasets
                .aliases(&spec.name)
                .await?
                .into_iter()
                .filter(|a| a.version == manifest.version)
                .collect();
            crate::step::report(report::shown(&manifest, &aliases));
            print::show(&manifest, &aliases, format)?;
        }
        DataCommand::Get { dataset, out, root } => {
            let spec: DatasetSpec = dataset.parse()?;
            let datasets = open(&root, false)?;
            let manifest = datasets.resolve(&spec).await?;
            let bytes = datasets.get(&manifest, &out).await?;
            crate::step::report(report::got(&manifest, &out, bytes));
            tracing::info!(
                "{} files, {bytes} bytes of {} written to {}",
                manifest.files.len(),
                manifest.label(),
                out.display()
            );
        }
        DataCommand::Diff {
            from,
            to,
            fail_on_drift,
            drift_share,
            root,
            format,
        } => {
            let options = DriftOptions::default().with_drift_share(drift_share);
            options.validate()?;
            let (from, to): (DatasetSpec, DatasetSpec) = (from.parse()?, to.parse()?);
            let datasets = open(&root, false)?;
            let a = datasets.resolve(&from).await?;
            let b = datasets.resolve(&to).await?;
            let diff = datasets.diff(&a, &b, &options).await?;
            crate::step::report(report::diffed(&diff, fail_on_drift));
            print::diff(&diff, format)?;
            let drifted = diff.drift.as_ref().is_some_and(|d| d.dataset.dataset_drift);
            if fail_on_drift && drifted {
                return Ok(exit::NEGATIVE);
            }
        }
        DataCommand::Alias {
            name,
            alias,
            version,
            root,
            format,
        } => {
            let name = DatasetName::parse(name)?;
            let alias = DatasetAlias::parse(alias)?;
            let datasets = open(&root, false)?;
            let moved = datasets.set_alias(&name, &alias, version, None).await?;
            crate::step::report(report::alias_moved(&name, &moved));
            if format == Format::Json {
                json(&moved)?;
            } else {
                crate::output::line(&format!("{name}@{alias} -> {}", moved.version))?;
            }
        }
    }
    Ok(exit::OK)
}
