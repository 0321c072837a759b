//! mlops-data against the test services: S3 (moto), Azure Blob (Azurite), and a DVC remote
//! made by the real `dvc` (its own venv, `scripts/venvs/dvc.txt`). Run through
//! `scripts/test.sh --services-only -- cargo test -p mlops-data --features service-tests --test services`.

// Test helpers outside `#[test]` functions fail loudly by design.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "integration/support.rs"]
mod support;

use std::path::Path;
use std::process::Command;

use futures::TryStreamExt;
use mlops_core::StoreRoot;
use mlops_core::testing::{azure_root, require_env, s3_root};
use mlops_data::{AddOptions, DataError, DatasetName, Datasets, Location};
use object_store::ObjectStoreExt;

use support::write_parquet;

/// Bytes of every object under the root.
async fn bytes_on(root: &StoreRoot) -> u64 {
    let metas: Vec<object_store::ObjectMeta> = root
        .store()
        .list(Some(root.prefix()))
        .try_collect()
        .await
        .unwrap();
    metas.iter().map(|m| m.size).sum()
}

async fn round_trip(root: StoreRoot) {
    let tmp = tempfile::tempdir().unwrap();
    let datasets = Datasets::new(&root);
    let name = DatasetName::parse("trips").unwrap();
    let file = write_parquet(&tmp.path().join("in/a.parquet"), 20_000, 0.0, false);
    let first = datasets
        .add(&name, std::slice::from_ref(&file), AddOptions::default())
        .await
        .unwrap();
    assert!(first.created);
    assert_eq!(first.bytes_written, std::fs::metadata(&file).unwrap().len());
    let stored = bytes_on(&root).await;
    let again = datasets
        .add(&name, std::slice::from_ref(&file), AddOptions::default())
        .await
        .unwrap();
    assert!(!again.created);
    assert_eq!(again.manifest.version, 1);
    assert_eq!(bytes_on(&root).await, stored, "a second add wrote bytes");

    let out = tmp.path().join("out");
    datasets.get(&first.manifest, &out).await.unwrap();
    assert_eq!(
        std::fs::read(out.join("a.parquet")).unwrap(),
        std::fs::read(&file).unwrap()
    );

    // Four writers adding different content at once: four versions, none lost.
    let mut tasks = Vec::new();
    for i in 0..4 {
        let input = write_parquet(
            &tmp.path().join(format!("w{i}/b.parquet")),
            500,
            f64::from(i + 1),
            false,
        );
        let datasets = Datasets::new(&root);
        let name = name.clone();
        tasks.push(tokio::spawn(async move {
            datasets
                .add(&name, &[input], AddOptions::default())
                .await
                .unwrap()
        }));
    }
    let mut versions = Vec::new();
    for task in tasks {
        versions.push(task.await.unwrap().manifest.version);
    }
    versions.sort_unstable();
    assert_eq!(versions, [2, 3, 4, 5]);

    // An object replaced on the store is refused on get.
    let Location::Stored { sha256 } = &first.manifest.files[0].location else {
        panic!("stored")
    };
    let key = object_store::path::Path::from(format!(
        "{}/datasets/objects/sha256/{}/{sha256}",
        root.prefix(),
        &sha256[..2]
    ));
    root.store()
        .put(&key, bytes::Bytes::from_static(b"not the data").into())
        .await
        .unwrap();
    let err = datasets
        .get(&first.manifest, &tmp.path().join("out2"))
        .await
        .unwrap_err();
    assert!(matches!(err, DataError::DigestMismatch { .. }), "{err}");
}

#[tokio::test]
async fn datasets_on_s3() {
    round_trip(s3_root("datasets")).await;
}

#[tokio::test]
async fn datasets_on_azure() {
    round_trip(azure_root("datasets")).await;
}

