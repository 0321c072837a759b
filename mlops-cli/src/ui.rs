//! `mlops ui`: the web UI (mlops-ui) over the tracking store and the registry, on
//! 127.0.0.1:5050 by default.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::Args;
use mlops::core::StoreUri;
use mlops_ui::{Reviewers, Ui, UiOptions};

use crate::exit;
use crate::layout::RegistryArgs;
use crate::output::line;
use crate::stores::{self, Open};

/// Serve the web UI: experiments, runs and charts, compare, models, approvals, lineage,
/// drift over time.
///
/// Read-only pages are open to anyone who can reach the address (loopback by default);
/// approving or rejecting needs a reviewer token from --reviewers FILE or
/// MLOPS_UI_REVIEWERS (`name:token` entries, tokens of 16 characters or more).
#[derive(Args, Debug)]
pub(crate) struct UiArgs {
    #[command(flatten)]
    stores: RegistryArgs,
    /// The address to listen on. Port 0 picks a free port (printed on stdout). Listening
    /// beyond loopback also needs --allow-host for the name clients use.
    #[arg(long, default_value = "127.0.0.1:5050", value_name = "IP:PORT")]
    addr: SocketAddr,
    /// A file of reviewers, one `name:token` per line.
    #[arg(long, value_name = "FILE", conflicts_with = "reviewers_env")]
    reviewers: Option<PathBuf>,
    /// Reviewers as `name:token` entries separated by commas (instead of a file).
    #[arg(
        long = "reviewers-env",
        env = "MLOPS_UI_REVIEWERS",
        hide_env_values = true,
        hide = true
    )]
    reviewers_env: Option<String>,
    /// Another Host name requests may carry (besides 127.0.0.1, localhost and ::1), e.g. the
    /// name of a reverse proxy in front. Repeatable.
    #[arg(long = "allow-host", value_name = "NAME")]
    allow_hosts: Vec<String>,
    /// The drift history to show on the drift pages: the store `mlops monitor run
    /// --history` or `mlops serve --monitor-history` writes windows to (by default they
    /// write to the `monitor/` folder of the store root). Without it the drift pages say
    /// how to enable them.
    #[arg(long = "monitor-history", value_name = "URI")]
    monitor_history: Option<String>,
}

/// Runs `mlops ui` until Ctrl-C or SIGTERM.
pub(crate) async fn run(args: UiArgs) -> crate::Result<u8> {
    let tracking = stores::tracking(&args.stores.tracking.tracking_uri(), Open::Existing).await?;
    // The registry is optional: without one the model pages say so.
    let registry = match stores::registry(&args.stores.registry_uri(), None, Open::Existing) {
        Ok(registry) => Some(registry.registry),
        Err(e) if args.stores.registry.is_none() => {
            tracing::warn!("no registry: model and approval pages are off ({e})");
            None
        }
        Err(e) => return Err(e),
    };
    let reviewers = match (&args.reviewers, &args.reviewers_env) {
        (Some(file), _) => Reviewers::from_file(file)?,
        (None, Some(list)) => Reviewers::parse(list)?,
        (None, None) => Reviewers::none(),
    };
    if reviewers.is_empty() {
        tracing::warn!("no reviewers configured: approvals are read-only");
    }
    let monitor_history = match &args.monitor_history {
        Some(uri) => Some(StoreUri::parse(uri)?.open()?),
        None => None,
    };
    let mut options = UiOptions {
        reviewers,
        monitor_history,
        ..UiOptions::default()
    };
    options
        .allowed_hosts
        .extend(args.allow_hosts.iter().cloned());
    if !args.addr.ip().is_loopback() && args.allow_hosts.is_empty() {
        tracing::warn!(
            "listening on {} but only loopback Host names are allowed: add --allow-host NAME",
            args.addr
        );
    }
    let ui = Ui::new(tracking, registry, options);
    let app = ui.router();
    let listener = tokio::net::TcpListener::bind(args.addr)
        .await
        .map_err(|e| format!("cannot listen on {}: {e}", args.addr))?;
    let local = listener.local_addr()?;
    line(&format!("mlops ui: listening on http://{local}"))?;
    // The store's first read, while nobody waits for it.
    tokio::spawn(async move { ui.warm().await });
    mlops_ui::serve(listener, app, mlops::serve::shutdown_signal()).await?;
    line("mlops ui: stopped")?;
    Ok(exit::OK)
}
