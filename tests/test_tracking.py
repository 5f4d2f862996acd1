"""``--mlflow``: runs tracked in a real MLflow backend (a SQLite store, and an ``mlflow server`` process on
127.0.0.1), read back through ``MlflowClient`` and checked against ``results.parquet``."""

from __future__ import annotations

import json
import sys
import time

import numpy as np
import pytest
from scipy import stats
from services import mlflow_server

from enso_ng.formats import read_results

from conftest import invoke
from reliability import one_line_error

mlflow = pytest.importorskip("mlflow", reason="needs the enso_ng[mlflow] extra")


def tracked(uri: str, run: str):
    """(client, experiment, parent run, {cell: child run}) as MLflow holds them."""
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=uri)
    experiment = client.get_experiment_by_name(run)
    assert experiment is not None, f"no MLflow experiment named {run!r}"
    runs = client.search_runs([experiment.experiment_id], max_results=1000)
    parents = [r for r in runs if r.data.tags.get("enso.role") == "parent"]
    children = [r for r in runs if r.data.tags.get("enso.role") == "child"]
    cells = {r.data.tags["enso.cell"]: r for r in children}
    assert len(parents) == 1 and len(cells) == len(children), "a parent or child run is duplicated"
    return client, experiment, parents[0], cells


def by_cell(results_path) -> dict[str, dict]:
    """cell name -> metric -> split -> value, and the chosen parameters and times per split."""
    table = read_results(results_path)
    out: dict[str, dict] = {}
    names = ("dataset", "featurizer", "model", "train_size", "split", "metric", "value", "params", "fit_seconds")
    for d, f, m, size, split, metric, value, params, fit in zip(*(table.column(c).to_pylist() for c in names)):
        cell = out.setdefault(f"{d}/{f}/{m}/{size}", {"metrics": {}, "params": {}, "fit": {}})
        cell["metrics"].setdefault(metric, {})[split] = value
        cell["params"][split] = json.loads(params)
        cell["fit"][split] = fit
    return out


def check_against_results(client, cells: dict, results_path) -> None:
    """Every child holds its cells' means, spreads, per-split values and chosen hyper-parameters."""
    expected = by_cell(results_path)
    assert set(cells) == set(expected)
    for name, want in expected.items():
        run = cells[name]
        metrics, params = run.data.metrics, run.data.params
        assert run.info.status == "FINISHED"
        assert run.data.tags["enso.splits"] == ",".join(map(str, sorted(want["params"])))
        for metric, values in want["metrics"].items():
            v = np.array([values[s] for s in sorted(values)])
            assert metrics[metric] == pytest.approx(v.mean(), rel=1e-12), (name, metric)
            if len(v) > 1:
                assert metrics[f"{metric}_std"] == pytest.approx(v.std(ddof=1), rel=1e-9, abs=1e-15)
                half = stats.t.ppf(0.975, len(v) - 1) * v.std(ddof=1) / np.sqrt(len(v))  # the 95% t-interval
                assert metrics[f"{metric}_ci_low"] == pytest.approx(v.mean() - half, rel=1e-9, abs=1e-12)
                assert metrics[f"{metric}_ci_high"] == pytest.approx(v.mean() + half, rel=1e-9, abs=1e-12)
        history = client.get_metric_history(run.info.run_id, "accuracy_by_split")
        assert sorted((m.step, m.value) for m in history) == sorted(want["metrics"]["accuracy"].items())
        assert metrics["fit_seconds"] == pytest.approx(np.mean(list(want["fit"].values())), rel=1e-9)
        for split, chosen in want["params"].items():
            for key, value in chosen.items():
                logged = params[f"split_{split}.{key}"]
                assert logged == (value if isinstance(value, str) else json.dumps(value)), (name, split, key)
        assert params["model"] == name.split("/")[2] and params["train_size"] == name.split("/")[3]


def test_a_sqlite_store_holds_the_run_and_a_resume_continues_the_same_runs(workspace, tmp_path):
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    grid = ("-f", "bert", "-m", "logreg", "--sizes", "30,60", "--name", "tracked", "--mlflow", uri)
    result = invoke(workspace, "experiment", *grid, "--splits", "2")
    assert result.exit_code == 0, result.output
    results = workspace / "results" / "tracked" / "results.parquet"
    client, experiment, parent, cells = tracked(uri, "tracked")
    check_against_results(client, cells, results)
    assert parent.data.params["sizes"] == "[30, 60]" and parent.data.params["splits"] == "2"
    assert parent.data.tags["enso.version.numpy"] == np.__version__ and parent.info.status == "FINISHED"
    assert "config.json" in [a.path for a in client.list_artifacts(parent.info.run_id)]
    before = {name: run.info.run_id for name, run in cells.items()}

    result = invoke(workspace, "experiment", *grid, "--splits", "3")  # the same run, one split seed more
    assert result.exit_code == 0, result.output
    client, _, resumed, cells = tracked(uri, "tracked")
    assert resumed.info.run_id == parent.info.run_id
    assert {name: run.info.run_id for name, run in cells.items()} == before, "a resume made new child runs"
    check_against_results(client, cells, results)  # also: each split's value logged once, not twice
    assert resumed.data.tags["enso.config.splits"] == "3" and resumed.data.params["splits"] == "2"


def test_an_mlflow_server_gets_the_run_from_visualize_with_its_figures_and_from_a_resume(run_workspace, tmp_path):
    results = run_workspace / "results" / "small" / "results.parquet"
    with mlflow_server(tmp_path / "mlflow") as url:
        result = invoke(run_workspace, "visualize", "--run", "small", "--no-tsne", "--mlflow", url)
        assert result.exit_code == 0, result.output
        client, _, parent, cells = tracked(url, "small")
        check_against_results(client, cells, results)
        artifacts = {a.path for a in client.list_artifacts(parent.info.run_id)}
        drawn = {line.rsplit("/", 1)[-1] for line in result.output.splitlines() if line.startswith("wrote ")}
        assert {"report.html", "learning_curves.png"} <= drawn <= artifacts  # every figure, the report
        before = {name: run.info.run_id for name, run in cells.items()}

        args = ("experiment", "--sizes", "30,120,240", "--splits", "2", "-m", "logreg", "--name", "small")
        result = invoke(run_workspace, *args, "--mlflow", url)
        assert result.exit_code == 0, result.output
        client, _, resumed, cells = tracked(url, "small")
        assert resumed.info.run_id == parent.info.run_id
        assert {n: cells[n].info.run_id for n in before} == before and len(cells) == len(before) + 2
        check_against_results(client, cells, results)


def test_tracking_errors_are_one_line(workspace, monkeypatch):
    started = time.monotonic()
    dead = invoke(
        workspace, "experiment", "-m", "logreg", "--sizes", "30", "--name", "x", "--mlflow", "http://127.0.0.1:9"
    )
    one_line_error(dead, "--mlflow http://127.0.0.1:9")
    assert time.monotonic() - started < 60 and not (workspace / "results").exists()
    for name in ("mlflow", "mlflow.entities", "mlflow.tracking"):
        monkeypatch.setitem(sys.modules, name, None)  # what an environment without the extra imports
    missing = invoke(
        workspace, "experiment", "-m", "logreg", "--sizes", "30", "--name", "x", "--mlflow", "sqlite:///m.db"
    )
    one_line_error(missing, "pip install 'enso_ng[mlflow]'")
