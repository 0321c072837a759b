//! The conformance suite every [`ModelRegistry`] backend must pass (feature `conformance`),
//! in the manner of object_store's `integration` module and mlops-track's suite: a backend's
//! tests open a registry and call [`run_all`] (or the checks one by one); each check panics
//! with a message that says what differed.
//!
//! ```no_run
//! # async fn demo() -> mlops_registry::Result<()> {
//! use mlops_registry::{ObjectRegistry, conformance};
//! let registry = ObjectRegistry::open_uri(&"memory://".parse()?)?;
//! conformance::run_all(&registry).await;
//! // Several handles on one store racing (separate processes, in spirit):
//! let other = registry.clone();
//! conformance::concurrent_versions(&[&registry, &other]).await;
//! # Ok(()) }
//! ```
//!
//! Every name a check creates is unique (a random suffix), so the suite also runs against a
//! shared MLflow server, and no check expects an empty registry.

// A test suite: failing loudly, with the values that differ, is the point.
#![allow(clippy::panic, clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeSet;

use arrow_schema::{DataType, Field, Schema};
use bytes::Bytes;
use mlops_core::{
    AliasName, ArtifactPath, ExperimentId, Metric, MetricKey, ModelName, ModelVersion, RunId, Tag,
    TagKey, Timestamp,
};

use crate::checks::sha256_hex;
use crate::error::RegistryError;
use crate::ext::RegistryExt;
use crate::gates::{ApprovalGate, Direction, Gate, MetricGate, SchemaGate};
use crate::model::{
    AliasChange, AliasChangeKind, AuditAction, Expect, ModelQuery, NewVersion, RunLink, Stage,
    VersionQuery, VersionStatus,
};
use crate::promote::{Outcome, promote, rollback};
use crate::registry::ModelRegistry;
use crate::signature::Signature;

/// Runs every check that needs one registry handle, in turn.
pub async fn run_all(registry: &dyn ModelRegistry) {
    models(registry).await;
    model_search(registry).await;
    versions(registry).await;
    version_records(registry).await;
    stages(registry).await;
    aliases(registry).await;
    promotion_gates(registry).await;
    approvals(registry).await;
    rollbacks(registry).await;
    audit_log(registry).await;
}

/// A model name no other check (or earlier run) uses.
pub fn unique_model(label: &str) -> ModelName {
    ModelName::parse(format!(
        "conformance-{label}-{}",
        uuid::Uuid::now_v7().simple()
    ))
    .unwrap()
}

fn alias(text: &str) -> AliasName {
    AliasName::parse(text).unwrap()
}

fn path(text: &str) -> ArtifactPath {
    ArtifactPath::parse(text).unwrap()
}

fn v(n: u64) -> ModelVersion {
    ModelVersion::new(n).unwrap()
}

fn files(seed: &str) -> NewVersion {
    NewVersion::new()
        .with_artifact(
            path("model/weights.bin"),
            Bytes::from(format!("weights {seed}")),
        )
        .with_artifact(path("MLmodel"), Bytes::from(format!("flavor: {seed}")))
}

fn run_link(metrics: &[(&str, f64)]) -> RunLink {
    RunLink {
        run_id: RunId::generate(),
        experiment_id: ExperimentId::generate(),
        artifact_path: Some(path("model")),
        metrics: metrics
            .iter()
            .map(|(k, val)| {
                Metric::new(
                    MetricKey::parse(*k).unwrap(),
                    *val,
                    Timestamp::from_millis(1_700_000_000_000).unwrap(),
                    3,
                )
            })
            .collect(),
    }
}

async fn new_model(registry: &dyn ModelRegistry, label: &str) -> ModelName {
    let name = unique_model(label);
    registry
        .create_model(&name, None, &[])
        .await
        .unwrap_or_else(|e| panic!("create_model({name}) failed: {e}"));
    name
}

async fn new_version(
    registry: &dyn ModelRegistry,
    name: &ModelName,
    new: NewVersion,
) -> ModelVersion {
    registry
        .create_version(name, new)
        .await
        .unwrap_or_else(|e| panic!("create_version({name}) failed: {e}"))
        .version
}

