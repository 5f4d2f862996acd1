"""A run is a unit with an owner (issue #13): one writer at a time, resume only on the same protocol, data
and features, names that stay inside results/, and workers that die with their parent. Concurrency is
tested with real ``enso`` processes started here."""

import json
import os
import signal
import time

import numpy as np
import pyarrow.csv as pcsv
import pyarrow.parquet as pq
import pytest

from enso_ng.formats import RunRecord

from conftest import CORPUS, invoke
from reliability import alive, children, enso, kill, one_line_error, temp_files, wait_for

#: a grid slow enough (tens of seconds) that a test can act while it runs: no early stopping, so every
#: mlp model trains all its steps, however fast the mlp gets at stopping
SLOW = ("--featurizers", "bert", "--models", "mlp", "-o", "mlp.patience=1000", "--sizes", "30,60,120,240,480")
SLOW = (*SLOW, "--splits", "8")


def _lock_holder(run_dir) -> dict | None:
    lock = run_dir / ".lock"
    try:
        return json.loads(lock.read_text() or "null")
    except (OSError, ValueError):
        return None


def test_a_second_writer_of_a_run_fails_naming_the_holder_and_loses_nothing(workspace):
    run_dir = workspace / "results" / "cc2"
    first = enso(workspace, "experiment", "--name", "cc2", *SLOW[:-4], "--sizes", "30,60,120", "--splits", "4")
    try:
        # config.json is written before the first cell, with the lock held (and it was before the lock existed)
        wait_for(lambda: (run_dir / "config.json").exists(), "the first run's config", process=first)
        second = invoke(workspace, "experiment", "--name", "cc2", "--featurizers", "bert", "--models", "logreg")
        assert first.poll() is None, "the first run ended before the second started: the test proves nothing"
        one_line_error(second, "run 'cc2' is being written by pid", str(first.pid), "started")
        assert first.wait(timeout=300) == 0, first.stdout.read()
    finally:
        if first.poll() is None:
            kill(first)
    table = pq.read_table(run_dir / "results.parquet")
    assert set(table.column("model").to_pylist()) == {"mlp"}
    assert _lock_holder(run_dir)["pid"] == first.pid
    assert len({tuple(r.values()) for r in table.select(["train_size", "split"]).to_pylist()}) == 3 * 4
    # once the first is done, the second resumes the same run and keeps every cell of the first
    # the run was made with mlp.patience=1000, and a resume keeps every parameter of the run
    again = invoke(workspace, "experiment", "--name", "cc2", "-f", "bert", "-m", "logreg", "-o", "mlp.patience=1000")
    assert again.exit_code == 0, again.output
    table = pq.read_table(run_dir / "results.parquet")
    assert set(table.column("model").to_pylist()) == {"mlp", "logreg"}


def test_a_sigkilled_run_has_its_config_and_refuses_another_protocol(workspace):
    run_dir = workspace / "results" / "killed"
    process = enso(workspace, "experiment", "--name", "killed", "--no-official-test", *SLOW)
    try:
        wait_for(lambda: (run_dir / "results.parquet").exists(), "the first cells", process=process)
    finally:
        kill(process)
    record = RunRecord.read(run_dir)
    assert record is not None and record.state == "running" and record.config["test_size"] == 0.2
    result = invoke(workspace, "experiment", "--name", "killed", "--no-official-test", "--test-size", "0.3", *SLOW)
    one_line_error(result, "made with test_size=0.2, not 0.3")
    assert RunRecord.read(run_dir).config["test_size"] == 0.2


def _reimport_changed(workspace, tmp_path) -> None:
    """Re-import the corpus from a different file (one row fewer), as ``--force`` allows."""
    table = pq.read_table(workspace / "datasets" / f"{CORPUS}.parquet")
    changed = tmp_path / "changed.csv"
    pcsv.write_csv(table.slice(0, table.num_rows - 1), changed)
    result = invoke(
        workspace, "download", "--from-file", str(changed), "--name", CORPUS, "--split-column", "split", "--force"
    )
    assert result.exit_code == 0, result.output


def test_resume_after_the_dataset_changed_is_refused(run_workspace, tmp_path):
    _reimport_changed(run_workspace, tmp_path)
    assert invoke(run_workspace, "featurize", "-f", "tfidf").exit_code == 0
    before = (run_workspace / "results" / "small" / "results.parquet").read_bytes()
    result = invoke(
        run_workspace, "experiment", "--name", "small", "--featurizers", "tfidf", "--sizes", "30,120", "--splits", "3"
    )
    one_line_error(result, "run 'small'", "tweets/tfidf", "dataset fingerprint", "another --name")
    assert (run_workspace / "results" / "small" / "results.parquet").read_bytes() == before


