"""mlops-track against MLflow's Python client, in one run, on the same machine.

Run from anywhere (it finds the workspace root from its own path), with the test venv:

    .venv/bin/python benches/compare/track_vs_mlflow.py             # everything (~5-8 min)
    .venv/bin/python benches/compare/track_vs_mlflow.py --quick     # 1k runs only for search, fewer repeats

What it measures (ours through `examples/track_timing.rs`, built with --release; MLflow
3.x from the venv, in this process):

1. 100k metric points logged and flushed:
   - ours: `ActiveRun::log_metric` x 100k then `flush().await` into an embedded store in a
     local folder (fsync on every write);
   - MLflow: `MlflowClient.log_batch` (1000 points per call, the most MLflow takes) on a
     `sqlite:///` tracking URI.
2. 100k points sent to a real MLflow server that this script starts in a temporary folder
   (`mlflow server`, sqlite backend, `--workers N`, default 1 as scripts/test.sh):
   - ours: `ActiveRun` on `MlflowStore` (1000-point batches, 4 in flight);
   - MLflow's client: `log_batch` of 1000 points per call;
   - the server's own limit: pre-serialised `runs/log-batch` requests of 1000 points sent
     back to back from a tight client (one `requests.Session`), and from 4 such clients in
     threads; the faster of the two is the limit.
3. The hot-loop cost of one `log_metric` call: ours (median over blocks of 1000 calls)
   against MLflow's `log_metric` on `sqlite:///` (median of single calls).
4. Search `metrics.rmse < 0.5 and params.alpha = '0.1'` (first page of 1000, MLflow's
   default order): ours over 10,000 runs in a local folder, three ways (a new process: open
   and search; the same store once its 2 s refresh interval has passed, so every run's
   folders are listed again; a store whose cache is within its refresh interval) against
   MLflow's `search_runs` on sqlite over 1,000 and 10,000 runs with the same data (run i:
   rmse = (i mod 100)/100, alpha = 0.1/0.2/0.5 by i mod 3).

Nothing here asserts on time: it measures and prints a table with the ratios and the
targets of issue 4 (PASS/MISS). The machines have 2 shared cores: compare the ratios of one
run, not absolute times across runs.
"""

import argparse
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
TARGET = Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target"))
TIMING = TARGET / "release" / "examples" / "track_timing"
FILTER = "metrics.rmse < 0.5 and params.alpha = '0.1'"
BATCH = 1000

os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
os.environ.setdefault("MLFLOW_ENABLE_ASYNC_LOGGING", "false")


def ours(*args):
    out = subprocess.run([str(TIMING), *args], check=True, capture_output=True, text=True)
    return json.loads(out.stdout)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def mlflow_client(uri):
    from mlflow import MlflowClient

    return MlflowClient(tracking_uri=uri)


def metrics(n, start=0):
    from mlflow.entities import Metric

    now = int(time.time() * 1000)
    return [Metric("loss", 1.0 / (i + 1), now + i, i) for i in range(start, start + n)]


def mlflow_log_batch(client, exp_id, points):
    """100k points through `log_batch`, 1000 per call; seconds."""
    run = client.create_run(exp_id)
    batches = [metrics(BATCH, s) for s in range(0, points, BATCH)]
    t = time.perf_counter()
    for batch in batches:
        client.log_batch(run.info.run_id, metrics=batch)
    elapsed = time.perf_counter() - t
    n = len(client.get_metric_history(run.info.run_id, "loss"))
    assert n == points, f"MLflow holds {n} points, not {points}"
    return elapsed


