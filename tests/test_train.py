"""``enso train``: model folders that reproduce experiment cells, read back in a fresh process.

Every model kind is trained with ``--size/--split`` from a real run on the corpus, written to a folder,
and scored by ``enso predict`` as a new Python process would (each in a child forked from one process that
imported the libraries once: ``reliability.enso_session``); the predictions must be the experiment's: the
same test rows, labels and probabilities as the experiment's own code gives (fit as the runner fits, the
run's seeds in one batch), and the accuracy and log-loss the run recorded for that cell.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
from threadpoolctl import threadpool_limits

from enso_ng.experiment.models import MODELS
from enso_ng.experiment.splits import plan_split
from enso_ng.formats import ModelManifest, RunRecord, read_features
from enso_ng.serve.pipeline import Pipeline

from conftest import CORPUS, invoke
from reliability import enso_session


@pytest.fixture(scope="module")
def kinds(_run, tmp_path_factory) -> Path:
    """A workspace with the corpus run (logreg, mlp) and a second run of knn, svm and lightgbm on tf-idf."""
    root = Path(shutil.copytree(_run, tmp_path_factory.mktemp("kinds") / "ws"))
    result = invoke(
        root,
        "experiment",
        "-f",
        "tfidf",
        "-m",
        "knn,svm,lightgbm",
        "--sizes",
        "120",
        "--splits",
        "2",
        "--name",
        "kinds",
    )
    assert result.exit_code == 0, result.output
    return root


def run_enso(workspace: Path, *args: str) -> None:
    """``enso ARGS`` in this process; a non-zero exit fails the test."""
    result = invoke(workspace, *args)
    assert result.exit_code == 0, result.output


def experiment_scores(root: Path, run: str, featurizer: str, model: str, size: int, split: int):
    """The cell's test rows and scores, computed as the experiment's runner computes them."""
    record = RunRecord.read(root / "results" / run)
    feats = read_features(root / "features" / CORPUS / f"{featurizer}.parquet")
    config = record.config
    plans = {
        s: plan_split(feats.labels, feats.splits, s, config["test_size"], config["official_test"], config["sampler"])
        for s in record.split_seeds
    }
    cls = MODELS.get(model)
    models = [cls(**config["model_params"].get(model, {}), random_state=s) for s in record.split_seeds]
    X = feats.pooled()
    with threadpool_limits(limits=1):
        cls.fit_many(
            models,
            [X[plans[s].train(size)] for s in record.split_seeds],
            [feats.labels[plans[s].train(size)] for s in record.split_seeds],
        )
    chosen = models[record.split_seeds.index(split)]
    test = plans[split].test
    return feats.rows[test], feats.labels[test], chosen.classes_, chosen.decision_scores(X[test]), chosen


def cell_test_rows(root: Path, run: str, dataset: str, featurizer: str, split: int) -> np.ndarray:
    """The dataset rows of a cell's test split, as the runner plans them."""
    feats = read_features(root / "features" / dataset / f"{featurizer}.parquet")
    config = RunRecord.read(root / "results" / run).config
    plan = plan_split(
        feats.labels, feats.splits, split, config["test_size"], config["official_test"], config["sampler"]
    )
    return feats.rows[plan.test]


def recorded(root: Path, run: str, featurizer: str, model: str, size: int, split: int) -> dict[str, float]:
    table = pq.read_table(root / "results" / run / "results.parquet").to_pylist()
    return {
        r["metric"]: r["value"]
        for r in table
        if (r["featurizer"], r["model"], r["train_size"], r["split"]) == (featurizer, model, size, split)
    }


CELLS = [
    ("small", "tfidf", "logreg"),
    ("small", "bert", "logreg"),
    ("small", "tfidf", "mlp"),
    ("small", "bert", "mlp"),
    ("kinds", "tfidf", "knn"),
    ("kinds", "tfidf", "svm"),
    ("kinds", "tfidf", "lightgbm"),
]


#: the cell every kind is reproduced at
SIZE, SPLIT = 120, 1
#: the heads ``--onnx`` exports with bert, and how many texts their graphs score: two full batches of the
#: graph's 64 texts (sorted by length, so every batch pads), 6 to 50 tokens
ONNX_HEADS, ONNX_ROWS = ("logreg", "mlp"), 128


