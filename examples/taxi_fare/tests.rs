//! The steps, run in-process on a temporary folder.

use mlops::drift::arrow_array::{Float64Array, RecordBatch};
use mlops::registry::{ModelName, ModelRegistry, RegistryExt};
use mlops::track::{RunId, TrackingStore};
use ndarray::{Array1, Array2, array};
use serde_json::Value;

use super::*;

fn args(line: &[&str]) -> Args {
    Args::parse(line.iter().map(|s| (*s).to_owned())).unwrap()
}

async fn step(line: &[&str]) -> (Value, Verdict) {
    run(&args(line)).await.unwrap()
}

fn mean(batches: &[RecordBatch], column: &str) -> f64 {
    let values: Vec<f64> = (batches.iter())
        .flat_map(|b| {
            let values = b.column_by_name(column).unwrap();
            let values = values.as_any().downcast_ref::<Float64Array>().unwrap();
            values.values().to_vec()
        })
        .collect();
    values.iter().sum::<f64>() / values.len() as f64
}

#[test]
fn weeks_are_deterministic_and_the_shifted_one_costs_more() {
    let dir = tempfile::tempdir().unwrap();
    let plan = generate::Plan {
        weeks: 3,
        rows: 2_000,
        shift_from: 3,
        seed: 7,
    };
    let first = generate::generate(dir.path(), &plan).unwrap();
    assert!(first.iter().all(|(_, written)| *written));
    assert_eq!(features::week_of(&first[0].0), "2026-01-05");
    assert_eq!(features::week_of(&first[2].0), "2026-01-19");
    // Same seed elsewhere: the same bytes; a rerun keeps the files.
    let other = tempfile::tempdir().unwrap();
    generate::generate(other.path(), &plan).unwrap();
    for week in 1..=3 {
        let a = std::fs::read(generate::week_file(dir.path(), week)).unwrap();
        let b = std::fs::read(generate::week_file(other.path(), week)).unwrap();
        assert_eq!(a, b, "week {week}");
    }
    assert!(
        generate::generate(dir.path(), &plan)
            .unwrap()
            .iter()
            .all(|(_, w)| !*w)
    );

    let raw = features::read_parquet(&first[0].0).unwrap();
    assert_eq!(*raw[0].schema(), generate::schema());
    let week = |i: usize| features::read_trips(&first[i].0, 0..7).unwrap();
    let (normal, shifted) = (week(1), week(2));
    let rows = |b: &[RecordBatch]| b.iter().map(RecordBatch::num_rows).sum::<usize>();
    assert_eq!(rows(&normal), 2_000);
    // Pickups fall inside their week, Monday to Sunday: a weekday filter splits the week.
    let (weekdays, weekend) = (
        features::read_trips(&first[1].0, 0..5).unwrap(),
        features::read_trips(&first[1].0, 5..7).unwrap(),
    );
    assert_eq!(rows(&weekdays) + rows(&weekend), 2_000);
    assert!(rows(&weekend) > 300 && rows(&weekdays) > 1_000);
    let ratio = |c: &str| mean(&shifted, c) / mean(&normal, c);
    assert!(ratio("trip_distance") > 1.3, "{}", ratio("trip_distance"));
    assert!(ratio("fare_amount") > 1.4, "{}", ratio("fare_amount"));
}

#[test]
fn fit_recovers_a_linear_relation_and_scores_are_exact() {
    // y = 2 + 3 x0 - x1 on features of one scale (as the transform makes them), no noise:
    // gradient descent gets there, and the coefficients apply to x as it is.
    let x = Array2::from_shape_fn((200, 7), |(i, j)| {
        (((i * (j + 3)) % 17) as f64 - 8.0) / 5.0 + j as f64 / 10.0
    });
    let y: Array1<f64> = x.column(0).mapv(|v| 3.0 * v) - x.column(1) + 2.0;
    let mut losses = Vec::new();
    let fit = train::fit(&x, &y, 2_000, 0.05, |e, l| losses.push((e, l))).unwrap();
    assert_eq!(losses.len(), 2_000);
    assert!(losses[1_999].1 < losses[0].1 * 1e-6);
    assert!(
        (fit.coefficients[0] - 3.0).abs() < 1e-3,
        "{:?}",
        fit.coefficients
    );
    assert!((fit.coefficients[1] + 1.0).abs() < 1e-3);
    assert!((fit.intercept - 2.0).abs() < 1e-2);
    // The file round-trips.
    assert_eq!(model::Fit::from_file(&fit.to_file()).unwrap(), fit);
    let short = Array1::from(y.to_vec()[..10].to_vec());
    assert!(train::fit(&x, &short, 1, 0.1, |_, _| ()).is_err());

    let s = train::scores(&array![11.0, 18.0, 33.0], &array![10.0, 20.0, 30.0]);
    assert!((s.mae - 2.0).abs() < 1e-12);
    assert!((s.rmse - (14.0f64 / 3.0).sqrt()).abs() < 1e-12);
    assert!((s.mape - 10.0).abs() < 1e-12);
}