def mlflow_log_metric_median(client, exp_id, calls):
    run = client.create_run(exp_id)
    times = []
    for i in range(calls):
        t = time.perf_counter()
        client.log_metric(run.info.run_id, "loss", 1.0 / (i + 1), step=i)
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def raw_limit(uri, client, exp_id, points, threads):
    """Pre-serialised log-batch requests of 1000 points, back to back; seconds for `points`."""
    import requests

    per_thread = points // threads
    bodies = []
    for _ in range(threads):
        run_id = client.create_run(exp_id).info.run_id
        now = int(time.time() * 1000)
        bodies.append(
            [
                json.dumps(
                    {
                        "run_id": run_id,
                        "metrics": [
                            {"key": "loss", "value": 1.0 / (i + 1), "timestamp": now + i, "step": i}
                            for i in range(s, s + BATCH)
                        ],
                    }
                )
                for s in range(0, per_thread, BATCH)
            ]
        )
    url = f"{uri}/api/2.0/mlflow/runs/log-batch"
    errors = []

    def send(requests_bodies):
        session = requests.Session()
        for body in requests_bodies:
            r = session.post(url, data=body, headers={"Content-Type": "application/json"})
            if r.status_code != 200:
                errors.append(r.text)

    workers = [threading.Thread(target=send, args=(b,)) for b in bodies]
    t = time.perf_counter()
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    elapsed = time.perf_counter() - t
    assert not errors, errors[:1]
    return elapsed


