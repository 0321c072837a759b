//! A version shipped with its fitted feature transform: clients send raw columns, and the
//! served prediction equals the training code's on the same rows, bit for bit.

use std::sync::Arc;

use arrow_array::{ArrayRef, Float64Array, RecordBatch, StringArray};
use mlops_serve::runtime::linear::LinearFile;
use mlops_serve::runtime::{self, load_bytes};
use mlops_serve::{Datatype, ModelFile, Server, Tensor, TensorData};
use mlops_transform::{
    DatePart, FeatureSpec, FittedTransform, Impute, Step, TransformSpec, Unknown,
};
use serde_json::json;

use crate::util::{app, expect_error};

fn raw() -> RecordBatch {
    RecordBatch::try_from_iter([
        (
            "distance",
            Arc::new(Float64Array::from(vec![
                Some(1.2),
                None,
                Some(7.5),
                Some(3.0),
            ])) as ArrayRef,
        ),
        (
            "payment",
            Arc::new(StringArray::from(vec!["card", "cash", "card", "cash"])) as ArrayRef,
        ),
        (
            "pickup",
            Arc::new(StringArray::from(vec![
                "2026-11-29T08:10:00Z",
                "2026-11-30T17:45:00Z",
                "2026-12-01T23:05:00Z",
                "2026-12-02T12:00:00Z",
            ])) as ArrayRef,
        ),
    ])
    .unwrap()
}

fn spec(scale_distance: bool) -> TransformSpec {
    let mut distance = FeatureSpec::new("distance").then(Step::Impute {
        strategy: Impute::Median,
    });
    if scale_distance {
        distance = distance.then(Step::Standardize);
    }
    TransformSpec {
        features: vec![
            distance,
            FeatureSpec::new("payment").then(Step::OneHot {
                unknown: Unknown::Error,
            }),
            FeatureSpec::new("pickup").then(Step::DatePart {
                part: DatePart::Hour,
            }),
        ],
    }
}

fn model_json(datatype: &str) -> Vec<u8> {
    let mut file = LinearFile::linear(vec![vec![2.5, 1.0, 0.25, 0.1]], vec![3.0]);
    file.datatype = datatype.into();
    serde_json::to_vec(&file).unwrap()
}

fn file(path: &str, bytes: Vec<u8>) -> ModelFile {
    ModelFile::new(path, bytes)
}

fn files(fitted: &FittedTransform, datatype: &str) -> Vec<ModelFile> {
    vec![
        file("model.json", model_json(datatype)),
        file("transform.json", fitted.to_json()),
    ]
}

/// What training computes: the transform's matrix through the same model file.
fn training_predictions(fitted: &FittedTransform, datatype: &str) -> Vec<f64> {
    let x = fitted.apply(&raw()).unwrap();
    let model = load_bytes(&model_json(datatype), "model.json", "fare", None).unwrap();
    let (rows, cols) = x.dim();
    let data = match datatype {
        "FP32" => {
            TensorData::from_vec(&[rows, cols], x.iter().map(|v| *v as f32).collect()).unwrap()
        }
        _ => TensorData::from_vec(&[rows, cols], x.into_raw_vec_and_offset().0).unwrap(),
    };
    let out = model.infer(vec![Tensor::new("input", data)]).unwrap();
    match &out[0].data {
        TensorData::Fp32(a) => a.iter().map(|v| f64::from(*v)).collect(),
        TensorData::Fp64(a) => a.iter().copied().collect(),
        other => panic!("{other:?}"),
    }
}

fn raw_request() -> serde_json::Value {
    json!({"inputs": [
        {"name": "distance", "datatype": "FP64", "shape": [4], "data": [1.2, "NaN", 7.5, 3.0]},
        {"name": "payment", "datatype": "BYTES", "shape": [4], "data": ["card", "cash", "card", "cash"]},
        {"name": "pickup", "datatype": "BYTES", "shape": [4],
         "data": ["2026-11-29T08:10:00Z", "2026-11-30T17:45:00Z", "2026-12-01T23:05:00Z", "2026-12-02T12:00:00Z"]}
    ]})
}

async fn served(files: &[ModelFile]) -> (u16, serde_json::Value) {
    let model = runtime::load_files(files, "fare", Some("3")).unwrap();
    let server = Server::builder().model(model).build().unwrap();
    let app = app(server);
    let reply = app
        .client
        .post("/v2/models/fare/infer")
        .json(&raw_request())
        .send()
        .await
        .unwrap();
    let status = reply.status().as_u16();
    (status, reply.json().await.unwrap())
}

