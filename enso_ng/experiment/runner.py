"""The grid runner: every dataset x featurizer x model x training size x split seed.

Work is done in groups: one (dataset, featurizer, model, size) with all its missing split seeds, so a
model that can fit several cells at once (``fit_many``) amortises its overhead over them. Groups run in
this process or, with ``jobs > 1``, in worker processes; a group's numbers do not depend on where it ran.
Results are long-format rows (one per metric) in ``results/<run>/results.parquet``, rewritten atomically
as groups finish, so an interrupted run keeps what it finished and a rerun with the same name computes
only the missing cells.
"""

from __future__ import annotations

import json
import multiprocessing
import time
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Iterator

import numpy as np
import pyarrow as pa
import torch
from threadpoolctl import threadpool_limits

from enso_ng.errors import EnsoError
from enso_ng.experiment.metrics import METRICS, predictions
from enso_ng.experiment.models import MODELS
from enso_ng.experiment.samplers import RESAMPLERS, SAMPLERS
from enso_ng.experiment.splits import SplitPlan, plan_split
from enso_ng.formats import CONFUSION_SCHEMA, RESULT_KEY, RESULTS_SCHEMA, Features, read_features
from enso_ng.progress import bar
from enso_ng.provenance import library_versions
from enso_ng.workspace import Workspace, read_meta, read_table, write_json, write_parquet

DEFAULT_SIZES = (50, 100, 200, 500, 1000)
DEFAULT_MODELS = ("logreg", "mlp")
DEFAULT_METRICS = ("accuracy", "balanced_accuracy", "macro_f1", "micro_f1", "macro_precision", "macro_recall",
                   "roc_auc", "log_loss")
#: settings that decide which rows train and test each cell: a resumed run must not change them
RESUME_KEYS = ("seed", "test_size", "sampler", "resampler", "official_test")
FLUSH_SECONDS = 5.0


@dataclass
class ExperimentConfig:
    """Everything that decides a run's numbers; saved, resolved, as ``config.json``."""

    name: str
    sizes: list[int] = field(default_factory=lambda: list(DEFAULT_SIZES))
    splits: int = 5
    seed: int = 0
    test_size: float = 0.2
    #: use a dataset's official test split where it has one (else a stratified hold-out every time)
    official_test: bool = True
    datasets: list[str] = field(default_factory=list)
    featurizers: list[str] = field(default_factory=list)
    models: list[str] = field(default_factory=lambda: list(DEFAULT_MODELS))
    metrics: list[str] = field(default_factory=lambda: list(DEFAULT_METRICS))
    #: also score each model on its own training subset (``train_<metric>`` rows): the over-fitting gap
    train_metrics: bool = True
    sampler: str = "stratified"
    resampler: str = "none"
    #: worker processes; the results do not depend on it
    jobs: int = 1

    def split_seeds(self) -> list[int]:
        return [self.seed + i for i in range(self.splits)]

    def validate(self) -> None:
        for model in self.models:
            MODELS.get(model)
        for metric in self.metrics:
            METRICS.get(metric)
        SAMPLERS.get(self.sampler)
        RESAMPLERS.get(self.resampler)
        if self.splits < 1:
            raise EnsoError(f"--splits must be at least 1, not {self.splits}")
        if not self.sizes or any(size < 1 for size in self.sizes):
            raise EnsoError(f"--sizes must be positive, not {self.sizes}")
        if self.jobs < 1:
            raise EnsoError(f"--jobs must be at least 1, not {self.jobs}")


def default_run_name() -> str:
    return datetime.now().strftime("run-%Y%m%d-%H%M%S")


@dataclass(frozen=True)
class Group:
    """One (dataset, featurizer, model, size) and the split seeds still to compute for it."""

    dataset: str
    featurizer: str
    model: str
    size: int
    seeds: tuple[int, ...]


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


def _labels_and_splits(path: Path) -> tuple[np.ndarray, np.ndarray]:
    table = read_table(path, columns=["label", "split"])
    return (np.asarray(table.column("label").to_pylist(), dtype=object),
            np.asarray(table.column("split").to_pylist(), dtype=object))


