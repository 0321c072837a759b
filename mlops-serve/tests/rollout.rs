//! Rollouts of followed models: a canary's share over 10,000 requests and its stickiness by
//! `Mlops-Route-Key`, a shadow's disagreement on two models that differ by a known amount,
//! and automatic rollback of a canary (to 0 %) and of a stable version (the alias moved back
//! in the source, followed by every replica, the reason in the registry's audit log).

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use mlops_serve::follow::{FollowOptions, Follower, Loader, RollbackPolicy, Rollout};
use mlops_serve::runtime::linear::LinearFile;
use mlops_serve::source::FileSource;
use mlops_serve::{Error, Model, ModelMetadata, ModelSource, Result, Server, Tensor, runtime};
use serde_json::Value;

use crate::util::{App, app, linear_request, sample};

/// Answers like the model it wraps on the all-zero warm-up row, and fails (500) on any
/// other: a version that passes warm-up and then fails on real requests.
struct FailsOnData(Arc<dyn Model>);

impl Model for FailsOnData {
    fn metadata(&self) -> &ModelMetadata {
        self.0.metadata()
    }
    fn infer(&self, inputs: Vec<Tensor>) -> Result<Vec<Tensor>> {
        let zero = inputs.iter().all(|t| {
            t.data
                .as_array::<f32>()
                .is_some_and(|a| a.iter().all(|&v| v == 0.0))
        });
        if zero {
            self.0.infer(inputs)
        } else {
            Err(Error::inference(
                &self.metadata().name,
                "broken on real data",
            ))
        }
    }
}

/// Answers like the model it wraps, 250 ms late.
struct SlowOnData(Arc<dyn Model>);

impl Model for SlowOnData {
    fn metadata(&self) -> &ModelMetadata {
        self.0.metadata()
    }
    fn infer(&self, inputs: Vec<Tensor>) -> Result<Vec<Tensor>> {
        std::thread::sleep(Duration::from_millis(250));
        self.0.infer(inputs)
    }
}

/// The built-in loader, except that a file starting with `fail:` loads the model after it
/// wrapped in [`FailsOnData`], and one starting with `slow:` in [`SlowOnData`].
fn loader() -> Loader {
    Arc::new(|files, name, version| {
        for file in files {
            let wrap: fn(Arc<dyn Model>) -> Arc<dyn Model> = if file.bytes.starts_with(b"fail:") {
                |m| Arc::new(FailsOnData(m))
            } else if file.bytes.starts_with(b"slow:") {
                |m| Arc::new(SlowOnData(m))
            } else {
                continue;
            };
            let inner = runtime::load_bytes(&file.bytes[5..], "model.json", name, Some(version))?;
            return Ok(wrap(inner));
        }
        runtime::load_files(files, name, Some(version))
    })
}

/// Version files: `v{n}.json` answers `slope` for the row `[1, 0, 0]`; `broken` ones fail
/// on real rows.
fn write(dir: &Path, version: &str, slope: f64, broken: bool) -> std::path::PathBuf {
    write_with(dir, version, slope, if broken { "fail:" } else { "" })
}

/// A version file behind `prefix` (`""`, `fail:` or `slow:`).
fn write_with(dir: &Path, version: &str, slope: f64, prefix: &str) -> std::path::PathBuf {
    let path = dir.join(format!("v{version}.json"));
    let json =
        serde_json::to_vec(&LinearFile::linear(vec![vec![slope, 0.0, 0.0]], vec![0.0])).unwrap();
    let bytes = [prefix.as_bytes(), &json].concat();
    std::fs::write(&path, bytes).unwrap();
    path
}

fn options(rollout: Rollout) -> FollowOptions {
    FollowOptions::default()
        .poll_interval(Duration::from_millis(5))
        .rollout(rollout)
        .loader(loader())
}

async fn follow(
    server: &Server,
    source: &Arc<FileSource>,
    alias: &str,
    options: FollowOptions,
) -> Follower {
    server
        .models()
        .follow(
            Arc::clone(source) as Arc<dyn ModelSource>,
            "price",
            alias.parse().unwrap(),
            options,
        )
        .await
        .unwrap()
}

