//! A straight-line evaluator for small dense FP32 graphs: linear models, logistic links and
//! multi-layer perceptrons, the shapes of most scikit-learn and PyTorch tabular exports.
//!
//! Why it exists: on a one-row request to a model of a few hundred weights, tract's fixed cost
//! per call (its state machine, packing the operands for its matrix kernels, and the plan's
//! bookkeeping) is about ten times the arithmetic, and it was the largest single cost of
//! serving such a model. This program does the arithmetic on plain row-major slices and
//! nothing else.
//!
//! It is a fast path, never the only path: [`super::dense_graph`] translates a graph only when
//! every node is one it knows with attributes it understands, and the model uses the program
//! only after it answered a probe input the same as tract's plan (see
//! [`Program::agrees_with`]). Everything else (other ops, types, shapes, large batches) runs
//! on tract.
//!
//! Every value of the program is a `[rows, width]` FP32 matrix, stored row-major; value 0 is
//! the input. Steps run in order and each makes one new value.

/// The index of a value: 0 is the model's input, step `i` makes value `i + 1`.
pub(super) type ValueId = usize;

/// An element-wise function.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(super) enum Unary {
    /// `max(x, 0)`.
    Relu,
    /// `x` when positive, `alpha·x` otherwise.
    LeakyRelu(f32),
    /// `1 / (1 + e^-x)`.
    Sigmoid,
    /// `tanh(x)`.
    Tanh,
    /// `e^x`.
    Exp,
    /// `-x`.
    Neg,
    /// `|x|`.
    Abs,
}

impl Unary {
    #[inline]
    fn apply(self, x: f32) -> f32 {
        match self {
            Self::Relu => {
                // ONNX Relu keeps NaN (max(NaN, 0) in f32::max would turn it into 0).
                if x < 0.0 { 0.0 } else { x }
            }
            Self::LeakyRelu(alpha) => {
                if x < 0.0 {
                    alpha * x
                } else {
                    x
                }
            }
            Self::Sigmoid => 1.0 / (1.0 + (-x).exp()),
            Self::Tanh => x.tanh(),
            Self::Exp => x.exp(),
            Self::Neg => -x,
            Self::Abs => x.abs(),
        }
    }
}

/// An element-wise function of two values.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Binary {
    Add,
    Sub,
    Mul,
    Div,
}

impl Binary {
    #[inline]
    fn apply(self, a: f32, b: f32) -> f32 {
        match self {
            Self::Add => a + b,
            Self::Sub => a - b,
            Self::Mul => a * b,
            Self::Div => a / b,
        }
    }
}

/// The second operand of a [`Step::Binary`].
#[derive(Clone, Debug, PartialEq)]
pub(super) enum Operand {
    /// A constant row broadcast over every row: as many numbers as the value's width, or one.
    Row(Box<[f32]>),
    /// Another value of the same width.
    Value(ValueId),
}

/// One step of the program.
#[derive(Clone, Debug, PartialEq)]
pub(super) enum Step {
    /// `y = x · Wᵀ + b`, then `then` element-wise: `weights` holds `outputs` rows of the
    /// input's width (one row of coefficients per output column).
    Affine {
        src: ValueId,
        weights: Box<[f32]>,
        outputs: usize,
        bias: Option<Box<[f32]>>,
        then: Option<Unary>,
    },
    /// `y = f(x)` element-wise.
    Unary { src: ValueId, op: Unary },
    /// `y = x ∘ operand` (or `operand ∘ x` when `swapped`), broadcasting a row.
    Binary {
        src: ValueId,
        op: Binary,
        operand: Operand,
        swapped: bool,
    },
    /// The softmax of each row.
    Softmax { src: ValueId },
}

impl Step {
    /// The values this step reads.
    fn reads(&self) -> impl Iterator<Item = ValueId> {
        let (first, second) = match self {
            Self::Affine { src, .. } | Self::Unary { src, .. } | Self::Softmax { src } => {
                (*src, None)
            }
            Self::Binary { src, operand, .. } => (
                *src,
                match operand {
                    Operand::Value(id) => Some(*id),
                    Operand::Row(_) => None,
                },
            ),
        };
        std::iter::once(first).chain(second)
    }
}

