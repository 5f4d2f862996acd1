"""Benchmark: the full grid's wall time, every reachable catalog dataset x featurizers x sizes x splits x models.

Datasets download through a loopback HTTP mirror of ../shared/datasets (``experiment.prepare``); a catalog
entry that cannot be fetched offline, or that has more rows than ``--max-rows``, is skipped with the
reason. Featurization is timed apart and excluded from the grid's time. Then one ``enso experiment`` run
per model (a fresh run each time, ``--jobs`` worker processes, one thread each), timed as a whole; it
prints the wall time per model and in total, and the cells per second of each model.

    python benchmarks/grid.py                          # the whole catalog, sizes 50..1000, 5 splits
    python benchmarks/grid.py --max-rows 6000 --quick  # small datasets only, 2 splits: minutes
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pyarrow.parquet as pq
from experiment import HERE, prepare

from enso_ng.download.catalog import CATALOG
from enso_ng.workspace import Workspace


def fetch(workspace: Path, datasets: list[str], featurizers: list[str]) -> tuple[list[str], dict[str, str], float]:
    """Download and featurize each dataset on its own, so that one that fails offline skips only itself.
    Returns the datasets ready, the skipped ones with why, and the seconds spent (download included)."""
    ready, skipped = [], {}
    t0 = time.perf_counter()
    for name in datasets:
        try:
            prepare(workspace, [name], featurizers)
        except subprocess.CalledProcessError as error:
            skipped[name] = f"not reachable offline ('{' '.join(error.cmd[5:7])}' failed, its message above)"
            continue
        ready.append(name)
    return ready, skipped, time.perf_counter() - t0


def run_grid(workspace: Path, model: str, datasets: list[str], args: argparse.Namespace) -> tuple[float, int]:
    """One fresh ``enso experiment`` run of ``model`` over the grid: (wall seconds, cells)."""
    name = f"grid-{model}"
    shutil.rmtree(Workspace.resolve(workspace).run_dir(name), ignore_errors=True)
    command = [
        *(sys.executable, "-m", "enso_ng", "-q", "--workspace", str(workspace), "experiment"),
        *("-d", ",".join(datasets), "-f", args.featurizers, "-m", model, "--sizes", args.sizes),
        *("--splits", str(args.splits), "--jobs", str(args.jobs), "--name", name),
    ]
    t0 = time.perf_counter()
    subprocess.run(command, check=True)
    seconds = time.perf_counter() - t0
    table = pq.read_table(Workspace.resolve(workspace).run_dir(name) / "results.parquet")
    cells = {
        (d, f, s, p)
        for d, f, s, p in zip(*(table.column(c).to_pylist() for c in ("dataset", "featurizer", "train_size", "split")))
    }
    return seconds, len(cells)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workspace", type=Path, default=HERE / ".grid")
    parser.add_argument("--datasets", default="", help="comma-separated (default: the whole catalog)")
    parser.add_argument("--featurizers", default="bert,glove,tfidf")
    parser.add_argument("--models", default="logreg,mlp")
    parser.add_argument("--sizes", default="50,100,200,500,1000")
    parser.add_argument("--splits", type=int, default=5)
    parser.add_argument("--jobs", type=int, default=2, help="worker processes (this machine has 2 cores)")
    parser.add_argument("--max-rows", type=int, default=None, help="skip catalog datasets with more rows")
    parser.add_argument("--quick", action="store_true", help="sizes 50,200,1000 and 2 splits")
    args = parser.parse_args()
    if args.quick:
        args.sizes, args.splits = "50,200,1000", 2
    names = args.datasets.split(",") if args.datasets else list(CATALOG.names())
    skipped = {}
    for name in names:
        rows = CATALOG.get(name).rows
        if args.max_rows is not None and (rows is None or rows > args.max_rows):
            skipped[name] = f"{rows or 'unknown'} rows, over --max-rows {args.max_rows}"
    ready, unreachable, featurize_seconds = fetch(
        args.workspace, [n for n in names if n not in skipped], args.featurizers.split(",")
    )
    skipped.update(unreachable)
    if not ready:
        sys.exit("grid.py: no dataset could be prepared")
    print(f"datasets ({len(ready)}): {', '.join(ready)}")
    for name, why in skipped.items():
        print(f"  skipped {name}: {why}")
    print(f"download + featurization ({args.featurizers}): {featurize_seconds:.1f} s (not in the grid's time)")
    total = 0.0
    for model in args.models.split(","):
        seconds, cells = run_grid(args.workspace, model, ready, args)
        total += seconds
        print(f"{model:8} {cells:5d} cells in {seconds:7.1f} s: {cells / seconds:6.2f} cells/s")
    print(
        f"grid: {len(ready)} datasets x {args.featurizers} x sizes {args.sizes} x {args.splits} splits x "
        f"{args.models}: {total:.1f} s ({total / 60:.1f} min), --jobs {args.jobs}"
    )


if __name__ == "__main__":
    main()
