//! Gate evaluation without moving anything: what a promotion would decide now, for a
//! pipeline whose deploy job promotes later (`mlops models gate`). Nothing is written; the
//! later promotion re-runs the gates and records its decision.

use mlops_core::{AliasName, ModelName, ModelVersion};

use crate::error::{RegistryError, Result};
use crate::gates::{Gate, GateContext};
use crate::registry::ModelRegistry;
use crate::types::{Expect, GateReport, VersionStatus};

/// What [`evaluate`] found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Evaluation {
    /// The candidate.
    pub version: ModelVersion,
    /// What the alias held when the gates ran (what a promotion must then expect).
    pub current: Option<ModelVersion>,
    /// Whether the alias held what the caller expected.
    pub precondition_held: bool,
    /// Every gate's report (none when the precondition failed).
    pub gates: Vec<GateReport>,
    /// The verdict in words.
    pub reason: String,
}

impl Evaluation {
    /// Whether a promotion would go through now: the precondition holds and every gate
    /// passes.
    pub fn passed(&self) -> bool {
        self.precondition_held && self.gates.iter().all(|g| g.passed)
    }
}

/// Runs every gate for `version` against the alias's current holder, as [`crate::promote`]
/// would, and moves nothing. A candidate that is not READY is an error, as for a promotion.
pub async fn evaluate(
    registry: &dyn ModelRegistry,
    model: &ModelName,
    version: ModelVersion,
    alias: &AliasName,
    expected: Expect,
    gates: &[Box<dyn Gate>],
) -> Result<Evaluation> {
    let candidate = registry.get_version(model, version).await?;
    if candidate.status != VersionStatus::Ready {
        return Err(RegistryError::InvalidState(format!(
            "{model} v{version} is {}, not READY",
            candidate.status.as_str()
        )));
    }
    let current = match registry.resolve_alias(model, alias).await {
        Ok(info) => Some(info),
        Err(RegistryError::NotFound { what: "alias", .. }) => None,
        Err(e) => return Err(e),
    };
    let current_version = current.as_ref().map(|c| c.version);
    let show =
        |v: Option<ModelVersion>| v.map_or_else(|| "nothing".to_owned(), |v| format!("v{v}"));
    if !expected.matches(current_version) {
        return Ok(Evaluation {
            version,
            current: current_version,
            precondition_held: false,
            gates: Vec::new(),
            reason: format!(
                "precondition failed: the alias holds {}, not what was expected",
                show(current_version)
            ),
        });
    }
    let ctx = GateContext {
        registry,
        model,
        alias,
        candidate: &candidate,
        current: current.as_ref(),
    };
    let mut reports = Vec::with_capacity(gates.len());
    for gate in gates {
        reports.push(match gate.check(&ctx).await {
            Ok(report) => report,
            Err(e) => GateReport {
                gate: gate.name(),
                passed: false,
                reason: format!("the gate failed to decide: {e}"),
            },
        });
    }
    let reason = match reports.iter().find(|r| !r.passed) {
        Some(failed) => format!("gate {} refused: {}", failed.gate, failed.reason),
        None => format!(
            "v{version} passes {} gate(s) against {}",
            reports.len(),
            show(current_version)
        ),
    };
    Ok(Evaluation {
        version,
        current: current_version,
        precondition_held: true,
        gates: reports,
        reason,
    })
}
