//! The MLflow backend: [`MlflowStore`] implements [`TrackingStore`](crate::TrackingStore)
//! against an MLflow 3.x tracking server's REST API, through [`mlops_mlflow::RestClient`]
//! (URL checks, credentials, deadlines, retries and error mapping, shared with
//! mlops-registry's MLflow backend).
//!
//! ```no_run
//! use mlops_track::mlflow::MlflowStore;
//! use mlops_track::{ExperimentName, NewRun, Timestamp, TrackingStore, TrackingStoreExt};
//!
//! # async fn demo() -> mlops_track::Result<()> {
//! let store = MlflowStore::builder("http://127.0.0.1:5000")
//!     .credentials_from_env() // MLFLOW_TRACKING_TOKEN, or _USERNAME and _PASSWORD
//!     .build()?;
//! let experiment = store
//!     .get_or_create_experiment(&ExperimentName::parse("quickstart")?)
//!     .await?;
//! let run = store
//!     .create_run(NewRun {
//!         experiment_id: experiment,
//!         run_name: None,
//!         user_id: "ada".into(),
//!         start_time: Timestamp::now(),
//!         tags: vec![],
//!     })
//!     .await?;
//! # let _ = run;
//! # Ok(())
//! # }
//! ```
//!
//! # Calls
//!
//! | trait method | MLflow endpoint |
//! | --- | --- |
//! | `create_experiment`, `get_experiment`, `get_experiment_by_name` | `experiments/create`, `experiments/get`, `experiments/get-by-name` |
//! | `search_experiments` | `experiments/search` (filter, order and page token passed through) |
//! | `rename_experiment`, `set_experiment_lifecycle` (deleted, active), `set_experiment_tag` | `experiments/update`, `…/delete`, `…/restore`, `…/set-experiment-tag` |
//! | `create_run`, `get_run`, `update_run`, `set_run_lifecycle` (deleted, active) | `runs/create`, `runs/get`, `runs/update`, `runs/delete`, `runs/restore` |
//! | `log_batch` | one `runs/log-batch` request, so applied whole or not at all; over MLflow's limits (1000 metrics, 100 params, 100 tags, 1000 items) it is refused with `TooMany` before anything is sent |
//! | [`MlflowStore::log_batch_chunked`] (not in the trait) | any size, split into requests within those limits and 900 kB, params first |
//! | `log_inputs`, `delete_tag` | `runs/log-inputs`, `runs/delete-tag` |
//! | `get_metric_history` | `metrics/get-history`, paged with `max_results` and `page_token` |
//! | `search_runs` | `runs/search`: the filter and order-by are checked with [`crate::filter`] for an error that names the position, then sent as written |
//! | `log_artifact`, `download_artifact`, `list_artifacts` | the artifact proxy, `mlflow-artifacts/artifacts/<exp>/<run>/artifacts/<path>` |
//!
//! # Errors
//!
//! MLflow's error JSON (`{"error_code": …, "message": …}`) becomes a typed error:
//! `RESOURCE_DOES_NOT_EXIST` is [`NotFound`](crate::TrackError::NotFound),
//! `RESOURCE_ALREADY_EXISTS` (HTTP 400) is [`AlreadyExists`](crate::TrackError::AlreadyExists),
//! a param logged again with another value is
//! [`ParamConflict`](crate::TrackError::ParamConflict) with both values (read back from the
//! run), writing to a deleted run or experiment is
//! [`InvalidState`](crate::TrackError::InvalidState), and anything else is
//! [`Mlflow`](crate::TrackError::Mlflow) with MLflow's code, HTTP status and message. An
//! answer that is not MLflow's JSON (the HTML 404 of a wrong URL, a proxy's error page) or
//! no answer at all is [`Transport`](crate::TrackError::Transport) with the reason.
//!
//! # Retries and deadlines
//!
//! Each call has a deadline covering all its attempts ([`MlflowStoreBuilder::timeout`],
//! 120 s by default, as MLflow's client). Failed attempts are retried after exponential
//! backoff ([`mlops_core::Backoff`]: ×2 from 250 ms up to 16 s, with jitter; 8 retries by
//! default), as [`mlops_mlflow`] retries every call:
//!
//! - always when the request certainly did not reach the server (connection refused or
//!   timed out while connecting, HTTP 429, whose `Retry-After` is honoured);
//! - when the outcome is unknown (a timeout, a connection lost before the answer, a 5xx),
//!   only for calls that are safe to repeat: every read, `log-batch` (MLflow
//!   de-duplicates metric points on key, value, timestamp and step; the same param value
//!   again is a no-op; tags are last-write-wins), `log_inputs` (MLflow de-duplicates
//!   inputs), updates, tags, deletes and restores, and artifact uploads (a file is
//!   replaced by the same bytes).
//!
//! Creates are not idempotent on the server, so they are made so. Each created run and
//! experiment carries a client request id in the tag [`CLIENT_REQUEST_ID_TAG`] (a caller
//! may supply its own value in the tags it passes). When a create's outcome is unknown,
//! the store looks for what it may have created — runs by a search on that tag,
//! experiments by name and tag — and returns it if found; only if nothing is found is the
//! create sent again. Should the lost attempt be applied after that search, the store
//! keeps the run with the smallest id and moves the other to the trash. So a retry never
//! leaves two live runs. Reads through this store leave the tag out.
//!
//! # MLflow's behaviour worth knowing
//!
//! - MLflow's SQL store keeps ±infinity as ±`f64::MAX` (SQL has no infinities); this
//!   client reads ±`f64::MAX` back as ±infinity, so what was logged comes back. NaN is
//!   sent and returned as the string `"NaN"`. MLflow's own Python client shows those
//!   points as ±1.797e308.
//! - A metric's history comes back ordered by timestamp, then step, then value (the SQL
//!   store's order), not in the order the points were logged.
//! - Deleting an experiment that is already deleted, or restoring one that is live,
//!   answers `RESOURCE_DOES_NOT_EXIST` on the server; this store checks the experiment
//!   and returns success when it is already where it should be, as MLflow does for runs.
//! - Renaming an experiment to a taken name fails on the server with the database's
//!   unique-constraint error; this store reports it as `AlreadyExists`.
//! - A run's display name may be any text in MLflow; one that [`RunName`](crate::RunName)
//!   cannot hold is left out of [`RunInfo::run_name`](crate::RunInfo::run_name) and kept
//!   verbatim in the `mlflow.runName` tag. Experiment names, keys and ids that this
//!   crate's types cannot hold are a [`Corrupt`](crate::TrackError::Corrupt) error naming
//!   the entity, never silently dropped.
//! - The artifact proxy lists one folder level and answers a download of a folder with
//!   HTTP 400; this store reports the latter as `NotFound`.
//! - `experiments/search` without `max_results` is refused (the server reads it as 0);
//!   this store sends MLflow's default, 1000. `metrics/get-history` of a run that does not
//!   exist answers an empty history; this store reports `NotFound`.
//! - A batch naming one param key twice is refused by MLflow even when the values agree;
//!   this store refuses it before sending, with `DuplicateKey`.
//! - Values come back bit-exact: this crate turns on serde_json's `float_roundtrip`, without
//!   which a parsed metric value may be one or two ulp off.
//! - Environment proxies (`HTTP_PROXY`, …) are not used: requests go straight to the URL.
//!
//! # URLs and TLS
//!
//! The base URL must be `http://` or `https://` with a host and no user info (use
//! [`MlflowStoreBuilder::basic_auth`] or [`MlflowStoreBuilder::token`]), query or
//! fragment; a path prefix (a server behind a reverse proxy at `/mlflow`) is kept.
//! Loopback addresses are fine: it is the user's own server. `https://` needs this
//! crate's `tls` feature (rustls, the stack object_store's cloud backends use).

mod artifacts;
mod batch;
mod create;
mod experiments;
mod runs;
mod store;
mod wire;

pub use store::{MlflowStore, MlflowStoreBuilder};
pub use wire::CLIENT_REQUEST_ID_TAG;
