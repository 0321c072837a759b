//! Train a linear regression with ndarray (least squares on synthetic data), write it in the
//! built-in model format, serve it over the Open Inference Protocol, send one request, exit.
//!
//! ```text
//! cargo run --example serve_linear
//! ```

#![allow(clippy::print_stdout, clippy::unwrap_used, clippy::expect_used)]

use std::error::Error;

use mlops::serve::runtime::linear::LinearFile;
use mlops::serve::{Server, serve};
use ndarray::{Array1, Array2, Axis, concatenate};

/// Solves `a · x = b` by Gaussian elimination with partial pivoting (a is small and square).
fn solve(mut a: Array2<f64>, mut b: Array1<f64>) -> Array1<f64> {
    let n = b.len();
    for col in 0..n {
        let pivot = (col..n)
            .max_by(|&i, &j| a[[i, col]].abs().total_cmp(&a[[j, col]].abs()))
            .unwrap();
        for k in 0..n {
            a.swap([col, k], [pivot, k]);
        }
        b.swap(col, pivot);
        for row in col + 1..n {
            let factor = a[[row, col]] / a[[col, col]];
            for k in col..n {
                a[[row, k]] -= factor * a[[col, k]];
            }
            b[row] -= factor * b[col];
        }
    }
    let mut x = Array1::zeros(n);
    for row in (0..n).rev() {
        let tail: f64 = (row + 1..n).map(|k| a[[row, k]] * x[k]).sum();
        x[row] = (b[row] - tail) / a[[row, row]];
    }
    x
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn Error>> {
    // Synthetic data: y = 1.5 x0 - 2 x1 + 0.25 x2 + 3, plus small deterministic noise.
    let rows = 500;
    let x = Array2::from_shape_fn((rows, 3), |(i, j)| ((i * 7 + j * 13) % 97) as f64 / 10.0);
    let y = Array1::from_shape_fn(rows, |i| {
        1.5 * x[[i, 0]] - 2.0 * x[[i, 1]] + 0.25 * x[[i, 2]] + 3.0 + ((i % 5) as f64 - 2.0) * 0.01
    });

    // Least squares with an intercept column: solve (XᵀX) w = Xᵀy.
    let design = concatenate(Axis(1), &[x.view(), Array2::ones((rows, 1)).view()])?;
    let w = solve(design.t().dot(&design), design.t().dot(&y));
    println!(
        "fitted: coefficients {:?}, intercept {:.4}",
        &w.as_slice().unwrap()[..3],
        w[3]
    );

    // The built-in model format: one row of coefficients per output, one intercept per output.
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("price.json");
    LinearFile::linear(vec![w.iter().take(3).copied().collect()], vec![w[3]]).write(&path)?;

    // Serve it on a free loopback port.
    let server = Server::builder()
        .model_file(&path, "price", Some("1"))?
        .build()?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let serving = tokio::spawn(serve(listener, server, async move {
        let _ = stopped.await;
    }));

    // One OIP request, as any KServe/Triton client sends it.
    let request = serde_json::json!({
        "id": "example-1",
        "inputs": [{"name": "input", "shape": [2, 3], "datatype": "FP32", "data": [[1, 2, 3], [4, 5, 6]]}]
    });
    let response: serde_json::Value = reqwest::Client::new()
        .post(format!("http://{addr}/v2/models/price/versions/1/infer"))
        .json(&request)
        .send()
        .await?
        .json()
        .await?;
    println!("POST /v2/models/price/versions/1/infer -> {response}");
    let predictions = response["outputs"][0]["data"]
        .as_array()
        .expect("two predictions");
    assert_eq!(predictions.len(), 2);

    let _ = stop.send(());
    serving.abort();
    Ok(())
}
