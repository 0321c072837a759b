//! The MLflow calls the backend is built from: reads, tag writes, searches (and the paging
//! this backend does itself where MLflow's filter cannot express a query).

use std::collections::BTreeMap;

use mlops_core::{AliasName, ModelName, ModelVersion, RunId};
use mlops_mlflow::{Idempotency, RestMethod};

use super::MlflowRegistry;
use super::backend::{MAX_MODEL_PAGE, MAX_VERSION_PAGE, OFFSET_TOKEN};
use super::convert::{corrupt, model_subject, version_id, version_subject};
use super::meta;
use super::wire::{
    self, Empty, KeyValue, ModelResponse, ModelTag, SearchModelsResponse, SearchVersionsResponse,
    VersionResponse, VersionTag, WireModel, WireVersion,
};
use crate::error::{RegistryError, Result};

impl MlflowRegistry {
    pub(super) fn rest(&self) -> &mlops_mlflow::RestClient {
        &self.inner.rest
    }

    pub(super) fn store(&self) -> &mlops_track::mlflow::MlflowStore {
        &self.inner.store
    }

    pub(super) async fn wire_model(&self, name: &str) -> Result<WireModel> {
        let answer: ModelResponse = wire::get(
            self.rest(),
            "registered-models/get",
            &[("name", name)],
            model_subject(name),
        )
        .await?;
        Ok(answer.registered_model)
    }

    pub(super) async fn wire_version(
        &self,
        name: &ModelName,
        version: ModelVersion,
    ) -> Result<WireVersion> {
        let id = version_id(name, version);
        let v = version.to_string();
        let answer: VersionResponse = wire::get(
            self.rest(),
            "model-versions/get",
            &[("name", name.as_str()), ("version", &v)],
            version_subject(&id),
        )
        .await?;
        Ok(answer.model_version)
    }

    pub(super) async fn set_model_tag_raw(&self, name: &str, tag: &KeyValue) -> Result<()> {
        let _: Empty = wire::call(
            self.rest(),
            RestMethod::Post,
            "registered-models/set-tag",
            &ModelTag {
                name,
                key: &tag.key,
                value: Some(&tag.value),
            },
            Idempotency::Idempotent,
            model_subject(name),
        )
        .await?;
        Ok(())
    }

    pub(super) async fn set_version_tag_raw(
        &self,
        name: &ModelName,
        version: ModelVersion,
        key: &str,
        value: &str,
    ) -> Result<()> {
        let id = version_id(name, version);
        let v = version.to_string();
        let _: Empty = wire::call(
            self.rest(),
            RestMethod::Post,
            "model-versions/set-tag",
            &VersionTag {
                name: name.as_str(),
                version: &v,
                key,
                value: Some(value),
            },
            Idempotency::Idempotent,
            version_subject(&id),
        )
        .await?;
        Ok(())
    }

    /// A registered model whose name equals `name` ignoring case, if any.
    pub(super) async fn same_name_ignoring_case(&self, name: &ModelName) -> Result<Option<String>> {
        let folded = name.case_folded();
        // `_` is LIKE's one-character wildcard: compare the answers exactly.
        let filter = format!("name ILIKE '{}'", name.as_str());
        let mut token: Option<String> = None;
        loop {
            let page = self
                .search_models_raw(Some(&filter), MAX_MODEL_PAGE, token.as_deref())
                .await?;
            if let Some(found) = page
                .registered_models
                .iter()
                .find(|m| m.name.to_lowercase() == folded)
            {
                return Ok(Some(found.name.clone()));
            }
            match page.next_page_token {
                Some(next) if !next.is_empty() => token = Some(next),
                _ => return Ok(None),
            }
        }
    }

    pub(super) async fn search_models_raw(
        &self,
        filter: Option<&str>,
        max_results: usize,
        page_token: Option<&str>,
    ) -> Result<SearchModelsResponse> {
        let max = max_results.to_string();
        let mut query = vec![("max_results", max.as_str()), ("order_by", "name ASC")];
        if let Some(filter) = filter {
            query.push(("filter", filter));
        }
        if let Some(token) = page_token {
            query.push(("page_token", token));
        }
        Ok(wire::get(
            self.rest(),
            "registered-models/search",
            &query,
            model_subject("(search)"),
        )
        .await?)
    }

    pub(super) async fn search_versions_raw(
        &self,
        filter: &str,
        max_results: usize,
        page_token: Option<&str>,
    ) -> Result<SearchVersionsResponse> {
        let max = max_results.to_string();
        let mut query = vec![
            ("max_results", max.as_str()),
            ("order_by", "version_number DESC"),
        ];
        if !filter.is_empty() {
            query.push(("filter", filter));
        }
        if let Some(token) = page_token {
            query.push(("page_token", token));
        }
        Ok(wire::get(
            self.rest(),
            "model-versions/search",
            &query,
            version_subject("(search)"),
        )
        .await?)
    }

