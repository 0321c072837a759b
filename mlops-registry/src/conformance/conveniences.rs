//! Checks of what [`RegistryExt`] composes, on each backend: get-or-create, registering
//! from a tracked run, promotion and rollback as methods, approvals, whole downloads.

use bytes::Bytes;
use mlops_core::{ExperimentId, ExperimentName, Metric, MetricKey, ModelName, RunId, Timestamp};
use mlops_track::{NewRun, TrackingStore};

use super::{alias, files, new_version, path, unique_model, v};
use crate::error::RegistryError;
use crate::ext::RegistryExt;
use crate::registry::ModelRegistry;
use crate::types::{AliasChange, ApprovalState, Expect, NewVersion, RunLink};

/// `ensure_model` (created once, returned as it is after), promotion and rollback as
/// methods, alias deletion, approvals from the audit log, and `download_all`.
pub async fn conveniences(registry: &dyn ModelRegistry) {
    let name = unique_model("ext");
    let created = registry
        .ensure_model(&name, Some("first"), &[])
        .await
        .unwrap();
    assert_eq!(created.description.as_deref(), Some("first"));
    let again = registry
        .ensure_model(&name, Some("ignored"), &[])
        .await
        .unwrap();
    assert_eq!(
        again.description.as_deref(),
        Some("first"),
        "an existing model is returned as it is"
    );
    let upper = ModelName::parse(name.as_str().to_uppercase()).unwrap();
    let case = registry.ensure_model(&upper, None, &[]).await;
    assert!(
        matches!(case, Err(RegistryError::AlreadyExists { .. })),
        "a name differing only in case is still taken: {case:?}"
    );

    let v1 = new_version(registry, &name, files("1")).await;
    let v2 = new_version(registry, &name, files("2")).await;
    let champion = alias("champion");
    let first = registry
        .promote(&name, v1, &champion, Expect::Absent, &[])
        .await
        .unwrap();
    assert!(first.promoted(), "{:?}", first.decision);
    let second = registry
        .promote(&name, v2, &champion, Expect::Version(v1), &[])
        .await
        .unwrap();
    assert!(second.promoted(), "{:?}", second.decision);
    assert!(
        registry
            .rollback(&name, &champion)
            .await
            .unwrap()
            .promoted()
    );
    assert_eq!(
        registry.alias_holder(&name, &champion).await.unwrap(),
        Some(v1)
    );

    let downloaded = registry.download_all(&name, v1).await.unwrap();
    assert_eq!(
        downloaded,
        vec![
            (path("MLmodel"), Bytes::from("flavor: 1")),
            (path("model/weights.bin"), Bytes::from("weights 1")),
        ],
        "every file, in path order"
    );

    let prod = alias("prod");
    registry
        .request_approval(&name, v2, &prod, "ci-bot", None)
        .await
        .unwrap();
    registry
        .approve(&name, v2, &prod, "alice", Some("ok"))
        .await
        .unwrap();
    let approvals = registry.approvals(&name).await.unwrap();
    let states: Vec<(ApprovalState, &str)> = approvals
        .iter()
        .map(|a| (a.record.state, a.record.by.as_str()))
        .collect();
    assert_eq!(
        states,
        vec![
            (ApprovalState::Requested, "ci-bot"),
            (ApprovalState::Approved, "alice")
        ]
    );
    assert!(approvals.windows(2).all(|w| w[0].seq < w[1].seq));

    registry
        .delete_alias(
            &name,
            &champion,
            &AliasChange::expecting(Expect::Version(v1)),
        )
        .await
        .unwrap();
    assert_eq!(registry.alias_holder(&name, &champion).await.unwrap(), None);
}

/// `register_from_run` reads the link from the tracking store (experiment and the latest
/// point of each metric), creates the model on first use, keeps the run folder a link to
/// the same run names, and registers nothing when the run does not exist.
pub async fn register_from_run(registry: &dyn ModelRegistry, tracking: &dyn TrackingStore) {
    let experiment_name = ExperimentName::parse(format!(
        "conformance-registry-{}",
        uuid::Uuid::now_v7().simple()
    ))
    .unwrap();
    let experiment = tracking
        .create_experiment(&experiment_name, &[])
        .await
        .unwrap();
    let run = tracking
        .create_run(NewRun {
            experiment_id: experiment.clone(),
            run_name: None,
            user_id: "conformance".into(),
            start_time: Timestamp::now(),
            tags: vec![],
        })
        .await
        .unwrap()
        .info
        .run_id;
    let auc = MetricKey::parse("auc").unwrap();
    let points = [
        Metric::new(auc.clone(), 0.7, Timestamp::now(), 0),
        Metric::new(auc, 0.8, Timestamp::now(), 1),
    ];
    tracking.log_batch(&run, &points, &[], &[]).await.unwrap();

    let name = unique_model("from-run");
    let files = NewVersion::new()
        .with_artifact(path("model.bin"), &b"w"[..])
        .with_description("from a run");
    let info = registry
        .register_from_run(&name, tracking, &run, files)
        .await
        .unwrap();
    assert_eq!(info.version, v(1), "the model was created on first use");
    let link = info.run.as_ref().expect("the run is linked");
    assert_eq!(link.run_id, run);
    assert_eq!(link.experiment_id, experiment);
    assert_eq!(link.artifact_path, None);
    assert_eq!(info.metric("auc"), Some(0.8), "the latest point");

    let hand_made = RunLink {
        run_id: run.clone(),
        experiment_id: ExperimentId::generate(),
        artifact_path: Some(path("model")),
        metrics: Vec::new(),
    };
    let linked = NewVersion::new()
        .with_artifact(path("model.bin"), &b"w2"[..])
        .with_run(hand_made);
    let second = registry
        .register_from_run(&name, tracking, &run, linked)
        .await
        .unwrap();
    let link = second.run.as_ref().unwrap();
    assert_eq!(link.experiment_id, experiment, "read from the store");
    assert_eq!(
        link.artifact_path,
        Some(path("model")),
        "the folder is kept"
    );
    assert_eq!(second.metric("auc"), Some(0.8));

    let missing = NewVersion::new().with_artifact(path("model.bin"), &b"w3"[..]);
    assert!(
        registry
            .register_from_run(&name, tracking, &RunId::generate(), missing)
            .await
            .is_err()
    );
    assert_eq!(
        registry.get_model(&name).await.unwrap().latest_version,
        Some(second.version),
        "nothing registered for a missing run"
    );
}
