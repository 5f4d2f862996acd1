"""`enso visualize`: every figure from a real results file, inspected as matplotlib objects, and the
report rendered in headless Chromium."""

from __future__ import annotations

import dataclasses
import shutil
import subprocess

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from enso_ng.errors import EnsoError
from enso_ng.formats import RESULTS_SCHEMA, read_features
from enso_ng.visualize import learning_curves, load_results, summarize
from enso_ng.visualize.bars import bars_at_size
from enso_ng.visualize.confusion import confusion_matrix
from enso_ng.visualize.labels_needed import labels_needed
from enso_ng.visualize.projection import tsne_figure
from enso_ng.visualize.ranking import mean_ranks, rank_heatmap, win_tie_loss
from enso_ng.visualize.summary import Cell, split_values

from conftest import CORPUS, CORPUS_LABELS, CORPUS_TEST_ROWS, invoke, unavailable

SERIES = ["bert + logreg", "bert + mlp", "tfidf + logreg", "tfidf + mlp"]


def test_default_draws_the_latest_run_and_prints_a_summary(run_workspace):
    run = run_workspace / "results" / "small"
    result = invoke(run_workspace, "visualize")
    assert result.exit_code == 0, result.output
    assert result.output.startswith("run ")  # the latest run, whichever test made it
    assert "best featurizer x model per dataset and size (accuracy)" in result.output
    assert "win/tie/loss" in result.output and "labels for accuracy 0.8" in result.output
    result = invoke(run_workspace, "visualize", "--run", "small")
    assert result.exit_code == 0, result.output
    for name in (
        "learning_curves.png",
        "bars_accuracy_120.png",
        "rank_accuracy.png",
        "labels_needed_accuracy.png",
        "win_tie_loss_accuracy.csv",
        "labels_needed_accuracy.csv",
        "cost_accuracy.png",
        "cost_accuracy.csv",
        f"tsne_{CORPUS}_bert.png",
        "report.html",
    ):
        path = run / name
        assert f"wrote {path}" in result.output, name
        assert path.stat().st_size > 100, name
    # The confusion matrix of the best cell at the largest size (which model wins depends on the run).
    assert f"wrote {run}/confusion_{CORPUS}_" in result.output and "_120.png" in result.output
    assert (run / "learning_curves.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_learning_curves_are_a_grid_of_datasets_by_metrics(corpus_run):
    table = load_results(corpus_run / "results.parquet")
    fig = learning_curves({m: summarize(table, m) for m in ("accuracy", "macro_f1")}, "small")
    axes = [ax for ax in fig.axes if ax.get_visible()]
    assert [ax.get_title() for ax in axes] == [f"{CORPUS}: accuracy", f"{CORPUS}: macro_f1"]
    for ax in axes:
        assert sorted(line.get_label() for line in ax.get_lines()) == SERIES
        assert ax.get_xscale() == "log" and ax.get_xlabel() == "labelled training examples"
        assert len(ax.collections) == 4, "one confidence band per series"
    assert [t.get_text() for t in fig.legends[0].get_texts()] == SERIES, "one legend, outside the panels"


def test_bars_at_one_size(corpus_run):
    cells = summarize(load_results(corpus_run / "results.parquet"), "accuracy")
    fig = bars_at_size(cells, "accuracy", 120, "small")
    ax = fig.axes[0]
    assert len(ax.containers) == 8  # 4 series, each a bar container and an error-bar container
    heights = sorted(round(p.get_height(), 6) for p in ax.patches)
    assert heights == sorted(round(c.mean, 6) for c in cells if c.train_size == 120)
    with pytest.raises(EnsoError, match="no results at size 7"):
        bars_at_size(cells, "accuracy", 7, "small")


def _cell(dataset, featurizer, size, mean):
    return Cell(dataset, featurizer, "logreg", size, 3, mean, 0.01, mean - 0.01, mean + 0.01)


def test_mean_ranks_and_heat_map():
    cells = [
        _cell("a", "good", 50, 0.9),
        _cell("a", "bad", 50, 0.5),
        _cell("b", "good", 50, 0.6),
        _cell("b", "bad", 50, 0.7),
        _cell("a", "good", 100, 0.9),
        _cell("a", "bad", 100, 0.8),
        _cell("b", "good", 100, 0.9),
        _cell("b", "bad", 100, 0.8),
    ]
    series, sizes, ranks = mean_ranks(cells, "accuracy")
    assert series == [("bad", "logreg"), ("good", "logreg")] and sizes == [50, 100]
    assert ranks.tolist() == [[1.5, 2.0], [1.5, 1.0]]
    fig = rank_heatmap(cells, "accuracy", "toy")
    assert np.array_equal(fig.axes[0].images[0].get_array(), ranks)
    # For a loss, lower is better: the ranks flip.
    losses = [dataclasses.replace(c, higher_is_better=False) for c in cells]  # as config.json declares log_loss
    assert mean_ranks(losses, "log_loss")[2].tolist() == [[1.5, 1.0], [1.5, 2.0]]


def test_win_tie_loss_uses_a_paired_test():
    consistent = {
        ("d", 50): {
            ("a", "m"): {0: 0.80, 1: 0.71, 2: 0.90},
            ("b", "m"): {0: 0.78, 1: 0.70, 2: 0.88},
            ("c", "m"): {0: 0.95, 1: 0.40, 2: 0.79},
        }
    }
    records = {r.series: (r.wins, r.ties, r.losses) for r in win_tie_loss(consistent, "accuracy")}
    # a beats b on every seed (a paired difference the t-test sees, though the means are 0.02 apart);
    # c's seeds scatter widely: ties with both.
    assert records[("a", "m")] == (1, 1, 0)
    assert records[("b", "m")] == (0, 1, 1)
    assert records[("c", "m")] == (0, 2, 0)


def test_confidence_interval_against_a_hand_computed_value():
    """Three seeds at 0.80, 0.71, 0.90: mean 0.80333..., sample std 0.095044, t(0.975, df 2) = 4.302653,
    half-width 4.302653 x 0.095044 / sqrt(3) = 0.236102 (worked by hand, not with the code under test)."""
    rows = [
        {
            "dataset": "d",
            "featurizer": "f",
            "model": "m",
            "train_size": 50,
            "split": s,
            "metric": "accuracy",
            "value": v,
            "fit_seconds": 0.1,
            "predict_seconds": 0.1,
            "params": "{}",
        }
        for s, v in enumerate([0.80, 0.71, 0.90])
    ]
    (cell,) = summarize(pa.Table.from_pylist(rows, schema=RESULTS_SCHEMA), "accuracy")
    assert cell.n == 3 and cell.mean == pytest.approx(0.803333, abs=1e-6)
    assert cell.std == pytest.approx(0.095044, abs=1e-6)
    assert cell.ci_low == pytest.approx(0.803333 - 0.236102, abs=1e-5)
    assert cell.ci_high == pytest.approx(0.803333 + 0.236102, abs=1e-5)


def test_win_tie_loss_on_the_real_run(corpus_run):
    records = win_tie_loss(split_values(load_results(corpus_run / "results.parquet"), "accuracy"), "accuracy")
    assert len(records) == 4
    assert all(r.wins + r.ties + r.losses == 3 * 2 for r in records)  # 3 rivals x 2 sizes
    assert sum(r.wins for r in records) == sum(r.losses for r in records)


def test_labels_needed_interpolates_in_log_size():
    cells = [
        _cell("d", "f", 100, 0.6),
        _cell("d", "f", 400, 0.9),
        _cell("d", "g", 100, 0.85),
        _cell("d", "h", 100, 0.5),
        _cell("d", "h", 400, 0.7),
    ]
    needed = {r.series[0]: r.size for r in labels_needed(cells, "accuracy", 0.75)}
    assert needed["f"] == pytest.approx(200.0)  # halfway in log between 100 and 400
    assert needed["g"] == 100.0 and needed["h"] is None


def test_tsne_map_colours_each_label(corpus_workspace):
    feats = read_features(corpus_workspace / "features" / CORPUS / "bert.parquet")
    fig = tsne_figure(feats, CORPUS, max_points=300)
    ax = fig.axes[0]
    assert len(ax.collections) == len(CORPUS_LABELS)
    assert sum(len(c.get_offsets()) for c in ax.collections) == 300
    assert sorted(t.get_text() for t in ax.get_legend().get_texts()) == sorted(set(feats.labels))


def test_confusion_matrix_counts_every_test_row(corpus_run):
    labels, matrix = confusion_matrix(pq.read_table(corpus_run / "confusion.parquet"), CORPUS, "bert", "logreg", 120)
    assert labels == CORPUS_LABELS
    assert matrix.sum() == CORPUS_TEST_ROWS * 2  # the official test set, in each of two splits
    accuracy = np.trace(matrix) / matrix.sum()
    results = pq.read_table(corpus_run / "results.parquet").to_pylist()
    mean = np.mean(
        [
            r["value"]
            for r in results
            if (r["featurizer"], r["model"], r["train_size"], r["metric"]) == ("bert", "logreg", 120, "accuracy")
        ]
    )
    assert accuracy == pytest.approx(mean)


def test_filters_and_formats(run_workspace):
    run = run_workspace / "results" / "small"
    result = invoke(
        run_workspace,
        "visualize",
        "--run",
        "small",
        "--models",
        "logreg",
        "--featurizers",
        "bert",
        "--metric",
        "macro_f1",
        "--format",
        "svg",
        "--no-tsne",
        "--threshold",
        "0.5",
    )
    assert result.exit_code == 0, result.output
    assert "tfidf" not in result.output.split("wrote")[0] and "mlp" not in result.output.split("wrote")[0]
    assert (run / "learning_curves.svg").read_text().lstrip().startswith("<?xml")
    assert (run / "bars_macro_f1_120.svg").exists()


@pytest.mark.parametrize(
    "args, message",
    [
        (("--run", "small", "--metric", "rouge"), "metric 'rouge' is not in these results"),
        (("--run", "ghost"), "no run 'ghost'"),
        (("--run", "small", "--datasets", "imdb"), "no dataset 'imdb' in these results"),
        (("--run", "small", "--confusion", "tweets:bert:logreg"), "expected DATASET:FEATURIZER:MODEL:SIZE"),
        (
            ("--run", "small", "--confusion", "tweets:bert:logreg:999", "--no-tsne"),
            "no confusion counts for tweets bert logreg at size 999",
        ),
    ],
)
def test_bad_requests_are_one_line_errors(run_workspace, args, message):
    result = invoke(run_workspace, "visualize", *args)
    assert result.exit_code == 1
    assert message in result.output and len(result.output.strip().splitlines()) == 1


def test_no_runs_and_empty_results(tmp_path):
    result = invoke(tmp_path, "visualize")
    assert result.exit_code == 1 and "no runs in" in result.output
    empty = tmp_path / "results" / "empty"
    empty.mkdir(parents=True)
    pq.write_table(pa.Table.from_pylist([], schema=RESULTS_SCHEMA), empty / "results.parquet")
    (empty / "config.json").write_text("{}")
    result = invoke(tmp_path, "visualize", "--run", "empty")
    assert result.exit_code == 1 and "no results in this run" in result.output


def _chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")


def test_report_renders_in_headless_chromium(run_workspace, tmp_path):
    run = run_workspace / "results" / "small"
    browser = _chromium()
    if browser is None:
        unavailable(
            "needs chromium to render report.html (Debian: apt-get install chromium chromium-driver; "
            ".ci/run installs it)"
        )
    result = invoke(run_workspace, "visualize", "--run", "small")
    assert result.exit_code == 0, result.output
    page = (run / "report.html").as_uri()
    html = (run / "report.html").read_text()
    assert "http://" not in html and "https://" not in html, "self-contained: nothing to fetch"
    flags = [
        browser,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--enable-logging=stderr",
        "--log-level=0",
        "--virtual-time-budget=10000",
    ]
    dom = subprocess.run([*flags, "--dump-dom", page], capture_output=True, text=True, timeout=120)
    assert 'data-report-ready="yes"' in dom.stdout, dom.stderr[-2000:]
    # learning curves, bars, ranks, labels needed, cost chart, t-SNE, confusion matrix
    assert 'data-images="7/7"' in dom.stdout, "every embedded image decoded"
    assert "CONSOLE" not in dom.stderr, [line for line in dom.stderr.splitlines() if "CONSOLE" in line]
    shot = tmp_path / "report.png"
    subprocess.run([*flags, "--window-size=1200,1600", f"--screenshot={shot}", page], capture_output=True, timeout=120)
    import matplotlib.image

    pixels = matplotlib.image.imread(shot)[..., :3]
    assert pixels.shape[:2] == (1600, 1200)
    assert pixels.std() > 0.05, "not a blank page"
    assert (pixels.mean(axis=2) < 0.5).mean() > 0.005, "text and plots drawn"


def test_pareto_front_of_cost_and_accuracy():
    from enso_ng.visualize.cost import cost_accuracy, cost_points

    cells = [
        _cell("a", "cheap", 50, 0.70),
        _cell("a", "dear", 50, 0.90),
        _cell("a", "waste", 50, 0.60),
        _cell("a", "tie", 50, 0.70),
    ]
    costs = {
        ("a", "cheap", "logreg", 50): (0.05, 0.1),
        ("a", "dear", "logreg", 50): (6.0, 0.2),
        ("a", "waste", "logreg", 50): (8.0, 0.3),
        ("a", "tie", "logreg", 50): (0.09, 0.1),
    }
    front = {p.cell.featurizer: p.pareto for p in cost_points(cells, costs)}
    # waste is dearer and worse than dear; tie scores like cheap at a higher cost
    assert front == {"cheap": True, "dear": True, "waste": False, "tie": False}
    losses = [dataclasses.replace(c, higher_is_better=False) for c in cells]  # for a loss, lower wins
    front = {p.cell.featurizer: p.pareto for p in cost_points(losses, costs)}
    assert front == {"cheap": True, "dear": False, "waste": True, "tie": False}  # the lowest loss, dearest
    fig = cost_accuracy(cost_points(cells, costs), "accuracy", "toy")
    assert fig.axes[0].get_xscale() == "log" and len(fig.axes[0].lines) >= 1, "the front is drawn as a line"