/// Create, get, duplicate names (also differing only in case), description, tags, rename,
/// delete.
pub async fn models(registry: &dyn ModelRegistry) {
    let name = unique_model("models");
    let created = registry
        .create_model(
            &name,
            Some("first"),
            &[Tag::parse("team", "fraud").unwrap()],
        )
        .await
        .unwrap();
    assert_eq!(created.name, name);
    assert_eq!(created.description.as_deref(), Some("first"));
    assert_eq!(created.latest_version, None);
    let dup = registry.create_model(&name, None, &[]).await.unwrap_err();
    assert!(
        matches!(dup, RegistryError::AlreadyExists { .. }),
        "duplicate name: {dup}"
    );
    let upper = ModelName::parse(name.as_str().to_uppercase()).unwrap();
    let case = registry.create_model(&upper, None, &[]).await;
    assert!(
        matches!(case, Err(RegistryError::AlreadyExists { .. })),
        "a name differing only in case must be refused: {case:?}"
    );

    registry
        .set_model_description(&name, "second")
        .await
        .unwrap();
    registry
        .set_model_tag(&name, &Tag::parse("stage", "beta").unwrap())
        .await
        .unwrap();
    registry
        .set_model_tag(&name, &Tag::parse("team", "risk").unwrap())
        .await
        .unwrap();
    registry
        .delete_model_tag(&name, &TagKey::parse("stage").unwrap())
        .await
        .unwrap();
    let got = registry.get_model(&name).await.unwrap();
    assert_eq!(got.description.as_deref(), Some("second"));
    let tags: Vec<(String, String)> = got
        .tags
        .iter()
        .map(|t| (t.key().to_string(), t.value().to_owned()))
        .collect();
    assert_eq!(tags, vec![("team".to_owned(), "risk".to_owned())]);

    let v1 = new_version(registry, &name, files("a")).await;
    registry
        .set_alias(&name, &alias("champion"), v1, &AliasChange::default())
        .await
        .unwrap();
    let renamed = unique_model("renamed");
    let after = registry.rename_model(&name, &renamed).await.unwrap();
    assert_eq!(after.name, renamed);
    assert!(registry.get_model(&name).await.unwrap_err().is_not_found());
    assert_eq!(
        registry.get_version(&renamed, v1).await.unwrap().model,
        renamed
    );
    assert_eq!(
        registry
            .resolve_alias(&renamed, &alias("champion"))
            .await
            .unwrap()
            .version,
        v1
    );

    registry.delete_model(&renamed).await.unwrap();
    assert!(
        registry
            .get_model(&renamed)
            .await
            .unwrap_err()
            .is_not_found()
    );
    assert!(
        registry
            .delete_model(&renamed)
            .await
            .unwrap_err()
            .is_not_found()
    );
    // The name is free again.
    registry.create_model(&renamed, None, &[]).await.unwrap();
    assert_eq!(
        registry.get_model(&renamed).await.unwrap().latest_version,
        None
    );
}

/// Search by name, paged.
pub async fn model_search(registry: &dyn ModelRegistry) {
    let marker = format!("search{}", uuid::Uuid::now_v7().simple());
    let mut names = BTreeSet::new();
    for i in 0..5 {
        let name = ModelName::parse(format!("conformance-{marker}-{i}")).unwrap();
        registry.create_model(&name, None, &[]).await.unwrap();
        names.insert(name);
    }
    let mut seen = BTreeSet::new();
    let mut token = None;
    loop {
        let page = registry
            .search_models(&ModelQuery {
                name_contains: Some(marker.clone()),
                max_results: Some(2),
                page_token: token,
            })
            .await
            .unwrap();
        assert!(
            page.items.len() <= 2,
            "page size not respected: {}",
            page.items.len()
        );
        for m in page.items {
            assert!(seen.insert(m.name.clone()), "{} returned twice", m.name);
        }
        token = page.next_page_token;
        if token.is_none() {
            break;
        }
    }
    assert_eq!(seen, names);
}

