"""Train scikit-learn LinearRegression models on fixed data and convert them with skl2onnx.

Usage: python sklearn_onnx.py OUT_DIR

Writes OUT_DIR/linear_fp32.onnx and OUT_DIR/linear_fp64.onnx (LinearRegression converted
with FloatTensorType and DoubleTensorType inputs), OUT_DIR/typed.onnx (a hand-made graph with
BOOL and INT64 inputs and a named batch dimension), and OUT_DIR/expected.json:

    {"models": [{"file": "linear_fp32.onnx", "name": "sk-fp32", "tolerance": 1e-5,
                 "inputs":  [{"name": "input", "datatype": "FP32", "shape": [16, 4], "data": [...]}],
                 "outputs": [{"name": "variable", "datatype": "FP32", "shape": [16, 1],
                              "data": [...]}]},           # scikit-learn's predictions
                ...],
     "versions": {"sklearn": ..., "skl2onnx": ..., "onnx": ...}}

Tensors are in the plan format of triton_client.py (flat, row-major data). Everything is
deterministic (fixed seeds); the Rust test serves the .onnx files and checks the server's
outputs against the expectations.
"""

import json
import os
import sys

import numpy as np
import onnx
import skl2onnx
from onnx import TensorProto, helper
import sklearn
from skl2onnx import convert_sklearn
from skl2onnx.common.data_types import DoubleTensorType, FloatTensorType
from sklearn.linear_model import LinearRegression

FEATURES = 4


def training_data():
    rng = np.random.default_rng(20261126)
    x = rng.uniform(-3.0, 3.0, size=(200, FEATURES))
    coef = np.array([1.5, -2.0, 0.25, 3.0])
    y = x @ coef + 0.75 + rng.normal(0.0, 0.1, size=200)
    return x, y


def query_rows():
    # Fixed rows of moderate magnitude, plus a few edge values, exactly representable in FP32.
    rng = np.random.default_rng(7)
    rows = rng.uniform(-5.0, 5.0, size=(13, FEATURES)).astype(np.float32)
    edges = np.array([[0.0, 0.0, 0.0, 0.0], [1.0, -1.0, 0.5, -0.5], [-4.25, 3.5, 2.0, 0.125]], dtype=np.float32)
    return np.vstack([rows, edges])


def tensor(name, datatype, array):
    array = np.asarray(array)
    data = array.ravel().tolist()
    return {"name": name, "datatype": datatype, "shape": list(array.shape), "data": data}


def typed_graph(out_dir):
    """BOOL and INT64 through ONNX: inverted = Not(flags), doubled = counts * 2, batch "n"."""
    flags = helper.make_tensor_value_info("flags", TensorProto.BOOL, ["n", 3])
    counts = helper.make_tensor_value_info("counts", TensorProto.INT64, ["n", 2])
    inverted = helper.make_tensor_value_info("inverted", TensorProto.BOOL, ["n", 3])
    doubled = helper.make_tensor_value_info("doubled", TensorProto.INT64, ["n", 2])
    two = helper.make_tensor("two", TensorProto.INT64, [], [2])
    graph = helper.make_graph(
        [helper.make_node("Not", ["flags"], ["inverted"]), helper.make_node("Mul", ["counts", "two"], ["doubled"])],
        "typed",
        [flags, counts],
        [inverted, doubled],
        initializer=[two],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], producer_name="mlops-test")
    onnx.checker.check_model(model)
    with open(os.path.join(out_dir, "typed.onnx"), "wb") as f:
        f.write(model.SerializeToString())
    flag_rows = np.array([[True, False, True], [False, False, False], [True, True, True]])
    count_rows = np.array([[0, -1], [2**40, 7], [-(2**50), 123456789]], dtype=np.int64)
    return {
        "file": "typed.onnx",
        "name": "typed",
        "inputs": [tensor("flags", "BOOL", flag_rows), tensor("counts", "INT64", count_rows)],
        "outputs": [tensor("inverted", "BOOL", ~flag_rows), tensor("doubled", "INT64", count_rows * 2)],
    }


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    out_dir = sys.argv[1]
    os.makedirs(out_dir, exist_ok=True)
    x, y = training_data()
    rows = query_rows()
    models = []
    for datatype, tensor_type, dtype in (
        ("FP32", FloatTensorType, np.float32),
        ("FP64", DoubleTensorType, np.float64),
    ):
        model = LinearRegression().fit(x.astype(dtype), y.astype(dtype))
        onx = convert_sklearn(
            model,
            name=f"linear_{datatype.lower()}",
            initial_types=[("input", tensor_type([None, FEATURES]))],
            target_opset=17,
        )
        onnx.checker.check_model(onx)
        file_name = f"linear_{datatype.lower()}.onnx"
        with open(os.path.join(out_dir, file_name), "wb") as f:
            f.write(onx.SerializeToString())
        query = rows.astype(dtype)
        predictions = np.asarray(model.predict(query), dtype=np.float64).ravel()
        models.append(
            {
                "file": file_name,
                "name": f"sk-{datatype.lower()}",
                "tolerance": 1e-5,
                "inputs": [tensor(onx.graph.input[0].name, datatype, query)],
                "outputs": [tensor(onx.graph.output[0].name, datatype, predictions.reshape(-1, 1))],
            }
        )
    models.append(typed_graph(out_dir))
    expected = {
        "models": models,
        "versions": {"sklearn": sklearn.__version__, "skl2onnx": skl2onnx.__version__, "onnx": onnx.__version__},
    }
    with open(os.path.join(out_dir, "expected.json"), "w", encoding="utf-8") as f:
        json.dump(expected, f)
    print(json.dumps({"written": [m["file"] for m in models]}))


if __name__ == "__main__":
    main()
