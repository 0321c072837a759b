//! Following an alias (`ModelTable::follow`): the first version served, swaps when the alias
//! moves (the previous version kept for a rollback, an older one retired), versions that fail
//! to fetch, load or warm up never served while requests keep succeeding, and a load test of
//! many moves under 32 concurrent clients checking that every request after a switch came
//! from the new version.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use mlops_serve::follow::{FollowOptions, Follower, Served};
use mlops_serve::runtime::linear::LinearFile;
use mlops_serve::source::FileSource;
use mlops_serve::{ModelSource, Server};
use serde_json::Value;

use crate::util::{App, app, linear_request, sample, start, wait_for_metrics};

/// Version `v` answers `v` for the row `[1, 0, 0]`, so an answer names its version.
fn write_version(dir: &Path, version: u32) -> PathBuf {
    let path = dir.join(format!("v{version}.json"));
    LinearFile::linear(vec![vec![f64::from(version), 0.0, 0.0]], vec![0.0])
        .write(&path)
        .unwrap();
    path
}

fn fast() -> FollowOptions {
    FollowOptions::default()
        .poll_interval(Duration::from_millis(5))
        .retry(mlops_core::Backoff::exponential(
            Duration::from_millis(20),
            Duration::from_millis(200),
        ))
}

/// A source with versions 1..=n of "price", champion on 1.
fn source(dir: &Path, n: u32) -> Arc<FileSource> {
    let source = Arc::new(FileSource::new());
    for v in 1..=n {
        source.add_version("price", &v.to_string(), write_version(dir, v));
    }
    source.set_alias("price", "champion", "1");
    source
}

async fn follow(server: &Server, source: Arc<FileSource>) -> Follower {
    server
        .models()
        .follow(
            source as Arc<dyn ModelSource>,
            "price",
            "champion".parse().unwrap(),
            fast(),
        )
        .await
        .unwrap()
}

async fn wait_version(follower: &Follower, version: &str) -> Served {
    let mut served = follower.subscribe();
    tokio::time::timeout(
        Duration::from_secs(30),
        served.wait_for(|s| s.version == version),
    )
    .await
    .expect("the follower never served the version")
    .unwrap()
    .clone()
}

/// One inference on `path`: the status, and on success the version the body names and the
/// answer (equal to the version's slope).
async fn infer(app: &App, path: &str) -> (u16, Option<(String, f32)>) {
    let reply = app
        .client
        .post(app.url(path))
        .json(&linear_request(&[[1.0, 0.0, 0.0]]))
        .send()
        .await
        .unwrap();
    let status = reply.status().as_u16();
    if status != 200 {
        return (status, None);
    }
    let body: Value = reply.json().await.unwrap();
    let version = body["model_version"].as_str().unwrap().to_owned();
    #[allow(clippy::cast_possible_truncation)]
    let answer = body["outputs"][0]["data"][0].as_f64().unwrap() as f32;
    (status, Some((version, answer)))
}

