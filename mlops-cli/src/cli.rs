//! The command line: the top-level parser and the dispatch to each command group.

use clap::{ArgAction, Parser, Subcommand};

use crate::{datasets, drift, exit, experiments, models, monitor, runs, serve, store, ui};

/// The machine-learning lifecycle from the command line: stores, runs, models, drift, serving.
///
/// Every command that reads or writes stores works under one root: `--store URI` (or
/// MLOPS_STORE), default ./mlops-data, with the runs at the root and the registry in
/// `registry/`. `--tracking` and `--registry` point one part elsewhere, e.g. an MLflow server.
#[derive(Parser, Debug)]
#[command(name = "mlops", version)]
pub(crate) struct Cli {
    /// More log output on stderr: -v info, -vv debug, -vvv trace (RUST_LOG overrides it).
    #[arg(short, long, action = ArgAction::Count, global = true)]
    pub(crate) verbose: u8,
    /// What a "no" answer (a gate failed, drift with --fail-on-drift, an approval rejected)
    /// exits with: fail = 3, skip = 99 (Airflow skips the task), ok = 0.
    #[arg(
        long,
        value_enum,
        env = "MLOPS_ON_REJECT",
        default_value_t,
        global = true
    )]
    pub(crate) on_reject: exit::OnReject,
    #[command(subcommand)]
    pub(crate) command: Command,
}

#[derive(Subcommand, Debug)]
pub(crate) enum Command {
    /// Work with storage roots (local folders, memory, S3, Azure Blob, GCS).
    #[command(subcommand)]
    Store(store::StoreCommand),
    /// Compare current data with reference data (or a profile) for drift, column by column.
    Drift(drift::DriftArgs),
    /// Build reference profiles for drift detection.
    #[command(subcommand)]
    Profile(drift::ProfileCommand),
    /// List the experiments of a tracking store.
    #[command(subcommand)]
    Experiments(experiments::ExperimentsCommand),
    /// List, show, compare runs, and sync them from a local store to an MLflow server.
    #[command(subcommand)]
    Runs(runs::RunsCommand),
    /// Register, promote, roll back, approve and inspect models (object store or MLflow).
    Models(models::ModelsArgs),
    /// Serve model files over the Open Inference Protocol (KServe V2 / Triton REST).
    Serve(serve::ServeArgs),
    /// Drift windows against a registered version's profile, their history, and triggers.
    Monitor(monitor::MonitorArgs),
    /// Versioned datasets: add, list, show, get, diff, alias, import from DVC.
    #[command(subcommand)]
    Data(datasets::DataCommand),
    /// Lineage: what used a dataset version, or where a model alias's version came from.
    #[command(subcommand)]
    Lineage(datasets::lineage::LineageCommand),
    /// Serve the web UI: runs, charts, models, approvals (127.0.0.1:5050).
    Ui(ui::UiArgs),
}

/// Runs one command; its exit code.
pub(crate) async fn run(command: Command) -> crate::Result<u8> {
    match command {
        Command::Store(command) => store::run(command).await.map(|()| exit::OK),
        Command::Drift(args) => {
            drift::run(args).map(|drifted| if drifted { exit::NEGATIVE } else { exit::OK })
        }
        Command::Profile(command) => drift::run_profile(command).map(|()| exit::OK),
        Command::Experiments(command) => experiments::run(command).await,
        Command::Runs(command) => runs::run(command).await,
        Command::Models(args) => models::run(args).await,
        Command::Serve(args) => serve::run(args).await,
        Command::Monitor(args) => monitor::run(args).await,
        Command::Data(command) => datasets::run(command).await,
        Command::Lineage(command) => datasets::lineage::run(command).await,
        Command::Ui(args) => ui::run(args).await,
    }
}
