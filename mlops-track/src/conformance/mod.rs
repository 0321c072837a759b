//! The conformance suite every [`TrackingStore`] backend must pass (feature `conformance`),
//! in the manner of object_store's `integration` module: a backend's tests open a store and
//! call [`run_all`] (or the checks one by one), and each check panics with a message that
//! says what differed.
//!
//! ```no_run
//! # async fn demo() -> mlops_track::Result<()> {
//! use mlops_track::{LocalStore, conformance};
//! let store = LocalStore::open_uri(&"memory://".parse()?).await?;
//! conformance::run_all(&store).await;
//! // Several handles on one store (separate processes, in spirit) racing on one name:
//! let other = LocalStore::open(store.root().clone()).await?;
//! conformance::concurrent_create_by_name(&[&store, &other]).await;
//! # Ok(()) }
//! ```
//!
//! The checks assume nothing about the backend beyond the trait's contract, so they also run
//! against a shared MLflow tracking server: every name they create is unique (a random
//! suffix), searches are scoped to what the check created, experiment ids are opaque (MLflow's
//! are decimal), and no check expects an empty store. Where MLflow and the trait leave the
//! exact error open (renaming onto a taken name, logging to a deleted run, a malformed
//! filter), a check asks only for an error; where the trait names the error (`NotFound`,
//! `AlreadyExists`, `ParamConflict`, `TooMany`, `DuplicateKey`), it asks for that variant.

// A test suite: failing loudly, with the values that differ, is the point.
#![allow(clippy::panic, clippy::unwrap_used, clippy::expect_used)]

mod artifacts;
mod bad_input;
mod batches;
mod experiments;
mod ext;
mod inputs;
mod metrics;
mod runs;
mod search;
mod support;

pub use artifacts::artifacts;
pub use bad_input::{BAD_ARTIFACT_PATHS, bad_input};
pub use batches::{batch_limits, log_batch_semantics};
pub use experiments::{concurrent_create_by_name, experiment_search, experiments};
pub use ext::{concurrent_get_or_create, extension};
pub use inputs::inputs;
pub use metrics::{metric_history, non_finite_metrics};
pub use runs::run_lifecycle;
pub use search::search_runs;

use crate::store::TrackingStore;

/// Runs every check that needs one store handle, in turn.
pub async fn run_all(store: &dyn TrackingStore) {
    experiments(store).await;
    experiment_search(store).await;
    run_lifecycle(store).await;
    log_batch_semantics(store).await;
    batch_limits(store).await;
    non_finite_metrics(store).await;
    metric_history(store).await;
    inputs(store).await;
    artifacts(store).await;
    search_runs(store).await;
    bad_input(store).await;
    extension(store).await;
}
