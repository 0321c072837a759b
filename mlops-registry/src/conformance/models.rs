//! Checks of registered models: create, read, names, search, updates, rename, delete.

use std::collections::BTreeSet;

use mlops_core::{ModelName, Tag, TagKey};

use super::{alias, files, new_version, unique_model, v};
use crate::error::RegistryError;
use crate::ext::RegistryExt;
use crate::registry::ModelRegistry;
use crate::types::{AliasChange, AuditAction, ModelQuery, Stage, VersionStatus};
use crate::update::{ModelUpdate, VersionUpdate};

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

/// `update_model` and `update_version` change several fields in one call, each change its
/// own audit entry in field order; an empty update writes nothing; a bad field is refused
/// before anything is written.
pub async fn updates(registry: &dyn ModelRegistry) {
    let name = unique_model("updates");
    registry
        .create_model(&name, None, &[Tag::parse("old", "1").unwrap()])
        .await
        .unwrap();
    let audited = |log: &[crate::types::AuditEntry]| log.len();
    let before = audited(&registry.audit_log(&name).await.unwrap());
    let update = ModelUpdate::new()
        .description("scores churn")
        .set_tag(Tag::parse("team", "risk").unwrap())
        .delete_tag(TagKey::parse("old").unwrap());
    let model = registry.update_model(&name, &update).await.unwrap();
    assert_eq!(model.description.as_deref(), Some("scores churn"));
    let tags: Vec<(String, String)> = model
        .tags
        .iter()
        .map(|t| (t.key().to_string(), t.value().to_owned()))
        .collect();
    assert_eq!(tags, vec![("team".to_owned(), "risk".to_owned())]);
    let log = registry.audit_log(&name).await.unwrap();
    let kinds: Vec<&str> = log[before..]
        .iter()
        .map(|e| match &e.action {
            AuditAction::ModelDescriptionSet { .. } => "description",
            AuditAction::ModelTagSet { .. } => "tag",
            AuditAction::ModelTagDeleted { .. } => "untag",
            _ => "other",
        })
        .collect();
    assert_eq!(
        kinds,
        vec!["description", "tag", "untag"],
        "one entry per change"
    );
    let after = log.len();

    let same = registry
        .update_model(&name, &ModelUpdate::new())
        .await
        .unwrap();
    assert_eq!(same.description.as_deref(), Some("scores churn"));
    let too_long = ModelUpdate::new()
        .set_tag(Tag::parse("late", "1").unwrap())
        .description("x".repeat(64 * 1024 + 1));
    let refused = registry.update_model(&name, &too_long).await;
    assert!(
        matches!(refused, Err(RegistryError::InvalidArgument(_))),
        "{refused:?}"
    );
    assert!(
        registry
            .get_model(&name)
            .await
            .unwrap()
            .tags
            .iter()
            .all(|t| t.key().as_str() != "late"),
        "nothing of a refused update is written"
    );
    assert_eq!(
        audited(&registry.audit_log(&name).await.unwrap()),
        after,
        "empty and refused updates write nothing"
    );

    let v1 = new_version(registry, &name, files("a")).await;
    let v2 = new_version(registry, &name, files("b")).await;
    registry
        .transition_stage(&name, v2, Stage::Production, false)
        .await
        .unwrap();
    let before = audited(&registry.audit_log(&name).await.unwrap());
    let update = VersionUpdate::new()
        .description("baseline")
        .set_tag(Tag::parse("validated", "yes").unwrap())
        .status(VersionStatus::Ready)
        .stage(Stage::Production, true);
    let info = registry.update_version(&name, v1, &update).await.unwrap();
    assert_eq!(info.version, v1);
    assert_eq!(info.description.as_deref(), Some("baseline"));
    assert_eq!(info.tag("validated"), Some("yes"));
    assert_eq!(info.status, VersionStatus::Ready);
    assert_eq!(info.stage, Stage::Production);
    assert_eq!(
        registry.get_version(&name, v2).await.unwrap().stage,
        Stage::Archived,
        "archive_existing moved the other Production version"
    );
    let log = registry.audit_log(&name).await.unwrap();
    let kinds: Vec<&str> = log[before..]
        .iter()
        .map(|e| match &e.action {
            AuditAction::VersionDescriptionSet { .. } => "description",
            AuditAction::VersionTagSet { .. } => "tag",
            AuditAction::VersionStatusSet { .. } => "status",
            AuditAction::StageTransition { .. } => "stage",
            _ => "other",
        })
        .collect();
    assert_eq!(kinds, vec!["description", "tag", "status", "stage"]);
    let unchanged = registry
        .update_version(&name, v1, &VersionUpdate::new())
        .await
        .unwrap();
    assert_eq!(unchanged.description.as_deref(), Some("baseline"));
    assert_eq!(
        audited(&registry.audit_log(&name).await.unwrap()),
        log.len()
    );
    assert!(
        registry
            .update_version(&name, v(99), &VersionUpdate::new().description("x"))
            .await
            .unwrap_err()
            .is_not_found()
    );
}
