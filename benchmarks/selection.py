"""Benchmark: which labels? Every label-selection sampler against random draws, on paired learning curves.

One ``enso experiment`` run over the datasets (default sst2, trec and banking77) with MiniLM (``bert``)
features, the sizes, split seeds and models given, and every sampler as a grid axis; the first sampler
(``natural``: uniform random, reading no label) is the baseline. It prints:

- accuracy per dataset, model, size and sampler (mean over split seeds);
- per dataset and model, the labels each sampler needs to reach the accuracy the baseline reaches at
  its largest size, the labels saved, and the paired test by split seed (``enso visualize``'s
  "which labels?" table, the same code);
- the seconds each selection sampler took per split seed (from the run's ``config.json``; the machine
  and its load decide them: compare them with each other, not across machines);
- with ``--memory``, the peak memory (tracemalloc: every numpy buffer, the pool's vectors included) and
  seconds of k-center and typicality on a generated pool of ``--memory-rows`` rows x 384 dimensions.

The workspace needs ``datasets/<name>.parquet`` and ``features/<name>/bert.parquet`` (``enso download``
and ``enso featurize -f bert``); the run is ``results/<--name>/`` there and resumes like any run.

    python benchmarks/selection.py --workspace DIR
    python benchmarks/selection.py --workspace DIR --sizes 50,100,200,500,1000 --splits 3 --models logreg
    python benchmarks/selection.py --workspace DIR --memory --memory-rows 200000
"""

from __future__ import annotations

import argparse
import time
import tracemalloc
from collections import defaultdict
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits

from enso_ng.experiment.config import ExperimentConfig
from enso_ng.experiment.runner import run_experiment
from enso_ng.experiment.selectors import kcenter_order, typical_order
from enso_ng.formats import RESULTS_FILE, RunRecord, read_results
from enso_ng.tables import format_table
from enso_ng.visualize.which_labels import choices, format_choices
from enso_ng.workspace import Workspace

SAMPLERS = "natural,stratified,kcenter,orthogonal,typical,margin,entropy"


def accuracy_table(table, models: list[str], samplers: list[str]) -> str:
    """Mean accuracy per dataset, model and size, a column per sampler."""
    sums: dict[tuple, list[float]] = defaultdict(list)
    names = ("dataset", "model", "sampler", "train_size", "metric", "value")
    for d, m, s, n, metric, value in zip(*(table.column(c).to_pylist() for c in names)):
        if metric == "accuracy":
            sums[(d, m, n, s)].append(value)
    rows = []
    for d, m, n in sorted({k[:3] for k in sums}, key=lambda k: (k[0], models.index(k[1]), k[2])):
        rows.append(
            [d, m, n, *(f"{np.mean(sums[(d, m, n, s)]):.3f}" if (d, m, n, s) in sums else "" for s in samplers)]
        )
    return format_table(("dataset", "model", "size", *samplers), rows, right=range(2, 3 + len(samplers)))


def selection_seconds(record: RunRecord) -> str:
    rows = []
    for dataset, provenance in sorted(record.datasets.items()):
        for sampler, info in sorted(provenance.get("selection", {}).items()):
            seconds = list(info["seconds"].values())
            rows.append(
                [
                    dataset,
                    sampler,
                    info["select_with"],
                    provenance["pool_rows"],
                    f"{np.mean(seconds):.2f}",
                    len(seconds),
                ]
            )
    header = ("dataset", "sampler", "from", "pool rows", "seconds per split seed", "seeds")
    return format_table(header, rows, right=(3, 4, 5))


def memory(rows: int, limit: int) -> str:
    """Peak traced memory and seconds of k-center and typicality on a generated pool, one thread."""
    out = []
    for name, order in (("kcenter", kcenter_order), ("typical", typical_order)):
        tracemalloc.start()
        X = np.random.default_rng(0).standard_normal((rows, 384), dtype=np.float32)
        started = time.perf_counter()
        with threadpool_limits(limits=1):
            order(None, np.random.default_rng(1), X, limit)
        seconds = time.perf_counter() - started
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        del X
        vectors = rows * 384 * 4 / 2**20
        out.append([name, f"{rows:,}", limit, f"{peak / 2**20:,.0f}", f"{vectors:,.0f}", f"{seconds:.1f}"])
    header = ("sampler", "pool rows", "chosen", "peak MiB (traced)", "of which the vectors", "seconds")
    return format_table(header, out, right=(1, 2, 3, 4, 5))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workspace", type=Path, required=True)
    parser.add_argument("--datasets", default="sst2,trec,banking77")
    parser.add_argument("--featurizer", default="bert")
    parser.add_argument("--sizes", default="50,100,200,400,600,800,1000")
    parser.add_argument("--splits", type=int, default=5)
    parser.add_argument("--models", default="logreg,mlp")
    parser.add_argument("--samplers", default=SAMPLERS, help="the first is the baseline")
    parser.add_argument("--jobs", type=int, default=1)
    parser.add_argument("--name", default="selection")
    parser.add_argument("--memory", action="store_true", help="also measure k-center and typicality memory")
    parser.add_argument("--memory-rows", type=int, default=200_000)
    args = parser.parse_args()

    workspace = Workspace(args.workspace)
    models = args.models.split(",")
    config = ExperimentConfig(
        name=args.name,
        datasets=args.datasets.split(","),
        featurizers=[args.featurizer],
        models=models,
        sizes=[int(s) for s in args.sizes.split(",")],
        splits=args.splits,
        samplers=args.samplers.split(","),
        sampler=args.samplers.split(",")[0],
        metrics=["accuracy"],
        train_metrics=False,
        jobs=args.jobs,
    )
    outcome = run_experiment(workspace, config, warn=print)
    print(outcome.line())
    run_dir = workspace.run_dir(args.name)
    table = read_results(run_dir / RESULTS_FILE)
    record = RunRecord.read(run_dir)
    print(f"\naccuracy (mean of {args.splits} split seeds), {args.featurizer} features:")
    print(accuracy_table(table, models, config.samplers))
    print()
    print(format_choices(choices(table, "accuracy", True, config.sampler), "accuracy"))
    print("\nselection seconds (this machine, its load at the time):")
    print(selection_seconds(record))
    if args.memory:
        print(f"\nselection memory on a generated pool of {args.memory_rows:,} rows x 384:")
        print(memory(args.memory_rows, max(config.sizes)))


if __name__ == "__main__":
    main()
