"""A new process's search of 10,000 runs: ours without and with the run index, and MLflow on
SQLite, in one run on the same machine.

    .venv/bin/python benches/compare/cold_search.py                # release build, 10k runs
    .venv/bin/python benches/compare/cold_search.py --debug --runs 10000 --repeat 3 --no-mlflow

Ours (`mlops-track/examples/cold_search.rs`): one embedded store on a local folder with N
ended runs (`cold_search build`), then, each in a new process:

1. `search --no-index`: open the store and search it, every run read from its records (what
   a new `mlops runs list` or UI process paid before the index);
2. `search` after `cold_search index` built the run index: runs served from the index;
3. runs that **just ended** (a second store, `build --ended-now`, written with the index on
   and searched at once, well within the 10-minute grace period): each run's ender wrote its
   summary and folded them into the index every few hundred runs, so `search` reads the
   index and the summaries since the last fold, not the records;
4. the chart's read of that store's extra run with `--points` points, in a new process
   (`history`: open, `get_run`, then the metric as columns).

`end_run` cost: `update_run` to FINISHED of 100 runs ended one at a time after each build
(median and max), and the median and 99th percentile during the build (32 runs at once):
without the index (no summary, as before) and with it (a listing of the run's files after
the ending, the summary, and a fold every few hundred runs).

Each row gives the median over `--repeat` new processes of the search as timed inside the
process (open + search, runtime start and process exit excluded) and of the whole process's
wall time as this script sees it. The page cache is warm for both (the store was just
written or read): this measures our work, not the disk.

MLflow (`--no-mlflow` skips it): the same rows in `sqlite:///` (inserted with MLflow's own
SQLAlchemy models, as `track_vs_mlflow.py` does), then `MlflowClient.search_runs` with the
same filter and page: the first search of a new Python process (timed inside it, imports
excluded) and the median of 5 more in that process (the ~240 ms of benches/README.md).
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
TARGET = Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target"))
FILTER = "metrics.rmse < 0.5 and params.alpha = '0.1'"

os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")


def ours(binary, *args):
    t = time.perf_counter()
    out = subprocess.run([str(binary), *args], check=True, capture_output=True, text=True)
    wall = time.perf_counter() - t
    result = json.loads(out.stdout)
    result["wall_ms"] = wall * 1000
    return result


def searches(binary, store, repeat, index):
    flags = [] if index else ["--no-index"]
    runs = [ours(binary, "search", "--dir", store, *flags) for _ in range(repeat)]
    found = {r["found"] for r in runs}
    damage = sum(r["damage"] for r in runs)
    if len(found) != 1 or damage:
        raise SystemExit(f"searches disagree or report damage: {runs}")
    return {
        "found": found.pop(),
        "total_ms": statistics.median(r["total_ms"] for r in runs),
        "wall_ms": statistics.median(r["wall_ms"] for r in runs),
        "all_total_ms": [round(r["total_ms"], 1) for r in runs],
    }


MLFLOW_CHILD = """
import json, statistics, sys, time
from mlflow import MlflowClient
uri, exp_id, flt = sys.argv[1], sys.argv[2], sys.argv[3]
client = MlflowClient(tracking_uri=uri)
t = time.perf_counter()
found = len(client.search_runs([exp_id], filter_string=flt, max_results=1000))
first = time.perf_counter() - t
warm = []
for _ in range(5):
    t = time.perf_counter()
    client.search_runs([exp_id], filter_string=flt, max_results=1000)
    warm.append(time.perf_counter() - t)
