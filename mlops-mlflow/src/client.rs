//! [`RestClient`]: an HTTP client bound to one MLflow server, and its builder.

use std::time::Duration;

use bytes::Bytes;
use reqwest::Method;
use reqwest::header::HeaderValue;
use serde::Serialize;
use serde::de::DeserializeOwned;
use url::Url;

use crate::auth::Credentials;
use crate::base_url;
use crate::call::{Request, chain};
use crate::error::{MlflowError, RestError, Result, transport};
use crate::policy::{Idempotency, Policy};
use crate::subject::Subject;

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

impl RestMethod {
    fn as_reqwest(self) -> Method {
        match self {
            Self::Get => Method::GET,
            Self::Post => Method::POST,
            Self::Patch => Method::PATCH,
            Self::Delete => Method::DELETE,
        }
    }
}

/// An MLflow server's REST API (`/api/2.0/mlflow/<endpoint>`) and artifact proxy
/// (`/api/2.0/mlflow-artifacts/…`), with checked URLs, credentials, deadlines, retries and
/// MLflow's errors mapped by meaning. Cloning is cheap; clones share one connection pool.
///
/// ```no_run
/// use mlops_mlflow::{Idempotency, RestClient, RestMethod};
///
/// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
/// let rest = RestClient::builder("http://127.0.0.1:5000")
///     .credentials_from_env() // MLFLOW_TRACKING_TOKEN, or _USERNAME and _PASSWORD
///     .build()?;
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
#[derive(Clone)]
pub struct RestClient {
    http: reqwest::Client,
    /// The server's base URL, ending in `/`.
    base: Url,
    auth: Option<HeaderValue>,
    policy: Policy,
}

impl std::fmt::Debug for RestClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RestClient")
            .field("base", &self.base.as_str())
            .field("auth", &self.auth.as_ref().map(|_| "<redacted>"))
            .field("policy", &self.policy)
            .finish()
    }
}

/// Settings of a [`RestClient`]; [`RestClient::builder`] starts one.
#[derive(Clone, Debug)]
pub struct RestClientBuilder {
    url: String,
    auth: Option<Credentials>,
    connect_timeout: Duration,
    policy: Policy,
}

impl RestClientBuilder {
    /// The deadline of one call, all its retries included. Default: 120 s, MLflow's own
    /// request timeout.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.policy.timeout = timeout;
        self
    }

    /// The deadline of one artifact upload or download, retries included. Default: 600 s.
    pub fn artifact_timeout(mut self, timeout: Duration) -> Self {
        self.policy.artifact_timeout = timeout;
        self
    }

    /// How long opening a connection may take. Default: 10 s.
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// Attempts after the first one of a failed call. Default: 8 (with the default backoff,
    /// about 40 s of retrying: enough to ride out a server restart).
    pub fn max_retries(mut self, retries: u32) -> Self {
        self.policy.max_retries = retries;
        self
    }

    /// The first backoff and the longest; each retry waits twice as long as the previous
    /// one, with jitter in its upper half. Defaults: 250 ms and 16 s.
    pub fn backoff(mut self, initial: Duration, max: Duration) -> Self {
        self.policy.backoff = mlops_core::Backoff::exponential(initial, max.max(initial));
        self
    }

    /// Sends `Authorization: Bearer <token>` (MLflow's `MLFLOW_TRACKING_TOKEN`).
    pub fn token(mut self, token: impl Into<String>) -> Self {
        self.auth = Some(Credentials::Bearer(token.into()));
        self
    }

    /// Sends HTTP basic authentication (MLflow's `MLFLOW_TRACKING_USERNAME` and
    /// `MLFLOW_TRACKING_PASSWORD`). Credentials never go in the URL.
    pub fn basic_auth(mut self, user: impl Into<String>, password: impl Into<String>) -> Self {
        self.auth = Some(Credentials::Basic(user.into(), password.into()));
        self
    }

    /// Takes credentials from MLflow's variables when set: `MLFLOW_TRACKING_TOKEN`, else
    /// `MLFLOW_TRACKING_USERNAME` with `MLFLOW_TRACKING_PASSWORD`. Without them, the
    /// credentials set before (if any) are kept.
    pub fn credentials_from_env(mut self) -> Self {
        if let Some(credentials) = Credentials::from_env() {
            self.auth = Some(credentials);
        }
        self
    }

    /// The settings of calls so far.
    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    /// The client. Fails on a URL that is not `http://` or `https://`, that carries user
    /// info, a query or a fragment, or that is `https://` in a build without the `tls`
    /// feature; and on credentials that cannot go in a header.
    pub fn build(self) -> Result<RestClient> {
        let base = base_url::parse(&self.url)?;
        let auth = self.auth.as_ref().map(Credentials::header).transpose()?;
        let http = reqwest::Client::builder()
            .connect_timeout(self.connect_timeout)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| {
                transport(
                    &base,
                    &format!("cannot build the HTTP client: {}", chain(&e)),
                )
            })?;
        Ok(RestClient {
            http,
            base,
            auth,
            policy: self.policy,
        })
    }
}

