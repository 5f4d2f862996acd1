"""logreg on many classes: its stopping bounds mean the same for 2 classes and for 100 (issue 27).

With an absolute gradient bound chosen on 2-6 classes, every fold fit on 77-100 classes stopped at its
starting point (each class's share of the gradient is about 1/K of a binary problem's): every C scored the
same, the first C was "chosen", and Banking77 scored 0.64 at 2,464 labels. These tests compare the chosen C
and the accuracy with scikit-learn's ``LogisticRegressionCV`` on the same folds, on generated data that
every clone has (both sides of the feature dimension: the dual and the primal basis) and on Banking77.
"""

from __future__ import annotations

import json
import warnings

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from sklearn.linear_model import LogisticRegressionCV
from sklearn.metrics import f1_score
from threadpoolctl import threadpool_limits

from enso_ng.experiment.models import MODELS, cv_folds
from enso_ng.experiment.splits import plan_split
from enso_ng.fit_notes import fit_notes, flat_cv_line, unmoved_cv_line

from conftest import invoke

CS = [0.1, 1.0, 10.0, 100.0, 1000.0]


def _gaussian_classes(classes: int, dim: int, rows: int, separation: float, seed: int = 0):
    """Unit-norm rows around ``classes`` random class means (like sentence embeddings), train and test."""
    rng = np.random.default_rng(seed)
    means = rng.normal(size=(classes, dim))
    means *= separation / np.linalg.norm(means, axis=1, keepdims=True)

    def draw(n):
        y = np.arange(n) % classes
        X = means[y] + rng.normal(size=(n, dim)) / np.sqrt(dim)
        return (X / np.linalg.norm(X, axis=1, keepdims=True)).astype(np.float32), np.char.add("c", y.astype(str))

    return draw(rows), draw(3000)


def _sklearn(X, y, seed: int) -> LogisticRegressionCV:
    """scikit-learn's warm-started C path on enso_ng's own folds of the cell, ranked by macro-F1 as logreg is."""
    folds = cv_folds(y, 3, seed, allow_missing=True)
    with warnings.catch_warnings(), threadpool_limits(1):
        warnings.simplefilter("ignore")
        return LogisticRegressionCV(
            Cs=CS, cv=folds, max_iter=1000, scoring=lambda est, X, y: f1_score(y, est.predict(X), average="macro")
        ).fit(X, y)


@pytest.mark.parametrize(
    "dim, rows, separation",
    [(1024, 1000, 0.2), (128, 1500, 0.35)],
    ids=["rows-below-dim", "rows-above-dim"],
)
def test_hundred_classes_choose_scikit_learns_C_on_the_same_folds(dim, rows, separation):
    (X, y), (X_test, y_test) = _gaussian_classes(100, dim, rows, separation)
    ours = MODELS.get("logreg")(random_state=0).fit(X, y)
    reference = _sklearn(X, y, 0)
    record = ours.best_params_
    assert "cv_flat" not in record, record
    assert len(set(record["cv_scores"].values())) > 2, "the C values are told apart"
    # The C that scikit-learn's own CV curve (same folds, same criterion) ranks best, or one it ranks within
    # 0.01 of it. Both curves rise by 0.2 or more from C = 0.1 to their best, but C = 100 and 1000 score
    # within 0.001 (weak regularisation either way): which of two such C values a solver's path lands on is
    # fold noise, and C equality would test that noise (6 rows per class made the whole curve that flat).
    curve = reference.scores_[next(iter(reference.scores_))].mean(0)
    ours_on_their_curve = curve[list(reference.Cs_).index(record["C"])]
    assert curve.max() - ours_on_their_curve <= 0.01, (record, dict(zip(reference.Cs_, curve)))
    ours_acc, their_acc = ((m.predict(X_test) == y_test).mean() for m in (ours, reference))
    assert abs(ours_acc - their_acc) <= 0.01, (ours_acc, their_acc)
    assert record["converged"] and record["stop"] == "gradient"


def test_a_flat_inner_cv_curve_is_recorded_and_the_tie_rule_chooses():
    """Classes so far apart that every C classifies every validation row: nothing to choose between, so the
    record says so and the documented tie rule (the most regularised candidate) decides."""
    (X, y), _ = _gaussian_classes(20, 64, 400, 3.0)
    model = MODELS.get("logreg")(random_state=0).fit(X, y)
    assert model.best_params_["cv_flat"] is True
    assert set(model.best_params_["cv_scores"].values()) == {1.0}
    assert model.best_params_["C"] == CS[0]
    (X, y), _ = _gaussian_classes(20, 64, 400, 0.3)
    assert "cv_flat" not in MODELS.get("logreg")(random_state=0).fit(X, y).best_params_


def _results(*params: dict) -> pa.Table:
    rows = [
        {
            "dataset": "d",
            "featurizer": "f",
            "model": "logreg",
            "train_size": 100,
            "split": i,
            "metric": metric,
            "params": json.dumps(p),
        }  # fmt: skip
        for i, p in enumerate(params)
        for metric in ("accuracy", "macro_f1")
    ]
    return pa.Table.from_pylist(rows)


