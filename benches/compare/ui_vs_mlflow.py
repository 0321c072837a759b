"""mlops ui against MLflow's UI endpoints, side by side in one run, on the same data.

Run from anywhere (it finds the workspace root from its own path), with the test venv:

    .venv/bin/python benches/compare/ui_vs_mlflow.py --full        # issue 15's size: 10,000 runs, 1M points
    .venv/bin/python benches/compare/ui_vs_mlflow.py               # 1,000 runs, 100k points
    .venv/bin/python benches/compare/ui_vs_mlflow.py --full \
        --mlops-bin /path/to/release/mlops --data-bin /path/to/release/examples/ui_bench_data

By default it builds both binaries in release (`--debug`: debug builds, a smoke run of the
script only); `--mlops-bin` and `--data-bin` use binaries built elsewhere (the lead's release
build) and skip building.

The data (the same values on both sides): an experiment of RUNS finished runs, each with 20
metrics (m00..m19), `rmse` and 5 params; and one more run whose metric `loss` has POINTS
points. Ours is written by `mlops-ui/examples/ui_bench_data.rs` into an embedded store in a
local folder; MLflow's rows are inserted with MLflow's own SQLAlchemy models into sqlite
(the rows `create_run`/`log_batch`/`set_terminated` write; through the client 10k runs take
most of an hour), then `mlflow server` serves that database.

What it measures, for each request the median over --repeat of its **server time**, side by
side, and their ratio: ours is the handler's time the UI reports in its `Server-Timing:
app;dur=<ms>` header; MLflow sends none, so its server time is the request's wall time
(kept-alive connection over loopback) minus the median wall time of its `GET /health` (the
round trip and the framework's floor). The wall times of both are printed beside them:

1. runs table, first page of 100 (ours: the HTML page `GET /experiments/{id}?size=100`;
   MLflow: the UI's `POST /ajax-api/2.0/mlflow/runs/search`, max_results 100, start time
   descending: JSON only, the browser renders it);
2. the same with the filter `metrics.rmse < 0.5 and params.alpha = '0.1'`;
3. the run page of a 20-metric run (ours: `GET /runs/{id}` with min/max of every metric;
   MLflow: `GET /ajax-api/2.0/mlflow/runs/get`);
4. chart data of the POINTS-point metric (ours: `GET /api/runs/{id}/metrics/loss`, at most
   2,000 points keeping each bucket's min/max/last; MLflow: the UI's
   `GET /ajax-api/2.0/mlflow/metrics/get-history-bulk-interval`, 320 sampled points);
   and our run page of that run. Ours caches a finished run's downsampled series, so the
   median is the cached answer: the first (uncached) request is printed beside it;
5. cold: a fresh `mlops ui` process, from spawn to the first runs-table page answered.

Nothing here asserts on time; it prints a table with the ratios and the issue's goals
(≥ 10x faster than MLflow's endpoints, on server time; the 1M-point chart under 100 ms of
server time).
The machines have 2 shared cores: compare ratios within one run.
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
import time
import urllib.parse
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[2]
TARGET = Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target"))
FILTER = "metrics.rmse < 0.5 and params.alpha = '0.1'"
T0 = 1_780_000_000_000

os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_http(url, proc, what, timeout=180):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            if requests.get(url, timeout=2).status_code < 500:
                return
        except requests.RequestException:
            pass
        if proc.poll() is not None:
            break
        time.sleep(0.2)
    proc.kill()
    raise SystemExit(f"{what} did not start")


def mlflow_data(db, runs, points):
    """The same rows as ui_bench_data.rs writes, in MLflow's sqlite schema."""
    import uuid

    from mlflow.store.tracking.dbmodels.models import SqlLatestMetric, SqlMetric, SqlParam, SqlRun, SqlTag
    from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore

    store = SqlAlchemyStore(f"sqlite:///{db}", str(db.parent / "mlflow-artifacts"))
    exp_id = store.create_experiment("bench")
    alphas = ["0.1", "0.2", "0.5"]
    last = None
    with store.ManagedSessionMaker() as session:
        for i in range(runs):
            run_id = uuid.uuid4().hex
            at = T0 + i
            session.add(SqlRun(
                run_uuid=run_id, name=f"run-{i}", source_type="LOCAL", source_name="",
                entry_point_name="", user_id="bench", status="FINISHED", start_time=at,
                end_time=at + 1, source_version="", lifecycle_stage="active",
                artifact_uri=f"/artifacts/{run_id}", experiment_id=int(exp_id)))
            values = [((i * (k + 1)) % 100) / 100 for k in range(20)]
            for key, value in [(f"m{k:02}", v) for k, v in enumerate(values)] + [("rmse", values[0])]:
                for model in (SqlMetric, SqlLatestMetric):
                    session.add(model(run_uuid=run_id, key=key, value=value, timestamp=at, step=0, is_nan=False))
            for key, value in [("alpha", alphas[i % 3]), ("layers", str(i % 5)),
                               ("optimizer", "adam" if i % 2 == 0 else "sgd"), ("batch", "64"), ("seed", str(i))]:
                session.add(SqlParam(run_uuid=run_id, key=key, value=value))
            session.add(SqlTag(run_uuid=run_id, key="mlflow.runName", value=f"run-{i}"))
            last = run_id
        long_id = uuid.uuid4().hex
        session.add(SqlRun(
            run_uuid=long_id, name="long", source_type="LOCAL", source_name="", entry_point_name="",
            user_id="bench", status="FINISHED", start_time=T0 + runs, end_time=T0 + runs + 1,
            source_version="", lifecycle_stage="active", artifact_uri=f"/artifacts/{long_id}",
            experiment_id=int(exp_id)))
        session.flush()
        rows = [dict(run_uuid=long_id, key="loss", value=1.0 / (1.0 + s) + (s % 7) * 1e-3, timestamp=T0 + s,
                     step=s, is_nan=False) for s in range(points)]
        for start in range(0, len(rows), 50_000):
            session.bulk_insert_mappings(SqlMetric, rows[start:start + 50_000])
        end = rows[-1]
        session.add(SqlLatestMetric(**end))
    return exp_id, last, long_id