print(json.dumps({"found": found, "first_ms": first * 1000, "warm_ms": statistics.median(warm) * 1000}))
"""


def mlflow_side(tmp, runs):
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from track_vs_mlflow import mlflow_search_store

    uri = f"sqlite:///{tmp}/search.db"
    _, exp_id = mlflow_search_store(uri, runs)
    out = subprocess.run(
        [sys.executable, "-c", MLFLOW_CHILD, uri, str(exp_id), FILTER],
        check=True, capture_output=True, text=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--debug", action="store_true", help="a debug build (a smoke run)")
    parser.add_argument("--skip-build", action="store_true")
    parser.add_argument("--no-mlflow", action="store_true")
    parser.add_argument("--points", type=int, default=1_000_000,
                        help="points of the just-ended store's long run (0: none)")
    parser.add_argument("--keep", help="keep the temporary folder here")
    parser.add_argument("--json", help="also write the raw numbers to this file")
    args = parser.parse_args()
    profile = "debug" if args.debug else "release"
    if not args.skip_build:
        build = ["cargo", "build", "-p", "mlops-track", "--example", "cold_search"]
        if not args.debug:
            build.append("--release")
        subprocess.run(build, cwd=ROOT, check=True)
    binary = TARGET / profile / "examples" / "cold_search"
    tmp = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="cold-search-"))
    tmp.mkdir(parents=True, exist_ok=True)
    store = str(tmp / "ours")
    r = {"profile": profile, "runs": args.runs, "repeat": args.repeat}
    print(f"[bench] {profile} build, {args.runs} runs, temp folder {tmp}", file=sys.stderr)
    r["build"] = ours(binary, "build", "--dir", store, "--runs", str(args.runs))
    print("[bench] new processes, no index", file=sys.stderr)
    r["no_index"] = searches(binary, store, args.repeat, index=False)
    print("[bench] building the index", file=sys.stderr)
    r["index"] = ours(binary, "index", "--dir", store)
    print("[bench] new processes, with the index", file=sys.stderr)
    r["with_index"] = searches(binary, store, args.repeat, index=True)
    if r["with_index"]["found"] != r["no_index"]["found"]:
        raise SystemExit(f"the index changed the answer: {r}")
    ended = str(tmp / "ended-now")
    print("[bench] a store of runs that just ended (summaries)", file=sys.stderr)
    r["build_ended_now"] = ours(binary, "build", "--dir", ended, "--runs", str(args.runs),
                                "--ended-now", "--points", str(args.points))
    r["ended_now"] = searches(binary, ended, args.repeat, index=True)
    if r["ended_now"]["found"] != r["no_index"]["found"]:
        raise SystemExit(f"the summaries changed the answer: {r}")
    long_run = r["build_ended_now"].get("long_run")
    if long_run:
        runs = [ours(binary, "history", "--dir", ended, "--run", long_run) for _ in range(args.repeat)]
        r["history"] = {
            "points": runs[0]["points"],
            "total_ms": statistics.median(x["total_ms"] for x in runs),
            "columns_ms": statistics.median(x["columns_ms"] for x in runs),
            "get_run_ms": statistics.median(x["get_run_ms"] for x in runs),
            "wall_ms": statistics.median(x["wall_ms"] for x in runs),
        }
    if not args.no_mlflow:
        print("[bench] MLflow sqlite", file=sys.stderr)
        r["mlflow"] = mlflow_side(tmp, args.runs)

    rows = [
        ("no index", r["no_index"]["total_ms"], r["no_index"]["wall_ms"]),
        ("with the index", r["with_index"]["total_ms"], r["with_index"]["wall_ms"]),
        ("just ended (summaries)", r["ended_now"]["total_ms"], r["ended_now"]["wall_ms"]),
    ]
    print(f"\nA new process's search of {args.runs} runs ({profile}; found "
          f"{r['with_index']['found']}; median of {args.repeat})\n")
    print("| ours | open + search (in process) | process wall time |")
    print("| --- | --- | --- |")
    for name, total, wall in rows:
        print(f"| {name} | {total:.1f} ms | {wall:.1f} ms |")
    print(f"\nindex build: {r['index']['index_s'] * 1000:.0f} ms for {r['index']['runs_indexed']} runs; "
          f"speed-up of the search: {r['no_index']['total_ms'] / r['with_index']['total_ms']:.1f}x")
    b0, b1 = r["build"], r["build_ended_now"]
    print(f"end_run (update_run to FINISHED), one at a time: without the index median "
          f"{b0['end_run_alone_ms_median']:.2f} ms (max {b0['end_run_alone_ms_max']:.2f}); with summaries "
          f"median {b1['end_run_alone_ms_median']:.2f} ms (max {b1['end_run_alone_ms_max']:.2f}); "
          f"32 at once: median {b0['end_run_ms_median']:.2f} / {b1['end_run_ms_median']:.2f} ms, "
          f"p99 {b0['end_run_ms_p99']:.2f} / {b1['end_run_ms_p99']:.2f} ms")
    if "history" in r:
        h = r["history"]
        print(f"chart read of a just-ended {h['points']:,}-point metric in a new process: "
              f"{h['columns_ms']:.1f} ms (get_run {h['get_run_ms']:.1f} ms; open to done "
              f"{h['total_ms']:.1f} ms; process {h['wall_ms']:.0f} ms)")
    if "mlflow" in r:
        m = r["mlflow"]
        print(f"MLflow sqlite ({m['found']} found): first search in a new process "
              f"{m['first_ms']:.1f} ms, then {m['warm_ms']:.1f} ms; ours with the index / "
              f"MLflow's first: {m['first_ms'] / r['with_index']['total_ms']:.2f}x faster")
    if args.json:
        Path(args.json).write_text(json.dumps(r, indent=2))


if __name__ == "__main__":
    main()
