"""Transfer across datasets: train on A's pool, test on B's test rows (``--train-on A --test-on B``), the
label map, the mixed mode, and the gap visualize states."""

from __future__ import annotations

import csv
import json
import random

import numpy as np
import pyarrow.parquet as pq
import pytest

from enso_ng.experiment.config import ExperimentConfig
from enso_ng.experiment.transfer import MIX, TRANSFER, Side, sides_of, transfer_plans

from conftest import invoke

POSITIVE, NEGATIVE = ["good", "great", "lovely", "superb"], ["bad", "awful", "poor", "dire"]
DOMAINS = {"films": ["movie", "film", "plot", "actor"], "phones": ["phone", "battery", "screen", "app"]}


def _vectors(path) -> str:
    """A small word-vectors file: sentiment words on one axis, each domain's words on their own."""
    rng = np.random.default_rng(0)
    lines = []
    for words, axis in ((POSITIVE, 1.0), (NEGATIVE, -1.0)):
        lines += [f"{w} {axis:.3f} " + " ".join(f"{v:.3f}" for v in rng.normal(0, 0.3, 5)) for w in words]
    for i, words in enumerate(DOMAINS.values()):
        lines += [f"{w} 0.000 " + " ".join(f"{v:.3f}" for v in 2 * np.eye(5)[i] + rng.normal(0, 0.2, 5)) for w in words]
    path.write_text("\n".join(lines) + "\n")
    return str(path)


