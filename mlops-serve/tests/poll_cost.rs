//! What an alias poll costs on the object registry: reads of the model's next commit-log
//! slots, never a listing (counted by a store that wraps the in-memory one).

use std::sync::Arc;
use std::time::Duration;

use mlops_core::testing::CountingStore;
use mlops_core::{AliasName, ArtifactPath, ModelName, ModelVersion, StoreRoot};
use mlops_registry::{AliasChange, ModelRegistry, NewVersion, ObjectRegistry, RegistryExt};
use mlops_serve::follow::FollowOptions;
use mlops_serve::runtime::linear::LinearFile;
use mlops_serve::source::RegistrySource;
use mlops_serve::{ModelSource, Selector, Server};
use object_store::ObjectStore;

#[tokio::test]
async fn an_alias_poll_reads_the_next_log_slot_and_never_lists() {
    let store = Arc::new(CountingStore::in_memory());
    let root = StoreRoot::from_parts(Arc::clone(&store) as Arc<dyn ObjectStore>, None);
    let registry = Arc::new(ObjectRegistry::new(root));
    let name = ModelName::parse("price").unwrap();
    registry.create_model(&name, None, &[]).await.unwrap();
    for slope in [1.0, 2.0] {
        let json = serde_json::to_vec(&LinearFile::linear(vec![vec![slope]], vec![0.0])).unwrap();
        let files =
            NewVersion::new().with_artifact(ArtifactPath::parse("model.json").unwrap(), json);
        registry.create_version(&name, files).await.unwrap();
    }
    let champion = AliasName::parse("champion").unwrap();
    registry
        .set_alias(
            &name,
            &champion,
            ModelVersion::new(1).unwrap(),
            &AliasChange::default(),
        )
        .await
        .unwrap();

    // A serving replica's own handle (its first read lists the log once to find holes).
    let source: Arc<dyn ModelSource> = Arc::new(RegistrySource::new(Arc::new(ObjectRegistry::new(
        registry.root().clone(),
    ))
        as Arc<dyn ModelRegistry>));
    let alias = Selector::Alias("champion".into());
    source.resolve("price", &alias).await.unwrap();
    let (gets, lists) = (store.counts().gets, store.counts().all_lists());
    const POLLS: u64 = 200;
    for _ in 0..POLLS {
        assert_eq!(source.resolve("price", &alias).await.unwrap().version, "1");
    }
    let gets = store.counts().gets - gets;
    assert_eq!(store.counts().all_lists(), lists, "a poll listed");
    // Per poll: the next slot and the one after it (a hole check); the cached catalog is
    // caught up at most every two seconds (two more reads).
    assert!(gets <= POLLS * 2 + 4, "{gets} reads for {POLLS} polls");
    assert!(gets >= POLLS, "{gets} reads for {POLLS} polls");

    // A follower polling every 5 ms lists nothing either, also across a promotion.
    let server = Server::builder().build().unwrap();
    let follower = server
        .models()
        .follow(
            Arc::clone(&source),
            "price",
            "champion".parse().unwrap(),
            FollowOptions::default().poll_interval(Duration::from_millis(5)),
        )
        .await
        .unwrap();
    registry
        .set_alias(
            &name,
            &champion,
            ModelVersion::new(2).unwrap(),
            &AliasChange::default(),
        )
        .await
        .unwrap();
    // Counted after the write: its claim is checked by one listing (a hole check); what
    // must not list is the follower.
    let lists = store.counts().all_lists();
    follower
        .subscribe()
        .wait_for(|s| s.version == "2")
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(store.counts().all_lists(), lists, "following listed");
}
