//! Promote-and-resolve latency of mlops-registry's MLflow backend against an MLflow server,
//! for `benches/compare/registry_vs_mlflow.py`, which runs MLflow's own Python client on the
//! same operations against the same server.
//!
//! One operation moves `champion` to the next version with the precondition "it holds what
//! I last saw" (`set_alias`: read the holder, set the alias, write the audit entry: three
//! requests), then resolves it (`resolve_alias`: one request).
//!
//! ```sh
//! cargo run --release --example mlflow_registry_latency -- --uri http://127.0.0.1:5000 --iterations 200
//! ```
//!
//! Prints one JSON line: `{"backend", "iterations", "promote_ms": [...], "resolve_ms": [...],
//! "promote_and_resolve_ms": [...]}` (milliseconds per operation, after `--warmup`
//! operations that are not counted).

#![allow(clippy::print_stdout)]

use std::time::Instant;

use mlops::registry::mlflow::MlflowRegistry;
use mlops::registry::{
    AliasChange, AliasName, ArtifactPath, Expect, ModelName, ModelRegistry, NewVersion,
};

struct Args {
    uri: String,
    iterations: usize,
    warmup: usize,
    versions: usize,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        uri: String::new(),
        iterations: 200,
        warmup: 10,
        versions: 4,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let value = it.next().ok_or_else(|| format!("{flag} needs a value"))?;
        let number = || value.parse::<usize>().map_err(|e| format!("{flag}: {e}"));
        match flag.as_str() {
            "--uri" => args.uri = value.clone(),
            "--iterations" => args.iterations = number()?,
            "--warmup" => args.warmup = number()?,
            "--versions" => args.versions = number()?.max(1),
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    if args.uri.is_empty() {
        return Err(
            "usage: mlflow_registry_latency --uri URL [--iterations N] [--warmup N] [--versions N]"
                .into(),
        );
    }
    Ok(args)
}

fn ms(from: Instant, to: Instant) -> f64 {
    (to - from).as_secs_f64() * 1e3
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = parse_args()?;
    let registry = MlflowRegistry::builder(mlops::track::mlflow::MlflowStore::new(&args.uri)?)
        .actor("bench")
        .build()?;
    let name = ModelName::parse(format!(
        "bench-rust-{}",
        mlops::core::RunId::generate().as_str()
    ))?;
    registry.create_model(&name, None, &[]).await?;
    let mut versions = Vec::with_capacity(args.versions);
    for i in 0..args.versions {
        let files = NewVersion::new().with_artifact(
            ArtifactPath::parse("model.bin")?,
            format!("weights {i}").into_bytes(),
        );
        versions.push(registry.create_version(&name, files).await?.version);
    }
    let champion = AliasName::parse("champion")?;
    let (mut promote, mut resolve, mut total) = (Vec::new(), Vec::new(), Vec::new());
    let mut holder = None;
    for i in 0..args.warmup + args.iterations {
        let target = versions[i % versions.len()];
        let change = AliasChange::expecting(Expect::exactly(holder));
        let t0 = Instant::now();
        registry
            .set_alias(&name, &champion, target, &change)
            .await?;
        let t1 = Instant::now();
        let resolved = registry.resolve_alias(&name, &champion).await?.version;
        let t2 = Instant::now();
        if resolved != target {
            return Err(format!("resolved version {resolved}, expected {target}").into());
        }
        holder = Some(target);
        if i >= args.warmup {
            promote.push(ms(t0, t1));
            resolve.push(ms(t1, t2));
            total.push(ms(t0, t2));
        }
    }
    let line = serde_json::json!({
        "backend": "MlflowRegistry (Rust, REST)",
        "iterations": args.iterations,
        "promote_ms": promote,
        "resolve_ms": resolve,
        "promote_and_resolve_ms": total,
    });
    println!("{line}");
    Ok(())
}
