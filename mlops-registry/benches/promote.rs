//! Promote-and-resolve latency of the embedded registry on a local folder (fsync on):
//! a conditional alias move followed by a resolve, a gated `promote` followed by a resolve,
//! and a resolve alone. `benches/compare/registry_vs_mlflow.py` sets these beside MLflow's
//! client against an MLflow server (through the root package's `examples/registry_latency.rs`).
//!
//! `registry_long_log` repeats the conditional move on a model whose log already holds
//! 1,000 and 10,000 entries: every claim lists the log after the writer's cached end (the
//! hole check), and on a local folder that listing reads the whole log folder.

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

/// A registry on a fresh folder whose model log holds `entries` entries: the alias entry is
/// copied (with its sequence number and transaction id changed) to pad the log, then a
/// fresh handle folds it once.
fn long_log_fixture(runtime: &tokio::runtime::Runtime, entries: u64) -> Fixture {
    let f = fixture(runtime);
    runtime.block_on(async {
        f.registry
            .set_alias(&f.name, &f.alias, f.versions[0], &AliasChange::default())
            .await
            .unwrap(); // entry 4
        let log = find_log(f._dir.path());
        let template: serde_json::Value =
            serde_json::from_slice(&std::fs::read(log.join(format!("{:020}.json", 4))).unwrap())
                .unwrap();
        for seq in 5..=entries {
            let mut entry = template.clone();
            entry["seq"] = seq.into();
            entry["txn_id"] = format!("{seq:032x}").into();
            std::fs::write(
                log.join(format!("{seq:020}.json")),
                serde_json::to_vec(&entry).unwrap(),
            )
            .unwrap();
        }
        let registry =
            ObjectRegistry::open_uri(&StoreUri::parse(f._dir.path().to_str().unwrap()).unwrap())
                .unwrap();
        registry.resolve_alias(&f.name, &f.alias).await.unwrap();
        Fixture { registry, ..f }
    })
}

fn find_log(dir: &std::path::Path) -> std::path::PathBuf {
    let models = dir.join("registry").join("models");
    let model = std::fs::read_dir(models).unwrap().next().unwrap().unwrap();
    model.path().join("log")
}

fn long_log(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let mut group = c.benchmark_group("registry_long_log");
    group.sample_size(20);
    for entries in [1_000u64, 10_000] {
        let f = long_log_fixture(&runtime, entries);
        let mut i = 0usize;
        group.bench_function(format!("set_alias_conditional_{entries}_entries"), |b| {
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
                        .unwrap()
                })
            });
        });
    }
    group.finish();
}

criterion_group!(benches, bench, long_log);
criterion_main!(benches);
