//! The `mlops` command-line tool. It parses arguments, calls the libraries and prints: one
//! module per command group, `output/` for everything printed, `layout.rs` and `stores.rs`
//! for where the stores are and how they open.

mod cli;
mod data;
mod drift;
mod exit;
mod experiments;
mod layout;
mod logging;
mod models;
mod output;
mod runs;
mod serve;
mod store;
mod stores;
mod ui;

use std::process::ExitCode;

use clap::Parser;

/// Boxed errors: `main` prints the chain and exits with [`exit::ERROR`].
pub(crate) type Result<T> = std::result::Result<T, Box<dyn std::error::Error + Send + Sync>>;

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    logging::init(cli.verbose);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build();
    let result = match runtime {
        Ok(runtime) => runtime.block_on(cli::run(cli.command)),
        Err(e) => Err(format!("cannot start the async runtime: {e}").into()),
    };
    exit::finish(result)
}
