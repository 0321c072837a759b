//! Where an approval stands: the approvals, rejections and requests of one version for one
//! alias, replayed from the audit log. A request starts a new round; a rejection in the
//! round decides it; otherwise it is approved once enough distinct people approved.
//! [`crate::gates::ApprovalGate`] and `mlops models approval wait` decide by it.

use std::collections::BTreeSet;

use mlops_core::{AliasName, ModelName, ModelVersion};

use crate::error::Result;
use crate::ext::RegistryExt;
use crate::registry::ModelRegistry;
use crate::types::{Approval, ApprovalState};

/// Where an approval stands.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ApprovalStatus {
    /// Not decided yet: who approved so far (fewer than needed).
    Pending {
        /// The distinct approvers so far.
        approvers: Vec<String>,
    },
    /// Enough distinct people approved.
    Approved {
        /// The distinct approvers.
        approvers: Vec<String>,
    },
    /// Someone rejected it.
    Rejected {
        /// Who.
        by: String,
        /// Their comment.
        comment: Option<String>,
    },
}

/// The status of `version` for `alias` among `approvals` (oldest first), needing
/// `min_approvers` distinct approvers (at least 1).
pub fn approval_status(
    approvals: &[Approval],
    version: ModelVersion,
    alias: &AliasName,
    min_approvers: usize,
) -> ApprovalStatus {
    let mut approvers = BTreeSet::new();
    let mut rejected: Option<(String, Option<String>)> = None;
    for approval in approvals {
        let r = &approval.record;
        if r.version != version || &r.alias != alias {
            continue;
        }
        match r.state {
            ApprovalState::Requested => {
                approvers.clear();
                rejected = None;
            }
            ApprovalState::Approved => {
                approvers.insert(r.by.clone());
            }
            ApprovalState::Rejected => rejected = Some((r.by.clone(), r.comment.clone())),
        }
    }
    let approvers: Vec<String> = approvers.into_iter().collect();
    match rejected {
        Some((by, comment)) => ApprovalStatus::Rejected { by, comment },
        None if approvers.len() >= min_approvers.max(1) => ApprovalStatus::Approved { approvers },
        None => ApprovalStatus::Pending { approvers },
    }
}

/// [`approval_status`] of `version` for `alias` from the model's audit log.
pub async fn current_approval_status(
    registry: &dyn ModelRegistry,
    model: &ModelName,
    version: ModelVersion,
    alias: &AliasName,
    min_approvers: usize,
) -> Result<ApprovalStatus> {
    let approvals = registry.approvals(model).await?;
    Ok(approval_status(&approvals, version, alias, min_approvers))
}

#[cfg(test)]
mod tests {
    use mlops_core::Timestamp;

    use super::*;
    use crate::types::ApprovalRecord;

    fn event(seq: u64, version: u64, state: ApprovalState, by: &str) -> Approval {
        Approval {
            seq,
            time: Timestamp::now(),
            record: ApprovalRecord {
                version: ModelVersion::new(version).unwrap(),
                alias: AliasName::parse("champion").unwrap(),
                state,
                by: by.to_owned(),
                comment: None,
            },
        }
    }

    #[test]
    fn a_request_starts_a_new_round() {
        use ApprovalState::*;
        let alias = AliasName::parse("champion").unwrap();
        let v2 = ModelVersion::new(2).unwrap();
        let log = vec![
            event(1, 2, Requested, "ci"),
            event(2, 2, Rejected, "bob"),
            event(3, 1, Approved, "ann"),
        ];
        assert!(matches!(
            approval_status(&log, v2, &alias, 1),
            ApprovalStatus::Rejected { by, .. } if by == "bob"
        ));
        let mut log = log;
        log.push(event(4, 2, Requested, "ci"));
        log.push(event(5, 2, Approved, "ann"));
        log.push(event(6, 2, Approved, "ann"));
        assert_eq!(
            approval_status(&log, v2, &alias, 2),
            ApprovalStatus::Pending {
                approvers: vec!["ann".into()]
            }
        );
        log.push(event(7, 2, Approved, "cy"));
        assert_eq!(
            approval_status(&log, v2, &alias, 2),
            ApprovalStatus::Approved {
                approvers: vec!["ann".into(), "cy".into()]
            }
        );
        let other = AliasName::parse("staging").unwrap();
        assert_eq!(
            approval_status(&log, v2, &other, 1),
            ApprovalStatus::Pending { approvers: vec![] }
        );
    }
}
