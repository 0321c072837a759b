//! Experiments: their lifecycle, their search, and racing creates of one name.

use super::support::*;

/// Experiments: create (with tags), get by id and by name, duplicate names, tags, rename,
/// delete and restore, and their effect on names.
pub async fn experiments(store: &dyn TrackingStore) {
    let name = experiment_name(&unique("exp"));
    let id = store
        .create_experiment(&name, &[tag("team", "a"), tag("stage", "dev")])
        .await
        .expect("create_experiment");
    let e = store.get_experiment(&id).await.expect("get_experiment");
    assert_eq!(e.experiment_id, id);
    assert_eq!(e.name, name);
    assert_eq!(e.lifecycle_stage, LifecycleStage::Active);
    assert!(e.creation_time.is_some(), "creation_time missing: {e:?}");
    for (key, value) in [("team", "a"), ("stage", "dev")] {
        assert!(
            e.tags
                .iter()
                .any(|t| t.key().as_str() == key && t.value() == value),
            "experiment tag {key}={value} missing: {:?}",
            e.tags
        );
    }
    let by_name = store
        .get_experiment_by_name(&name)
        .await
        .expect("get_experiment_by_name")
        .expect("the experiment by its name");
    assert_eq!(by_name.experiment_id, id);
    let nobody = experiment_name(&unique("nobody"));
    assert!(
        store
            .get_experiment_by_name(&nobody)
            .await
            .expect("get_experiment_by_name")
            .is_none(),
        "an unknown name must give None"
    );
    match store.get_experiment(&missing_experiment_id()).await {
        Err(TrackError::NotFound { .. }) => {}
        other => panic!("get_experiment of an unknown id: expected NotFound, got {other:?}"),
    }
    match store.create_experiment(&name, &[]).await {
        Err(TrackError::AlreadyExists { .. }) => {}
        other => panic!("creating {name} twice: expected AlreadyExists, got {other:?}"),
    }

    // Tags: last write wins.
    store
        .set_experiment_tag(&id, &tag("team", "b"))
        .await
        .expect("set_experiment_tag");
    store
        .set_experiment_tag(&id, &tag("new", "1"))
        .await
        .expect("set_experiment_tag");
    let e = store.get_experiment(&id).await.expect("get_experiment");
    let team: Vec<&str> = e
        .tags
        .iter()
        .filter(|t| t.key().as_str() == "team")
        .map(Tag::value)
        .collect();
    assert_eq!(team, ["b"], "experiment tag overwrite: {:?}", e.tags);
    assert!(e.tags.iter().any(|t| t.key().as_str() == "new"));

    // Rename: the new name finds it, the old one is free.
    let renamed = experiment_name(&unique("renamed"));
    store
        .rename_experiment(&id, &renamed)
        .await
        .expect("rename_experiment");
    assert_eq!(store.get_experiment(&id).await.expect("get").name, renamed);
    let found = store
        .get_experiment_by_name(&renamed)
        .await
        .expect("by name");
    assert_eq!(found.map(|e| e.experiment_id), Some(id.clone()));
    assert!(
        store
            .get_experiment_by_name(&name)
            .await
            .expect("by name")
            .is_none(),
        "the old name must be free after a rename"
    );
    let other = new_experiment(store, "other").await;
    let other_name = store.get_experiment(&other).await.expect("get").name;
    assert!(
        store.rename_experiment(&id, &other_name).await.is_err(),
        "renaming onto a taken name must fail"
    );
    assert_eq!(store.get_experiment(&id).await.expect("get").name, renamed);
    // The old name can be taken again.
    let reuse = store
        .create_experiment(&name, &[])
        .await
        .expect("create with a freed name");
    assert_ne!(reuse, id);

    // Delete and restore.
    store
        .delete_experiment(&id)
        .await
        .expect("delete_experiment");
    let e = store
        .get_experiment(&id)
        .await
        .expect("get a deleted experiment");
    assert_eq!(e.lifecycle_stage, LifecycleStage::Deleted);
    let e = store
        .get_experiment_by_name(&renamed)
        .await
        .expect("by name")
        .expect("a deleted experiment is still found by name");
    assert_eq!(e.lifecycle_stage, LifecycleStage::Deleted);
    match store.create_experiment(&renamed, &[]).await {
        Err(TrackError::AlreadyExists { .. }) => {}
        other => panic!("the name of a deleted experiment stays taken: got {other:?}"),
    }
    assert!(
        store
            .rename_experiment(&id, &experiment_name(&unique("x")))
            .await
            .is_err(),
        "renaming a deleted experiment must fail"
    );
    store
        .restore_experiment(&id)
        .await
        .expect("restore_experiment");
    assert_eq!(
        store
            .get_experiment(&id)
            .await
            .expect("get")
            .lifecycle_stage,
        LifecycleStage::Active
    );
}

