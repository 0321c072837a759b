//! Aliases: moves, history, resolution.

use mlops_core::StoreUri;
use mlops_data::{AddOptions, DataError, DatasetAlias, DatasetName, Datasets};

use super::support::write_parquet;

#[tokio::test]
async fn an_alias_moves_and_keeps_its_history() {
    let tmp = tempfile::tempdir().unwrap();
    let datasets = Datasets::new(&StoreUri::parse("memory://").unwrap().open().unwrap());
    let name = DatasetName::parse("trips").unwrap();
    for i in 0..3 {
        let file = write_parquet(
            &tmp.path().join(format!("{i}/d.parquet")),
            20,
            f64::from(i),
            false,
        );
        datasets
            .add(&name, &[file], AddOptions::default())
            .await
            .unwrap();
    }
    let train = DatasetAlias::parse("train").unwrap();
    assert!(datasets.alias(&name, &train).await.unwrap().is_none());
    datasets
        .set_alias(&name, &train, 1, Some("ana"))
        .await
        .unwrap();
    datasets.set_alias(&name, &train, 3, None).await.unwrap();
    // Setting the value it has writes nothing.
    datasets.set_alias(&name, &train, 3, None).await.unwrap();
    datasets.set_alias(&name, &train, 2, None).await.unwrap();
    let history = datasets.alias_history(&name, &train).await.unwrap();
    assert_eq!(
        history.iter().map(|m| m.version).collect::<Vec<_>>(),
        [1, 3, 2]
    );
    assert_eq!(history[0].actor.as_deref(), Some("ana"));
    assert_eq!(
        datasets
            .resolve(&"trips@train".parse().unwrap())
            .await
            .unwrap()
            .version,
        2
    );
    let eval = DatasetAlias::parse("eval").unwrap();
    datasets.set_alias(&name, &eval, 1, None).await.unwrap();
    let all = datasets.aliases(&name).await.unwrap();
    assert_eq!(
        all.iter()
            .map(|m| (m.alias.as_str(), m.version))
            .collect::<Vec<_>>(),
        [("eval", 1), ("train", 2)]
    );
    let err = datasets.set_alias(&name, &eval, 9, None).await.unwrap_err();
    assert!(matches!(err, DataError::NotFound { .. }), "{err}");
    assert!(DatasetAlias::parse("latest").is_err());
    assert!(DatasetAlias::parse("12").is_err());
}
