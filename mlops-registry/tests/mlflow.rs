//! The MLflow registry backend against the real MLflow server that `scripts/test.sh` starts
//! (`MLOPS_TEST_MLFLOW_URI`). The server is shared by every test: each one works on models
//! with unique names.

use std::collections::BTreeMap;

use arrow_schema::{DataType, Field, Schema};
use bytes::Bytes;
use mlops_core::testing::{MLFLOW_URI, require_env};
use mlops_core::{DatasetRef, ExperimentName, Metric, MetricKey, RunId, Tag, TagKey, Timestamp};
use mlops_registry::mlflow::MlflowRegistry;
use mlops_registry::{
    AliasChange, AliasChangeKind, AliasName, ApprovalState, ArtifactPath, AuditAction, Decision,
    Expect, ModelName, ModelQuery, ModelRegistry, ModelVersion, NewVersion, RegistryError,
    RegistryExt, RunLink, Signature, Stage, VersionQuery, VersionStatus,
};
use mlops_track::mlflow::MlflowStore;
use mlops_track::{NewRun, TrackingStore};

pub(crate) fn store() -> MlflowStore {
    MlflowStore::new(&require_env(MLFLOW_URI)).unwrap()
}

pub(crate) fn registry() -> MlflowRegistry {
    MlflowRegistry::builder(store())
        .actor("ada")
        .build()
        .unwrap()
}

pub(crate) fn unique_model(test: &str) -> ModelName {
    ModelName::parse(format!("{test}-{}", RunId::generate())).unwrap()
}

fn alias(name: &str) -> AliasName {
    AliasName::parse(name).unwrap()
}

fn path(p: &str) -> ArtifactPath {
    ArtifactPath::parse(p).unwrap()
}

fn v(n: u64) -> ModelVersion {
    ModelVersion::new(n).unwrap()
}

/// A run on the server with two metrics, as a training job would leave it.
pub(crate) async fn training_run(store: &MlflowStore, test: &str) -> RunLink {
    let name =
        ExperimentName::parse(format!("registry-mlflow/{test}-{}", RunId::generate())).unwrap();
    let experiment_id = store.create_experiment(&name, &[]).await.unwrap();
    let run = store
        .create_run(NewRun {
            experiment_id: experiment_id.clone(),
            run_name: None,
            user_id: "ada".into(),
            start_time: Timestamp::now(),
            tags: vec![],
        })
        .await
        .unwrap();
    let now = Timestamp::now();
    let metrics = vec![
        Metric::new(MetricKey::parse("accuracy").unwrap(), 0.91, now, 3),
        Metric::new(MetricKey::parse("loss").unwrap(), 0.25, now, 3),
    ];
    store
        .log_batch(&run.info.run_id, &metrics, &[], &[])
        .await
        .unwrap();
    RunLink {
        run_id: run.info.run_id,
        experiment_id,
        artifact_path: Some(path("model")),
        metrics,
    }
}

fn signature() -> Signature {
    Signature::new(
        Schema::new(vec![
            Field::new("age", DataType::Int64, false),
            Field::new("income", DataType::Float64, true),
        ]),
        Some(Schema::new(vec![Field::new(
            "score",
            DataType::Float64,
            false,
        )])),
    )
}