impl RestClient {
    /// A client for the server at `base_url` (e.g. `http://127.0.0.1:5000`, or with the path
    /// prefix of a reverse proxy), with default settings and no credentials.
    pub fn new(base_url: &str) -> Result<Self> {
        Self::builder(base_url).build()
    }

    /// Settings for a client of the server at `base_url`.
    pub fn builder(base_url: &str) -> RestClientBuilder {
        RestClientBuilder {
            url: base_url.to_owned(),
            auth: None,
            connect_timeout: Duration::from_secs(10),
            policy: Policy::default(),
        }
    }

    /// The server's base URL, ending in `/`.
    pub fn base_url(&self) -> &str {
        self.base.as_str()
    }

    pub(crate) fn base(&self) -> &Url {
        &self.base
    }

    pub(crate) fn http(&self) -> &reqwest::Client {
        &self.http
    }

    pub(crate) fn auth(&self) -> Option<&HeaderValue> {
        self.auth.as_ref()
    }

    /// The deadlines and retries of this client's calls.
    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    /// The URL of a REST endpoint, e.g. `runs/create` is
    /// `<base>/api/2.0/mlflow/runs/create`.
    pub fn api_url(&self, endpoint: &str) -> Url {
        base_url::endpoint(&self.base, "mlflow", endpoint.split('/'))
    }

