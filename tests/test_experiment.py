"""`enso experiment`: the split protocol, the target models, results files and resuming."""

import json

import numpy as np
import pyarrow.parquet as pq
import pytest

from enso_ng.errors import EnsoError
from enso_ng.experiment.cell import torch_threads
from enso_ng.experiment.models import MODELS
from enso_ng.experiment.samplers import stratified_order
from enso_ng.experiment.splits import plan_split
from enso_ng.formats import RESULTS_SCHEMA, read_features
from enso_ng.workspace import LOCK_FILE

from conftest import CORPUS, CORPUS_TEST_ROWS, invoke


def _labels(rng, counts):
    return rng.permutation(np.repeat([f"c{i}" for i in range(len(counts))], counts))


def test_nested_order_is_stratified_and_covers_every_class():
    rng = np.random.default_rng(1)
    labels = _labels(rng, [700, 250, 50])
    order = stratified_order(labels, np.random.default_rng(7))
    assert sorted(order) == list(range(len(labels)))
    assert set(labels[order[:3]]) == {"c0", "c1", "c2"}
    for size in (50, 100, 400):
        share = np.mean(labels[order[:size]] == "c0")
        assert abs(share - 0.7) <= 2 / size + 0.02


def test_plan_is_deterministic_nested_and_disjoint():
    rng = np.random.default_rng(0)
    labels = _labels(rng, [300, 200])
    splits = np.array([None] * len(labels), dtype=object)
    a, b = plan_split(labels, splits, seed=3), plan_split(labels, splits, seed=3)
    assert np.array_equal(a.test, b.test) and np.array_equal(a.order, b.order)
    assert not set(a.test) & set(a.order)
    assert len(a.test) == 100 and a.test_source == "holdout"
    assert set(a.train(50)) <= set(a.train(100))
    c = plan_split(labels, splits, seed=4)
    assert not np.array_equal(a.order, c.order)


def test_the_hold_out_test_set_is_stratified():
    """Without an official test split, the test set keeps each class's share: 20% of 700 / 250 / 50 rows is
    140 / 50 / 10, on every seed (a random 200 would give the rare class 10 +- 3)."""
    labels = _labels(np.random.default_rng(1), [700, 250, 50])
    splits = np.array([None] * len(labels), dtype=object)
    tests = []
    for seed in range(6):
        plan = plan_split(labels, splits, seed=seed, test_size=0.2)
        assert plan.test_source == "holdout" and len(plan.test) == 200
        counts = dict(zip(*np.unique(labels[plan.test], return_counts=True)))
        assert {c: int(n) for c, n in counts.items()} == {"c0": 140, "c1": 50, "c2": 10}, seed
        tests.append(set(plan.test))
    assert len({frozenset(t) for t in tests}) == 6, "each seed holds out other rows"
    # an official split present but declined (--no-official-test): a stratified hold-out of every row
    official = np.where(np.arange(len(labels)) < 100, "test", "train").astype(object)
    plan = plan_split(labels, official, seed=0, test_size=0.2, use_official_test=False)
    assert plan.test_source == "holdout"
    assert dict(zip(*np.unique(labels[plan.test], return_counts=True))) == {"c0": 140, "c1": 50, "c2": 10}


def test_official_test_split_is_used():
    labels = np.array(["a", "b"] * 50, dtype=object)
    splits = np.array(["train"] * 80 + ["test"] * 20, dtype=object)
    plan = plan_split(labels, splits, seed=0)
    assert plan.test_source == "official" and sorted(plan.test) == list(range(80, 100))


@pytest.mark.parametrize("name", ["logreg", "mlp"])
def test_models_are_deterministic_and_learn(corpus_workspace, name):
    feats = read_features(corpus_workspace / "features" / CORPUS / "bert.parquet")
    plan = plan_split(feats.labels, feats.splits, seed=0)
    train = plan.train(200)
    first = MODELS.get(name)(random_state=0).fit(feats.X[train], feats.labels[train])
    second = MODELS.get(name)(random_state=0).fit(feats.X[train], feats.labels[train])
    test = feats.X[plan.test]
    assert np.array_equal(first.predict_proba(test), second.predict_proba(test))
    assert np.allclose(first.predict_proba(test).sum(1), 1, atol=1e-5)
    accuracy = np.mean(first.predict(test) == feats.labels[plan.test])
    assert accuracy > 0.55, accuracy  # 3 classes, the largest is 42% of the test rows (measured: 0.59-0.6)
    assert first.best_params_["cv_folds"] == 3


def test_mlp_handles_sparse_tfidf(corpus_workspace):
    feats = read_features(corpus_workspace / "features" / CORPUS / "tfidf.parquet")
    plan = plan_split(feats.labels, feats.splits, seed=0)
    model = MODELS.get("mlp")(random_state=0).fit(feats.X[plan.train(200)], feats.labels[plan.train(200)])
    assert np.mean(model.predict(feats.X[plan.test]) == feats.labels[plan.test]) > 0.5  # majority class: 0.42


def test_results_file_and_config(corpus_run):
    table = pq.read_table(corpus_run / "results.parquet")
    assert table.schema.remove_metadata().equals(RESULTS_SCHEMA)
    rows = table.to_pylist()
    # 2 featurizers x 2 models x 2 sizes x 2 splits, every metric on the test set and on the training subset
    metrics = {
        "accuracy",
        "balanced_accuracy",
        "macro_f1",
        "micro_f1",
        "macro_precision",
        "macro_recall",
        "f2",
        "roc_auc",
        "log_loss",
    }  # and no average_precision: three classes
    assert {r["metric"] for r in rows} == metrics | {f"train_{m}" for m in metrics}
    assert table.num_rows == 16 * 18
    assert {r["split"] for r in rows} == {0, 1}
    assert all(r["fit_seconds"] > 0 for r in rows)
    assert all(0 <= r["value"] <= 1 for r in rows if "log_loss" not in r["metric"])
    assert all("cv_folds" in json.loads(r["params"]) for r in rows)
    best = max(r["value"] for r in rows if r["train_size"] == 120 and r["metric"] == "accuracy")
    assert best > 0.6
    # Training-subset scores sit above test scores: the over-fitting gap the train_ rows are there to show.
    by_cell = {(r["featurizer"], r["model"], r["train_size"], r["split"], r["metric"]): r["value"] for r in rows}
    gaps = [by_cell[k[:4] + ("train_accuracy",)] - v for k, v in by_cell.items() if k[4] == "accuracy"]
    assert np.mean(gaps) > 0
    config = json.loads((corpus_run / "config.json").read_text())
    assert config["config"]["sizes"] == [30, 120] and config["split_seeds"] == [0, 1]
    assert config["datasets"][CORPUS]["test_source"] == "official"
    assert config["datasets"][CORPUS]["test_rows"] == CORPUS_TEST_ROWS
    assert config["size_unit"] == "examples"
    assert {"torch", "scikit-learn", "numpy", "python"} <= set(config["versions"])


