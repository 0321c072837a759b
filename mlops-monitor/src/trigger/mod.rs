//! Retraining triggers: [`Rules`] on closed windows (debounce, cooldown), [`TriggerEvent`]s
//! written to an [`Outbox`] on the store before they are sent to each [`Target`] (generic
//! signed webhook, Slack, Airflow), retried with [`mlops_core::Backoff`] until acknowledged,
//! resent after a restart with the same delivery id, and recorded in the model's audit log
//! through an [`AuditLog`].

pub mod event;
pub mod outbox;
pub mod rule;
mod sign;
pub mod target;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use mlops_core::Backoff;
use tokio::sync::Mutex;

pub use event::{EventWindow, PerformanceCause, TriggerEvent, performance_window_id};
pub use outbox::{Delivery, Outbox};
pub use rule::{
    Condition, Firing, PerformanceCondition, PerformanceFiring, Rule, Rules, Threshold,
};
pub use target::{Target, TargetKind, is_global};

use crate::capture::WindowSink;
use crate::error::{MonitorError, Result};
use crate::history::{History, HistoryLocation};
use crate::performance::PerformanceWindow;
use crate::window::{VersionKey, WindowReport};

/// What [`Triggers::on_window`] did with a window.
#[derive(Clone, Debug, PartialEq)]
pub struct Handled {
    /// Where the window's report was written, when a history is kept.
    pub location: Option<HistoryLocation>,
    /// The events fired.
    pub events: Vec<TriggerEvent>,
}

/// Where fired events are recorded besides the outbox (the registry's audit log).
#[async_trait::async_trait]
pub trait AuditLog: Send + Sync + 'static {
    /// Records `event` for its model version.
    async fn record(&self, event: &TriggerEvent) -> Result<()>;
}

/// The trigger pipeline of closed windows (a [`WindowSink`]): history (when kept), rules,
/// outbox, audit, delivery.
pub struct Triggers {
    rules: Mutex<Rules>,
    targets: Vec<Target>,
    outbox: Outbox,
    history: Option<History>,
    audit: Option<Arc<dyn AuditLog>>,
    backoff: Backoff,
    attempts: u32,
    fired: AtomicU64,
}

impl std::fmt::Debug for Triggers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Triggers")
            .field("targets", &self.targets)
            .field("outbox", &self.outbox)
            .finish_non_exhaustive()
    }
}

impl Triggers {
    /// A pipeline with `rules` and `targets`, its outbox on `outbox`. The cooldown of each
    /// rule and model version is seeded from the events already in the outbox, so a restart
    /// does not fire again within it.
    ///
    /// # Errors
    ///
    /// The outbox cannot be read.
    pub async fn new(mut rules: Rules, targets: Vec<Target>, outbox: Outbox) -> Result<Self> {
        for (delivery, _) in outbox.deliveries().await? {
            let event = &delivery.event;
            rules.seed(&event.rule_id, &event.key(), event.window.end);
        }
        Ok(Self {
            rules: Mutex::new(rules),
            targets,
            outbox,
            history: None,
            audit: None,
            backoff: Backoff::exponential(Duration::from_millis(500), Duration::from_secs(30))
                .with_jitter(),
            attempts: 5,
            fired: AtomicU64::new(0),
        })
    }

    /// Appends each window to `history` first; events then name its report's location.
    #[must_use]
    pub fn with_history(mut self, history: History) -> Self {
        self.history = Some(history);
        self
    }

    /// Records every event in `audit`.
    #[must_use]
    pub fn with_audit(mut self, audit: Arc<dyn AuditLog>) -> Self {
        self.audit = Some(audit);
        self
    }

    /// Delivery attempts per target and call (the outbox keeps what is left for
    /// [`Triggers::redeliver`]), and the pauses between them.
    #[must_use]
    pub fn with_retries(mut self, attempts: u32, backoff: Backoff) -> Self {
        self.attempts = attempts.max(1);
        self.backoff = backoff;
        self
    }

    /// Events fired so far by this pipeline.
    pub fn fired(&self) -> u64 {
        self.fired.load(Ordering::Relaxed)
    }