/// Two files, a signature, a drift profile and a dataset.
pub(crate) fn rich_version(run: Option<RunLink>) -> NewVersion {
    let dataset = DatasetRef::from_batches(
        "train",
        "s3://bucket/train.parquet",
        std::sync::Arc::new(Schema::new(vec![Field::new("age", DataType::Int64, false)])),
        [],
    )
    .unwrap();
    let mut new = NewVersion::new()
        .with_artifact(path("model.onnx"), &b"onnx weights"[..])
        .with_artifact(path("conf/params.json"), &br#"{"alpha": 0.1}"#[..])
        .with_signature(signature())
        .with_drift_profile(&b"profile bytes"[..])
        .with_description("first")
        .with_tag(Tag::parse("team", "fraud").unwrap());
    new = new.with_dataset(dataset);
    if let Some(run) = run {
        new = new.with_run(run);
    }
    new
}

#[tokio::test]
async fn mlflow_registry_versions_keep_files_digests_and_metadata() {
    let registry = registry();
    let store = store();
    let name = unique_model("files");
    let model = registry
        .create_model(
            &name,
            Some("fraud scores"),
            &[Tag::parse("owner", "risk").unwrap()],
        )
        .await
        .unwrap();
    assert_eq!(model.creator, "ada");
    assert_eq!(model.description.as_deref(), Some("fraud scores"));
    assert_eq!(model.tags, vec![Tag::parse("owner", "risk").unwrap()]);

    let run = training_run(&store, "files").await;
    let new = rich_version(Some(run.clone()));
    let expected_datasets = new.datasets.clone();
    let created = registry.create_version(&name, new).await.unwrap();
    assert_eq!(created.version, v(1));
    assert_eq!(created.creator, "ada");
    assert_eq!(created.description.as_deref(), Some("first"));
    assert_eq!(created.tags, vec![Tag::parse("team", "fraud").unwrap()]);
    assert_eq!(created.status, VersionStatus::Ready);
    assert_eq!(created.stage, Stage::None);
    assert_eq!(created.run.as_ref(), Some(&run));
    assert_eq!(created.metric("accuracy"), Some(0.91));
    assert_eq!(created.signature, Some(signature()));
    assert_eq!(created.datasets, expected_datasets);
    let files: BTreeMap<String, (String, u64)> = created
        .artifacts
        .iter()
        .map(|a| (a.path.to_string(), (a.sha256.clone(), a.size)))
        .collect();
    assert_eq!(
        files["model.onnx"],
        (mlops_registry::sha256_hex(b"onnx weights"), 12)
    );
    assert_eq!(files.len(), 2);
    // The files went into the training run, which MLflow links the version to.
    assert!(
        created.source.starts_with(&format!(
            "mlflow-artifacts:/{}/{}/artifacts/mlops-registry/",
            run.experiment_id, run.run_id
        )),
        "{}",
        created.source
    );

    let got = registry.get_version(&name, v(1)).await.unwrap();
    assert_eq!(got, created);
    assert_eq!(
        registry
            .download_artifact(&name, v(1), &path("conf/params.json"))
            .await
            .unwrap(),
        Bytes::from_static(br#"{"alpha": 0.1}"#)
    );
    assert_eq!(
        registry.download_drift_profile(&name, v(1)).await.unwrap(),
        Some(Bytes::from_static(b"profile bytes"))
    );
    let all = registry.download_all(&name, v(1)).await.unwrap();
    assert_eq!(all.len(), 2);
    let missing = registry
        .download_artifact(&name, v(1), &path("nope.bin"))
        .await
        .unwrap_err();
    assert!(missing.is_not_found(), "{missing}");

    // A file replaced behind the registry's back fails its digest check.
    let relative = created
        .source
        .split("/artifacts/")
        .nth(1)
        .unwrap()
        .to_owned();
    store
        .log_artifact(
            &run.run_id,
            &path(&format!("{relative}/model.onnx")),
            Bytes::from_static(b"tampered"),
        )
        .await
        .unwrap();
    let err = registry
        .download_artifact(&name, v(1), &path("model.onnx"))
        .await
        .unwrap_err();
    match err {
        RegistryError::DigestMismatch {
            expected, actual, ..
        } => {
            assert_eq!(expected, mlops_registry::sha256_hex(b"onnx weights"));
            assert_eq!(actual, mlops_registry::sha256_hex(b"tampered"));
        }
        other => panic!("{other:?}"),
    }

    // Without a run on this server the files go to a holder run in `mlops-registry`.
    let v2 = registry
        .create_version(
            &name,
            NewVersion::new().with_artifact(path("model.onnx"), &b"v2"[..]),
        )
        .await
        .unwrap();
    assert_eq!(v2.version, v(2));
    assert!(v2.run.is_none());
    assert!(v2.source.starts_with("mlflow-artifacts:/"), "{}", v2.source);
    assert_eq!(
        registry
            .download_artifact(&name, v(2), &path("model.onnx"))
            .await
            .unwrap(),
        Bytes::from_static(b"v2")
    );
    let model = registry.get_model(&name).await.unwrap();
    assert_eq!(model.latest_version, Some(v(2)));
}

#[tokio::test]
async fn mlflow_registry_aliases_check_preconditions_and_search_fills_aliases() {
    let registry = registry();
    let name = unique_model("aliases");
    registry.create_model(&name, None, &[]).await.unwrap();
    for _ in 0..3 {
        registry
            .create_version(
                &name,
                NewVersion::new().with_artifact(path("m.bin"), &b"x"[..]),
            )
            .await
            .unwrap();
    }
    let champion = alias("champion");
    let set = registry
        .set_alias(
            &name,
            &champion,
            v(1),
            &AliasChange::expecting(Expect::Absent),
        )
        .await
        .unwrap();
    assert_eq!(
        (set.from, set.to, set.actor.as_str()),
        (None, Some(v(1)), "ada")
    );
    // A false precondition changes nothing.
    let err = registry
        .set_alias(
            &name,
            &champion,
            v(2),
            &AliasChange::expecting(Expect::Absent),
        )
        .await
        .unwrap_err();
    match &err {
        RegistryError::Conflict {
            current, expected, ..
        } => assert_eq!((*current, *expected), (Some(v(1)), Expect::Absent)),
        other => panic!("{other:?}"),
    }
    assert_eq!(
        registry
            .resolve_alias(&name, &champion)
            .await
            .unwrap()
            .version,
        v(1)
    );
    let promote = AliasChange {
        expected: Expect::Version(v(1)),
        kind: AliasChangeKind::Promote,
        gates: vec![],
        note: Some("better".into()),
    };
    registry
        .set_alias(&name, &champion, v(3), &promote)
        .await
        .unwrap();
    registry
        .set_alias(&name, &alias("challenger"), v(2), &AliasChange::default())
        .await
        .unwrap();
    let resolved = registry.resolve_alias(&name, &champion).await.unwrap();
    assert_eq!(
        (resolved.version, resolved.aliases.clone()),
        (v(3), vec![champion.clone()])
    );
    assert_eq!(
        registry.list_aliases(&name).await.unwrap(),
        BTreeMap::from([(alias("challenger"), v(2)), (champion.clone(), v(3))])
    );

    // model-versions/search omits aliases (MLflow #9783); the backend fills them in.
    let page = registry
        .search_versions(&VersionQuery {
            model: Some(name.clone()),
            ..VersionQuery::default()
        })
        .await
        .unwrap();
    let listed: Vec<(u64, Vec<String>)> = page
        .items
        .iter()
        .map(|i| {
            (
                i.version.get(),
                i.aliases.iter().map(|a| a.to_string()).collect(),
            )
        })
        .collect();
    assert_eq!(
        listed,
        vec![
            (3, vec!["champion".to_owned()]),
            (2, vec!["challenger".to_owned()]),
            (1, vec![]),
        ]
    );

    let history = registry.alias_history(&name, &champion).await.unwrap();
    let moves: Vec<_> = history.iter().map(|e| (e.from, e.to, e.kind)).collect();
    assert_eq!(
        moves,
        vec![
            (None, Some(v(1)), AliasChangeKind::Set),
            (Some(v(1)), Some(v(3)), AliasChangeKind::Promote),
        ]
    );

    // Deleting: precondition, then NotFound once unset.
    let err = registry
        .delete_alias(
            &name,
            &champion,
            &AliasChange::expecting(Expect::Version(v(1))),
        )
        .await
        .unwrap_err();
    assert!(err.is_conflict(), "{err}");
    registry
        .delete_alias(
            &name,
            &champion,
            &AliasChange::expecting(Expect::Version(v(3))),
        )
        .await
        .unwrap();
    let err = registry
        .delete_alias(&name, &champion, &AliasChange::default())
        .await
        .unwrap_err();
    assert!(err.is_not_found(), "{err}");
    let err = registry.resolve_alias(&name, &champion).await.unwrap_err();
    assert!(
        matches!(&err, RegistryError::NotFound { what: "alias", id } if id == "champion"),
        "{err:?}"
    );
    let err = registry
        .resolve_alias(&unique_model("nobody"), &champion)
        .await
        .unwrap_err();
    assert!(
        matches!(
            &err,
            RegistryError::NotFound {
                what: "registered model",
                ..
            }
        ),
        "{err:?}"
    );
    // An alias on a version that does not exist.
    let err = registry
        .set_alias(&name, &champion, v(9), &AliasChange::default())
        .await
        .unwrap_err();
    assert!(err.is_not_found(), "{err}");

    // Deleting a version deletes its aliases (MLflow does), and the log says so.
    registry.delete_version(&name, v(2)).await.unwrap();
    assert!(
        registry
            .get_version(&name, v(2))
            .await
            .unwrap_err()
            .is_not_found()
    );
    assert!(registry.list_aliases(&name).await.unwrap().is_empty());
    let history = registry
        .alias_history(&name, &alias("challenger"))
        .await
        .unwrap();
    assert_eq!(
        history.last().map(|e| (e.from, e.to)),
        Some((Some(v(2)), None))
    );
}

#[tokio::test]
async fn mlflow_registry_models_tags_stages_and_errors() {
    let registry = registry();
    let name = unique_model("models");
    registry.create_model(&name, None, &[]).await.unwrap();
    // Names are unique ignoring case.
    let upper = ModelName::parse(name.as_str().to_uppercase()).unwrap();
    let err = registry.create_model(&upper, None, &[]).await.unwrap_err();
    assert!(
        matches!(&err, RegistryError::AlreadyExists { name: n, .. } if n == name.as_str()),
        "{err:?}"
    );
    let err = registry
        .get_model(&unique_model("absent"))
        .await
        .unwrap_err();
    assert!(
        matches!(
            &err,
            RegistryError::NotFound {
                what: "registered model",
                ..
            }
        ),
        "{err:?}"
    );
    // The reserved prefix is refused before anything is sent.
    let forged = Tag::parse("mlops.registry.audit.0000000000001.x", "{}").unwrap();
    assert!(matches!(
        registry.set_model_tag(&name, &forged).await,
        Err(RegistryError::InvalidArgument(_))
    ));

    registry
        .set_model_description(&name, "new text")
        .await
        .unwrap();
    registry
        .set_model_tag(&name, &Tag::parse("stage", "beta").unwrap())
        .await
        .unwrap();
    registry
        .set_model_tag(&name, &Tag::parse("gone", "soon").unwrap())
        .await
        .unwrap();
    let key = TagKey::parse("gone").unwrap();
    registry.delete_model_tag(&name, &key).await.unwrap();
    registry.delete_model_tag(&name, &key).await.unwrap();
    let model = registry.get_model(&name).await.unwrap();
    assert_eq!(model.description.as_deref(), Some("new text"));
    assert_eq!(model.tags, vec![Tag::parse("stage", "beta").unwrap()]);

    for _ in 0..2 {
        registry
            .create_version(
                &name,
                NewVersion::new().with_artifact(path("m.bin"), &b"x"[..]),
            )
            .await
            .unwrap();
    }
    registry
        .set_version_description(&name, v(1), "v1 text")
        .await
        .unwrap();
    registry
        .set_version_tag(&name, v(1), &Tag::parse("k", "v").unwrap())
        .await
        .unwrap();
    registry
        .delete_version_tag(&name, v(1), &TagKey::parse("k").unwrap())
        .await
        .unwrap();
    let status = registry
        .set_version_status(&name, v(1), VersionStatus::FailedRegistration)
        .await
        .unwrap();
    assert_eq!(status.status, VersionStatus::FailedRegistration);
    assert_eq!(status.description.as_deref(), Some("v1 text"));
    assert!(status.tags.is_empty());

    registry
        .transition_stage(&name, v(1), Stage::Production, false)
        .await
        .unwrap();
    let moved = registry
        .transition_stage(&name, v(2), Stage::Production, true)
        .await
        .unwrap();
    assert_eq!(moved.stage, Stage::Production);
    assert_eq!(
        registry.get_version(&name, v(1)).await.unwrap().stage,
        Stage::Archived
    );
    let log = registry.audit_log(&name).await.unwrap();
    let archived = log.iter().find_map(|e| match &e.action {
        AuditAction::StageTransition {
            version, archived, ..
        } if *version == v(2) => Some(archived.clone()),
        _ => None,
    });
    assert_eq!(archived, Some(vec![v(1)]));

    // Search by name fragment, any case.
    let fragment = name.as_str()[..12].to_uppercase();
    let found = registry
        .search_models(&ModelQuery {
            name_contains: Some(fragment),
            ..ModelQuery::default()
        })
        .await
        .unwrap();
    assert!(found.items.iter().any(|m| m.name == name));
    let none = registry
        .search_models(&ModelQuery {
            name_contains: Some("no'such%".into()),
            ..ModelQuery::default()
        })
        .await
        .unwrap();
    assert!(none.items.is_empty());

    // Rename: the versions and the log follow; the old name is free.
    let renamed = unique_model("renamed");
    registry.rename_model(&name, &renamed).await.unwrap();
    assert!(registry.get_model(&name).await.unwrap_err().is_not_found());
    assert_eq!(
        registry.get_version(&renamed, v(2)).await.unwrap().model,
        renamed
    );
    let log = registry.audit_log(&renamed).await.unwrap();
    assert!(matches!(
        log.last().map(|e| &e.action),
        Some(AuditAction::ModelRenamed { .. })
    ));
    let taken = registry.rename_model(&renamed, &upper).await;
    assert!(
        taken.is_ok(),
        "the old name (in any case) is free: {taken:?}"
    );
    registry.delete_model(&upper).await.unwrap();
    assert!(registry.get_model(&upper).await.unwrap_err().is_not_found());
    assert!(
        registry
            .delete_model(&upper)
            .await
            .unwrap_err()
            .is_not_found()
    );
}

#[tokio::test]
async fn mlflow_registry_audit_log_and_approvals_live_in_model_tags() {
    let registry = registry();
    let name = unique_model("audit");
    registry.create_model(&name, None, &[]).await.unwrap();
    registry
        .create_version(
            &name,
            NewVersion::new().with_artifact(path("m.bin"), &b"x"[..]),
        )
        .await
        .unwrap();
    let champion = alias("champion");
    let requested = registry
        .request_approval(&name, v(1), &champion, "ada", Some("please"))
        .await
        .unwrap();
    let approved = registry
        .approve(&name, v(1), &champion, "grace", None)
        .await
        .unwrap();
    assert!(approved.seq > requested.seq);
    let err = registry
        .approve(&name, v(1), &champion, "  ", None)
        .await
        .unwrap_err();
    assert!(matches!(err, RegistryError::InvalidArgument(_)), "{err:?}");
    let err = registry
        .approve(&name, v(7), &champion, "grace", None)
        .await
        .unwrap_err();
    assert!(err.is_not_found(), "{err}");
    let approvals = registry.approvals(&name).await.unwrap();
    let states: Vec<_> = approvals
        .iter()
        .map(|a| (a.record.state, a.record.by.as_str()))
        .collect();
    assert_eq!(
        states,
        vec![
            (ApprovalState::Requested, "ada"),
            (ApprovalState::Approved, "grace")
        ]
    );
    assert_eq!(approvals[1], approved);

    // A decision longer than one tag value is split and read back whole.
    let reason = "the candidate's accuracy 0.93 beats 0.91 by more than the margin; ".repeat(200);
    let decision = Decision {
        alias: champion.clone(),
        version: v(1),
        expected: Expect::Absent,
        current: None,
        promoted: false,
        kind: AliasChangeKind::Promote,
        reason: reason.clone(),
        gates: vec![],
    };
    let entry = registry.record_decision(&name, &decision).await.unwrap();
    let log = registry.audit_log(&name).await.unwrap();
    assert_eq!(log.last(), Some(&entry));
    assert!(matches!(&log.last().unwrap().action, AuditAction::Decision(d) if d.reason == reason));
    let actions: Vec<&str> = log
        .iter()
        .map(|e| match &e.action {
            AuditAction::ModelCreated { .. } => "model",
            AuditAction::VersionCreated { .. } => "version",
            AuditAction::Approval(_) => "approval",
            AuditAction::Decision(_) => "decision",
            _ => "other",
        })
        .collect();
    assert_eq!(
        actions,
        ["model", "version", "approval", "approval", "decision"]
    );
    assert!(
        log.iter()
            .zip(1..)
            .all(|(e, i)| e.seq == i && e.actor == "ada")
    );
    // The audit tags stay out of the model's user tags.
    assert!(registry.get_model(&name).await.unwrap().tags.is_empty());
}

/// The shared conformance suite, one test per check, on the real MLflow server.
mod conformance {
    use mlops_registry::conformance;

    use super::registry;

    macro_rules! checks {
        ($($check:ident),*) => {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $check() {
                    conformance::$check(&registry()).await;
                }
            )*
        };
    }

    checks!(
        models,
        model_search,
        versions,
        version_records,
        stages,
        aliases,
        promotion_gates,
        approvals,
        rollbacks,
        audit_log,
        updates,
        conveniences
    );

    /// Versions registered from runs on the same server.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn register_from_run() {
        let registry = registry();
        conformance::register_from_run(&registry, registry.tracking_store()).await;
    }

    /// Four clients ensure one model at once: the server's unique name decides.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_ensure_model() {
        let handles: Vec<_> = (0..4).map(|_| registry()).collect();
        let refs: Vec<&dyn mlops_registry::ModelRegistry> = handles
            .iter()
            .map(|r| r as &dyn mlops_registry::ModelRegistry)
            .collect();
        conformance::concurrent_ensure_model(&refs).await;
    }

    /// Four clients register versions of one model at once: MLflow numbers them.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_versions() {
        let handles: Vec<_> = (0..4).map(|_| registry()).collect();
        let refs: Vec<&dyn mlops_registry::ModelRegistry> = handles
            .iter()
            .map(|r| r as &dyn mlops_registry::ModelRegistry)
            .collect();
        conformance::concurrent_versions(&refs).await;
    }

    // `concurrent_promotions` is not run here: MLflow has no conditional write, so two
    // promoters racing on one alias can both pass their precondition check (see the
    // module documentation of `mlops_registry::mlflow`).
}

