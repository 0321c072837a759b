//! The command line: the top-level parser and the dispatch to each command group.

use clap::{ArgAction, Parser, Subcommand};

use crate::{drift, exit, experiments, models, runs, serve, store, ui};

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
        Command::Ui(args) => ui::run(args).await,
    }
}