/// Version numbers 1, 2, 3; artifacts with digests; download; get; search newest first;
/// delete; description, tags and status.
pub async fn versions(registry: &dyn ModelRegistry) {
    let name = new_model(registry, "versions").await;
    let mut numbers = Vec::new();
    for seed in ["a", "b", "c"] {
        numbers.push(new_version(registry, &name, files(seed)).await);
    }
    assert_eq!(numbers, vec![v(1), v(2), v(3)]);
    let info = registry.get_version(&name, v(2)).await.unwrap();
    assert_eq!(info.model, name);
    assert_eq!(info.status, VersionStatus::Ready);
    assert_eq!(info.stage, Stage::None);
    let listed: Vec<&str> = info.artifacts.iter().map(|a| a.path.as_str()).collect();
    assert_eq!(listed, vec!["MLmodel", "model/weights.bin"]);
    for entry in &info.artifacts {
        let bytes = registry
            .download_artifact(&name, v(2), &entry.path)
            .await
            .unwrap();
        assert_eq!(entry.sha256, sha256_hex(&bytes), "digest of {}", entry.path);
        assert_eq!(entry.size, bytes.len() as u64);
    }
    assert_eq!(
        registry
            .download_artifact(&name, v(2), &path("model/weights.bin"))
            .await
            .unwrap(),
        Bytes::from("weights b")
    );
    assert!(
        registry
            .download_artifact(&name, v(2), &path("nope.bin"))
            .await
            .unwrap_err()
            .is_not_found()
    );
    assert_eq!(
        registry.get_model(&name).await.unwrap().latest_version,
        Some(v(3))
    );

    let page = registry
        .search_versions(&VersionQuery {
            model: Some(name.clone()),
            ..VersionQuery::default()
        })
        .await
        .unwrap();
    let found: Vec<u64> = page.items.iter().map(|i| i.version.get()).collect();
    assert_eq!(found, vec![3, 2, 1], "newest first");

    registry
        .set_version_description(&name, v(1), "baseline")
        .await
        .unwrap();
    registry
        .set_version_tag(&name, v(1), &Tag::parse("validated", "yes").unwrap())
        .await
        .unwrap();
    registry
        .set_version_tag(&name, v(1), &Tag::parse("owner", "ada").unwrap())
        .await
        .unwrap();
    registry
        .delete_version_tag(&name, v(1), &TagKey::parse("owner").unwrap())
        .await
        .unwrap();
    let one = registry.get_version(&name, v(1)).await.unwrap();
    assert_eq!(one.description.as_deref(), Some("baseline"));
    assert_eq!(one.tag("validated"), Some("yes"));
    assert_eq!(one.tag("owner"), None);

    registry.delete_version(&name, v(3)).await.unwrap();
    assert!(
        registry
            .get_version(&name, v(3))
            .await
            .unwrap_err()
            .is_not_found()
    );
    assert_eq!(
        registry.get_model(&name).await.unwrap().latest_version,
        Some(v(2))
    );
    // Numbers are never reused.
    assert_eq!(new_version(registry, &name, files("d")).await, v(4));
    assert!(
        registry
            .get_version(&name, v(99))
            .await
            .unwrap_err()
            .is_not_found()
    );
    let missing = unique_model("missing");
    assert!(
        registry
            .create_version(&missing, files("x"))
            .await
            .unwrap_err()
            .is_not_found()
    );
}

