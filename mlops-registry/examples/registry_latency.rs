//! Promote-and-resolve latency of the embedded registry on a local folder, printed as ONE
//! JSON line, for `benches/compare/registry_vs_mlflow.py` to set beside MLflow's.
//!
//! ```sh
//! cargo run -p mlops-registry --release --example registry_latency -- --iterations 200 [--root DIR]
//! ```
//!
//! Per iteration, alternating the alias `champion` between two versions:
//! - `promote_ms`: `set_alias` with the precondition "holds what it held" (`Expect::exactly`),
//!   the operation MLflow's `set_registered_model_alias` does without a precondition;
//! - `resolve_ms`: `resolve_alias` (MLflow's `get_model_version_by_alias`);
//! - `promote_and_resolve_ms`: the two together;
//! - `gated_promote_ms`, `gated_promote_and_resolve_ms`: the full `promote` (reads the
//!   candidate and the holder, runs a metric gate, moves the alias conditionally), then a
//!   resolve.
//!
//! The line holds each series in milliseconds, plus `summary` (p50, p90, p99, mean, min).

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
            "--root" | "--dir" => dir = Some(args.next().expect("--root DIR").into()),
            other => panic!("unknown argument {other}; expected --iterations N, --root DIR"),
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
        let (mut set, mut resolve, mut set_resolve, mut gated, mut gated_resolve) =
            (vec![], vec![], vec![], vec![], vec![]);
        let mut current = None;
        let ms = |d: std::time::Duration| d.as_secs_f64() * 1e3;
        for i in 0..iterations {
            let target = versions[i % 2];
            let t = Instant::now();
            let change = AliasChange::expecting(Expect::exactly(current));
            registry
                .set_alias(&name, &alias, target, &change)
                .await
                .unwrap();
            let moved = t.elapsed();
            let t = Instant::now();
            let got = registry.resolve_alias(&name, &alias).await.unwrap();
            let resolved = t.elapsed();
            assert_eq!(got.version, target);
            set.push(ms(moved));
            resolve.push(ms(resolved));
            set_resolve.push(ms(moved + resolved));

            let next = versions[(i + 1) % 2];
            let t = Instant::now();
            let outcome = promote(
                &registry,
                &name,
                next,
                &alias,
                Expect::Version(target),
                &gates,
            )
            .await
            .unwrap();
            let promoted = t.elapsed();
            assert!(outcome.promoted(), "{:?}", outcome.decision);
            let t = Instant::now();
            let got = registry.resolve_alias(&name, &alias).await.unwrap();
            let resolved = t.elapsed();
            assert_eq!(got.version, next);
            gated.push(ms(promoted));
            gated_resolve.push(ms(promoted + resolved));
            current = Some(next);
        }
        json!({
            "backend": "mlops-registry ObjectRegistry on a local folder (fsync on)",
            "iterations": iterations,
            "promote_ms": set,
            "resolve_ms": resolve,
            "promote_and_resolve_ms": set_resolve,
            "gated_promote_ms": gated,
            "gated_promote_and_resolve_ms": gated_resolve,
            "summary": {
                "promote_ms": summary(set.clone()),
                "resolve_ms": summary(resolve.clone()),
                "promote_and_resolve_ms": summary(set_resolve.clone()),
                "gated_promote_ms": summary(gated.clone()),
                "gated_promote_and_resolve_ms": summary(gated_resolve.clone()),
            },
        })
    });
    println!("{report}");
}
