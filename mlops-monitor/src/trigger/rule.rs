//! Trigger rules on closed windows, with debounce (a rule fires when its condition has held
//! for N consecutive windows, once per streak) and a cooldown (at most one event per rule
//! and model version per cooldown).
//!
//! | rule | holds when |
//! | --- | --- |
//! | `dataset_drift` (the default) | the window drifts as a dataset (Evidently's share rule) |
//! | `drift_share>=X` | the share of drifted features is at least X |
//! | `feature=NAME` | feature NAME drifted |
//! | `METRIC>registered*F` | a performance window's METRIC is above F times the version's registered value |
//! | `METRIC<registered-M` | a performance window's METRIC is below the registered value minus M |
//!
//! Append `@N` for N consecutive windows (default 1): `drift_share>=0.3@3`.
//!
//! Performance rules compare a [`PerformanceWindow`]'s metric (one of
//! [`performance::METRICS`](crate::performance::METRICS)) with the *window's own version's*
//! registered value: its training run's metric of the same name, or of the name in
//! parentheses (`rmse>registered(val_rmse)*1.1`). `>` is for errors (mae, rmse, mape: worse
//! when higher), `<` for scores (r2, accuracy, f1, ...: worse when lower); the right side is
//! `registered`, optionally `*F` (F > 0), `+M` or `-M` (M >= 0). Drift rules see only drift
//! windows and performance rules only performance windows; each keeps its own streak.

use std::collections::HashMap;
use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use mlops_core::Timestamp;
use sha2::{Digest, Sha256};

use crate::error::{MonitorError, Result};
use crate::performance::{METRICS, PerformanceWindow};
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
    /// A performance window's metric is worse than the version's registered value.
    Performance(PerformanceCondition),
}

/// How the threshold is made from the registered value.
#[derive(Clone, Copy, Debug, PartialEq)]
#[non_exhaustive]
pub enum Threshold {
    /// `registered * F`.
    Times(f64),
    /// `registered + M` (M may be negative: `registered-M`).
    Plus(f64),
}

/// A performance condition: `METRIC>registered...` or `METRIC<registered...`.
#[derive(Clone, Debug, PartialEq)]
pub struct PerformanceCondition {
    /// The window metric (one of [`METRICS`]).
    pub metric: String,
    /// The key of the registered run metric it is compared with.
    pub registered: String,
    /// Whether the condition holds above the threshold (`>`, errors) or below it (`<`,
    /// scores).
    pub above: bool,
    /// The threshold from the registered value.
    pub threshold: Threshold,
}

impl PerformanceCondition {
    /// The threshold for a registered value.
    pub fn threshold(&self, registered: f64) -> f64 {
        match self.threshold {
            Threshold::Times(f) => registered * f,
            Threshold::Plus(m) => registered + m,
        }
    }

    /// Whether `value` is past the threshold of `registered` (strictly).
    pub fn holds(&self, value: f64, registered: f64) -> bool {
        let threshold = self.threshold(registered);
        if self.above {
            value > threshold
        } else {
            value < threshold
        }
    }

    /// Parses the body of a rule (no `@N`, no whitespace) when it is a performance rule:
    /// `None` when it has neither `>` nor `<`.
    fn parse(body: &str) -> Option<std::result::Result<Self, String>> {
        let at = body.find(['>', '<'])?;
        let (metric, rest) = body.split_at(at);
        let above = rest.starts_with('>');
        Some(Self::parse_sides(metric, &rest[1..], above))
    }