def test_resume_after_refeaturizing_with_other_parameters_is_refused(run_workspace):
    assert invoke(run_workspace, "featurize", "-f", "tfidf", "-o", "ngram_max=1").exit_code == 0
    result = invoke(
        run_workspace, "experiment", "--name", "small", "--featurizers", "tfidf", "--sizes", "30,120", "--splits", "3"
    )
    one_line_error(result, "run 'small'", "tweets/tfidf", "featurizer parameters")


def test_a_grid_with_no_cell_that_can_run_leaves_no_run(run_workspace):
    result = invoke(run_workspace, "experiment", "--sizes", "5000", "--name", "big1")
    one_line_error(result, "run 'big1': no cell can run", "5000")
    assert not (run_workspace / "results" / "big1").exists()
    shown = invoke(run_workspace, "visualize", "--no-tsne", "--no-report")
    assert shown.exit_code == 0 and "run small" in shown.output, shown.output


def test_visualize_skips_a_run_with_a_config_and_no_results_yet(run_workspace):
    started = run_workspace / "results" / "started"
    started.mkdir()
    (started / "config.json").write_text((run_workspace / "results" / "small" / "config.json").read_text())
    shown = invoke(run_workspace, "visualize", "--no-tsne", "--no-report")
    assert shown.exit_code == 0 and "run small" in shown.output, shown.output
    one_line_error(invoke(run_workspace, "visualize", "--run", "started"), "no run 'started'", "runs: small")


@pytest.mark.parametrize("name", ["../../escaped", "/abs/path", "a/b", "..", ".hidden", "a\\b"])
def test_run_names_are_names(workspace, tmp_path, name):
    before = sorted(p for p in tmp_path.rglob("*"))
    result = invoke(workspace, "experiment", "--name", name, "--sizes", "30", "--splits", "1")
    one_line_error(result, f"--name {name!r}", "one entry under results/")
    assert sorted(p for p in tmp_path.rglob("*")) == before
    assert not os.path.exists("/abs/path")


@pytest.mark.parametrize("name", ["../small", "/abs/path", "small/.."])
def test_visualize_run_names_are_names(corpus_run, name):
    one_line_error(invoke(corpus_run.parents[1], "visualize", "--run", name), f"--run {name!r}")


@pytest.mark.parametrize("how", ["SIGKILL", "SIGTERM"])
def test_a_killed_parallel_run_takes_its_workers_with_it(workspace, how):
    """SIGKILL: the workers die by the kernel's death signal. SIGTERM reaches the parent alone (``kill``, a
    supervisor): it ends its workers and unwinds at once (it waited for the groups they were fitting), records
    the run interrupted, and ends by the signal (a shell's status 143)."""
    process = enso(workspace, "experiment", "--name", "par", "--jobs", "2", *SLOW)
    try:
        workers = wait_for(
            lambda: [p for p in children(process.pid) if alive(p)] if len(children(process.pid)) >= 3 else None,
            "two workers (and the resource tracker)",
            timeout=600,
            process=process,
        )
        # a finished group: a worker past its initializer (the kernel's death signal in place), not one still
        # importing (which dies by its parent check once its imports end, seconds later under load)
        first = workspace / "results" / "par" / "results.parquet"
        wait_for(first.exists, "a group's cells", timeout=600, process=process)
        if how == "SIGTERM":
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=30)
            assert process.returncode == -signal.SIGTERM, process.stdout.read()
            config = json.loads((workspace / "results" / "par" / "config.json").read_text())
            assert config["state"] == "interrupted"
    finally:
        kill(process)
    # an orphan never ends by itself (it waits on its call queue forever), so this bounds correctness, not
    # speed: a worker still importing when its parent died may take tens of seconds on a loaded machine
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and any(alive(p) for p in workers):
        time.sleep(0.1)
    assert not [p for p in workers if alive(p)], "orphaned workers outlived their SIGKILLed parent"


