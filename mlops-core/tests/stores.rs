//! Round trips and a conditional-create race through [`StoreUri`] roots on every backend:
//! a local folder, memory, S3 (moto) and Azure Blob (Azurite), the last two started by
//! `scripts/test.sh`.

use std::sync::Arc;

use bytes::Bytes;
use futures::TryStreamExt;
use mlops_core::{ArtifactPath, StoreRoot, StoreUri};
use object_store::{ObjectStoreExt, PutMode, PutOptions, PutPayload};

fn path(text: &str) -> ArtifactPath {
    ArtifactPath::parse(text).unwrap()
}

/// Put, get, head, list, conditional create and delete, all under the root's prefix.
async fn round_trip(root: &StoreRoot) {
    let store = root.store();
    let key = root.key(&path("models/m1/weights v1.bin"));
    assert!(key.as_ref().starts_with(root.prefix().as_ref()), "{key}");

    let payload = Bytes::from_static(b"\x00\x01weights\xff");
    store
        .put(&key, PutPayload::from(payload.clone()))
        .await
        .unwrap();
    let got = store.get(&key).await.unwrap().bytes().await.unwrap();
    assert_eq!(got, payload);
    assert_eq!(store.head(&key).await.unwrap().size, payload.len() as u64);

    // A second object, then list everything below the prefix: exactly our two keys.
    let other = root.key(&path("runs/r1/meta.json"));
    store
        .put(&other, PutPayload::from_static(b"{}"))
        .await
        .unwrap();
    let mut listed: Vec<String> = store
        .list(Some(root.prefix()))
        .map_ok(|meta| meta.location.to_string())
        .try_collect()
        .await
        .unwrap();
    listed.sort();
    assert_eq!(listed, [key.to_string(), other.to_string()]);

    // Create refuses to replace, and leaves the first write in place.
    let create = PutOptions::from(PutMode::Create);
    let err = store
        .put_opts(&key, PutPayload::from_static(b"second"), create)
        .await
        .unwrap_err();
    assert!(
        matches!(err, object_store::Error::AlreadyExists { .. }),
        "{err:?}"
    );
    assert_eq!(
        store.get(&key).await.unwrap().bytes().await.unwrap(),
        payload
    );

    store.delete(&key).await.unwrap();
    store.delete(&other).await.unwrap();
    let err = store.get(&key).await.unwrap_err();
    assert!(
        matches!(err, object_store::Error::NotFound { .. }),
        "{err:?}"
    );
}

/// Eight tasks race to create one key; exactly one wins and its bytes are what is stored.
async fn create_race(root: &StoreRoot) {
    const RACERS: usize = 8;
    let key = root.key(&path("race/claim.json"));
    let store = Arc::clone(root.store());
    let tasks: Vec<_> = (0..RACERS)
        .map(|i| {
            let store = Arc::clone(&store);
            let key = key.clone();
            tokio::spawn(async move {
                let body = PutPayload::from(format!("{{\"racer\":{i}}}"));
                let result = store
                    .put_opts(&key, body, PutOptions::from(PutMode::Create))
                    .await;
                (i, result)
            })
        })
        .collect();
    let mut winners = Vec::new();
    for task in tasks {
        match task.await.unwrap() {
            (i, Ok(_)) => winners.push(i),
            (_, Err(object_store::Error::AlreadyExists { .. })) => {}
            (i, Err(other)) => panic!("racer {i} failed with {other:?}"),
        }
    }
    assert_eq!(winners.len(), 1, "winners: {winners:?}");
    let stored = store.get(&key).await.unwrap().bytes().await.unwrap();
    assert_eq!(stored, format!("{{\"racer\":{}}}", winners[0]).as_bytes());
    store.delete(&key).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn local_folder_round_trip_and_race() {
    let dir = tempfile::tempdir().unwrap();
    // A folder that does not exist yet is created on open.
    let folder = dir.path().join("nested/store");
    let root = StoreUri::parse(folder.to_str().unwrap())
        .unwrap()
        .open()
        .unwrap();
    assert!(folder.is_dir());
    round_trip(&root).await;
    create_race(&root).await;

    // The same folder through a file:// URI sees what the first root wrote.
    let key = root.key(&path("kept.txt"));
    root.store()
        .put(&key, PutPayload::from_static(b"kept"))
        .await
        .unwrap();
    let url = format!("file://{}", folder.display());
    let again = StoreUri::parse(&url).unwrap().open().unwrap();
    let got = again
        .store()
        .get(&key)
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert_eq!(got.as_ref(), b"kept");
    assert!(folder.join("kept.txt").is_file());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn memory_round_trip_and_race() {
    let root = StoreUri::parse("memory://tests/memory")
        .unwrap()
        .open()
        .unwrap();
    assert_eq!(root.prefix().as_ref(), "tests/memory");
    round_trip(&root).await;
    create_race(&root).await;
}

#[cfg(feature = "cloud")]
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn s3_round_trip_and_race() {
    let root = mlops_core::testing::s3_root("s3_round_trip_and_race");
    round_trip(&root).await;
    create_race(&root).await;
}

#[cfg(feature = "cloud")]
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn azure_round_trip_and_race() {
    let root = mlops_core::testing::azure_root("azure_round_trip_and_race");
    round_trip(&root).await;
    create_race(&root).await;
}

#[test]
fn cloud_uris_need_the_feature_or_parse_cleanly() {
    let uri = StoreUri::parse("s3://bucket/some/prefix").unwrap();
    assert_eq!(uri.prefix().unwrap().as_str(), "some/prefix");
    #[cfg(not(feature = "cloud"))]
    {
        let err = uri.open().unwrap_err();
        assert!(
            matches!(
                err,
                mlops_core::Error::FeatureNotEnabled {
                    feature: "cloud",
                    ..
                }
            ),
            "{err}"
        );
    }
}
