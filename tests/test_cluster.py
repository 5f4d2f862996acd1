"""``--scheduler``: the grid and featurization on a real Dask cluster (a ``dask scheduler`` and ``dask
worker`` processes on 127.0.0.1, started and stopped here), compared with local runs cell for cell."""

from __future__ import annotations

import signal
import sys
import time

import numpy as np
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq
import pytest
from services import dask_cluster

from enso_ng.formats import RESULT_KEY, FeaturesMeta, RunRecord, read_results

from conftest import CORPUS, invoke
from reliability import enso, one_line_error, wait_for

#: the grid of the session's corpus run (results/small): 2 featurizers x 2 models x 2 sizes x 2 splits
GRID = ("--sizes", "30,120", "--splits", "2", "-m", "logreg")
COMPARED = (*RESULT_KEY, "metric", "value", "params")


def comparable(path, model: str = "logreg") -> list[tuple]:
    """A results file's rows of one model without the timing columns, in key order."""
    table = read_results(path)
    return sorted(row for row in zip(*(table.column(c).to_pylist() for c in COMPARED)) if row[2] == model)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    """A scheduler and two workers shared by the module's tests; the test that kills a worker starts a
    replacement, so each test finds two."""
    with dask_cluster(tmp_path_factory.mktemp("dask")) as started:
        yield started


def test_grid_on_a_dask_cluster_equals_jobs_1_cell_for_cell(workspace, corpus_run, cluster):
    result = invoke(workspace, "experiment", *GRID, "--name", "small", "--scheduler", cluster.address)
    assert result.exit_code == 0, result.output
    local = comparable(corpus_run / "results.parquet")
    on_cluster = comparable(workspace / "results" / "small" / "results.parquet")
    assert len(on_cluster) == len(local) > 0
    assert on_cluster == local  # every value and chosen hyper-parameter, not merely close
    assert RunRecord.read(workspace / "results" / "small").config["scheduler"] == cluster.address


def test_a_sigkilled_worker_has_its_groups_rerun_and_every_cell_written_once(workspace, corpus_run, cluster):
    """On the module's cluster (a scheduler and two workers cost about 10 CPU-seconds to start); the killed
    worker is replaced afterwards, so the tests after this one have two workers again."""
    from distributed import Client

    names = cluster.wait_for_workers(2)
    victim = min(name for name in names if cluster.workers[name].poll() is None)
    try:
        process = enso(workspace, "experiment", *GRID, "--name", "small", "--scheduler", cluster.address)
        with Client(cluster.address, timeout="20s") as watcher:
            busy = wait_for(
                lambda: watcher.processing(workers=[names[victim]])[names[victim]], f"{victim} to take a group"
            )
            cluster.workers[victim].send_signal(signal.SIGKILL)
            cluster.workers[victim].wait(timeout=30)
            output, _ = process.communicate(timeout=300)
            assert process.returncode == 0, output
            assert names[victim] not in watcher.scheduler_info(n_workers=-1)["workers"]
    finally:
        cluster.start_worker(f"{victim}-again")
        cluster.wait_for_workers(2)
    assert busy, "the worker was killed while it held a group"
    table = read_results(workspace / "results" / "small" / "results.parquet")
    keys = list(zip(*(table.column(c).to_pylist() for c in (*RESULT_KEY, "metric"))))
    assert len(keys) == len(set(keys)), "a cell was written twice"
    assert comparable(workspace / "results" / "small" / "results.parquet") == comparable(corpus_run / "results.parquet")


