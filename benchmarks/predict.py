"""Benchmark: ``enso predict`` against what a user writes instead, on the same texts and threads.

For each pair (MiniLM + logreg, tf-idf + logreg, trained with ``enso train`` on the dataset's training rows)
it scores the dataset's texts, repeated up to each ``--rows``, with ``enso predict`` in a fresh process
(cold start included: imports, the folder's sha256 check, loading) and with the pipeline a user writes:
sentence-transformers ``encode`` + scikit-learn ``LogisticRegression.predict_proba`` for the encoder pair,
scikit-learn's ``TfidfVectorizer`` + ``LogisticRegression`` for tf-idf, each fitted on the same training
rows, run in a fresh process of its own on the same texts. Every run is one run (no best-of), in its own
process, so peak memory (``ru_maxrss``) is that command's alone. It prints documents per second, peak
memory and the ratios, the machine and thread setting, and ``enso predict`` on one text from a cold start.

    python benchmarks/predict.py                                  # sst2; prepares its workspace on first use
    python benchmarks/predict.py --rows 10000,100000,1000000 --threads 2 --precision auto
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from experiment import prepare  # noqa: E402  (the same download-through-a-mirror helper)

from enso_ng.provenance import machine  # noqa: E402

#: a user's pipelines, run in a child process: fit on the training rows, then time predict_proba
BASELINES = {
    "bert": """
import sys, time, numpy as np, pyarrow.parquet as pq
from sentence_transformers import SentenceTransformer
from sklearn.linear_model import LogisticRegression
from enso_ng.encoders import DEFAULT_MODEL, resolve_model_folder
data = pq.read_table(sys.argv[1]).to_pylist()
train = [r for r in data if r["split"] != "test"]
encoder = SentenceTransformer(str(resolve_model_folder(DEFAULT_MODEL)), device="cpu")
head = LogisticRegression(max_iter=1000).fit(encoder.encode([r["text"] for r in train], batch_size=64), [r["label"] for r in train])
texts = pq.read_table(sys.argv[2]).column("text").to_pylist()
t0 = time.perf_counter()
head.predict_proba(encoder.encode(texts, batch_size=64))
print(time.perf_counter() - t0)
""",
    "tfidf": """
import sys, time, pyarrow.parquet as pq
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
data = pq.read_table(sys.argv[1]).to_pylist()
train = [r for r in data if r["split"] != "test"]
pipe = make_pipeline(TfidfVectorizer(ngram_range=(1, 2), min_df=2, sublinear_tf=True, dtype="float32"), LogisticRegression(max_iter=1000))
pipe.fit([r["text"] for r in train], [r["label"] for r in train])
texts = pq.read_table(sys.argv[2]).column("text").to_pylist()
t0 = time.perf_counter()
pipe.predict_proba(texts)
print(time.perf_counter() - t0)
""",
}

#: runs a command and prints its peak resident memory (the only child, so ru_maxrss is its own)
PEAK = "import resource, subprocess, sys; r = subprocess.run(sys.argv[1:]); sys.exit(r.returncode) if r.returncode else print('peak', resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)"


def timed(command: list[str], env: dict[str, str], stdin: bytes | None = None) -> tuple[float, float, str]:
    """(wall seconds, peak MB, stdout) of one run of ``command`` in its own process."""
    t0 = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-c", PEAK, *command], env=env, input=stdin, capture_output=True, check=False
    )
    seconds = time.perf_counter() - t0
    if done.returncode:
        raise SystemExit(f"failed: {' '.join(command)}\n{done.stderr.decode()[-2000:]}")
    out = done.stdout.decode().split()
    return seconds, int(out[-1]) / 1024, " ".join(out[:-2])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workspace", type=Path, default=HERE / ".work")
    parser.add_argument("--dataset", default="sst2")
    parser.add_argument("--rows", default="10000,100000", help="input sizes (texts repeated up to each)")
    parser.add_argument("--encoder-rows", type=int, default=10000, help="the encoder pairs' input size")
    parser.add_argument("--threads", type=int, default=2, help="threads for every library (torch, BLAS, ONNX)")
    parser.add_argument("--precision", default="fp32", help="enso predict --precision for the encoder pair")
    args = parser.parse_args()

    ws = args.workspace
    prepare(ws, [args.dataset], ["bert", "tfidf"])
    threads = str(args.threads)
    env = {
        **os.environ,
        "ENSO_QUIET": "1",
        "OMP_NUM_THREADS": threads,
        "MKL_NUM_THREADS": threads,
        "OPENBLAS_NUM_THREADS": threads,
        "TOKENIZERS_PARALLELISM": "false",
    }
    enso = [sys.executable, "-m", "enso_ng", "-q", "--workspace", str(ws)]
    for featurizer in ("bert", "tfidf"):
        name = f"bench-{args.dataset}-{featurizer}"
        if not (ws / "models" / name).exists():
            subprocess.run(
                [*enso, "train", "-d", args.dataset, "-f", featurizer, "-m", "logreg", "--name", name],
                check=True,
                env=env,
            )
    data = ws / "datasets" / f"{args.dataset}.parquet"
    texts = pq.read_table(data).column("text").to_pylist()
    print(
        f"machine: {json.dumps(machine())}; threads {args.threads}; dataset {args.dataset} ({len(texts):,} texts, repeated)"
    )
    header = f"{'pair':<16}{'rows':>10}{'enso docs/s':>14}{'enso peak MB':>14}{'baseline docs/s':>17}{'baseline peak MB':>18}{'ratio':>8}"
    print(header)
    sizes = [("bert", args.encoder_rows)] + [("tfidf", int(n)) for n in args.rows.split(",")]
    for featurizer, n in sizes:
        source = ws / f"bench-{n}.parquet"
        if not source.exists():
            pq.write_table(pa.table({"text": [texts[i % len(texts)] for i in range(n)]}), source)
        name = f"bench-{args.dataset}-{featurizer}"
        extra = ["--precision", args.precision] if featurizer == "bert" else []
        seconds, peak, _ = timed(
            [*enso, "predict", name, str(source), "-o", str(ws / "bench-out.parquet"), *extra], env
        )
        base_seconds, base_peak, inner = timed(
            [sys.executable, "-c", BASELINES[featurizer], str(data), str(source)], env
        )
        base_rate = n / float(inner)  # the baseline's predict alone: its fit is not charged to it
        print(
            f"{featurizer + ' + logreg':<16}{n:>10,}{n / seconds:>14,.0f}{peak:>14,.0f}{base_rate:>17,.0f}{base_peak:>18,.0f}{n / seconds / base_rate:>8.2f}"
        )
    one, _, _ = timed(
        [*enso, "predict", f"bench-{args.dataset}-bert", "-"], env, stdin=b"a single text, from a cold start\n"
    )
    print(f"enso predict on one text (bert + logreg), cold start: {one:.1f} s")
    print("enso's rate counts its whole command (start, checks, load, write); the baseline's only its predict call")


if __name__ == "__main__":
    main()