def test_flat_and_unmoved_cells_are_counted_once_per_cell():
    scores = {"10": 0.5, "100": 0.7, "1000": 0.7}
    table = _results(
        {"cv_folds": 3, "cv_flat": True, "converged": True},
        {"cv_folds": 3, "C": 100.0, "cv_scores": scores, "cv_unmoved": ["1000"], "converged": True},
        {"cv_folds": 3, "C": 100.0, "cv_scores": {**scores, "1000": 0.6}, "cv_unmoved": ["1000"]},  # not tied
        {"cv_folds": 3, "converged": True},
        {"cv_folds": 0, "converged": True},
    )
    assert flat_cv_line(table) == (
        "1 of 4 tuned cells had a flat inner-CV curve (every candidate scored the same, so the tie rule chose, "
        "not the data: logreg 1; params cv_flat)"
    )
    assert unmoved_cv_line(table).startswith("1 of 4 tuned cells chose a C tied with C values"), table
    assert fit_notes(table) == [flat_cv_line(table), unmoved_cv_line(table)]
    assert fit_notes(_results({"cv_folds": 3, "converged": True})) == []


def test_the_experiment_summary_and_the_report_flag_a_flat_curve(tmp_path):
    """Two classes no model can confuse (each text is its label's word): every C scores 1.0 on every fold."""
    source = tmp_path / "easy.csv"
    rng = np.random.default_rng(0)
    lines = ["text,label"] + [
        f"{'alpha' if i % 2 else 'omega'} {' '.join(rng.choice(['x', 'y', 'z'], 3))},{'a' if i % 2 else 'o'}"
        for i in range(300)
    ]
    source.write_text("\n".join(lines) + "\n")
    ws = tmp_path / "ws"
    assert invoke(ws, "download", "--from-file", str(source), "--name", "easy").exit_code == 0
    assert invoke(ws, "featurize", "-f", "tfidf").exit_code == 0
    run = invoke(ws, "experiment", "-m", "logreg", "--sizes", "60", "--splits", "2", "--name", "flat")
    assert run.exit_code == 0, run.output
    assert "warning: 2 of 2 tuned cells had a flat inner-CV curve" in run.output, run.output
    params = [json.loads(p) for p in pq.read_table(ws / "results" / "flat" / "results.parquet")["params"].to_pylist()]
    assert all(p["cv_flat"] is True for p in params)
    shown = invoke(ws, "visualize", "--run", "flat", "--no-tsne")  # the notes do not depend on the map
    assert shown.exit_code == 0, shown.output
    assert "2 of 2 tuned cells had a flat inner-CV curve" in shown.output
    assert "2 of 2 tuned cells had a flat inner-CV curve" in (ws / "results" / "flat" / "report.html").read_text()


def test_a_class_no_split_can_train_on_is_warned_about(tmp_path):
    """A class of one row is held out for testing on every seed, and a label only the official test split has
    is never in the pool: every model scores those rows wrong, and macro-F1 is capped, with nothing said."""
    rng = np.random.default_rng(0)
    rows = [(f"{w} {w} {' '.join(rng.choice(['x', 'y', 'z'], 3))}", w) for w in ("alpha", "omega") * 60]
    source = tmp_path / "rare.csv"
    source.write_text("text,label\n" + "".join(f"{t},{y}\n" for t, y in rows) + "only one of its kind,rare\n")
    ws = tmp_path / "ws"
    assert invoke(ws, "download", "--from-file", str(source), "--name", "rare").exit_code == 0
    assert invoke(ws, "featurize", "-f", "tfidf").exit_code == 0
    run = invoke(ws, "experiment", "-m", "logreg", "--sizes", "20", "--splits", "1", "--name", "r")
    assert run.exit_code == 0, run.output
    said = (
        "warning: rare: 1 class with test rows but no row to train on, scored wrong by every model: rare (1 test row)"
    )
    assert said in run.output, run.output
    common = tmp_path / "common.csv"  # the same rows without the class of one: nothing to say
    common.write_text("text,label\n" + "".join(f"{t},{y}\n" for t, y in rows))
    assert invoke(ws, "download", "--from-file", str(common), "--name", "common").exit_code == 0
    assert invoke(ws, "featurize", "-f", "tfidf", "-d", "common").exit_code == 0
    quiet = invoke(ws, "experiment", "-d", "common", "-m", "logreg", "--sizes", "20", "--splits", "1", "--name", "c")
    assert quiet.exit_code == 0 and "no row to train on" not in quiet.output, quiet.output
    official = tmp_path / "official.csv"  # a label only the official test split has: never in the pool
    official.write_text(
        "text,label,split\n"
        + "".join(f"{t},{y},{'test' if i % 4 == 0 else 'train'}\n" for i, (t, y) in enumerate(rows))
        + "".join(f"novel words {i},novel,test\n" for i in range(3))
    )
    assert (
        invoke(ws, "download", "--from-file", str(official), "--name", "official", "--split-column", "split").exit_code
        == 0
    )
    assert invoke(ws, "featurize", "-f", "tfidf", "-d", "official").exit_code == 0
    split = invoke(ws, "experiment", "-d", "official", "-m", "logreg", "--sizes", "20", "--splits", "1", "--name", "o")
    assert split.exit_code == 0, split.output
    assert (
        "official: 1 class with test rows but no row to train on, scored wrong by every model: novel (3 test rows)"
        in split.output
    )


