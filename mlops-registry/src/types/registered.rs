//! Registered models and the searches of models and versions.

use std::collections::BTreeMap;

use mlops_core::{AliasName, ModelName, ModelVersion, RunId, Tag, Timestamp};
use serde::{Deserialize, Serialize};

/// A registered model: a name that versions are registered under.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RegisteredModel {
    /// Its name (unique, compared case-insensitively).
    pub name: ModelName,
    /// When it was created.
    pub created: Timestamp,
    /// When it last changed.
    pub updated: Timestamp,
    /// Who created it.
    pub creator: String,
    /// Its description.
    #[serde(default)]
    pub description: Option<String>,
    /// Its tags.
    #[serde(default)]
    pub tags: Vec<Tag>,
    /// Its aliases and the versions they point to.
    #[serde(default)]
    pub aliases: BTreeMap<AliasName, ModelVersion>,
    /// The newest live version, if any.
    #[serde(default)]
    pub latest_version: Option<ModelVersion>,
    /// Set (to the error) when the model's own records could not be read: a listing then
    /// shows the model by its catalog entry alone instead of failing for every model.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub damaged: Option<String>,
}

/// A registered-model search.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ModelQuery {
    /// Only names containing this text (case-insensitive).
    pub name_contains: Option<String>,
    /// The page size (100 by default).
    pub max_results: Option<usize>,
    /// The token from the previous page.
    pub page_token: Option<String>,
}

/// A model-version search.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct VersionQuery {
    /// Only versions of this model.
    pub model: Option<ModelName>,
    /// Only versions registered from this run.
    pub run_id: Option<RunId>,
    /// The page size (100 by default).
    pub max_results: Option<usize>,
    /// The token from the previous page.
    pub page_token: Option<String>,
}

pub use mlops_track::Page;
