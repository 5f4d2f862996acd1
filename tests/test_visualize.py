"""`enso visualize`: learning-curve figures from a real results file."""

import pytest

from conftest import invoke
from enso_ng.errors import EnsoError
from enso_ng.visualize import learning_curves, load_results, summarize


def test_visualize_latest_run_writes_png_and_table(trec_workspace, trec_run):
    result = invoke(trec_workspace, "visualize", "--run", "small")
    assert result.exit_code == 0, result.output
    png = trec_run / "learning_curves_accuracy.png"
    assert f"wrote {png}" in result.output
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 10_000
    assert "bert" in result.output and "95% CI" in result.output


def test_figure_has_a_panel_per_dataset_and_a_line_per_series(trec_run):
    cells = summarize(load_results(trec_run / "results.parquet"), "macro_f1")
    fig = learning_curves(cells, "macro_f1", "small")
    visible = [ax for ax in fig.axes if ax.get_visible()]
    assert [ax.get_title() for ax in visible] == ["trec"]
    labels = sorted(line.get_label() for line in visible[0].get_lines())
    assert labels == ["bert + logreg", "bert + mlp", "tfidf + logreg", "tfidf + mlp"]
    assert visible[0].get_xscale() == "log"
    assert len(visible[0].collections) == 4, "one confidence band per series"
    for cell in cells:
        assert cell.ci_low <= cell.mean <= cell.ci_high and cell.n == 2


def test_svg_and_other_metric(trec_workspace, trec_run):
    result = invoke(trec_workspace, "visualize", "--run", "small", "--metric", "macro_f1", "--format", "svg")
    assert result.exit_code == 0, result.output
    assert (trec_run / "learning_curves_macro_f1.svg").read_text().lstrip().startswith("<?xml")


def test_bad_requests_are_one_line_errors(trec_workspace, trec_run, tmp_path):
    result = invoke(trec_workspace, "visualize", "--run", "small", "--metric", "rouge")
    assert result.exit_code != 0 and "metric 'rouge' is not in these results" in result.output
    result = invoke(trec_workspace, "visualize", "--run", "ghost")
    assert result.exit_code != 0 and "no run 'ghost'" in result.output
    result = invoke(tmp_path, "visualize")
    assert result.exit_code != 0 and "no runs in" in result.output
    with pytest.raises(EnsoError):
        load_results(tmp_path / "missing.parquet")