/// What a version records: run link and metric snapshot, signature, drift profile,
/// datasets, creator, timestamps; search by run.
pub async fn version_records(registry: &dyn ModelRegistry) {
    let name = new_model(registry, "records").await;
    let link = run_link(&[("accuracy", 0.91), ("loss", f64::NAN)]);
    let signature = Signature::new(
        Schema::new(vec![
            Field::new("age", DataType::Int64, false),
            Field::new("city", DataType::Utf8, true),
        ]),
        Some(Schema::new(vec![Field::new(
            "score",
            DataType::Float64,
            false,
        )])),
    );
    let schema = std::sync::Arc::new(Schema::new(vec![Field::new("age", DataType::Int64, false)]));
    let dataset = mlops_core::DatasetRef::new(
        "train",
        "s3://bucket/train.parquet",
        schema,
        "0123456789abcdef0123456789abcdef".parse().unwrap(),
        10,
    )
    .unwrap();
    let before = Timestamp::now();
    let info = registry
        .create_version(
            &name,
            files("rec")
                .with_run(link.clone())
                .with_signature(signature.clone())
                .with_drift_profile(Bytes::from_static(b"{\"profile\": 1}"))
                .with_dataset(dataset.clone())
                .with_description("with everything"),
        )
        .await
        .unwrap();
    let got = registry.get_version(&name, info.version).await.unwrap();
    let run = got.run.as_ref().expect("run link kept");
    assert_eq!(run.run_id, link.run_id);
    assert_eq!(run.experiment_id, link.experiment_id);
    assert_eq!(got.metric("accuracy"), Some(0.91));
    assert!(got.metric("loss").is_some_and(f64::is_nan), "NaN kept");
    assert_eq!(got.signature.as_ref(), Some(&signature));
    assert_eq!(got.datasets, vec![dataset]);
    assert_eq!(got.description.as_deref(), Some("with everything"));
    assert!(!got.creator.is_empty());
    assert!(got.created >= Timestamp::from_millis(before.as_millis() - 1000).unwrap());
    assert!(
        !got.source.contains("://"),
        "the source is a generated key: {}",
        got.source
    );
    let profile = registry
        .download_drift_profile(&name, info.version)
        .await
        .unwrap();
    assert_eq!(profile.as_deref(), Some(&b"{\"profile\": 1}"[..]));
    let plain = new_version(registry, &name, files("plain")).await;
    assert_eq!(
        registry.download_drift_profile(&name, plain).await.unwrap(),
        None
    );
    let by_run = registry
        .search_versions(&VersionQuery {
            run_id: Some(link.run_id.clone()),
            ..VersionQuery::default()
        })
        .await
        .unwrap();
    assert_eq!(
        by_run
            .items
            .iter()
            .map(|i| (i.model.clone(), i.version))
            .collect::<Vec<_>>(),
        vec![(name.clone(), info.version)]
    );
    // Duplicate paths are refused.
    let dup = NewVersion::new()
        .with_artifact(path("a"), &b"1"[..])
        .with_artifact(path("a"), &b"2"[..]);
    assert!(matches!(
        registry.create_version(&name, dup).await,
        Err(RegistryError::InvalidArgument(_))
    ));
}

/// MLflow's stages, with archive_existing.
pub async fn stages(registry: &dyn ModelRegistry) {
    let name = new_model(registry, "stages").await;
    let a = new_version(registry, &name, files("a")).await;
    let b = new_version(registry, &name, files("b")).await;
    let moved = registry
        .transition_stage(&name, a, Stage::Production, false)
        .await
        .unwrap();
    assert_eq!(moved.stage, Stage::Production);
    registry
        .transition_stage(&name, b, Stage::Production, true)
        .await
        .unwrap();
    assert_eq!(
        registry.get_version(&name, a).await.unwrap().stage,
        Stage::Archived
    );
    assert_eq!(
        registry.get_version(&name, b).await.unwrap().stage,
        Stage::Production
    );
    let status = registry
        .set_version_status(&name, a, VersionStatus::FailedRegistration)
        .await;
    if let Ok(info) = status {
        assert_eq!(info.status, VersionStatus::FailedRegistration);
    }
}