    /// Calls `endpoint` (relative to `/api/2.0/mlflow/`, e.g. `registered-models/alias`)
    /// and decodes its JSON answer (MLflow answers `{}` when there is nothing to say;
    /// decode that into `serde_json::Value` or a struct of optional fields).
    ///
    /// `query` goes in the query string, `body` is sent as JSON; `subject` (what the call
    /// is about and its name, e.g. `("registered model", "fraud")`) names the thing in a
    /// [`MlflowError::NotFound`] or [`MlflowError::AlreadyExists`]. The call has the
    /// client's deadline, all attempts included, and is retried as `idempotency` allows.
    pub async fn call<B: Serialize + ?Sized, R: DeserializeOwned>(
        &self,
        method: RestMethod,
        endpoint: &str,
        query: &[(&str, &str)],
        body: Option<&B>,
        idempotency: Idempotency,
        subject: (&'static str, &str),
    ) -> Result<R, RestError> {
        let mut url = self.api_url(endpoint);
        if !query.is_empty() {
            url.query_pairs_mut().extend_pairs(query);
        }
        let body = body.map(|body| json_body(&url, body)).transpose()?;
        let subject = Subject::new(subject.0, subject.1);
        let request = Request {
            method: method.as_reqwest(),
            url,
            body,
            idempotency,
            subject: &subject,
            timeout: self.policy.timeout,
        };
        self.json(&request).await
    }

    /// `POST`s `body` as JSON to an endpoint and decodes the answer, within the client's
    /// deadline.
    pub async fn post<B: Serialize + ?Sized, R: DeserializeOwned>(
        &self,
        endpoint: &str,
        body: &B,
        idempotency: Idempotency,
        subject: &Subject,
    ) -> Result<R, RestError> {
        self.post_within(endpoint, body, idempotency, subject, self.policy.timeout)
            .await
    }

    /// [`RestClient::post`] within a deadline of its own (the time left of a longer
    /// operation, for example).
    pub async fn post_within<B: Serialize + ?Sized, R: DeserializeOwned>(
        &self,
        endpoint: &str,
        body: &B,
        idempotency: Idempotency,
        subject: &Subject,
        timeout: Duration,
    ) -> Result<R, RestError> {
        let url = self.api_url(endpoint);
        let body = json_body(&url, body)?;
        let request = Request {
            method: Method::POST,
            url,
            body: Some(body),
            idempotency,
            subject,
            timeout,
        };
        self.json(&request).await
    }

    /// `GET`s an endpoint with query parameters and decodes the answer, within the client's
    /// deadline. Reads are idempotent.
    pub async fn get<R: DeserializeOwned>(
        &self,
        endpoint: &str,
        query: &[(&str, &str)],
        subject: &Subject,
    ) -> Result<R, RestError> {
        self.get_within(endpoint, query, subject, self.policy.timeout)
            .await
    }

    /// [`RestClient::get`] within a deadline of its own.
    pub async fn get_within<R: DeserializeOwned>(
        &self,
        endpoint: &str,
        query: &[(&str, &str)],
        subject: &Subject,
        timeout: Duration,
    ) -> Result<R, RestError> {
        let mut url = self.api_url(endpoint);
        if !query.is_empty() {
            url.query_pairs_mut().extend_pairs(query);
        }
        let request = Request {
            method: Method::GET,
            url,
            body: None,
            idempotency: Idempotency::Idempotent,
            subject,
            timeout,
        };
        self.json(&request).await
    }
}

/// A request body as JSON.
fn json_body<B: Serialize + ?Sized>(
    url: &Url,
    body: &B,
) -> Result<(Bytes, &'static str), RestError> {
    let bytes = serde_json::to_vec(body).map_err(|e| {
        RestError::not_applied(MlflowError::Transport {
            url: url.to_string(),
            reason: format!("cannot encode the request: {e}"),
        })
    })?;
    Ok((Bytes::from(bytes), "application/json"))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn debug_output_hides_credentials() {
        let builder = RestClient::builder("http://h:1").token("s3cret");
        assert!(!format!("{builder:?}").contains("s3cret"));
        let client = builder.build().unwrap();
        assert!(!format!("{client:?}").contains("s3cret"));
        let client = RestClient::builder("http://h:1")
            .basic_auth("ada", "pa55")
            .build()
            .unwrap();
        assert!(!format!("{client:?}").contains("pa55"));
    }

    #[test]
    fn settings_reach_the_policy() {
        let client = RestClient::builder("http://h:1/prefix")
            .timeout(Duration::from_secs(3))
            .artifact_timeout(Duration::from_secs(4))
            .max_retries(2)
            .backoff(Duration::from_millis(50), Duration::from_millis(10))
            .build()
            .unwrap();
        let policy = client.policy();
        assert_eq!(policy.timeout(), Duration::from_secs(3));
        assert_eq!(policy.artifact_timeout(), Duration::from_secs(4));
        assert_eq!(policy.max_retries(), 2);
        // The longest pause is never shorter than the first.
        assert_eq!(policy.backoff().max(), Duration::from_millis(50));
        assert_eq!(client.base_url(), "http://h:1/prefix/");
        assert_eq!(
            client.api_url("runs/log-batch").as_str(),
            "http://h:1/prefix/api/2.0/mlflow/runs/log-batch"
        );
    }

    #[test]
    fn bad_urls_and_credentials_are_refused_before_any_call() {
        assert!(matches!(
            RestClient::new("ftp://h/"),
            Err(MlflowError::Invalid(_))
        ));
        assert!(matches!(
            RestClient::builder("http://h:1").token("a\r\nb").build(),
            Err(MlflowError::Invalid(_))
        ));
    }
}
