"""Benchmark: sentence pairs (MSRP, SICK-E) with enso_ng's pair combinations beside SentEval's protocol.

One command: the datasets download through a loopback mirror of ../shared/datasets, are featurized (both
texts of each pair, each distinct text once), and run through one ``enso experiment`` per combination
(``--pair senteval|diffprod|concat``; logreg and mlp, with the untrained ``cosine`` model in the first),
every run on the same split seeds and so the same training rows. Beside them, SentEval's protocol
re-implemented plainly with scikit-learn on the very same vectors and rows: features [|u-v|, u*v] (its
MRPC and SICK-E features), ``LogisticRegression`` with C in {2^-2, ..., 2^3} chosen by stratified 5-fold CV
on the training subset (accuracy), scored once on the test rows. The table puts the baseline next to each
combination's mean accuracy and says which combination wins.

    python benchmarks/pairs.py                                   # MiniLM and tf-idf, 100..2000 and full, 5 splits
    python benchmarks/pairs.py --featurizers bert --sizes 100,500 --splits 2 --no-full --models logreg
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
from experiment import HERE, prepare
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, StratifiedKFold
from threadpoolctl import threadpool_limits

from enso_ng.experiment.pairs import combine
from enso_ng.experiment.splits import plan_split
from enso_ng.formats import DatasetMeta, read_features
from enso_ng.tables import format_table
from enso_ng.workspace import Workspace

COMBINATIONS = ("senteval", "diffprod", "concat")
SENTEVAL_CS = [2.0**t for t in range(-2, 4)]


def pool_size(workspace: Path, dataset: str) -> int:
    """Rows outside the official test split: the full training set of a cell."""
    meta = DatasetMeta.read(Workspace.resolve(workspace).dataset_path(dataset))
    return meta.rows - int(meta.splits.get("test", 0))


def run_enso(workspace: Path, dataset: str, args: argparse.Namespace, sizes: list[int]) -> dict:
    """One run per combination; (featurizer, model, combination, size) -> seed -> accuracy."""
    out: dict = {}
    for i, combination in enumerate(COMBINATIONS):
        name = f"pairs-{dataset}-{combination}-{args.tag}"
        models = args.models + (",cosine" if i == 0 else "")
        command = [
            *(sys.executable, "-m", "enso_ng", "-q", "--workspace", str(workspace), "experiment"),
            *("-d", dataset, "-f", args.featurizers, "-m", models, "--sizes", ",".join(map(str, sizes))),
            *("--splits", str(args.splits), "--pair", combination, "--name", name, "--metric", "accuracy"),
            "--no-train-metrics",
        ]
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
        table = pq.read_table(Workspace.resolve(workspace).run_dir(name) / "results.parquet").to_pylist()
        for row in table:
            if row["metric"] == "accuracy":
                shown = "-" if row["model"] == "cosine" else combination
                key = (row["featurizer"], row["model"], shown, row["train_size"])
                out.setdefault(key, {})[row["split"]] = row["value"]
    return out


def senteval(workspace: Path, dataset: str, featurizer: str, sizes: list[int], splits: int) -> dict:
    """SentEval's protocol on enso_ng's rows: size -> seed -> accuracy."""
    feats = read_features(Workspace.resolve(workspace).features_path(dataset, featurizer))
    X = combine(feats.X, "diffprod")
    out: dict = {}
    for seed in range(splits):
        plan = plan_split(feats.labels, feats.splits, seed)
        for size in sizes:
            if size > len(plan.order):
                continue
            train = plan.train(size)
            search = GridSearchCV(
                LogisticRegression(max_iter=2000),
                {"C": SENTEVAL_CS},
                cv=StratifiedKFold(5, shuffle=True, random_state=seed),
                scoring="accuracy",
            )
            with threadpool_limits(1), warnings.catch_warnings():
                warnings.simplefilter("ignore")
                search.fit(X[train], feats.labels[train])
            out.setdefault(size, {})[seed] = float((search.predict(X[plan.test]) == feats.labels[plan.test]).mean())
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workspace", type=Path, default=HERE / ".pairs")
    parser.add_argument("--datasets", default="msrp,sick_e")
    parser.add_argument("--featurizers", default="bert,tfidf")
    parser.add_argument("--models", default="logreg,mlp")
    parser.add_argument("--sizes", default="100,200,500,1000,2000")
    parser.add_argument("--no-full", dest="full", action="store_false", help="leave out the full training set")
    parser.add_argument("--splits", type=int, default=5)
    parser.add_argument("--tag", default="run", help="suffix of the run names (a new tag, new runs)")
    args = parser.parse_args()
    featurizers = args.featurizers.split(",")
    for dataset in args.datasets.split(","):
        prepare(args.workspace, [dataset], featurizers)
        sizes = [int(s) for s in args.sizes.split(",")]
        if args.full:
            sizes.append(pool_size(args.workspace, dataset))
        ours = run_enso(args.workspace, dataset, args, sizes)
        rows = []
        for featurizer in featurizers:
            base = senteval(args.workspace, dataset, featurizer, sizes, args.splits)
            for size in sorted(base):
                line = [featurizer, size, f"{np.mean(list(base[size].values())):.3f}"]
                best, best_name = -1.0, ""
                for model in [*args.models.split(","), "cosine"]:
                    for combination in COMBINATIONS if model != "cosine" else ("-",):
                        values = ours.get((featurizer, model, combination, size), {})
                        mean = float(np.mean(list(values.values()))) if values else float("nan")
                        line.append(f"{mean:.3f}")
                        if mean > best:
                            best, best_name = mean, f"{model} {combination}".replace(" -", "")
                line += [best_name, f"{best - float(line[2]):+.3f}"]
                rows.append(line)
        header = ["featurizer", "size", "SentEval LR"]
        header += [f"{m} {c}" for m in args.models.split(",") for c in COMBINATIONS] + ["cosine", "best", "vs SentEval"]
        print(f"\n{dataset}: test accuracy, mean of {args.splits} splits (same rows for every column)")
        print(format_table(header, rows, right=tuple(range(1, len(header) - 2)) + (len(header) - 1,)))


if __name__ == "__main__":
    main()
