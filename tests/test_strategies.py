"""Strategies beyond frozen features: the real MiniLM fine-tuned end to end on the same split plan."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
import torch

from enso_ng.experiment.models import MODELS
from enso_ng.formats import read_features

from conftest import CORPUS, _read_only, invoke


@pytest.fixture
def tokens_workspace(_tokens) -> Iterator[Path]:
    """Read-only: the corpus with token ids (a test that changes it fails, as for ``corpus_workspace``)."""
    with _read_only(_tokens) as root:
        yield root


@pytest.fixture
def tokens_copy(_tokens, tmp_path) -> Path:
    """A copy of the token-ids workspace of this test's own, to write into."""
    return Path(shutil.copytree(_tokens, tmp_path / "ws"))


def test_token_ids_name_the_encoder_and_round_trip(tokens_workspace):
    feats = read_features(tokens_workspace / "features" / CORPUS / "bert_tokens.parquet")
    assert feats.meta.layout == "token_ids" and feats.meta.params["model"] == "sentence-transformers/all-MiniLM-L6-v2"
    assert len(feats.meta.params["weights_sha256"]) == 64
    bert = read_features(tokens_workspace / "features" / CORPUS / "bert.parquet")
    assert feats.meta.params["weights_sha256"] == bert.meta.params["weights_sha256"], "the same encoder"
    lengths = (feats.X >= 0).sum(1)
    assert (feats.X[:, 0] == 101).all() and (feats.X[np.arange(len(lengths)), lengths - 1] == 102).all()
    assert (feats.X[feats.X < 0] == -1).all() and lengths.max() == feats.X.shape[1] <= 128


def test_finetune_learns_and_is_deterministic(tokens_workspace):
    feats = read_features(tokens_workspace / "features" / CORPUS / "bert_tokens.parquet")
    pool = np.flatnonzero(feats.splits != "test")
    # 4 examples per label in batches of 8, 2 epochs, 30 test rows (three fits of the whole encoder are the
    # cost: less work, the same checks)
    train = np.concatenate([pool[feats.labels[pool] == label][:4] for label in np.unique(feats.labels)])
    test = np.flatnonzero(feats.splits == "test")[:30]
    cls = MODELS.get("finetune")
    kwargs = {**cls.features_kwargs(feats.meta), "max_epochs": 2, "valid_fraction": 0.25, "batch_size": 8}

    def fit(seed):
        model = cls(**kwargs, random_state=seed).fit(feats.X[train], feats.labels[train])
        return model, model.predict_proba(feats.X[test])

    (first, proba), (_, again), (_, other) = fit(0), fit(0), fit(1)
    record = first.best_params_
    assert record["train_loss"] < record["first_loss"], record
    # 12 rows: 3 validate (one of each label per fold of 4), 9 train in batches of 8: two steps per epoch
    assert record["epochs"] == 2 and record["steps"] == 2 * 2 and record["valid_rows"] == 3
    assert np.array_equal(proba, again)
    assert not np.allclose(proba, other)
    assert first.n_parameters() > 22_000_000, "the whole encoder is the model"


def test_finetune_batches_by_length_and_still_sees_every_row_once_per_epoch():
    import torch

    lengths = np.random.default_rng(0).integers(3, 60, size=203)
    rows = np.arange(0, 406, 2)  # training rows are dataset rows, not 0..n-1
    full = np.zeros(406, dtype=np.int64)
    full[rows] = lengths
    model = MODELS.get("finetune")(batch_size=16, length_pool=8)

    def epoch(seed):
        return model._batches(rows, full, torch.Generator().manual_seed(seed))

    batches = epoch(0)
    assert sorted(np.concatenate(batches).tolist()) == rows.tolist(), "each row exactly once"
    assert max(len(b) for b in batches) == 16
    padded = sum(len(b) * full[b].max() for b in batches)
    plain = MODELS.get("finetune")(batch_size=16, length_pool=1)._batches(rows, full, torch.Generator().manual_seed(0))
    assert padded < 0.75 * sum(len(b) * full[b].max() for b in plain), "pools sorted by length pad less"
    assert [b.tolist() for b in batches] == [b.tolist() for b in epoch(0)], "seeded"
    assert [b.tolist() for b in batches] != [b.tolist() for b in epoch(1)]
    # the order of batches is random, not sorted by length
    assert not np.all(np.diff([full[b].max() for b in batches]) <= 0)


