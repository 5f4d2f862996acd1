"""The results writer: the only code that writes ``results/<run>/``.

It writes the run's ``config.json`` before the first cell, refuses to resume a run under a different
protocol, and rewrites ``results.parquet`` atomically as groups finish (confusion counts first, so a
result row never exists without its counts). An interrupted run keeps what it finished; a rerun with the
same name computes only the missing cells.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa

from enso_ng.errors import EnsoError
from enso_ng.experiment.cell import GroupResult
from enso_ng.experiment.config import RESUME_KEYS, ExperimentConfig
from enso_ng.experiment.metrics import METRICS
from enso_ng.experiment.models import MODELS
from enso_ng.experiment.samplers import SAMPLERS
from enso_ng.formats import (
    CONFUSION_FILE,
    CONFUSION_SCHEMA,
    RESULT_KEY,
    RESULTS_FILE,
    RESULTS_SCHEMA,
    RunRecord,
    read_confusion,
    read_results,
    result_keys,
)
from enso_ng.provenance import library_versions, machine
from enso_ng.workspace import write_parquet

FLUSH_SECONDS = 5.0


class ResultsWriter:
    """Collects group results and flushes them, with what was already there, every few seconds."""

    def __init__(
        self, run_dir: Path, config: ExperimentConfig, on_flush: Callable[[pa.Table], Any] | None = None
    ) -> None:
        self.run_dir = run_dir
        #: hears the whole results table after each write (e.g. the MLflow tracker), never before it
        self.on_flush = on_flush
        self.config = config
        self.results_path = run_dir / RESULTS_FILE
        self.confusion_path = run_dir / CONFUSION_FILE
        self.previous = read_results(self.results_path) if self.results_path.exists() else None
        self.done = result_keys(self.previous)
        self.previous_confusion = (
            _only_cells(read_confusion(self.confusion_path), self.done)
            if self.previous is not None and self.confusion_path.exists()
            else None
        )
        self.rows: list[dict[str, Any]] = []
        self.confusion: list[dict[str, Any]] = []
        self.skipped: list[dict[str, Any]] = []
        self._last_flush = time.perf_counter()

    def add(self, result: GroupResult) -> None:
        self.rows.extend(result.rows)
        self.confusion.extend(result.confusion)
        self.skipped.extend(result.skipped)
        if time.perf_counter() - self._last_flush >= FLUSH_SECONDS:
            self.flush()

    def flush(self) -> None:
        if not self.rows:
            return
        confusion = pa.Table.from_pylist(self.confusion, schema=CONFUSION_SCHEMA)
        if self.previous_confusion is not None:
            confusion = pa.concat_tables([self.previous_confusion, confusion])
        write_parquet(self.confusion_path, confusion, {"kind": "confusion", "run": self.config.name})
        table = pa.Table.from_pylist(self.rows, schema=RESULTS_SCHEMA)
        if self.previous is not None:
            table = pa.concat_tables([self.previous, table])
        try:
            write_parquet(self.results_path, table, {"kind": "results", "run": self.config.name})
        except BaseException:
            if self.previous is None:  # counts of cells no results file holds: not a run's output yet
                self.confusion_path.unlink(missing_ok=True)
            raise
        self._last_flush = time.perf_counter()
        if self.on_flush is not None:
            self.on_flush(table)

    def record(self, provenance: dict[str, Any], state: str) -> RunRecord:
        """The run's ``config.json`` as it stands (``state`` is "running" until the run ends)."""
        return RunRecord(
            run=self.config.name,
            config=dataclasses.asdict(self.config),
            split_seeds=self.config.split_seeds(),
            size_unit=SAMPLERS.get(self.config.sampler).unit,
            datasets=provenance,
            metrics={name: {"higher_is_better": METRICS.get(name).higher_is_better} for name in self.config.metrics},
            models={name: _model_record(self.config, name) for name in self.config.models},
            machine=machine(),
            skipped=self.skipped,
            versions=library_versions(),
            written=datetime.now(UTC).isoformat(timespec="seconds"),
            state=state,
        )


def _model_record(config: ExperimentConfig, model: str) -> dict[str, Any]:
    """What config.json says of a model: its strategy, the criterion its inner CV ranks candidates by, and
    every parameter it runs with, set or by default (recorded resolved, so that a default that changes
    between versions cannot change a resumed run)."""
    criterion = config.criterion_of(model)
    return {
        "strategy": MODELS.get(model).strategy,
        **({"criterion": criterion} if criterion else {}),
        "params": config.resolved_params(model),
    }


