//! Your own axum service serving a model by alias from the registry, following every
//! promotion without a restart: the OIP routes nest beside your routes, and
//! [`ModelTable::follow`](mlops_serve::ModelTable::follow) does the rest (digest-checked
//! download, load, warm-up, atomic swap, the previous version kept for a rollback).
//!
//! `cargo run -p mlops-serve --features registry --example follow_registry`
//!
//! The registry here is a temporary folder with two versions; point `ObjectRegistry` (or
//! `mlops_registry::open`) at your store or MLflow server instead.

#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::sync::Arc;
use std::time::Duration;

use axum::routing::get;
use mlops_core::{AliasName, ArtifactPath, ModelName, ModelVersion, StoreUri};
use mlops_registry::{AliasChange, ModelRegistry, NewVersion, ObjectRegistry, RegistryExt};
use mlops_serve::follow::FollowOptions;
use mlops_serve::runtime::linear::LinearFile;
use mlops_serve::source::RegistrySource;
use mlops_serve::{ModelSource, Server};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // A registry with versions 1 and 2 of "price" (y = v·x), champion on 1.
    let dir = tempfile::tempdir()?;
    let registry = Arc::new(ObjectRegistry::open_uri(&StoreUri::parse(
        dir.path().to_str().ok_or("a non-UTF-8 temporary folder")?,
    )?)?);
    let (name, champion) = (ModelName::parse("price")?, AliasName::parse("champion")?);
    registry.create_model(&name, None, &[]).await?;
    for slope in [1.0, 2.0] {
        let json = serde_json::to_vec(&LinearFile::linear(vec![vec![slope]], vec![0.0]))?;
        let files = NewVersion::new().with_artifact(ArtifactPath::parse("model.json")?, json);
        registry.create_version(&name, files).await?;
    }
    let promote = |version: u64| {
        let (registry, name, champion) = (Arc::clone(&registry), name.clone(), champion.clone());
        async move {
            let version = ModelVersion::new(version)?;
            registry
                .set_alias(&name, &champion, version, &AliasChange::default())
                .await?;
            Ok::<_, Box<dyn std::error::Error>>(())
        }
    };
    promote(1).await?;

    // The service: serve price@champion and follow it, next to a route of your own.
    let server = Server::builder().build()?;
    let source: Arc<dyn ModelSource> = Arc::new(RegistrySource::new(registry.clone()));
    let options = FollowOptions::default().poll_interval(Duration::from_millis(100));
    let follower = server
        .models()
        .follow(source, "price", "champion".parse()?, options)
        .await?;
    let app = axum::Router::new()
        .route("/hello", get(|| async { "your own route\n" }))
        .nest("/ml", server.router());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let base = format!("http://{}", listener.local_addr()?);
    tokio::spawn(async move { axum::serve(listener, app).await });

    let client = reqwest::Client::new();
    let row = r#"{"inputs":[{"name":"input","shape":[1,1],"datatype":"FP32","data":[10]}]}"#;
    let ask = || async {
        let answer: serde_json::Value = client
            .post(format!("{base}/ml/v2/models/price/infer"))
            .header("content-type", "application/json")
            .body(row)
            .send()
            .await?
            .json()
            .await?;
        Ok::<_, reqwest::Error>(format!(
            "version {} answers {}",
            answer["model_version"], answer["outputs"][0]["data"][0]
        ))
    };
    println!("before: {}", ask().await?);
    promote(2).await?;
    let mut served = follower.subscribe();
    served.wait_for(|s| s.version == "2").await?;
    println!("after promoting version 2: {}", ask().await?);
    Ok(())
}
