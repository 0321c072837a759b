//! Translates an ONNX graph into a [`Program`] of the dense evaluator, or says why it cannot.
//!
//! Accepted: one FP32 input of shape `[rows, k]` with `k` fixed; FP32 initializers and
//! `Constant` nodes stored in the file (not external data), and INT64 vectors as shapes; and
//! these nodes, each with only
//! the attributes listed (any other attribute, domain or op refuses the whole graph, which
//! then runs on tract alone):
//!
//! | op | attributes | semantics (ONNX) |
//! |---|---|---|
//! | `MatMul(x, W)` | | `W` a constant `[k, n]` |
//! | `Gemm(x, W, C?)` | `alpha`, `beta`, `transA = 0`, `transB` | `C` a constant row or scalar |
//! | `Add`, `Sub`, `Mul`, `Div` | | one value and a constant row or scalar, or two values of one width |
//! | `Relu`, `Sigmoid`, `Tanh`, `Exp`, `Neg`, `Abs` | | element-wise |
//! | `LeakyRelu` | `alpha` | element-wise |
//! | `Softmax` | `axis` ∈ {1, -1} | per row |
//! | `Identity`, `Flatten` (`axis` 1), `Cast` (`to` FLOAT) | | no-ops on a `[rows, k]` FP32 value |
//! | `Reshape(x, shape)` | `allowzero` | only to `[-1, k]` or `[0, k]` (no change) |
//! | `ai.onnx.ml.LinearRegressor` | `coefficients`, `intercepts`, `targets`, `post_transform = NONE` | `targets` rows of `k` coefficients |
//!
//! A `MatMul` or `Gemm` whose only reader is an `Add` of a constant row, and an affine step
//! whose only reader is an activation, become one step (the same arithmetic in the same order).

use std::collections::HashMap;

use tract_onnx::pb;
use tract_onnx::pb::tensor_proto::DataType;

use super::dense::{Binary, Operand, Program, Step, Unary, ValueId};

/// A named value of the graph while translating.
#[derive(Clone, Debug)]
enum Value {
    /// A `[rows, width]` value of the program.
    Rows(ValueId),
    /// A constant FP32 tensor.
    Constant { dims: Vec<usize>, data: Vec<f32> },
    /// A constant INT64 vector (the target shape of a `Reshape`).
    Ints(Vec<i64>),
}

/// Translates `graph`, whose one non-initializer input is `input` with fixed width
/// `input_width`, into a program of at most `max_work` multiply-adds per row (a graph over it
/// is refused as soon as it passes it: weights held in attributes are not bounded by the
/// initializer count the caller checked).
pub(super) fn translate(
    graph: &pb::GraphProto,
    input: &str,
    input_width: usize,
    max_work: usize,
) -> Result<Program, String> {
    let mut program = Program::new(input_width);
    let mut values: HashMap<&str, Value> = HashMap::new();
    for tensor in &graph.initializer {
        // Initializers of other types (shapes for a Reshape, say) are refused only if used.
        if let Ok(constant) = constant_of(tensor) {
            values.insert(tensor.name.as_str(), constant);
        }
    }
    values.insert(input, Value::Rows(0));
    let mut readers: HashMap<&str, usize> = HashMap::new();
    for name in graph
        .node
        .iter()
        .flat_map(|n| &n.input)
        .chain(graph.output.iter().map(|o| &o.name))
    {
        *readers.entry(name.as_str()).or_default() += 1;
    }
    for node in &graph.node {
        let made = translate_node(node, &values, &readers, &mut program)
            .map_err(|reason| format!("node {:?} ({}): {reason}", node.name, node.op_type))?;
        let [output] = node.output.as_slice() else {
            return Err(format!(
                "node {:?} ({}) has {} outputs",
                node.name,
                node.op_type,
                node.output.len()
            ));
        };
        values.insert(output.as_str(), made);
        if program.cost_per_row() > max_work {
            return Err(format!(
                "more than {max_work} multiply-adds per row at node {:?}",
                node.name
            ));
        }
    }
    let mut outputs = Vec::with_capacity(graph.output.len());
    for output in &graph.output {
        match values.get(output.name.as_str()) {
            Some(Value::Rows(id)) => outputs.push(*id),
            Some(Value::Constant { .. } | Value::Ints(_)) => {
                return Err(format!("output {:?} is a constant", output.name));
            }
            None => return Err(format!("output {:?} is not made by the graph", output.name)),
        }
    }
    if outputs.is_empty() {
        return Err("the graph has no outputs".into());
    }
    program.finish(outputs);
    Ok(program)
}

