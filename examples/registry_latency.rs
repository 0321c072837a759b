//! Promote-and-resolve latency of a registry backend, for
//! `benches/compare/registry_vs_mlflow.py` (which runs MLflow's Python client on the same
//! operations). One operation moves `champion` to the next version with the precondition
//! "it holds what I last saw" (`set_alias`), then resolves it (`resolve_alias`).
//!
//! ```sh
//! # ObjectRegistry on a local folder: one commit-log entry per move.
//! cargo run --release --example registry_latency -- --root /tmp/reg --iterations 200
//! # MlflowRegistry on an MLflow server: read the holder, set the alias, write the audit
//! # entry (three requests), then one request to resolve.
//! cargo run --release --example registry_latency -- --uri http://127.0.0.1:5000
//! ```
//!
//! Prints one JSON line: `{"backend", "iterations", "promote_ms": [...], "resolve_ms": [...],
//! "promote_and_resolve_ms": [...]}`, milliseconds per operation, after `--warmup` untimed
//! ones.

#![allow(clippy::print_stdout)]

use std::time::Instant;

use mlops::core::{RunId, StoreUri};
use mlops::registry::mlflow::MlflowRegistry;
use mlops::registry::{
    AliasChange, AliasName, ArtifactPath, Expect, ModelName, ModelRegistry, NewVersion,
    ObjectRegistry, RegistryExt,
};
use mlops::track::mlflow::MlflowStore;

/// Which registry to measure.
enum Target {
    Folder(String),
    Mlflow(String),
}

struct Args {
    target: Option<Target>,
    iterations: usize,
    warmup: usize,
    versions: usize,
}

const USAGE: &str =
    "usage: registry_latency (--root DIR | --uri URL) [--iterations N] [--warmup N] [--versions N]";

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        target: None,
        iterations: 200,
        warmup: 10,
        versions: 4,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let value = it.next().ok_or_else(|| format!("{flag} needs a value"))?;
        let number = || value.parse::<usize>().map_err(|e| format!("{flag}: {e}"));
        match flag.as_str() {
            "--root" => args.target = Some(Target::Folder(value.clone())),
            "--uri" => args.target = Some(Target::Mlflow(value.clone())),
            "--iterations" => args.iterations = number()?,
            "--warmup" => args.warmup = number()?,
            "--versions" => args.versions = number()?,
            other => return Err(format!("unknown argument {other:?}\n{USAGE}")),
        }
    }
    if args.target.is_none() || args.versions == 0 {
        return Err(USAGE.into());
    }
    Ok(args)
}

fn ms(start: Instant, end: Instant) -> f64 {
    (end - start).as_secs_f64() * 1e3
}

/// The registry to measure, its label, and a model name no earlier run used.
struct Opened {
    registry: Box<dyn ModelRegistry>,
    backend: &'static str,
    name: ModelName,
}

fn open(target: &Target) -> Result<Opened, Box<dyn std::error::Error>> {
    Ok(match target {
        Target::Folder(root) => {
            std::fs::create_dir_all(root)?;
            let registry =
                ObjectRegistry::open_uri(&StoreUri::parse(root)?)?.with_actor("bench")?;
            Opened {
                registry: Box::new(registry),
                backend: "ObjectRegistry (local folder)",
                name: ModelName::parse("bench")?,
            }
        }
        Target::Mlflow(uri) => {
            let registry = MlflowRegistry::builder(MlflowStore::new(uri)?)
                .actor("bench")
                .build()?;
            Opened {
                registry: Box::new(registry),
                backend: "MlflowRegistry (Rust, REST)",
                // The server outlives this process: a fresh name per run.
                name: ModelName::parse(format!("bench-rust-{}", RunId::generate().as_str()))?,
            }
        }
    })
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = parse_args()?;
    let target = args.target.as_ref().ok_or(USAGE)?;
    let Opened {
        registry,
        backend,
        name,
    } = open(target)?;
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
        "backend": backend,
        "iterations": args.iterations,
        "promote_ms": promote,
        "resolve_ms": resolve,
        "promote_and_resolve_ms": total,
    });
    println!("{line}");
    Ok(())
}
