"""Benchmark: ``enso predict`` against what a user writes instead, on the same texts and threads.

For each pair (MiniLM + logreg, tf-idf + logreg, trained with ``enso train`` on the dataset's training rows)
it scores the dataset's texts, repeated up to each ``--rows``, with ``enso predict`` in a fresh process
(cold start included: imports, the folder's sha256 check, loading) and with the pipeline a user writes:
sentence-transformers ``encode`` + scikit-learn ``LogisticRegression.predict_proba`` for the encoder pair,
scikit-learn's ``TfidfVectorizer`` + ``LogisticRegression`` for tf-idf, each fitted on the same training
rows, run in a fresh process of its own on the same texts. Every run is one run (no best-of), in its own
process, so peak memory (``ru_maxrss``) is that command's alone. It prints documents per second, peak
memory and the ratios, the machine and thread setting, and ``enso predict`` on one text from a cold start
(bert through torch at each ``--precisions`` and through the exported ONNX graph, ``--runtime onnx``;
tf-idf). The "steady" rate
is the marginal rate between two input sizes of the same pair (extra rows over extra seconds), so start,
checks, loading and the writer's set-up cancel and it compares scoring with scoring.

    python benchmarks/predict.py                                  # sst2; prepares its workspace on first use
    python benchmarks/predict.py --rows 10000,100000,1000000 --threads 2 --precisions fp32,bf16,auto
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
    parser.add_argument("--encoder-rows", default="1000,10000", help="the encoder pairs' input sizes")
    parser.add_argument("--threads", type=int, default=2, help="threads for every library (torch, BLAS, ONNX)")
    parser.add_argument(
        "--precisions",
        default="fp32,auto",
        help="enso predict --precision for the encoder pair through torch, one row each (auto: bf16 where it pays)",
    )
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
            onnx = ["--onnx"] if featurizer == "bert" else []
            subprocess.run(
                [*enso, "train", "-d", args.dataset, "-f", featurizer, "-m", "logreg", "--name", name, *onnx],
                check=True,
                env=env,
            )
    data = ws / "datasets" / f"{args.dataset}.parquet"
    texts = pq.read_table(data).column("text").to_pylist()
    print(
        f"machine: {json.dumps(machine())}; threads {args.threads}; dataset {args.dataset} ({len(texts):,} texts, repeated)"
    )
    #: (row label, featurizer, enso predict options)
    precisions = [(f"bert, {p}", "bert", ["--runtime", "torch", "--precision", p]) for p in args.precisions.split(",")]
    pairs = [*precisions, ("bert, onnx", "bert", ["--runtime", "onnx"]), ("tfidf + logreg", "tfidf", [])]
    # --precision auto times the precisions once per machine and caches its choice: pay that here, untimed
    # in the table, so that every timed run reads the cached choice (a first run that measured would make
    # the smaller input slower and inflate the marginal rate of the larger one)
    warm = ws / "bench-warm.parquet"
    pq.write_table(pa.table({"text": texts[:256]}), warm)
    warm_up = {}
    for label, featurizer, extra in precisions:
        if "auto" in extra:
            out = ws / "bench-out.parquet"
            warm_up[label] = timed(
                [*enso, "predict", f"bench-{args.dataset}-{featurizer}", str(warm), "-o", str(out), *extra], env
            )[0]
    cold = {}
    for label, featurizer, extra in pairs:
        name = f"bench-{args.dataset}-{featurizer}"
        one = b"a single text, from a cold start\n"
        cold[label] = timed([*enso, "predict", name, "-", *extra], env, stdin=one)[0]
    header = (
        f"{'pair':<16}{'rows':>10}{'enso docs/s':>13}{'steady':>9}{'peak MB':>9}"
        f"{'baseline docs/s':>17}{'peak MB':>9}{'ratio':>7}{'steady':>8}"
    )
    print(header)
    encoder_rows = sorted(int(n) for n in args.encoder_rows.split(","))
    sizes = [(pair, n) for pair in pairs[:-1] for n in encoder_rows]
    sizes += [(pairs[-1], n) for n in sorted(int(n) for n in args.rows.split(","))]
    baselines: dict[tuple[str, int], tuple[float, float]] = {}
    previous: dict[str, tuple[int, float]] = {}  # pair -> (rows, seconds) of its last, smaller input
    for (label, featurizer, extra), n in sizes:
        source = ws / f"bench-{n}.parquet"
        if not source.exists():
            pq.write_table(pa.table({"text": [texts[i % len(texts)] for i in range(n)]}), source)
        name = f"bench-{args.dataset}-{featurizer}"
        seconds, peak, _ = timed(
            [*enso, "predict", name, str(source), "-o", str(ws / "bench-out.parquet"), *extra], env
        )
        if (featurizer, n) not in baselines:
            _, base_peak, inner = timed([sys.executable, "-c", BASELINES[featurizer], str(data), str(source)], env)
            baselines[featurizer, n] = (n / float(inner), base_peak)  # its predict alone: its fit is not charged
        base_rate, base_peak = baselines[featurizer, n]
        if label in previous:  # the marginal rate: every fixed cost (start, checks, load, writer) cancels
            rows_before, seconds_before = previous[label]
            steady = (n - rows_before) / max(seconds - seconds_before, 1e-9)
        else:  # the smallest input: the cold start of one text taken out
            steady = (n - 1) / max(seconds - cold[label], 1e-9)
        previous[label] = (n, seconds)
        print(
            f"{label:<16}{n:>10,}{n / seconds:>13,.0f}{steady:>9,.0f}{peak:>9,.0f}"
            f"{base_rate:>17,.0f}{base_peak:>9,.0f}{n / seconds / base_rate:>7.2f}{steady / base_rate:>8.2f}"
        )
    for label, seconds in warm_up.items():
        print(f"{label}: its choice measured (or read from the cache) on 256 texts, before the table: {seconds:.1f} s")
    for label, seconds in cold.items():
        print(f"enso predict on one text ({label}), cold start: {seconds:.1f} s")
    print(
        "enso docs/s counts its whole command (start, checks, load, write); 'steady' is the marginal rate from "
        "the pair's next smaller input (the extra rows over the extra seconds: fixed costs cancel), or for its "
        "smallest input the rate with the same command's cold start on one text taken out; the baseline's rate "
        "is its predict call alone (its imports, load and fit not counted); ratio and steady are enso's over "
        "the baseline's"
    )


if __name__ == "__main__":
    main()
