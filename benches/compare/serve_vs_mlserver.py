#!/usr/bin/env python3
"""Serve the same single-row FP32 linear model behind MLServer and behind `mlops serve`, load
both with the same generator (wrk) at concurrency 1 and 32 in one run, and compare; measure in
the same run the limit (our own minimal axum handler answering a fixed JSON) and the same
regression exported from scikit-learn to ONNX, with batching off and on.

    python3 benches/compare/serve_vs_mlserver.py [--duration 60] [--duration-c1 20]
    python3 benches/compare/serve_vs_mlserver.py --servers limit,linear,onnx,onnx-batch --duration 10
    python3 benches/compare/serve_vs_mlserver.py --servers limit,linear,onnx,onnx-batch --duration 2 --rounds 20

The servers (`--servers`, default all, in this order):
- `mlserver`: MLServer 1.7.1 with a numpy runtime of the linear model;
- `limit`: `mlops-serve/examples/fixed_answer.rs`, an axum handler that reads the body and
  answers a fixed JSON (no parsing, no model, no metrics): what axum, hyper and tokio alone do;
- `linear`: `mlops serve` with the built-in linear model (JSON file);
- `onnx`: `mlops serve` with the same regression from scikit-learn through skl2onnx (made by
  `mlops-serve/tests/python/make_linear_onnx.py` with the test venv's Python);
- `onnx-batch`: the same with `--max-batch-size 32` (adaptive batching; the mean batch size
  comes from the server's `mlops_serve_batch_size` histogram, scraped before and after).
Every server's req/s is then printed as a share of the limit's. With `--rounds N` every server
is measured N times, interleaved (all servers stay up; each round loads them one after the
other): throughput and CPU are totals over the rounds, latencies the median, and each share
the median of the rounds' shares, so a load that moves on a shared machine moves both sides.
Short slots and many rounds suit a shared VM best: the development machine alternates between
fast and slow phases of tens of seconds (the limit itself moves by a fifth, and a server
with more code per request, ours, by more), so 2 s slots keep a round within one phase; the
spread of the rounds' shares (quartiles) is printed with the median.

For each server and concurrency it prints requests/s, p50/p99 latency (wrk's), the server's
CPU time per request (utime+stime of the server's whole process tree from /proc, so MLServer's
worker processes count too) and its RSS at the start, end and maximum of the run (sampled every
0.5 s), then the ratios. The last line is the same data as JSON.

Setup, done by the script when needed:
- MLServer lives in its own venv, `.venv-mlserver/` at the repository root (gitignored), with
  the pinned version below: it is never installed into the test venv (dependency conflicts).
  The model runs in a tiny custom MLServer runtime (numpy, the same coefficients), so no
  pickle is involved on either side.
- `mlops` is built with `cargo build --release --bin mlops` (honours CARGO_TARGET_DIR), unless
  `--mlops-bin` points at a binary.
- `fixed_answer` is built with `cargo build --release -p mlops-serve --example fixed_answer`.
- The ONNX file is written by the test venv's Python (`--venv`, default `.venv`, else
  `/work/main/.venv`), which has scikit-learn and skl2onnx.
- `wrk` (Debian package `wrk`) must be on PATH; as root the script installs it with apt-get.

Why wrk: a C event-loop generator that sustains well over 100k req/s per core on loopback with
keep-alive, so at the 15-30k req/s we expect it is not the bottleneck; it reports latency
percentiles (--latency) and counts non-2xx answers; its Lua hook sets the POST body. Both
servers get exactly the same wrk command line. The machine has 2 cores shared by wrk and the
server, which is the same handicap for both.
"""

import argparse
import statistics
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
MLSERVER_VENV = ROOT / ".venv-mlserver"
# uvloop 0.22+ raises in asyncio.get_event_loop() outside a running loop, which kills MLServer
# 1.7.1's inference worker processes at start (the model then never loads): pin the last
# release before that change.
MLSERVER_REQUIREMENTS = ["mlserver==1.7.1", "uvloop==0.21.0"]
CLK_TCK = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")