def test_knn_on_more_classes_than_half_its_rows_says_nothing_of_regression():
    """scikit-learn's "could represent a regression problem" warning reached the terminal once a fold on
    many-class data (100 classes of 3-10 rows); the labels are classes by construction."""
    import warnings

    rng = np.random.default_rng(0)
    y = np.repeat([f"c{i}" for i in range(40)], 2)
    X = rng.normal(size=(80, 8)) + np.repeat(np.arange(40), 2)[:, None]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model = MODELS.get("knn")().fit(X, y)
    assert (model.predict(X) == y).mean() > 0.9


def test_banking77_at_2464_labels_matches_scikit_learn(mirror, tmp_path):
    """77 intents, MiniLM features, one stratified subset of 2,464 training rows and 600 official test rows:
    scikit-learn's LogisticRegressionCV reaches about 0.90; the absolute bound of before scored 0.64."""
    from enso_ng.featurize.bert import BertFeaturizer

    ws = tmp_path / "ws"
    assert invoke(ws, "download", "banking77", "--mirror", mirror).exit_code == 0
    table = pq.read_table(ws / "datasets" / "banking77.parquet").to_pydict()
    labels, splits = np.array(table["label"]), np.array(table["split"], dtype=object)
    plan = plan_split(labels, splits, seed=0)
    train, test = plan.train(2464), np.sort(np.random.default_rng(0).choice(plan.test, 600, replace=False))
    texts = np.array(table["text"], dtype=object)
    vectors = BertFeaturizer().transform(list(texts[np.concatenate([train, test])]))
    X, X_test = vectors[: len(train)], vectors[len(train) :]
    y, y_test = labels[train], labels[test]
    assert len(set(y)) == 77
    with threadpool_limits(1):
        ours = MODELS.get("logreg")(random_state=0).fit(X, y)
    reference = _sklearn(X, y, 0)
    ours_acc, their_acc = ((m.predict(X_test) == y_test).mean() for m in (ours, reference))
    assert ours_acc >= 0.88, (ours_acc, ours.best_params_)
    assert ours_acc >= their_acc - 0.01, (ours_acc, their_acc)
    assert "cv_flat" not in ours.best_params_ and ours.best_params_["C"] >= 10, ours.best_params_


def test_features_of_very_different_scales_keep_every_direction():
    """More rows than dimensions: the covariance eigenbasis is a rotation and keeps every direction, so a
    signal column beside one a thousand times larger is still learnt (a 1e-6 eigenvalue cut-off dropped it:
    accuracy 0.55 where scikit-learn reaches 1.0)."""
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(0)
    y = np.arange(400) % 2
    X = np.column_stack(
        [rng.normal(size=400) * 1000, (2 * y - 1) * 0.5 + rng.normal(size=400) * 0.1, rng.normal(size=400)]
    )
    default = MODELS.get("logreg")(Cs=(1.0,)).fit(X, y)
    exact = MODELS.get("logreg")(Cs=(1.0,), rtol=1e-5).fit(X, y)
    reference = LogisticRegression(C=1.0, tol=1e-10, max_iter=10000).fit(X, y)
    assert (default.predict(X) == y).mean() == (reference.predict(X) == y).mean() == 1.0
    assert default.best_params_["converged"]
    assert np.abs(exact.predict_proba(X) - reference.predict_proba(X)).max() < 1e-4


def test_rows_that_do_not_vary_converge_at_once():
    """Identical rows: the null model is the optimum and its gradient is float32 round-off, which the bound
    never asks to beat, so the fit converges with no iteration (no false "did not converge")."""
    X, y = np.ones((30, 5)), np.arange(30) % 3
    model = MODELS.get("logreg")(random_state=0).fit(X, y)
    assert model.best_params_["converged"] and model.best_params_["n_iter"] == 0
    assert model.best_params_["cv_flat"] is True


def test_a_chosen_C_that_is_itself_unmoved_is_no_tie_with_another():
    """Under ``accuracy_weak_ties`` the chosen C may be the unmoved one: that is no tie with another C."""
    alone = {"cv_folds": 3, "C": 1000.0, "cv_scores": {"10": 0.5, "100": 0.7, "1000": 0.7}, "cv_unmoved": ["1000"]}
    assert unmoved_cv_line(_results(alone)) is None
    assert unmoved_cv_line(_results({**alone, "C": 100.0})) is not None