def _dataset(path, domain: str, names: tuple[str, str], rows: int, seed: int) -> None:
    rng = random.Random(seed)
    with open(path, "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["text", "label", "split"])
        for i in range(rows):
            positive = i % 2 == 0
            words = rng.sample(DOMAINS[domain], 2) + rng.sample(POSITIVE if positive else NEGATIVE, 1)
            writer.writerow([" ".join(words), names[0] if positive else names[1], "test" if i % 5 == 0 else "train"])


@pytest.fixture(scope="module")
def two_domains(tmp_path_factory):
    root = tmp_path_factory.mktemp("transfer")
    vectors = _vectors(root / "vectors.txt")
    _dataset(root / "films.csv", "films", ("fresh", "rotten"), 200, 1)
    _dataset(root / "phones.csv", "phones", ("positive", "negative"), 200, 2)
    workspace = root / "ws"
    for name in ("films", "phones"):
        result = invoke(workspace, "download", "--from-file", str(root / f"{name}.csv"), "--name", name,
                        "--split-column", "split")  # fmt: skip
        assert result.exit_code == 0, result.output
    for featurizer in (["-f", "glove", "-o", f"vectors={vectors}"], ["-f", "tfidf"]):
        assert invoke(workspace, "featurize", *featurizer).exit_code == 0
    return workspace


def test_transfer_run_records_both_datasets_and_the_mixed_curve(two_domains, tmp_path):
    import shutil

    workspace = shutil.copytree(two_domains, tmp_path / "ws")
    result = invoke(
        workspace, "experiment", "--train-on", "films", "--test-on", "phones", "--label-map",
        "fresh=positive,rotten=negative", "--mix", "10,40", "-m", "logreg", "--sizes", "20,80", "--splits", "2",
        "--name", "t",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "films-to-phones: skipping tfidf: tfidf learns from each dataset's own texts" in result.output
    results = pq.read_table(workspace / "results" / "t" / "results.parquet").to_pandas()
    accuracy = results[results.metric == "accuracy"]
    assert set(accuracy.dataset) == {"phones", "films-to-phones", "films-mix-phones"}
    assert set(accuracy[accuracy.dataset != "phones"].featurizer) == {"glove"}
    trained = {(d, s): json.loads(p)["train_rows"] for d, s, p in zip(accuracy.dataset, accuracy.train_size, accuracy.params)}
    assert trained[("films-to-phones", 80)] == 80
    assert trained[("films-mix-phones", 10)] == 160 + 10  # A's whole pool (160 rows) and 10 of B's
    config = json.loads((workspace / "results" / "t" / "config.json").read_text())
    record = config["datasets"]["films-to-phones"]
    assert (record["train_on"], record["test_on"], record["test_rows"], record["pool_rows"]) == ("films", "phones", 40, 160)
    assert record["label_map"] == {"fresh": "positive", "rotten": "negative"}
    # the sentiment axis is shared by both domains: training on films is enough for phones
    assert accuracy[accuracy.dataset == "films-to-phones"].value.min() > 0.9

    shown = invoke(workspace, "visualize", "--run", "t", "--no-report")
    assert shown.exit_code == 0, shown.output
    assert "transfer films -> phones" in shown.output
    assert (workspace / "results" / "t" / "transfer_accuracy.csv").exists()


@pytest.mark.parametrize(
    "label_map, message",
    [
        (None, "Error: --label-map: films label 'fresh' has no match among phones's labels (negative, positive); "
               "map it (fresh=LABEL) or drop it (fresh=)"),
        ("fresh=positive,rotten=", "Error: --label-map: phones label 'negative' has no films label mapped to it "
                                   "(films's labels: fresh, rotten); a model trained on films could never predict it"),
        ("frsh=positive", "Error: --label-map: 'frsh' is not a label of films (its labels: fresh, rotten)"),
    ],
)  # fmt: skip
def test_labels_that_cannot_be_aligned_are_one_line_errors(two_domains, label_map, message):
    args = ["experiment", "--train-on", "films", "--test-on", "phones", "-f", "glove", "--sizes", "20", "--name", "x"]
    result = invoke(two_domains, *args, *(["--label-map", label_map] if label_map else []))
    assert result.exit_code != 0
    assert result.output.strip().splitlines() == [message]
    assert not (two_domains / "results" / "x").exists()


def test_transfer_never_trains_on_b_test_rows_nor_tests_on_a_rows():
    rng = np.random.default_rng(0)
    a_labels = rng.choice(np.array(["fresh", "rotten", "plot"], dtype=object), 90)
    a_splits = np.where(np.arange(90) % 3 == 0, "test", "train").astype(object)
    b_labels = rng.choice(np.array(["positive", "negative"], dtype=object), 60)
    b_splits = np.where(np.arange(60) % 4 == 0, "test", "train").astype(object)
    config = ExperimentConfig(name="t", train_on="A", test_on="B", label_map="fresh=positive,rotten=negative,plot=")
    a, b = sides_of((a_labels, a_splits), (b_labels, b_splits), config)
    assert "plot" not in a.labels and len(a.labels) == (a_labels != "plot").sum()
    offset = len(a.labels)
    a_test = set(np.flatnonzero(a.splits == "test"))
    b_test = {offset + i for i in np.flatnonzero(b_splits == "test")}
    for official in (True, False):  # B's official test split, or a held-out one
        config.official_test = official
        for mode, sizes in ((TRANSFER, [5, 20, 40]), (MIX, [4, 10, 30])):
            for plan in transfer_plans(a, b, config, mode, [0, 1, 2]).values():
                test = set(plan.test.tolist())
                assert test and all(t >= offset for t in test), "tests on B's rows only"
                if official:
                    assert test == b_test
                for size in sizes:
                    train = set(plan.train(size).tolist())
                    assert not train & test, "never trains on the rows it tests on"
                    if official:  # A's pool is the one its in-domain run would draw from: not A's test split
                        assert not train & a_test, "never trains on A's test rows"
                    on_b = {t for t in train if t >= offset}
                    assert len(on_b) == (0 if mode == TRANSFER else size)


def test_transfer_options_go_together(two_domains):
    for args, message in (
        (["--train-on", "films"], "Error: --train-on A and --test-on B go together"),
        (["--mix", "10"], "Error: --mix applies to a transfer run only (--train-on A --test-on B)"),
        (["--train-on", "films", "--test-on", "films"], "Error: --train-on and --test-on both name 'films'"),
        (["--train-on", "../x", "--test-on", "films"], "Error: --train-on '../x': use ASCII letters"),
    ):
        result = invoke(two_domains, "experiment", "--name", "y", *args)
        assert result.exit_code != 0 and result.output.startswith(message), result.output
        assert len(result.output.strip().splitlines()) == 1


def test_side_is_a_plain_record():
    assert Side(np.array([]), np.array([]), np.array([])).kept.size == 0
