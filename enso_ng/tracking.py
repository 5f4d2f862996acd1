"""MLflow tracking of a run (``--mlflow URI``), for ``enso experiment`` and ``enso visualize``.

An enso run is one MLflow experiment named after it. Its parent run holds the resolved configuration as
parameters and the library versions as tags; each dataset x featurizer x model x size has a child run
with the chosen hyper-parameters, each metric's mean, standard deviation and 95% interval, the per-split
values (as the metric ``<name>_by_split``, one step per split seed) and the fit and predict times.

MLflow mirrors ``results.parquet``; it never replaces it. Children are logged from the results file after
each write, so MLflow holds nothing the file does not; runs are found again by their tags, so a resumed
run continues the same parent and children and logs only the split seeds they do not have yet.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import time
import urllib.parse
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from enso_ng.errors import EnsoError
from enso_ng.formats import CELL_KEY, RESULT_KEY, RunRecord

ENV_TRACKING = "MLFLOW_TRACKING_URI"
INSTALL_HINT = "--mlflow needs MLflow: pip install 'enso_ng[mlflow]'"
ROLE, CELL, SPLITS, STATE = "enso.role", "enso.cell", "enso.splits", "enso.state"
TIMES = ("fit_seconds", "predict_seconds")
#: MLflow's limits per log_batch call, and on a parameter's value
BATCH_METRICS, BATCH_PARAMS, BATCH_TAGS, PARAM_CHARS = 1000, 100, 100, 6000
STATUS = {"running": "RUNNING", "complete": "FINISHED", "interrupted": "KILLED"}


#: the tracking stores MLflow knows, by URI scheme (a scheme's driver suffix, ``postgresql+psycopg2``, aside);
#: a URI without a scheme is a folder (MLflow's file store)
SCHEMES = ("http", "https", "sqlite", "postgresql", "mysql", "mssql", "file", "databricks", "databricks-uc", "uc")
#: the libraries that log a store's failure with a traceback of their own before enso's one line
LIBRARY_LOGGERS = ("mlflow", "sqlalchemy", "alembic", "urllib3")


def check_tracking_uri(uri: str) -> None:
    """A URI MLflow can open, checked before any work (and before a run writes anything)."""
    scheme = urllib.parse.urlsplit(uri).scheme.partition("+")[0].lower()
    if "://" in uri and scheme not in SCHEMES:
        raise EnsoError(
            f"--mlflow {uri}: no MLflow store has the scheme {scheme!r} "
            f"(use http://HOST:PORT, https://..., sqlite:///FILE.db, postgresql://..., mysql://... or a folder)"
        )


def connect(uri: str) -> Any:
    """An ``MlflowClient`` of the store at ``uri``, reached once (its experiments listed) before any work: a
    bad scheme, a missing MLflow or a store that does not answer is one line, not a failure after a fit."""
    check_tracking_uri(uri)
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "2")  # a dead server: an error in seconds
    try:
        from mlflow.tracking import MlflowClient
    except ImportError:
        raise EnsoError(INSTALL_HINT) from None
    _quiet_mlflow()
    with tracking_errors(uri):
        client = MlflowClient(tracking_uri=uri)
        client.search_experiments(max_results=1)
    return client


@contextlib.contextmanager
def tracking_errors(uri: str) -> Iterator[None]:
    """An MLflow or connection failure as one line naming the tracking URI, and nothing else: the libraries'
    own loggers (MLflow's SQLAlchemy tracebacks) are silenced for the call, enso's line says it."""
    with _libraries_silenced():
        try:
            yield
        except EnsoError:
            raise
        except Exception as exc:  # MlflowException, requests' connection errors, ...
            first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
            raise EnsoError(f"--mlflow {uri}: {first[:300]}") from None


@contextlib.contextmanager
def _libraries_silenced() -> Iterator[None]:
    loggers = [logging.getLogger(name) for name in LIBRARY_LOGGERS]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.CRITICAL + 1)
    try:
        yield
    finally:
        for logger, level in zip(loggers, levels):
            logger.setLevel(level)


@dataclass
class Child:
    run_id: str
    seeds: set[int] = field(default_factory=set)


class RunTracker:
    """The MLflow side of one enso run: its experiment, parent run and children, found or created."""

    def __init__(self, uri: str, run: str) -> None:
        self.client = connect(uri)
        from mlflow.entities import Metric, Param, RunTag

        self._entities = (Metric, Param, RunTag)
        self.uri, self.run = uri, run
        self.broken = False
        with tracking_errors(uri):
            experiment = self.client.get_experiment_by_name(run)
            if experiment is None:
                self.experiment_id = self.client.create_experiment(run, artifact_location=_artifact_root(uri, run))
            else:
                self.experiment_id = experiment.experiment_id
            self.parent = self._find_parent()
            self.children = self._find_children()

    def start(self, record: RunRecord, results: pa.Table | None) -> None:
        """Open (or reopen) the parent with the run's configuration; log what ``results`` holds already."""
        with tracking_errors(self.uri):
            config = {key: _param_value(value) for key, value in sorted(record.config.items())}
            versions = {f"enso.version.{name}": version for name, version in record.versions.items()}
            tags = {ROLE: "parent", STATE: record.state, **versions}
            if self.parent is None:
                self.parent = self.client.create_run(self.experiment_id, tags=tags, run_name=self.run).info.run_id
                self._log(self.parent, params=config)
            else:
                self.client.update_run(self.parent, status="RUNNING")
                before = self.client.get_run(self.parent).data.params
                new = {key: value for key, value in config.items() if key not in before}
                # params cannot change: a resume that widens the grid records the new values as tags
                changed = {f"enso.config.{key}": v for key, v in config.items() if key in before and before[key] != v}
                self._log(self.parent, params=new, tags={**tags, **changed})
            self.client.log_dict(self.parent, _jsonable(record), "config.json")
        if results is not None:
            self.sync(results)

    def sync(self, results: pa.Table) -> int:
        """Log every cell group whose split seeds in ``results`` are not all in MLflow yet; how many."""
        updated = 0
        with tracking_errors(self.uri):
            for key, rows in _groups(results).items():
                child = self.children.get(key)
                seeds = {row["split"] for row in rows}
                if child is not None and seeds <= child.seeds:
                    continue
                metrics, params = _child_values(rows, child.seeds if child else set())
                if child is None:
                    tags = {ROLE: "child", CELL: key, "mlflow.parentRunId": self.parent}
                    child = Child(self.client.create_run(self.experiment_id, tags=tags, run_name=key).info.run_id)
                    self.children[key] = child
                    params.update({name: str(value) for name, value in zip(CELL_KEY, rows[0]["cell"])})
                child.seeds |= seeds
                self._log(child.run_id, metrics, params, {SPLITS: ",".join(map(str, sorted(child.seeds)))})
                self.client.set_terminated(child.run_id, "FINISHED")
                updated += 1
        return updated

    def mirror(self, results: pa.Table, warn: Callable[[str], None]) -> None:
        """:meth:`sync` during a run: a tracking failure there stops tracking with a warning rather than
        failing the grid, since ``results.parquet`` is safe and a resume logs what MLflow missed."""
        if self.broken:
            return
        try:
            self.sync(results)
        except EnsoError as exc:
            self.broken = True
            warn(
                f"{exc}; MLflow tracking stopped (results.parquet is complete: rerun with the same --name to log the rest)"
            )

    def finish(self, state: str) -> None:
        if self.broken:
            return
        with tracking_errors(self.uri):
            self.client.set_tag(self.parent, STATE, state)
            self.client.set_terminated(self.parent, STATUS.get(state, "FINISHED"))

    def log_artifacts(self, paths: list[Path]) -> None:
        """Figures and ``report.html`` of ``enso visualize``, as artifacts of the parent run."""
        with tracking_errors(self.uri):
            for path in paths:
                self.client.log_artifact(self.parent, str(path))

    def _find_parent(self) -> str | None:
        runs = self._search(f"tags.`{ROLE}` = 'parent'")
        return runs[0].info.run_id if runs else None

    def _find_children(self) -> dict[str, Child]:
        found: dict[str, Child] = {}
        for run in self._search(f"tags.`{ROLE}` = 'child'"):
            splits = run.data.tags.get(SPLITS, "")
            found[run.data.tags[CELL]] = Child(run.info.run_id, {int(s) for s in splits.split(",") if s})
        return found

    def _search(self, where: str) -> list[Any]:
        runs, token = [], None
        while True:
            page = self.client.search_runs([self.experiment_id], where, max_results=1000, page_token=token)
            runs.extend(page)
            token = page.token
            if not token:
                return runs

    def _log(
        self,
        run_id: str,
        metrics: list[tuple[str, float, int]] = (),  # type: ignore[assignment]
        params: dict[str, str] | None = None,
        tags: dict[str, str] | None = None,
    ) -> None:
        """Everything in as few ``log_batch`` calls as MLflow's limits allow."""
        Metric, Param, RunTag = self._entities
        now = int(time.time() * 1000)
        metric_list = [Metric(name, value, now, step) for name, value, step in metrics]
        param_list = [Param(k, v[:PARAM_CHARS]) for k, v in (params or {}).items()]
        tag_list = [RunTag(k, v[:PARAM_CHARS]) for k, v in (tags or {}).items()]
        while metric_list or param_list or tag_list:
            self.client.log_batch(
                run_id,
                metrics=metric_list[:BATCH_METRICS],
                params=param_list[:BATCH_PARAMS],
                tags=tag_list[:BATCH_TAGS],
            )
            metric_list = metric_list[BATCH_METRICS:]
            param_list, tag_list = param_list[BATCH_PARAMS:], tag_list[BATCH_TAGS:]


def log_visualization(uri: str, run_dir: Path, paths: list[Path]) -> str:
    """``enso visualize --mlflow``: the run mirrored (children it lacks are logged, as on a resume) and
    ``paths`` logged as artifacts of its parent run; the parent's id."""
    from enso_ng.formats import RESULTS_FILE, read_results

    record = RunRecord.read(run_dir)
    if record is None:
        raise EnsoError(f"{run_dir}: no config.json, not a run")
    tracker = RunTracker(uri, record.run)
    tracker.start(record, read_results(run_dir / RESULTS_FILE))
    tracker.log_artifacts(paths)
    tracker.finish(record.state)
    return str(tracker.parent)


def _groups(results: pa.Table) -> dict[str, list[dict[str, Any]]]:
    """``dataset/featurizer/model/size[/sampler]`` -> its result rows (one per cell and metric)."""
    names = (*RESULT_KEY, "metric", "value", *TIMES, "params")
    columns = [results.column(name).to_pylist() for name in names]
    out: dict[str, list[dict[str, Any]]] = {}
    for values in zip(*columns):
        row = dict(zip(names, values))
        row["cell"] = values[: len(CELL_KEY)]
        out.setdefault(cell_name(*row["cell"]), []).append(row)
    return out


def cell_name(dataset: str, featurizer: str, model: str, sampler: str, size: int) -> str:
    """A child run's name and ``enso.cell`` tag (the sampler named where it is not the default, so the
    names of runs from before samplers were an axis do not change)."""
    return f"{dataset}/{featurizer}/{model}/{size}" + ("" if sampler == "stratified" else f"/{sampler}")


def _child_values(rows: list[dict[str, Any]], logged: set[int]) -> tuple[list[tuple[str, float, int]], dict[str, str]]:
    """Metrics (name, value, step) and params of one child: aggregates over every seed, per-split values
    and chosen hyper-parameters only for the seeds not ``logged`` yet."""
    from scipy import stats

    by_metric: dict[str, dict[int, float]] = {}
    per_seed: dict[int, dict[str, Any]] = {}
    for row in rows:
        by_metric.setdefault(row["metric"], {})[row["split"]] = row["value"]
        per_seed[row["split"]] = row
    for name in TIMES:
        by_metric[name] = {seed: row[name] for seed, row in per_seed.items() if row[name] is not None}
    metrics: list[tuple[str, float, int]] = []
    for name, values in sorted(by_metric.items()):
        if not values:
            continue
        v = np.array(list(values.values()), dtype=float)
        step = len(v)  # a resume that adds seeds adds a step: the history shows the estimate growing
        metrics.append((name, float(v.mean()), step))
        if len(v) > 1:  # one split has no spread: std and interval are undefined, not zero
            std = float(v.std(ddof=1))
            half = float(stats.t.ppf(0.975, len(v) - 1) * std / np.sqrt(len(v)))
            metrics += [(f"{name}_std", std, step), (f"{name}_ci_low", v.mean() - half, step)]
            metrics.append((f"{name}_ci_high", float(v.mean() + half), step))
        metrics += [(f"{name}_by_split", float(value), seed) for seed, value in values.items() if seed not in logged]
    params: dict[str, str] = {}
    for seed, row in per_seed.items():
        if seed not in logged:
            for key, value in json.loads(row["params"] or "{}").items():
                params[f"split_{seed}.{key}"] = _param_value(value)
    return [(n, float(v), s) for n, v, s in metrics if np.isfinite(v)], params


def _param_value(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, sort_keys=True, default=str)


def _jsonable(record: RunRecord) -> dict[str, Any]:
    import dataclasses

    return json.loads(json.dumps(dataclasses.asdict(record), default=str))


def _artifact_root(uri: str, run: str) -> str | None:
    """Artifacts of a SQLite store go beside the database file (MLflow's default is ./mlruns of the
    current directory); a tracking server decides for itself."""
    if uri.startswith("sqlite:///"):
        return (Path(uri.removeprefix("sqlite:///")).parent / "mlartifacts" / run).resolve().as_uri()
    return None


def _quiet_mlflow() -> None:
    """MLflow's INFO lines (database set-up, ...) are not the user's business on an enso command's stderr."""
    import logging

    for name in ("mlflow", "alembic"):
        logging.getLogger(name).setLevel(logging.WARNING)
