//! Webhooks: a JSON event POSTed (with retries) when an alias is promoted or rolled back,
//! and when an approval is requested.
//!
//! Outbound URLs follow RELIABILITY §1.4 by default: `https` only, the host resolved once
//! and refused unless every address is global (no loopback, private, link-local, unique
//! local or IPv4-mapped private addresses), the connection pinned to the checked address,
//! and no redirects. [`WebhookOptions::allow_local`] relaxes the address and scheme rules
//! for a receiver on this machine (tests, sidecars) and must be asked for explicitly.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use mlops_core::{AliasName, Backoff, ModelName, ModelVersion, Timestamp};
use serde::{Deserialize, Serialize};
use url::Url;

use crate::error::{RegistryError, Result};
use crate::types::GateReport;

/// What happened.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WebhookKind {
    /// An alias was promoted.
    Promoted,
    /// An alias was rolled back.
    RolledBack,
    /// An approval was requested.
    ApprovalRequested,
}

/// The JSON body of a webhook POST.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WebhookEvent {
    /// A unique id (the log entry's transaction id): receivers de-duplicate retries on it.
    pub id: String,
    /// What happened.
    pub kind: WebhookKind,
    /// The model.
    pub model: ModelName,
    /// The alias.
    pub alias: AliasName,
    /// The version promoted to, rolled back to, or to be approved.
    pub version: ModelVersion,
    /// The previous holder (promotions and rollbacks).
    pub previous: Option<ModelVersion>,
    /// Who acted.
    pub actor: String,
    /// When.
    pub time: Timestamp,
    /// The gates evaluated (promotions).
    #[serde(default)]
    pub gates: Vec<GateReport>,
}

/// The longest pause between two attempts, however many are configured.
const MAX_PAUSE: Duration = Duration::from_secs(30);

/// How a webhook is sent.
#[derive(Clone, Debug)]
pub struct WebhookOptions {
    /// Attempts in all (5 by default); connection errors, 429 and 5xx are retried.
    pub attempts: u32,
    /// The first pause between attempts (200 ms), doubled each time up to 30 s.
    pub backoff: Duration,
    /// The timeout of one attempt (10 s).
    pub timeout: Duration,
    allow_local: bool,
}

impl Default for WebhookOptions {
    fn default() -> Self {
        Self {
            attempts: 5,
            backoff: Duration::from_millis(200),
            timeout: Duration::from_secs(10),
            allow_local: false,
        }
    }
}

impl WebhookOptions {
    /// Also accepts `http` and loopback or private addresses: only for a receiver you run
    /// yourself, on this machine or network.
    pub fn allow_local(mut self) -> Self {
        self.allow_local = true;
        self
    }

    /// Sets the first pause between attempts.
    pub fn with_backoff(mut self, backoff: Duration) -> Self {
        self.backoff = backoff;
        self
    }

    /// Sets the number of attempts (at least 1).
    pub fn with_attempts(mut self, attempts: u32) -> Self {
        self.attempts = attempts.max(1);
        self
    }
}

/// A webhook receiver, checked and pinned when built.
#[derive(Clone, Debug)]
pub struct Webhook {
    url: Url,
    client: reqwest::Client,
    options: WebhookOptions,
}

/// Whether an address is globally routable (RELIABILITY §1.4's "non-global" list refused).
pub fn is_global(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let o = v4.octets();
            !(v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.is_documentation()
                || v4.is_multicast()
                || o[0] == 0
                || (o[0] == 100 && (o[1] & 0xc0) == 64)
                || (o[0] == 198 && (o[1] & 0xfe) == 18)
                || o[0] >= 240)
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_global(IpAddr::V4(v4));
            }
            let s = v6.segments();
            !(v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (s[0] & 0xfe00) == 0xfc00
                || (s[0] & 0xffc0) == 0xfe80
                || s[0] == 0x2001 && s[1] == 0x0db8)
        }
    }
}