/// The value one node makes (possibly by changing the program's last step in place).
fn translate_node(
    node: &pb::NodeProto,
    values: &HashMap<&str, Value>,
    readers: &HashMap<&str, usize>,
    program: &mut Program,
) -> Result<Value, String> {
    let input = |ix: usize| -> Result<&Value, String> {
        let name = node
            .input
            .get(ix)
            .filter(|n| !n.is_empty())
            .ok_or_else(|| format!("input {ix} is missing"))?;
        values
            .get(name.as_str())
            .ok_or_else(|| format!("input {name:?} is not an FP32 value the evaluator knows"))
    };
    let rows = |ix: usize| -> Result<ValueId, String> {
        match input(ix)? {
            Value::Rows(id) => Ok(*id),
            Value::Constant { .. } | Value::Ints(_) => Err(format!("input {ix} is a constant")),
        }
    };
    // Whether input `ix`'s only reader is this node (so its step may absorb this one).
    let sole_reader = |ix: usize| -> bool {
        node.input
            .get(ix)
            .is_some_and(|n| readers.get(n.as_str()) == Some(&1))
    };
    let attrs = Attributes::of(node)?;
    let domain = match node.domain.as_str() {
        "" | "ai.onnx" => "",
        "ai.onnx.ml" => "ai.onnx.ml",
        other => return Err(format!("domain {other:?}")),
    };
    match (domain, node.op_type.as_str()) {
        ("", "Identity") => {
            attrs.only(&[])?;
            Ok(Value::Rows(rows(0)?))
        }
        ("", "Flatten") => {
            attrs.only(&["axis"])?;
            match attrs.int("axis", 1)? {
                1 | -1 => Ok(Value::Rows(rows(0)?)),
                axis => Err(format!("axis {axis}")),
            }
        }
        ("", "Cast") => {
            attrs.only(&["to", "saturate"])?;
            match attrs.int("to", 0)? {
                to if to == DataType::Float as i64 => Ok(Value::Rows(rows(0)?)),
                to => Err(format!("cast to type {to}")),
            }
        }
        ("", "Constant") => {
            attrs.only(&["value", "value_float", "value_floats"])?;
            attrs.constant()
        }
        ("", op @ ("Relu" | "Sigmoid" | "Tanh" | "Exp" | "Neg" | "Abs" | "LeakyRelu")) => {
            let unary = match op {
                "Relu" => Unary::Relu,
                "Sigmoid" => Unary::Sigmoid,
                "Tanh" => Unary::Tanh,
                "Exp" => Unary::Exp,
                "Neg" => Unary::Neg,
                "Abs" => Unary::Abs,
                _ => Unary::LeakyRelu(attrs.float("alpha", 0.01)?),
            };
            attrs.only(if op == "LeakyRelu" { &["alpha"] } else { &[] })?;
            let src = rows(0)?;
            let fusable = matches!(
                unary,
                Unary::Relu | Unary::Sigmoid | Unary::Tanh | Unary::LeakyRelu(_)
            );
            if fusable
                && sole_reader(0)
                && let Some(Step::Affine {
                    then: then @ None, ..
                }) = program.last_step_making(src)
            {
                *then = Some(unary);
                return Ok(Value::Rows(src));
            }
            let width = width_of(program, src)?;
            Ok(Value::Rows(
                program.push(Step::Unary { src, op: unary }, width),
            ))
        }
        ("", "Reshape") => {
            attrs.only(&["allowzero"])?;
            let src = rows(0)?;
            let width = width_of(program, src)?;
            let Value::Ints(shape) = input(1)? else {
                return Err("the shape is not an INT64 constant".into());
            };
            let keeps_rows = attrs.int("allowzero", 0)? == 0;
            // Only the reshapes that leave a [rows, width] value as it is: exporters end
            // regressors with one to make the output 2-D.
            let width = i64::try_from(width).map_err(|_| "width".to_owned())?;
            match shape.as_slice() {
                [-1, w] if *w == width => Ok(Value::Rows(src)),
                [0, w] if keeps_rows && (*w == width || *w == -1) => Ok(Value::Rows(src)),
                other => Err(format!("a reshape to {other:?}")),
            }
        }
        ("", "Softmax") => {
            attrs.only(&["axis"])?;
            match attrs.int("axis", -1)? {
                1 | -1 => {
                    let src = rows(0)?;
                    let width = width_of(program, src)?;
                    Ok(Value::Rows(program.push(Step::Softmax { src }, width)))
                }
                axis => Err(format!("axis {axis}")),
            }
        }
        ("", op @ ("Add" | "Sub" | "Mul" | "Div")) => {
            attrs.only(&[])?;
            let op = match op {
                "Add" => Binary::Add,
                "Sub" => Binary::Sub,
                "Mul" => Binary::Mul,
                _ => Binary::Div,
            };
            binary(
                op,
                input(0)?,
                input(1)?,
                sole_reader(0),
                sole_reader(1),
                program,
            )
        }
        ("", "MatMul") => {
            attrs.only(&[])?;
            let src = rows(0)?;
            let Value::Constant { dims, data } = input(1)? else {
                return Err("the second operand is not a constant".into());
            };
            let [k, n] = dims.as_slice() else {
                return Err(format!("a weight of shape {dims:?} (not 2-D)"));
            };
            affine(program, src, transpose(data, *k, *n), *k, *n, None)
        }
        ("", "Gemm") => {
            attrs.only(&["alpha", "beta", "transA", "transB"])?;
            if attrs.int("transA", 0)? != 0 {
                return Err("transA".into());
            }
            let src = rows(0)?;
            let Value::Constant { dims, data } = input(1)? else {
                return Err("B is not a constant".into());
            };
            let &[rows_b, cols_b] = dims.as_slice() else {
                return Err(format!("B of shape {dims:?} (not 2-D)"));
            };
            let (k, n, mut weights) = if attrs.int("transB", 0)? == 0 {
                (rows_b, cols_b, transpose(data, rows_b, cols_b))
            } else {
                (cols_b, rows_b, data.clone())
            };
            let alpha = attrs.float("alpha", 1.0)?;
            if alpha != 1.0 {
                weights.iter_mut().for_each(|w| *w *= alpha);
            }
            let bias = match node.input.get(2).filter(|n| !n.is_empty()) {
                None => None,
                Some(_) => {
                    let Value::Constant { dims, data } = input(2)? else {
                        return Err("C is not a constant".into());
                    };
                    let row = broadcast_row(dims, data, n)
                        .ok_or_else(|| format!("C of shape {dims:?} for {n} columns"))?;
                    let beta = attrs.float("beta", 1.0)?;
                    Some(row.into_iter().map(|c| beta * c).collect())
                }
            };
            affine(program, src, weights, k, n, bias)
        }
        ("ai.onnx.ml", "LinearRegressor") => {
            attrs.only(&["coefficients", "intercepts", "targets", "post_transform"])?;
            if attrs.string("post_transform", "NONE")? != "NONE" {
                return Err("post_transform other than NONE".into());
            }
            let src = rows(0)?;
            let k = width_of(program, src)?;
            let targets = usize::try_from(attrs.int("targets", 1)?)
                .map_err(|_| "a negative number of targets".to_owned())?;
            let coefficients = attrs.floats("coefficients")?;
            if targets == 0 || coefficients.len() != targets.saturating_mul(k) {
                return Err(format!(
                    "{} coefficients for {targets} targets of {k} features",
                    coefficients.len()
                ));
            }
            let intercepts = attrs.floats("intercepts")?;
            let bias = match intercepts.len() {
                0 => None,
                len if len == targets => Some(intercepts),
                len => return Err(format!("{len} intercepts for {targets} targets")),
            };
            // Coefficients are `targets` rows of `k`: already one row per output.
            affine(program, src, coefficients, k, targets, bias)
        }
        (domain, op) => Err(format!(
            "op {domain}:{op} is not one the dense evaluator runs"
        )),
    }
}

