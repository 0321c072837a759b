//! Issue 12 on real registries: three replicas following one alias on moto (S3) and Azurite
//! (Azure Blob) converge after a promotion and after a move back; `mlops serve`'s library
//! path follows an alias that MLflow's own Python client moves
//! (`MlflowClient().set_registered_model_alias`) on a real MLflow server.

#![allow(clippy::print_stderr)] // The measured convergence times are printed (measured, never asserted).

use std::sync::Arc;
use std::time::{Duration, Instant};

use mlops_core::testing::{MLFLOW_URI, PYTHON, azure_root, require_env, s3_root};
use mlops_core::{AliasName, ArtifactPath, ModelName, ModelVersion, StoreRoot};
use mlops_registry::{AliasChange, ModelRegistry, NewVersion, ObjectRegistry, RegistryExt};
use mlops_serve::follow::{FollowOptions, Follower};
use mlops_serve::runtime::linear::LinearFile;
use mlops_serve::source::RegistrySource;
use mlops_serve::{ModelSource, Server};

const POLL: Duration = Duration::from_millis(200);

fn model_json(slope: f64) -> Vec<u8> {
    serde_json::to_vec(&LinearFile::linear(vec![vec![slope, 0.0, 0.0]], vec![0.0])).unwrap()
}

/// Registers versions 1 and 2 of `name` (version v answers v) and points champion at 1.
async fn two_versions(registry: &dyn ModelRegistry, name: &ModelName) {
    registry.create_model(name, None, &[]).await.unwrap();
    for slope in [1.0, 2.0] {
        let files = NewVersion::new().with_artifact(
            ArtifactPath::parse("model.json").unwrap(),
            model_json(slope),
        );
        registry.create_version(name, files).await.unwrap();
    }
    move_alias(registry, name, 1).await;
}

async fn move_alias(registry: &dyn ModelRegistry, name: &ModelName, version: u64) {
    registry
        .set_alias(
            name,
            &AliasName::parse("champion").unwrap(),
            ModelVersion::new(version).unwrap(),
            &AliasChange::default(),
        )
        .await
        .unwrap();
}

async fn replica(registry: Arc<dyn ModelRegistry>, name: &ModelName) -> (Server, Follower) {
    let source: Arc<dyn ModelSource> = Arc::new(RegistrySource::new(registry));
    let server = Server::builder().build().unwrap();
    let follower = server
        .models()
        .follow(
            source,
            name.as_str(),
            "champion".parse().unwrap(),
            FollowOptions::default().poll_interval(POLL),
        )
        .await
        .unwrap();
    (server, follower)
}

/// Waits until every replica serves `version`; the time the last one took, in polls.
async fn converge(replicas: &[(Server, Follower)], version: &str, moved: Instant) -> f64 {
    for (server, follower) in replicas {
        let mut served = follower.subscribe();
        tokio::time::timeout(
            Duration::from_secs(60),
            served.wait_for(|s| s.version == version),
        )
        .await
        .expect("a replica never followed the alias")
        .unwrap();
        let name = follower.name();
        assert_eq!(
            server.models().default_version(name).as_deref(),
            Some(version)
        );
    }
    moved.elapsed().as_secs_f64() / POLL.as_secs_f64()
}

async fn replicas_converge(root: StoreRoot, label: &str) {
    let admin = ObjectRegistry::new(root.clone());
    let name = ModelName::parse("price").unwrap();
    two_versions(&admin, &name).await;
    let mut replicas = Vec::new();
    for _ in 0..3 {
        // Each replica its own handle and cache, as separate processes have.
        let registry: Arc<dyn ModelRegistry> = Arc::new(ObjectRegistry::new(root.clone()));
        replicas.push(replica(registry, &name).await);
    }
    let moved = Instant::now();
    move_alias(&admin, &name, 2).await;
    let promotion = converge(&replicas, "2", moved).await;
    let moved = Instant::now();
    move_alias(&admin, &name, 1).await;
    let back = converge(&replicas, "1", moved).await;
    eprintln!(
        "{label}: 3 replicas converged {promotion:.2} poll intervals after a promotion, {back:.2} after a move back"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replicas_on_s3_converge() {
    replicas_converge(s3_root("serve-follow"), "moto").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replicas_on_azure_converge() {
    replicas_converge(azure_root("serve-follow"), "azurite").await;
}

/// MLflow's Python client moves the alias; the follower, on the MLflow registry, serves it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_alias_moved_by_mlflows_client_is_followed() {
    let uri = require_env(MLFLOW_URI);
    let registry = mlops_registry::open(&uri).unwrap();
    let id = uuid_like();
    let name = ModelName::parse(format!("serve-follow-{id}")).unwrap();
    two_versions(registry.as_ref(), &name).await;
    let replicas = vec![
        replica(Arc::clone(&registry), &name).await,
        replica(mlops_registry::open(&uri).unwrap(), &name).await,
    ];
    assert_eq!(replicas[0].1.served().version, "1");
    let output = std::process::Command::new(require_env(PYTHON))
        .args([
            "-c",
            "import sys; from mlflow import MlflowClient; \
             MlflowClient(sys.argv[1]).set_registered_model_alias(sys.argv[2], 'champion', sys.argv[3])",
            &uri,
            name.as_str(),
            "2",
        ])
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    // Timed from the client's return (its interpreter start and mlflow import take seconds).
    let polls = converge(&replicas, "2", Instant::now()).await;
    eprintln!("mlflow: 2 replicas followed MlflowClient's alias move in {polls:.2} poll intervals");
}

/// A name no other run of the test uses.
fn uuid_like() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("{nanos:x}")
}
