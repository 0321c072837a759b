"""mlops-drift against scipy and Evidently, on the same data, in one run.

Run from anywhere (it finds the workspace root from its own path):

    .venv/bin/python benches/compare/drift_vs_python.py            # everything (~5 min)
    .venv/bin/python benches/compare/drift_vs_python.py --quick    # skips the 1M-row reports

What it does:

1. `cargo build --release --bin mlops --example drift_timing` (skip with --skip-build).
2. Generates a 20-column table (15 numeric, some shifted on the current side; 5 categorical
   strings) at 100k and 1M rows per side with numpy (fixed seeds) and writes it to Parquet in a
   temporary folder (kept with --keep DIR).
3. Runs each workload in its own subprocess, so that peak memory is per workload (the child's
   `ru_maxrss` from `os.wait4`), and records wall and CPU time:
   - KS 1M vs 1M: `scipy.stats.ks_2samp` against `drift_timing ks` (sorted copies + test, in
     process; reading the column is not timed on either side);
   - PSI 1M vs 1M: Evidently's `psi` stattest function against `drift_timing psi` (the
     engine's path: sorted copies, Evidently's bins, zero filling, PSI);
   - the default report, 100k and 1M rows: Evidently `Report([DataDriftPreset()]).run(...)`
     (timed around `run`; the DataFrames are read before the clock starts) against the whole
     `mlops drift --format json` process (reading the Parquet files included).
   Peak memory is the whole process on both sides (interpreter and data included).
4. Prints the table with the ratios and the targets of issue 3, and checks that our per-column
   verdicts agree with Evidently's (100k, and 1M when it ran).

Python subprocesses run with OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE removed from their
environment (they slow a current numpy on this machine) and report the BLAS kernel through
threadpoolctl. Nothing here asserts on time: it measures and prints.
"""

import argparse
import json
import math
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
NUMERIC = 15
CATEGORICAL = 5
# KS on three columns, as the p-value's cost depends on where it falls: n14 is unshifted
# (p ~ 0.8), n13 shifted by 0.004 sd (p ~ 1e-6: kstwo's finite-n sum is evaluated in full),
# n4 shifted by 0.05 sd (p underflows to 0).
KS_COLUMNS = [("n14", "no shift"), ("n13", "0.004 sd"), ("n4", "0.05 sd")]
PSI_COLUMN = "n2"  # shifted by 0.2 sd

# ANCHORS.md, measured earlier on this machine kind (for a sanity check of the peer numbers).
ANCHORS = {
    "ks_1m": "0.8 s CPU, 191 MiB",
    "psi_1m": "0.16 s CPU",
    "report_100k": "9.3 s CPU, 477 MiB",
    "report_1m": "108 s CPU, 2.2 GiB",
}


# ---------------------------------------------------------------------------------------------
# Workers: each runs in its own process and prints one JSON object on its last stdout line.


def _status_mib(key):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(key):
                return int(line.split()[1]) / 1024.0
    return float("nan")


def _blas():
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return "threadpoolctl not installed"
    return [
        {k: i.get(k) for k in ("internal_api", "architecture", "num_threads", "version")}
        for i in threadpool_info()
    ]


def _timed(repeat, fn):
    walls, cpus, out = [], [], None
    for _ in range(repeat):
        w, c = time.perf_counter(), time.process_time()
        out = fn()
        cpus.append(time.process_time() - c)
        walls.append(time.perf_counter() - w)
    return statistics.median(walls), min(walls), statistics.mean(cpus), out


def _column(path, name):
    import pyarrow.parquet as pq

    col = pq.read_table(path, columns=[name]).column(name).drop_null()
    return col.to_numpy()