/// Appends `x · Wᵀ + bias` (`weights`: `n` rows of `k`) after checking `x` has width `k`.
fn affine(
    program: &mut Program,
    src: ValueId,
    weights: Vec<f32>,
    k: usize,
    n: usize,
    bias: Option<Vec<f32>>,
) -> Result<Value, String> {
    let width = width_of(program, src)?;
    if width != k {
        return Err(format!("{k} weight rows for a value of width {width}"));
    }
    let step = Step::Affine {
        src,
        weights: weights.into(),
        outputs: n,
        bias: bias.map(Into::into),
        then: None,
    };
    Ok(Value::Rows(program.push(step, n)))
}

/// An element-wise `a ∘ b` of a value and a constant row (either side) or of two values.
fn binary(
    op: Binary,
    a: &Value,
    b: &Value,
    a_sole: bool,
    b_sole: bool,
    program: &mut Program,
) -> Result<Value, String> {
    match (a, b) {
        (Value::Rows(x), Value::Rows(y)) => {
            let (wx, wy) = (width_of(program, *x)?, width_of(program, *y)?);
            if wx != wy {
                return Err(format!("operands of widths {wx} and {wy}"));
            }
            let step = Step::Binary {
                src: *x,
                op,
                operand: Operand::Value(*y),
                swapped: false,
            };
            Ok(Value::Rows(program.push(step, wx)))
        }
        (Value::Rows(x), Value::Constant { dims, data })
        | (Value::Constant { dims, data }, Value::Rows(x)) => {
            let swapped = matches!(a, Value::Constant { .. });
            let sole = if swapped { b_sole } else { a_sole };
            let width = width_of(program, *x)?;
            if dims.len() > 2 || (dims.len() == 2 && dims[0] != 1) {
                return Err(format!("a constant of shape {dims:?}"));
            }
            let row = broadcast_row(dims, data, width)
                .ok_or_else(|| format!("a constant of shape {dims:?} for {width} columns"))?;
            // x·W + c: the bias of the affine step that made x, when nothing else reads x.
            if op == Binary::Add
                && sole
                && let Some(Step::Affine {
                    bias: bias @ None,
                    then: None,
                    ..
                }) = program.last_step_making(*x)
            {
                *bias = Some(row.into());
                return Ok(Value::Rows(*x));
            }
            let operand = Operand::Row(if data.len() == 1 {
                data.clone().into()
            } else {
                row.into()
            });
            let step = Step::Binary {
                src: *x,
                op,
                operand,
                swapped,
            };
            Ok(Value::Rows(program.push(step, width)))
        }
        _ => Err("no operand is a value of the program".into()),
    }
}

