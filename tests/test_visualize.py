"""`enso visualize`: every figure from a real results file, inspected as matplotlib objects, and the
report rendered in headless Chromium."""

from __future__ import annotations

import csv
import dataclasses
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import Result

from enso_ng.errors import EnsoError
from enso_ng.formats import RESULTS_SCHEMA, read_features
from enso_ng.visualize import learning_curves, load_results, summarize
from enso_ng.visualize.bars import bars_at_size
from enso_ng.visualize.confusion import confusion_matrix
from enso_ng.visualize.labels_needed import labels_needed
from enso_ng.visualize.projection import tsne_figure
from enso_ng.visualize.ranking import mean_ranks, paired_test, rank_heatmap, win_tie_loss
from enso_ng.visualize.summary import Cell, split_values

from conftest import CORPUS, CORPUS_LABELS, CORPUS_TEST_ROWS, _read_only, invoke, unavailable

SERIES = ["bert + logreg", "bert + mlp", "tfidf + logreg", "tfidf + mlp"]


@pytest.fixture(scope="module")
def _drawn(_run, tmp_path_factory) -> tuple[Path, Result]:
    import os

    workspace = Path(shutil.copytree(_run, tmp_path_factory.mktemp("drawn") / "ws"))
    run = workspace / "results" / "small"
    older = Path(shutil.copytree(run, workspace / "results" / "zz-older"))
    then = (run / "config.json").stat().st_mtime - 86400
    os.utime(older / "config.json", (then, then))
    return workspace, invoke(workspace, "visualize")


@pytest.fixture
def drawn(_drawn) -> Iterator[tuple[Path, Result]]:
    """Read-only: a copy of the corpus run's workspace, beside a copy of the run named ``zz-older`` whose config
    is a day older, and the output of a plain ``enso visualize`` in it. A full report (t-SNE included) costs
    tens of seconds, so it is drawn once for the tests that read it (its summary, figures, browser rendering)."""
    with _read_only(_drawn[0]):
        yield _drawn


def test_default_draws_the_latest_run_and_prints_a_summary(drawn):
    """Without --run, the run whose config was written last (not the last name): here ``small``, beside a copy
    of it named ``zz-older`` whose config is a day older. The summary names each size's best pair, checked
    against means worked out from the results file."""
    run_workspace, result = drawn
    run, older = run_workspace / "results" / "small", run_workspace / "results" / "zz-older"
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[0].split()[:2] == ["run", "small"], result.output[:200]
    assert "best featurizer x model per dataset and size (accuracy)" in result.output
    assert "win/tie/loss" in result.output and "labels for 95% of the best accuracy" in result.output
    rows = [r for r in pq.read_table(run / "results.parquet").to_pylist() if r["metric"] == "accuracy"]
    for size in (30, 120):
        means = {}
        for r in rows:
            if r["train_size"] == size:
                means.setdefault((r["featurizer"], r["model"]), []).append(r["value"])
        best = max(means, key=lambda k: np.mean(means[k]))
        printed = [x.split() for x in result.output.splitlines() if x.startswith(CORPUS) and f" {size} " in f" {x} "]
        assert printed and printed[0][:4] == [CORPUS, *best, str(size)], (size, best, result.output)
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
    assert not [p for p in older.iterdir() if p.suffix in (".png", ".html")], "the older run is not drawn"
    # the confusion matrix is the best cell's at the largest size (``best``: that of size 120, above)
    assert f"wrote {run}/confusion_{CORPUS}_{best[0]}_{best[1]}_120.png" in result.output
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
    assert cell.ci_high == 1.0  # 0.803333 + 0.236102 = 1.039, clipped: accuracy cannot pass 1


def test_paired_interval_and_p_value_against_hand_computed_values():
    """Differences 0.01, 0.02, 0.03 on seeds 0-2: mean 0.02, sample sd 0.01, se 0.01 / sqrt 3; the 95%
    half-width is t(0.975, 2 df) = 4.302653 times that, 0.0248414; t = 2 sqrt 3 and with 2 df the two-sided
    p has the closed form 1 - t / sqrt(t^2 + 2) = 1 - sqrt(12 / 14) = 0.0741799 (not significant: a tie).
    A seed only one side holds is left out."""
    a = {0: 0.71, 1: 0.82, 2: 0.63, 3: 0.99}
    b = {0: 0.70, 1: 0.80, 2: 0.60, 7: 0.10}
    test = paired_test(a, b)
    assert test.seeds == 3 and test.difference == pytest.approx(0.02, abs=1e-12)
    assert test.ci_low == pytest.approx(0.02 - 0.0248414, abs=1e-6)
    assert test.ci_high == pytest.approx(0.02 + 0.0248414, abs=1e-6)
    assert test.p_value == pytest.approx(1 - np.sqrt(12 / 14), abs=1e-6) and test.outcome == 1
    # the same differences in a loss metric: the interval is in the metric's units, the outcome flips sides
    assert paired_test(a, b, higher_is_better=False).ci_low == pytest.approx(test.ci_low, abs=1e-12)


