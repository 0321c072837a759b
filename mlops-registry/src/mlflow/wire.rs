//! The JSON shapes of MLflow's model-registry REST API (`model_registry.proto` as the
//! server renders it), the calls that send them, and MLflow's errors mapped onto
//! [`RegistryError`].
//!
//! Decoding is lenient where MLflow's rendering varies (int64 fields as numbers or strings,
//! fields and whole lists left out when empty, unknown fields ignored); names, versions and
//! aliases are parsed into their validated types by the caller, which reports anything it
//! cannot represent as [`RegistryError::Corrupt`].

use mlops_mlflow::{Idempotency, MlflowError, RestClient, RestError, RestMethod};
use serde::de::{self, DeserializeOwned, Deserializer};
use serde::{Deserialize, Serialize};

use crate::error::RegistryError;

// --- requests -------------------------------------------------------------------------------

/// A `{key, value}` pair, as MLflow sends tags.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct KeyValue {
    pub(crate) key: String,
    #[serde(default)]
    pub(crate) value: String,
}

impl KeyValue {
    pub(crate) fn new(key: impl Into<String>, value: impl Into<String>) -> Self {
        Self {
            key: key.into(),
            value: value.into(),
        }
    }
}

/// `POST registered-models/create`.
#[derive(Serialize)]
pub(crate) struct CreateModel<'a> {
    pub(crate) name: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) description: Option<&'a str>,
    pub(crate) tags: Vec<KeyValue>,
}

/// `POST model-versions/create`.
#[derive(Serialize)]
pub(crate) struct CreateVersion<'a> {
    pub(crate) name: &'a str,
    pub(crate) source: &'a str,
    pub(crate) run_id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) description: Option<&'a str>,
    pub(crate) tags: Vec<KeyValue>,
}

/// `POST registered-models/rename`.
#[derive(Serialize)]
pub(crate) struct RenameModel<'a> {
    pub(crate) name: &'a str,
    pub(crate) new_name: &'a str,
}

/// `PATCH registered-models/update`, `DELETE registered-models/delete`: a name and maybe a
/// description.
#[derive(Serialize)]
pub(crate) struct ModelRef<'a> {
    pub(crate) name: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) description: Option<&'a str>,
}

/// `PATCH model-versions/update`, `DELETE model-versions/delete`.
#[derive(Serialize)]
pub(crate) struct VersionRef<'a> {
    pub(crate) name: &'a str,
    pub(crate) version: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) description: Option<&'a str>,
}

/// `POST registered-models/set-tag`, `DELETE registered-models/delete-tag` (no value).
#[derive(Serialize)]
pub(crate) struct ModelTag<'a> {
    pub(crate) name: &'a str,
    pub(crate) key: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) value: Option<&'a str>,
}

/// `POST model-versions/set-tag`, `DELETE model-versions/delete-tag` (no value).
#[derive(Serialize)]
pub(crate) struct VersionTag<'a> {
    pub(crate) name: &'a str,
    pub(crate) version: &'a str,
    pub(crate) key: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) value: Option<&'a str>,
}

/// `POST model-versions/transition-stage`.
#[derive(Serialize)]
pub(crate) struct TransitionStage<'a> {
    pub(crate) name: &'a str,
    pub(crate) version: &'a str,
    pub(crate) stage: &'a str,
    pub(crate) archive_existing_versions: bool,
}

/// `POST registered-models/alias` (with a version), `DELETE registered-models/alias`.
#[derive(Serialize)]
pub(crate) struct AliasRef<'a> {
    pub(crate) name: &'a str,
    pub(crate) alias: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) version: Option<&'a str>,
}

// --- answers --------------------------------------------------------------------------------

/// A registered model's `{alias, version}`.
#[derive(Clone, Debug, Deserialize)]
pub(crate) struct WireAlias {
    pub(crate) alias: String,
    pub(crate) version: String,
}

/// `RegisteredModel`.
#[derive(Clone, Debug, Deserialize)]
pub(crate) struct WireModel {
    pub(crate) name: String,
    #[serde(default, deserialize_with = "int64")]
    pub(crate) creation_timestamp: Option<i64>,
    #[serde(default, deserialize_with = "int64")]
    pub(crate) last_updated_timestamp: Option<i64>,
    #[serde(default)]
    pub(crate) user_id: Option<String>,
    #[serde(default)]
    pub(crate) description: Option<String>,
    #[serde(default)]
    pub(crate) latest_versions: Vec<WireVersion>,
    #[serde(default)]
    pub(crate) tags: Vec<KeyValue>,
    #[serde(default)]
    pub(crate) aliases: Vec<WireAlias>,
}

