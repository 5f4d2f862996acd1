"""Label selection: samplers that choose which texts to label, as a grid axis of a run (issue 33)."""

from __future__ import annotations

import json

import numpy as np
import pyarrow.parquet as pq
import pytest

from enso_ng.experiment.samplers import SAMPLERS
from enso_ng.experiment.splits import plan_split
from enso_ng.formats import read_results

from conftest import invoke

SELECTING = [name for name in SAMPLERS.names() if SAMPLERS.get(name).selects]


def _pool(n: int = 400, seed: int = 0):
    """Vectors in four clusters, labels that follow them (with noise), and an official test split."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(4, 12)) * 3
    which = rng.integers(0, 4, n)
    X = (centres[which] + rng.normal(size=(n, 12))).astype(np.float32)
    labels = np.array(["abcd"[c] if rng.random() > 0.1 else "abcd"[rng.integers(4)] for c in which], dtype=object)
    splits = np.where(rng.random(n) < 0.25, "test", "train").astype(object)
    return X, labels, splits


def test_selection_samplers_are_registered():
    assert set(SELECTING) == {"kcenter", "orthogonal", "typical", "margin", "entropy"}


@pytest.mark.parametrize("name", SAMPLERS.names())
def test_every_sampler_is_nested_and_never_chooses_a_test_row(name):
    X, labels, splits = _pool()
    plan = plan_split(labels, splits, 3, sampler=name, vectors=X, limit=120)
    test = set(np.flatnonzero(splits == "test"))
    assert sorted(plan.order) == sorted(set(range(len(labels))) - test)  # the whole pool, once
    sizes = (4, 10, 30) if name == "per_label" else (10, 40, 120)
    subsets = [set(plan.train(s)) for s in sizes]
    assert not any(s & test for s in subsets)
    assert subsets[0] <= subsets[1] <= subsets[2] and len(subsets[0]) < len(subsets[2])


@pytest.mark.parametrize("name", SELECTING)
def test_no_label_is_read_before_its_text_is_selected(name):
    """Labels of the texts not chosen within the budget, scrambled, leave the choice as it was: the
    sampler cannot have read them (margin and entropy read those chosen in earlier rounds)."""
    X, labels, splits = _pool()
    before = plan_split(labels, splits, 1, sampler=name, vectors=X, limit=100)
    scrambled = labels.copy()
    unchosen = before.order[100:]
    scrambled[unchosen] = np.random.default_rng(9).choice(list("abcd"), len(unchosen))
    assert (scrambled[unchosen] != labels[unchosen]).any()
    after = plan_split(scrambled, splits, 1, sampler=name, vectors=X, limit=100)
    assert np.array_equal(before.order[:100], after.order[:100])


@pytest.mark.parametrize("name", ["margin", "entropy"])
def test_active_learning_follows_the_labels_it_reads(name):
    """The converse: the labels of chosen texts do steer active learning (so the test above is not
    passing for a sampler that reads no label at all)."""
    X, labels, splits = _pool()
    before = plan_split(labels, splits, 1, sampler=name, vectors=X, limit=100)
    flipped = labels.copy()
    flipped[before.order[:30]] = np.random.default_rng(9).choice(list("abcd"), 30)
    after = plan_split(flipped, splits, 1, sampler=name, vectors=X, limit=100)
    assert not np.array_equal(before.order[:100], after.order[:100])


@pytest.mark.parametrize("name", SELECTING)
def test_a_larger_budget_keeps_what_a_smaller_one_chose(name):
    """A resume that adds a larger size must not change the rows of the sizes already run."""
    X, labels, splits = _pool()
    small = plan_split(labels, splits, 2, sampler=name, vectors=X, limit=40)
    large = plan_split(labels, splits, 2, sampler=name, vectors=X, limit=150)
    assert np.array_equal(small.order[:40], large.order[:40])


def test_a_duplicated_cluster_is_labelled_once_by_kcenter_and_typical_and_often_by_random():
    """150 copies of one text beside 150 distinct texts: covering the pool labels one copy; drawing at
    random labels about half copies."""
    rng = np.random.default_rng(0)
    distinct = rng.normal(size=(150, 12)).astype(np.float32)
    copies = np.repeat((rng.normal(size=(1, 12)) * 4).astype(np.float32), 150, axis=0)
    X = np.vstack([distinct, copies])
    labels = np.array(["x", "y"] * 150, dtype=object)
    splits = np.full(300, "train", dtype=object)
    counts = {}
    for name in ("kcenter", "typical", "natural"):
        plan = plan_split(labels, splits, 0, sampler=name, vectors=X, limit=60, use_official_test=False, test_size=2)
        counts[name] = int((plan.train(60) >= 150).sum())
    assert counts["kcenter"] == 1 and counts["typical"] == 1, counts
    assert counts["natural"] >= 15, counts


def _digests(table):
    """(sampler, size, split) -> the set of training-row digests over every featurizer and model."""
    out: dict = {}
    names = ("sampler", "train_size", "split", "metric", "params")
    for sampler, size, split, metric, params in zip(*(table.column(c).to_pylist() for c in names)):
        if metric == "accuracy":
            out.setdefault((sampler, size, split), set()).add(json.loads(params)["train_rows_sha1"])
    return out


def test_samplers_axis_shares_one_selection_and_resumes(workspace):
    base = ["experiment", "-f", "bert", "-f", "tfidf", "-m", "logreg,knn", "--sizes", "30,60", "--splits", "2"]
    base += ["--metrics", "accuracy", "--name", "sel"]
    result = invoke(workspace, *base, "--samplers", "natural,kcenter,margin")
    assert result.exit_code == 0, result.output
    run = workspace / "results" / "sel"
    table = read_results(run / "results.parquet")
    assert set(table.column("sampler").to_pylist()) == {"natural", "kcenter", "margin"}
    digests = _digests(table)
    assert len(digests) == 3 * 2 * 2
    # every featurizer and model of a sampler, size and seed trained on the same rows (4 pairs, 1 digest)
    assert all(len(d) == 1 for d in digests.values()), digests
    assert digests[("kcenter", 60, 0)] != digests[("natural", 60, 0)] != digests[("margin", 60, 0)]
    config = json.loads((run / "config.json").read_text())
    selection = config["datasets"]["tweets"]["selection"]
    assert set(selection) == {"kcenter", "margin"} and selection["kcenter"]["select_with"] == "bert"
    assert set(selection["margin"]["seconds"]) == {"0", "1"}

    again = invoke(workspace, *base, "--samplers", "natural,kcenter,margin")
    assert again.exit_code == 0 and "0 new cells, 48 already there" in again.output, again.output
    more = invoke(workspace, *base, "--samplers", "natural,kcenter,margin,typical", "--splits", "3")
    assert more.exit_code == 0 and "48 new cells, 48 already there" in more.output, more.output
    selection = json.loads((run / "config.json").read_text())["datasets"]["tweets"]["selection"]
    assert set(selection["kcenter"]["seconds"]) == set(selection["typical"]["seconds"]) == {"0", "1", "2"}
    for option, message in (
        (("--samplers", "stratified,kcenter"), "made with sampler=natural, not stratified"),
        (("--samplers", "natural,kcenter", "--select-with", "tfidf"), "made with select_with=None, not tfidf"),
    ):
        refused = invoke(workspace, *base, *option)
        assert refused.exit_code == 1 and message in refused.output, refused.output


def test_selection_from_sparse_features_is_a_one_line_error(workspace):
    result = invoke(workspace, "experiment", "-f", "tfidf", "--sizes", "30", "--samplers", "natural,kcenter")
    assert result.exit_code == 1 and result.output.startswith("Error: --select-with tfidf"), result.output
    assert len(result.output.strip().splitlines()) == 1
    assert not (workspace / "results").exists() or not any((workspace / "results").iterdir())


def test_results_without_a_sampler_column_read_as_the_runs_sampler(run_workspace):
    """A results file from before samplers were an axis: its cells are the run's single sampler's, so a
    rerun finds them all, and a file of a run made with another sampler reads as that one."""
    run = run_workspace / "results" / "small"
    for name in ("results.parquet", "confusion.parquet"):
        table = pq.read_table(run / name)
        pq.write_table(table.drop(["sampler"]), run / name)
    assert set(read_results(run / "results.parquet").column("sampler").to_pylist()) == {"stratified"}
    result = invoke(run_workspace, "experiment", "--sizes", "30,120", "--splits", "2", "--name", "small")
    assert result.exit_code == 0 and "0 new cells, 16 already there" in result.output, result.output
    config = json.loads((run / "config.json").read_text())
    config["config"]["sampler"] = "natural"
    (run / "config.json").write_text(json.dumps(config))
    assert "sampler" not in pq.read_schema(run / "results.parquet").names  # a resume of nothing wrote nothing
    assert set(read_results(run / "results.parquet").column("sampler").to_pylist()) == {"natural"}