/// One inference with an optional route key: (status, version that answered).
async fn ask(app: &App, key: Option<&str>) -> (u16, Option<String>) {
    let mut request = app
        .client
        .post(app.url("/v2/models/price/infer"))
        .json(&linear_request(&[[1.0, 0.0, 0.0]]));
    if let Some(key) = key {
        request = request.header("mlops-route-key", key);
    }
    let reply = request.send().await.unwrap();
    let status = reply.status().as_u16();
    if status != 200 {
        return (status, None);
    }
    let body: Value = reply.json().await.unwrap();
    (status, body["model_version"].as_str().map(str::to_owned))
}

/// Waits (bounded) until `check` holds.
async fn eventually(what: &str, mut check: impl FnMut() -> bool) {
    for _ in 0..3000 {
        if check() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("never: {what}");
}

#[tokio::test]
async fn a_canary_gets_its_share_and_route_keys_stick() {
    let dir = tempfile::tempdir().unwrap();
    let source = Arc::new(FileSource::new());
    source.add_version("price", "1", write(dir.path(), "1", 1.0, false));
    source.add_version("price", "2", write(dir.path(), "2", 2.0, false));
    source.set_alias("price", "champion", "1");
    source.set_alias("price", "challenger", "2");
    let server = Server::builder().build().unwrap();
    let _stable = follow(&server, &source, "champion", options(Rollout::Stable)).await;
    let _canary = follow(
        &server,
        &source,
        "challenger",
        options(Rollout::Canary(20.0)),
    )
    .await;
    assert_eq!(
        server.models().default_version("price").as_deref(),
        Some("1")
    );
    assert_eq!(
        server.models().canary("price"),
        Some(("2".to_owned(), 20.0))
    );
    let app = app(server.clone());

    // Without a key: random, 20 % ± 2 points over 10,000 requests (a binomial share of 20 %
    // over 10,000 has a standard deviation of 0.4 points: ±2 is five of them).
    let mut canary = 0;
    for _ in 0..10_000 {
        let (status, version) = ask(&app, None).await;
        assert_eq!(status, 200);
        if version.as_deref() == Some("2") {
            canary += 1;
        }
    }
    let share = f64::from(canary) / 100.0;
    assert!((18.0..=22.0).contains(&share), "canary share {share} %");

    // With a key: the same key always reaches the same version, and keys split ~20 %.
    let mut keyed_canary = 0;
    for key in 0..500 {
        let key = format!("user-{key}");
        let (_, first) = ask(&app, Some(&key)).await;
        for _ in 0..4 {
            assert_eq!(ask(&app, Some(&key)).await.1, first, "key {key} moved");
        }
        if first.as_deref() == Some("2") {
            keyed_canary += 1;
        }
    }
    assert!(
        (50..=150).contains(&keyed_canary),
        "{keyed_canary} of 500 keys on the canary"
    );
    let text = server.metrics_text();
    assert_eq!(
        sample(
            &text,
            "mlops_serve_model_info",
            r#"model="price",version="2",alias="challenger",role="canary""#
        ),
        Some(1.0),
        "{text}"
    );
}

#[tokio::test]
async fn a_shadow_measures_its_disagreement_and_answers_nobody() {
    let dir = tempfile::tempdir().unwrap();
    let source = Arc::new(FileSource::new());
    source.add_version("price", "1", write(dir.path(), "1", 1.0, false));
    // Answers 3·x0 where version 1 answers x0: for x0 = 1 they differ by exactly 2.
    source.add_version("price", "2", write(dir.path(), "2", 3.0, false));
    source.set_alias("price", "champion", "1");
    source.set_alias("price", "candidate", "2");
    let server = Server::builder().build().unwrap();
    let _stable = follow(&server, &source, "champion", options(Rollout::Stable)).await;
    let _shadow = follow(
        &server,
        &source,
        "candidate",
        options(Rollout::Shadow(100.0)),
    )
    .await;
    let app = app(server.clone());
    for _ in 0..200 {
        assert_eq!(ask(&app, None).await, (200, Some("1".to_owned())));
    }
    let answered = |text: &str| {
        sample(
            text,
            "mlops_serve_shadow_requests_total",
            r#"model="price",version="2",outcome="answered""#,
        )
        .unwrap_or(0.0)
    };
    let dropped = |text: &str| {
        sample(text, "mlops_serve_shadow_dropped_total", r#"model="price""#).unwrap_or(0.0)
    };
    eventually("every copy answered or dropped", || {
        let text = server.metrics_text();
        answered(&text) + dropped(&text) >= 200.0
    })
    .await;
    let text = server.metrics_text();
    let count = sample(
        &text,
        "mlops_serve_shadow_difference_count",
        r#"model="price",version="2""#,
    )
    .unwrap();
    let sum = sample(
        &text,
        "mlops_serve_shadow_difference_sum",
        r#"model="price",version="2""#,
    )
    .unwrap();
    assert!(count > 0.0 && count == answered(&text), "{text}");
    assert!(
        (sum / count - 2.0).abs() < 1e-9,
        "mean difference {}",
        sum / count
    );
    // The shadow version served no caller.
    assert_eq!(
        sample(
            &text,
            "mlops_serve_requests_total",
            r#"model="price",version="2",outcome="success""#
        ),
        Some(0.0)
    );
}

#[tokio::test]
async fn a_failing_canary_is_set_to_zero() {
    let dir = tempfile::tempdir().unwrap();
    let source = Arc::new(FileSource::new());
    source.add_version("price", "1", write(dir.path(), "1", 1.0, false));
    source.add_version("price", "2", write(dir.path(), "2", 2.0, true));
    source.set_alias("price", "champion", "1");
    source.set_alias("price", "challenger", "2");
    let server = Server::builder().build().unwrap();
    let policy = RollbackPolicy::default().min_requests(20);
    let _stable = follow(&server, &source, "champion", options(Rollout::Stable)).await;
    let _canary = follow(
        &server,
        &source,
        "challenger",
        options(Rollout::Canary(50.0)).auto_rollback(policy),
    )
    .await;
    let app = app(server.clone());
    let mut failed = 0;
    for _ in 0..2000 {
        if ask(&app, None).await.0 != 200 {
            failed += 1;
        }
        if server.models().canary("price") == Some(("2".to_owned(), 0.0)) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    assert_eq!(server.models().canary("price"), Some(("2".to_owned(), 0.0)));
    assert!(failed >= 1);
    // From now on every request goes to the stable version.
    for _ in 0..200 {
        assert_eq!(ask(&app, None).await, (200, Some("1".to_owned())));
    }
    let text = server.metrics_text();
    assert_eq!(
        sample(
            &text,
            "mlops_serve_rollbacks_total",
            r#"model="price",version="2",kind="canary",reason="errors""#
        ),
        Some(1.0),
        "{text}"
    );
}

#[tokio::test]
async fn a_failing_champion_is_rolled_back_in_the_source() {
    let dir = tempfile::tempdir().unwrap();
    let source = Arc::new(FileSource::new());
    source.add_version("price", "1", write(dir.path(), "1", 1.0, false));
    source.add_version("price", "2", write(dir.path(), "2", 2.0, true));
    source.set_alias("price", "champion", "1");
    let server = Server::builder().build().unwrap();
    let policy = RollbackPolicy::default().min_requests(20);
    let follower = follow(
        &server,
        &source,
        "champion",
        options(Rollout::Stable).auto_rollback(policy),
    )
    .await;
    let app = app(server.clone());
    source.set_alias("price", "champion", "2");
    let mut served = follower.subscribe();
    served.wait_for(|s| s.version == "2").await.unwrap();
    // Real requests fail on version 2 until the rollback; then version 1 answers again.
    let mut back = false;
    for _ in 0..5000 {
        let (status, version) = ask(&app, None).await;
        if status == 200 && version.as_deref() == Some("1") {
            back = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    assert!(back, "never rolled back");
    // The alias itself moved back: every reader of the source agrees.
    let resolved = source
        .resolve("price", &"champion".parse().unwrap())
        .await
        .unwrap();
    assert_eq!(resolved.version, "1");
    let text = server.metrics_text();
    assert_eq!(
        sample(
            &text,
            "mlops_serve_rollbacks_total",
            r#"model="price",version="2",kind="stable",reason="errors""#
        ),
        Some(1.0),
        "{text}"
    );
}

/// A new champion far slower than the one it replaced (250 ms against microseconds, so the
/// ratio stays beyond 2 even when a loaded machine stretches the reference's p99 a hundred
/// times) is rolled back for latency.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_champion_is_rolled_back_for_latency() {
    let dir = tempfile::tempdir().unwrap();
    let source = Arc::new(FileSource::new());
    source.add_version("price", "1", write(dir.path(), "1", 1.0, false));
    source.add_version("price", "2", write_with(dir.path(), "2", 2.0, "slow:"));
    source.set_alias("price", "champion", "1");
    let server = Server::builder().build().unwrap();
    let policy = RollbackPolicy::default().min_requests(8);
    let follower = follow(
        &server,
        &source,
        "champion",
        options(Rollout::Stable).auto_rollback(policy),
    )
    .await;
    let app = app(server.clone());
    // The reference: version 1's latency over real traffic.
    for _ in 0..200 {
        assert_eq!(ask(&app, None).await, (200, Some("1".to_owned())));
    }
    source.set_alias("price", "champion", "2");
    follower
        .subscribe()
        .wait_for(|s| s.version == "2")
        .await
        .unwrap();
    let mut back = false;
    let started = std::time::Instant::now();
    while started.elapsed() < Duration::from_secs(60) {
        let (status, version) = ask(&app, None).await;
        assert_eq!(status, 200);
        if version.as_deref() == Some("1") {
            back = true;
            break;
        }
    }
    assert!(back, "never rolled back");
    let text = server.metrics_text();
    assert_eq!(
        sample(
            &text,
            "mlops_serve_rollbacks_total",
            r#"model="price",version="2",kind="stable",reason="latency""#
        ),
        Some(1.0),
        "{text}"
    );
}

/// On the object registry: the replica that sees the failures moves the alias back with the
/// reason in the audit log; the other replica, with no traffic, follows.
#[cfg(feature = "registry")]
#[tokio::test]
async fn a_rollback_decided_by_one_replica_is_followed_by_the_others() {
    use mlops_core::{AliasName, ArtifactPath, ModelName, ModelVersion, StoreUri};
    use mlops_registry::{
        AliasChange, AliasChangeKind, AuditAction, ModelRegistry, NewVersion, ObjectRegistry,
        RegistryExt,
    };
    use mlops_serve::source::RegistrySource;

    let dir = tempfile::tempdir().unwrap();
    let open = || {
        let uri = StoreUri::parse(dir.path().to_str().unwrap()).unwrap();
        Arc::new(ObjectRegistry::open_uri(&uri).unwrap())
    };
    let admin = open();
    let (name, alias) = (
        ModelName::parse("price").unwrap(),
        AliasName::parse("champion").unwrap(),
    );
    admin.create_model(&name, None, &[]).await.unwrap();
    for (slope, broken) in [(1.0, false), (2.0, true)] {
        let bytes = std::fs::read(write(dir.path(), "x", slope, broken)).unwrap();
        let files =
            NewVersion::new().with_artifact(ArtifactPath::parse("model.json").unwrap(), bytes);
        admin.create_version(&name, files).await.unwrap();
    }
    let set = |to: u64| {
        let (admin, name, alias) = (Arc::clone(&admin), name.clone(), alias.clone());
        async move {
            admin
                .set_alias(
                    &name,
                    &alias,
                    ModelVersion::new(to).unwrap(),
                    &AliasChange::default(),
                )
                .await
                .unwrap();
        }
    };
    set(1).await;
    let policy = RollbackPolicy::default().min_requests(20);
    let mut replicas = Vec::new();
    for _ in 0..2 {
        let source: Arc<dyn ModelSource> =
            Arc::new(RegistrySource::new(open() as Arc<dyn ModelRegistry>));
        let server = Server::builder().build().unwrap();
        let follower = server
            .models()
            .follow(
                source,
                "price",
                "champion".parse().unwrap(),
                options(Rollout::Stable).auto_rollback(policy),
            )
            .await
            .unwrap();
        replicas.push((server, follower));
    }
    set(2).await;
    for (_, follower) in &replicas {
        follower
            .subscribe()
            .wait_for(|s| s.version == "2")
            .await
            .unwrap();
    }
    // Traffic on the first replica only.
    let first = app(replicas[0].0.clone());
    for _ in 0..5000 {
        if ask(&first, None).await == (200, Some("1".to_owned())) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    for (server, follower) in &replicas {
        tokio::time::timeout(
            Duration::from_secs(30),
            follower.subscribe().wait_for(|s| s.version == "1"),
        )
        .await
        .expect("a replica did not follow the rollback")
        .unwrap();
        assert_eq!(
            server.models().default_version("price").as_deref(),
            Some("1")
        );
    }
    let history = admin.alias_history(&name, &alias).await.unwrap();
    let last = history.last().unwrap();
    assert_eq!(last.kind, AliasChangeKind::Rollback);
    assert_eq!(last.to, Some(ModelVersion::new(1).unwrap()));
    let log = admin.audit_log(&name).await.unwrap();
    let noted = log.iter().any(|entry| {
        matches!(&entry.action, AuditAction::AliasChanged { note: Some(note), .. }
            if note.contains("automatic rollback") && note.contains("5xx"))
    });
    assert!(noted, "{log:#?}");
}

/// Followers of one name never retire a version another keeps: a canary moving off a
/// version leaves it loaded while it is the stable follower's previous version.
#[tokio::test]
async fn followers_of_one_name_keep_each_others_versions() {
    let dir = tempfile::tempdir().unwrap();
    let source = Arc::new(FileSource::new());
    for v in 1..=3 {
        let slope = f64::from(v);
        source.add_version(
            "price",
            &v.to_string(),
            write(dir.path(), &v.to_string(), slope, false),
        );
    }
    source.set_alias("price", "champion", "1");
    source.set_alias("price", "challenger", "2");
    let server = Server::builder().build().unwrap();
    let stable = follow(&server, &source, "champion", options(Rollout::Stable)).await;
    let canary = follow(
        &server,
        &source,
        "challenger",
        options(Rollout::Canary(20.0)),
    )
    .await;
    let wait = |follower: &Follower, version: &'static str| {
        let mut served = follower.subscribe();
        async move {
            tokio::time::timeout(
                Duration::from_secs(30),
                served.wait_for(|s| s.version == version),
            )
            .await
            .unwrap()
            .unwrap();
        }
    };
    // The canary's version is promoted: the stable follower reuses the loaded entry.
    source.set_alias("price", "champion", "2");
    wait(&stable, "2").await;
    // The canary moves to 1 (the stable's previous), then on to 3.
    source.set_alias("price", "challenger", "1");
    wait(&canary, "1").await;
    source.set_alias("price", "challenger", "3");
    wait(&canary, "3").await;
    let versions = server.models().versions("price");
    assert!(versions.contains(&Some("1".to_owned())), "{versions:?}");
    assert_eq!(
        server.models().canary("price"),
        Some(("3".to_owned(), 20.0))
    );
    // And the stable follower's rollback target is still there: moving back loads nothing.
    source.set_alias("price", "champion", "1");
    wait(&stable, "1").await;
    assert_eq!(
        server.models().default_version("price").as_deref(),
        Some("1")
    );
}
