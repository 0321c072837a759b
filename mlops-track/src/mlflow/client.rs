//! HTTP to an MLflow tracking server: URLs, authentication, deadlines, retries with backoff,
//! and MLflow's error JSON mapped onto [`TrackError`].
//!
//! Every call has one deadline (120 s by default, MLflow's own request timeout) that covers
//! all its attempts. An attempt is retried, after an exponential backoff with jitter, when
//!
//! - the request was certainly not processed: the connection could not be opened, or the
//!   server answered 429 (its `Retry-After` is honoured) — for every call;
//! - its outcome is unknown: a timeout, a connection lost before the answer, or a 5xx —
//!   only for calls that are idempotent. Other calls return a [`CallError`] that says the
//!   request may have been applied, and the caller resolves it (see `create_run`).

use std::fmt::Write as _;
use std::time::{Duration, Instant};

use bytes::Bytes;
use reqwest::header::{AUTHORIZATION, CONTENT_TYPE, HeaderValue, RETRY_AFTER, USER_AGENT};
use reqwest::{Method, StatusCode};
use serde::Serialize;
use serde::de::DeserializeOwned;
use url::Url;

use crate::error::TrackError;
use crate::mlflow::wire::ErrorBody;

/// How a call may be retried.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Retry {
    /// Applying the request twice is the same as once: retry on any transient failure.
    Idempotent,
    /// Retry only when the request was certainly not processed.
    IfNotSent,
}

/// What a call is about, to name it in `NotFound` and `AlreadyExists` errors.
#[derive(Clone, Debug)]
pub(crate) struct Subject {
    /// `"experiment"`, `"run"`, `"artifact"`, `"tag"`, …
    pub(crate) what: &'static str,
    /// Its id, name or path.
    pub(crate) id: String,
    /// The run the call is about, when `what` is something inside a run: a missing run is
    /// then reported as the run.
    pub(crate) run: Option<String>,
}

impl Subject {
    pub(crate) fn new(what: &'static str, id: impl Into<String>) -> Self {
        Self {
            what,
            id: id.into(),
            run: None,
        }
    }

    pub(crate) fn in_run(what: &'static str, id: impl Into<String>, run: &str) -> Self {
        Self {
            what,
            id: id.into(),
            run: Some(run.to_owned()),
        }
    }
}

/// A failed call.
#[derive(Debug)]
pub(crate) struct CallError {
    /// What went wrong last.
    pub(crate) error: TrackError,
    /// Whether some attempt may have been applied by the server although its answer was
    /// lost (a timeout, a dropped connection or a 5xx).
    pub(crate) maybe_applied: bool,
}

impl From<CallError> for TrackError {
    fn from(e: CallError) -> Self {
        e.error
    }
}

/// The retry and deadline settings of a client.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Policy {
    /// The deadline of one call, all attempts included.
    pub(crate) timeout: Duration,
    /// The deadline of artifact transfers.
    pub(crate) artifact_timeout: Duration,
    /// Attempts after the first.
    pub(crate) max_retries: u32,
    /// The first backoff; each next one doubles.
    pub(crate) initial_backoff: Duration,
    /// The longest backoff.
    pub(crate) max_backoff: Duration,
}

impl Policy {
    /// The backoff before attempt `attempt + 1`: `initial × 2^(attempt-1)`, capped, with
    /// "equal jitter" (uniform in its upper half), so retries of many clients spread out
    /// but never come sooner than half the nominal delay.
    fn backoff(&self, attempt: u32) -> Duration {
        let exp = attempt.saturating_sub(1).min(20);
        let nominal = self
            .initial_backoff
            .saturating_mul(1 << exp)
            .min(self.max_backoff);
        let half = nominal / 2;
        half + half.mul_f64(random_fraction())
    }
}

/// A uniform random number in `[0, 1)` from the standard library's randomly keyed hasher
/// (each `RandomState` gets fresh keys), so no RNG crate is needed for jitter.
fn random_fraction() -> f64 {
    use std::hash::{BuildHasher, Hasher};
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos()),
    );
    (hasher.finish() >> 11) as f64 / (1u64 << 53) as f64
}