/// Set with preconditions, conflict, resolve, list, history, delete; deleting a version
/// drops its aliases.
pub async fn aliases(registry: &dyn ModelRegistry) {
    let name = new_model(registry, "aliases").await;
    let (a, b, c) = (
        new_version(registry, &name, files("a")).await,
        new_version(registry, &name, files("b")).await,
        new_version(registry, &name, files("c")).await,
    );
    let champion = alias("champion");
    assert!(
        registry
            .resolve_alias(&name, &champion)
            .await
            .unwrap_err()
            .is_not_found()
    );
    registry
        .set_alias(&name, &champion, a, &AliasChange::expecting(Expect::Absent))
        .await
        .unwrap();
    let conflict = registry
        .set_alias(&name, &champion, b, &AliasChange::expecting(Expect::Absent))
        .await
        .unwrap_err();
    match conflict {
        RegistryError::Conflict {
            current, expected, ..
        } => {
            assert_eq!(current, Some(a));
            assert_eq!(expected, Expect::Absent);
        }
        other => panic!("expected Conflict, got {other}"),
    }
    assert_eq!(
        registry
            .resolve_alias(&name, &champion)
            .await
            .unwrap()
            .version,
        a
    );
    let wrong = registry
        .set_alias(
            &name,
            &champion,
            b,
            &AliasChange::expecting(Expect::Version(c)),
        )
        .await;
    assert!(wrong.unwrap_err().is_conflict());
    registry
        .set_alias(
            &name,
            &champion,
            b,
            &AliasChange::expecting(Expect::Version(a)),
        )
        .await
        .unwrap();
    registry
        .set_alias(&name, &alias("challenger"), c, &AliasChange::default())
        .await
        .unwrap();
    let all = registry.list_aliases(&name).await.unwrap();
    assert_eq!(all.get(&champion), Some(&b));
    assert_eq!(all.get(&alias("challenger")), Some(&c));
    let info = registry.get_version(&name, b).await.unwrap();
    assert_eq!(info.aliases, vec![champion.clone()]);
    assert_eq!(
        registry
            .get_model(&name)
            .await
            .unwrap()
            .aliases
            .get(&champion),
        Some(&b)
    );

    let history = registry.alias_history(&name, &champion).await.unwrap();
    let moves: Vec<(Option<ModelVersion>, Option<ModelVersion>)> =
        history.iter().map(|e| (e.from, e.to)).collect();
    assert_eq!(moves, vec![(None, Some(a)), (Some(a), Some(b))]);

    let missing = registry
        .set_alias(&name, &champion, v(99), &AliasChange::default())
        .await;
    assert!(missing.unwrap_err().is_not_found());

    registry
        .delete_alias(
            &name,
            &alias("challenger"),
            &AliasChange::expecting(Expect::Version(c)),
        )
        .await
        .unwrap();
    assert!(
        registry
            .resolve_alias(&name, &alias("challenger"))
            .await
            .unwrap_err()
            .is_not_found()
    );
    let again = registry
        .delete_alias(&name, &alias("challenger"), &AliasChange::default())
        .await;
    assert!(again.unwrap_err().is_not_found());

    registry.delete_version(&name, b).await.unwrap();
    assert!(
        registry
            .resolve_alias(&name, &champion)
            .await
            .unwrap_err()
            .is_not_found()
    );
    assert!(registry.list_aliases(&name).await.unwrap().is_empty());
}

