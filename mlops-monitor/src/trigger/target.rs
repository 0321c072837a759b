//! Where events go: a generic signed webhook, a Slack incoming webhook, or Airflow's REST
//! API (an asset event that starts the DAGs scheduled on the asset).
//!
//! Every URL is checked once when the target is built: `https` only, the host resolved and
//! refused unless every address is global (no loopback, private, link-local or unique-local
//! address), the connection pinned to the checked address, no redirects. `allow_private`
//! (`--allow-private-webhooks`) relaxes the address and scheme rules for receivers on this
//! machine or network.
//!
//! The Airflow variant (Airflow 3 REST API, bearer token):
//!
//! ```text
//! GET  <base>/api/v2/assets?name_pattern=<asset>&limit=100   (then uri_pattern=<asset>)
//!      -> {"assets": [{"id": 7, "name": "...", "uri": "..."}], ...}; the asset whose name or
//!         uri equals <asset> exactly
//! POST <base>/api/v2/assets/events
//!      Authorization: Bearer <token>
//!      {"asset_id": 7, "extra": {"mlops_event": <the generic JSON body>}}
//! ```

use std::time::Duration;

use mlops_core::Timestamp;
use sha2::{Digest, Sha256};
use url::Url;

use crate::error::{MonitorError, Result};

use super::event::TriggerEvent;
use super::sign::signature;

/// The payload and protocol of a target.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum TargetKind {
    /// The event's JSON, signed when a secret is set.
    Generic,
    /// A Slack incoming webhook (`text` and `blocks`).
    Slack,
    /// Airflow's `POST /api/v2/assets/events` for the named asset (name or URI).
    Airflow {
        /// The asset's name or URI.
        asset: String,
        /// The API token (bearer).
        token: Option<String>,
    },
}

/// A checked, pinned target.
#[derive(Clone, Debug)]
pub struct Target {
    url: Url,
    kind: TargetKind,
    client: reqwest::Client,
    secret: Option<Vec<u8>>,
}

/// How one attempt ended, when it did not succeed.
#[derive(Debug)]
pub(crate) struct Failed {
    pub(crate) reason: String,
    /// Whether trying again may help (connection errors, 408, 429, 5xx).
    pub(crate) retry: bool,
}

/// Whether an address is globally routable: the registry webhooks' rule, so both refuse the
/// same targets.
pub use mlops_registry::webhook::is_global;
use mlops_registry::webhook::pinned_client;

impl Target {
    /// Checks `url` (see the [module docs](self)), resolves its host once and pins it.
    ///
    /// # Errors
    ///
    /// [`MonitorError::WebhookRefused`] naming the URL and the rule it broke.
    pub async fn new(
        url: &str,
        kind: TargetKind,
        secret: Option<Vec<u8>>,
        allow_private: bool,
        timeout: Duration,
    ) -> Result<Self> {
        let hint = " (--allow-private-webhooks allows it)";
        let (url, client) = pinned_client(url, allow_private, timeout, hint)
            .await
            .map_err(|reason| MonitorError::WebhookRefused {
                url: url.to_owned(),
                reason,
            })?;
        Ok(Self {
            url,
            kind,
            client,
            secret,
        })
    }

    /// The URL.
    pub fn url(&self) -> &Url {
        &self.url
    }

    /// The kind.
    pub fn kind(&self) -> &TargetKind {
        &self.kind
    }

    /// A short stable id of the target (kind and URL), naming its outbox records.
    pub fn id(&self) -> String {
        let kind = match &self.kind {
            TargetKind::Generic => "generic".to_owned(),
            TargetKind::Slack => "slack".to_owned(),
            TargetKind::Airflow { asset, .. } => format!("airflow:{asset}"),
        };
        let digest = Sha256::digest(format!("{kind} {}", self.url).as_bytes());
        digest.as_slice()[..8]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }

    /// One delivery attempt of `event`.
    pub(crate) async fn send(&self, event: &TriggerEvent) -> std::result::Result<(), Failed> {
        let body = serde_json::to_vec(event).map_err(|e| Failed {
            reason: e.to_string(),
            retry: false,
        })?;
        match &self.kind {
            TargetKind::Generic => self.post(self.url.clone(), event, body, None).await,
            TargetKind::Slack => {
                let text = event.summary();
                let slack = serde_json::json!({
                    "text": text,
                    "blocks": [
                        {"type": "section", "text": {"type": "mrkdwn", "text": text}},
                        {"type": "context", "elements": [
                            {"type": "mrkdwn", "text": format!("delivery `{}`", event.id)}
                        ]}
                    ]
                });
                let body = serde_json::to_vec(&slack).map_err(|e| Failed {
                    reason: e.to_string(),
                    retry: false,
                })?;
                self.post(self.url.clone(), event, body, None).await
            }
            TargetKind::Airflow { asset, token } => {
                let id = self.airflow_asset(asset, token.as_deref()).await?;
                let body = serde_json::json!({
                    "asset_id": id,
                    "extra": {"mlops_event": event},
                });
                let body = serde_json::to_vec(&body).map_err(|e| Failed {
                    reason: e.to_string(),
                    retry: false,
                })?;
                let url = self.endpoint("api/v2/assets/events")?;
                self.post(url, event, body, token.as_deref()).await
            }
        }
    }

    fn endpoint(&self, path: &str) -> std::result::Result<Url, Failed> {
        let mut base = self.url.clone();
        if !base.path().ends_with('/') {
            base.set_path(&format!("{}/", base.path()));
        }
        base.join(path).map_err(|e| Failed {
            reason: e.to_string(),
            retry: false,
        })
    }

    /// The id of the Airflow asset named (or with the URI) `asset`.
    async fn airflow_asset(
        &self,
        asset: &str,
        token: Option<&str>,
    ) -> std::result::Result<i64, Failed> {
        for field in ["name_pattern", "uri_pattern"] {
            let mut url = self.endpoint("api/v2/assets")?;
            url.query_pairs_mut()
                .append_pair(field, asset)
                .append_pair("limit", "100");
            let mut request = self.client.get(url);
            if let Some(token) = token {
                request = request.bearer_auth(token);
            }
            let response = request.send().await.map_err(|e| Failed {
                reason: e.to_string(),
                retry: true,
            })?;
            let status = response.status();
            if !status.is_success() {
                return Err(status_failure(status));
            }
            let listing: serde_json::Value = response.json().await.map_err(|e| Failed {
                reason: format!("the asset listing is not JSON: {e}"),
                retry: true,
            })?;
            let found = listing["assets"].as_array().and_then(|assets| {
                assets.iter().find_map(|a| {
                    (a["name"].as_str() == Some(asset) || a["uri"].as_str() == Some(asset))
                        .then(|| a["id"].as_i64())
                        .flatten()
                })
            });
            if let Some(id) = found {
                return Ok(id);
            }
        }
        Err(Failed {
            reason: format!("Airflow has no asset named {asset:?} (a DAG must schedule on it)"),
            retry: true,
        })
    }

    async fn post(
        &self,
        url: Url,
        event: &TriggerEvent,
        body: Vec<u8>,
        bearer: Option<&str>,
    ) -> std::result::Result<(), Failed> {
        let timestamp = Timestamp::now().as_millis() / 1000;
        let mut request = self
            .client
            .post(url)
            .header("content-type", "application/json")
            .header("mlops-delivery-id", event.id.as_str())
            .header("mlops-timestamp", timestamp.to_string())
            .header("idempotency-key", event.id.as_str());
        if let Some(secret) = &self.secret {
            request = request.header(
                "mlops-signature",
                signature(secret, &event.id, timestamp, &body),
            );
        }
        if let Some(token) = bearer {
            request = request.bearer_auth(token);
        }
        let response = request.body(body).send().await.map_err(|e| Failed {
            reason: e.to_string(),
            retry: true,
        })?;
        let status = response.status();
        if status.is_success() {
            Ok(())
        } else {
            Err(status_failure(status))
        }
    }
}

fn status_failure(status: reqwest::StatusCode) -> Failed {
    Failed {
        reason: format!("the receiver answered HTTP {status}"),
        retry: status.is_server_error() || status.as_u16() == 429 || status.as_u16() == 408,
    }
}