fn dvc(venv: &str, cwd: &Path, args: &[&str]) {
    let out = Command::new(Path::new(venv).join("bin/dvc"))
        .args(args)
        .current_dir(cwd)
        .env("DVC_NO_ANALYTICS", "1")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "dvc {args:?}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[tokio::test]
async fn import_dvc_reads_a_remote_made_by_dvc() {
    let venv = require_env("MLOPS_TEST_VENV_DVC");
    let tmp = tempfile::tempdir().unwrap();
    let project = tmp.path().join("project");
    let remote = tmp.path().join("remote");
    std::fs::create_dir_all(&project).unwrap();
    let a = write_parquet(&project.join("data/a.parquet"), 3000, 0.0, false);
    let b = write_parquet(&project.join("data/nested/b.parquet"), 1000, 1.0, false);
    let single = write_parquet(&project.join("single.parquet"), 700, 2.0, false);
    dvc(&venv, &project, &["init", "--no-scm", "-q"]);
    dvc(&venv, &project, &["add", "-q", "data"]);
    dvc(&venv, &project, &["add", "-q", "single.parquet"]);
    dvc(
        &venv,
        &project,
        &["remote", "add", "-d", "store", remote.to_str().unwrap()],
    );
    dvc(&venv, &project, &["push", "-q"]);

    let store = tmp.path().join("root");
    let datasets = Datasets::new(
        &mlops_core::StoreUri::parse(store.to_str().unwrap())
            .unwrap()
            .open()
            .unwrap(),
    );
    let name = DatasetName::parse("dvc-data").unwrap();
    let added = datasets
        .import_dvc(
            &name,
            &project.join("data.dvc"),
            remote.to_str().unwrap(),
            AddOptions::default(),
        )
        .await
        .unwrap();
    assert_eq!(added.manifest.rows, 4000);
    let paths: Vec<&str> = added
        .manifest
        .files
        .iter()
        .map(|f| f.path.as_str())
        .collect();
    assert_eq!(paths, ["data/a.parquet", "data/nested/b.parquet"]);
    // Referenced, not copied: the store holds the manifest and the profile only.
    let out = tmp.path().join("out");
    datasets.get(&added.manifest, &out).await.unwrap();
    assert_eq!(
        std::fs::read(out.join("data/a.parquet")).unwrap(),
        std::fs::read(&a).unwrap()
    );
    assert_eq!(
        std::fs::read(out.join("data/nested/b.parquet")).unwrap(),
        std::fs::read(&b).unwrap()
    );
    assert_eq!(
        support::files_under(&store, "objects/sha256").len(),
        1,
        "only the profile is stored"
    );

    let one = datasets
        .import_dvc(
            &DatasetName::parse("single").unwrap(),
            &project.join("single.parquet.dvc"),
            remote.to_str().unwrap(),
            AddOptions::default(),
        )
        .await
        .unwrap();
    assert_eq!(one.manifest.rows, 700);
    let out = tmp.path().join("out-single");
    datasets.get(&one.manifest, &out).await.unwrap();
    assert_eq!(
        std::fs::read(out.join("single.parquet")).unwrap(),
        std::fs::read(&single).unwrap()
    );

    // A remote object altered after the import is refused on read.
    let Location::Dvc { key, .. } = &one.manifest.files[0].location else {
        panic!("a DVC file")
    };
    std::fs::write(remote.join(key), b"changed").unwrap();
    let err = datasets
        .get(&one.manifest, &tmp.path().join("out3"))
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            DataError::DigestMismatch {
                algorithm: "md5",
                ..
            }
        ),
        "{err}"
    );
}

