"""Write the scikit-learn LinearRegression that the serving benchmark uses, exported to ONNX.

Usage: python make_linear_onnx.py OUT.onnx

y = x . [0.5, -1.25, 2.0, 0.125] + 0.75, 4 FP32 features, batch dimension variable: the same
regression as the built-in linear model of `benches/compare/serve_vs_mlserver.py`. The
coefficients are set, not fitted, so the file is the same on every run of the same versions
(skl2onnx and onnx, recorded in the model's doc_string). The input is `input`, the output
`variable` (skl2onnx's name), shape [-1, 1].

`mlops-serve/tests/fixtures/linear_regressor.onnx` is this script's output; the pure tests
(`tests/onnx_batching.rs`) serve it without the Python venv.
"""

import sys

import numpy as np
import onnx
import skl2onnx
from skl2onnx import convert_sklearn
from skl2onnx.common.data_types import FloatTensorType
from sklearn.linear_model import LinearRegression

COEFFICIENTS = [0.5, -1.25, 2.0, 0.125]
INTERCEPT = 0.75


def main(out):
    model = LinearRegression()
    # Fit on exact data, then pin the parameters so no solver rounding reaches the file.
    x = np.eye(4)
    model.fit(x, x @ np.array(COEFFICIENTS) + INTERCEPT)
    model.coef_ = np.array(COEFFICIENTS)
    model.intercept_ = INTERCEPT
    onx = convert_sklearn(
        model,
        initial_types=[("input", FloatTensorType([None, len(COEFFICIENTS)]))],
        target_opset={"": 17, "ai.onnx.ml": 3},
    )
    onx.doc_string = f"skl2onnx {skl2onnx.__version__}, onnx {onnx.__version__}"
    with open(out, "wb") as f:
        f.write(onx.SerializeToString())


if __name__ == "__main__":
    main(sys.argv[1])
