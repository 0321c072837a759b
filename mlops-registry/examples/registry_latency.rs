//! Promote-and-resolve latency of the embedded registry on a local folder, printed as one
//! JSON document, for `benches/compare/registry_vs_mlflow.py` to set beside MLflow's.
//!
//! ```sh
//! cargo run -p mlops-registry --release --example registry_latency -- --iterations 200 [--dir PATH]
//! ```
//!
//! The operations, per iteration, alternating the alias between two versions:
//! - `set_alias`: move `champion` with no precondition (what MLflow's
//!   `set_registered_model_alias` does);
//! - `resolve`: read the version `champion` points to (MLflow's `get_model_version_by_alias`);
//! - `promote`: a gated promotion (`promote` with the precondition "holds what I read" and a
//!   metric gate), which reads the candidate and the holder, runs the gate and moves the
//!   alias conditionally;
//! - `set_alias_and_resolve` and `promote_and_resolve`: each followed by a resolve.
//!
//! Times are wall-clock milliseconds per operation: p50, p90, p99, mean, min.

#![allow(
    clippy::print_stdout,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic
)]

use std::time::Instant;

use mlops_core::{
    AliasName, ArtifactPath, ExperimentId, Metric, MetricKey, ModelName, RunId, StoreUri, Timestamp,
};
use mlops_registry::gates::{Direction, Gate, MetricGate};
use mlops_registry::{
    AliasChange, Expect, ModelRegistry, NewVersion, ObjectRegistry, RunLink, promote,
};
use serde_json::json;

fn summary(mut ms: Vec<f64>) -> serde_json::Value {
    ms.sort_by(f64::total_cmp);
    let at = |p: f64| ms[((ms.len() as f64 - 1.0) * p).round() as usize];
    json!({
        "p50": at(0.50), "p90": at(0.90), "p99": at(0.99),
        "mean": ms.iter().sum::<f64>() / ms.len() as f64, "min": ms[0], "n": ms.len(),
    })
}

fn main() {
    let mut iterations = 200usize;
    let mut dir: Option<std::path::PathBuf> = None;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--iterations" => {
                iterations = args
                    .next()
                    .and_then(|v| v.parse().ok())
                    .expect("--iterations N");
            }
            "--dir" => dir = Some(args.next().expect("--dir PATH").into()),
            other => panic!("unknown argument {other}; expected --iterations N, --dir PATH"),
        }
    }
    let temp = tempfile::tempdir().unwrap();
    let root = dir.unwrap_or_else(|| temp.path().to_path_buf());
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let report = runtime.block_on(async move {
        let registry =
            ObjectRegistry::open_uri(&StoreUri::parse(root.to_str().unwrap()).unwrap()).unwrap();
        let name = ModelName::parse(format!("latency-{}", RunId::generate())).unwrap();
        registry.create_model(&name, None, &[]).await.unwrap();
        let mut versions = Vec::new();
        for (i, acc) in [0.8, 0.9].into_iter().enumerate() {
            let run = RunLink {
                run_id: RunId::generate(),
                experiment_id: ExperimentId::generate(),
                artifact_path: None,
                metrics: vec![Metric::new(
                    MetricKey::parse("accuracy").unwrap(),
                    acc,
                    Timestamp::now(),
                    0,
                )],
            };
            let files = NewVersion::new()
                .with_artifact(
                    ArtifactPath::parse("model.bin").unwrap(),
                    vec![i as u8; 1024],
                )
                .with_run(run);
            versions.push(registry.create_version(&name, files).await.unwrap().version);
        }
        let alias = AliasName::parse("champion").unwrap();
        // A gate that always passes (margin -1), so every promotion does the full work.
        let gates: Vec<Box<dyn Gate>> = vec![Box::new(MetricGate::new(
            "accuracy",
            Direction::HigherIsBetter,
            -1.0,
        ))];
        let (mut set, mut resolve, mut set_resolve, mut prom, mut prom_resolve) =
            (vec![], vec![], vec![], vec![], vec![]);
        for i in 0..iterations {
            let target = versions[i % 2];
            let t = Instant::now();
            registry
                .set_alias(&name, &alias, target, &AliasChange::expecting(Expect::Any))
                .await
                .unwrap();
            let after_set = t.elapsed();
            let t2 = Instant::now();
            let got = registry.resolve_alias(&name, &alias).await.unwrap();
            let resolved = t2.elapsed();
            assert_eq!(got.version, target);
            set.push(after_set.as_secs_f64() * 1e3);
            resolve.push(resolved.as_secs_f64() * 1e3);
            set_resolve.push((after_set + resolved).as_secs_f64() * 1e3);

            let target = versions[(i + 1) % 2];
            let t = Instant::now();
            let outcome = promote(
                &registry,
                &name,
                target,
                &alias,
                Expect::Version(versions[i % 2]),
                &gates,
            )
            .await
            .unwrap();
            let promoted = t.elapsed();
            assert!(outcome.promoted(), "{:?}", outcome.decision);
            let t2 = Instant::now();
            let got = registry.resolve_alias(&name, &alias).await.unwrap();
            let resolved = t2.elapsed();
            assert_eq!(got.version, target);
            prom.push(promoted.as_secs_f64() * 1e3);
            prom_resolve.push((promoted + resolved).as_secs_f64() * 1e3);
        }
        json!({
            "backend": "mlops-registry ObjectRegistry, local folder (fsync on)",
            "iterations": iterations,
            "set_alias_ms": summary(set),
            "resolve_ms": summary(resolve),
            "set_alias_and_resolve_ms": summary(set_resolve),
            "promote_ms": summary(prom),
            "promote_and_resolve_ms": summary(prom_resolve),
        })
    });
    println!("{}", serde_json::to_string_pretty(&report).unwrap());
}
