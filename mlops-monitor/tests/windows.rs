//! Drift windows give the offline report of their rows.

use std::sync::Arc;

use mlops_core::Timestamp;
use mlops_drift::arrow_array::RecordBatch;
use mlops_drift::{DriftOptions, ReferenceProfile};
use mlops_monitor::{VersionKey, VersionMonitor, WindowPolicy};

use crate::util::{Shift, rows};

fn key() -> VersionKey {
    VersionKey {
        model: "fraud".into(),
        version: "3".into(),
    }
}

fn concat(batches: &[RecordBatch]) -> RecordBatch {
    mlops_drift::arrow_array::RecordBatch::try_new(
        batches[0].schema(),
        (0..batches[0].num_columns())
            .map(|i| {
                let parts: Vec<&dyn mlops_drift::arrow_array::Array> =
                    batches.iter().map(|b| b.column(i).as_ref()).collect();
                arrow_select_concat(&parts)
            })
            .collect(),
    )
    .unwrap()
}

/// Concatenates arrays of one type by slicing through a builder-free path: the arrays are
/// rebuilt from their values (the test data has four known types).
fn arrow_select_concat(
    parts: &[&dyn mlops_drift::arrow_array::Array],
) -> mlops_drift::arrow_array::ArrayRef {
    use mlops_drift::arrow_array::cast::AsArray;
    use mlops_drift::arrow_array::types::{Float64Type, Int64Type};
    use mlops_drift::arrow_array::{Float64Array, Int64Array, StringArray};
    use mlops_drift::arrow_schema::DataType;
    match parts[0].data_type() {
        DataType::Float64 => Arc::new(Float64Array::from_iter(
            parts
                .iter()
                .flat_map(|a| a.as_primitive::<Float64Type>().iter()),
        )),
        DataType::Int64 => Arc::new(Int64Array::from_iter(
            parts
                .iter()
                .flat_map(|a| a.as_primitive::<Int64Type>().iter()),
        )),
        DataType::Utf8 => Arc::new(StringArray::from_iter(
            parts.iter().flat_map(|a| a.as_string::<i32>().iter()),
        )),
        other => panic!("type {other} not in the test data"),
    }
}

/// Batches of uneven sizes cross window boundaries; each window's report equals the
/// offline comparison of exactly its rows, and only the shifted window drifts, on exactly
/// the shifted features.
#[test]
fn each_window_reports_what_the_offline_comparison_of_its_rows_reports() {
    let options = Arc::new(DriftOptions::default());
    let profile =
        Arc::new(ReferenceProfile::build(&[rows(1, 10_000, Shift::default())], &options).unwrap());
    let mut monitor = VersionMonitor::new(
        key(),
        Arc::clone(&profile),
        Arc::clone(&options),
        WindowPolicy::rows(2000).unwrap(),
    );
    let shifted = Shift {
        x: 1.0,
        country: true,
        ..Shift::default()
    };
    let stream = [
        rows(2, 1400, Shift::default()),
        rows(3, 2600, Shift::default()),
        rows(4, 2000, shifted),
        rows(5, 20, Shift::default()),
        rows(6, 1980, Shift::default()),
        rows(7, 1500, Shift::default()),
    ];
    let now = Timestamp::now();
    let mut windows = Vec::new();
    for batch in &stream {
        windows.extend(monitor.push(batch, now).unwrap());
    }
    assert_eq!(monitor.open_rows(), 1500);
    windows.extend(monitor.close().unwrap());
    assert_eq!(
        windows.iter().map(|w| w.rows).collect::<Vec<_>>(),
        [2000, 2000, 2000, 2000, 1500]
    );
    let all = concat(&stream);
    for (i, window) in windows.iter().enumerate() {
        let rows_of_window = all.slice(i * 2000, window.rows as usize);
        let offline = profile.compare(&[rows_of_window], &options).unwrap();
        assert_eq!(window.report, offline, "window {i}");
        assert_eq!(window.sequence, i as u64 + 1);
    }
    let verdicts: Vec<Vec<String>> = windows.iter().map(|w| w.drifted_features()).collect();
    assert_eq!(verdicts[2], ["x", "country"]);
    for (i, v) in verdicts.iter().enumerate() {
        if i != 2 {
            assert!(
                v.is_empty(),
                "window {i} drifted on {v:?}: {}",
                windows[i].report.to_json()
            );
        }
    }
    assert!(windows[2].report.dataset.dataset_drift);
    assert!(!windows[0].report.dataset.dataset_drift);
}

/// A time window closes when a row arrives after its duration, or on a tick.
#[test]
fn time_windows_close_on_the_next_row_or_on_a_tick() {
    let options = Arc::new(DriftOptions::default());
    let profile =
        Arc::new(ReferenceProfile::build(&[rows(1, 2000, Shift::default())], &options).unwrap());
    let policy = WindowPolicy::new(None, Some(std::time::Duration::from_secs(10))).unwrap();
    let mut monitor = VersionMonitor::new(key(), profile, options, policy);
    let t = |s: i64| Timestamp::from_millis(1_700_000_000_000 + s * 1000).unwrap();
    assert!(
        monitor
            .push(&rows(2, 100, Shift::default()), t(0))
            .unwrap()
            .is_empty()
    );
    assert!(
        monitor
            .push(&rows(3, 100, Shift::default()), t(9))
            .unwrap()
            .is_empty()
    );
    let closed = monitor.push(&rows(4, 50, Shift::default()), t(10)).unwrap();
    assert_eq!(closed.len(), 1);
    assert_eq!(
        (closed[0].rows, closed[0].start, closed[0].end),
        (200, t(0), t(9))
    );
    assert_eq!(monitor.open_rows(), 50);
    assert!(monitor.tick(t(19)).unwrap().is_none());
    let ticked = monitor.tick(t(20)).unwrap().unwrap();
    assert_eq!((ticked.rows, ticked.start), (50, t(10)));
    assert!(ticked.id > closed[0].id, "ids sort by time");
    assert!(monitor.close().unwrap().is_none());
}

#[test]
fn empty_or_zero_window_policies_are_refused() {
    assert!(WindowPolicy::rows(0).is_err());
    assert!(WindowPolicy::new(None, None).is_err());
    assert!(WindowPolicy::new(Some(5), Some(std::time::Duration::ZERO)).is_err());
    assert_eq!(WindowPolicy::default().max_rows(), Some(10_000));
}