@pytest.fixture(scope="module")
def reproduced(kinds, tmp_path_factory) -> dict[str, Path]:
    """Every cell of CELLS trained into a folder (in this process), then its test rows scored by ``enso
    predict`` as a fresh process would (``enso_session``: a child per folder, forked from one process that
    imported the libraries once; ten processes took about 30 CPU-seconds). First, before anything has
    imported torch, the ONNX folders (``onnx-logreg``, ``onnx-mlp``: bert with each head, exported with
    ``--onnx``) score ONNX_ROWS texts through ONNX Runtime, which must not import torch; last, the GloVe SIF
    folder (``sif``) scores the texts of ``_sif_texts``."""
    folder = tmp_path_factory.mktemp("reproduced")
    corpus = pq.read_table(kinds / "datasets" / f"{CORPUS}.parquet", columns=["text"])
    texts = corpus.column("text").to_pylist()
    commands, outputs = [], {}
    source = folder / "texts.parquet"
    pq.write_table(corpus.slice(0, ONNX_ROWS), source)
    for model in ONNX_HEADS:
        name = f"onnx-{model}"
        args = ["--from-run", "small", "-f", "bert", "-m", model, "--size", str(SIZE), "--split", str(SPLIT)]
        result = invoke(kinds, "train", *args, "--name", name, "--onnx")
        assert result.exit_code == 0, result.output
        outputs[name] = folder / f"{name}.parquet"
        commands.append(["predict", name, str(source), "--runtime", "onnx", "-o", str(outputs[name])])
    for run, featurizer, model in CELLS:
        name = f"{featurizer}-{model}"
        args = ["--from-run", run, "-f", featurizer, "-m", model, "--size", str(SIZE), "--split", str(SPLIT)]
        result = invoke(kinds, "train", *args, "--name", name)
        assert result.exit_code == 0, result.output
        rows = cell_test_rows(kinds, run, CORPUS, featurizer, SPLIT)
        source, outputs[name] = folder / f"{name}.jsonl", folder / f"{name}.parquet"
        source.write_text("".join(json.dumps({"id": int(r), "text": texts[r]}) + "\n" for r in rows))
        commands.append(["predict", name, str(source), "--id-column", "id", "-o", str(outputs[name])])
    # GloVe SIF + logreg on every training row (test_glove_sif_state_travels_in_the_folder)
    result = invoke(kinds, "train", "-d", CORPUS, "-f", "glove", "-m", "logreg", "-o", "pooling=sif", "--name", "sif")
    assert result.exit_code == 0, result.output
    source, outputs["sif"] = folder / "sif.txt", folder / "sif.parquet"
    source.write_text("".join(t.replace("\n", " ") + "\n" for t in _sif_texts(kinds)))
    commands.append(["predict", "sif", str(source), "-o", str(outputs["sif"])])
    for done in enso_session(kinds, *commands, torch_free=len(ONNX_HEADS)):
        assert done.returncode == 0, (done.args, done.stderr)
    return outputs


@pytest.mark.parametrize("run,featurizer,model", CELLS, ids=[f"{f}-{m}" for _, f, m in CELLS])
def test_a_cell_reproduced_predicts_as_the_experiment_did_in_a_fresh_process(kinds, reproduced, run, featurizer, model):
    size, split = SIZE, SPLIT
    name = f"{featurizer}-{model}"
    manifest = ModelManifest.read(kinds / "models" / name)
    rows, truth, classes, expected, fitted = experiment_scores(kinds, run, featurizer, model, size, split)
    cell = recorded(kinds, run, featurizer, model, size, split)
    assert manifest.expected["value"] == cell["accuracy"] and manifest.expected["split"] == split
    assert manifest.training["rows"] == size and manifest.labels == [str(c) for c in classes]
    assert manifest.model["chosen"] == json.loads(json.dumps(fitted.best_params_, default=float))

    scored = pq.read_table(reproduced[name]).to_pylist()
    assert [int(r["id"]) for r in scored] == [int(r) for r in rows] and {r["status"] for r in scored} == {"ok"}
    prefix = "proba" if manifest.model["scores"] == "proba" else "score"
    got = np.array([[r[f"{prefix}_{c}"] for c in classes] for r in scored])
    np.testing.assert_allclose(got, expected, atol=2e-5, rtol=0)
    labels = np.array([r["label"] for r in scored], dtype=object)
    assert (labels == classes[expected.argmax(1)]).all(), "the same label for every test row"
    assert np.mean(labels == truth) == pytest.approx(cell["accuracy"], abs=1e-12), "the run's recorded accuracy"
    if "log_loss" in cell:
        p = np.clip(got[np.arange(len(truth)), np.searchsorted(classes, truth)], 1e-15, 1)
        assert -np.mean(np.log(p)) == pytest.approx(cell["log_loss"], abs=1e-4)


