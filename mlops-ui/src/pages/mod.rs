//! The pages and the chart-data endpoint, one module per page family.

use std::sync::Arc;

use axum::extract::State;
use axum::response::Redirect;

use crate::state::Inner;

pub(crate) mod approvals;
pub(crate) mod artifacts;
pub(crate) mod best;
pub(crate) mod chart;
pub(crate) mod compare;
pub(crate) mod drift;
pub(crate) mod experiments;
pub(crate) mod lineage;
pub(crate) mod models;
pub(crate) mod parallel;
pub(crate) mod profile;
pub(crate) mod run;
pub(crate) mod runs;

/// `GET /`: the experiments.
pub(crate) async fn home(State(inner): State<Arc<Inner>>) -> Redirect {
    Redirect::to(&inner.url("/experiments"))
}

/// A run id from a path, refused with a 400 naming it.
pub(crate) fn run_id(text: &str) -> crate::Result<mlops_core::RunId> {
    mlops_core::RunId::parse(text)
        .map_err(|e| crate::UiError::BadRequest(format!("run id {text:?}: {e}")))
}

/// A model name from a path.
pub(crate) fn model_name(text: &str) -> crate::Result<mlops_core::ModelName> {
    mlops_core::ModelName::parse(text)
        .map_err(|e| crate::UiError::BadRequest(format!("model name {text:?}: {e}")))
}

/// A version number from a path.
pub(crate) fn version(text: &str) -> crate::Result<mlops_core::ModelVersion> {
    mlops_core::ModelVersion::parse(text)
        .map_err(|e| crate::UiError::BadRequest(format!("version {text:?}: {e}")))
}