/// Checks a webhook `url` (https only, or http when `allow_private`; no user information, no
/// fragment), resolves its host once, refuses non-global addresses unless `allow_private`, and
/// builds a client pinned to the resolved address with redirects off: the one SSRF check
/// every webhook sender of the workspace (registry webhooks, monitor triggers) builds on.
/// `hint` is appended to the refusals `allow_private` would lift (say how to lift them).
/// Errors are the reason, for the caller's own error type.
pub async fn pinned_client(
    url: &str,
    allow_private: bool,
    timeout: Duration,
    hint: &str,
) -> std::result::Result<(Url, reqwest::Client), String> {
    let parsed = Url::parse(url).map_err(|e| e.to_string())?;
    match parsed.scheme() {
        "https" => {}
        "http" if allow_private => {}
        other => return Err(format!("scheme {other:?}; only https is allowed{hint}")),
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err("user information in the URL is refused".into());
    }
    if parsed.fragment().is_some() {
        return Err("a #fragment is refused".into());
    }
    let host = parsed.host_str().ok_or("it has no host")?.to_owned();
    let port = parsed.port_or_known_default().ok_or("it has no port")?;
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    let addresses: Vec<SocketAddr> = match bare.parse::<IpAddr>() {
        Ok(ip) => vec![SocketAddr::new(ip, port)],
        Err(_) => tokio::net::lookup_host((bare, port))
            .await
            .map_err(|e| format!("cannot resolve {bare}: {e}"))?
            .collect(),
    };
    let Some(first) = addresses.first().copied() else {
        return Err(format!("{bare} resolves to no address"));
    };
    if !allow_private && let Some(bad) = addresses.iter().find(|a| !is_global(a.ip())) {
        return Err(format!(
            "{bare} resolves to {}, which is not a public address{hint}",
            bad.ip()
        ));
    }
    let mut builder = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(timeout);
    if bare.parse::<IpAddr>().is_err() {
        builder = builder.resolve(bare, first);
    }
    let client = builder
        .build()
        .map_err(|e| format!("cannot build an HTTP client: {e}"))?;
    Ok((parsed, client))
}

impl Webhook {
    /// Checks `url` (see the module docs and [`pinned_client`]), resolves its host once and
    /// pins it.
    pub async fn new(url: &str, options: WebhookOptions) -> Result<Self> {
        let (url, client) = pinned_client(url, options.allow_local, options.timeout, "")
            .await
            .map_err(|reason| RegistryError::WebhookRefused {
                url: url.to_owned(),
                reason,
            })?;
        Ok(Self {
            url,
            client,
            options,
        })
    }

    /// The receiver's URL.
    pub fn url(&self) -> &Url {
        &self.url
    }

    /// POSTs `event` as JSON, retrying connection errors, 429 and 5xx with exponential
    /// backoff. Returns the number of attempts made; any other status is an error at once.
    pub async fn send(&self, event: &WebhookEvent) -> Result<u32> {
        self.send_json(event, &event.id).await
    }

    /// POSTs any JSON `body` (a chat message, a card) the way [`Webhook::send`] does, with
    /// `idempotency_key` in the `idempotency-key` header for receivers that de-duplicate.
    pub async fn send_json(
        &self,
        body: &(impl Serialize + Sync),
        idempotency_key: &str,
    ) -> Result<u32> {
        let transport = |reason: String| RegistryError::Transport {
            url: self.url.to_string(),
            reason,
        };
        let body = serde_json::to_vec(body).map_err(|e| transport(e.to_string()))?;
        let attempts = self.options.attempts.max(1);
        let pauses = Backoff::exponential(self.options.backoff, MAX_PAUSE);
        let mut last = String::new();
        for attempt in 1..=attempts {
            let sent = self
                .client
                .post(self.url.clone())
                .header("content-type", "application/json")
                .header("idempotency-key", idempotency_key)
                .body(body.clone())
                .send()
                .await;
            match sent {
                Ok(response) if response.status().is_success() => return Ok(attempt),
                Ok(response) => {
                    let status = response.status();
                    last = format!("HTTP {status}");
                    if !(status.is_server_error() || status.as_u16() == 429) {
                        return Err(transport(format!("the receiver answered {last}")));
                    }
                }
                Err(e) => last = e.to_string(),
            }
            if attempt < attempts {
                tracing::debug!(url = %self.url, attempt, error = %last, "retrying a webhook");
                tokio::time::sleep(pauses.delay(attempt)).await;
            }
        }
        Err(transport(format!(
            "gave up after {attempts} attempts: {last}"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn private_and_mapped_addresses_are_not_global() {
        for text in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "0.0.0.0",
            "100.64.0.1",
            "::1",
            "fc00::1",
            "fd12::1",
            "fe80::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
        ] {
            assert!(!is_global(text.parse().unwrap()), "{text}");
        }
        for text in ["8.8.8.8", "1.1.1.1", "2606:4700::1111"] {
            assert!(is_global(text.parse().unwrap()), "{text}");
        }
    }

    #[tokio::test]
    async fn strict_urls_are_refused_before_any_connection() {
        for url in [
            "http://example.com/hook",
            "ftp://example.com/hook",
            "https://127.0.0.1/hook",
            "https://169.254.169.254/latest",
            "https://[::1]/hook",
            "https://user:pass@example.com/hook",
            "file:///etc/passwd",
        ] {
            let err = Webhook::new(url, WebhookOptions::default())
                .await
                .unwrap_err();
            assert!(
                matches!(err, RegistryError::WebhookRefused { .. }),
                "{url}: {err}"
            );
        }
    }
}