def _plans(labels: np.ndarray, splits: np.ndarray, config: ExperimentConfig, seeds) -> dict[int, SplitPlan]:
    return {seed: plan_split(labels, splits, seed, config.test_size, config.official_test, config.sampler)
            for seed in seeds}


def _existing(path: Path) -> tuple[pa.Table | None, set[tuple]]:
    if not path.exists():
        return None, set()
    table = read_table(path)
    keys = zip(*(table.column(k).to_pylist() for k in RESULT_KEY))
    return table, set(keys)


def run_experiment(workspace: Workspace, config: ExperimentConfig,
                   warn: Callable[[str], None] = print) -> dict[str, Any]:
    """Run (or resume) the grid; return counts and what was skipped. ``warn`` hears about skips at once."""
    config.validate()
    selection = _select(workspace, config)
    run_dir = workspace.run_dir(config.name)
    _check_resumable(run_dir, config)
    results_path = run_dir / "results.parquet"
    previous, done = _existing(results_path)
    skipped: list[dict[str, Any]] = []
    provenance: dict[str, Any] = {}
    groups: list[Group] = []
    for dataset, featurizers in selection.items():
        paths = {f: workspace.features_path(dataset, f) for f in featurizers}
        metas = {f: read_meta(p) for f, p in paths.items()}
        prints = {f: m["dataset_fingerprint"] for f, m in metas.items()}
        if len(set(prints.values())) > 1:
            raise EnsoError(f"features of {dataset!r} come from different versions of the dataset ({prints}); "
                            f"re-run: enso featurize --dataset {dataset} --force")
        labels, splits = _labels_and_splits(next(iter(paths.values())))
        if len(np.unique(labels)) < 2:
            raise EnsoError(f"dataset {dataset!r} has a single class; nothing to classify")
        plans = _plans(labels, splits, config, config.split_seeds()[:1])
        plan = next(iter(plans.values()))
        sizes = _usable_sizes(dataset, config.sizes, plan, skipped, warn)
        provenance[dataset] = {
            "test_source": plan.test_source, "test_rows": int(len(plan.test)), "pool_rows": int(len(plan.order)),
            "size_unit": plan.sampler.unit,
            "features": {f: {k: m.get(k) for k in ("dataset_fingerprint", "params", "dim", "sparse", "layers")}
                         for f, m in metas.items()},
        }
        for featurizer in featurizers:
            layers = int(metas[featurizer].get("layers") or 1)
            for model in config.models:
                if getattr(MODELS.get(model), "layer_aware", False) and layers < 2:
                    reason = f"{featurizer} features have one layer (featurize with every layer stored to use it)"
                    warn(f"{dataset}: skipping model {model} on {featurizer}: {reason}")
                    skipped.append({"dataset": dataset, "featurizer": featurizer, "model": model, "reason": reason})
                    continue
                for size in sizes:
                    seeds = tuple(s for s in config.split_seeds() if (dataset, featurizer, model, size, s) not in done)
                    if seeds:
                        groups.append(Group(dataset, featurizer, model, size, seeds))
    new_rows: list[dict[str, Any]] = []
    started = time.perf_counter()
    last_flush = [time.perf_counter()]

    confusion_path = run_dir / "confusion.parquet"
    previous_confusion = read_table(confusion_path) if confusion_path.exists() and previous is not None else None
    new_confusion: list[dict[str, Any]] = []

    def flush(force: bool = False) -> None:
        if not new_rows or (not force and time.perf_counter() - last_flush[0] < FLUSH_SECONDS):
            return
        # Confusion counts first: a results row never exists without its counts.
        confusion = pa.Table.from_pylist(new_confusion, schema=CONFUSION_SCHEMA)
        if previous_confusion is not None:
            confusion = pa.concat_tables([previous_confusion.cast(CONFUSION_SCHEMA), confusion])
        write_parquet(confusion_path, confusion, {"kind": "confusion", "run": config.name})
        table = pa.Table.from_pylist(new_rows, schema=RESULTS_SCHEMA)
        if previous is not None:
            table = pa.concat_tables([previous.cast(RESULTS_SCHEMA), table])
        write_parquet(results_path, table, {"kind": "results", "run": config.name})
        last_flush[0] = time.perf_counter()

    cells = sum(len(g.seeds) for g in groups)
    try:
        with bar(cells, desc=config.name, unit="cell") as progress:
            for ((rows, confusion), cell_skips), group in _execute(groups, workspace.root, config):
                new_rows.extend(rows)
                new_confusion.extend(confusion)
                for skip in cell_skips:
                    warn(f"{skip['dataset']}: skipping {skip['featurizer']} {skip['model']} size {skip['train_size']} "
                         f"split {skip['split']}: {skip['reason']}")
                skipped.extend(cell_skips)
                progress.update(len(group.seeds))
                flush()
    finally:
        flush(force=True)
        _write_config(run_dir, config, provenance, skipped)
    return {
        "run": config.name,
        "path": str(results_path),
        "cells": cells,
        "resumed_cells": len(done),
        "skipped": skipped,
        "seconds": time.perf_counter() - started,
    }