def test_finetune_precision_is_checked_before_the_run(workspace):
    result = invoke(workspace, "experiment", "-m", "finetune", "-o", "finetune.precision=fp8")
    assert result.exit_code == 1 and len(result.output.strip().splitlines()) == 1, result.output
    assert "precision must be auto, fp32 or bf16, not 'fp8'" in result.output


def test_finetune_trains_on_the_rows_logreg_trains_on(tokens_copy):
    # the property is about the training rows: a held-out test set of 30 rows (not the official 500, each
    # scored by the whole encoder), one epoch and no scoring of the training rows are all it needs
    result = invoke(
        tokens_copy,
        "experiment",
        "-f",
        "bert,bert_tokens",
        "-m",
        "logreg,finetune",
        "--sizes",
        "30",
        "--splits",
        "2",
        *("--no-official-test", "--test-size", "30", "--no-train-metrics"),
        "-o",
        "finetune.max_epochs=1",
        "--metrics",
        "accuracy",
        "--name",
        "ft",
    )
    assert result.exit_code == 0, result.output
    assert "skipping model finetune on bert: bert features are vectors" in result.output
    assert "skipping model logreg on bert_tokens: bert_tokens features are token ids" in result.output
    rows = [
        r
        for r in pq.read_table(tokens_copy / "results" / "ft" / "results.parquet").to_pylist()
        if r["metric"] == "accuracy"
    ]
    digest = {(r["model"], r["split"]): json.loads(r["params"])["train_rows_sha1"] for r in rows}
    assert set(digest) == {(m, s) for m in ("logreg", "finetune") for s in (0, 1)}
    for split in (0, 1):
        assert digest["finetune", split] == digest["logreg", split]
    assert digest["logreg", 0] != digest["logreg", 1], "each split seed draws its own subset"
    tuned = [r for r in rows if r["model"] == "finetune"]
    assert all(r["parameters"] > 22_000_000 and r["model_bytes"] > 80_000_000 for r in tuned)
    assert all(json.loads(r["params"])["steps"] > 0 for r in tuned)


def test_finetune_without_token_ids_is_a_one_line_error(workspace):
    result = invoke(workspace, "experiment", "-m", "finetune", "--sizes", "30")
    assert result.exit_code == 1 and len(result.output.strip().splitlines()) == 1, result.output
    assert "model 'finetune' trains on token ids" in result.output and "enso featurize -f bert_tokens" in result.output
    result = invoke(workspace, "experiment", "-m", "finetune", "-o", "finetune.encoder=other")
    assert result.exit_code == 1 and "encoder comes from the features file" in result.output


def test_distilled_student_learns_from_the_teacher_on_unlabelled_pool_rows(workspace):
    result = invoke(
        workspace,
        "experiment",
        "-f",
        "bert,tfidf",
        "-m",
        "logreg,distill",
        "--sizes",
        "60",
        "--splits",
        "2",
        "--metrics",
        "accuracy",
        "--name",
        "d",
    )
    assert result.exit_code == 0, result.output
    assert "skipping model distill on bert: bert features are its teacher's own" in result.output
    rows = [
        r
        for r in pq.read_table(workspace / "results" / "d" / "results.parquet").to_pylist()
        if r["metric"] == "accuracy"
    ]
    score = {(r["featurizer"], r["model"], r["split"]): r for r in rows}
    config = json.loads((workspace / "results" / "d" / "config.json").read_text())
    pool = config["datasets"][CORPUS]["pool_rows"]
    for split in (0, 1):
        distilled = score["tfidf", "distill", split]
        params = json.loads(distilled["params"])
        assert params["teacher"] == "bert:logreg" and params["unlabelled_rows"] == pool - 60
        assert params["train_rows_sha1"] == json.loads(score["tfidf", "logreg", split]["params"])["train_rows_sha1"]
        # what is deployed is the tf-idf student: its size and its cost per document, not the teacher's
        assert distilled["parameters"] == score["tfidf", "logreg", split]["parameters"], "a logreg over tf-idf"
        assert distilled["predict_seconds_per_1k"] < score["bert", "logreg", split]["predict_seconds_per_1k"] / 5
    mean = {k: np.mean([score[(*k, s)]["value"] for s in (0, 1)]) for k in [("tfidf", "logreg"), ("tfidf", "distill")]}
    assert mean["tfidf", "distill"] > mean["tfidf", "logreg"], mean
    shown = invoke(workspace, "visualize", "--run", "d", "--no-tsne")
    assert shown.exit_code == 0, shown.output
    assert "strategies (accuracy" in shown.output and "distilled" in shown.output and "frozen features" in shown.output
    strategies = (workspace / "results" / "d" / "strategies_accuracy.csv").read_text().splitlines()
    assert len(strategies) == 1 + 2 and "tfidf + distill" in strategies[1] + strategies[2]
    recorded = {model: {k: v for k, v in entry.items() if k != "params"} for model, entry in config["models"].items()}
    assert recorded == {
        "logreg": {"strategy": "frozen features", "criterion": "macro_f1"},
        "distill": {"strategy": "distilled"},
    }
    assert config["models"]["distill"]["params"]["teacher"] == "bert:logreg"  # every parameter, resolved
    assert config["models"]["logreg"]["params"]["cv_rtol"] == MODELS.get("logreg")().cv_rtol


