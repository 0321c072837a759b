//! [`ModelUpdate`] and [`VersionUpdate`]: the changes [`ModelRegistry::update_model`] and
//! [`ModelRegistry::update_version`] apply to a model's or a version's mutable fields.
//!
//! [`ModelRegistry::update_model`]: crate::ModelRegistry::update_model
//! [`ModelRegistry::update_version`]: crate::ModelRegistry::update_version

use mlops_core::{Tag, TagKey};

use crate::types::{Stage, VersionStatus};

/// Changes to a registered model, applied in field order (description, tags set, tags
/// deleted). Every field is checked before anything is written; each change is then
/// recorded as its own audit entry, as the one-field setters of
/// [`RegistryExt`](crate::RegistryExt) record it.
///
/// ```
/// use mlops_core::{Tag, TagKey};
/// use mlops_registry::ModelUpdate;
/// let update = ModelUpdate::new()
///     .description("card fraud, scored per transaction")
///     .set_tag(Tag::parse("team", "risk")?)
///     .delete_tag(TagKey::parse("draft")?);
/// assert!(!update.is_empty());
/// # Ok::<(), mlops_core::Error>(())
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ModelUpdate {
    /// A new description.
    pub description: Option<String>,
    /// Tags to set (last write wins).
    pub set_tags: Vec<Tag>,
    /// Tags to delete (no error when absent).
    pub delete_tags: Vec<TagKey>,
}

impl ModelUpdate {
    /// No change yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets the description.
    pub fn description(mut self, description: impl Into<String>) -> Self {
        self.description = Some(description.into());
        self
    }

    /// Sets a tag.
    pub fn set_tag(mut self, tag: Tag) -> Self {
        self.set_tags.push(tag);
        self
    }

    /// Deletes a tag.
    pub fn delete_tag(mut self, key: TagKey) -> Self {
        self.delete_tags.push(key);
        self
    }

    /// Whether it changes nothing.
    pub fn is_empty(&self) -> bool {
        self.description.is_none() && self.set_tags.is_empty() && self.delete_tags.is_empty()
    }
}

/// A move to one of MLflow's (deprecated) stages.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StageChange {
    /// The new stage.
    pub stage: Stage,
    /// Also move every other version in that stage (Staging or Production) to Archived.
    pub archive_existing: bool,
}

/// Changes to a model version, applied in field order (description, tags set, tags deleted,
/// status, stage). Every field is checked before anything is written; each change is then
/// recorded as its own audit entry. The registration-time fields (files, run, signature,
/// drift profile, datasets) never change.
///
/// ```
/// use mlops_core::Tag;
/// use mlops_registry::{Stage, VersionStatus, VersionUpdate};
/// let update = VersionUpdate::new()
///     .set_tag(Tag::parse("validated", "yes")?)
///     .status(VersionStatus::Ready)
///     .stage(Stage::Production, true);
/// assert_eq!(update.stage.map(|s| s.archive_existing), Some(true));
/// # Ok::<(), mlops_core::Error>(())
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct VersionUpdate {
    /// A new description.
    pub description: Option<String>,
    /// Tags to set (last write wins).
    pub set_tags: Vec<Tag>,
    /// Tags to delete (no error when absent).
    pub delete_tags: Vec<TagKey>,
    /// A new registration status.
    pub status: Option<VersionStatus>,
    /// A move to a stage.
    pub stage: Option<StageChange>,
}

impl VersionUpdate {
    /// No change yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets the description.
    pub fn description(mut self, description: impl Into<String>) -> Self {
        self.description = Some(description.into());
        self
    }

    /// Sets a tag.
    pub fn set_tag(mut self, tag: Tag) -> Self {
        self.set_tags.push(tag);
        self
    }

    /// Deletes a tag.
    pub fn delete_tag(mut self, key: TagKey) -> Self {
        self.delete_tags.push(key);
        self
    }

    /// Sets the registration status.
    pub fn status(mut self, status: VersionStatus) -> Self {
        self.status = Some(status);
        self
    }

    /// Moves the version to `stage`; with `archive_existing`, the other versions in that
    /// stage (Staging or Production) move to Archived.
    pub fn stage(mut self, stage: Stage, archive_existing: bool) -> Self {
        self.stage = Some(StageChange {
            stage,
            archive_existing,
        });
        self
    }

    /// Whether it changes nothing.
    pub fn is_empty(&self) -> bool {
        self.description.is_none()
            && self.set_tags.is_empty()
            && self.delete_tags.is_empty()
            && self.status.is_none()
            && self.stage.is_none()
    }
}
