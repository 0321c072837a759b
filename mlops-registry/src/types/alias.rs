//! Aliases: the precondition of a change, why it moves, the gates recorded with it, and
//! each change as the log recorded it.

use std::fmt;
use std::str::FromStr;

use mlops_core::{AliasName, ModelVersion, Timestamp};
use serde::{Deserialize, Serialize};

use crate::error::{RegistryError, Result};

/// An alias change's precondition: what the alias must hold for the change to apply.
///
/// ```
/// use mlops_registry::Expect;
/// assert_eq!("none".parse::<Expect>()?, Expect::Absent);
/// assert_eq!("any".parse::<Expect>()?, Expect::Any);
/// assert_eq!("3".parse::<Expect>()?.to_string(), "3");
/// # Ok::<(), mlops_registry::RegistryError>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Expect {
    /// No precondition.
    #[default]
    Any,
    /// The alias must be unset.
    Absent,
    /// The alias must point to this version.
    Version(ModelVersion),
}

impl Expect {
    /// Whether an alias holding `current` satisfies this precondition.
    pub fn matches(self, current: Option<ModelVersion>) -> bool {
        match self {
            Self::Any => true,
            Self::Absent => current.is_none(),
            Self::Version(v) => current == Some(v),
        }
    }

    /// The precondition "holds exactly `current`".
    pub fn exactly(current: Option<ModelVersion>) -> Self {
        current.map_or(Self::Absent, Self::Version)
    }
}

impl fmt::Display for Expect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Any => f.write_str("any"),
            Self::Absent => f.write_str("none"),
            Self::Version(v) => write!(f, "{v}"),
        }
    }
}

impl FromStr for Expect {
    type Err = RegistryError;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "any" => Ok(Self::Any),
            "none" => Ok(Self::Absent),
            other => Ok(Self::Version(ModelVersion::parse(other)?)),
        }
    }
}

/// Why an alias moved.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AliasChangeKind {
    /// A plain set (MLflow's `set_registered_model_alias`).
    #[default]
    Set,
    /// A gated promotion.
    Promote,
    /// A rollback to the previous holder.
    Rollback,
    /// The alias was deleted.
    Delete,
}

/// The outcome of one promotion gate.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct GateReport {
    /// The gate's name, e.g. `metric(accuracy)`.
    pub gate: String,
    /// Whether it let the promotion through.
    pub passed: bool,
    /// Why, in words, with the numbers compared.
    pub reason: String,
}

/// How an alias is to be changed: the precondition and what is recorded with the change.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AliasChange {
    /// What the alias must hold for the change to apply.
    pub expected: Expect,
    /// Why it moves.
    pub kind: AliasChangeKind,
    /// The gates evaluated before the change (promotion), recorded with it.
    #[serde(default)]
    pub gates: Vec<GateReport>,
    /// A free-text note.
    #[serde(default)]
    pub note: Option<String>,
}

impl AliasChange {
    /// A plain change with a precondition.
    pub fn expecting(expected: Expect) -> Self {
        Self {
            expected,
            ..Self::default()
        }
    }
}

/// One change of an alias, as the log recorded it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AliasEvent {
    /// The position of the change in the model's log (MLflow: 0).
    pub seq: u64,
    /// The alias.
    pub alias: AliasName,
    /// What it held before.
    pub from: Option<ModelVersion>,
    /// What it holds after (`None` when deleted).
    pub to: Option<ModelVersion>,
    /// Why it moved.
    pub kind: AliasChangeKind,
    /// Who moved it.
    pub actor: String,
    /// When.
    pub time: Timestamp,
    /// The writer's transaction id.
    pub txn_id: String,
}
