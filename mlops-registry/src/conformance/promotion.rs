//! Checks of gated promotion, approvals and the audit log.

use arrow_schema::{DataType, Field, Schema};
use mlops_core::Tag;

use super::{alias, files, new_model, new_version, run_link, v};
use crate::ext::RegistryExt;
use crate::gates::{ApprovalGate, Direction, Gate, MetricGate, SchemaGate};
use crate::promote::{Outcome, promote};
use crate::registry::ModelRegistry;
use crate::signature::Signature;
use crate::types::{AliasChange, AliasChangeKind, AuditAction, Expect, Stage};

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