def test_win_tie_loss_on_the_real_run(corpus_run):
    """Every pair of the real run at every size, counted against scipy's paired t-test on the seeds read
    straight from the results file (an implementation that shares nothing with ``paired_test``)."""
    from scipy import stats

    rows = pq.read_table(corpus_run / "results.parquet").to_pylist()
    value = {
        (r["featurizer"], r["model"], r["train_size"], r["split"]): r["value"] for r in rows if r["metric"] == "accuracy"
    }
    series = sorted({(f, m) for f, m, _, _ in value})
    expected = {s: [0, 0, 0] for s in series}
    for size in sorted({k[2] for k in value}):
        for a in series:
            for b in series:
                if a == b:
                    continue
                diff = np.array([value[(*a, size, s)] - value[(*b, size, s)] for s in (0, 1)])
                if np.isclose(diff[0], diff[1], rtol=0, atol=1e-12):  # no spread: the sign decides (documented)
                    outcome = 1 if abs(diff[0]) <= 1e-12 else (0 if diff[0] > 0 else 2)
                else:
                    p = stats.ttest_rel(diff, np.zeros(2)).pvalue
                    outcome = 1 if not p < 0.05 else (0 if diff.mean() > 0 else 2)
                expected[a][outcome] += 1
    records = win_tie_loss(split_values(load_results(corpus_run / "results.parquet"), "accuracy"), "accuracy")
    assert {r.series: [r.wins, r.ties, r.losses] for r in records} == expected


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
    fig = tsne_figure(feats, CORPUS, max_points=100)  # 100 of the 2,000 rows: each label drawn, t-SNE cheap
    ax = fig.axes[0]
    assert len(ax.collections) == len(CORPUS_LABELS)
    assert len({tuple(c.get_facecolor()[0]) for c in ax.collections}) == len(CORPUS_LABELS), "a colour per label"
    assert sum(len(c.get_offsets()) for c in ax.collections) == 100
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
    curves = (run / "learning_curves.svg").read_text()
    assert curves.lstrip().startswith("<?xml") and "macro_f1" in curves
    assert "bert + logreg" in curves and "tfidf" not in curves and "mlp" not in curves
    assert (run / "bars_macro_f1_120.svg").read_text().lstrip().startswith("<?xml")
    assert not (run / "learning_curves.png").exists(), "the format asked for, only"
    with open(run / "win_tie_loss_macro_f1.csv") as fh:
        assert [(r["featurizer"], r["model"]) for r in csv.DictReader(fh)] == [("bert", "logreg")]
    # the labels needed for macro-F1 0.5, worked out from the results file: the first size whose mean
    # reaches it, or the crossing interpolated in log(size) between the two sizes around it
    rows = pq.read_table(run / "results.parquet").to_pylist()
    mean = {
        size: np.mean([r["value"] for r in rows if (r["featurizer"], r["model"], r["metric"], r["train_size"])
                       == ("bert", "logreg", "macro_f1", size)])
        for size in (30, 120)
    }  # fmt: skip
    if mean[30] >= 0.5:
        expected = 30.0
    elif mean[120] >= 0.5:
        expected = 30 * 4 ** ((0.5 - mean[30]) / (mean[120] - mean[30]))
    else:
        expected = None
    with open(run / "labels_needed_macro_f1.csv") as fh:
        (needed,) = list(csv.DictReader(fh))
    assert (needed["featurizer"], needed["model"]) == ("bert", "logreg")
    if expected is None:
        assert needed["labels_needed"] == "", mean
    else:
        assert float(needed["labels_needed"]) == pytest.approx(expected, abs=0.05), mean