def test_rerun_resumes_and_extends(run_workspace):
    result = invoke(run_workspace, "experiment", "--sizes", "30,120", "--splits", "2", "--name", "small")
    assert result.exit_code == 0 and "0 new cells, 16 already there" in result.output, result.output
    result = invoke(
        run_workspace,
        "experiment",
        "--sizes",
        "30,60",
        "--splits",
        "2",
        "--name",
        "small",
        "--models",
        "logreg",
        "--featurizers",
        "tfidf",
    )
    assert result.exit_code == 0 and "2 new cells" in result.output, result.output
    result = invoke(run_workspace, "experiment", "--sizes", "30", "--name", "small", "--seed", "5")
    assert result.exit_code != 0 and "made with seed=0" in result.output


@pytest.mark.parametrize(
    "option, message",
    [
        (("--sampler", "natural"), "made with sampler=stratified, not natural"),
        (("--resampler", "oversample"), "made with resampler=none, not oversample"),
        (("--no-official-test",), "made with official_test=True, not False"),
        (("--test-size", "0.3"), "made with test_size=0.2, not 0.3"),
    ],
)
def test_a_resume_under_another_split_protocol_is_refused(run_workspace, option, message):
    """Each choice that decides which rows train and test is part of the resume check: a rerun under
    another one would mix cells drawn differently. Refused before anything is written."""
    run = run_workspace / "results" / "small"

    def files():  # the run's files (not its lock, which each command takes)
        return {p.name: p.read_bytes() for p in run.iterdir() if p.is_file() and p.name != LOCK_FILE}

    before = files()
    result = invoke(run_workspace, "experiment", "--sizes", "30,60", "--splits", "2", "--name", "small", *option)
    assert result.exit_code == 1 and message in result.output, result.output
    assert len(result.output.strip().splitlines()) == 1
    assert files() == before and "results.parquet" in before


def test_sizes_beyond_the_pool_are_skipped_with_a_warning(workspace):
    result = invoke(
        workspace,
        "experiment",
        "--sizes",
        "30,99999",
        "--splits",
        "1",
        "--models",
        "logreg",
        "--featurizers",
        "tfidf",
        "--name",
        "too-big",
    )
    assert result.exit_code == 0, result.output
    assert "skipping size 99999" in result.output
    config = json.loads((workspace / "results" / "too-big" / "config.json").read_text())
    assert config["skipped"][0]["train_size"] == 99999
    table = pq.read_table(workspace / "results" / "too-big" / "results.parquet")
    assert set(table.column("train_size").to_pylist()) == {30}


def test_bad_requests_are_one_line_errors(corpus_workspace, tmp_path):
    cases = [
        (corpus_workspace, ("experiment", "--models", "forest"), "unknown model 'forest'"),
        (corpus_workspace, ("experiment", "--datasets", "imdb"), "no features for dataset 'imdb'"),
        (corpus_workspace, ("experiment", "--featurizers", "glove"), f"no 'glove' features for dataset '{CORPUS}'"),
        (corpus_workspace, ("experiment", "--sizes", "ten"), "--sizes must be a list of integers, not 'ten'"),
        (tmp_path, ("experiment",), "no features in"),
    ]
    for root, args, message in cases:
        result = invoke(root, *args)
        assert result.exit_code != 0, args
        assert message in result.output, result.output


def test_non_finite_features_are_refused(corpus_workspace, tmp_path):
    import pyarrow as pa

    from enso_ng.workspace import read_meta, write_parquet

    source = corpus_workspace / "features" / CORPUS / "bert.parquet"
    table = pq.read_table(source)
    vectors = table.column("features").combine_chunks().flatten().to_numpy().copy()
    vectors[5] = np.nan
    broken = table.set_column(3, "features", pa.FixedSizeListArray.from_arrays(pa.array(vectors), 384))
    target = tmp_path / "bad.parquet"
    write_parquet(target, broken, read_meta(source))
    with pytest.raises(EnsoError, match="bad.parquet: features contain NaN"):
        read_features(target)


def test_cv_folds_are_stratified_balanced_and_seeded():
    from enso_ng.experiment.models import cv_folds

    y = _labels(np.random.default_rng(2), [40, 25, 7, 2])
    folds = cv_folds(y, 3, random_state=5, allow_missing=True)
    valid = [v for _, v in folds]
    assert sorted(np.concatenate(valid)) == list(range(len(y)))  # a partition of the rows
    for train, v in folds:
        assert not set(train) & set(v) and len(train) + len(v) == len(y)
    assert max(map(len, valid)) - min(map(len, valid)) <= 1
    for label in set(y):  # every class split as evenly as it can be
        counts = [np.sum(y[v] == label) for v in valid]
        assert max(counts) - min(counts) <= 1
    again, other = (
        cv_folds(y, 3, random_state=5, allow_missing=True),
        cv_folds(y, 3, random_state=6, allow_missing=True),
    )
    assert all(np.array_equal(a, b) for (_, a), (_, b) in zip(folds, again))
    assert not all(np.array_equal(a, b) for (_, a), (_, b) in zip(folds, other))
    assert len(cv_folds(y, 3, random_state=5)) == 2  # every class in every fold's training rows: 2 folds at most
    assert cv_folds(np.array(["a", "a", "b"]), 3, random_state=5) == []


def test_inner_cv_with_a_single_example_class():
    """Like GridSearchCV, logreg still cross-validates when a class has one example (it is missing from some
    folds' training rows) and fits all three classes at the chosen C: scikit-learn's optimum of the same
    objective; models that need every class in every fold fall back to their default."""
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(0)
    X = rng.normal(size=(21, 5))
    y = np.array(["a"] * 10 + ["b"] * 10 + ["c"], dtype=object)
    model = MODELS.get("logreg")(random_state=0, rtol=1e-5).fit(X, y)
    assert model.best_params_["cv_folds"] == 3 and model.coef_.shape == (3, 5)
    assert sorted(model.best_params_["cv_scores"]) == sorted(f"{c:g}" for c in model.Cs)
    reference = LogisticRegression(C=model.best_params_["C"], tol=1e-10, max_iter=10000).fit(X, y)
    assert np.abs(model.predict_proba(X) - reference.predict_proba(X)).max() < 1e-3
    svm = MODELS.get("svm")(random_state=0).fit(X, y)
    assert svm.best_params_ == {"C": 1.0, "cv_folds": 0, "converged": True}


