//! diff: schema, rows, files and drift.

use mlops_core::StoreUri;
use mlops_data::{AddOptions, ColumnChange, DatasetName, Datasets};
use mlops_drift::DriftOptions;

use super::support::write_parquet;

#[tokio::test]
async fn a_diff_shows_schema_rows_and_drift() {
    let tmp = tempfile::tempdir().unwrap();
    let datasets = Datasets::new(&StoreUri::parse("memory://").unwrap().open().unwrap());
    let name = DatasetName::parse("trips").unwrap();
    let a = write_parquet(&tmp.path().join("a/d.parquet"), 2000, 0.0, false);
    let same = write_parquet(&tmp.path().join("b/d.parquet"), 2000, 0.0, false);
    let shifted = write_parquet(&tmp.path().join("c/d.parquet"), 1500, 0.5, true);
    let v1 = datasets
        .add(&name, &[a], AddOptions::default())
        .await
        .unwrap()
        .manifest;
    // Same bytes under the same path: the same version.
    assert_eq!(
        datasets
            .add(&name, &[same], AddOptions::default())
            .await
            .unwrap()
            .manifest
            .version,
        1
    );
    let v2 = datasets
        .add(&name, &[shifted], AddOptions::default())
        .await
        .unwrap()
        .manifest;

    let diff = datasets
        .diff(&v1, &v2, &DriftOptions::default())
        .await
        .unwrap();
    assert!(!diff.same_rows);
    assert_eq!((diff.rows_from, diff.rows_to), (2000, 1500));
    assert_eq!(
        diff.schema,
        [ColumnChange::Added {
            column: "y".into(),
            data_type: "Float64?".into()
        }]
    );
    assert_eq!(diff.files_changed, ["d.parquet"]);
    let drift = diff.drift.unwrap();
    let x = drift.columns.iter().find(|c| c.column == "x").unwrap();
    assert!(x.drifted, "{x:?}");
    let city = drift.columns.iter().find(|c| c.column == "city").unwrap();
    assert!(!city.drifted, "{city:?}");

    let itself = datasets
        .diff(&v1, &v1, &DriftOptions::default())
        .await
        .unwrap();
    assert!(itself.same_rows && itself.schema.is_empty() && itself.files_changed.is_empty());
    assert!(!itself.drift.unwrap().dataset.dataset_drift);
}
