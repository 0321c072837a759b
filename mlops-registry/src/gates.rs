//! Promotion gates: the [`Gate`] trait and the built-in gates ([`MetricGate`],
//! [`SchemaGate`], [`ApprovalGate`]), and [`parse_gate`] for their text form.

use std::fmt::Debug;

use async_trait::async_trait;
use mlops_core::{AliasName, ModelName};

use crate::approval_status::{ApprovalStatus, current_approval_status};
use crate::error::{RegistryError, Result};
use crate::registry::ModelRegistry;
use crate::types::{GateReport, VersionInfo};

/// What a gate sees: the registry, the candidate, and the alias's current holder.
#[derive(Clone, Copy, Debug)]
pub struct GateContext<'a> {
    /// The registry (for gates that read approvals or other versions).
    pub registry: &'a dyn ModelRegistry,
    /// The model.
    pub model: &'a ModelName,
    /// The alias being moved.
    pub alias: &'a AliasName,
    /// The version to promote.
    pub candidate: &'a VersionInfo,
    /// The version the alias holds now, if any.
    pub current: Option<&'a VersionInfo>,
}

/// A promotion gate: lets a promotion through or not, and says why.
///
/// An `Err` from [`Gate::check`] counts as a failed gate whose reason is the error.
#[async_trait]
pub trait Gate: Debug + Send + Sync {
    /// A short name for the audit log, e.g. `metric(accuracy)`.
    fn name(&self) -> String;

    /// Decides.
    async fn check(&self, ctx: &GateContext<'_>) -> Result<GateReport>;
}

fn report(gate: &dyn Gate, passed: bool, reason: impl Into<String>) -> GateReport {
    GateReport {
        gate: gate.name(),
        passed,
        reason: reason.into(),
    }
}

/// Which way a metric improves.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    /// Larger values are better (accuracy, AUC).
    HigherIsBetter,
    /// Smaller values are better (loss, RMSE).
    LowerIsBetter,
}

/// The candidate must beat the current holder on a metric (from the source runs' metric
/// snapshots) by at least `margin`: `candidate - current >= margin` (higher is better) or
/// `current - candidate >= margin` (lower is better). With no current holder it passes; a
/// candidate without the metric, or a NaN, fails; a holder without it passes (nothing to
/// beat), and the report says so.
#[derive(Clone, Debug, PartialEq)]
pub struct MetricGate {
    /// The metric key.
    pub metric: String,
    /// Which way is better.
    pub direction: Direction,
    /// The least improvement that passes (0: at least as good).
    pub margin: f64,
}

impl MetricGate {
    /// A metric gate.
    pub fn new(metric: impl Into<String>, direction: Direction, margin: f64) -> Self {
        Self {
            metric: metric.into(),
            direction,
            margin,
        }
    }
}

#[async_trait]
impl Gate for MetricGate {
    fn name(&self) -> String {
        format!("metric({})", self.metric)
    }

    async fn check(&self, ctx: &GateContext<'_>) -> Result<GateReport> {
        let Some(candidate) = ctx.candidate.metric(&self.metric) else {
            return Ok(report(
                self,
                false,
                format!(
                    "candidate v{} has no metric {:?} in its run snapshot",
                    ctx.candidate.version, self.metric
                ),
            ));
        };
        if candidate.is_nan() {
            return Ok(report(
                self,
                false,
                format!("candidate's {} is NaN", self.metric),
            ));
        }
        let Some(current) = ctx.current else {
            return Ok(report(
                self,
                true,
                format!(
                    "{} = {candidate}; alias {} has no holder to beat",
                    self.metric, ctx.alias
                ),
            ));
        };
        let Some(held) = current.metric(&self.metric) else {
            return Ok(report(
                self,
                true,
                format!(
                    "{} = {candidate}; current holder v{} has no such metric to beat",
                    self.metric, current.version
                ),
            ));
        };
        let improvement = match self.direction {
            Direction::HigherIsBetter => candidate - held,
            Direction::LowerIsBetter => held - candidate,
        };
        let passed = improvement >= self.margin;
        let better = match self.direction {
            Direction::HigherIsBetter => "higher",
            Direction::LowerIsBetter => "lower",
        };
        Ok(report(
            self,
            passed,
            format!(
                "{}: candidate v{} = {candidate}, current v{} = {held}, improvement {improvement} \
             ({better} is better), margin {}",
                self.metric, ctx.candidate.version, current.version, self.margin
            ),
        ))
    }
}

/// The candidate's signature must be compatible with the current holder's (see
/// [`Signature::check_compatible_with`](crate::Signature::check_compatible_with)). Passes
/// when there is no holder or the holder has no signature; fails when only the candidate
/// lacks one.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SchemaGate;

#[async_trait]
impl Gate for SchemaGate {
    fn name(&self) -> String {
        "schema".to_owned()
    }

