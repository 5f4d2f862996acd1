"""Inner-CV criteria: a tie on accuracy must not choose a one-class model, every candidate's CV score is
recorded, and the criterion is an option that is validated, recorded and part of the resume check."""

import json
import warnings

import numpy as np
import pyarrow.parquet as pq
import pytest

from enso_ng.experiment.criteria import CRITERIA, log_loss, macro_f1
from enso_ng.experiment.models import MODELS, cv_folds, inner_cv_choice
from enso_ng.experiment.models.base import DEFAULT_CRITERION
from enso_ng.experiment.splits import plan_split
from enso_ng.formats import read_features

from conftest import CORPUS, invoke


def _tied_candidates(n: int = 60) -> tuple[np.ndarray, np.ndarray, dict]:
    """Labels 70% "a", 30% "b", and two candidates' validation probabilities with the same accuracy:

    - ``strong`` (the more regularised) predicts "a" for every row, at 0.6: right on all "a", wrong on all
      "b": accuracy 0.7, macro-F1 about 0.41, a one-class predictor;
    - ``weak`` finds every "b" and misses 30% of the rows' worth of "a": accuracy 0.7 too, macro-F1 0.7.
    """
    y = np.array(["a"] * (7 * n // 10) + ["b"] * (3 * n // 10))
    codes = (y == "b").astype(int)
    strong = np.tile([0.6, 0.4], (n, 1))
    weak = np.where(codes[:, None] == 1, [0.2, 0.8], [0.9, 0.1])
    wrong = np.flatnonzero(codes == 0)[:: 7 // 3][: 3 * n // 10]  # as many "a" called "b" as there are "b"
    weak[wrong] = [0.3, 0.7]
    return y, codes, {"strong": strong, "weak": weak}


def _choose(criterion: str):
    y, codes, scores = _tied_candidates()
    X = np.arange(len(y))[:, None]  # row indices: fit_predict looks the scores up

    def fit_predict(candidate, X_train, y_train, X_valid):
        return scores[candidate][X_valid[:, 0]]

    return inner_cv_choice(X, y, ["strong", "weak"], fit_predict, 3, 0, "strong", criterion, "proba")


def test_the_constructed_candidates_tie_on_accuracy_and_one_is_one_class():
    """The premise of the next test, checked on every fold rather than assumed."""
    y, codes, scores = _tied_candidates()
    folds = cv_folds(y, 3, 0)
    assert {len(valid) for _, valid in folds} == {20}  # equal folds: the mean of fold accuracies is the accuracy
    accuracy = {k: np.mean([np.mean(s[v].argmax(1) == codes[v]) for _, v in folds]) for k, s in scores.items()}
    assert accuracy["strong"] == pytest.approx(accuracy["weak"]) == pytest.approx(0.7)
    assert all(set(scores["strong"][valid].argmax(1)) == {0} for _, valid in folds)


def test_accuracy_ties_choose_the_one_class_model_and_the_default_criterion_does_not():
    chosen, record = _choose("accuracy")
    assert chosen == "strong"  # ties to the most regularised: the degenerate choice issue 14 reported
    assert record["cv_scores"]["strong"] == pytest.approx(record["cv_scores"]["weak"])
    for criterion in (DEFAULT_CRITERION, "log_loss", "macro_f1", "accuracy_weak_ties"):
        assert _choose(criterion)[0] == "weak", criterion


def test_criteria_scores_are_scikit_learns():
    from sklearn.metrics import f1_score
    from sklearn.metrics import log_loss as sk_log_loss

    y, codes, scores = _tied_candidates()
    valid = np.ones((1, len(y)))
    for proba in scores.values():
        assert log_loss(proba[None], codes[None], valid, "proba")[0] == pytest.approx(sk_log_loss(codes, proba))
        logits = np.log(proba)[None]  # a softmax of log-probabilities gives them back
        assert log_loss(logits, codes[None], valid, "logits")[0] == pytest.approx(sk_log_loss(codes, proba))
        expected = f1_score(codes, proba.argmax(1), average="macro", zero_division=0)
        assert macro_f1(proba[None], codes[None], valid, "proba")[0] == pytest.approx(expected)
    # a class in neither the fold's truth nor its predictions does not count, as in scikit-learn
    three = np.hstack([scores["weak"], np.zeros((len(y), 1))])
    expected = f1_score(codes, three.argmax(1), average="macro")
    assert macro_f1(three[None], codes[None], valid, "proba")[0] == pytest.approx(expected)


def test_one_standard_error_rule_takes_the_most_regularised_candidate_close_to_the_best():
    values = np.array([[0.70, 0.72, 0.68], [0.66, 0.74, 0.76], [0.60, 0.62, 0.58]])  # the best: 0.72, se 0.031
    assert CRITERIA.get("accuracy_1se").choose(values) == 0
    assert CRITERIA.get("accuracy").choose(values) == 1
    assert CRITERIA.get("accuracy_1se").choose(values - [[0.05], [0], [0]]) == 1


def test_the_standard_error_is_the_sample_standard_deviation_over_root_folds():
    """Two folds at 0.6 and 0.8 for the best candidate: mean 0.7, sample sd 0.141421 (n - 1 in the
    denominator), se 0.1; with the population sd the se would be 0.0707. A candidate 0.08 below the best is
    within one standard error, one 0.11 below is not."""
    best = [0.6, 0.8]
    assert CRITERIA.get("accuracy_1se").choose(np.array([[0.62, 0.62], best])) == 0  # 0.08 < 0.1
    assert CRITERIA.get("accuracy_1se").choose(np.array([[0.59, 0.59], best])) == 1  # 0.11 > 0.1
    # a loss: lower is better, the same standard error
    assert CRITERIA.get("log_loss").rule(1 - np.array([[0.62, 0.62], best]), False) == 1  # log_loss: the best
    assert CRITERIA.get("accuracy_1se").rule(1 - np.array([[0.62, 0.62], best]), False) == 0


@pytest.mark.parametrize("name", ["knn", "svm"])
def test_params_record_every_candidates_cv_score(corpus_workspace, name):
    """Each candidate's mean CV score in params is its mean fold macro-F1, recomputed here with scikit-learn
    (the same estimator and the same folds, scored by ``f1_score``), and the choice is the best of those
    recomputed scores, ties to the most regularised. (logreg's numbers: the log-loss test below.)"""
    from sklearn.metrics import f1_score
    from sklearn.neighbors import KNeighborsClassifier
    from sklearn.svm import LinearSVC

    feats = read_features(corpus_workspace / "features" / CORPUS / "bert.parquet")
    train = plan_split(feats.labels, feats.splits, seed=0).train(120)
    X, y = feats.X[train], feats.labels[train]
    model = MODELS.get(name)(random_state=0).fit(X, y)
    record = model.best_params_
    assert record["criterion"] == model.criterion == DEFAULT_CRITERION == "macro_f1"
    codes = np.unique(y, return_inverse=True)[1]
    folds = cv_folds(codes, 3, 0)
    if name == "knn":  # candidates: distinct effective k, from the most neighbours to the fewest
        candidates = sorted({min(k, len(y) * 2 // 3) for k in model.ks}, reverse=True)
    else:
        candidates = list(model.Cs)
    expected = {}
    for candidate in candidates:
        scores = []
        for fit_rows, valid in folds:
            if name == "knn":
                reference = KNeighborsClassifier(
                    n_neighbors=min(candidate, len(fit_rows)), metric="cosine", algorithm="brute", weights="distance"
                )
            else:
                reference = LinearSVC(C=candidate, max_iter=model.max_iter, random_state=0)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                predicted = reference.fit(X[fit_rows], codes[fit_rows]).predict(X[valid])
            scores.append(f1_score(codes[valid], predicted, average="macro"))
        expected[f"{candidate:g}" if isinstance(candidate, float) else str(candidate)] = float(np.mean(scores))
    assert record["cv_scores"] == pytest.approx(expected, abs=1e-6)
    best = max(expected.values())
    first_best = next(k for k, v in expected.items() if v >= best - 1e-9)
    key = {"svm": "C", "knn": "k"}[name]
    assert f"{record[key]:g}" == first_best


@pytest.mark.parametrize("name", ["logreg", "mlp"])
def test_params_record_names_every_candidate(corpus_workspace, name):
    """The batched models record a score for every candidate of their grid, under the default criterion."""
    feats = read_features(corpus_workspace / "features" / CORPUS / "bert.parquet")
    train = plan_split(feats.labels, feats.splits, seed=0).train(120)
    model = MODELS.get(name)(random_state=0).fit(feats.X[train], feats.labels[train])
    record = model.best_params_
    assert record["criterion"] == model.criterion == DEFAULT_CRITERION and record["cv_folds"] == 3
    grid = {"logreg": "Cs", "mlp": "weight_decays"}[name]
    assert sorted(record["cv_scores"]) == sorted(f"{c:g}" for c in getattr(model, grid))


@pytest.mark.parametrize("binary", [False, True])
def test_logregs_cv_log_loss_is_scikit_learns_on_the_same_folds(corpus_workspace, binary):
    """The recorded per-C log-loss is what LogisticRegressionCV(scoring="neg_log_loss") measures on the same
    folds, with every fold fit solved exactly: the numbers in params are real, not ranks."""
    from sklearn.linear_model import LogisticRegressionCV

    feats = read_features(corpus_workspace / "features" / CORPUS / "bert.parquet")
    labels = np.where(feats.labels == "negative", "negative", "other") if binary else feats.labels
    train = plan_split(feats.labels, feats.splits, seed=1).train(300)
    X, y = feats.X[train], labels[train]
    grid = [0.1, 1.0, 10.0, 100.0]
    ours = MODELS.get("logreg")(random_state=1, Cs=grid, rtol=1e-5, cv_rtol=1e-5, criterion="log_loss").fit(X, y)
    folds = cv_folds(np.unique(y, return_inverse=True)[1], 3, random_state=1, allow_missing=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        reference = LogisticRegressionCV(Cs=grid, cv=folds, tol=1e-8, max_iter=10000, scoring="neg_log_loss")
        reference.fit(X, y)
    theirs = -np.mean(next(iter(reference.scores_.values())), axis=0)
    mine = [ours.best_params_["cv_scores"][f"{C:g}"] for C in grid]
    assert mine == pytest.approx(theirs, rel=2e-3), (mine, theirs)
    assert ours.best_params_["C"] == grid[int(np.argmin(theirs))]


def test_the_criterion_is_validated_recorded_and_part_of_the_resume_check(workspace):
    base = ["experiment", "-f", "tfidf", "-m", "logreg,svm", "--sizes", "60", "--splits", "1", "--name", "crit"]
    for option, words in (
        ("logreg.criterion=best", ["logreg", "criterion", "'best'", "log_loss"]),
        ("svm.criterion=log_loss", ["svm", "log_loss", "probabilities"]),
        ("logreg.criterion=1", ["logreg", "criterion"]),
    ):
        result = invoke(workspace, *base, "-o", option)
        assert result.exit_code != 0
        line = result.output.strip()
        assert len(line.splitlines()) == 1 and all(w in line for w in words), line
        assert not (workspace / "results" / "crit").exists()
    result = invoke(workspace, *base, "-o", "logreg.criterion=accuracy_weak_ties")
    assert result.exit_code == 0, result.output
    run = workspace / "results" / "crit"
    models = json.loads((run / "config.json").read_text())["models"]
    assert models["logreg"]["criterion"] == "accuracy_weak_ties"
    assert models["svm"]["criterion"] == DEFAULT_CRITERION  # the default, recorded resolved
    params = pq.read_table(run / "results.parquet").to_pandas().drop_duplicates("model").set_index("model")["params"]
    assert json.loads(params["logreg"])["criterion"] == "accuracy_weak_ties"
    more = [*base[:-6], "--sizes", "60,120", "--splits", "1", "--name", "crit"]
    resumed = invoke(workspace, *more)  # the default criterion is another one
    assert resumed.exit_code != 0
    assert "criterion 'accuracy_weak_ties'" in resumed.output
    assert "-o logreg.criterion=accuracy_weak_ties" in resumed.output
    assert invoke(workspace, *more, "-o", "logreg.criterion=accuracy_weak_ties").exit_code == 0


def test_a_run_recorded_before_criteria_resumes_only_with_accuracy(workspace):
    """config.json without a criterion was made when inner CV ranked by accuracy."""
    base = ["experiment", "-f", "tfidf", "-m", "logreg", "--splits", "1", "--name", "old"]
    assert invoke(workspace, *base, "--sizes", "60").exit_code == 0
    config = workspace / "results" / "old" / "config.json"
    record = json.loads(config.read_text())
    del record["models"]["logreg"]["criterion"]
    config.write_text(json.dumps(record))
    if DEFAULT_CRITERION != "accuracy":
        refused = invoke(workspace, *base, "--sizes", "60,120")
        assert refused.exit_code != 0 and "criterion 'accuracy'" in refused.output
    assert invoke(workspace, *base, "--sizes", "60,120", "-o", "logreg.criterion=accuracy").exit_code == 0


def test_a_changed_default_parameter_refuses_the_resume(workspace):
    """config.json records every parameter resolved, so a default that changed between versions (simulated
    by editing the record) cannot mix cells fitted two ways; setting the recorded value resumes."""
    base = ["experiment", "-f", "tfidf", "-m", "logreg", "--splits", "1", "--name", "defaults"]
    assert invoke(workspace, *base, "--sizes", "60").exit_code == 0
    config = workspace / "results" / "defaults" / "config.json"
    record = json.loads(config.read_text())
    assert record["models"]["logreg"]["params"]["cv_rtol"] == MODELS.get("logreg")().cv_rtol
    record["models"]["logreg"]["params"]["cv_rtol"] = 0.001
    config.write_text(json.dumps(record))
    refused = invoke(workspace, *base, "--sizes", "60,120")
    line = refused.output.strip()
    assert refused.exit_code != 0 and len(line.splitlines()) == 1, line
    assert "cv_rtol=0.001" in line and "-o logreg.cv_rtol=0.001" in line, line
    assert invoke(workspace, *base, "--sizes", "60,120", "-o", "logreg.cv_rtol=0.001").exit_code == 0


def test_a_run_made_before_a_parameter_existed_is_refused_without_a_false_hint(workspace):
    """A parameter the model gained since the run (simulated by deleting it from the record, as a run made
    before mlp's ``epochs`` lacks it) has no option that gives the run's behaviour back: the refusal says
    so, and offers no ``-o`` that would only be refused again."""
    base = ["experiment", "-f", "tfidf", "-m", "logreg", "--splits", "1", "--name", "older"]
    assert invoke(workspace, *base, "--sizes", "60").exit_code == 0
    config = workspace / "results" / "older" / "config.json"
    record = json.loads(config.read_text())
    del record["models"]["logreg"]["params"]["cv_rtol"]
    record["models"]["logreg"]["params"]["rtol"] = 0.005
    config.write_text(json.dumps(record))
    refused = invoke(workspace, *base, "--sizes", "60,120")
    line = refused.output.strip()
    assert refused.exit_code != 0 and len(line.splitlines()) == 1, line
    assert "had no cv_rtol" in line and "cannot be resumed" in line and "another --name" in line, line
    assert "-o " not in line, line


@pytest.mark.parametrize(
    "option, expected",
    [
        ("mlp.steps=0", "model 'mlp': steps must be at least 1 and at most 1000000, not 0"),
        ("mlp.dropout=1.0", "model 'mlp': dropout must be at least 0 and below 1, not 1.0"),
        ("logreg.cv_rtol=-1", "model 'logreg': cv_rtol must be positive, not -1.0"),
        (
            "logreg.Cs=1,-2",
            "model 'logreg': Cs must be a positive number from 1.2e-38 to 3.4e38 (float32's range), not [1.0, -2.0]",
        ),
        (
            "logreg.Cs=1,1e39",
            "model 'logreg': Cs must be a positive number from 1.2e-38 to 3.4e38 (float32's range), not [1.0, 1e+39]",
        ),
        ("logreg.cv=1", "model 'logreg': cv must be at least 2 (folds) and at most 100, not 1"),
    ],
)
def test_a_parameter_out_of_its_range_is_a_one_line_error(workspace, option, expected):
    result = invoke(
        workspace, "experiment", "-f", "tfidf", "--sizes", "60", "--splits", "1", "--name", "r", "-o", option
    )
    assert result.exit_code != 0 and result.output.strip() == f"Error: {expected}", result.output
    assert not (workspace / "results" / "r").exists()
