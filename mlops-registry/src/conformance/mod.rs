//! The conformance suite every [`ModelRegistry`] backend must pass (feature `conformance`),
//! in the manner of object_store's `integration` module and mlops-track's suite: a backend's
//! tests open a registry and call [`run_all`] (or the checks one by one); each check panics
//! with a message that says what differed.
//!
//! ```no_run
//! # async fn demo() -> mlops_registry::Result<()> {
//! use mlops_registry::{ObjectRegistry, conformance};
//! let registry = ObjectRegistry::open_uri(&"memory://".parse()?)?;
//! conformance::run_all(&registry).await;
//! // Several handles on one store racing (separate processes, in spirit):
//! let other = registry.clone();
//! conformance::concurrent_versions(&[&registry, &other]).await;
//! # Ok(()) }
//! ```
//!
//! Every name a check creates is unique (a random suffix), so the suite also runs against a
//! shared MLflow server, and no check expects an empty registry. The checks are grouped by
//! area (`models`, `versions`, `aliases`, `promotion`, `conveniences`, `concurrency`);
//! [`register_from_run`] also needs a tracking store, the one the backend's runs live in.

// A test suite: failing loudly, with the values that differ, is the point.
#![allow(clippy::panic, clippy::unwrap_used, clippy::expect_used)]

use bytes::Bytes;
use mlops_core::{
    AliasName, ArtifactPath, ExperimentId, Metric, MetricKey, ModelName, ModelVersion, RunId,
    Timestamp,
};

use crate::registry::ModelRegistry;
use crate::types::{NewVersion, RunLink};

mod aliases;
mod concurrency;
mod conveniences;
mod models;
mod promotion;
mod versions;

pub use aliases::{aliases, rollbacks};
pub use concurrency::{
    concurrent_ensure_model, concurrent_promotions, concurrent_versions,
    cross_handle_renames_and_deletes,
};
pub use conveniences::{conveniences, register_from_run};
pub use models::{model_search, models, updates};
pub use promotion::{approvals, audit_log, promotion_gates};
pub use versions::{stages, version_records, versions};

/// Runs every check that needs one registry handle, in turn.
pub async fn run_all(registry: &dyn ModelRegistry) {
    models(registry).await;
    model_search(registry).await;
    versions(registry).await;
    version_records(registry).await;
    stages(registry).await;
    aliases(registry).await;
    promotion_gates(registry).await;
    approvals(registry).await;
    rollbacks(registry).await;
    audit_log(registry).await;
    updates(registry).await;
    conveniences(registry).await;
}

/// A model name no other check (or earlier run) uses.
pub fn unique_model(label: &str) -> ModelName {
    ModelName::parse(format!(
        "conformance-{label}-{}",
        uuid::Uuid::now_v7().simple()
    ))
    .unwrap()
}

fn alias(text: &str) -> AliasName {
    AliasName::parse(text).unwrap()
}

fn path(text: &str) -> ArtifactPath {
    ArtifactPath::parse(text).unwrap()
}

fn v(n: u64) -> ModelVersion {
    ModelVersion::new(n).unwrap()
}

fn files(seed: &str) -> NewVersion {
    NewVersion::new()
        .with_artifact(
            path("model/weights.bin"),
            Bytes::from(format!("weights {seed}")),
        )
        .with_artifact(path("MLmodel"), Bytes::from(format!("flavor: {seed}")))
}

fn run_link(metrics: &[(&str, f64)]) -> RunLink {
    RunLink {
        run_id: RunId::generate(),
        experiment_id: ExperimentId::generate(),
        artifact_path: Some(path("model")),
        metrics: metrics
            .iter()
            .map(|(k, val)| {
                Metric::new(
                    MetricKey::parse(*k).unwrap(),
                    *val,
                    Timestamp::from_millis(1_700_000_000_000).unwrap(),
                    3,
                )
            })
            .collect(),
    }
}

async fn new_model(registry: &dyn ModelRegistry, label: &str) -> ModelName {
    let name = unique_model(label);
    registry
        .create_model(&name, None, &[])
        .await
        .unwrap_or_else(|e| panic!("create_model({name}) failed: {e}"));
    name
}

async fn new_version(
    registry: &dyn ModelRegistry,
    name: &ModelName,
    new: NewVersion,
) -> ModelVersion {
    registry
        .create_version(name, new)
        .await
        .unwrap_or_else(|e| panic!("create_version({name}) failed: {e}"))
        .version
}