@pytest.mark.parametrize("model", ONNX_HEADS)
def test_onnx_graph_scores_as_the_torch_path(kinds, reproduced, tmp_path, model):
    name = f"onnx-{model}"
    manifest = ModelManifest.read(kinds / "models" / name)
    assert manifest.exports["onnx"]["graph"] == "onnx/scorer.onnx" and "onnx/scorer.onnx" in manifest.files
    source = reproduced[name].with_name("texts.parquet")
    # the graph and its tokenizer alone, in the fresh process (``reproduced``); the torch reference, and
    # which graph auto picks, in this one (no process of their own needed: torch is loaded here)
    outputs = {"onnx": pq.read_table(reproduced[name]).to_pylist()}
    for runtime in ("torch", "auto"):
        out = tmp_path / f"{runtime}.parquet"
        run_enso(kinds, "predict", name, str(source), "--runtime", runtime, "-o", str(out))
        outputs[runtime] = pq.read_table(out).to_pylist()
    assert outputs["auto"] == outputs["onnx"], "auto scores through the folder's graph"
    assert Pipeline.load(kinds / "models" / name, precision="fp32", runtime="auto").runtime == "torch"
    classes = manifest.labels
    torch_p, onnx_p = (np.array([[r[f"proba_{c}"] for c in classes] for r in outputs[k]]) for k in ("torch", "onnx"))
    assert len(torch_p) == ONNX_ROWS
    np.testing.assert_allclose(onnx_p, torch_p, atol=1e-5, rtol=0)
    assert [r["label"] for r in outputs["onnx"]] == [r["label"] for r in outputs["torch"]]


def test_onnx_says_which_pairs_it_cannot_express(kinds):
    result = invoke(kinds, "train", "-d", CORPUS, "-f", "tfidf", "-m", "logreg", "--name", "never", "--onnx")
    assert result.exit_code == 1 and "--onnx cannot express tfidf: its tokenizer and n-gram vocabulary" in result.output
    assert not (kinds / "models" / "never").exists()


def test_mlflow_models_serve_answers_http_with_the_folders_predictions(kinds, tmp_path, monkeypatch):
    """``enso train --mlflow``, then a real ``mlflow models serve`` process and a real HTTP request."""
    import urllib.request

    pytest.importorskip("mlflow", reason="needs the enso_ng[mlflow] extra")
    from services import _command, _env, free_port, wait_until_up

    monkeypatch.chdir(tmp_path)  # MLflow's artifacts of a SQLite store go beside it
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    result = invoke(kinds, "train", "-d", CORPUS, "-f", "tfidf", "-m", "logreg", "--name", "served", "--mlflow", uri)
    assert result.exit_code == 0, result.output
    model_uri = result.output.split(" as ", 1)[1].split(" ", 1)[0]
    port = free_port()
    log = open(tmp_path / "serve.log", "w")
    server = subprocess.Popen(
        [
            _command("mlflow"),
            "models",
            "serve",
            "-m",
            model_uri,
            "--env-manager",
            "local",
            "--host",
            "127.0.0.1",
            "-p",
            str(port),
        ],
        env={**_env(), "MLFLOW_TRACKING_URI": uri},
        cwd=tmp_path,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    texts = ["what a lovely morning", "", "this is the worst service ever"]
    try:
        wait_until_up(f"http://127.0.0.1:{port}/ping", server, 240, tmp_path / "serve.log", "mlflow models serve")
        body = json.dumps({"dataframe_split": {"columns": ["text"], "data": [[t] for t in texts]}}).encode()
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/invocations", data=body, headers={"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(request, timeout=60) as response:
            served = json.loads(response.read())["predictions"]
    finally:
        os.killpg(server.pid, 15)
        server.wait(timeout=30)
    source = tmp_path / "texts.jsonl"
    source.write_text("".join(json.dumps({"text": t}) + "\n" for t in texts))
    out = tmp_path / "local.jsonl"
    assert invoke(kinds, "predict", "served", str(source), "-o", str(out)).exit_code == 0
    local = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["status"] for r in served] == ["ok", "empty", "ok"]
    assert [r["label"] for r in served] == [r["label"] for r in local]
    for mine, theirs in zip(local, served):
        for key, value in mine.items():
            if key.startswith("proba_") and value is not None:
                assert theirs[key] == pytest.approx(value, abs=1e-12)


