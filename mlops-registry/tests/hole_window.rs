//! The write window a relisting interval leaves (issue 17, finding 5's remainder), on any
//! store: a hole of two entries appears right after a long-lived handle listed its model's
//! log, and the handle writes at once. Its catch-up finds slot 6 absent and the probe finds
//! slot 7 absent too, and no listing is due; before every claim was checked against a
//! listing, the write took slot 6 and spliced "v1 → champion" below "v2 → v3", hiding the
//! damage from every later reader. It must be refused, naming slot 6, with the surviving
//! history untouched. Run on a local folder and in memory (`log_hole.rs`) and on moto and
//! Azurite (`cloud.rs`).

use futures::TryStreamExt;
use mlops_core::{AliasName, ModelName, ModelVersion, StoreRoot};
use mlops_registry::{
    AliasChange, Expect, ModelRegistry, NewVersion, ObjectRegistry, RegistryError, RegistryExt,
};
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt};

fn slot(seq: u64) -> String {
    format!("{seq:020}.json")
}

/// The log folder of the only model whose log has a slot 7.
async fn damaged_log(store: &dyn ObjectStore, root: &StoreRoot) -> Path {
    let keys: Vec<Path> = store
        .list(Some(root.prefix()))
        .map_ok(|m| m.location)
        .try_collect()
        .await
        .unwrap();
    let seven: Vec<&Path> = keys
        .iter()
        .filter(|k| k.filename() == Some(slot(7).as_str()) && k.as_ref().contains("/models/"))
        .collect();
    assert_eq!(seven.len(), 1, "{keys:?}");
    Path::from_iter(seven[0].parts().take(seven[0].parts().count() - 1))
}

async fn listed_slots(store: &dyn ObjectStore, log: &Path) -> Vec<String> {
    let mut names: Vec<String> = store
        .list(Some(log))
        .map_ok(|m| m.location.filename().unwrap_or_default().to_owned())
        .try_collect()
        .await
        .unwrap();
    names.sort();
    names
}

fn assert_names_slot_6(err: &RegistryError) {
    match err {
        RegistryError::Corrupt { path, .. } => assert!(path.ends_with(&slot(6)), "{err}"),
        other => panic!("expected a hole at slot 6, got {other}"),
    }
}

/// The attack and its checks (module docs).
pub(crate) async fn a_hole_right_after_a_listing_is_not_filled(root: StoreRoot) {
    let store = std::sync::Arc::clone(root.store());
    let writer = ObjectRegistry::new(root.clone())
        .with_actor("writer")
        .unwrap();
    let any = AliasChange::expecting(Expect::Any);
    let name = ModelName::parse("window").unwrap();
    let champion = AliasName::parse("champion").unwrap();
    writer.create_model(&name, None, &[]).await.unwrap(); // entry 1
    for _ in 0..3 {
        writer
            .create_version(&name, NewVersion::new())
            .await
            .unwrap(); // entries 2-4
    }
    let v1 = ModelVersion::new(1).unwrap();
    writer.set_alias(&name, &champion, v1, &any).await.unwrap(); // entry 5
    // The stale handle (another process): its first read lists the log, folds it to 5.
    let stale = ObjectRegistry::new(root.clone())
        .with_actor("stale")
        .unwrap();
    assert_eq!(
        stale.resolve_alias(&name, &champion).await.unwrap().version,
        v1
    );
    for v in [2, 3, 2] {
        let version = ModelVersion::new(v).unwrap();
        writer
            .set_alias(&name, &champion, version, &any)
            .await
            .unwrap(); // 6, 7, 8
    }
    let log = damaged_log(&*store, &root).await;
    let key_8 = log.clone().join(slot(8).as_str());
    let slot_8 = store.get(&key_8).await.unwrap().bytes().await.unwrap();
    store
        .delete(&log.clone().join(slot(6).as_str()))
        .await
        .unwrap();
    store
        .delete(&log.clone().join(slot(7).as_str()))
        .await
        .unwrap();

    // At once: well inside the two seconds after the stale handle's listing.
    assert_names_slot_6(
        &stale
            .set_alias(&name, &champion, v1, &any)
            .await
            .unwrap_err(),
    );
    assert_names_slot_6(
        &stale
            .create_version(&name, NewVersion::new())
            .await
            .unwrap_err(),
    );
    // History intact: entries 1-5 and 8, nothing added, slot 8 unchanged; and the damage
    // stays visible to every reader.
    let expected: Vec<String> = [1, 2, 3, 4, 5, 8].into_iter().map(slot).collect();
    assert_eq!(listed_slots(&*store, &log).await, expected);
    assert_eq!(
        store.get(&key_8).await.unwrap().bytes().await.unwrap(),
        slot_8
    );
    assert_names_slot_6(&stale.read_log(&name).await.unwrap_err());
    let fresh = ObjectRegistry::new(root);
    assert_names_slot_6(&fresh.resolve_alias(&name, &champion).await.unwrap_err());
}
