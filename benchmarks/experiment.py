"""Benchmark: enso_ng's logistic regression against scikit-learn's ways of choosing C, on the same cells.

For every cached (dataset, featurizer), training size and split seed, the same training subset (enso_ng's
split plan) is fitted by:

- ``GridSearchCV``: ``GridSearchCV(LogisticRegression(solver="lbfgs"), C in 0.1..1000, 3-fold)``, what
  Enso ran per cell;
- ``LogisticRegressionCV``: scikit-learn's own warm-started path over the same C grid;
- MTEB: one ``LogisticRegression(max_iter=100)`` at C = 1, no search (MTEB's classification protocol);
- enso_ng: ``MODELS["logreg"]`` as ``enso experiment`` runs it, every fit of all split seeds of one size
  solved as one batch;
- exact inner CV (untimed, the reference for C): enso_ng with its fold fits and refit solved to 1e-6;
- with ``--solved-refit``, also untimed: scikit-learn's ``LogisticRegression`` at ``LogisticRegressionCV``'s
  chosen C solved to 1e-10: the same C without the baseline's early stop. Its absolute tolerance (1e-4) stops
  the refit early on many classes (issue 27), which regularises; this column separates that from the
  choice of C;
- with ``--exact-folds``, also timed: enso_ng with its fold fits solved to the refit's bound (``rtol``)
  instead of ``cv_rtol``, which measures the share of the speed that comes from ``cv_rtol``.

The searches get enso_ng's stratified folds of the cell and rank C by the same criterion (``--criterion``,
default logreg's; scikit-learn's ``scoring`` is ``accuracy``, ``neg_log_loss`` or ``f1_macro`` to match,
accuracy for the tie-breaking variants), so differences in C measure the solvers. Everything runs on one
thread (BLAS and torch capped: on this 2-core machine the best setting for problems this small, see the
README, "Speed"), alternately, and each side's time is the fastest of ``--repeat`` runs. It prints, per size, the
wall times and ratios; the mean test accuracy of each; how often each search chose the C of exact inner
CV; then the totals, per featurizer and per dataset, and the fits scikit-learn reported as not converged
(``ConvergenceWarning``). Banking77 (77 classes) is in the default set, at sizes on both sides of the
feature dimension (616 to 4,928 rows; ``--banking77-sizes``), because a tolerance chosen on 2-6 classes is
a guess until it is checked on many (issue 27).

    python benchmarks/experiment.py                      # prepares its own workspace on first use
    python benchmarks/experiment.py --workspace DIR --sizes 50,100,200,500,1000 --splits 3 --exact-folds
    python benchmarks/experiment.py --datasets banking77 --splits 3 --repeat 1   # many classes only
    python benchmarks/experiment.py --models mlp --datasets sst2,trec --featurizers bert,glove,tfidf

``--models mlp`` compares ``mlp`` with ``GridSearchCV(MLPClassifier)`` instead (``mlp_vs_sklearn.py``).
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
from mlp_vs_sklearn import compare as compare_mlp
from mlp_vs_sklearn import header as mlp_header
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression, LogisticRegressionCV
from sklearn.metrics import f1_score
from sklearn.model_selection import GridSearchCV
from threadpoolctl import threadpool_limits

from enso_ng.experiment.criteria import CRITERIA
from enso_ng.experiment.models import MODELS, cv_folds
from enso_ng.experiment.splits import plan_split
from enso_ng.formats import read_features
from enso_ng.workspace import Workspace

HERE = Path(__file__).resolve().parent
SHARED = HERE.parent.parent / "shared" / "datasets"
DEFAULT_DATASETS = ("sst2", "trec", "airline_sentiment", "banking77")
#: many classes: sizes from 8 to 64 rows per class, on both sides of MiniLM's 384 dimensions
BANKING77_SIZES = "616,1232,2464,4928"
CS = (0.1, 1.0, 10.0, 100.0, 1000.0)


def serve_shared() -> tuple[subprocess.Popen | None, list[str]]:
    """A loopback HTTP server of ../shared/datasets and the ``--mirror`` option naming it (none without it)."""
    if not SHARED.is_dir():
        return None, []
    server = subprocess.Popen(
        [sys.executable, "-m", "http.server", "0", "--bind", "127.0.0.1", "-d", str(SHARED)],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    line = server.stdout.readline()  # "Serving HTTP on 127.0.0.1 port N ..."
    return server, ["--mirror", f"http://127.0.0.1:{line.split(' port ')[1].split()[0]}"]


def prepare(workspace: Path, datasets: list[str], featurizers: list[str], options: tuple[str, ...] = ()) -> None:
    """Download and featurize what is missing (through a loopback mirror of ../shared where it exists),
    with featurizer ``options`` (``key=value``)."""
    ws = Workspace.resolve(workspace)
    missing = [d for d in datasets if any((d, f) not in ws.featurized() for f in featurizers)]
    if not missing:
        return
    enso = [sys.executable, "-m", "enso_ng", "-q", "--workspace", str(workspace)]
    server, mirror = serve_shared()
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


def _macro_f1(estimator, X, y) -> float:
    # a plain callable: scikit-learn 1.9's LogisticRegressionCV rebuilds a "f1_macro" scorer on binary
    # folds with pos_label twice and fails
    return f1_score(y, estimator.predict(X), average="macro")


#: enso_ng's criteria as scikit-learn ``scoring`` (the tie-breaking variants rank by accuracy)
SCORING = {"log_loss": "neg_log_loss", "macro_f1": _macro_f1}


def _not_converged(fit) -> tuple[object, int]:
    """Run ``fit()``; return its result and how many fits scikit-learn warned had not converged."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConvergenceWarning)
        warnings.simplefilter("ignore", FutureWarning)
        result = fit()
    return result, sum(issubclass(w.category, ConvergenceWarning) for w in caught)


