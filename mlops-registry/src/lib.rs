//! # mlops-registry
//!
//! A model registry for Rust deployments: registered models, immutable numbered versions
//! with digests of their artifacts, aliases such as `champion`, gated promotion with human
//! approval, one-call rollback, and an append-only audit log.
//!
//! The plan for this crate (see `ARCHITECTURE.md`): one small async `ModelRegistry` trait
//! with an object-store backend (a per-model commit log claimed with create-if-absent
//! writes, so two promoters never lose an update) and a client for MLflow's model-registry
//! REST API. Until those land, this crate re-exports the names it is built on.
//!
//! ```
//! use mlops_registry::{AliasName, ModelName, ModelVersion};
//!
//! let model = ModelName::parse("fraud-detector")?;
//! let champion = AliasName::parse("champion")?;
//! let v = ModelVersion::FIRST.next();
//! assert_eq!((model.as_str(), champion.as_str(), v.get()), ("fraud-detector", "champion", 2));
//! // `latest` and `v<digits>` are reserved, as in MLflow.
//! assert!(AliasName::parse("latest").is_err());
//! # Ok::<(), mlops_registry::Error>(())
//! ```

pub use mlops_core::{AliasName, ArtifactPath, Error, ModelName, ModelVersion, StoreUri};