# The model: y = x . W + b, 4 features, FP32, one output.
COEFFICIENTS = [0.5, -1.25, 2.0, 0.125]
INTERCEPT = 0.75
ROW = [1.0, 2.0, 3.0, 4.0]
EXPECTED = sum(x * w for x, w in zip(ROW, COEFFICIENTS)) + INTERCEPT
BODY = json.dumps({"inputs": [{"name": "input", "shape": [1, 4], "datatype": "FP32", "data": ROW}]})

MLSERVER_RUNTIME = '''
import json

import numpy as np
from mlserver import MLModel
from mlserver.codecs import NumpyCodec
from mlserver.types import InferenceRequest, InferenceResponse
from mlserver.utils import get_model_uri


class LinearRuntime(MLModel):
    """y = x . W + b from the same JSON file `mlops serve` reads."""

    async def load(self) -> bool:
        with open(await get_model_uri(self._settings), encoding="utf-8") as f:
            spec = json.load(f)
        self._w = np.asarray(spec["coefficients"], dtype=np.float32).T
        self._b = np.asarray(spec["intercept"], dtype=np.float32)
        return True

    async def predict(self, payload: InferenceRequest) -> InferenceResponse:
        x = NumpyCodec.decode_input(payload.inputs[0]).astype(np.float32)
        y = x @ self._w + self._b
        return InferenceResponse(
            model_name=self.name,
            outputs=[NumpyCodec.encode_output("output", y.astype(np.float32))],
        )
'''


def log(message):
    print(f"[bench] {message}", file=sys.stderr, flush=True)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# --- setup ---------------------------------------------------------------------------------
def ensure_wrk():
    if shutil.which("wrk"):
        return
    if os.geteuid() != 0:
        sys.exit("wrk is not on PATH: install the Debian package `wrk` (apt-get install wrk)")
    log("installing wrk (Debian package)")
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    cmd = ["apt-get", "install", "-y", "--no-install-recommends", "wrk"]
    if subprocess.run(cmd, env=env, capture_output=True).returncode != 0:
        subprocess.run(["apt-get", "update"], env=env, check=True, capture_output=True)
        subprocess.run(cmd, env=env, check=True, capture_output=True)


