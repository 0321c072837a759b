//! Writes the data of `benches/compare/ui_vs_mlflow.py` into an embedded store: RUNS
//! finished runs with 20 metrics and 5 params each, and one more run whose `loss` metric has
//! POINTS points. Prints `{"experiment_id": ..., "long_run": ..., "run": ...}` on stdout.
//!
//! The values follow the script's MLflow side exactly: run i has `m00..m19` =
//! ((i * (k + 1)) mod 100) / 100, `rmse` = m00, params `alpha` = 0.1/0.2/0.5 by i mod 3.
//!
//! ```sh
//! cargo run --release -p mlops-ui --example ui_bench_data -- DIR 10000 1000000
//! ```

#![allow(clippy::print_stdout)]

use std::error::Error;

use mlops_track::{
    ExperimentName, Metric, MetricKey, NewRun, Param, RunStatus, Timestamp, TrackingStore,
    TrackingStoreExt,
};

#[tokio::main]
async fn main() -> Result<(), Box<dyn Error>> {
    let mut args = std::env::args().skip(1);
    let dir = args.next().ok_or("usage: ui_bench_data DIR RUNS POINTS")?;
    let runs: usize = args.next().unwrap_or_else(|| "10000".into()).parse()?;
    let points: i64 = args.next().unwrap_or_else(|| "1000000".into()).parse()?;
    let store = mlops_track::open_with(
        &dir,
        mlops_track::OpenOptions::default().create_if_missing(true),
    )
    .await?;
    let experiment = store
        .get_or_create_experiment(&ExperimentName::parse("bench")?)
        .await?;
    let t0 = 1_780_000_000_000i64;
    let keys: Vec<MetricKey> = (0..20)
        .map(|k| MetricKey::parse(format!("m{k:02}")))
        .collect::<Result<_, _>>()?;
    let rmse = MetricKey::parse("rmse")?;
    let alphas = ["0.1", "0.2", "0.5"];
    let mut last = None;
    for i in 0..runs {
        let run = store
            .create_run(NewRun {
                experiment_id: experiment.clone(),
                run_name: None,
                user_id: "bench".into(),
                start_time: Timestamp::from_millis(t0 + i as i64)?,
                tags: Vec::new(),
            })
            .await?;
        let id = run.info.run_id;
        let at = Timestamp::from_millis(t0 + i as i64)?;
        let value = |k: usize| ((i * (k + 1)) % 100) as f64 / 100.0;
        let mut metrics: Vec<Metric> = keys
            .iter()
            .enumerate()
            .map(|(k, key)| Metric::new(key.clone(), value(k), at, 0))
            .collect();
        metrics.push(Metric::new(rmse.clone(), value(0), at, 0));
        let params = vec![
            Param::parse("alpha", alphas[i % 3])?,
            Param::parse("layers", (i % 5).to_string())?,
            Param::parse("optimizer", if i % 2 == 0 { "adam" } else { "sgd" })?,
            Param::parse("batch", "64")?,
            Param::parse("seed", i.to_string())?,
        ];
        store.log_batch(&id, &metrics, &params, &[]).await?;
        store.set_terminated(&id, RunStatus::Finished).await?;
        last = Some(id);
    }
    let long = store
        .create_run(NewRun {
            experiment_id: experiment.clone(),
            run_name: None,
            user_id: "bench".into(),
            start_time: Timestamp::from_millis(t0 + runs as i64)?,
            tags: Vec::new(),
        })
        .await?
        .info
        .run_id;
    let loss = MetricKey::parse("loss")?;
    let mut step = 0i64;
    while step < points {
        let batch: Vec<Metric> = (step..(step + 1000).min(points))
            .map(|s| {
                Ok(Metric::new(
                    loss.clone(),
                    1.0 / (1.0 + s as f64) + (s % 7) as f64 * 1e-3,
                    Timestamp::from_millis(t0 + s)?,
                    s,
                ))
            })
            .collect::<Result<_, mlops_core::Error>>()?;
        store.log_batch(&long, &batch, &[], &[]).await?;
        step += 1000;
    }
    store.set_terminated(&long, RunStatus::Finished).await?;
    println!(
        "{}",
        serde_json::json!({
            "experiment_id": experiment.as_str(),
            "long_run": long.as_str(),
            "run": last.map(|r| r.as_str().to_owned()),
        })
    );
    Ok(())
}
