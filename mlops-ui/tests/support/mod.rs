//! The data every UI test shows: an experiment of runs with histories, params, tags, a
//! dataset input and an artifact; a model with a champion and a version awaiting approval.
#![allow(dead_code, unreachable_pub)]

pub mod webdriver;

use std::sync::Arc;

use bytes::Bytes;
use mlops_core::{AliasName, ArtifactPath, ModelName, ModelVersion, RunId};
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
    pub tracking: Arc<dyn TrackingStore>,
    pub registry: Arc<dyn ModelRegistry>,
    pub experiment: String,
    pub runs: Vec<RunId>,
    pub model: ModelName,
}

impl Fixture {
    pub fn ui(&self) -> Ui {
        let mut reviewers = Reviewers::none();
        reviewers.add("alice", ALICE_TOKEN).unwrap();
        let options = UiOptions {
            reviewers,
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
        let metrics = vec![
            Metric::new(MetricKey::parse("rmse").unwrap(), rmse, ts(0), 0),
            Metric::new(
                MetricKey::parse("accuracy").unwrap(),
                0.9 - rmse / 10.0,
                ts(0),
                0,
            ),
        ];
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
    Fixture {
        dir,
        tracking,
        registry,
        experiment: experiment.as_str().to_owned(),
        runs,
        model,
    }
}

/// A reference drift profile of two columns (numbers and categories), as registered.
fn profile() -> Vec<u8> {
    use arrow_array::{Float64Array, RecordBatch, StringArray};
    use arrow_schema::{DataType, Field, Schema};

    let schema = Arc::new(Schema::new(vec![
        Field::new("age", DataType::Float64, false),
        Field::new("plan", DataType::Utf8, false),
    ]));
    let ages = Float64Array::from_iter_values((0..500).map(|i| f64::from(i % 80) + 18.0));
    let plans = StringArray::from_iter_values((0..500).map(|i| ["basic", "pro", "team"][i % 3]));
    let batch = RecordBatch::try_new(schema, vec![Arc::new(ages), Arc::new(plans)]).unwrap();
    mlops_drift::ReferenceProfile::build(&[batch], &mlops_drift::DriftOptions::default())
        .unwrap()
        .to_parquet()
        .unwrap()
}
