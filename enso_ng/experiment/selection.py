"""Which datasets, featurizers, models and sizes a run covers, and the groups of cells still to compute.

Everything here reads only metadata and labels, never vectors, so planning a large grid is quick; what
cannot run (a size larger than the pool, a model that needs features it does not have) is skipped with a
reason the run records, not failed.
"""

from __future__ import annotations

import dataclasses
import itertools
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from enso_ng.errors import EnsoError, either
from enso_ng.experiment import transfer
from enso_ng.experiment.cell import Group, cached_plans, plans_for
from enso_ng.experiment.config import ExperimentConfig
from enso_ng.experiment.cost import available_memory
from enso_ng.experiment.models import MODELS
from enso_ng.experiment.pairs import COMBINED, CROSS, SIDES, WIDTH
from enso_ng.experiment.samplers import SAMPLERS
from enso_ng.experiment.splits import SplitPlan
from enso_ng.experiment.threads import one_thread
from enso_ng.formats import (
    DENSE,
    SPARSE,
    TOKEN_IDS,
    TOKEN_VECTOR_FEATURIZERS,
    TOKEN_VECTORS,
    FeaturesMeta,
    read_features,
    read_labels_and_splits,
)
from enso_ng.workspace import Workspace


@dataclass
class Plan:
    """The groups to run, what each dataset's test set and features were, and what was skipped."""

    groups: list[Group] = field(default_factory=list)
    provenance: dict[str, Any] = field(default_factory=dict)
    skipped: list[dict[str, Any]] = field(default_factory=list)


def select(workspace: Workspace, config: ExperimentConfig) -> dict[str, list[str]]:
    """dataset -> featurizers with a features file, restricted to what the config asks for."""
    available: dict[str, list[str]] = {}
    for dataset, featurizer in workspace.featurized():
        available.setdefault(dataset, []).append(featurizer)
    if not available:
        raise EnsoError(f"no features in {workspace.features_dir} (run: enso featurize)")
    chosen: dict[str, list[str]] = {}
    if config.train_on is not None:  # a transfer run: B in domain, and A beside it (planned with B)
        for dataset in (config.train_on, config.test_on):
            if not available.get(dataset):
                raise EnsoError(
                    f"no features for dataset {dataset!r} in {workspace.features_dir} "
                    f"(run: enso featurize --dataset {dataset})"
                )
    for dataset in ([config.test_on] if config.train_on else config.datasets) or sorted(available):
        have = available.get(dataset, [])
        if not have:
            raise EnsoError(
                f"no features for dataset {dataset!r} in {workspace.features_dir} "
                f"(run: enso featurize --dataset {dataset})"
            )
        wanted = config.featurizers or have
        missing = [f for f in wanted if f not in have]
        if missing and config.featurizers:
            raise EnsoError(
                f"no {missing[0]!r} features for dataset {dataset!r}: "
                f"{workspace.features_path(dataset, missing[0])} is missing"
            )
        chosen[dataset] = [f for f in wanted if f in have]
    return chosen


