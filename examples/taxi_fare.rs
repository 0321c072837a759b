//! The NYC taxi-fare template: the lifecycle of a weekly fare model, each step a subcommand
//! an orchestrator (Airflow, GitHub Actions, Dagster) runs as a task.
//!
//! ```text
//! cargo build --release --example taxi_fare
//! T=target/release/examples/taxi_fare
//! $T generate --data taxi-data --weeks 4                 # weekly Parquet partitions
//! $T train    --data taxi-data --store mlops-data        # tracked run + registered version
//! $T promote  --store mlops-data --version 1 --gate metric:mape:lower
//! $T generate --data taxi-data --weeks 5 --shift-from 5  # a week with a fare increase
//! $T drift    --data taxi-data --store mlops-data        # the new week vs champion's profile
//! $T train    --data taxi-data --store mlops-data        # trained before the increase,
//! $T promote  --store mlops-data --version 2 --gate metric:mape:lower --on-reject skip  # 99
//! ```
//!
//! The step contract (as the `mlops` command's): progress and a summary on stderr, the
//! result as one JSON object on the last line of stdout (Airflow keeps it as the task's
//! XCom), and exit codes 0 done, 1 error, 2 usage, 3 "the answer is no" (a gate refused,
//! drift found with `--fail-on-drift`), which `--on-reject skip|fail|ok` maps to 99
//! (Airflow's skip code), 3 or 0.
//!
//! Options shared by every step: `--store URI` (or `MLOPS_STORE`; runs at the root, the
//! registry under `registry/`, as the `mlops` command lays them out), `--model NAME`
//! (default `taxi-fare`), `--data DIR` (or `TAXI_FARE_DATA`; default `taxi-data`),
//! `--actor NAME` (or `MLOPS_ACTOR`: who the audit log names), `--on-reject`.
//!
//! The features are a transform spec (`mlops::transform`, `taxi_fare/features.rs`, or
//! `train --spec FILE`) fit on the training trips and registered with the model, so `mlops
//! serve --model taxi-fare@champion` takes the raw trip columns and applies the same code:
//! `predict` prints what the training code predicts for a week's first trips, which the
//! server answers bit for bit.
//!
//! The generator's schema, tariff and shift are in `taxi_fare/generate.rs`; the features in
//! `taxi_fare/features.rs`; the model and how training code predicts in `taxi_fare/model.rs`;
//! its tracking and registration in `taxi_fare/train.rs`; the later steps in
//! `taxi_fare/steps.rs`.

#![allow(clippy::print_stdout, clippy::print_stderr)]

#[path = "taxi_fare/args.rs"]
mod args;
#[path = "taxi_fare/features.rs"]
mod features;
#[path = "taxi_fare/generate.rs"]
mod generate;
#[path = "taxi_fare/model.rs"]
mod model;
#[path = "taxi_fare/steps.rs"]
mod steps;
#[cfg(test)]
#[path = "taxi_fare/tests.rs"]
mod tests;
#[path = "taxi_fare/train.rs"]
mod train;

use std::path::PathBuf;
use std::process::ExitCode;

use serde_json::{Value, json};

use crate::args::Args;

type Error = Box<dyn std::error::Error + Send + Sync>;

/// How a step's question was answered: yes (done, passed) or no (refused, drifted).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Verdict {
    Yes,
    No,
}

/// Exit codes of the step contract.
const EXIT_ERROR: u8 = 1;
const EXIT_USAGE: u8 = 2;
const EXIT_NO: u8 = 3;
const EXIT_SKIP: u8 = 99;

const USAGE: &str =
    "usage: taxi_fare <generate|train|evaluate|predict|promote|drift> [--option value]...
  generate --data DIR [--weeks 4] [--rows 20000] [--shift-from WEEK] [--seed 7]
  train    --data DIR [--weeks 3] [--eval-days 7] [--epochs 300] [--learning-rate 0.1]
           [--spec FEATURES.json]
  evaluate --data DIR [--version champion] [--week latest]
  predict  --data DIR [--version champion] [--week latest] [--limit 10]
  promote  --version V [--alias champion] [--gate metric:mape:lower]... [--on-reject skip|fail|ok]
  drift    --data DIR [--alias champion] [--week latest] [--fail-on-drift]
           [--airflow-url URL --asset URI [--airflow-token T]]
  common   [--store URI] [--model taxi-fare] [--actor NAME]";

