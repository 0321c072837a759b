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
use mlops_serve::follow::{FollowOptions, Follower, Loader, RollbackPolicy};
use mlops_serve::runtime::linear::LinearFile;
use mlops_serve::source::RegistrySource;
use mlops_serve::{Model, ModelMetadata, ModelSource, Server, Tensor, runtime};

const POLL: Duration = Duration::from_millis(200);

fn model_json(slope: f64) -> Vec<u8> {
    serde_json::to_vec(&LinearFile::linear(vec![vec![slope, 0.0, 0.0]], vec![0.0])).unwrap()
}

/// Registers versions 1 and 2 of `name` (version v answers v) and points champion at 1.
async fn two_versions(registry: &dyn ModelRegistry, name: &ModelName) {
    registry.create_model(name, None, &[]).await.unwrap();
    for slope in [1.0, 2.0] {
        add_version(registry, name, model_json(slope)).await;
    }
    move_alias(registry, name, 1).await;
}

async fn add_version(registry: &dyn ModelRegistry, name: &ModelName, bytes: Vec<u8>) {
    let files = NewVersion::new().with_artifact(ArtifactPath::parse("model.json").unwrap(), bytes);
    registry.create_version(name, files).await.unwrap();
}

/// Answers like the model it wraps on the all-zero warm-up row and fails (500) on any
/// other: a version that passes warm-up and fails on real requests.
struct FailsOnData(Arc<dyn Model>);

impl Model for FailsOnData {
    fn metadata(&self) -> &ModelMetadata {
        self.0.metadata()
    }
    fn infer(&self, inputs: Vec<Tensor>) -> mlops_serve::Result<Vec<Tensor>> {
        let zero = inputs.iter().all(|t| {
            t.data
                .as_array::<f32>()
                .is_some_and(|a| a.iter().all(|&v| v == 0.0))
        });
        if zero {
            self.0.infer(inputs)
        } else {
            Err(mlops_serve::Error::inference(
                &self.metadata().name,
                "broken on real data",
            ))
        }
    }
}

/// The built-in loader, except that a file starting with `fail:` loads as [`FailsOnData`].
fn loader() -> Loader {
    Arc::new(|files, name, version| {
        if let Some(file) = files.iter().find(|f| f.bytes.starts_with(b"fail:")) {
            let inner = runtime::load_bytes(&file.bytes[5..], "model.json", name, Some(version))?;
            return Ok(Arc::new(FailsOnData(inner)) as Arc<dyn Model>);
        }
        runtime::load_files(files, name, Some(version))
    })
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
            FollowOptions::default()
                .poll_interval(POLL)
                .loader(loader())
                .auto_rollback(RollbackPolicy::default().min_requests(20)),
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
    // Version 3 fails on real requests: the replica that serves them rolls it back in the
    // registry, and the others follow.
    add_version(
        &admin,
        &name,
        [b"fail:".as_slice(), &model_json(3.0)].concat(),
    )
    .await;
    move_alias(&admin, &name, 3).await;
    converge(&replicas, "3", Instant::now()).await;
    let app = replicas[0].0.router();
    let row = r#"{"inputs":[{"name":"input","shape":[1,3],"datatype":"FP32","data":[1,0,0]}]}"#;
    let mut decided = None;
    for _ in 0..2000 {
        let request = axum::http::Request::post("/v2/models/price/infer")
            .header("content-type", "application/json")
            .body(axum::body::Body::from(row))
            .unwrap();
        let reply = tower::ServiceExt::oneshot(app.clone(), request)
            .await
            .unwrap();
        let text = replicas[0].0.metrics_text();
        if reply.status() == 200 && text.contains("mlops_serve_rollbacks_total") {
            decided = Some(Instant::now());
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let decided = decided.expect("replica 0 never rolled back");
    let rollback = converge(&replicas, "1", decided).await;
    eprintln!(
        "{label}: 3 replicas converged {promotion:.2} poll intervals after a promotion, {back:.2} after a move back, {rollback:.2} after an automatic rollback"
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
    let started = Instant::now();
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
    // The client's own run (interpreter start, mlflow import, exit) takes seconds: the time
    // to follow is bounded by the whole run, printed with the client's share.
    let client = started.elapsed().as_secs_f64() / POLL.as_secs_f64();
    let polls = converge(&replicas, "2", started).await;
    eprintln!(
        "mlflow: 2 replicas followed MlflowClient's alias move within {polls:.2} poll intervals of starting the client, which itself ran {client:.2}"
    );
}

/// A name no other run of the test uses.
fn uuid_like() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("{nanos:x}")
}
