//! The in-process cost of one ONNX inference (no HTTP, no JSON): what tract's per-call work
//! costs next to the request path. Runs `CALLS` calls of `ROWS` rows of FP32 features on an
//! `.onnx` model with one `[-1, FEATURES]` FP32 input and prints the time per call and per
//! row. Stable instruction counts for comparing changes on a shared machine:
//!
//! ```sh
//! cargo build --release -p mlops-serve --features onnx --example onnx_calls
//! valgrind --tool=callgrind target/release/examples/onnx_calls mlops-serve/tests/fixtures/linear_regressor.onnx 1 10000
//! ```

#![allow(clippy::print_stdout)]

use std::time::Instant;

use mlops_serve::runtime::onnx;
use mlops_serve::{Tensor, TensorData};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let path = args
        .next()
        .ok_or("usage: onnx_calls MODEL.onnx [ROWS] [CALLS]")?;
    let rows: usize = args.next().map_or(Ok(1), |a| a.parse())?;
    let calls: usize = args.next().map_or(Ok(100_000), |a| a.parse())?;
    let model = onnx::load(std::path::Path::new(&path), "m", None)?;
    let spec = &model.metadata().inputs[0];
    let features = usize::try_from(*spec.shape.get(1).ok_or("the input must be [-1, F]")?)?;
    #[allow(clippy::cast_precision_loss)]
    let values: Vec<f32> = (0..rows * features).map(|i| (i % 7) as f32 * 0.5).collect();
    let input = || -> Result<Vec<Tensor>, mlops_serve::Error> {
        Ok(vec![Tensor::new(
            spec.name.clone(),
            TensorData::from_vec(&[rows, features], values.clone())?,
        )])
    };
    for _ in 0..calls.min(1000) {
        model.infer(input()?)?;
    }
    let started = Instant::now();
    for _ in 0..calls {
        model.infer(input()?)?;
    }
    let elapsed = started.elapsed();
    #[allow(clippy::cast_precision_loss)]
    let per_call = elapsed.as_secs_f64() / calls as f64;
    #[allow(clippy::cast_precision_loss)]
    let per_row = per_call / rows as f64;
    println!(
        "{calls} calls of {rows} rows: {:.3} us per call, {:.3} us per row",
        per_call * 1e6,
        per_row * 1e6
    );
    Ok(())
}
