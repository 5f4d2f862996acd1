"""Fitting and scoring one group of cells: the unit of work, wherever it runs.

A group is one (dataset, featurizer, model, size) with the split seeds still to compute, so a model that
fits several cells at once (``fit_many``) amortises its overhead over them. A group's numbers depend only
on the files it reads and the run's configuration, never on the process or machine that runs it.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from enso_ng.errors import EnsoError
from enso_ng.experiment.config import ExperimentConfig
from enso_ng.experiment.cost import model_bytes, peak_memory
from enso_ng.experiment.metrics import METRICS, Diverged, Predictions, diverged, predictions
from enso_ng.experiment.models import MODELS
from enso_ng.experiment.models.base import CellContext
from enso_ng.experiment.pairs import pair_view
from enso_ng.experiment.samplers import RESAMPLERS, SAMPLERS
from enso_ng.experiment.splits import SplitPlan, plan_split
from enso_ng.experiment.threads import one_thread, torch_threads  # noqa: F401 (torch_threads: tests use it here)
from enso_ng.formats import RESULT_KEY, Features, read_features
from enso_ng.workspace import Workspace


@dataclass(frozen=True)
class Group:
    """One (dataset, featurizer, model, size) and the split seeds still to compute for it."""

    dataset: str
    featurizer: str
    model: str
    size: int
    seeds: tuple[int, ...]
    #: (featurizer, ``FeaturesMeta.identity()``) of the dataset's features files as the run planned them:
    #: a group refuses to run on any other (empty: not checked); a transfer group's keys are DATASET/FEATURIZER
    inputs: tuple[tuple[str, str], ...] = ()
    #: a transfer group (:mod:`enso_ng.experiment.transfer`): its mode ("transfer" or "mix"), the dataset it
    #: trains on and the one it tests on; ``dataset`` is then the results' name of the pair of them
    mode: str = ""
    train_on: str = ""
    test_on: str = ""
    sampler: str = "stratified"
    #: the featurizer a selection sampler chooses from (the same for every group of the dataset)
    select_with: str | None = None

    def cell(self, seed: int) -> dict[str, Any]:
        """The result key columns (``RESULT_KEY``) of one of its cells."""
        return dict(zip(RESULT_KEY, (self.dataset, self.featurizer, self.model, self.sampler, self.size, seed)))


@dataclass
class GroupResult:
    """Result rows (one per metric), confusion counts, and the cells that could not be fitted."""

    rows: list[dict[str, Any]] = field(default_factory=list)
    confusion: list[dict[str, Any]] = field(default_factory=list)
    skipped: list[dict[str, Any]] = field(default_factory=list)


def run_group(root: Path, config: ExperimentConfig, group: Group) -> GroupResult:
    """Fit and score one group's cells on one thread: the unit of work of any executor."""
    with one_thread():
        workspace = Workspace(Path(root))
        model_cls = MODELS.get(group.model)
        if group.mode:
            feats, plans = _transfer_inputs(workspace, config, group)
        else:
            path = workspace.features_path(group.dataset, group.featurizer)
            feats = _planned_features(path, group, group.featurizer, config.name)
            plans = group_plans(workspace, config, group, feats)
        feats = pair_view(feats, model_cls.pairs, config.pair)
        X = model_cls.view(feats)
        result = GroupResult()
        seeds, trains, fits = _training_rows(feats, plans, config, group, result)
        if not seeds:
            return result
        extra = model_cls.features_kwargs(feats.meta)
        models = [model_cls(**config.params_of(group.model), **extra, random_state=seed) for seed in seeds]
        if model_cls.semi_supervised:
            for model, seed, train, fitted in zip(models, seeds, trains, fits):
                pool = plans[seed].order
                model.attach(
                    CellContext(
                        dataset=group.dataset,
                        X=X,
                        train=fitted,  # the rows fit() is given, after any resampling
                        unlabelled=pool[~np.isin(pool, train)],
                        test=plans[seed].test,
                        features=lambda name: _planned_features(
                            workspace.features_path(group.dataset, name), group, name, config.name
                        ),
                    )
                )
        t0 = time.perf_counter()
        try:
            with peak_memory() as fit_peak:
                model_cls.fit_many(models, [X[rows] for rows in fits], [feats.labels[rows] for rows in fits])
        except ValueError as exc:
            if not diverged(exc):
                raise
            reason = str(exc) if isinstance(exc, Diverged) else "the fit diverged: its numbers went non-finite"
            result.skipped.extend({**group.cell(seed), "reason": reason} for seed in seeds)
            return result
        fit_seconds = (time.perf_counter() - t0) / len(models)  # a batch's time, shared by its cells
        classes = np.unique(feats.labels)
        for seed, model, train, fitted in zip(seeds, models, trains, fits):
            test = plans[seed].test
            t1 = time.perf_counter()
            try:
                on_test = predictions(model, X[test], feats.labels[test], classes)
                scored = [("", on_test)]
                if config.train_metrics:
                    scored.append(("train_", predictions(model, X[train], feats.labels[train], classes)))
            except Diverged as exc:  # a skipped cell with its reason; the group's other cells go on
                result.skipped.append({**group.cell(seed), "reason": str(exc)})
                continue
            costs = _costs(model, fit_seconds, time.perf_counter() - t1, len(test), feats, fit_peak(), len(models))
            result.confusion.extend(_confusion_rows(group.cell(seed), on_test))
            params = json.dumps({**getattr(model, "best_params_", {}), **_rows_record(feats, fitted)}, sort_keys=True)
            for prefix, preds in scored:
                result.rows.extend(
                    {**group.cell(seed), "metric": prefix + name, "value": value, **costs, "params": params}
                    for name, value in _scores(config, preds)
                )
        return result


