"""`mlops data add` against `dvc add` + `dvc push` on the same Parquet files (issue 16).

Run from anywhere (it finds the workspace root from its own path), with a Python that has
pyarrow and numpy (the main venv) and the dvc venv (`scripts/venvs/dvc.txt`, built by
scripts/test.sh as `<main venv>-dvc`):

    .venv/bin/python benches/compare/data_vs_dvc.py --mb 1024              # the lead's 1 GB run
    .venv/bin/python benches/compare/data_vs_dvc.py --mb 16 --files 4 \
        --mlops target/debug/mlops                                         # a smoke run

What it does:

1. `cargo build --release --bin mlops` (skip with --skip-build).
2. Writes `--files` Parquet files totalling about `--mb` MiB (random floats, integers and a
   low-cardinality string column; fixed seed) into a temporary folder (kept with --keep DIR).
3. Times, each as whole processes, wall clock:
   - `mlops data add bench DATA --store ROOT` (hash, content-addressed upload, digest of the
     rows, reference profile), then the same command again (content already there);
   - `dvc init --no-scm` + `dvc add DATA` + `dvc push` to a local remote, then
     `dvc add` + `dvc push` again (nothing changed).
   and the bytes each wrote: the store root for mlops; the DVC cache plus the remote for DVC
   (DVC keeps a cache copy besides the remote by default; both are counted, and shown apart).
4. Prints one table. Nothing here asserts on time: it measures and prints.
"""

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def bytes_under(path: Path) -> int:
    total = 0
    for dirpath, _dirs, files in os.walk(path):
        for name in files:
            p = Path(dirpath) / name
            if p.is_file() and not p.is_symlink():
                total += p.stat().st_size
    return total


def run(cmd, cwd=None, env=None):
    start = time.perf_counter()
    out = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if out.returncode != 0:
        sys.exit(f"{' '.join(map(str, cmd))} failed ({out.returncode}):\n{out.stdout}\n{out.stderr}")
    return elapsed


def make_data(folder: Path, mb: int, files: int) -> int:
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    rng = np.random.default_rng(16)
    # About 8 bytes per float/int cell after (poor) compression of random data.
    rows_per_file = max(1000, (mb << 20) // files // 28)
    cities = np.array(["paris", "lyon", "nice", "lille", "nantes"])
    for i in range(files):
        table = pa.table(
            {
                "x": rng.normal(size=rows_per_file),
                "y": rng.normal(size=rows_per_file),
                "n": rng.integers(0, 1_000_000, size=rows_per_file),
                "city": cities[rng.integers(0, len(cities), size=rows_per_file)],
            }
        )
        pq.write_table(table, folder / f"part-{i:04d}.parquet")
    return bytes_under(folder)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mb", type=int, default=1024, help="total size of the Parquet files")
    parser.add_argument("--files", type=int, default=16, help="how many files")
    parser.add_argument("--skip-build", action="store_true")
    parser.add_argument("--mlops", type=Path, help="use this mlops binary (e.g. a debug build for a smoke run)")
    parser.add_argument("--keep", type=Path, help="work in this folder and keep it")
    parser.add_argument(
        "--dvc-venv",
        type=Path,
        default=Path(os.environ.get("MLOPS_TEST_VENV_DVC", ROOT / ".venv-dvc")),
        help="the venv holding dvc (default: $MLOPS_TEST_VENV_DVC or .venv-dvc)",
    )
    args = parser.parse_args()

    dvc = args.dvc_venv / "bin" / "dvc"
    if not dvc.exists():
        sys.exit(f"no dvc at {dvc}: build the venv from scripts/venvs/dvc.txt (scripts/test.sh does)")
    if not args.skip_build and not args.mlops:
        subprocess.run(["cargo", "build", "--release", "--bin", "mlops"], cwd=ROOT, check=True)
    target = Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target"))
    mlops = args.mlops or target / "release" / "mlops"

    work = args.keep or Path(tempfile.mkdtemp(prefix="data-vs-dvc-"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        data = work / "project" / "data"
        data.mkdir(parents=True, exist_ok=True)
        size = make_data(data, args.mb, args.files)
        print(f"data: {args.files} Parquet files, {size / 2**20:.1f} MiB", file=sys.stderr)

        store = work / "store"
        env = {k: v for k, v in os.environ.items() if not k.startswith("MLOPS_")}
        mlops_add = [str(mlops), "data", "add", "bench", str(data), "--store", str(store)]
        t_mlops = run(mlops_add, env=env)
        b_mlops = bytes_under(store)
        t_mlops_again = run(mlops_add, env=env)
        b_mlops_again = bytes_under(store) - b_mlops

        project = work / "project"
        remote = work / "remote"
        denv = dict(env, DVC_NO_ANALYTICS="1")
        run([str(dvc), "init", "--no-scm", "-q"], cwd=project, env=denv)
        run([str(dvc), "remote", "add", "-d", "local", str(remote)], cwd=project, env=denv)
        t_add = run([str(dvc), "add", "-q", "data"], cwd=project, env=denv)
        t_push = run([str(dvc), "push", "-q"], cwd=project, env=denv)
        b_cache = bytes_under(project / ".dvc" / "cache")
        b_remote = bytes_under(remote)
        t_add_again = run([str(dvc), "add", "-q", "data"], cwd=project, env=denv)
        t_push_again = run([str(dvc), "push", "-q"], cwd=project, env=denv)

        mib = lambda n: f"{n / 2**20:.1f} MiB"
        rows = [
            ("mlops data add", f"{t_mlops:.2f} s", mib(b_mlops), "store (objects, manifest, profile)"),
            ("mlops data add (again)", f"{t_mlops_again:.2f} s", mib(b_mlops_again), "nothing new"),
            ("dvc add + dvc push", f"{t_add + t_push:.2f} s (add {t_add:.2f} + push {t_push:.2f})",
             mib(b_cache + b_remote), f"cache {mib(b_cache)} + remote {mib(b_remote)}"),
            ("dvc add + push (again)", f"{t_add_again + t_push_again:.2f} s", "-", "nothing new"),
        ]
        width = [max(len(r[i]) for r in rows) for i in range(4)]
        print(f"{'step':<{width[0]}}  {'wall':<{width[1]}}  {'written':<{width[2]}}  note")
        for r in rows:
            print(f"{r[0]:<{width[0]}}  {r[1]:<{width[1]}}  {r[2]:<{width[2]}}  {r[3]}")
        print(f"data {mib(size)}; mlops also computes the rows' digest and a reference profile")
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