def test_logreg_with_one_example_per_class_fits_C_1():
    """One example per class leaves no fold to validate on (``--per-label 1``): logreg then fits C = 1, not
    the first of its candidates, and is scikit-learn's LogisticRegression(C=1) on those rows."""
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(1)
    X = rng.normal(size=(3, 6))
    y = np.array(["a", "b", "c"], dtype=object)
    model = MODELS.get("logreg")(random_state=0, rtol=1e-5).fit(X, y)
    assert model.best_params_["C"] == 1.0 and model.best_params_["cv_folds"] == 0
    probe = rng.normal(size=(20, 6))
    reference = LogisticRegression(C=1.0, tol=1e-10, max_iter=10000).fit(X, y)
    assert np.abs(model.predict_proba(probe) - reference.predict_proba(probe)).max() < 1e-3


@pytest.mark.parametrize("steps", [1, 4, 7])
def test_mlp_with_fewer_steps_than_its_validation_interval(steps):
    """A step budget below or between ``check_every`` validation checks still fits a usable model: the last
    step is always checked, and the refit takes the steps chosen (at least one). The refit is the same
    network as one trained without inner CV for that many steps at that weight decay."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, 8)).astype(np.float32)
    y = np.where(X[:, 0] > 0, "pos", "neg")
    model = MODELS.get("mlp")(random_state=0, steps=steps).fit(X, y)
    chosen = model.best_params_["steps"]
    assert model.best_params_["cv_folds"] == 3 and 1 <= chosen <= steps
    alone = MODELS.get("mlp")(random_state=0, steps=chosen, weight_decays=[model.best_params_["weight_decay"]], cv=1)
    alone.fit(X, y)
    assert alone.best_params_["cv_folds"] == 0
    assert np.array_equal(model.predict_proba(X), alone.predict_proba(X))


def test_mlp_refits_for_the_steps_early_stopping_chose(corpus_workspace):
    """The refit trains for the folds' mean best step count, not the step budget: it is bit for bit the
    network trained without inner CV for exactly that many steps (the refit draws from its own seed)."""
    feats = read_features(corpus_workspace / "features" / CORPUS / "bert.parquet")
    plan = plan_split(feats.labels, feats.splits, seed=0)
    X, y, test = feats.X[plan.train(120)], feats.labels[plan.train(120)], feats.X[plan.test]
    cls = MODELS.get("mlp")
    with torch_threads(1):
        model = cls(random_state=3).fit(X, y)
        chosen, decay = model.best_params_["steps"], model.best_params_["weight_decay"]
        assert chosen < model.max_steps(len(y)), "early stopping stopped before the budget (the premise)"
        alone = cls(random_state=3, steps=chosen, weight_decays=[decay], cv=1).fit(X, y)
        budget = cls(random_state=3, weight_decays=[decay], cv=1).fit(X, y)  # no inner CV: the whole budget
    assert np.array_equal(model.predict_proba(test), alone.predict_proba(test))
    assert not np.allclose(model.predict_proba(test), budget.predict_proba(test), atol=1e-4)


def test_mlp_counts_its_budget_in_passes_over_the_rows():
    """The step budget is ``epochs`` passes of ``batch_size`` rows, so it means the same at any number of
    rows: once 200 steps, it bound the fold models at 4,928 Banking77 rows (5 steps a pass; issue 27).
    Without inner CV the refit trains exactly the budget; with it, a fold model may train past ``epochs``
    steps when a pass takes several, and the refit on all rows trains as many passes as the folds' best
    (more steps, when its pass takes more batches than a fold's); ``steps`` is a hard budget on top."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, 8)).astype(np.float32)
    y = np.where(X[:, 0] + X[:, 1] > 0, "pos", "neg")
    cls = MODELS.get("mlp")
    whole = cls(random_state=0, cv=1, epochs=3, batch_size=16, weight_decays=[0.01]).fit(X, y)
    assert whole.best_params_["steps"] == 3 * 4  # 60 rows: 4 batches of 16 a pass
    by_steps = cls(random_state=0, cv=1, epochs=1000, steps=12, batch_size=16, weight_decays=[0.01]).fit(X, y)
    one_fewer = cls(random_state=0, cv=1, epochs=1000, steps=11, batch_size=16, weight_decays=[0.01]).fit(X, y)
    assert np.array_equal(whole.predict_proba(X), by_steps.predict_proba(X))
    assert not np.array_equal(whole.predict_proba(X), one_fewer.predict_proba(X))
    slow = cls(random_state=0, epochs=4, batch_size=8, lr=1e-3, check_every=1, patience=50).fit(X, y)
    # 40 training rows a fold: 5 batches of 8 a pass, and validation keeps improving, so the budget binds:
    # every fold's best is its 4 passes (20 steps), and the refit's 4 passes over 60 rows are 8 batches each
    assert slow.best_params_["steps"] == 4 * 8
    capped = cls(random_state=0, epochs=4, steps=25, batch_size=8, lr=1e-3, check_every=1, patience=50).fit(X, y)
    assert capped.best_params_["steps"] == 25  # the folds' 20 steps would be 32 on all rows: the hard budget binds


@pytest.mark.parametrize("patience", [1, 3])
def test_mlp_stops_after_patience_checks_without_improvement(patience):
    """Early stopping, watched from outside: every validation pass's loss is recomputed here, and training
    ends at the first check that makes ``patience`` checks in a row without a lower loss (not one later);
    the best step returned is that of the lowest loss."""
    import torch

    from enso_ng.experiment.models.mlp import _Inputs, _padded, _StackedMLP

    rng = np.random.default_rng(0)
    X = rng.normal(size=(80, 10)).astype(np.float32)
    codes = (X[:, 0] + rng.normal(scale=1.5, size=80) > 0).astype(np.int64)  # noisy: it soon overfits
    settings = MODELS.get("mlp")(hidden=64, dropout=0.0, lr=0.05, steps=400, check_every=2, patience=patience)
    train, valid = np.arange(50), np.arange(50, 80)
    train_in = _Inputs.build([(X, train, train)], len(train))
    valid_in = _Inputs.build([(X, train, valid)], len(valid), like=train_in)
    generators = [torch.Generator().manual_seed(0)]
    net = _StackedMLP(train_in, settings, 2, generators)
    losses, steps, forward = [], [0], net.forward

    def watched(inputs, gens):
        out = forward(inputs, gens)
        if gens is None:  # a validation pass
            losses.append(float(torch.nn.functional.cross_entropy(out[0].float(), torch.as_tensor(codes[valid]))))
        else:
            steps[0] += 1
        return out

    net.forward = watched
    best_step, _ = net.train(
        train_in,
        _padded([codes[train]], len(train)),
        torch.tensor([0.0]),
        settings,
        generators,
        max_steps=[settings.steps],
        valid=(valid_in, _padded([codes[valid]], len(valid))),
    )
    best, bad, stop = float("inf"), 0, None
    for check, loss in enumerate(losses):
        best, bad = (loss, 0) if loss < best - 1e-6 else (best, bad + 1)
        if bad >= patience:
            stop = check
            break
    assert stop is not None and steps[0] < settings.steps, "it stopped early (the premise)"
    assert len(losses) == stop + 1 and steps[0] == (stop + 1) * settings.check_every
    assert int(best_step[0]) == (int(np.argmin(losses)) + 1) * settings.check_every


@pytest.mark.parametrize("featurizer", ["bert", "tfidf"])
def test_mlp_minibatch_path(corpus_workspace, featurizer):
    """Training sets larger than batch_size are trained on shared minibatches sliced from the input."""
    feats = read_features(corpus_workspace / "features" / CORPUS / f"{featurizer}.parquet")
    plan = plan_split(feats.labels, feats.splits, seed=0)
    train = plan.train(300)
    model = MODELS.get("mlp")(random_state=0, batch_size=64).fit(feats.X[train], feats.labels[train])
    again = MODELS.get("mlp")(random_state=0, batch_size=64).fit(feats.X[train], feats.labels[train])
    assert np.array_equal(model.predict_proba(feats.X[plan.test]), again.predict_proba(feats.X[plan.test]))
    assert np.mean(model.predict(feats.X[plan.test]) == feats.labels[plan.test]) > 0.5


@pytest.mark.parametrize("featurizer", ["bert", "tfidf"])
def test_mlp_cell_does_not_depend_on_its_batch(corpus_workspace, featurizer):
    """A cell fitted alone and inside a batch of other split seeds predicts the same, on one thread as the
    runner fits them: the same labels, the same probabilities up to float32 rounding (measured: weights
    equal to 3e-8 on bert features, bit for bit on tf-idf)."""
    feats = read_features(corpus_workspace / "features" / CORPUS / f"{featurizer}.parquet")
    plans = [plan_split(feats.labels, feats.splits, seed=seed) for seed in range(3)]
    trains = [plan.train(120) for plan in plans]
    cls = MODELS.get("mlp")
    with torch_threads(1):
        alone = cls(random_state=1).fit(feats.X[trains[1]], feats.labels[trains[1]])
        batch = cls.fit_many(
            [cls(random_state=seed) for seed in range(3)],
            [feats.X[t] for t in trains],
            [feats.labels[t] for t in trains],
        )
    test = feats.X[plans[1].test]
    assert alone.best_params_ == batch[1].best_params_
    assert np.array_equal(alone.predict(test), batch[1].predict(test))
    assert np.allclose(alone.predict_proba(test), batch[1].predict_proba(test), rtol=0, atol=1e-6)
    assert batch[0].best_params_["cv_folds"] == 3 and batch[0].best_params_["steps"] >= 5


# ---------------------------------------------------------------- logistic regression and the other models


@pytest.mark.parametrize(
    "featurizer, size, binary",
    [("bert", 300, False), ("bert", 600, False), ("tfidf", 300, False), ("bert", 300, True), ("bert", 600, True)],
)
def test_logreg_matches_scikit_learn_at_the_chosen_C(corpus_workspace, featurizer, size, binary):
    """The batched solver reaches scikit-learn's optimum of the same objective: in the Gram eigenbasis (bert
    is 384-d), on centred features as they are, on sparse rows, and with one score per row (two classes)."""
    from sklearn.linear_model import LogisticRegression

    feats = read_features(corpus_workspace / "features" / CORPUS / f"{featurizer}.parquet")
    plan = plan_split(feats.labels, feats.splits, seed=0)
    train = plan.train(size)
    # two classes: is the tweet negative, or anything else
    labels = np.where(feats.labels == "negative", "negative", "other") if binary else feats.labels
    ours = MODELS.get("logreg")(random_state=0, rtol=1e-5).fit(feats.X[train], labels[train])
    # float32 stops making progress before a gradient of 1e-6 (reported as such, not as converged); the
    # point it stops at is still scikit-learn's optimum, which is what this test checks
    assert ours.best_params_["stop"] in ("gradient", "no_progress")
    reference = LogisticRegression(C=ours.best_params_["C"], tol=1e-10, max_iter=10000).fit(
        feats.X[train], labels[train]
    )
    test = feats.X[plan.test]
    agree = np.mean(ours.predict(test) == reference.predict(test))
    assert agree >= 0.99, agree
    assert np.abs(ours.predict_proba(test) - reference.predict_proba(test)).max() < 0.05  # float32, C up to 1000


def _objective(model, X, y, C) -> float:
    """scikit-learn's objective in float64: C x the summed log-loss + half the squared weights (intercept free)."""
    from scipy.special import logsumexp

    codes = np.searchsorted(model.classes_, y)
    S = np.asarray(X @ model.coef_.T, dtype=np.float64) + model.intercept_
    if S.shape[1] == 1:  # two classes: one score per row, that of the second class
        loss = np.logaddexp(0, S[:, 0]) - (codes == 1) * S[:, 0]
    else:
        loss = logsumexp(S, axis=1) - S[np.arange(len(S)), codes]
    return float(C * loss.sum() + 0.5 * np.sum(model.coef_.astype(np.float64) ** 2))


@pytest.mark.parametrize(
    "featurizer, size, binary",
    # tf-idf at 300 rows is solved in its Gram eigenbasis, at 600 in its own sparse columns
    [("bert", 60, False), ("bert", 300, False), ("tfidf", 300, False), ("tfidf", 600, False), ("bert", 300, True)],
)
def test_logreg_reaches_scikit_learns_optimum_at_tight_tolerance(corpus_workspace, featurizer, size, binary):
    """The same minimum of the same objective, not only the same predictions: the objective within 2e-5
    (relative) of scikit-learn's solved to 1e-10, and the coefficients within 1% (measured: 1e-8 to 3e-6 and
    0.02% to 0.3%, the most at C = 1000 where the optimum is flattest)."""
    from sklearn.linear_model import LogisticRegression

    feats = read_features(corpus_workspace / "features" / CORPUS / f"{featurizer}.parquet")
    train = plan_split(feats.labels, feats.splits, seed=0).train(size)
    labels = np.where(feats.labels == "negative", "negative", "other") if binary else feats.labels
    X, y = feats.X[train], labels[train]
    ours = MODELS.get("logreg")(random_state=0, rtol=1e-5).fit(X, y)
    C = ours.best_params_["C"]
    reference = LogisticRegression(C=C, tol=1e-10, max_iter=10000).fit(X, y)
    assert ours.coef_.shape == reference.coef_.shape
    mine, theirs = _objective(ours, X, y, C), _objective(reference, X, y, C)
    assert mine <= theirs * (1 + 2e-5), (mine, theirs)
    assert mine >= theirs * (1 - 2e-5), (mine, theirs)  # scikit-learn's own optimum is no worse
    assert np.linalg.norm(ours.coef_ - reference.coef_) <= 0.01 * np.linalg.norm(reference.coef_)


@pytest.mark.parametrize(
    "featurizer, binary, seeds",
    [("bert", False, (0, 1, 2)), ("bert", True, (0, 1, 2)), ("tfidf", False, (1,))],
    ids=["bert-False", "bert-True", "tfidf-False"],
)
def test_logreg_chooses_the_C_that_LogisticRegressionCV_chooses_on_the_same_folds(
    corpus_workspace, featurizer, binary, seeds
):
    """With exact fold fits (cv_rtol = rtol) the inner CV is scikit-learn's: the same folds, the same C grid,
    mean validation accuracy, ties to the smaller C. Checked on three split seeds for bert; tf-idf, whose fits
    cost most, on one seed (1, not 0: folds drawn with seed 0 whatever the cell's seed would pass on seed 0).
    scikit-learn gets tf-idf's rows restricted to the columns they use: the same objective (a column no row
    uses has zero weight at the optimum), solved far faster by its sparse solver at tol 1e-8."""
    import warnings

    from sklearn.linear_model import LogisticRegressionCV

    from enso_ng.experiment.models import cv_folds

    feats = read_features(corpus_workspace / "features" / CORPUS / f"{featurizer}.parquet")
    labels = np.where(feats.labels == "negative", "negative", "other") if binary else feats.labels
    grid = [0.1, 1.0, 10.0, 100.0, 1000.0]
    for seed in seeds:
        train = plan_split(feats.labels, feats.splits, seed=seed).train(300)
        X, y = feats.X[train], labels[train]
        ours = MODELS.get("logreg")(random_state=seed, Cs=grid, rtol=1e-5, cv_rtol=1e-5, criterion="accuracy").fit(X, y)
        folds = cv_folds(np.unique(y, return_inverse=True)[1], 3, random_state=seed, allow_missing=True)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)
            used = X[:, np.unique(X.tocsr().indices)] if featurizer == "tfidf" else X
            reference = LogisticRegressionCV(Cs=grid, cv=folds, tol=1e-8, max_iter=10000).fit(used, y)
        scores = np.mean(next(iter(reference.scores_.values())), axis=0)  # (folds, Cs) -> mean per C
        best = scores.max()
        assert ours.best_params_["cv_accuracy"] == pytest.approx(best, abs=1e-6), (seed, scores)
        tied = [C for C, score in zip(grid, scores) if score > best - 1e-9]
        # scikit-learn breaks an exact tie by float rounding of the fold sums; enso_ng by the smaller C
        expected = float(np.ravel(reference.C_)[0]) if len(tied) == 1 else tied[0]
        assert ours.best_params_["C"] == expected, (seed, scores)