def start_server(tmp, workers):
    port = free_port()
    uri = f"http://127.0.0.1:{port}"
    log = open(tmp / "server.log", "w")
    env = dict(os.environ, MLFLOW_SERVER_ENABLE_JOB_EXECUTION="false")
    proc = subprocess.Popen(
        [
            str(Path(sys.executable).parent / "mlflow"),
            "server",
            "--host", "127.0.0.1",
            "--port", str(port),
            "--backend-store-uri", f"sqlite:///{tmp}/server.db",
            "--artifacts-destination", str(tmp / "server-artifacts"),
            "--workers", str(workers),
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        env=env,
        start_new_session=True,
    )
    deadline = time.time() + 120
    while time.time() < deadline:
        try:
            with urllib.request.urlopen(f"{uri}/health", timeout=2) as r:
                if r.read().strip() == b"OK":
                    return proc, uri
        except OSError:
            time.sleep(0.5)
        if proc.poll() is not None:
            break
    proc.kill()
    raise SystemExit(f"mlflow server did not start; see {tmp / 'server.log'}")


def mlflow_search_store(uri, runs, exp_id=None, start=0):
    """Adds runs start..runs to experiment "search" of the sqlite store at `uri`.

    Through MLflow's client each run costs three calls (~0.1-0.3 s on this machine), so 10k
    runs would take most of an hour; the rows are inserted with MLflow's own SQLAlchemy
    models in one transaction instead: the same rows `create_run`, `log_batch` and
    `set_terminated` write (runs, metrics, latest_metrics, params, tags).
    """
    import uuid

    from mlflow.store.tracking.dbmodels.models import (
        SqlLatestMetric,
        SqlMetric,
        SqlParam,
        SqlRun,
        SqlTag,
    )
    from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore

    store = SqlAlchemyStore(uri, str(Path(uri.removeprefix("sqlite:///")).parent / "search-artifacts"))
    exp_id = exp_id or store.create_experiment("search")
    now = int(time.time() * 1000)
    with store.ManagedSessionMaker() as session:
        for i in range(start, runs):
            run_id = uuid.uuid4().hex
            value = (i % 100) / 100
            session.add(
                SqlRun(
                    run_uuid=run_id, name=f"run-{i}", source_type="LOCAL", source_name="",
                    entry_point_name="", user_id="bench", status="FINISHED",
                    start_time=1_700_000_000_000 + i, end_time=now, source_version="",
                    lifecycle_stage="active", artifact_uri=f"/artifacts/{run_id}",
                    experiment_id=int(exp_id),
                )
            )
            for model in (SqlMetric, SqlLatestMetric):
                session.add(model(run_uuid=run_id, key="rmse", value=value, timestamp=now, step=0, is_nan=False))
            session.add(SqlParam(run_uuid=run_id, key="alpha", value=["0.1", "0.2", "0.5"][i % 3]))
            session.add(SqlTag(run_uuid=run_id, key="team", value="a" if i % 2 == 0 else "b"))
            session.add(SqlTag(run_uuid=run_id, key="mlflow.runName", value=f"run-{i}"))
    return mlflow_client(uri), exp_id


def mlflow_search(client, exp_id, repeat):
    times, found = [], 0
    for _ in range(repeat):
        t = time.perf_counter()
        found = len(client.search_runs([exp_id], filter_string=FILTER, max_results=1000))
        times.append(time.perf_counter() - t)
    return statistics.median(times), found


def fmt_s(seconds):
    if seconds < 1e-3:
        return f"{seconds * 1e6:.2f} µs" if seconds >= 1e-6 else f"{seconds * 1e9:.0f} ns"
    if seconds < 1:
        return f"{seconds * 1e3:.1f} ms"
    return f"{seconds:.2f} s"


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="1k-run search only, fewer repeats")
    parser.add_argument("--skip-build", action="store_true")
    parser.add_argument("--points", type=int, default=100_000)
    parser.add_argument("--workers", type=int, default=1, help="mlflow server workers")
    parser.add_argument("--keep", help="keep the temporary folder here")
    parser.add_argument("--json", help="also write the raw numbers to this file")
    args = parser.parse_args()
    repeat = 1 if args.quick else 3
    if not args.skip_build:
        subprocess.run(
            # The `track` feature alone: no serving runtime to compile.
            ["cargo", "build", "--release", "-p", "mlops", "--no-default-features",
             "--features", "track", "--example", "track_timing"],
            cwd=ROOT,
            check=True,
        )
    tmp = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="track-vs-mlflow-"))
    tmp.mkdir(parents=True, exist_ok=True)
    r = {}
    server = None
    try:
        import mlflow

        r["mlflow_version"] = mlflow.__version__
        print(f"[bench] MLflow {mlflow.__version__}, temp folder {tmp}", file=sys.stderr)

        # 1. 100k points, local.
        print("[bench] 100k points: ours on a local folder", file=sys.stderr)
        r["ours_local"] = ours("local", "--dir", str(tmp / "ours-local"), "--points", str(args.points), "--repeat", str(repeat))
        print("[bench] 100k points: MLflow log_batch on sqlite", file=sys.stderr)
        sqlite_uri = f"sqlite:///{tmp}/client.db"
        client = mlflow_client(sqlite_uri)
        exp_id = client.create_experiment("timing")
        r["mlflow_sqlite_s"] = statistics.median(
            mlflow_log_batch(client, exp_id, args.points) for _ in range(repeat)
        )

        # 3. log_metric.
        print("[bench] log_metric: ours and MLflow on sqlite", file=sys.stderr)
        r["ours_log_metric"] = ours("log-metric", "--calls", "1000000")
        r["mlflow_log_metric_s"] = mlflow_log_metric_median(client, exp_id, 100 if args.quick else 300)

        # 2. Against a server.
        print(f"[bench] starting mlflow server (--workers {args.workers})", file=sys.stderr)
        server, uri = start_server(tmp, args.workers)
        sclient = mlflow_client(uri)
        sexp = sclient.create_experiment("server-timing")
        print("[bench] 100k points to the server: ours, MLflow log_batch, raw requests", file=sys.stderr)
        r["ours_server"] = ours("mlflow", "--uri", uri, "--points", str(args.points), "--repeat", str(repeat))
        r["mlflow_server_s"] = statistics.median(
            mlflow_log_batch(sclient, sexp, args.points) for _ in range(repeat)
        )
        r["raw_1_s"] = statistics.median(raw_limit(uri, sclient, sexp, args.points, 1) for _ in range(repeat))
        r["raw_4_s"] = statistics.median(raw_limit(uri, sclient, sexp, args.points, 4) for _ in range(repeat))

        # 4. Search.
        print("[bench] search: building 10k runs for ours", file=sys.stderr)
        search_dir = str(tmp / "ours-search")
        r["ours_build"] = ours("build-runs", "--dir", search_dir, "--runs", "10000")
        r["ours_search"] = ours("search-local", "--dir", search_dir, "--repeat", "5")
        print("[bench] search: MLflow sqlite, 1k runs", file=sys.stderr)
        search_uri = f"sqlite:///{tmp}/search.db"
        t = time.perf_counter()
        c, e = mlflow_search_store(search_uri, 1000)
        r["mlflow_build_1k_s"] = time.perf_counter() - t
        r["mlflow_search_1k_s"], r["mlflow_found_1k"] = mlflow_search(c, e, 5)
        if not args.quick:
            print("[bench] search: MLflow sqlite, 10k runs", file=sys.stderr)
            t = time.perf_counter()
            mlflow_search_store(search_uri, 10_000, e, start=1000)
            r["mlflow_build_10k_s"] = time.perf_counter() - t + r["mlflow_build_1k_s"]
            r["mlflow_search_10k_s"], r["mlflow_found_10k"] = mlflow_search(c, e, 5)
    finally:
        if server is not None:
            server.terminate()
            try:
                server.wait(10)
            except subprocess.TimeoutExpired:
                server.kill()
        if not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)

    if args.json:
        Path(args.json).write_text(json.dumps(r, indent=2))
    report(r, args.points)


