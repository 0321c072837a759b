//! A hole in a model's commit log (issue 17, finding 5): entries 5, 6 and 7 move `champion`
//! to v1, v2, v3; entry 6 is removed. Reads of that model must fail naming the slot rather
//! than answer v1, writes must not take slot 6, and other models keep working.

use std::path::{Path, PathBuf};

use mlops_core::{AliasName, ModelName, ModelVersion};
use mlops_registry::{
    AliasChange, Expect, ModelQuery, ModelRegistry, NewVersion, RegistryError, RegistryExt,
    VersionQuery,
};

use crate::util::folder_registry;

const SLOT_6: &str = "00000000000000000006.json";

/// The log folder of the only model whose log has a slot 7 (the damaged one).
fn log_with_slot_7(dir: &Path) -> PathBuf {
    let mut found = Vec::new();
    walk(dir, &mut found);
    let seven: Vec<&PathBuf> = found
        .iter()
        .filter(|p| {
            p.file_name().and_then(|n| n.to_str()) == Some("00000000000000000007.json")
                && p.components().any(|c| c.as_os_str() == "models")
        })
        .collect();
    assert_eq!(seven.len(), 1, "{found:?}");
    seven[0].parent().unwrap().to_path_buf()
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            walk(&path, out);
        } else {
            out.push(path);
        }
    }
}

fn any() -> AliasChange {
    AliasChange::expecting(Expect::Any)
}

fn assert_names_slot_6(err: &RegistryError) {
    match err {
        RegistryError::Corrupt { path, .. } => assert!(path.ends_with(SLOT_6), "{err}"),
        other => panic!("expected a hole at slot 6, got {other}"),
    }
}

#[tokio::test]
async fn a_hole_in_a_model_log_is_reported_and_never_filled() {
    let (writer, dir) = folder_registry();
    let name = ModelName::parse("gap").unwrap();
    let other = ModelName::parse("healthy").unwrap();
    let champion = AliasName::parse("champion").unwrap();
    writer.create_model(&name, None, &[]).await.unwrap(); // entry 1
    for _ in 0..3 {
        writer
            .create_version(&name, NewVersion::new())
            .await
            .unwrap(); // entries 2-4
    }
    for v in 1..=3 {
        let version = ModelVersion::new(v).unwrap();
        writer
            .set_alias(&name, &champion, version, &any()) // entries 5-7
            .await
            .unwrap();
    }
    writer.create_model(&other, None, &[]).await.unwrap();
    writer
        .create_version(&other, NewVersion::new())
        .await
        .unwrap();
    // A long-lived handle that has read the whole log before the damage.
    let poller = writer;
    assert_eq!(
        poller
            .resolve_alias(&name, &champion)
            .await
            .unwrap()
            .version,
        ModelVersion::new(3).unwrap()
    );

    let log = log_with_slot_7(dir.path());
    std::fs::remove_file(log.join(SLOT_6)).unwrap();

    // A fresh handle (a new `mlops models show --version champion`).
    let fresh = reopen(dir.path());
    let err = fresh.resolve_alias(&name, &champion).await.unwrap_err();
    assert_names_slot_6(&err);
    assert_names_slot_6(&fresh.get_model(&name).await.unwrap_err());
    assert_names_slot_6(&fresh.read_log(&name).await.unwrap_err());
    assert_names_slot_6(&poller.read_log(&name).await.unwrap_err());
    // The next write must not take slot 6 (that would splice "- → v1" after "v1 → v2").
    let err = fresh
        .set_alias(&name, &champion, ModelVersion::new(1).unwrap(), &any())
        .await
        .unwrap_err();
    assert_names_slot_6(&err);
    assert!(!log.join(SLOT_6).exists(), "a write filled the hole");

    // Other models keep working; a listing reports the damaged model instead of failing.
    assert_eq!(fresh.get_model(&other).await.unwrap().name, other);
    let models = fresh.search_models(&ModelQuery::default()).await.unwrap();
    assert_eq!(models.items.len(), 2);
    let gap = models.items.iter().find(|m| m.name == name).unwrap();
    assert!(gap.damaged.as_deref().unwrap().contains(SLOT_6), "{gap:?}");
    assert!(
        models
            .items
            .iter()
            .any(|m| m.name == other && m.damaged.is_none())
    );
    let versions = fresh
        .search_versions(&VersionQuery::default())
        .await
        .unwrap();
    assert_eq!(versions.items.len(), 1, "the healthy model's version");

    // A handle that had already folded past the hole keeps its state (a true prefix).
    assert_eq!(
        poller
            .resolve_alias(&name, &champion)
            .await
            .unwrap()
            .version,
        ModelVersion::new(3).unwrap()
    );
}

