"""Sentence-pair datasets: two texts per row through download, featurize and experiment, the pair
combinations a model is given, and the cosine-threshold model."""

from __future__ import annotations

import json
import random
import shutil

import numpy as np
import pyarrow.parquet as pq
import pytest
import scipy.sparse as sp
from test_download_from_file import _write

from enso_ng.experiment.config import RUN_OPTIONS
from enso_ng.experiment.models.cosine import CosineThreshold, best_cuts
from enso_ng.experiment.pairs import COMBINATIONS, COMBINED, SIDES, WIDTH, pair_view
from enso_ng.formats import DENSE, SPARSE, FeaturesMeta, features_batch, features_schema, read_features
from enso_ng.workspace import parquet_writer, read_meta

from conftest import invoke

WORDS = "apple river stone cloud engine violet tiger piano copper garden lemon rocket marble falcon".split()


def _sentence(rng: random.Random) -> str:
    return " ".join(rng.sample(WORDS, 5))


def _pairs(n: int = 240, seed: int = 0) -> list[tuple[str, str, str, str]]:
    """(first, second, label, split): a paraphrase repeats the first text's words in another order, an
    unrelated pair draws new ones; texts recur across rows and columns, as in SICK."""
    rng = random.Random(seed)
    pool = [_sentence(rng) for _ in range(60)]
    rows = []
    for i in range(n):
        first = pool[i % len(pool)]
        if i % 2:
            words = first.split()
            rng.shuffle(words)
            second, label = " ".join(words), "same"
        else:
            second, label = rng.choice([p for p in pool if not set(p.split()) & set(first.split())] or pool), "other"
        rows.append((first, second, label, "test" if i % 8 in (0, 3) else "train"))  # both labels in each split
    return rows


#: the columns of the pair files the tests import
COLUMNS = ("resume", "job", "match", "fold")


def _write_csv(path, rows) -> None:
    _write(path, "csv", rows, COLUMNS)


def _import(workspace, path, *extra):
    return invoke(
        workspace,
        "download",
        "--from-file",
        str(path),
        "--name",
        "matches",
        "--text-column",
        "resume",
        "--text-pair-column",
        "job",
        "--label-column",
        "match",
        "--split-column",
        "fold",
        *extra,
    )


