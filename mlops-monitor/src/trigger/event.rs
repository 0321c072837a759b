//! [`TriggerEvent`]: what a fired rule sends, and the JSON body of a generic webhook.

use mlops_core::Timestamp;
use serde::{Deserialize, Serialize};

use crate::history::HistoryLocation;
use crate::performance::PerformanceWindow;
use crate::window::VersionKey;

use super::rule::{Firing, PerformanceFiring};

/// The window an event is about.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventWindow {
    /// The window id.
    pub id: String,
    /// Its first row's time.
    pub start: Timestamp,
    /// Its last row's time.
    pub end: Timestamp,
    /// Its rows.
    pub rows: u64,
}

/// Why a performance rule fired: the metric, its value and the registered value.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PerformanceCause {
    /// The window metric (`rmse`, `accuracy`, ...).
    pub metric: String,
    /// Its value in the window.
    pub value: f64,
    /// The registered run metric it was compared with.
    pub registered_metric: String,
    /// The version's registered value of it.
    pub registered: f64,
    /// The threshold the value passed (from the registered value and the rule's margin).
    pub threshold: f64,
}

/// A fired trigger: the generic webhook's JSON body.
///
/// `id` is the delivery id: stable across retries and restarts (`<window id>.<rule id>`),
/// so receivers de-duplicate on it. `kind` is `"drift"` (a drift window: the drift fields
/// say how it drifted) or `"performance"` (a window of labelled predictions: `performance`
/// says which metric passed the registered value; the drift fields are 0, false and empty,
/// as no drift was measured).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TriggerEvent {
    /// The delivery id.
    pub id: String,
    /// `"drift"` or `"performance"`.
    pub kind: String,
    /// The rule, as written.
    pub rule: String,
    /// The rule's short id.
    pub rule_id: String,
    /// The model.
    pub model: String,
    /// The version.
    pub version: String,
    /// The window.
    pub window: EventWindow,
    /// The share of drifted features.
    pub drift_share: f64,
    /// The dataset verdict.
    pub dataset_drift: bool,
    /// The drifted features.
    pub drifted_features: Vec<String>,
    /// Where the window's report was written, when a history is kept.
    pub report: Option<HistoryLocation>,
    /// For a performance event: the metric and the registered value it passed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub performance: Option<PerformanceCause>,
    /// When the event was made.
    pub time: Timestamp,
}

/// A performance window's stable id: `perf-<start ms>-<hash of model, version, start, end,
/// rows>` (the same windows of the same log and labels get the same id in every run).
pub fn performance_window_id(window: &PerformanceWindow) -> String {
    use sha2::{Digest, Sha256};
    let (start, end) = (window.start.as_millis(), window.end.as_millis());
    let text = format!(
        "{}\n{}\n{start}\n{end}\n{}",
        window.model,
        window.version,
        window.rows()
    );
    let digest = Sha256::digest(text.as_bytes());
    let hash: String = digest.as_slice()[..8]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("perf-{start}-{hash}")
}

impl TriggerEvent {
    /// The event of `firing`.
    pub fn new(firing: &Firing, report: Option<HistoryLocation>) -> Self {
        let window = &firing.window;
        Self {
            id: format!("{}.{}", window.id, firing.rule.id()),
            kind: "drift".into(),
            rule: firing.rule.to_string(),
            rule_id: firing.rule.id(),
            model: window.key.model.clone(),
            version: window.key.version.clone(),
            window: EventWindow {
                id: window.id.clone(),
                start: window.start,
                end: window.end,
                rows: window.rows,
            },
            drift_share: window.report.dataset.share_drifted,
            dataset_drift: window.report.dataset.dataset_drift,
            drifted_features: window.drifted_features(),
            report,
            performance: None,
            time: Timestamp::now(),
        }
    }

    /// The event of a performance rule's `firing`.
    pub fn performance(firing: &PerformanceFiring) -> Self {
        let window = &firing.window;
        let window_id = performance_window_id(window);
        let (metric, registered_metric) = firing
            .rule
            .performance()
            .map(|c| (c.metric.clone(), c.registered.clone()))
            .unwrap_or_default();
        Self {
            id: format!("{window_id}.{}", firing.rule.id()),
            kind: "performance".into(),
            rule: firing.rule.to_string(),
            rule_id: firing.rule.id(),
            model: window.model.clone(),
            version: window.version.clone(),
            window: EventWindow {
                id: window_id,
                start: window.start,
                end: window.end,
                rows: window.rows(),
            },
            drift_share: 0.0,
            dataset_drift: false,
            drifted_features: Vec::new(),
            report: None,
            performance: Some(PerformanceCause {
                metric,
                value: firing.value,
                registered_metric,
                registered: firing.registered,
                threshold: firing.threshold,
            }),
            time: Timestamp::now(),
        }
    }

    /// The model version.
    pub fn key(&self) -> VersionKey {
        VersionKey {
            model: self.model.clone(),
            version: self.version.clone(),
        }
    }

    /// One line for people (Slack, logs).
    pub fn summary(&self) -> String {
        if let Some(p) = &self.performance {
            return format!(
                "Performance of {} v{}: rule `{}` fired on window {} ({} labelled rows): {} {} \
                 passed {} (registered {} {})",
                self.model,
                self.version,
                self.rule,
                self.window.id,
                self.window.rows,
                p.metric,
                p.value,
                p.threshold,
                p.registered_metric,
                p.registered
            );
        }
        format!(
            "Drift on {} v{}: rule `{}` fired on window {} ({} rows): drift share {:.3}{}",
            self.model,
            self.version,
            self.rule,
            self.window.id,
            self.window.rows,
            self.drift_share,
            if self.drifted_features.is_empty() {
                String::new()
            } else {
                format!(", drifted: {}", self.drifted_features.join(", "))
            }
        )
    }
}
