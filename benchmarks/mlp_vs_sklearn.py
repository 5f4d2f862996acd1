"""enso_ng's ``mlp`` against ``GridSearchCV(MLPClassifier)`` over the same candidates and folds (the
``--models mlp`` part of ``benchmarks/experiment.py``).

For every (dataset, featurizer), size and split seed, the same training subset is fitted by:

- ``GridSearchCV``: ``GridSearchCV(MLPClassifier((128,), max_iter=200), alpha in {0.1, 0.01}, 3-fold)`` on
  the cell's own enso_ng folds (the ones ``mlp`` uses), one cell after the other;
- enso_ng: ``MODELS["mlp"]`` as ``enso experiment`` runs it, all split seeds of one size in one batch.

One thread, fastest of ``repeat``; test accuracy per size, and the speed-up at each.
"""

from __future__ import annotations

import time
import warnings
from collections import defaultdict

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV
from sklearn.neural_network import MLPClassifier

from enso_ng.experiment.models import MODELS, cv_folds
from enso_ng.experiment.splits import plan_split
from enso_ng.formats import read_features
from enso_ng.workspace import Workspace

SIDES = ("GridSearchCV", "enso_ng")


def grid_search(X, y, seed: int, scoring) -> GridSearchCV:
    """What Enso ran per cell: scikit-learn's MLP, alpha by grid search on enso_ng's folds of the cell."""
    decays = list(MODELS.get("mlp")().weight_decays)
    folds = cv_folds(y, 3, seed) or cv_folds(y, 3, seed, allow_missing=True)
    search = GridSearchCV(
        MLPClassifier((128,), max_iter=200, random_state=seed), {"alpha": decays}, cv=folds, scoring=scoring
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return search.fit(X, y)


def compare(ws: Workspace, datasets, featurizers, sizes, splits: int, repeat: int, criterion: str, scoring) -> None:
    """Time both sides per (dataset, featurizer, size), interleaved, and print the table."""
    cls = MODELS.get("mlp")
    warm = np.random.default_rng(0).normal(size=(30, 8))
    cls().fit(warm, np.arange(30) % 3)  # warm-up: torch's first calls, and the timed bf16 check of "auto"
    grid_search(warm, np.arange(30) % 3, 0, scoring)
    times = defaultdict(dict)  # key -> side -> seconds
    accs = defaultdict(dict)  # key -> side -> mean test accuracy
    for dataset in datasets:
        for featurizer in featurizers:
            feats = read_features(ws.features_path(dataset, featurizer))
            plans = [plan_split(feats.labels, feats.splits, seed) for seed in range(splits)]
            for size in sizes:
                key = (dataset, featurizer, size)
                trains = [p.train(size) for p in plans]
                Xs, ys = [feats.X[t] for t in trains], [feats.labels[t] for t in trains]
                best, fitted = defaultdict(lambda: float("inf")), {}
                for _ in range(repeat):  # alternately, the fastest of a few runs: this VM's timings are noisy
                    t0 = time.perf_counter()
                    fitted["GridSearchCV"] = [grid_search(X, y, p.seed, scoring) for p, X, y in zip(plans, Xs, ys)]
                    best["GridSearchCV"] = min(best["GridSearchCV"], time.perf_counter() - t0)
                    t0 = time.perf_counter()
                    models = [cls(random_state=p.seed, criterion=criterion) for p in plans]
                    fitted["enso_ng"] = cls.fit_many(models, Xs, ys)
                    best["enso_ng"] = min(best["enso_ng"], time.perf_counter() - t0)
                for side in SIDES:
                    times[key][side] = best[side]
                    accs[key][side] = float(
                        np.mean(
                            [
                                np.mean(m.predict(feats.X[p.test]) == feats.labels[p.test])
                                for p, m in zip(plans, fitted[side])
                            ]
                        )
                    )
                print(_line(key, times[key], accs[key]), flush=True)
    report(times, accs)


def _line(key, seconds: dict, acc: dict) -> str:
    ratio = seconds["GridSearchCV"] / seconds["enso_ng"]
    return (
        f"{key[0]:12} {key[1]:8} {key[2]:5d} {seconds['GridSearchCV']:9.2f} {seconds['enso_ng']:8.2f} {ratio:6.1f}x"
        f"   {acc['GridSearchCV']:.4f} {acc['enso_ng']:.4f} {100 * (acc['enso_ng'] - acc['GridSearchCV']):+6.2f}"
    )


def header() -> str:
    return (
        f"{'dataset':12} {'features':8} {'size':>5} {'Grid s':>9} {'enso s':>8} {'ratio':>7}"
        f"   {'Grid acc':>8} {'enso':>6} {'points':>6}"
    )


def report(times, accs) -> None:
    """Totals per featurizer and overall: the speed-up and the mean accuracy difference (points)."""
    print("\ntotal (ratio of summed seconds; accuracy: mean over sizes and datasets)")
    groups = defaultdict(list)
    for key in times:
        groups[key[1]].append(key)
        groups["all"].append(key)
    for name, keys in groups.items():
        grid, ours = (sum(times[k][s] for k in keys) for s in SIDES)
        acc_grid, acc_ours = (np.mean([accs[k][s] for k in keys]) for s in SIDES)
        print(
            f"  {name:8} GridSearchCV {grid:8.2f} s, enso_ng {ours:7.2f} s, {grid / ours:5.1f}x faster; accuracy "
            f"{acc_grid:.4f} vs {acc_ours:.4f} ({100 * (acc_ours - acc_grid):+.2f} points)"
        )
