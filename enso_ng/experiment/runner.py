"""The grid runner: every dataset x featurizer x model x training size x split seed.

Results are long-format rows (one per metric) in ``results/<run>/results.parquet``; the file is
rewritten atomically after each block of cells, so an interrupted run keeps what it finished and a
rerun with the same name computes only the missing cells.
"""

from __future__ import annotations

import json
import time
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from typing import Any, Callable, Iterator

import numpy as np
import pyarrow as pa
import torch
from threadpoolctl import threadpool_limits

from enso_ng.errors import EnsoError
from enso_ng.experiment.metrics import METRICS
from enso_ng.experiment.models import MODELS
from enso_ng.experiment.splits import SplitPlan, plan_split
from enso_ng.formats import RESULT_KEY, RESULTS_SCHEMA, Features, read_features
from enso_ng.progress import bar
from enso_ng.provenance import library_versions
from enso_ng.workspace import Workspace, read_table, write_json, write_parquet

DEFAULT_SIZES = (50, 100, 200, 500, 1000)
DEFAULT_MODELS = ("logreg", "mlp")
DEFAULT_METRICS = ("accuracy", "macro_f1")


@dataclass
class ExperimentConfig:
    """Everything that decides a run's numbers; saved, resolved, as ``config.json``."""

    name: str
    sizes: list[int] = field(default_factory=lambda: list(DEFAULT_SIZES))
    splits: int = 5
    seed: int = 0
    test_size: float = 0.2
    datasets: list[str] = field(default_factory=list)
    featurizers: list[str] = field(default_factory=list)
    models: list[str] = field(default_factory=lambda: list(DEFAULT_MODELS))
    metrics: list[str] = field(default_factory=lambda: list(DEFAULT_METRICS))

    def split_seeds(self) -> list[int]:
        return [self.seed + i for i in range(self.splits)]


def default_run_name() -> str:
    return datetime.now().strftime("run-%Y%m%d-%H%M%S")


def _select(workspace: Workspace, config: ExperimentConfig) -> dict[str, list[str]]:
    """dataset -> featurizers with a features file, restricted to what the config asks for."""
    available: dict[str, list[str]] = {}
    for dataset, featurizer in workspace.featurized():
        available.setdefault(dataset, []).append(featurizer)
    if not available:
        raise EnsoError(f"no features in {workspace.features_dir} (run: enso featurize)")
    datasets = config.datasets or sorted(available)
    chosen: dict[str, list[str]] = {}
    for dataset in datasets:
        have = available.get(dataset, [])
        if not have:
            raise EnsoError(f"no features for dataset {dataset!r} in {workspace.features_dir} (run: enso featurize --dataset {dataset})")
        wanted = config.featurizers or have
        missing = [f for f in wanted if f not in have]
        if missing and config.featurizers:
            raise EnsoError(f"no {missing[0]!r} features for dataset {dataset!r}: {workspace.features_path(dataset, missing[0])} is missing")
        chosen[dataset] = [f for f in wanted if f in have]
    return chosen


def _load_dataset_features(workspace: Workspace, dataset: str, featurizers: list[str]) -> dict[str, Features]:
    loaded = {f: read_features(workspace.features_path(dataset, f)) for f in featurizers}
    prints = {f: feats.meta["dataset_fingerprint"] for f, feats in loaded.items()}
    if len(set(prints.values())) > 1:
        raise EnsoError(
            f"features of {dataset!r} come from different versions of the dataset ({prints}); "
            f"re-run: enso featurize --dataset {dataset} --force"
        )
    return loaded


def _existing(path) -> tuple[pa.Table | None, set[tuple]]:
    if not path.exists():
        return None, set()
    table = read_table(path)
    keys = zip(*(table.column(k).to_pylist() for k in RESULT_KEY))
    return table, set(keys)


