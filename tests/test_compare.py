"""`enso visualize --run A --run B`: the second run against the first, paired where the splits match."""

from __future__ import annotations

import csv

import pytest

from conftest import invoke, write_run

BEFORE = [0.70, 0.71, 0.69, 0.72, 0.70]
#: after - before on each seed: mean 0.034, sd 0.0041833, 95% CI [0.0288, 0.0392] (see test_verdicts)
GAIN = [0.03, 0.04, 0.03, 0.035, 0.035]
AFTER = [round(b + g, 6) for b, g in zip(BEFORE, GAIN)]


def _rows(path):
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


def test_runs_with_the_same_splits_are_compared_seed_by_seed(tmp_path):
    write_run(tmp_path, "before", {("d", "bert", "logreg", 100): BEFORE, ("d", "tfidf", "logreg", 100): BEFORE})
    write_run(
        tmp_path,
        "after",
        {
            ("d", "bert", "logreg", 100): AFTER,
            ("d", "tfidf", "logreg", 100): BEFORE,
            ("other", "bert", "logreg", 100): BEFORE,  # not in the first run: not compared
        },
    )
    result = invoke(tmp_path, "visualize", "--run", "before", "--run", "after")
    assert result.exit_code == 0, result.output
    assert result.output.startswith("runs before and after\nafter against before (accuracy; after - before):\n")
    assert (
        "d: after is better than before in 1 of 2 cells, worse in 0, not significantly different in 1" in result.output
    )
    run = tmp_path / "results" / "after"
    rows = {r["featurizer + model"]: r for r in _rows(run / "compare_before.csv")}
    assert set(rows) == {"bert + logreg", "tfidf + logreg"}
    bert = rows["bert + logreg"]
    # Welch's test on the same numbers would not be significant (the seeds spread more than the gain);
    # paired, the gain is the same sign on every seed.
    assert (bert["before"], bert["after"], bert["after - before"]) == ("0.704", "0.738", "+0.034")
    assert bert["95% CI"] == "[+0.029, +0.039]" and bert["p"] == "< 0.001" and bert["test"] == "paired, 5 splits"
    assert rows["tfidf + logreg"]["after - before"] == "+0.000"
    for name in ("compare_before.png", "compare_before.html"):
        assert f"wrote {run / name}" in result.output
    page = (run / "compare_before.html").read_text()
    assert "Configuration of before" in page and "Configuration of after" in page
    assert page.count('<g id="pt-') == 4, "a hover target per point: 2 pairs x 1 size x 2 runs"


def test_a_run_with_fewer_seeds_is_compared_on_the_seeds_both_hold(tmp_path):
    # the first run has 5 seeds, the second the first 3: the table's means are over seeds 0-2 on both
    # sides, so "before", "after" and "after - before" agree with each other
    write_run(tmp_path, "before", {("d", "bert", "logreg", 100): BEFORE})
    write_run(tmp_path, "after", {("d", "bert", "logreg", 100): BEFORE[:3]}, seeds=[0, 1, 2])
    result = invoke(tmp_path, "visualize", "--run", "before", "--run", "after", "--no-report")
    assert result.exit_code == 0, result.output
    (row,) = _rows(tmp_path / "results" / "after" / "compare_before.csv")
    assert (row["before"], row["after"], row["after - before"]) == ("0.700", "0.700", "+0.000")
    assert row["test"] == "paired, 3 splits in common"


def test_runs_with_other_split_seeds_are_compared_as_independent_samples(tmp_path):
    write_run(tmp_path, "before", {("d", "bert", "logreg", 100): BEFORE})
    write_run(tmp_path, "after", {("d", "bert", "logreg", 100): AFTER}, config={"seed": 10}, seeds=[10, 11, 12, 13, 14])
    result = invoke(tmp_path, "visualize", "--run", "before", "--run", "after", "--no-report")
    assert result.exit_code == 0, result.output
    (row,) = _rows(tmp_path / "results" / "after" / "compare_before.csv")
    assert row["test"] == "unpaired (Welch; seed 0 vs 10)"
    # Welch: means 0.738 and 0.704, sds 0.014405 and 0.011402: se sqrt(0.0144^2/5 + 0.0114^2/5) = 0.0082158,
    # t = 4.14 on 7.6 df (Welch-Satterthwaite), two-sided p = 0.0037
    assert row["after - before"] == "+0.034" and row["p"] == "0.004"
    assert "not" not in result.output.split("\n")[2].split("better")[0]