/// A translated graph: the steps, the width of every value, and which values are the outputs.
#[derive(Clone, Debug, PartialEq)]
pub(super) struct Program {
    steps: Vec<Step>,
    /// The width of every value (index 0: the input's).
    widths: Vec<usize>,
    /// The values returned, in the graph's output order.
    outputs: Vec<ValueId>,
    /// For each step, whether its source may be overwritten in place: it is read by no later
    /// step and is neither the input nor an output.
    in_place: Vec<bool>,
    /// Multiply-adds (and transcendental calls, counted as one) per row.
    cost_per_row: usize,
}

impl Program {
    /// A program over an input of `input_width` columns. Steps come from [`Self::push`].
    pub(super) fn new(input_width: usize) -> Self {
        Self {
            steps: Vec::new(),
            widths: vec![input_width],
            outputs: Vec::new(),
            in_place: Vec::new(),
            cost_per_row: 0,
        }
    }

    /// The width of value `id`.
    pub(super) fn width(&self, id: ValueId) -> Option<usize> {
        self.widths.get(id).copied()
    }

    /// The input's width.
    pub(super) fn input_width(&self) -> usize {
        self.widths[0]
    }

    /// Appends a step making a value of `width` columns and returns its id. The caller (the
    /// translation) has checked the step's shapes.
    pub(super) fn push(&mut self, step: Step, width: usize) -> ValueId {
        let cost = match &step {
            Step::Affine { weights, .. } => weights.len(),
            Step::Softmax { .. } => 2 * width,
            Step::Unary { .. } | Step::Binary { .. } => width,
        };
        self.cost_per_row = self.cost_per_row.saturating_add(cost);
        self.steps.push(step);
        self.widths.push(width);
        self.widths.len() - 1
    }

    /// The last step, if it makes `id` (for fusing a following bias or activation into it).
    pub(super) fn last_step_making(&mut self, id: ValueId) -> Option<&mut Step> {
        if id == self.steps.len() && id > 0 {
            self.steps.last_mut()
        } else {
            None
        }
    }

    /// Sets the outputs and settles which steps may reuse their source's buffer.
    pub(super) fn finish(&mut self, outputs: Vec<ValueId>) {
        let mut last_read = vec![None; self.widths.len()];
        for (ix, step) in self.steps.iter().enumerate() {
            for id in step.reads() {
                last_read[id] = Some(ix);
            }
        }
        self.in_place = self
            .steps
            .iter()
            .enumerate()
            .map(|(ix, step)| {
                let src = match step {
                    // An affine map makes a new matrix of another width.
                    Step::Affine { .. } => return false,
                    Step::Unary { src, .. } | Step::Softmax { src } => *src,
                    Step::Binary { src, operand, .. } => {
                        if matches!(operand, Operand::Value(other) if *other == *src) {
                            return false;
                        }
                        *src
                    }
                };
                src != 0 && last_read[src] == Some(ix) && !outputs.contains(&src)
            })
            .collect();
        self.outputs = outputs;
    }