def ensure_mlserver_venv():
    stamp = MLSERVER_VENV / ".requirements"
    want = "\n".join(MLSERVER_REQUIREMENTS)
    python = MLSERVER_VENV / "bin" / "python"
    if python.exists() and stamp.exists() and stamp.read_text() == want:
        return MLSERVER_VENV / "bin" / "mlserver"
    log(f"creating {MLSERVER_VENV} with {' '.join(MLSERVER_REQUIREMENTS)}")
    subprocess.run([sys.executable, "-m", "venv", str(MLSERVER_VENV)], check=True)
    subprocess.run(
        [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", *MLSERVER_REQUIREMENTS],
        check=True,
    )
    stamp.write_text(want)
    return MLSERVER_VENV / "bin" / "mlserver"


def target_dir():
    target = Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target"))
    return target if target.is_absolute() else ROOT / target


def ensure_mlops(binary):
    if binary:
        return Path(binary)
    log("building mlops (cargo build --release --bin mlops)")
    subprocess.run(["cargo", "build", "--release", "--bin", "mlops"], cwd=ROOT, check=True)
    return target_dir() / "release" / "mlops"


def ensure_fixed_answer(binary):
    if binary:
        return Path(binary)
    log("building the limit (cargo build --release -p mlops-serve --example fixed_answer)")
    subprocess.run(["cargo", "build", "--release", "-p", "mlops-serve", "--example", "fixed_answer"],
                   cwd=ROOT, check=True)
    return target_dir() / "release" / "examples" / "fixed_answer"


def find_venv_python(venv):
    candidates = [Path(venv)] if venv else [ROOT / ".venv", Path("/work/main/.venv")]
    for candidate in candidates:
        python = candidate / "bin" / "python"
        if python.exists():
            return python
    sys.exit(f"no Python venv with scikit-learn and skl2onnx among {[str(c) for c in candidates]}: pass --venv")


def write_onnx(python, work):
    """The same regression, exported from scikit-learn by skl2onnx."""
    out = work / "linear.onnx"
    script = ROOT / "mlops-serve" / "tests" / "python" / "make_linear_onnx.py"
    subprocess.run([str(python), str(script), str(out)], check=True)
    return out


def write_models(work):
    model = {
        "format": "mlops-linear/1",
        "kind": "linear",
        "datatype": "FP32",
        "input": "input",
        "output": "output",
        "coefficients": [COEFFICIENTS],
        "intercept": [INTERCEPT],
    }
    linear = work / "linear.json"
    linear.write_text(json.dumps(model))
    repo = work / "mlserver" / "linear"
    repo.mkdir(parents=True)
    shutil.copy(linear, repo / "linear.json")
    (repo / "linear_runtime.py").write_text(MLSERVER_RUNTIME)
    (repo / "model-settings.json").write_text(
        json.dumps(
            {
                "name": "linear",
                "implementation": "linear_runtime.LinearRuntime",
                "parameters": {"uri": "./linear.json"},
            }
        )
    )
    lua = work / "post.lua"
    lua.write_text(
        'wrk.method = "POST"\n'
        f"wrk.body = {json.dumps(BODY)}\n"
        'wrk.headers["Content-Type"] = "application/json"\n'
    )
    return linear, work / "mlserver", lua


# --- processes -----------------------------------------------------------------------------
def process_tree(root_pid):
    """root_pid and all its live descendants."""
    parents = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()
        parents[int(entry)] = int(fields[1])
    tree, frontier = {root_pid}, [root_pid]
    while frontier:
        pid = frontier.pop()
        for child, parent in parents.items():
            if parent == pid and child not in tree:
                tree.add(child)
                frontier.append(child)
    return tree


def cpu_seconds(pids):
    """utime + stime of `pids` (and their reaped children), in seconds."""
    total = 0
    for pid in pids:
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()
        # fields[0] is state (field 3); utime, stime, cutime, cstime are fields 14-17.
        total += sum(int(v) for v in fields[11:15])
    return total / CLK_TCK


def rss_bytes(pids):
    total = 0
    for pid in pids:
        try:
            total += int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * PAGE
        except OSError:
            continue
    return total


class RssSampler(threading.Thread):
    def __init__(self, root_pid, interval=0.5):
        super().__init__(daemon=True)
        self.root_pid, self.interval = root_pid, interval
        self.samples = []
        self.stop = threading.Event()

    def run(self):
        while not self.stop.is_set():
            self.samples.append(rss_bytes(process_tree(self.root_pid)))
            self.stop.wait(self.interval)

    def finish(self):
        self.stop.set()
        self.join()
        self.samples.append(rss_bytes(process_tree(self.root_pid)))
        return self.samples


def wait_ready(url, proc, timeout=120):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(f"{url}/v2/health/ready", timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{url} was not ready within {timeout}s")


def check_prediction(url):
    request = urllib.request.Request(
        f"{url}/v2/models/linear/infer", data=BODY.encode(), headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=10) as r:
        answer = json.load(r)
    value = answer["outputs"][0]["data"][0]
    if abs(value - EXPECTED) > 1e-5:
        raise RuntimeError(f"{url} answered {value}, expected {EXPECTED}")


def batch_histogram(url):
    """(sum, count) of `mlops_serve_batch_size` for the model, or None (no such family)."""
    try:
        with urllib.request.urlopen(f"{url}/metrics", timeout=10) as r:
            text = r.read().decode()
    except OSError:
        return None
    found = {}
    for line in text.splitlines():
        match = re.match(r'mlops_serve_batch_size_(sum|count)\{[^}]*model="linear"[^}]*\} (\S+)', line)
        if match:
            found[match.group(1)] = float(match.group(2))
    return (found["sum"], found["count"]) if len(found) == 2 else None


def stop(proc):
    if proc.poll() is None:
        os.killpg(proc.pid, 15)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, 9)
            proc.wait()


# --- load ----------------------------------------------------------------------------------
UNITS = {"us": 1e-3, "ms": 1.0, "s": 1000.0, "m": 60000.0}


def to_ms(text):
    match = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text)
    if not match:
        raise ValueError(f"cannot parse wrk latency {text!r}")
    return float(match.group(1)) * UNITS[match.group(2)]


