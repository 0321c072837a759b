//! [`TriggerEvent`]: what a fired rule sends, and the JSON body of a generic webhook.

use mlops_core::Timestamp;
use serde::{Deserialize, Serialize};

use crate::history::HistoryLocation;
use crate::window::VersionKey;

use super::rule::Firing;

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

/// A fired trigger: the generic webhook's JSON body.
///
/// `id` is the delivery id: stable across retries and restarts (`<window id>.<rule id>`),
/// so receivers de-duplicate on it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TriggerEvent {
    /// The delivery id.
    pub id: String,
    /// Always `"drift"` for now.
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
    /// When the event was made.
    pub time: Timestamp,
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