/// A hole that appears above a long-lived handle's cached position is found by the probe
/// one slot further, so the handle neither stalls silently nor fills the hole.
#[tokio::test]
async fn a_hole_above_a_cached_position_is_found() {
    let (poller, dir) = folder_registry();
    let name = ModelName::parse("later").unwrap();
    let champion = AliasName::parse("champion").unwrap();
    poller.create_model(&name, None, &[]).await.unwrap();
    for _ in 0..3 {
        poller
            .create_version(&name, NewVersion::new())
            .await
            .unwrap();
    }
    let v1 = ModelVersion::new(1).unwrap();
    poller
        .set_alias(&name, &champion, v1, &any())
        .await
        .unwrap(); // entry 5
    assert_eq!(
        poller
            .resolve_alias(&name, &champion)
            .await
            .unwrap()
            .version,
        v1
    );

    let writer = reopen(dir.path());
    for v in 2..=3 {
        let version = ModelVersion::new(v).unwrap();
        writer
            .set_alias(&name, &champion, version, &any())
            .await
            .unwrap(); // 6, 7
    }
    std::fs::remove_file(log_with_slot_7(dir.path()).join(SLOT_6)).unwrap();

    assert_names_slot_6(&poller.resolve_alias(&name, &champion).await.unwrap_err());
    let err = poller
        .set_alias(&name, &champion, v1, &any())
        .await
        .unwrap_err();
    assert_names_slot_6(&err);
}

/// One corrupt entry in one model fails that model's reads, not the listing of every model.
#[tokio::test]
async fn a_corrupt_entry_fails_one_model_not_the_listing() {
    let (registry, dir) = folder_registry();
    let bad = ModelName::parse("bad").unwrap();
    let good = ModelName::parse("good").unwrap();
    registry.create_model(&bad, None, &[]).await.unwrap();
    for _ in 0..6 {
        registry
            .create_version(&bad, NewVersion::new())
            .await
            .unwrap();
    }
    registry.create_model(&good, None, &[]).await.unwrap();
    std::fs::write(log_with_slot_7(dir.path()).join(SLOT_6), b"{not json").unwrap();

    let fresh = reopen(dir.path());
    assert_names_slot_6(&fresh.get_model(&bad).await.unwrap_err());
    let models = fresh.search_models(&ModelQuery::default()).await.unwrap();
    let names: Vec<(&str, bool)> = models
        .items
        .iter()
        .map(|m| (m.name.as_str(), m.damaged.is_some()))
        .collect();
    assert_eq!(names, [("bad", true), ("good", false)]);
}

fn reopen(dir: &Path) -> mlops_registry::ObjectRegistry {
    let uri = mlops_core::StoreUri::parse(dir.to_str().unwrap()).unwrap();
    mlops_registry::ObjectRegistry::open_uri(&uri)
        .unwrap()
        .with_actor("tests")
        .unwrap()
}

