"""Benchmark: which inner-CV criterion picks the hyper-parameter that does best on the test set.

Every catalog dataset reachable offline (the wheel datasets, and the URL datasets through a loopback
mirror of ../shared/datasets where it exists) is downloaded once, then capped to a seeded sample of
``--rows`` rows (official split labels kept) and imported under ``<name>_cap`` so that featurizing it
with the MiniLM stays affordable on two cores. For each capped dataset x featurizer x size x split seed
(enso_ng's split plan, as ``enso experiment`` draws it), one inner CV is run on the model's own folds
(each candidate fitted alone on every fold) and scored under every criterion, and every candidate is
refitted on the whole subset and tested, so each criterion's choice has a test outcome and each cell's
best candidate is known. A choice is *degenerate* when its test macro-F1 is more than ``--gap`` below the
best candidate's, or when it predicts a single class for every test row.

    python benchmarks/criterion.py                               # logreg, bert/glove/tfidf, 50..1000, 3 seeds
    python benchmarks/criterion.py --model svm --featurizers bert,tfidf --splits 2
    python benchmarks/criterion.py --workspace /tmp/crit-ws --datasets sst2,trec --sizes 50,100

Prints, per criterion: mean test accuracy and macro-F1 (all cells, per featurizer, per size), how often
the choice is degenerate or one-class, and how often it is the best candidate; ``--csv`` writes every
cell. The default workspace is ``benchmarks/.work/criterion``.
"""

from __future__ import annotations

import argparse
import csv
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import torch
from sklearn.metrics import f1_score
from threadpoolctl import threadpool_limits

from enso_ng.download.catalog import CATALOG
from enso_ng.experiment.criteria import CRITERIA
from enso_ng.experiment.models import MODELS, cv_folds
from enso_ng.experiment.splits import plan_split
from enso_ng.formats import read_features
from enso_ng.workspace import Workspace

sys.path.insert(0, str(Path(__file__).resolve().parent))
from experiment import SHARED, serve_shared  # noqa: E402  (the loopback mirror both benchmarks use)

HERE = Path(__file__).resolve().parent
SUFFIX = "_cap"
#: the parameter holding each model's candidates, most regularised first (each is fitted alone)
CANDIDATES = {"logreg": "Cs", "svm": "Cs", "knn": "ks", "mlp": "weight_decays", "lightgbm": "leaves"}


def reachable() -> list[str]:
    """Catalog entries whose bytes come from a wheel or from the mirrored ../shared copies."""
    names = []
    mirrored = {str(p.relative_to(SHARED)) for p in SHARED.rglob("*") if p.is_file()} if SHARED.is_dir() else set()
    for name in CATALOG.names():
        sources = [s.describe() for s in CATALOG.get(name).files.values()]
        if all("url" not in s or s["url"].split("://", 1)[1] in mirrored for s in sources):
            names.append(name)
    return names


def prepare(workspace: Path, datasets: list[str], featurizers: list[str], rows: int) -> list[str]:
    """Download, cap and featurize what is missing; returns the capped datasets' names."""
    enso = [sys.executable, "-m", "enso_ng", "-q", "--workspace"]
    full = workspace / "full"
    full.mkdir(parents=True, exist_ok=True)
    Workspace.resolve(full)
    ws = Workspace.resolve(workspace)
    capped = [d + SUFFIX for d in datasets]
    missing = [d for d in datasets if not (workspace / "datasets" / f"{d}{SUFFIX}.parquet").exists()]
    if missing:
        server, mirror = serve_shared()
        try:
            subprocess.run([*enso, str(full), "download", *missing, *mirror], check=False)
        finally:
            if server:
                server.terminate()
        for name in missing:
            source = full / "datasets" / f"{name}.parquet"
            if not source.exists():
                print(f"{name}: not downloaded, left out")
                continue
            table = pq.read_table(source, columns=["text", "label", "split"])
            if table.num_rows > rows:  # a seeded sample, in the file's order
                keep = np.sort(np.random.default_rng(0).choice(table.num_rows, rows, replace=False))
                table = table.take(pa.array(keep))
            sample = workspace / f".{name}_sample.parquet"
            pq.write_table(table, sample)
            imported = [*enso, str(workspace), "download", "--from-file", str(sample), "--name", name + SUFFIX]
            split = table.column("split")
            # the official split is kept where every row has one and there is more than one
            official = split.null_count == 0 and len(split.unique()) > 1
            subprocess.run([*imported, *(["--split-column", "split"] if official else [])], check=True)
            sample.unlink()
    capped = [d for d in capped if (workspace / "datasets" / f"{d}.parquet").exists()]
    todo = [d for d in capped if any((d, f) not in ws.featurized() for f in featurizers)]
    if todo:
        featurize = [*enso, str(workspace), "featurize", *[a for f in featurizers for a in ("-f", f)]]
        subprocess.run([*featurize, *[a for d in todo for a in ("-d", d)]], check=True)
    return capped