/// Metric and schema gates pass and refuse, and the decision is in the audit log either way.
pub async fn promotion_gates(registry: &dyn ModelRegistry) {
    let name = new_model(registry, "gates").await;
    let sig = |fields: Vec<Field>| {
        Signature::new(
            Schema::new(fields),
            Some(Schema::new(vec![Field::new("p", DataType::Float64, false)])),
        )
    };
    let base = sig(vec![Field::new("x", DataType::Float64, false)]);
    let v1 = new_version(
        registry,
        &name,
        files("1")
            .with_run(run_link(&[("auc", 0.80)]))
            .with_signature(base.clone()),
    )
    .await;
    let v2 = new_version(
        registry,
        &name,
        files("2")
            .with_run(run_link(&[("auc", 0.805)]))
            .with_signature(base.clone()),
    )
    .await;
    let v3 = new_version(
        registry,
        &name,
        files("3")
            .with_run(run_link(&[("auc", 0.90)]))
            .with_signature(sig(vec![Field::new("x", DataType::Utf8, false)])),
    )
    .await;
    let v4 = new_version(
        registry,
        &name,
        files("4")
            .with_run(run_link(&[("auc", 0.92)]))
            .with_signature(sig(vec![
                Field::new("x", DataType::Float64, false),
                Field::new("y", DataType::Int64, true),
            ])),
    )
    .await;
    let champion = alias("champion");
    let gates: Vec<Box<dyn Gate>> = vec![
        Box::new(MetricGate::new("auc", Direction::HigherIsBetter, 0.01)),
        Box::new(SchemaGate),
    ];

    let first = promote(registry, &name, v1, &champion, Expect::Absent, &gates)
        .await
        .unwrap();
    assert_eq!(first.outcome, Outcome::Promoted, "{:?}", first.decision);
    let small = promote(registry, &name, v2, &champion, Expect::Version(v1), &gates)
        .await
        .unwrap();
    assert_eq!(
        small.outcome,
        Outcome::GatesFailed,
        "0.005 < margin 0.01: {:?}",
        small.decision
    );
    assert!(
        small
            .decision
            .gates
            .iter()
            .any(|g| g.gate == "metric(auc)" && !g.passed)
    );
    let schema = promote(registry, &name, v3, &champion, Expect::Version(v1), &gates)
        .await
        .unwrap();
    assert_eq!(schema.outcome, Outcome::GatesFailed);
    let schema_report = schema
        .decision
        .gates
        .iter()
        .find(|g| g.gate == "schema")
        .unwrap();
    assert!(
        !schema_report.passed && schema_report.reason.contains("\"x\""),
        "{schema_report:?}"
    );
    let stale = promote(registry, &name, v4, &champion, Expect::Version(v2), &gates)
        .await
        .unwrap();
    assert_eq!(stale.outcome, Outcome::PreconditionFailed);
    let good = promote(registry, &name, v4, &champion, Expect::Version(v1), &gates)
        .await
        .unwrap();
    assert_eq!(good.outcome, Outcome::Promoted, "{:?}", good.decision);
    assert_eq!(
        registry
            .resolve_alias(&name, &champion)
            .await
            .unwrap()
            .version,
        v4
    );
    let lower = promote(
        registry,
        &name,
        v1,
        &champion,
        Expect::Any,
        &[Box::new(MetricGate::new("auc", Direction::LowerIsBetter, 0.0)) as Box<dyn Gate>],
    )
    .await
    .unwrap();
    assert_eq!(
        lower.outcome,
        Outcome::Promoted,
        "lower is better: 0.80 beats 0.92"
    );

    let audit = registry.audit_log(&name).await.unwrap();
    let refused = audit
        .iter()
        .filter(|e| matches!(&e.action, AuditAction::Decision(d) if !d.promoted))
        .count();
    assert_eq!(refused, 3, "each refusal is recorded");
    let promoted = audit
        .iter()
        .filter(|e| matches!(&e.action, AuditAction::AliasChanged { kind: AliasChangeKind::Promote, gates, .. } if !gates.is_empty()))
        .count();
    assert_eq!(promoted, 3, "each promotion is recorded with its gates");
}

/// Approval requests, approvals by named people, rejections, and the approval gate.
pub async fn approvals(registry: &dyn ModelRegistry) {
    let name = new_model(registry, "approvals").await;
    let v1 = new_version(registry, &name, files("1")).await;
    let prod = alias("prod");
    let gate: Vec<Box<dyn Gate>> = vec![Box::new(ApprovalGate { min_approvers: 2 })];
    registry
        .request_approval(&name, v1, &prod, "ci-bot", Some("ready"))
        .await
        .unwrap();
    let none = promote(registry, &name, v1, &prod, Expect::Absent, &gate)
        .await
        .unwrap();
    assert_eq!(none.outcome, Outcome::GatesFailed);
    registry
        .approve(&name, v1, &prod, "alice", None)
        .await
        .unwrap();
    let one = promote(registry, &name, v1, &prod, Expect::Absent, &gate)
        .await
        .unwrap();
    assert_eq!(one.outcome, Outcome::GatesFailed, "one of two approvals");
    registry
        .approve(&name, v1, &prod, "alice", None)
        .await
        .unwrap();
    let same = promote(registry, &name, v1, &prod, Expect::Absent, &gate)
        .await
        .unwrap();
    assert_eq!(
        same.outcome,
        Outcome::GatesFailed,
        "the same person twice counts once"
    );
    registry
        .reject(&name, v1, &prod, "bob", Some("not yet"))
        .await
        .unwrap();
    let rejected = promote(registry, &name, v1, &prod, Expect::Absent, &gate)
        .await
        .unwrap();
    assert_eq!(rejected.outcome, Outcome::GatesFailed);
    assert!(
        rejected.decision.reason.contains("bob"),
        "{}",
        rejected.decision.reason
    );
    registry
        .request_approval(&name, v1, &prod, "ci-bot", None)
        .await
        .unwrap();
    registry
        .approve(&name, v1, &prod, "alice", None)
        .await
        .unwrap();
    registry
        .approve(&name, v1, &prod, "bob", None)
        .await
        .unwrap();
    let ok = promote(registry, &name, v1, &prod, Expect::Absent, &gate)
        .await
        .unwrap();
    assert_eq!(ok.outcome, Outcome::Promoted, "{:?}", ok.decision);
    let events = registry.approvals(&name).await.unwrap();
    assert_eq!(events.len(), 7);
    assert!(
        registry.approve(&name, v1, &prod, "", None).await.is_err(),
        "an approver must be named"
    );
    assert!(
        registry
            .approve(&name, v(42), &prod, "carol", None)
            .await
            .unwrap_err()
            .is_not_found()
    );
}

