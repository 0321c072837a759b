"""Drive an mlops-serve server with the real Triton HTTP client (tritonclient[http]).

Usage: python triton_client.py --url http://127.0.0.1:PORT --plan plan.json

The plan (written by the Rust test that started the server) lists models and, for each,
the inputs to send and the outputs expected back:

    {"models": [{"name": "echo-fp32", "version": "1",          # version optional
                 "tolerance": 0.0,                              # abs. tolerance, floats only
                 "inputs":  [{"name": "x", "datatype": "FP32", "shape": [2, 3], "data": [...]}],
                 "outputs": [{"name": "y", "datatype": "FP32", "shape": [2, 3], "data": [...]}]}],
     "extensions": ["binary_tensor_data"]}                     # required in server metadata

`data` is flat, row-major. BYTES elements are strings (sent as UTF-8) or {"hex": "00ff"} for
arbitrary bytes; a model with any hex element is only driven in binary mode, because
tritonclient's JSON mode can only carry UTF-8 text.

For every model the script checks liveness, readiness, server and model metadata, then runs
inference in tritonclient's default binary mode, in JSON mode (binary_data=False), in both
mixed modes, with gzip and deflate request bodies, with a gzip response, and with a request
id that must be echoed. It also checks that an unknown model gives a 404 and a wrong
datatype a 400 through the client. It prints one JSON line {"checks": N, "failures": [...]}
and exits 1 if any check failed.
"""

import argparse
import json
import sys

import numpy as np
import tritonclient.http as httpclient
from tritonclient.utils import InferenceServerException

NP_DTYPES = {
    "BOOL": np.bool_,
    "UINT8": np.uint8,
    "UINT16": np.uint16,
    "UINT32": np.uint32,
    "UINT64": np.uint64,
    "INT8": np.int8,
    "INT16": np.int16,
    "INT32": np.int32,
    "INT64": np.int64,
    "FP16": np.float16,
    "FP32": np.float32,
    "FP64": np.float64,
    "BYTES": np.object_,
}


class Checker:
    def __init__(self):
        self.checks = 0
        self.failures = []

    def check(self, ok, what):
        self.checks += 1
        if not ok:
            self.failures.append(what)
        return ok

    def run(self, what, fn):
        """Run fn(); an exception is a failed check named `what`."""
        try:
            fn()
        except Exception as e:  # noqa: BLE001 - every failure is reported, none hidden
            self.checks += 1
            self.failures.append(f"{what}: {type(e).__name__}: {e}")


def element_bytes(element):
    if isinstance(element, dict):
        return bytes.fromhex(element["hex"])
    return element.encode("utf-8")


def has_hex(tensor):
    return tensor["datatype"] == "BYTES" and any(isinstance(e, dict) for e in tensor["data"])


def to_numpy(tensor):
    datatype = tensor["datatype"]
    if datatype == "BYTES":
        flat = np.array([element_bytes(e) for e in tensor["data"]], dtype=np.object_)
    else:
        flat = np.array(tensor["data"], dtype=NP_DTYPES[datatype])
    return flat.reshape(tensor["shape"])


def compare(checker, got, expected, tolerance, what):
    """Compare an output array from tritonclient with the plan's expectation."""
    want = to_numpy(expected)
    if not checker.check(got is not None, f"{what}: output {expected['name']} missing"):
        return
    if not checker.check(
        list(got.shape) == list(expected["shape"]),
        f"{what}: shape {list(got.shape)} != {expected['shape']}",
    ):
        return
    if expected["datatype"] == "BYTES":
        # Binary mode yields bytes, JSON mode yields str: compare as bytes.
        got_bytes = [g if isinstance(g, bytes) else str(g).encode("utf-8") for g in got.flatten()]
        checker.check(
            got_bytes == list(want.flatten()),
            f"{what}: BYTES {got_bytes[:8]} != {list(want.flatten())[:8]}",
        )
    elif expected["datatype"] in ("FP16", "FP32", "FP64") and tolerance > 0:
        diff = float(np.max(np.abs(got.astype(np.float64) - want.astype(np.float64)))) if got.size else 0.0
        checker.check(diff <= tolerance, f"{what}: max abs diff {diff} > {tolerance}")
    else:
        checker.check(
            got.dtype == want.dtype and np.array_equal(got, want),
            f"{what}: {got.dtype} {got.flatten()[:8]} != {want.dtype} {want.flatten()[:8]}",
        )


def infer_inputs(model, binary):
    inputs = []
    for tensor in model["inputs"]:
        inp = httpclient.InferInput(tensor["name"], list(tensor["shape"]), tensor["datatype"])
        inp.set_data_from_numpy(to_numpy(tensor), binary_data=binary)
        inputs.append(inp)
    return inputs


