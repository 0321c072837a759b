//! # mlops-serve
//!
//! An Open Inference Protocol (KServe V2, Triton, MLServer REST) server that you mount in
//! your own axum service, so that `tritonclient` and every other OIP client work unchanged:
//! JSON tensors (flat or nested), the binary tensor data extension both ways, gzip/deflate
//! request bodies, adaptive batching with bounded queues, deadlines, health that answers
//! under load, a bearer token and Host allowlist, Prometheus metrics, graceful shutdown.
//!
//! - [`Model`] (synchronous, run off the async threads) and [`AsyncModel`] are the model
//!   contract: metadata plus inference over named [`Tensor`]s (`ndarray` arrays of every
//!   OIP datatype; see [`tensor`] for why ndarray).
//! - [`runtime`] loads model files, from disk or from bytes in memory: the built-in
//!   linear/logistic JSON format, ONNX (feature `onnx`, tract), and refuses pickle/joblib by
//!   their magic bytes.
//! - [`Server::builder`] configures models and limits; [`Server::router`] gives an
//!   `axum::Router` to nest; [`serve`] runs it with graceful shutdown.
//! - [`ModelTable`] ([`Server::models`]) adds, replaces and removes models while the server
//!   serves, atomically: a request sees the table before or after a change, and requests in
//!   flight on a replaced model finish on it.
//! - [`source`]: a [`ModelSource`] resolves a name and a [`Selector`] (a version or an alias)
//!   to a version and its files; [`source::FileSource`] serves local files and, with the
//!   `registry` feature, `source::RegistrySource` serves any mlops-registry `ModelRegistry`.
//! - [`follow`]: [`ModelTable::follow`] serves the version a registry alias names and swaps
//!   to each version the alias moves to (fetched digest-checked, loaded and warmed up off the
//!   request path; a version that fails is never served, the old one keeps serving).
//! - [`observe`]: an [`Observer`] sees each inference's model, version, inputs and outputs,
//!   handed off without making the request wait.
//! - [`Error`] is an `axum` response (`{"error": "..."}` with its status), so your own
//!   handlers can return `Result<_, mlops_serve::Error>`.
//!
//! ```
//! use std::sync::Arc;
//! use mlops_serve::runtime::linear::{LinearFile, LinearModel};
//! use mlops_serve::{ModelOptions, Server};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! // y = 2·x0 - x1 + 0.5, served as model "demo" version "1".
//! let file = LinearFile::linear(vec![vec![2.0, -1.0]], vec![0.5]);
//! let model = LinearModel::from_file(file, "demo", Some("1"))?;
//! let server = Server::builder()
//!     .model_with(Arc::new(model) as Arc<dyn mlops_serve::Model>, ModelOptions::default())
//!     .build()?;
//!
//! // Mount the OIP routes under your own app, next to your other routes.
//! let app = axum::Router::new().nest("/ml", server.router());
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
//! let addr = listener.local_addr()?;
//! tokio::spawn(async move { axum::serve(listener, app).await });
//!
//! // Any OIP client now works; here, one JSON request over plain TCP.
//! use tokio::io::{AsyncReadExt, AsyncWriteExt};
//! let body = r#"{"inputs":[{"name":"input","shape":[1,2],"datatype":"FP32","data":[3,1]}]}"#;
//! let mut tcp = tokio::net::TcpStream::connect(addr).await?;
//! let request = format!(
//!     "POST /ml/v2/models/demo/infer HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\nContent-Length: {}\r\n\r\n{body}",
//!     body.len()
//! );
//! tcp.write_all(request.as_bytes()).await?;
//! let mut response = String::new();
//! tcp.read_to_string(&mut response).await?;
//! assert!(response.starts_with("HTTP/1.1 200"));
//! assert!(response.ends_with(r#""outputs":[{"name":"output","datatype":"FP32","shape":[1,1],"data":[5.5]}]}"#));
//! # Ok(())
//! # }
//! ```
//!
//! ## Your own service: deploy a version at run time, watch every answer
//!
//! The OIP routes nest beside routes of your own; one of them deploys a new version through
//! the [`ModelTable`] while requests keep being served, and an [`Observer`] (here the bounded
//! channel of [`observe::channel`]) receives each inference for a monitor to read.
//!
//! ```
//! use std::sync::Arc;
//! use axum::extract::{Path, State};
//! use axum::{Router, body::Body, http::Request, routing::post};
//! use mlops_serve::runtime::linear::{LinearFile, LinearModel};
//! use mlops_serve::{Model, ModelTable, Server, observe};
//! use tower::ServiceExt;
//!
//! /// y = slope·x, as version `version` of model "price".
//! fn price(version: &str, slope: f64) -> mlops_serve::Result<Arc<dyn Model>> {
//!     let file = LinearFile::linear(vec![vec![slope]], vec![0.0]);
//!     Ok(Arc::new(LinearModel::from_file(file, "price", Some(version))?))
//! }
//!
//! /// Your admin route: serves a new version and retires all but the previous one (kept at
//! /// /versions/N for a rollback). Errors answer as `{"error": ...}` with their status.
//! async fn deploy(
//!     State(models): State<ModelTable>,
//!     Path((version, slope)): Path<(String, f64)>,
//! ) -> Result<&'static str, mlops_serve::Error> {
//!     // Load off the table (a real service would load a file or a registry version here).
//!     let model = price(&version, slope)?;
//!     models.edit(|table| {
//!         let old = table.versions("price");
//!         table.insert(model)?;
//!         for stale in old.iter().rev().skip(1).flatten() {
//!             table.remove("price", Some(stale))?;
//!         }
//!         Ok("deployed")
//!     })
//! }
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let (observer, mut observations) = observe::channel(1024);
//! let server = Server::builder()
//!     .model(price("1", 2.0)?)
//!     .observer(observer)
//!     .build()?;
//! let app = Router::new()
//!     .route("/admin/deploy/{version}/{slope}", post(deploy))
//!     .with_state(server.models())
//!     .nest("/ml", server.router());
//!
//! // Requests straight into the router (no socket needed to try it).
//! let send = |method: &str, uri: &str, body: &'static str| {
//!     let request = Request::builder().method(method).uri(uri).body(Body::from(body));
//!     app.clone().oneshot(request.unwrap())
//! };
//! let row = r#"{"inputs":[{"name":"input","shape":[1,1],"datatype":"FP32","data":[10]}]}"#;
//! assert_eq!(send("POST", "/ml/v2/models/price/infer", row).await?.status(), 200);
//! assert_eq!(send("POST", "/admin/deploy/2/3.0", "").await?.status(), 200);
//! let answer = send("POST", "/ml/v2/models/price/infer", row).await?;
//! let body = axum::body::to_bytes(answer.into_body(), usize::MAX).await?;
//! assert!(String::from_utf8(body.to_vec())?.contains(r#""model_version":"2""#));
//! // Version 1 still answers on its own route; a bad deploy is refused and changes nothing.
//! assert_eq!(send("POST", "/ml/v2/models/price/versions/1/infer", row).await?.status(), 200);
//! assert_eq!(send("POST", "/admin/deploy/2/4.0", "").await?.status(), 500);
//!
//! // The monitor side: every answer, with the version that gave it.
//! let versions: Vec<_> = std::iter::from_fn(|| observations.try_recv().ok())
//!     .map(|seen| seen.metadata.version.clone().unwrap_or_default())
//!     .collect();
//! assert_eq!(versions, ["1", "2", "1"]);
//! # Ok(())
//! # }
//! ```

pub mod error;
pub mod follow;
pub mod metrics;
pub mod model;
pub mod observe;
mod protocol;
pub mod runtime;
pub mod server;
mod shard;
pub mod source;
mod stats;
pub mod tensor;

pub use error::{Error, Result};
pub use follow::{FollowOptions, Follower, RollbackPolicy, Rollout, Served};
pub use model::{AsyncModel, Model, ModelMetadata, Servable};
pub use observe::{Observation, Observer};
pub use server::{
    DEFAULT_BODY_BUDGET, DEFAULT_BODY_TIMEOUT, DEFAULT_HEADER_READ_TIMEOUT,
    DEFAULT_MAX_CONNECTIONS, ModelEntry, ModelOptions, ModelTable, Server, ServerBuilder,
    TableEdit, router, serve, shutdown_signal,
};
pub use source::{LoadedModel, ModelFile, ModelSource, Resolved, Selector};
pub use tensor::{Bytes, Datatype, Element, Tensor, TensorData, TensorSpec};