def server_timing(response):
    """The `app;dur=<ms>` of a Server-Timing header, in seconds, or None."""
    for part in response.headers.get("server-timing", "").split(","):
        name, _, rest = part.strip().partition(";")
        if name == "app" and rest.startswith("dur="):
            return float(rest[4:]) / 1e3
    return None


def timed(session, method, url, repeat, floor=0.0, **kw):
    """Medians over `repeat` requests: {wall, server, first (server time of the first,
    uncached request: our chart data of a finished run is cached after it), bytes}. Server
    time is the Server-Timing header's when the server sends one, else wall - `floor`."""
    walls, servers, size = [], [], 0
    for _ in range(repeat):
        t = time.perf_counter()
        r = session.request(method, url, timeout=600, **kw)
        body = r.content
        wall = time.perf_counter() - t
        if r.status_code != 200:
            raise SystemExit(f"{method} {url}: HTTP {r.status_code}: {body[:300]!r}")
        reported = server_timing(r)
        walls.append(wall)
        servers.append(reported if reported is not None else max(wall - floor, 0.0))
        size = len(body)
    return {"wall": statistics.median(walls), "server": statistics.median(servers),
            "first": servers[0], "bytes": size}


def fmt(seconds):
    if seconds < 0.01:
        return f"{seconds * 1e3:.2f} ms"
    return f"{seconds * 1e3:.1f} ms" if seconds < 1 else f"{seconds:.2f} s"


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--full", action="store_true",
                        help="issue 15's size: 10,000 runs x 20 metrics, one 1,000,000-point metric "
                             "(default: 1,000 runs, 100,000 points)")
    parser.add_argument("--runs", type=int)
    parser.add_argument("--points", type=int)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--skip-build", action="store_true")
    parser.add_argument("--mlops-bin", type=Path, help="the `mlops` binary to run (a release build); skips building")
    parser.add_argument("--data-bin", type=Path,
                        help="the `ui_bench_data` example binary (a release build); skips building")
    parser.add_argument("--debug", action="store_true", help="debug builds (a smoke run of the script only)")
    parser.add_argument("--keep", help="keep the temporary folder here")
    parser.add_argument("--json", help="also write the raw numbers to this file")
    args = parser.parse_args()
    runs = args.runs or (10_000 if args.full else 1_000)
    points = args.points or (1_000_000 if args.full else 100_000)
    profile = "debug" if args.debug else "release"
    mlops_bin = args.mlops_bin or TARGET / profile / "mlops"
    data_bin = args.data_bin or TARGET / profile / "examples" / "ui_bench_data"
    for given in (args.mlops_bin, args.data_bin):
        if given is not None and not given.is_file():
            raise SystemExit(f"{given}: no such binary")
    if not args.skip_build and not (args.mlops_bin and args.data_bin):
        build = ["cargo", "build", "-p", "mlops-cli", "--bin", "mlops", "-p", "mlops-ui", "--example", "ui_bench_data"]
        subprocess.run(build + ([] if args.debug else ["--release"]), cwd=ROOT, check=True)
    tmp = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="ui-vs-mlflow-"))
    tmp.mkdir(parents=True, exist_ok=True)
    procs = []
    r = {"runs": runs, "points": points}
    try:
        import mlflow

        r["mlflow_version"] = mlflow.__version__
        print(f"[bench] {runs} runs x 20 metrics, one {points}-point metric; folder {tmp}", file=sys.stderr)
        store = tmp / "ours"
        if not (store / "FORMAT.json").exists():
            t = time.perf_counter()
            out = subprocess.run([str(data_bin), str(store), str(runs), str(points)], check=True,
                                 capture_output=True, text=True).stdout
            (tmp / "ours.json").write_text(out)
            print(f"[bench] ours written in {time.perf_counter() - t:.1f} s", file=sys.stderr)
        ours_ids = json.loads((tmp / "ours.json").read_text())
        db = tmp / "mlflow.db"
        if not db.exists():
            t = time.perf_counter()
            exp, last, long_id = mlflow_data(db, runs, points)
            (tmp / "mlflow.json").write_text(json.dumps({"experiment_id": exp, "run": last, "long_run": long_id}))
            print(f"[bench] MLflow rows written in {time.perf_counter() - t:.1f} s", file=sys.stderr)
        ml_ids = json.loads((tmp / "mlflow.json").read_text())

        # The cold start: a new process, then the first page.
        port = free_port()
        ui = f"http://127.0.0.1:{port}"
        t = time.perf_counter()
        proc = subprocess.Popen([str(mlops_bin), "ui", "--store", str(store), "--addr", f"127.0.0.1:{port}"],
                                stdout=subprocess.DEVNULL, stderr=open(tmp / "ui.log", "w"), start_new_session=True)
        procs.append(proc)
        wait_http(f"{ui}/assets/ui.css", proc, "mlops ui")
        started = time.perf_counter() - t
        exp = ours_ids["experiment_id"]
        t = time.perf_counter()
        first = requests.get(f"{ui}/experiments/{exp}?size=100", timeout=600)
        assert first.status_code == 200, first.text[:300]
        r["ours_cold_first_page_s"] = time.perf_counter() - t
        r["ours_process_start_s"] = started

        mport = free_port()
        ml = f"http://127.0.0.1:{mport}"
        env = dict(os.environ, MLFLOW_SERVER_ENABLE_JOB_EXECUTION="false")
        mproc = subprocess.Popen(
            [str(Path(sys.executable).parent / "mlflow"), "server", "--host", "127.0.0.1", "--port", str(mport),
             "--backend-store-uri", f"sqlite:///{db}", "--artifacts-destination", str(tmp / "mlflow-artifacts"),
             "--workers", "1"],
            stdout=open(tmp / "mlflow.log", "w"), stderr=subprocess.STDOUT, env=env, start_new_session=True)
        procs.append(mproc)
        wait_http(f"{ml}/health", mproc, "mlflow server")

        s_ours, s_ml = requests.Session(), requests.Session()
        # MLflow's floor: a kept-alive round trip to its cheapest route.
        floor = timed(s_ml, "GET", f"{ml}/health", max(args.repeat, 9))["wall"]
        r["mlflow_health_s"] = floor
        api = f"{ml}/ajax-api/2.0/mlflow"
        search = {"experiment_ids": [ml_ids["experiment_id"]], "max_results": 100,
                  "order_by": ["attributes.start_time DESC"], "run_view_type": "ACTIVE_ONLY"}
        q = urllib.parse.urlencode({"size": 100, "filter": FILTER})
        cases = [
            ("runs table, first page", ("GET", f"{ui}/experiments/{exp}?size=100", {}),
             ("POST", f"{api}/runs/search", {"json": search})),
            ("filtered search", ("GET", f"{ui}/experiments/{exp}?{q}", {}),
             ("POST", f"{api}/runs/search", {"json": dict(search, filter=FILTER)})),
            ("run page (20 metrics)", ("GET", f"{ui}/runs/{ours_ids['run']}", {}),
             ("GET", f"{api}/runs/get?run_id={ml_ids['run']}", {})),
            (f"chart data, {points:,} points", ("GET", f"{ui}/api/runs/{ours_ids['long_run']}/metrics/loss", {}),
             ("GET", f"{api}/metrics/get-history-bulk-interval?run_ids={ml_ids['long_run']}&metric_key=loss&max_results=320", {})),
            (f"run page of the {points:,}-point run", ("GET", f"{ui}/runs/{ours_ids['long_run']}", {}), None),
        ]
        rows = []
        for name, mine, theirs in cases:
            print(f"[bench] {name}", file=sys.stderr)
            o = timed(s_ours, mine[0], mine[1], args.repeat, **mine[2])
            m = timed(s_ml, theirs[0], theirs[1], args.repeat, floor, **theirs[2]) if theirs else None
            rows.append((name, o, m))
            r[name] = {"ours": o, "mlflow": m}

        print()
        print(f"mlops ui vs MLflow {mlflow.__version__} UI endpoints: {runs:,} runs x 20 metrics, "
              f"one {points:,}-point metric; server time, median of {args.repeat} "
              f"(ours: Server-Timing; MLflow: wall - its /health round trip of {fmt(floor)})")
        print()
        print("| request | ours: server (first; wall; size) | MLflow: server (wall; size) | MLflow / ours | goal |")
        print("| --- | --- | --- | --- | --- |")
        for name, o, m in rows:
            ratio = m["server"] / max(o["server"], 1e-6) if m else None
            goal = ("≥ 10x: " + ("PASS" if ratio >= 10 else "MISS")) if m else ""
            if name.startswith("chart"):
                goal += (f"; < 100 ms: {'PASS' if o['server'] < 0.1 else 'MISS'} "
                         f"(uncached: {'PASS' if o['first'] < 0.1 else 'MISS'})")
            theirs = f"{fmt(m['server'])} ({fmt(m['wall'])}; {m['bytes']:,} B)" if m else "-"
            print(f"| {name} | {fmt(o['server'])} ({fmt(o['first'])}; {fmt(o['wall'])}; {o['bytes']:,} B) "
                  f"| {theirs} | {f'{ratio:.1f}x' if m else '-'} | {goal} |")
        print(f"| cold: new `mlops ui` process, first runs page | {fmt(r['ours_cold_first_page_s'])} "
              f"(process up in {fmt(r['ours_process_start_s'])}) | - | - | MLflow sqlite search ~240 ms (benches/README.md) |")
        if args.json:
            Path(args.json).write_text(json.dumps(r, indent=2))
    finally:
        for p in procs:
            if p.poll() is None:
                p.terminate()
                try:
                    p.wait(10)
                except subprocess.TimeoutExpired:
                    p.kill()
        if not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
