//! `mlops serve`: serve model files, or registry versions by alias (following the alias as
//! it moves), over the Open Inference Protocol until SIGTERM/Ctrl-C.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use clap::Args;
use mlops::serve::follow::{FollowOptions, RollbackPolicy, Rollout};
use mlops::serve::source::RegistrySource;
use mlops::serve::{ModelOptions, ModelSource, Selector, Server};

use crate::layout::RegistryArgs;
use crate::output::line;
use crate::stores::{self, Open};
use crate::{Result, exit};

/// One `--model`: a file, or a registry version by alias or number.
#[derive(Clone, Debug)]
enum ModelArg {
    /// `NAME=PATH`.
    File(String, PathBuf),
    /// `NAME@ALIAS` or `NAME@VERSION`.
    Registry(String, Selector),
}

#[derive(Args, Debug)]
pub(crate) struct ServeArgs {
    /// A model to serve (repeatable): NAME=PATH serves a file (an `.onnx` file, with the
    /// `onnx` feature, or a built-in linear/logistic `.json` file); NAME@ALIAS serves the
    /// version an alias of the registry names and follows it when it moves; NAME@VERSION
    /// serves one registry version.
    #[arg(long = "model", required = true, value_name = "NAME=PATH|NAME@ALIAS|NAME@VERSION", value_parser = parse_model)]
    models: Vec<ModelArg>,
    /// The registry NAME@ALIAS models come from (`--registry`, else the root's).
    #[command(flatten)]
    stores: RegistryArgs,
    /// How often each followed alias is read, in milliseconds.
    #[arg(long, default_value_t = 1000)]
    poll_interval_ms: u64,
    /// A canary (repeatable): PERCENT of NAME's unversioned requests go to the version ALIAS
    /// names, sticky by the `Mlops-Route-Key` header (random without it). NAME must be served
    /// with --model NAME@....
    #[arg(long = "canary", value_name = "NAME@ALIAS:PERCENT", value_parser = parse_canary)]
    canaries: Vec<Rolled>,
    /// A shadow (repeatable): a copy of PERCENT (default 100) of NAME's unversioned requests
    /// goes to the version ALIAS names; its answers are compared and dropped.
    #[arg(long = "shadow", value_name = "NAME@ALIAS[:PERCENT]", value_parser = parse_shadow)]
    shadows: Vec<Rolled>,
    /// Roll back automatically: a canary that fails the checks gets 0 %; a new version of a
    /// followed alias that fails them is rolled back in the registry (the alias moves back to
    /// the previous version if it still names the bad one; the reason goes to the audit log).
    #[arg(long)]
    auto_rollback: bool,
    /// With --auto-rollback: the largest acceptable share of 5xx answers.
    #[arg(long, default_value_t = 0.05)]
    rollback_max_error_share: f64,
    /// With --auto-rollback: the largest acceptable p99 latency relative to the previous (or
    /// the stable) version's.
    #[arg(long, default_value_t = 2.0)]
    rollback_max_p99_ratio: f64,
    /// With --auto-rollback: requests a new version answers before it is judged.
    #[arg(long, default_value_t = 200)]
    rollback_min_requests: u64,
    /// The address to listen on. Port 0 picks a free port (printed on stdout).
    #[arg(long, default_value = "127.0.0.1:8080")]
    addr: SocketAddr,
    /// The version NAME=PATH models are served as (`/v2/models/NAME/versions/VERSION/...`).
    #[arg(long)]
    version: Option<String>,
    /// Most rows per batch; 1 turns batching off.
    #[arg(long, default_value_t = 1)]
    max_batch_size: usize,
    /// How long a batch waits for more requests, in milliseconds.
    #[arg(long, default_value_t = 0)]
    max_batch_delay_ms: u64,
    /// Inferences per model that run at once (default: the number of CPUs).
    #[arg(long)]
    workers: Option<usize>,
    /// Requests per model that may wait for a worker before 429.
    #[arg(long, default_value_t = 64)]
    queue_capacity: usize,
    /// Deadline per request in milliseconds (504 past it).
    #[arg(long, default_value_t = 30_000)]
    deadline_ms: u64,
    /// The request body limit in MiB, applied after decompression.
    #[arg(long, default_value_t = 16)]
    body_limit_mb: usize,
    /// The memory budget shared by all request bodies in flight, in MiB; a request that does
    /// not fit waits briefly, then gets 503.
    #[arg(long, default_value_t = 256)]
    body_budget_mb: usize,
    /// How long a request body may stop arriving before the request is answered 408, in
    /// milliseconds.
    #[arg(long, default_value_t = 60_000)]
    body_timeout_ms: u64,
    /// Require `Authorization: Bearer TOKEN` (except on /v2/health/*). Prefer the environment
    /// variable: command lines are visible to other users.
    #[arg(long, env = "MLOPS_SERVE_TOKEN", hide_env_values = true)]
    token: Option<String>,
    /// Accept only these Host names (repeatable; default: any).
    #[arg(long = "allow-host", value_name = "HOST")]
    allowed_hosts: Vec<String>,
    /// Enable the model repository extension (/v2/repository/index, load, unload).
    #[arg(long)]
    repository: bool,
    /// How long a client may take to send a request head, in milliseconds; an idle
    /// keep-alive connection is closed after the same time.
    #[arg(long, default_value_t = 10_000)]
    header_timeout_ms: u64,
    /// Connections served at once. At the cap a new connection replaces the one idle longest;
    /// when all have a request in flight, it is closed.
    #[arg(long, default_value_t = 1024)]
    max_connections: usize,
    /// After SIGTERM: how long to keep serving with readiness false, in milliseconds.
    #[arg(long, default_value_t = 5_000)]
    drain_delay_ms: u64,
    /// After the drain delay: how long to wait for in-flight requests, in milliseconds.
    #[arg(long, default_value_t = 25_000)]
    shutdown_timeout_ms: u64,
    #[command(flatten)]
    monitor: Box<crate::monitor::ServeMonitorArgs>,
}

