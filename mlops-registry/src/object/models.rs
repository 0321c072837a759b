//! Registered models: create, read, update, rename and delete. A model is a catalog entry
//! (its name and id) and a commit log of its own; the two are written in an order that a
//! crash can only leave harmless (docs/REGISTRY.md).

use mlops_core::{ModelName, Tag, Timestamp};

use super::ObjectRegistry;
use super::catalog::{Catalog, CatalogModel, CatalogOp};
use super::state::ModelOp;
use crate::checks::check_description;
use crate::error::{RegistryError, Result};
use crate::types::RegisteredModel;
use crate::update::ModelUpdate;

pub(super) async fn create(
    registry: &ObjectRegistry,
    name: &ModelName,
    description: Option<&str>,
    tags: &[Tag],
) -> Result<RegisteredModel> {
    if let Some(d) = description {
        check_description(d)?;
    }
    // A name already taken is refused before anything is written: starting the model's
    // log first would leave an unreferenced `models/<id>/` folder behind every time.
    registry
        .inner
        .catalog
        .read(|_, catalog| name_is_free(catalog, name, None))
        .await??;
    let id = uuid::Uuid::now_v7().simple().to_string();
    let created = Timestamp::now();
    // The model's log starts before the name is claimed, so a visible model always has
    // its description and tags; only a race lost to a concurrent creator of the same name
    // (after the check above) leaves an unreferenced folder.
    let log = registry.model_log(&id);
    log.append(&registry.actor, |_| {
        Ok(ModelOp::Created {
            name: name.clone(),
            description: description.map(str::to_owned),
            tags: tags.to_vec(),
        })
    })
    .await?;
    let model = CatalogModel {
        id: id.clone(),
        name: name.clone(),
        created,
        creator: registry.actor.to_string(),
    };
    registry
        .inner
        .catalog
        .append(&registry.actor, |catalog| {
            name_is_free(catalog, name, None)?;
            Ok(CatalogOp::Create {
                model: model.clone(),
            })
        })
        .await?;
    log.read(|_, state| ObjectRegistry::registered(&model, state))
        .await
}

/// Whether `name` may name a model (other than the one with id `except`): no live model's
/// name equals it ignoring case, nor looks like it ([`Catalog::confusable`]).
fn name_is_free(catalog: &Catalog, name: &ModelName, except: Option<&str>) -> Result<()> {
    if let Some(other) = catalog.models.get(&name.case_folded())
        && except.is_none_or(|id| id != other.id)
    {
        return Err(RegistryError::AlreadyExists {
            what: "registered model",
            name: other.name.to_string(),
        });
    }
    if let Some(other) = catalog.confusable(name, except) {
        return Err(RegistryError::Confusable {
            name: name.to_string(),
            existing: other.name.to_string(),
        });
    }
    Ok(())
}

pub(super) async fn get(registry: &ObjectRegistry, name: &ModelName) -> Result<RegisteredModel> {
    registry.read_model(name, ObjectRegistry::registered).await
}

/// One log entry per change, in [`ModelUpdate`]'s order, each checked before any is written.
pub(super) async fn update(
    registry: &ObjectRegistry,
    name: &ModelName,
    update: &ModelUpdate,
) -> Result<RegisteredModel> {
    if let Some(d) = &update.description {
        check_description(d)?;
    }
    let description = update.description.iter().map(|d| ModelOp::SetDescription {
        description: d.clone(),
    });
    let set = update
        .set_tags
        .iter()
        .map(|tag| ModelOp::SetTag { tag: tag.clone() });
    let delete = update
        .delete_tags
        .iter()
        .map(|key| ModelOp::DeleteTag { key: key.clone() });
    for op in description.chain(set).chain(delete) {
        registry.append(name, |_| Ok(op.clone())).await?;
    }
    get(registry, name).await
}

pub(super) async fn rename(
    registry: &ObjectRegistry,
    name: &ModelName,
    new_name: &ModelName,
) -> Result<RegisteredModel> {
    let (model, log) = registry.lookup(name, true).await?;
    registry
        .inner
        .catalog
        .append(&registry.actor, |catalog| {
            if catalog.get(name).is_none_or(|m| m.id != model.id) {
                return Err(RegistryError::not_found("registered model", name.as_str()));
            }
            name_is_free(catalog, new_name, Some(&model.id))?;
            Ok(CatalogOp::Rename {
                id: model.id.clone(),
                from: name.clone(),
                to: new_name.clone(),
            })
        })
        .await?;
    log.append(&registry.actor, |_| {
        Ok(ModelOp::Renamed {
            from: name.clone(),
            to: new_name.clone(),
        })
    })
    .await?;
    get(registry, new_name).await
}

pub(super) async fn delete(registry: &ObjectRegistry, name: &ModelName) -> Result<()> {
    let (model, log) = registry.lookup(name, true).await?;
    // The model's log first: from its `deleted` entry on, every write to it fails, also
    // from processes whose cached catalog still has it. A crash before the catalog entry
    // leaves the name taken; deleting again finishes the job.
    let deleted = log
        .append(&registry.actor, |state| {
            if state.deleted {
                return Err(RegistryError::not_found("registered model", name.as_str()));
            }
            Ok(ModelOp::Deleted { name: name.clone() })
        })
        .await;
    match deleted {
        Ok(_) | Err(RegistryError::NotFound { .. }) => {}
        Err(e) => return Err(e),
    }
    registry
        .inner
        .catalog
        .append(&registry.actor, |catalog| {
            if catalog.get(name).is_none_or(|m| m.id != model.id) {
                return Err(RegistryError::not_found("registered model", name.as_str()));
            }
            Ok(CatalogOp::Delete {
                id: model.id.clone(),
                name: name.clone(),
            })
        })
        .await?;
    Ok(())
}