fn outputs(body: &serde_json::Value) -> Vec<f64> {
    body["outputs"][0]["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_f64().unwrap())
        .collect()
}

#[tokio::test]
async fn raw_columns_in_training_predictions_out_bit_for_bit() {
    for datatype in ["FP64", "FP32"] {
        let fitted = spec(true).fit(&[raw()]).unwrap();
        let model = runtime::load_files(&files(&fitted, datatype), "fare", Some("3")).unwrap();
        let meta = model.metadata();
        let inputs: Vec<(&str, Datatype)> = meta
            .inputs
            .iter()
            .map(|s| (s.name.as_str(), s.datatype))
            .collect();
        assert_eq!(
            inputs,
            [
                ("distance", Datatype::Fp64),
                ("payment", Datatype::Bytes),
                ("pickup", Datatype::Bytes)
            ]
        );
        let (status, body) = served(&files(&fitted, datatype)).await;
        assert_eq!(status, 200, "{body}");
        let got = outputs(&body);
        let want = training_predictions(&fitted, datatype);
        assert_eq!(got.len(), 4);
        for (g, w) in got.iter().zip(&want) {
            // FP32 answers travel as the shortest text of the f32: compare as f32.
            let same = if datatype == "FP32" {
                (*g as f32).to_bits() == (*w as f32).to_bits()
            } else {
                g.to_bits() == w.to_bits()
            };
            assert!(same, "{datatype}: served {g} vs training {w}");
        }
    }
}

#[tokio::test]
async fn the_served_result_follows_the_registered_transform_not_the_code() {
    // Two versions of the same model file, fitted with different specs: each serves its own.
    let plain = spec(false).fit(&[raw()]).unwrap();
    let scaled = spec(true).fit(&[raw()]).unwrap();
    let (_, a) = served(&files(&plain, "FP64")).await;
    let (_, b) = served(&files(&scaled, "FP64")).await;
    assert_eq!(outputs(&a), training_predictions(&plain, "FP64"));
    assert_eq!(outputs(&b), training_predictions(&scaled, "FP64"));
    assert_ne!(outputs(&a), outputs(&b));
}

#[tokio::test]
async fn unseen_categories_and_bad_inputs_are_the_clients_errors() {
    let fitted = spec(true).fit(&[raw()]).unwrap();
    let model = runtime::load_files(&files(&fitted, "FP64"), "fare", None).unwrap();
    let app = app(Server::builder().model(model).build().unwrap());
    let mut request = raw_request();
    request["inputs"][1]["data"][2] = json!("voucher");
    let reply = app
        .client
        .post("/v2/models/fare/infer")
        .json(&request)
        .send()
        .await
        .unwrap();
    let m = expect_error(reply, 400, "unknown category \"voucher\"").await;
    assert!(m.contains("row 2") && m.contains("payment"), "{m}");
    let mut request = raw_request();
    request["inputs"][2]["data"][0] = json!("yesterday");
    let reply = app
        .client
        .post("/v2/models/fare/infer")
        .json(&request)
        .send()
        .await
        .unwrap();
    expect_error(reply, 400, "\"yesterday\" is not a date-time").await;
}

#[test]
fn a_transform_that_does_not_fit_the_model_or_is_damaged_is_refused_at_load() {
    let fitted = spec(true).fit(&[raw()]).unwrap();
    // A model with 3 features behind a transform with 4 outputs.
    let three =
        serde_json::to_vec(&LinearFile::linear(vec![vec![1.0, 1.0, 1.0]], vec![0.0])).unwrap();
    let err = runtime::load_files(
        &[
            file("model.json", three),
            file("transform.json", fitted.to_json()),
        ],
        "fare",
        None,
    )
    .err()
    .unwrap()
    .to_string();
    assert!(err.contains("[-1, 4]"), "{err}");
    let mut damaged: serde_json::Value = serde_json::from_slice(&fitted.to_json()).unwrap();
    damaged["features"][0]["steps"][1]["scale"] = json!(0.0);
    let err = runtime::load_files(
        &[
            file("model.json", model_json("FP64")),
            file("transform.json", serde_json::to_vec(&damaged).unwrap()),
        ],
        "fare",
        None,
    )
    .err()
    .unwrap()
    .to_string();
    assert!(
        err.contains("transform.json") && err.contains("scale is 0"),
        "{err}"
    );
    let two = [
        file("model.json", model_json("FP64")),
        file("a.json", fitted.to_json()),
        file("b.json", fitted.to_json()),
    ];
    assert!(
        runtime::load_files(&two, "fare", None)
            .err()
            .unwrap()
            .to_string()
            .contains("several feature transforms")
    );
}