@pytest.mark.parametrize("featurizer, size", [("tfidf", 300), ("tfidf", 600), ("bert", 300)])
def test_the_loose_fold_tolerance_applies_to_dense_rows_only(corpus_workspace, featurizer, size):
    """Fold fits only rank C, so on dense rows they may stop at ``cv_rtol``; on sparse rows (tf-idf: its Gram
    eigenbasis at 300 rows, its own columns at 600) they are solved to ``rtol`` whatever ``cv_rtol`` says, as
    loose ones rank C too low there. So a very loose ``cv_rtol`` leaves tf-idf's fold scores as they are and
    changes bert's."""
    feats = read_features(corpus_workspace / "features" / CORPUS / f"{featurizer}.parquet")
    train = plan_split(feats.labels, feats.splits, seed=0).train(size)
    X, y = feats.X[train], feats.labels[train]
    cls = MODELS.get("logreg")
    tight = cls(random_state=0, cv_rtol=cls().rtol).fit(X, y).best_params_
    loose = cls(random_state=0, cv_rtol=0.5).fit(X, y).best_params_
    if featurizer == "tfidf":
        assert loose["cv_scores"] == tight["cv_scores"] and loose["C"] == tight["C"]
    else:
        assert loose["cv_scores"] != tight["cv_scores"]


