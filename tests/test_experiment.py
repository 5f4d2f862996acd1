"""`enso experiment`: the split protocol, the target models, results files and resuming."""

import json

import numpy as np
import pyarrow.parquet as pq
import pytest

from conftest import invoke
from enso_ng.errors import EnsoError
from enso_ng.experiment.models import MODELS
from enso_ng.experiment.splits import nested_stratified_order, plan_split
from enso_ng.formats import RESULTS_SCHEMA, read_features


def _labels(rng, counts):
    return rng.permutation(np.repeat([f"c{i}" for i in range(len(counts))], counts))


def test_nested_order_is_stratified_and_covers_every_class():
    rng = np.random.default_rng(1)
    labels = _labels(rng, [700, 250, 50])
    order = nested_stratified_order(labels, np.random.default_rng(7))
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


def test_official_test_split_is_used():
    labels = np.array(["a", "b"] * 50, dtype=object)
    splits = np.array(["train"] * 80 + ["test"] * 20, dtype=object)
    plan = plan_split(labels, splits, seed=0)
    assert plan.test_source == "official" and sorted(plan.test) == list(range(80, 100))


@pytest.mark.parametrize("name", ["logreg", "mlp"])
def test_models_are_deterministic_and_learn(trec_workspace, name):
    feats = read_features(trec_workspace / "features" / "trec" / "bert.parquet")
    plan = plan_split(feats.labels, feats.splits, seed=0)
    train = plan.train(200)
    first = MODELS.get(name)(random_state=0).fit(feats.X[train], feats.labels[train])
    second = MODELS.get(name)(random_state=0).fit(feats.X[train], feats.labels[train])
    test = feats.X[plan.test]
    assert np.array_equal(first.predict_proba(test), second.predict_proba(test))
    assert np.allclose(first.predict_proba(test).sum(1), 1, atol=1e-5)
    accuracy = np.mean(first.predict(test) == feats.labels[plan.test])
    assert accuracy > 0.6, accuracy  # 6 classes, largest is 28%: far above chance
    assert first.best_params_["cv_folds"] == 3


def test_mlp_handles_sparse_tfidf(trec_workspace):
    feats = read_features(trec_workspace / "features" / "trec" / "tfidf.parquet")
    plan = plan_split(feats.labels, feats.splits, seed=0)
    model = MODELS.get("mlp")(random_state=0).fit(feats.X[plan.train(200)], feats.labels[plan.train(200)])
    assert np.mean(model.predict(feats.X[plan.test]) == feats.labels[plan.test]) > 0.45


def test_results_file_and_config(trec_run):
    table = pq.read_table(trec_run / "results.parquet")
    assert table.schema.remove_metadata().equals(RESULTS_SCHEMA)
    # 2 featurizers x 2 models x 2 sizes x 2 splits x 2 metrics
    assert table.num_rows == 32
    rows = table.to_pylist()
    assert {r["metric"] for r in rows} == {"accuracy", "macro_f1"}
    assert {r["split"] for r in rows} == {0, 1}
    assert all(0 <= r["value"] <= 1 and r["fit_seconds"] > 0 for r in rows)
    assert all("cv_folds" in json.loads(r["params"]) for r in rows)
    best = max(r["value"] for r in rows if r["train_size"] == 120 and r["metric"] == "accuracy")
    assert best > 0.6
    config = json.loads((trec_run / "config.json").read_text())
    assert config["config"]["sizes"] == [30, 120] and config["split_seeds"] == [0, 1]
    assert config["datasets"]["trec"]["test_source"] == "official"
    assert config["datasets"]["trec"]["test_rows"] == 500
    assert {"torch", "scikit-learn", "numpy", "python"} <= set(config["versions"])