def test_sigkilled_featurize_leaves_no_temporary_file_behind(tmp_path):
    # Two blocks of rows: the temporary file is opened once the first block is embedded and stays while the
    # second one is, a window of seconds (with one block it exists only while being written: a race). The
    # first block repeats 24 texts (MiniLM embeds each distinct text once: the file opens at once), the second
    # holds 4,204 distinct ones (the window), so the kill comes before any long embedding.
    import csv

    workspace, source = tmp_path / "ws", tmp_path / "blocks.csv"
    with open(source, "w", newline="") as fh:
        words = ("good", "bad", "fine", "awful", "great", "poor")
        rows = [
            [f"{words[i % 6]} film number {i if i >= 4096 else i % 8}", "pos" if i % 2 else "neg"] for i in range(8300)
        ]
        csv.writer(fh).writerows([["text", "label"], *rows])
    assert invoke(workspace, "download", "--from-file", str(source), "--name", "blocks").exit_code == 0
    folder = workspace / "features" / "blocks"
    process = enso(workspace, "featurize", "-f", "bert")
    try:
        # the wait ends at the file, and a featurize that never writes one ends the process first
        wait_for(
            lambda: list(folder.glob(".bert.parquet.*.tmp")), "featurize's temporary file", timeout=900, process=process
        )
    finally:
        kill(process)
    assert temp_files(workspace), "the kill should have left the temporary file (the defect's precondition)"
    assert not (folder / "bert.parquet").exists(), "no partial file where the complete one goes"
    # the next enso command, whatever it writes, removes the dead writer's file (tf-idf: the same cleanup
    # without embedding 8,300 texts again), and its own write leaves no temporary file either
    result = invoke(workspace, "featurize", "-f", "tfidf")
    assert result.exit_code == 0, result.output
    assert temp_files(workspace) == []
    assert pq.read_metadata(folder / "tfidf.parquet").num_rows == 8300


def test_only_dead_writers_temporary_files_are_cleaned(tmp_path):
    from enso_ng.workspace import clean_stale_temps

    ended = enso(tmp_path, "--version")
    ended.wait(timeout=60)
    dead = tmp_path / f".x.parquet.{ended.pid}.tmp"
    live = tmp_path / f".x.parquet.{os.getpid()}.tmp"
    for path in (dead, live):
        path.write_text("partial")
    assert clean_stale_temps(tmp_path) == [dead]
    assert live.exists() and not dead.exists()


def test_log_loss_best_is_the_lowest_in_the_summary_and_the_confusion_cell(workspace):
    result = invoke(
        workspace, "experiment", "--name", "ll", "--metrics", "log_loss", "--sizes", "30", "--splits", "2",
        "--models", "logreg,mlp",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    rows = pq.read_table(workspace / "results" / "ll" / "results.parquet").to_pylist()
    values: dict[tuple[str, str], list[float]] = {}
    for r in rows:
        if r["metric"] == "log_loss":
            values.setdefault((r["featurizer"], r["model"]), []).append(r["value"])
    means = {key: sum(v) / len(v) for key, v in values.items()}
    best_f, best_m = min(means, key=means.get)
    assert min(means, key=means.get) != max(means, key=means.get)
    row = next(line for line in result.output.splitlines() if line.startswith(CORPUS))
    assert row.split()[1:3] == [best_f, best_m], result.output
    shown = invoke(workspace, "visualize", "--run", "ll", "--no-tsne", "--no-report")
    assert shown.exit_code == 0, shown.output
    assert f"confusion_{CORPUS}_{best_f}_{best_m}_30" in shown.output, shown.output


def test_one_split_has_an_undefined_interval_not_a_zero_width_one(workspace):
    result = invoke(
        workspace, "experiment", "--name", "one", "--sizes", "30", "--splits", "1", "--models", "logreg",
        "--featurizers", "tfidf",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "undefined (1 split)" in result.output, result.output
    row = next(line for line in result.output.splitlines() if line.startswith(CORPUS))
    mean = row.split()[4]
    assert f"[{mean}, {mean}]" not in result.output
    shown = invoke(workspace, "visualize", "--run", "one", "--no-tsne", "--no-report")
    assert shown.exit_code == 0, shown.output
    # visualize's summary says so too, and its bars draw no error bar of zero width
    summary = [line for line in shown.output.splitlines() if line.split()[:4] == [CORPUS, "tfidf", "logreg", "30"]]
    assert summary and all("undefined (1 split)" in line for line in summary), shown.output
    assert f"[{mean}, {mean}]" not in shown.output
    from enso_ng.visualize.bars import bars_at_size
    from enso_ng.visualize.summary import load_results, summarize

    cells = summarize(load_results(workspace / "results" / "one" / "results.parquet"), "accuracy")
    (cell,) = cells
    assert cell.n == 1 and np.isnan(cell.ci_low) and np.isnan(cell.ci_high)
    assert cell.mean == pytest.approx(float(mean), abs=5e-4)
    bars = bars_at_size(cells, "accuracy", 30, "one").axes[0]
    segments = [np.asarray(seg, dtype=float).reshape(-1, 2) for c in bars.collections
                for seg in getattr(c, "get_segments", list)()]  # fmt: skip
    drawn = [seg for seg in segments if len(seg) and not np.isnan(seg).any()]
    assert all(np.ptp(seg[:, 1]) > 0 for seg in drawn), "no zero-width error bar"