def run_wrk(url, lua, connections, seconds):
    threads = min(connections, 2)
    cmd = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--latency", "--timeout", "10s",
           "-s", str(lua), f"{url}/v2/models/linear/infer"]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    requests = int(re.search(r"(\d+) requests in", out).group(1))
    latency = dict(re.findall(r"^\s+(50|75|90|99)%\s+(\S+)$", out, re.M))
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    return {
        "requests": requests,
        "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),
        "p50_ms": to_ms(latency["50"]),
        "p99_ms": to_ms(latency["99"]),
        "non_2xx": int(non_2xx.group(1)) if non_2xx else 0,
        "socket_errors": sum(int(g) for g in errors.groups()) if errors else 0,
        "wrk": " ".join(cmd[:-3]),
    }


def measure(name, proc, url, lua, runs, warm_up=True):
    results = {}
    if warm_up:
        log(f"{name}: warm-up 5 s at concurrency 32")
        run_wrk(url, lua, 32, 5)
    for connections, seconds in runs:
        log(f"{name}: {seconds} s at concurrency {connections}")
        tree = process_tree(proc.pid)
        cpu_before = cpu_seconds(tree)
        batches_before = batch_histogram(url)
        sampler = RssSampler(proc.pid)
        sampler.start()
        result = run_wrk(url, lua, connections, seconds)
        samples = sampler.finish()
        tree = process_tree(proc.pid)
        cpu = cpu_seconds(tree) - cpu_before
        batches_after = batch_histogram(url)
        if batches_before and batches_after and batches_after[1] > batches_before[1]:
            result["batch_rows"] = batches_after[0] - batches_before[0]
            result["batches"] = batches_after[1] - batches_before[1]
            result["mean_batch_size"] = result["batch_rows"] / result["batches"]
        result.update(
            {
                "cpu_seconds": cpu,
                "cpu_us_per_request": cpu / max(result["requests"], 1) * 1e6,
                "server_processes": len(tree),
                "rss_start_mib": samples[0] / 2**20,
                "rss_end_mib": samples[-1] / 2**20,
                "rss_max_mib": max(samples) / 2**20,
                "seconds": seconds,
            }
        )
        results[connections] = result
    return results


def combine(rounds):
    """One server's runs at one concurrency over the rounds: totals for throughput and CPU,
    medians for latency, the RSS of the whole span."""
    if len(rounds) == 1:
        return rounds[0]
    requests = sum(r["requests"] for r in rounds)
    seconds = sum(r["seconds"] for r in rounds)
    cpu = sum(r["cpu_seconds"] for r in rounds)
    combined = {
        "requests": requests,
        "rps": requests / seconds,
        "p50_ms": statistics.median(r["p50_ms"] for r in rounds),
        "p99_ms": statistics.median(r["p99_ms"] for r in rounds),
        "non_2xx": sum(r["non_2xx"] for r in rounds),
        "socket_errors": sum(r["socket_errors"] for r in rounds),
        "wrk": rounds[0]["wrk"],
        "cpu_seconds": cpu,
        "cpu_us_per_request": cpu / max(requests, 1) * 1e6,
        "server_processes": rounds[-1]["server_processes"],
        "rss_start_mib": rounds[0]["rss_start_mib"],
        "rss_end_mib": rounds[-1]["rss_end_mib"],
        "rss_max_mib": max(r["rss_max_mib"] for r in rounds),
        "seconds": seconds,
        "rounds_rps": [r["rps"] for r in rounds],
    }
    if all("batches" in r for r in rounds):
        combined["mean_batch_size"] = sum(r["batch_rows"] for r in rounds) / sum(r["batches"] for r in rounds)
    return combined


