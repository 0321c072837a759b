//! The migration test of issue 11: a store written by the release before storage records
//! became private (`tests/fixtures/store-v1`, frozen) opens with the current code and reads
//! the same: models, versions, aliases, alias history, approvals and the audit log equal
//! what that release read (`expected/library.json`), field by field (fields added to the
//! public types since are allowed), and every file still downloads digest-checked. A log
//! entry of a newer format is refused by name, never misread.

use std::path::{Path, PathBuf};

use mlops_core::{AliasName, ModelName, ModelVersion};
use mlops_registry::{ModelQuery, ModelRegistry, RegistryError, RegistryExt, VersionQuery};
use serde_json::Value;

fn fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/store-v1")
}

/// A copy of the fixture store (a read may write snapshots; the fixture stays frozen).
fn copy_store() -> tempfile::TempDir {
    fn copy(from: &Path, to: &Path) {
        std::fs::create_dir_all(to).unwrap();
        for entry in std::fs::read_dir(from).unwrap() {
            let entry = entry.unwrap();
            let target = to.join(entry.file_name());
            if entry.file_type().unwrap().is_dir() {
                copy(&entry.path(), &target);
            } else {
                std::fs::copy(entry.path(), &target).unwrap();
            }
        }
    }
    let dir = tempfile::tempdir().unwrap();
    copy(&fixture().join("store"), dir.path());
    dir
}

/// Fails unless every field of `expected` is in `actual` with the same value (objects may
/// have more fields; arrays must have the same length).
fn assert_includes(actual: &Value, expected: &Value, at: &str) {
    match (actual, expected) {
        (Value::Object(a), Value::Object(e)) => {
            for (key, value) in e {
                let found = a
                    .get(key)
                    .unwrap_or_else(|| panic!("{at}.{key}: missing (expected {value})"));
                assert_includes(found, value, &format!("{at}.{key}"));
            }
        }
        (Value::Array(a), Value::Array(e)) => {
            assert_eq!(
                a.len(),
                e.len(),
                "{at}: {} items, expected {}",
                a.len(),
                e.len()
            );
            for (i, (a, e)) in a.iter().zip(e).enumerate() {
                assert_includes(a, e, &format!("{at}[{i}]"));
            }
        }
        _ => assert_eq!(actual, expected, "{at}"),
    }
}

fn json(value: &impl serde::Serialize) -> Value {
    serde_json::to_value(value).unwrap()
}

#[tokio::test]
async fn a_store_written_before_the_private_records_reads_the_same() {
    let dir = copy_store();
    let expected: Value =
        serde_json::from_slice(&std::fs::read(fixture().join("expected/library.json")).unwrap())
            .unwrap();
    let registry = mlops_registry::open(dir.path().to_str().unwrap()).unwrap();

    let models = registry
        .search_models(&ModelQuery::default())
        .await
        .unwrap()
        .items;
    let expected_models = expected["models"].as_array().unwrap();
    assert_eq!(models.len(), expected_models.len());
    for (model, want) in models.iter().zip(expected_models) {
        let name = &model.name;
        let at = format!("models[{name}]");
        assert_includes(&json(model), &want["model"], &format!("{at}.model"));
        assert_includes(
            &json(&registry.get_model(name).await.unwrap()),
            &want["model"],
            &format!("{at}.get_model"),
        );
        let versions = registry
            .search_versions(&VersionQuery {
                model: Some(name.clone()),
                ..VersionQuery::default()
            })
            .await
            .unwrap()
            .items;
        assert_includes(
            &json(&versions),
            &want["versions"],
            &format!("{at}.versions"),
        );
        let aliases = registry.list_aliases(name).await.unwrap();
        assert_includes(&json(&aliases), &want["aliases"], &format!("{at}.aliases"));
        let histories = want["alias_history"].as_object().unwrap();
        assert_eq!(histories.len(), aliases.len());
        for (alias, history) in histories {
            let alias = AliasName::parse(alias).unwrap();
            let got = registry.alias_history(name, &alias).await.unwrap();
            assert_includes(&json(&got), history, &format!("{at}.alias_history.{alias}"));
        }
        assert_includes(
            &json(&registry.approvals(name).await.unwrap()),
            &want["approvals"],
            &format!("{at}.approvals"),
        );
        assert_includes(
            &json(&registry.audit_log(name).await.unwrap()),
            &want["audit_log"],
            &format!("{at}.audit_log"),
        );
        for version in &versions {
            let files = registry.download_all(name, version.version).await.unwrap();
            let digests: Vec<String> = files
                .iter()
                .map(|(_, bytes)| mlops_registry::sha256_hex(bytes))
                .collect();
            let recorded: Vec<&str> = version
                .artifacts
                .iter()
                .map(|a| a.sha256.as_str())
                .collect();
            assert_eq!(digests, recorded, "{at} v{}", version.version);
        }
    }
    // What the fixture's README says it holds, so an empty comparison cannot pass.
    let income = ModelName::parse("income-regressor").unwrap();
    let champion = AliasName::parse("champion").unwrap();
    assert_eq!(
        registry
            .resolve_alias(&income, &champion)
            .await
            .unwrap()
            .version,
        ModelVersion::FIRST
    );
    assert_eq!(registry.audit_log(&income).await.unwrap().len(), 10);
}

#[tokio::test]
async fn the_store_keeps_working_after_the_upgrade() {
    let dir = copy_store();
    let registry = mlops_registry::open_with(
        dir.path().to_str().unwrap(),
        &mlops_registry::OpenOptions::new().actor("upgrader"),
    )
    .unwrap();
    let churn = ModelName::parse("churn-classifier").unwrap();
    let v2 = registry
        .create_version(
            &churn,
            mlops_registry::NewVersion::new().with_artifact(
                mlops_core::ArtifactPath::parse("model.json").unwrap(),
                &b"{}"[..],
            ),
        )
        .await
        .unwrap();
    assert_eq!(v2.version.get(), 2);
    let log = registry.audit_log(&churn).await.unwrap();
    assert_eq!(log.len(), 4);
    assert_eq!(log[3].actor, "upgrader");
    // The new entry is format 1 too: no `format` field, readable by the earlier release.
    let entry = std::fs::read_dir(dir.path().join("registry/models"))
        .unwrap()
        .map(|d| d.unwrap().path().join("log/00000000000000000004.json"))
        .find(|p| p.exists())
        .unwrap();
    let written: Value = serde_json::from_slice(&std::fs::read(entry).unwrap()).unwrap();
    assert!(written.get("format").is_none(), "{written}");
    assert_eq!(written["op"]["type"], "register_version");
}

#[tokio::test]
async fn an_entry_of_a_newer_format_is_refused_by_name() {
    let dir = copy_store();
    let churn_log = std::fs::read_dir(dir.path().join("registry/models"))
        .unwrap()
        .map(|d| d.unwrap().path().join("log"))
        .find(|p| {
            p.join("00000000000000000003.json").exists()
                && !p.join("00000000000000000004.json").exists()
        })
        .unwrap();
    std::fs::write(
        churn_log.join("00000000000000000004.json"),
        br#"{"format": 2, "seq": 4, "op": {"type": "something_new"}}"#,
    )
    .unwrap();
    let registry = mlops_registry::open(dir.path().to_str().unwrap()).unwrap();
    let churn = ModelName::parse("churn-classifier").unwrap();
    match registry.get_model(&churn).await {
        Err(RegistryError::NewerFormat {
            format, supported, ..
        }) => assert_eq!((format, supported), (2, 1)),
        other => panic!("expected NewerFormat, got {other:?}"),
    }
}
