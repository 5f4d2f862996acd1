"""``enso train`` for the models that read more than pooled vectors: layer_mix (every layer), attention and
bilstm (token vectors), finetune and setfit (token ids, the encoder itself trained), distill (a student with
its teacher).

Tiny generated datasets, the smallest settings and a tiny encoder keep it fast: every BERT features file
here is made with ``tiny_bert`` (2 layers, 32 dimensions, random weights, MiniLM's tokenizer and layout),
which travels through train, ``--onnx`` and predict as MiniLM would (how well it classifies is not what these
tests check; MiniLM's own pairs are test_train.py's). Each kind's cell is trained with
``--size/--split`` from a real run, written to a folder and scored by ``enso predict`` as a fresh Python
process would (``reliability.enso_session``): the labels and probabilities must be those of the
experiment's own code on the cell's test rows (fitted as the runner fits it), and the accuracy the run
recorded.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
from test_train import cell_test_rows, recorded, run_enso
from threadpoolctl import threadpool_limits

from enso_ng.experiment.models import MODELS
from enso_ng.experiment.models.base import CellContext
from enso_ng.experiment.splits import plan_split
from enso_ng.formats import ModelManifest, RunRecord, read_features
from enso_ng.serve.train import one_torch_thread

from conftest import invoke
from reliability import PRELOAD, enso_session

WORDS = {
    "pos": ["great", "lovely", "wonderful", "superb", "delightful", "brilliant", "charming", "excellent"],
    "neg": ["awful", "boring", "terrible", "dreadful", "dull", "horrible", "poor", "bad"],
}
FILLER = ["the", "film", "movie", "was", "plot", "acting", "really", "quite", "and", "story", "a", "cast"]
TRAIN_ROWS, TEST_ROWS = 48, 16
SIZE, SPLIT = 16, 0

#: dataset -> (featurize arguments, one per features file), run -> (dataset, experiment arguments)
DATASETS = {
    "mix": [["-f", "bert", "--layers", "all", "-o", "max_length=32"]],
    "seq": [["-f", "bert", "-o", "pooling=none", "-o", "max_tokens=24", "-o", "dtype=float16"]],
    "toks": [["-f", "bert_tokens", "-o", "max_length=24"]],
    "dist": [["-f", "tfidf"], ["-f", "bert", "-o", "max_length=32"]],
}
RUNS = {
    "mix": ("mix", ["-f", "bert", "-m", "layer_mix", "-o", "layer_mix.Cs=0.1,10", "-o", "layer_mix.cv=2"]),
    "seq": (
        "seq",
        [
            "-f",
            "bert",
            "-m",
            "attention,bilstm",
            *("-o", "attention.steps=15", "-o", "attention.weight_decays=0.1,0.001", "-o", "attention.cv=2"),
            *("-o", "bilstm.hidden=4", "-o", "bilstm.steps=8", "-o", "bilstm.weight_decays=0.01"),
        ],
    ),
    "toks": (
        "toks",
        [
            "-f",
            "bert_tokens",
            "-m",
            "finetune,setfit",
            *("-o", "finetune.min_epochs=1", "-o", "finetune.max_epochs=1", "-o", "finetune.valid_fraction=0"),
            *("-o", "setfit.num_iterations=1", "-o", "setfit.max_steps=2", "-o", "setfit.batch_size=8"),
            # the cap is max(max_steps, steps_per_class x classes): 2 contrastive steps, not the 40 the
            # default steps_per_class (20) raises it to for two classes
            *("-o", "setfit.steps_per_class=1"),
        ],
    ),
    "dist": ("dist", ["-f", "tfidf,bert", "-m", "logreg,distill", "-o", "distill.teacher=bert:logreg"]),
}


def _texts(rng: np.random.Generator, n: int) -> list[tuple[str, str]]:
    rows, seen = [], set()
    while len(rows) < n:
        label = ["pos", "neg"][len(rows) % 2]
        words = list(rng.choice(FILLER, size=rng.integers(3, 7))) + list(rng.choice(WORDS[label], size=2))
        text = " ".join(rng.permutation(words))
        if text not in seen:
            seen.add(text)
            rows.append((text, label))
    return rows


@pytest.fixture(scope="module")
def ws(tmp_path_factory, tiny_bert) -> Path:
    """Four tiny datasets, their features (BERT's from ``tiny_bert``) and one small run each (every model kind
    of this module)."""
    root = tmp_path_factory.mktemp("kinds") / "ws"
    for i, (name, featurizations) in enumerate(DATASETS.items()):
        source = root.parent / f"{name}.csv"
        rows = _texts(np.random.default_rng(i), TRAIN_ROWS + TEST_ROWS)
        with open(source, "w", newline="") as fh:
            writer = csv.writer(fh)
            writer.writerow(["text", "label", "split"])
            writer.writerows((t, label, "test" if j >= TRAIN_ROWS else "train") for j, (t, label) in enumerate(rows))
        result = invoke(root, "download", "--from-file", str(source), "--name", name, "--split-column", "split")
        assert result.exit_code == 0, result.output
        for args in featurizations:
            encoder = ["-o", f"model={tiny_bert}"] if args[1] in ("bert", "bert_tokens") else []
            result = invoke(root, "featurize", "-d", name, *args, *encoder)
            assert result.exit_code == 0, result.output
    for run, (dataset, args) in RUNS.items():
        common = ["-d", dataset, "--sizes", str(SIZE), "--splits", "1", "--name", run]
        result = invoke(root, "experiment", *common, *args)
        assert result.exit_code == 0, result.output
    return root


def experiment_scores(root: Path, run: str, dataset: str, featurizer: str, model: str):
    """The cell's test rows, labels and scores, computed as the experiment's runner computes them."""
    record = RunRecord.read(root / "results" / run)
    feats = read_features(root / "features" / dataset / f"{featurizer}.parquet")
    config = record.config
    plan = plan_split(
        feats.labels, feats.splits, SPLIT, config["test_size"], config["official_test"], config["sampler"]
    )
    cls = MODELS.get(model)
    fitted = cls(**config["model_params"].get(model, {}), **cls.features_kwargs(feats.meta), random_state=SPLIT)
    X, train = cls.view(feats), plan.train(SIZE)
    if cls.semi_supervised:
        fitted.attach(
            CellContext(
                dataset=dataset,
                X=X,
                train=train,
                unlabelled=plan.order[~np.isin(plan.order, train)],
                test=plan.test,
                features=lambda name: read_features(root / "features" / dataset / f"{name}.parquet"),
            )
        )
    with threadpool_limits(limits=1), one_torch_thread():
        fitted.fit(X[train], feats.labels[train])
    test = plan.test
    return feats.rows[test], feats.labels[test], fitted.classes_, fitted.decision_scores(X[test]), fitted


CELLS = [
    ("mix", "mix", "bert", "layer_mix"),
    ("seq", "seq", "bert", "attention"),
    ("seq", "seq", "bert", "bilstm"),
    ("toks", "toks", "bert_tokens", "finetune"),
    ("toks", "toks", "bert_tokens", "setfit"),
    ("dist", "dist", "tfidf", "distill"),
]


@pytest.fixture(scope="module")
def predicted(ws, tmp_path_factory) -> dict[str, Path]:
    """Each kind trained into two folders here: its cell (``cell-KIND``: ``--size/--split``, with ``--onnx``
    where the kind exports) and every training row (``all-KIND``); then every folder's test rows scored by
    ``enso predict`` as a fresh process would (``enso_session``: a child per folder, forked from one process
    that imported the libraries once, instead of eleven processes that each import them), the folder's ONNX graph
    through ONNX Runtime where it has one, which must not import torch."""
    folder = tmp_path_factory.mktemp("predicted")
    commands, outputs = [], {}

    def predict(name: str, dataset: str, rows: np.ndarray, *extra: str) -> None:
        texts = pq.read_table(ws / "datasets" / f"{dataset}.parquet").column("text").to_pylist()
        source, outputs[name] = folder / f"{name}.jsonl", folder / f"{name}.parquet"
        source.write_text("".join(json.dumps({"id": int(r), "text": texts[r]}) + "\n" for r in rows))
        commands.append(["predict", name, str(source), "--id-column", "id", "-o", str(outputs[name]), *extra])

    for run, dataset, featurizer, model in CELLS:
        args = ["--from-run", run, "-f", featurizer, "-m", model, "--size", str(SIZE), "--split", str(SPLIT)]
        onnx = ["--onnx"] if model in ONNX else []
        result = invoke(ws, "train", *args, "--name", f"cell-{model}", *onnx)
        assert result.exit_code == 0, result.output
        predict(
            f"cell-{model}",
            dataset,
            cell_test_rows(ws, run, dataset, featurizer, SPLIT),
            *(["--runtime", "onnx"] if onnx else []),
        )
    for run, dataset, featurizer, model in PRODUCTION:
        result = invoke(ws, "train", "--from-run", run, "-f", featurizer, "-m", model, "--name", f"all-{model}")
        assert result.exit_code == 0, result.output
        split = pq.read_table(ws / "datasets" / f"{dataset}.parquet").column("split").to_pylist()
        predict(f"all-{model}", dataset, np.array([i for i, s in enumerate(split) if s == "test"]))
    # the ONNX graphs first, before the session preloads torch
    commands.sort(key=lambda command: "onnx" not in command)
    graphs = sum("onnx" in command for command in commands)
    for done in enso_session(ws, *commands, torch_free=graphs, preload=(*PRELOAD, "transformers")):
        assert done.returncode == 0, (done.args, done.stderr)
    return outputs


@pytest.mark.parametrize("run,dataset,featurizer,model", CELLS, ids=[c[3] for c in CELLS])
def test_a_cell_of_every_kind_predicts_as_the_experiment_did_in_a_fresh_process(
    ws, predicted, tmp_path, run, dataset, featurizer, model
):
    name = f"cell-{model}"
    onnx = model in ONNX
    manifest = ModelManifest.read(ws / "models" / name)
    rows, truth, classes, expected, fitted = experiment_scores(ws, run, dataset, featurizer, model)
    cell = recorded(ws, run, featurizer, model, SIZE, SPLIT)
    assert manifest.model["name"] == model and manifest.training["rows"] == SIZE
    assert manifest.labels == [str(c) for c in classes] and manifest.expected["value"] == cell["accuracy"]
    assert all(not f.endswith((".pkl", ".pt", ".bin", ".joblib")) for f in manifest.files)
    if model == "distill":
        assert manifest.model["teacher"] == "bert:logreg" and manifest.model["deployed"] == "logreg"
        assert manifest.model["chosen"]["unlabelled_rows"] == fitted.best_params_["unlabelled_rows"] > 0

    # in a fresh process: the folder's ONNX graph through ONNX Runtime where it has one, else the torch path
    got_rows = pq.read_table(predicted[name]).to_pylist()
    assert [int(r["id"]) for r in got_rows] == [int(r) for r in rows] and {r["status"] for r in got_rows} == {"ok"}
    got = np.array([[r[f"proba_{c}"] for c in classes] for r in got_rows])
    np.testing.assert_allclose(got, expected, atol=2e-5, rtol=0)
    labels = np.array([r["label"] for r in got_rows], dtype=object)
    assert (labels == classes[expected.argmax(1)]).all(), "the same label for every test row"
    assert np.mean(labels == truth) == pytest.approx(cell["accuracy"], abs=1e-12), "the run's recorded accuracy"
    if onnx:  # the folder's one ONNX graph (encoder, pooling or mix or attention, head) through ONNX Runtime
        assert manifest.exports["onnx"]["graph"] == "onnx/scorer.onnx"
        # the graph scores as the folder's torch path: that path run in this process (it keeps no cache to
        # reuse; the same kinds' torch path in a fresh process is test_every_training_row_round_trips_...'s)
        source, out = predicted[name].with_suffix(".jsonl"), tmp_path / "torch.parquet"
        run_enso(ws, "predict", name, str(source), "--id-column", "id", "-o", str(out), "--runtime", "torch")
        through_torch = pq.read_table(out).to_pylist()
        np.testing.assert_allclose([[r[f"proba_{c}"] for c in classes] for r in through_torch], got, atol=1e-5, rtol=0)


#: the kinds ``--onnx`` exports (distill's student on bert shares the pooled path, tested in test_train.py)
ONNX = ("layer_mix", "attention", "finetune")


@pytest.mark.parametrize("model", ["bilstm", "setfit"])
def test_onnx_says_why_it_cannot_express_a_kind_before_training(ws, model):
    run, featurizer = ("seq", "bert") if model == "bilstm" else ("toks", "bert_tokens")
    result = invoke(ws, "train", "--from-run", run, "-f", featurizer, "-m", model, "--name", "never", "--onnx")
    why = {"bilstm": "do not pass torch.export", "setfit": "tokenized again by the sentence encoder"}[model]
    assert result.exit_code == 1 and f"--onnx cannot express {model}: " in result.output and why in result.output
    assert len(result.output.strip().splitlines()) == 1 and not (ws / "models" / "never").exists()


def _model_input(featurizer, transformed):
    """What a model of the featurizer's layout reads, built here from ``transform``'s output on its own:
    token vectors back to back with their offsets, token ids padded with -1, vectors as they are."""
    from enso_ng.formats import TOKEN_IDS, TOKEN_VECTORS, TokenVectors

    if featurizer.layout == TOKEN_VECTORS:
        lengths = [len(v) for v in transformed]
        return TokenVectors(np.concatenate(transformed), np.concatenate([[0], np.cumsum(lengths)]))
    if featurizer.layout == TOKEN_IDS:
        ids = np.full((len(transformed), max(map(len, transformed))), -1, dtype=np.int64)
        for i, row in enumerate(transformed):
            ids[i, : len(row)] = row
        return ids
    return transformed


PRODUCTION = [
    ("mix", "mix", "bert", "layer_mix"),
    ("seq", "seq", "bert", "attention"),
    ("seq", "seq", "bert", "bilstm"),
    ("toks", "toks", "bert_tokens", "finetune"),
    ("dist", "dist", "tfidf", "distill"),
]


@pytest.mark.parametrize("run,dataset,featurizer,model", PRODUCTION, ids=[c[3] for c in PRODUCTION])
def test_every_training_row_round_trips_through_a_fresh_process(ws, predicted, run, dataset, featurizer, model):
    """Without --size/--split: the featurizer fitted and applied to every training row, the model fitted on
    them with the run's settings; a fresh process's predictions are those of the pair fitted here."""
    from enso_ng.featurize import FEATURIZERS

    name = f"all-{model}"
    manifest = ModelManifest.read(ws / "models" / name)
    table = pq.read_table(ws / "datasets" / f"{dataset}.parquet").to_pylist()
    train = [r for r in table if r["split"] != "test"]
    test_rows = np.array([i for i, r in enumerate(table) if r["split"] == "test"])
    assert manifest.training["rows"] == len(train) == TRAIN_ROWS
    texts = [r["text"] for r in train]
    kind = FEATURIZERS.get(featurizer)
    options = read_features(ws / "features" / dataset / f"{featurizer}.parquet").meta.params
    made = kind(**{k: v for k, v in options.items() if k in kind.options})
    made.prepare(texts)
    made.fit(texts)
    cls = MODELS.get(model)
    params = {**RunRecord.read(ws / "results" / run).config["model_params"].get(model, {})}
    if cls.layer_aware:
        params["layers"] = made.layers
    if "encoder" in cls().get_params():
        params.update(encoder=made.params()["model"], encoder_sha256=made.params()["weights_sha256"])
    reference = cls(**params, random_state=0)
    if model == "distill":  # every training row is labelled: nothing is left for the teacher to label
        reference = MODELS.get("logreg")(random_state=0)
    with threadpool_limits(limits=1), one_torch_thread():
        reference.fit(_model_input(made, made.transform(texts)), np.array([r["label"] for r in train], dtype=object))
    test_texts = [table[i]["text"] for i in test_rows]
    expected = reference.decision_scores(_model_input(made, made.transform(test_texts)))
    got_rows = pq.read_table(predicted[name]).to_pylist()
    assert [int(r["id"]) for r in got_rows] == [int(r) for r in test_rows]
    got = np.array([[r[f"proba_{c}"] for c in manifest.labels] for r in got_rows])
    np.testing.assert_allclose(got, expected, atol=2e-5, rtol=0)
    assert [r["label"] for r in got_rows] == list(reference.classes_[expected.argmax(1)])


def test_a_features_file_whose_vectors_are_not_the_encoders_is_not_read(ws, tmp_path):
    """Training on every training row reads bert's vectors from the features file only where the encoder
    gives them: a file whose vectors were changed under the same metadata is passed over, and the folder
    trained beside it predicts as the one trained where the file is intact."""
    import shutil

    import pyarrow as pa

    from enso_ng.formats import features_batch

    copy = tmp_path / "ws"
    (copy / "datasets").mkdir(parents=True)
    (copy / "features" / "dist").mkdir(parents=True)
    shutil.copy(ws / "datasets" / "dist.parquet", copy / "datasets" / "dist.parquet")
    path = ws / "features" / "dist" / "bert.parquet"
    feats, schema = read_features(path), pq.read_schema(path)
    changed = features_batch("dense", schema, feats.rows, list(feats.labels), list(feats.splits), -feats.X)
    pq.write_table(pa.Table.from_batches([changed]), copy / "features" / "dist" / "bert.parquet")
    assert read_features(copy / "features" / "dist" / "bert.parquet").meta == feats.meta
    texts = pq.read_table(ws / "datasets" / "dist.parquet").column("text").to_pylist()
    source = tmp_path / "texts.txt"
    source.write_text("".join(t + "\n" for t in texts))
    probabilities = []
    for root in (ws, copy):
        result = invoke(root, "train", "-d", "dist", "-f", "bert", "-m", "logreg", "--name", "intact-or-not")
        assert result.exit_code == 0, result.output
        out = tmp_path / f"{len(probabilities)}.jsonl"
        assert invoke(root, "predict", "intact-or-not", str(source), "-o", str(out)).exit_code == 0
        rows = [json.loads(line) for line in out.read_text().splitlines()]
        probabilities.append(np.array([[v for k, v in r.items() if k.startswith("proba_")] for r in rows]))
    np.testing.assert_allclose(probabilities[1], probabilities[0], atol=1e-5, rtol=0)