def worker(argv):
    import warnings

    warnings.simplefilter("ignore")
    kind = argv[0]
    out = {"worker": kind}
    if kind == "gen":
        import pyarrow.parquet as pq

        path, rows, current, seed = argv[1], int(argv[2]), bool(int(argv[3])), int(argv[4])
        pq.write_table(generate(rows, current, seed), path)
        return
    if kind == "ks":
        import numpy as np
        from scipy.stats import ks_2samp

        ref_path, cur_path, column, repeat = argv[1], argv[2], argv[3], int(argv[4])
        ref, cur = _column(ref_path, column), _column(cur_path, column)
        ks_2samp(ref[:1000], cur[:1000])  # warm-up (lazy imports), not timed
        out["rss_before_mib"] = _status_mib("VmRSS:")
        wall, wall_min, cpu, r = _timed(repeat, lambda: ks_2samp(ref, cur))
        out.update(statistic=float(r.statistic), p_value=float(r.pvalue), method="auto",
                   n=[len(ref), len(cur)], dtype=str(np.asarray(ref).dtype))
    elif kind == "psi":
        import pandas as pd
        from evidently.legacy.calculations.stattests import psi_stat_test
        from evidently.legacy.core import ColumnType

        ref_path, cur_path, column, repeat = argv[1], argv[2], argv[3], int(argv[4])
        ref, cur = pd.Series(_column(ref_path, column)), pd.Series(_column(cur_path, column))
        psi_stat_test.func(ref[:1000], cur[:1000], ColumnType.Numerical, 0.1)  # warm-up
        out["rss_before_mib"] = _status_mib("VmRSS:")
        wall, wall_min, cpu, r = _timed(
            repeat, lambda: psi_stat_test.func(ref, cur, ColumnType.Numerical, 0.1))
        out.update(statistic=float(r[0]), n=[len(ref), len(cur)])
    elif kind == "report":
        import pandas as pd
        from evidently import Report
        from evidently.core.report import _default_input_data_generator
        from evidently.legacy.metrics import DataDriftTable, DatasetDriftMetric
        from evidently.presets import DataDriftPreset

        ref_path, cur_path = argv[1], argv[2]
        ref, cur = pd.read_parquet(ref_path), pd.read_parquet(cur_path)
        # Warm-up on 2000 rows (first-call costs: registries, lazy imports), not timed.
        Report([DataDriftPreset()]).run(cur.head(2000), ref.head(2000))
        out["rss_before_mib"] = _status_mib("VmRSS:")
        wall, wall_min, cpu, snap = _timed(
            1, lambda: Report([DataDriftPreset()]).run(current_data=cur, reference_data=ref))
        # The verdicts: the legacy metrics DataDriftPreset rendered during run() (cached in the
        # context, so this does not recompute them).
        ctx = snap.context
        n_cached = len(ctx._legacy_metrics)
        table, _ = ctx.get_legacy_metric(DataDriftTable(), _default_input_data_generator, None)
        dataset, _ = ctx.get_legacy_metric(DatasetDriftMetric(), _default_input_data_generator, None)
        out["recomputed_for_verdicts"] = len(ctx._legacy_metrics) != n_cached
        out["columns"] = {
            name: {"test": c.stattest_name, "score": float(c.drift_score),
                   "threshold": float(c.stattest_threshold), "drifted": bool(c.drift_detected),
                   "type": str(c.column_type)}
            for name, c in table.drift_by_columns.items()
        }
        out["dataset"] = {"n_drifted": int(dataset.number_of_drifted_columns),
                          "n_columns": int(dataset.number_of_columns),
                          "dataset_drift": bool(dataset.dataset_drift)}
    else:
        raise SystemExit(f"unknown worker {kind!r}")
    out.update(wall_s=wall, wall_min_s=wall_min, cpu_s=cpu,
               peak_rss_mib=_status_mib("VmHWM:"), blas=_blas())
    print(json.dumps(out))


# ---------------------------------------------------------------------------------------------
# Orchestration