def test_featurize_on_the_cluster_writes_the_file_a_local_run_writes(workspace, tmp_path, monkeypatch, cluster):
    import enso_ng.featurize.runner as runner

    monkeypatch.setattr(runner, "BLOCK_ROWS", 100)  # three blocks of 300 rows: three tasks, written in order
    source = tmp_path / "few.csv"
    rows = pq.read_table(workspace / "datasets" / f"{CORPUS}.parquet", columns=["text", "label", "split"])
    pa_csv.write_csv(rows.take(list(range(0, 1800, 6))), source)  # every label
    local = tmp_path / "local"
    for root in (workspace, local):
        result = invoke(root, "download", "--from-file", str(source), "--name", "few", "--split-column", "split")
        assert result.exit_code == 0, result.output
    args = ("featurize", "-d", "few", "-f", "bert", "-f", "tfidf")
    result = invoke(workspace, *args, "--scheduler", cluster.address)
    assert result.exit_code == 0, result.output
    result = invoke(local, *args)
    assert result.exit_code == 0, result.output
    for featurizer in ("bert", "tfidf"):
        ours, theirs = (w / "features" / "few" / f"{featurizer}.parquet" for w in (workspace, local))
        assert pq.ParquetFile(ours).num_row_groups == 3
        a, b = pq.read_table(ours), pq.read_table(theirs)
        assert a.column_names == b.column_names
        for name in a.column_names:
            assert a.column(name).equals(b.column(name)), (featurizer, name)
        meta, reference = FeaturesMeta.read(ours), FeaturesMeta.read(theirs)
        assert meta.cache_key() == reference.cache_key() and meta.rows == reference.rows == 300
        assert meta.report == reference.report and meta.timing["timed_texts"] == 100
    assert not list((workspace / "features").rglob("*.tmp"))
    dense = pq.read_table(workspace / "features" / "few" / "bert.parquet").column("features").to_pylist()
    assert np.isfinite(np.asarray(dense, dtype=np.float32)).all()


def test_a_worker_that_cannot_see_the_workspace_is_a_one_line_error_naming_it(workspace, tmp_path):
    with dask_cluster(tmp_path / "dask", workers=0) as cluster:
        cluster.start_worker("blind", hide=workspace)
        address = cluster.wait_for_workers(1)["blind"]
        result = invoke(workspace, "experiment", *GRID, "--name", "x", "--scheduler", cluster.address)
    error = one_line_error(result, f"worker {address} cannot see the workspace", str(workspace / "features"))
    assert "shared filesystem" in error
    assert not (workspace / "results").exists(), "a run that could not start left a folder"


def test_local_n_starts_its_own_cluster_and_bad_addresses_are_one_line_errors(workspace, corpus_run):
    result = invoke(workspace, "experiment", *GRID, "--name", "small", "--scheduler", "local:2")
    assert result.exit_code == 0, result.output
    assert comparable(workspace / "results" / "small" / "results.parquet") == comparable(corpus_run / "results.parquet")
    for bad in ("local:0", "local:two"):
        one_line_error(invoke(workspace, "experiment", "--name", "y", "--scheduler", bad), f"--scheduler {bad!r}")
    one_line_error(
        invoke(workspace, "experiment", "--name", "y", "--jobs", "2", "--scheduler", "local:2"),
        "--jobs and --scheduler",
    )
    started = time.monotonic()
    unreachable = invoke(workspace, "experiment", "--name", "y", "--scheduler", "tcp://127.0.0.1:9")
    one_line_error(unreachable, "--scheduler tcp://127.0.0.1:9: cannot connect")
    assert time.monotonic() - started < 60


def test_local_n_workers_lack_the_dask_defaults_that_slow_fitting():
    """The nanny's malloc trim threshold and the 10 ms stack profiler cost local:N a fifth of its speed."""
    from enso_ng.cluster import connect

    def settings(dask_worker) -> tuple:
        import os

        return os.environ.get("MALLOC_TRIM_THRESHOLD_"), "profile" in dask_worker.periodic_callbacks

    with connect("local:1") as client:
        assert list(client.run(settings).values()) == [(None, False)]


def test_without_the_dask_extra_the_error_is_an_install_hint(workspace, monkeypatch):
    monkeypatch.setitem(sys.modules, "distributed", None)  # what an environment without the extra imports
    one_line_error(
        invoke(workspace, "experiment", "--name", "z", "--scheduler", "local:2"), "pip install 'enso_ng[dask]'"
    )
    one_line_error(invoke(workspace, "featurize", "-f", "tfidf", "--force", "--scheduler", "local:2"), "enso_ng[dask]")


pytestmark = pytest.mark.filterwarnings("ignore::ResourceWarning")
