"""Promote-and-resolve latency: mlops-registry on a local folder against MLflow's registry
through MLflow's own Python client, in one run.

Run from anywhere (it finds the workspace root from its own path):

    .venv/bin/python benches/compare/registry_vs_mlflow.py                 # ~1 minute
    .venv/bin/python benches/compare/registry_vs_mlflow.py --iterations 500
    #   --mlflow-uri URI   use a running MLflow server instead of starting one
    #   --skip-build       use target/release/examples/registry_latency
    #   --versions N       versions registered before timing (default 4)

One operation = move the alias `champion` to the next version, then resolve `champion` to
its version (what a deploy pipeline does, then what a server does on reload). The versions
cycle, so every move changes the alias. In one run:

1. `cargo build --release --example registry_latency`.
2. **ours**: `registry_latency --root DIR` on a fresh local folder (`ObjectRegistry`): the
   promote is `set_alias` with the precondition "champion holds what I last saw"
   (a commit-log entry claimed with a create-if-absent write, fsync'ed), the resolve is
   `resolve_alias`. Timed in process, per call.
3. **MLflow server** (started here in a temp folder with the venv's mlflow, sqlite backend,
   as `scripts/test.sh` starts it; or `--mlflow-uri`), through `mlflow.MlflowClient`:
   - `plain`: `set_registered_model_alias` then `get_model_version_by_alias` (no
     precondition: MLflow has none);
   - `checked`: `get_model_version_by_alias` (read the holder, the precondition a careful
     pipeline checks), `set_registered_model_alias`, `get_model_version_by_alias`: the same
     semantics as ours minus atomicity (MLflow cannot make the check and the write atomic).
4. **MLflow local sqlite** (no server: `MlflowClient(sqlite:///...)`, MLflow's embedded
   mode), `plain` only.
5. **ours -> MLflow server**: mlops-registry's MLflow backend from Rust
   (`examples/registry_latency.rs --uri`) on the same server: its promote is three
   requests (read the holder, set the alias, write the audit-entry tag), its resolve one.

Each side warms up first (10 operations, not counted). Prints median, p99 and mean per
step and the ratios MLflow / ours. Nothing is asserted: it measures and prints. The machine
has 2 shared cores: compare the ratios of one run, not absolute times across runs.
"""

import argparse
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
WARMUP = 10


def percentile(values, q):
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    k = min(len(ordered) - 1, max(0, int(round(q / 100.0 * (len(ordered) - 1)))))
    return ordered[k]


def summary(values):
    return {
        "median": statistics.median(values),
        "p99": percentile(values, 99),
        "mean": statistics.fmean(values),
        "n": len(values),
    }


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def python_env():
    env = dict(os.environ)
    env["MLFLOW_DISABLE_TELEMETRY"] = "true"
    env["MLFLOW_SERVER_ENABLE_JOB_EXECUTION"] = "false"
    return env


# ---------------------------------------------------------------------------------------------
# MLflow