/// Experiment search: filters on name and tags, default and explicit order, view types and
/// paging.
pub async fn experiment_search(store: &dyn TrackingStore) {
    let prefix = unique("xsearch");
    let mut created = Vec::new();
    for (i, team) in ["a", "b", "a", "b", "a"].iter().enumerate() {
        let name = experiment_name(&format!("{prefix}-{i}"));
        let id = store
            .create_experiment(&name, &[tag("team", team)])
            .await
            .expect("create_experiment");
        created.push(id);
        // Distinct creation times make the default order (newest first) unambiguous.
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    store
        .delete_experiment(&created[4])
        .await
        .expect("delete_experiment");
    let query = |filter: String, view: ViewType| ExperimentQuery {
        filter: Some(filter),
        view,
        ..ExperimentQuery::default()
    };
    let by_prefix = format!("name LIKE '{prefix}-%'");

    let page = store
        .search_experiments(&query(by_prefix.clone(), ViewType::ActiveOnly))
        .await
        .expect("search_experiments");
    let found: Vec<ExperimentId> = page.items.iter().map(|e| e.experiment_id.clone()).collect();
    let newest_first: Vec<ExperimentId> = created[..4].iter().rev().cloned().collect();
    assert_eq!(found, newest_first, "default order is creation_time DESC");
    assert!(page.next_page_token.is_none());

    let page = store
        .search_experiments(&query(
            format!("{by_prefix} AND tags.team = 'a'"),
            ViewType::ActiveOnly,
        ))
        .await
        .expect("search_experiments with a tag filter");
    let found: BTreeSet<ExperimentId> =
        page.items.iter().map(|e| e.experiment_id.clone()).collect();
    let expected: BTreeSet<ExperimentId> = [created[0].clone(), created[2].clone()].into();
    assert_eq!(found, expected, "tags.team = 'a'");

    let page = store
        .search_experiments(&ExperimentQuery {
            order_by: vec!["name ASC".to_owned()],
            ..query(by_prefix.clone(), ViewType::ActiveOnly)
        })
        .await
        .expect("search_experiments ordered by name");
    let names: Vec<String> = page.items.iter().map(|e| e.name.to_string()).collect();
    let mut sorted = names.clone();
    sorted.sort();
    assert_eq!(names, sorted, "order_by name ASC");

    let deleted = store
        .search_experiments(&query(by_prefix.clone(), ViewType::DeletedOnly))
        .await
        .expect("search deleted");
    assert_eq!(
        deleted
            .items
            .iter()
            .map(|e| &e.experiment_id)
            .collect::<Vec<_>>(),
        [&created[4]],
        "DeletedOnly"
    );
    let all = store
        .search_experiments(&query(by_prefix.clone(), ViewType::All))
        .await
        .expect("search all");
    assert_eq!(all.items.len(), 5, "ViewType::All");

    // Paging: 2 + 2, no duplicates, same order as one page.
    let mut paged = Vec::new();
    let mut token = None;
    for _ in 0..10 {
        let page = store
            .search_experiments(&ExperimentQuery {
                max_results: Some(2),
                page_token: token.clone(),
                ..query(by_prefix.clone(), ViewType::ActiveOnly)
            })
            .await
            .expect("search_experiments page");
        assert!(page.items.len() <= 2);
        paged.extend(page.items.into_iter().map(|e| e.experiment_id));
        token = page.next_page_token;
        if token.is_none() {
            break;
        }
    }
    assert_eq!(
        paged, newest_first,
        "pages of 2 concatenate to the full result"
    );

    assert!(
        store
            .search_experiments(&query("name LIKE".to_owned(), ViewType::All))
            .await
            .is_err(),
        "a malformed filter must be refused"
    );
}

/// Several handles on one store (separate processes, in spirit: each with its own cache)
/// create the same experiment name at once: exactly one succeeds, the others get
/// `AlreadyExists`, and every handle then finds the one id by name.
pub async fn concurrent_create_by_name(stores: &[&dyn TrackingStore]) {
    assert!(!stores.is_empty(), "give at least one store handle");
    let name = experiment_name(&unique("race"));
    let attempts = stores
        .iter()
        .cycle()
        .take(stores.len().max(4))
        .map(|store| store.create_experiment(&name, &[]));
    let results = futures::future::join_all(attempts).await;
    let mut winners = Vec::new();
    for result in results {
        match result {
            Ok(id) => winners.push(id),
            Err(TrackError::AlreadyExists { .. }) => {}
            Err(e) => panic!("a racing create_experiment failed: {e}"),
        }
    }
    assert_eq!(winners.len(), 1, "exactly one create wins: {winners:?}");
    for store in stores {
        let found = store
            .get_experiment_by_name(&name)
            .await
            .expect("get_experiment_by_name")
            .expect("the experiment exists");
        assert_eq!(
            found.experiment_id, winners[0],
            "every handle sees the winner's id"
        );
    }
}