#[test]
fn arguments_and_exit_codes() {
    assert_eq!(exit_code(&args(&["promote"]), Verdict::Yes).unwrap(), 0);
    assert_eq!(exit_code(&args(&["promote"]), Verdict::No).unwrap(), 3);
    for (mode, code) in [("skip", 99), ("fail", 3), ("ok", 0)] {
        let a = args(&["promote", "--on-reject", mode]);
        assert_eq!(exit_code(&a, Verdict::No).unwrap(), code);
        assert_eq!(exit_code(&a, Verdict::Yes).unwrap(), 0);
    }
    assert!(exit_code(&args(&["promote", "--on-reject=maybe"]), Verdict::No).is_err());
    let a = args(&["promote", "--gate", "a", "--gate=b", "--fail-on-drift"]);
    assert_eq!(a.values("gate"), ["a", "b"]);
    assert!(a.switch("fail-on-drift"));
    assert!(a.allow(&["gate"]).is_err());
    assert!(Args::parse(["train", "--weeks"].map(String::from).into_iter()).is_err());
    assert!(Args::parse(["train", "weeks"].map(String::from).into_iter()).is_err());
}

#[tokio::test]
async fn unknown_steps_and_options_are_usage_errors() {
    for line in [&["fly"][..], &["train", "--wekes", "3"], &["promote"]] {
        let e = run(&args(line)).await.unwrap_err();
        assert!(
            e.downcast_ref::<args::UsageError>().is_some(),
            "{line:?}: {e}"
        );
    }
}