/// A `--canary` or `--shadow`: a model, an alias and a percentage.
#[derive(Clone, Debug)]
struct Rolled {
    name: String,
    alias: Selector,
    percent: f64,
}

fn parse_rolled(text: &str, default: Option<f64>) -> std::result::Result<Rolled, String> {
    let usage = || format!("expected NAME@ALIAS:PERCENT, got `{text}`");
    let (name, rest) = text.split_once('@').ok_or_else(usage)?;
    let (alias, percent) = match rest.rsplit_once(':') {
        Some((alias, percent)) => (alias, percent.parse::<f64>().map_err(|_| usage())?),
        None => (rest, default.ok_or_else(usage)?),
    };
    if name.is_empty() || alias.is_empty() || !(0.0..=100.0).contains(&percent) {
        return Err(usage());
    }
    let alias: Selector = alias.parse().map_err(|e| format!("`{text}`: {e}"))?;
    Ok(Rolled {
        name: name.to_owned(),
        alias,
        percent,
    })
}

fn parse_canary(text: &str) -> std::result::Result<Rolled, String> {
    parse_rolled(text, None)
}

fn parse_shadow(text: &str) -> std::result::Result<Rolled, String> {
    parse_rolled(text, Some(100.0))
}

/// `NAME=PATH` or `NAME@SELECTOR`, whichever separator comes first (a path may hold `@`).
fn parse_model(text: &str) -> std::result::Result<ModelArg, String> {
    let usage = || format!("expected NAME=PATH, NAME@ALIAS or NAME@VERSION, got `{text}`");
    let at = text.find(['=', '@']).ok_or_else(usage)?;
    let (name, rest) = (&text[..at], &text[at + 1..]);
    if name.is_empty() || rest.is_empty() {
        return Err(usage());
    }
    if text[at..].starts_with('=') {
        return Ok(ModelArg::File(name.to_owned(), PathBuf::from(rest)));
    }
    let selector: Selector = rest.parse().map_err(|e| format!("`{text}`: {e}"))?;
    Ok(ModelArg::Registry(name.to_owned(), selector))
}