/// A constant of shape `[]`, `[1]`, `[n]`, `[1, 1]` or `[1, n]` as a row of `n` numbers.
fn broadcast_row(dims: &[usize], data: &[f32], n: usize) -> Option<Vec<f32>> {
    let last = match dims {
        [] => 1,
        [d] | [1, d] => *d,
        _ => return None,
    };
    match (last, data) {
        (1, [c]) => Some(vec![*c; n]),
        (d, _) if d == n && data.len() == n => Some(data.to_vec()),
        _ => None,
    }
}

/// A `[k, n]` row-major matrix as `n` rows of `k`.
fn transpose(data: &[f32], k: usize, n: usize) -> Vec<f32> {
    (0..n)
        .flat_map(|j| (0..k).map(move |i| data[i * n + j]))
        .collect()
}

fn width_of(program: &Program, id: ValueId) -> Result<usize, String> {
    program
        .width(id)
        .ok_or_else(|| format!("value {id} is unknown"))
}

/// An FP32 tensor stored in the file, as a constant.
fn constant_of(tensor: &pb::TensorProto) -> Result<Value, String> {
    if tensor.data_location == Some(pb::tensor_proto::DataLocation::External as i32)
        || !tensor.external_data.is_empty()
        || tensor.segment.is_some()
    {
        return Err(format!(
            "tensor {:?} is stored outside the file",
            tensor.name
        ));
    }
    let dims = tensor
        .dims
        .iter()
        .map(|&d| usize::try_from(d).map_err(|_| format!("dimension {d}")))
        .collect::<Result<Vec<usize>, String>>()?;
    let count = dims
        .iter()
        .try_fold(1usize, |acc, &d| acc.checked_mul(d))
        .ok_or("too many elements")?;
    if tensor.data_type == DataType::Int64 as i32 && dims.len() == 1 {
        let data: Vec<i64> = if tensor.raw_data.is_empty() {
            tensor.int64_data.clone()
        } else {
            tensor
                .raw_data
                .chunks_exact(8)
                .map(|b| i64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]))
                .collect()
        };
        if data.len() != count
            || (!tensor.raw_data.is_empty() && tensor.raw_data.len() != count * 8)
        {
            return Err(format!(
                "tensor {:?} holds {} numbers for shape {dims:?}",
                tensor.name,
                data.len()
            ));
        }
        return Ok(Value::Ints(data));
    }
    if tensor.data_type != DataType::Float as i32 {
        return Err(format!(
            "tensor {:?} is neither FP32 nor an INT64 vector",
            tensor.name
        ));
    }
    let data: Vec<f32> = if tensor.raw_data.is_empty() {
        tensor.float_data.clone()
    } else {
        tensor
            .raw_data
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect()
    };
    if data.len() != count || (!tensor.raw_data.is_empty() && tensor.raw_data.len() != count * 4) {
        return Err(format!(
            "tensor {:?} holds {} numbers for shape {dims:?}",
            tensor.name,
            data.len()
        ));
    }
    Ok(Value::Constant { dims, data })
}