def _transfer_inputs(workspace: Workspace, config: ExperimentConfig, group: Group) -> tuple[Features, dict]:
    """A transfer group's features (A's kept rows then B's) and its plans (B's test rows, A's pool)."""
    from enso_ng.experiment import transfer

    both = [
        _planned_features(workspace.features_path(d, group.featurizer), group, f"{d}/{group.featurizer}", config.name)
        for d in (group.train_on, group.test_on)
    ]
    a, b = transfer.sides_of((both[0].labels, both[0].splits), (both[1].labels, both[1].splits), config)
    return transfer.joined(both[0], both[1], a), transfer.transfer_plans(a, b, config, group.mode, group.seeds)


def _rows_record(feats: Features, fitted: np.ndarray) -> dict[str, Any]:
    """How many dataset rows a cell fitted, and a digest of which: equal digests prove two models of a
    dataset, size and seed trained on the same rows (whatever features file they read)."""
    rows = np.sort(feats.rows[fitted]).astype(np.int64)
    return {"train_rows": int(len(fitted)), "train_rows_sha1": hashlib.sha1(rows.tobytes()).hexdigest()[:16]}


def _costs(
    model: Any,
    fit_seconds: float,
    predict_seconds: float,
    test_rows: int,
    feats: Features,
    batch_peak: int | None,
    batch: int,
) -> dict[str, Any]:
    """A cell's cost columns. Inference per document adds the featurizer's own time (from the features
    metadata) to the model's; a batched fit's peak memory is shared by its cells, like its time."""
    featurize = feats.meta.timing.get("seconds_per_1k")
    model_per_1k = 1000 * predict_seconds / max(test_rows, 1)
    loads = [os.getloadavg()[0] / (os.cpu_count() or 1)]
    if feats.meta.timing.get("load_1min") is not None:
        cores = (feats.meta.timing.get("machine") or {}).get("cores") or 1
        loads.append(float(feats.meta.timing["load_1min"]) / cores)
    return {
        "fit_seconds": fit_seconds,
        "predict_seconds": predict_seconds,
        "predict_seconds_per_1k": None if featurize is None else model_per_1k + featurize,
        "featurize_seconds_per_1k": featurize,
        "parameters": model.n_parameters(),
        "model_bytes": model_bytes(model),
        "fit_peak_bytes": None if batch_peak is None else batch_peak // batch,
        "load_per_core": round(max(loads), 3),
    }


def _training_rows(
    feats: Features, plans: dict[int, SplitPlan], config: ExperimentConfig, group: Group, result: GroupResult
) -> tuple[list[int], list[np.ndarray], list[np.ndarray]]:
    """Per usable seed: its training subset and the rows actually fitted (after any resampling)."""
    resample = RESAMPLERS.get(config.resampler)
    seeds, trains, fits = [], [], []
    for seed in group.seeds:
        train = plans[seed].train(group.size)
        if len(np.unique(feats.labels[train])) < 2:  # possible with the natural sampler
            result.skipped.append({**group.cell(seed), "reason": "the training subset holds a single class"})
            continue
        fit_rows = train
        if resample is not None:
            fit_rows = train[resample(feats.labels[train], np.random.default_rng([seed, group.size]))]
        seeds.append(seed)
        trains.append(train)
        fits.append(fit_rows)
    return seeds, trains, fits


def _scores(config: ExperimentConfig, preds: Predictions) -> Iterator[tuple[str, float]]:
    for name in config.metrics:
        metric = METRICS.get(name)
        if metric.applies(preds):
            value = metric.score(preds, config)
            if math.isfinite(value):  # undefined for these rows (no positive in the test set): not written
                yield name, value


