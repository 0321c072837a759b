//! RELIABILITY §1.4: every registry-source and artifact-path case is refused with a typed
//! error before any I/O. Sources go through `NewVersion::from_source` on a tracking store
//! that panics when called; `models:/` URIs through `download_uri` on a registry whose
//! object store panics when called. So a test passes only if the refusal came first.

use async_trait::async_trait;
use bytes::Bytes;
use mlops_core::{
    ArtifactPath, ExperimentId, ExperimentName, LifecycleStage, Metric, MetricKey, ModelName,
    Param, Rule, RunId, RunName, RunStatus, Tag, TagKey, Timestamp,
};
use mlops_registry::{ModelRegistry, NewVersion, RegistryError, download_uri};
use mlops_track::{
    ArtifactInfo, DatasetInput, Experiment, ExperimentQuery, NewRun, Page, Run, RunInfo, RunQuery,
    TrackingStore,
};

use crate::util::{folder_registry, panic_registry};

/// A tracking store that panics when called.
#[derive(Debug)]
struct PanicTracking;

#[async_trait]
impl TrackingStore for PanicTracking {
    async fn create_experiment(
        &self,
        _: &ExperimentName,
        _: &[Tag],
    ) -> mlops_track::Result<ExperimentId> {
        panic!("I/O")
    }
    async fn get_experiment(&self, _: &ExperimentId) -> mlops_track::Result<Experiment> {
        panic!("I/O")
    }
    async fn get_experiment_by_name(
        &self,
        _: &ExperimentName,
    ) -> mlops_track::Result<Option<Experiment>> {
        panic!("I/O")
    }
    async fn search_experiments(
        &self,
        _: &ExperimentQuery,
    ) -> mlops_track::Result<Page<Experiment>> {
        panic!("I/O")
    }
    async fn rename_experiment(
        &self,
        _: &ExperimentId,
        _: &ExperimentName,
    ) -> mlops_track::Result<()> {
        panic!("I/O")
    }
    async fn set_experiment_lifecycle(
        &self,
        _: &ExperimentId,
        _: LifecycleStage,
    ) -> mlops_track::Result<()> {
        panic!("I/O")
    }
    async fn set_experiment_tag(&self, _: &ExperimentId, _: &Tag) -> mlops_track::Result<()> {
        panic!("I/O")
    }
    async fn create_run(&self, _: NewRun) -> mlops_track::Result<Run> {
        panic!("I/O")
    }
    async fn get_run(&self, _: &RunId) -> mlops_track::Result<Run> {
        panic!("I/O")
    }
    async fn update_run(
        &self,
        _: &RunId,
        _: Option<RunStatus>,
        _: Option<Timestamp>,
        _: Option<&RunName>,
    ) -> mlops_track::Result<RunInfo> {
        panic!("I/O")
    }
    async fn set_run_lifecycle(&self, _: &RunId, _: LifecycleStage) -> mlops_track::Result<()> {
        panic!("I/O")
    }
    async fn log_batch(
        &self,
        _: &RunId,
        _: &[Metric],
        _: &[Param],
        _: &[Tag],
    ) -> mlops_track::Result<()> {
        panic!("I/O")
    }
    async fn log_inputs(&self, _: &RunId, _: &[DatasetInput]) -> mlops_track::Result<()> {
        panic!("I/O")
    }
    async fn get_metric_history(
        &self,
        _: &RunId,
        _: &MetricKey,
    ) -> mlops_track::Result<Vec<Metric>> {
        panic!("I/O")
    }
    async fn delete_tag(&self, _: &RunId, _: &TagKey) -> mlops_track::Result<()> {
        panic!("I/O")
    }
    async fn search_runs(&self, _: &RunQuery) -> mlops_track::Result<Page<Run>> {
        panic!("I/O")
    }
    async fn log_artifact(&self, _: &RunId, _: &ArtifactPath, _: Bytes) -> mlops_track::Result<()> {
        panic!("I/O")
    }
    async fn list_artifacts(
        &self,
        _: &RunId,
        _: Option<&ArtifactPath>,
    ) -> mlops_track::Result<Vec<ArtifactInfo>> {
        panic!("I/O")
    }
    async fn download_artifact(&self, _: &RunId, _: &ArtifactPath) -> mlops_track::Result<Bytes> {
        panic!("I/O")
    }
}

