"""Token vectors in features files, and the sequence heads (``attention``, ``bilstm``) that read them.

The task the heads must solve is built here: every text holds one animal word and one vehicle word among
filler words, and the word "look" right before one of them marks it; the label is the marked word's kind.
Both labels have the same bag of words, so mean pooling of static (GloVe) vectors is at chance by
construction; a model that reads the order (a BiLSTM over GloVe) or contextual token vectors (attention
over MiniLM) can solve it.
"""

from __future__ import annotations

import csv
import json
import random
from pathlib import Path

import numpy as np
import pytest
import torch

from enso_ng.errors import EnsoError
from enso_ng.experiment.models import MODELS
from enso_ng.featurize.glove import load_vectors
from enso_ng.featurize.tokens import tokenize
from enso_ng.formats import FeaturesMeta, TokenVectors, read_features, read_results

from conftest import invoke

ANIMALS = "dog cat horse cow sheep goat pig rabbit mouse duck".split()
VEHICLES = "car truck bus train bicycle plane boat taxi tractor van".split()
FILLER = (
    "the of and to in a is that for it as was with be by on not he this are or his from at which but have an "
    "they you were her she there one all we their"
).split()


def marked_texts(n: int, seed: int) -> list[tuple[str, str]]:
    """(text, label) pairs of the marked-word task, labels alternating."""
    rng = random.Random(seed)
    rows = []
    for i in range(n):
        animal, vehicle = rng.choice(ANIMALS), rng.choice(VEHICLES)
        marked, other, label = (animal, vehicle, "animal") if i % 2 else (vehicle, animal, "vehicle")
        words = [rng.choice(FILLER) for _ in range(rng.randint(6, 14))]
        words.insert(rng.randrange(len(words) + 1), other)
        at = rng.randrange(len(words) + 1)
        words[at:at] = ["look", marked]
        rows.append((" ".join(words), label))
    return rows


def dataset(root: Path, train: int, test: int, name: str = "marked") -> Path:
    """A ``--from-file`` dataset of the marked task with an official train/test split."""
    path = root / f"{name}.csv"
    with path.open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["text", "label", "split"])
        for split, rows in (("train", marked_texts(train, 1)), ("test", marked_texts(test, 2))):
            writer.writerows((text, label, split) for text, label in rows)
    ws = root / "ws"
    result = invoke(ws, "download", "--from-file", str(path), "--name", name, "--split-column", "split")
    assert result.exit_code == 0, result.output
    return ws


def token_vectors(arrays: list[np.ndarray]) -> TokenVectors:
    lengths = [len(a) for a in arrays]
    return TokenVectors(np.concatenate(arrays).astype(np.float32), np.concatenate([[0], np.cumsum(lengths)]))


def accuracies(ws: Path, run: str) -> dict[str, float]:
    rows = read_results(ws / "results" / run / "results.parquet").to_pylist()
    return {r["model"]: r["value"] for r in rows if r["metric"] == "accuracy"}


# ---------------------------------------------------------------------------------------- the features file


def test_glove_token_vectors_round_trip_exactly_and_the_cap_is_counted(tmp_path):
    ws = dataset(tmp_path, 40, 20)
    result = invoke(ws, "featurize", "-f", "glove", "-d", "marked", "-o", "pooling=none", "-o", "max_tokens=12")
    assert result.exit_code == 0, result.output
    assert "MB per 1,000 texts" in result.output
    feats = read_features(ws / "features" / "marked" / "glove.parquet")
    keyed, _ = load_vectors("glove-6b-50d")
    texts = [t for t, _ in marked_texts(40, 1) + marked_texts(20, 2)]
    known = [[w for w in tokenize(t) if w in keyed.key_to_index] for t in texts]
    assert feats.meta.layout == "token_vectors" and feats.meta.dim == 50
    assert list(feats.X.lengths) == [min(len(k), 12) for k in known]
    assert feats.meta.report["capped"] == sum(len(k) > 12 for k in known) > 0
    assert feats.meta.timing["bytes_per_1k"] > 0
    assert len(set(feats.X.lengths)) > 2
    for i, words in enumerate(known):  # stored in order, bit for bit
        stored = feats.X.values[feats.X.offsets[i] : feats.X.offsets[i + 1]]
        assert np.array_equal(stored, np.stack([keyed[w] for w in words[:12]]))
        # pooled models see the mean over each text's own tokens, never over padding
        assert np.allclose(feats.pooled()[i], stored.mean(0), atol=1e-6)


