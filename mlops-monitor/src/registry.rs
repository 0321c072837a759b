//! The registry side: a served version's reference (its registered drift profile and
//! signature) and the audit record of fired events (a version tag, so the model's audit
//! log holds each event with who and when).

use std::sync::Arc;

use mlops_core::{ModelName, ModelVersion, Tag};
use mlops_drift::ReferenceProfile;
use mlops_registry::{ModelRegistry, VersionUpdate};

use crate::capture::{ReferenceSource, VersionReference};
use crate::error::{MonitorError, Result};
use crate::trigger::{AuditLog, TriggerEvent};

/// The tag each fired event sets on its version (its value: the event's id, rule, window,
/// share and drifted features as JSON); every set is an entry of the model's audit log.
pub const TRIGGER_TAG: &str = "mlops.monitor.trigger";

/// References from a registry: the drift profile and signature registered with each
/// version.
#[derive(Clone)]
pub struct RegistryReferences {
    registry: Arc<dyn ModelRegistry>,
}

impl std::fmt::Debug for RegistryReferences {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RegistryReferences")
    }
}

impl RegistryReferences {
    /// References of `registry`'s versions.
    pub fn new(registry: Arc<dyn ModelRegistry>) -> Self {
        Self { registry }
    }
}

/// A profile from its bytes (Parquet or JSON, as `mlops profile build` writes them).
///
/// # Errors
///
/// [`MonitorError::Corrupt`] naming `what` when the bytes are neither.
pub fn profile_from_bytes(what: &str, bytes: &[u8]) -> Result<ReferenceProfile> {
    let corrupt = |reason: String| MonitorError::Corrupt {
        key: what.to_owned(),
        reason,
    };
    if bytes.starts_with(b"PAR1") {
        ReferenceProfile::from_parquet(bytes).map_err(|e| corrupt(e.to_string()))
    } else {
        let text = std::str::from_utf8(bytes)
            .map_err(|_| corrupt("the drift profile is neither Parquet nor JSON".into()))?;
        ReferenceProfile::from_json(text).map_err(|e| corrupt(e.to_string()))
    }
}

fn parse(model: &str, version: &str) -> Result<(ModelName, ModelVersion)> {
    Ok((ModelName::parse(model)?, ModelVersion::parse(version)?))
}

#[async_trait::async_trait]
impl ReferenceSource for RegistryReferences {
    async fn reference(&self, model: &str, version: &str) -> Result<Option<VersionReference>> {
        let (name, number) = parse(model, version)?;
        let info = self.registry.get_version(&name, number).await?;
        let Some(bytes) = self.registry.download_drift_profile(&name, number).await? else {
            return Ok(None);
        };
        let profile = profile_from_bytes(&format!("{model} v{version} drift profile"), &bytes)?;
        let (inputs, outputs) = match info.signature {
            Some(signature) => (Some(signature.inputs), signature.outputs),
            None => (None, None),
        };
        Ok(Some(VersionReference {
            profile: Arc::new(profile),
            inputs,
            outputs,
        }))
    }
}

/// Records fired events in the registry's audit log (see [`TRIGGER_TAG`]).
#[derive(Clone)]
pub struct RegistryAudit {
    registry: Arc<dyn ModelRegistry>,
}

impl std::fmt::Debug for RegistryAudit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RegistryAudit")
    }
}

impl RegistryAudit {
    /// Records in `registry`.
    pub fn new(registry: Arc<dyn ModelRegistry>) -> Self {
        Self { registry }
    }
}

#[async_trait::async_trait]
impl AuditLog for RegistryAudit {
    async fn record(&self, event: &TriggerEvent) -> Result<()> {
        let (name, number) = parse(&event.model, &event.version)?;
        let mut features = event.drifted_features.clone();
        let value = loop {
            let mut value = serde_json::json!({
                "id": event.id,
                "rule": event.rule,
                "window": event.window.id,
                "rows": event.window.rows,
                "drift_share": event.drift_share,
                "drifted_features": features,
            });
            if let Some(performance) = &event.performance {
                value["kind"] = event.kind.clone().into();
                value["performance"] = serde_json::json!({
                    "metric": performance.metric,
                    "value": performance.value,
                    "registered_metric": performance.registered_metric,
                    "registered": performance.registered,
                    "threshold": performance.threshold,
                });
            }
            let value = value.to_string();
            // Within the tag limit: drop features from the end (the share stays).
            if value.chars().count() <= mlops_core::MAX_TAG_VALUE_CHARS || features.is_empty() {
                break value;
            }
            features.truncate(features.len() / 2);
        };
        let tag = Tag::parse(TRIGGER_TAG, value)?;
        self.registry
            .update_version(&name, number, &VersionUpdate::new().set_tag(tag))
            .await?;
        Ok(())
    }
}
