"""Benchmark: ``enso featurize --featurizer bert`` at each precision against sentence-transformers, same model.

Both embed the same real texts (SST-2's 9,613 sentences, from ../shared/datasets through a loopback
mirror, or from the internet) with sentence-transformers/all-MiniLM-L6-v2 (the packaged default), in the
same process with the same torch thread setting, interleaved: each round runs sentence-transformers
``encode`` and then every precision's whole ``featurize`` call (model load, tokenizing, writing the file),
and the best round counts, so load from other jobs on a shared machine hits all alike. For each precision
it prints both rates, their ratio, the minimum cosine to sentence-transformers' vectors and the test
accuracy of enso_ng's logistic regression on each precision's vectors over the same splits; then what
``auto`` measured and chose on this machine, and why. ``--levers`` also times torch-side levers (eager
against SDPA attention, ``torch.compile``) beside ONNX Runtime on the same token-sorted batches.

    python benchmarks/featurize.py                       # prepares its own workspace on first use
    python benchmarks/featurize.py --rows 2000 --precisions fp32,fp32-onnx,bf16,auto --levers
"""

from __future__ import annotations

import argparse
import os
import shutil
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
from enso_ng.provenance import machine  # noqa: E402
from enso_ng.workspace import Workspace, read_meta  # noqa: E402


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
    parser.add_argument("--precisions", default="fp32,fp32-onnx,bf16,auto")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=2, help="interleaved rounds; the best counts")
    parser.add_argument("--levers", action="store_true", help="also time torch-side levers against ONNX Runtime")
    args = parser.parse_args()
    if not (args.workspace / "datasets" / f"{args.dataset}.parquet").exists():
        prepare(args.workspace, [args.dataset], ["tfidf"])
    # The benchmark's own user cache: the exported graph is kept, auto's decision is measured afresh.
    os.environ["ENSO_CACHE"] = str(args.workspace / "cache")
    shutil.rmtree(args.workspace / "cache" / "precision", ignore_errors=True)
    ws = Workspace.resolve(args.workspace)
    table, _ = read_dataset(ws.dataset_path(args.dataset))
    texts = table.column("text").to_pylist()
    if args.rows:
        texts = texts[: args.rows]
        bench = "bench"
        subset = table.slice(0, args.rows)
    else:
        bench, subset = args.dataset, table
    print(
        f"{len(texts):,} texts of {args.dataset}; torch {torch.__version__}, {torch.get_num_threads()} threads; "
        f"{machine()['cpu']}; load average {os.getloadavg()[0]:.1f}"
    )
    if args.rows:  # a dataset file of the first N rows, so enso featurizes exactly these texts
        from enso_ng.workspace import write_parquet

        meta = {**read_meta(ws.dataset_path(args.dataset)), "name": bench, "fingerprint": f"first-{args.rows}"}
        write_parquet(ws.dataset_path(bench), subset, meta)

    from sentence_transformers import SentenceTransformer

    st = SentenceTransformer(str(resolve_model_folder(DEFAULT_MODEL)), device="cpu")
    precisions = args.precisions.split(",")
    for precision in precisions:  # warm-up: exports the graph, measures auto (cached for the rounds)
        featurize(bench, "bert", ws, {"precision": precision, "batch_size": args.batch_size}, force=True)
    st.encode(texts[:64], batch_size=args.batch_size)
    best = dict.fromkeys(["st", *precisions], 0.0)
    vectors: dict[str, np.ndarray] = {}
    for _ in range(args.rounds):
        t0 = time.perf_counter()
        reference = st.encode(texts, batch_size=args.batch_size, normalize_embeddings=True, convert_to_numpy=True)
        best["st"] = max(best["st"], len(texts) / (time.perf_counter() - t0))
        for precision in precisions:
            t0 = time.perf_counter()
            featurize(bench, "bert", ws, {"precision": precision, "batch_size": args.batch_size}, force=True)
            best[precision] = max(best[precision], len(texts) / (time.perf_counter() - t0))
            vectors[precision] = read_features(ws.features_path(bench, "bert")).X
    auto = read_meta(ws.features_path(bench, "bert"))["report"].get("precision_auto") if "auto" in precisions else None
    labels = np.asarray(subset.column("label").to_pylist(), dtype=object)
    splits = np.asarray(subset.column("split").to_pylist(), dtype=object)
    accuracies = {"st": accuracy(reference, labels, splits)}
    print(f"sentence-transformers encode (fp32): {best['st']:,.0f} texts/s, logreg accuracy {accuracies['st']:.4f}")
    print(f"{'precision':10} {'enso texts/s':>12} {'ratio':>6} {'min cosine':>11} {'logreg acc':>10}")
    for precision in precisions:
        X = vectors[precision]
        cosine = (X * reference).sum(1) / (np.linalg.norm(X, axis=1) * np.linalg.norm(reference, axis=1))
        accuracies[precision] = accuracy(X, labels, splits)
        rate = best[precision]
        print(
            f"{precision:10} {rate:12,.0f} {rate / best['st']:6.2f} {cosine.min():11.7f} {accuracies[precision]:10.4f}"
        )
    for precision, acc in accuracies.items():
        if precision not in ("st", "fp32") and "fp32" in accuracies:
            print(f"{precision} accuracy - fp32 accuracy: {100 * (acc - accuracies['fp32']):+.2f} points")
    if auto:
        rates = ", ".join(f"{p} {r:,.0f}" for p, r in auto["texts_per_second"].items())
        cosines = ", ".join(f"{p} {c:.7f}" for p, c in auto["min_cosine"].items())
        print(f"auto chose {auto['chosen']}: {auto['why']}; texts/s {rates}; minimum cosine to fp32 {cosines}")
    if args.levers:
        levers(texts, args.batch_size, args.rounds)
    print(f"load average {os.getloadavg()[0]:.1f} at the end")