def _execute(groups: list[Group], root: Path, config: ExperimentConfig) -> Iterator[tuple[tuple, Group]]:
    """Yield each group's rows as it finishes: in order here, or as workers complete them."""
    if config.jobs == 1 or len(groups) <= 1:
        for group in groups:
            yield run_group(root, config, group), group
        return
    context = multiprocessing.get_context("spawn")  # fresh interpreters: no inherited thread pools
    with ProcessPoolExecutor(max_workers=config.jobs, mp_context=context) as pool:
        pending = {pool.submit(run_group, root, config, group): group for group in groups}
        try:
            while pending:
                finished, _ = wait(pending, return_when=FIRST_COMPLETED)
                for future in finished:
                    group = pending.pop(future)
                    yield future.result(), group
        finally:
            for future in pending:
                future.cancel()


_FEATURES: dict[tuple, Features] = {}


def _features(path: Path) -> Features:
    """Features are read once per process (a worker serves many groups of one file), until the file changes."""
    stat = path.stat()
    key = (path, stat.st_mtime_ns, stat.st_size)
    if key not in _FEATURES:
        _FEATURES.clear()
        _FEATURES[key] = read_features(path)
    return _FEATURES[key]


def run_group(root: Path, config: ExperimentConfig, group: Group) -> tuple[tuple[list[dict], list[dict]], list[dict]]:
    """Fit and score one group's cells: (result rows, confusion rows), and the cells that could not be.

    The unit of work of a worker process."""
    workspace = Workspace(Path(root))
    with threadpool_limits(limits=1), _torch_threads(1):
        path = workspace.features_path(group.dataset, group.featurizer)
        feats = _features(path)
        layers = int(feats.meta.get("layers") or 1)
        model_cls = MODELS.get(group.model)
        layer_aware = getattr(model_cls, "layer_aware", False)
        X = feats.X if layer_aware or layers < 2 else _mean_of_layers(feats.X, layers)
        classes = np.unique(feats.labels)
        plans = _cached_plans(path, feats, config, group.seeds)
        resample = RESAMPLERS.get(config.resampler)
        seeds, trains, fits, skipped = [], [], [], []
        for seed in group.seeds:
            train = plans[seed].train(group.size)
            if len(np.unique(feats.labels[train])) < 2:  # possible with the natural sampler
                skipped.append({"dataset": group.dataset, "featurizer": group.featurizer, "model": group.model,
                                "train_size": group.size, "split": seed,
                                "reason": "the training subset holds a single class"})
                continue
            fit_rows = train
            if resample is not None:
                fit_rows = train[resample(feats.labels[train], np.random.default_rng([seed, group.size]))]
            seeds.append(seed)
            trains.append(train)
            fits.append(fit_rows)
        if not seeds:
            return ([], []), skipped
        kwargs = {"layers": layers} if layer_aware else {}
        models = [model_cls(random_state=seed, **kwargs) for seed in seeds]
        t0 = time.perf_counter()
        if hasattr(model_cls, "fit_many") and len(models) > 1:
            model_cls.fit_many(models, [X[rows] for rows in fits], [feats.labels[rows] for rows in fits])
        else:
            for model, rows in zip(models, fits):
                model.fit(X[rows], feats.labels[rows])
        fit_seconds = (time.perf_counter() - t0) / len(models)  # a batch's time, shared by its cells
        out, confusion = [], []
        for seed, model, train, fitted_rows in zip(seeds, models, trains, fits):
            test = plans[seed].test
            t1 = time.perf_counter()
            on_test = predictions(model, X[test], feats.labels[test], classes)
            predict_seconds = time.perf_counter() - t1
            pairs, counts = np.unique(np.stack([on_test.y_true, on_test.y_pred]).astype(str), axis=1, return_counts=True)
            confusion.extend({"dataset": group.dataset, "featurizer": group.featurizer, "model": group.model,
                              "train_size": group.size, "split": seed, "true_label": t, "predicted_label": p,
                              "count": int(c)} for (t, p), c in zip(pairs.T, counts))
            scored = [("", on_test)]
            if config.train_metrics:
                scored.append(("train_", predictions(model, X[train], feats.labels[train], classes)))
            params = json.dumps({**getattr(model, "best_params_", {}), "train_rows": int(len(fitted_rows))},
                                sort_keys=True)
            for prefix, preds in scored:
                for name in config.metrics:
                    metric = METRICS.get(name)
                    if not metric.applies(preds):
                        continue
                    out.append({"dataset": group.dataset, "featurizer": group.featurizer, "model": group.model,
                                "train_size": group.size, "split": seed, "metric": prefix + name,
                                "value": metric.fn(preds), "fit_seconds": fit_seconds,
                                "predict_seconds": predict_seconds, "params": params})
        return (out, confusion), skipped