def test_rerun_resumes_and_extends(trec_workspace, trec_run):
    result = invoke(trec_workspace, "experiment", "--sizes", "30,120", "--splits", "2", "--name", "small")
    assert result.exit_code == 0 and "0 new cells, 16 already there" in result.output, result.output
    result = invoke(trec_workspace, "experiment", "--sizes", "30,60", "--splits", "2", "--name", "small",
                    "--models", "logreg", "--featurizers", "tfidf")
    assert result.exit_code == 0 and "2 new cells" in result.output, result.output
    result = invoke(trec_workspace, "experiment", "--sizes", "30", "--name", "small", "--seed", "5")
    assert result.exit_code != 0 and "made with seed=0" in result.output


def test_sizes_beyond_the_pool_are_skipped_with_a_warning(trec_workspace):
    result = invoke(trec_workspace, "experiment", "--sizes", "30,99999", "--splits", "1", "--models", "logreg",
                    "--featurizers", "tfidf", "--name", "too-big")
    assert result.exit_code == 0, result.output
    assert "skipping size 99999" in result.output
    config = json.loads((trec_workspace / "results" / "too-big" / "config.json").read_text())
    assert config["skipped"][0]["train_size"] == 99999
    table = pq.read_table(trec_workspace / "results" / "too-big" / "results.parquet")
    assert set(table.column("train_size").to_pylist()) == {30}


def test_bad_requests_are_one_line_errors(trec_workspace, tmp_path):
    cases = [
        (trec_workspace, ("experiment", "--models", "forest"), "unknown model 'forest'"),
        (trec_workspace, ("experiment", "--datasets", "imdb"), "no features for dataset 'imdb'"),
        (trec_workspace, ("experiment", "--featurizers", "glove"), "no 'glove' features for dataset 'trec'"),
        (trec_workspace, ("experiment", "--sizes", "ten"), "expected a comma-separated list"),
        (tmp_path, ("experiment",), "no features in"),
    ]
    for root, args, message in cases:
        result = invoke(root, *args)
        assert result.exit_code != 0, args
        assert message in result.output, result.output


def test_non_finite_features_are_refused(trec_workspace, tmp_path):
    import pyarrow as pa

    from enso_ng.workspace import read_meta, write_parquet

    source = trec_workspace / "features" / "trec" / "bert.parquet"
    table = pq.read_table(source)
    vectors = table.column("features").combine_chunks().flatten().to_numpy().copy()
    vectors[5] = np.nan
    broken = table.set_column(3, "features", pa.FixedSizeListArray.from_arrays(pa.array(vectors), 384))
    target = tmp_path / "bad.parquet"
    write_parquet(target, broken, read_meta(source))
    with pytest.raises(EnsoError, match="bad.parquet: features contain NaN"):
        read_features(target)


def test_no_inner_cv_when_a_class_has_a_single_example():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(21, 5))
    y = np.array(["a"] * 10 + ["b"] * 10 + ["c"], dtype=object)
    model = MODELS.get("logreg")(random_state=0).fit(X, y)
    assert model.best_params_["cv_folds"] == 0 and model.best_params_["C"] == 1.0
    assert set(model.predict(X)) <= {"a", "b", "c"}


@pytest.mark.parametrize("featurizer", ["bert", "tfidf"])
def test_mlp_minibatch_path(trec_workspace, featurizer):
    """Training sets larger than batch_size are trained on shared minibatches sliced from the input."""
    feats = read_features(trec_workspace / "features" / "trec" / f"{featurizer}.parquet")
    plan = plan_split(feats.labels, feats.splits, seed=0)
    train = plan.train(300)
    model = MODELS.get("mlp")(random_state=0, batch_size=64).fit(feats.X[train], feats.labels[train])
    again = MODELS.get("mlp")(random_state=0, batch_size=64).fit(feats.X[train], feats.labels[train])
    assert np.array_equal(model.predict_proba(feats.X[plan.test]), again.predict_proba(feats.X[plan.test]))
    assert np.mean(model.predict(feats.X[plan.test]) == feats.labels[plan.test]) > 0.45
