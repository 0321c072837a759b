//! The watcher: the first load, then one poll per interval, and the swap when the alias
//! moves (see the module docs of [`crate::follow`]).

use std::sync::Arc;
use std::time::{Instant, SystemTime};

use tokio::sync::watch;
use tokio::time::MissedTickBehavior;

use super::judge::Probation;
use super::{FollowOptions, Rollout, Served, warm};
use crate::error::{Error, Result};
use crate::metrics::{Role, SwapOutcome};
use crate::model::Servable;
use crate::server::{ModelEntry, ModelTable};
use crate::source::{LoadedModel, ModelSource, Selector};

/// A version that failed, and when it may be tried again.
struct Failing {
    version: String,
    attempts: u32,
    retry_at: Instant,
}

/// One followed model: what it serves and what failed.
pub(super) struct Watcher {
    pub(super) table: ModelTable,
    pub(super) source: Arc<dyn ModelSource>,
    pub(super) name: String,
    selector: Selector,
    pub(super) options: FollowOptions,
    current: Option<String>,
    pub(super) previous: Option<String>,
    failing: Option<Failing>,
    swaps: u64,
    pub(super) probation: Option<Probation>,
}

impl Watcher {
    pub(super) fn new(
        table: ModelTable,
        source: Arc<dyn ModelSource>,
        name: &str,
        selector: Selector,
        options: FollowOptions,
    ) -> Self {
        Self {
            table,
            source,
            name: name.to_owned(),
            selector,
            options,
            current: None,
            previous: None,
            failing: None,
            swaps: 0,
            probation: None,
        }
    }

    /// The alias label of the info series (empty for a pinned version).
    pub(super) fn alias(&self) -> &str {
        match &self.selector {
            Selector::Alias(alias) => alias,
            Selector::Version(_) => "",
        }
    }

    /// Serves the version the selector names now; the error that stopped it otherwise.
    pub(super) async fn start(&mut self) -> Result<Served> {
        self.table.metrics().follow_started(&self.name);
        let version = self
            .source
            .resolve(&self.name, &self.selector)
            .await?
            .version;
        let present = self
            .table
            .versions(&self.name)
            .contains(&Some(version.clone()));
        let entry = if present {
            None
        } else {
            match self.prepare(&version).await {
                Ok(entry) => Some(entry),
                Err((outcome, error)) => {
                    self.table.metrics().swap(&self.name, outcome);
                    return Err(error);
                }
            }
        };
        let since = self.switch(&version, entry)?;
        if !matches!(self.options.rollout, Rollout::Stable) {
            self.start_probation(&version);
        }
        tracing::info!(model = %self.name, version = %version, selector = %self.selector, rollout = ?self.options.rollout, "serving");
        Ok(Served {
            version,
            since,
            swaps: 0,
        })
    }

    /// Polls until the follower goes away (then the task is aborted, or `served` closes).
    pub(super) async fn run(mut self, served: watch::Sender<Served>) {
        let mut ticker = tokio::time::interval(self.options.poll_interval);
        ticker.set_missed_tick_behavior(MissedTickBehavior::Delay);
        ticker.tick().await;
        loop {
            ticker.tick().await;
            if served.is_closed() {
                return;
            }
            self.judge().await;
            if let Some(now) = self.poll().await {
                served.send_replace(now);
            }
        }
    }

    /// One poll: `Some` with what is served after a swap.
    async fn poll(&mut self) -> Option<Served> {
        let version = match self.source.resolve(&self.name, &self.selector).await {
            Ok(resolved) => resolved.version,
            Err(error) => {
                self.table.metrics().source_error(&self.name);
                tracing::warn!(model = %self.name, selector = %self.selector, %error, "cannot read the alias; the served version stays");
                return None;
            }
        };
        if self.current.as_deref() == Some(version.as_str()) {
            self.failing = None;
            return None;
        }
        let noticed = Instant::now();
        if let Some(failing) = &self.failing
            && failing.version == version
            && noticed < failing.retry_at
        {
            return None;
        }
        // The version it replaced is still loaded: a move back switches without loading.
        let loaded = self.previous.as_deref() == Some(version.as_str())
            && self
                .table
                .versions(&self.name)
                .contains(&Some(version.clone()));
        let entry = if loaded {
            None
        } else {
            match self.prepare(&version).await {
                Ok(entry) => Some(entry),
                Err((outcome, error)) => {
                    self.failed(version, outcome, &error);
                    return None;
                }
            }
        };
        let since = match self.switch(&version, entry) {
            Ok(since) => since,
            Err(error) => {
                self.failed(version, SwapOutcome::LoadFailed, &error);
                return None;
            }
        };
        let switched = SystemTime::now();
        self.failing = None;
        self.start_probation(&version);
        self.swaps += 1;
        let metrics = self.table.metrics();
        metrics.swap(&self.name, SwapOutcome::Success);
        let moved = match self
            .source
            .alias_moved_at(&self.name, self.alias(), &version)
            .await
        {
            Ok(moved) => moved,
            Err(error) => {
                tracing::debug!(model = %self.name, %error, "no alias history; timing the swap from the poll");
                None
            }
        };
        let seconds = moved
            .and_then(|moved| switched.duration_since(moved).ok())
            .unwrap_or_else(|| since.duration_since(noticed))
            .as_secs_f64();
        metrics.swap_time(&self.name, seconds);
        tracing::info!(
            model = %self.name,
            from = self.previous.as_deref().unwrap_or(""),
            to = %version,
            seconds,
            "swapped"
        );
        Some(Served {
            version,
            since,
            swaps: self.swaps,
        })
    }