def grid_search(X, y, seed: int, scoring: str):
    # enso_ng's own stratified folds of this cell, so every search ranks C on the same rows: differences
    # then measure the solvers, not two draws of folds.
    folds = cv_folds(y, 3, seed, allow_missing=True)
    return _not_converged(
        lambda: GridSearchCV(LogisticRegression(solver="lbfgs"), {"C": list(CS)}, cv=folds, scoring=scoring).fit(X, y)
    )


def path_search(X, y, seed: int, scoring: str):
    folds = cv_folds(y, 3, seed, allow_missing=True)
    return _not_converged(lambda: LogisticRegressionCV(Cs=list(CS), cv=folds, scoring=scoring).fit(X, y))


def mteb(X, y, seed: int, scoring: str):
    return _not_converged(lambda: LogisticRegression(max_iter=100).fit(X, y))


def enso(params: dict):
    cls = MODELS.get("logreg")

    def fit(cells, Xs, ys):
        return cls.fit_many([cls(random_state=p.seed, **params) for p, _ in cells], Xs, ys)

    return fit


#: the untimed column of ``--solved-refit``
SOLVED = "LRCV's C solved"


def solved_refit(C: float, X, y):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return LogisticRegression(C=C, tol=1e-10, max_iter=20000).fit(X, y)


