"""Benchmark: ``enso featurize --featurizer bert`` against sentence-transformers ``encode``, same model.

Both embed the same real texts (SST-2's 9,613 sentences, from ../shared/datasets through a loopback
mirror, or from the internet) with sentence-transformers/all-MiniLM-L6-v2 (the packaged default), in the
same process with the same torch thread setting. For each enso_ng precision it prints both rates, their
ratio, the minimum cosine between the two sets of vectors, and the test accuracy of enso_ng's logistic
regression on each precision's vectors over the same splits (the bf16 vectors must not cost accuracy).

    python benchmarks/featurize.py                       # prepares its own workspace on first use
    python benchmarks/featurize.py --rows 4000 --precisions fp32,bf16
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from experiment import prepare  # noqa: E402  (the same download-through-a-mirror helper)

from enso_ng.encoders import DEFAULT_MODEL, resolve_model_folder  # noqa: E402
from enso_ng.featurize import featurize  # noqa: E402
from enso_ng.formats import read_dataset, read_features  # noqa: E402
from enso_ng.workspace import Workspace  # noqa: E402


def accuracy(X: np.ndarray, labels: np.ndarray, splits: np.ndarray, seeds: int = 3) -> float:
    from threadpoolctl import threadpool_limits

    from enso_ng.experiment.models import MODELS
    from enso_ng.experiment.splits import plan_split

    scores = []
    with threadpool_limits(1):
        for seed in range(seeds):
            plan = plan_split(labels, splits, seed)
            model = MODELS.get("logreg")(random_state=seed).fit(X[plan.train(1000)], labels[plan.train(1000)])
            scores.append(np.mean(model.predict(X[plan.test]) == labels[plan.test]))
    return float(np.mean(scores))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workspace", type=Path, default=HERE / ".work")
    parser.add_argument("--dataset", default="sst2")
    parser.add_argument("--rows", type=int, default=0, help="first N texts only (default: all)")
    parser.add_argument("--precisions", default="fp32,bf16")
    parser.add_argument("--batch-size", type=int, default=64)
    args = parser.parse_args()
    if not (args.workspace / "datasets" / f"{args.dataset}.parquet").exists():
        prepare(args.workspace, [args.dataset], ["tfidf"])
    ws = Workspace.resolve(args.workspace)
    table, _ = read_dataset(ws.dataset_path(args.dataset))
    texts = table.column("text").to_pylist()
    if args.rows:
        texts = texts[: args.rows]
        bench = "bench"
        subset = table.slice(0, args.rows)
    else:
        bench, subset = args.dataset, table
    print(f"{len(texts):,} texts of {args.dataset}; torch {torch.__version__}, {torch.get_num_threads()} threads")

    from sentence_transformers import SentenceTransformer

    st = SentenceTransformer(str(resolve_model_folder(DEFAULT_MODEL)), device="cpu")
    st.encode(texts[:64], batch_size=args.batch_size)  # warm-up
    t0 = time.perf_counter()
    reference = st.encode(texts, batch_size=args.batch_size, normalize_embeddings=True, convert_to_numpy=True)
    st_rate = len(texts) / (time.perf_counter() - t0)
    print(f"sentence-transformers encode (fp32): {st_rate:,.0f} texts/s")

    if args.rows:  # a dataset file of the first N rows, so enso featurizes exactly these texts
        from enso_ng.workspace import read_meta, write_parquet

        meta = {**read_meta(ws.dataset_path(args.dataset)), "name": bench, "fingerprint": f"first-{args.rows}"}
        write_parquet(ws.dataset_path(bench), subset, meta)
    labels = np.asarray(subset.column("label").to_pylist(), dtype=object)
    splits = np.asarray(subset.column("split").to_pylist(), dtype=object)
    accuracies = {}
    print(f"{'precision':9} {'enso texts/s':>12} {'ratio':>6} {'min cosine':>11} {'logreg acc':>10}")
    for precision in args.precisions.split(","):
        featurize(bench, "bert", ws, {"precision": precision, "batch_size": args.batch_size}, force=True)  # warm
        t0 = time.perf_counter()
        featurize(bench, "bert", ws, {"precision": precision, "batch_size": args.batch_size}, force=True)
        rate = len(texts) / (time.perf_counter() - t0)
        X = read_features(ws.features_path(bench, "bert")).X
        cosine = (X * reference).sum(1) / (np.linalg.norm(X, axis=1) * np.linalg.norm(reference, axis=1))
        accuracies[precision] = accuracy(X, labels, splits)
        print(f"{precision:9} {rate:12,.0f} {rate / st_rate:6.2f} {cosine.min():11.6f} {accuracies[precision]:10.4f}")
    if "fp32" in accuracies:
        for precision, acc in accuracies.items():
            if precision != "fp32":
                print(f"{precision} accuracy - fp32 accuracy: {100 * (acc - accuracies['fp32']):+.2f} points")


if __name__ == "__main__":
    main()
