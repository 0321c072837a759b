//! Interop with MLflow's own Python client (`mlflow.MlflowClient` in `MLOPS_TEST_PYTHON`):
//! what the Rust MLflow backend writes reads back correctly there, and what Python users
//! register reads back correctly here. The script is `tests/python/registry_interop.py`.

use std::collections::BTreeMap;
use std::path::PathBuf;

use mlops_core::testing::{MLFLOW_URI, PYTHON, require_env};
use mlops_core::{RunId, Tag};
use mlops_registry::{
    AliasChange, AliasName, ArtifactPath, Expect, ModelName, ModelRegistry, ModelVersion,
    NewVersion, RegistryError, RegistryExt, Stage,
};
use serde_json::Value;

use crate::mlflow::{registry, rich_version, store, training_run, unique_model};

fn script() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/python/registry_interop.py")
}

/// Runs the script and parses its JSON.
fn python(mode: &str, model: &ModelName) -> Value {
    let output = std::process::Command::new(require_env(PYTHON))
        .arg(script())
        .args([mode, &require_env(MLFLOW_URI), model.as_str()])
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "registry_interop.py {mode} failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap()
}

fn v(n: u64) -> ModelVersion {
    ModelVersion::new(n).unwrap()
}

#[tokio::test]
async fn mlflow_python_client_reads_what_the_rust_backend_writes() {
    let registry = registry();
    let name = unique_model("interop-read");
    registry
        .create_model(
            &name,
            Some("written from Rust"),
            &[Tag::parse("owner", "risk").unwrap()],
        )
        .await
        .unwrap();
    let run = training_run(&store(), "interop").await;
    let v1 = registry
        .create_version(&name, rich_version(Some(run.clone())))
        .await
        .unwrap();
    let v2 = registry
        .create_version(
            &name,
            NewVersion::new()
                .with_artifact(ArtifactPath::parse("model.onnx").unwrap(), &b"second"[..])
                .with_description("second"),
        )
        .await
        .unwrap();
    let champion = AliasName::parse("champion").unwrap();
    registry
        .set_alias(
            &name,
            &champion,
            v(1),
            &AliasChange::expecting(Expect::Absent),
        )
        .await
        .unwrap();
    registry
        .set_alias(
            &name,
            &AliasName::parse("challenger").unwrap(),
            v(2),
            &AliasChange::default(),
        )
        .await
        .unwrap();
    registry
        .transition_stage(&name, v(2), Stage::Staging, false)
        .await
        .unwrap();

    let seen = python("read", &name);
    assert_eq!(seen["name"], name.as_str());
    assert_eq!(seen["description"], "written from Rust");
    assert_eq!(seen["tags"]["owner"], "risk");
    assert_eq!(
        seen["aliases"],
        serde_json::json!({"champion": 1, "challenger": 2})
    );
    assert_eq!(seen["by_alias"], seen["aliases"]);
    let versions = seen["versions"].as_array().unwrap();
    assert_eq!(versions.len(), 2);
    for (py, ours) in versions.iter().zip([&v1, &v2]) {
        assert_eq!(py["version"], ours.version.get());
        assert_eq!(py["source"], ours.source.as_str());
        assert_eq!(py["download_uri"], ours.source.as_str());
        assert_eq!(py["status"], "READY");
        assert_eq!(
            py["description"],
            ours.description.as_deref().unwrap_or_default()
        );
        // The files MLflow's client downloads are the ones we recorded, digest for digest.
        let files: BTreeMap<String, String> = serde_json::from_value(py["files"].clone()).unwrap();
        let recorded: BTreeMap<String, String> = ours
            .artifacts
            .iter()
            .map(|a| (a.path.to_string(), a.sha256.clone()))
            .collect();
        assert_eq!(files, recorded);
        // User tags show as they are; our records sit under the reserved prefix.
        for tag in &ours.tags {
            assert_eq!(py["tags"][tag.key().as_str()], tag.value());
        }
        assert!(py["tags"]["mlops.registry.manifest"].is_string());
    }
    assert_eq!(versions[0]["run_id"], run.run_id.as_str());
    assert_eq!(versions[0]["aliases"], serde_json::json!(["champion"]));
    assert_eq!(versions[1]["aliases"], serde_json::json!(["challenger"]));
    assert_eq!(versions[1]["stage"], "Staging");
}

#[tokio::test]
async fn mlflow_rust_backend_reads_what_the_python_client_writes() {
    let registry = registry();
    let name = unique_model("interop-write");
    let written = python("write", &name);

    let model = registry.get_model(&name).await.unwrap();
    assert_eq!(model.description.as_deref(), Some("from python"));
    assert_eq!(model.tags, vec![Tag::parse("origin", "python").unwrap()]);
    let champion = AliasName::parse("champion").unwrap();
    assert_eq!(model.aliases.get(&champion), Some(&v(1)));
    assert_eq!(model.latest_version, Some(v(1)));

    let version = registry.resolve_alias(&name, &champion).await.unwrap();
    assert_eq!(version.version.get(), written["version"].as_u64().unwrap());
    assert_eq!(version.source, written["source"].as_str().unwrap());
    assert_eq!(version.description.as_deref(), Some("py v1"));
    assert_eq!(version.tags, vec![Tag::parse("framework", "none").unwrap()]);
    assert_eq!(version.aliases, vec![champion.clone()]);
    // A foreign version: its run link (with the run's metrics) comes from the run, and it
    // has no recorded digests to serve files against.
    let run = version.run.as_ref().unwrap();
    assert_eq!(
        run.run_id,
        RunId::parse(written["run_id"].as_str().unwrap()).unwrap()
    );
    assert_eq!(
        run.experiment_id.as_str(),
        written["experiment_id"].as_str().unwrap()
    );
    assert_eq!(version.metric("accuracy"), Some(0.875));
    assert!(version.artifacts.is_empty());
    let err = registry
        .download_artifact(&name, v(1), &ArtifactPath::parse("model.bin").unwrap())
        .await
        .unwrap_err();
    assert!(matches!(err, RegistryError::InvalidState(_)), "{err:?}");

    // And it moves on from there with a precondition that sees Python's alias.
    let v2 = registry
        .create_version(
            &name,
            NewVersion::new()
                .with_artifact(ArtifactPath::parse("model.bin").unwrap(), &b"rust"[..]),
        )
        .await
        .unwrap();
    let err = registry
        .set_alias(
            &name,
            &champion,
            v2.version,
            &AliasChange::expecting(Expect::Absent),
        )
        .await
        .unwrap_err();
    assert!(err.is_conflict(), "{err}");
    registry
        .set_alias(
            &name,
            &champion,
            v2.version,
            &AliasChange::expecting(Expect::Version(v(1))),
        )
        .await
        .unwrap();
    let seen = python("read", &name);
    assert_eq!(seen["aliases"], serde_json::json!({"champion": 2}));
}