const RUN: &str = "0123456789abcdef0123456789abcdef";
const OTHER_RUN: &str = "fedcba9876543210fedcba9876543210";

/// Asserts that a version source is refused with a typed error, before any I/O.
async fn source_refused(source: &str) -> RegistryError {
    let run = RunId::parse(RUN).unwrap();
    match NewVersion::from_source(&PanicTracking, source, Some(&run), None).await {
        Ok(_) => panic!("source {source:?} was accepted"),
        Err(e @ (RegistryError::InvalidSource { .. } | RegistryError::Invalid(_))) => e,
        Err(other) => panic!("source {source:?}: untyped refusal {other}"),
    }
}

/// Asserts that a path inside a `models:/` URI is refused with a typed error, before any I/O.
async fn path_refused(path: &str) -> RegistryError {
    let registry = panic_registry();
    let uri = format!("models:/churn/1/{path}");
    match download_uri(&registry, &uri).await {
        Ok(_) => panic!("path {path:?} was accepted"),
        Err(e @ (RegistryError::InvalidSource { .. } | RegistryError::Invalid(_))) => e,
        Err(other) => panic!("path {path:?}: untyped refusal {other}"),
    }
}

fn rule(path: &str) -> Rule {
    ArtifactPath::parse(path)
        .unwrap_err()
        .rule()
        .cloned()
        .unwrap()
}

// ---------------------------------------------------------------- registry sources

#[tokio::test]
async fn source_file_scheme_is_refused() {
    for s in [
        "file:///etc/passwd",
        "file://localhost/etc/passwd",
        "file:/etc/passwd",
        "FILE:/etc/passwd",
        "File:///etc",
    ] {
        source_refused(s).await;
    }
}

#[tokio::test]
async fn source_http_and_https_are_refused() {
    for s in [
        "http://evil.example/model",
        "https://evil.example/model",
        "http:///#/../../etc/",
        "HTTPS://x/y",
    ] {
        source_refused(s).await;
    }
}

#[tokio::test]
async fn source_cloud_schemes_are_refused() {
    for s in [
        "s3://bucket/model",
        "gs://bucket/model",
        "az://container/model",
        "abfss://c@a.dfs.core.windows.net/m",
        "wasbs://c@a/m",
    ] {
        source_refused(s).await;
    }
}

#[tokio::test]
async fn source_every_other_scheme_is_refused() {
    for s in [
        "mlflow-artifacts:/1/abc/artifacts",
        "dbfs:/models/x",
        "hdfs://nn/x",
        "ftp://host/x",
        "runs-evil:/x",
        "RUNS:/0123456789abcdef0123456789abcdef",
    ] {
        source_refused(s).await;
    }
}

#[tokio::test]
async fn source_empty_scheme_is_refused() {
    for s in [
        ":/etc/passwd",
        "//server/share/model",
        "/etc/passwd",
        "model/weights",
        "",
    ] {
        source_refused(s).await;
    }
}

#[tokio::test]
async fn source_fragment_is_refused() {
    let err = source_refused(&format!("runs:/{RUN}/model#/../../etc")).await;
    assert!(err.to_string().contains("fragment"), "{err}");
}

#[tokio::test]
async fn source_query_is_refused() {
    let err = source_refused(&format!("runs:/{RUN}/model?path=../../etc")).await;
    assert!(err.to_string().contains("query"), "{err}");
}

#[tokio::test]
async fn source_params_are_refused() {
    source_refused(&format!("runs:/{RUN}/model;type=a")).await;
}

