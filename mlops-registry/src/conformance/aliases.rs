//! Checks of aliases: preconditions, resolution, history, deletion, rollback.

use mlops_core::ModelVersion;

use super::{alias, files, new_model, new_version, v};
use crate::error::RegistryError;
use crate::ext::RegistryExt;
use crate::promote::{promote, rollback};
use crate::registry::ModelRegistry;
use crate::types::{AliasChange, AliasChangeKind, Expect};

/// Set with preconditions, conflict, resolve, list, history, delete; deleting a version
/// drops its aliases.
pub async fn aliases(registry: &dyn ModelRegistry) {
    let name = new_model(registry, "aliases").await;
    let (a, b, c) = (
        new_version(registry, &name, files("a")).await,
        new_version(registry, &name, files("b")).await,
        new_version(registry, &name, files("c")).await,
    );
    let champion = alias("champion");
    assert!(
        registry
            .resolve_alias(&name, &champion)
            .await
            .unwrap_err()
            .is_not_found()
    );
    registry
        .set_alias(&name, &champion, a, &AliasChange::expecting(Expect::Absent))
        .await
        .unwrap();
    let conflict = registry
        .set_alias(&name, &champion, b, &AliasChange::expecting(Expect::Absent))
        .await
        .unwrap_err();
    match conflict {
        RegistryError::Conflict {
            current, expected, ..
        } => {
            assert_eq!(current, Some(a));
            assert_eq!(expected, Expect::Absent);
        }
        other => panic!("expected Conflict, got {other}"),
    }
    assert_eq!(
        registry
            .resolve_alias(&name, &champion)
            .await
            .unwrap()
            .version,
        a
    );
    let wrong = registry
        .set_alias(
            &name,
            &champion,
            b,
            &AliasChange::expecting(Expect::Version(c)),
        )
        .await;
    assert!(wrong.unwrap_err().is_conflict());
    registry
        .set_alias(
            &name,
            &champion,
            b,
            &AliasChange::expecting(Expect::Version(a)),
        )
        .await
        .unwrap();
    registry
        .set_alias(&name, &alias("challenger"), c, &AliasChange::default())
        .await
        .unwrap();
    let all = registry.list_aliases(&name).await.unwrap();
    assert_eq!(all.get(&champion), Some(&b));
    assert_eq!(all.get(&alias("challenger")), Some(&c));
    let info = registry.get_version(&name, b).await.unwrap();
    assert_eq!(info.aliases, vec![champion.clone()]);
    assert_eq!(
        registry
            .get_model(&name)
            .await
            .unwrap()
            .aliases
            .get(&champion),
        Some(&b)
    );

    let history = registry.alias_history(&name, &champion).await.unwrap();
    let moves: Vec<(Option<ModelVersion>, Option<ModelVersion>)> =
        history.iter().map(|e| (e.from, e.to)).collect();
    assert_eq!(moves, vec![(None, Some(a)), (Some(a), Some(b))]);

    let missing = registry
        .set_alias(&name, &champion, v(99), &AliasChange::default())
        .await;
    assert!(missing.unwrap_err().is_not_found());

    registry
        .delete_alias(
            &name,
            &alias("challenger"),
            &AliasChange::expecting(Expect::Version(c)),
        )
        .await
        .unwrap();
    assert!(
        registry
            .resolve_alias(&name, &alias("challenger"))
            .await
            .unwrap_err()
            .is_not_found()
    );
    let again = registry
        .delete_alias(&name, &alias("challenger"), &AliasChange::default())
        .await;
    assert!(again.unwrap_err().is_not_found());

    registry.delete_version(&name, b).await.unwrap();
    assert!(
        registry
            .resolve_alias(&name, &champion)
            .await
            .unwrap_err()
            .is_not_found()
    );
    assert!(registry.list_aliases(&name).await.unwrap().is_empty());
}

/// Rollback moves the alias back to the holder before the latest promotion.
pub async fn rollbacks(registry: &dyn ModelRegistry) {
    let name = new_model(registry, "rollback").await;
    let vs = [
        new_version(registry, &name, files("1")).await,
        new_version(registry, &name, files("2")).await,
        new_version(registry, &name, files("3")).await,
    ];
    let champion = alias("champion");
    assert!(
        rollback(registry, &name, &champion).await.is_err(),
        "nothing to roll back"
    );
    for (i, version) in vs.iter().enumerate() {
        let expected = if i == 0 {
            Expect::Absent
        } else {
            Expect::Version(vs[i - 1])
        };
        assert!(
            promote(registry, &name, *version, &champion, expected, &[])
                .await
                .unwrap()
                .promoted()
        );
    }
    let back = rollback(registry, &name, &champion).await.unwrap();
    assert!(back.promoted());
    assert_eq!(
        registry
            .resolve_alias(&name, &champion)
            .await
            .unwrap()
            .version,
        vs[1]
    );
    rollback(registry, &name, &champion).await.unwrap();
    assert_eq!(
        registry
            .resolve_alias(&name, &champion)
            .await
            .unwrap()
            .version,
        vs[0]
    );
    assert!(
        rollback(registry, &name, &champion).await.is_err(),
        "no holder before the first"
    );
    let history = registry.alias_history(&name, &champion).await.unwrap();
    assert_eq!(
        history
            .iter()
            .filter(|e| e.kind == AliasChangeKind::Rollback)
            .count(),
        2
    );
}