/// One request to send, possibly several times.
pub(crate) struct Request<'a> {
    pub(crate) method: Method,
    pub(crate) url: Url,
    /// The body and its content type.
    pub(crate) body: Option<(Bytes, &'static str)>,
    pub(crate) retry: Retry,
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
    error: TrackError,
    failure: Failure,
    retry_after: Option<Duration>,
}

/// An HTTP client bound to one MLflow server.
#[derive(Clone)]
pub(crate) struct Client {
    http: reqwest::Client,
    /// The server's base URL, ending in `/`.
    base: Url,
    auth: Option<HeaderValue>,
    pub(crate) policy: Policy,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("base", &self.base.as_str())
            .field("auth", &self.auth.as_ref().map(|_| "<redacted>"))
            .field("policy", &self.policy)
            .finish()
    }
}

impl Client {
    pub(crate) fn new(
        base: Url,
        auth: Option<HeaderValue>,
        connect_timeout: Duration,
        policy: Policy,
    ) -> Result<Self, TrackError> {
        let http = reqwest::Client::builder()
            .connect_timeout(connect_timeout)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| TrackError::Transport {
                url: base.to_string(),
                reason: format!("cannot build the HTTP client: {}", chain(&e)),
            })?;
        Ok(Self {
            http,
            base,
            auth,
            policy,
        })
    }

    /// The server's base URL.
    pub(crate) fn base(&self) -> &Url {
        &self.base
    }

    /// The URL of a tracking endpoint, e.g. `runs/create`.
    pub(crate) fn api_url(&self, endpoint: &str) -> Url {
        let mut url = self.base.clone();
        if let Ok(mut segments) = url.path_segments_mut() {
            segments
                .pop_if_empty()
                .extend(["api", "2.0", "mlflow"])
                .extend(endpoint.split('/'));
        }
        url
    }

    /// The URL of the artifact proxy, `api/2.0/mlflow-artifacts/artifacts`, with
    /// `segments` appended (each percent-encoded as one path segment).
    pub(crate) fn artifact_url<'s>(&self, segments: impl IntoIterator<Item = &'s str>) -> Url {
        let mut url = self.base.clone();
        if let Ok(mut path) = url.path_segments_mut() {
            path.pop_if_empty()
                .extend(["api", "2.0", "mlflow-artifacts", "artifacts"])
                .extend(segments);
        }
        url
    }

    /// `POST`s `body` as JSON to a tracking endpoint and decodes the answer.
    pub(crate) async fn post<B: Serialize + ?Sized, R: DeserializeOwned>(
        &self,
        endpoint: &str,
        body: &B,
        retry: Retry,
        subject: &Subject,
    ) -> Result<R, CallError> {
        self.post_within(endpoint, body, retry, subject, self.policy.timeout)
            .await
    }

    /// [`Client::post`] with its own deadline.
    pub(crate) async fn post_within<B: Serialize + ?Sized, R: DeserializeOwned>(
        &self,
        endpoint: &str,
        body: &B,
        retry: Retry,
        subject: &Subject,
        timeout: Duration,
    ) -> Result<R, CallError> {
        let url = self.api_url(endpoint);
        let body = serde_json::to_vec(body).map_err(|e| CallError {
            error: TrackError::Transport {
                url: url.to_string(),
                reason: format!("cannot encode the request: {e}"),
            },
            maybe_applied: false,
        })?;
        let request = Request {
            method: Method::POST,
            url,
            body: Some((Bytes::from(body), "application/json")),
            retry,
            subject,
            timeout,
        };
        self.json(&request).await
    }

    /// `GET`s a tracking endpoint with query parameters and decodes the answer.
    pub(crate) async fn get<R: DeserializeOwned>(
        &self,
        endpoint: &str,
        query: &[(&str, &str)],
        subject: &Subject,
    ) -> Result<R, CallError> {
        self.get_within(endpoint, query, subject, self.policy.timeout)
            .await
    }

    /// [`Client::get`] with its own deadline.
    pub(crate) async fn get_within<R: DeserializeOwned>(
        &self,
        endpoint: &str,
        query: &[(&str, &str)],
        subject: &Subject,
        timeout: Duration,
    ) -> Result<R, CallError> {
        let mut url = self.api_url(endpoint);
        if !query.is_empty() {
            url.query_pairs_mut().extend_pairs(query);
        }
        let request = Request {
            method: Method::GET,
            url,
            body: None,
            retry: Retry::Idempotent,
            subject,
            timeout,
        };
        self.json(&request).await
    }

    /// Sends a request and decodes its JSON answer.
    pub(crate) async fn json<R: DeserializeOwned>(
        &self,
        request: &Request<'_>,
    ) -> Result<R, CallError> {
        let bytes = self.send(request).await?;
        serde_json::from_slice(&bytes).map_err(|e| CallError {
            error: TrackError::Transport {
                url: request.url.to_string(),
                reason: format!(
                    "the answer is not the JSON MLflow sends ({e}); is {} an MLflow tracking \
                     server? The answer began with: {}",
                    self.base,
                    snippet(&bytes)
                ),
            },
            maybe_applied: false,
        })
    }

    /// Sends a request, retrying as its [`Retry`] allows within its deadline, and returns
    /// the body of the first successful answer.
    pub(crate) async fn send(&self, request: &Request<'_>) -> Result<Bytes, CallError> {
        let started = Instant::now();
        let deadline = started + request.timeout;
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
                    request.retry == Retry::Idempotent
                }
                Failure::Final => false,
            };
            if !retryable || attempt > self.policy.max_retries {
                return Err(CallError {
                    error: after_attempts(failed.error, attempt, retryable),
                    maybe_applied,
                });
            }
            let delay = self
                .policy
                .backoff(attempt)
                .max(failed.retry_after.unwrap_or_default());
            let remaining = deadline.saturating_duration_since(Instant::now());
            if delay >= remaining {
                return Err(CallError {
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
            .http
            .request(request.method.clone(), url.clone())
            .timeout(remaining)
            .header(USER_AGENT, concat!("mlops-rs/", env!("CARGO_PKG_VERSION")));
        if let Some(auth) = &self.auth {
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
                &self.base,
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

/// An HTTP method of MLflow's REST API, for [`RestClient::call`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum RestMethod {
    /// `GET`: the parameters go in the query string.
    Get,
    /// `POST`, with a JSON body.
    Post,
    /// `PATCH`, with a JSON body (MLflow's `…/update` endpoints).
    Patch,
    /// `DELETE`, with a JSON body (MLflow reads the parameters of its deletes from the body).
    Delete,
}

/// Whether a request may be sent again when its outcome is unknown (a timeout, a dropped
/// connection, a 5xx).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Idempotency {
    /// Applying it twice is the same as once (reads, sets, updates, deletes): retried on
    /// any transient failure.
    Idempotent,
    /// Applying it twice differs from once (creates): retried only when it certainly did
    /// not reach the server; otherwise the error says it may have been applied.
    NotIdempotent,
}

/// A failed [`RestClient`] call.
#[derive(Debug, thiserror::Error)]
#[error("{error}")]
pub struct RestError {
    /// What went wrong, mapped as every call of this crate's MLflow backend maps it
    /// (`RESOURCE_DOES_NOT_EXIST` is [`TrackError::NotFound`] naming the call's subject,
    /// `RESOURCE_ALREADY_EXISTS` is [`TrackError::AlreadyExists`], other MLflow errors are
    /// [`TrackError::Mlflow`] with the code and message).
    pub error: TrackError,
    /// Whether an attempt may have been applied by the server although its answer was lost;
    /// a caller of a [`Idempotency::NotIdempotent`] call resolves this by reading back.
    pub maybe_applied: bool,
}

impl From<CallError> for RestError {
    fn from(e: CallError) -> Self {
        Self {
            error: e.error,
            maybe_applied: e.maybe_applied,
        }
    }
}

/// Low-level access to an MLflow server's REST API (`/api/2.0/mlflow/<endpoint>`) with the
/// URL, credentials, deadlines, retries and error mapping of an
/// [`MlflowStore`](crate::mlflow::MlflowStore), for endpoints this crate does not wrap
/// (mlops-registry's model-registry backend uses it). Get one with
/// [`MlflowStore::rest_client`](crate::mlflow::MlflowStore::rest_client).
///
/// ```no_run
/// use mlops_track::mlflow::{Idempotency, MlflowStore, RestMethod};
///
/// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
/// let rest = MlflowStore::new("http://127.0.0.1:5000")?.rest_client();
/// let answer: serde_json::Value = rest
///     .call(
///         RestMethod::Get,
///         "registered-models/get",
///         &[("name", "fraud")],
///         None::<&()>,
///         Idempotency::Idempotent,
///         ("registered model", "fraud"),
///     )
///     .await?;
/// # let _ = answer;
/// # Ok(())
/// # }
/// ```
#[derive(Clone, Debug)]
pub struct RestClient {
    client: Client,
}

impl RestClient {
    pub(crate) fn new(client: Client) -> Self {
        Self { client }
    }

    /// The server's base URL, ending in `/`.
    pub fn base_url(&self) -> &str {
        self.client.base().as_str()
    }

    /// Calls `endpoint` (relative to `/api/2.0/mlflow/`, e.g. `registered-models/alias`)
    /// and decodes its JSON answer (MLflow answers `{}` when there is nothing to say;
    /// decode that into `serde_json::Value` or a struct of optional fields).
    ///
    /// `query` goes in the query string, `body` is sent as JSON; `subject` (what the call
    /// is about and its name, e.g. `("registered model", "fraud")`) names the thing in a
    /// [`TrackError::NotFound`] or [`TrackError::AlreadyExists`]. The call has the store's
    /// deadline, all attempts included, and is retried as `idempotency` allows.
    pub async fn call<B: Serialize + ?Sized, R: DeserializeOwned>(
        &self,
        method: RestMethod,
        endpoint: &str,
        query: &[(&str, &str)],
        body: Option<&B>,
        idempotency: Idempotency,
        subject: (&'static str, &str),
    ) -> Result<R, RestError> {
        let mut url = self.client.api_url(endpoint);
        if !query.is_empty() {
            url.query_pairs_mut().extend_pairs(query);
        }
        let body = match body {
            None => None,
            Some(body) => {
                let bytes = serde_json::to_vec(body).map_err(|e| RestError {
                    error: TrackError::Transport {
                        url: url.to_string(),
                        reason: format!("cannot encode the request: {e}"),
                    },
                    maybe_applied: false,
                })?;
                Some((Bytes::from(bytes), "application/json"))
            }
        };
        let subject = Subject::new(subject.0, subject.1);
        let request = Request {
            method: match method {
                RestMethod::Get => Method::GET,
                RestMethod::Post => Method::POST,
                RestMethod::Patch => Method::PATCH,
                RestMethod::Delete => Method::DELETE,
            },
            url,
            body,
            retry: match idempotency {
                Idempotency::Idempotent => Retry::Idempotent,
                Idempotency::NotIdempotent => Retry::IfNotSent,
            },
            subject: &subject,
            timeout: self.client.policy.timeout,
        };
        Ok(self.client.json(&request).await?)
    }
}

/// A request header's value for bearer-token authentication, hidden from debug output.
pub(crate) fn bearer(token: &str) -> Result<HeaderValue, TrackError> {
    sensitive(&format!("Bearer {token}"))
}

/// A request header's value for basic authentication, hidden from debug output.
pub(crate) fn basic(user: &str, password: &str) -> Result<HeaderValue, TrackError> {
    sensitive(&format!(
        "Basic {}",
        base64_encode(format!("{user}:{password}").as_bytes())
    ))
}

fn sensitive(value: &str) -> Result<HeaderValue, TrackError> {
    let mut header = HeaderValue::from_str(value).map_err(|_| {
        TrackError::Invalid(mlops_core::Error::Invalid {
            kind: "MLflow credentials",
            value: "<redacted>".to_owned(),
            rule: mlops_core::Rule::Format {
                expected: "visible ASCII (no control characters or line breaks)",
            },
        })
    })?;
    header.set_sensitive(true);
    Ok(header)
}

/// Standard base64 with padding (RFC 4648), for basic authentication.
fn base64_encode(input: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(input.len().div_ceil(3) * 4);
    for chunk in input.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for (i, shift) in [18, 12, 6, 0].into_iter().enumerate() {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[((n >> shift) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// MLflow's answer to a failed request as a [`TrackError`].
fn http_error(
    url: &Url,
    base: &Url,
    status: StatusCode,
    content_type: &str,
    body: &[u8],
    subject: &Subject,
) -> TrackError {
    let parsed = serde_json::from_slice::<ErrorBody>(body).ok();
    let Some(ErrorBody {
        error_code,
        message,
        detail,
    }) = parsed
    else {
        let hint = match status {
            StatusCode::NOT_FOUND | StatusCode::METHOD_NOT_ALLOWED => format!(
                " ; MLflow answers unknown paths this way: is {base} the base URL of an MLflow \
                 3.x tracking server (with its path prefix, if any)?"
            ),
            StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => {
                " ; check the credentials (token or basic auth)".to_owned()
            }
            _ => String::new(),
        };
        return transport(
            url,
            &format!(
                "HTTP {status} with an answer that is not MLflow's error JSON ({content_type}): \
                 {}{hint}",
                snippet(body)
            ),
        );
    };
    let message = message
        .or_else(|| {
            detail.map(|d| match d {
                serde_json::Value::String(s) => s,
                other => other.to_string(),
            })
        })
        .unwrap_or_default();
    let code = error_code.unwrap_or_else(|| {
        status
            .canonical_reason()
            .unwrap_or("UNKNOWN")
            .to_ascii_uppercase()
            .replace(' ', "_")
    });
    match code.as_str() {
        "RESOURCE_DOES_NOT_EXIST" => match &subject.run {
            Some(run) if message.starts_with("Run with id=") || message.starts_with("Run '") => {
                TrackError::NotFound {
                    what: "run",
                    id: run.clone(),
                }
            }
            _ => TrackError::NotFound {
                what: subject.what,
                id: subject.id.clone(),
            },
        },
        "RESOURCE_ALREADY_EXISTS" => TrackError::AlreadyExists {
            what: subject.what,
            name: subject.id.clone(),
        },
        "INVALID_STATE" => TrackError::InvalidState(message),
        "INVALID_PARAMETER_VALUE" if message.contains("must be in the 'active' state") => {
            TrackError::InvalidState(message)
        }
        _ => TrackError::Mlflow {
            code,
            status: status.as_u16(),
            message,
        },
    }
}

fn transport(url: &Url, reason: &str) -> TrackError {
    TrackError::Transport {
        url: url.to_string(),
        reason: reason.to_owned(),
    }
}

fn after_attempts(error: TrackError, attempts: u32, retryable: bool) -> TrackError {
    match error {
        TrackError::Transport { url, reason } if attempts > 1 || retryable => {
            TrackError::Transport {
                url,
                reason: format!("{reason} (gave up after {attempts} attempts)"),
            }
        }
        other => other,
    }
}

fn past_deadline(error: TrackError, timeout: Duration, attempts: u32) -> TrackError {
    match error {
        TrackError::Transport { url, reason } => TrackError::Transport {
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

fn chain(e: &dyn std::error::Error) -> String {
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

/// The start of a body, on one line, for error messages.
fn snippet(body: &[u8]) -> String {
    const MAX: usize = 200;
    let text = String::from_utf8_lossy(body);
    let one_line: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if one_line.is_empty() {
        return "(empty)".to_owned();
    }
    match one_line.char_indices().nth(MAX) {
        None => format!("{one_line:?}"),
        Some((cut, _)) => format!("{:?}…", &one_line[..cut]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn subject() -> Subject {
        Subject::in_run("tag", "k", "0123")
    }

    fn url() -> Url {
        Url::parse("http://127.0.0.1:5000/api/2.0/mlflow/runs/get").unwrap()
    }

    fn base() -> Url {
        Url::parse("http://127.0.0.1:5000/").unwrap()
    }

    #[test]
    fn mlflow_errors_map_to_typed_errors() {
        type Check = fn(&TrackError) -> bool;
        let cases: [(u16, &str, Check); 6] = [
            (
                404,
                r#"{"error_code": "RESOURCE_DOES_NOT_EXIST", "message": "Run with id=0123 not found"}"#,
                |e| matches!(e, TrackError::NotFound { what: "run", id } if id == "0123"),
            ),
            (
                404,
                r#"{"error_code": "RESOURCE_DOES_NOT_EXIST", "message": "No tag with name: k"}"#,
                |e| matches!(e, TrackError::NotFound { what: "tag", id } if id == "k"),
            ),
            (
                400,
                r#"{"error_code": "RESOURCE_ALREADY_EXISTS", "message": "exists"}"#,
                |e| matches!(e, TrackError::AlreadyExists { what: "tag", .. }),
            ),
            (
                400,
                r#"{"error_code": "INVALID_PARAMETER_VALUE", "message": "The run 0123 must be in the 'active' state. Current state is deleted."}"#,
                |e| matches!(e, TrackError::InvalidState(_)),
            ),
            (
                500,
                r#"{"error_code": "INTERNAL_ERROR", "message": "boom"}"#,
                |e| matches!(e, TrackError::Mlflow { code, status: 500, message } if code == "INTERNAL_ERROR" && message == "boom"),
            ),
            (
                400,
                r#"{"detail": "Artifact path refers to a directory"}"#,
                |e| matches!(e, TrackError::Mlflow { code, status: 400, .. } if code == "BAD_REQUEST"),
            ),
        ];
        for (status, body, check) in cases {
            let status = StatusCode::from_u16(status).unwrap();
            let e = http_error(
                &url(),
                &base(),
                status,
                "application/json",
                body.as_bytes(),
                &subject(),
            );
            assert!(check(&e), "{body} -> {e:?}");
        }
    }

    #[test]
    fn html_answers_are_transport_errors_with_a_hint() {
        let e = http_error(
            &url(),
            &base(),
            StatusCode::NOT_FOUND,
            "text/html",
            b"<!doctype html>\n<title>404 Not Found</title>",
            &subject(),
        );
        let TrackError::Transport { reason, .. } = &e else {
            panic!("{e:?}")
        };
        assert!(reason.contains("HTTP 404"), "{reason}");
        assert!(reason.contains("<title>404 Not Found</title>"), "{reason}");
        assert!(reason.contains("base URL"), "{reason}");
    }

    #[test]
    fn backoff_doubles_within_jitter_and_caps() {
        let policy = Policy {
            timeout: Duration::from_secs(120),
            artifact_timeout: Duration::from_secs(120),
            max_retries: 8,
            initial_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_millis(1000),
        };
        for (attempt, nominal) in [
            (1, 100),
            (2, 200),
            (3, 400),
            (4, 800),
            (5, 1000),
            (30, 1000),
        ] {
            let d = policy.backoff(attempt).as_millis();
            assert!(
                (nominal / 2..=nominal).contains(&d),
                "attempt {attempt}: {d} ms"
            );
        }
        let fractions: Vec<f64> = (0..32).map(|_| random_fraction()).collect();
        assert!(fractions.iter().all(|f| (0.0..1.0).contains(f)));
        assert!(fractions.windows(2).any(|w| w[0] != w[1]));
    }

    #[test]
    fn base64_matches_rfc4648() {
        for (input, expected) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("user:pass", "dXNlcjpwYXNz"),
        ] {
            assert_eq!(base64_encode(input.as_bytes()), expected);
        }
    }

    #[test]
    fn urls_keep_the_base_path_and_encode_segments() {
        let client = Client::new(
            Url::parse("http://h:1/prefix/").unwrap(),
            None,
            Duration::from_secs(1),
            Policy {
                timeout: Duration::from_secs(1),
                artifact_timeout: Duration::from_secs(1),
                max_retries: 0,
                initial_backoff: Duration::from_millis(1),
                max_backoff: Duration::from_millis(1),
            },
        )
        .unwrap();
        assert_eq!(
            client.api_url("runs/log-batch").as_str(),
            "http://h:1/prefix/api/2.0/mlflow/runs/log-batch"
        );
        assert_eq!(
            client
                .artifact_url(["0", "r", "artifacts", "a b", "c+d?.txt"])
                .as_str(),
            "http://h:1/prefix/api/2.0/mlflow-artifacts/artifacts/0/r/artifacts/a%20b/c+d%3F.txt"
        );
    }
}