def drive_model(client, checker, model):
    name = model["name"]
    version = model.get("version", "")
    tolerance = float(model.get("tolerance", 0.0))
    label = f"{name}" + (f"@{version}" if version else "")
    json_ok = not any(has_hex(t) for t in model["inputs"] + model["outputs"])

    def ready():
        checker.check(client.is_model_ready(name, version), f"{label}: is_model_ready is false")
        if version:
            checker.check(client.is_model_ready(name), f"{label}: unversioned is_model_ready is false")

    def metadata():
        meta = client.get_model_metadata(name, version)
        checker.check(meta.get("name") == name, f"{label}: metadata name {meta.get('name')!r}")
        if version:
            checker.check(version in meta.get("versions", []), f"{label}: {version} not in {meta.get('versions')}")
        got_inputs = {t["name"]: t["datatype"] for t in meta.get("inputs", [])}
        want_inputs = {t["name"]: t["datatype"] for t in model["inputs"]}
        checker.check(got_inputs == want_inputs, f"{label}: metadata inputs {got_inputs} != {want_inputs}")
        got_outputs = {t["name"]: t["datatype"] for t in meta.get("outputs", [])}
        want_outputs = {t["name"]: t["datatype"] for t in model["outputs"]}
        checker.check(got_outputs == want_outputs, f"{label}: metadata outputs {got_outputs} != {want_outputs}")
        for t in meta.get("inputs", []) + meta.get("outputs", []):
            checker.check(
                all(isinstance(d, int) and d >= -1 for d in t.get("shape", [None])),
                f"{label}: metadata shape {t.get('shape')} of {t['name']}",
            )

    def infer(what, binary_in, binary_out, **kwargs):
        inputs = infer_inputs(model, binary_in)
        if binary_out is None:
            outputs = None  # the client's default: request-level binary_data_output
        else:
            outputs = [httpclient.InferRequestedOutput(t["name"], binary_data=binary_out) for t in model["outputs"]]
        result = client.infer(name, inputs, model_version=version, outputs=outputs, **kwargs)
        response = result.get_response()
        checker.check(response.get("model_name") == name, f"{label} {what}: model_name {response.get('model_name')!r}")
        for expected in model["outputs"]:
            compare(checker, result.as_numpy(expected["name"]), expected, tolerance, f"{label} {what}")
            out = result.get_output(expected["name"])
            is_binary = out is not None and "binary_data_size" in (out.get("parameters") or {})
            if binary_out is not None or what == "default":
                want_binary = binary_out is not False
                checker.check(is_binary == want_binary, f"{label} {what}: output binary={is_binary}, asked {want_binary}")
        return response

    checker.run(f"{label}: ready", ready)
    checker.run(f"{label}: metadata", metadata)
    checker.run(f"{label}: default (binary) mode", lambda: infer("default", True, None))
    checker.run(f"{label}: binary in/out", lambda: infer("binary", True, True))
    if json_ok:
        checker.run(f"{label}: JSON mode", lambda: infer("json", False, False))
        checker.run(f"{label}: JSON in, binary out", lambda: infer("json-in", False, True))
        checker.run(f"{label}: binary in, JSON out", lambda: infer("json-out", True, False))
    for algorithm in ("gzip", "deflate"):
        checker.run(
            f"{label}: {algorithm} request",
            lambda a=algorithm: infer(f"{a}-request", True, None, request_compression_algorithm=a),
        )
    checker.run(
        f"{label}: gzip response",
        lambda: infer("gzip-response", True, None, response_compression_algorithm="gzip"),
    )

    def request_id():
        response = infer("request-id", True, None, request_id=f"req-{name}-42")
        checker.check(response.get("id") == f"req-{name}-42", f"{label}: id not echoed: {response.get('id')!r}")

    checker.run(f"{label}: request id", request_id)

    def wrong_datatype():
        tensor = model["inputs"][0]
        other = "FP64" if tensor["datatype"] != "FP64" else "INT64"
        inp = httpclient.InferInput(tensor["name"], list(tensor["shape"]), other)
        count = int(np.prod(tensor["shape"]))
        inp.set_data_from_numpy(np.zeros(count, dtype=NP_DTYPES[other]).reshape(tensor["shape"]))
        try:
            client.infer(name, [inp] + infer_inputs(model, True)[1:], model_version=version)
        except InferenceServerException as e:
            checker.check(e.status() == "400", f"{label}: wrong datatype gave {e.status()}: {e.message()}")
            checker.check(bool(e.message()), f"{label}: wrong datatype error has no message")
        else:
            checker.check(False, f"{label}: a {other} input was accepted")

    checker.run(f"{label}: wrong datatype", wrong_datatype)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", required=True, help="http://host:port of the server")
    parser.add_argument("--plan", required=True, help="JSON file with the models to drive")
    args = parser.parse_args()
    with open(args.plan, encoding="utf-8") as f:
        plan = json.load(f)
    url = args.url.removeprefix("http://")
    client = httpclient.InferenceServerClient(url=url, network_timeout=30.0, connection_timeout=10.0)
    checker = Checker()

    def server():
        checker.check(client.is_server_live(), "is_server_live is false")
        checker.check(client.is_server_ready(), "is_server_ready is false")
        meta = client.get_server_metadata()
        checker.check(isinstance(meta.get("name"), str) and isinstance(meta.get("version"), str), f"server metadata {meta}")
        for extension in plan.get("extensions", []):
            checker.check(extension in meta.get("extensions", []), f"extension {extension} not in {meta.get('extensions')}")

    def unknown_model():
        try:
            client.get_model_metadata("no-such-model")
        except InferenceServerException as e:
            checker.check(e.status() == "404", f"unknown model metadata gave {e.status()}: {e.message()}")
        else:
            checker.check(False, "metadata of an unknown model succeeded")
        inp = httpclient.InferInput("x", [1], "FP32")
        inp.set_data_from_numpy(np.zeros(1, dtype=np.float32))
        try:
            client.infer("no-such-model", [inp])
        except InferenceServerException as e:
            checker.check(e.status() == "404", f"unknown model infer gave {e.status()}: {e.message()}")
        else:
            checker.check(False, "inference on an unknown model succeeded")
        checker.check(not client.is_model_ready("no-such-model"), "an unknown model is ready")

    checker.run("server", server)
    checker.run("unknown model", unknown_model)
    checker.check(bool(plan.get("models")), "the plan has no models")
    for model in plan.get("models", []):
        drive_model(client, checker, model)
    client.close()
    print(json.dumps({"checks": checker.checks, "failures": checker.failures}))
    return 1 if checker.failures else 0


if __name__ == "__main__":
    sys.exit(main())