def plan_run(
    workspace: Workspace,
    config: ExperimentConfig,
    chosen: dict[str, list[str]],
    done: set[tuple],
    warn: Callable[[str], None],
) -> Plan:
    """Every group of the ``chosen`` features (:func:`select`) with a split seed not yet in ``done``."""
    plan = Plan()
    for dataset, featurizers in chosen.items():
        paths = {f: workspace.features_path(dataset, f) for f in featurizers}
        metas = {f: FeaturesMeta.read(p) for f, p in paths.items()}
        prints = {f: m.dataset_fingerprint for f, m in metas.items()}
        if len(set(prints.values())) > 1:
            raise EnsoError(
                f"features of {dataset!r} come from different versions of the dataset ({prints}); "
                f"re-run: enso featurize --dataset {dataset} --force"
            )
        labels, splits = read_labels_and_splits(next(iter(paths.values())))
        if len(np.unique(labels)) < 2:
            raise EnsoError(f"dataset {dataset!r} has a single class; nothing to classify")
        first = next(iter(plans_for(labels, splits, config, config.split_seeds()[:1], "natural").values()))
        first = dataclasses.replace(first, sampler=SAMPLERS.get(config.sampler))  # sizes are checked in its unit
        _warn_untrainable(dataset, labels, first, warn)
        sizes = _usable_sizes(dataset, config.sizes, first, plan, warn)
        plan.provenance[dataset] = {
            "test_source": first.test_source,
            "test_rows": int(len(first.test)),
            "pool_rows": int(len(first.order)),
            "size_unit": first.sampler.unit,
            "features": {f: m.provenance() for f, m in metas.items()},
        }
        _check_inputs(dataset, featurizers, metas, config.models, workspace, config.model_params)
        select_with = _select_with(workspace, config, dataset, featurizers, metas)
        inputs = tuple((f, m.identity()) for f, m in metas.items())
        pending: dict[str, set[int]] = {}
        for featurizer in featurizers:
            for model in config.models:
                reason = _unfit(model, metas[featurizer], config.params_of(model))
                if reason:
                    warn(f"{dataset}: skipping model {model} on {featurizer}: {reason}")
                    plan.skipped.append(
                        {"dataset": dataset, "featurizer": featurizer, "model": model, "reason": reason}
                    )
                    continue
                for sampler, size in itertools.product(config.sampler_axis(), sizes):
                    seeds = tuple(
                        s for s in config.split_seeds() if (dataset, featurizer, model, sampler, size, s) not in done
                    )
                    if seeds:
                        plan.groups.append(
                            Group(dataset, featurizer, model, size, seeds, inputs, sampler=sampler, select_with=select_with)
                        )
                        pending.setdefault(sampler, set()).update(seeds)
                        rows = size if first.sampler.unit == "examples" else size * len(np.unique(labels))
                        _check_memory(f"{dataset}/{featurizer}", model, config, metas[featurizer], rows, labels, seeds)
        selection = _select(workspace, config, dataset, select_with, pending)
        if selection:
            plan.provenance[dataset]["selection"] = selection
    if config.train_on is not None:
        _plan_transfer(workspace, config, chosen[config.test_on], done, warn, plan)
    return plan


def _plan_transfer(
    workspace: Workspace,
    config: ExperimentConfig,
    featurizers: list[str],
    done: set[tuple],
    warn: Callable[[str], None],
    plan: Plan,
) -> None:
    """The transfer groups (A's pool, B's test rows) beside B's in-domain ones: the labels are aligned first,
    so a label set that cannot be is a one-line error before anything runs."""
    a, b = config.train_on, config.test_on
    assert a is not None and b is not None
    usable = []
    for featurizer in featurizers:
        if not workspace.features_path(a, featurizer).exists():
            reason = f"no {featurizer} features of {a} (run: enso featurize -f {featurizer} -d {a})"
        else:
            reason = transfer.unusable(
                FeaturesMeta.read(workspace.features_path(a, featurizer)),
                FeaturesMeta.read(workspace.features_path(b, featurizer)),
            )
        if reason:
            warn(f"{transfer.transfer_name(a, b, transfer.TRANSFER)}: skipping {featurizer}: {reason}")
            plan.skipped.append({"dataset": transfer.transfer_name(a, b, transfer.TRANSFER), "featurizer": featurizer,
                                 "model": "", "reason": reason})  # fmt: skip
            continue
        usable.append(featurizer)
    side_a, side_b = transfer.label_sides(workspace, config, featurizers[0])
    metas = {f"{d}/{f}": FeaturesMeta.read(workspace.features_path(d, f)) for f in usable for d in (a, b)}
    inputs = tuple((key, meta.identity()) for key, meta in metas.items())
    for mode, sizes in transfer.modes(config):
        name = transfer.transfer_name(a, b, mode)
        first = next(iter(transfer.transfer_plans(side_a, side_b, config, mode, config.split_seeds()[:1]).values()))
        sizes = _usable_sizes(name, sizes, first, plan, warn)
        plan.provenance[name] = {
            "train_on": a,
            "test_on": b,
            "mode": mode,
            "label_map": transfer.parse_label_map(config.label_map),
            "test_source": first.test_source,
            "test_rows": int(len(first.test)),
            "pool_rows": int(len(first.order)),
            "size_unit": first.sampler.unit,
            "features": {f: metas[f"{a}/{f}"].provenance() for f in usable},
        }
        for featurizer in usable:
            for model in config.models:
                reason = _unfit(model, metas[f"{b}/{featurizer}"], config.params_of(model))
                if reason:
                    continue  # said once, for B in domain
                for size in sizes:
                    key = (name, featurizer, model, config.sampler, size)
                    seeds = tuple(s for s in config.split_seeds() if (*key, s) not in done)
                    if seeds:
                        plan.groups.append(
                            Group(name, featurizer, model, size, seeds, inputs, mode=mode, train_on=a, test_on=b,
                                  sampler=config.sampler)
                        )  # fmt: skip


