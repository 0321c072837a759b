//! The `mlops` command-line tool. It parses arguments, calls the libraries and prints: one
//! module per command group, `output/` for everything printed, `layout.rs` and `stores.rs`
//! for where the stores are and how they open.

mod cli;
mod data;
mod datasets;
mod drift;
mod exit;
mod experiments;
mod layout;
mod logging;
mod models;
mod monitor;
mod output;
mod runs;
mod serve;
mod step;
mod store;
mod stores;
mod ui;

use std::process::ExitCode;

use clap::Parser;

/// mimalloc rather than glibc's malloc: `mlops serve` allocates a few dozen small blocks per
/// request on every worker thread (measured in issue 12's notes with callgrind and wrk).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Boxed errors: `main` prints the chain and exits with [`exit::ERROR`].
pub(crate) type Result<T> = std::result::Result<T, Box<dyn std::error::Error + Send + Sync>>;

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    // Pipes first: the log layer forwards to the session it opens.
    let pipes = step::pipes::open_from_env();
    logging::init(cli.verbose);
    let result = match pipes {
        Ok(()) => run(cli.command),
        Err(e) => Err(e),
    };
    let rejected = matches!(result, Ok(exit::NEGATIVE));
    let code = match &result {
        Ok(code) => cli.on_reject.map(*code),
        Err(_) => exit::ERROR,
    };
    step::finish(&step::Ending {
        code,
        rejected,
        error: result.as_ref().err().map(|e| e.as_ref() as _),
    });
    exit::finish(result, cli.on_reject)
}

fn run(command: cli::Command) -> Result<u8> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the async runtime: {e}"))?;
    runtime.block_on(cli::run(command))
}