def fit_cells(model: str, params: dict, seeds: list[int], Xs: list, ys: list) -> list:
    """Fit cells as ``enso experiment`` does (a batched model fits them together)."""
    cls = MODELS.get(model)
    return cls.fit_many([cls(**params, random_state=s) for s in seeds], Xs, ys)


def _scores(model, X, classes: np.ndarray) -> np.ndarray:
    """(n, K) validation scores in the order of all ``classes`` (a fold may train without some)."""
    own = model.decision_scores(X)
    out = np.full((own.shape[0], len(classes)), 0.0 if model.has_proba else own.min() - 1.0)
    out[:, np.searchsorted(classes, model.classes_)] = own
    return out


def cv_values(args, candidates: list, name: str, seeds: list[int], Xs: list, ys: list) -> dict[str, list]:
    """criterion -> per cell, the (candidates, folds) values inner CV ranks by.

    Each candidate is fitted alone on every fold of every cell (one batch per candidate), on the same
    stratified folds the model draws, and each criterion scores the same validation predictions: five
    criteria cost one inner CV, not five. The fits are solved to the model's ``tol`` (logreg's own inner
    CV stops dense fold fits at ``cv_rtol`` and warm-starts along C: the same ranking up to that tolerance).
    """
    cls = MODELS.get(args.model)
    kind = "proba" if cls().has_proba else "decision"
    folds = []  # (cell, train, valid)
    for cell, (seed, y) in enumerate(zip(seeds, ys)):
        codes = np.unique(y, return_inverse=True)[1]
        for train, valid in cv_folds(codes, cls().cv, seed, allow_missing=args.model == "logreg"):
            folds.append((cell, train, valid))
    scores = [[] for _ in candidates]
    for c, candidate in enumerate(candidates):
        fitted = fit_cells(
            args.model,
            {name: [candidate]},
            [seeds[cell] for cell, _, _ in folds],
            [Xs[cell][train] for cell, train, _ in folds],
            [ys[cell][train] for cell, train, _ in folds],
        )
        for (cell, _, valid), model in zip(folds, fitted):
            scores[c].append(_scores(model, Xs[cell][valid], np.unique(ys[cell])))
    values: dict[str, list] = {criterion: [] for criterion in args.criteria.split(",")}
    for cell, y in enumerate(ys):
        mine = [f for f, (owner, _, _) in enumerate(folds) if owner == cell]
        codes = np.unique(y, return_inverse=True)[1]
        for criterion in values:
            score = CRITERIA.get(criterion).fold_score
            table = np.zeros((len(candidates), len(mine)))
            for c in range(len(candidates)):
                for j, f in enumerate(mine):
                    truth = codes[folds[f][2]][None]
                    table[c, j] = score(scores[c][f][None], truth, np.ones_like(truth, dtype=float), kind)[0]
            values[criterion].append(table)
    return values


def test_scores(model, X, y) -> tuple[float, float, bool]:
    """Test accuracy, macro-F1, and whether a single class is predicted for every test row."""
    predicted = model.predict(X)
    return float(np.mean(predicted == y)), float(f1_score(y, predicted, average="macro")), len(set(predicted)) == 1