def chosen_C(model) -> float:
    if hasattr(model, "best_params_"):
        return float(model.best_params_["C"])
    return float(np.ravel(model.C_)[0]) if hasattr(model, "C_") else float(model.C)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workspace", type=Path, default=HERE / ".work")
    parser.add_argument("--datasets", default=",".join(DEFAULT_DATASETS))
    parser.add_argument("--featurizers", default="bert")
    parser.add_argument("--sizes", default="50,100,200,500,1000")
    parser.add_argument("--splits", type=int, default=5)
    parser.add_argument("--repeat", type=int, default=3, help="time each side this many times and keep the fastest")
    parser.add_argument("--criterion", default=MODELS.get("logreg")().criterion, choices=CRITERIA.names())
    parser.add_argument(
        "--exact-folds", action="store_true", help="also time enso_ng with fold fits solved to rtol (cv_rtol = rtol)"
    )
    parser.add_argument(
        "--variant",
        action="append",
        default=[],
        metavar="KEY=VALUE[,KEY=VALUE]",
        help="also time enso_ng with these logreg parameters (repeatable), e.g. --variant rtol=0.001",
    )
    parser.add_argument(
        "--solved-refit",
        action="store_true",
        help="also report (untimed) LogisticRegressionCV's chosen C refitted by scikit-learn to 1e-10",
    )
    parser.add_argument("--banking77-sizes", default=BANKING77_SIZES, help="Banking77's sizes (77 classes)")
    parser.add_argument("--models", default="logreg", help="logreg and/or mlp (comma-separated)")
    args = parser.parse_args()
    datasets, featurizers = args.datasets.split(","), args.featurizers.split(",")
    sizes = [int(s) for s in args.sizes.split(",")]
    banking77_sizes = [int(s) for s in args.banking77_sizes.split(",")]
    prepare(args.workspace, datasets, featurizers)
    ws = Workspace.resolve(args.workspace)
    torch.set_num_threads(1)
    scoring = SCORING.get(args.criterion, "accuracy")
    if "mlp" in args.models.split(","):
        print(f"mlp: criterion {args.criterion}; one thread; fastest of {args.repeat}; {args.splits} split seeds")
        print(mlp_header())
        with threadpool_limits(limits=1):
            compare_mlp(ws, datasets, featurizers, sizes, args.splits, args.repeat, args.criterion, scoring)
    if "logreg" not in args.models.split(","):
        return
    baselines = {"GridSearchCV": grid_search, "LogisticRegressionCV": path_search, "MTEB C=1": mteb}
    ours = {"enso_ng": enso({"criterion": args.criterion})}
    if args.exact_folds:
        rtol = MODELS.get("logreg")().rtol
        ours["enso_ng exact folds"] = enso({"criterion": args.criterion, "cv_rtol": rtol})
    for variant in args.variant:
        settings = dict(item.split("=", 1) for item in variant.split(","))
        ours[f"enso_ng {variant}"] = enso({"criterion": args.criterion, **{k: float(v) for k, v in settings.items()}})
    exact = enso({"criterion": args.criterion, "rtol": 1e-6, "cv_rtol": 1e-6})
    sides = [*baselines, *ours]
    times = defaultdict(lambda: defaultdict(float))  # key -> side -> seconds
    accs = defaultdict(lambda: defaultdict(list))  # key -> side -> test accuracy per cell
    agree = defaultdict(lambda: defaultdict(list))  # key -> side -> chose exact inner CV's C, per cell
    unconverged = defaultdict(lambda: [0, 0])  # baseline -> [warned fits, cells]
    with threadpool_limits(limits=1):
        MODELS.get("logreg")().fit(np.random.default_rng(0).normal(size=(20, 4)), np.arange(20) % 2)  # warm-up
        for dataset in datasets:
            for featurizer in featurizers:
                feats = read_features(ws.features_path(dataset, featurizer))
                plans = [plan_split(feats.labels, feats.splits, seed) for seed in range(args.splits)]
                for size in banking77_sizes if dataset == "banking77" else sizes:
                    key = (dataset, featurizer, size)
                    cells = [(p, p.train(size)) for p in plans]
                    Xs, ys = [feats.X[t] for _, t in cells], [feats.labels[t] for _, t in cells]
                    fitted, best = {}, defaultdict(lambda: float("inf"))
                    for repeat in range(args.repeat):  # the fastest of a few runs: this VM's timings are noisy
                        for side, search in baselines.items():  # one cell at a time, as Enso did
                            t0 = time.perf_counter()
                            runs = [search(X, y, plan.seed, scoring) for (plan, _), X, y in zip(cells, Xs, ys)]
                            best[side] = min(best[side], time.perf_counter() - t0)
                            fitted[side] = [model for model, _ in runs]
                            if repeat == 0:
                                unconverged[side][0] += sum(warned for _, warned in runs)
                                unconverged[side][1] += len(runs)
                        for side, fit in ours.items():  # as `enso experiment` runs it: one size in one batch
                            t0 = time.perf_counter()
                            fitted[side] = fit(cells, Xs, ys)
                            best[side] = min(best[side], time.perf_counter() - t0)
                    reference = exact(cells, Xs, ys)
                    fitted["exact inner CV"] = reference
                    if args.solved_refit:
                        fitted[SOLVED] = [
                            solved_refit(chosen_C(m), X, y) for m, X, y in zip(fitted["LogisticRegressionCV"], Xs, ys)
                        ]
                    for side in sides:
                        times[key][side] += best[side]
                    for side, models in fitted.items():
                        for (plan, _), model, ref in zip(cells, models, reference):
                            X_test, y_test = feats.X[plan.test], feats.labels[plan.test]
                            accs[key][side].append(float((model.predict(X_test) == y_test).mean()))
                            agree[key][side].append(chosen_C(model) == chosen_C(ref))
                    for side in ("GridSearchCV", "LogisticRegressionCV"):
                        same = [chosen_C(a) == chosen_C(b) for a, b in zip(fitted["enso_ng"], fitted[side])]
                        agree["enso_ng vs"][side].extend(same)
    report(times, accs, agree, unconverged, sides, args)