    async fn check(&self, ctx: &GateContext<'_>) -> Result<GateReport> {
        let Some(current) = ctx.current else {
            return Ok(report(
                self,
                true,
                "no current holder to stay compatible with",
            ));
        };
        let Some(held) = &current.signature else {
            return Ok(report(
                self,
                true,
                format!("current holder v{} has no signature", current.version),
            ));
        };
        let Some(candidate) = &ctx.candidate.signature else {
            return Ok(report(
                self,
                false,
                format!(
                    "candidate v{} has no signature; current v{} has one",
                    ctx.candidate.version, current.version
                ),
            ));
        };
        Ok(match candidate.check_compatible_with(held) {
            Ok(()) => report(
                self,
                true,
                format!(
                    "v{} accepts every input of v{} and keeps its outputs",
                    ctx.candidate.version, current.version
                ),
            ),
            Err(why) => report(
                self,
                false,
                format!(
                    "v{} is not compatible with v{}: {why}",
                    ctx.candidate.version, current.version
                ),
            ),
        })
    }
}

/// The candidate needs approvals for this alias by at least `min_approvers` distinct named
/// people, and no rejection, since the latest request for it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ApprovalGate {
    /// How many distinct people must approve (at least 1).
    pub min_approvers: usize,
}

impl Default for ApprovalGate {
    fn default() -> Self {
        Self { min_approvers: 1 }
    }
}

#[async_trait]
impl Gate for ApprovalGate {
    fn name(&self) -> String {
        format!("approval({})", self.min_approvers)
    }

    async fn check(&self, ctx: &GateContext<'_>) -> Result<GateReport> {
        let version = ctx.candidate.version;
        let status = current_approval_status(
            ctx.registry,
            ctx.model,
            version,
            ctx.alias,
            self.min_approvers,
        )
        .await?;
        let needed = self.min_approvers.max(1);
        Ok(match status {
            ApprovalStatus::Rejected { by, .. } => report(
                self,
                false,
                format!("v{version} for {} was rejected by {by}", ctx.alias),
            ),
            ApprovalStatus::Approved { approvers } => {
                report(self, true, format!("approved by {}", approvers.join(", ")))
            }
            ApprovalStatus::Pending { approvers } => report(
                self,
                false,
                format!(
                    "{} of {needed} approvals for v{version} to {}{}",
                    approvers.len(),
                    ctx.alias,
                    if approvers.is_empty() {
                        String::new()
                    } else {
                        format!(" (by {})", approvers.join(", "))
                    }
                ),
            ),
        })
    }
}

/// Parses a gate's text form:
///
/// - `metric:<key>:higher[:<margin>]` or `metric:<key>:lower[:<margin>]` ([`MetricGate`],
///   margin 0 by default);
/// - `schema` ([`SchemaGate`]);
/// - `approval[:<n>]` ([`ApprovalGate`], 1 approver by default).
///
/// ```
/// use mlops_registry::gates::parse_gate;
/// assert_eq!(parse_gate("metric:accuracy:higher:0.01")?.name(), "metric(accuracy)");
/// assert_eq!(parse_gate("approval:2")?.name(), "approval(2)");
/// assert!(parse_gate("metric:accuracy:sideways").is_err());
/// # Ok::<(), mlops_registry::RegistryError>(())
/// ```
pub fn parse_gate(spec: &str) -> Result<Box<dyn Gate>> {
    let bad = |why: &str| RegistryError::InvalidArgument(format!("gate {spec:?}: {why}"));
    let parts: Vec<&str> = spec.split(':').collect();
    match parts.as_slice() {
        ["schema"] => Ok(Box::new(SchemaGate)),
        ["approval"] => Ok(Box::new(ApprovalGate::default())),
        ["approval", n] => {
            let n: usize = n
                .parse()
                .map_err(|_| bad("the approver count is not a number"))?;
            if n == 0 {
                return Err(bad("at least one approver"));
            }
            Ok(Box::new(ApprovalGate { min_approvers: n }))
        }
        ["metric", key, direction, rest @ ..] if rest.len() <= 1 => {
            mlops_core::MetricKey::parse(*key)?;
            let direction = match *direction {
                "higher" => Direction::HigherIsBetter,
                "lower" => Direction::LowerIsBetter,
                _ => return Err(bad("the direction must be `higher` or `lower`")),
            };
            let margin = match rest.first() {
                None => 0.0,
                Some(m) => m
                    .parse::<f64>()
                    .ok()
                    .filter(|m| m.is_finite() && *m >= 0.0)
                    .ok_or_else(|| bad("the margin must be a finite number >= 0"))?,
            };
            Ok(Box::new(MetricGate::new(*key, direction, margin)))
        }
        _ => Err(bad(
            "expected metric:<key>:higher|lower[:<margin>], schema, or approval[:<n>]",
        )),
    }
}
