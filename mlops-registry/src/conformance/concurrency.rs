//! Checks with several handles on one registry (separate processes, in spirit).

use std::collections::BTreeSet;

use mlops_core::{ModelVersion, Tag};

use super::{alias, files, new_model, new_version, unique_model, v};
use crate::ext::RegistryExt;
use crate::registry::ModelRegistry;
use crate::types::{AliasChange, Expect, ModelQuery};

/// Several handles register versions of one model at once: distinct numbers 1..=n.
pub async fn concurrent_versions(registries: &[&dyn ModelRegistry]) {
    let name = new_model(registries[0], "concurrent-versions").await;
    let per = 5;
    let tasks = registries.iter().enumerate().map(|(i, registry)| {
        let name = name.clone();
        async move {
            let mut out = Vec::new();
            for j in 0..per {
                out.push(new_version(*registry, &name, files(&format!("{i}-{j}"))).await);
            }
            out
        }
    });
    let numbers: Vec<ModelVersion> = futures::future::join_all(tasks)
        .await
        .into_iter()
        .flatten()
        .collect();
    let distinct: BTreeSet<u64> = numbers.iter().map(|v| v.get()).collect();
    let expected: BTreeSet<u64> = (1..=(registries.len() * per) as u64).collect();
    assert_eq!(
        distinct, expected,
        "numbers must be distinct and gapless: {numbers:?}"
    );
}

/// Several handles promote one alias with preconditions at once: every acknowledged move
/// appears once in the history, each from the holder it expected.
pub async fn concurrent_promotions(registries: &[&dyn ModelRegistry]) {
    let name = new_model(registries[0], "concurrent-promotions").await;
    let versions: Vec<ModelVersion> = {
        let mut out = Vec::new();
        for i in 0..4 {
            out.push(new_version(registries[0], &name, files(&i.to_string())).await);
        }
        out
    };
    let champion = alias("champion");
    let tasks = registries.iter().enumerate().map(|(i, registry)| {
        let (name, champion, versions) = (name.clone(), champion.clone(), versions.clone());
        async move {
            let mut acked = Vec::new();
            for round in 0..5 {
                let current = registry.alias_holder(&name, &champion).await.unwrap();
                let target = versions[(i + round + 1) % versions.len()];
                let change = AliasChange::expecting(Expect::exactly(current));
                match registry.set_alias(&name, &champion, target, &change).await {
                    Ok(event) => acked.push(event),
                    Err(e) if e.is_conflict() => {}
                    Err(e) => panic!("set_alias: {e}"),
                }
            }
            acked
        }
    });
    let acked: Vec<_> = futures::future::join_all(tasks)
        .await
        .into_iter()
        .flatten()
        .collect();
    let history = registries[0].alias_history(&name, &champion).await.unwrap();
    let mut holder = None;
    for event in &history {
        assert_eq!(
            event.from, holder,
            "an acknowledged move did not start from the holder: {event:?}"
        );
        holder = event.to;
    }
    for event in &acked {
        let matches = history
            .iter()
            .filter(|h| h.txn_id == event.txn_id && h.to == event.to)
            .count();
        assert_eq!(
            matches, 1,
            "acknowledged move {event:?} appears {matches} times"
        );
    }
    assert_eq!(
        history.len(),
        acked.len(),
        "unacknowledged moves in the history"
    );
}

/// Two handles (two processes, in spirit): what one renames, deletes and re-creates, the
/// other sees at once, and never writes to a model that is gone.
pub async fn cross_handle_renames_and_deletes(a: &dyn ModelRegistry, b: &dyn ModelRegistry) {
    let name = new_model(a, "cross").await;
    new_version(a, &name, files("old")).await;
    // b caches the model.
    assert_eq!(b.get_model(&name).await.unwrap().latest_version, Some(v(1)));
    // a deletes and re-creates it: b's writes go to the new model.
    a.delete_model(&name).await.unwrap();
    a.create_model(&name, Some("second life"), &[])
        .await
        .unwrap();
    assert_eq!(
        b.get_model(&name).await.unwrap().description.as_deref(),
        Some("second life")
    );
    assert_eq!(
        new_version(b, &name, files("new")).await,
        v(1),
        "b registered into the new model"
    );
    b.set_model_tag(&name, &Tag::parse("by", "b").unwrap())
        .await
        .unwrap();
    assert_eq!(a.get_model(&name).await.unwrap().tags.len(), 1);
    // a renames it: b finds it under the new name only, and its old name is free.
    let renamed = unique_model("cross-renamed");
    a.rename_model(&name, &renamed).await.unwrap();
    assert!(
        b.set_model_tag(&name, &Tag::parse("k", "v").unwrap())
            .await
            .unwrap_err()
            .is_not_found()
    );
    assert!(b.get_model(&name).await.unwrap_err().is_not_found());
    assert_eq!(
        b.get_model(&renamed).await.unwrap().latest_version,
        Some(v(1))
    );
    // a deletes it: b's alias change fails.
    a.delete_model(&renamed).await.unwrap();
    let gone = b
        .set_alias(&renamed, &alias("champion"), v(1), &AliasChange::default())
        .await;
    assert!(gone.unwrap_err().is_not_found());
}

/// Several handles ensure one model at once: all succeed, with the same model, and the
/// registry holds it once.
pub async fn concurrent_ensure_model(registries: &[&dyn ModelRegistry]) {
    let name = unique_model("ensure");
    let tasks = registries.iter().map(|registry| {
        let name = name.clone();
        async move { registry.ensure_model(&name, Some("race"), &[]).await }
    });
    let models: Vec<_> = futures::future::join_all(tasks)
        .await
        .into_iter()
        .map(|r| r.unwrap_or_else(|e| panic!("ensure_model lost a race: {e}")))
        .collect();
    assert!(
        models
            .iter()
            .all(|m| m.name == name && m.created == models[0].created),
        "every handle got the one model: {models:?}"
    );
    let found = registries[0]
        .search_models(&ModelQuery {
            name_contains: Some(name.as_str().to_owned()),
            ..ModelQuery::default()
        })
        .await
        .unwrap();
    assert_eq!(found.items.len(), 1, "{:?}", found.items);
}