    /// The outputs' widths, in order.
    pub(super) fn output_widths(&self) -> impl Iterator<Item = usize> + '_ {
        self.outputs.iter().map(|&id| self.widths[id])
    }

    /// Multiply-adds per row (the size of the work, for choosing between this and tract).
    pub(super) fn cost_per_row(&self) -> usize {
        self.cost_per_row
    }

    /// Runs the program on `rows` rows of the input (`input.len() == rows · input_width`) and
    /// returns the outputs, each `rows · width` numbers, row-major.
    pub(super) fn run(&self, input: &[f32], rows: usize) -> Vec<Vec<f32>> {
        debug_assert_eq!(input.len(), rows * self.widths[0]);
        // values[i] holds value i + 1; an entry taken by an in-place step is left empty.
        let mut values: Vec<Vec<f32>> = Vec::with_capacity(self.steps.len());
        for (ix, step) in self.steps.iter().enumerate() {
            let width = self.widths[ix + 1];
            let value = if self.in_place[ix] {
                let src = step.reads().next().unwrap_or(0);
                let mut buffer = std::mem::take(&mut values[src - 1]);
                let get = |id: ValueId| -> &[f32] { if id == 0 { input } else { &values[id - 1] } };
                apply_in_place(step, &mut buffer, get, width);
                buffer
            } else {
                let get = |id: ValueId| -> &[f32] { if id == 0 { input } else { &values[id - 1] } };
                self.apply(step, get, rows, width)
            };
            values.push(value);
        }
        let mut outputs = Vec::with_capacity(self.outputs.len());
        for (ix, &id) in self.outputs.iter().enumerate() {
            // An output named twice, or the input itself, is copied; otherwise moved out.
            let shared = id == 0 || self.outputs[..ix].contains(&id);
            outputs.push(if shared {
                if id == 0 {
                    input.to_vec()
                } else {
                    values[id - 1].clone()
                }
            } else {
                std::mem::take(&mut values[id - 1])
            });
        }
        outputs
    }

    /// A step into a new buffer.
    fn apply<'a>(
        &self,
        step: &Step,
        get: impl Fn(ValueId) -> &'a [f32],
        rows: usize,
        width: usize,
    ) -> Vec<f32> {
        match step {
            Step::Affine {
                src,
                weights,
                outputs,
                bias,
                then,
            } => {
                let x = get(*src);
                let inputs = self.widths[*src];
                let mut y = Vec::with_capacity(rows * outputs);
                if inputs == 0 {
                    y.resize(rows * outputs, 0.0);
                } else {
                    for row in x.chunks_exact(inputs) {
                        y.extend(weights.chunks_exact(inputs).map(|w| dot(row, w)));
                    }
                }
                finish_affine(&mut y, bias.as_deref(), *then, *outputs);
                y
            }
            Step::Unary { src, op } => get(*src).iter().map(|&x| op.apply(x)).collect(),
            Step::Binary {
                src,
                op,
                operand,
                swapped,
            } => {
                let mut y = get(*src).to_vec();
                let other = match operand {
                    Operand::Row(row) => OperandRef::Row(row),
                    Operand::Value(id) => OperandRef::Value(get(*id)),
                };
                binary_in_place(&mut y, *op, other, *swapped, width);
                y
            }
            Step::Softmax { src } => {
                let mut y = get(*src).to_vec();
                softmax_rows(&mut y, width);
                y
            }
        }
    }

    /// Whether this program's outputs on `input` (`rows` rows) equal `expected` (tract's)
    /// within float rounding: same count, same sizes, and every number within
    /// `1e-4 · (1 + |expected|)`, NaN where tract has NaN.
    pub(super) fn agrees_with(&self, input: &[f32], rows: usize, expected: &[Vec<f32>]) -> bool {
        let ours = self.run(input, rows);
        ours.len() == expected.len()
            && ours.iter().zip(expected).all(|(a, b)| {
                a.len() == b.len()
                    && a.iter().zip(b).all(|(&x, &y)| {
                        if y.is_nan() {
                            x.is_nan()
                        } else if y.is_infinite() {
                            x == y
                        } else {
                            (x - y).abs() <= 1e-4 * (1.0 + y.abs())
                        }
                    })
            })
    }
}

/// An element-wise step over its source's own buffer (`buffer`); `get` reads other values.
fn apply_in_place<'a>(
    step: &Step,
    buffer: &mut [f32],
    get: impl Fn(ValueId) -> &'a [f32],
    width: usize,
) {
    match step {
        Step::Unary { op, .. } => buffer.iter_mut().for_each(|x| *x = op.apply(*x)),
        Step::Binary {
            op,
            operand,
            swapped,
            ..
        } => {
            let other = match operand {
                Operand::Row(row) => OperandRef::Row(row),
                Operand::Value(id) => OperandRef::Value(get(*id)),
            };
            binary_in_place(buffer, *op, other, *swapped, width);
        }
        Step::Softmax { .. } => softmax_rows(buffer, width),
        // `Program::finish` never runs an affine step in place (it changes the width).
        Step::Affine { .. } => {}
    }
}