def share_of(report, name, base, connections):
    """`name`'s throughput as a share of `base`'s: with rounds, the median of the rounds'
    shares (each round measures every server back to back, so a share compares like with
    like on a shared machine even when the machine's load moves between rounds)."""
    ours, theirs = report[name]["runs"][connections], report[base]["runs"][connections]
    if "rounds_rps" in ours and "rounds_rps" in theirs:
        return statistics.median(a / b for a, b in zip(ours["rounds_rps"], theirs["rounds_rps"]))
    return ours["rps"] / theirs["rps"]


def spread(report, chosen, connections):
    """With rounds: the limit's own per-round range (the machine's phases) and the quartiles of
    each server's per-round share of it."""
    limit = report["limit"]["runs"][connections].get("rounds_rps")
    if not limit or len(limit) < 4:
        return
    print(f"  limit per round: {min(limit):.0f} to {max(limit):.0f} req/s")
    for name in chosen:
        rounds = report[name]["runs"][connections].get("rounds_rps")
        if name == "limit" or not rounds:
            continue
        q1, q2, q3 = statistics.quantiles((a / b for a, b in zip(rounds, limit)), n=4)
        print(f"  {LABELS[name]}: share per round, quartiles {q1:.0%} / {q2:.0%} / {q3:.0%}")


def start_mlops(binary, model, port, extra=()):
    cmd = [str(binary), "serve", "--model", f"linear={model}", "--addr", f"127.0.0.1:{port}", *extra]
    log_file = open(model.parent / f"mlops-{model.suffix[1:]}{'-batch' if extra else ''}.log", "wb")
    proc = subprocess.Popen(cmd, stdout=log_file, stderr=subprocess.STDOUT, start_new_session=True)
    return proc, "mlops " + " ".join(cmd[1:])


def start_fixed_answer(binary, work, port):
    cmd = [str(binary), f"127.0.0.1:{port}"]
    log_file = open(work / "fixed_answer.log", "wb")
    proc = subprocess.Popen(cmd, stdout=log_file, stderr=subprocess.STDOUT, start_new_session=True)
    return proc, "fixed_answer (axum handler, fixed JSON answer)"


