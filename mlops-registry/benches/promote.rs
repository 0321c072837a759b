//! Promote-and-resolve latency of the embedded registry on a local folder (fsync on):
//! a conditional alias move followed by a resolve, a gated `promote` followed by a resolve,
//! and a resolve alone. `benches/compare/registry_vs_mlflow.py` sets these beside MLflow's
//! client against an MLflow server (through the root package's `examples/registry_latency.rs`).

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use criterion::{Criterion, criterion_group, criterion_main};
use mlops_core::{AliasName, ArtifactPath, ModelName, ModelVersion, StoreUri};
use mlops_registry::{
    AliasChange, Expect, ModelRegistry, NewVersion, ObjectRegistry, RegistryExt, promote,
};

struct Fixture {
    registry: ObjectRegistry,
    name: ModelName,
    alias: AliasName,
    versions: [ModelVersion; 2],
    _dir: tempfile::TempDir,
}

fn fixture(runtime: &tokio::runtime::Runtime) -> Fixture {
    runtime.block_on(async {
        let dir = tempfile::tempdir().unwrap();
        let registry =
            ObjectRegistry::open_uri(&StoreUri::parse(dir.path().to_str().unwrap()).unwrap())
                .unwrap();
        let name = ModelName::parse("bench").unwrap();
        registry.create_model(&name, None, &[]).await.unwrap();
        let mut versions = Vec::new();
        for i in 0..2u8 {
            let files = NewVersion::new()
                .with_artifact(ArtifactPath::parse("model.bin").unwrap(), vec![i; 1024]);
            versions.push(registry.create_version(&name, files).await.unwrap().version);
        }
        Fixture {
            registry,
            name,
            alias: AliasName::parse("champion").unwrap(),
            versions: [versions[0], versions[1]],
            _dir: dir,
        }
    })
}

fn bench(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let f = fixture(&runtime);
    let mut group = c.benchmark_group("registry_local_folder");
    group.sample_size(50);
    let mut i = 0usize;
    group.bench_function("set_alias_conditional_then_resolve", |b| {
        b.iter(|| {
            runtime.block_on(async {
                let current = f
                    .registry
                    .list_aliases(&f.name)
                    .await
                    .unwrap()
                    .get(&f.alias)
                    .copied();
                let target = f.versions[i % 2];
                i += 1;
                f.registry
                    .set_alias(
                        &f.name,
                        &f.alias,
                        target,
                        &AliasChange::expecting(Expect::exactly(current)),
                    )
                    .await
                    .unwrap();
                f.registry.resolve_alias(&f.name, &f.alias).await.unwrap()
            })
        });
    });
    group.bench_function("promote_then_resolve", |b| {
        b.iter(|| {
            runtime.block_on(async {
                let target = f.versions[i % 2];
                i += 1;
                let p = promote(&f.registry, &f.name, target, &f.alias, Expect::Any, &[])
                    .await
                    .unwrap();
                assert!(p.promoted());
                f.registry.resolve_alias(&f.name, &f.alias).await.unwrap()
            })
        });
    });
    group.bench_function("resolve", |b| {
        b.iter(|| {
            runtime.block_on(async { f.registry.resolve_alias(&f.name, &f.alias).await.unwrap() })
        });
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