#[tokio::main]
async fn main() -> ExitCode {
    let args = match Args::parse(std::env::args().skip(1)) {
        Ok(args) => args,
        Err(e) => {
            eprintln!("error: {e}\n{USAGE}");
            return ExitCode::from(EXIT_USAGE);
        }
    };
    match run(&args).await {
        Ok((value, verdict)) => {
            let code = exit_code(&args, verdict);
            match code {
                Ok(code) => {
                    // The result is the last line of stdout, one compact JSON object.
                    println!("{value}");
                    ExitCode::from(code)
                }
                Err(e) => {
                    eprintln!("error: {e}\n{USAGE}");
                    ExitCode::from(EXIT_USAGE)
                }
            }
        }
        Err(e) if e.downcast_ref::<args::UsageError>().is_some() => {
            eprintln!("error: {e}\n{USAGE}");
            ExitCode::from(EXIT_USAGE)
        }
        Err(e) => {
            eprintln!("error: {e}");
            let mut source = e.source();
            while let Some(cause) = source {
                eprintln!("caused by: {cause}");
                source = cause.source();
            }
            ExitCode::from(EXIT_ERROR)
        }
    }
}

/// The exit code of a finished step: 0 for yes; for no, 3 unless `--on-reject` maps it.
fn exit_code(args: &Args, verdict: Verdict) -> Result<u8, Error> {
    if verdict == Verdict::Yes {
        return Ok(0);
    }
    match args.value("on-reject").unwrap_or("fail") {
        "fail" => Ok(EXIT_NO),
        "skip" => Ok(EXIT_SKIP),
        "ok" => Ok(0),
        other => Err(format!("--on-reject {other:?}: skip, fail or ok").into()),
    }
}