def run_experiment(workspace: Workspace, config: ExperimentConfig,
                   warn: Callable[[str], None] = print) -> dict[str, Any]:
    """Run (or resume) the grid; return counts and what was skipped. ``warn`` hears about skips at once."""
    for model in config.models:
        MODELS.get(model)
    for metric in config.metrics:
        METRICS.get(metric)
    if config.splits < 1:
        raise EnsoError(f"--splits must be at least 1, not {config.splits}")
    if any(size < 1 for size in config.sizes):
        raise EnsoError(f"--sizes must be positive, not {config.sizes}")
    selection = _select(workspace, config)
    run_dir = workspace.run_dir(config.name)
    _check_resumable(run_dir, config)
    results_path = run_dir / "results.parquet"
    previous, done = _existing(results_path)
    new_rows: list[dict[str, Any]] = []
    skipped: list[dict[str, Any]] = []
    provenance: dict[str, Any] = {}
    started = time.perf_counter()

    def flush() -> None:
        if not new_rows:
            return
        table = pa.Table.from_pylist(new_rows, schema=RESULTS_SCHEMA)
        if previous is not None:
            table = pa.concat_tables([previous.cast(RESULTS_SCHEMA), table])
        write_parquet(results_path, table, {"kind": "results", "run": config.name})

    # Small problems: one BLAS/torch thread each avoids oversubscription (see DESIGN.md, Threads).
    with threadpool_limits(limits=1), _torch_threads(1):
        try:
            for dataset, featurizers in selection.items():
                features = _load_dataset_features(workspace, dataset, featurizers)
                first = next(iter(features.values()))
                labels, n_classes = first.labels, len(np.unique(first.labels))
                if n_classes < 2:
                    raise EnsoError(f"dataset {dataset!r} has a single class; nothing to classify")
                plans = [plan_split(labels, first.splits, seed, config.test_size) for seed in config.split_seeds()]
                sizes = _usable_sizes(dataset, config.sizes, plans[0], n_classes, skipped, warn)
                provenance[dataset] = {
                    "test_source": plans[0].test_source,
                    "test_rows": int(len(plans[0].test)),
                    "pool_rows": int(len(plans[0].order)),
                    "features": {f: {k: feats.meta[k] for k in ("dataset_fingerprint", "params", "dim", "sparse")}
                                 for f, feats in features.items()},
                }
                for featurizer, feats in features.items():
                    for model in config.models:
                        cells = [(s, p) for p in plans for s in sizes
                                 if (dataset, featurizer, model, s, p.seed) not in done]
                        for size, plan in _progress(cells, f"{dataset} {featurizer} {model}"):
                            new_rows.extend(_run_cell(dataset, featurizer, model, size, plan, feats, config.metrics))
                        flush()
        finally:
            flush()
            _write_config(run_dir, config, provenance, skipped)
    return {
        "run": config.name,
        "path": str(results_path),
        "cells": len(new_rows) // max(1, len(config.metrics)),
        "resumed_cells": len(done),
        "skipped": skipped,
        "seconds": time.perf_counter() - started,
    }


def _check_resumable(run_dir, config: ExperimentConfig) -> None:
    """A rerun may add sizes, splits, models or datasets, but never mix cells drawn differently."""
    path = run_dir / "config.json"
    if not path.exists():
        return
    saved = json.loads(path.read_text()).get("config", {})
    for key in ("seed", "test_size"):
        if key in saved and saved[key] != getattr(config, key):
            raise EnsoError(
                f"run {config.name!r} was made with {key}={saved[key]}, not {getattr(config, key)}; "
                f"choose another --name to start a new run"
            )


def _usable_sizes(dataset: str, sizes: list[int], plan: SplitPlan, n_classes: int, skipped: list,
                  warn: Callable[[str], None]) -> list[int]:
    usable = []
    for size in sorted(set(sizes)):
        if size > len(plan.order):
            reason = f"larger than the training pool ({len(plan.order)} rows)"
        elif size < n_classes:
            reason = f"smaller than the number of classes ({n_classes})"
        else:
            usable.append(size)
            continue
        warn(f"{dataset}: skipping size {size}: {reason}")
        skipped.append({"dataset": dataset, "train_size": size, "reason": reason})
    return usable


def _run_cell(dataset: str, featurizer: str, model_name: str, size: int, plan: SplitPlan,
              feats: Features, metrics: list[str]) -> list[dict[str, Any]]:
    train, test = plan.train(size), plan.test
    model = MODELS.get(model_name)(random_state=plan.seed)
    t0 = time.perf_counter()
    model.fit(feats.X[train], feats.labels[train])
    t1 = time.perf_counter()
    predicted = model.predict(feats.X[test])
    t2 = time.perf_counter()
    truth = feats.labels[test]
    params = json.dumps(getattr(model, "best_params_", {}), sort_keys=True)
    return [
        {"dataset": dataset, "featurizer": featurizer, "model": model_name, "train_size": size, "split": plan.seed,
         "metric": metric, "value": METRICS.get(metric)(truth, predicted), "fit_seconds": t1 - t0,
         "predict_seconds": t2 - t1, "params": params}
        for metric in metrics
    ]


def _progress(cells: list, desc: str) -> Iterator:
    with bar(len(cells), desc=desc, unit="cell") as progress:
        for cell in cells:
            yield cell
            progress.update(1)


@contextmanager
def _torch_threads(n: int) -> Iterator[None]:
    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def _write_config(run_dir, config: ExperimentConfig, provenance: dict, skipped: list) -> None:
    path = run_dir / "config.json"
    payload = {
        "run": config.name,
        "config": asdict(config),
        "split_seeds": config.split_seeds(),
        "datasets": provenance,
        "skipped": skipped,
        "versions": library_versions(),
        "written": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
    write_json(path, payload)
