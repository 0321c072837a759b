//! What the CLI's tests share: running the `mlops` binary as a user does (with none of the
//! store variables of the caller's environment), reading its output, building the root
//! package's examples, and a tracking store with two runs.

// Each test binary uses a part of these.
#![allow(dead_code, unreachable_pub)]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use bytes::Bytes;
use mlops::core::{ArtifactPath, StoreUri};
use mlops::track::{
    DatasetInput, ExperimentName, LocalStore, Metric, MetricKey, NewRun, Param, RunId, RunName,
    RunStatus, Tag, Timestamp, TrackingStore, dataset,
};
use serde_json::Value;

/// The workspace root: the examples, their data and the fixtures live there.
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// The sample reference data, spelled as the examples spell it (a dataset's source is
/// recorded as given).
pub fn reference() -> String {
    root()
        .join("examples/data/reference.parquet")
        .to_string_lossy()
        .into_owned()
}

/// The variables that choose stores or change output: unset in every run, so that a
/// developer's shell never leaks into a test.
const ISOLATED: [&str; 6] = [
    "MLOPS_STORE",
    "MLOPS_TRACKING_URI",
    "MLOPS_REGISTRY",
    "MLOPS_ACTOR",
    "MLOPS_DATA_DIR",
    "RUST_LOG",
];

/// `mlops` in `cwd`, with the store variables unset.
pub fn command(cwd: &Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_mlops"));
    command.current_dir(cwd);
    for name in ISOLATED {
        command.env_remove(name);
    }
    command
}

/// Runs `mlops ARGS` in the workspace root.
pub fn mlops(args: &[&str]) -> Output {
    command(&root()).args(args).output().unwrap()
}

/// Runs `mlops ARGS` in `cwd` with the variables of `env` set.
pub fn mlops_in(cwd: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut command = command(cwd);
    command.args(args);
    for (k, v) in env {
        command.env(k, v);
    }
    command.output().unwrap()
}

/// Bytes as text.
pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// The standard output of a run that must exit 0.
pub fn ok(out: &Output) -> String {
    assert!(
        out.status.success(),
        "exit {:?}\nstdout: {}\nstderr: {}",
        out.status.code(),
        text(&out.stdout),
        text(&out.stderr)
    );
    String::from_utf8(out.stdout.clone()).unwrap()
}

/// The JSON standard output of a run that must exit 0.
pub fn json(out: &Output) -> Value {
    serde_json::from_str(&ok(out)).unwrap()
}

/// An example of the root package, built by `cargo test` next to this test's binary, or
/// built now in the same profile when it is not there (`cargo test -p mlops-cli`).
pub fn example(name: &str) -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let path = exe
        .parent()
        .unwrap()
        .parent()
        .unwrap()
        .join("examples")
        .join(name);
    if !path.exists() {
        let mut build = Command::new(env!("CARGO"));
        build.args(["build", "-p", "mlops", "--example", name]);
        if !cfg!(debug_assertions) {
            build.arg("--release");
        }
        let status = build.current_dir(root()).status().unwrap();
        assert!(status.success());
    }
    path
}

/// A timestamp from milliseconds.
pub fn ts(ms: i64) -> Timestamp {
    Timestamp::from_millis(ms).unwrap()
}

/// The embedded tracking store in `dir` (created if missing).
pub async fn local(dir: &Path) -> LocalStore {
    LocalStore::open_uri(&StoreUri::parse(dir.to_str().unwrap()).unwrap())
        .await
        .unwrap()
}

