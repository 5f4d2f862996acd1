"""Names that become paths: every dataset, featurizer, run, model or figure name a user gives passes one
check (``enso_ng.workspace.name_path``) and lands strictly inside the folder it belongs to, or the command
fails with one ``Error:`` line naming the option and writes nothing (issue 30, items 1, 2 and 5)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from enso_ng.errors import EnsoError
from enso_ng.workspace import Workspace, name_path

from conftest import invoke
from reliability import one_line_error, tiny_csv, tiny_workspace


def everything(root: Path) -> set[Path]:
    return {p for p in root.rglob("*")}


# ---------------------------------------------------------------- the one function, property-based

HOSTILE = [
    "..",
    ".",
    "../x",
    "../../outside/victim",
    "/etc/passwd",
    "/tmp/x",
    "a/b",
    "a\\b",
    "ok\n",
    "ok\r",
    "\nok",
    "a\x00b",
    "",
    " ",
    "ok ",
    "a..b",
    "...",
    ".hidden",
    "-rf",
    "a\uff0fb",  # fullwidth solidus
    "a\u2215b",  # division slash
    "\uff0e\uff0e",  # fullwidth full stops
    "a\u2024\u2024b",  # one-dot leaders
    "\u2025",  # two-dot leader
    "caf\u00e9",
    "\uff41",  # fullwidth a
    "x" * 300,
]

name_chars = st.sampled_from(
    list("aZ09_-./\\\n\r\t\x00 ~$:*?") + ["\uff0f", "\u2215", "\uff0e", "\u2024", "\u00e9", "\u0131"]
)


@st.composite
def hostile_names(draw) -> str:
    """Plain names, traversal pieces, absolute paths, control characters and Unicode look-alikes, mixed."""
    parts = draw(
        st.lists(
            st.one_of(
                st.sampled_from(HOSTILE),
                st.text(name_chars, max_size=6),
                st.text(max_size=4),
                st.sampled_from(["ok", "tiny", "r1", "a.b", "x_1-2"]),
            ),
            min_size=1,
            max_size=4,
        )
    )
    return "".join(parts)


def _strictly_one_below(path: Path, parent: Path) -> bool:
    """``path`` is one plain entry of ``parent``: no '..', no separator, nothing absolute, nothing hidden."""
    name = path.name
    return (
        path.parent == parent
        and os.path.normpath(path) == str(path)
        and name not in ("", ".", "..")
        and not name.startswith(".")
        and "/" not in name
        and "\x00" not in name
        and "\n" not in name
        and name.isascii()
        and os.path.realpath(path).startswith(os.path.realpath(parent) + os.sep)
    )


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(name=hostile_names(), suffix=st.sampled_from(["", ".parquet", ".png"]))
def test_a_name_becomes_a_path_strictly_inside_its_folder_or_is_refused(tmp_path_factory, name, suffix):
    parent = Path("/work/ws/results").resolve()
    try:
        path = name_path(parent, name, "--name", suffix)
    except EnsoError as exc:
        message = str(exc)
        assert message.startswith("--name ") and "\n" not in message and len(message) < 400
        return
    assert _strictly_one_below(path, parent), (name, path)
    assert path.name == name + suffix


@settings(max_examples=200, deadline=None)
@given(dataset=hostile_names(), featurizer=hostile_names(), run=hostile_names())
def test_every_workspace_path_is_inside_its_folder_or_refused(dataset, featurizer, run):
    ws = Workspace(Path("/work/ws"))
    for make, parent in (
        (lambda: ws.dataset_path(dataset), ws.datasets_dir),
        (lambda: ws.run_dir(run), ws.results_dir),
        (lambda: ws.model_dir(run), ws.root / "models"),
    ):
        try:
            path = make()
        except EnsoError:
            continue
        assert _strictly_one_below(path, parent)
    try:
        features = ws.features_path(dataset, featurizer)
    except EnsoError:
        return
    assert _strictly_one_below(features.parent, ws.features_dir) and _strictly_one_below(features, features.parent)


@pytest.mark.parametrize("name", HOSTILE)
def test_each_listed_hostile_name_is_refused(name):
    with pytest.raises(EnsoError, match=r"^-d/--datasets "):
        name_path(Path("/w/datasets"), name, "-d/--datasets", ".parquet")


@pytest.mark.parametrize("name", ["tiny", "sst2", "rotten_tomatoes", "my-data.v2", "A1", "x" * 100])
def test_plain_names_are_accepted(name):
    assert name_path(Path("/w/datasets"), name, "-d", ".parquet") == Path("/w/datasets") / f"{name}.parquet"


# ---------------------------------------------------------------- every option that names something, on the CLI


@pytest.fixture
def tiny(tmp_path) -> Path:
    """A workspace with datasets/tiny.parquet and features/tiny/tfidf.parquet, and a folder beside it that a
    traversal would reach: ``outside/victim.parquet`` (a copy of the dataset) with a stale-looking temp file."""
    root = tiny_workspace(tmp_path / "ws")
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "victim.parquet").write_bytes((root / "datasets" / "tiny.parquet").read_bytes())
    (outside / "victim").mkdir()
    (outside / "victim" / "tfidf.parquet").write_bytes((root / "features" / "tiny" / "tfidf.parquet").read_bytes())
    for folder in (outside, outside / "victim"):
        (folder / ".keep.parquet.999999999.tmp").write_text("not ours to clean")
    return root


def _refused(root: Path, args: list[str], option: str) -> None:
    """The command fails with one Error line naming ``option``, and nothing in or beside the workspace changes."""
    outside = root.parent / "outside"
    before, beside = everything(root), everything(outside)
    result = invoke(root, *args)
    one_line_error(result, option)
    assert everything(root) == before, sorted(map(str, everything(root) - before))
    assert everything(outside) == beside, sorted(map(str, everything(outside) ^ beside))


TRAVERSALS = [
    "../outside/victim",
    "../../outside/victim",
    "/etc/passwd",
    "ok\n",
    "a\x00b",
    "a\uff0fb",
    "a\u2215b",
    "..",
]


@pytest.mark.parametrize("name", TRAVERSALS)
def test_featurize_dataset_option_is_checked(tiny, name):
    _refused(tiny, ["featurize", "-f", "tfidf", "-d", name], "-d/--datasets")


def test_featurize_dataset_absolute_path_is_refused(tiny):
    _refused(tiny, ["featurize", "-f", "tfidf", "-d", str(tiny.parent / "outside" / "victim")], "-d/--datasets")


@pytest.mark.parametrize("name", ["../outside/victim", "ok\n", "a\uff0fb"])
def test_experiment_dataset_and_featurizer_options_are_checked(tiny, name):
    _refused(tiny, ["experiment", "-d", name, "-f", "tfidf", "--sizes", "10", "--name", "r"], "--datasets")
    _refused(tiny, ["experiment", "-d", "tiny", "-f", name, "--sizes", "10", "--name", "r"], "--featurizers")


@pytest.mark.parametrize("name", ["r1\n", "../r1", "/tmp/r1", "r\x00", "r\uff0f1"])
def test_run_names_are_checked(tiny, name):
    _refused(tiny, ["experiment", "-d", "tiny", "-f", "tfidf", "--sizes", "10", "--name", name], "--name")
    _refused(tiny, ["visualize", "--run", name], "--run")


@pytest.mark.parametrize("name", ["ok\n", "../ok", "/tmp/ok", "ok\uff0f", "\u00e9t\u00e9"])
def test_import_name_is_checked(tiny, name):
    source = tiny_csv(tiny.parent / "import.csv")
    _refused(tiny, ["download", "--from-file", str(source), "--name", name], "--name")


def test_download_catalog_names_are_checked(tiny):
    _refused(tiny, ["download", "../outside/victim"], "download")


@pytest.fixture
def tiny_run(tiny) -> Path:
    result = invoke(
        tiny,
        "experiment",
        "-d",
        "tiny",
        "-f",
        "tfidf",
        "-m",
        "logreg",
        "--sizes",
        "12,24",
        "--splits",
        "2",
        "--name",
        "r",
        "--metrics",
        "accuracy",
    )
    assert result.exit_code == 0, result.output
    return tiny


@pytest.mark.parametrize(
    "choice",
    [
        "../../../outside/victim:tfidf",
        "../outside/victim:tfidf",
        "tiny:../../../outside/victim/tfidf",
        "tiny:tfidf\n",
        "/etc:passwd",
        "tiny\uff0f..:tfidf",
    ],
)
def test_visualize_tsne_names_are_checked(tiny_run, choice):
    _refused(tiny_run, ["visualize", "--run", "r", "--tsne", choice, "--no-report"], "--tsne")


@pytest.mark.parametrize("choice", ["../x:tfidf:logreg:24", "tiny:../../x:logreg:24", "tiny:tfidf:a/b:24"])
def test_visualize_confusion_names_are_checked(tiny_run, choice):
    _refused(tiny_run, ["visualize", "--run", "r", "--confusion", choice, "--no-tsne"], "--confusion")


@pytest.mark.parametrize("option", ["-d", "-f", "-m"])
def test_visualize_selections_are_checked(tiny_run, option):
    _refused(tiny_run, ["visualize", "--run", "r", option, "../x", "--no-tsne"], option)


def test_the_tsne_map_of_a_plain_name_still_lands_in_the_run(tiny_run):
    result = invoke(tiny_run, "visualize", "--run", "r", "--tsne", "tiny:tfidf", "--no-report")
    assert result.exit_code == 0, result.output
    assert (tiny_run / "results" / "r" / "tsne_tiny_tfidf.png").is_file()


def test_datasets_with_names_the_check_refuses_are_not_picked_up_by_default(tiny):
    """A file dropped into datasets/ under a name no option could spell is left alone, not featurized."""
    (tiny / "datasets" / "bad name\n.parquet").write_bytes((tiny / "datasets" / "tiny.parquet").read_bytes())
    result = invoke(tiny, "featurize", "-f", "tfidf")
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in (tiny / "features").iterdir()) == ["tiny"]


def test_temp_files_outside_the_workspace_are_never_cleaned(tiny):
    """The stale-temp sweep of a write reaches only folders inside the workspace, even when -d tries a way out."""
    stale = [
        tiny.parent / "outside" / ".keep.parquet.999999999.tmp",
        tiny.parent / "outside" / "victim" / ".keep.parquet.999999999.tmp",
    ]
    for name in ("../outside", "../../outside/victim", str(tiny.parent / "outside" / "victim")):
        invoke(tiny, "featurize", "-f", "tfidf", "-d", name, "--force")
        invoke(tiny, "download", "--from-file", str(tiny_csv(tiny.parent / "i.csv")), "--name", name)
    assert all(p.exists() for p in stale)
