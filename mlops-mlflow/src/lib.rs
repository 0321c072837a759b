//! # mlops-mlflow
//!
//! The HTTP client of an MLflow 3.x server that mlops-rs's MLflow backends share: the
//! tracking store (`mlops_track::mlflow::MlflowStore`) and the model registry
//! (`mlops_registry::mlflow::MlflowRegistry`) both call MLflow through one [`RestClient`],
//! so URL checks, credentials, deadlines, retries and error mapping are written once.
//!
//! ```no_run
//! use std::time::Duration;
//! use mlops_mlflow::{Idempotency, RestClient, Subject};
//!
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! let rest = RestClient::builder("http://127.0.0.1:5000")
//!     .credentials_from_env() // MLFLOW_TRACKING_TOKEN, or _USERNAME and _PASSWORD
//!     .timeout(Duration::from_secs(30))
//!     .build()?;
//! let experiment: serde_json::Value = rest
//!     .get(
//!         "experiments/get-by-name",
//!         &[("experiment_name", "churn")],
//!         &Subject::new("experiment", "churn"),
//!     )
//!     .await?;
//! # let _ = experiment;
//! # Ok(())
//! # }
//! ```
//!
//! # What every call gets
//!
//! - **A checked base URL**: `http://` or `https://` (the latter with the `tls` feature),
//!   a host, no user info, query or fragment; a path prefix (a server behind a reverse
//!   proxy at `/mlflow`) is kept. Loopback addresses are fine: it is the user's own server.
//!   Environment proxies (`HTTP_PROXY`, …) are not used, and redirects are not followed.
//! - **Credentials** as MLflow's clients send them ([`RestClientBuilder::token`],
//!   [`RestClientBuilder::basic_auth`], [`RestClientBuilder::credentials_from_env`]), in a
//!   header marked sensitive and never shown by `Debug`.
//! - **One deadline** covering all its attempts ([`Policy::timeout`], 120 s by default as
//!   MLflow's own client; [`Policy::artifact_timeout`], 600 s, for artifact transfers).
//! - **Retries** after [`mlops_core::Backoff`] pauses (×2 from 250 ms up to 16 s, with equal
//!   jitter; 8 retries by default): always when the request certainly did not reach the
//!   server (connection refused, HTTP 429 whose `Retry-After` is honoured); when the outcome
//!   is unknown (a timeout, a connection lost before the answer, a 5xx) only for
//!   [`Idempotency::Idempotent`] calls. A [`Idempotency::NotIdempotent`] call whose outcome
//!   is unknown fails with [`RestError::maybe_applied`] set, and the caller reads back
//!   before sending it again.
//! - **Errors by meaning** ([`MlflowError`]): MLflow's error JSON
//!   (`{"error_code": …, "message": …}`) becomes `NotFound` / `AlreadyExists` naming the
//!   call's [`Subject`], `InvalidState`, or `Mlflow` with the code, status and message; an
//!   answer that is not MLflow's JSON (the HTML 404 of a wrong URL, a proxy's error page)
//!   or no answer at all is `Transport` with the reason and a hint.
//!
//! The artifact proxy (`/api/2.0/mlflow-artifacts/artifacts`) is reached through
//! [`RestClient::upload_artifact`], [`RestClient::download_artifact`] and
//! [`RestClient::list_artifacts`], under the folder [`RestClient::proxy_root`] finds in an
//! `mlflow-artifacts:` URI.

mod answer;
mod artifacts;
mod auth;
mod base_url;
mod call;
mod client;
mod error;
pub mod int64;
mod policy;
mod subject;

pub use artifacts::ArtifactEntry;
pub use client::{RestClient, RestClientBuilder, RestMethod};
pub use error::{MlflowError, RestError, Result};
pub use policy::{Idempotency, Policy};
pub use subject::Subject;
