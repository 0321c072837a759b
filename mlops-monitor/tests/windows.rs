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

/// One request of `n` rows for the tensor-path test: `a` FP32 (or FP64), `n` INT32 (or FP32
/// when `float_n`, a type change mid-window), `c` BYTES, `score` an FP64 output.
fn request(
    seed: usize,
    n: usize,
    shift: f32,
    float_n: bool,
) -> (Vec<mlops_serve::Tensor>, Vec<mlops_serve::Tensor>) {
    use mlops_serve::{Bytes, Tensor, TensorData};
    let v = |i: usize, m: usize| ((i * 7919 + seed * 104_729) % m) as f32;
    let a: Vec<f32> = (0..n).map(|i| v(i, 1000) / 10.0 + shift).collect();
    let a = if seed.is_multiple_of(3) {
        let wide: Vec<f64> = a.iter().map(|x| f64::from(*x)).collect();
        TensorData::from_vec(&[n], wide).unwrap()
    } else {
        TensorData::from_vec(&[n], a).unwrap()
    };
    let ints: Vec<i32> = (0..n).map(|i| v(i, 40) as i32).collect();
    let n_data = if float_n {
        let f: Vec<f32> = ints.iter().map(|x| *x as f32 + 0.5).collect();
        TensorData::from_vec(&[n], f).unwrap()
    } else {
        TensorData::from_vec(&[n], ints).unwrap()
    };
    let c: Vec<Bytes> = (0..n)
        .map(|i| Bytes::from(["red", "green", "blue"][(i + seed) % 3]))
        .collect();
    let score: Vec<f64> = (0..n).map(|i| f64::from(v(i, 100)) / 100.0).collect();
    (
        vec![
            Tensor::new("a", a),
            Tensor::new("n", n_data),
            Tensor::new("c", TensorData::from_vec(&[n], c).unwrap()),
        ],
        vec![Tensor::new(
            "score",
            TensorData::from_vec(&[n, 1], score).unwrap(),
        )],
    )
}

