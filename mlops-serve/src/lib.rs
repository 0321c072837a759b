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
//! - [`runtime`] loads model files: the built-in linear/logistic JSON format, ONNX (feature
//!   `onnx`, tract), and refuses pickle/joblib by their magic bytes.
//! - [`Server::builder`] configures models and limits; [`Server::router`] gives an
//!   `axum::Router` to nest; [`serve`] runs it with graceful shutdown.
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

pub mod error;
pub mod metrics;
pub mod model;
pub mod observe;
mod protocol;
pub mod runtime;
pub mod server;
pub mod source;
pub mod tensor;

pub use error::{Error, Result};
pub use model::{AsyncModel, Model, ModelMetadata, Servable};
pub use observe::{Observation, Observer};
pub use server::{
    ModelEntry, ModelOptions, ModelTable, Server, ServerBuilder, TableEdit, router, serve,
    shutdown_signal,
};
pub use source::{LoadedModel, ModelFile, ModelSource, Resolved, Selector};
pub use tensor::{Bytes, Datatype, Element, Tensor, TensorData, TensorSpec};
