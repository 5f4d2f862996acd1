"""Benchmark: enso_ng's logistic regression against the way Enso chose C, on the same cells.

For every cached (dataset, featurizer), training size and split seed, the same training subset (enso_ng's
split plan) is fitted two ways:

- baseline: scikit-learn ``GridSearchCV(LogisticRegression(solver="lbfgs"), C in 0.1..1000, 3-fold)``,
  which is what Enso ran per cell (given enso_ng's stratified folds of the cell, so both rank C on the
  same rows);
- enso_ng: ``MODELS["logreg"]`` as ``enso experiment`` runs it: the same grid and folds, every fit of all
  split seeds of one size solved as one batch.

Both run single-threaded (BLAS and torch capped at one thread: on this 2-core machine that is the best
setting for problems this small, see DESIGN.md), alternately, and each side's time is the fastest of
``--repeat`` runs. It prints wall time per size, the ratio, and the mean test accuracy of both, then the
totals.

    python benchmarks/experiment.py                      # prepares its own workspace on first use
    python benchmarks/experiment.py --workspace DIR --sizes 50,100,200,500,1000 --splits 3
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
import warnings
from collections import defaultdict
from pathlib import Path

import numpy as np
import torch
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV
from threadpoolctl import threadpool_limits

from enso_ng.experiment.models import MODELS, cv_folds
from enso_ng.experiment.splits import plan_split
from enso_ng.formats import read_features
from enso_ng.workspace import Workspace

HERE = Path(__file__).resolve().parent
SHARED = HERE.parent.parent / "shared" / "datasets"
DEFAULT_DATASETS = ("sst2", "trec", "airline_sentiment")
CS = (0.1, 1.0, 10.0, 100.0, 1000.0)


def prepare(workspace: Path, datasets: list[str], featurizers: list[str], options: tuple[str, ...] = ()) -> None:
    """Download and featurize what is missing (through a loopback mirror of ../shared where it exists),
    with featurizer ``options`` (``key=value``)."""
    ws = Workspace.resolve(workspace)
    missing = [d for d in datasets if any((d, f) not in ws.featurized() for f in featurizers)]
    if not missing:
        return
    enso = [sys.executable, "-m", "enso_ng", "-q", "--workspace", str(workspace)]
    server = None
    mirror: list[str] = []
    if SHARED.is_dir():
        server = subprocess.Popen(
            [sys.executable, "-m", "http.server", "0", "--bind", "127.0.0.1", "-d", str(SHARED)],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        line = server.stdout.readline()  # "Serving HTTP on 127.0.0.1 port N ..."
        mirror = ["--mirror", f"http://127.0.0.1:{line.split(' port ')[1].split()[0]}"]
    try:
        subprocess.run([*enso, "download", *missing, *mirror], check=True)
    finally:
        if server:
            server.terminate()
    featurize = [
        *enso,
        "featurize",
        *[a for f in featurizers for a in ("-f", f)],
        *[a for d in missing for a in ("-d", d)],
        *[a for o in options for a in ("-o", o)],
    ]
    subprocess.run(featurize, check=True)


def baseline(X, y, seed: int):
    # enso_ng's own stratified folds of this cell, so both sides rank C on the same rows: the accuracy
    # difference then measures the solvers, not two draws of folds.
    grid = GridSearchCV(
        LogisticRegression(solver="lbfgs"), {"C": list(CS)}, cv=cv_folds(y, 3, seed, allow_missing=True)
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return grid.fit(X, y)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workspace", type=Path, default=HERE / ".work")
    parser.add_argument("--datasets", default=",".join(DEFAULT_DATASETS))
    parser.add_argument("--featurizers", default="bert")
    parser.add_argument("--sizes", default="50,100,200,500,1000")
    parser.add_argument("--splits", type=int, default=5)
    parser.add_argument("--repeat", type=int, default=3, help="time each side this many times and keep the fastest")
    args = parser.parse_args()
    datasets, featurizers = args.datasets.split(","), args.featurizers.split(",")
    sizes = [int(s) for s in args.sizes.split(",")]
    prepare(args.workspace, datasets, featurizers)
    ws = Workspace.resolve(args.workspace)
    torch.set_num_threads(1)
    times = defaultdict(lambda: [0.0, 0.0])
    accs = defaultdict(lambda: [[], []])
    with threadpool_limits(limits=1):
        MODELS.get("logreg")().fit(np.random.default_rng(0).normal(size=(20, 4)), np.arange(20) % 2)  # warm-up
        for dataset in datasets:
            for featurizer in featurizers:
                feats = read_features(ws.features_path(dataset, featurizer))
                plans = [plan_split(feats.labels, feats.splits, seed) for seed in range(args.splits)]
                for size in sizes:
                    key = (dataset, featurizer, size)
                    cells = [(p, p.train(size)) for p in plans]
                    cls = MODELS.get("logreg")
                    base_s, ours_s = [], []
                    for _ in range(args.repeat):  # the fastest of a few runs: this VM's timings are noisy
                        # The baseline, one cell at a time as Enso did.
                        t0 = time.perf_counter()
                        grids = [baseline(feats.X[train], feats.labels[train], plan.seed) for plan, train in cells]
                        t1 = time.perf_counter()
                        # enso_ng, as `enso experiment` runs it: the split seeds of one size in one batch.
                        ours = cls.fit_many(
                            [cls(random_state=p.seed) for p, _ in cells],
                            [feats.X[t] for _, t in cells],
                            [feats.labels[t] for _, t in cells],
                        )
                        t2 = time.perf_counter()
                        base_s.append(t1 - t0)
                        ours_s.append(t2 - t1)
                    times[key][0] += min(base_s)
                    times[key][1] += min(ours_s)
                    for (plan, _), grid, model in zip(cells, grids, ours):
                        X_test, y_test = feats.X[plan.test], feats.labels[plan.test]
                        accs[key][0].append(float((grid.predict(X_test) == y_test).mean()))
                        accs[key][1].append(float((model.predict(X_test) == y_test).mean()))
    print(
        f"{'dataset':18} {'featurizer':10} {'size':>5} {'GridSearchCV s':>14} {'enso_ng s':>10} {'ratio':>6} "
        f"{'acc grid':>8} {'acc enso':>8}"
    )
    total = [0.0, 0.0]
    all_acc = [[], []]
    for key, (tb, to) in times.items():
        ab, ao = accs[key]
        print(
            f"{key[0]:18} {key[1]:10} {key[2]:5d} {tb:14.3f} {to:10.3f} {tb / to:6.1f} {np.mean(ab):8.4f} {np.mean(ao):8.4f}"
        )
        total[0] += tb
        total[1] += to
        all_acc[0] += ab
        all_acc[1] += ao
    diff = 100 * (np.mean(all_acc[1]) - np.mean(all_acc[0]))
    print(
        f"total: GridSearchCV {total[0]:.2f} s, enso_ng {total[1]:.2f} s, ratio {total[0] / total[1]:.1f}x; "
        f"mean accuracy {np.mean(all_acc[0]):.4f} vs {np.mean(all_acc[1]):.4f} ({diff:+.2f} points)"
    )


if __name__ == "__main__":
    main()