/// Runs the step `args` names; its result and verdict.
pub(crate) async fn run(args: &Args) -> Result<(Value, Verdict), Error> {
    let store = args.value_or_env("store", "MLOPS_STORE", "mlops-data");
    let model = args.value("model").unwrap_or("taxi-fare").to_owned();
    let data = PathBuf::from(args.value_or_env("data", "TAXI_FARE_DATA", "taxi-data"));
    let actor = args.value_or_env("actor", "MLOPS_ACTOR", "taxi-fare-pipeline");
    match args.command.as_str() {
        "generate" => {
            args.allow(&["data", "weeks", "rows", "shift-from", "seed"])?;
            let plan = generate::Plan {
                weeks: args.number("weeks", 4)?,
                rows: args.number("rows", 20_000)?,
                shift_from: args.number("shift-from", 0)?,
                seed: args.number("seed", 7)?,
            };
            let files = generate::generate(&data, &plan)?;
            let written = files.iter().filter(|(_, new)| *new).count();
            eprintln!(
                "{} week(s) in {}, {written} written now",
                files.len(),
                data.display()
            );
            let weeks: Vec<Value> = (files.iter())
                .map(|(f, new)| json!({"week": features::week_of(f), "path": f.display().to_string(), "written": new}))
                .collect();
            Ok((
                json!({"data": data.display().to_string(), "weeks": weeks, "written": written}),
                Verdict::Yes,
            ))
        }
        "train" => {
            args.allow(&[
                "data",
                "store",
                "model",
                "actor",
                "weeks",
                "eval-days",
                "epochs",
                "learning-rate",
                "spec",
            ])?;
            let spec = match args.value("spec") {
                Some(path) => features::read_spec(std::path::Path::new(path))?,
                None => features::default_spec(),
            };
            let plan = train::TrainPlan {
                data,
                weeks: args.number("weeks", 3)?,
                eval_days: args.number("eval-days", 7)?,
                epochs: args.number("epochs", 300)?,
                learning_rate: args.number("learning-rate", 0.1)?,
                model,
                spec,
            };
            let value = train::train(&store, &plan, &actor).await?;
            eprintln!(
                "trained run {} on weeks through {}: MAE {:.3}, RMSE {:.3}, MAPE {:.2} %; registered {} v{}",
                value["run_id"],
                value["eval_week"],
                value["mae"].as_f64().unwrap_or(f64::NAN),
                value["rmse"].as_f64().unwrap_or(f64::NAN),
                value["mape"].as_f64().unwrap_or(f64::NAN),
                plan.model,
                value["version"].as_str().unwrap_or("?"),
            );
            Ok((value, Verdict::Yes))
        }
        "evaluate" => {
            args.allow(&["data", "store", "model", "version", "week"])?;
            let version = args.value("version").unwrap_or("champion");
            let week = args.value("week").unwrap_or("latest");
            let value = steps::evaluate(&store, &model, version, &data, week).await?;
            eprintln!(
                "{model} {version} on week {}: MAPE {:.2} %",
                value["week"],
                value["mape"].as_f64().unwrap_or(f64::NAN)
            );
            Ok((value, Verdict::Yes))
        }
        "predict" => {
            args.allow(&["data", "store", "model", "version", "week", "limit"])?;
            let version = args.value("version").unwrap_or("champion");
            let week = args.value("week").unwrap_or("latest");
            let limit = args.number("limit", 10)?;
            let value = steps::predict(&store, &model, version, &data, week, limit).await?;
            eprintln!(
                "{model} {version}: {} prediction(s) for week {}",
                value["rows"], value["week"]
            );
            Ok((value, Verdict::Yes))
        }
        "promote" => {
            args.allow(&[
                "store",
                "model",
                "actor",
                "version",
                "alias",
                "gate",
                "on-reject",
            ])?;
            let version = args.required("version")?;
            let alias = args.value("alias").unwrap_or("champion");
            let mut gates = args.values("gate");
            if gates.is_empty() {
                gates.push("metric:mape:lower".to_owned());
            }
            let (value, verdict) =
                steps::promote(&store, &model, version, alias, &gates, &actor).await?;
            for gate in value["gates"].as_array().into_iter().flatten() {
                eprintln!("gate {}: {}", gate["gate"], gate["reason"]);
            }
            match verdict {
                Verdict::Yes => eprintln!("promoted {model} v{version} to {alias}"),
                Verdict::No => eprintln!(
                    "not promoted ({}): {alias} stays {}",
                    value["outcome"], value["previous"]
                ),
            }
            Ok((value, verdict))
        }
        "drift" => {
            args.allow(&[
                "data",
                "store",
                "model",
                "alias",
                "week",
                "fail-on-drift",
                "on-reject",
                "airflow-url",
                "asset",
                "airflow-token",
            ])?;
            let alias = args.value("alias").unwrap_or("champion");
            let week = args.value("week").unwrap_or("latest");
            let airflow = match (args.value("airflow-url"), args.value("asset")) {
                (Some(url), Some(asset)) => Some(steps::AirflowTarget {
                    url: url.to_owned(),
                    asset: asset.to_owned(),
                    token: args
                        .value("airflow-token")
                        .map(str::to_owned)
                        .or_else(|| std::env::var("AIRFLOW_API_TOKEN").ok()),
                }),
                (None, None) => None,
                _ => {
                    return Err(
                        args::UsageError("--airflow-url and --asset go together".into()).into(),
                    );
                }
            };
            let (value, verdict) =
                steps::drift(&store, &model, alias, &data, week, airflow.as_ref()).await?;
            eprintln!(
                "week {} vs {model} {alias}: drifted columns {}",
                value["week"], value["drifted_columns"]
            );
            // Drift is a finding, not a failure, unless the caller asks to stop on it.
            let verdict = if args.switch("fail-on-drift") {
                verdict
            } else {
                Verdict::Yes
            };
            Ok((value, verdict))
        }
        other => Err(args::UsageError(format!("unknown step {other:?}")).into()),
    }
}
