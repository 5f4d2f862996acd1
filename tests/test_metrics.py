"""The metrics a classification report has: F2 and F-beta (``--beta``), average precision for two-class
tasks, the per-class report of one cell, and lower-is-better metrics read the right way everywhere."""

from __future__ import annotations

import csv
import json
import types

import numpy as np
import pyarrow.parquet as pq
import pytest
from sklearn.metrics import average_precision_score, fbeta_score, precision_recall_fscore_support

from enso_ng.experiment.metrics import METRICS, Predictions
from enso_ng.visualize.classification_report import classification_report
from enso_ng.visualize.summary import load_results

from conftest import CORPUS, invoke


def _predictions(classes, seed=0, n=200) -> Predictions:
    rng = np.random.default_rng(seed)
    classes = np.array(classes)
    y_true = rng.choice(classes, n)
    scores = rng.random((n, len(classes))) + (classes[None, :] == y_true[:, None]) * 0.6
    proba = scores / scores.sum(1, keepdims=True)
    return Predictions(y_true, classes[proba.argmax(1)], classes, proba, proba)


def test_f2_fbeta_and_average_precision_on_known_predictions():
    p = _predictions(["a", "b", "c"])
    assert METRICS.get("f2").score(p) == pytest.approx(fbeta_score(p.y_true, p.y_pred, beta=2, average="macro"))
    config = types.SimpleNamespace(beta=0.5)
    assert METRICS.get("fbeta").score(p, config) == pytest.approx(
        fbeta_score(p.y_true, p.y_pred, beta=0.5, average="macro")
    )
    assert METRICS.get("fbeta").score(p, config) != pytest.approx(METRICS.get("f2").score(p))
    ap = METRICS.get("average_precision")
    assert not ap.applies(p), "no average precision for three classes"
    binary = _predictions(["neg", "pos"])
    assert ap.applies(binary)
    assert ap.score(binary) == pytest.approx(average_precision_score(binary.y_true == "pos", binary.proba[:, 1]))
    assert not ap.applies(Predictions(binary.y_true, binary.y_pred, binary.classes)), "it needs scores"


def test_classification_report_matches_scikit_learn():
    p = _predictions(["a", "b", "c", "d"], n=300)
    p.y_pred[p.y_pred == "d"] = "a"  # a class never predicted: precision 0, not a division by zero
    labels = ["a", "b", "c", "d"]
    matrix = np.array([[np.sum((p.y_true == t) & (p.y_pred == q)) for q in labels] for t in labels])
    rows = classification_report(labels, matrix)
    precision, recall, f1, support = precision_recall_fscore_support(p.y_true, p.y_pred, labels=labels, zero_division=0)
    for row, *expected in zip(rows, labels, precision, recall, f1, support):
        assert row[0] == expected[0] and row[4] == expected[4]
        assert row[1:4] == pytest.approx(expected[1:4], abs=1e-6)
    assert rows[4][0] == "macro avg" and rows[4][3] == pytest.approx(f1.mean(), abs=1e-6)
    assert rows[5][0] == "weighted avg" and rows[5][3] == pytest.approx(np.average(f1, weights=support), abs=1e-6)


SMALL = ["--sizes", "30,60", "--splits", "2", "-m", "logreg", "-f", "bert"]


def test_beta_scores_fbeta_and_is_recorded(workspace):
    result = invoke(workspace, "experiment", *SMALL, "--metrics", "accuracy,f2", "--beta", "0.5", "--name", "b")
    assert result.exit_code == 0, result.output
    rows = pq.read_table(workspace / "results" / "b" / "results.parquet").to_pylist()
    metrics = {r["metric"] for r in rows}
    assert {"accuracy", "f2", "fbeta", "train_fbeta"} <= metrics
    assert all(0 <= r["value"] <= 1 for r in rows)
    record = json.loads((workspace / "results" / "b" / "config.json").read_text())
    assert record["config"]["beta"] == 0.5 and "fbeta" in record["config"]["metrics"]
    assert record["metrics"]["fbeta"] == {"higher_is_better": True}
    again = invoke(workspace, "experiment", *SMALL, "--beta", "2", "--name", "b")
    assert again.exit_code != 0 and "made with beta=0.5, not 2.0" in again.output


@pytest.mark.parametrize(
    "args, message",
    [
        (["--beta", "0"], "Error: --beta must be a positive number from 1.2e-38 to 3.4e38 (float32's range), not 0.0"),
        (["--beta", "-1"], "Error: --beta must be a positive number from 1.2e-38 to 3.4e38 (float32's range), not -1.0"),
        (["--beta", "nan"], "Error: --beta must be a positive number from 1.2e-38 to 3.4e38 (float32's range), not nan"),
        (["--beta", "x"], "Error: --beta must be a number, not 'x'"),
        (["--metrics", "fbeta"], "Error: --metrics fbeta needs --beta B"),
    ],
)
def test_bad_beta_is_a_one_line_error_naming_the_option(corpus_workspace, args, message):
    result = invoke(corpus_workspace, "experiment", *SMALL, *args, "--name", "bad")
    assert result.exit_code != 0
    lines = [line for line in result.output.splitlines() if line.startswith("Error")]
    assert len(lines) == 1 and message in lines[0], result.output


