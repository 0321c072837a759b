//! Checking and fitting a spec on Arrow batches; applying a fitted transform to a batch.

use std::collections::HashSet;

use arrow_array::{ArrayRef, RecordBatch};
use ndarray::Array2;

use crate::chain::{At, Stage, apply_step, fit_step};
use crate::column::{InputKind, Values, read};
use crate::error::{Result, TransformError};
use crate::fitted::{
    FORMAT, FittedFeature, FittedStep, FittedTransform, Flow, check_chain, flow_of,
};
use crate::spec::{FeatureSpec, Step, TransformSpec};

/// What the first step of a chain reads (numbers for an empty chain).
fn input_kind(steps: &[Step]) -> InputKind {
    match steps.first().map(|s| flow_of(s.op()).0) {
        Some(Flow::Cat) => InputKind::Category,
        Some(Flow::Time) => InputKind::Time,
        _ => InputKind::Number,
    }
}

impl TransformSpec {
    /// Checks the spec without data: parameters, and that each chain's steps fit together
    /// and end in numbers or one-hot columns.
    pub fn check(&self) -> Result<()> {
        if self.features.is_empty() {
            return Err(TransformError::InvalidSpec("no features".into()));
        }
        for f in &self.features {
            if f.column.is_empty() {
                return Err(TransformError::InvalidSpec(
                    "a feature has an empty column name".into(),
                ));
            }
            if f.name.as_deref() == Some("") {
                return Err(TransformError::InvalidSpec(format!(
                    "column {:?}: empty output name",
                    f.column
                )));
            }
            for s in &f.steps {
                s.check(&f.column)?;
            }
            check_chain(
                &f.column,
                Flow::of(input_kind(&f.steps)),
                f.steps.iter().map(Step::op),
            )?;
        }
        Ok(())
    }

    /// Learns every statistic from `batches` (all with the columns the spec reads): each step
    /// is fit on the output of the fitted steps before it, as a scikit-learn pipeline.
    pub fn fit(&self, batches: &[RecordBatch]) -> Result<FittedTransform> {
        self.check()?;
        let mut features = Vec::with_capacity(self.features.len());
        let mut names = HashSet::new();
        for f in &self.features {
            let fitted = fit_feature(f, batches)?;
            for name in &fitted.outputs {
                if !names.insert(name.clone()) {
                    return Err(TransformError::InvalidSpec(format!(
                        "output {name:?} appears twice (name the features)"
                    )));
                }
            }
            features.push(fitted);
        }
        Ok(FittedTransform {
            format: FORMAT.to_owned(),
            features,
        })
    }
}

fn fit_feature(f: &FeatureSpec, batches: &[RecordBatch]) -> Result<FittedFeature> {
    let input = input_kind(&f.steps);
    let first_op = f.steps.first().map_or("input", Step::op);
    let mut stage: Stage = read_all(batches, &f.column, input, first_op)?.into();
    let mut steps = Vec::with_capacity(f.steps.len());
    for step in &f.steps {
        let at = At {
            column: &f.column,
            step: step.op(),
        };
        let fitted = fit_step(step, &stage, &at)?;
        stage = apply_step(&fitted, stage, &at)?;
        steps.push(fitted);
    }
    if let (Stage::Num(x), None) = (&stage, f.steps.first())
        && let Some(row) = x.iter().position(|v| v.is_nan())
    {
        return Err(TransformError::Missing {
            column: f.column.clone(),
            row,
            step: "input".into(),
        });
    }
    let base = f.name.clone().unwrap_or_else(|| {
        match f.steps.iter().find_map(|s| match s {
            Step::DatePart { part } => Some(*part),
            _ => None,
        }) {
            Some(part) => format!("{}_{}", f.column, part.as_str()),
            None => f.column.clone(),
        }
    });
    let outputs = match steps.last() {
        Some(FittedStep::OneHot { categories, .. }) => {
            categories.iter().map(|c| format!("{base}={c}")).collect()
        }
        _ => vec![base],
    };
    Ok(FittedFeature {
        column: f.column.clone(),
        input,
        steps,
        outputs,
    })
}