def wait_listening(url, proc, timeout=60):
    """The limit has no health route: wait until its infer route answers."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}")
        try:
            check_prediction(url)
            return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"{url} did not answer within {timeout}s")


def start_mlserver(mlserver, repo, port, workers):
    settings = {
        "http_port": port,
        "grpc_port": free_port(),
        "metrics_port": free_port(),
        "parallel_workers": workers,
    }
    (repo / "settings.json").write_text(json.dumps(settings))
    log_file = open(repo.parent / "mlserver.log", "wb")
    proc = subprocess.Popen(
        [str(mlserver), "start", str(repo)],
        cwd=repo,
        stdout=log_file,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    return proc, f"mlserver start (parallel_workers={workers})"


SERVERS = ("mlserver", "limit", "linear", "onnx", "onnx-batch")
LABELS = {
    "mlserver": "MLServer",
    "limit": "limit",
    "linear": "mlops linear",
    "onnx": "mlops ONNX",
    "onnx-batch": "ONNX batch32",
}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=int, default=60, help="seconds at concurrency 32 (the soak run)")
    parser.add_argument("--duration-c1", type=int, default=20, help="seconds at concurrency 1 (0: skip)")
    parser.add_argument("--servers", default=",".join(SERVERS),
                        help=f"comma-separated subset of {','.join(SERVERS)} (default: all)")
    parser.add_argument("--mlops-bin", help="a built mlops binary (default: cargo build --release)")
    parser.add_argument("--fixed-answer-bin", help="a built fixed_answer example (default: cargo build --release)")
    parser.add_argument("--venv", help="a venv with scikit-learn and skl2onnx (default: .venv, /work/main/.venv)")
    parser.add_argument("--max-batch-delay-ms", type=int, default=0,
                        help="--max-batch-delay-ms of the onnx-batch server (default 0)")
    parser.add_argument(
        "--mlserver-workers", type=int, default=1,
        help="MLServer parallel_workers (its default 1: inference in one worker process; 0: in the HTTP process)",
    )
    parser.add_argument(
        "--rounds", type=int, default=1,
        help="measure every server this many times, interleaved (each run --duration/--duration-c1 "
             "seconds); shares are the median of the rounds' shares",
    )
    args = parser.parse_args()
    if args.rounds < 1:
        sys.exit(f"--rounds must be at least 1, got {args.rounds}")
    chosen = [name for name in args.servers.split(",") if name]
    unknown = set(chosen) - set(SERVERS)
    if unknown:
        sys.exit(f"unknown servers {sorted(unknown)}: choose among {', '.join(SERVERS)}")
    chosen = [name for name in SERVERS if name in chosen]

    ensure_wrk()
    mlserver = ensure_mlserver_venv() if "mlserver" in chosen else None
    mlops = {"linear", "onnx", "onnx-batch"} & set(chosen)
    binary = ensure_mlops(args.mlops_bin) if mlops else None
    fixed = ensure_fixed_answer(args.fixed_answer_bin) if "limit" in chosen else None
    python = find_venv_python(args.venv) if {"onnx", "onnx-batch"} & set(chosen) else None
    runs = ([(1, args.duration_c1)] if args.duration_c1 > 0 else []) + [(32, args.duration)]
    report = {"loadavg_before": Path("/proc/loadavg").read_text().split()[:3], "cpus": os.cpu_count()}
    with tempfile.TemporaryDirectory(prefix="serve-bench-") as tmp:
        work = Path(tmp)
        linear, repo, lua = write_models(work)
        onnx = write_onnx(python, work) if python else None
        batching = ["--max-batch-size", "32", "--max-batch-delay-ms", str(args.max_batch_delay_ms)]
        starts = {
            "mlserver": lambda port: start_mlserver(mlserver, repo, port, args.mlserver_workers),
            "limit": lambda port: start_fixed_answer(fixed, work, port),
            "linear": lambda port: start_mlops(binary, linear, port),
            "onnx": lambda port: start_mlops(binary, onnx, port),
            "onnx-batch": lambda port: start_mlops(binary, onnx, port, batching),
        }
        # Every server runs for the whole benchmark (an idle server costs nothing); each round
        # loads them one after the other, so a round's shares compare runs made back to back.
        procs = {}
        try:
            for name in chosen:
                port = free_port()
                proc, command = starts[name](port)
                url = f"http://127.0.0.1:{port}"
                procs[name] = (proc, url)
                if name == "limit":
                    wait_listening(url, proc)
                else:
                    wait_ready(url, proc)
                check_prediction(url)
                report[name] = {"command": command, "runs": {}}
            measured = {name: [] for name in chosen}
            for round_ in range(args.rounds):
                if args.rounds > 1:
                    log(f"round {round_ + 1} of {args.rounds}")
                for name in chosen:
                    proc, url = procs[name]
                    measured[name].append(measure(name, proc, url, lua, runs, warm_up=round_ == 0))
            for name in chosen:
                report[name]["runs"] = {
                    connections: combine([m[connections] for m in measured[name]]) for connections, _ in runs
                }
        finally:
            for proc, _ in procs.values():
                stop(proc)
    report["loadavg_after"] = Path("/proc/loadavg").read_text().split()[:3]

    print(f"single-row FP32 linear model, 4 features; wrk on loopback; {os.cpu_count()} CPUs shared by "
          f"wrk and the server; load average before {' '.join(report['loadavg_before'])}, "
          f"after {' '.join(report['loadavg_after'])}")
    header = f"{'server':<13} {'conc':>4} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'CPU us/req':>10} " \
             f"{'RSS start/end/max MiB':>22} {'batch':>6} {'errors':>6}"
    print(header)
    failed = False
    for name in chosen:
        for connections, r in report[name]["runs"].items():
            errors = r["non_2xx"] + r["socket_errors"]
            failed |= errors > 0
            rss = f"{r['rss_start_mib']:.1f}/{r['rss_end_mib']:.1f}/{r['rss_max_mib']:.1f}"
            batch = f"{r['mean_batch_size']:.2f}" if "mean_batch_size" in r else "-"
            print(f"{LABELS[name]:<13} {connections:>4} {r['rps']:>9.0f} {r['p50_ms']:>8.3f} {r['p99_ms']:>8.3f} "
                  f"{r['cpu_us_per_request']:>10.1f} {rss:>22} {batch:>6} {errors:>6}")
    if "limit" in report:
        for connections, _ in runs:
            limit = report["limit"]["runs"][connections]["rps"]
            shares = ", ".join(
                f"{LABELS[name]} {share_of(report, name, 'limit', connections):.0%}"
                for name in chosen if name != "limit"
            )
            print(f"concurrency {connections}: share of the limit ({limit:.0f} req/s): {shares}")
            spread(report, chosen, connections)
        if "onnx" in report:
            share = share_of(report, "onnx", "limit", 32)
            print(f"target: ONNX >= 75% of the limit at concurrency 32: {'met' if share >= 0.75 else 'MISSED'} "
                  f"({share:.0%})")
    if "limit" in report and "onnx-batch" in report:
        share = share_of(report, "onnx-batch", "limit", 32)
        print(f"ONNX with batching at concurrency 32: {share:.0%} of the limit")
    if "onnx" in report and "onnx-batch" in report:
        for connections, _ in runs:
            off, on = report["onnx"]["runs"][connections], report["onnx-batch"]["runs"][connections]
            print(f"concurrency {connections}: ONNX batching on/off throughput "
                  f"{share_of(report, 'onnx-batch', 'onnx', connections):.2f}x, "
                  f"mean batch size {on.get('mean_batch_size', float('nan')):.2f} (off: "
                  f"{off.get('mean_batch_size', float('nan')):.2f})")
    if "mlserver" in report and "linear" in report:
        for connections, _ in runs:
            ours, theirs = report["linear"]["runs"][connections], report["mlserver"]["runs"][connections]
            print(f"concurrency {connections}: mlops/MLServer throughput "
                  f"{share_of(report, 'linear', 'mlserver', connections):.1f}x, "
                  f"CPU per request {theirs['cpu_us_per_request'] / ours['cpu_us_per_request']:.1f}x less, "
                  f"p99 {ours['p99_ms']:.3f} ms vs {theirs['p99_ms']:.3f} ms")
        c32 = report["linear"]["runs"][32]
        c1 = report["linear"]["runs"].get(1)
        print(f"targets: >=20x MLServer at concurrency 32: "
              f"{'met' if c32['rps'] >= 20 * report['mlserver']['runs'][32]['rps'] else 'MISSED'}; "
              + (f"p99 < 2 ms at concurrency 1: {'met' if c1['p99_ms'] < 2 else 'MISSED'}; " if c1 else "")
              + f"mlops RSS over the {args.duration} s run: start {c32['rss_start_mib']:.1f}, "
              f"end {c32['rss_end_mib']:.1f}, max {c32['rss_max_mib']:.1f} MiB")
    print(json.dumps(report))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
