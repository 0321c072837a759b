//! One call, sent as many times as its [`Idempotency`] and deadline allow.
//!
//! Every call has one deadline that covers all its attempts. An attempt is retried, after
//! the policy's [`Backoff`](mlops_core::Backoff) with equal jitter, when
//!
//! - the request was certainly not processed: the connection could not be opened, or the
//!   server answered 429 (its `Retry-After` is honoured) — for every call;
//! - its outcome is unknown: a timeout, a connection lost before the answer, or a 5xx —
//!   only for idempotent calls. Other calls return a [`RestError`] that says the request
//!   may have been applied, and the caller resolves it (by reading back).

use std::fmt::Write as _;
use std::time::{Duration, Instant};

use bytes::Bytes;
use reqwest::header::{AUTHORIZATION, CONTENT_TYPE, RETRY_AFTER, USER_AGENT};
use reqwest::{Method, StatusCode};
use serde::de::DeserializeOwned;
use url::Url;

use crate::answer::{http_error, snippet};
use crate::client::RestClient;
use crate::error::{MlflowError, RestError, transport};
use crate::policy::Idempotency;
use crate::subject::Subject;

/// One request to send, possibly several times.
pub(crate) struct Request<'a> {
    pub(crate) method: Method,
    pub(crate) url: Url,
    /// The body and its content type.
    pub(crate) body: Option<(Bytes, &'static str)>,
    pub(crate) idempotency: Idempotency,
    pub(crate) subject: &'a Subject,
    /// The deadline of this call, all attempts included.
    pub(crate) timeout: Duration,
}

/// How one attempt failed.
enum Failure {
    /// Certainly not processed: retry any call.
    NotSent,
    /// Perhaps processed: retry idempotent calls only.
    Unknown,
    /// An answer: do not retry.
    Final,
}

struct AttemptError {
    error: MlflowError,
    failure: Failure,
    retry_after: Option<Duration>,
}

impl RestClient {
    /// Sends a request and decodes its JSON answer.
    pub(crate) async fn json<R: DeserializeOwned>(
        &self,
        request: &Request<'_>,
    ) -> Result<R, RestError> {
        let bytes = self.send(request).await?;
        serde_json::from_slice(&bytes).map_err(|e| {
            RestError::not_applied(transport(
                &request.url,
                &format!(
                    "the answer is not the JSON MLflow sends ({e}); is {} an MLflow tracking \
                     server? The answer began with: {}",
                    self.base(),
                    snippet(&bytes)
                ),
            ))
        })
    }

    /// Sends a request, retrying as its [`Idempotency`] allows within its deadline, and
    /// returns the body of the first successful answer.
    pub(crate) async fn send(&self, request: &Request<'_>) -> Result<Bytes, RestError> {
        let deadline = Instant::now() + request.timeout;
        let backoff = self.policy().backoff().with_jitter();
        let mut maybe_applied = false;
        let mut attempt: u32 = 0;
        loop {
            attempt += 1;
            let remaining = deadline.saturating_duration_since(Instant::now());
            let failed = match self.attempt(request, remaining).await {
                Ok(bytes) => return Ok(bytes),
                Err(failed) => failed,
            };
            let retryable = match failed.failure {
                Failure::NotSent => true,
                Failure::Unknown => {
                    maybe_applied = true;
                    request.idempotency == Idempotency::Idempotent
                }
                Failure::Final => false,
            };
            if !retryable || attempt > self.policy().max_retries() {
                return Err(RestError {
                    error: after_attempts(failed.error, attempt, retryable),
                    maybe_applied,
                });
            }
            let delay = backoff
                .delay(attempt)
                .max(failed.retry_after.unwrap_or_default());
            let remaining = deadline.saturating_duration_since(Instant::now());
            if delay >= remaining {
                return Err(RestError {
                    error: past_deadline(failed.error, request.timeout, attempt),
                    maybe_applied,
                });
            }
            tracing::debug!(
                url = %request.url,
                attempt,
                delay_ms = delay.as_millis(),
                error = %failed.error,
                "MLflow call failed, retrying"
            );
            tokio::time::sleep(delay).await;
        }
    }