/// The named column of a batch.
fn column<'a>(batch: &'a RecordBatch, name: &str) -> Result<&'a ArrayRef> {
    batch
        .column_by_name(name)
        .ok_or_else(|| TransformError::MissingColumn {
            column: name.to_owned(),
            present: batch
                .schema()
                .fields()
                .iter()
                .map(|f| f.name().as_str())
                .collect::<Vec<_>>()
                .join(", "),
        })
}

/// A column across all batches.
fn read_all(batches: &[RecordBatch], name: &str, kind: InputKind, step: &str) -> Result<Values> {
    let mut parts = batches
        .iter()
        .map(|b| column(b, name).and_then(|a| read(a.as_ref(), kind, name, step)));
    let mut all = match parts.next() {
        Some(first) => first?,
        None => return Err(TransformError::Input("no batches to fit on".into())),
    };
    for part in parts {
        match (&mut all, part?) {
            (Values::Num(a), Values::Num(b)) => a.extend(b),
            (Values::Cat(a), Values::Cat(b)) => a.extend(b),
            (Values::Time(a), Values::Time(b)) => a.extend(b),
            _ => {
                return Err(TransformError::Input(format!(
                    "column {name:?} changes type between batches"
                )));
            }
        }
    }
    Ok(all)
}

impl FittedTransform {
    /// The model's input rows for `batch`: one row per input row, [`width`](Self::width)
    /// columns in [`output_names`](Self::output_names) order.
    pub fn apply(&self, batch: &RecordBatch) -> Result<Array2<f64>> {
        let rows = batch.num_rows();
        let width = self.width();
        let mut out = Array2::<f64>::zeros((rows, width));
        let mut col0 = 0;
        for f in &self.features {
            let first_op = f.steps.first().map_or("input", FittedStep::op);
            let array = column(batch, &f.column)?;
            let mut stage: Stage = read(array.as_ref(), f.input, &f.column, first_op)?.into();
            for step in &f.steps {
                stage = apply_step(
                    step,
                    stage,
                    &At {
                        column: &f.column,
                        step: step.op(),
                    },
                )?;
            }
            match stage {
                Stage::Num(x) => {
                    if let Some(row) = x.iter().position(|v| v.is_nan()) {
                        return Err(TransformError::Missing {
                            column: f.column.clone(),
                            row,
                            step: first_op.into(),
                        });
                    }
                    out.column_mut(col0)
                        .iter_mut()
                        .zip(x)
                        .for_each(|(o, v)| *o = v);
                }
                Stage::Encoded { width: w, data } => {
                    for (r, chunk) in data.chunks_exact(w.max(1)).enumerate().take(rows) {
                        for (j, v) in chunk.iter().enumerate() {
                            out[[r, col0 + j]] = *v;
                        }
                    }
                }
                Stage::Cat(_) | Stage::Time(_) => {
                    return Err(TransformError::Format(format!(
                        "column {:?}: chain does not end in numbers",
                        f.column
                    )));
                }
            }
            col0 += f.outputs.len();
        }
        Ok(out)
    }

    /// [`apply`](Self::apply) over several batches, rows in order.
    pub fn apply_batches(&self, batches: &[RecordBatch]) -> Result<Array2<f64>> {
        let mut parts = Vec::with_capacity(batches.len());
        for b in batches {
            parts.push(self.apply(b)?);
        }
        let views: Vec<_> = parts.iter().map(|p| p.view()).collect();
        if views.is_empty() {
            return Ok(Array2::zeros((0, self.width())));
        }
        ndarray::concatenate(ndarray::Axis(0), &views)
            .map_err(|e| TransformError::Input(e.to_string()))
    }
}
