//! The trigger options shared by `mlops monitor run` and `mlops serve --monitor`, and the
//! pipeline they build: history, rules, outbox, audit, targets.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use clap::Args;
use mlops::core::{StoreRoot, StoreUri};
use mlops::registry::ModelRegistry;
use mlops_monitor::trigger::{Outbox, Rule, Rules, Target, TargetKind, Triggers};
use mlops_monitor::{History, RegistryAudit};

use crate::Result;
use crate::layout::RootArgs;

/// The history's folder in a store root.
const MONITOR_DIR: &str = "monitor";

/// The outbox's folder in the history (Hive readers skip `_` folders).
const OUTBOX_DIR: &str = "_outbox";

/// The largest Airflow token file read.
const TOKEN_MAX_BYTES: u64 = 64 << 10;

/// How triggers fire and where their events go.
#[derive(Args, Debug, Clone, Default)]
pub(crate) struct TriggerArgs {
    /// A trigger rule: dataset_drift (the default), drift_share>=X or feature=NAME on drift
    /// windows; METRIC>registered[*F|+M|-M] (or <) on performance windows (`monitor
    /// performance`), against the version's registered run metric (`registered(KEY)` names
    /// another one); @N for N consecutive windows. Repeatable.
    #[arg(long = "trigger", value_name = "RULE")]
    pub(crate) rules: Vec<String>,
    /// POST each event as signed JSON to this URL. Repeatable.
    #[arg(long = "trigger-webhook", value_name = "URL")]
    pub(crate) webhooks: Vec<String>,
    /// POST each event to this Slack incoming-webhook URL. Repeatable.
    #[arg(long = "trigger-slack", value_name = "URL")]
    pub(crate) slack: Vec<String>,
    /// Airflow's base URL: each event becomes an event of --airflow-asset (POST
    /// /api/v2/assets/events), which starts the DAGs scheduled on it.
    #[arg(
        long = "trigger-airflow",
        value_name = "URL",
        requires = "airflow_asset"
    )]
    pub(crate) airflow: Option<String>,
    /// The Airflow asset (its name or URI).
    #[arg(long, value_name = "NAME")]
    pub(crate) airflow_asset: Option<String>,
    /// A file holding Airflow's API token (else MLOPS_AIRFLOW_TOKEN).
    #[arg(long, value_name = "FILE")]
    pub(crate) airflow_token_file: Option<PathBuf>,
    /// The secret that signs webhook bodies (HMAC-SHA256, header Mlops-Signature).
    #[arg(long, env = "MLOPS_TRIGGER_SECRET", hide_env_values = true)]
    pub(crate) trigger_secret: Option<String>,
    /// At most one event per rule and model version in this many seconds.
    #[arg(long, default_value_t = 3600)]
    pub(crate) trigger_cooldown: u64,
    /// Allow webhook targets on loopback or private addresses, and plain http.
    #[arg(long)]
    pub(crate) allow_private_webhooks: bool,
}

/// The history root: `--history`, else the root's `monitor/` folder.
pub(crate) fn history_root(history: Option<&str>, root: &RootArgs) -> Result<StoreRoot> {
    let uri = match history {
        Some(uri) => uri.to_owned(),
        None => {
            let root = root.root_uri();
            if root.starts_with("http://") || root.starts_with("https://") {
                return Err(format!(
                    "the store root {root} is an MLflow server; give the drift history's store \
                     with --history"
                )
                .into());
            }
            format!("{}/{MONITOR_DIR}", root.trim_end_matches('/'))
        }
    };
    Ok(StoreUri::parse(&uri)?.open()?)
}

impl TriggerArgs {
    /// Whether any event target is given.
    pub(crate) fn has_targets(&self) -> bool {
        !self.webhooks.is_empty() || !self.slack.is_empty() || self.airflow.is_some()
    }

    /// The pipeline: history in `history`, its outbox beside it, events recorded in
    /// `registry`'s audit log; pending deliveries of an earlier run are resent first.
    pub(crate) async fn build(
        &self,
        history: &StoreRoot,
        registry: Option<Arc<dyn ModelRegistry>>,
    ) -> Result<Triggers> {
        let rules: Vec<Rule> = self
            .rules
            .iter()
            .map(|r| r.parse())
            .collect::<std::result::Result<_, _>>()?;
        let rules = Rules::new(rules, Duration::from_secs(self.trigger_cooldown));
        let secret = self.trigger_secret.as_ref().map(|s| s.as_bytes().to_vec());
        let timeout = Duration::from_secs(10);
        let private = self.allow_private_webhooks;
        let mut targets = Vec::new();
        for url in &self.webhooks {
            targets.push(
                Target::new(url, TargetKind::Generic, secret.clone(), private, timeout).await?,
            );
        }
        for url in &self.slack {
            targets.push(Target::new(url, TargetKind::Slack, None, private, timeout).await?);
        }
        if let (Some(url), Some(asset)) = (&self.airflow, &self.airflow_asset) {
            let token = match &self.airflow_token_file {
                Some(file) => {
                    let bytes = mlops::core::read_local_file(file, TOKEN_MAX_BYTES)
                        .map_err(|e| format!("--airflow-token-file: {e}"))?;
                    Some(String::from_utf8_lossy(&bytes).trim().to_owned())
                }
                None => std::env::var("MLOPS_AIRFLOW_TOKEN").ok(),
            };
            let kind = TargetKind::Airflow {
                asset: asset.clone(),
                token,
            };
            targets.push(Target::new(url, kind, secret.clone(), private, timeout).await?);
        }
        let outbox = Outbox::new(history.child(&OUTBOX_DIR.parse()?));
        let mut triggers = Triggers::new(rules, targets, outbox)
            .await?
            .with_history(History::new(history.clone()));
        if let Some(registry) = registry {
            triggers = triggers.with_audit(Arc::new(RegistryAudit::new(registry)));
        }
        let resent = triggers.redeliver().await?;
        if resent > 0 {
            tracing::info!("{resent} pending trigger deliveries of an earlier run were sent");
        }
        Ok(triggers)
    }
}
