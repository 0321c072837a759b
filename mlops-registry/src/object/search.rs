//! Searches of models and versions, paged by offset over the folded catalog and logs.

use mlops_core::ModelVersion;

use super::ObjectRegistry;
use super::catalog::CatalogModel;
use crate::error::{RegistryError, Result};
use crate::types::{ModelQuery, Page, RegisteredModel, VersionInfo, VersionQuery};

/// The default and the largest page size of searches.
const DEFAULT_PAGE: usize = 100;
const MAX_PAGE: usize = 10_000;

/// One page of `items`; the token is the offset of the next page.
fn page<T: Clone>(items: &[T], max_results: Option<usize>, token: Option<&str>) -> Result<Page<T>> {
    let size = max_results.unwrap_or(DEFAULT_PAGE).clamp(1, MAX_PAGE);
    let start = match token {
        None => 0,
        Some(t) => t
            .parse::<usize>()
            .ok()
            .filter(|s| *s <= items.len())
            .ok_or_else(|| {
                RegistryError::InvalidArgument(format!(
                    "page token {t:?} is not one this registry issued"
                ))
            })?,
    };
    let end = (start + size).min(items.len());
    Ok(Page {
        items: items[start..end].to_vec(),
        next_page_token: (end < items.len()).then(|| end.to_string()),
    })
}

pub(super) async fn models(
    registry: &ObjectRegistry,
    query: &ModelQuery,
) -> Result<Page<RegisteredModel>> {
    let needle = query.name_contains.as_ref().map(|n| n.to_lowercase());
    let mut models: Vec<CatalogModel> = registry
        .inner
        .catalog
        .read(|_, c| {
            c.models
                .values()
                .filter(|m| {
                    needle
                        .as_ref()
                        .is_none_or(|n| m.name.case_folded().contains(n.as_str()))
                })
                .cloned()
                .collect()
        })
        .await?;
    models.sort_by(|a, b| a.name.cmp(&b.name));
    let names = page(&models, query.max_results, query.page_token.as_deref())?;
    let mut items = Vec::with_capacity(names.items.len());
    for model in &names.items {
        let log = registry.model_log(&model.id);
        // One damaged model is reported, not allowed to fail the listing of every model.
        let item = match log
            .read(|_, state| ObjectRegistry::registered(model, state))
            .await
        {
            Ok(item) => item,
            Err(e @ (RegistryError::Corrupt { .. } | RegistryError::TooLarge { .. })) => {
                tracing::warn!(model = %model.name, error = %e, "a damaged model");
                ObjectRegistry::damaged(model, &e)
            }
            Err(e) => return Err(e),
        };
        items.push(item);
    }
    Ok(Page {
        items,
        next_page_token: names.next_page_token,
    })
}

pub(super) async fn versions(
    registry: &ObjectRegistry,
    query: &VersionQuery,
) -> Result<Page<VersionInfo>> {
    let models: Vec<CatalogModel> = match &query.model {
        Some(name) => vec![registry.lookup(name, false).await?.0],
        None => {
            registry
                .inner
                .catalog
                .read(|_, c| c.models.values().cloned().collect())
                .await?
        }
    };
    let mut all = Vec::new();
    for model in &models {
        let log = registry.model_log(&model.id);
        let versions = log
            .read(|_, state| {
                state
                    .versions
                    .keys()
                    .filter_map(|v| ModelVersion::new(*v).ok())
                    .filter_map(|v| state.version_info(v))
                    .map(|mut info| {
                        info.model = model.name.clone();
                        info
                    })
                    .filter(|info| {
                        query
                            .run_id
                            .as_ref()
                            .is_none_or(|run| info.run.as_ref().is_some_and(|r| &r.run_id == run))
                    })
                    .collect::<Vec<VersionInfo>>()
            })
            .await;
        match versions {
            Ok(versions) => all.extend(versions),
            // A search over every model skips (and reports) a damaged one; a search of
            // one model fails with its damage.
            Err(e @ (RegistryError::Corrupt { .. } | RegistryError::TooLarge { .. }))
                if query.model.is_none() =>
            {
                tracing::warn!(model = %model.name, error = %e, "skipping a damaged model");
            }
            Err(e) => return Err(e),
        }
    }
    all.sort_by(|a, b| {
        b.created
            .cmp(&a.created)
            .then(b.version.cmp(&a.version))
            .then(a.model.cmp(&b.model))
    });
    page(&all, query.max_results, query.page_token.as_deref())
}
