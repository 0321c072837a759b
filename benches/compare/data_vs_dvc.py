"""`mlops data add` against `dvc add` + `dvc push` on the same Parquet files (issue 16).

Run from anywhere (it finds the workspace root from its own path), with a Python that has
pyarrow and numpy (the main venv) and the dvc venv (`scripts/venvs/dvc.txt`, built by
scripts/test.sh as `<main venv>-dvc`):

    .venv/bin/python benches/compare/data_vs_dvc.py --size-gb 1 \
        --work-dir /big/disk --json bench-data-vs-dvc.json         # the unattended 1 GB run
    .venv/bin/python benches/compare/data_vs_dvc.py --size-gb 0.008 --files 4 \
        --mlops target/debug/mlops                                  # a smoke run (8 MB)

What it does:

1. `cargo build --release --bin mlops` unless `--mlops PATH` names a binary (or
   `--skip-build`: then `$CARGO_TARGET_DIR/release/mlops` must exist). A binary whose path
   has a `debug` folder is used, and the table says its times are not release numbers.
2. Checks the work folder's free space (the data, the mlops store, the DVC cache and the DVC
   remote: about 4.2 times the data) and refuses to start without it.
3. Writes `--files` Parquet files totalling about `--size-gb` (random floats, integers and a
   low-cardinality string column; fixed seed; each file's rows sized from the bytes per row
   the files before it took) into the work folder.
4. Times, each as a whole process, wall clock, with its peak RSS (`wait4`; the data is
   written by a child process, so the timing parent stays small), under a timeout
   per command (`--timeout`, default 1 h: an unattended run never hangs):
   - `mlops data add bench DATA --store ROOT` (hash, content-addressed upload, digest of the
     rows, reference profile), then the same command again (content already there);
   - `dvc init --no-scm`, `dvc add DATA`, `dvc push` to a local remote, then `dvc add` +
     `dvc push` again (nothing changed);
   and the bytes each wrote: the store root for mlops; the DVC cache plus the remote for DVC
   (DVC keeps a cache copy besides the remote by default; both are counted and shown apart).
5. Prints one table with the ratios (DVC / mlops) and, with `--json FILE`, writes the numbers.
   Nothing here asserts on time: it measures and prints. The data was just written, so both
   tools read it from the page cache (neither gets a cold read).
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# Data, mlops store, DVC cache, DVC remote, and room for manifests and temporary files.
SPACE_FACTOR = 4.2


def bytes_under(path: Path) -> int:
    total = 0
    for dirpath, _dirs, files in os.walk(path):
        for name in files:
            p = Path(dirpath) / name
            if p.is_file() and not p.is_symlink():
                total += p.stat().st_size
    return total


class Timed:
    """One finished command: wall seconds and peak resident memory (bytes)."""

    def __init__(self, seconds: float, max_rss: int):
        self.seconds = seconds
        self.max_rss = max_rss


def run(cmd, timeout: float, cwd=None, env=None) -> Timed:
    """Runs `cmd` to completion: its wall time and peak RSS; exits on failure or timeout."""
    start = time.perf_counter()
    proc = subprocess.Popen(
        [str(c) for c in cmd], cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    timed_out = threading.Event()

    def kill():
        timed_out.set()
        proc.kill()

    timer = threading.Timer(timeout, kill)
    timer.start()
    # Read the pipes on threads so a chatty command never blocks on a full pipe.
    out, err = [], []
    readers = [
        threading.Thread(target=lambda: out.append(proc.stdout.read())),
        threading.Thread(target=lambda: err.append(proc.stderr.read())),
    ]
    for r in readers:
        r.start()
    _pid, status, usage = os.wait4(proc.pid, 0)
    elapsed = time.perf_counter() - start
    timer.cancel()
    for r in readers:
        r.join()
    proc.returncode = os.waitstatus_to_exitcode(status)
    text = lambda chunks: b"".join(chunks).decode(errors="replace")
    if timed_out.is_set():
        sys.exit(f"{' '.join(map(str, cmd))} took over {timeout:.0f} s: killed")
    if proc.returncode != 0:
        sys.exit(f"{' '.join(map(str, cmd))} failed ({proc.returncode}):\n{text(out)}\n{text(err)}")
    return Timed(elapsed, usage.ru_maxrss * 1024)  # Linux reports KiB


def make_data(folder: Path, total: int, files: int) -> None:
    """Writes `files` Parquet files of about `total` bytes together."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    rng = np.random.default_rng(16)
    cities = np.array(["paris", "lyon", "nice", "lille", "nantes"])
    bytes_per_row = 24.0  # a first guess; measured on each file written
    written = 0
    for i in range(files):
        left = total - written
        rows = max(1000, int(left / (files - i) / bytes_per_row))
        table = pa.table(
            {
                "x": rng.normal(size=rows),
                "y": rng.normal(size=rows),
                "n": rng.integers(0, 1_000_000, size=rows),
                "city": cities[rng.integers(0, len(cities), size=rows)],
            }
        )
        path = folder / f"part-{i:04d}.parquet"
        pq.write_table(table, path)
        size = path.stat().st_size
        written += size
        bytes_per_row = size / rows