def python_env():
    env = dict(os.environ)
    env.pop("OPENBLAS_CORETYPE", None)
    env.pop("OPENBLAS_L2_SIZE", None)
    env["PYTHONHASHSEED"] = "0"  # Evidently sums over string sets: fixed order, same numbers
    return env


# GNU time reports the peak RSS of the command it runs. Measuring through it matters: a child
# forked from this process starts with this process's high-water mark (Linux keeps the larger of
# the two across exec), so its own ru_maxrss would be at least ours.
TIME = "/usr/bin/time" if os.access("/usr/bin/time", os.X_OK) else shutil.which("time")


def run_child(cmd, env=None):
    """Runs `cmd`; returns (wall seconds, CPU seconds, peak RSS MiB, stdout text)."""
    cmd = [str(c) for c in cmd]
    with tempfile.TemporaryFile("w+") as out, tempfile.NamedTemporaryFile("r") as peak_file:
        full = [TIME, "-f", "%M", "-o", peak_file.name] + cmd if TIME else cmd
        start = time.perf_counter()
        proc = subprocess.Popen(full, stdout=out, stderr=subprocess.PIPE, env=env, text=True)
        # wait4: this child's own rusage (its CPU includes the command under `time`).
        _, status, ru = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
        stderr = proc.stderr.read()
        proc.stderr.close()
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        text = out.read()
        peak_text = peak_file.read().strip()
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} exited {proc.returncode}:\n{stderr[-3000:]}")
    if TIME:
        peak = int(peak_text.splitlines()[-1]) / 1024.0
    else:  # an upper bound: includes this process's RSS at fork
        peak = ru.ru_maxrss / 1024.0
    return wall, ru.ru_utime + ru.ru_stime, peak, text


def last_json(text):
    return json.loads(text.strip().splitlines()[-1])


def build(skip):
    meta = json.loads(subprocess.run(
        ["cargo", "metadata", "--format-version", "1", "--no-deps"], cwd=ROOT, check=True,
        capture_output=True, text=True).stdout)
    target = Path(meta["target_directory"]) / "release"
    if not skip:
        print("building: cargo build --release --bin mlops --example drift_timing", flush=True)
        subprocess.run(["cargo", "build", "--release", "--bin", "mlops", "--example",
                        "drift_timing"], cwd=ROOT, check=True)
    mlops, timing = target / "mlops", target / "examples" / "drift_timing"
    for b in (mlops, timing):
        if not b.exists():
            raise SystemExit(f"{b} is missing: build it or drop --skip-build")
    return mlops, timing


def generate(rows, current, seed):
    """The 20-column table. Current side: n0..n3 shifted (0.5, 0.3, 0.2, 0.15 sd), n4 and n13
    shifted by 0.05 and 0.004 sd (below Wasserstein's 0.1), n5 rescaled (x1.5), n9 (int64) shifted 0.3 sd, n11
    (exponential) rescaled x1.3; c0 and c1 have their first category's weight multiplied by 2.5;
    n7 and c3 hold 1% nulls on both sides; n8 and n9 are int64 with hundreds of values."""
    import numpy as np
    import pyarrow as pa

    rng = np.random.default_rng(seed)
    cols = {}
    shifts = {0: 0.5, 1: 0.3, 2: 0.2, 3: 0.15, 4: 0.05, 13: 0.004}
    for k in range(NUMERIC):
        scale = 1.0 + k
        if k == 5:
            v = rng.normal(0.0, scale * (1.5 if current else 1.0), rows)
        elif k == 6:
            v = rng.lognormal(0.0, 0.75, rows)
        elif k in (8, 9):
            shift = 0.3 if (current and k == 9) else 0.0
            v = np.round(rng.normal(shift, 1.0, rows) * 50.0).astype(np.int64)
        elif k == 10:
            v = rng.uniform(-3.0, 3.0, rows)
        elif k == 11:
            v = rng.exponential(1.3 if current else 1.0, rows)
        else:
            v = rng.normal(shifts.get(k, 0.0) * scale if current else 0.0, scale, rows)
        if k == 7:
            mask = rng.random(rows) < 0.01
            cols[f"n{k}"] = pa.array(v, mask=mask)
        else:
            cols[f"n{k}"] = pa.array(v)
    for k, cardinality in enumerate([3, 8, 20, 50, 200]):
        weights = 1.0 / (1.0 + np.arange(cardinality))
        if current and k < 2:
            weights[0] *= 2.5
        names = np.array([f"cat_{i}" for i in range(cardinality)], dtype=object)
        picks = names[rng.choice(cardinality, size=rows, p=weights / weights.sum())]
        mask = (rng.random(rows) < 0.01) if k == 3 else None
        cols[f"c{k}"] = pa.array(picks, type=pa.string(), mask=mask)
    return pa.table(cols)