def test_unlabelled_rows_never_include_test_or_training_rows():
    from enso_ng.experiment.models.base import CellContext

    with pytest.raises(ValueError, match="exclude the test"):
        CellContext(
            dataset="d",
            features=lambda name: None,
            X=None,
            train=np.arange(5),
            unlabelled=np.arange(5, 12),
            test=np.arange(10, 20),
        )


def test_a_teacher_outside_the_run_is_a_one_line_error(workspace):
    result = invoke(workspace, "experiment", "-f", "tfidf", "-m", "logreg,distill", "--sizes", "30")
    assert result.exit_code == 1 and len(result.output.strip().splitlines()) == 1, result.output
    assert "model 'distill' needs bert:logreg in the run" in result.output
    result = invoke(workspace, "experiment", "-m", "logreg,distill", "-o", "distill.teacher=bert", "--sizes", "30")
    assert result.exit_code == 1 and "teacher must be FEATURIZER:MODEL" in result.output
    assert not (workspace / "results").exists() or not any((workspace / "results").iterdir()), "nothing written"


def test_setfit_on_a_tiny_subset(tokens_workspace, monkeypatch):
    pytest.importorskip("setfit", reason="SetFit is an extra: pip install 'enso_ng[setfit]'")
    feats = read_features(tokens_workspace / "features" / CORPUS / "bert_tokens.parquet")
    pool = np.flatnonzero(feats.splits != "test")
    train = np.concatenate([pool[feats.labels[pool] == label][:4] for label in np.unique(feats.labels)])
    test = np.flatnonzero(feats.splits == "test")[:20]
    cls = MODELS.get("setfit")
    # batches of 8 sentence pairs, not the default 16: the same 3 steps at half the cost
    kwargs = {**cls.features_kwargs(feats.meta), "max_steps": 3, "steps_per_class": 1, "batch_size": 8}
    model = cls(**kwargs, random_state=0).fit(feats.X[train], feats.labels[train])
    proba = model.predict_proba(feats.X[test])
    assert model.best_params_["max_steps"] == 3 and cls().steps(77) == 1540 and cls().steps(2) == 300
    assert proba.shape == (20, 3) and np.allclose(proba.sum(1), 1.0)
    # it learned: the head fits its 12 examples (measured: all 12), and the 3 contrastive steps moved the
    # encoder away from the published MiniLM (measured: up to 0.023 in a unit vector's coordinates)
    assert np.mean(model.predict(feats.X[train]) == feats.labels[train]) >= 11 / 12
    from sentence_transformers import SentenceTransformer

    from enso_ng.encoders import verified_folder

    texts = model._texts(feats.X[train])
    base = SentenceTransformer(str(verified_folder(model.encoder, model.encoder_sha256, "setfit")))
    assert np.abs(model.model_.model_body.encode(texts) - base.encode(texts)).max() > 1e-3
    # the head is logreg with its inner-CV C on the tuned encoder's vectors, as the frozen baseline's
    from enso_ng.experiment.models.logreg import LogisticRegressionCV

    codes = np.unique(feats.labels[train], return_inverse=True)[1]
    probe = LogisticRegressionCV(random_state=0).fit(np.asarray(model.model_.encode(texts), dtype=np.float64), codes)
    np.testing.assert_allclose(model.model_.model_head.coef_, probe.coef_, atol=1e-6)
    assert model.best_params_["head_C"] == probe.best_params_["C"]
    assert model._texts(feats.X[train[:1]])[0] and "[CLS]" not in model._texts(feats.X[train[:1]])[0]
    monkeypatch.setitem(__import__("sys").modules, "setfit", None)
    with pytest.raises(Exception, match=r"pip install 'enso_ng\[setfit\]'"):
        cls(**cls.features_kwargs(feats.meta)).fit(feats.X[train], feats.labels[train])