#[tokio::test]
async fn an_alias_move_swaps_and_keeps_the_previous_version() {
    let dir = tempfile::tempdir().unwrap();
    let source = source(dir.path(), 3);
    let server = Server::builder().build().unwrap();
    let follower = follow(&server, source.clone()).await;
    let app = app(server.clone());
    assert_eq!(follower.served().version, "1");
    assert_eq!(
        infer(&app, "/v2/models/price/infer").await,
        (200, Some(("1".into(), 1.0)))
    );

    source.set_alias("price", "champion", "2");
    let served = wait_version(&follower, "2").await;
    assert_eq!(served.swaps, 1);
    assert_eq!(
        infer(&app, "/v2/models/price/infer").await,
        (200, Some(("2".into(), 2.0)))
    );
    // The previous champion still answers on its own route, and /v2/models/NAME names the
    // alias's version.
    assert_eq!(
        infer(&app, "/v2/models/price/versions/1/infer").await,
        (200, Some(("1".into(), 1.0)))
    );
    let meta: Value = app
        .client
        .get(app.url("/v2/models/price"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(meta["versions"], serde_json::json!(["1", "2"]), "{meta}");

    // Back to 1 (still loaded), then on to 3: version 2 is retired, 1 kept as previous.
    source.set_alias("price", "champion", "1");
    wait_version(&follower, "1").await;
    source.set_alias("price", "champion", "3");
    wait_version(&follower, "3").await;
    assert_eq!(
        server.models().versions("price"),
        vec![Some("1".to_owned()), Some("3".to_owned())]
    );
    let text = server.metrics_text();
    let info = |version: &str, role: &str| {
        sample(
            &text,
            "mlops_serve_model_info",
            &format!(r#"model="price",version="{version}",alias="champion",role="{role}""#),
        )
    };
    assert_eq!(info("3", "stable"), Some(1.0), "{text}");
    assert_eq!(info("1", "previous"), Some(1.0), "{text}");
    assert_eq!(info("2", "previous"), None, "{text}");
    assert_eq!(info("1", "stable"), None, "{text}");
    assert_eq!(
        sample(
            &text,
            "mlops_serve_model_swaps_total",
            r#"model="price",outcome="success""#
        ),
        Some(3.0)
    );
    assert_eq!(
        sample(&text, "mlops_serve_swap_seconds_count", r#"model="price""#),
        Some(3.0)
    );
    // Stopping leaves what is served in place.
    follower.stop();
    source.set_alias("price", "champion", "2");
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(
        server.models().default_version("price").as_deref(),
        Some("3")
    );
}

#[tokio::test]
async fn a_pinned_version_is_served_without_watching() {
    let dir = tempfile::tempdir().unwrap();
    let source = source(dir.path(), 2);
    let server = Server::builder().build().unwrap();
    let follower = server
        .models()
        .follow(
            source.clone() as Arc<dyn ModelSource>,
            "price",
            "2".parse().unwrap(),
            fast(),
        )
        .await
        .unwrap();
    assert_eq!(follower.served().version, "2");
    assert_eq!(
        server.models().default_version("price").as_deref(),
        Some("2")
    );
    // A missing alias is an error and serves nothing.
    let missing = server
        .models()
        .follow(
            source as Arc<dyn ModelSource>,
            "other",
            "champion".parse().unwrap(),
            fast(),
        )
        .await;
    assert!(missing.is_err());
    assert!(server.models().versions("other").is_empty());
}

/// Versions that cannot be served: each is promoted while clients keep sending requests;
/// every request succeeds on the old version and the failure is counted by outcome.
#[tokio::test]
async fn a_version_that_fails_is_never_served() {
    let dir = tempfile::tempdir().unwrap();
    let source = source(dir.path(), 2);
    // Not a model at all: the runtime refuses it.
    let garbage = dir.path().join("garbage.json");
    std::fs::write(
        &garbage,
        b"{\"format\": \"mlops-linear/1\", \"coefficients\": []}",
    )
    .unwrap();
    source.add_version("price", "3", &garbage);
    // Loads, but its weights overflow FP32: every answer is NaN, caught by the warm-up.
    let overflow = dir.path().join("overflow.json");
    LinearFile::linear(vec![vec![1e300, 0.0, 0.0]], vec![0.0])
        .write(&overflow)
        .unwrap();
    source.add_version("price", "4", &overflow);
    // Registered, then gone: the fetch fails.
    source.add_version("price", "5", dir.path().join("missing.json"));
    // Protobuf-looking bytes that are no ONNX model: the ONNX runtime refuses them.
    let invalid_onnx = dir.path().join("model.onnx");
    std::fs::write(&invalid_onnx, b"\x08\x07\x12\xff\xff\xff not a model").unwrap();
    source.add_version("price", "6", &invalid_onnx);

    let server = Server::builder().build().unwrap();
    let follower = follow(&server, source.clone()).await;
    let app = Arc::new(app(server.clone()));
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut clients = Vec::new();
    for _ in 0..4 {
        let (app, stop) = (Arc::clone(&app), Arc::clone(&stop));
        clients.push(tokio::spawn(async move {
            let mut answers = Vec::new();
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                answers.push(infer(&app, "/v2/models/price/infer").await);
                tokio::task::yield_now().await;
            }
            answers
        }));
    }
    // Version 6 fails to load with or without the onnx feature (no runtime for it then).
    for (version, outcome) in [
        ("3", "load_failed"),
        ("4", "warmup_failed"),
        ("5", "fetch_failed"),
        ("6", "load_failed"),
    ] {
        let label = format!(r#"model="price",outcome="{outcome}""#);
        let before = sample(
            &server.metrics_text(),
            "mlops_serve_model_swaps_total",
            &label,
        )
        .unwrap_or(0.0);
        source.set_alias("price", "champion", version);
        let text = wait_for_metrics(&app, |text| {
            // Failed, and retried after a pause.
            sample(text, "mlops_serve_model_swaps_total", &label).is_some_and(|n| n >= before + 2.0)
        })
        .await;
        assert!(text.contains("mlops_serve_model_swaps_total"), "{text}");
        assert_eq!(follower.served().version, "1");
        assert_eq!(
            server.models().versions("price"),
            vec![Some("1".to_owned())]
        );
    }
    // A good version after the bad ones is served.
    source.set_alias("price", "champion", "2");
    wait_version(&follower, "2").await;
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let mut total = 0;
    for client in clients {
        for (status, answer) in client.await.unwrap() {
            total += 1;
            assert_eq!(status, 200);
            let (version, value) = answer.unwrap();
            assert!(version == "1" || version == "2", "{version}");
            assert_eq!(value.to_string(), version);
        }
    }
    assert!(total > 0);
}

/// One request of the load test: when it was sent and answered, and who answered.
struct Record {
    sent: Instant,
    answered: Instant,
    status: u16,
    version: Option<String>,
}

/// 32 clients on a real socket while the alias moves 30 times among three versions (moves
/// back to the previous version switch at once, others load): no request fails, and every
/// request sent after a switch came from the new version (or a later one), never from one
/// it replaced.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn under_load_every_request_after_a_switch_comes_from_the_new_version() {
    let dir = tempfile::tempdir().unwrap();
    let source = source(dir.path(), 3);
    let server = Server::builder().build().unwrap();
    let follower = follow(&server, source.clone()).await;
    let running = start(server.clone()).await;
    let url = running.url("/v2/models/price/infer");
    let body = serde_json::to_vec(&linear_request(&[[1.0, 0.0, 0.0]])).unwrap();

    // The switches, in order, as the follower publishes them.
    let mut switches = vec![follower.served()];
    let mut served = follower.subscribe();
    let watcher = tokio::spawn(async move {
        let mut seen = Vec::new();
        while served.changed().await.is_ok() {
            seen.push(served.borrow_and_update().clone());
        }
        seen
    });

    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut clients = Vec::new();
    for _ in 0..32 {
        let (client, url, body, stop) = (
            running.client.clone(),
            url.clone(),
            body.clone(),
            Arc::clone(&stop),
        );
        clients.push(tokio::spawn(async move {
            let mut records = Vec::new();
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let sent = Instant::now();
                let reply = client
                    .post(&url)
                    .header("content-type", "application/json")
                    .body(body.clone())
                    .send()
                    .await
                    .unwrap();
                let status = reply.status().as_u16();
                let version = if status == 200 {
                    let value: Value = reply.json().await.unwrap();
                    let version = value["model_version"].as_str().unwrap().to_owned();
                    assert_eq!(
                        value["outputs"][0]["data"][0].as_f64().unwrap().to_string(),
                        version
                    );
                    Some(version)
                } else {
                    None
                };
                records.push(Record {
                    sent,
                    answered: Instant::now(),
                    status,
                    version,
                });
            }
            records
        }));
    }
    let order = ["2", "1", "2", "3", "2", "3", "1"];
    for step in 0..30 {
        tokio::time::sleep(Duration::from_millis(60)).await;
        let target = order[step % order.len()];
        source.set_alias("price", "champion", target);
        wait_version(&follower, target).await;
    }
    tokio::time::sleep(Duration::from_millis(60)).await;
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let mut records = Vec::new();
    for client in clients {
        records.extend(client.await.unwrap());
    }
    drop(follower);
    switches.extend(watcher.await.unwrap());
    running.stop().await;

    assert_eq!(switches.len(), 31, "every move switched once");
    let failed = records.iter().filter(|r| r.status != 200).count();
    assert_eq!(failed, 0, "{failed} of {} requests failed", records.len());
    let mut versions_seen = std::collections::HashSet::new();
    for record in &records {
        let version = record.version.as_deref().unwrap();
        versions_seen.insert(version.to_owned());
        // The switch in force when it was sent, and every switch that may have been
        // published before its answer: `since` is taken just after a switch is published,
        // so the first switch recorded after the answer may have been published before it.
        let first = switches
            .iter()
            .rposition(|s| s.since <= record.sent)
            .unwrap();
        let later = switches[first + 1..]
            .iter()
            .position(|s| s.since > record.answered)
            .map_or(switches.len(), |i| first + 1 + i + 1);
        let possible: Vec<&str> = switches[first..later]
            .iter()
            .map(|s| s.version.as_str())
            .collect();
        assert!(
            possible.contains(&version),
            "a request sent after the switch to {possible:?} was answered by {version}: sent {:?} answered {:?} after the start; switches {:?}",
            record.sent - switches[0].since,
            record.answered - switches[0].since,
            switches
                .iter()
                .map(|s| (s.version.clone(), s.since - switches[0].since))
                .collect::<Vec<_>>()
        );
    }
    assert_eq!(versions_seen.len(), 3, "every version answered");
    assert!(records.len() > 32, "{} requests", records.len());
}

/// The object registry on a local folder as the source, with replicas that each open it.
#[cfg(feature = "registry")]
mod registry {
    use std::path::Path;
    use std::sync::Arc;
    use std::time::Duration;

    use mlops_core::{AliasName, ArtifactPath, ModelName, StoreUri};
    use mlops_registry::{AliasChange, ModelRegistry, NewVersion, ObjectRegistry, RegistryExt};
    use mlops_serve::runtime::linear::LinearFile;
    use mlops_serve::source::RegistrySource;
    use mlops_serve::{ModelSource, Server};
    use sha2::{Digest, Sha256};

    use super::{fast, wait_version};
    use crate::util::sample;

    fn open(dir: &Path) -> Arc<ObjectRegistry> {
        let uri = StoreUri::parse(dir.to_str().unwrap()).unwrap();
        Arc::new(ObjectRegistry::open_uri(&uri).unwrap())
    }

    fn model_json(slope: f64) -> Vec<u8> {
        serde_json::to_vec(&LinearFile::linear(vec![vec![slope, 0.0, 0.0]], vec![0.0])).unwrap()
    }

    async fn promote(registry: &ObjectRegistry, version: u64) {
        let (name, alias) = (
            ModelName::parse("price").unwrap(),
            AliasName::parse("champion").unwrap(),
        );
        registry
            .set_alias(
                &name,
                &alias,
                mlops_core::ModelVersion::new(version).unwrap(),
                &AliasChange::default(),
            )
            .await
            .unwrap();
    }

    /// Versions 1..=3 of "price" (version v answers v), champion on 1.
    async fn registry_with_versions(dir: &Path) -> Arc<ObjectRegistry> {
        let registry = open(dir);
        let name = ModelName::parse("price").unwrap();
        registry.create_model(&name, None, &[]).await.unwrap();
        for slope in [1.0, 2.0, 3.0] {
            let files = NewVersion::new().with_artifact(
                ArtifactPath::parse("model.json").unwrap(),
                model_json(slope),
            );
            registry.create_version(&name, files).await.unwrap();
        }
        promote(&registry, 1).await;
        registry
    }

    /// Every file under `dir` whose name is `name`.
    fn find(dir: &Path, name: &str) -> Vec<std::path::PathBuf> {
        let mut found = Vec::new();
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                found.extend(find(&path, name));
            } else if path.file_name().is_some_and(|n| n == name) {
                found.push(path);
            }
        }
        found
    }

    #[tokio::test]
    async fn replicas_converge_and_a_corrupted_blob_is_never_served() {
        let dir = tempfile::tempdir().unwrap();
        let admin = registry_with_versions(dir.path()).await;
        let mut replicas = Vec::new();
        for _ in 0..3 {
            let source = Arc::new(RegistrySource::new(
                open(dir.path()) as Arc<dyn ModelRegistry>
            ));
            let server = Server::builder().build().unwrap();
            let follower = server
                .models()
                .follow(
                    source as Arc<dyn ModelSource>,
                    "price",
                    "champion".parse().unwrap(),
                    fast(),
                )
                .await
                .unwrap();
            replicas.push((server, follower));
        }
        promote(&admin, 2).await;
        for (server, follower) in &replicas {
            wait_version(follower, "2").await;
            assert_eq!(
                server.models().default_version("price").as_deref(),
                Some("2")
            );
            // The registry records the move: the swap is timed from it.
            let text = server.metrics_text();
            assert_eq!(
                sample(&text, "mlops_serve_swap_seconds_count", r#"model="price""#),
                Some(1.0)
            );
        }

        // Version 3's blob changes on disk after registration: the digest check refuses it
        // on every replica, which keep serving 2.
        let digest: String = Sha256::digest(model_json(3.0))
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        let blobs = find(dir.path(), &digest);
        assert_eq!(blobs.len(), 1, "{blobs:?}");
        std::fs::write(&blobs[0], model_json(30.0)).unwrap();
        promote(&admin, 3).await;
        for (server, follower) in &replicas {
            let failed = || {
                sample(
                    &server.metrics_text(),
                    "mlops_serve_model_swaps_total",
                    r#"model="price",outcome="fetch_failed""#,
                )
                .is_some_and(|n| n >= 1.0)
            };
            for _ in 0..3000 {
                if failed() {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            assert!(failed(), "{}", server.metrics_text());
            assert_eq!(follower.served().version, "2");
            assert_eq!(
                server.models().default_version("price").as_deref(),
                Some("2")
            );
        }
        // Rolled back to 1 (still loaded on every replica as the previous version).
        promote(&admin, 1).await;
        for (_, follower) in &replicas {
            wait_version(follower, "1").await;
        }
    }
}
