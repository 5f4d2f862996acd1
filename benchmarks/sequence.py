"""Benchmark: do sequence heads over MiniLM token vectors beat pooled vectors, and at what cost?

One features file per dataset, MiniLM token vectors (``enso featurize -f bert -o pooling=none -o
dtype=float16``), serves every model: ``attention`` and ``bilstm`` read the token vectors, ``logreg`` and
``mlp`` their mean (padding excluded), so the four are compared on the same split plan, the same training
rows and the same test rows (one ``enso experiment`` run; each cell's ``train_rows_sha1`` proves it).

It prints, per dataset and training size, each model's mean test accuracy (and standard deviation over
split seeds), its fit seconds per cell, and for the sequence heads the paired accuracy difference against
``logreg`` (mean over seeds, and wins/ties/losses) and the fit-time ratio against it: the baseline is
measured in the same run, on the same machine, single-threaded (what ``enso experiment`` does per cell).
The run resumes under its name, so an interrupted benchmark continues where it stopped.

    python benchmarks/sequence.py                                   # sst2 and trec, 50..1000, 5 seeds
    python benchmarks/sequence.py --sizes 50,200,1000 --splits 3    # a reduced grid
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from experiment import prepare  # noqa: E402  (the same download-through-a-mirror helper)

from enso_ng.formats import FeaturesMeta, read_results  # noqa: E402
from enso_ng.workspace import Workspace  # noqa: E402

HERE = Path(__file__).resolve().parent
MODELS = ("logreg", "mlp", "attention", "bilstm")
TOKEN_VECTORS = ("pooling=none", "dtype=float16")


def run(workspace: Path, args) -> float:
    """The whole grid through ``enso experiment``; its wall seconds."""
    enso = [sys.executable, "-m", "enso_ng", "-q", "--workspace", str(workspace), "experiment"]
    grid = ["-d", args.datasets, "-f", "bert", "-m", ",".join(MODELS), "--sizes", args.sizes]
    grid += ["--splits", str(args.splits), "--seed", "0", "--metrics", "accuracy", "--name", args.name]
    started = time.perf_counter()
    subprocess.run([*enso, *grid], check=True)
    return time.perf_counter() - started


def cells(workspace: Path, name: str) -> dict:
    """(dataset, size, model) -> {seed: (accuracy, fit seconds)}."""
    out: dict = defaultdict(dict)
    for r in read_results(workspace / "results" / name / "results.parquet").to_pylist():
        if r["metric"] == "accuracy":
            out[r["dataset"], r["train_size"], r["model"]][r["split"]] = (r["value"], r["fit_seconds"])
    return out


def report(table: dict, datasets: list[str], sizes: list[int]) -> None:
    print(f"\n{'dataset':8} {'size':>5} " + " ".join(f"{m:>22}" for m in MODELS) + "   vs logreg (points, w/t/l, time)")
    for dataset in datasets:
        for size in sizes:
            base = table.get((dataset, size, "logreg"), {})
            if not base:
                continue
            line = f"{dataset:8} {size:5d} "
            for model in MODELS:
                got = table.get((dataset, size, model), {})
                acc = [a for a, _ in got.values()]
                sec = [s for _, s in got.values()]
                line += f" {np.mean(acc):.3f}±{np.std(acc):.3f} {np.mean(sec):6.2f}s" if got else f"{'-':>22}"
            for model in ("attention", "bilstm"):
                got = table.get((dataset, size, model), {})
                seeds = sorted(set(got) & set(base))
                if not seeds:
                    continue
                diff = np.array([got[s][0] - base[s][0] for s in seeds])
                ratio = np.mean([got[s][1] for s in seeds]) / max(np.mean([base[s][1] for s in seeds]), 1e-9)
                wtl = f"{(diff > 0).sum()}/{(diff == 0).sum()}/{(diff < 0).sum()}"
                line += f"   {model} {100 * diff.mean():+5.1f} {wtl} {ratio:5.0f}x"
            print(line)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workspace", type=Path, default=HERE / ".work-sequence")
    parser.add_argument("--datasets", default="sst2,trec")
    parser.add_argument("--sizes", default="50,100,200,500,1000")
    parser.add_argument("--splits", type=int, default=5)
    parser.add_argument("--name", default="bench-sequence", help="run name (an existing run resumes)")
    args = parser.parse_args()
    datasets = args.datasets.split(",")
    prepare(args.workspace, datasets, ["bert"], TOKEN_VECTORS)
    ws = Workspace.resolve(args.workspace)
    for dataset in datasets:
        meta = FeaturesMeta.read(ws.features_path(dataset, "bert"))
        if not meta.sequence:
            raise SystemExit(f"{ws.features_path(dataset, 'bert')} holds pooled vectors; remove it to rebuild")
        per_1k = meta.timing.get("bytes_per_1k", 0) / 1e6
        print(
            f"{dataset}: {meta.rows} texts, MiniLM token vectors (float16) {per_1k:.2f} MB per 1,000 texts, "
            f"{meta.report.get('capped', 0)} texts capped at {meta.report.get('max_tokens')} tokens"
        )
    seconds = run(args.workspace, args)
    report(cells(args.workspace, args.name), datasets, [int(s) for s in args.sizes.split(",")])
    print(f"\nenso experiment: {seconds:.0f} s wall (single-threaded cells; machine load not controlled)")


if __name__ == "__main__":
    main()