/// Creates through a loopback proxy that loses the server's answer (the create is applied,
/// the client hears nothing) or drops the request (nothing is applied): neither registers
/// anything twice, and both succeed.
mod lost_answers {
    use std::time::Duration;

    use mlops_core::testing::{LossyProxy, MLFLOW_URI, ProxyMode, require_env};
    use mlops_registry::mlflow::MlflowRegistry;
    use mlops_registry::{ModelRegistry, NewVersion, VersionQuery};
    use mlops_track::mlflow::MlflowStore;

    use super::{path, registry, unique_model};

    /// A proxy that loses the answer to (or, with `drop_request`, drops) the first
    /// `budget` requests containing `marker`.
    async fn lossy(marker: &'static str, budget: usize, drop_request: bool) -> LossyProxy {
        let mode = if drop_request {
            ProxyMode::DropRequests { times: budget }
        } else {
            ProxyMode::LoseAnswers { times: budget }
        };
        LossyProxy::start(&require_env(MLFLOW_URI), mode, marker).await
    }

    /// A registry that talks to the server through `proxy`, retrying quickly.
    fn registry_through(proxy: &LossyProxy) -> MlflowRegistry {
        let store = MlflowStore::builder(&proxy.url())
            .backoff(Duration::from_millis(20), Duration::from_millis(200))
            .build()
            .unwrap();
        MlflowRegistry::builder(store).actor("ada").build().unwrap()
    }