def write_data(folder, sizes, me, env):
    """Writes the Parquet files (in a worker process: numpy and pyarrow stay out of this one)."""
    paths = {}
    for label, rows in sizes:
        for side, current, seed in (("ref", False, 1000 + rows), ("cur", True, 2000 + rows)):
            path = folder / f"{label}_{side}.parquet"
            if not path.exists():
                run_child(me + ["gen", path, rows, int(current), seed], env=env)
            paths[(label, side)] = path
        print(f"data {label}: {rows} rows per side, {paths[(label, 'ref')].stat().st_size >> 20} "
              f"+ {paths[(label, 'cur')].stat().st_size >> 20} MiB Parquet", flush=True)
    return paths


def fmt(x, digits=3):
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "-"
    if x >= 100:
        return f"{x:.0f}"
    if x >= 10:
        return f"{x:.1f}"
    if 0 < abs(x) < 0.01:
        return f"{x:.4f}"
    return f"{x:.{digits}f}"


def number(v):
    if isinstance(v, str):
        return float(v)  # "inf", "-inf", "nan"
    return float("nan") if v is None else float(v)


def compare_verdicts(label, ours_json, peer):
    """Prints per-column disagreements between our report and Evidently's; returns their count."""
    ours = {c["column"]: c for c in ours_json["columns"]}
    bad = 0
    print(f"\nverdicts, {label}: column, Evidently test/score/drift, ours test/score/drift")
    for name, theirs in peer["columns"].items():
        mine = ours.get(name)
        if mine is None or mine.get("error") or not mine.get("results"):
            print(f"  {name}: ours has no result ({mine and mine.get('error')})")
            bad += 1
            continue
        r = mine["results"][0]
        score = number(r["score"])
        drifted = bool(r["drifted"])
        rel = abs(score - theirs["score"]) / max(abs(theirs["score"]), 1e-300)
        flag = "" if drifted == theirs["drifted"] else "   <-- DISAGREE"
        bad += bool(flag)
        print(f"  {name:4} {theirs['test'][:24]:24} {theirs['score']:.6g} {theirs['drifted']!s:5} | "
              f"{r['test']:13} {score:.6g} {drifted!s:5}  rel.diff {rel:.1e}{flag}")
    extra = set(ours) - set(peer["columns"])
    if extra:
        print(f"  columns only in ours: {sorted(extra)}")
        bad += len(extra)
    d_ours, d_peer = ours_json["dataset"], peer["dataset"]
    same = d_ours["dataset_drift"] == d_peer["dataset_drift"] and \
        d_ours["n_drifted"] == d_peer["n_drifted"]
    print(f"  dataset: Evidently {d_peer['n_drifted']}/{d_peer['n_columns']} drifted, drift "
          f"{d_peer['dataset_drift']}; ours {d_ours['n_drifted']}/{d_ours['n_columns']}, drift "
          f"{d_ours['dataset_drift']}{'' if same else '   <-- DISAGREE'}")
    bad += not same
    print(f"  {'all verdicts agree' if bad == 0 else f'{bad} disagreement(s)'}")
    return bad


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="skip the 1M-row reports")
    ap.add_argument("--skip-build", action="store_true", help="use the binaries already built")
    ap.add_argument("--keep", type=Path, help="write (or reuse) the data in this folder")
    ap.add_argument("--repeat", type=int, default=5, help="repeats of KS/PSI in process")
    ap.add_argument("--cli-repeat", type=int, default=3, help="runs of the mlops CLI per report")
    ap.add_argument("--no-profile", action="store_true",
                    help="skip the per-phase/per-column timing of our largest report")
    args = ap.parse_args()

    mlops, timing = build(args.skip_build)
    folder = args.keep or Path(tempfile.mkdtemp(prefix="drift-bench-"))
    folder.mkdir(parents=True, exist_ok=True)
    sizes = [("100k", 100_000), ("1m", 1_000_000)]
    env = python_env()
    me = [sys.executable, str(Path(__file__).resolve()), "--worker"]
    paths = write_data(folder, sizes, me, env)
    if not TIME:
        print("warning: GNU time not found (apt-get install time): peak memory is an upper "
              "bound that includes this script's own RSS", flush=True)
    rows = []
    results = {}

    def peer(name, *worker_args):
        print(f"running {name} (peer)...", flush=True)
        wall, cpu, peak, text = run_child(me + list(worker_args), env=env)
        j = last_json(text)
        j["process"] = {"wall_s": wall, "cpu_s": cpu, "peak_mib": peak}
        results[(name, "peer")] = j
        return j

    def ours_inproc(name, *timing_args):
        print(f"running {name} (ours)...", flush=True)
        wall, cpu, peak, text = run_child([timing] + list(timing_args))
        j = last_json(text)
        j["process"] = {"wall_s": wall, "cpu_s": cpu, "peak_mib": peak}
        results[(name, "ours")] = j
        return j

    def ours_cli(name, label):
        print(f"running {name} (ours, mlops CLI x{args.cli_repeat})...", flush=True)
        out = folder / f"ours_{label}.json"
        runs = [run_child([mlops, "drift", "--reference", paths[(label, "ref")], "--current",
                           paths[(label, "cur")], "--format", "json", "--out", out])
                for _ in range(args.cli_repeat)]
        j = json.loads(out.read_text())
        walls = sorted(r[0] for r in runs)
        cpus = sorted(r[1] for r in runs)
        j["process"] = {"wall_s": statistics.median(walls), "cpu_s": statistics.median(cpus),
                        "peak_mib": max(r[2] for r in runs), "walls": walls}
        results[(name, "ours")] = j
        return j

    # KS and PSI: computation only on both sides, peak of the whole process.
    r1, c1 = paths[("1m", "ref")], paths[("1m", "cur")]
    for column, what in KS_COLUMNS:
        name = f"ks_1m_{column}"
        p = peer(name, "ks", r1, c1, column, args.repeat)
        o = ours_inproc(name, "ks", "--reference", r1, "--current", c1, "--column", column,
                        "--repeat", 2 * args.repeat)
        o2 = ours_inproc(f"{name}_presorted", "ks", "--reference", r1, "--current", c1,
                         "--column", column, "--repeat", 2 * args.repeat, "--presorted")
        rows.append((f"KS 1M {column} {what}", "scipy ks_2samp", p, o, "ks"))
        rows.append(("  same, presorted", "scipy ks_2samp", p, o2, None))
    p = peer("psi_1m", "psi", r1, c1, PSI_COLUMN, args.repeat)
    o = ours_inproc("psi_1m", "psi", "--reference", r1, "--current", c1, "--column", PSI_COLUMN,
                    "--repeat", 2 * args.repeat)
    o2 = ours_inproc("psi_1m_presorted", "psi", "--reference", r1, "--current", c1, "--column",
                     PSI_COLUMN, "--repeat", 2 * args.repeat, "--presorted")
    rows.append(("PSI 1M vs 1M (sort incl.)", "Evidently psi", p, o, None))
    rows.append(("PSI 1M vs 1M (presorted)", "Evidently psi", p, o2, None))

    # Reports: Evidently's run() against the whole CLI process.
    for label in ["100k"] + ([] if args.quick else ["1m"]):
        name = f"report_{label}"
        p = peer(name, "report", paths[(label, "ref")], paths[(label, "cur")])
        o = ours_cli(name, label)
        rows.append((f"report 20 col {label}", "Evidently DataDriftPreset", p, o,
                     "report" if label == "1m" else None))

    profile = None
    if not args.no_profile:
        label = "100k" if args.quick else "1m"
        print(f"running the per-phase profile of our {label} report...", flush=True)
        _, _, _, text = run_child([timing, "report", "--reference", paths[(label, "ref")],
                                   "--current", paths[(label, "cur")], "--repeat", "3",
                                   "--per-column"])
        profile = (label, last_json(text))

    # ------------------------------------------------------------------------------------
    print("\n" + "=" * 100)
    blas = results[(f"ks_1m_{KS_COLUMNS[0][0]}", "peer")]["blas"]
    print(f"date {time.strftime('%Y-%m-%d %H:%M')}, {os.cpu_count()} cores, python "
          f"{sys.version.split()[0]}; BLAS in the Python workers (OPENBLAS_CORETYPE/L2_SIZE "
          f"unset): {json.dumps(blas)}")
    print("peer wall/CPU: the timed call only (data already in memory); ours: KS/PSI the timed "
          "computation in process, reports the whole `mlops drift` process (Parquet read "
          "included). Peak: whole process, both sides.\n")
    head = (f"{'workload':27} {'peer':26} {'wall s':>7} {'CPU s':>7} {'peak MiB':>8} | "
            f"{'wall s':>7} {'CPU s':>7} {'peak MiB':>8} | {'CPU x':>6} {'wall x':>6} "
            f"{'mem':>5} | target")
    print(f"{'':62} {'peer':^24} | {'ours':^24} | ratios (peer/ours; mem ours/peer)")
    print(head)
    print("-" * len(head))
    verdict_lines = []
    for title, peer_name, p, o, target in rows:
        pw, pc, pm = p["wall_s"], p["cpu_s"], p["process"]["peak_mib"]
        if "wall_s" in o:  # drift_timing
            ow, oc, om = o["wall_s"], o["cpu_s"], o["process"]["peak_mib"]
        else:  # CLI report
            ow, oc, om = o["process"]["wall_s"], o["process"]["cpu_s"], o["process"]["peak_mib"]
        cpu_x, wall_x, mem = pc / max(oc, 1e-9), pw / max(ow, 1e-9), om / pm
        t = ""
        if target == "ks":
            ok = cpu_x >= 5
            t = f">=5x faster: {'PASS' if ok else 'MISS'} (CPU {cpu_x:.1f}x, wall {wall_x:.1f}x)"
        elif target == "report":
            ok_speed, ok_mem = cpu_x >= 100, mem <= 0.25
            t = (f">=100x faster: {'PASS' if ok_speed else 'MISS'} (CPU {cpu_x:.0f}x, wall "
                 f"{wall_x:.0f}x); <=1/4 memory: {'PASS' if ok_mem else 'MISS'} ({mem:.3f})")
        print(f"{title:27} {peer_name[:26]:26} {fmt(pw):>7} {fmt(pc):>7} {fmt(pm):>8} | "
              f"{fmt(ow):>7} {fmt(oc):>7} {fmt(om):>8} | {fmt(cpu_x, 1):>6} {fmt(wall_x, 1):>6} "
              f"{fmt(mem, 3):>5} | {t}")
        if target:
            verdict_lines.append(f"{title.strip()}: {t}")
    print("\nthe peers as measured in ANCHORS.md, for comparison: " +
          "; ".join(f"{k} {v}" for k, v in ANCHORS.items()))
    for name in [f"ks_1m_{c}" for c, _ in KS_COLUMNS] + ["psi_1m"]:
        p, o = results[(name, "peer")], results[(name, "ours")]
        print(f"  {name} whole processes (imports, reading, warm-up, {args.repeat} peer / "
              f"{2 * args.repeat} our repeats): peer {p['process']['wall_s']:.2f} s wall / "
              f"{p['process']['cpu_s']:.2f} s CPU, RSS before the timed call "
              f"{p['rss_before_mib']:.0f} MiB; ours {o['process']['wall_s']:.2f} s / "
              f"{o['process']['cpu_s']:.2f} s, RSS before {o['rss_before_mib']:.0f} MiB")
    for name in ("report_100k", "report_1m"):
        if (name, "peer") in results:
            p = results[(name, "peer")]
            print(f"  {name} peer: run() {p['wall_s']:.1f} s wall / {p['cpu_s']:.1f} s CPU, whole "
                  f"process {p['process']['wall_s']:.1f} s / {p['process']['cpu_s']:.1f} s, "
                  f"RSS before run() {p['rss_before_mib']:.0f} MiB, peak "
                  f"{p['process']['peak_mib']:.0f} MiB")
            o = results[(name, "ours")]["process"]
            print(f"  {name} ours: CLI runs wall {', '.join(f'{w:.2f}' for w in o['walls'])} s")

    # Same numbers? (informative; the fixture tests are the real check)
    print()
    for column, _ in KS_COLUMNS:
        ks_p = results[(f"ks_1m_{column}", "peer")]
        ks_o = results[(f"ks_1m_{column}", "ours")]["result"]
        print(f"KS {column}: scipy D={ks_p['statistic']!r} p={ks_p['p_value']!r}; ours "
              f"D={ks_o['statistic']!r} p={ks_o['p_value']!r}")
    ps_p, ps_o = results[("psi_1m", "peer")], results[("psi_1m", "ours")]["result"]
    print(f"PSI {PSI_COLUMN}: Evidently {ps_p['statistic']!r}; ours {ps_o['statistic']!r} "
          f"(rel. diff {abs(ps_p['statistic'] - ps_o['statistic']) / ps_p['statistic']:.1e})")

    disagreements = 0
    for label in ("100k", "1m"):
        name = f"report_{label}"
        if (name, "peer") in results:
            disagreements += compare_verdicts(label, results[(name, "ours")],
                                              results[(name, "peer")])

    if profile:
        label, prof = profile
        print(f"\nour {label} report in process (drift_timing report, median of 3 "
              f"runs), threads {prof['threads']}, peak {prof['peak_rss_mib']:.0f} MiB "
              f"(after reading both files {prof['rss_after_read_mib']:.0f} MiB):")
        for ph, v in prof["phases"].items():
            print(f"  {ph:15} wall {v['wall_s']:.3f} s  CPU {v['cpu_s']:.3f} s")
        print("  per column alone (profile build + compare):")
        for c in sorted(prof["columns"], key=lambda c: -(c["build_wall_s"] + c["compare_wall_s"])):
            print(f"    {c['column']:4} {c['kind'] or '-':11} {c['test'] or '-':13} build "
                  f"{c['build_wall_s']:.3f} s / {c['build_cpu_s']:.3f} CPU, compare "
                  f"{c['compare_wall_s']:.3f} s / {c['compare_cpu_s']:.3f} CPU")

    print(f"\ndata in {folder}" + ("" if args.keep else " (removed)"))
    if not args.keep:
        shutil.rmtree(folder, ignore_errors=True)
    print("targets: " + (" | ".join(verdict_lines) if verdict_lines else "none ran"))
    print(f"verdict disagreements: {disagreements}")


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--worker":
        worker(sys.argv[2:])
    else:
        main()