/// A hole of two entries above a long-lived handle's cached position (slots 6 and 7 lost,
/// 8 present): the probe one slot past the end finds 7 absent too, so the handle lists the
/// log again (at most every two seconds) and reports the hole instead of stopping before it.
#[tokio::test]
async fn a_wide_hole_above_a_cached_position_is_found() {
    let (poller, dir) = folder_registry();
    let name = ModelName::parse("wide").unwrap();
    let champion = AliasName::parse("champion").unwrap();
    poller.create_model(&name, None, &[]).await.unwrap();
    for _ in 0..3 {
        poller
            .create_version(&name, NewVersion::new())
            .await
            .unwrap();
    }
    let v1 = ModelVersion::new(1).unwrap();
    poller
        .set_alias(&name, &champion, v1, &any())
        .await
        .unwrap(); // entry 5
    let writer = reopen(dir.path());
    for v in [2, 3, 1] {
        let version = ModelVersion::new(v).unwrap();
        writer
            .set_alias(&name, &champion, version, &any())
            .await
            .unwrap(); // 6, 7, 8
    }
    let log = log_with_slot_7(dir.path());
    std::fs::remove_file(log.join(SLOT_6)).unwrap();
    std::fs::remove_file(log.join("00000000000000000007.json")).unwrap();

    // Past the relisting interval the long-lived handle lists again.
    tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
    assert_names_slot_6(&poller.resolve_alias(&name, &champion).await.unwrap_err());
    let err = poller
        .set_alias(&name, &champion, v1, &any())
        .await
        .unwrap_err();
    assert_names_slot_6(&err);
    assert!(!log.join(SLOT_6).exists(), "a write filled the hole");
}

/// A store written before digits alone were refused as aliases (`5`) stays readable: the
/// model, its versions and the alias read back (with a warning), nothing fails.
#[tokio::test]
async fn a_stored_digit_only_alias_stays_readable() {
    let (registry, dir) = folder_registry();
    let name = ModelName::parse("legacy").unwrap();
    let champion = AliasName::parse("champion").unwrap();
    registry.create_model(&name, None, &[]).await.unwrap();
    for _ in 0..2 {
        registry
            .create_version(&name, NewVersion::new())
            .await
            .unwrap();
    }
    let v1 = ModelVersion::new(1).unwrap();
    registry
        .set_alias(&name, &champion, v1, &any())
        .await
        .unwrap();
    // Rewrite the alias as an older release would have stored `5`.
    let mut entries = Vec::new();
    walk(dir.path(), &mut entries);
    let mut rewritten = 0;
    for path in entries {
        let text = std::fs::read_to_string(&path).unwrap();
        if text.contains("\"champion\"") {
            std::fs::write(&path, text.replace("\"champion\"", "\"5\"")).unwrap();
            rewritten += 1;
        }
    }
    assert!(rewritten >= 1);

    let fresh = reopen(dir.path());
    let model = fresh.get_model(&name).await.unwrap();
    let aliases: Vec<String> = model.aliases.keys().map(ToString::to_string).collect();
    assert_eq!(aliases, ["5"], "{model:?}");
    let version = fresh.get_version(&name, v1).await.unwrap();
    assert!(version.aliases.iter().any(|a| a.is_digits()), "{version:?}");
    fresh.read_log(&name).await.unwrap();
}

/// A hole made right after a listing, then a write at once (see `hole_window.rs`), on a
/// local folder and in memory.
#[tokio::test]
async fn a_hole_right_after_a_listing_is_not_filled_by_a_stale_write() {
    let dir = tempfile::tempdir().unwrap();
    let folder = mlops_core::StoreUri::parse(dir.path().to_str().unwrap())
        .unwrap()
        .open()
        .unwrap();
    crate::hole_window::a_hole_right_after_a_listing_is_not_filled(folder).await;
    let memory = mlops_core::StoreRoot::from_parts(
        std::sync::Arc::new(object_store::memory::InMemory::new()),
        None,
    );
    crate::hole_window::a_hole_right_after_a_listing_is_not_filled(memory).await;
}