def levers(texts: list[str], batch_size: int, rounds: int) -> None:
    """torch fp32 with SDPA attention (transformers' default), eager attention, ``torch.compile``, bf16
    autocast and ONNX Runtime, on the same token-sorted batches, interleaved; best of ``rounds``."""
    from transformers import AutoModel

    from enso_ng.featurize.bert import BertFeaturizer

    enso = BertFeaturizer(batch_size=batch_size)
    enso._load()
    tokenized = enso._tokenize(texts)
    sdpa = enso._model
    eager = AutoModel.from_pretrained(str(enso.folder), attn_implementation="eager").eval()
    t0 = time.perf_counter()
    compiled = torch.compile(sdpa, dynamic=True)
    variants = {
        "torch fp32, sdpa attention": (sdpa, "fp32"),
        "torch fp32, eager attention": (eager, "fp32"),
        "torch fp32, torch.compile": (compiled, "fp32"),
        "torch bf16 autocast": (sdpa, "bf16"),
        "onnxruntime fp32": (sdpa, "fp32-onnx"),
    }

    def run(name: str) -> np.ndarray:
        enso._model, precision = variants[name]
        return enso._embed(tokenized, precision)

    warm = {}
    for name in variants:
        t0 = time.perf_counter()
        run(name)
        warm[name] = time.perf_counter() - t0
    reference = run("torch fp32, sdpa attention")
    best = dict.fromkeys(variants, 0.0)
    cosines = {}
    for _ in range(rounds):
        for name in variants:
            t0 = time.perf_counter()
            X = run(name)
            best[name] = max(best[name], len(texts) / (time.perf_counter() - t0))
            cosines[name] = float(((X * reference).sum(1)).min())
    print(f"levers on the same token-sorted batches (load average {os.getloadavg()[0]:.1f}):")
    print(f"{'':30} {'texts/s':>8} {'x sdpa':>7} {'min cosine':>11} {'first pass s':>12}")
    for name in variants:
        ratio = best[name] / best["torch fp32, sdpa attention"]
        print(f"{name:30} {best[name]:8,.0f} {ratio:7.2f} {cosines[name]:11.7f} {warm[name]:12.1f}")


if __name__ == "__main__":
    main()
