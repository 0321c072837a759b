//! The `--monitor-*`, `--inference-log` and trigger options of `mlops serve`: drift windows
//! of the served traffic (against a profile per model, or the profile registered with each
//! served version), their history and triggers, and the inference log, attached to the
//! server through its observer; the monitor's gauges appear on `/metrics`.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use clap::Args;
use mlops::core::StoreUri;
use mlops::serve::ServerBuilder;
use mlops_monitor::{
    CaptureOptions, CaptureWorker, FixedReferences, LogOptions, MonitorMetrics, ReferenceSource,
    RegistryReferences, Result as MonitorResult, VersionReference, WindowPolicy, WindowSink,
    profile_from_bytes,
};

use super::triggers::TriggerArgs;
use crate::Result;
use crate::stores::{self, Open};

/// Monitoring options of `mlops serve`.
#[derive(Args, Debug, Clone, Default)]
pub(crate) struct ServeMonitorArgs {
    /// Monitor model NAME's traffic against this reference profile (`mlops profile build`
    /// output), whatever its version. Repeatable.
    #[arg(long = "monitor-profile", value_name = "NAME=FILE", value_parser = name_path)]
    monitor_profiles: Vec<(String, PathBuf)>,
    /// Monitor each served version against the drift profile (and signature) registered
    /// with it in this registry (a store URI or an MLflow server).
    #[arg(long = "monitor-registry", value_name = "URI")]
    monitor_registry: Option<String>,
    /// The share of requests monitored (and logged).
    #[arg(long, default_value_t = 1.0)]
    monitor_sample: f64,
    /// Rows per drift window.
    #[arg(long, default_value_t = WindowPolicy::DEFAULT_ROWS)]
    monitor_window_rows: u64,
    /// Also close a window this many seconds after its first row.
    #[arg(long)]
    monitor_window_seconds: Option<u64>,
    /// Observations queued for the monitor; beyond, they are dropped and counted
    /// (mlops_monitor_dropped_total), never waited for.
    #[arg(long, default_value_t = 1024)]
    monitor_queue: usize,
    /// Append each window's report here (a store URI); triggers need it (their outbox is
    /// in its `_outbox/` folder).
    #[arg(long = "monitor-history", value_name = "URI")]
    monitor_history: Option<String>,
    /// Log every monitored request's inputs and outputs as Parquet here (a store URI).
    #[arg(long = "inference-log", value_name = "URI")]
    inference_log: Option<String>,
    #[command(flatten)]
    triggers: TriggerArgs,
}

fn name_path(text: &str) -> std::result::Result<(String, PathBuf), String> {
    text.split_once('=')
        .filter(|(name, path)| !name.is_empty() && !path.is_empty())
        .map(|(name, path)| (name.to_owned(), PathBuf::from(path)))
        .ok_or_else(|| format!("expected NAME=FILE, got `{text}`"))
}

/// Profiles given on the command line first, then the registry's.
struct References {
    fixed: FixedReferences,
    registry: Option<RegistryReferences>,
}

#[async_trait::async_trait]
impl ReferenceSource for References {
    async fn reference(
        &self,
        model: &str,
        version: &str,
    ) -> MonitorResult<Option<VersionReference>> {
        if let Some(found) = self.fixed.reference(model, version).await? {
            return Ok(Some(found));
        }
        match &self.registry {
            Some(registry) => registry.reference(model, version).await,
            None => Ok(None),
        }
    }
}

/// The running monitor of a server.
pub(crate) struct Monitoring {
    worker: CaptureWorker,
    redelivery: Option<tokio::task::JoinHandle<()>>,
}

impl Monitoring {
    /// Closes the open windows (reported, written, triggered) and the inference log's
    /// files, then stops.
    pub(crate) async fn stop(self) -> Result<()> {
        if let Some(task) = self.redelivery {
            task.abort();
        }
        let worker = self.worker;
        tokio::task::spawn_blocking(move || worker.stop())
            .await
            .map_err(|e| format!("the monitor did not stop cleanly: {e}"))?;
        Ok(())
    }
}

impl ServeMonitorArgs {
    /// Whether any monitoring was asked for.
    fn enabled(&self) -> bool {
        !self.monitor_profiles.is_empty()
            || self.monitor_registry.is_some()
            || self.inference_log.is_some()
    }

    /// Attaches the monitor to `builder` when asked for.
    pub(crate) async fn attach(
        &self,
        builder: ServerBuilder,
    ) -> Result<(ServerBuilder, Option<Monitoring>)> {
        if !self.enabled() {
            let triggered = !self.triggers.webhooks.is_empty()
                || !self.triggers.slack.is_empty()
                || self.triggers.airflow.is_some();
            if triggered || self.monitor_history.is_some() {
                return Err("triggers and --monitor-history need --monitor-profile or \
                            --monitor-registry"
                    .into());
            }
            return Ok((builder, None));
        }
        let mut fixed = FixedReferences::new();
        for (name, path) in &self.monitor_profiles {
            let bytes = mlops::core::read_local_file(path, crate::data::DEFAULT_MAX_PROFILE_BYTES)
                .map_err(|e| format!("--monitor-profile {name}: {e}"))?;
            let profile = profile_from_bytes(&path.display().to_string(), &bytes)?;
            fixed = fixed.with(
                name.clone(),
                VersionReference {
                    profile: Arc::new(profile),
                    inputs: None,
                    outputs: None,
                },
            );
        }
        let registry = match &self.monitor_registry {
            Some(uri) => Some(stores::registry(uri, None, Open::Existing)?.registry),
            None => None,
        };
        let references = References {
            fixed,
            registry: registry.clone().map(RegistryReferences::new),
        };
        let mut sinks: Vec<Arc<dyn WindowSink>> = Vec::new();
        let mut redelivery = None;
        if let Some(uri) = &self.monitor_history {
            let history = StoreUri::parse(uri)?.open()?;
            let triggers = Arc::new(self.triggers.build(&history, registry).await?);
            let again = Arc::clone(&triggers);
            // Deliveries a receiver did not acknowledge are retried until it does.
            redelivery = Some(tokio::spawn(async move {
                loop {
                    tokio::time::sleep(Duration::from_secs(60)).await;
                    if let Err(e) = again.redeliver().await {
                        tracing::warn!("trigger redelivery: {e}");
                    }
                }
            }));
            sinks.push(triggers);
        }
        let policy = WindowPolicy::new(
            Some(self.monitor_window_rows),
            self.monitor_window_seconds.map(Duration::from_secs),
        )?;
        let mut options = CaptureOptions::default()
            .with_sample(self.monitor_sample)?
            .with_queue(self.monitor_queue)
            .with_windows(policy);
        if let Some(uri) = &self.inference_log {
            options =
                options.with_inference_log(StoreUri::parse(uri)?.open()?, LogOptions::default());
        }
        let (capture, worker) = mlops_monitor::start(
            options,
            Arc::new(references),
            sinks,
            Arc::new(MonitorMetrics::new()),
            tokio::runtime::Handle::current(),
        )?;
        Ok((
            builder.observer(capture),
            Some(Monitoring { worker, redelivery }),
        ))
    }
}