    /// Handles one closed window: history, rules, then for each event the outbox, the
    /// audit log and the deliveries. Returns where the window was written and the events
    /// fired.
    ///
    /// # Errors
    ///
    /// The history or the outbox cannot be written (then nothing is sent). A target that
    /// does not accept is logged; its delivery stays in the outbox.
    pub async fn on_window(&self, window: &WindowReport) -> Result<Handled> {
        let location = match &self.history {
            Some(history) => Some(history.append(window).await?),
            None => None,
        };
        let firings = self.rules.lock().await.evaluate(window);
        let mut events = Vec::new();
        for firing in &firings {
            let event = TriggerEvent::new(firing, location.clone());
            self.fire(&event).await?;
            events.push(event);
        }
        Ok(Handled { location, events })
    }

    /// Handles one performance window (`mlops monitor performance`): the performance rules,
    /// then for each event the outbox, the audit log and the deliveries, as for drift
    /// windows. `registered(key, metric)` gives a version's registered run metric. Returns
    /// the events fired.
    ///
    /// # Errors
    ///
    /// A rule's metric or registered value is missing ([`Rules::evaluate_performance`]), or
    /// the outbox cannot be written (then nothing is sent).
    pub async fn on_performance(
        &self,
        window: &PerformanceWindow,
        registered: &(dyn Fn(&VersionKey, &str) -> Option<f64> + Sync),
    ) -> Result<Vec<TriggerEvent>> {
        let firings = self
            .rules
            .lock()
            .await
            .evaluate_performance(window, registered)?;
        let mut events = Vec::new();
        for firing in &firings {
            let event = TriggerEvent::performance(firing);
            self.fire(&event).await?;
            events.push(event);
        }
        Ok(events)
    }

    /// An event: written to the outbox for every target first, recorded in the audit log,
    /// then delivered (what is not acknowledged stays in the outbox).
    async fn fire(&self, event: &TriggerEvent) -> Result<()> {
        for target in &self.targets {
            self.outbox.enqueue(event, &target.id()).await?;
        }
        self.fired.fetch_add(1, Ordering::Relaxed);
        tracing::warn!("{}", event.summary());
        if let Some(audit) = &self.audit
            && let Err(e) = audit.record(event).await
        {
            tracing::warn!(event = %event.id, "cannot record the event in the audit log: {e}");
        }
        for target in &self.targets {
            if let Err(e) = self.deliver(event, target).await {
                tracing::warn!(event = %event.id, "{e}; kept in the outbox");
            }
        }
        Ok(())
    }

    /// Sends the outbox's unacknowledged deliveries to the targets they were for (after a
    /// restart, or periodically); returns how many were acknowledged now.
    ///
    /// # Errors
    ///
    /// The outbox cannot be read.
    pub async fn redeliver(&self) -> Result<usize> {
        let mut done = 0;
        for (delivery, acknowledged) in self.outbox.deliveries().await? {
            if acknowledged {
                continue;
            }
            let Some(target) = self.targets.iter().find(|t| t.id() == delivery.target) else {
                tracing::warn!(event = %delivery.event.id, target = %delivery.target, "no configured target with this id: left in the outbox");
                continue;
            };
            match self.deliver(&delivery.event, target).await {
                Ok(()) => done += 1,
                Err(e) => tracing::warn!(event = %delivery.event.id, "{e}; kept in the outbox"),
            }
        }
        Ok(done)
    }

    async fn deliver(&self, event: &TriggerEvent, target: &Target) -> Result<()> {
        let mut last = String::new();
        for attempt in 1..=self.attempts {
            match target.send(event).await {
                Ok(()) => {
                    return self.outbox.acknowledge(event, &target.id()).await;
                }
                Err(failed) => {
                    last = failed.reason;
                    if !failed.retry {
                        break;
                    }
                }
            }
            if attempt < self.attempts {
                tokio::time::sleep(self.backoff.delay(attempt)).await;
            }
        }
        Err(MonitorError::Webhook {
            url: target.url().to_string(),
            reason: last,
        })
    }
}

#[async_trait::async_trait]
impl WindowSink for Triggers {
    async fn window(&self, window: &WindowReport) -> Result<()> {
        self.on_window(window).await.map(|_| ())
    }
}
