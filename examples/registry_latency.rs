//! Promote-and-resolve latency of the registry on a local folder, for
//! `benches/compare/registry_vs_mlflow.py` (which runs MLflow's Python client on the same
//! operations). One operation moves `champion` to the next version with the precondition
//! "it holds what I last saw" (`set_alias`), then resolves it (`resolve_alias`).
//!
//! ```sh
//! cargo run --release --example registry_latency -- --root /tmp/reg --iterations 200
//! ```
//!
//! Prints one JSON line: `{"backend", "iterations", "promote_ms": [...], "resolve_ms": [...],
//! "promote_and_resolve_ms": [...]}`, per operation, after `--warmup` untimed ones.

#![allow(clippy::print_stdout)]

use std::time::Instant;

use mlops::core::StoreUri;
use mlops::registry::{
    AliasChange, AliasName, ArtifactPath, Expect, ModelName, ModelRegistry, NewVersion,
    ObjectRegistry,
};

struct Args {
    root: String,
    iterations: usize,
    warmup: usize,
    versions: usize,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        root: String::new(),
        iterations: 200,
        warmup: 10,
        versions: 4,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let value = it.next().ok_or_else(|| format!("{flag} needs a value"))?;
        let number = || value.parse::<usize>().map_err(|e| format!("{flag}: {e}"));
        match flag.as_str() {
            "--root" => args.root = value.clone(),
            "--iterations" => args.iterations = number()?,
            "--warmup" => args.warmup = number()?,
            "--versions" => args.versions = number()?,
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    if args.root.is_empty() || args.versions == 0 {
        return Err(
            "usage: registry_latency --root DIR [--iterations N] [--warmup N] [--versions N]"
                .into(),
        );
    }
    Ok(args)
}

fn ms(start: Instant, end: Instant) -> f64 {
    (end - start).as_secs_f64() * 1e3
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = parse_args()?;
    std::fs::create_dir_all(&args.root)?;
    let registry = ObjectRegistry::open_uri(&StoreUri::parse(&args.root)?)?.with_actor("bench")?;
    let name = ModelName::parse("bench")?;
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
        let t0 = Instant::now();
        registry
            .set_alias(
                &name,
                &champion,
                target,
                &AliasChange::expecting(Expect::exactly(holder)),
            )
            .await?;
        let t1 = Instant::now();
        let resolved = registry.resolve_alias(&name, &champion).await?.version;
        let t2 = Instant::now();
        if resolved != target {
            return Err(format!("resolved {resolved}, expected {target}").into());
        }
        holder = Some(target);
        if i >= args.warmup {
            promote.push(ms(t0, t1));
            resolve.push(ms(t1, t2));
            total.push(ms(t0, t2));
        }
    }
    let out = serde_json::json!({
        "backend": "ObjectRegistry (local folder)",
        "iterations": args.iterations,
        "promote_ms": promote,
        "resolve_ms": resolve,
        "promote_and_resolve_ms": total,
    });
    println!("{out}");
    Ok(())
}