@pytest.mark.parametrize("size", [60, 500])  # fewer rows than dimensions (Gram eigenbasis), and more
def test_logreg_fit_many_equals_fitting_alone(corpus_workspace, size):
    """A cell's result does not depend on the other cells of its batch."""
    feats = read_features(corpus_workspace / "features" / CORPUS / "bert.parquet")
    plans = [plan_split(feats.labels, feats.splits, seed=s) for s in range(3)]
    cls = MODELS.get("logreg")
    together = cls.fit_many(
        [cls(random_state=p.seed) for p in plans],
        [feats.X[p.train(size)] for p in plans],
        [feats.labels[p.train(size)] for p in plans],
    )
    test = feats.X[plans[0].test]
    for plan, model in zip(plans, together):
        alone = cls(random_state=plan.seed).fit(feats.X[plan.train(size)], feats.labels[plan.train(size)])
        assert model.best_params_["C"] == alone.best_params_["C"]
        assert np.abs(model.predict_proba(test) - alone.predict_proba(test)).max() < 1e-3


@pytest.mark.parametrize(
    "name, floor", [("knn", 0.55), ("svm", 0.55), ("lightgbm", 0.55)]
)  # measured 0.61-0.63; majority 0.42
def test_other_models_learn(corpus_workspace, name, floor):
    feats = read_features(corpus_workspace / "features" / CORPUS / "bert.parquet")
    plan = plan_split(feats.labels, feats.splits, seed=0)
    train = plan.train(200)
    model = MODELS.get(name)(random_state=0).fit(feats.X[train], feats.labels[train])
    again = MODELS.get(name)(random_state=0).fit(feats.X[train], feats.labels[train])
    test = feats.X[plan.test]
    assert np.array_equal(model.predict(test), again.predict(test)), "deterministic under a seed"
    assert np.mean(model.predict(test) == feats.labels[plan.test]) > floor
    assert model.best_params_["cv_folds"] == 3


def test_lightgbm_and_knn_take_sparse_tfidf(corpus_workspace):
    feats = read_features(corpus_workspace / "features" / CORPUS / "tfidf.parquet")
    plan = plan_split(feats.labels, feats.splits, seed=0)
    for name in ("lightgbm", "knn"):
        model = MODELS.get(name)(random_state=0).fit(feats.X[plan.train(300)], feats.labels[plan.train(300)])
        assert np.mean(model.predict(feats.X[plan.test]) == feats.labels[plan.test]) > 0.5, name