def report(r, points):
    ours_local = r["ours_local"]["median_s"]
    ours_server = r["ours_server"]["median_s"]
    limit = min(r["raw_1_s"], r["raw_4_s"])
    ours_lm = r["ours_log_metric"]["median_ns"] * 1e-9
    cold = r["ours_search"]["cold_ms"] / 1e3
    relist = r["ours_search"]["relist_ms"] / 1e3
    warm = r["ours_search"]["warm_ms"] / 1e3
    k = points // 1000
    rows = [
        (f"{k}k points logged+flushed, local", fmt_s(ours_local), f"MLflow log_batch, sqlite: {fmt_s(r['mlflow_sqlite_s'])}", f"{r['mlflow_sqlite_s'] / ours_local:.0f}x faster"),
        (f"{k}k points to an MLflow server", fmt_s(ours_server), f"MLflow log_batch: {fmt_s(r['mlflow_server_s'])}", f"{r['mlflow_server_s'] / ours_server:.2f}x faster"),
        ("  the server's limit (raw log-batch)", "", f"1 client {fmt_s(r['raw_1_s'])}, 4 clients {fmt_s(r['raw_4_s'])}", f"ours / limit = {ours_server / limit:.2f}"),
        ("log_metric, median per call", fmt_s(ours_lm), f"MLflow log_metric, sqlite: {fmt_s(r['mlflow_log_metric_s'])}", f"{r['mlflow_log_metric_s'] / ours_lm:,.0f}x"),
        (f"search 10k runs (found {r['ours_search']['found']}), cache warm", fmt_s(warm), f"MLflow sqlite 1k runs: {fmt_s(r['mlflow_search_1k_s'])}", f"{r['mlflow_search_1k_s'] / warm:.2f}x faster"),
        ("  10k, cache older than 2 s (re-list)", fmt_s(relist), "", f"{r['mlflow_search_1k_s'] / relist:.2f}x"),
        ("  10k, new process (open + search)", fmt_s(cold), "", f"{r['mlflow_search_1k_s'] / cold:.2f}x"),
    ]
    if "mlflow_search_10k_s" in r:
        rows.append(("search 10k runs, MLflow sqlite 10k", fmt_s(warm), fmt_s(r["mlflow_search_10k_s"]), f"{r['mlflow_search_10k_s'] / warm:.2f}x faster (new process: {r['mlflow_search_10k_s'] / cold:.2f}x)"))
    print(f"\nMLflow {r['mlflow_version']}\n")
    print("| workload | ours | MLflow | ratio |")
    print("| --- | --- | --- | --- |")
    for row in rows:
        print("| " + " | ".join(row) + " |")
    targets = [
        ("local throughput >= 50x MLflow's client", r["mlflow_sqlite_s"] / ours_local >= 50),
        ("server: within 1.5x of the server's limit", ours_server / limit <= 1.5),
        ("log_metric median < 1 µs", ours_lm < 1e-6),
        ("search 10k (cache warm) faster than MLflow sqlite 1k", warm < r["mlflow_search_1k_s"]),
        ("search 10k (new process) faster than MLflow sqlite 1k", cold < r["mlflow_search_1k_s"]),
    ]
    print()
    for name, ok in targets:
        print(f"{'PASS' if ok else 'MISS'}  {name}")


if __name__ == "__main__":
    main()
