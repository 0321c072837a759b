//! Lineage both ways on embedded stores: datasets, runs, model versions, an alias moved twice.

use std::sync::Arc;

use mlops_core::{AliasName, ExperimentName, ModelName, ModelVersion, RunStatus, StoreUri};
use mlops_data::lineage::{dataset_lineage, model_lineage};
use mlops_data::{AddOptions, DatasetName, Datasets, parse_source};
use mlops_registry::{
    AliasChange, ModelRegistry, NewVersion, ObjectRegistry, RegistryExt, RunLink,
};
use mlops_track::{ActiveRun, LocalStore, RunOptions, TrackingStore};

use super::support::write_parquet;

#[tokio::test]
async fn lineage_answers_both_directions() {
    let tmp = tempfile::tempdir().unwrap();
    let uri = StoreUri::parse(tmp.path().join("root").to_str().unwrap()).unwrap();
    let root = uri.open().unwrap();
    let datasets = Datasets::new(&root);
    let tracking = Arc::new(LocalStore::open_uri(&uri).await.unwrap());
    let registry = ObjectRegistry::new(root.clone());

    let trips = DatasetName::parse("trips").unwrap();
    let weather = DatasetName::parse("weather").unwrap();
    let t1 = write_parquet(&tmp.path().join("t1/trips.parquet"), 300, 0.0, false);
    let t2 = write_parquet(&tmp.path().join("t2/trips.parquet"), 300, 5.0, false);
    let w1 = write_parquet(&tmp.path().join("w1/weather.parquet"), 100, 1.0, true);
    let trips1 = datasets
        .add(&trips, &[t1], AddOptions::default())
        .await
        .unwrap()
        .manifest;
    let trips2 = datasets
        .add(&trips, &[t2], AddOptions::default())
        .await
        .unwrap()
        .manifest;
    let weather1 = datasets
        .add(&weather, &[w1], AddOptions::default())
        .await
        .unwrap()
        .manifest;
    assert_eq!(
        parse_source(trips1.dataset_ref().unwrap().source()),
        Some((trips.clone(), 1))
    );

    let exp = tracking
        .create_experiment(&ExperimentName::parse("fares").unwrap(), &[])
        .await
        .unwrap();
    let options = || RunOptions::default().with_git_dirty_check(false);
    let run_a = ActiveRun::start(tracking.clone(), &exp, None, options())
        .await
        .unwrap();
    run_a
        .log_input(&trips1.dataset_ref().unwrap(), Some("training"))
        .await
        .unwrap();
    run_a
        .log_input(&weather1.dataset_ref().unwrap(), Some("eval"))
        .await
        .unwrap();
    let a = run_a.run_id().clone();
    run_a.finish(RunStatus::Finished).await.unwrap();
    let run_b = ActiveRun::start(tracking.clone(), &exp, None, options())
        .await
        .unwrap();
    run_b
        .log_input(&trips2.dataset_ref().unwrap(), Some("training"))
        .await
        .unwrap();
    let b = run_b.run_id().clone();
    run_b.finish(RunStatus::Finished).await.unwrap();

    let fare = ModelName::parse("fare").unwrap();
    registry.ensure_model(&fare, None, &[]).await.unwrap();
    for run in [&a, &b, &a] {
        let link = RunLink::read(tracking.as_ref(), run, None).await.unwrap();
        registry
            .create_version(&fare, NewVersion::new().with_run(link))
            .await
            .unwrap();
    }
    // A version registered without a run, recording the dataset itself.
    registry
        .create_version(
            &fare,
            NewVersion::new().with_dataset(trips2.dataset_ref().unwrap()),
        )
        .await
        .unwrap();
    let champion = AliasName::parse("champion").unwrap();
    let challenger = AliasName::parse("challenger").unwrap();
    let any = AliasChange::default();
    let v = |n| ModelVersion::new(n).unwrap();
    registry
        .set_alias(&fare, &champion, v(1), &any)
        .await
        .unwrap();
    registry
        .set_alias(&fare, &champion, v(2), &any)
        .await
        .unwrap();
    let moved = registry
        .set_alias(&fare, &champion, v(3), &any)
        .await
        .unwrap();
    registry
        .set_alias(&fare, &challenger, v(2), &any)
        .await
        .unwrap();

    let first = dataset_lineage(Some(&datasets), tracking.as_ref(), &registry, trips1.digest)
        .await
        .unwrap();
    assert_eq!(first.versions, ["trips@1"]);
    assert_eq!(first.runs.len(), 1);
    assert_eq!(first.runs[0].run_id, a);
    assert_eq!(first.runs[0].context.as_deref(), Some("training"));
    let versions: Vec<u64> = first.models.iter().map(|m| m.version.get()).collect();
    assert_eq!(versions, [1, 3]);
    let v3 = &first.models[1];
    assert_eq!(v3.aliases.len(), 1);
    assert_eq!(v3.aliases[0].alias, champion);
    assert_eq!(v3.aliases[0].since, Some(moved.time));
    assert!(first.models[0].aliases.is_empty(), "v1 lost champion");

    let second = dataset_lineage(Some(&datasets), tracking.as_ref(), &registry, trips2.digest)
        .await
        .unwrap();
    assert_eq!(second.runs.len(), 1);
    assert_eq!(second.runs[0].run_id, b);
    let found: Vec<(u64, bool)> = second
        .models
        .iter()
        .map(|m| (m.version.get(), m.run_id.is_some()))
        .collect();
    assert_eq!(found, [(2, true), (4, false)]);
    assert_eq!(second.models[0].aliases[0].alias, challenger);

    let back = model_lineage(
        Some(&datasets),
        tracking.as_ref(),
        &registry,
        &fare,
        &champion,
    )
    .await
    .unwrap();
    assert_eq!(back.version, v(3));
    let steps: Vec<Option<u64>> = back
        .history
        .iter()
        .map(|s| s.to.map(ModelVersion::get))
        .collect();
    assert_eq!(steps, [Some(1), Some(2), Some(3)]);
    assert_eq!(back.run.as_ref().unwrap().run_id, a);
    assert!(
        back.environment
            .iter()
            .any(|(k, _)| k == "mlops.rustc.version")
    );
    let inputs: Vec<(String, Option<String>)> = back
        .inputs
        .iter()
        .map(|i| (i.version.as_ref().unwrap().label(), i.context.clone()))
        .collect();
    assert_eq!(
        inputs,
        [
            ("trips@1".to_owned(), Some("training".to_owned())),
            ("weather@1".to_owned(), Some("eval".to_owned()))
        ]
    );
    assert_eq!(
        back.inputs[0].version.as_ref().unwrap().files[0].path,
        "trips.parquet"
    );
}