def _multi_layer_features(root, layers: int = 3):
    """A features file with every layer stored: layer 1 carries the labels, the others are noise."""
    from enso_ng.formats import FeaturesMeta, features_batch, features_schema
    from enso_ng.workspace import parquet_writer

    rng = np.random.default_rng(0)
    n, d = 400, 16
    labels = np.array(["x", "y", "z"])[rng.integers(0, 3, n)]
    X = rng.normal(size=(n, layers, d)).astype(np.float32)
    X[:, 1, :3] += 3 * (labels[:, None] == np.array(["x", "y", "z"])[None, :])
    meta = FeaturesMeta(
        dataset="toy", featurizer="deep", dataset_fingerprint="f" * 64, params={}, dim=layers * d, rows=n, layers=layers
    ).to_dict()
    path = root / "features" / "toy" / "deep.parquet"
    schema = features_schema("dense", layers * d)
    with parquet_writer(path, schema, meta) as writer:
        writer.write_batch(features_batch("dense", schema, np.arange(n), labels.tolist(), [None] * n, X.reshape(n, -1)))
    return path


def test_layer_mix_learns_which_layer_carries_the_task(tmp_path):
    _multi_layer_features(tmp_path)
    result = invoke(
        tmp_path,
        "experiment",
        "--sizes",
        "150",
        "--splits",
        "2",
        "--models",
        "layer_mix,logreg",
        "--metrics",
        "accuracy",
        "--name",
        "mix",
    )
    assert result.exit_code == 0, result.output
    rows = pq.read_table(tmp_path / "results" / "mix" / "results.parquet").to_pylist()
    mix = [r for r in rows if r["model"] == "layer_mix" and r["metric"] == "accuracy"]
    assert len(mix) == 2 and min(r["value"] for r in mix) > 0.9
    weights = json.loads(mix[0]["params"])["layer_weights"]
    assert len(weights) == 3 and np.argmax(weights) == 1


def test_layer_mix_is_skipped_on_single_layer_features(workspace):
    result = invoke(
        workspace,
        "experiment",
        "--sizes",
        "30",
        "--splits",
        "1",
        "--models",
        "layer_mix,logreg",
        "--featurizers",
        "tfidf",
        "--name",
        "no-mix",
    )
    assert result.exit_code == 0, result.output
    assert "skipping model layer_mix on tfidf" in result.output
    config = json.loads((workspace / "results" / "no-mix" / "config.json").read_text())
    assert config["skipped"][0]["model"] == "layer_mix"


# ---------------------------------------------------------------- metrics, samplers, resamplers


def test_metrics_on_known_predictions():
    from enso_ng.experiment.metrics import METRICS, Predictions

    classes = np.array(["a", "b", "c"])
    y_true = np.array(["a", "a", "b", "b", "c", "c"])
    y_pred = np.array(["a", "b", "b", "b", "c", "a"])
    proba = np.array(
        [[0.8, 0.1, 0.1], [0.4, 0.5, 0.1], [0.1, 0.8, 0.1], [0.2, 0.7, 0.1], [0.1, 0.1, 0.8], [0.5, 0.2, 0.3]]
    )
    p = Predictions(y_true, y_pred, classes, proba, proba)
    value = {name: METRICS.get(name).fn(p) for name in METRICS.names() if not METRICS.get(name).settings}
    assert value["accuracy"] == pytest.approx(4 / 6)
    assert value["micro_f1"] == pytest.approx(4 / 6)
    assert value["balanced_accuracy"] == pytest.approx((0.5 + 1 + 0.5) / 3)
    assert value["macro_recall"] == pytest.approx((0.5 + 1 + 0.5) / 3)
    assert value["macro_precision"] == pytest.approx((0.5 + 2 / 3 + 1) / 3)
    assert value["log_loss"] == pytest.approx(-np.mean(np.log([0.8, 0.4, 0.8, 0.7, 0.8, 0.3])))
    # one-vs-rest AUC by hand: "a" ranks its positives .8 and .4 above 7 of the 8 (positive, negative) pairs
    # (.4 < .5); "b" (.8, .7) and "c" (.8, .3) rank all 8 of theirs: (7/8 + 1 + 1) / 3 = 23/24
    assert value["roc_auc"] == pytest.approx(23 / 24)
    # A class absent from the rows has no AUC: the mean is over the others, not a made-up 0.5.
    q = Predictions(y_true[:4], y_pred[:4], classes, proba[:4], proba[:4])
    assert METRICS.get("roc_auc").fn(q) == pytest.approx(1.0)


def test_svm_has_no_log_loss_but_has_roc_auc(workspace):
    result = invoke(
        workspace,
        "experiment",
        "--sizes",
        "60",
        "--splits",
        "1",
        "--models",
        "svm",
        "--featurizers",
        "tfidf",
        "--name",
        "svm-metrics",
    )
    assert result.exit_code == 0, result.output
    rows = pq.read_table(workspace / "results" / "svm-metrics" / "results.parquet").to_pylist()
    value = {r["metric"]: r["value"] for r in rows}
    assert "roc_auc" in value and "accuracy" in value and "log_loss" not in value
    # the AUC is of the SVM's decision values: one-vs-rest over the three classes, recomputed here with
    # scikit-learn from the same model fitted on the same rows (split seed 0, 60 rows)
    from sklearn.metrics import roc_auc_score

    feats = read_features(workspace / "features" / CORPUS / "tfidf.parquet")
    plan = plan_split(feats.labels, feats.splits, seed=0)
    svm = MODELS.get("svm")(random_state=0).fit(feats.X[plan.train(60)], feats.labels[plan.train(60)])
    truth, decision = feats.labels[plan.test], svm.decision_function(feats.X[plan.test])
    expected = np.mean([roc_auc_score(truth == c, decision[:, k]) for k, c in enumerate(svm.classes_)])
    assert value["roc_auc"] == pytest.approx(expected, abs=1e-9)
    assert value["accuracy"] == pytest.approx(np.mean(svm.predict(feats.X[plan.test]) == truth), abs=1e-9)


def test_per_label_sampler_draws_exactly_k_of_each_class():
    labels = np.array(["a"] * 50 + ["b"] * 20 + ["c"] * 6, dtype=object)
    splits = np.array([None] * len(labels), dtype=object)
    plan = plan_split(labels, splits, seed=0, sampler="per_label")
    for k in (1, 4):
        _, counts = np.unique(labels[plan.train(k)], return_counts=True)
        assert counts.tolist() == [k, k, k]
    assert set(plan.train(2)) <= set(plan.train(4))
    assert plan.shortfall(6) is not None and "rarest class" in plan.shortfall(6)