/// A node's attributes by name.
struct Attributes<'a> {
    by_name: HashMap<&'a str, &'a pb::AttributeProto>,
}

impl<'a> Attributes<'a> {
    fn of(node: &'a pb::NodeProto) -> Result<Self, String> {
        let mut by_name = HashMap::new();
        for attribute in &node.attribute {
            if !attribute.ref_attr_name.is_empty() {
                return Err(format!(
                    "attribute {:?} refers to a function's",
                    attribute.name
                ));
            }
            if by_name.insert(attribute.name.as_str(), attribute).is_some() {
                return Err(format!("attribute {:?} is given twice", attribute.name));
            }
        }
        Ok(Self { by_name })
    }

    /// Refuses attributes not in `known`.
    fn only(&self, known: &[&str]) -> Result<(), String> {
        match self.by_name.keys().find(|name| !known.contains(name)) {
            Some(name) => Err(format!("attribute {name:?}")),
            None => Ok(()),
        }
    }

    fn typed(
        &self,
        name: &str,
        kind: pb::attribute_proto::AttributeType,
    ) -> Option<Result<&'a pb::AttributeProto, String>> {
        self.by_name.get(name).map(|a| {
            // Files from before attribute types were recorded leave the type unset (0).
            if a.r#type == kind as i32 || a.r#type == 0 {
                Ok(*a)
            } else {
                Err(format!("attribute {name:?} has type {}", a.r#type))
            }
        })
    }

    fn int(&self, name: &str, default: i64) -> Result<i64, String> {
        use pb::attribute_proto::AttributeType;
        self.typed(name, AttributeType::Int)
            .map_or(Ok(default), |a| a.map(|a| a.i))
    }

    fn float(&self, name: &str, default: f32) -> Result<f32, String> {
        use pb::attribute_proto::AttributeType;
        self.typed(name, AttributeType::Float)
            .map_or(Ok(default), |a| a.map(|a| a.f))
    }

    fn floats(&self, name: &str) -> Result<Vec<f32>, String> {
        use pb::attribute_proto::AttributeType;
        self.typed(name, AttributeType::Floats)
            .map_or(Ok(Vec::new()), |a| a.map(|a| a.floats.clone()))
    }

    fn string(&self, name: &str, default: &str) -> Result<String, String> {
        use pb::attribute_proto::AttributeType;
        self.typed(name, AttributeType::String)
            .map_or(Ok(default.to_owned()), |a| {
                a.and_then(|a| {
                    String::from_utf8(a.s.clone())
                        .map_err(|_| format!("attribute {name:?} is not UTF-8"))
                })
            })
    }

    /// The value of a `Constant` node.
    fn constant(&self) -> Result<Value, String> {
        use pb::attribute_proto::AttributeType;
        if let Some(a) = self.typed("value", AttributeType::Tensor) {
            let tensor = a?.t.as_ref().ok_or("attribute \"value\" holds no tensor")?;
            return constant_of(tensor);
        }
        if let Some(a) = self.typed("value_float", AttributeType::Float) {
            return Ok(Value::Constant {
                dims: Vec::new(),
                data: vec![a?.f],
            });
        }
        if let Some(a) = self.typed("value_floats", AttributeType::Floats) {
            let data = a?.floats.clone();
            return Ok(Value::Constant {
                dims: vec![data.len()],
                data,
            });
        }
        Err("a Constant without an FP32 value".into())
    }
}