def test_average_precision_for_two_classes_only(workspace, corpus_run):
    assert "average_precision" not in {r["metric"] for r in pq.read_table(corpus_run / "results.parquet").to_pylist()}
    texts = [f"cheap pills offer {i}" if i % 2 else f"see you at lunch {i}" for i in range(120)]
    lines = ["text,label"] + [f"{t},{'spam' if i % 2 else 'ham'}" for i, t in enumerate(texts)]
    (workspace / "spam.csv").write_text("\n".join(lines) + "\n")
    assert invoke(workspace, "download", "--from-file", str(workspace / "spam.csv"), "--name", "spam").exit_code == 0
    assert invoke(workspace, "featurize", "-f", "tfidf", "-d", "spam").exit_code == 0
    args = ["--sizes", "30", "--splits", "2", "-m", "logreg,svm", "-f", "tfidf", "-d", "spam", "--name", "ap"]
    result = invoke(workspace, "experiment", *args)
    assert result.exit_code == 0, result.output
    rows = pq.read_table(workspace / "results" / "ap" / "results.parquet").to_pylist()
    ap = [r for r in rows if r["metric"] == "average_precision"]
    assert {r["model"] for r in ap} == {"logreg", "svm"}, "scores suffice: the SVM's decision values too"
    # recomputed with scikit-learn from the same models fitted on the same rows: the probability (logreg) or
    # the decision value (svm) of the second class, "spam", ranks the test rows
    from enso_ng.experiment.models import MODELS
    from enso_ng.experiment.splits import plan_split
    from enso_ng.formats import read_features

    feats = read_features(workspace / "features" / "spam" / "tfidf.parquet")
    assert len(ap) == 4
    for r in ap:
        plan = plan_split(feats.labels, feats.splits, seed=r["split"])
        model = MODELS.get(r["model"])(random_state=r["split"]).fit(feats.X[plan.train(30)], feats.labels[plan.train(30)])
        test = feats.X[plan.test]
        scores = model.predict_proba(test)[:, 1] if r["model"] == "logreg" else model.decision_function(test)
        expected = average_precision_score(feats.labels[plan.test] == "spam", scores)
        assert r["value"] == pytest.approx(expected, abs=1e-9), r


def _best(table, metric, size, lower: bool):
    """The (featurizer, model) of the lowest (or highest) mean over split seeds, from the raw rows."""
    values: dict[tuple[str, str], list[float]] = {}
    for r in table.to_pylist():
        if r["metric"] == metric and r["train_size"] == size:
            values.setdefault((r["featurizer"], r["model"]), []).append(r["value"])
    means = {key: float(np.mean(v)) for key, v in values.items()}
    featurizer, model = (min if lower else max)(means, key=means.get)
    return types.SimpleNamespace(featurizer=featurizer, model=model)


def test_lower_is_better_in_the_experiment_summary_and_the_default_confusion_cell(run_workspace):
    result = invoke(
        run_workspace, "experiment", "--sizes", "30,60", "--splits", "2", "--metrics", "log_loss", "--name", "loss"
    )
    assert result.exit_code == 0, result.output
    run = run_workspace / "results" / "loss"
    table = load_results(run / "results.parquet")
    for size in (30, 60):
        best = _best(table, "log_loss", size, lower=True)
        worst = _best(table, "log_loss", size, lower=False)
        assert best != worst
        line = f"{CORPUS}  {best.featurizer}"
        printed = [x for x in result.output.splitlines() if x.startswith(CORPUS) and f" {size} " in f" {x} "]
        assert len(printed) == 1 and printed[0].split()[:4] == [CORPUS, best.featurizer, best.model, str(size)], (
            line,
            result.output,
        )
    shown = invoke(run_workspace, "visualize", "--run", "loss", "--metric", "log_loss", "--no-tsne", "--no-report")
    assert shown.exit_code == 0, shown.output
    best = _best(table, "log_loss", 60, lower=True)
    stem = f"{CORPUS}_{best.featurizer}_{best.model}_60"
    assert f"wrote {run}/confusion_{stem}.png" in shown.output, shown.output
    assert f"wrote {run}/classification_report_{stem}.csv" in shown.output


def test_visualize_writes_the_classification_report_of_the_chosen_cell(run_workspace):
    run = run_workspace / "results" / "small"
    result = invoke(run_workspace, "visualize", "--run", "small", "--no-tsne", "--confusion", f"{CORPUS}:tfidf:mlp:30")
    assert result.exit_code == 0, result.output
    path = run / f"classification_report_{CORPUS}_tfidf_mlp_30.csv"
    assert f"wrote {path}" in result.output
    with open(path) as fh:
        rows = list(csv.DictReader(fh))
    assert [r["label"] for r in rows] == ["negative", "neutral", "positive", "macro avg", "weighted avg"]
    assert sum(int(r["support"]) for r in rows[:3]) == 2 * 500, "each split seed's 500 test rows"
    assert all(0 <= float(r[k]) <= 1 for r in rows for k in ("precision", "recall", "f1"))
    html = (run / "report.html").read_text()
    assert f"Classification report: tfidf + mlp on {CORPUS} at size 30" in html
    assert "<th>support</th>" in html
