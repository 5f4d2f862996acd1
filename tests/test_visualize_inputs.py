"""What ``enso visualize`` reads and draws from data it did not choose (issue 30): labels holding ``$`` are
drawn literally, not as matplotlib mathtext (item 13); a hand-edited config.json or results.parquet is
refused by the contracts in ``enso_ng.formats`` with the file named (item 20)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from enso_ng.errors import EnsoError
from enso_ng.formats import RunRecord, read_results

from conftest import invoke, write_run
from reliability import one_line_error, tiny_run

DOLLAR_LABELS = ("$US_$EUR", "$x^2$", "a$b", "$\\frac{1}{0}$")


@pytest.fixture(scope="module")
def dollar_run(tmp_path_factory) -> Path:
    return tiny_run(tmp_path_factory.mktemp("dollar") / "ws", DOLLAR_LABELS, 80)


@pytest.mark.parametrize("fmt", ["png", "svg"])
def test_labels_with_dollars_are_drawn_by_visualize(dollar_run, tmp_path, fmt):
    root = Path(shutil.copytree(dollar_run, tmp_path / "ws"))
    result = invoke(root, "visualize", "--run", "r", "--tsne", "tiny:tfidf", "--format", fmt)
    assert result.exit_code == 0, result.output
    run = root / "results" / "r"
    assert (run / f"tsne_tiny_tfidf.{fmt}").is_file() and list(run.glob(f"confusion_*.{fmt}"))
    report = (run / "report.html").read_text()
    assert "$US_$EUR" in report


def test_label_text_is_never_parsed_as_mathtext():
    """The figures' text objects draw a label's characters as they are: '$x$' stays three characters."""
    from matplotlib.text import Text

    from enso_ng.visualize.confusion import confusion_figure

    fig = confusion_figure(list(DOLLAR_LABELS), np.eye(len(DOLLAR_LABELS), dtype=int), "t")
    texts = [t for t in fig.findobj(Text) if "$" in t.get_text()]
    assert texts and all(not t.get_parse_math() for t in texts)
    fig.canvas.draw()  # renders without a mathtext error


# ---------------------------------------------------------------- hand-edited run files


@pytest.fixture
def run_folder(tmp_path) -> Path:
    return write_run(
        tmp_path, "r", {("d", "tfidf", "logreg", 10): [0.5, 0.6], ("d", "tfidf", "logreg", 20): [0.7, 0.8]}
    )


@pytest.mark.parametrize(
    "key, value",
    [
        ("models", 5),
        ("config", None),
        ("config", [1, 2]),
        ("metrics", "accuracy"),
        ("metrics", {"accuracy": True}),
        ("models", {"logreg": "frozen"}),
        ("split_seeds", "0,1"),
        ("split_seeds", [0, "a"]),
        ("skipped", {"reason": "x"}),
        ("skipped", ["x"]),
        ("size_unit", 3),
        ("state", None),
        ("datasets", []),
        ("machine", "x"),
        ("versions", 1),
    ],
)
def test_a_config_json_of_wrong_types_is_one_line_naming_the_file(run_folder, key, value):
    path = run_folder / "config.json"
    data = json.loads(path.read_text())
    data[key] = value
    path.write_text(json.dumps(data))
    with pytest.raises(EnsoError, match=r"config\.json: ") as caught:
        RunRecord.read(run_folder)
    assert "\n" not in str(caught.value) and key in str(caught.value)
    one_line_error(invoke(run_folder.parents[1], "visualize", "--run", "r", "--no-tsne"), "config.json", key)


@pytest.mark.parametrize(
    "column, bad", [("value", float("nan")), ("value", float("inf")), ("fit_seconds", float("nan"))]
)
def test_a_results_file_with_a_non_finite_number_is_one_line_naming_the_file(run_folder, column, bad):
    path = run_folder / "results.parquet"
    table = pq.read_table(path)
    values = table.column(column).to_pylist()
    values[1] = bad
    table = table.set_column(table.schema.get_field_index(column), column, pa.array(values, pa.float64()))
    pq.write_table(table, path)
    with pytest.raises(EnsoError, match=r"results\.parquet: ") as caught:
        read_results(path)
    assert column in str(caught.value)
    one_line_error(invoke(run_folder.parents[1], "visualize", "--run", "r", "--no-tsne"), "results.parquet", column)


def test_a_plain_run_still_reads(run_folder):
    result = invoke(run_folder.parents[1], "visualize", "--run", "r", "--no-tsne")
    assert result.exit_code == 0, result.output