class MlflowServer:
    """An MLflow server in its own session, stopped (its process group only) on exit."""

    def __init__(self, workdir):
        self.workdir = Path(workdir)
        self.port = free_port()
        self.uri = f"http://127.0.0.1:{self.port}"
        self.proc = None

    def __enter__(self):
        mlflow_bin = Path(sys.executable).parent / "mlflow"
        log = open(self.workdir / "mlflow.log", "wb")
        self.proc = subprocess.Popen(
            [
                str(mlflow_bin),
                "server",
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--backend-store-uri",
                f"sqlite:///{self.workdir / 'mlflow.db'}",
                "--artifacts-destination",
                str(self.workdir / "artifacts"),
                "--workers",
                "1",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=python_env(),
            start_new_session=True,
        )
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(
                    "mlflow server exited:\n" + (self.workdir / "mlflow.log").read_text()[-3000:]
                )
            try:
                with urllib.request.urlopen(self.uri + "/health", timeout=2) as r:
                    if r.read().strip() == b"OK":
                        return self
            except OSError:
                pass
            time.sleep(0.25)
        raise RuntimeError("mlflow server did not answer /health within 120 s")

    def __exit__(self, *exc):
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()


def mlflow_promote_resolve(uri, iterations, versions, checked, workdir):
    """Times promote-and-resolve through MlflowClient; returns per-step lists in ms."""
    import contextlib

    import mlflow
    from mlflow import MlflowClient

    mlflow.set_tracking_uri(uri)
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    name = f"bench-{os.getpid()}-{time.time_ns()}"
    with contextlib.redirect_stdout(sys.stderr):
        experiment = client.create_experiment(name)
        run = client.create_run(experiment)
        model_file = Path(workdir) / "model.bin"
        model_file.write_bytes(b"weights")
        client.log_artifact(run.info.run_id, str(model_file), artifact_path="model")
        client.set_terminated(run.info.run_id)
        client.create_registered_model(name)
        numbers = []
        for _ in range(versions):
            mv = client.create_model_version(
                name, f"runs:/{run.info.run_id}/model", run_id=run.info.run_id
            )
            numbers.append(mv.version)
    alias = "champion"
    steps = {"check": [], "promote": [], "resolve": [], "total": []}
    holder = None
    for i in range(WARMUP + iterations):
        target = numbers[i % len(numbers)]
        t0 = time.perf_counter_ns()
        if checked:
            try:
                current = client.get_model_version_by_alias(name, alias).version
            except mlflow.exceptions.MlflowException:
                current = None
            if current != holder:
                raise RuntimeError(f"alias moved under us: {current} != {holder}")
        t1 = time.perf_counter_ns()
        client.set_registered_model_alias(name, alias, target)
        t2 = time.perf_counter_ns()
        resolved = client.get_model_version_by_alias(name, alias).version
        t3 = time.perf_counter_ns()
        if resolved != target:
            raise RuntimeError(f"resolved {resolved}, expected {target}")
        holder = target
        if i >= WARMUP:
            if checked:
                steps["check"].append((t1 - t0) / 1e6)
            steps["promote"].append((t2 - t1) / 1e6)
            steps["resolve"].append((t3 - t2) / 1e6)
            steps["total"].append((t3 - t0) / 1e6)
    if not checked:
        del steps["check"]
    return steps


# ---------------------------------------------------------------------------------------------
# ours


EXAMPLES = ["registry_latency"]


def build():
    cmd = ["cargo", "build", "--release"]
    for example in EXAMPLES:
        cmd += ["--example", example]
    subprocess.run(cmd, cwd=ROOT, check=True)


def example_binary(name):
    target = Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target"))
    if not target.is_absolute():
        target = ROOT / target
    return target / "release" / "examples" / name


def run_example(name, where, iterations, versions):
    """Runs one of the Rust examples; they print one JSON line with per-operation ms."""
    out = subprocess.run(
        [str(example_binary(name))]
        + where
        + [
            "--iterations",
            str(iterations),
            "--warmup",
            str(WARMUP),
            "--versions",
            str(versions),
        ],
        check=True,
        capture_output=True,
        text=True,
    )
    result = json.loads(out.stdout.strip().splitlines()[-1])
    return {
        "promote": result["promote_ms"],
        "resolve": result["resolve_ms"],
        "total": result["promote_and_resolve_ms"],
    }


# ---------------------------------------------------------------------------------------------


def fmt(ms):
    return f"{ms:8.3f}"


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--iterations", type=int, default=200)
    parser.add_argument("--versions", type=int, default=4)
    parser.add_argument("--mlflow-uri")
    parser.add_argument("--skip-build", action="store_true")
    parser.add_argument("--json", help="also write the raw results to this file")
    args = parser.parse_args()

    if not args.skip_build:
        build()
    results = {}
    with tempfile.TemporaryDirectory(prefix="registry-bench-") as tmp:
        tmp = Path(tmp)
        print(f"[bench] ours: local folder, {args.iterations} operations", file=sys.stderr)
        (tmp / "ours").mkdir()
        results["ours (local folder)"] = run_example(
            "registry_latency",
            ["--root", str(tmp / "ours" / "registry")],
            args.iterations,
            args.versions,
        )

        (tmp / "sqlite").mkdir()
        print("[bench] MLflow local sqlite (no server)", file=sys.stderr)
        results["MLflow sqlite, plain"] = mlflow_promote_resolve(
            f"sqlite:///{tmp / 'sqlite' / 'mlflow.db'}",
            args.iterations,
            args.versions,
            False,
            tmp / "sqlite",
        )

        server_dir = tmp / "server"
        server_dir.mkdir()
        if args.mlflow_uri:
            server = None
            uri = args.mlflow_uri
        else:
            print("[bench] starting an MLflow server", file=sys.stderr)
            server = MlflowServer(server_dir).__enter__()
            uri = server.uri
        try:
            print(f"[bench] MLflow server {uri}", file=sys.stderr)
            results["MLflow server, plain"] = mlflow_promote_resolve(
                uri, args.iterations, args.versions, False, server_dir
            )
            results["MLflow server, checked"] = mlflow_promote_resolve(
                uri, args.iterations, args.versions, True, server_dir
            )
            print("[bench] our MLflow backend (Rust) on the same server", file=sys.stderr)
            results["ours -> MLflow server"] = run_example(
                "registry_latency", ["--uri", uri], args.iterations, args.versions
            )
        finally:
            if server is not None:
                server.__exit__(None, None, None)

    base = {step: summary(v) for step, v in results["ours (local folder)"].items()}
    print()
    print(
        f"promote-and-resolve latency, ms ({args.iterations} operations after {WARMUP} "
        f"warm-up; MLflow 'checked' reads the holder first)"
    )
    header = f"{'side':<26} {'step':<8} {'median':>8} {'p99':>8} {'mean':>8}   x median  x p99"
    print(header)
    print("-" * len(header))
    table = {}
    for side, steps in results.items():
        table[side] = {}
        for step, values in steps.items():
            s = summary(values)
            table[side][step] = s
            ratio = ""
            if side != "ours (local folder)" and step in base:
                ratio = (
                    f"   {s['median'] / base[step]['median']:7.1f}"
                    f"  {s['p99'] / base[step]['p99']:6.1f}"
                )
            print(
                f"{side:<26} {step:<8} {fmt(s['median'])} {fmt(s['p99'])} "
                f"{fmt(s['mean'])}{ratio}"
            )
    print()
    print("x = side / ours (local folder): higher means ours is faster; 'total' = promote +")
    print("resolve (+ check for 'checked').")
    ours_total = table["ours (local folder)"]["total"]
    for side in ["MLflow server, plain", "MLflow server, checked", "MLflow sqlite, plain"]:
        t = table[side]["total"]
        print(
            f"  {side:<24} / ours local: median {t['median'] / ours_total['median']:.1f}x, "
            f"p99 {t['p99'] / ours_total['p99']:.1f}x"
        )
    if "ours -> MLflow server" in table:
        rust = table["ours -> MLflow server"]["total"]
        py = table["MLflow server, checked"]["total"]
        print(
            f"  same server, Python client checked / our Rust backend: median "
            f"{py['median'] / rust['median']:.2f}x, p99 {py['p99'] / rust['p99']:.2f}x"
        )
    if args.json:
        Path(args.json).write_text(json.dumps({"raw": results, "summary": table}, indent=1))


if __name__ == "__main__":
    main()