def check_resumable(saved: RunRecord | None, config: ExperimentConfig) -> None:
    """A rerun may add sizes, splits, models or datasets, but never mix cells drawn differently."""
    if saved is None:
        return
    for key in RESUME_KEYS:
        if key in saved.config and saved.config[key] != getattr(config, key):
            raise EnsoError(
                f"run {config.name!r} was made with {key}={saved.config[key]}, not {getattr(config, key)}; "
                f"choose another --name to start a new run"
            )
    # every cell of a run is scored by the same metrics: a resume that adds one would score only its new
    # cells by it (and a summary would read it as if the run had), one that drops one would leave old rows
    for key, then, now in (
        ("metrics", sorted(saved.config.get("metrics", config.metrics)), sorted(config.metrics)),
        ("train_metrics", saved.config.get("train_metrics", config.train_metrics), config.train_metrics),
    ):
        if then != now:
            flag = "--metrics " + ",".join(then) if key == "metrics" else ("" if then else "--no-train-metrics")
            raise EnsoError(
                f"run {config.name!r} was scored with {key}={then}, not {now}; choose another --name to start a "
                f"new run{f', or {flag} to resume it' if flag else ''}"
            )
    for model in config.models:
        now = config.criterion_of(model)
        if model not in saved.models or now is None:
            continue
        # runs recorded before criteria were recorded ranked candidates by accuracy
        then = saved.models[model].get("criterion", "accuracy")
        if then != now:
            raise EnsoError(
                f"run {config.name!r} chose {model}'s hyper-parameters by criterion {then!r}, not {now!r}; "
                f"choose another --name to start a new run, or -o {model}.criterion={then} to resume it"
            )
    # the criterion is compared resolved, above: set or by default, the same criterion is the same run
    before = {m: _without_criterion(p) for m, p in saved.config.get("model_params", {}).items()}
    now = {m: _without_criterion(p) for m, p in config.model_params.items()}
    explicit = set(before) | set(now)
    for model in explicit | set(config.models):
        recorded = saved.models.get(model, {}).get("params")
        if recorded is not None:  # every parameter, resolved: a changed default is caught too
            _same_params(config, model, recorded)
        elif model in explicit and before.get(model, {}) != now.get(model, {}):
            raise EnsoError(
                f"run {config.name!r} was made with {model} parameters {before.get(model, {})}, "
                f"not {config.model_params.get(model, {})}; choose another --name to start a new run"
            )


def _same_params(config: ExperimentConfig, model: str, recorded: dict[str, Any]) -> None:
    recorded, now = _without_criterion(recorded), _without_criterion(config.resolved_params(model))
    changed = sorted(k for k in set(recorded) | set(now) if recorded.get(k) != now.get(k))
    if not changed:
        return
    then_text = ", ".join(f"{k}={recorded.get(k)!r}" for k in changed)
    now_text = ", ".join(f"{k}={now.get(k)!r}" for k in changed)
    new = [k for k in changed if k not in recorded]
    if new:  # the model gained these since: no option gives the run's behaviour back, so none is offered
        raise EnsoError(
            f"run {config.name!r} was made with an older {model} (it had no {', '.join(new)}; then "
            f"{then_text}, now {now_text}) and cannot be resumed; choose another --name to start a new run"
        )
    options = " ".join(f"-o {model}.{k}={_option_value(recorded[k])}" for k in changed)
    raise EnsoError(
        f"run {config.name!r} was made with {model} {then_text}, not {now_text}; choose another --name to "
        f"start a new run, or {options} to resume it"
    )


def _option_value(value: Any) -> str:
    return ",".join(map(str, value)) if isinstance(value, list) else str(value)


def _without_criterion(params: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in params.items() if k != "criterion"}


def _only_cells(confusion: pa.Table, done: set[tuple]) -> pa.Table:
    """Confusion counts of the cells the results file holds (a run killed between the two writes has more)."""
    columns = [confusion.column(k).to_pylist() for k in RESULT_KEY]
    keep = pa.array([key in done for key in zip(*columns)], pa.bool_())
    return confusion.filter(keep)


def check_same_inputs(saved: RunRecord | None, config: ExperimentConfig, provenance: dict[str, Any]) -> None:
    """Resume only on the data and features the run was made from: same dataset fingerprint, same
    featurizer parameters. Otherwise old cells and new cells would describe different inputs."""
    if saved is None:
        return
    for dataset, now in provenance.items():
        before = saved.datasets.get(dataset, {}).get("features", {})
        for featurizer, current in now.get("features", {}).items():
            then = before.get(featurizer)
            if then is None:
                continue
            for key, what in (("dataset_fingerprint", "dataset fingerprint"), ("params", "featurizer parameters")):
                if then.get(key) != current.get(key):
                    raise EnsoError(
                        f"run {config.name!r} was made from {dataset}/{featurizer} with {what} {then.get(key)}, "
                        f"but the features now have {current.get(key)} (re-downloaded or re-featurized); "
                        f"choose another --name to start a new run"
                    )


def merged_provenance(saved: RunRecord | None, provenance: dict[str, Any]) -> dict[str, Any]:
    """What the run recorded before, updated with this invocation's datasets and features."""
    merged = dict(saved.datasets) if saved else {}
    for dataset, now in provenance.items():
        features = {**merged.get(dataset, {}).get("features", {}), **now.get("features", {})}
        selection = dict(merged.get(dataset, {}).get("selection", {}))
        for sampler, info in now.get("selection", {}).items():  # the seeds of every invocation, kept
            seconds = {**selection.get(sampler, {}).get("seconds", {}), **info["seconds"]}
            selection[sampler] = {**info, "seconds": seconds}
        merged[dataset] = {**now, "features": features, **({"selection": selection} if selection else {})}
    return merged