/// Two runs in experiment `name`: `alpha` (finished, with everything) and `beta` (running).
pub async fn populate(store: &dyn TrackingStore, name: &ExperimentName) -> (RunId, RunId) {
    let experiment = store.create_experiment(name, &[]).await.unwrap();
    let mut ids = Vec::new();
    for (run_name, lr, final_loss) in [("alpha", "0.1", 0.25), ("beta", "0.2", f64::NAN)] {
        let run = store
            .create_run(NewRun {
                experiment_id: experiment.clone(),
                run_name: Some(RunName::parse(run_name).unwrap()),
                user_id: "ada".into(),
                start_time: ts(1_700_000_000_000),
                tags: vec![Tag::parse("team", "search").unwrap()],
            })
            .await
            .unwrap();
        let id = run.info.run_id;
        let loss = MetricKey::parse("loss").unwrap();
        let points: Vec<Metric> = (0..20)
            .map(|i| {
                let value = if i == 19 {
                    final_loss
                } else {
                    1.0 / f64::from(i + 1)
                };
                Metric::new(
                    loss.clone(),
                    value,
                    ts(1_700_000_000_000 + i64::from(i)),
                    i64::from(i),
                )
            })
            .collect();
        store
            .log_batch(&id, &points, &[Param::parse("lr", lr).unwrap()], &[])
            .await
            .unwrap();
        ids.push(id);
    }
    let alpha = &ids[0];
    let data = dataset::from_parquet_uri("churn", &reference())
        .await
        .unwrap();
    store
        .log_inputs(
            alpha,
            &[DatasetInput::from_ref(&data, Some("training")).unwrap()],
        )
        .await
        .unwrap();
    store
        .log_artifact(
            alpha,
            &ArtifactPath::parse("model/w.bin").unwrap(),
            Bytes::from_static(b"\x01\x02\x03"),
        )
        .await
        .unwrap();
    store
        .update_run(
            alpha,
            Some(RunStatus::Finished),
            Some(ts(1_700_000_065_000)),
            None,
        )
        .await
        .unwrap();
    (ids.remove(0), ids.remove(0))
}

/// A folder `dir/name` holding a two-file model (`MLmodel`, `weights/model.bin`).
pub fn model_folder(dir: &Path, name: &str, content: &str) -> String {
    let folder = dir.join(name);
    std::fs::create_dir_all(folder.join("weights")).unwrap();
    std::fs::write(folder.join("MLmodel"), format!("flavor: {content}")).unwrap();
    std::fs::write(folder.join("weights/model.bin"), content).unwrap();
    folder.to_str().unwrap().to_owned()
}

/// The tracking example's binary, run against `uri`; the id of the run it logged.
pub fn run_tracking_example(uri: &str, experiment: &str) -> RunId {
    let out = Command::new(example("tracking"))
        .env("MLOPS_TRACKING_URI", uri)
        .env("MLOPS_EXPERIMENT", experiment)
        .output()
        .unwrap();
    RunId::parse(ok(&out).trim()).unwrap()
}

/// Checks the run the tracking example logged to `store`.
pub async fn check_tracking_example_run(store: &dyn TrackingStore, id: &RunId, experiment: &str) {
    let run = store.get_run(id).await.unwrap();
    assert_eq!(run.info.status, RunStatus::Finished);
    let named = store
        .get_experiment_by_name(&ExperimentName::parse(experiment).unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(run.info.experiment_id, named.experiment_id);
    assert_eq!(run.data.param("learning_rate"), Some("0.05"));
    assert_eq!(run.data.param("epochs"), Some("10000"));
    let history = store
        .get_metric_history(id, &MetricKey::parse("loss").unwrap())
        .await
        .unwrap();
    let mut steps: Vec<i64> = history.iter().map(|m| m.step).collect();
    steps.sort_unstable();
    assert_eq!(steps, (0..=9999).collect::<Vec<i64>>());
    assert!(history.iter().all(|m| m.value.is_finite() && m.value > 0.0));
    let first = history.iter().find(|m| m.step == 0).unwrap().value;
    let last = history.iter().find(|m| m.step == 9999).unwrap().value;
    assert!(last < first, "the model learned: {first} -> {last}");

    let data = dataset::from_parquet_uri("churn-reference", &reference())
        .await
        .unwrap();
    assert_eq!(run.inputs.len(), 1);
    assert_eq!(
        run.inputs[0],
        DatasetInput::from_ref(&data, Some("training")).unwrap()
    );
    let model = store
        .download_artifact(id, &ArtifactPath::parse("model/linear.json").unwrap())
        .await
        .unwrap();
    let model: Value = serde_json::from_slice(&model).unwrap();
    assert_eq!(model["weights"].as_array().unwrap().len(), 2);
}

/// A copy of the frozen store of `tests/fixtures/store-v1/` (written by the release before
/// the one root) in `dir/name`: a read may repair it or take leases, never in the fixture.
pub fn fixture_store(dir: &Path, name: &str) -> PathBuf {
    let to = dir.join(name);
    copy_dir(&root().join("tests/fixtures/store-v1/store"), &to);
    to
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

/// The tracking part of a store root (everything but `registry/`) copied to `to`: a store
/// as the old default `./mlops-runs` held it.
pub fn copy_tracking_part(root: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(root).unwrap() {
        let entry = entry.unwrap();
        if entry.file_name() == "registry" {
            continue;
        }
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}
