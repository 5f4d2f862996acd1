"""The recipes of the README's Development section: each new part is registered in one place, then run
through the command line like the built-in ones. Data is generated here, so these run in any clone."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow.parquet as pq
import pytest

from enso_ng.download.entry import CATALOG, DatasetEntry, add, same
from enso_ng.download.parsers import csv_columns
from enso_ng.download.sources import UrlSource
from enso_ng.errors import EnsoError
from enso_ng.experiment.metrics import METRICS, Predictions, metric
from enso_ng.experiment.models import MODELS, TargetModel
from enso_ng.featurize.base import FEATURIZERS, Featurizer, register
from enso_ng.params import FRACTION, POSITIVE, Param
from enso_ng.workspace import sha256_file

from conftest import invoke, serve
from reliability import Finished, enso_session

WORDS = {
    "sport": ["goal", "match", "team", "score"],
    "music": ["song", "band", "album", "guitar"],
    "food": ["pasta", "bread", "spice", "soup"],
}


def _write_csv(path, rows: int = 240, seed: int = 0) -> None:
    """Three topics, each text mixing two of its words with two shared filler words."""
    rng = np.random.default_rng(seed)
    lines = ["text,label"]
    labels = sorted(WORDS)
    for i in range(rows):
        label = labels[i % 3]
        words = list(rng.choice(WORDS[label], 2)) + list(rng.choice(["the", "a", "today", "again"], 2))
        rng.shuffle(words)
        lines.append(f"{' '.join(words)} {i},{label}")
    path.write_text("\n".join(lines) + "\n")


def _import_topics(workspace: Path, *featurizers: str) -> Path:
    """The generated three-topic dataset, imported into ``workspace`` from a CSV file beside it, and
    featurized with each of ``featurizers``."""
    source = workspace.parent / f"{workspace.name}-topics.csv"
    _write_csv(source)
    steps = [
        ["download", "--from-file", str(source), "--name", "topics"],
        *(["featurize", "-f", f] for f in featurizers),
    ]
    for args in steps:
        result = invoke(workspace, *args)
        assert result.exit_code == 0, result.output
    return workspace


@pytest.fixture
def topics(tmp_path):
    """A workspace with a generated three-topic dataset imported from a CSV file."""
    return _import_topics(tmp_path / "ws")


def test_a_new_dataset_is_one_catalog_entry(tmp_path):
    served = tmp_path / "served"
    served.mkdir()
    _write_csv(served / "topics.csv")
    with serve(served) as base:
        add(
            DatasetEntry(
                name="toy_topics",
                task="topic",
                description="generated topics",
                files={None: UrlSource(f"{base}/topics.csv", sha256_file(served / "topics.csv"))},
                parser=csv_columns("text", "label"),
                labels=same("food", "music", "sport"),
                licence="CC0",
                citation="",
                homepage="",
                rows=240,
            )
        )
        try:
            listed = invoke(tmp_path, "download", "--list")
            fetched = invoke(tmp_path, "download", "toy_topics")
        finally:
            CATALOG.unregister("toy_topics")
    assert "toy_topics" in listed.output and "CC0" in listed.output
    assert fetched.exit_code == 0, fetched.output
    assert "240 rows (food 80, music 80, sport 80)" in fetched.output


@pytest.fixture
def length_featurizer():
    @register("lengths")
    class Lengths(Featurizer):
        summary = "characters and words per text"
        options = {"scale": Param(1.0, "multiplies both counts", interval=POSITIVE)}

        @property
        def dim(self) -> int:
            return 2

        def transform(self, texts: Sequence[str]) -> np.ndarray:
            scale = self.config["scale"]
            return np.array([[len(t) * scale, len(t.split()) * scale] for t in texts], dtype=np.float32)

    yield Lengths
    FEATURIZERS.unregister("lengths")


def test_a_new_featurizer_is_one_registered_class(topics, length_featurizer):
    listed = invoke(topics, "featurize", "--list")
    assert "lengths: characters and words per text" in listed.output and "scale = 1.0" in listed.output
    bad = invoke(topics, "featurize", "-f", "lengths", "-o", "scale=big")
    assert bad.exit_code == 1 and "option scale must be a number, not 'big'" in bad.output
    result = invoke(topics, "featurize", "-f", "lengths", "-o", "scale=2")
    assert result.exit_code == 0, result.output
    meta = json.loads(pq.read_schema(topics / "features" / "topics" / "lengths.parquet").metadata[b"enso_ng"])
    assert meta["params"] == {"scale": 2.0} and meta["dim"] == 2
    run = invoke(
        topics, "experiment", "-f", "lengths", "-m", "logreg", "--sizes", "30", "--splits", "2", "--name", "len"
    )
    assert run.exit_code == 0, run.output


@pytest.fixture
def centroid_model():
    @MODELS.register("centroid")
    class NearestCentroid(TargetModel):
        """Scores are minus the distance to each class mean."""

        param_spec = {"shrink": Param(help="pulls the centroids towards the origin", interval=FRACTION)}

        def __init__(self, shrink: float = 0.0, random_state: int = 0) -> None:
            self.shrink = shrink
            self.random_state = random_state

        def fit(self, X: Any, y: np.ndarray) -> NearestCentroid:
            X = np.asarray(X.todense() if hasattr(X, "todense") else X)
            self.classes_ = np.unique(y)
            self.centroids_ = np.stack([X[y == c].mean(0) for c in self.classes_]) * (1 - self.shrink)
            self.best_params_ = {"shrink": self.shrink}
            return self

        def decision_function(self, X: Any) -> np.ndarray:
            X = np.asarray(X.todense() if hasattr(X, "todense") else X)
            return -((X[:, None, :] - self.centroids_[None]) ** 2).sum(-1)

    yield NearestCentroid
    MODELS.unregister("centroid")


def test_a_new_model_is_one_registered_class(topics, centroid_model):
    assert invoke(topics, "featurize", "-f", "tfidf").exit_code == 0
    listed = invoke(topics, "experiment", "--list")
    assert "  centroid" in listed.output
    assert "shrink = 0.0: pulls the centroids towards the origin" in listed.output
    result = invoke(
        topics,
        "experiment",
        "-m",
        "centroid,logreg",
        "-o",
        "centroid.shrink=0.5",
        "--sizes",
        "30,90",
        "--splits",
        "2",
        "--name",
        "c",
    )
    assert result.exit_code == 0, result.output
    table = pq.read_table(topics / "results" / "c" / "results.parquet").to_pylist()
    centroid = [r for r in table if r["model"] == "centroid" and r["metric"] == "accuracy"]
    assert len(centroid) == 4 and min(r["value"] for r in centroid) > 0.6, "the topic words separate the classes"
    assert {json.loads(r["params"])["shrink"] for r in centroid} == {0.5}
    config = json.loads((topics / "results" / "c" / "config.json").read_text())
    assert config["config"]["model_params"] == {"centroid": {"shrink": 0.5}}
    assert "roc_auc" in {r["metric"] for r in table if r["model"] == "centroid"}, "decision scores serve ROC-AUC"
    assert "log_loss" not in {r["metric"] for r in table if r["model"] == "centroid"}, "no probabilities, no log-loss"
    bad = invoke(topics, "experiment", "-m", "centroid", "-o", "centroid.radius=2")
    assert bad.exit_code == 1 and "model 'centroid' has no parameter 'radius'" in bad.output


@pytest.fixture
def error_rate_metric():
    @metric("error_rate", higher_is_better=False)
    def error_rate(p: Predictions) -> float:
        return float((p.y_true != p.y_pred).mean())

    yield error_rate
    METRICS.unregister("error_rate")


def test_a_new_metric_is_one_decorated_function(topics, error_rate_metric):
    assert invoke(topics, "featurize", "-f", "tfidf").exit_code == 0
    result = invoke(
        topics,
        "experiment",
        "-m",
        "logreg",
        "--metrics",
        "error_rate,accuracy",
        "--sizes",
        "12,120",
        "--splits",
        "2",
        "--name",
        "e",
    )
    assert result.exit_code == 0, result.output
    config = json.loads((topics / "results" / "e" / "config.json").read_text())
    assert config["metrics"]["error_rate"] == {"higher_is_better": False}
    shown = invoke(topics, "visualize", "--run", "e", "--metrics", "error_rate", "--no-tsne", "--no-report")
    assert shown.exit_code == 0, shown.output
    table = pq.read_table(topics / "results" / "e" / "results.parquet").to_pylist()
    error = {r["train_size"]: [] for r in table}
    for r in table:
        if r["metric"] == "error_rate":
            error[r["train_size"]].append(r["value"])
    assert np.mean(error[120]) < np.mean(error[12]), "more labels, fewer errors"
    assert "labels for 95% of the best error_rate" in shown.output


def test_experiment_needs_no_plotting_library(topics):
    """``enso experiment`` prints its summary without importing matplotlib."""
    assert invoke(topics, "featurize", "-f", "tfidf").exit_code == 0
    script = textwrap.dedent("""
        import sys
        sys.modules["matplotlib"] = None  # any import of it fails
        from enso_ng.cli import main
        sys.argv = ["enso", "-q", "-w", sys.argv[1], "experiment", "-m", "logreg", "--sizes", "30", "--splits", "2"]
        main()
    """)
    done = subprocess.run([sys.executable, "-c", script, str(topics)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert "best featurizer x model per dataset and size" in done.stdout


def test_predicting_with_a_tfidf_model_needs_no_torch(topics, tmp_path):
    """Model modules are imported when their model is asked for (``Registry.lazy``): ``enso predict`` with a
    tf-idf + logreg folder never imports torch (about a second of every cold start) and scores as a process
    with everything imported does."""
    assert invoke(topics, "train", "-d", "topics", "-f", "tfidf", "-m", "logreg", "--name", "plain").exit_code == 0
    source = tmp_path / "texts.csv"
    source.write_text("text\nthe striker scored a goal\na guitar solo and drums\nbread soup and a salad\n")
    here, there = tmp_path / "here.parquet", tmp_path / "there.parquet"
    assert invoke(topics, "predict", "plain", str(source), "-o", str(here)).exit_code == 0
    script = textwrap.dedent("""
        import sys
        from enso_ng.cli import main
        sys.argv = ["enso", "-q", "-w", *sys.argv[1:]]
        try:
            main()
        finally:
            print("imported torch:", "torch" in sys.modules)
    """)
    args = [str(topics), "predict", "plain", str(source), "-o", str(there)]
    done = subprocess.run([sys.executable, "-c", script, *args], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[-1] == "imported torch: False"
    assert pq.read_table(there).to_pylist() == pq.read_table(here).to_pylist()
    assert len(pq.read_table(there)) == 3


def test_a_lazy_registry_entry_is_imported_on_first_use(tmp_path, monkeypatch):
    """A declared part is listed without importing its module, imported once when asked for, and a module
    that does not register what it was declared for, or a name declared twice, fails loudly."""
    from enso_ng.registry import Registry

    registry: Registry[type] = Registry("widget")
    (tmp_path / "widgets_here.py").write_text(
        "from test_extending_registry import REGISTRY\nIMPORTS = 1\n@REGISTRY.register('dial')\nclass Dial: pass\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setitem(sys.modules, "test_extending_registry", type(sys)("test_extending_registry"))
    sys.modules["test_extending_registry"].REGISTRY = registry
    registry.lazy("widgets_here", "dial", "knob")
    assert registry.names() == ["dial", "knob"] and "dial" in registry and "widgets_here" not in sys.modules
    with pytest.raises(EnsoError, match=r"unknown widget 'lever' \(known: dial, knob\)"):  # listed unimported
        registry.get("lever")
    assert registry.get("dial").__name__ == "Dial" and sys.modules["widgets_here"].IMPORTS == 1
    assert registry.get("dial") is sys.modules["widgets_here"].Dial
    with pytest.raises(ValueError, match="importing widgets_here did not register widget 'knob'"):
        registry.get("knob")
    with pytest.raises(ValueError, match="widget 'dial' is registered twice"):
        registry.lazy("elsewhere", "dial")
    with pytest.raises(ValueError, match="widget 'knob' is registered twice"):
        registry.register("knob")(type("Impostor", (), {}))
    monkeypatch.delitem(sys.modules, "widgets_here")


#: the edits three recipes of the README ask for, each made for real in a copy of the package: module ->
#: [(old, new), ...], each ``old`` replaced by ``new`` once
RECIPES = {
    # a run option: one field in ExperimentConfig
    "experiment/config.py": [
        (
            "\n    def split_seeds(self)",
            '\n    budget_minutes: int = run_option(60, "A time budget noted with the run.", interval=POSITIVE)\n'
            "\n    def split_seeds(self)",
        )
    ],
    # a model parameter: knn's argument and attribute (scikit-learn's contract) and its param_spec entry
    "experiment/models/neighbors.py": [
        (
            "param_spec = {",
            'param_spec = {"weights": Param(help="how neighbours vote", choices=("uniform", "distance")), ',
        ),
        ("        cv: int = 3,", "        weights: str = 'uniform',\n        cv: int = 3,"),
        ("        self.ks = ks\n", "        self.ks = ks\n        self.weights = weights\n"),
    ],
    # a featurizer option: one Param in tfidf.options
    "featurize/tfidf.py": [
        (
            '        "sublinear_tf":',
            '        "strip_digits": Param(False, "drop digits before counting"),\n        "sublinear_tf":',
        )
    ],
}


@pytest.fixture(scope="module")
def recipes(tmp_path_factory) -> tuple[Path, dict[str, Finished]]:
    """The package with the three RECIPES' edits, and what its commands did: each run as a fresh ``enso``
    process would (``enso_session``: one process imports the libraries, a child per command imports the
    edited package), on a topics workspace of the module's own; the experiments run on its default tf-idf
    features before the option's featurization replaces them. One session for the three recipes: each
    command is a fresh child all the same, and a second and third session only imported the libraries again."""
    import shutil

    import enso_ng

    folder = tmp_path_factory.mktemp("recipes")
    root, topics = folder / "edited", _import_topics(folder / "ws", "tfidf")
    shutil.copytree(Path(enso_ng.__file__).parent, root / "enso_ng", ignore=shutil.ignore_patterns("__pycache__"))
    for module, edits in RECIPES.items():
        path = root / "enso_ng" / module
        text = path.read_text()
        for old, new in edits:
            assert old in text, old
            text = text.replace(old, new, 1)
        path.write_text(text)
    (folder / "grid.toml").write_text("budget_minutes = 7\nsizes = [30]\nmodels = ['logreg']\n")
    commands = {
        "option-help": ["experiment", "--help"],
        "option-bad": ["experiment", "--budget-minutes", "-1", "--name", "never-budget"],
        "option-run": ["experiment", "-m", "logreg", "--sizes", "30", "--budget-minutes", "5", "--name", "b"],
        "option-file": ["experiment", "--config", str(folder / "grid.toml"), "--name", "f"],
        "param-list": ["experiment", "--list"],
        "param-bad": ["experiment", "-m", "knn", "-o", "knn.weights=far", "--name", "never-knn"],
        "param-run": ["experiment", "-m", "knn", "-o", "knn.weights=distance", "--sizes", "30", "--name", "w"],
        "featurizer-list": ["featurize", "--list"],
        "featurizer-bad": ["featurize", "-f", "tfidf", "-o", "strip_digits=maybe"],
        "featurizer-run": ["featurize", "-f", "tfidf", "-o", "strip_digits=yes"],
    }
    finished = enso_session(topics, *commands.values(), package=root)
    return topics, dict(zip(commands, finished))


def test_a_new_run_option_is_one_field(recipes):
    """One field in ``ExperimentConfig`` gives the flag and its help, the config-file key, the check and the
    value in config.json."""
    topics, done = recipes
    assert "--budget-minutes" in done["option-help"].stdout
    assert "A time budget noted with the run." in done["option-help"].stdout
    bad = done["option-bad"]
    assert bad.returncode == 1 and bad.stderr.strip() == "Error: --budget-minutes must be positive, not -1"
    assert not (topics / "results" / "never-budget").exists()
    assert done["option-run"].returncode == 0, done["option-run"].stderr
    assert json.loads((topics / "results" / "b" / "config.json").read_text())["config"]["budget_minutes"] == 5
    assert done["option-file"].returncode == 0, done["option-file"].stderr
    assert json.loads((topics / "results" / "f" / "config.json").read_text())["config"]["budget_minutes"] == 7


def test_a_new_model_parameter_is_its_argument_and_its_spec_entry(recipes):
    """``knn`` gains ``weights``: the argument and attribute (scikit-learn's contract) and its ``param_spec``
    entry, in the same class; ``--list``, ``-o`` parsing, the check and config.json follow."""
    topics, done = recipes
    assert "weights = 'uniform' [uniform | distance]: how neighbours vote" in done["param-list"].stdout
    bad = done["param-bad"]
    assert bad.returncode == 1
    assert bad.stderr.strip() == "Error: model 'knn': weights must be uniform or distance, not 'far'"
    assert not (topics / "results" / "never-knn").exists()
    assert done["param-run"].returncode == 0, done["param-run"].stderr
    config = json.loads((topics / "results" / "w" / "config.json").read_text())
    assert config["models"]["knn"]["params"]["weights"] == "distance"


def test_a_new_featurizer_option_is_one_entry(recipes):
    """One ``Param`` in ``tfidf.options``: listed, parsed and checked from ``-o``, and part of the cache key (the
    default tf-idf features already there are made again with the option)."""
    topics, done = recipes
    assert "strip_digits = False: drop digits before counting" in done["featurizer-list"].stdout
    bad = done["featurizer-bad"]
    assert bad.returncode == 1
    assert bad.stderr.strip() == "Error: featurizer 'tfidf': option strip_digits must be true or false, not 'maybe'"
    assert done["featurizer-run"].returncode == 0, done["featurizer-run"].stderr
    meta = json.loads(pq.read_schema(topics / "features" / "topics" / "tfidf.parquet").metadata[b"enso_ng"])
    assert meta["params"]["strip_digits"] is True