    /// Fetches, loads and warms up `version`, off the request path.
    async fn prepare(
        &self,
        version: &str,
    ) -> std::result::Result<ModelEntry, (SwapOutcome, Error)> {
        let files = self
            .source
            .fetch(&self.name, version)
            .await
            .map_err(|e| (SwapOutcome::FetchFailed, e))?;
        let (name, owned, loader) = (
            self.name.clone(),
            version.to_owned(),
            self.options.loader.clone(),
        );
        let model = tokio::task::spawn_blocking(move || match loader {
            Some(loader) => loader(&files, &name, &owned),
            None => crate::runtime::load_files(&files, &name, Some(&owned)),
        })
        .await
        .map_err(|_| {
            (
                SwapOutcome::LoadFailed,
                Error::inference(&self.name, "the loader panicked"),
            )
        })?
        .map_err(|e| (SwapOutcome::LoadFailed, e))?;
        warm::warm_up(&Servable::Sync(Arc::clone(&model)))
            .await
            .map_err(|e| (SwapOutcome::WarmupFailed, e))?;
        let loaded = LoadedModel {
            model,
            version: version.to_owned(),
            source: Arc::clone(&self.source),
        };
        Ok(ModelEntry::from(loaded).with_options(self.options.model_options.clone()))
    }

    /// Puts `version` in its place in one edit (adding `entry` first): the name's
    /// unversioned routes for a stable version (keeping the version it replaces and
    /// retiring the one before), the canary or shadow route otherwise (retiring the version
    /// it replaces). A version the name still uses otherwise (default, routed) is never
    /// retired. Returns when it took over.
    fn switch(&mut self, version: &str, entry: Option<ModelEntry>) -> Result<Instant> {
        let stable = self.options.rollout == Rollout::Stable;
        let stale = if stable {
            self.previous
                .clone()
                .filter(|p| p != version && self.current.as_deref() != Some(p.as_str()))
        } else {
            self.current.clone().filter(|c| c != version)
        };
        let name = self.name.clone();
        let rollout = self.options.rollout;
        let held: Vec<String> = if stable {
            [&self.current, &self.previous]
                .into_iter()
                .flatten()
                .cloned()
                .collect()
        } else {
            self.current.iter().cloned().collect()
        };
        let retired = self.table.edit(|table| {
            let default = self.table_default(table);
            if let Some(entry) = entry {
                table.replace(entry)?;
            }
            match rollout {
                Rollout::Stable => table.set_default(&name, Some(version))?,
                Rollout::Canary(percent) | Rollout::Shadow(percent) => {
                    // Inserting made the new version the default: the stable one stays.
                    if let Some(default) = default.as_deref() {
                        table.set_default(&name, Some(default))?;
                    }
                    if matches!(rollout, Rollout::Canary(_)) {
                        table.set_canary(&name, Some((version, percent)))?;
                    } else {
                        table.set_shadow(&name, Some((version, percent)))?;
                    }
                }
            }
            // What this follower keeps: stable, its version and the previous one; canary and
            // shadow, their version. A version another follower keeps is never retired.
            if !held.iter().any(|h| h == version) {
                table.hold(&name, version);
            }
            let mut retired = None;
            if let Some(stale) = &stale
                && table.release(&name, stale)
                && table.versions(&name).contains(&Some(stale.clone()))
                && !table.in_use(&name, stale)
            {
                table.remove(&name, Some(stale))?;
                retired = Some(stale.clone());
            }
            Ok(retired)
        })?;
        let since = Instant::now();
        let metrics = Arc::clone(self.table.metrics());
        let alias = self.alias().to_owned();
        if let Some(stale) = &stale {
            metrics.set_info(&self.name, stale, &alias, None);
        }
        if retired.is_some() && !stable {
            tracing::debug!(model = %self.name, version = ?retired, "retired");
        }
        let role = match rollout {
            Rollout::Stable => Role::Stable,
            Rollout::Canary(_) => Role::Canary,
            Rollout::Shadow(_) => Role::Shadow,
        };
        let replaced = self.current.replace(version.to_owned());
        if stable && let Some(old) = replaced.as_deref().filter(|old| *old != version) {
            metrics.set_info(&self.name, old, &alias, Some(Role::Previous));
            self.previous = Some(old.to_owned());
        }
        metrics.set_info(&self.name, version, &alias, Some(role));
        Ok(since)
    }

    /// The version the name's unversioned routes serve, inside an edit.
    fn table_default(&self, table: &crate::server::TableEdit<'_>) -> Option<String> {
        table.default_version(&self.name)
    }

    /// Counts and logs a version that cannot be served, and schedules its retry.
    fn failed(&mut self, version: String, outcome: SwapOutcome, error: &Error) {
        let attempts = match &self.failing {
            Some(failing) if failing.version == version => failing.attempts.saturating_add(1),
            _ => 1,
        };
        let pause = self.options.retry.delay(attempts);
        self.table.metrics().swap(&self.name, outcome);
        tracing::warn!(
            model = %self.name,
            version = %version,
            outcome = outcome.label(),
            %error,
            attempts,
            retry_in_ms = pause.as_millis(),
            "not serving the new version; the old one keeps serving"
        );
        self.failing = Some(Failing {
            version,
            attempts,
            retry_at: Instant::now() + pause,
        });
    }
}