def _select_with(
    workspace: Workspace, config: ExperimentConfig, dataset: str, featurizers: list[str], metas: dict[str, FeaturesMeta]
) -> str | None:
    """The featurizer a selection sampler of the run chooses from on ``dataset`` (checked: it exists, its
    data is the dataset's, and it holds dense vectors), or None where the run has no selection sampler."""
    if not any(SAMPLERS.get(s).selects for s in config.sampler_axis()):
        return None
    name = config.select_with or featurizers[0]
    path = workspace.features_path(dataset, name)
    if name not in metas:
        if not path.exists():
            raise EnsoError(f"--select-with {name}: {path} is missing (run: enso featurize -f {name} -d {dataset})")
        metas[name] = FeaturesMeta.read(path)
        if metas[name].dataset_fingerprint != next(iter(metas.values())).dataset_fingerprint:
            raise EnsoError(f"--select-with {name}: {path} comes from another version of dataset {dataset!r}")
    if metas[name].layout not in (DENSE, TOKEN_VECTORS):
        raise EnsoError(
            f"--select-with {name}: {path} holds {LAYOUT_WORDS[metas[name].layout]}; selection samplers choose "
            "from dense vectors (e.g. bert)"
        )
    return name


def _select(
    workspace: Workspace,
    config: ExperimentConfig,
    dataset: str,
    select_with: str | None,
    pending: dict[str, set[int]],
) -> dict[str, Any]:
    """Compute each selection sampler's order once per split seed, here, before any group runs (groups in
    this process reuse it; a worker process computes the same order again from the same file and seed),
    and record what it chose from and how long it took."""
    out: dict[str, Any] = {}
    selecting = {s: seeds for s, seeds in pending.items() if SAMPLERS.get(s).selects}
    if not selecting:
        return out
    path = workspace.features_path(dataset, select_with)
    feats = read_features(path)  # once for every sampler
    for sampler, seeds in selecting.items():
        seconds = {}
        for seed in sorted(seeds):
            started = time.perf_counter()
            with one_thread():  # as a group fits
                cached_plans(path, feats, config, [seed], sampler, (path, feats))
            seconds[str(seed)] = round(time.perf_counter() - started, 3)
        out[sampler] = {"select_with": select_with, "seconds": seconds, "limit": max(config.sizes)}
    return out


def _check_memory(
    where: str, model: str, config: ExperimentConfig, meta: FeaturesMeta, rows: int, labels: Any, seeds: tuple
) -> None:
    """A group whose fit would need more memory than this machine has now is refused before the run starts
    (not killed, or left interrupted, halfway), saying how much it needs and how much there is."""
    cls = MODELS.get(model)
    params = {**cls().get_params(), **config.params_of(model)}
    dim = meta.dim * meta.layers * (WIDTH[config.pair] if meta.sides == 2 and cls.pairs == COMBINED else 1)
    needed = cls.memory_bytes(params, rows, dim, len(np.unique(labels)), len(seeds))
    if not needed:
        return
    available = available_memory()
    if available is not None and needed > available:
        raise EnsoError(
            f"model {model} on {where} needs about {needed / 1e9:,.1f} GB of memory to fit {len(seeds)} cell(s) "
            f"of {rows} rows, and {available / 1e9:,.1f} GB is available here; lower its size "
            f"(-o {model}.KEY=VALUE, see enso experiment --list) or run fewer --splits at once"
        )