    async fn version_count(name: &mlops_registry::ModelName) -> usize {
        registry()
            .search_versions(&VersionQuery {
                model: Some(name.clone()),
                ..VersionQuery::default()
            })
            .await
            .unwrap()
            .items
            .len()
    }

    #[tokio::test]
    async fn mlflow_lost_create_answers_never_register_twice() {
        let name = unique_model("lost-answer");
        let proxy = lossy("POST /api/2.0/mlflow/registered-models/create", 1, false).await;
        let through = registry_through(&proxy);
        let model = through.create_model(&name, None, &[]).await.unwrap();
        assert_eq!(model.name, name);
        assert_eq!(proxy.lost(), 1, "the answer was lost");
        assert_eq!(proxy.seen(), 1, "found by its id, not re-sent");

        let proxy = lossy("POST /api/2.0/mlflow/model-versions/create", 1, false).await;
        let through = registry_through(&proxy);
        let files = NewVersion::new().with_artifact(path("m.bin"), &b"x"[..]);
        let version = through.create_version(&name, files).await.unwrap();
        assert_eq!(version.version.get(), 1);
        assert_eq!(version.artifacts.len(), 1);
        assert_eq!(proxy.lost(), 1, "the answer was lost");
        assert_eq!(proxy.seen(), 1, "found by its id, not re-sent");
        assert_eq!(version_count(&name).await, 1, "exactly one version");
    }

    #[tokio::test]
    async fn mlflow_dropped_create_requests_are_sent_again_once() {
        let name = unique_model("dropped-request");
        let proxy = lossy("POST /api/2.0/mlflow/registered-models/create", 1, true).await;
        let model = registry_through(&proxy)
            .create_model(&name, None, &[])
            .await
            .unwrap();
        assert_eq!(model.name, name);
        assert_eq!(proxy.lost(), 1, "the request was dropped");
        assert_eq!(proxy.seen(), 2, "not found, so sent again");
        let proxy = lossy("POST /api/2.0/mlflow/model-versions/create", 1, true).await;
        let through = registry_through(&proxy);
        let files = NewVersion::new().with_artifact(path("m.bin"), &b"x"[..]);
        let version = through.create_version(&name, files).await.unwrap();
        assert_eq!(version.version.get(), 1);
        assert_eq!(proxy.lost(), 1, "the request was dropped");
        assert_eq!(proxy.seen(), 2, "not found, so sent again");
        assert_eq!(version_count(&name).await, 1, "exactly one version");
    }
}