def test_from_run_trains_the_winner_at_the_largest_size_on_every_training_row(kinds, monkeypatch):
    from enso_ng.visualize.summary import load_results, summarize

    cells = [
        c
        for c in summarize(load_results(kinds / "results" / "small" / "results.parquet"), "accuracy")
        if c.train_size == 120
    ]
    best = max(cells, key=lambda c: c.mean)
    result = invoke(kinds, "train", "--from-run", "small", "--name", "winner")
    assert result.exit_code == 0, result.output
    manifest = ModelManifest.read(kinds / "models" / "winner")
    assert (manifest.featurizer["name"], manifest.model["name"]) == (best.featurizer, best.model)
    assert manifest.expected["mean"] == pytest.approx(best.mean) and manifest.expected["size"] == 120
    assert manifest.expected["ci_low"] == pytest.approx(best.ci_low) and manifest.expected["splits"] == 2
    assert manifest.training["rows"] == 1500 and sum(manifest.training["labels"].values()) == 1500
    assert f"expected accuracy: {best.mean:.3f}" in result.output
    for args, says in (
        (["--from-run", "nope", "--name", "x"], "no finished run 'nope'"),
        (["-d", CORPUS, "-f", "tfidf", "--name", "x"], "name the pair with -m"),
        (
            ["-d", CORPUS, "-f", "tfidf", "-m", "attention", "--name", "x"],
            "model 'attention' takes token vectors (-f bert -o pooling=none), and tfidf gives sparse vectors",
        ),
        (["-d", CORPUS, "-f", "tfidf", "-m", "layer_mix", "--name", "x"], "store every one: -f bert -o layers=all"),
        (["-d", CORPUS, "-f", "bert", "-m", "finetune", "--name", "x"], "model 'finetune' takes token ids"),
        (
            ["-d", CORPUS, "-f", "tfidf", "-m", "logreg", "--size", "120", "--name", "x"],
            "--size and --split go together",
        ),
    ):
        result = invoke(kinds, "train", *args)
        assert result.exit_code == 1 and says in result.output and result.output.count("\n") == 1, result.output
    # a taken name is refused before the winner is fitted again on every training row
    from enso_ng.serve import train as training

    monkeypatch.setattr(training, "_production", lambda *a, **k: pytest.fail("fitted before refusing a taken name"))
    result = invoke(kinds, "train", "--from-run", "small", "--name", "winner")
    assert result.exit_code == 1 and result.output.count("\n") == 1, result.output
    assert "exists; choose another --name or give --force" in result.output


def test_an_encoders_training_vectors_are_read_from_its_features_file(kinds, monkeypatch):
    """bert learns nothing from the texts it is fitted on, so training on every training row reads their
    vectors from the features file that matches it (this dataset, the same parameters) and embeds only the
    rows it checks them on, not the 1,500 rows again (test_train_kinds.py shows the folder is the same)."""
    from enso_ng.featurize import FEATURIZERS
    from enso_ng.serve.train import SAMPLE_ROWS

    bert, embedded = FEATURIZERS.get("bert"), []
    transform = bert.transform

    def counted(self, texts):
        embedded.append(len(texts))
        return transform(self, texts)

    monkeypatch.setattr(bert, "transform", counted)
    result = invoke(kinds, "train", "-d", CORPUS, "-f", "bert", "-m", "logreg", "--name", "stored")
    assert result.exit_code == 0, result.output
    assert ModelManifest.read(kinds / "models" / "stored").training["rows"] == 1500
    assert sum(embedded) == SAMPLE_ROWS, embedded