/// Lineage on MLflow: runs' dataset inputs and the model registry, an alias moved twice.
#[tokio::test]
async fn lineage_on_mlflow() {
    use mlops_core::{AliasName, ExperimentName, ModelName, ModelVersion, RunId, RunStatus};
    use mlops_data::lineage::{dataset_lineage, model_lineage};
    use mlops_registry::{AliasChange, ModelRegistry, NewVersion, RegistryExt, RunLink};
    use mlops_track::{ActiveRun, RunOptions, TrackingStoreExt};

    let uri = require_env(MLOPS_URI_GUARD);
    let tracking = mlops_track::open(&uri).await.unwrap();
    let registry = mlops_registry::open(&uri).unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let datasets = Datasets::new(
        &mlops_core::StoreUri::parse(tmp.path().join("root").to_str().unwrap())
            .unwrap()
            .open()
            .unwrap(),
    );
    let unique = RunId::generate();
    // Data no other test logs: the offset comes from a fresh id.
    let offset = f64::from(u32::from_str_radix(&unique.as_str()[24..], 16).unwrap());
    let name = DatasetName::parse("mlflow-trips").unwrap();
    let mut manifests = Vec::new();
    for i in 0..2 {
        let file = write_parquet(
            &tmp.path().join(format!("{i}/t.parquet")),
            200,
            offset + f64::from(i),
            false,
        );
        manifests.push(
            datasets
                .add(&name, &[file], AddOptions::default())
                .await
                .unwrap()
                .manifest,
        );
    }
    let exp = tracking
        .get_or_create_experiment(&ExperimentName::parse(format!("lineage-{unique}")).unwrap())
        .await
        .unwrap();
    let mut runs = Vec::new();
    for m in &manifests {
        let run = ActiveRun::start(
            tracking.clone(),
            &exp,
            None,
            RunOptions::default().with_git_dirty_check(false),
        )
        .await
        .unwrap();
        run.log_input(&m.dataset_ref().unwrap(), Some("training"))
            .await
            .unwrap();
        runs.push(run.run_id().clone());
        run.finish(RunStatus::Finished).await.unwrap();
    }
    let model = ModelName::parse(format!("lineage-{unique}")).unwrap();
    registry.ensure_model(&model, None, &[]).await.unwrap();
    for run in [&runs[0], &runs[1], &runs[0]] {
        let link = RunLink::read(tracking.as_ref(), run, None).await.unwrap();
        registry
            .create_version(&model, NewVersion::new().with_run(link))
            .await
            .unwrap();
    }
    let champion = AliasName::parse("champion").unwrap();
    for v in [1, 2, 3] {
        registry
            .set_alias(
                &model,
                &champion,
                ModelVersion::new(v).unwrap(),
                &AliasChange::default(),
            )
            .await
            .unwrap();
    }

    let used = dataset_lineage(
        Some(&datasets),
        tracking.as_ref(),
        registry.as_ref(),
        manifests[0].digest,
    )
    .await
    .unwrap();
    assert_eq!(used.versions, ["mlflow-trips@1"]);
    assert_eq!(
        used.runs
            .iter()
            .map(|r| r.run_id.clone())
            .collect::<Vec<_>>(),
        [runs[0].clone()]
    );
    let versions: Vec<u64> = used
        .models
        .iter()
        .filter(|m| m.model == model)
        .map(|m| m.version.get())
        .collect();
    assert_eq!(versions, [1, 3]);
    let v3 = used
        .models
        .iter()
        .find(|m| m.model == model && m.version.get() == 3)
        .unwrap();
    assert_eq!(v3.aliases[0].alias, champion);

    let back = model_lineage(
        Some(&datasets),
        tracking.as_ref(),
        registry.as_ref(),
        &model,
        &champion,
    )
    .await
    .unwrap();
    assert_eq!(back.version.get(), 3);
    assert_eq!(back.run.as_ref().unwrap().run_id, runs[0]);
    assert_eq!(back.inputs.len(), 1);
    assert_eq!(
        back.inputs[0].version.as_ref().unwrap().label(),
        "mlflow-trips@1"
    );
    assert_eq!(back.inputs[0].context.as_deref(), Some("training"));
    assert!(!back.history.is_empty(), "{:?}", back.history);
}

const MLOPS_URI_GUARD: &str = mlops_core::testing::MLFLOW_URI;