def measure(args: argparse.Namespace, datasets: list[str]) -> list[dict]:
    ws = Workspace.resolve(args.workspace)
    name = CANDIDATES[args.model]
    candidates = list(MODELS.get(args.model)().get_params()[name])
    if args.model == "knn":  # the most neighbours is the most regularised
        candidates.reverse()
    rows = []
    torch.set_num_threads(1)
    with threadpool_limits(limits=1):
        for dataset in datasets:
            for featurizer in args.featurizers.split(","):
                feats = read_features(ws.features_path(dataset, featurizer))
                X = feats.pooled()
                plans = [plan_split(feats.labels, feats.splits, seed) for seed in range(args.splits)]
                t0 = time.perf_counter()
                for size in args.sizes:
                    if any(p.shortfall(size) for p in plans):
                        continue
                    trains = [p.train(size) for p in plans]
                    seeds = [p.seed for p in plans]
                    Xs, ys = [X[t] for t in trains], [feats.labels[t] for t in trains]
                    # every candidate refitted on the whole subset and tested: what each choice would give
                    outcome = np.zeros((len(candidates), len(plans), 3))
                    for c, candidate in enumerate(candidates):
                        for s, fitted in enumerate(fit_cells(args.model, {name: [candidate]}, seeds, Xs, ys)):
                            outcome[c, s] = test_scores(fitted, X[plans[s].test], feats.labels[plans[s].test])
                    for criterion, tables in cv_values(args, candidates, name, seeds, Xs, ys).items():
                        for s, (plan, table) in enumerate(zip(plans, tables)):
                            pick = CRITERIA.get(criterion).choose(table) if table.shape[1] else 0
                            acc, f1, one_class = outcome[pick, s]
                            best = outcome[:, s, 1].max()
                            rows.append(
                                {
                                    "dataset": dataset.removesuffix(SUFFIX),
                                    "featurizer": featurizer,
                                    "size": size,
                                    "seed": plan.seed,
                                    "criterion": criterion,
                                    "choice": candidates[pick],
                                    "accuracy": acc,
                                    "macro_f1": f1,
                                    "best_macro_f1": best,
                                    "one_class": bool(one_class),
                                    "degenerate": bool(one_class) or f1 < best - args.gap,
                                    "is_best": f1 >= best - 1e-9,
                                }
                            )
                print(f"{dataset} {featurizer}: {time.perf_counter() - t0:.1f} s", file=sys.stderr)
    return rows


def report(rows: list[dict], criteria: list[str]) -> None:
    """Per criterion: accuracy, macro-F1, degenerate and best-candidate shares; overall, per featurizer, per size."""
    groups = [("all", lambda r: True)]
    groups += [(f, lambda r, f=f: r["featurizer"] == f) for f in dict.fromkeys(r["featurizer"] for r in rows)]
    groups += [(f"size {n}", lambda r, n=n: r["size"] == n) for n in sorted({r["size"] for r in rows})]
    cells = len({(r["dataset"], r["featurizer"], r["size"], r["seed"]) for r in rows})
    datasets = len({r["dataset"] for r in rows})
    print(f"{cells} cells ({datasets} datasets); degenerate: test macro-F1 below the best candidate's by more than")
    print("the gap, or one class predicted for every test row")
    print(
        f"{'cells':14} {'criterion':20} {'accuracy':>8} {'macro_f1':>8} {'degenerate':>10} {'one-class':>9} {'best':>6}"
    )
    for label, keep in groups:
        for criterion in criteria:
            mine = [r for r in rows if r["criterion"] == criterion and keep(r)]
            if not mine:
                continue
            acc = np.mean([r["accuracy"] for r in mine])
            f1 = np.mean([r["macro_f1"] for r in mine])
            degenerate = 100 * np.mean([r["degenerate"] for r in mine])
            one_class = sum(r["one_class"] for r in mine)
            best = 100 * np.mean([r["is_best"] for r in mine])
            print(f"{label:14} {criterion:20} {acc:8.4f} {f1:8.4f} {degenerate:9.1f}% {one_class:9d} {best:5.1f}%")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workspace", type=Path, default=HERE / ".work" / "criterion")
    parser.add_argument("--datasets", default="", help="catalog names (default: every reachable one)")
    parser.add_argument("--featurizers", default="bert,glove,tfidf")
    parser.add_argument("--model", default="logreg", choices=sorted(CANDIDATES))
    parser.add_argument("--criteria", default=",".join(CRITERIA.names()))
    parser.add_argument("--sizes", type=lambda s: [int(x) for x in s.split(",")], default=[50, 100, 200, 500, 1000])
    parser.add_argument("--splits", type=int, default=3)
    parser.add_argument("--rows", type=int, default=1500, help="the seeded sample of each dataset (default 1500)")
    parser.add_argument("--gap", type=float, default=0.1, help="macro-F1 below the best candidate's that is degenerate")
    parser.add_argument("--csv", type=Path, help="write every cell's outcome here")
    args = parser.parse_args()
    wanted = args.datasets.split(",") if args.datasets else reachable()
    datasets = prepare(args.workspace, wanted, args.featurizers.split(","), args.rows)
    criteria = args.criteria.split(",")
    for criterion in criteria:
        CRITERIA.get(criterion)
    rows = measure(args, datasets)
    if args.csv:
        with args.csv.open("w", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(rows)
    report(rows, criteria)


if __name__ == "__main__":
    main()