/// `ModelVersion`.
#[derive(Clone, Debug, Deserialize)]
pub(crate) struct WireVersion {
    pub(crate) name: String,
    pub(crate) version: String,
    #[serde(default, deserialize_with = "int64")]
    pub(crate) creation_timestamp: Option<i64>,
    #[serde(default, deserialize_with = "int64")]
    pub(crate) last_updated_timestamp: Option<i64>,
    #[serde(default)]
    pub(crate) user_id: Option<String>,
    #[serde(default)]
    pub(crate) current_stage: Option<String>,
    #[serde(default)]
    pub(crate) description: Option<String>,
    #[serde(default)]
    pub(crate) source: Option<String>,
    #[serde(default)]
    pub(crate) run_id: Option<String>,
    #[serde(default)]
    pub(crate) status: Option<String>,
    #[serde(default)]
    pub(crate) tags: Vec<KeyValue>,
    /// Left out by `model-versions/search` (MLflow #9783).
    #[serde(default)]
    pub(crate) aliases: Vec<String>,
}

/// `{"registered_model": …}`.
#[derive(Deserialize)]
pub(crate) struct ModelResponse {
    pub(crate) registered_model: WireModel,
}

/// `{"model_version": …}`.
#[derive(Deserialize)]
pub(crate) struct VersionResponse {
    pub(crate) model_version: WireVersion,
}

/// `registered-models/search`.
#[derive(Deserialize)]
pub(crate) struct SearchModelsResponse {
    #[serde(default)]
    pub(crate) registered_models: Vec<WireModel>,
    #[serde(default)]
    pub(crate) next_page_token: Option<String>,
}

/// `model-versions/search`.
#[derive(Deserialize)]
pub(crate) struct SearchVersionsResponse {
    #[serde(default)]
    pub(crate) model_versions: Vec<WireVersion>,
    #[serde(default)]
    pub(crate) next_page_token: Option<String>,
}

/// An answer whose content does not matter (`{}`).
#[derive(Deserialize)]
pub(crate) struct Empty {}

/// An int64 that MLflow renders as a JSON number or a string.
fn int64<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<i64>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Raw {
        Number(i64),
        Text(String),
    }
    match Option::<Raw>::deserialize(deserializer)? {
        None => Ok(None),
        Some(Raw::Number(n)) => Ok(Some(n)),
        Some(Raw::Text(s)) => s
            .parse()
            .map(Some)
            .map_err(|_| de::Error::custom(format!("not an int64: {s:?}"))),
    }
}

// --- calls ----------------------------------------------------------------------------------

/// What a call is about, to name it in `NotFound` and `AlreadyExists` errors.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Subject<'a> {
    pub(crate) what: &'static str,
    pub(crate) id: &'a str,
}

/// One registry endpoint call, with its error mapped.
pub(crate) async fn call<B: Serialize + ?Sized, R: DeserializeOwned>(
    rest: &RestClient,
    method: RestMethod,
    endpoint: &str,
    body: &B,
    idempotency: Idempotency,
    subject: Subject<'_>,
) -> Result<R, Failed> {
    rest.call(
        method,
        endpoint,
        &[],
        Some(body),
        idempotency,
        (subject.what, subject.id),
    )
    .await
    .map_err(Failed::new)
}

/// A `GET` with query parameters.
pub(crate) async fn get<R: DeserializeOwned>(
    rest: &RestClient,
    endpoint: &str,
    query: &[(&str, &str)],
    subject: Subject<'_>,
) -> Result<R, Failed> {
    rest.call(
        RestMethod::Get,
        endpoint,
        query,
        None::<&()>,
        Idempotency::Idempotent,
        (subject.what, subject.id),
    )
    .await
    .map_err(Failed::new)
}

/// A failed registry call: the mapped error, and whether the request may have been applied.
#[derive(Debug)]
pub(crate) struct Failed {
    pub(crate) error: RegistryError,
    pub(crate) maybe_applied: bool,
}

impl Failed {
    fn new(e: RestError) -> Self {
        Self {
            error: map_error(e.error),
            maybe_applied: e.maybe_applied,
        }
    }
}

impl From<Failed> for RegistryError {
    fn from(f: Failed) -> Self {
        f.error
    }
}

