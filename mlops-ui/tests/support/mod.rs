//! The data every UI test shows: an experiment of runs with histories, params, tags, a
//! dataset input and an artifact; a model with a champion and a version awaiting approval.
#![allow(dead_code, unreachable_pub)]

pub mod http;
pub mod webdriver;

use std::sync::Arc;

use bytes::Bytes;
use mlops_core::{AliasName, ArtifactPath, ModelName, ModelVersion, RunId, StoreRoot, StoreUri};
use mlops_monitor::{History, VersionKey, VersionMonitor, WindowPolicy, WindowReport};
use mlops_registry::{AliasChange, ModelRegistry, NewVersion, RegistryExt};
use mlops_track::{
    Dataset, DatasetInput, ExperimentName, Metric, MetricKey, NewRun, Param, RunName, RunStatus,
    Tag, Timestamp, TrackingStore, TrackingStoreExt,
};
use mlops_ui::{Reviewers, Ui, UiOptions};

pub const ALICE_TOKEN: &str = "alice-secret-token-0001";
pub const DIGEST: &str = "d1g3st0f7ra1n1ngdat4";
pub const RUNS: usize = 30;
/// Points in the history of `loss` on the first run.
pub const LONG: usize = 50_000;

pub struct Fixture {
    pub dir: tempfile::TempDir,
    /// The monitoring history (`<root>/monitor`, where `mlops monitor run` writes).
    pub history: StoreRoot,
    /// Its windows, oldest first, as mlops-monitor computed them.
    pub windows: Vec<WindowReport>,
    pub tracking: Arc<dyn TrackingStore>,
    pub registry: Arc<dyn ModelRegistry>,
    pub experiment: String,
    pub runs: Vec<RunId>,
    pub model: ModelName,
}

impl Fixture {
    /// The UI over the stores and the monitoring history.
    pub fn ui(&self) -> Ui {
        self.ui_with(Some(self.history.clone()))
    }

    /// The UI over the stores, with `history` as its monitoring history.
    pub fn ui_with(&self, history: Option<StoreRoot>) -> Ui {
        let mut reviewers = Reviewers::none();
        reviewers.add("alice", ALICE_TOKEN).unwrap();
        let options = UiOptions {
            reviewers,
            monitor_history: history,
            ..UiOptions::default()
        };
        Ui::new(
            Arc::clone(&self.tracking),
            Some(Arc::clone(&self.registry)),
            options,
        )
    }

    pub fn root(&self) -> String {
        self.dir.path().to_str().unwrap().to_owned()
    }
}

/// Run `i`'s `val_loss` history, logged as (max, min, last) at steps 0, 1, 2: the three are
/// different permutations of the runs (7, 11 and 13 are prime to 30), so sorting by the
/// best value is not sorting by the last one.
pub fn val_loss(i: usize) -> (f64, f64, f64) {
    let at = |k: usize| ((i * k) % RUNS) as f64 / 100.0;
    (5.0 + at(11), at(7), 1.0 + at(13))
}

/// The store as the CLI lays it out: runs at the root, the registry in `registry/`.
pub async fn fixture() -> Fixture {
    fixture_in("churn").await
}

