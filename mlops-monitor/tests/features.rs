//! Tensor columns named from the signature, the tensor names or the profile's order.

use std::sync::Arc;

use mlops_drift::arrow_array::cast::AsArray;
use mlops_drift::arrow_array::types::Float64Type;
use mlops_drift::arrow_array::{Float64Array, RecordBatch};
use mlops_drift::arrow_schema::{DataType, Field, Schema};
use mlops_drift::{DriftOptions, ReferenceProfile};
use mlops_monitor::{FeatureMap, SignatureSchemas};
use mlops_serve::{Datatype, ModelMetadata, Tensor, TensorData, TensorSpec};

fn profile(names: &[&str]) -> ReferenceProfile {
    let fields: Vec<Field> = names
        .iter()
        .map(|n| Field::new(*n, DataType::Float64, true))
        .collect();
    let columns = names
        .iter()
        .map(|_| Arc::new(Float64Array::from(vec![1.0, 2.0, 3.0])) as _)
        .collect();
    let batch = RecordBatch::try_new(Arc::new(Schema::new(fields)), columns).unwrap();
    ReferenceProfile::build(&[batch], &DriftOptions::default()).unwrap()
}

fn metadata(inputs: Vec<TensorSpec>, outputs: Vec<TensorSpec>) -> ModelMetadata {
    let mut m = ModelMetadata {
        name: "m".into(),
        version: Some("1".into()),
        platform: "test".into(),
        inputs: Vec::new(),
        outputs: Vec::new(),
    };
    m.inputs = inputs;
    m.outputs = outputs;
    m
}

fn column(batch: &RecordBatch, name: &str) -> Vec<f64> {
    batch
        .column_by_name(name)
        .unwrap()
        .as_primitive::<Float64Type>()
        .values()
        .to_vec()
}

#[test]
fn a_wide_input_takes_the_profile_order_and_outputs_their_names() {
    let meta = metadata(
        vec![TensorSpec::new("input", Datatype::Fp32, vec![-1, 2])],
        vec![TensorSpec::new("score", Datatype::Fp64, vec![-1, 1])],
    );
    let map = FeatureMap::new(
        &meta,
        SignatureSchemas::default(),
        &profile(&["a", "score", "b"]),
    )
    .unwrap();
    assert_eq!(map.features().collect::<Vec<_>>(), ["a", "b", "score"]);
    let inputs = [Tensor::new(
        "input",
        TensorData::from_vec(&[2, 2], vec![1.0f32, 2.0, 3.0, 4.5]).unwrap(),
    )];
    let outputs = [Tensor::new(
        "score",
        TensorData::from_vec(&[2, 1], vec![0.25f64, 0.75]).unwrap(),
    )];
    let batch = map.batch(&inputs, &outputs).unwrap();
    assert_eq!(column(&batch, "a"), [1.0, 3.0]);
    assert_eq!(column(&batch, "b"), [2.0, 4.5]);
    assert_eq!(column(&batch, "score"), [0.25, 0.75]);
}

#[test]
fn the_signature_names_a_wide_input_first() {
    let meta = metadata(
        vec![TensorSpec::new("input", Datatype::Fp64, vec![-1, 2])],
        vec![],
    );
    let inputs = Schema::new(vec![
        Field::new("b", DataType::Float64, false),
        Field::new("a", DataType::Float64, false),
    ]);
    let signature = SignatureSchemas {
        inputs: Some(&inputs),
        outputs: None,
    };
    let map = FeatureMap::new(&meta, signature, &profile(&["a", "b"])).unwrap();
    assert_eq!(map.features().collect::<Vec<_>>(), ["b", "a"]);
    let t = [Tensor::new(
        "input",
        TensorData::from_vec(&[1, 2], vec![7.0f64, 8.0]).unwrap(),
    )];
    let batch = map.batch(&t, &[]).unwrap();
    assert_eq!(
        (column(&batch, "b"), column(&batch, "a")),
        (vec![7.0], vec![8.0])
    );
}

#[test]
fn one_tensor_per_feature_is_named_by_tensor_and_unknown_names_are_skipped() {
    let meta = metadata(
        vec![
            TensorSpec::new("a", Datatype::Int32, vec![-1]),
            TensorSpec::new("extra", Datatype::Fp32, vec![-1, 1]),
            TensorSpec::new("b", Datatype::Fp32, vec![-1, 1]),
        ],
        vec![],
    );
    let map = FeatureMap::new(&meta, SignatureSchemas::default(), &profile(&["a", "b"])).unwrap();
    assert_eq!(map.features().collect::<Vec<_>>(), ["a", "b"]);
    let t = [
        Tensor::new("a", TensorData::from_vec(&[2], vec![1i32, 2]).unwrap()),
        Tensor::new(
            "extra",
            TensorData::from_vec(&[2, 1], vec![0.0f32, 0.0]).unwrap(),
        ),
        Tensor::new(
            "b",
            TensorData::from_vec(&[2, 1], vec![0.5f32, 1.5]).unwrap(),
        ),
    ];
    let batch = map.batch(&t, &[]).unwrap();
    assert_eq!(
        batch.column_by_name("a").unwrap().data_type(),
        &DataType::Int64
    );
    assert_eq!(column(&batch, "b"), [0.5, 1.5]);
    // Tensors that disagree on rows are refused, naming the tensor.
    let bad = [
        t[0].clone(),
        t[1].clone(),
        Tensor::new("b", TensorData::from_vec(&[1, 1], vec![0.5f32]).unwrap()),
    ];
    let e = map.batch(&bad, &[]).unwrap_err().to_string();
    assert!(e.contains("\"b\"") && e.contains("rows"), "{e}");
}

#[test]
fn an_unnameable_wide_input_is_refused_naming_the_counts() {
    let meta = metadata(
        vec![TensorSpec::new("input", Datatype::Fp32, vec![-1, 3])],
        vec![],
    );
    let e = FeatureMap::new(&meta, SignatureSchemas::default(), &profile(&["a", "b"]))
        .unwrap_err()
        .to_string();
    assert!(e.contains("3 columns") && e.contains("it has 2"), "{e}");
    let none = metadata(vec![TensorSpec::new("z", Datatype::Fp32, vec![-1])], vec![]);
    assert!(FeatureMap::new(&none, SignatureSchemas::default(), &profile(&["a"])).is_err());
}