def test_max_ms_per_doc_takes_the_most_accurate_pair_within_the_budget(kinds):
    rows = pq.read_table(kinds / "results" / "small" / "results.parquet").to_pylist()
    pairs: dict[tuple, list] = {}
    for r in rows:
        if r["train_size"] == 120 and r["metric"] == "accuracy":
            pairs.setdefault((r["featurizer"], r["model"]), []).append((r["value"], r["predict_seconds_per_1k"]))
    summary = {
        pair: (np.mean([v for v, _ in values]), np.mean([c for _, c in values])) for pair, values in pairs.items()
    }
    budget = min(cost for _, cost in summary.values()) * 1.01  # the cheapest pair, and any within 1% of it
    wanted = max((pair for pair, (_, cost) in summary.items() if cost <= budget), key=lambda p: summary[p][0])
    args = ["--from-run", "small", "--max-ms-per-doc", str(budget), "--size", "120", "--split", "0", "--name", "cheap"]
    result = invoke(kinds, "train", *args)
    assert result.exit_code == 0, result.output
    manifest = ModelManifest.read(kinds / "models" / "cheap")
    assert (manifest.featurizer["name"], manifest.model["name"]) == wanted
    assert manifest.expected["ms_per_doc"] <= budget
    result = invoke(kinds, "train", "--from-run", "small", "--max-ms-per-doc", str(budget / 2), "--name", "never")
    assert (
        result.exit_code == 1
        and f"no pair of run 'small' predicts within {budget / 2:g} ms per document" in result.output
    )


def _sif_texts(root: Path) -> list[str]:
    """The texts the SIF folder is checked on: the first 200 of the corpus's test split."""
    return [
        r["text"] for r in pq.read_table(root / "datasets" / f"{CORPUS}.parquet").to_pylist() if r["split"] == "test"
    ][:200]


def test_glove_sif_state_travels_in_the_folder(kinds, reproduced):
    """SIF's word weights and removed component are fitted on the training rows and read back in a fresh
    process (``reproduced``): the folder's predictions equal a GloVe SIF + logreg fitted here from scratch."""
    from enso_ng.featurize import FEATURIZERS

    rows = pq.read_table(kinds / "datasets" / f"{CORPUS}.parquet").to_pylist()
    train = [r for r in rows if r["split"] != "test"]
    glove = FEATURIZERS.get("glove")(pooling="sif").fit([r["text"] for r in train])
    with threadpool_limits(limits=1):
        model = MODELS.get("logreg")(random_state=0).fit(
            glove.transform([r["text"] for r in train]), np.array([r["label"] for r in train], dtype=object)
        )
    expected = model.predict_proba(glove.transform(_sif_texts(kinds)))
    got = np.array([[r[f"proba_{c}"] for c in model.classes_] for r in pq.read_table(reproduced["sif"]).to_pylist()])
    assert got.shape == expected.shape == (200, 3)
    np.testing.assert_allclose(got, expected, atol=1e-5, rtol=0)


@pytest.mark.parametrize("name", ["../outside", "/tmp/abs", "ok\n", "a/b", ".hidden"])
def test_a_model_name_that_is_not_one_folder_is_refused_before_any_work(tmp_path, name):
    """The model name becomes models/<name>/: it passes the workspace's one name check (as run names do),
    for train and predict alike, and nothing is written anywhere."""
    ws = tmp_path / "ws"
    trained = invoke(ws, "train", "-d", CORPUS, "-f", "tfidf", "-m", "logreg", "--name", name)
    assert trained.exit_code != 0
    assert trained.output.startswith("Error: model name") and len(trained.output.strip().splitlines()) == 1
    assert not (ws / "models").exists() and not (tmp_path / "outside").exists()
    if "/" not in name and not name.startswith("."):  # a path-like MODEL is read as a folder path
        predicted = invoke(ws, "predict", name, "-")
        assert predicted.exit_code != 0 and predicted.output.startswith("Error: model name"), predicted.output