/// The weekly pipeline twice: the first model is promoted; after a fare increase the model
/// trained on the weeks before it is worse on the new week, and the gate refuses it.
#[tokio::test]
async fn the_weekly_pipeline_promotes_then_refuses_a_worse_model() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let store = dir.path().join("store");
    let (data, store) = (data.to_str().unwrap(), store.to_str().unwrap());
    let common = ["--store", store, "--data", data];
    let with = |extra: &[&'static str]| {
        let mut line: Vec<&str> = extra.to_vec();
        line.extend(common);
        line
    };

    step(&[
        "generate",
        "--data",
        data,
        "--weeks",
        "4",
        "--rows",
        "3000",
        "--shift-from",
        "5",
    ])
    .await;
    let (first, _) = step(&with(&["train", "--epochs", "200"])).await;
    assert_eq!(first["version"], "1");
    assert_eq!(first["eval_week"], "2026-01-26");
    let mape1 = first["mape"].as_f64().unwrap();
    assert!(mape1 > 0.0 && mape1 < 25.0, "{mape1}");
    let (promoted, verdict) = step(&[
        "promote",
        "--store",
        store,
        "--version",
        "1",
        "--actor",
        "weekly-dag",
    ])
    .await;
    assert_eq!(verdict, Verdict::Yes, "{promoted}");
    assert_eq!(promoted["previous"], Value::Null);

    // The run holds params, one loss per epoch, the scores and the datasets' digests.
    let tracking = mlops::track::open(store).await.unwrap();
    let run_id = RunId::parse(first["run_id"].as_str().unwrap()).unwrap();
    let run = tracking.get_run(&run_id).await.unwrap();
    let params: Vec<&str> = run.data.params.iter().map(|p| p.key().as_str()).collect();
    assert!(
        params.contains(&"learning_rate") && params.contains(&"features"),
        "{params:?}"
    );
    let loss = mlops::track::MetricKey::parse("loss").unwrap();
    let history = tracking.get_metric_history(&run_id, &loss).await.unwrap();
    assert_eq!(history.len(), 200);
    assert_eq!(run.inputs.len(), 3);
    assert_eq!(first["datasets"].as_array().unwrap().len(), 3);

    // The version holds the model and the transform it was trained behind; the run holds
    // the training configuration (the plan and the feature spec).
    let registry = mlops::registry::open(store).unwrap();
    let model = ModelName::parse("taxi-fare").unwrap();
    let version = mlops::registry::ModelVersion::new(1).unwrap();
    let files = registry.download_all(&model, version).await.unwrap();
    let names: Vec<&str> = files.iter().map(|(p, _)| p.as_str()).collect();
    assert_eq!(names, ["model.json", "transform.json"]);
    assert_eq!(first["features"].as_array().unwrap().len(), 6, "{first}");
    let tags: Vec<&str> = run.data.tags.iter().map(|t| t.key().as_str()).collect();
    assert!(tags.contains(&"mlops.config.sha256"), "{tags:?}");
    let (predicted, _) = step(&with(&["predict", "--version", "1", "--limit", "7"])).await;
    assert_eq!(predicted["predictions"].as_array().unwrap().len(), 7);
    assert!(
        super::run(&args(&[
            "predict", "--store", store, "--data", data, "--limit", "0"
        ]))
        .await
        .is_err()
    );

    // The champion evaluated on its own evaluation week scores what training reported.
    let (eval, _) = step(&with(&["evaluate", "--week", "2026-01-26"])).await;
    assert!((eval["mape"].as_f64().unwrap() - mape1).abs() < 1e-9);

    // A week like the others: no drift. Then the fare increase arrives.
    let (calm, verdict) = step(&with(&["drift", "--fail-on-drift"])).await;
    assert_eq!(calm["dataset_drift"], false, "{calm}");
    assert_eq!(verdict, Verdict::Yes);
    step(&[
        "generate",
        "--data",
        data,
        "--weeks",
        "5",
        "--rows",
        "3000",
        "--shift-from",
        "5",
    ])
    .await;
    let (drift, verdict) = step(&with(&["drift", "--fail-on-drift"])).await;
    assert_eq!(drift["dataset_drift"], true, "{drift}");
    assert_eq!(verdict, Verdict::No);
    let columns = drift["drifted_columns"].as_array().unwrap();
    assert!(columns.contains(&Value::from("fare_amount")), "{drift}");
    assert!(columns.contains(&Value::from("trip_distance")), "{drift}");
    let (_, verdict) = step(&with(&["drift"])).await;
    assert_eq!(
        verdict,
        Verdict::Yes,
        "without --fail-on-drift drift is a finding"
    );

    let (second, _) = step(&with(&["train", "--epochs", "200"])).await;
    assert_eq!(second["version"], "2");
    assert!(second["mape"].as_f64().unwrap() > mape1 + 5.0, "{second}");
    let (refused, verdict) = step(&[
        "promote",
        "--store",
        store,
        "--version",
        "2",
        "--actor",
        "weekly-dag",
    ])
    .await;
    assert_eq!(verdict, Verdict::No, "{refused}");
    assert_eq!(refused["outcome"], "GatesFailed");
    assert_eq!(refused["previous"], "1");
    assert_eq!(refused["gates"][0]["passed"], false);

    // The audit log has both decisions, each with its actor.
    let log = registry.audit_log(&model).await.unwrap();
    let decisions: Vec<String> = (log.iter())
        .map(|e| serde_json::to_string(e).unwrap())
        .filter(|e| e.contains("weekly-dag"))
        .collect();
    assert!(decisions.len() >= 2, "{decisions:#?}");
    let alias = mlops::registry::AliasName::parse("champion").unwrap();
    assert_eq!(
        registry
            .resolve_alias(&model, &alias)
            .await
            .unwrap()
            .version
            .to_string(),
        "1"
    );

    // Retrained on the new regime (five days of the new week, evaluated on its weekend),
    // the model fits again and beats the champion's MAPE: the drift-triggered retraining
    // promotes it.
    let (retrained, _) = step(&with(&["train", "--weeks", "1", "--eval-days", "2"])).await;
    assert!(retrained["mape"].as_f64().unwrap() < mape1, "{retrained}");
    let (_, verdict) = step(&[
        "promote",
        "--store",
        store,
        "--version",
        "3",
        "--actor",
        "drift-dag",
    ])
    .await;
    assert_eq!(verdict, Verdict::Yes);
}
