#!/usr/bin/env python3
"""Throughput of `mlops serve --registry ROOT --model linear@champion` (served by alias from
the object registry, with the alias watcher polling) against `mlops serve --model
linear=PATH` (the same file, no registry), under the same wrk load in one run.

    python3 benches/compare/serve_registry_vs_file.py [--duration 2] [--rounds 20]

Issue 12's goal: the registry-served model reaches at least 0.97 of the file-served one's
requests/s at concurrency 32. Both servers stay up (each warmed once); every round loads
one, then the other, for `--duration` seconds. The goal is judged on the median of the
rounds' ratios (quartiles printed): the development VM alternates fast and slow phases of
tens of seconds, so long slots let one phase fall on one server (15 s slots gave per-round
ratios of 1.03, 1.00, 0.78 and 1.00 in one run). The ratio of the mean requests/s is printed
too, then the same data as JSON. Reuses the model, the wrk driver and the
process helpers of serve_vs_mlserver.py (wrk must be on PATH; mlops is built in release
unless --mlops-bin is given).
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import serve_vs_mlserver as base  # noqa: E402


def register(binary, linear, root):
    """Registers the model file as version 1 of `linear` in the object registry at `root` and
    points `champion` at it, with the `mlops` tool itself."""
    folder = linear.parent / "version"
    folder.mkdir()
    (folder / "model.json").write_bytes(linear.read_bytes())
    env = dict(os.environ, MLOPS_REGISTRY=str(root), MLOPS_ACTOR="bench")
    for args in (
        ["models", "register", "--name", "linear", "--path", str(folder)],
        ["models", "promote", "--name", "linear", "--version", "1", "--alias", "champion"],
    ):
        subprocess.run([str(binary), *args], env=env, check=True, capture_output=True)


def start_registry(binary, root, port, poll_ms):
    cmd = [str(binary), "serve", "--registry", str(root), "--model", "linear@champion",
           "--poll-interval-ms", str(poll_ms), "--addr", f"127.0.0.1:{port}"]
    log_file = open(root.parent / "mlops-registry.log", "wb")
    proc = subprocess.Popen(cmd, stdout=log_file, stderr=subprocess.STDOUT, start_new_session=True)
    return proc, "mlops " + " ".join(cmd[1:])


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=int, default=2, help="seconds per run at concurrency 32")
    parser.add_argument("--rounds", type=int, default=20, help="runs of each server, alternating")
    parser.add_argument("--poll-ms", type=int, default=1000, help="the registry server's poll interval")
    parser.add_argument("--mlops-bin", help="a built mlops binary (default: cargo build --release)")
    args = parser.parse_args()

    base.ensure_wrk()
    binary = base.ensure_mlops(args.mlops_bin)
    report = {"loadavg_before": Path("/proc/loadavg").read_text().split()[:3], "file": [], "registry": []}
    with tempfile.TemporaryDirectory(prefix="serve-registry-bench-") as tmp:
        work = Path(tmp)
        linear, _, lua = base.write_models(work)
        root = work / "root"
        register(binary, linear, root)
        servers = [
            ("file", lambda port: base.start_mlops(binary, linear, port)),
            ("registry", lambda port: start_registry(binary, root, port, args.poll_ms)),
        ]
        running = []
        try:
            for name, start in servers:
                port = base.free_port()
                proc, command = start(port)
                running.append((name, proc, command, f"http://127.0.0.1:{port}"))
                base.wait_ready(running[-1][3], proc)
                base.check_prediction(running[-1][3])
            for round_ix in range(args.rounds):
                for name, proc, command, url in running:
                    # The first round warms each server (wrk 5 s); later ones load it as is.
                    runs = base.measure(name, proc, url, lua, [(32, args.duration)], warm_up=round_ix == 0)
                    report[name].append({"command": command, **runs[32]})
        finally:
            for _, proc, _, _ in running:
                base.stop(proc)
    report["loadavg_after"] = Path("/proc/loadavg").read_text().split()[:3]

    failed = False
    print(f"single-row FP32 linear model; wrk -c32 on loopback, {args.duration} s per run, "
          f"{args.rounds} rounds; load average before {' '.join(report['loadavg_before'])}, "
          f"after {' '.join(report['loadavg_after'])}")
    means = {}
    for name in ("file", "registry"):
        rps = [r["rps"] for r in report[name]]
        errors = sum(r["non_2xx"] + r["socket_errors"] for r in report[name])
        failed |= errors > 0
        means[name] = sum(rps) / len(rps)
        p99 = " ".join(f"{r['p99_ms']:.3f}" for r in report[name])
        listed = " ".join(f"{x:.0f}" for x in rps)
        print(f"{name:<9} req/s {listed} (mean {means[name]:.0f}); p99 ms {p99}; errors {errors}")
    ratio = means["registry"] / means["file"]
    report["ratio_of_means"] = ratio
    ratios = [r["rps"] / f["rps"] for r, f in zip(report["registry"], report["file"])]
    if len(ratios) >= 2:
        q1, median, q3 = statistics.quantiles(ratios, n=4)
    else:
        q1 = median = q3 = ratios[0]
    report["ratio"] = median
    print(f"registry/file throughput: ratio of the means {ratio:.3f}; per round, quartiles "
          f"{q1:.3f} / {median:.3f} / {q3:.3f}")
    print(f"goal registry/file >= 0.97 (median of the rounds): {'met' if median >= 0.97 else 'MISSED'} ({median:.3f})")
    print(json.dumps(report))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
