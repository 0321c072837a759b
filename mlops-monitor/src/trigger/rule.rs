//! Trigger rules on closed windows, with debounce (a rule fires when its condition has held
//! for N consecutive windows, once per streak) and a cooldown (at most one event per rule
//! and model version per cooldown).
//!
//! | rule | holds when |
//! | --- | --- |
//! | `dataset_drift` (the default) | the window drifts as a dataset (Evidently's share rule) |
//! | `drift_share>=X` | the share of drifted features is at least X |
//! | `feature=NAME` | feature NAME drifted |
//!
//! Append `@N` for N consecutive windows (default 1): `drift_share>=0.3@3`.

use std::collections::HashMap;
use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use mlops_core::Timestamp;
use sha2::{Digest, Sha256};

use crate::error::{MonitorError, Result};
use crate::window::{VersionKey, WindowReport};

/// What a rule checks in a window.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum Condition {
    /// The window drifted as a dataset.
    DatasetDrift,
    /// The share of drifted features is at least this.
    DriftShare(f64),
    /// This feature drifted.
    FeatureDrifted(String),
}

/// A trigger rule (see the [module docs](self)).
#[derive(Clone, Debug, PartialEq)]
pub struct Rule {
    condition: Condition,
    windows: u32,
    text: String,
}

impl Default for Rule {
    /// `dataset_drift`, in one window.
    fn default() -> Self {
        Self {
            condition: Condition::DatasetDrift,
            windows: 1,
            text: "dataset_drift".into(),
        }
    }
}

impl FromStr for Rule {
    type Err = MonitorError;

    fn from_str(text: &str) -> Result<Self> {
        let bad =
            |why: &str| MonitorError::InvalidArgument(format!("trigger rule {text:?}: {why}"));
        let (body, windows) = match text.rsplit_once('@') {
            Some((body, n)) => (
                body,
                n.parse::<u32>()
                    .ok()
                    .filter(|n| (1..=1000).contains(n))
                    .ok_or_else(|| bad("@N needs a window count from 1 to 1000"))?,
            ),
            None => (text, 1),
        };
        let body = body.trim();
        let condition = if body == "dataset_drift" {
            Condition::DatasetDrift
        } else if let Some(x) = body.strip_prefix("drift_share>=") {
            let x: f64 = x
                .trim()
                .parse()
                .map_err(|_| bad("drift_share>= needs a number"))?;
            if !(0.0..=1.0).contains(&x) {
                return Err(bad("the share must be in [0, 1]"));
            }
            Condition::DriftShare(x)
        } else if let Some(name) = body.strip_prefix("feature=") {
            let name = name.trim();
            if name.is_empty() || name.len() > 256 {
                return Err(bad("feature= needs a feature name (at most 256 bytes)"));
            }
            Condition::FeatureDrifted(name.to_owned())
        } else {
            return Err(bad(
                "expected dataset_drift, drift_share>=X or feature=NAME, optionally @N",
            ));
        };
        Ok(Self {
            condition,
            windows,
            text: text.trim().to_owned(),
        })
    }
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl Rule {
    /// The condition.
    pub fn condition(&self) -> &Condition {
        &self.condition
    }

    /// Consecutive windows needed.
    pub fn windows(&self) -> u32 {
        self.windows
    }

    /// A short stable id of the rule's text (for event ids).
    pub fn id(&self) -> String {
        let digest = Sha256::digest(self.text.as_bytes());
        digest.as_slice()[..4]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }

    /// Whether the condition holds in `window`.
    pub fn holds(&self, window: &WindowReport) -> bool {
        let dataset = &window.report.dataset;
        match &self.condition {
            Condition::DatasetDrift => dataset.dataset_drift,
            Condition::DriftShare(x) => dataset.n_columns > 0 && dataset.share_drifted >= *x,
            Condition::FeatureDrifted(name) => window
                .report
                .columns
                .iter()
                .any(|c| c.column == *name && c.drifted),
        }
    }
}

/// A rule that fired on a window.
#[derive(Clone, Debug, PartialEq)]
pub struct Firing {
    /// The rule.
    pub rule: Rule,
    /// The window that completed the streak.
    pub window: WindowReport,
}

#[derive(Clone, Debug, Default)]
struct State {
    streak: u32,
    last_fired: Option<Timestamp>,
}

/// The rules and their state per model version.
#[derive(Clone, Debug)]
pub struct Rules {
    rules: Vec<Rule>,
    cooldown: Duration,
    state: HashMap<(usize, VersionKey), State>,
}

impl Rules {
    /// The default cooldown: one hour.
    pub const DEFAULT_COOLDOWN: Duration = Duration::from_secs(3600);

    /// `rules` (the default rule when empty) with `cooldown`.
    pub fn new(rules: Vec<Rule>, cooldown: Duration) -> Self {
        let rules = if rules.is_empty() {
            vec![Rule::default()]
        } else {
            rules
        };
        Self {
            rules,
            cooldown,
            state: HashMap::new(),
        }
    }

    /// The rules.
    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }

    /// Records that `rule_id` fired for `key` at `time` (from the outbox after a restart),
    /// so the cooldown holds across restarts.
    pub fn seed(&mut self, rule_id: &str, key: &VersionKey, time: Timestamp) {
        for (index, rule) in self.rules.iter().enumerate() {
            if rule.id() == rule_id {
                let state = self.state.entry((index, key.clone())).or_default();
                if state.last_fired.is_none_or(|t| t < time) {
                    state.last_fired = Some(time);
                }
            }
        }
    }

    /// The rules that fire on `window`: their condition has just held for their N-th
    /// consecutive window, and their last event is older than the cooldown (measured in
    /// window end times).
    pub fn evaluate(&mut self, window: &WindowReport) -> Vec<Firing> {
        let mut fired = Vec::new();
        for (index, rule) in self.rules.iter().enumerate() {
            let state = self.state.entry((index, window.key.clone())).or_default();
            if !rule.holds(window) {
                state.streak = 0;
                continue;
            }
            state.streak = state.streak.saturating_add(1);
            if state.streak != rule.windows {
                continue;
            }
            let cooled = state.last_fired.is_none_or(|last| {
                let elapsed = window.end.as_millis().saturating_sub(last.as_millis());
                elapsed >= 0 && elapsed.unsigned_abs() >= self.cooldown.as_millis() as u64
            });
            if cooled {
                state.last_fired = Some(window.end);
                fired.push(Firing {
                    rule: rule.clone(),
                    window: window.clone(),
                });
            } else {
                tracing::info!(rule = %rule, model = %window.key.model, "trigger suppressed by its cooldown");
            }
        }
        fired
    }
}