_PLANS: dict[tuple, SplitPlan] = {}


def _cached_plans(path: Path, feats: Features, config: ExperimentConfig, seeds) -> dict[int, SplitPlan]:
    """Split plans depend on the labels, not the model: draw each once per features file and process."""
    stat = path.stat()
    key = ((path, stat.st_mtime_ns, stat.st_size), config.test_size, config.official_test, config.sampler)
    if any(k[:4] != key for k in _PLANS):
        _PLANS.clear()
    missing = [s for s in seeds if (*key, s) not in _PLANS]
    for seed, plan in _plans(feats.labels, feats.splits, config, missing).items():
        _PLANS[(*key, seed)] = plan
    return {seed: _PLANS[(*key, seed)] for seed in seeds}


def _mean_of_layers(X: Any, layers: int) -> np.ndarray:
    """Multi-layer features for a model that takes one vector: the average of the layers."""
    return np.asarray(X).reshape(X.shape[0], layers, -1).mean(1)


def _check_resumable(run_dir: Path, config: ExperimentConfig) -> None:
    """A rerun may add sizes, splits, models or datasets, but never mix cells drawn differently."""
    path = run_dir / "config.json"
    if not path.exists():
        return
    saved = json.loads(path.read_text()).get("config", {})
    for key in RESUME_KEYS:
        if key in saved and saved[key] != getattr(config, key):
            raise EnsoError(
                f"run {config.name!r} was made with {key}={saved[key]}, not {getattr(config, key)}; "
                f"choose another --name to start a new run"
            )


def _usable_sizes(dataset: str, sizes: list[int], plan: SplitPlan, skipped: list,
                  warn: Callable[[str], None]) -> list[int]:
    usable = []
    for size in sorted(set(sizes)):
        reason = plan.shortfall(size)
        if reason is None:
            usable.append(size)
            continue
        warn(f"{dataset}: skipping size {size}: {reason}")
        skipped.append({"dataset": dataset, "train_size": size, "reason": reason})
    return usable


@contextmanager
def _torch_threads(n: int) -> Iterator[None]:
    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def _write_config(run_dir: Path, config: ExperimentConfig, provenance: dict, skipped: list) -> None:
    path = run_dir / "config.json"
    payload = {
        "run": config.name,
        "config": asdict(config),
        "split_seeds": config.split_seeds(),
        "size_unit": SAMPLERS.get(config.sampler).unit,
        "datasets": provenance,
        "skipped": skipped,
        "versions": library_versions(),
        "written": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
    write_json(path, payload)
