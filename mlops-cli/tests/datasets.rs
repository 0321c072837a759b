//! `mlops data …`: versions, dedup, checked get, diff, aliases, concurrent adds.

// Test helpers outside `#[test]` functions fail loudly by design.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use parquet::arrow::ArrowWriter;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

use crate::util::{command, json, ok, reference, root, text};

/// Bytes of every regular file under `dir`.
fn bytes_under(dir: &Path) -> u64 {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            if e.file_type().unwrap().is_dir() {
                bytes_under(&e.path())
            } else {
                e.metadata().unwrap().len()
            }
        })
        .sum()
}

/// The files under `dir` whose path holds `part`.
fn files_with(dir: &Path, part: &str) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let path = e.unwrap().path();
        if path.is_dir() {
            out.extend(files_with(&path, part));
        } else if path.to_string_lossy().contains(part) {
            out.push(path);
        }
    }
    out
}

/// Writes rows `from..from+len` of the reference data as a Parquet file.
fn slice_of_reference(path: &Path, from: usize, len: usize) {
    let file = std::fs::File::open(reference()).unwrap();
    let reader = ParquetRecordBatchReaderBuilder::try_new(file)
        .unwrap()
        .with_batch_size(1 << 20);
    let schema = reader.schema().clone();
    let all = reader.build().unwrap().next().unwrap().unwrap();
    let mut writer =
        ArrowWriter::try_new(std::fs::File::create(path).unwrap(), schema, None).unwrap();
    writer.write(&all.slice(from, len)).unwrap();
    writer.close().unwrap();
}

fn data(store: &Path, args: &[&str]) -> std::process::Output {
    command(&root())
        .arg("data")
        .args(args)
        .arg("--store")
        .arg(store)
        .output()
        .unwrap()
}

#[test]
fn add_twice_is_one_version_and_get_is_checked() {
    let tmp = tempfile::tempdir().unwrap();
    let store = tmp.path().join("root");
    let current = root().join("examples/data/current.parquet");
    let current = current.to_str().unwrap();
    let reference = reference();

    let first = json(&data(
        &store,
        &[
            "add", "sales", &reference, "--tag", "src=test", "--alias", "train", "--format", "json",
        ],
    ));
    assert_eq!(first["created"], true);
    assert_eq!(first["manifest"]["version"], 1);
    let size = std::fs::metadata(&reference).unwrap().len();
    assert_eq!(first["bytes_written"], size);
    let before = bytes_under(&store);
    let again = json(&data(
        &store,
        &["add", "sales", &reference, "--format", "json"],
    ));
    assert_eq!(again["created"], false);
    assert_eq!(again["manifest"]["version"], 1);
    assert_eq!(bytes_under(&store), before, "the second add stored bytes");

    let second = json(&data(
        &store,
        &[
            "add",
            "sales",
            current,
            "--description",
            "new week",
            "--format",
            "json",
        ],
    ));
    assert_eq!(second["manifest"]["version"], 2);

    let list = json(&data(&store, &["list", "--format", "json"]));
    assert_eq!(list["datasets"][0]["name"], "sales");
    assert_eq!(list["datasets"][0]["versions"], 2);
    let table = ok(&data(&store, &["versions", "sales"]));
    assert!(
        table.contains("train") && table.contains("new week"),
        "{table}"
    );
    let show = json(&data(&store, &["show", "sales@train", "--format", "json"]));
    assert_eq!(show["version"]["version"], 1);
    assert_eq!(show["version"]["tags"]["src"], "test");
    assert_eq!(show["aliases"][0]["alias"], "train");
    assert!(
        show["version"]["schema"]["fields"]
            .as_array()
            .is_some_and(|f| !f.is_empty())
    );
    let shown = ok(&data(&store, &["show", "sales"]));
    assert!(shown.contains("sales@2"), "{shown}");

    let out = tmp.path().join("out");
    ok(&data(
        &store,
        &["get", "sales@1", "--out", out.to_str().unwrap()],
    ));
    assert_eq!(
        std::fs::read(out.join("reference.parquet")).unwrap(),
        std::fs::read(&reference).unwrap()
    );

    let diff = json(&data(
        &store,
        &["diff", "sales@1", "sales@2", "--format", "json"],
    ));
    assert_eq!(diff["same_rows"], false);
    assert!(
        diff["drift"]["columns"]
            .as_array()
            .is_some_and(|c| !c.is_empty())
    );
    let table = ok(&data(&store, &["diff", "sales@train", "sales@latest"]));
    assert!(table.contains("dataset drift"), "{table}");

    ok(&data(&store, &["alias", "sales", "train", "2"]));
    let show = json(&data(&store, &["show", "sales@train", "--format", "json"]));
    assert_eq!(show["version"]["version"], 2);

    // A tampered object: get refuses it and names the file.
    let sha = first["manifest"]["files"][0]["location"]["sha256"]
        .as_str()
        .unwrap();
    let object = files_with(&store, sha).pop().unwrap();
    let mut bytes = std::fs::read(&object).unwrap();
    let last = bytes.len() - 20;
    bytes[last] ^= 0xff;
    std::fs::write(&object, bytes).unwrap();
    let refused = data(
        &store,
        &[
            "get",
            "sales@1",
            "--out",
            tmp.path().join("out2").to_str().unwrap(),
        ],
    );
    assert_eq!(refused.status.code(), Some(1));
    let stderr = text(&refused.stderr);
    assert!(
        stderr.contains("reference.parquet") && stderr.contains(sha),
        "{stderr}"
    );

    // Read commands never create a store.
    let missing = tmp.path().join("nothing");
    let listed = data(&missing, &["list"]);
    assert_eq!(listed.status.code(), Some(1));
    assert!(!missing.exists());
}

