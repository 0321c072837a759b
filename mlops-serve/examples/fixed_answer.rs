//! The serving limit of this machine: the smallest axum service that answers an Open
//! Inference Protocol request, with a fixed JSON answer and no model, no parsing, no metrics.
//!
//! `benches/compare/serve_limit.py` loads it with the same `wrk` line as `mlops serve`, so a
//! server's req/s reads as a share of what axum, hyper and tokio alone can do here.
//!
//! ```sh
//! cargo run --release -p mlops-serve --example fixed_answer -- 127.0.0.1:8080
//! ```

use axum::Router;
use axum::body::Bytes;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::post;
use axum::serve::ListenerExt;

/// The `mlops` binary's allocator: the limit and `mlops serve` differ only in their work.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// What `mlops serve` answers for the benchmark's linear model, byte for byte.
const ANSWER: &str = r#"{"model_name":"linear","outputs":[{"name":"output","datatype":"FP32","shape":[1,1],"data":[5.25]}]}"#;

/// Reads the request body (so the client's bytes are consumed as in a real handler) and
/// answers the fixed JSON.
async fn infer(body: Bytes) -> impl IntoResponse {
    drop(body);
    ([(header::CONTENT_TYPE, "application/json")], ANSWER)
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:8080".to_owned());
    let app = Router::new().route("/v2/models/{name}/infer", post(infer));
    // TCP_NODELAY, as `mlops serve` sets it: the limit must not pay Nagle's delay.
    let listener = tokio::net::TcpListener::bind(&addr).await?.tap_io(|tcp| {
        let _ = tcp.set_nodelay(true);
    });
    axum::serve(listener, app).await?;
    Ok(())
}
