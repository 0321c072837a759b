//! # mlops-registry
//!
//! A model registry for Rust deployments: registered models, immutable numbered versions
//! whose artifacts carry SHA-256 digests, aliases such as `champion` moved by gated
//! promotion with human approval, one-call rollback, MLflow's stages, and an audit log of
//! every change and decision.
//!
//! - **A backend from a URI**: [`open`]`("./store")` or [`open`]`("http://mlflow:5000")`
//!   gives an `Arc<dyn ModelRegistry>`; [`open_with`] takes the actor, object-store options
//!   and MLflow credentials ([`OpenOptions`]).
//! - **One small async trait**, [`ModelRegistry`] (20 backend primitives: changes to a model
//!   or version go through one [`ModelUpdate`] or [`VersionUpdate`]), with everything
//!   composed from it in [`RegistryExt`] for every backend: `ensure_model`,
//!   `register_from_run`, `promote`, `rollback`, `download_all`, one-field setters,
//!   approvals. A shared conformance suite (`conformance`, feature `conformance`) is run by
//!   every backend.
//! - **Backends.** [`ObjectRegistry`] on any object store ([`StoreUri`]: a local folder by
//!   default, `memory://`, or S3/Azure/GCS with the `cloud` feature), needing no server and no
//!   database; and [`mlflow::MlflowRegistry`] on a real MLflow server's REST API.
//! - **What a version records** ([`VersionInfo`]): its files with their digests (checked
//!   again on every download: a tampered file is [`RegistryError::DigestMismatch`]), the
//!   source run with its experiment and a snapshot of its metrics ([`RunLink`], read from
//!   the tracking store by `register_from_run`), the [`Signature`] as Arrow schemas
//!   (convertible to and from MLflow's signature JSON), a reference drift profile, the
//!   datasets used, the creator and timestamps.
//! - **Safe promotion.** [`promote`] moves an alias only if it holds what the caller expects
//!   ([`Expect`]) and every [`Gate`] passes (built in: [`gates::MetricGate`],
//!   [`gates::SchemaGate`], [`gates::ApprovalGate`]); the decision and every gate's reason go
//!   to the audit log either way. [`rollback`] returns to the previous holder. [`Promoter`]
//!   adds a webhook. [`evaluate`] runs the gates and moves nothing (a pipeline's gate step);
//!   [`approval_status`] says where a review stands.
//! - **Pipeline steps run once**: [`idempotency`] records a step's outcome under a key with
//!   a create-if-absent write, so a retried step returns the first outcome.
//! - **Never loses an update.** On an object store every change is one entry of a per-model
//!   commit log, claimed with a create-if-absent write at the next sequence number and
//!   decided against everything before it; an ambiguous write is resolved by reading back
//!   the writer's transaction id (see [`object`] and `docs/REGISTRY.md`).
//! - **Storage is private records**, versioned and separate from the public types, so a
//!   field added to a public type never changes what is stored; a store written by the
//!   first release reads the same (`tests/fixtures/store-v1`).
//! - **Bad input is refused before any I/O**: names, aliases and paths are parsed types
//!   from `mlops-core`, and sources are [`SourceRef`]s (`runs:/`, `models:/` only).
//!
//! ```
//! # tokio::runtime::Runtime::new()?.block_on(async {
//! use mlops_registry::gates::{Direction, Gate, MetricGate};
//! use mlops_registry::{AliasName, ArtifactPath, Expect, ModelName, NewVersion, OpenOptions};
//! use mlops_registry::RegistryExt;
//! use mlops_track::{ExperimentName, MetricKey, NewRun, TrackingStore};
//! use mlops_core::{Metric, Timestamp};
//!
//! // One local folder would be `"./store"` for both; an MLflow server an `http://` URL.
//! let tracking = mlops_track::LocalStore::open_uri(&"memory://".parse()?).await?;
//! let registry = mlops_registry::open_with("memory://", &OpenOptions::new().actor("ada"))?;
//! let experiment = tracking.create_experiment(&ExperimentName::parse("fraud")?, &[]).await?;
//!
//! // Two training runs (normally your training code's), each with its AUC.
//! let mut runs = Vec::new();
//! for auc in [0.81, 0.86] {
//!     let run = tracking.create_run(NewRun {
//!         experiment_id: experiment.clone(), run_name: None, user_id: "ada".into(),
//!         start_time: Timestamp::now(), tags: vec![],
//!     }).await?.info.run_id;
//!     let point = Metric::new(MetricKey::parse("auc")?, auc, Timestamp::now(), 0);
//!     tracking.log_batch(&run, &[point], &[], &[]).await?;
//!     runs.push(run);
//! }
//!
//! // Register a version from each run: the link to the run and its metrics is read from the
//! // tracking store, and the model is created on first use.
//! let model = ModelName::parse("fraud-detector")?;
//! let mut versions = Vec::new();
//! for run in &runs {
//!     let files = NewVersion::new().with_artifact(ArtifactPath::parse("model.onnx")?, vec![0u8; 16]);
//!     versions.push(registry.register_from_run(&model, &tracking, run, files).await?.version);
//! }
//! let (v1, v2) = (versions[0], versions[1]);
//!
//! let champion = AliasName::parse("champion")?;
//! let gates: Vec<Box<dyn Gate>> = vec![Box::new(MetricGate::new("auc", Direction::HigherIsBetter, 0.01))];
//! assert!(registry.promote(&model, v1, &champion, Expect::Absent, &gates).await?.promoted());
//! // v2 beats v1 by 0.05 >= 0.01, and the alias still holds v1: promoted.
//! assert!(registry.promote(&model, v2, &champion, Expect::Version(v1), &gates).await?.promoted());
//! // A stale precondition is refused, and the refusal is in the audit log.
//! let stale = registry.promote(&model, v1, &champion, Expect::Version(v1), &[]).await?;
//! assert!(!stale.promoted());
//! let served = registry.resolve_alias(&model, &champion).await?;
//! assert_eq!(served.version, v2);
//! // Every file of the champion, each checked against its digest.
//! assert_eq!(registry.download_all(&model, served.version).await?.len(), 1);
//! assert!(registry.audit_log(&model).await?.len() >= 5);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! # })?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod approval_status;
mod checks;
#[cfg(feature = "conformance")]
pub mod conformance;
mod error;
mod evaluate;
mod ext;
pub mod gates;
pub mod idempotency;
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

pub use approval_status::{ApprovalStatus, approval_status, current_approval_status};
pub use checks::{default_actor, sha256_hex};
pub use error::{RegistryError, Result};
pub use evaluate::{Evaluation, evaluate};
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
