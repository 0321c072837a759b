//! The drift history: windows appended on a store, listed back per model.

use std::sync::Arc;

use mlops_core::{StoreUri, Timestamp};
use mlops_drift::{DriftOptions, DriftReport, ReferenceProfile};
use mlops_monitor::{History, VersionKey, VersionMonitor, WindowPolicy, WindowReport};

use crate::util::{Shift, rows};

fn windows(version: &str, start_ms: i64, shift: Shift) -> Vec<WindowReport> {
    let options = Arc::new(DriftOptions::default());
    let profile =
        Arc::new(ReferenceProfile::build(&[rows(1, 5000, Shift::default())], &options).unwrap());
    let key = VersionKey {
        model: "fraud".into(),
        version: version.into(),
    };
    let mut monitor = VersionMonitor::new(key, profile, options, WindowPolicy::rows(2000).unwrap());
    let mut out = Vec::new();
    out.extend(
        monitor
            .push(
                &rows(2, 2000, Shift::default()),
                Timestamp::from_millis(start_ms).unwrap(),
            )
            .unwrap(),
    );
    out.extend(
        monitor
            .push(
                &rows(3, 2000, shift),
                Timestamp::from_millis(start_ms + 60_000).unwrap(),
            )
            .unwrap(),
    );
    out
}

#[tokio::test]
async fn windows_are_appended_as_parquet_json_and_html_and_listed_in_time_order() {
    let dir = tempfile::tempdir().unwrap();
    let uri = StoreUri::parse(dir.path().to_str().unwrap()).unwrap();
    let history = History::new(uri.open().unwrap());
    let day1 = 1_767_225_600_000; // 2026-01-01T00:00:00Z
    let day2 = day1 + 86_400_000;
    let shifted = Shift {
        y: 3.0,
        ..Shift::default()
    };
    let v3 = windows("3", day2, shifted);
    let v2 = windows("2", day1, Shift::default());
    let mut locations = Vec::new();
    for w in v3.iter().chain(&v2) {
        locations.push(history.append(w).await.unwrap());
    }
    // Files as promised, partitioned by model, version and date.
    let l = &locations[0];
    assert!(
        l.parquet.contains("model=fraud/version=3/date=2026-01-02/"),
        "{}",
        l.parquet
    );
    let json = std::fs::read_to_string(dir.path().join(&l.json)).unwrap();
    assert_eq!(DriftReport::from_json(&json).unwrap(), v3[0].report);
    let html = std::fs::read_to_string(dir.path().join(&l.html)).unwrap();
    assert!(html.contains("<html") && html.contains(&v3[0].id));
    // Listed oldest first, with the verdicts of the reports.
    let listed = history.list("fraud", None).await.unwrap();
    assert_eq!(listed.len(), 4);
    assert_eq!(
        listed
            .iter()
            .map(|r| (r.version.as_str(), r.window.as_str()))
            .collect::<Vec<_>>(),
        [
            ("2", v2[0].id.as_str()),
            ("2", &v2[1].id),
            ("3", &v3[0].id),
            ("3", &v3[1].id)
        ]
    );
    assert_eq!(listed[3].drifted_features, ["y"]);
    assert_eq!(listed[3].share_drifted, v3[1].report.dataset.share_drifted);
    assert!(listed[..3].iter().all(|r| r.drifted_features.is_empty()));
    assert_eq!(
        (listed[0].rows, listed[0].start, listed[0].end),
        (2000, v2[0].start, v2[0].end)
    );
    // `since` keeps later windows only.
    let later = history
        .list("fraud", Some(Timestamp::from_millis(day2 + 1).unwrap()))
        .await
        .unwrap();
    assert_eq!(later.len(), 1);
    assert!(history.list("other", None).await.unwrap().is_empty());
    // A window id is written once.
    assert!(history.append(&v3[0]).await.is_ok());
    assert_eq!(history.list("fraud", None).await.unwrap().len(), 4);
}