/// MLflow's error (as mlops-mlflow mapped it) as a [`RegistryError`].
///
/// MLflow answers a missing alias with `INVALID_PARAMETER_VALUE` ("Registered model alias
/// X not found") rather than `RESOURCE_DOES_NOT_EXIST`; that becomes `NotFound` too. A
/// missing registered model named in a version or alias call is reported as the model.
pub(crate) fn map_error(error: MlflowError) -> RegistryError {
    match error {
        MlflowError::NotFound { what, id } => {
            // The message is gone by now; the subject says what the call was about.
            RegistryError::NotFound { what, id }
        }
        MlflowError::AlreadyExists { what, name } => RegistryError::AlreadyExists { what, name },
        MlflowError::InvalidState(message) => RegistryError::InvalidState(message),
        MlflowError::Mlflow {
            code,
            status,
            message,
        } => {
            let missing_alias = message
                .strip_prefix("Registered model alias ")
                .and_then(|rest| rest.trim_end_matches('.').strip_suffix(" not found"));
            if let (true, Some(alias)) = (code == "INVALID_PARAMETER_VALUE", missing_alias) {
                RegistryError::NotFound {
                    what: "alias",
                    id: alias.to_owned(),
                }
            } else {
                RegistryError::Mlflow {
                    code,
                    status,
                    message,
                }
            }
        }
        MlflowError::Transport { url, reason } => RegistryError::Transport { url, reason },
        MlflowError::Invalid(e) => RegistryError::Invalid(e),
        // A kind of client failure newer than this crate: still worded.
        other => RegistryError::Transport {
            url: String::new(),
            reason: other.to_string(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn models_and_versions_decode_as_the_server_renders_them() {
        let model: ModelResponse = serde_json::from_str(
            r#"{"registered_model": {"name": "m1", "creation_timestamp": 1795716889821,
                "last_updated_timestamp": "1795716890113", "description": "d",
                "latest_versions": [{"name": "m1", "version": "2", "current_stage": "None",
                    "source": "runs:/abc/model", "run_id": "abc", "status": "READY",
                    "run_link": ""}],
                "tags": [{"key": "a", "value": "b"}, {"key": "empty"}],
                "aliases": [{"alias": "champion", "version": "1"}]}}"#,
        )
        .unwrap();
        let m = model.registered_model;
        assert_eq!(m.creation_timestamp, Some(1_795_716_889_821));
        assert_eq!(m.last_updated_timestamp, Some(1_795_716_890_113));
        assert_eq!(m.latest_versions[0].version, "2");
        assert_eq!(m.tags[1], KeyValue::new("empty", ""));
        assert_eq!(m.aliases[0].alias, "champion");
        // A search answers `{}` when nothing matches.
        let empty: SearchVersionsResponse = serde_json::from_str("{}").unwrap();
        assert!(empty.model_versions.is_empty() && empty.next_page_token.is_none());
        let bad = serde_json::from_str::<WireVersion>(
            r#"{"name": "m", "version": "1", "creation_timestamp": "soon"}"#,
        );
        assert!(bad.is_err());
    }

    #[test]
    fn mlflow_errors_map_to_registry_errors() {
        let missing_alias = map_error(MlflowError::Mlflow {
            code: "INVALID_PARAMETER_VALUE".into(),
            status: 400,
            message: "Registered model alias champion not found.".into(),
        });
        assert!(
            matches!(&missing_alias, RegistryError::NotFound { what: "alias", id } if id == "champion"),
            "{missing_alias:?}"
        );
        let reserved = map_error(MlflowError::Mlflow {
            code: "INVALID_PARAMETER_VALUE".into(),
            status: 400,
            message: "'latest' alias name (case insensitive) is reserved.".into(),
        });
        assert!(
            matches!(&reserved, RegistryError::Mlflow { code, status: 400, .. } if code == "INVALID_PARAMETER_VALUE"),
            "{reserved:?}"
        );
        let exists = map_error(MlflowError::AlreadyExists {
            what: "registered model",
            name: "m".into(),
        });
        assert!(matches!(
            exists,
            RegistryError::AlreadyExists {
                what: "registered model",
                ..
            }
        ));
        let down = map_error(MlflowError::Transport {
            url: "http://127.0.0.1:1/".into(),
            reason: "connection refused".into(),
        });
        assert!(matches!(down, RegistryError::Transport { .. }));
    }
}