#[tokio::test]
async fn source_userinfo_is_refused() {
    source_refused(&format!("runs://user:pass@host/{RUN}/model")).await;
    source_refused(&format!("runs:/user@{RUN}/model")).await;
}

#[tokio::test]
async fn source_port_and_authority_are_refused() {
    source_refused(&format!("runs://host:8080/{RUN}/model")).await;
    source_refused(&format!("runs://{RUN}/model")).await;
}

#[tokio::test]
async fn source_outside_the_run_artifacts_is_refused() {
    for s in [
        format!("runs:/{RUN}/../{OTHER_RUN}/artifacts"),
        format!("runs:/{RUN}/model/../../secrets"),
        format!("runs:/{RUN}/./model"),
        format!("runs:/{RUN}//model"),
        format!("runs:/{RUN}/model/"),
        "runs:/../../etc/passwd".to_owned(),
        "runs:/not-a-run-id/model".to_owned(),
    ] {
        source_refused(&s).await;
    }
}

#[tokio::test]
async fn source_naming_another_run_is_refused() {
    let err = source_refused(&format!("runs:/{OTHER_RUN}/model")).await;
    assert!(err.to_string().contains(OTHER_RUN), "{err}");
}

#[tokio::test]
async fn source_percent_encoding_is_refused() {
    for s in [
        format!("runs:/{RUN}/%2e%2e/x"),
        format!("runs:/{RUN}/%252e%252e%252f"),
        format!("runs%3a/{RUN}/model"),
    ] {
        source_refused(&s).await;
    }
}

#[tokio::test]
async fn source_backslash_and_control_characters_are_refused() {
    for s in [
        format!("runs:/{RUN}/\\..\\x"),
        format!("runs:/{RUN}/model\n"),
        format!("runs:/{RUN}/a\0b"),
    ] {
        source_refused(&s).await;
    }
}

#[tokio::test]
async fn source_registered_model_cannot_seed_a_new_version() {
    source_refused("models:/churn/1").await;
}

#[tokio::test]
async fn source_run_of_another_experiment_is_refused() {
    // Needs the run's record, so it reads the tracking store; nothing is registered.
    let tracking = mlops_track::LocalStore::open_uri(&"memory://".parse().unwrap())
        .await
        .unwrap();
    let exp_a = tracking
        .create_experiment(&ExperimentName::parse("a").unwrap(), &[])
        .await
        .unwrap();
    let exp_b = tracking
        .create_experiment(&ExperimentName::parse("b").unwrap(), &[])
        .await
        .unwrap();
    let run = tracking
        .create_run(NewRun {
            experiment_id: exp_a,
            run_name: None,
            user_id: "t".into(),
            start_time: Timestamp::now(),
            tags: vec![],
        })
        .await
        .unwrap()
        .info
        .run_id;
    tracking
        .log_artifact(
            &run,
            &ArtifactPath::parse("model/w.bin").unwrap(),
            Bytes::from_static(b"w"),
        )
        .await
        .unwrap();
    let source = format!("runs:/{run}/model");
    let err = NewVersion::from_source(&tracking, &source, Some(&run), Some(&exp_b))
        .await
        .unwrap_err();
    assert!(matches!(err, RegistryError::InvalidSource { .. }), "{err}");
    let ok = NewVersion::from_source(&tracking, &source, Some(&run), None)
        .await
        .unwrap();
    assert_eq!(ok.artifacts[0].0.as_str(), "w.bin");
}

// ---------------------------------------------------------------- artifact paths

#[tokio::test]
async fn path_dot_dot_segments_are_refused() {
    for p in ["a/../b", "../x", "a/..", "model/weights/.."] {
        path_refused(p).await;
        assert_eq!(rule(p), Rule::DotSegment, "{p}");
    }
}

#[tokio::test]
async fn path_dot_and_empty_segments_are_refused() {
    for p in ["a/./b", "a//b", "a/"] {
        path_refused(p).await;
    }
    assert_eq!(rule("a/./b"), Rule::DotSegment);
    assert_eq!(rule("a//b"), Rule::EmptySegment);
    assert_eq!(rule("a/"), Rule::EmptySegment);
    assert_eq!(rule("/a"), Rule::Absolute);
}

