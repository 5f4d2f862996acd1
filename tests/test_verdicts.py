"""The verdicts: sentences checked against numbers worked out by hand from constructed results files
(a clear winner, a tie, a threshold never reached, a light model that trails), read through the same code
as a real run's, and through `enso visualize` itself."""

from __future__ import annotations

import html
import re

import numpy as np

from enso_ng.formats import RunRecord
from enso_ng.visualize.summary import load_results, split_values, summarize
from enso_ng.visualize.verdicts import verdicts

from conftest import invoke, write_run

B50 = [0.70, 0.71, 0.69, 0.72, 0.70]
B100 = [0.76, 0.75, 0.77, 0.76, 0.75]


def _plus(base: list[float], extra: list[float]) -> list[float]:
    return [round(b + e, 6) for b, e in zip(base, extra)]


def _leading(at_100: list[float]) -> dict:
    """a leads b by 5 to 6 points on every seed at 50 labels; at 100 labels a - b is ``at_100`` per seed."""
    return {
        ("d", "a", "logreg", 50): _plus(B50, [0.05, 0.06, 0.05, 0.055, 0.055]),
        ("d", "b", "logreg", 50): B50,
        ("d", "a", "logreg", 100): _plus(B100, at_100),
        ("d", "b", "logreg", 100): B100,
    }


def _answers(tmp_path, values, threshold=0.8, strategies=None):
    run = write_run(tmp_path, "made", values, strategies)
    table = load_results(run / "results.parquet")
    record = RunRecord.read(run)
    return verdicts(summarize(table, "accuracy"), split_values(table, "accuracy"), record, "accuracy", threshold)


def test_a_clear_winner_is_named_with_its_paired_test(tmp_path):
    """a - b at 100 labels: 0.08, 0.09, 0.08, 0.085, 0.085: mean 0.084 (8.4 points), sample sd 0.0041833,
    t = 0.084 / (0.0041833 / sqrt 5) = 44.9 on 4 df, p far below 0.001; at 50 labels a leads on every seed too."""
    (d,) = _answers(tmp_path, _leading([0.08, 0.09, 0.08, 0.085, 0.085])).datasets
    assert d.which == (
        "a + logreg is best at every size (50 to 100 labels); at 100 labels it is ahead of b + logreg by "
        "8.4 points (paired t-test, p < 0.001, 5 splits). The leader is significantly ahead of the runner-up "
        "at 2 of 2 sizes."
    )


def test_a_tie_is_said_as_a_tie(tmp_path):
    """a - b at 100 labels: 0.02, -0.01, 0.015, -0.02, 0.005: mean 0.002, sd 0.016808, t = 0.266 on 4 df,
    two-sided p = 0.80: a leads on the means, but not significantly."""
    (d,) = _answers(tmp_path, _leading([0.02, -0.01, 0.015, -0.02, 0.005])).datasets
    assert d.which == (
        "a + logreg is best at every size (50 to 100 labels); at 100 labels it is tied with b + logreg: "
        "0.2 points ahead, not significant (paired t-test, p = 0.80, 5 splits). The leader is significantly "
        "ahead of the runner-up at 1 of 2 sizes."
    )


def test_a_change_of_leader_with_the_budget_is_said(tmp_path):
    values = {
        ("d", "a", "logreg", 50): _plus(B50, [0.05, 0.06, 0.05, 0.055, 0.055]),
        ("d", "b", "logreg", 50): B50,
        ("d", "a", "logreg", 100): B100,
        ("d", "b", "logreg", 100): _plus(B100, [0.08, 0.09, 0.08, 0.085, 0.085]),
    }
    (d,) = _answers(tmp_path, values).datasets
    assert d.which.startswith(
        "The best changes with the budget: a + logreg at 50 labels, b + logreg at 100 labels; at 100 labels "
        "b + logreg is ahead of a + logreg by 8.4 points"
    )


A50, A100 = [0.79, 0.81, 0.80, 0.80, 0.80], [0.84, 0.86, 0.85, 0.85, 0.85]  # means 0.80 and 0.85


def test_a_threshold_never_reached_gives_the_value_reached_and_the_last_doubling(tmp_path):
    values = {
        ("d", "a", "logreg", 50): A50,
        ("d", "a", "logreg", 100): A100,
        ("d", "b", "logreg", 50): B50,
        ("d", "b", "logreg", 100): B100,
    }
    (d,) = _answers(tmp_path, values, threshold=0.9).datasets
    assert d.labels == [
        "No featurizer + model reaches accuracy 0.9 by the largest size (100 labels); the closest is "
        "a + logreg at 0.850.",
        # 0.80 -> 0.85 over one doubling; b: 0.704 -> 0.758
        "a + logreg: not reached by the largest size (100 labels: 0.850); from 50 to 100 it gained "
        "+5.0 points per doubling.",
        "b + logreg: not reached by the largest size (100 labels: 0.758); from 50 to 100 it gained "
        "+5.4 points per doubling.",
    ]


