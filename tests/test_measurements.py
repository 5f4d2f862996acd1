"""Numbers that mislead unless qualified (issue 30, "also misleading" and "decide and document"): costs
measured while the machine was loaded are flagged, and intervals of scores in [0, 1] stay in [0, 1]."""

from __future__ import annotations

import math
import os
import shutil
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from enso_ng.formats import FeaturesMeta, read_results
from enso_ng.visualize.summary import load_results, summarize

from conftest import invoke, write_run
from reliability import tiny_run


@pytest.fixture(scope="module")
def measured(tmp_path_factory) -> Path:
    return tiny_run(tmp_path_factory.mktemp("load") / "ws", ("good", "bad", "meh"), 90)


def test_each_timing_records_the_load_it_was_measured_under(measured):
    timing = FeaturesMeta.read(measured / "features" / "tiny" / "tfidf.parquet").timing
    assert isinstance(timing["load_1min"], float) and timing["load_1min"] >= 0
    table = read_results(measured / "results" / "r" / "results.parquet")
    loads = table.column("load_per_core").to_pylist()
    cores = os.cpu_count() or 1
    assert loads and all(v is not None and 0 <= v <= os.getloadavg()[0] / cores + 50 for v in loads), loads[:5]


def test_a_loaded_measurement_is_flagged_in_the_report(measured, tmp_path):
    root = Path(shutil.copytree(measured, tmp_path / "ws"))
    path = root / "results" / "r" / "results.parquet"
    table = pq.read_table(path)
    sizes = table.column("train_size").to_pylist()
    loads = [3.5 if size == 30 else 0.1 for size in sizes]
    table = table.set_column(table.schema.get_field_index("load_per_core"), "load_per_core", pa.array(loads))
    pq.write_table(table, path)
    result = invoke(root, "visualize", "--run", "r", "--no-tsne")
    assert result.exit_code == 0, result.output
    assert "note: 1 of 2 cells' costs were measured under load" in result.output, result.output
    cost = (root / "results" / "r" / "cost_accuracy.csv").read_text().splitlines()
    assert cost[0].endswith(",load per core"), cost[0]
    assert {line.split(",")[3]: line.split(",")[-1] for line in cost[1:]} == {"12": "0.1", "30": "3.5"}
    assert "measured under load" in (root / "results" / "r" / "report.html").read_text()


def test_results_written_before_the_load_column_still_read(measured, tmp_path):
    path = tmp_path / "old.parquet"
    pq.write_table(pq.read_table(measured / "results" / "r" / "results.parquet").drop_columns(["load_per_core"]), path)
    assert read_results(path).column("load_per_core").null_count == len(read_results(path))


def test_intervals_of_scores_in_0_1_are_clipped_to_0_1(tmp_path):
    """Two splits: 0.95 and 0.99, mean 0.97, sd 0.02828, t(0.975, 1 df) = 12.706: half-width 0.2541, so the
    t-interval is [0.716, 1.224]; accuracy cannot pass 1, so it is said as [0.716, 1]. At 20: 0.02 and 0.06,
    [-0.214, 0.294] becomes [0, 0.294]."""
    run = write_run(tmp_path, "two", {("d", "a", "logreg", 50): [0.95, 0.99], ("d", "a", "logreg", 20): [0.02, 0.06]})
    cells = {c.train_size: c for c in summarize(load_results(run / "results.parquet"), "accuracy")}
    assert cells[50].ci_high == 1.0 and cells[50].ci_low == pytest.approx(0.7159, abs=1e-3)
    assert cells[20].ci_low == 0.0 and cells[20].ci_high == pytest.approx(0.2941, abs=1e-3)


def test_intervals_of_a_loss_are_not_clipped(tmp_path):
    run = write_run(tmp_path, "loss", {("d", "a", "logreg", 50): [0.05, 0.6]})
    cells = summarize(load_results(run / "results.parquet"), "accuracy", higher_is_better=False)
    assert cells[0].ci_low < 0 and not math.isnan(cells[0].ci_low)