def mib(n: float) -> str:
    return f"{n / 2**20:.1f} MiB"


def ratio(a: float, b: float) -> str:
    return f"{a / b:.2f}x" if b > 0 else "-"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    size = parser.add_mutually_exclusive_group()
    size.add_argument("--size-gb", type=float, help="total size of the Parquet files in GiB (default 1)")
    size.add_argument("--mb", type=float, help="the same in MiB")
    parser.add_argument("--files", type=int, default=16, help="how many files (default 16)")
    parser.add_argument("--mlops", type=Path, help="the mlops binary to time (default: a release build)")
    parser.add_argument("--skip-build", action="store_true", help="use the existing release build")
    parser.add_argument("--work-dir", type=Path, help="where the temporary folder goes (default $TMPDIR)")
    parser.add_argument("--keep", type=Path, help="work in this folder and keep it")
    parser.add_argument("--timeout", type=float, default=3600, help="seconds per command (default 3600)")
    parser.add_argument("--json", type=Path, help="also write the numbers to this JSON file")
    parser.add_argument(
        "--dvc-venv",
        type=Path,
        default=Path(os.environ.get("MLOPS_TEST_VENV_DVC", ROOT / ".venv-dvc")),
        help="the venv holding dvc (default: $MLOPS_TEST_VENV_DVC or .venv-dvc)",
    )
    parser.add_argument("--generate-into", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.generate_into:
        # The child that writes the data: pyarrow stays out of the timing parent, whose
        # memory every forked command would otherwise count as its own peak RSS.
        make_data(args.generate_into, int(args.mb * 2**20), args.files)
        return
    target_bytes = int((args.mb * 2**20) if args.mb else (args.size_gb or 1.0) * 2**30)
    if target_bytes < 1 << 20 or args.files < 1:
        sys.exit("the data must be at least 1 MiB in at least one file")

    dvc = args.dvc_venv / "bin" / "dvc"
    if not dvc.exists():
        sys.exit(f"no dvc at {dvc}: build the venv from scripts/venvs/dvc.txt (scripts/test.sh does)")
    target = Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target"))
    if args.mlops:
        mlops = args.mlops.resolve()
    else:
        if not args.skip_build:
            subprocess.run(["cargo", "build", "--release", "--bin", "mlops"], cwd=ROOT, check=True)
        mlops = target / "release" / "mlops"
    if not mlops.is_file():
        sys.exit(f"no mlops binary at {mlops}")
    profile = "debug" if "debug" in mlops.parts else "release"

    if args.keep:
        work = args.keep
        work.mkdir(parents=True, exist_ok=True)
    else:
        if args.work_dir:
            args.work_dir.mkdir(parents=True, exist_ok=True)
        work = Path(tempfile.mkdtemp(prefix="data-vs-dvc-", dir=args.work_dir))
    free = shutil.disk_usage(work).free
    if free < target_bytes * SPACE_FACTOR:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
        sys.exit(
            f"{work} has {mib(free)} free; the run needs about {mib(target_bytes * SPACE_FACTOR)} "
            f"({SPACE_FACTOR} x the data): give --work-dir on a larger disk"
        )
    try:
        data = work / "project" / "data"
        data.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            [sys.executable, __file__, "--generate-into", data, "--mb", str(target_bytes / 2**20),
             "--files", str(args.files)],
            check=True,
        )
        size = bytes_under(data)
        print(f"data: {args.files} Parquet files, {mib(size)}; mlops {mlops} ({profile})", file=sys.stderr)

        store = work / "store"
        env = {k: v for k, v in os.environ.items() if not k.startswith("MLOPS_")}
        mlops_add = [mlops, "data", "add", "bench", data, "--store", store]
        m_first = run(mlops_add, args.timeout, env=env)
        b_mlops = bytes_under(store)
        m_again = run(mlops_add, args.timeout, env=env)
        b_mlops_again = bytes_under(store) - b_mlops

        project = work / "project"
        remote = work / "remote"
        denv = dict(env, DVC_NO_ANALYTICS="1")
        run([dvc, "init", "--no-scm", "-q"], args.timeout, cwd=project, env=denv)
        run([dvc, "remote", "add", "-d", "local", remote], args.timeout, cwd=project, env=denv)
        d_add = run([dvc, "add", "-q", "data"], args.timeout, cwd=project, env=denv)
        d_push = run([dvc, "push", "-q"], args.timeout, cwd=project, env=denv)
        b_cache = bytes_under(project / ".dvc" / "cache")
        b_remote = bytes_under(remote)
        d_add_again = run([dvc, "add", "-q", "data"], args.timeout, cwd=project, env=denv)
        d_push_again = run([dvc, "push", "-q"], args.timeout, cwd=project, env=denv)

        t_dvc = d_add.seconds + d_push.seconds
        b_dvc = b_cache + b_remote
        t_dvc_again = d_add_again.seconds + d_push_again.seconds
        rss_dvc = max(d_add.max_rss, d_push.max_rss)
        rows = [
            ("mlops data add", f"{m_first.seconds:.2f} s", mib(b_mlops), mib(m_first.max_rss),
             "store (objects, manifest, profile)"),
            ("mlops data add (again)", f"{m_again.seconds:.2f} s", mib(b_mlops_again), mib(m_again.max_rss),
             "nothing new"),
            ("dvc add + dvc push", f"{t_dvc:.2f} s (add {d_add.seconds:.2f} + push {d_push.seconds:.2f})",
             mib(b_dvc), mib(rss_dvc), f"cache {mib(b_cache)} + remote {mib(b_remote)}"),
            ("dvc add + push (again)", f"{t_dvc_again:.2f} s", "-",
             mib(max(d_add_again.max_rss, d_push_again.max_rss)), "nothing new"),
            ("ratio dvc / mlops", ratio(t_dvc, m_first.seconds), ratio(b_dvc, b_mlops), "",
             f"again: {ratio(t_dvc_again, m_again.seconds)} of the time"),
        ]
        head = ("step", "wall", "written", "peak RSS", "note")
        width = [max(len(r[i]) for r in rows + [head]) for i in range(4)]
        line = lambda r: "  ".join(f"{r[i]:<{width[i]}}" for i in range(4)) + f"  {r[4]}"
        print(line(head))
        for r in rows:
            print(line(r))
        note = "" if profile == "release" else " (a DEBUG mlops build: not release numbers)"
        print(f"data {mib(size)} in {args.files} files; mlops also computes the rows' digest "
              f"and a reference profile{note}")
        if args.json:
            numbers = {
                "data_bytes": size, "files": args.files, "mlops": str(mlops), "profile": profile,
                "mlops_add": {"seconds": m_first.seconds, "bytes_written": b_mlops, "max_rss": m_first.max_rss},
                "mlops_add_again": {"seconds": m_again.seconds, "bytes_written": b_mlops_again,
                                    "max_rss": m_again.max_rss},
                "dvc_add_push": {"seconds": t_dvc, "add_seconds": d_add.seconds, "push_seconds": d_push.seconds,
                                 "bytes_written": b_dvc, "cache_bytes": b_cache, "remote_bytes": b_remote,
                                 "max_rss": rss_dvc},
                "dvc_add_push_again": {"seconds": t_dvc_again},
                "ratio_seconds": t_dvc / m_first.seconds if m_first.seconds > 0 else None,
                "ratio_bytes": b_dvc / b_mlops if b_mlops > 0 else None,
            }
            args.json.write_text(json.dumps(numbers, indent=2) + "\n")
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