def test_labels_needed_is_interpolated_in_log_size(tmp_path):
    """0.825 is halfway from 0.80 (50) to 0.85 (100): in log(size), sqrt(50 x 100) = 70.7, so about 71."""
    values = {("d", "a", "logreg", 50): A50, ("d", "a", "logreg", 100): A100}
    (d,) = _answers(tmp_path, values, threshold=0.825).datasets
    assert d.labels[0] == "a + logreg reaches accuracy 0.825 with the fewest labels: about 71 labels."
    assert d.which == "Only a + logreg was run: there is nothing to compare it with."


def test_a_light_model_that_trails_a_fine_tuned_one_is_not_enough(tmp_path):
    """finetune - logreg: 0.03, 0.04, 0.03, 0.035, 0.035: mean 0.034, sd 0.0041833, half-width
    t(0.975, 4) 2.776445 x 0.0041833 / sqrt 5 = 0.0052, so 95% CI [0.0288, 0.0392]; t = 18.2, p < 0.001."""
    values = {
        ("d", "bert", "logreg", 100): B100,
        ("d", "tfidf", "logreg", 100): [v - 0.1 for v in B100],
        ("d", "bert_tokens", "finetune", 100): _plus(B100, [0.03, 0.04, 0.03, 0.035, 0.035]),
    }
    (d,) = _answers(tmp_path, values, strategies={"finetune": "fine-tuned"}).datasets
    assert d.light == (
        "No, not at 100 labels: the best light model, bert + logreg, trails bert_tokens + finetune (fine-tuned) "
        "by 3.4 points (95% CI [+2.9, +3.9] for the gap, paired t-test, p < 0.001, 5 splits)."
    )
    tied = {**values, ("d", "bert_tokens", "finetune", 100): _plus(B100, [0.02, -0.01, 0.015, -0.02, 0.005])}
    (d,) = _answers(tmp_path, tied, strategies={"finetune": "fine-tuned"}).datasets
    assert d.light.startswith("Yes, as far as this run can tell: at 100 labels the best light model, bert + logreg,")
    assert "0.2 points behind, not significant (95% CI [" in d.light and "] for its lead" in d.light
    ahead = {**values, ("d", "bert_tokens", "finetune", 100): _plus(B100, [-0.03, -0.04, -0.03, -0.035, -0.035])}
    (d,) = _answers(tmp_path, ahead, strategies={"finetune": "fine-tuned"}).datasets
    assert d.light == (
        "Yes: at 100 labels the best light model, bert + logreg, is ahead of bert_tokens + finetune (fine-tuned) "
        "by 3.4 points (95% CI [+2.9, +3.9] for its lead, paired t-test, p < 0.001, 5 splits)."
    )


def test_a_run_of_light_models_only_says_the_gap_was_not_measured(tmp_path):
    (d,) = _answers(tmp_path, {("d", "a", "logreg", 50): A50, ("d", "b", "mlp", 50): B50}).datasets
    assert d.light.startswith("Not measured: every model in this run is a light model on frozen features")


def test_the_ranking_across_datasets_counts_mean_ranks_and_wins(tmp_path):
    """d1: a > b > c; d2: b > a > c (at each one's largest size): a and b rank 1.5 on average and win one
    dataset each, c ranks 3 and wins none; a small size where c leads does not count."""
    values = {
        ("d1", "a", "logreg", 100): [0.9] * 3,
        ("d1", "b", "logreg", 100): [0.8] * 3,
        ("d1", "c", "logreg", 100): [0.7] * 3,
        ("d2", "a", "logreg", 100): [0.8] * 3,
        ("d2", "b", "logreg", 100): [0.9] * 3,
        ("d2", "c", "logreg", 100): [0.7] * 3,
        ("d2", "c", "logreg", 50): [0.95] * 3,
        ("d2", "a", "logreg", 50): [0.5] * 3,
        ("d2", "b", "logreg", 50): [0.5] * 3,
    }
    overall = _answers(tmp_path, values).overall
    assert [(r.series[0], r.mean_rank, r.wins, r.datasets) for r in overall] == [
        ("a", 1.5, 1, 2),
        ("b", 1.5, 1, 2),
        ("c", 3.0, 0, 2),
    ]


def test_visualize_prints_the_verdicts_first_and_puts_them_at_the_top_of_the_report(tmp_path):
    rng = np.random.default_rng(0)
    values = {
        **_leading([0.08, 0.09, 0.08, 0.085, 0.085]),
        ("e", "a", "logreg", 100): list(rng.uniform(0.6, 0.7, 5)),
        ("e", "b", "logreg", 100): list(rng.uniform(0.6, 0.7, 5)),
    }
    write_run(tmp_path, "made", values)
    result = invoke(tmp_path, "visualize", "--run", "made", "--no-tsne", "--threshold", "0.9")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[:3] == [
        "run made",
        "verdicts (accuracy; paired t-tests across split seeds, alpha 0.05):",
        "d:",
    ]
    sentence = "at 100 labels it is ahead of b + logreg by 8.4 points (paired t-test, p < 0.001, 5 splits)"
    assert sentence in lines[3]
    assert result.output.index("verdicts") < result.output.index("best featurizer x model per dataset")
    page = (tmp_path / "results" / "made" / "report.html").read_text()
    assert page.index('<section id="verdicts">') < page.index("<figure")
    text = html.unescape(re.sub(r"<[^>]+>", "", page))  # the page's text, without its markup (swatches, ...)
    assert sentence in text and 'data-dataset="e"' in page