def test_bert_token_vectors_pool_to_the_pooled_vectors_and_float16_halves_the_file(tmp_path):
    """A pooled model on a ``pooling=none`` file sees what ``pooling=mean`` with the same parameters stores:
    the mean over the text's tokens ([CLS] .. [SEP], padding excluded), L2-normalised where ``normalize``
    says so (the default), so the file's parameters describe the vectors the model trains on."""
    ws = dataset(tmp_path, 24, 8)
    features = ws / "features" / "marked" / "bert.parquet"
    stored = {}
    for options in (
        ("pooling=mean",),
        ("pooling=mean", "normalize=false"),
        ("pooling=none",),
        ("pooling=none", "normalize=false"),
        ("pooling=none", "dtype=float16"),
    ):
        result = invoke(ws, "featurize", "-f", "bert", "-d", "marked", *[a for o in options for a in ("-o", o)])
        assert result.exit_code == 0, result.output
        stored[options] = (read_features(features), features.stat().st_size)
    full, full_bytes = stored[("pooling=none",)]
    half, half_bytes = stored[("pooling=none", "dtype=float16")]
    assert full.X.values.dtype == np.float32 and half.X.values.dtype == np.float16
    assert np.allclose(full.pooled(), stored[("pooling=mean",)][0].X, atol=1e-5)
    raw = stored[("pooling=none", "normalize=false")][0]
    assert np.allclose(raw.pooled(), stored[("pooling=mean", "normalize=false")][0].X, atol=1e-5)
    assert np.allclose(np.linalg.norm(full.pooled(), axis=1), 1, atol=1e-5)
    assert np.array_equal(half.X.values, full.X.values.astype(np.float16))
    assert half_bytes < 0.7 * full_bytes
    assert half.meta.timing["bytes_per_1k"] < full.meta.timing["bytes_per_1k"]


def test_elmo_token_vectors_round_trip_exactly_mean_to_the_pooled_vectors_and_the_cap_is_counted(tmp_path, tiny_elmo):
    from enso_ng.featurize.elmo import ElmoFeaturizer

    ws = dataset(tmp_path, 24, 8)
    files = {"options_file": str(tiny_elmo / "options.json"), "weight_file": str(tiny_elmo / "weights.hdf5")}
    path = ws / "features" / "marked" / "elmo.parquet"
    texts = [t for t, _ in marked_texts(24, 1) + marked_texts(8, 2)]
    words = [len(tokenize(t, lower=False)) for t in texts]
    stored = {}
    for options in (
        {"pooling": "none", "max_tokens": "12"},
        {"pooling": "mean"},
        {"pooling": "none", "dtype": "float16"},
        {"pooling": "none"},
    ):
        args = [a for k, v in {**files, **options}.items() for a in ("-o", f"{k}={v}")]
        result = invoke(ws, "featurize", "-f", "elmo", "-d", "marked", *args)
        assert result.exit_code == 0, result.output
        stored[tuple(options.values())] = read_features(path)
    capped = stored["none", "12"]
    assert capped.meta.layout == "token_vectors" and capped.meta.dim == 16
    assert list(capped.X.lengths) == [min(n, 12) for n in words]
    assert capped.meta.report["capped"] == sum(n > 12 for n in words) > 0
    assert capped.meta.timing["bytes_per_1k"] > 0
    direct = ElmoFeaturizer(**files, pooling="none", max_tokens=12).transform(texts)
    for i, vectors in enumerate(direct):  # what the featurizer computed, bit for bit
        assert np.array_equal(capped.X.values[capped.X.offsets[i] : capped.X.offsets[i + 1]], vectors)
    full, pooled = stored["none",], stored["mean",]
    assert max(words) <= 128 and full.meta.report["capped"] == 0
    assert np.allclose(full.pooled(), pooled.X, atol=1e-5), "the mean of a text's word vectors is pooling=mean"
    assert full.meta.params["lstm_states"] == "reset" and "max_tokens" not in pooled.meta.params
    assert np.array_equal(stored["none", "float16"].X.values, full.X.values.astype(np.float16))
    empty = ElmoFeaturizer(**files, pooling="none").transform(["", "   ", texts[0]])  # no words: no vectors
    assert [len(v) for v in empty] == [0, 0, words[0]] and empty[0].shape == (0, 16)
    with pytest.raises(EnsoError, match="pooling=none stores one layer's word vectors; choose layers=mean or 0..2"):
        ElmoFeaturizer(**files, pooling="none", layers="all")


