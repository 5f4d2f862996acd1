"""The results writer: the only code that writes ``results/<run>/``.

It writes the run's ``config.json`` before the first cell, refuses to resume a run under a different
protocol, and rewrites ``results.parquet`` atomically as groups finish (confusion counts first, so a
result row never exists without its counts). An interrupted run keeps what it finished; a rerun with the
same name computes only the missing cells.
"""

from __future__ import annotations

import dataclasses
import time
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

    def __init__(self, run_dir: Path, config: ExperimentConfig) -> None:
        self.run_dir = run_dir
        self.config = config
        self.results_path = run_dir / RESULTS_FILE
        self.confusion_path = run_dir / CONFUSION_FILE
        self.previous = read_results(self.results_path) if self.results_path.exists() else None
        self.previous_confusion = (
            read_confusion(self.confusion_path) if self.previous is not None and self.confusion_path.exists() else None
        )
        self.done = result_keys(self.previous)
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
        write_parquet(self.results_path, table, {"kind": "results", "run": self.config.name})
        self._last_flush = time.perf_counter()

    def record(self, provenance: dict[str, Any], state: str) -> RunRecord:
        """The run's ``config.json`` as it stands (``state`` is "running" until the run ends)."""
        return RunRecord(
            run=self.config.name,
            config=dataclasses.asdict(self.config),
            split_seeds=self.config.split_seeds(),
            size_unit=SAMPLERS.get(self.config.sampler).unit,
            datasets=provenance,
            metrics={name: {"higher_is_better": METRICS.get(name).higher_is_better} for name in self.config.metrics},
            models={name: {"strategy": MODELS.get(name).strategy} for name in self.config.models},
            machine=machine(),
            skipped=self.skipped,
            versions=library_versions(),
            written=datetime.now(UTC).isoformat(timespec="seconds"),
            state=state,
        )


def check_resumable(run_dir: Path, config: ExperimentConfig) -> None:
    """A rerun may add sizes, splits, models or datasets, but never mix cells drawn differently."""
    saved = RunRecord.read(run_dir)
    if saved is None:
        return
    for key in RESUME_KEYS:
        if key in saved.config and saved.config[key] != getattr(config, key):
            raise EnsoError(
                f"run {config.name!r} was made with {key}={saved.config[key]}, not {getattr(config, key)}; "
                f"choose another --name to start a new run"
            )
    before = saved.config.get("model_params", {})
    for model in set(before) | set(config.model_params):
        if before.get(model, {}) != config.model_params.get(model, {}):
            raise EnsoError(
                f"run {config.name!r} was made with {model} parameters {before.get(model, {})}, "
                f"not {config.model_params.get(model, {})}; choose another --name to start a new run"
            )