def test_a_changed_test_set_is_not_paired(tmp_path):
    write_run(tmp_path, "before", {("d", "bert", "logreg", 100): BEFORE})
    write_run(tmp_path, "after", {("d", "bert", "logreg", 100): AFTER}, config={"test_size": 0.3})
    result = invoke(tmp_path, "visualize", "--run", "before", "--run", "after", "--no-report")
    assert result.exit_code == 0, result.output
    (row,) = _rows(tmp_path / "results" / "after" / "compare_before.csv")
    assert row["test"] == "unpaired (Welch; test_size 0.2 vs 0.3)"


def test_values_are_paired_by_seed_not_by_position(tmp_path):
    """The second run lacks seeds 1 and 3: its seeds 0, 2, 4 meet the first run's seeds 0, 2, 4. Gains on
    those seeds 0.03, 0.03, 0.035: mean 0.031667, sample sd 0.0028868, half-width 4.302653 x 0.0028868 /
    sqrt 3 = 0.0071711, so [+0.024, +0.039]; before 0.697 and after 0.728 on those seeds. (Paired by
    position, seeds 0, 2, 4 of the second run would meet seeds 0, 1, 2 of the first: +0.028.)"""
    write_run(tmp_path, "before", {("d", "bert", "logreg", 100): BEFORE})
    kept = [0, 2, 4]
    write_run(tmp_path, "after", {("d", "bert", "logreg", 100): [AFTER[s] for s in kept]}, seeds=kept)
    result = invoke(tmp_path, "visualize", "--run", "before", "--run", "after", "--no-report")
    assert result.exit_code == 0, result.output
    (row,) = _rows(tmp_path / "results" / "after" / "compare_before.csv")
    assert (row["before"], row["after"], row["after - before"]) == ("0.697", "0.728", "+0.032")
    assert row["95% CI"] == "[+0.024, +0.039]" and row["test"] == "paired, 3 splits in common"


@pytest.mark.parametrize(
    "config, why",
    [
        ({"sampler": "natural"}, "sampler stratified vs natural"),
        ({"official_test": False}, "official_test True vs False"),
    ],
)
def test_another_sampler_or_test_set_choice_is_not_paired(tmp_path, config, why):
    """Another sampler draws other training rows, another official-test choice another test set: the same
    seed numbers no longer mean the same rows."""
    write_run(tmp_path, "before", {("d", "bert", "logreg", 100): BEFORE})
    write_run(tmp_path, "after", {("d", "bert", "logreg", 100): AFTER}, config=config)
    result = invoke(tmp_path, "visualize", "--run", "before", "--run", "after", "--no-report")
    assert result.exit_code == 0, result.output
    (row,) = _rows(tmp_path / "results" / "after" / "compare_before.csv")
    assert row["test"] == f"unpaired (Welch; {why})"


def test_runs_that_share_no_dataset_or_too_many_runs_are_one_line_errors(tmp_path):
    write_run(tmp_path, "one", {("d", "bert", "logreg", 100): BEFORE})
    write_run(tmp_path, "two", {("e", "bert", "logreg", 100): BEFORE})
    write_run(tmp_path, "three", {("e", "bert", "logreg", 100): BEFORE})
    for args, message in (
        (("--run", "one", "--run", "two"), "runs 'one' and 'two' share no dataset (d vs e)"),
        (("--run", "one", "--run", "two", "--run", "three"), "--run given 3 times"),
        (("--run", "one", "--compare", "ghost"), "no run 'ghost'"),
    ):
        result = invoke(tmp_path, "visualize", *args)
        assert result.exit_code == 1, result.output
        assert message in result.output and len(result.output.strip().splitlines()) == 1
    assert not list((tmp_path / "results" / "two").glob("compare_*")), "nothing written on an error"
