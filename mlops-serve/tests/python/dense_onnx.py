"""Fit small scikit-learn regressors, convert them with skl2onnx, and record their predictions.

Usage: python dense_onnx.py OUT_DIR

The models are the graphs mlops-serve's dense ONNX evaluator runs (MatMul, Add, Relu, Tanh,
Sigmoid, Reshape, Cast, LinearRegressor): multi-layer perceptrons with each activation and a
two-target ridge regression (skl2onnx 1.20 reshapes a multi-output MLPRegressor's answer to
[-1, 1], rows times targets rows, so the perceptrons have one target). Writes OUT_DIR/NAME.onnx for each and OUT_DIR/expected.json:

    {"models": [{"file": "mlp_relu.onnx", "name": "mlp_relu", "ops": ["Add", ...],
                 "rows": [[...], ...],           # FP32-exact query rows
                 "predictions": [[...], ...]}],  # scikit-learn's, one row per query row
     "versions": {...}}

Everything is deterministic (fixed seeds and data); the Rust test loads each file, checks
that the dense evaluator took it, and compares its answers with scikit-learn's.
"""

import json
import os
import sys
import warnings

import numpy as np
import onnx
import skl2onnx
import sklearn
from skl2onnx import convert_sklearn
from skl2onnx.common.data_types import FloatTensorType
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import Ridge
from sklearn.neural_network import MLPRegressor

FEATURES = 6


def data():
    rng = np.random.default_rng(20261205)
    x = rng.uniform(-2.0, 2.0, size=(400, FEATURES))
    y1 = x @ np.array([1.0, -0.5, 2.0, 0.0, 0.25, -1.5]) + np.sin(2.0 * x[:, 0])
    y2 = np.abs(x[:, 1]) - x[:, 2] * x[:, 3]
    return x, np.c_[y1, y2]


def query_rows():
    rng = np.random.default_rng(99)
    return rng.uniform(-3.0, 3.0, size=(17, FEATURES)).astype(np.float32)


def models(x, y):
    with warnings.catch_warnings():
        # A few hundred iterations are enough for a fixture; convergence is not the point.
        warnings.simplefilter("ignore", ConvergenceWarning)
        yield "mlp_relu", MLPRegressor(hidden_layer_sizes=(16, 8), activation="relu", max_iter=300, random_state=0).fit(x, y[:, 0])
        yield "mlp_tanh", MLPRegressor(hidden_layer_sizes=(12,), activation="tanh", max_iter=300, random_state=1).fit(x, y[:, 0])
        yield "mlp_logistic", MLPRegressor(hidden_layer_sizes=(10, 10), activation="logistic", max_iter=300, random_state=2).fit(x, y[:, 1])
    yield "ridge_two_targets", Ridge(alpha=0.5).fit(x, y)


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    out_dir = sys.argv[1]
    os.makedirs(out_dir, exist_ok=True)
    x, y = data()
    rows = query_rows()
    entries = []
    for name, model in models(x, y):
        onx = convert_sklearn(
            model,
            name=name,
            initial_types=[("input", FloatTensorType([None, FEATURES]))],
            target_opset={"": 17, "ai.onnx.ml": 3},
        )
        onnx.checker.check_model(onx)
        with open(os.path.join(out_dir, f"{name}.onnx"), "wb") as f:
            f.write(onx.SerializeToString())
        predictions = np.asarray(model.predict(rows.astype(np.float64)), dtype=np.float64)
        entries.append(
            {
                "file": f"{name}.onnx",
                "name": name,
                "ops": sorted({n.op_type for n in onx.graph.node}),
                "rows": rows.astype(np.float64).tolist(),
                "predictions": predictions.reshape(len(rows), -1).tolist(),
            }
        )
    expected = {
        "models": entries,
        "versions": {"sklearn": sklearn.__version__, "skl2onnx": skl2onnx.__version__, "onnx": onnx.__version__},
    }
    with open(os.path.join(out_dir, "expected.json"), "w", encoding="utf-8") as f:
        json.dump(expected, f)
    print(json.dumps({"written": [e["file"] for e in entries]}))


if __name__ == "__main__":
    main()