#[tokio::test]
async fn path_absolute_forms_are_refused() {
    for p in [
        "/etc/passwd",
        "C:\\x",
        "C:/x",
        "\\\\server\\share",
        "//server/share",
    ] {
        path_refused(p).await;
        assert!(ArtifactPath::parse(p).is_err(), "{p}");
    }
}

#[tokio::test]
async fn path_backslash_is_refused() {
    path_refused("a\\..\\b").await;
    assert_eq!(rule("a\\..\\b"), Rule::Backslash);
}

#[tokio::test]
async fn path_percent_encoded_traversal_is_refused() {
    for p in [
        "%2e%2e/x",
        "%2E%2E%2F",
        "..%2f",
        "%252e%252e%252f",
        "..%5c",
        "%c0%ae%c0%ae/",
        "%00",
        "a/%2E%2E/b",
    ] {
        path_refused(p).await;
        assert_eq!(rule(p), Rule::PercentEncoding, "{p}");
    }
}

#[tokio::test]
async fn path_unicode_lookalikes_and_nfd_are_refused() {
    for p in [
        "\u{ff0e}\u{ff0e}/x",
        "\u{2024}\u{2024}/x",
        "caf\u{65}\u{301}",
    ] {
        path_refused(p).await;
        assert!(ArtifactPath::parse(p).is_err(), "{p}");
    }
    // The NFD spelling (a combining accent) is refused; the NFC one is a valid name.
    assert!(matches!(
        rule("caf\u{65}\u{301}"),
        Rule::NotNfc | Rule::ForbiddenCharacter { .. }
    ));
    assert!(ArtifactPath::parse("caf\u{e9}").is_ok());
}

#[tokio::test]
async fn path_control_characters_are_refused() {
    for p in ["a\0b", "a\nb", "a\rb", "a\tb", "a\u{85}b", "a\u{1b}b"] {
        path_refused(p).await;
        assert!(matches!(rule(p), Rule::ControlCharacter { .. }), "{p:?}");
    }
}

#[tokio::test]
async fn path_url_metacharacters_are_refused() {
    for p in ["model#1", "model?x=1", "model;x", "weights.bin:stream"] {
        path_refused(p).await;
        assert!(matches!(rule(p), Rule::ForbiddenCharacter { .. }), "{p}");
    }
}

#[tokio::test]
async fn path_length_limits_are_enforced() {
    let long_segment = "x".repeat(256);
    path_refused(&long_segment).await;
    assert!(matches!(rule(&long_segment), Rule::SegmentTooLong { .. }));
    let long_path = vec!["y".repeat(200); 6].join("/");
    path_refused(&long_path).await;
    assert!(matches!(rule(&long_path), Rule::TooLong { .. }));
}

#[tokio::test]
async fn model_names_and_aliases_in_uris_are_validated() {
    let registry = panic_registry();
    for uri in [
        "models:/../1/x",
        "models:/a%2fb/1/x",
        "models:/churn@latest/x",
        "models:/churn/v1/x",
        "models:/churn/01/x",
        "models:/churn",
    ] {
        let err = download_uri(&registry, uri).await.unwrap_err();
        assert!(
            matches!(
                err,
                RegistryError::InvalidSource { .. } | RegistryError::Invalid(_)
            ),
            "{uri}: {err}"
        );
    }
}

#[tokio::test]
async fn model_names_differing_only_in_case_collide() {
    let (registry, _dir) = folder_registry();
    registry
        .create_model(&ModelName::parse("Churn").unwrap(), None, &[])
        .await
        .unwrap();
    let err = registry
        .create_model(&ModelName::parse("churn").unwrap(), None, &[])
        .await
        .unwrap_err();
    assert!(matches!(err, RegistryError::AlreadyExists { .. }), "{err}");
}