    fn parse_sides(metric: &str, right: &str, above: bool) -> std::result::Result<Self, String> {
        if !METRICS.contains(&metric) {
            return Err(format!(
                "metric {metric:?} is not one of {}",
                METRICS.join(", ")
            ));
        }
        let Some(mut rest) = right.strip_prefix("registered") else {
            return Err("the right side must start with `registered`".into());
        };
        let mut registered = metric.to_owned();
        if let Some(inner) = rest.strip_prefix('(') {
            let Some((key, after)) = inner.split_once(')') else {
                return Err("registered( needs its closing parenthesis".into());
            };
            if key.is_empty() || key.len() > 250 {
                return Err("registered(KEY) needs a run metric key (at most 250 bytes)".into());
            }
            registered = key.to_owned();
            rest = after;
        }
        let number = |text: &str| {
            text.parse::<f64>()
                .ok()
                .filter(|x| x.is_finite())
                .ok_or_else(|| format!("{text:?} is not a number"))
        };
        let threshold = if rest.is_empty() {
            Threshold::Plus(0.0)
        } else if let Some(f) = rest.strip_prefix('*') {
            let f = number(f)?;
            if f <= 0.0 {
                return Err("the factor must be > 0".into());
            }
            Threshold::Times(f)
        } else if let Some((sign, m)) = (rest.strip_prefix('+').map(|m| (1.0, m)))
            .or_else(|| rest.strip_prefix('-').map(|m| (-1.0, m)))
        {
            let m = number(m)?;
            if m < 0.0 || m.is_sign_negative() {
                return Err("the margin after + or - must be >= 0".into());
            }
            Threshold::Plus(sign * m)
        } else {
            return Err(format!(
                "after `registered` expected *F, +M or -M, not {rest:?}"
            ));
        };
        Ok(Self {
            metric: metric.to_owned(),
            registered,
            above,
            threshold,
        })
    }
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
        let compact: String = body.chars().filter(|c| !c.is_whitespace()).collect();
        let condition = if body == "dataset_drift" {
            Condition::DatasetDrift
        } else if let Some(x) = compact.strip_prefix("drift_share>=") {
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
        } else if let Some(parsed) = PerformanceCondition::parse(&compact) {
            Condition::Performance(parsed.map_err(|why| bad(&why))?)
        } else {
            return Err(bad(
                "expected dataset_drift, drift_share>=X, feature=NAME or \
                 METRIC>registered[*F|+M|-M] (or <), optionally @N",
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

    /// The performance condition, when this is a performance rule.
    pub fn performance(&self) -> Option<&PerformanceCondition> {
        match &self.condition {
            Condition::Performance(p) => Some(p),
            _ => None,
        }
    }

    /// Whether the condition holds in the drift window `window` (never for a performance
    /// rule).
    pub fn holds(&self, window: &WindowReport) -> bool {
        let dataset = &window.report.dataset;
        match &self.condition {
            Condition::Performance(_) => false,
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

/// A performance rule that fired on a performance window.
#[derive(Clone, Debug, PartialEq)]
pub struct PerformanceFiring {
    /// The rule.
    pub rule: Rule,
    /// The window that completed the streak.
    pub window: PerformanceWindow,
    /// The window's value of the rule's metric.
    pub value: f64,
    /// The version's registered value.
    pub registered: f64,
    /// The threshold the value passed.
    pub threshold: f64,
}

#[derive(Clone, Debug, Default)]
struct State {
    streak: u32,
    last_fired: Option<Timestamp>,
}

/// What one window did to a rule's state.
enum Step {
    /// The condition does not hold, or its streak is not (exactly) long enough.
    Quiet,
    /// The rule fires.
    Fire,
    /// It would fire, but its last event is within the cooldown.
    Cooling,
}

impl State {
    /// Advances the streak by one window ending at `end`; fires when the streak has just
    /// reached `windows` and the cooldown has passed (measured in window end times).
    fn step(&mut self, holds: bool, windows: u32, cooldown: Duration, end: Timestamp) -> Step {
        if !holds {
            self.streak = 0;
            return Step::Quiet;
        }
        self.streak = self.streak.saturating_add(1);
        if self.streak != windows {
            return Step::Quiet;
        }
        let cooled = self.last_fired.is_none_or(|last| {
            let elapsed = end.as_millis().saturating_sub(last.as_millis());
            elapsed >= 0 && elapsed.unsigned_abs() >= cooldown.as_millis() as u64
        });
        if cooled {
            self.last_fired = Some(end);
            Step::Fire
        } else {
            Step::Cooling
        }
    }
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

    /// The drift rules that fire on `window`: their condition has just held for their N-th
    /// consecutive window, and their last event is older than the cooldown (measured in
    /// window end times). Performance rules do not see drift windows.
    pub fn evaluate(&mut self, window: &WindowReport) -> Vec<Firing> {
        let mut fired = Vec::new();
        for (index, rule) in self.rules.iter().enumerate() {
            if rule.performance().is_some() {
                continue;
            }
            let state = self.state.entry((index, window.key.clone())).or_default();
            match state.step(rule.holds(window), rule.windows, self.cooldown, window.end) {
                Step::Quiet => {}
                Step::Fire => fired.push(Firing {
                    rule: rule.clone(),
                    window: window.clone(),
                }),
                Step::Cooling => {
                    tracing::info!(rule = %rule, model = %window.key.model, "trigger suppressed by its cooldown");
                }
            }
        }
        fired
    }

    /// The performance rules that fire on `window` (as [`Rules::evaluate`] for drift
    /// windows), `registered(key, metric)` giving the version's registered value of a run
    /// metric. Drift rules do not see performance windows.
    ///
    /// # Errors
    ///
    /// [`MonitorError::InvalidArgument`] when the window lacks a rule's metric (an error
    /// metric on classification windows) or the version has no registered value of it.
    pub fn evaluate_performance(
        &mut self,
        window: &PerformanceWindow,
        registered: &dyn Fn(&VersionKey, &str) -> Option<f64>,
    ) -> Result<Vec<PerformanceFiring>> {
        let key = VersionKey {
            model: window.model.clone(),
            version: window.version.clone(),
        };
        let mut fired = Vec::new();
        for (index, rule) in self.rules.iter().enumerate() {
            let Some(condition) = rule.performance() else {
                continue;
            };
            let value = window.metric(&condition.metric).ok_or_else(|| {
                MonitorError::InvalidArgument(format!(
                    "trigger rule {:?}: the performance windows have no {} (see --task)",
                    rule.text, condition.metric
                ))
            })?;
            let base = registered(&key, &condition.registered).ok_or_else(|| {
                MonitorError::InvalidArgument(format!(
                    "trigger rule {:?}: {} v{} has no registered metric {:?} (its run's \
                     metrics snapshot)",
                    rule.text, key.model, key.version, condition.registered
                ))
            })?;
            let holds = condition.holds(value, base);
            let state = self.state.entry((index, key.clone())).or_default();
            match state.step(holds, rule.windows, self.cooldown, window.end) {
                Step::Quiet => {}
                Step::Fire => fired.push(PerformanceFiring {
                    rule: rule.clone(),
                    window: window.clone(),
                    value,
                    registered: base,
                    threshold: condition.threshold(base),
                }),
                Step::Cooling => {
                    tracing::info!(rule = %rule, model = %key.model, "trigger suppressed by its cooldown");
                }
            }
        }
        Ok(fired)
    }
}