def test_token_vector_options_fail_in_one_line(tmp_path):
    ws = dataset(tmp_path, 10, 4)
    for options, expected in (
        (("dtype=float16",), "option dtype applies to pooling=none only"),
        (("pooling=none", "max_tokens=0"), "option max_tokens must be positive"),
        (("pooling=none", "dtype=float8"), "option dtype must be float32 or float16"),
    ):
        result = invoke(ws, "featurize", "-f", "glove", "-d", "marked", *[a for o in options for a in ("-o", o)])
        assert result.exit_code != 0
        assert result.output.strip().count("\n") == 0 and expected in result.output, result.output
    assert not (ws / "features" / "marked" / "glove.parquet").exists()


def test_token_vectors_select_rows_like_a_matrix():
    X = token_vectors([np.full((n, 2), i, dtype=np.float32) for i, n in enumerate((3, 0, 1, 2))])
    picked = X[np.array([3, 1, 0])]
    assert list(picked.lengths) == [2, 0, 3]
    assert picked.values[:, 0].tolist() == [3, 3, 0, 0, 0]
    values, mask = picked.padded()
    assert values.shape == (3, 3, 2) and mask.tolist() == [[1, 1, 0], [1, 0, 0], [1, 1, 1]]
    assert picked.mean()[:, 0].tolist() == [3, 0, 0]


# ---------------------------------------------------------------------------------------- the models