def test_pair_rows_keep_both_texts_through_every_stage(tmp_path):
    rows = _pairs()
    assert {r[2] for r in rows if r[3] == "test"} == {"same", "other"}, "a test split of one label proves little"
    _write_csv(tmp_path / "m.csv", rows)
    workspace = tmp_path / "ws"
    result = _import(workspace, tmp_path / "m.csv")
    assert result.exit_code == 0, result.output
    table = pq.read_table(workspace / "datasets" / "matches.parquet")
    assert table.column_names == ["text", "label", "split", "text_pair"]
    assert table.column("text").to_pylist() == [r[0] for r in rows]
    assert table.column("text_pair").to_pylist() == [r[1] for r in rows]
    assert read_meta(workspace / "datasets" / "matches.parquet")["pairs"] is True

    assert invoke(workspace, "featurize", "-f", "tfidf").exit_code == 0
    feats = read_features(workspace / "features" / "matches" / "tfidf.parquet")
    assert feats.meta.sides == 2 and feats.X.shape == (len(rows), feats.meta.dim)
    half = feats.meta.dim // 2
    X = feats.X.toarray()
    first_row = {}  # a text's vector, from a row where it is the first text
    for i, (first, _, _, _) in enumerate(rows):
        first_row.setdefault(first, i)
    checked = 0
    for i, (first, second, _, _) in enumerate(rows):
        np.testing.assert_array_equal(X[i, :half], X[first_row[first], :half])
        if second in first_row:  # the second side is the very vector that text has as a first text
            np.testing.assert_array_equal(X[i, half:], X[first_row[second], :half])
            checked += 1
    assert checked > 50

    result = invoke(
        workspace, "experiment", "-m", "logreg,cosine", "--sizes", "40,100", "--splits", "2", "--name", "p",
        "-o", "pair=diffprod",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    results = pq.read_table(workspace / "results" / "p" / "results.parquet").to_pandas()
    accuracy = results[results.metric == "accuracy"].groupby("model").value.min()
    # only a model that sees both texts can tell a reordering from an unrelated sentence
    assert accuracy["cosine"] > 0.9 and accuracy["logreg"] > 0.9
    config = json.loads((workspace / "results" / "p" / "config.json").read_text())
    assert config["config"]["pair"] == "diffprod"


def _pair_file(path, X, layout: str) -> None:
    dim = X.shape[1]
    meta = FeaturesMeta(
        dataset="d", dataset_fingerprint="f", featurizer="hand", params={}, dim=dim, rows=X.shape[0], layout=layout,
        sides=2,
    )  # fmt: skip
    schema = features_schema(layout, dim)
    with parquet_writer(path, schema, meta.to_dict()) as writer:
        writer.write_batch(features_batch(layout, schema, np.arange(X.shape[0]), ["a", "b"], ["train", "test"], X))


@pytest.mark.parametrize("layout", [DENSE, SPARSE])
def test_pair_features_file_decodes_to_the_declared_combination(tmp_path, layout):
    u1, v1, u2, v2 = [1.0, 2.0, 0.0], [3.0, -1.0, 0.5], [0.0, 4.0, -2.0], [0.0, 4.0, 1.0]
    stored = np.array([u1 + v1, u2 + v2], dtype=np.float32)
    _pair_file(tmp_path / "f.parquet", sp.csr_matrix(stored) if layout == SPARSE else stored, layout)
    feats = read_features(tmp_path / "f.parquet")
    by_hand = {  # [u, v, |u-v|, u*v]; [|u-v|, u*v]; [u, v]
        "senteval": [u1 + v1 + [2, 3, 0.5] + [3, -2, 0], u2 + v2 + [0, 0, 3] + [0, 16, -2]],
        "diffprod": [[2, 3, 0.5, 3, -2, 0], [0, 0, 3, 0, 16, -2]],
        "concat": [u1 + v1, u2 + v2],
    }
    for combination, rows in by_hand.items():
        view = pair_view(feats, COMBINED, combination)
        X = view.X.toarray() if sp.issparse(view.X) else view.X
        np.testing.assert_array_equal(X, np.array(rows, dtype=np.float32), err_msg=combination)
        assert view.meta.dim == len(rows[0])
    assert RUN_OPTIONS["pair"].choices == tuple(COMBINATIONS) == tuple(WIDTH)
    sides = pair_view(feats, SIDES, "senteval").X  # cosine reads the stored sides
    np.testing.assert_array_equal(sides.toarray() if sp.issparse(sides) else sides, stored)


def test_cosine_thresholds_are_learnt_on_training_rows():
    assert best_cuts(np.array([0.1, 0.2, 0.8, 0.9]), np.array([0, 0, 1, 1]), np.array([0, 1])).tolist() == [0.5]
    # three classes, ordered by similarity: contradiction < neutral < entailment
    scores = np.array([0.05, 0.1, 0.4, 0.5, 0.45, 0.9, 0.95, 0.3])
    codes = np.array([0, 0, 2, 2, 2, 1, 1, 0])
    np.testing.assert_allclose(best_cuts(scores, codes, np.array([0, 2, 1])), [0.35, 0.7])

    def pairs(cosines):  # unit u, v at the given cosine
        return np.array([[1, 0, c, np.sqrt(1 - c * c)] for c in cosines])

    model = CosineThreshold().fit(pairs([0.1, 0.2, 0.3, 0.7, 0.8, 0.9]), np.array(["no"] * 3 + ["yes"] * 3))
    assert model.best_params_["thresholds"] == [0.5]
    assert model.predict(pairs([0.45, 0.55, 0.99])).tolist() == ["no", "yes", "yes"]
    flipped = CosineThreshold().fit(pairs([0.1, 0.2, 0.8, 0.9]), np.array(["yes", "yes", "no", "no"]))
    assert flipped.predict(pairs([0.15, 0.85])).tolist() == ["yes", "no"]


def test_pairs_refused_in_one_line_where_they_are_not_taken(tmp_path):
    _write_csv(tmp_path / "m.csv", _pairs(80))
    workspace = tmp_path / "ws"
    assert _import(workspace, tmp_path / "m.csv").exit_code == 0
    assert invoke(workspace, "featurize", "-f", "tfidf").exit_code == 0
    for model in ("layer_mix", "distill", "attention", "bilstm"):
        result = invoke(workspace, "experiment", "-m", model, "--sizes", "20", "--splits", "1", "--name", "s")
        assert result.exit_code != 0
        assert result.output.strip().splitlines() == [
            f"Error: model '{model}' does not take sentence pairs yet, and 'matches' is a pair dataset: choose a "
            "model on frozen features (logreg, mlp, svm, knn, lightgbm), cosine, or one that cross-encodes token ids "
            "(finetune, setfit)"
        ]
        assert not (workspace / "results" / "s").exists()
    # setfit takes pairs as token ids: on tf-idf features it is told what it needs, not refused for the pairs
    result = invoke(workspace, "experiment", "-m", "setfit", "--sizes", "20", "--splits", "1", "--name", "s")
    assert result.exit_code != 0 and len(result.output.strip().splitlines()) == 1
    assert "model 'setfit' trains on token ids" in result.output and "sentence pairs" not in result.output
    assert not (workspace / "results" / "s").exists()
    result = invoke(workspace, "train", "-d", "matches", "-f", "tfidf", "-m", "logreg", "--name", "m")
    assert result.exit_code != 0 and result.output.strip().splitlines() == [
        "Error: matches is a sentence-pair dataset: enso train and predict take one text per row (pairs are "
        "scored by enso experiment only, so far)"
    ]
    assert not (workspace / "models" / "m").exists()
    result = invoke(tmp_path / "ws2", "download", "sst2", "--text-pair-column", "b")
    assert result.exit_code != 0 and result.output.strip() == "Error: --text-pair-column applies to --from-file only"
    result = _import(tmp_path / "ws3", tmp_path / "m.csv", "--text-pair-column", "nope")
    assert result.exit_code != 0 and "no column(s) nope" in result.output


@pytest.mark.parametrize("fmt", ["csv", "tsv", "jsonl", "parquet"])
def test_each_format_takes_a_text_pair_column_and_drops_empty_second_texts(tmp_path, fmt):

    rows = [(a, b, label, split) for a, b, label, split in _pairs(12)]
    rows[3] = (rows[3][0], "  ", rows[3][2], rows[3][3])  # an empty second text: dropped, counted
    path = _write(tmp_path / f"m.{fmt}", fmt, rows, COLUMNS)
    result = _import(tmp_path / "ws", path)
    assert result.exit_code == 0, result.output
    table = pq.read_table(tmp_path / "ws" / "datasets" / "matches.parquet")
    kept = [r for i, r in enumerate(rows) if i != 3]
    assert table.column("text").to_pylist() == [r[0] for r in kept]
    assert table.column("text_pair").to_pylist() == [r[1] for r in kept]
    meta = read_meta(tmp_path / "ws" / "datasets" / "matches.parquet")
    assert meta["dropped"] == {"empty text": 1} and meta["recipe"]["text_pair_column"] == "job"


@pytest.fixture(scope="module")
def _pair_tokens(tmp_path_factory):
    """A pair dataset of 60 rows with its bert_tokens features (MiniLM's cross-encoded ids), built once for
    this module's fine-tuning tests; each test writes into a copy (``pair_tokens``)."""
    root = tmp_path_factory.mktemp("pair-tokens")
    rows = _pairs(60)
    _write_csv(root / "m.csv", rows)
    assert _import(root / "ws", root / "m.csv").exit_code == 0
    result = invoke(root / "ws", "featurize", "-f", "bert_tokens")
    assert result.exit_code == 0, result.output
    return root / "ws", rows


@pytest.fixture
def pair_tokens(_pair_tokens, tmp_path):
    """(a copy of the pair workspace of this test's own, the rows it holds)."""
    workspace, rows = _pair_tokens
    return shutil.copytree(workspace, tmp_path / "ws"), rows


def test_finetune_cross_encodes_pairs_as_the_tokenizer_does(pair_tokens):
    """bert_tokens writes each pair as one input ([CLS] a [SEP] b [SEP]); finetune gives the second text token
    type 1, as the tokenizer does."""
    import torch
    from transformers import AutoTokenizer

    from enso_ng.encoders import DEFAULT_MODEL, resolve_model_folder
    from enso_ng.experiment.models.finetune import _batch, _Classifier, _types

    workspace, rows = pair_tokens
    feats = read_features(workspace / "features" / "matches" / "bert_tokens.parquet")
    assert feats.meta.report["pairs"] == "cross" and feats.meta.sides == 1
    tokenizer = AutoTokenizer.from_pretrained(str(resolve_model_folder(DEFAULT_MODEL)))
    expected = tokenizer([r[0] for r in rows], [r[1] for r in rows])
    ids, mask = _batch(feats.X)
    for i in range(len(rows)):
        n = len(expected["input_ids"][i])
        assert ids[i, :n].tolist() == expected["input_ids"][i] and int(mask[i].sum()) == n

    class Encoder(torch.nn.Module):  # only its config is read
        config = type("Config", (), {"type_vocab_size": 2, "hidden_size": 4})()

    types = _types(_Classifier(Encoder(), 2, 0.0), ids, mask)
    for i in range(len(rows)):
        n = len(expected["token_type_ids"][i])
        assert types[i, :n].tolist() == expected["token_type_ids"][i]
    single = _batch(np.array([tokenizer("one text")["input_ids"] + [-1]]))
    assert _types(_Classifier(Encoder(), 2, 0.0), *single) is None, "a single text keeps the encoder's own types"

    result = invoke(
        workspace, "experiment", "-m", "finetune", "--sizes", "30", "--splits", "1", "--name", "ft",
        "-o", "finetune.min_epochs=1", "-o", "finetune.max_epochs=1", "-o", "finetune.valid_fraction=0",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert (workspace / "results" / "ft" / "results.parquet").exists()


def _stored(rows: list[list[int]]) -> np.ndarray:
    """Token-id rows as a features file decodes them: -1-padded to the longest."""
    X = np.full((len(rows), max(map(len, rows))), -1, dtype=np.int64)
    for i, row in enumerate(rows):
        X[i, : len(row)] = row
    return X


def test_setfit_hands_the_library_each_pair_as_one_text_of_the_stored_ids():
    """SetFit has no pair input: each cross-encoded pair becomes ``a [SEP] b``, which the library's sentence
    encoder tokenizes back into exactly the stored ids (a truncated pair, unknown characters and a single
    text included)."""
    pytest.importorskip("setfit", reason="SetFit is an extra: pip install 'enso_ng[setfit]'")
    from sentence_transformers import SentenceTransformer
    from transformers import AutoTokenizer

    from enso_ng.encoders import DEFAULT_MODEL, resolve_model_folder
    from enso_ng.experiment.models.setfit_model import texts
    from enso_ng.featurize.token_ids import BertTokens

    pairs = [
        ("The cat sat on the mat.", "A dog ran, didn't it?"),
        ("A snowman \u2603 in Caf\u00e9 Zo\u00eb", "naive"),
        (" ".join(WORDS), "a short second text"),  # too long for 20 tokens: cut from the longer text first
    ]
    featurizer = BertTokens(max_length=20)
    stored = featurizer.transform(pairs) + featurizer.transform(["Just one text, no pair."])
    assert featurizer.truncated == 1 and len(stored[2]) == 20
    folder = str(resolve_model_folder(DEFAULT_MODEL))
    got = texts(AutoTokenizer.from_pretrained(folder), _stored(stored))
    assert got[:2] == ["the cat sat on the mat. [SEP] a dog ran, didn ' t it?", "a snowman [UNK] in cafe zoe [SEP] naive"]
    assert got[2].endswith(" [SEP] a short second text") and got[3] == "just one text, no pair."
    encoded = SentenceTransformer(folder, device="cpu").tokenize(got)  # what the library's encoder reads
    for i, row in enumerate(stored):
        assert encoded["input_ids"][i][: len(row)].tolist() == row, got[i]
        assert int(encoded["attention_mask"][i].sum()) == len(row)


def test_setfit_runs_on_pairs_through_the_experiment(pair_tokens, monkeypatch):
    """``enso experiment -m setfit`` on a pair dataset completes and records its cells (it was refused); the
    texts the library trained on are the training rows' stored pairs."""
    setfit = pytest.importorskip("setfit", reason="SetFit is an extra: pip install 'enso_ng[setfit]'")
    from transformers import AutoTokenizer

    from enso_ng.encoders import DEFAULT_MODEL, resolve_model_folder

    handed = []
    train = setfit.Trainer.train

    def spy(trainer, *args, **kwargs):  # the real training, its input recorded
        handed.append(list(trainer.train_dataset["text"]))
        return train(trainer, *args, **kwargs)

    monkeypatch.setattr(setfit.Trainer, "train", spy)
    workspace, rows = pair_tokens
    result = invoke(
        workspace, "experiment", "-m", "setfit", "--sizes", "30", "--splits", "1", "--name", "sf",
        "-o", "setfit.max_steps=1", "-o", "setfit.steps_per_class=1", "-o", "setfit.num_iterations=1",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    results = pq.read_table(workspace / "results" / "sf" / "results.parquet").to_pandas()
    accuracy = results[(results.metric == "accuracy") & (results.model == "setfit")]
    assert len(accuracy) == 1 and accuracy.train_size.item() == 30 and 0 <= accuracy.value.item() <= 1
    assert len(handed) == 1 and len(handed[0]) == 30
    tokenizer = AutoTokenizer.from_pretrained(str(resolve_model_folder(DEFAULT_MODEL)))
    stored = {tuple(ids) for ids in tokenizer([r[0] for r in rows], [r[1] for r in rows])["input_ids"]}
    assert all(" [SEP] " in text and tuple(tokenizer(text)["input_ids"]) in stored for text in handed[0])
    result = invoke(workspace, "train", "-d", "matches", "-f", "bert_tokens", "-m", "setfit", "--name", "m")
    assert result.exit_code != 0 and result.output.strip().splitlines() == [
        "Error: matches is a sentence-pair dataset: enso train and predict take one text per row (pairs are "
        "scored by enso experiment only, so far)"
    ]
    assert not (workspace / "models" / "m").exists()