def test_a_loss_metric_ranks_the_lowest_first(tmp_path):
    """log-loss: lower is better, so the pair with the lower mean is the one named best."""
    run = write_run(tmp_path, "loss", {("d", "a", "logreg", 50): [0.3] * 3, ("d", "b", "logreg", 50): [0.5] * 3})
    record = RunRecord.read(run)
    record.metrics = {"accuracy": {"higher_is_better": False}}
    table = load_results(run / "results.parquet")
    cells = summarize(table, "accuracy", record.higher_is_better("accuracy"))
    (d,) = verdicts(cells, split_values(table, "accuracy"), record, "accuracy", 0.4).datasets
    assert d.which.startswith("a + logreg is best at every size")
    assert d.labels[0] == "a + logreg reaches accuracy 0.4 with the fewest labels: about 50 labels."


def test_sizes_where_only_one_pair_ran_have_no_runner_up(tmp_path):
    """b ran only at 50: the comparison is made at 50, the largest size two pairs share."""
    values = {
        ("d", "a", "logreg", 50): _plus(B50, [0.05, 0.06, 0.05, 0.055, 0.055]),
        ("d", "b", "logreg", 50): B50,
        ("d", "a", "logreg", 100): B100,
    }
    (d,) = _answers(tmp_path, values).datasets
    assert "at 50 labels it is ahead of b + logreg by 5.4 points" in d.which
    assert d.which.endswith("significantly ahead of the runner-up at 1 of 1 sizes.")
    apart = {("d", "a", "logreg", 50): B50, ("d", "b", "logreg", 100): B100}
    (d,) = _answers(tmp_path, apart).datasets
    assert d.which.endswith("; no size has two pairs to compare.")


def test_the_gain_of_the_last_step_is_said_per_doubling_of_labels(tmp_path):
    """0.80 at 100 labels, 0.90 at 400: two doublings for 10 points, so +5.0 points per doubling."""
    values = {("d", "a", "logreg", 100): A50, ("d", "a", "logreg", 400): [v + 0.1 for v in A50]}
    (d,) = _answers(tmp_path, values, threshold=0.95).datasets
    assert d.labels[1] == (
        "a + logreg: not reached by the largest size (400 labels: 0.900); from 100 to 400 it gained "
        "+5.0 points per doubling."
    )


# ---------------------------------------------------------------- labels needed: a target the run can reach


def _quickstart_like() -> dict:
    """Every pair stays below 0.8 (as on the quickstart); a tops out at 0.74 at 400 labels."""
    return {
        ("d", "a", "logreg", 100): [0.62, 0.63, 0.61],
        ("d", "a", "logreg", 400): [0.74, 0.73, 0.75],
        ("d", "b", "logreg", 100): [0.58, 0.57, 0.59],
        ("d", "b", "logreg", 400): [0.70, 0.71, 0.69],
    }


def test_without_threshold_the_target_is_95_percent_of_the_best_score(tmp_path):
    """Best mean 0.74 (a at 400): target 0.95 x 0.74 = 0.703. a crosses it between 100 (0.62) and 400 (0.74)
    at exp(log 100 + (0.703 - 0.62) / (0.74 - 0.62) x log 4) = 260.9 labels; b reaches 0.70 < 0.703: not."""
    (d,) = _answers(tmp_path, _quickstart_like(), threshold=None).datasets
    assert d.labels[0] == (
        "a + logreg reaches accuracy 0.703 (95% of the best, 0.740) with the fewest labels: about 261 labels."
    ), d.labels
    assert d.labels[2].startswith("b + logreg: not reached by the largest size (400 labels: 0.700)"), d.labels


def test_visualize_default_target_is_reached_by_someone(tmp_path):
    write_run(tmp_path, "made", _quickstart_like())
    result = invoke(tmp_path, "visualize", "--run", "made", "--no-tsne")
    assert result.exit_code == 0, result.output
    assert "reaches accuracy 0.703 (95% of the best, 0.740)" in result.output, result.output
    rows = (tmp_path / "results" / "made" / "labels_needed_accuracy.csv").read_text().splitlines()
    assert rows[0] == "dataset,featurizer,model,target,labels_needed,largest_tried"
    assert rows[1].startswith("d,a,logreg,0.703,260.9,400"), rows
    assert rows[2] == "d,b,logreg,0.703,,400", rows
    explicit = invoke(tmp_path, "visualize", "--run", "made", "--no-tsne", "--threshold", "0.8")
    assert "No featurizer + model reaches accuracy 0.8 by the largest size" in explicit.output
