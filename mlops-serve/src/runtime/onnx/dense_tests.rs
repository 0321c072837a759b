//! The dense evaluator against tract on graphs built here: every translated graph answers
//! random inputs of 1 to 7 rows as tract's plan does, and graphs it must not run stay on tract.

use tract_onnx::pb;
use tract_onnx::pb::attribute_proto::AttributeType;
use tract_onnx::pb::tensor_proto::DataType;
use tract_onnx::pb::tensor_shape_proto::{Dimension, dimension::Value as DimValue};
use tract_onnx::pb::type_proto::{Tensor as TensorTypeProto, Value as TypeValue};

use super::*;

/// A small deterministic generator (xorshift), for weights and inputs.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> f32 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        // 24 random bits in [-1, 1).
        ((self.0 >> 40) as f32 / (1u64 << 23) as f32) - 1.0
    }

    fn vec(&mut self, n: usize) -> Vec<f32> {
        (0..n).map(|_| self.next()).collect()
    }
}

fn float_input(name: &str, width: Option<i64>) -> pb::ValueInfoProto {
    let dim = |value: Option<DimValue>| Dimension {
        value,
        ..Default::default()
    };
    pb::ValueInfoProto {
        name: name.into(),
        r#type: Some(pb::TypeProto {
            value: Some(TypeValue::TensorType(TensorTypeProto {
                elem_type: DataType::Float as i32,
                shape: Some(pb::TensorShapeProto {
                    dim: vec![dim(None), dim(width.map(DimValue::DimValue))],
                }),
            })),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// An FP32 initializer, stored as raw bytes or as `float_data` (both are valid ONNX).
fn weights(name: &str, dims: &[i64], data: Vec<f32>, raw: bool) -> pb::TensorProto {
    let mut tensor = pb::TensorProto {
        name: name.into(),
        dims: dims.to_vec(),
        data_type: DataType::Float as i32,
        ..Default::default()
    };
    if raw {
        tensor.raw_data = data.iter().flat_map(|v| v.to_le_bytes()).collect();
    } else {
        tensor.float_data = data;
    }
    tensor
}

enum Attr {
    Int(i64),
    Float(f32),
    Floats(Vec<f32>),
    Text(&'static str),
}

fn node(op: &str, inputs: &[&str], output: &str, attrs: Vec<(&str, Attr)>) -> pb::NodeProto {
    let domain = if op == "LinearRegressor" {
        "ai.onnx.ml"
    } else {
        ""
    };
    pb::NodeProto {
        input: inputs.iter().map(|s| (*s).to_owned()).collect(),
        output: vec![output.into()],
        name: format!("{op}_{output}"),
        op_type: op.into(),
        domain: domain.into(),
        attribute: attrs
            .into_iter()
            .map(|(name, value)| {
                let mut a = pb::AttributeProto {
                    name: name.into(),
                    ..Default::default()
                };
                match value {
                    Attr::Int(i) => (a.i, a.r#type) = (i, AttributeType::Int as i32),
                    Attr::Float(f) => (a.f, a.r#type) = (f, AttributeType::Float as i32),
                    Attr::Floats(v) => (a.floats, a.r#type) = (v, AttributeType::Floats as i32),
                    Attr::Text(s) => {
                        (a.s, a.r#type) = (s.as_bytes().to_vec(), AttributeType::String as i32);
                    }
                }
                a
            })
            .collect(),
        ..Default::default()
    }
}

fn model(
    width: i64,
    nodes: Vec<pb::NodeProto>,
    initializer: Vec<pb::TensorProto>,
    outputs: &[&str],
) -> pb::ModelProto {
    let opset = |domain: &str, version| pb::OperatorSetIdProto {
        domain: domain.into(),
        version,
    };
    pb::ModelProto {
        ir_version: 8,
        opset_import: vec![opset("", 17), opset("ai.onnx.ml", 3)],
        graph: Some(pb::GraphProto {
            node: nodes,
            name: "g".into(),
            initializer,
            input: vec![float_input("x", Some(width))],
            output: outputs.iter().map(|o| float_input(o, None)).collect(),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// Loads `proto`, checks whether the dense program was taken, and when it was, compares its
/// answers with tract's on random inputs of 1 to 7 rows.
fn check(proto: &pb::ModelProto, width: usize, dense: bool, rng: &mut Rng) {
    let model = OnnxModel::from_proto(proto, None, "m", None).expect("tract loads the graph");
    assert_eq!(model.has_dense_program(), dense, "{:?}", proto.graph);
    if !dense {
        return;
    }
    for rows in 1..=7 {
        let x = rng.vec(rows * width);
        let input = Tensor::new(
            "x",
            TensorData::from_vec(&[rows, width], x.clone()).unwrap(),
        );
        let ours = model
            .run_dense(std::slice::from_ref(&input))
            .expect("dense runs");
        let tensor = ArrayD::from_shape_vec(vec![rows, width], x).unwrap();
        let theirs = model.plan.run(tvec![tensor.into_tvalue()]).unwrap();
        assert_eq!(ours.len(), theirs.len());
        for (a, b) in ours.iter().zip(theirs) {
            let b = from_tract(b).unwrap();
            let (a, b) = (
                a.data.as_array::<f32>().unwrap(),
                b.as_array::<f32>().unwrap(),
            );
            assert_eq!(a.shape(), b.shape());
            for (x, y) in a.iter().zip(b) {
                assert!(
                    (x - y).abs() <= 1e-5 * (1.0 + y.abs()),
                    "{x} vs tract {y} ({rows} rows)"
                );
            }
        }
    }
}

#[test]
fn multi_layer_perceptrons_answer_as_tract() {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    for (k, h1, h2, raw) in [(4, 8, 3, true), (13, 32, 16, false), (1, 1, 1, true)] {
        let proto = model(
            k as i64,
            vec![
                node(
                    "Gemm",
                    &["x", "w1", "b1"],
                    "g1",
                    vec![("transB", Attr::Int(1))],
                ),
                node("Relu", &["g1"], "r1", vec![]),
                node("MatMul", &["r1", "w2"], "m2", vec![]),
                node("Add", &["b2", "m2"], "a2", vec![]),
                node("Tanh", &["a2"], "t2", vec![]),
                node(
                    "Gemm",
                    &["t2", "w3", "b3"],
                    "g3",
                    vec![("alpha", Attr::Float(0.5)), ("beta", Attr::Float(2.0))],
                ),
                node("Sigmoid", &["g3"], "y", vec![]),
            ],
            vec![
                weights("w1", &[h1, k as i64], rng.vec(h1 as usize * k), raw),
                weights("b1", &[h1], rng.vec(h1 as usize), raw),
                weights("w2", &[h1, h2], rng.vec((h1 * h2) as usize), !raw),
                weights("b2", &[1, h2], rng.vec(h2 as usize), raw),
                weights("w3", &[h2, 2], rng.vec(h2 as usize * 2), raw),
                weights("b3", &[], vec![0.25], raw),
            ],
            &["y"],
        );
        check(&proto, k, true, &mut rng);
    }
}

#[test]
fn element_wise_ops_and_several_outputs_answer_as_tract() {
    let mut rng = Rng(42);
    let proto = model(
        5,
        vec![
            node("Sub", &["c", "x"], "s", vec![]),
            node("Mul", &["s", "x"], "m", vec![]),
            node("Div", &["m", "two"], "d", vec![]),
            node("Abs", &["d"], "a", vec![]),
            node("Neg", &["a"], "n", vec![]),
            node("Exp", &["n"], "e", vec![]),
            node("LeakyRelu", &["d"], "l", vec![("alpha", Attr::Float(0.2))]),
            node("Softmax", &["l"], "soft", vec![("axis", Attr::Int(1))]),
            node("Add", &["soft", "e"], "sum", vec![]),
            node("Identity", &["x"], "same", vec![]),
            node("Flatten", &["sum"], "flat", vec![]),
            node("Cast", &["flat"], "cast", vec![("to", Attr::Int(1))]),
        ],
        vec![
            weights("c", &[5], rng.vec(5), true),
            weights("two", &[1], vec![2.0], false),
        ],
        &["cast", "same", "d", "e"],
    );
    check(&proto, 5, true, &mut rng);
}

#[test]
fn linear_regressors_and_constant_nodes_answer_as_tract() {
    let mut rng = Rng(7);
    let scale = node(
        "Constant",
        &[],
        "k",
        vec![("value_floats", Attr::Floats(vec![3.0, -1.0, 0.5]))],
    );
    let proto = model(
        6,
        vec![
            node(
                "LinearRegressor",
                &["x"],
                "lr",
                vec![
                    ("coefficients", Attr::Floats(rng.vec(18))),
                    ("intercepts", Attr::Floats(rng.vec(3))),
                    ("targets", Attr::Int(3)),
                    ("post_transform", Attr::Text("NONE")),
                ],
            ),
            scale,
            node("Mul", &["lr", "k"], "y", vec![]),
        ],
        vec![],
        &["y"],
    );
    check(&proto, 6, true, &mut rng);
}

#[test]
fn graphs_outside_the_dense_subset_stay_on_tract() {
    let mut rng = Rng(3);
    let w = || {
        weights(
            "w",
            &[4, 2],
            vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0],
            true,
        )
    };
    // An op the evaluator does not know.
    let sin = model(4, vec![node("Sin", &["x"], "y", vec![])], vec![], &["y"]);
    check(&sin, 4, false, &mut rng);
    // A transposed activation.
    let trans_a = model(
        4,
        vec![node(
            "Gemm",
            &["w", "x"],
            "y",
            vec![("transA", Attr::Int(1))],
        )],
        vec![w()],
        &["y"],
    );
    assert!(translate(&trans_a, 4).is_err());
    // Weights that are an input of the graph, not a constant.
    let runtime_weights = model(
        4,
        vec![node("MatMul", &["x", "x"], "y", vec![])],
        vec![],
        &["y"],
    );
    assert!(translate(&runtime_weights, 4).is_err());
    // An attribute the evaluator does not know.
    let odd = model(
        4,
        vec![node(
            "Relu",
            &["x"],
            "y",
            vec![("consumed_inputs", Attr::Int(1))],
        )],
        vec![],
        &["y"],
    );
    assert!(translate(&odd, 4).is_err());
    // A link function on the regressor.
    let probit = model(
        4,
        vec![node(
            "LinearRegressor",
            &["x"],
            "y",
            vec![
                ("coefficients", Attr::Floats(vec![1.0; 4])),
                ("post_transform", Attr::Text("PROBIT")),
            ],
        )],
        vec![],
        &["y"],
    );
    assert!(translate(&probit, 4).is_err());
    // Weights of the wrong width.
    let wrong = model(
        4,
        vec![node("MatMul", &["x", "w"], "y", vec![])],
        vec![weights("w", &[3, 2], vec![0.0; 6], true)],
        &["y"],
    );
    assert!(translate(&wrong, 4).is_err());
}

fn translate(proto: &pb::ModelProto, width: usize) -> Result<dense::Program, String> {
    dense_graph::translate(proto.graph.as_ref().unwrap(), "x", width, DENSE_MAX_WORK)
}

#[test]
fn oversized_graphs_are_refused_before_any_work() {
    let mut rng = Rng(5);
    // A declared input width no probe could afford (the file costs nothing to write).
    let wide = model(
        1 << 40,
        vec![node("Relu", &["x"], "y", vec![])],
        vec![],
        &["y"],
    );
    check(&wide, 1 << 40, false, &mut rng);
    // Weights in an attribute, which the initializer count does not see.
    let heavy = model(
        256,
        vec![node(
            "LinearRegressor",
            &["x"],
            "y",
            vec![
                ("coefficients", Attr::Floats(vec![0.5; 256 * 257])),
                ("targets", Attr::Int(257)),
            ],
        )],
        vec![],
        &["y"],
    );
    let err = translate(&heavy, 256).expect_err("over the budget");
    assert!(err.contains("multiply-adds per row"), "{err}");
    check(&heavy, 256, false, &mut rng);
}

#[test]
fn large_batches_run_on_tract() {
    let mut rng = Rng(11);
    let (k, n) = (64, 64);
    let proto = model(
        k,
        vec![node("MatMul", &["x", "w"], "y", vec![])],
        vec![weights("w", &[k, n], rng.vec((k * n) as usize), true)],
        &["y"],
    );
    let model = OnnxModel::from_proto(&proto, None, "m", None).unwrap();
    assert!(model.has_dense_program());
    let rows = DENSE_MAX_WORK / (k * n) as usize;
    let input = |rows: usize| {
        let x = TensorData::from_vec(&[rows, k as usize], vec![0.5f32; rows * k as usize]).unwrap();
        vec![Tensor::new("x", x)]
    };
    assert!(model.run_dense(&input(rows)).is_some());
    assert!(model.run_dense(&input(rows + 1)).is_none());
    // Both paths give the same answer through `infer`.
    let small = model.infer(input(rows)).unwrap();
    let large = model.infer(input(rows + 1)).unwrap();
    let small = small[0].data.as_array::<f32>().unwrap();
    let large = large[0].data.as_array::<f32>().unwrap();
    for (a, b) in small.iter().zip(large.iter()) {
        assert!((a - b).abs() <= 1e-4 * (1.0 + b.abs()), "{a} vs {b}");
    }
}