    /// One attempt, ending within `remaining`.
    async fn attempt(
        &self,
        request: &Request<'_>,
        remaining: Duration,
    ) -> Result<Bytes, AttemptError> {
        let url = &request.url;
        if remaining.is_zero() {
            return Err(AttemptError {
                error: transport(url, "the call's deadline passed before it could be sent"),
                failure: Failure::Final,
                retry_after: None,
            });
        }
        let mut builder = self
            .http()
            .request(request.method.clone(), url.clone())
            .timeout(remaining)
            .header(USER_AGENT, concat!("mlops-rs/", env!("CARGO_PKG_VERSION")));
        if let Some(auth) = self.auth() {
            builder = builder.header(AUTHORIZATION, auth.clone());
        }
        if let Some((body, content_type)) = &request.body {
            builder = builder
                .header(CONTENT_TYPE, *content_type)
                .body(body.clone());
        }
        let response = builder.send().await.map_err(|e| AttemptError {
            failure: if e.is_connect() {
                Failure::NotSent
            } else if e.is_builder() {
                Failure::Final
            } else {
                Failure::Unknown
            },
            error: transport(url, &describe(&e)),
            retry_after: None,
        })?;
        let status = response.status();
        let content_type = response
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("no content type")
            .to_owned();
        let retry_after = response
            .headers()
            .get(RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(Duration::from_secs);
        let body = response.bytes().await.map_err(|e| AttemptError {
            // The server answered; whether it applied the request is unknown only when it
            // said so (2xx) or failed (5xx), but a half-read answer is not one to trust.
            failure: Failure::Unknown,
            error: transport(url, &format!("the answer was cut off: {}", describe(&e))),
            retry_after: None,
        })?;
        if status.is_success() {
            return Ok(body);
        }
        let failure = if status == StatusCode::TOO_MANY_REQUESTS {
            Failure::NotSent
        } else if status.is_server_error() {
            Failure::Unknown
        } else {
            Failure::Final
        };
        Err(AttemptError {
            error: http_error(
                url,
                self.base(),
                status,
                &content_type,
                &body,
                request.subject,
            ),
            failure,
            retry_after,
        })
    }
}

fn after_attempts(error: MlflowError, attempts: u32, retryable: bool) -> MlflowError {
    match error {
        MlflowError::Transport { url, reason } if attempts > 1 || retryable => {
            MlflowError::Transport {
                url,
                reason: format!("{reason} (gave up after {attempts} attempts)"),
            }
        }
        other => other,
    }
}

fn past_deadline(error: MlflowError, timeout: Duration, attempts: u32) -> MlflowError {
    match error {
        MlflowError::Transport { url, reason } => MlflowError::Transport {
            url,
            reason: format!(
                "{reason} (gave up after {attempts} attempts: the call's deadline of {} s left \
                 no time for another)",
                timeout.as_secs_f64()
            ),
        },
        other => other,
    }
}

/// A reqwest error with its causes, which carry the useful part ("connection refused").
fn describe(e: &reqwest::Error) -> String {
    let kind = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "cannot connect"
    } else {
        "request failed"
    };
    format!("{kind}: {}", chain(e))
}

/// An error and its sources on one line, leaving out causes its text already includes.
pub(crate) fn chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            let _ = write!(text, ": {cause_text}");
        }
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn down() -> MlflowError {
        MlflowError::Transport {
            url: "http://h:1/".into(),
            reason: "cannot connect".into(),
        }
    }

    #[test]
    fn transport_errors_say_how_many_attempts_were_made() {
        let e = after_attempts(down(), 4, true);
        assert!(e.to_string().contains("gave up after 4 attempts"), "{e}");
        // One final answer is not "giving up".
        assert_eq!(
            after_attempts(down(), 1, false).to_string(),
            down().to_string()
        );
        let e = past_deadline(down(), Duration::from_millis(1500), 2);
        assert!(e.to_string().contains("deadline of 1.5 s"), "{e}");
        let kept = past_deadline(MlflowError::InvalidState("x".into()), Duration::ZERO, 2);
        assert!(matches!(kept, MlflowError::InvalidState(_)));
    }
}