@pytest.mark.parametrize(
    "args, message",
    [
        (("--run", "small", "--metric", "rouge"), "metric 'rouge' is not in these results"),
        (("--run", "ghost"), "no run 'ghost'"),
        (("--run", "small", "--datasets", "imdb"), "no dataset 'imdb' in these results"),
        (("--run", "small", "--confusion", "tweets:bert:logreg"), "expected DATASET:FEATURIZER:MODEL:SIZE"),
        (
            ("--run", "small", "--confusion", "tweets:bert:logreg:999"),
            "no confusion counts for tweets bert logreg at size 999",
        ),
    ],
)
def test_bad_requests_are_one_line_errors(run_workspace, args, message):
    """Checked before anything is drawn: the run's folder is left as it was."""
    run = run_workspace / "results" / "small"
    before = sorted(p.name for p in run.iterdir())
    result = invoke(run_workspace, "visualize", *args)
    assert result.exit_code == 1
    assert message in result.output and len(result.output.strip().splitlines()) == 1
    assert sorted(p.name for p in run.iterdir()) == before, "no figure written"


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


def test_report_renders_in_headless_chromium(drawn, tmp_path):
    """The report of the default visualize (that of run ``small``: see the test above)."""
    run_workspace, result = drawn
    run = run_workspace / "results" / "small"
    browser = _chromium()
    if browser is None:
        unavailable(
            "needs chromium to render report.html (Debian: apt-get install chromium chromium-driver; "
            ".ci/run installs it)"
        )
    assert result.exit_code == 0 and f"wrote {run / 'report.html'}" in result.output, result.output
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
    # bars, ranks, labels needed, cost chart, t-SNE, confusion matrix; the learning curves are inline SVG
    assert 'data-images="6/6"' in dom.stdout, "every embedded image decoded"
    assert dom.stdout.count('<figure class="interactive"><svg') == 1
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
        ("a", "cheap", "logreg", "stratified", 50): (0.05, 0.1),
        ("a", "dear", "logreg", "stratified", 50): (6.0, 0.2),
        ("a", "waste", "logreg", "stratified", 50): (8.0, 0.3),
        ("a", "tie", "logreg", "stratified", 50): (0.09, 0.1),
    }
    front = {p.cell.featurizer: p.pareto for p in cost_points(cells, costs)}
    # waste is dearer and worse than dear; tie scores like cheap at a higher cost
    assert front == {"cheap": True, "dear": True, "waste": False, "tie": False}
    losses = [dataclasses.replace(c, higher_is_better=False) for c in cells]  # for a loss, lower wins
    front = {p.cell.featurizer: p.pareto for p in cost_points(losses, costs)}
    assert front == {"cheap": True, "dear": False, "waste": True, "tie": False}  # the lowest loss, dearest
    fig = cost_accuracy(cost_points(cells, costs), "accuracy", "toy")
    assert fig.axes[0].get_xscale() == "log" and len(fig.axes[0].lines) >= 1, "the front is drawn as a line"


def _legend_colours(fig) -> dict[str, tuple]:
    """Legend label -> the RGB of its handle, whatever artist draws it (line, bar, patch, marker)."""
    from matplotlib.colors import to_rgb

    legends = [*fig.legends, *(ax.get_legend() for ax in fig.axes if ax.get_legend() is not None)]
    out = {}
    for legend in legends:
        for handle, text in zip(legend.legend_handles, legend.get_texts()):
            colour = handle.get_color() if hasattr(handle, "get_color") else handle.get_facecolor()
            out[text.get_text()] = to_rgb(colour)
    return out