def _confusion_rows(cell: dict[str, Any], preds: Predictions) -> list[dict[str, Any]]:
    pairs, counts = np.unique(np.stack([preds.y_true, preds.y_pred]).astype(str), axis=1, return_counts=True)
    return [{**cell, "true_label": t, "predicted_label": p, "count": int(c)} for (t, p), c in zip(pairs.T, counts)]


class InputsChanged(EnsoError):
    """A features file is not the one the run planned with (re-featurized while the run was running)."""


def _planned_features(path: Path, group: Group, featurizer: str, run: str) -> Features:
    """The features a group reads, refused unless they are the very file its run planned with: a run
    rewritten under by another ``enso featurize`` stops instead of mixing two files' vectors in its cells."""
    feats = _features(path)
    expected = dict(group.inputs).get(featurizer)
    if expected is not None and feats.meta.identity() != expected:
        raise InputsChanged(
            f"{path} changed while run {run!r} was running (rewritten {feats.meta.created or 'since'}); the run "
            f"stops and keeps the cells it finished on the features it started with (its config.json names "
            f"them): featurize those back to resume it, or start another --name"
        )
    return feats


_FEATURES: dict[tuple, Features] = {}


def _features(path: Path) -> Features:
    """Features are read once per process (a worker serves many groups of one file), until the file changes."""
    stat = path.stat()
    key = (path, stat.st_mtime_ns, stat.st_size)
    if key not in _FEATURES:
        if len(_FEATURES) >= 3:  # a student's, its teacher's and the selection's
            _FEATURES.pop(next(iter(_FEATURES)))
        _FEATURES[key] = read_features(path)
    return _FEATURES[key]


_PLANS: dict[tuple, SplitPlan] = {}
#: plans kept per process: enough for every sampler and seed of a few datasets
MAX_PLANS = 512


def plans_for(
    labels: np.ndarray,
    splits: np.ndarray,
    config: ExperimentConfig,
    seeds,
    sampler: str | None = None,
    vectors: np.ndarray | None = None,
) -> dict[int, SplitPlan]:
    """The plan of each seed; a selection sampler chooses up to the run's largest size from ``vectors``."""
    sampler = sampler or config.sampler
    return {
        seed: plan_split(
            labels, splits, seed, config.test_size, config.official_test, sampler, vectors, max(config.sizes)
        )
        for seed in seeds
    }


def selection_vectors(feats: Features, path: Path) -> np.ndarray:
    """The vectors a selection sampler chooses from: dense, one per row (token vectors pooled)."""
    X = feats.pooled()
    if not isinstance(X, np.ndarray) or X.ndim != 2:
        raise EnsoError(
            f"{path}: selection samplers choose from dense vectors, and these features are "
            f"{'sparse' if X is not None and not isinstance(X, np.ndarray) else 'not vectors'}; "
            "give --select-with a dense featurizer (e.g. bert)"
        )
    return X


def cached_plans(
    labels_path: Path,
    feats: Features,
    config: ExperimentConfig,
    seeds,
    sampler: str,
    select: tuple[Path, Features] | None = None,
) -> dict[int, SplitPlan]:
    """Split plans depend on the labels (and a selection sampler's representation), not on the features
    a cell trains on or its model: each is computed once per process and shared by every group."""
    if select is not None:  # keyed by the representation: one order for every featurizer and model
        labels_path, feats = select
    key: tuple = (_stat(labels_path), config.test_size, config.official_test, sampler, max(config.sizes))
    missing = [s for s in seeds if (*key, s) not in _PLANS]
    if missing:
        vectors = selection_vectors(feats, labels_path) if select is not None else None
        for seed, plan in plans_for(feats.labels, feats.splits, config, missing, sampler, vectors).items():
            while len(_PLANS) >= MAX_PLANS:
                _PLANS.pop(next(iter(_PLANS)))
            _PLANS[(*key, seed)] = plan
    return {seed: _PLANS[(*key, seed)] for seed in seeds}


def group_plans(workspace: Workspace, config: ExperimentConfig, group: Group, feats: Features) -> dict[int, SplitPlan]:
    """The plans of a group's seeds under its sampler; a selection sampler's order comes from the
    ``select_with`` features whatever features the group trains on, so every pair trains on the same rows."""
    path = workspace.features_path(group.dataset, group.featurizer)
    select = None
    if SAMPLERS.get(group.sampler).selects:
        name = group.select_with or group.featurizer
        select_path = workspace.features_path(group.dataset, name)
        select = (select_path, _planned_features(select_path, group, name, config.name))
    return cached_plans(path, feats, config, group.seeds, group.sampler, select)


def _stat(path: Path) -> tuple:
    stat = path.stat()
    return (path, stat.st_mtime_ns, stat.st_size)