def _check_inputs(
    dataset: str,
    featurizers: list[str],
    metas: dict[str, FeaturesMeta],
    models: list[str],
    workspace: Workspace,
    params: dict[str, dict[str, Any]],
) -> None:
    """A model that trains on token ids with no token-id features for a dataset, or whose teacher is not in the
    run, is a request error, not a skip."""
    for model in models:
        pairs = [f for f in featurizers if metas[f].sides == 2 or metas[f].report.get("pairs") == CROSS]
        if pairs and not MODELS.get(model).pairs:
            raise EnsoError(
                f"model {model!r} does not take sentence pairs yet, and {dataset!r} is a pair dataset: choose a model "
                f"on frozen features (logreg, mlp, svm, knn, lightgbm), cosine, or one that cross-encodes token ids "
                "(finetune, setfit)"
            )
        for featurizer, other in MODELS.get(model).requires(params.get(model, {})):
            if featurizer not in featurizers or other not in models:
                raise EnsoError(
                    f"model {model!r} needs {featurizer}:{other} in the run for dataset {dataset!r} "
                    f"(featurizers: {', '.join(featurizers)}; models: {', '.join(models)}); add it, or choose "
                    f"another with -o {model}.teacher=FEATURIZER:MODEL"
                )
        takes = MODELS.get(model).layouts
        if not any(metas[f].layout in takes for f in featurizers) and DENSE not in takes:
            paths = ", ".join(str(workspace.features_path(dataset, f)) for f in featurizers)
            held = either(sorted({LAYOUT_WORDS[metas[f].layout] for f in featurizers}))
            needs = NEEDS.get(next(iter(takes)), f"takes {either([LAYOUT_WORDS[t] for t in takes])}")
            raise EnsoError(
                f"model {model!r} {needs}, and {paths} "
                f"{'holds' if len(featurizers) == 1 else 'hold'} {held}; {_maker(next(iter(takes)), featurizers, dataset)}"
            )


def _unfit(model: str, meta: FeaturesMeta, params: dict[str, Any]) -> str | None:
    """Why a model cannot use these features, from what it declares; None where it can."""
    cls = MODELS.get(model)
    if cls.pairs == SIDES and meta.sides != 2:
        return f"{model} scores sentence pairs, and {meta.featurizer} features hold one text per row"
    if any(featurizer == meta.featurizer for featurizer, _ in cls.requires(params)):
        return f"{meta.featurizer} features are its teacher's own"
    if cls.layer_aware and meta.layers < 2:
        return f"{meta.featurizer} features have one layer (featurize with every layer stored to use it)"
    if meta.layout not in cls.layouts:
        takes = either([LAYOUT_WORDS[t] for t in cls.layouts])
        return f"{meta.featurizer} features are {LAYOUT_WORDS[meta.layout]}, and {model} takes {takes}"
    return None


#: each layout in the words of a skip reason (one table for every "cannot use these features")
LAYOUT_WORDS = {DENSE: "vectors", SPARSE: "sparse vectors", TOKEN_IDS: "token ids", TOKEN_VECTORS: "token vectors"}
#: what a model of one layout does with it, in a request error's words
NEEDS = {TOKEN_IDS: "trains on token ids", TOKEN_VECTORS: "reads token vectors"}


def _maker(layout: str, featurizers: list[str], dataset: str) -> str:
    """How to make a features file of ``layout`` for ``dataset``."""
    if layout == TOKEN_VECTORS:
        makers = [f for f in featurizers if f in TOKEN_VECTOR_FEATURIZERS] or [TOKEN_VECTOR_FEATURIZERS[0]]
        return (
            f"-o pooling=none of {either(TOKEN_VECTOR_FEATURIZERS)} makes them: "
            f"enso featurize -f {makers[0]} -d {dataset} -o pooling=none"
        )
    return f"run: enso featurize -f bert_tokens -d {dataset}"


def _warn_untrainable(dataset: str, labels: np.ndarray, split_plan: SplitPlan, warn: Callable[[str], None]) -> None:
    """Classes with test rows and no row to train on: no model can predict them, so every cell's scores
    include those rows as errors (a class of one row, which a hold-out keeps for testing, or a label only the
    official test split has). Said once, from the first split seed's plan, not found in the numbers."""
    pool = set(split_plan.order_labels.tolist())
    missing, counts = np.unique([y for y in labels[split_plan.test] if y not in pool], return_counts=True)
    if len(missing):
        shown = ", ".join(f"{label} ({n} test row{'s' if n > 1 else ''})" for label, n in zip(missing[:5], counts[:5]))
        more = f" and {len(missing) - 5} more" if len(missing) > 5 else ""
        warn(
            f"{dataset}: {len(missing)} class{'es' if len(missing) > 1 else ''} with test rows but no row to train "
            f"on, scored wrong by every model: {shown}{more}"
        )


def _usable_sizes(
    dataset: str, sizes: list[int], split_plan: SplitPlan, plan: Plan, warn: Callable[[str], None]
) -> list[int]:
    usable = []
    for size in sorted(set(sizes)):
        reason = split_plan.shortfall(size)
        if reason is None:
            usable.append(size)
            continue
        warn(f"{dataset}: skipping size {size}: {reason}")
        plan.skipped.append({"dataset": dataset, "train_size": size, "reason": reason})
    return usable