def test_a_pair_has_one_colour_in_every_figure_of_a_report(tmp_path, monkeypatch):
    """glove + logreg has no measured cost, so the cost chart draws only three of the four pairs: a palette
    made per figure would shift tfidf + logreg's colour there. Every figure ``draw`` saves is inspected."""
    import enso_ng.visualize.draw as draw_module

    from conftest import write_run

    pairs = [("bert", "logreg"), ("glove", "logreg"), ("tfidf", "logreg"), ("tfidf", "mlp")]
    write_run(
        tmp_path,
        "made",
        {("d", f, m, n): [0.6 + 0.01 * i + n / 1e4] * 3 for i, (f, m) in enumerate(pairs) for n in (50, 100)},
    )
    results = tmp_path / "results" / "made" / "results.parquet"
    table = pq.read_table(results)
    cost = [None if f == "glove" else 2.0 for f in table.column("featurizer").to_pylist()]
    table = table.set_column(
        table.schema.get_field_index("predict_seconds_per_1k"), "predict_seconds_per_1k", pa.array(cost, pa.float64())
    )
    pq.write_table(table, results)
    figures = []
    original = draw_module.save
    monkeypatch.setattr(
        draw_module,
        "save",
        lambda fig, path: (figures.append((path.stem, _legend_colours(fig))), original(fig, path))[1],
    )
    result = invoke(tmp_path, "visualize", "--run", "made", "--no-tsne")
    assert result.exit_code == 0, result.output
    drawn = dict(figures)
    assert {"learning_curves", "bars_accuracy_100", "labels_needed_accuracy", "cost_accuracy"} <= set(drawn)
    assert "glove + logreg" not in drawn["cost_accuracy"] and "tfidf + logreg" in drawn["cost_accuracy"]
    colours: dict[str, set] = {}
    for legend in drawn.values():
        for label, rgb in legend.items():
            if label != "not reached":
                colours.setdefault(label, set()).add(rgb)
    assert set(colours) == {" + ".join(p) for p in pairs}
    assert all(len(c) == 1 for c in colours.values()), colours
    assert len({next(iter(c)) for c in colours.values()}) == len(pairs), "distinct pairs, distinct colours"