pub(crate) async fn run(args: ServeArgs) -> Result<u8> {
    let mut options = ModelOptions::default()
        .batching(
            args.max_batch_size,
            Duration::from_millis(args.max_batch_delay_ms),
        )
        .deadline(Duration::from_millis(args.deadline_ms));
    let workers = args.workers.unwrap_or(options.workers);
    options = options.capacity(workers, args.queue_capacity);
    let body_limit = args
        .body_limit_mb
        .checked_mul(1024 * 1024)
        .ok_or("--body-limit-mb is too large")?;
    let body_budget = args
        .body_budget_mb
        .checked_mul(1024 * 1024)
        .ok_or("--body-budget-mb is too large")?;
    let mut builder = Server::builder()
        .default_options(options)
        .body_limit(body_limit)
        .body_timeout(Duration::from_millis(args.body_timeout_ms))
        .body_budget(body_budget)
        .repository_extension(args.repository)
        .drain_delay(Duration::from_millis(args.drain_delay_ms))
        .shutdown_timeout(Duration::from_millis(args.shutdown_timeout_ms))
        .header_read_timeout(Duration::from_millis(args.header_timeout_ms))
        .max_connections(args.max_connections);
    if let Some(token) = args.token {
        builder = builder.bearer_token(token);
    }
    if !args.allowed_hosts.is_empty() {
        builder = builder.allowed_hosts(args.allowed_hosts);
    }
    for model in &args.models {
        if let ModelArg::File(name, path) = model {
            builder = builder.model_file(path, name, args.version.as_deref())?;
        }
    }
    let (builder, monitoring) = args.monitor.attach(builder).await?;
    let server = builder.build()?;
    let mut described = Vec::new();
    let mut followers = Vec::new();
    let followed: Vec<_> = args
        .models
        .iter()
        .filter_map(|m| match m {
            ModelArg::Registry(name, selector) => Some((name, selector)),
            ModelArg::File(..) => None,
        })
        .collect();
    if !followed.is_empty() || !args.canaries.is_empty() || !args.shadows.is_empty() {
        let uri = args.stores.registry_uri();
        let registry = stores::registry(&uri, None, Open::Existing)?;
        let source: Arc<dyn ModelSource> = Arc::new(RegistrySource::new(registry.registry));
        let mut options = FollowOptions::default()
            .poll_interval(Duration::from_millis(args.poll_interval_ms.max(1)));
        if args.auto_rollback {
            options = options.auto_rollback(
                RollbackPolicy::default()
                    .max_error_share(args.rollback_max_error_share)
                    .max_p99_ratio(args.rollback_max_p99_ratio)
                    .min_requests(args.rollback_min_requests),
            );
        }
        let stable = followed
            .into_iter()
            .map(|(name, selector)| (name, selector, Rollout::Stable));
        let canaries = args
            .canaries
            .iter()
            .map(|c| (&c.name, &c.alias, Rollout::Canary(c.percent)));
        let shadows = args
            .shadows
            .iter()
            .map(|s| (&s.name, &s.alias, Rollout::Shadow(s.percent)));
        for (name, selector, rollout) in stable.chain(canaries).chain(shadows) {
            if rollout != Rollout::Stable && server.models().default_version(name).is_none() {
                return Err(format!(
                    "--canary and --shadow need {name} served first (--model {name}@ALIAS)"
                )
                .into());
            }
            let follower = server
                .models()
                .follow(
                    Arc::clone(&source),
                    name,
                    selector.clone(),
                    options.clone().rollout(rollout),
                )
                .await?;
            let role = match rollout {
                Rollout::Canary(p) => format!(", canary {p} %"),
                Rollout::Shadow(p) => format!(", shadow {p} %"),
                _ => String::new(),
            };
            described.push(format!(
                "  model {name} version {} ({selector} of {uri}{role})",
                follower.served().version
            ));
            followers.push(follower);
        }
    }
    let listener = tokio::net::TcpListener::bind(args.addr)
        .await
        .map_err(|e| format!("cannot listen on {}: {e}", args.addr))?;
    let local = listener.local_addr()?;
    line(&format!("mlops serve: listening on http://{local}"))?;
    for model in &args.models {
        if let ModelArg::File(name, path) = model {
            line(&format!("  model {name} from {}", path.display()))?;
        }
    }
    for text in &described {
        line(text)?;
    }
    mlops::serve::serve(listener, server, mlops::serve::shutdown_signal()).await?;
    if let Some(monitoring) = monitoring {
        monitoring.stop().await?;
    }
    drop(followers);
    line("mlops serve: stopped")?;
    Ok(exit::OK)
}
