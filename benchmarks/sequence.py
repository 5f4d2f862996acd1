"""Benchmark: do sequence heads over MiniLM token vectors beat pooled vectors, and at what cost?

One features file per dataset, MiniLM token vectors (``enso featurize -f bert -o pooling=none -o
dtype=float16``), serves every model: ``attention`` and ``bilstm`` read the token vectors, ``logreg`` and
``mlp`` their mean (padding excluded), so the four are compared on the same split plan, the same training
rows and the same test rows (each cell's ``train_rows_sha1`` proves it).

It prints, per dataset and training size, each model's mean test accuracy (and standard deviation over
split seeds), its fit seconds per cell, and for the sequence heads the paired accuracy difference against
``logreg`` (mean over seeds, and wins/ties/losses) and the fit-time ratio against it: the baseline is
measured in the same run, on the same machine, single-threaded (what ``enso experiment`` does per cell).

Resumable: the grid runs as one ``enso experiment`` pass per split seed (``<name>-seed<k>``; a split plan
depends only on its seed, so the passes together are the plan of one ``--splits N`` run). A finished pass
is recorded in the workspace (``bench-sequence/<name>-seed<k>.json``: its grid, wall seconds and load
average) and skipped next time; an interrupted pass resumes from the cells it had written. The table is
built from every pass's results, so ``--markdown`` after a finished run only prints.

    python benchmarks/sequence.py                                   # sst2 and trec, 50..1000, 5 seeds
    python benchmarks/sequence.py --sizes 50,200,1000 --splits 3    # a reduced grid
    python benchmarks/sequence.py --quick                           # a smoke check: trec, tiny budgets
    python benchmarks/sequence.py --markdown                        # the README table
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from experiment import prepare  # noqa: E402  (the same download-through-a-mirror helper)

from enso_ng.formats import FeaturesMeta, read_results  # noqa: E402
from enso_ng.workspace import Workspace, write_json  # noqa: E402

HERE = Path(__file__).resolve().parent
MODELS = ("logreg", "mlp", "attention", "bilstm")
HEADS = ("attention", "bilstm")
TOKEN_VECTORS = ("pooling=none", "dtype=float16")
#: ``--quick``: one small dataset, two sizes, two seeds, and budgets cut so each cell takes seconds
QUICK = {
    "datasets": "trec",
    "sizes": "20,50",
    "splits": 2,
    "model_options": ("mlp.steps=20", "attention.steps=30", "bilstm.steps=10", "bilstm.hidden=8"),
}


def passes_dir(workspace: Path) -> Path:
    return workspace / "bench-sequence"


def run_pass(workspace: Path, args: argparse.Namespace, seed: int) -> dict:
    """One split seed's grid through ``enso experiment`` (resuming its cells), unless a finished pass
    already covers it; its record (grid, wall seconds, load average before and after)."""
    name = f"{args.name}-seed{seed}"
    grid = {"datasets": args.datasets.split(","), "sizes": args.sizes.split(","), "models": list(MODELS)}
    record_path = passes_dir(workspace) / f"{name}.json"
    if record_path.exists():
        record = json.loads(record_path.read_text())
        if all(set(grid[k]) <= set(record["grid"][k]) for k in grid):
            return {**record, "resumed": True}
    enso = [sys.executable, "-m", "enso_ng", "-q", "--workspace", str(workspace), "experiment"]
    command = ["-d", args.datasets, "-f", "bert", "-m", ",".join(MODELS), "--sizes", args.sizes]
    command += ["--splits", "1", "--seed", str(seed), "--metrics", "accuracy", "--name", name]
    command += [a for option in args.model_options for a in ("-o", option)]
    load_before = os.getloadavg()[0]
    started = time.perf_counter()
    subprocess.run([*enso, *command], check=True)
    record = {
        "seed": seed,
        "run": name,
        "grid": grid,
        "wall_seconds": round(time.perf_counter() - started, 1),
        "load_average": [load_before, os.getloadavg()[0]],
    }
    write_json(record_path, record)  # written only once the pass is complete
    return {**record, "resumed": False}


def cells(workspace: Path, records: list[dict]) -> dict:
    """(dataset, size, model) -> {seed: (accuracy, fit seconds)}, over every pass."""
    out: dict = defaultdict(dict)
    for record in records:
        for r in read_results(workspace / "results" / record["run"] / "results.parquet").to_pylist():
            if r["metric"] == "accuracy":
                out[r["dataset"], r["train_size"], r["model"]][r["split"]] = (r["value"], r["fit_seconds"])
    return out


def versus_logreg(table: dict, dataset: str, size: int, model: str) -> tuple[np.ndarray, float] | None:
    """Paired accuracy differences against ``logreg`` over the seeds both have, and the fit-time ratio."""
    got, base = table.get((dataset, size, model), {}), table.get((dataset, size, "logreg"), {})
    seeds = sorted(set(got) & set(base))
    if not seeds:
        return None
    diff = np.array([got[s][0] - base[s][0] for s in seeds])
    ratio = np.mean([got[s][1] for s in seeds]) / max(np.mean([base[s][1] for s in seeds]), 1e-9)
    return diff, float(ratio)


def wins(diff: np.ndarray) -> str:
    return f"{(diff > 0).sum()}/{(diff == 0).sum()}/{(diff < 0).sum()}"


def report(table: dict, datasets: list[str], sizes: list[int]) -> None:
    print(f"\n{'dataset':8} {'size':>5} " + " ".join(f"{m:>22}" for m in MODELS) + "   vs logreg (points, w/t/l, time)")
    for dataset in datasets:
        for size in sizes:
            if not table.get((dataset, size, "logreg")):
                continue
            line = f"{dataset:8} {size:5d} "
            for model in MODELS:
                got = table.get((dataset, size, model), {})
                acc = [a for a, _ in got.values()]
                sec = [s for _, s in got.values()]
                line += f" {np.mean(acc):.3f}±{np.std(acc):.3f} {np.mean(sec):6.2f}s" if got else f"{'-':>22}"
            for model in HEADS:
                paired = versus_logreg(table, dataset, size, model)
                if paired:
                    diff, ratio = paired
                    line += f"   {model} {100 * diff.mean():+5.1f} {wins(diff)} {ratio:5.0f}x"
            print(line)


def markdown(table: dict, datasets: list[str], sizes: list[int]) -> None:
    """The README table: accuracy ± std over seeds (fit seconds per cell), and each head against logreg."""
    heads = " | ".join(f"{m} − logreg (w/t/l)" for m in HEADS)
    print(f"\n| dataset | size | {' | '.join(MODELS)} | {heads} |")
    print("|---|---|" + "---|" * (len(MODELS) + len(HEADS)))
    for dataset in datasets:
        for size in sizes:
            if not table.get((dataset, size, "logreg")):
                continue
            row = [dataset, str(size)]
            for model in MODELS:
                got = table.get((dataset, size, model), {})
                acc, sec = [a for a, _ in got.values()], [s for _, s in got.values()]
                row.append(f"{np.mean(acc):.3f} ± {np.std(acc):.3f} ({np.mean(sec):.1f} s)" if got else "-")
            for model in HEADS:
                paired = versus_logreg(table, dataset, size, model)
                row.append(f"{100 * paired[0].mean():+.1f} ({wins(paired[0])})" if paired else "-")
            print(f"| {' | '.join(row)} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workspace", type=Path, default=HERE / ".work-sequence")
    parser.add_argument("--datasets", default="sst2,trec")
    parser.add_argument("--sizes", default="50,100,200,500,1000")
    parser.add_argument("--splits", type=int, default=5)
    parser.add_argument("--name", default="bench-sequence", help="run name prefix (finished passes are kept)")
    parser.add_argument("--quick", action="store_true", help="a smoke check: trec, sizes 20,50, 2 seeds, tiny budgets")
    parser.add_argument("--markdown", action="store_true", help="print the table as Markdown (for the README)")
    args = parser.parse_args()
    args.model_options = ()
    if args.quick:  # its own runs: the cut budgets must never mix with the full benchmark's cells
        args.datasets, args.sizes, args.splits = QUICK["datasets"], QUICK["sizes"], QUICK["splits"]
        args.model_options, args.name = QUICK["model_options"], f"{args.name}-quick"
    datasets = args.datasets.split(",")
    prepare(args.workspace, datasets, ["bert"], TOKEN_VECTORS)
    ws = Workspace.resolve(args.workspace)
    for dataset in datasets:
        meta = FeaturesMeta.read(ws.features_path(dataset, "bert"))
        if meta.layout != "token_vectors":
            raise SystemExit(f"{ws.features_path(dataset, 'bert')} holds pooled vectors; remove it to rebuild")
        per_1k = meta.timing.get("bytes_per_1k", 0) / 1e6
        print(
            f"{dataset}: {meta.rows} texts, MiniLM token vectors (float16) {per_1k:.2f} MB per 1,000 texts, "
            f"{meta.report.get('capped', 0)} texts capped at {meta.report.get('max_tokens')} tokens"
        )
    records = []
    for seed in range(args.splits):
        record = run_pass(args.workspace, args, seed)
        state = "kept from an earlier run" if record["resumed"] else "run now"
        load = "-".join(f"{x:.1f}" for x in record["load_average"])
        print(f"seed {seed}: {record['wall_seconds']:.0f} s wall, load average {load} ({state})", flush=True)
        records.append(record)
    table = cells(args.workspace, records)
    sizes = [int(s) for s in args.sizes.split(",")]
    (markdown if args.markdown else report)(table, datasets, sizes)
    total = sum(r["wall_seconds"] for r in records)
    print(
        f"\nenso experiment: {total:.0f} s wall over {len(records)} passes (single-threaded cells; load not controlled)"
    )


if __name__ == "__main__":
    main()
