"""What a run does when the world changes under it (issue 30, items 6 and 18): its features rewritten by
another ``enso featurize``, its Dask scheduler killed. It stops with one line, keeps the cells it finished,
and its ``config.json`` describes only the inputs those cells used.

The change is made at a fixed point (after the run's first group is written: the writer's ``add`` is
wrapped to make it, then carries on), with the real command and real processes, so the tests do not
depend on timing.
"""

from __future__ import annotations

import json
import shutil
import signal
from pathlib import Path

import pytest

from enso_ng.experiment.writer import ResultsWriter
from enso_ng.formats import FeaturesMeta, read_results

from conftest import invoke
from reliability import one_line_error, own_workspace


@pytest.fixture(scope="module")
def _tiny(tmp_path_factory) -> Path:
    return own_workspace(tmp_path_factory.mktemp("tiny") / "ws", "tfidf")


@pytest.fixture
def ws(_tiny, tmp_path) -> Path:
    return Path(shutil.copytree(_tiny, tmp_path / "ws"))


def _after_first_group(monkeypatch, change) -> list:
    """Make ``change`` once, right after the run's first group reaches the writer; the groups seen."""
    seen: list = []
    add = ResultsWriter.add

    def add_then_change(self, result):
        add(self, result)
        seen.append(result)
        if len(seen) == 1:
            change()

    monkeypatch.setattr(ResultsWriter, "add", add_then_change)
    return seen


def test_features_rewritten_mid_run_stop_it_with_one_line(ws, monkeypatch):
    """(Every executor runs groups through ``cell.run_group``, which checks; with --jobs 1 the point at which
    the features change is fixed, so this test does not depend on timing.)"""
    path = ws / "features" / "own" / "tfidf.parquet"
    before = FeaturesMeta.read(path).params

    def refeaturize():
        result = invoke(ws, "featurize", "-f", "tfidf", "-o", "min_df=1", "--force")
        assert result.exit_code == 0, result.output
        assert FeaturesMeta.read(path).params != before

    _after_first_group(monkeypatch, refeaturize)
    result = invoke(
        ws, "experiment", "-m", "logreg,knn", "--sizes", "10,20,40", "--splits", "2", "--name", "r",
    )  # fmt: skip
    one_line_error(result, str(path), "changed while run 'r' was running")
    config = json.loads((ws / "results" / "r" / "config.json").read_text())
    assert config["state"] == "interrupted"
    assert config["datasets"]["own"]["features"]["tfidf"]["params"] == before, "config.json names other features"
    done = read_results(ws / "results" / "r" / "results.parquet")
    cells = set(zip(*(done.column(c).to_pylist() for c in ("model", "train_size"))))
    assert 1 <= len(cells) < 6, "cells after the change were computed on the new features"
    # and a resume is refused: the run's cells and the features now differ
    one_line_error(invoke(ws, "experiment", "-m", "logreg,knn", "--sizes", "10,20,40", "--splits", "2", "--name", "r"))


def test_features_rewritten_with_the_same_parameters_between_groups_also_stop_it(ws, monkeypatch):
    """A rewrite is a change even when the parameters match (another dataset version's fingerprint, or
    weights replaced under the same name would look the same): the file's identity is what is checked."""
    path = ws / "features" / "own" / "tfidf.parquet"

    def rewrite():
        result = invoke(ws, "featurize", "-f", "tfidf", "--force")
        assert result.exit_code == 0, result.output

    _after_first_group(monkeypatch, rewrite)
    result = invoke(ws, "experiment", "-m", "logreg", "--sizes", "10,20,40", "--splits", "1", "--name", "s")
    one_line_error(result, str(path), "changed while run 's' was running")


def test_a_killed_scheduler_is_one_line_and_keeps_the_cells_so_far(ws, monkeypatch, tmp_path, capfd):
    pytest.importorskip("distributed", reason="needs the enso_ng[dask] extra")
    from services import dask_cluster

    with dask_cluster(tmp_path / "cluster", workers=1) as cluster:
        scheduler = cluster.processes[0]

        def kill_scheduler():
            scheduler.send_signal(signal.SIGKILL)
            scheduler.wait(timeout=30)

        _after_first_group(monkeypatch, kill_scheduler)
        result = invoke(
            ws, "experiment", "-m", "logreg,knn", "--sizes", "10,20,40", "--splits", "2", "--scheduler",
            cluster.address, "--name", "k",
        )  # fmt: skip
    line = one_line_error(result, f"--scheduler {cluster.address}", "went away", "rerun")
    logged = capfd.readouterr().err  # what Dask's own loggers wrote to the terminal
    assert "Traceback" not in logged and "CancelledError" not in logged, logged
    assert "kept" in line
    config = json.loads((ws / "results" / "k" / "config.json").read_text())
    assert config["state"] == "interrupted"
    assert read_results(ws / "results" / "k" / "results.parquet").num_rows > 0