def report(times, accs, agree, unconverged, sides, args) -> None:
    """Per size, then in total: seconds and ratios, test accuracy, agreement with exact inner CV's C."""
    searches = [s for s in sides if s != "MTEB C=1"]
    short = {s: s.replace("LogisticRegressionCV", "LRCV").replace("GridSearchCV", "Grid") for s in sides}
    print(f"criterion {args.criterion}; one thread; fastest of {args.repeat}; {args.splits} split seeds per size")
    print("\nseconds (and enso_ng's speed-up over each baseline)")
    print(f"{'dataset':18} {'featurizer':10} {'size':>5} " + " ".join(f"{short[s]:>22}" for s in sides))
    for key, side_times in times.items():
        ours = side_times["enso_ng"]
        cells = " ".join(
            f"{side_times[s]:>13.3f} ({side_times[s] / ours:5.1f}x)" if s != "enso_ng" else f"{ours:>22.3f}"
            for s in sides
        )
        print(f"{key[0]:18} {key[1]:10} {key[2]:5d} {cells}")
    print("\nmean test accuracy; in brackets, the share of cells whose C is exact inner CV's (fold fits to 1e-6)")
    columns = [*sides, "exact inner CV", *([SOLVED] if args.solved_refit else [])]
    print(f"{'dataset':18} {'featurizer':10} {'size':>5} " + " ".join(f"{short.get(s, s):>22}" for s in columns))
    for key in times:
        cells = " ".join(
            f"{np.mean(accs[key][s]):>14.4f}"
            + (f" ({100 * np.mean(agree[key][s]):4.0f}%)" if s in searches else " " * 8)
            for s in columns
        )
        print(f"{key[0]:18} {key[1]:10} {key[2]:5d} {cells}")
    total = {s: sum(t[s] for t in times.values()) for s in sides}
    acc = {s: np.mean([a for k in accs for a in accs[k][s]]) for s in columns}
    same = {s: 100 * np.mean([a for k in times for a in agree[k][s]]) for s in searches}
    print("\ntotal")
    for s in columns:
        line = f"  {s:22} accuracy {acc[s]:.4f} ({100 * (acc[s] - acc['exact inner CV']):+.2f} points vs exact)"
        if s in total and s != "enso_ng":
            line += f", {total[s]:8.2f} s, enso_ng {total[s] / total['enso_ng']:5.1f}x faster"
        elif s in total:
            line += f", {total[s]:8.2f} s"
        if s in same:
            line += f", C of exact inner CV in {same[s]:.0f}% of cells"
        if s in unconverged:
            warned, n = unconverged[s]
            line += f", {warned} fits not converged over {n} cells"
        print(line)
    for position, what in ((1, "featurizer"), (0, "dataset")):  # the targets hold per kind of features and data
        groups = sorted({key[position] for key in times})
        if len(groups) < 2:
            continue
        print(f"\nby {what} (seconds summed over sizes; accuracy points against exact inner CV)")
        for group in groups:
            keys = [k for k in times if k[position] == group]
            secs = {s: sum(times[k][s] for k in keys) for s in sides}
            acc_g = {s: np.mean([a for k in keys for a in accs[k][s]]) for s in columns}
            parts = [
                f"{short[s]} {secs[s]:.2f} s ({secs[s] / secs['enso_ng']:.1f}x), "
                f"{100 * (acc_g[s] - acc_g['exact inner CV']):+.2f}"
                for s in sides
                if s != "enso_ng"
            ]
            print(
                f"  {group:18} enso_ng {secs['enso_ng']:.2f} s, acc {acc_g['enso_ng']:.4f} "
                f"({100 * (acc_g['enso_ng'] - acc_g['exact inner CV']):+.2f}); " + "; ".join(parts)
            )
    for side, same_C in agree["enso_ng vs"].items():
        print(f"  enso_ng chose {side}'s C in {100 * np.mean(same_C):.0f}% of cells")
    if "enso_ng exact folds" in total:
        exact, loose = total["enso_ng exact folds"], total["enso_ng"]
        grid = total["GridSearchCV"]
        print(
            f"cv_rtol: fold fits to cv_rtol take {loose:.2f} s, to rtol {exact:.2f} s ({exact / loose:.2f}x); "
            f"speed-up over GridSearchCV {grid / loose:.1f}x, of which {grid / exact:.1f}x without cv_rtol: its "
            f"share of the speed-up is {100 * np.log(exact / loose) / np.log(grid / loose):.0f}% (in log terms)"
        )


if __name__ == "__main__":
    main()
