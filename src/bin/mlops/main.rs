//! The `mlops` command-line tool. One module per command group.

// A command-line tool talks to people through stdout and stderr.
#![allow(clippy::print_stdout, clippy::print_stderr)]

mod data;
mod drift;
mod experiments;
mod models;
mod runs;
mod serve;
mod store;
mod tracking;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Boxed errors: `main` prints the chain and exits with [`EXIT_ERROR`].
pub(crate) type Result<T> = std::result::Result<T, Box<dyn std::error::Error + Send + Sync>>;

/// Exit code for success.
pub(crate) const EXIT_OK: u8 = 0;
/// Exit code for an error (bad input, I/O, a service that failed).
pub(crate) const EXIT_ERROR: u8 = 1;
/// Exit code for "the command worked and the answer is no": drift was detected, a promotion's
/// precondition or gate failed. Scripts branch on it without parsing output.
pub(crate) const EXIT_NEGATIVE: u8 = 3;

/// The machine-learning lifecycle from the command line: stores, runs, models, drift, serving.
#[derive(Parser, Debug)]
#[command(name = "mlops", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Work with storage roots (local folders, memory, S3, Azure Blob, GCS).
    #[command(subcommand)]
    Store(store::StoreCommand),
    /// Compare current data with reference data (or a profile) for drift, column by column.
    Drift(drift::DriftArgs),
    /// Build reference profiles for drift detection.
    #[command(subcommand)]
    Profile(drift::ProfileCommand),
    /// List the experiments of a tracking store (--store or MLOPS_TRACKING_URI).
    #[command(subcommand)]
    Experiments(experiments::ExperimentsCommand),
    /// List, show, compare runs, and sync them from a local store to an MLflow server.
    #[command(subcommand)]
    Runs(runs::RunsCommand),
    /// Register, promote, roll back, approve and inspect models (--registry or MLOPS_REGISTRY).
    Models(models::ModelsArgs),
    /// Serve model files over the Open Inference Protocol (KServe V2 / Triton REST).
    Serve(serve::ServeArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        match cli.command {
            Command::Store(command) => store::run(command).await.map(|()| EXIT_OK),
            Command::Drift(args) => {
                drift::run(args).map(|drifted| if drifted { EXIT_NEGATIVE } else { EXIT_OK })
            }
            Command::Profile(command) => drift::run_profile(command).map(|()| EXIT_OK),
            Command::Experiments(command) => experiments::run(command).await,
            Command::Runs(command) => runs::run(command).await,
            Command::Serve(args) => serve::run(args).await,
            Command::Models(args) => models::run(args).await,
        }
    });
    match result {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("error: {e}");
            let mut source = std::error::Error::source(e.as_ref());
            while let Some(cause) = source {
                eprintln!("  caused by: {cause}");
                source = cause.source();
            }
            ExitCode::from(EXIT_ERROR)
        }
    }
}