def test_natural_sampler_keeps_the_imbalance():
    labels = np.array(["a"] * 900 + ["b"] * 100, dtype=object)
    splits = np.array([None] * len(labels), dtype=object)
    plan = plan_split(labels, splits, seed=0, sampler="natural")
    share = np.mean(labels[plan.train(400)] == "b")
    assert 0.05 < share < 0.15
    assert set(plan.train(100)) <= set(plan.train(400))


@pytest.mark.parametrize("name, expected", [("oversample", [8, 8]), ("undersample", [2, 2])])
def test_resamplers_balance_the_training_subset(name, expected):
    from enso_ng.experiment.samplers import RESAMPLERS

    labels = np.array(["a"] * 8 + ["b"] * 2)
    rows = RESAMPLERS.get(name)(labels, np.random.default_rng(0))
    assert np.unique(labels[rows], return_counts=True)[1].tolist() == expected


# ---------------------------------------------------------------- the command: options, config files, jobs


def test_per_label_option_and_resampler_through_the_cli(workspace):
    result = invoke(
        workspace,
        "experiment",
        "--per-label",
        "2,8",
        "--splits",
        "1",
        "--models",
        "logreg",
        "--featurizers",
        "bert",
        "--resampler",
        "oversample",
        "--name",
        "k-shot",
    )
    assert result.exit_code == 0, result.output
    config = json.loads((workspace / "results" / "k-shot" / "config.json").read_text())
    assert config["config"]["sampler"] == "per_label" and config["size_unit"] == "examples per label"
    rows = pq.read_table(workspace / "results" / "k-shot" / "results.parquet").to_pylist()
    assert {r["train_size"] for r in rows} == {2, 8}
    assert {json.loads(r["params"])["train_rows"] for r in rows} == {6, 24}  # 3 classes x k
    result = invoke(workspace, "experiment", "--per-label", "2", "--sizes", "10", "--name", "both")
    assert result.exit_code != 0 and "either --sizes or --per-label" in result.output


@pytest.mark.parametrize(
    "suffix, text",
    [
        (
            ".toml",
            'sizes = [30, 60]\nsplits = 1\nmodels = "logreg,knn"\nfeaturizers = ["tfidf"]\nmetrics = ["accuracy"]\n',
        ),
        (
            ".yaml",
            "experiment:\n  sizes: [30, 60]\n  splits: 1\n  models: [logreg, knn]\n  featurizers: tfidf\n  metrics: [accuracy]\n",
        ),
    ],
)
def test_config_file_with_command_line_overrides(workspace, tmp_path, suffix, text):
    path = tmp_path / f"grid{suffix}"
    path.write_text(text)
    name = f"from-{suffix[1:]}"
    result = invoke(workspace, "experiment", "--config", str(path), "--models", "logreg", "--name", name)
    assert result.exit_code == 0, result.output
    config = json.loads((workspace / "results" / name / "config.json").read_text())["config"]
    assert config["sizes"] == [30, 60] and config["splits"] == 1 and config["featurizers"] == ["tfidf"]
    assert config["models"] == ["logreg"], "the flag overrides the file"
    assert config["metrics"] == ["accuracy"]


@pytest.mark.parametrize(
    "text, message",
    [
        ("sizes = [30]\nmodel = 'logreg'\n", "unknown key 'model'"),
        ("splits = 'many'\n", "splits must be an integer, not 'many'"),
        ("sizes = [30\n", "not valid TOML"),
    ],
)
def test_bad_config_file_is_a_one_line_error(corpus_workspace, tmp_path, text, message):
    path = tmp_path / "bad.toml"
    path.write_text(text)
    result = invoke(corpus_workspace, "experiment", "--config", str(path))
    assert result.exit_code == 1 and message in result.output and "bad.toml" in result.output
    assert len(result.output.strip().splitlines()) == 1


def test_jobs_give_the_same_numbers(workspace):
    args = [
        "--sizes",
        "30,60",
        "--splits",
        "2",
        "--models",
        "logreg,knn",
        "--featurizers",
        "bert,tfidf",
        "--metrics",
        "accuracy,log_loss",
    ]
    assert invoke(workspace, "experiment", *args, "--name", "serial").exit_code == 0
    result = invoke(workspace, "experiment", *args, "--jobs", "2", "--name", "parallel")
    assert result.exit_code == 0, result.output

    def values(run):
        rows = pq.read_table(workspace / "results" / run / "results.parquet").to_pylist()
        return {
            (r["featurizer"], r["model"], r["train_size"], r["split"], r["metric"]): (
                r["value"],
                json.loads(r["params"]).get("C"),
            )
            for r in rows
        }

    serial, parallel = values("serial"), values("parallel")
    assert len(serial) == 2 * 2 * 2 * 2 * 4 and serial == parallel


@pytest.mark.parametrize("sparse", [False, True])
def test_logreg_on_rows_that_do_not_vary(sparse):
    """Identical rows (e.g. texts whose only words tf-idf drops) leave no Gram eigenbasis: the intercept alone
    is fitted, to the class frequencies, in either basis."""
    import scipy.sparse

    X = np.tile(np.linspace(0.0, 1.0, 20), (12, 1))  # fewer rows than dimensions: the Gram basis's case
    X = scipy.sparse.csr_matrix(X) if sparse else X
    y = np.array(["a"] * 8 + ["b"] * 4)
    model = MODELS.get("logreg")(random_state=0).fit(X, y)
    assert np.allclose(model.predict_proba(X[:1]), [[2 / 3, 1 / 3]], atol=1e-3)


def _rare_dataset(root, every: int):
    """200 texts of class "a", every ``every``-th one "b" instead; downloaded and featurized with tf-idf.
    Returns the labels in row order, for planning the same splits the run will draw."""
    import csv

    source = root / "rare.csv"
    labels = np.array(["b" if i % every == 0 else "a" for i in range(200)], dtype=object)
    with open(source, "w", newline="") as fh:
        csv.writer(fh).writerows([["text", "label"], *[[f"text number {i}", y] for i, y in enumerate(labels)]])
    assert invoke(root, "download", "--from-file", str(source), "--name", "rare").exit_code == 0
    assert invoke(root, "featurize", "-f", "tfidf").exit_code == 0
    return labels


def _single_class_seeds(labels, size: int, seeds) -> set[int]:
    """The split seeds whose natural-sampler subset of ``size`` holds one class (planned as the run plans)."""
    splits = np.array([None] * len(labels), dtype=object)
    return {s for s in seeds if len(set(labels[plan_split(labels, splits, s, sampler="natural").train(size)])) < 2}