/// Rollback moves the alias back to the holder before the latest promotion.
pub async fn rollbacks(registry: &dyn ModelRegistry) {
    let name = new_model(registry, "rollback").await;
    let vs = [
        new_version(registry, &name, files("1")).await,
        new_version(registry, &name, files("2")).await,
        new_version(registry, &name, files("3")).await,
    ];
    let champion = alias("champion");
    assert!(
        rollback(registry, &name, &champion).await.is_err(),
        "nothing to roll back"
    );
    for (i, version) in vs.iter().enumerate() {
        let expected = if i == 0 {
            Expect::Absent
        } else {
            Expect::Version(vs[i - 1])
        };
        assert!(
            promote(registry, &name, *version, &champion, expected, &[])
                .await
                .unwrap()
                .promoted()
        );
    }
    let back = rollback(registry, &name, &champion).await.unwrap();
    assert!(back.promoted());
    assert_eq!(
        registry
            .resolve_alias(&name, &champion)
            .await
            .unwrap()
            .version,
        vs[1]
    );
    rollback(registry, &name, &champion).await.unwrap();
    assert_eq!(
        registry
            .resolve_alias(&name, &champion)
            .await
            .unwrap()
            .version,
        vs[0]
    );
    assert!(
        rollback(registry, &name, &champion).await.is_err(),
        "no holder before the first"
    );
    let history = registry.alias_history(&name, &champion).await.unwrap();
    assert_eq!(
        history
            .iter()
            .filter(|e| e.kind == AliasChangeKind::Rollback)
            .count(),
        2
    );
}

/// The audit log names who did what, in order.
pub async fn audit_log(registry: &dyn ModelRegistry) {
    let name = new_model(registry, "audit").await;
    let v1 = new_version(registry, &name, files("1")).await;
    registry
        .set_version_tag(&name, v1, &Tag::parse("k", "v").unwrap())
        .await
        .unwrap();
    registry
        .set_alias(&name, &alias("champion"), v1, &AliasChange::default())
        .await
        .unwrap();
    registry
        .transition_stage(&name, v1, Stage::Staging, false)
        .await
        .unwrap();
    let log = registry.audit_log(&name).await.unwrap();
    let kinds: Vec<&str> = log
        .iter()
        .map(|e| match &e.action {
            AuditAction::ModelCreated { .. } => "created",
            AuditAction::VersionCreated { .. } => "version",
            AuditAction::VersionTagSet { .. } => "tag",
            AuditAction::AliasChanged { .. } => "alias",
            AuditAction::StageTransition { .. } => "stage",
            _ => "other",
        })
        .collect();
    assert_eq!(kinds, vec!["created", "version", "tag", "alias", "stage"]);
    assert!(
        log.windows(2).all(|w| w[0].seq < w[1].seq),
        "ordered by sequence"
    );
    assert!(log.iter().all(|e| !e.actor.is_empty()));
}

/// Several handles register versions of one model at once: distinct numbers 1..=n.
pub async fn concurrent_versions(registries: &[&dyn ModelRegistry]) {
    let name = new_model(registries[0], "concurrent-versions").await;
    let per = 5;
    let tasks = registries.iter().enumerate().map(|(i, registry)| {
        let name = name.clone();
        async move {
            let mut out = Vec::new();
            for j in 0..per {
                out.push(new_version(*registry, &name, files(&format!("{i}-{j}"))).await);
            }
            out
        }
    });
    let numbers: Vec<ModelVersion> = futures::future::join_all(tasks)
        .await
        .into_iter()
        .flatten()
        .collect();
    let distinct: BTreeSet<u64> = numbers.iter().map(|v| v.get()).collect();
    let expected: BTreeSet<u64> = (1..=(registries.len() * per) as u64).collect();
    assert_eq!(
        distinct, expected,
        "numbers must be distinct and gapless: {numbers:?}"
    );
}

