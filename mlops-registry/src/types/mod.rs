//! What a registry holds, as the public API shows it: registered models, versions and what
//! each records, aliases and their history, approvals, and the audit log. Shaped like
//! MLflow's entities where MLflow has them, so they cross its REST API unchanged. What is
//! stored is not these types but private records ([`crate::records`]), so they can grow.

mod alias;
mod audit;
mod registered;
mod version;

pub use alias::{AliasChange, AliasChangeKind, AliasEvent, Expect, GateReport};
pub use audit::{Approval, ApprovalRecord, ApprovalState, AuditAction, AuditEntry, Decision};
pub use registered::{ModelQuery, Page, RegisteredModel, VersionQuery};
pub use version::{ArtifactEntry, BlobInfo, RunLink, Stage, VersionInfo, VersionStatus};

pub use crate::new_version::NewVersion;