#[cfg(unix)]
#[test]
fn symlinks_in_a_version_folder_are_never_followed() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("weights.bin"), b"w").unwrap();
    std::os::unix::fs::symlink("/etc/passwd", dir.path().join("passwd")).unwrap();
    let err = NewVersion::from_dir(dir.path()).unwrap_err();
    assert!(err.to_string().contains("symbolic link"), "{err}");
    let inner = tempfile::tempdir().unwrap();
    std::fs::write(inner.path().join("ok.bin"), b"ok").unwrap();
    std::os::unix::fs::symlink(inner.path(), dir.path().join("linked-dir")).unwrap();
    std::fs::remove_file(dir.path().join("passwd")).unwrap();
    assert!(
        NewVersion::from_dir(dir.path()).is_err(),
        "a linked folder is refused too"
    );
}

#[test]
fn bad_file_names_in_a_version_folder_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("model#1.bin"), b"w").unwrap();
    let err = NewVersion::from_dir(dir.path()).unwrap_err();
    assert!(matches!(err, RegistryError::Invalid(_)), "{err}");
}

/// Creating a model that exists writes nothing: before, every attempt (each
/// `mlops models register` of an existing model) left an unreferenced `models/<id>/` folder.
#[tokio::test]
async fn creating_an_existing_model_leaves_no_folder() {
    let (registry, dir) = crate::util::folder_registry();
    let name = mlops_core::ModelName::parse("churn").unwrap();
    registry.create_model(&name, None, &[]).await.unwrap();
    for again in ["churn", "CHURN", "Churn"] {
        let again = mlops_core::ModelName::parse(again).unwrap();
        let err = registry.create_model(&again, None, &[]).await.unwrap_err();
        assert!(
            matches!(&err, mlops_registry::RegistryError::AlreadyExists { name, .. } if name == "churn"),
            "{err}"
        );
    }
    let models = std::fs::read_dir(dir.path().join("registry/models"))
        .unwrap()
        .count();
    assert_eq!(models, 1, "one folder per model");
}

/// A name that looks like an existing model's (equal Unicode TR 39 skeletons) is refused,
/// for a new model and for a rename; the error names the existing model. Before, Cyrillic
/// `quіckstart` beside `quickstart` and Greek `chυrn` beside `churn` were both created.
#[tokio::test]
async fn a_confusable_model_name_is_refused() {
    let (registry, _dir) = crate::util::folder_registry();
    let parse = |s: &str| ModelName::parse(s).unwrap();
    for (existing, lookalike) in [
        ("quickstart", "qu\u{456}ckstart"), // Cyrillic і
        ("churn", "ch\u{3c5}rn"),           // Greek υ
        ("\u{440}\u{430}y", "pay"),         // Cyrillic р, а first, Latin second
    ] {
        registry
            .create_model(&parse(existing), None, &[])
            .await
            .unwrap();
        let err = registry
            .create_model(&parse(lookalike), None, &[])
            .await
            .unwrap_err();
        match &err {
            RegistryError::Confusable { name, existing: e } => {
                assert_eq!((name.as_str(), e.as_str()), (lookalike, existing));
            }
            other => panic!("{lookalike}: expected Confusable, got {other}"),
        }
    }
    let other = parse("other");
    registry.create_model(&other, None, &[]).await.unwrap();
    let err = registry
        .rename_model(&other, &parse("qu\u{456}ckstart"))
        .await
        .unwrap_err();
    assert!(matches!(err, RegistryError::Confusable { .. }), "{err}");
    // Two ASCII names are never refused as confusable (`1` and `l` share a skeleton).
    registry
        .create_model(&parse("model-1"), None, &[])
        .await
        .unwrap();
    registry
        .create_model(&parse("model-l"), None, &[])
        .await
        .unwrap();
    // A model may be renamed to a look-alike of its own name.
    registry
        .rename_model(&parse("churn"), &parse("Churn"))
        .await
        .unwrap();
}