/// The same, the runs in experiment `name`.
pub async fn fixture_in(name: &str) -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().to_str().unwrap().to_owned();
    let tracking = mlops_track::open_with(
        &root,
        mlops_track::OpenOptions::default().create_if_missing(true),
    )
    .await
    .unwrap();
    let registry =
        mlops_registry::open_with(&root, &mlops_registry::OpenOptions::new().actor("trainer"))
            .unwrap();
    let experiment = tracking
        .get_or_create_experiment(&ExperimentName::parse(name).unwrap())
        .await
        .unwrap();
    let mut runs = Vec::new();
    // Three hours ago, so that durations on screenshots look like a training job.
    let t0 = Timestamp::now().as_millis() - 3 * 3_600_000;
    for i in 0..RUNS {
        let run = tracking
            .create_run(NewRun {
                experiment_id: experiment.clone(),
                run_name: Some(RunName::parse(format!("run-{i:02}")).unwrap()),
                user_id: "tester".into(),
                start_time: Timestamp::from_millis(t0 + i as i64).unwrap(),
                tags: Vec::new(),
            })
            .await
            .unwrap();
        let id = run.info.run_id.clone();
        let rmse = 0.2 + i as f64 / 100.0;
        let ts = |k: i64| Timestamp::from_millis(t0 + k * 1_000).unwrap();
        let mut metrics = vec![
            Metric::new(MetricKey::parse("rmse").unwrap(), rmse, ts(0), 0),
            Metric::new(
                MetricKey::parse("accuracy").unwrap(),
                0.9 - rmse / 10.0,
                ts(0),
                0,
            ),
        ];
        // A history whose max, min and last orders differ: see `val_loss`.
        let (max, min, last) = val_loss(i);
        let key = MetricKey::parse("val_loss").unwrap();
        for (step, v) in [max, min, last].into_iter().enumerate() {
            metrics.push(Metric::new(key.clone(), v, ts(step as i64), step as i64));
        }
        let params = vec![
            Param::parse("alpha", format!("0.{}", i % 3 + 1)).unwrap(),
            Param::parse("layers", "4").unwrap(),
        ];
        let tags = vec![Tag::parse("team", if i % 2 == 0 { "red" } else { "blue" }).unwrap()];
        tracking
            .log_batch(&id, &metrics, &params, &tags)
            .await
            .unwrap();
        if i == 0 {
            let key = MetricKey::parse("loss").unwrap();
            let points: Vec<Metric> = (0..LONG)
                .map(|s| {
                    let s = s as i64;
                    let v = if s == 12_345 {
                        99.0
                    } else {
                        1.0 / (1.0 + s as f64)
                    };
                    Metric::new(key.clone(), v, ts(s), s)
                })
                .collect();
            for chunk in points.chunks(1_000) {
                tracking.log_batch(&id, chunk, &[], &[]).await.unwrap();
            }
            let input = DatasetInput {
                dataset: Dataset {
                    name: "train".into(),
                    digest: DIGEST.into(),
                    source_type: "local".into(),
                    source: "data/train.parquet".into(),
                    schema: None,
                    profile: None,
                },
                tags: vec![Tag::parse(mlops_track::DATASET_CONTEXT_TAG, "training").unwrap()],
            };
            tracking.log_inputs(&id, &[input]).await.unwrap();
            tracking
                .log_artifact(
                    &id,
                    &ArtifactPath::parse("model/model.json").unwrap(),
                    Bytes::from_static(b"{\"w\":[1,2]}"),
                )
                .await
                .unwrap();
        }
        tracking
            .set_terminated(&id, RunStatus::Finished)
            .await
            .unwrap();
        runs.push(id);
    }
    let model = ModelName::parse("churn").unwrap();
    let champion = AliasName::parse("champion").unwrap();
    let file = || {
        NewVersion::new().with_artifact(
            ArtifactPath::parse("model.json").unwrap(),
            Bytes::from_static(b"{}"),
        )
    };
    let v1 = registry
        .register_from_run(&model, tracking.as_ref(), &runs[1], file())
        .await
        .unwrap();
    registry
        .set_alias(&model, &champion, v1.version, &AliasChange::default())
        .await
        .unwrap();
    let mut with_profile = file();
    with_profile.drift_profile = Some(Bytes::from(profile()));
    let v2 = registry
        .register_from_run(&model, tracking.as_ref(), &runs[0], with_profile)
        .await
        .unwrap();
    assert_eq!(v2.version, ModelVersion::new(2).unwrap());
    registry
        .request_approval(
            &model,
            v2.version,
            &champion,
            "trainer",
            Some("better rmse"),
        )
        .await
        .unwrap();
    let history = StoreUri::parse(&format!("{root}/monitor"))
        .unwrap()
        .open()
        .unwrap();
    let windows = monitor(&history, t0).await;
    Fixture {
        dir,
        history,
        windows,
        tracking,
        registry,
        experiment: experiment.as_str().to_owned(),
        runs,
        model,
    }
}

/// Rows of the profile's two columns: ages shifted by `shift`, plans skewed towards "team"
/// when `skew` (the reference is an even mix).
pub fn rows(n: usize, shift: f64, skew: bool) -> arrow_array::RecordBatch {
    use arrow_array::{Float64Array, RecordBatch, StringArray};
    use arrow_schema::{DataType, Field, Schema};

    let schema = Arc::new(Schema::new(vec![
        Field::new("age", DataType::Float64, false),
        Field::new("plan", DataType::Utf8, false),
    ]));
    let ages = Float64Array::from_iter_values((0..n).map(|i| (i % 80) as f64 + 18.0 + shift));
    let plans = StringArray::from_iter_values((0..n).map(|i| {
        if skew && i % 4 != 0 {
            "team"
        } else {
            ["basic", "pro", "team"][i % 3]
        }
    }));
    RecordBatch::try_new(schema, vec![Arc::new(ages), Arc::new(plans)]).unwrap()
}

/// The reference profile of v2 (and of the monitoring windows).
pub fn reference() -> mlops_drift::ReferenceProfile {
    mlops_drift::ReferenceProfile::build(
        &[rows(500, 0.0, false)],
        &mlops_drift::DriftOptions::default(),
    )
    .unwrap()
}

/// A reference drift profile of two columns (numbers and categories), as registered.
fn profile() -> Vec<u8> {
    reference().to_parquet().unwrap()
}

/// Windows of served rows against the profile, appended to the history as `mlops serve
/// --monitor` does: two windows of v1 on reference-like rows, then six of v2 whose ages
/// drift further each window and whose plans skew from the fourth on. Each window is two
/// batches ten minutes apart, windows twenty minutes apart from `t0`.
async fn monitor(history: &StoreRoot, t0: i64) -> Vec<WindowReport> {
    let profile = Arc::new(reference());
    let options = Arc::new(mlops_drift::DriftOptions::default());
    let history = History::new(history.clone());
    let monitor = |version: &str| {
        let key = VersionKey {
            model: "churn".into(),
            version: version.into(),
        };
        VersionMonitor::new(
            key,
            Arc::clone(&profile),
            Arc::clone(&options),
            WindowPolicy::rows(400).unwrap(),
        )
    };
    let (mut v1, mut v2) = (monitor("1"), monitor("2"));
    let mut windows = Vec::new();
    for w in 0..8_i64 {
        let (m, shift, skew) = if w < 2 {
            (&mut v1, 0.0, false)
        } else {
            (&mut v2, (w - 1) as f64 * 6.0, w >= 5)
        };
        for half in 0..2 {
            let at = Timestamp::from_millis(t0 + (w * 20 + half * 10) * 60_000).unwrap();
            for window in m.push(&rows(200, shift, skew), at).unwrap() {
                history.append(&window).await.unwrap();
                windows.push(window);
            }
        }
    }
    assert_eq!(windows.len(), 8);
    windows
}