def _natural(root, size: int, splits: int, seed: int = 0):
    return invoke(
        root, "experiment", "--sizes", str(size), "--splits", str(splits), "--seed", str(seed),
        "--sampler", "natural", "--models", "logreg", "--metrics", "accuracy", "--name", "rare",
    )  # fmt: skip


def test_single_class_subsets_are_recorded_skips(tmp_path):
    """The natural sampler can draw a subset with one class: that cell is skipped and recorded, not scored,
    and the summary counts only the cells it scored."""
    labels = _rare_dataset(tmp_path, every=25)
    single = _single_class_seeds(labels, 3, range(6))
    assert single and len(single) < 6, "the premise: some seeds draw one class, some both"
    result = _natural(tmp_path, 3, 6)
    assert result.exit_code == 0, result.output
    run = tmp_path / "results" / "rare"
    assert f"wrote {run / 'results.parquet'}: {6 - len(single)} new cells" in result.output
    config = json.loads((run / "config.json").read_text())
    skipped = {s["split"] for s in config["skipped"]}
    assert skipped == single and "single class" in config["skipped"][0]["reason"]
    scored = set(pq.read_table(run / "results.parquet").column("split").to_pylist())
    assert scored == set(range(6)) - single


def test_a_grid_whose_every_subset_holds_one_class_leaves_no_run(tmp_path):
    """When every cell is skipped as it is fitted (natural sampler, single-class subsets on every seed) the
    run is an error that says why, and leaves no run folder (README: a grid where no cell can run)."""
    labels = _rare_dataset(tmp_path, every=50)
    seeds = next(s for s in range(100) if _single_class_seeds(labels, 2, [s, s + 1]) == {s, s + 1})
    result = _natural(tmp_path, 2, 2, seed=seeds)
    assert result.exit_code == 1, result.output
    assert "run 'rare': no cell can run (all 2 skipped: rare size 2: the training subset holds a single class)" in (
        result.output
    )
    assert "new cells" not in result.output
    assert not (tmp_path / "results" / "rare").exists()


def test_one_class_features_are_refused(tmp_path):
    from enso_ng.formats import FeaturesMeta, features_batch, features_schema
    from enso_ng.workspace import parquet_writer

    schema = features_schema("dense", 4)
    meta = FeaturesMeta(
        dataset="mono", featurizer="f", dataset_fingerprint="0" * 64, params={}, dim=4, rows=20
    ).to_dict()
    with parquet_writer(tmp_path / "features" / "mono" / "f.parquet", schema, meta) as writer:
        writer.write_batch(features_batch("dense", schema, np.arange(20), ["a"] * 20, [None] * 20, np.ones((20, 4))))
    result = invoke(tmp_path, "experiment", "--sizes", "5")
    assert result.exit_code == 1 and "dataset 'mono' has a single class" in result.output


# ---------------------------------------------------------------- what each cell costs


COST = ("predict_seconds_per_1k", "featurize_seconds_per_1k", "parameters", "model_bytes")


def test_every_cell_of_every_model_records_its_cost(workspace):
    result = invoke(
        workspace,
        "experiment",
        "--sizes",
        "40",
        "--splits",
        "1",
        "--metrics",
        "accuracy",
        "-m",
        "logreg,mlp,knn,svm,lightgbm",
        "--name",
        "cost",
    )
    assert result.exit_code == 0, result.output
    rows = pq.read_table(workspace / "results" / "cost" / "results.parquet").to_pylist()
    assert {(r["featurizer"], r["model"]) for r in rows} == {
        (f, m) for f in ("bert", "tfidf") for m in ("logreg", "mlp", "knn", "svm", "lightgbm")
    }
    for r in rows:
        assert all(r[c] is not None and r[c] > 0 for c in COST), r
        assert r["fit_peak_bytes"] is not None and r["fit_peak_bytes"] >= 0, r
        # per 1,000 documents: the model's own time over the 500 test rows, scaled, plus the featurizer's
        model_per_1k = 1000 * r["predict_seconds"] / CORPUS_TEST_ROWS
        assert r["predict_seconds_per_1k"] == pytest.approx(model_per_1k + r["featurize_seconds_per_1k"], rel=1e-9)
    by = {(r["featurizer"], r["model"]): r for r in rows}
    # bert costs far more per document than tf-idf; the stored-value counts follow the models' shapes
    assert by["bert", "logreg"]["featurize_seconds_per_1k"] > 5 * by["tfidf", "logreg"]["featurize_seconds_per_1k"]
    assert by["bert", "logreg"]["parameters"] == 3 * 384 + 3  # three classes: a weight vector and bias each
    assert by["bert", "knn"]["parameters"] >= 40 * 384, "a kNN stores its training vectors"
    config = json.loads((workspace / "results" / "cost" / "config.json").read_text())
    timing = config["datasets"][CORPUS]["features"]["bert"]["timing"]
    assert timing["seconds_per_1k"] == by["bert", "logreg"]["featurize_seconds_per_1k"] and timing["machine"]["cores"]


def test_a_batched_fit_divides_its_time_and_memory_among_its_cells(workspace):
    """The runner fits the 5 split seeds of a size as one batch: each cell is charged a fifth of it, so the
    cells' fit seconds add up to no more than the run's own wall time (charging each cell the whole batch
    would count the fits 5 times over)."""
    import time

    start = time.perf_counter()
    result = invoke(
        workspace, "experiment", "-f", "bert", "-m", "mlp", "--sizes", "150", "--splits", "5",
        "--metrics", "accuracy", "--name", "shared",
    )  # fmt: skip
    wall = time.perf_counter() - start
    assert result.exit_code == 0, result.output
    rows = pq.read_table(workspace / "results" / "shared" / "results.parquet").to_pylist()
    cells = [r for r in rows if r["metric"] == "accuracy"]
    assert len(cells) == 5 and len({r["fit_seconds"] for r in cells}) == 1, "one batch, one share each"
    assert sum(r["fit_seconds"] for r in cells) <= wall, (cells[0]["fit_seconds"], wall)
    assert len({r["fit_peak_bytes"] for r in cells}) == 1


def test_results_without_cost_columns_still_read(tmp_path, corpus_run):
    """A run made before the cost columns existed reads with them null, and resumes."""
    from enso_ng.formats import COST_COLUMNS, read_results

    old = tmp_path / "old.parquet"
    pq.write_table(pq.read_table(corpus_run / "results.parquet").drop_columns(list(COST_COLUMNS)), old)
    table = read_results(old)
    assert table.schema.equals(RESULTS_SCHEMA)
    assert table.column("parameters").null_count == table.num_rows