/// The second operand of a binary step, borrowed.
#[derive(Clone, Copy)]
enum OperandRef<'a> {
    Row(&'a [f32]),
    Value(&'a [f32]),
}

/// `y ∘= other` over rows of `width`.
fn binary_in_place(y: &mut [f32], op: Binary, other: OperandRef<'_>, swapped: bool, width: usize) {
    let f = |a: f32, b: f32| {
        if swapped {
            op.apply(b, a)
        } else {
            op.apply(a, b)
        }
    };
    match other {
        OperandRef::Row([c]) => y.iter_mut().for_each(|v| *v = f(*v, *c)),
        OperandRef::Row(row) => {
            if width > 0 {
                for chunk in y.chunks_exact_mut(width) {
                    chunk.iter_mut().zip(row).for_each(|(v, &c)| *v = f(*v, c));
                }
            }
        }
        OperandRef::Value(values) => y.iter_mut().zip(values).for_each(|(v, &c)| *v = f(*v, c)),
    }
}

/// Adds the bias to every row and applies the fused activation.
fn finish_affine(y: &mut [f32], bias: Option<&[f32]>, then: Option<Unary>, outputs: usize) {
    if outputs == 0 {
        return;
    }
    match (bias, then) {
        (None, None) => {}
        (Some(b), None) => {
            for row in y.chunks_exact_mut(outputs) {
                row.iter_mut().zip(b).for_each(|(v, &c)| *v += c);
            }
        }
        (None, Some(op)) => y.iter_mut().for_each(|v| *v = op.apply(*v)),
        (Some(b), Some(op)) => {
            for row in y.chunks_exact_mut(outputs) {
                row.iter_mut()
                    .zip(b)
                    .for_each(|(v, &c)| *v = op.apply(*v + c));
            }
        }
    }
}

/// The softmax of each row of `width`, shifted by the row's maximum as ONNX runtimes do.
fn softmax_rows(y: &mut [f32], width: usize) {
    if width == 0 {
        return;
    }
    for row in y.chunks_exact_mut(width) {
        let max = row.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        let mut sum = 0.0;
        for v in row.iter_mut() {
            *v = (*v - max).exp();
            sum += *v;
        }
        row.iter_mut().for_each(|v| *v /= sum);
    }
}

/// `Σ a·b` over eight running sums, so the compiler keeps them in one vector register.
#[inline]
fn dot(a: &[f32], b: &[f32]) -> f32 {
    let mut sums = [0.0f32; 8];
    let (a8, a_rest) = a.split_at(a.len() - a.len() % 8);
    let (b8, b_rest) = b.split_at(a8.len().min(b.len()));
    for (x, w) in a8.chunks_exact(8).zip(b8.chunks_exact(8)) {
        for lane in 0..8 {
            sums[lane] += x[lane] * w[lane];
        }
    }
    let mut total =
        ((sums[0] + sums[4]) + (sums[1] + sums[5])) + ((sums[2] + sums[6]) + (sums[3] + sums[7]));
    for (x, w) in a_rest.iter().zip(b_rest) {
        total += x * w;
    }
    total
}

#[cfg(test)]
mod tests {
    use super::*;

    fn affine(src: ValueId, weights: &[f32], outputs: usize, bias: Option<&[f32]>) -> Step {
        Step::Affine {
            src,
            weights: weights.into(),
            outputs,
            bias: bias.map(Into::into),
            then: None,
        }
    }

    #[test]
    fn affine_matches_hand_arithmetic() {
        // y = x · [[1, 2, 3], [-1, 0, 0.5]]ᵀ + [0.5, -0.5]
        let mut p = Program::new(3);
        let y = p.push(
            affine(0, &[1.0, 2.0, 3.0, -1.0, 0.0, 0.5], 2, Some(&[0.5, -0.5])),
            2,
        );
        p.finish(vec![y]);
        let out = p.run(&[1.0, 1.0, 1.0, 2.0, -1.0, 4.0], 2);
        assert_eq!(out, vec![vec![6.5, -1.0, 12.5, -0.5]]);
    }

    #[test]
    fn dot_sums_long_and_short_rows() {
        let a: Vec<f32> = (0..19).map(|i| i as f32).collect();
        let b: Vec<f32> = (0..19).map(|i| (i % 3) as f32 - 1.0).collect();
        let expected: f32 = a.iter().zip(&b).map(|(x, y)| x * y).sum();
        assert_eq!(dot(&a, &b), expected);
        assert_eq!(dot(&[], &[]), 0.0);
    }

    #[test]
    fn steps_run_in_place_only_on_dead_intermediates() {
        // h = relu(x·W), out1 = h * 2, out2 = -h: h is read twice, so the first
        // element-wise step must not overwrite it.
        let mut p = Program::new(2);
        let h = p.push(affine(0, &[1.0, -1.0, -1.0, 1.0], 2, None), 2);
        let r = p.push(
            Step::Unary {
                src: h,
                op: Unary::Relu,
            },
            2,
        );
        let doubled = p.push(
            Step::Binary {
                src: r,
                op: Binary::Mul,
                operand: Operand::Row(Box::new([2.0])),
                swapped: false,
            },
            2,
        );
        let negated = p.push(
            Step::Unary {
                src: r,
                op: Unary::Neg,
            },
            2,
        );
        p.finish(vec![doubled, negated, r]);
        assert_eq!(p.in_place, vec![false, true, false, false]);
        let out = p.run(&[3.0, 1.0], 1);
        assert_eq!(out, vec![vec![4.0, 0.0], vec![-2.0, -0.0], vec![2.0, 0.0]]);
    }

    #[test]
    fn swapped_operands_and_value_operands() {
        let mut p = Program::new(2);
        let a = p.push(
            Step::Binary {
                src: 0,
                op: Binary::Sub,
                operand: Operand::Row(Box::new([10.0, 20.0])),
                swapped: true,
            },
            2,
        );
        let b = p.push(
            Step::Binary {
                src: a,
                op: Binary::Div,
                operand: Operand::Value(0),
                swapped: false,
            },
            2,
        );
        p.finish(vec![b, 0]);
        let out = p.run(&[2.0, 4.0, 5.0, -5.0], 2);
        assert_eq!(
            out,
            vec![vec![4.0, 4.0, 1.0, -5.0], vec![2.0, 4.0, 5.0, -5.0]]
        );
    }

    #[test]
    fn softmax_rows_sum_to_one_and_keep_order() {
        let mut p = Program::new(3);
        let s = p.push(Step::Softmax { src: 0 }, 3);
        p.finish(vec![s]);
        let out = p.run(&[1.0, 2.0, 3.0, 1000.0, 1000.0, -1000.0], 2);
        let y = &out[0];
        assert!((y[..3].iter().sum::<f32>() - 1.0).abs() < 1e-6);
        assert!(y[0] < y[1] && y[1] < y[2]);
        assert_eq!(&y[3..], &[0.5, 0.5, 0.0]);
    }

    #[test]
    fn relu_keeps_nan_and_agreement_needs_nan_where_tract_has_it() {
        let mut p = Program::new(2);
        let r = p.push(
            Step::Unary {
                src: 0,
                op: Unary::Relu,
            },
            2,
        );
        p.finish(vec![r]);
        let out = p.run(&[f32::NAN, -1.0], 1);
        assert!(out[0][0].is_nan());
        assert_eq!(out[0][1], 0.0);
        assert!(p.agrees_with(&[f32::NAN, -1.0], 1, &[vec![f32::NAN, 0.0]]));
        assert!(!p.agrees_with(&[f32::NAN, -1.0], 1, &[vec![0.0, 0.0]]));
        assert!(!p.agrees_with(&[1.0, -1.0], 1, &[vec![1.001, 0.0]]));
        assert!(!p.agrees_with(&[1.0, -1.0], 1, &[vec![1.0, 0.0, 0.0]]));
    }
}