/// Several handles promote one alias with preconditions at once: every acknowledged move
/// appears once in the history, each from the holder it expected.
pub async fn concurrent_promotions(registries: &[&dyn ModelRegistry]) {
    let name = new_model(registries[0], "concurrent-promotions").await;
    let versions: Vec<ModelVersion> = {
        let mut out = Vec::new();
        for i in 0..4 {
            out.push(new_version(registries[0], &name, files(&i.to_string())).await);
        }
        out
    };
    let champion = alias("champion");
    let tasks = registries.iter().enumerate().map(|(i, registry)| {
        let (name, champion, versions) = (name.clone(), champion.clone(), versions.clone());
        async move {
            let mut acked = Vec::new();
            for round in 0..5 {
                let current = registry.alias_holder(&name, &champion).await.unwrap();
                let target = versions[(i + round + 1) % versions.len()];
                let change = AliasChange::expecting(Expect::exactly(current));
                match registry.set_alias(&name, &champion, target, &change).await {
                    Ok(event) => acked.push(event),
                    Err(e) if e.is_conflict() => {}
                    Err(e) => panic!("set_alias: {e}"),
                }
            }
            acked
        }
    });
    let acked: Vec<_> = futures::future::join_all(tasks)
        .await
        .into_iter()
        .flatten()
        .collect();
    let history = registries[0].alias_history(&name, &champion).await.unwrap();
    let mut holder = None;
    for event in &history {
        assert_eq!(
            event.from, holder,
            "an acknowledged move did not start from the holder: {event:?}"
        );
        holder = event.to;
    }
    for event in &acked {
        let matches = history
            .iter()
            .filter(|h| h.txn_id == event.txn_id && h.to == event.to)
            .count();
        assert_eq!(
            matches, 1,
            "acknowledged move {event:?} appears {matches} times"
        );
    }
    assert_eq!(
        history.len(),
        acked.len(),
        "unacknowledged moves in the history"
    );
}

/// Two handles (two processes, in spirit): what one renames, deletes and re-creates, the
/// other sees at once, and never writes to a model that is gone.
pub async fn cross_handle_renames_and_deletes(a: &dyn ModelRegistry, b: &dyn ModelRegistry) {
    let name = new_model(a, "cross").await;
    new_version(a, &name, files("old")).await;
    // b caches the model.
    assert_eq!(b.get_model(&name).await.unwrap().latest_version, Some(v(1)));
    // a deletes and re-creates it: b's writes go to the new model.
    a.delete_model(&name).await.unwrap();
    a.create_model(&name, Some("second life"), &[])
        .await
        .unwrap();
    assert_eq!(
        b.get_model(&name).await.unwrap().description.as_deref(),
        Some("second life")
    );
    assert_eq!(
        new_version(b, &name, files("new")).await,
        v(1),
        "b registered into the new model"
    );
    b.set_model_tag(&name, &Tag::parse("by", "b").unwrap())
        .await
        .unwrap();
    assert_eq!(a.get_model(&name).await.unwrap().tags.len(), 1);
    // a renames it: b finds it under the new name only, and its old name is free.
    let renamed = unique_model("cross-renamed");
    a.rename_model(&name, &renamed).await.unwrap();
    assert!(
        b.set_model_tag(&name, &Tag::parse("k", "v").unwrap())
            .await
            .unwrap_err()
            .is_not_found()
    );
    assert!(b.get_model(&name).await.unwrap_err().is_not_found());
    assert_eq!(
        b.get_model(&renamed).await.unwrap().latest_version,
        Some(v(1))
    );
    // a deletes it: b's alias change fails.
    a.delete_model(&renamed).await.unwrap();
    let gone = b
        .set_alias(&renamed, &alias("champion"), v(1), &AliasChange::default())
        .await;
    assert!(gone.unwrap_err().is_not_found());
}