    /// Every version of a model, MLflow's rendering.
    pub(super) async fn all_versions(&self, name: &ModelName) -> Result<Vec<WireVersion>> {
        let filter = format!("name = '{}'", name.as_str());
        let mut out = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let page = self
                .search_versions_raw(&filter, MAX_VERSION_PAGE, token.as_deref())
                .await?;
            out.extend(page.model_versions);
            match page.next_page_token {
                Some(next) if !next.is_empty() => token = Some(next),
                _ => return Ok(out),
            }
        }
    }

    /// The version created by transaction `txn`, if any.
    pub(super) async fn version_by_txn(
        &self,
        name: &ModelName,
        txn: &str,
    ) -> Result<Option<WireVersion>> {
        let filter = format!(
            "name = '{}' AND tags.`{}` = '{txn}'",
            name.as_str(),
            meta::TXN
        );
        let page = self.search_versions_raw(&filter, 10, None).await?;
        Ok(page.model_versions.into_iter().next())
    }

    /// The versions registered from `run`, newest first, paged with an offset token.
    ///
    /// MLflow's `run_id` of a version registered here is the run holding its files: the
    /// source run when it lives on this server, else a holder run. So a version matches
    /// when its manifest names the run (the tag `mlops.registry.run`), or, for versions
    /// registered by other clients, when MLflow's `run_id` is the run. MLflow's filter has
    /// no `OR`: both searches are read whole and merged.
    pub(super) async fn versions_of_run(
        &self,
        clauses: &[String],
        run: &RunId,
        max: usize,
        page_token: Option<&str>,
    ) -> Result<SearchVersionsResponse> {
        let offset = match page_token {
            None => 0,
            Some(token) => token
                .strip_prefix(OFFSET_TOKEN)
                .and_then(|n| n.parse::<usize>().ok())
                .ok_or_else(|| {
                    RegistryError::InvalidArgument(format!("invalid page token {token:?}"))
                })?,
        };
        let mut found: BTreeMap<(String, String), WireVersion> = BTreeMap::new();
        for clause in [
            format!("run_id = '{}'", run.as_str()),
            format!("tags.`{}` = '{}'", meta::RUN, run.as_str()),
        ] {
            let filter = clauses
                .iter()
                .cloned()
                .chain([clause])
                .collect::<Vec<_>>()
                .join(" AND ");
            let mut token: Option<String> = None;
            loop {
                let page = self
                    .search_versions_raw(&filter, MAX_VERSION_PAGE, token.as_deref())
                    .await?;
                for w in page.model_versions {
                    // A version registered here belongs to the run its manifest names.
                    let ours = w.tags.iter().any(|t| t.key == meta::MANIFEST);
                    let named = w
                        .tags
                        .iter()
                        .any(|t| t.key == meta::RUN && t.value == run.as_str());
                    if !ours || named {
                        found.insert((w.name.clone(), w.version.clone()), w);
                    }
                }
                match page.next_page_token {
                    Some(next) if !next.is_empty() => token = Some(next),
                    _ => break,
                }
            }
        }
        let mut all: Vec<WireVersion> = found.into_values().collect();
        all.sort_by_key(|w| {
            (
                std::cmp::Reverse(w.creation_timestamp),
                std::cmp::Reverse(w.version.parse::<u64>().unwrap_or(0)),
            )
        });
        let next = offset + max;
        let next_page_token = (next < all.len()).then(|| format!("{OFFSET_TOKEN}{next}"));
        Ok(SearchVersionsResponse {
            model_versions: all.into_iter().skip(offset).take(max).collect(),
            next_page_token,
        })
    }

    /// The version an alias points to: `NotFound` naming the alias when it is unset, or
    /// the model when there is no such model.
    pub(super) async fn alias_holder_raw(
        &self,
        name: &ModelName,
        alias: &AliasName,
    ) -> Result<ModelVersion> {
        let w = self.wire_by_alias(name, alias).await?;
        ModelVersion::parse(&w.version).map_err(|e| corrupt(&format!("alias {alias} of {name}"), e))
    }

    pub(super) async fn wire_by_alias(
        &self,
        name: &ModelName,
        alias: &AliasName,
    ) -> Result<WireVersion> {
        // A missing model answers RESOURCE_DOES_NOT_EXIST; a missing alias answers
        // INVALID_PARAMETER_VALUE, which `wire` maps to NotFound naming the alias.
        let answer: VersionResponse = wire::get(
            self.rest(),
            "registered-models/alias",
            &[("name", name.as_str()), ("alias", alias.as_str())],
            model_subject(name.as_str()),
        )
        .await?;
        Ok(answer.model_version)
    }
}
