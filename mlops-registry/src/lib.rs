//! # mlops-registry
//!
//! A model registry for Rust deployments: registered models, immutable numbered versions
//! whose artifacts carry SHA-256 digests, aliases such as `champion` moved by gated
//! promotion with human approval, one-call rollback, MLflow's stages, and an audit log of
//! every change and decision.
//!
//! - **One small async trait**, [`ModelRegistry`], with conveniences in [`RegistryExt`] and a
//!   shared conformance suite (`conformance`, feature `conformance`) that every backend runs.
//! - **Backends.** [`ObjectRegistry`] on any object store ([`StoreUri`]: a local folder by
//!   default, `memory://`, or S3/Azure/GCS with the `cloud` feature), needing no server and no
//!   database; and [`mlflow::MlflowRegistry`] on a real MLflow server's REST API.
//! - **What a version records** ([`VersionInfo`]): its files with their digests (checked
//!   again on every download: a tampered file is [`RegistryError::DigestMismatch`]), the
//!   source run with its experiment and a snapshot of its metrics ([`RunLink`]), the
//!   [`Signature`] as Arrow schemas (convertible to and from MLflow's signature JSON), a
//!   reference drift profile, the datasets used, the creator and timestamps.
//! - **Safe promotion.** [`promote`] moves an alias only if it holds what the caller expects
//!   ([`Expect`]) and every [`Gate`] passes (built in: [`gates::MetricGate`],
//!   [`gates::SchemaGate`], [`gates::ApprovalGate`]); the decision and every gate's reason go
//!   to the audit log either way. [`rollback`] returns to the previous holder. [`Promoter`]
//!   adds a webhook.
//! - **Never loses an update.** On an object store every change is one entry of a per-model
//!   commit log, claimed with a create-if-absent write at the next sequence number and
//!   decided against everything before it; an ambiguous write is resolved by reading back
//!   the writer's transaction id (see [`object`] and `docs/REGISTRY.md`).
//! - **Bad input is refused before any I/O**: names, aliases and paths are parsed types
//!   from `mlops-core`, and sources are [`SourceRef`]s (`runs:/`, `models:/` only).
//!
//! ```
//! # tokio::runtime::Runtime::new()?.block_on(async {
//! use mlops_registry::gates::{Direction, Gate, MetricGate};
//! use mlops_registry::{Expect, ModelRegistry, NewVersion, ObjectRegistry, RunLink, promote};
//! use mlops_registry::{AliasName, ArtifactPath, ModelName};
//! use mlops_core::{ExperimentId, Metric, MetricKey, RunId, Timestamp};
//!
//! // A local folder would be `ObjectRegistry::open_uri(&"./mlops-registry".parse()?)`.
//! let registry = ObjectRegistry::open_uri(&"memory://".parse()?)?.with_actor("ada")?;
//! let model = ModelName::parse("fraud-detector")?;
//! registry.create_model(&model, Some("card fraud"), &[]).await?;
//!
//! let version = |auc: f64| {
//!     let run = RunLink {
//!         run_id: RunId::generate(),
//!         experiment_id: ExperimentId::generate(),
//!         artifact_path: None,
//!         metrics: vec![Metric::new(MetricKey::parse("auc")?, auc, Timestamp::now(), 0)],
//!     };
//!     Ok::<_, mlops_core::Error>(
//!         NewVersion::new().with_artifact(ArtifactPath::parse("model.onnx")?, vec![0u8; 16]).with_run(run),
//!     )
//! };
//! let v1 = registry.create_version(&model, version(0.81)?).await?.version;
//! let v2 = registry.create_version(&model, version(0.86)?).await?.version;
//!
//! let champion = AliasName::parse("champion")?;
//! let gates: Vec<Box<dyn Gate>> = vec![Box::new(MetricGate::new("auc", Direction::HigherIsBetter, 0.01))];
//! assert!(promote(&registry, &model, v1, &champion, Expect::Absent, &gates).await?.promoted());
//! // v2 beats v1 by 0.05 >= 0.01, and the alias still holds v1: promoted.
//! assert!(promote(&registry, &model, v2, &champion, Expect::Version(v1), &gates).await?.promoted());
//! // A stale precondition is refused, and the refusal is in the audit log.
//! let stale = promote(&registry, &model, v1, &champion, Expect::Version(v1), &[]).await?;
//! assert!(!stale.promoted());
//! assert_eq!(registry.resolve_alias(&model, &champion).await?.version, v2);
//! assert!(registry.audit_log(&model).await?.len() >= 5);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! # })?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod checks;
#[cfg(feature = "conformance")]
pub mod conformance;
mod error;
mod ext;
pub mod gates;
pub mod mlflow;
mod new_version;
pub mod object;
mod open;
mod promote;
mod records;
mod registry;
mod signature;
mod source_ref;
mod types;
mod update;
pub mod webhook;

pub use checks::sha256_hex;
pub use error::{RegistryError, Result};
pub use ext::RegistryExt;
pub use gates::{Gate, GateContext};
pub use object::ObjectRegistry;
pub use open::{MlflowCredentials, OpenOptions, is_mlflow_url, open, open_with};
pub use promote::{Outcome, Promoter, Promotion, promote, rollback, rollback_target};
pub use registry::ModelRegistry;
pub use signature::Signature;
pub use source_ref::{SourceRef, VersionRef, download_uri, resolve_ref};
pub use types::{
    AliasChange, AliasChangeKind, AliasEvent, Approval, ApprovalRecord, ApprovalState,
    ArtifactEntry, AuditAction, AuditEntry, BlobInfo, Decision, Expect, GateReport, ModelQuery,
    NewVersion, Page, RegisteredModel, RunLink, Stage, VersionInfo, VersionQuery, VersionStatus,
};
pub use update::{ModelUpdate, StageChange, VersionUpdate};
pub use webhook::{Webhook, WebhookEvent, WebhookKind, WebhookOptions};

pub use mlops_core::{AliasName, ArtifactPath, ModelName, ModelVersion, StoreUri};
