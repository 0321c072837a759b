//! Every object a registry parses is read with a size limit (issue 17, finding 2): a log
//! entry replaced by a 1 GiB file fails that model's reads naming the slot and the limit
//! (other models keep working), an oversized snapshot is skipped, and a blob longer than the
//! size its version recorded is refused before it is held.

use std::path::{Path, PathBuf};

use mlops_core::{ArtifactPath, ModelName};
use mlops_registry::{ModelQuery, ModelRegistry, NewVersion, RegistryError};

use crate::util::folder_registry;

const GIB: u64 = 1 << 30;

fn files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files(&path, out);
        } else {
            out.push(path);
        }
    }
}

/// The files under `dir` whose path holds `part`, sorted.
fn find(dir: &Path, part: &str) -> Vec<PathBuf> {
    let mut all = Vec::new();
    files(dir, &mut all);
    let mut found: Vec<PathBuf> = all
        .into_iter()
        .filter(|p| p.to_str().unwrap().contains(part))
        .collect();
    found.sort();
    found
}

fn make_huge(path: &Path) {
    std::fs::File::create(path).unwrap().set_len(GIB).unwrap();
}

fn reopen(dir: &Path) -> mlops_registry::ObjectRegistry {
    let uri = mlops_core::StoreUri::parse(dir.to_str().unwrap()).unwrap();
    mlops_registry::ObjectRegistry::open_uri(&uri).unwrap()
}

#[tokio::test]
async fn a_huge_log_entry_fails_its_model_by_name() {
    let (registry, dir) = folder_registry();
    let big = ModelName::parse("big").unwrap();
    let small = ModelName::parse("small").unwrap();
    registry.create_model(&big, None, &[]).await.unwrap();
    for _ in 0..3 {
        registry
            .create_version(&big, NewVersion::new())
            .await
            .unwrap();
    }
    registry.create_model(&small, None, &[]).await.unwrap();

    // The big model's log is the only one with a slot 4.
    let four = find(dir.path(), "00000000000000000004.json");
    let four: Vec<&PathBuf> = four
        .iter()
        .filter(|p| p.components().any(|c| c.as_os_str() == "models"))
        .collect();
    assert_eq!(four.len(), 1, "{four:?}");
    let entry = four[0].with_file_name("00000000000000000002.json");
    make_huge(&entry);

    let fresh = reopen(dir.path());
    let err = fresh.get_model(&big).await.unwrap_err();
    match &err {
        RegistryError::TooLarge {
            path, size, limit, ..
        } => {
            assert!(path.ends_with("00000000000000000002.json"), "{err}");
            assert_eq!((*size, *limit), (GIB, 32 << 20));
        }
        other => panic!("expected TooLarge, got {other}"),
    }
    assert!(err.to_string().contains("33554432-byte limit"), "{err}");
    assert_eq!(fresh.get_model(&small).await.unwrap().name, small);
    let models = fresh.search_models(&ModelQuery::default()).await.unwrap();
    let damaged: Vec<(&str, bool)> = models
        .items
        .iter()
        .map(|m| (m.name.as_str(), m.damaged.is_some()))
        .collect();
    assert_eq!(damaged, [("big", true), ("small", false)]);
}

#[tokio::test]
async fn a_blob_longer_than_recorded_is_refused_unread() {
    let (registry, dir) = folder_registry();
    let name = ModelName::parse("blobby").unwrap();
    let path = ArtifactPath::parse("model.json").unwrap();
    registry.create_model(&name, None, &[]).await.unwrap();
    let version = registry
        .create_version(
            &name,
            NewVersion::new().with_artifact(path.clone(), &b"{\"w\": [1, 2]}"[..]),
        )
        .await
        .unwrap()
        .version;
    let blobs = find(dir.path(), "/blobs/");
    assert_eq!(blobs.len(), 1, "{blobs:?}");
    make_huge(&blobs[0]);
    let err = reopen(dir.path())
        .download_artifact(&name, version, &path)
        .await
        .unwrap_err();
    assert!(
        matches!(
            &err,
            RegistryError::TooLarge {
                size: GIB,
                limit: 13,
                ..
            }
        ),
        "{err}"
    );
}