def _few(feats, per_label: int = 8) -> tuple[np.ndarray, np.ndarray]:
    """``per_label`` training rows of each label, and 60 test rows."""
    pool = np.flatnonzero(feats.splits != "test")
    train = np.concatenate([pool[feats.labels[pool] == label][:per_label] for label in np.unique(feats.labels)])
    return train, np.flatnonzero(feats.splits == "test")[:60]


def test_lp_ft_starts_where_the_linear_probe_is(tokens_workspace):
    """Before the first step, the fine-tune predicts as logreg (inner-CV C) on the frozen pooled vectors."""
    from enso_ng.experiment.models.logreg import LogisticRegressionCV

    feats = read_features(tokens_workspace / "features" / CORPUS / "bert_tokens.parquet")
    train, test = _few(feats)
    model = MODELS.get("finetune")(**MODELS.get("finetune").features_kwargs(feats.meta), random_state=3)
    model.classes_, codes = np.unique(feats.labels[train], return_inverse=True)
    net = model._load(len(model.classes_))
    record = model._fit_probe(net, feats.X[train], codes)
    probe = LogisticRegressionCV(random_state=3).fit(model._pooled(net, feats.X[train]), codes)
    expected = probe.predict_proba(model._pooled(net, feats.X[test]))
    np.testing.assert_allclose(model._scores(net, feats.X[test]), expected, atol=1e-5)
    assert record["lp_C"] == probe.best_params_["C"]
    assert len(model.classes_) > 2, "the corpus is many-class: the head has one row per class"


def test_layer_decay_gives_each_layer_the_rate_above_it_times_the_factor(tokens_workspace):
    feats = read_features(tokens_workspace / "features" / CORPUS / "bert_tokens.parquet")
    model = MODELS.get("finetune")(**MODELS.get("finetune").features_kwargs(feats.meta), lr=1e-4, layer_decay=0.5)
    net = model._load(3)
    optimizer, _ = model._optimizer(net, steps=10)
    groups = optimizer.param_groups
    layers = net.layers()
    assert len(layers) == 7 and len(groups) == 8, "embeddings, six MiniLM layers, the head"
    for i, (group, params) in enumerate(zip(groups, layers)):
        assert [id(p) for p in group["params"]] == [id(p) for p in params]
        assert group["initial_lr"] == pytest.approx(1e-4 * 0.5 ** (6 - i))
    assert groups[-1]["initial_lr"] == model.head_lr and groups[-1]["params"][0] is net.head.weight
    assert sum(len(g["params"]) for g in groups[:-1]) == len(list(net.encoder.parameters())), "every weight once"


def test_unfreezing_leaves_lower_layers_bit_identical_until_their_epoch(tokens_workspace):
    feats = read_features(tokens_workspace / "features" / CORPUS / "bert_tokens.parquet")
    train, _ = _few(feats, per_label=6)
    cls = MODELS.get("finetune")
    kwargs = {**cls.features_kwargs(feats.meta), "min_epochs": 2, "max_epochs": 2, "unfreeze": True}
    before = [[p.detach().clone() for p in params] for params in cls(**kwargs)._load(3).layers()]
    after = cls(**kwargs).fit(feats.X[train], feats.labels[train]).net_.layers()

    def moved(i):
        return any(not torch.equal(a, b) for a, b in zip(before[i], after[i]))

    assert moved(6) and moved(5), "the top layer trains from epoch 1, the next from epoch 2"
    assert not any(moved(i) for i in range(5)), "the layers below stay bit-identical"
