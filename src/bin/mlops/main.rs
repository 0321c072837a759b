//! The `mlops` command-line tool. One module per command group.

// A command-line tool talks to people through stdout and stderr.
#![allow(clippy::print_stdout, clippy::print_stderr)]

mod data;
mod drift;
mod store;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Boxed errors: `main` prints the chain and exits non-zero.
pub(crate) type Result<T> = std::result::Result<T, Box<dyn std::error::Error + Send + Sync>>;

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
            Command::Store(command) => store::run(command).await.map(|()| false),
            Command::Drift(args) => drift::run(args),
            Command::Profile(command) => drift::run_profile(command).map(|()| false),
        }
    });
    match result {
        Ok(false) => ExitCode::SUCCESS,
        Ok(true) => ExitCode::from(drift::EXIT_DRIFT),
        Err(e) => {
            eprintln!("error: {e}");
            let mut source = std::error::Error::source(e.as_ref());
            while let Some(cause) = source {
                eprintln!("  caused by: {cause}");
                source = cause.source();
            }
            ExitCode::FAILURE
        }
    }
}
