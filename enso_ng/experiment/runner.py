"""The grid runner: every dataset x featurizer x model x training size x split seed.

It plans the groups still to compute (:mod:`selection`), hands them to an executor (:mod:`executor`),
and passes what comes back to the results writer (:mod:`writer`). Results are long-format rows (one per
metric) in ``results/<run>/results.parquet``.
"""

from __future__ import annotations

import contextlib
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from enso_ng.errors import EnsoError
from enso_ng.experiment.config import ExperimentConfig
from enso_ng.experiment.executor import EXECUTORS
from enso_ng.experiment.selection import plan_run, select
from enso_ng.experiment.writer import ResultsWriter, check_resumable, check_same_inputs, merged_provenance
from enso_ng.formats import CONFIG_FILE, RunRecord
from enso_ng.progress import bar, ticking
from enso_ng.tracking import RunTracker, check_tracking_uri
from enso_ng.workspace import LOCK_FILE, Workspace, run_lock


@dataclass
class Outcome:
    """What a run did: where it wrote, how many cells it computed and found, and what it skipped."""

    run: str
    path: str
    cells: int
    resumed_cells: int
    seconds: float
    skipped: list[dict[str, Any]] = field(default_factory=list)
    #: the run's config.json as the run left it (each metric's direction, the models' criteria)
    record: RunRecord | None = None

    def line(self) -> str:
        """``wrote PATH: N new cells, M already there in S s``."""
        resumed = f", {self.resumed_cells} already there" if self.resumed_cells else ""
        return f"wrote {self.path}: {self.cells} new cells{resumed} in {self.seconds:.1f} s"


def run_experiment(
    workspace: Workspace,
    config: ExperimentConfig,
    warn: Callable[[str], None] = print,
    executor: str | None = None,
    mlflow: str | None = None,
) -> Outcome:
    """Run (or resume) the grid, holding the run's lock throughout. ``warn`` hears about skips at once.

    ``executor`` defaults to ``dask`` with ``config.scheduler``, else ``local``; ``mlflow`` is a tracking URI
    that mirrors the results file as it is written.
    """
    config.validate()
    if mlflow:
        check_tracking_uri(mlflow)
    executor = executor or ("dask" if config.scheduler else "local")
    chosen = select(workspace, config)  # missing features fail here, before the run's folder exists
    run_dir = workspace.run_dir(config.name)
    new_results, new_run = not workspace.results_dir.exists(), not run_dir.exists()
    try:
        with run_lock(run_dir, config.name):
            return _run_locked(workspace, config, chosen, warn, executor, mlflow)
    except BaseException:
        if new_run and run_dir.is_dir() and not any(p.name != LOCK_FILE for p in run_dir.iterdir()):
            shutil.rmtree(run_dir, ignore_errors=True)  # a run that wrote nothing leaves no folder
            if new_results:
                with contextlib.suppress(OSError):
                    workspace.results_dir.rmdir()
        raise


def _run_locked(
    workspace: Workspace,
    config: ExperimentConfig,
    chosen: dict[str, list[str]],
    warn: Callable[[str], None],
    executor: str,
    mlflow: str | None,
) -> Outcome:
    run_dir = workspace.run_dir(config.name)
    saved = RunRecord.read(run_dir)  # what a resumed run recorded, read once under the lock
    config.check_option_models(list(saved.models) if saved else [])
    check_resumable(saved, config)
    tracker = RunTracker(mlflow, config.name) if mlflow else None  # an unreachable tracker fails before work
    writer = ResultsWriter(run_dir, config, on_flush=(lambda table: tracker.mirror(table, warn)) if tracker else None)
    plan = plan_run(workspace, config, chosen, writer.done, warn)
    check_same_inputs(saved, config, plan.provenance)
    if not plan.groups and not writer.done:
        reasons = "; ".join(sorted({_skip_line(s) for s in plan.skipped})) or "nothing selected"
        raise EnsoError(f"run {config.name!r}: no cell can run ({reasons})")
    writer.skipped.extend(plan.skipped)
    provenance = merged_provenance(saved, plan.provenance)
    started = time.perf_counter()
    cells = sum(len(g.seeds) for g in plan.groups)
    record = writer.record(provenance, state="running")
    state, final = "interrupted", record
    fit_skips: list[dict[str, Any]] = []
    # entered first: a cluster that cannot run the grid fails before config.json says a run started
    with EXECUTORS.get(executor)(plan.groups, workspace.root, config) as results:
        record.write(run_dir)
        if tracker is not None:
            tracker.start(record, writer.previous)
        try:
            with bar(cells, desc=config.name, unit="cell") as progress, ticking(progress):
                waiting = list(plan.groups)  # in plan order: the first not finished is the one being fitted
                _say_fitting(progress, waiting)
                for result, group in results:
                    for skip in result.skipped:
                        by = f" sampler {skip['sampler']}" if config.samplers else ""  # else one line a sampler alike
                        warn(
                            f"{skip['dataset']}: skipping {skip['featurizer']} {skip['model']} size "
                            f"{skip['train_size']} split {skip['split']}{by}: {skip['reason']}"
                        )
                    fit_skips.extend(result.skipped)
                    writer.add(result)
                    progress.update(len(group.seeds))
                    waiting = [g for g in waiting if g != group]
                    _say_fitting(progress, waiting)
            state = "complete"
        finally:
            writer.flush()
            final = writer.record(provenance, state=state)
            final.write(run_dir)
            if tracker is not None:
                tracker.finish(state)
    _check_something_ran(writer, run_dir, config, fit_skips)
    return Outcome(
        run=config.name,
        path=str(writer.results_path),
        cells=cells - len(fit_skips),
        resumed_cells=len(writer.done),
        seconds=time.perf_counter() - started,
        skipped=writer.skipped,
        record=final,
    )


def _say_fitting(progress: Any, waiting: list) -> None:
    """Name the group being fitted beside the bar (which counts cells only as each group ends)."""
    if waiting:
        g = waiting[0]
        progress.set_postfix_str(f"fitting {g.dataset} {g.featurizer} {g.model} size {g.size}")


def _check_something_ran(writer: ResultsWriter, run_dir: Path, config: ExperimentConfig, fit_skips: list) -> None:
    """Every cell skipped as it was fitted is a run of nothing: its config.json goes (so that run_experiment
    removes the folder) and the skips' reasons are the error."""
    if not writer.results_path.exists():
        (run_dir / CONFIG_FILE).unlink(missing_ok=True)
        reasons = "; ".join(sorted({_skip_line(s) for s in fit_skips}))
        raise EnsoError(f"run {config.name!r}: no cell can run (all {len(fit_skips)} skipped: {reasons})")


def _skip_line(skip: dict[str, Any]) -> str:
    """A planned skip in a few words: which size, or which model on which features, and why."""
    what = f"size {skip['train_size']}" if "train_size" in skip else f"{skip.get('model')} on {skip.get('featurizer')}"
    return f"{skip['dataset']} {what}: {skip['reason']}"