/// The capture worker's path (request tensors buffered column by column and accumulated
/// in blocks) closes the same windows with the same reports as pushing one record batch
/// per request: windows split inside a request, windows closed by time, a column whose
/// type changes mid-window, and blocks larger than a window.
#[test]
fn request_tensors_give_the_windows_of_their_record_batches() {
    use mlops_monitor::{FeatureMap, SignatureSchemas};
    use mlops_serve::{Datatype, ModelMetadata, TensorSpec};
    let mut metadata = ModelMetadata {
        name: "fraud".into(),
        version: Some("3".into()),
        platform: "test".into(),
        inputs: Vec::new(),
        outputs: Vec::new(),
    };
    metadata.inputs = vec![
        TensorSpec::new("a", Datatype::Fp32, vec![-1]),
        TensorSpec::new("n", Datatype::Int32, vec![-1]),
        TensorSpec::new("c", Datatype::Bytes, vec![-1]),
    ];
    metadata.outputs = vec![TensorSpec::new("score", Datatype::Fp64, vec![-1, 1])];
    let options = Arc::new(DriftOptions::default());
    // The reference: the map's batches of unshifted requests.
    let schema_only = ReferenceProfile::build(
        &[{
            let (i, o) = request(0, 10, 0.0, false);
            plain_batch(&i, &o)
        }],
        &options,
    )
    .unwrap();
    let map = FeatureMap::new(&metadata, SignatureSchemas::default(), &schema_only).unwrap();
    let reference: Vec<RecordBatch> = (1..40)
        .map(|s| {
            let (i, o) = request(s, 250, 0.0, false);
            map.batch(&i, &o).unwrap()
        })
        .collect();
    let profile = Arc::new(ReferenceProfile::build(&reference, &options).unwrap());
    let t = |s: i64| Timestamp::from_millis(1_700_000_000_000 + s * 1000).unwrap();
    for policy in [
        WindowPolicy::rows(700).unwrap(),
        WindowPolicy::rows(5000).unwrap(),
        WindowPolicy::new(Some(1500), Some(std::time::Duration::from_secs(30))).unwrap(),
    ] {
        let monitor = || {
            VersionMonitor::new(key(), Arc::clone(&profile), Arc::clone(&options), policy)
                .with_features(map.clone())
        };
        let (mut tensors, mut batches) = (monitor(), monitor());
        let (mut by_tensors, mut by_batches) = (Vec::new(), Vec::new());
        for s in 0..120usize {
            let rows = [1, 64, 333, 0, 17, 1200][s % 6];
            let shift = if (60..80).contains(&s) { 25.0 } else { 0.0 };
            let (inputs, outputs) = request(100 + s, rows, shift, (40..50).contains(&s));
            let time = t(s as i64 * 2);
            by_tensors.extend(tensors.observe_tensors(&inputs, &outputs, time).unwrap());
            let batch = map.batch(&inputs, &outputs).unwrap();
            by_batches.extend(batches.push(&batch, time).unwrap());
            assert_eq!(tensors.open_rows(), batches.open_rows(), "request {s}");
        }
        by_tensors.extend(tensors.close().unwrap());
        by_batches.extend(batches.close().unwrap());
        assert!(
            by_tensors.len() >= 5,
            "{policy:?}: {} windows",
            by_tensors.len()
        );
        assert_eq!(by_tensors.len(), by_batches.len(), "{policy:?}");
        for (x, y) in by_tensors.iter().zip(&by_batches) {
            assert_eq!(
                (x.sequence, x.rows, x.start, x.end),
                (y.sequence, y.rows, y.start, y.end)
            );
            assert_eq!(x.report, y.report, "{policy:?} window {}", x.sequence);
        }
        let drifted = |w: &mlops_monitor::WindowReport| w.drifted_features().contains(&"a".into());
        assert!(by_tensors.iter().any(drifted), "{policy:?}");
        assert!(!by_tensors.iter().all(drifted), "{policy:?}");
    }
    // A request that does not fit the map is refused whole: nothing is taken.
    let mut monitor =
        VersionMonitor::new(key(), profile, options, WindowPolicy::rows(100).unwrap())
            .with_features(map);
    let (mut inputs, outputs) = request(1, 10, 0.0, false);
    monitor.observe_tensors(&inputs, &outputs, t(0)).unwrap();
    inputs.truncate(2);
    assert!(monitor.observe_tensors(&inputs, &outputs, t(0)).is_err());
    assert_eq!(monitor.open_rows(), 10);
}

/// The tensors as a batch, by name, to build the profile the map is made against.
fn plain_batch(inputs: &[mlops_serve::Tensor], outputs: &[mlops_serve::Tensor]) -> RecordBatch {
    use mlops_drift::arrow_array::{ArrayRef, Float64Array, Int64Array, StringArray};
    use mlops_drift::arrow_schema::{DataType, Field, Schema};
    use mlops_serve::TensorData;
    let mut fields = Vec::new();
    let mut arrays: Vec<ArrayRef> = Vec::new();
    for tensor in inputs.iter().chain(outputs) {
        let (dt, array): (DataType, ArrayRef) = match &tensor.data {
            TensorData::Fp32(a) => (
                DataType::Float64,
                Arc::new(Float64Array::from_iter_values(
                    a.iter().map(|v| f64::from(*v)),
                )),
            ),
            TensorData::Fp64(a) => (
                DataType::Float64,
                Arc::new(Float64Array::from_iter_values(a.iter().copied())),
            ),
            TensorData::Int32(a) => (
                DataType::Int64,
                Arc::new(Int64Array::from_iter_values(
                    a.iter().map(|v| i64::from(*v)),
                )),
            ),
            TensorData::Bytes(a) => (
                DataType::Utf8,
                Arc::new(StringArray::from_iter_values(
                    a.iter().map(|v| std::str::from_utf8(v).unwrap().to_owned()),
                )),
            ),
            other => panic!("{other:?}"),
        };
        fields.push(Field::new(&tensor.name, dt, true));
        arrays.push(array);
    }
    RecordBatch::try_new(Arc::new(Schema::new(fields)), arrays).unwrap()
}