#[test]
fn four_processes_adding_different_content_get_distinct_versions() {
    let tmp = tempfile::tempdir().unwrap();
    let store = tmp.path().join("root");
    let inputs: Vec<PathBuf> = (0..4)
        .map(|i| {
            let path = tmp.path().join(format!("part{i}.parquet"));
            slice_of_reference(&path, i * 100, 300);
            path
        })
        .collect();
    let children: Vec<_> = inputs
        .iter()
        .map(|input| {
            Command::new(env!("CARGO_BIN_EXE_mlops"))
                .args(["data", "add", "sales"])
                .arg(input)
                .arg("--store")
                .arg(&store)
                .args(["--format", "json"])
                .env_remove("MLOPS_STORE")
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let mut versions: Vec<u64> = children
        .into_iter()
        .map(|c| {
            let out = c.wait_with_output().unwrap();
            let added = json(&out);
            assert_eq!(added["created"], true);
            added["manifest"]["version"].as_u64().unwrap()
        })
        .collect();
    versions.sort_unstable();
    assert_eq!(versions, [1, 2, 3, 4]);
    let listed = json(&data(&store, &["versions", "sales", "--format", "json"]));
    let paths: Vec<&str> = listed["versions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["files"][0]["path"].as_str().unwrap())
        .collect();
    let mut sorted = paths.clone();
    sorted.sort_unstable();
    assert_eq!(
        sorted,
        [
            "part0.parquet",
            "part1.parquet",
            "part2.parquet",
            "part3.parquet"
        ]
    );
}

/// A model version number, as JSON writes it (a number or MLflow's string).
fn number(value: &serde_json::Value) -> u64 {
    value
        .as_u64()
        .or_else(|| value.as_str().and_then(|s| s.parse().ok()))
        .unwrap_or_else(|| panic!("not a version number: {value}"))
}

/// `mlops lineage` both ways on an embedded root, with an alias moved twice, and `runs show`
/// printing the dataset version and the run environment.
#[test]
fn lineage_both_ways() {
    use std::sync::Arc;

    use mlops::core::{AliasName, ExperimentName, ModelName, ModelVersion, RunStatus, StoreUri};
    use mlops::registry::{
        AliasChange, ModelRegistry, NewVersion, ObjectRegistry, RegistryExt, RunLink,
    };
    use mlops::track::{ActiveRun, LocalStore, RunOptions, TrackingStore};
    use mlops_data::{AddOptions, DatasetName, Datasets};

    let tmp = tempfile::tempdir().unwrap();
    let store = tmp.path().join("root");
    let first = tmp.path().join("a.parquet");
    let second = tmp.path().join("b.parquet");
    slice_of_reference(&first, 0, 400);
    slice_of_reference(&second, 400, 400);
    let run_id = tokio::runtime::Runtime::new().unwrap().block_on(async {
        let uri = StoreUri::parse(store.to_str().unwrap()).unwrap();
        let root = uri.open().unwrap();
        let datasets = Datasets::new(&root);
        let name = DatasetName::parse("sales").unwrap();
        let v1 = datasets
            .add(&name, &[first], AddOptions::default())
            .await
            .unwrap()
            .manifest;
        let v2 = datasets
            .add(&name, &[second], AddOptions::default())
            .await
            .unwrap()
            .manifest;
        let tracking = Arc::new(LocalStore::open_uri(&uri).await.unwrap());
        let registry = ObjectRegistry::new(root);
        let exp = tracking
            .create_experiment(&ExperimentName::parse("sales").unwrap(), &[])
            .await
            .unwrap();
        let mut runs = Vec::new();
        for manifest in [&v1, &v2] {
            let run = ActiveRun::start(
                tracking.clone(),
                &exp,
                None,
                RunOptions::default().with_git_dirty_check(false),
            )
            .await
            .unwrap();
            run.log_input(&manifest.dataset_ref().unwrap(), Some("training"))
                .await
                .unwrap();
            runs.push(run.run_id().clone());
            run.finish(RunStatus::Finished).await.unwrap();
        }
        let model = ModelName::parse("forecast").unwrap();
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
        runs[0].clone()
    });
    let store_arg = store.to_str().unwrap();
    let run = |args: &[&str]| {
        command(&root())
            .args(args)
            .args(["--store", store_arg])
            .output()
            .unwrap()
    };
    let used = json(&run(&["lineage", "dataset", "sales@1", "--format", "json"]));
    assert_eq!(used["versions"][0], "sales@1");
    assert_eq!(used["runs"].as_array().unwrap().len(), 1);
    assert_eq!(used["runs"][0]["run_id"], run_id.to_string());
    let models: Vec<u64> = used["models"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| number(&m["version"]))
        .collect();
    assert_eq!(models, [1, 3]);
    assert_eq!(used["models"][1]["aliases"][0]["alias"], "champion");
    let digest = used["digest"].as_str().unwrap().to_owned();
    let by_digest = ok(&run(&["lineage", "dataset", &digest]));
    assert!(
        by_digest.contains("forecast") && by_digest.contains("champion"),
        "{by_digest}"
    );

    let back = json(&run(&[
        "lineage",
        "model",
        "forecast@champion",
        "--format",
        "json",
    ]));
    assert_eq!(number(&back["version"]), 3);
    assert_eq!(back["history"].as_array().unwrap().len(), 3);
    assert_eq!(back["inputs"][0]["version"]["version"], 1);
    assert_eq!(
        back["inputs"][0]["version"]["files"][0]["path"],
        "a.parquet"
    );
    let table = ok(&run(&["lineage", "model", "forecast@champion"]));
    assert!(
        table.contains("sales@1") && table.contains("mlops.rustc.version"),
        "{table}"
    );

    // Both directions report to GitHub Actions like every step.
    let outputs = tmp.path().join("github_output");
    let github = |args: &[&str]| {
        let out = command(&root())
            .args(args)
            .args(["--store", store_arg])
            .env("GITHUB_ACTIONS", "true")
            .env("GITHUB_OUTPUT", &outputs)
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", text(&out.stderr));
        let pairs = crate::contract::github_outputs(&std::fs::read_to_string(&outputs).unwrap());
        std::fs::remove_file(&outputs).unwrap();
        pairs
    };
    let pairs = github(&["lineage", "dataset", "sales@1"]);
    let get = |pairs: &[(String, String)], name: &str| {
        (pairs.iter().find(|(n, _)| n == name))
            .unwrap_or_else(|| panic!("no {name} in {pairs:?}"))
            .1
            .clone()
    };
    assert_eq!(get(&pairs, "runs"), run_id.to_string());
    assert_eq!(get(&pairs, "models"), "forecast@1,forecast@3");
    assert_eq!(get(&pairs, "aliases"), "forecast@champion=3");
    assert_eq!(get(&pairs, "digest"), digest);
    let pairs = github(&["lineage", "model", "forecast@champion"]);
    assert_eq!(get(&pairs, "version"), "3");
    assert_eq!(get(&pairs, "run_id"), run_id.to_string());
    assert_eq!(get(&pairs, "datasets"), "sales@1");
    assert_eq!(get(&pairs, "alias_moves"), "3");
    assert_eq!(get(&pairs, "outcome"), "done");

    let shown = ok(&run(&["runs", "show", run_id.as_str()]));
    assert!(
        shown.contains("mlops-data://sales@1") && shown.contains("mlops.target"),
        "{shown}"
    );
}

/// `mlops data import-dvc` of a DVC 3 remote laid out as dvc lays it (the library's service
/// test uses the real dvc): the bytes come back from the remote, checked.
#[test]
fn import_dvc_references_the_remote() {
    use md5::{Digest, Md5};

    let tmp = tempfile::tempdir().unwrap();
    let store = tmp.path().join("root");
    let remote = tmp.path().join("remote");
    let bytes = std::fs::read(reference()).unwrap();
    let md5: String = Md5::digest(&bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let object = remote.join("files/md5").join(&md5[..2]).join(&md5[2..]);
    std::fs::create_dir_all(object.parent().unwrap()).unwrap();
    std::fs::write(&object, &bytes).unwrap();
    let dvc_file = tmp.path().join("sales.parquet.dvc");
    std::fs::write(
        &dvc_file,
        format!(
            "outs:\n- md5: {md5}\n  size: {}\n  hash: md5\n  path: sales.parquet\n",
            bytes.len()
        ),
    )
    .unwrap();
    let added = json(&data(
        &store,
        &[
            "import-dvc",
            dvc_file.to_str().unwrap(),
            "--remote",
            remote.to_str().unwrap(),
            "--format",
            "json",
        ],
    ));
    assert_eq!(added["created"], true);
    assert_eq!(added["manifest"]["name"], "sales.parquet");
    assert_eq!(added["manifest"]["files"][0]["location"]["kind"], "dvc");
    let out = tmp.path().join("out");
    ok(&data(
        &store,
        &["get", "sales.parquet@1", "--out", out.to_str().unwrap()],
    ));
    assert_eq!(std::fs::read(out.join("sales.parquet")).unwrap(), bytes);
}
