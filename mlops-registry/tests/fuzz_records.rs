//! Fuzzing the registry's record readers (issue 17): in a folder registry with two models,
//! versions, aliases and their history, one stored object at a time is replaced by a
//! mutation of itself (or random bytes), and a freshly opened registry reads every model
//! through the public API: no panic, an error or a value, and nothing read back larger than
//! what is stored. `scripts/fuzz.sh` runs it for millions of cases (`PROPTEST_CASES`).

use std::path::{Path, PathBuf};

use mlops_core::testing::{FuzzRng, mutate, run_fuzz_with};
use mlops_core::{AliasName, ArtifactPath, ModelName, StoreUri};
use mlops_registry::{
    AliasChange, ModelQuery, ModelRegistry, NewVersion, ObjectRegistry, RegistryExt, VersionQuery,
};

const DICT: &[&[u8]] = &[
    b"\"version\"",
    b"\"alias\"",
    b"\"name\"",
    b"\"model\"",
    b"\"sha256\"",
    b"\"size\"",
    b"null",
    b"-1",
    b"0",
    b"18446744073709551615",
    b"4294967296",
    b"\"champion\"",
    b"{}",
    b"[]",
    b"\n",
];

fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else {
                out.push(path);
            }
        }
    }
    out.sort();
    out
}

fn open(dir: &Path) -> Option<ObjectRegistry> {
    ObjectRegistry::open_uri(&StoreUri::parse(dir.to_str().unwrap()).unwrap()).ok()
}

#[test]
fn version_records() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let names = [
        ModelName::parse("a").unwrap(),
        ModelName::parse("b").unwrap(),
    ];
    let champion = AliasName::parse("champion").unwrap();
    rt.block_on(async {
        let registry = open(dir.path()).unwrap().with_actor("fuzz").unwrap();
        for (i, name) in names.iter().enumerate() {
            registry.create_model(name, None, &[]).await.unwrap();
            for v in 0..=i {
                let info = registry
                    .create_version(
                        name,
                        NewVersion::new().with_artifact(
                            ArtifactPath::parse("model.bin").unwrap(),
                            format!("weights {v}").into_bytes(),
                        ),
                    )
                    .await
                    .unwrap();
                registry
                    .set_alias(name, &champion, info.version, &AliasChange::default())
                    .await
                    .unwrap();
            }
        }
    });
    let files: Vec<(PathBuf, Vec<u8>)> = files_under(dir.path())
        .into_iter()
        .map(|path| {
            let bytes = std::fs::read(&path).unwrap();
            (path, bytes)
        })
        .collect();
    assert!(files.len() >= 6, "{files:?}");
    let stored: usize = files.iter().map(|(_, b)| b.len()).sum();

    // An input is the index of the object to replace, then its new bytes.
    run_fuzz_with(
        "registry records",
        |rng: &mut FuzzRng| {
            let index = rng.below(files.len());
            let bytes = if rng.one_in(4) {
                let n = rng.below(512);
                rng.bytes(n)
            } else {
                mutate(&files[index].1, DICT, rng)
            };
            [&[index as u8][..], &bytes].concat()
        },
        |input| {
            let Some((index, bytes)) = input.split_first() else {
                return;
            };
            let (path, original) = &files[usize::from(*index) % files.len()];
            std::fs::write(path, bytes).unwrap();
            let budget = 8 * (stored + bytes.len()) + 4096;
            let small = |what: &str, debug: String| {
                assert!(debug.len() <= budget, "{what}: {} bytes", debug.len());
            };
            if let Some(registry) = open(dir.path()) {
                rt.block_on(async {
                    if let Ok(page) = registry.search_models(&ModelQuery::default()).await {
                        small("models", format!("{page:?}"));
                    }
                    if let Ok(page) = registry.search_versions(&VersionQuery::default()).await {
                        small("versions", format!("{page:?}"));
                    }
                    for name in &names {
                        if let Ok(model) = registry.get_model(name).await {
                            small("model", format!("{model:?}"));
                        }
                        if let Ok(info) = registry.resolve_alias(name, &champion).await {
                            small("alias", format!("{info:?}"));
                            let _ = registry
                                .download_artifact(
                                    name,
                                    info.version,
                                    &ArtifactPath::parse("model.bin").unwrap(),
                                )
                                .await;
                        }
                        if let Ok(aliases) = registry.list_aliases(name).await {
                            small("aliases", format!("{aliases:?}"));
                        }
                        if let Ok(history) = registry.alias_history(name, &champion).await {
                            small("history", format!("{history:?}"));
                        }
                        if let Ok(log) = registry.audit_log(name).await {
                            small("audit", format!("{log:?}"));
                        }
                    }
                });
            }
            std::fs::write(path, original).unwrap();
        },
    );
}