def _contrast(a, b) -> float:
    """WCAG contrast ratio of two colours (worked from the definition, not from enso_ng's helper)."""
    from matplotlib.colors import to_rgb

    def luminance(colour):
        lin = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in to_rgb(colour)]
        return 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2]

    high, low = sorted((luminance(a), luminance(b)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def test_numbers_on_heat_map_cells_contrast_with_the_cell():
    """Ranks 1 (bright yellow in viridis_r) to 4 (dark purple): each number at least 4.5:1 against its cell,
    WCAG's level for normal text. White on the yellow cell, as before, is about 1.1:1."""
    cells = [_cell(d, f, 50, m) for d in ("a", "b") for f, m in zip("wxyz", (0.9, 0.8, 0.7, 0.6))]
    fig = rank_heatmap(cells, "accuracy", "toy")
    ax = fig.axes[0]
    image = ax.images[0]
    texts = ax.texts
    assert len(texts) == 4
    for text in texts:
        x, y = text.get_position()
        cell = image.cmap(image.norm(image.get_array()[int(round(y)), int(round(x))]))
        assert _contrast(text.get_color(), cell) >= 4.5, (text.get_text(), text.get_color())


def test_figures_fit_a_laptop_screen():
    """At the report's 90 dpi no figure is wider than about 1,000 pixels, however many sizes or datasets."""
    from enso_ng.visualize.cost import cost_accuracy, cost_points

    sizes = [50, 100, 200, 500, 1000, 2000]
    cells = [_cell(d, f, n, 0.7) for d in ("a", "b", "c", "d", "e", "f") for f in ("p", "q", "r") for n in sizes]
    costs = {(c.dataset, c.featurizer, c.model, c.sampler, c.train_size): (1.0, 0.1) for c in cells}
    for fig in (
        learning_curves({"accuracy": cells, "macro_f1": cells}, "wide"),
        bars_at_size(cells, "accuracy", 50, "wide"),
        rank_heatmap(cells, "accuracy", "wide"),
        cost_accuracy(cost_points(cells, costs), "accuracy", "wide"),
    ):
        assert fig.get_size_inches()[0] <= 11.0


def _needs_a_browser() -> None:
    from browser import chromedriver, chromium

    if chromium() is None or chromedriver() is None:
        unavailable(
            "needs chromium and chromedriver to drive report.html (Debian: apt-get install chromium "
            "chromium-driver; .ci/run installs them)"
        )


def _two_dataset_run(root):
    """Two datasets, two pairs, two sizes, three seeds; on d, bert + logreg leads by 5 points on every seed."""
    from conftest import write_run

    values = {}
    for dataset, base in (("d", 0.70), ("e", 0.60)):
        for n, gain in ((50, 0.0), (200, 0.1)):
            values[(dataset, "tfidf", "logreg", n)] = [base + gain, base + gain + 0.01, base + gain - 0.01]
            values[(dataset, "bert", "logreg", n)] = [base + gain + 0.05, base + gain + 0.061, base + gain + 0.042]
    write_run(root, "made", values)
    result = invoke(root, "visualize", "--run", "made", "--no-tsne")
    assert result.exit_code == 0, result.output
    return root / "results" / "made" / "report.html", values


def test_the_verdicts_are_the_first_screen_of_the_report(tmp_path):
    """In a 1366 x 768 laptop window, the verdicts start on the first screen and end above the first figure."""
    _needs_a_browser()
    from browser import browser

    page, _ = _two_dataset_run(tmp_path)
    with browser(1366, 768) as b:
        b.open(page.as_uri())
        top, bottom, figure = b.run(
            "var v = document.getElementById('verdicts').getBoundingClientRect();"
            "return [v.top, v.bottom, document.querySelector('figure').getBoundingClientRect().top];"
        )
        assert 0 < top < 300 and bottom <= figure, (top, bottom, figure)
        first_screen = b.run(
            "var out = [];"
            "document.querySelectorAll('#verdicts dd').forEach(function (dd) {"
            "  if (dd.getBoundingClientRect().top < window.innerHeight) { out.push(dd.textContent); } });"
            "return out;"
        )
        assert any("bert + logreg is best at every size" in text for text in first_screen), first_screen
        shot = tmp_path / "first_screen.png"
        shot.write_bytes(b.screenshot())
        errors = [entry for entry in b.console() if entry.get("level") == "SEVERE"]
        assert not errors, errors
    import matplotlib.image

    pixels = matplotlib.image.imread(shot)[..., :3]
    assert (pixels.mean(axis=2) < 0.5).mean() > 0.005, "text drawn on the first screen"


def test_pointing_at_a_learning_curve_point_shows_its_numbers(tmp_path):
    _needs_a_browser()
    from browser import browser

    page, values = _two_dataset_run(tmp_path)
    with browser() as b:
        b.open(page.as_uri())
        targets = b.run(
            "return Array.prototype.map.call(document.querySelectorAll('figure svg g[id^=\"pt-\"]'), function (g) { return g.id; });"
        )
        assert len(targets) == 2 * 2 * 2, "datasets x pairs x sizes (the run has one metric)"
        seen = []
        for gid in targets:
            b.hover(b.element(f"g#{gid}"))
            shown, text = b.run("var t = document.getElementById('tip'); return [t.style.display, t.textContent];")
            assert shown == "block"
            seen.append(text)
        b.hover(b.element("h1"))
        assert b.run("return document.getElementById('tip').style.display;") == "none"
    # every point of the run, once, with its three split values as results.parquet holds them
    for (dataset, featurizer, model, size), per_seed in values.items():
        mean = np.mean(per_seed)
        lines = [dataset, f"{featurizer} + {model}", f"{size} labels"]
        matches = [t for t in seen if t.splitlines()[:3] == lines and f"accuracy {mean:.3f}" in t]
        assert len(matches) == 1, (lines, seen)
        for seed, value in enumerate(per_seed):
            assert f"seed {seed}: {value:.3f}" in matches[0]
        assert "95% CI [" in matches[0]


def test_tables_and_verdicts_filter_by_dataset(tmp_path):
    _needs_a_browser()
    from browser import browser

    page, _ = _two_dataset_run(tmp_path)
    visible = (
        "var out = {};"
        "document.querySelectorAll('table.sortable').forEach(function (t, i) {"
        "  Array.prototype.forEach.call(t.tBodies[0].rows, function (r) {"
        "    if (r.offsetParent !== null) { out[i] = (out[i] || []).concat([r.cells[0].textContent]); } }); });"
        "var verdicts = Array.prototype.filter.call(document.querySelectorAll('.verdict[data-dataset]'),"
        "  function (v) { return v.offsetParent !== null; }).map(function (v) { return v.dataset.dataset; });"
        "return [out, verdicts];"
    )
    with browser() as b:
        b.open(page.as_uri())
        tables, verdicts = b.run(visible)
        assert verdicts == ["d", "e"]
        b.click(b.element("#dataset-filter option[value='e']"))
        filtered, verdicts = b.run(visible)
    assert verdicts == ["e"]
    header = "Best featurizer + model per dataset and size (accuracy)"
    html = page.read_text()
    index = [t for t in re.findall(r"<h2>([^<]*)</h2>\s*(?:<p>[^<]*</p>\s*)?<table", html)].index(header)
    index += 1  # the verdicts' ranking table comes first
    assert sorted(set(tables[str(index)])) == ["d", "e"] and set(filtered[str(index)]) == {"e"}
    # a table without a dataset column (win/tie/loss) is left whole
    assert len(filtered[str(index + 1)]) == len(tables[str(index + 1)])