def test_bilstm_reads_word_order_where_mean_pooled_glove_is_at_chance(tmp_path):
    """Measured: bilstm 1.00, logreg 0.48 and mlp 0.49 on the mean (chance), 300 test texts."""
    ws = dataset(tmp_path, 300, 300)
    assert invoke(ws, "featurize", "-f", "glove", "-d", "marked", "-o", "pooling=none").exit_code == 0
    result = invoke(
        ws, "experiment", "-m", "logreg,mlp,bilstm", "--sizes", "300", "--splits", "1", "--name", "order",
        "-o", "bilstm.steps=150", "-o", "bilstm.hidden=16",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    got = accuracies(ws, "order")
    print("marked task, glove:", got)  # shown with pytest -s
    assert got["bilstm"] >= 0.95, got
    assert got["logreg"] <= 0.62 and got["mlp"] <= 0.62, got


def test_attention_over_minilm_token_vectors_beats_their_mean(tmp_path):
    """Measured: attention 0.97, logreg on the mean of the same token vectors 0.715 (400 test texts)."""
    ws = dataset(tmp_path, 400, 400)
    result = invoke(ws, "featurize", "-f", "bert", "-d", "marked", "-o", "pooling=none", "-o", "dtype=float16")
    assert result.exit_code == 0, result.output
    result = invoke(ws, "experiment", "-m", "logreg,attention", "--sizes", "400", "--splits", "1", "--name", "mark")
    assert result.exit_code == 0, result.output
    got = accuracies(ws, "mark")
    print("marked task, MiniLM:", got)  # shown with pytest -s
    assert got["attention"] >= 0.9 and got["attention"] - got["logreg"] >= 0.15, got


def _fitted(name: str, seed: int = 0, **params) -> tuple:
    rng = np.random.default_rng(5)
    arrays = [rng.standard_normal((n, 6)).astype(np.float32) for n in rng.integers(1, 9, 40)]
    y = np.array(["a", "b"] * 20, dtype=object)
    arrays = [a + (1.0 if label == "a" else -1.0) * (np.arange(len(a))[:, None] == 0) for a, label in zip(arrays, y)]
    model = MODELS.get(name)(steps=15, random_state=seed, **params).fit(token_vectors(arrays), y)
    return model, arrays


@pytest.mark.parametrize("name", ["attention", "bilstm"])
def test_padding_never_changes_a_prediction(name):
    model, arrays = _fitted(name)
    rng = np.random.default_rng(9)
    alone = model.predict_proba(token_vectors([arrays[3]]))
    long = [rng.standard_normal((30, 6)).astype(np.float32) for _ in range(3)]
    in_batch = model.predict_proba(token_vectors([long[0], arrays[3], *long[1:]]))
    assert np.allclose(alone[0], in_batch[1], atol=1e-6)
    values, mask = token_vectors([arrays[3], long[0]]).padded()
    values[0, len(arrays[3]) :] = 1e3  # what sits in the padding is never read
    head = model.head_
    with torch.no_grad():
        before = head(torch.as_tensor(values), torch.as_tensor(mask))
        values[0, len(arrays[3]) :] = -7.0
        after = head(torch.as_tensor(values), torch.as_tensor(mask))
    assert torch.allclose(before, after)


@pytest.mark.parametrize("name", ["attention", "bilstm"])
def test_seeded_and_deterministic(name):
    first, arrays = _fitted(name, seed=3)
    again, _ = _fitted(name, seed=3)
    other, _ = _fitted(name, seed=4)
    X = token_vectors(arrays)
    assert np.array_equal(first.predict_proba(X), again.predict_proba(X))
    assert not np.array_equal(first.predict_proba(X), other.predict_proba(X))
    assert first.best_params_["cv_folds"] == 3 and first.best_params_["weight_decay"] in (1e-1, 1e-2)


def test_stacked_bilstm_models_are_independent():
    """Every inner-CV candidate shares one LSTM: each kept model must compute what it computed stacked."""
    from enso_ng.experiment.models.sequence import _BiLSTMHead

    head = _BiLSTMHead(6, 4, 3, 5, 0.0, torch.Generator().manual_seed(0))
    with torch.no_grad():  # as after training: arbitrary weights, off-block recurrent ones zeroed
        for p in head.parameters():
            p.add_(torch.randn(p.shape, generator=torch.Generator().manual_seed(1)) * 0.3)
    head.after_step()
    values, mask = token_vectors([np.random.default_rng(2).standard_normal((n, 6)) for n in (4, 1, 7)]).padded()
    x, m = torch.as_tensor(values), torch.as_tensor(mask)
    head.eval()
    with torch.no_grad():
        stacked = head(x, m)
        for k in range(5):
            assert torch.allclose(head.select(k)(x, m)[:, 0], stacked[:, k], atol=1e-5)


def test_a_sequence_model_on_pooled_features_is_one_line_naming_the_file_and_the_option(tmp_path):
    ws = dataset(tmp_path, 30, 10)
    assert invoke(ws, "featurize", "-f", "glove", "-d", "marked").exit_code == 0
    result = invoke(ws, "experiment", "-m", "attention", "--sizes", "20", "--splits", "1", "--name", "bad")
    path = ws / "features" / "marked" / "glove.parquet"
    assert result.exit_code != 0
    assert result.output.strip().count("\n") == 0, result.output
    assert str(path) in result.output and "-o pooling=none of bert, elmo or glove" in result.output
    assert "enso featurize -f glove -d marked -o pooling=none" in result.output
    assert not (ws / "results" / "bad").exists()
    # several pooled files: each is named, and the command offered is one that makes token vectors
    assert invoke(ws, "featurize", "-f", "tfidf", "-d", "marked").exit_code == 0
    for featurizers, suggested in (("tfidf", "bert"), ("tfidf,glove", "glove")):
        result = invoke(
            ws, "experiment", "-f", featurizers, "-m", "attention", "--sizes", "20", "--splits", "1", "--name", "bad"
        )
        assert result.exit_code != 0 and result.output.strip().count("\n") == 0, result.output
        assert all(str(ws / "features" / "marked" / f"{f}.parquet") in result.output for f in featurizers.split(","))
        assert f"enso featurize -f {suggested} -d marked -o pooling=none" in result.output
    assert not (ws / "results" / "bad").exists()


def test_the_featurizers_named_for_token_vectors_are_those_that_make_them():
    from enso_ng.featurize import FEATURIZERS
    from enso_ng.formats import TOKEN_VECTOR_FEATURIZERS

    pooling = {name: FEATURIZERS.get(name).options.get("pooling") for name in FEATURIZERS.names()}
    makers = {name for name, option in pooling.items() if option is not None and "none" in (option.choices or ())}
    assert makers == set(TOKEN_VECTOR_FEATURIZERS)


def test_sequence_models_are_skipped_with_a_reason_on_the_pooled_file_of_a_mixed_run(tmp_path):
    ws = dataset(tmp_path, 30, 10)
    assert invoke(ws, "featurize", "-f", "glove", "-d", "marked", "-o", "pooling=none").exit_code == 0
    assert invoke(ws, "featurize", "-f", "tfidf", "-d", "marked").exit_code == 0
    result = invoke(
        ws, "experiment", "-m", "logreg,attention", "--sizes", "20", "--splits", "1", "--name", "mixed",
        "-o", "attention.steps=10",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "skipping model attention on tfidf" in result.output
    config = json.loads((ws / "results" / "mixed" / "config.json").read_text())
    assert [s["model"] for s in config["skipped"]] == ["attention"]
    cells = {
        (r["featurizer"], r["model"]) for r in read_results(ws / "results" / "mixed" / "results.parquet").to_pylist()
    }
    assert cells == {("glove", "logreg"), ("glove", "attention"), ("tfidf", "logreg")}
    assert FeaturesMeta.read(ws / "features" / "marked" / "glove.parquet").layout == "token_vectors"
