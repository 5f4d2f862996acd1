"""Benchmark: what a Dask cluster and MLflow tracking cost, on the same grid, in one run.

The same grid (by default 1 dataset x 2 featurizers x 3 models x 5 sizes x 10 splits = 300 cells, about a
minute on 2 cores; ``--models logreg,knn`` gives 200 cells of about 12 s, where fixed start-up shows) is run
end to end as ``enso experiment`` processes, each a new run in the same workspace:

- ``--jobs 2``: two local worker processes (the baseline);
- ``--scheduler local:2``: a LocalCluster of two single-threaded workers, started and stopped by the run
  (its start-up counts: that is what a user pays);
- ``--jobs 2 --mlflow sqlite:///...``: the baseline, tracked in a SQLite MLflow store (and, where the
  ``mlflow`` command is installed, ``--mlflow http://127.0.0.1:PORT`` against an ``mlflow server``).

Modes alternate, and each mode's time is the fastest of ``--repeat`` rounds. It prints wall times, each
mode's ratio to the baseline (targets: cluster under 1.10, MLflow under 1.05 on 200 cells or more), and
cells per core-hour, from which the README's scaling table is computed.

    python benchmarks/cluster.py                    # prepares its own workspace on first use
    python benchmarks/cluster.py --sizes 50,100,200,500,1000 --splits 10 --repeat 2
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from experiment import HERE, prepare

REPO = HERE.parent


def enso(workspace: Path, *args: str) -> float:
    """Wall seconds of one ``enso experiment`` process (it must succeed)."""
    env = {**os.environ, "PYTHONPATH": str(REPO), "ENSO_QUIET": "1"}
    command = [sys.executable, "-m", "enso_ng", "-q", "--workspace", str(workspace), "experiment", *args]
    started = time.perf_counter()
    done = subprocess.run(command, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed:\n{done.stdout}\n{done.stderr}")
    return seconds


def mlflow_server(folder: Path) -> tuple[subprocess.Popen, str] | None:
    """An ``mlflow server`` on 127.0.0.1 with a SQLite store, or None where the command is missing."""
    command = shutil.which("mlflow") or str(Path(sys.executable).parent / "mlflow")
    if not Path(command).exists():
        return None
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    process = subprocess.Popen(
        [command, "server", "--host", "127.0.0.1", "--port", str(port), "--workers", "1"]
        + ["--backend-store-uri", f"sqlite:///{folder / 'server.db'}", "--artifacts-destination", str(folder / "art")],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    for _ in range(600):
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=2):
                return process, url
        except OSError:
            time.sleep(0.2)
    os.killpg(process.pid, signal.SIGTERM)
    return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workspace", type=Path, default=HERE / ".work")
    parser.add_argument("--datasets", default="rotten_tomatoes")
    parser.add_argument("--featurizers", default="bert,tfidf")
    parser.add_argument("--models", default="logreg,knn,mlp")
    parser.add_argument("--sizes", default="50,100,200,500,1000")
    parser.add_argument("--splits", type=int, default=10)
    parser.add_argument("--workers", type=int, default=2, help="--jobs N against --scheduler local:N")
    parser.add_argument("--repeat", type=int, default=2, help="rounds; each mode keeps its fastest")
    args = parser.parse_args()

    datasets, featurizers = args.datasets.split(","), args.featurizers.split(",")
    prepare(args.workspace, datasets, featurizers)
    grid = ["-d", args.datasets, "-f", args.featurizers, "-m", args.models, "--sizes", args.sizes]
    grid += ["--splits", str(args.splits)]
    cells = len(datasets) * len(featurizers) * len(args.models.split(",")) * len(args.sizes.split(",")) * args.splits
    n = args.workers
    scratch = Path(tempfile.mkdtemp(prefix="enso-cluster-bench-"))
    server = mlflow_server(scratch)
    modes = {
        f"--jobs {n}": ["--jobs", str(n)],
        f"--scheduler local:{n}": ["--scheduler", f"local:{n}"],
        f"--jobs {n} --mlflow sqlite": ["--jobs", str(n), "--mlflow", f"sqlite:///{scratch / 'bench.db'}"],
    }
    if server is not None:
        modes[f"--jobs {n} --mlflow server"] = ["--jobs", str(n), "--mlflow", server[1]]
    best: dict[str, float] = {}
    runs = args.workspace / "results"
    try:
        for round_ in range(args.repeat):
            for i, (mode, extra) in enumerate(modes.items()):
                name = f"bench-cluster-{round_}-{i}"
                shutil.rmtree(runs / name, ignore_errors=True)
                seconds = enso(args.workspace, *grid, *extra, "--name", name)
                shutil.rmtree(runs / name, ignore_errors=True)
                best[mode] = min(best.get(mode, float("inf")), seconds)
                print(f"round {round_ + 1}: {mode}: {seconds:.1f} s", flush=True)
    finally:
        if server is not None:
            os.killpg(server[0].pid, signal.SIGTERM)
        shutil.rmtree(scratch, ignore_errors=True)

    baseline = best[f"--jobs {n}"]
    print(
        f"\n{cells} cells ({args.datasets}; {args.featurizers}; {args.models}; sizes {args.sizes}; "
        f"{args.splits} splits), {n} workers, fastest of {args.repeat}, cores {os.cpu_count()}"
    )
    print(f"{'mode':32s} {'wall s':>8s} {'ratio':>7s} {'cells/core-hour':>16s}")
    for mode, seconds in best.items():
        per_core_hour = cells / (seconds * n) * 3600
        print(f"{mode:32s} {seconds:8.1f} {seconds / baseline:7.3f} {per_core_hour:16.0f}")


if __name__ == "__main__":
    main()