/// The entries a long-lived handle folded last are lost (entries 7 and 8 removed, nothing
/// above them): its write would build on a state no reader can rebuild, so it is refused,
/// naming the slot; the handle then starts over from what the store holds, as a fresh one.
#[tokio::test]
async fn a_write_on_a_vanished_base_is_refused() {
    let (writer, dir) = folder_registry();
    let name = ModelName::parse("truncated").unwrap();
    let champion = AliasName::parse("champion").unwrap();
    writer.create_model(&name, None, &[]).await.unwrap();
    for _ in 0..3 {
        writer
            .create_version(&name, NewVersion::new())
            .await
            .unwrap();
    }
    for v in [1, 2, 3, 1] {
        let version = ModelVersion::new(v).unwrap();
        writer
            .set_alias(&name, &champion, version, &any())
            .await
            .unwrap(); // 5, 6, 7, 8
    }
    let log = log_with_slot_7(dir.path());
    std::fs::remove_file(log.join("00000000000000000008.json")).unwrap();
    std::fs::remove_file(log.join("00000000000000000007.json")).unwrap();

    let err = writer
        .set_alias(&name, &champion, ModelVersion::new(2).unwrap(), &any())
        .await
        .unwrap_err();
    match &err {
        RegistryError::Corrupt { path, .. } => {
            assert!(path.ends_with("00000000000000000008.json"), "{err}");
        }
        other => panic!("expected slot 8 named, got {other}"),
    }
    assert!(!log.join("00000000000000000009.json").exists());
    assert!(!log.join("00000000000000000007.json").exists());
    // Started over: the handle now reads what a fresh one reads (champion at v2, entry 6).
    let v2 = ModelVersion::new(2).unwrap();
    assert_eq!(
        writer
            .resolve_alias(&name, &champion)
            .await
            .unwrap()
            .version,
        v2
    );
    assert_eq!(
        reopen(dir.path())
            .resolve_alias(&name, &champion)
            .await
            .unwrap()
            .version,
        v2
    );
}

/// The last entry of a log is lost but the snapshot its writer stored after committing it
/// remains (entry 64 of 64): a fresh handle reads the state from the snapshot, and its write
/// is refused naming slot 64 instead of taking slot 65 (which would leave a hole at 64 that
/// fails every later read).
#[tokio::test]
async fn a_lost_end_entry_behind_a_snapshot_refuses_writes() {
    use object_store::{ObjectStore, ObjectStoreExt};
    let store = std::sync::Arc::new(object_store::memory::InMemory::new());
    let root = mlops_core::StoreRoot::from_parts(store.clone(), None);
    let writer = mlops_registry::ObjectRegistry::new(root.clone());
    let name = ModelName::parse("snapshotted").unwrap();
    let champion = AliasName::parse("champion").unwrap();
    writer.create_model(&name, None, &[]).await.unwrap();
    for _ in 0..2 {
        writer
            .create_version(&name, NewVersion::new())
            .await
            .unwrap();
    }
    for i in 0..61u64 {
        let version = ModelVersion::new(1 + i % 2).unwrap();
        writer
            .set_alias(&name, &champion, version, &any())
            .await
            .unwrap(); // entries 4-64; 64 is the last, and a snapshot is written at 64
    }
    let keys: Vec<object_store::path::Path> =
        futures::TryStreamExt::try_collect(futures::TryStreamExt::map_ok(store.list(None), |m| {
            m.location
        }))
        .await
        .unwrap();
    let entry_64 = keys
        .iter()
        .find(|k| {
            k.as_ref().contains("/models/")
                && k.as_ref().contains("/log/")
                && k.filename() == Some("00000000000000000064.json")
        })
        .unwrap();
    assert!(
        keys.iter()
            .any(|k| k.as_ref().contains("/models/") && k.as_ref().contains("/snapshots/")),
        "a snapshot at 64: {keys:?}"
    );
    store.delete(entry_64).await.unwrap();

    let fresh = mlops_registry::ObjectRegistry::new(root);
    // Entry 64 moved champion to v1 (61 moves, v1 first); the snapshot still says so.
    assert_eq!(
        fresh.resolve_alias(&name, &champion).await.unwrap().version,
        ModelVersion::new(1).unwrap()
    );
    let err = fresh
        .set_alias(&name, &champion, ModelVersion::new(2).unwrap(), &any())
        .await
        .unwrap_err();
    match &err {
        RegistryError::Corrupt { path, .. } => {
            assert!(path.ends_with("00000000000000000064.json"), "{err}");
        }
        other => panic!("expected slot 64 named, got {other}"),
    }
    let after: Vec<object_store::path::Path> =
        futures::TryStreamExt::try_collect(futures::TryStreamExt::map_ok(store.list(None), |m| {
            m.location
        }))
        .await
        .unwrap();
    assert!(
        !after
            .iter()
            .any(|k| k.filename() == Some("00000000000000000065.json")),
        "a write took slot 65"
    );
}
