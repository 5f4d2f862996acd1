"""Shared fixtures: a loopback HTTP server over ../shared/datasets, and prepared workspaces.

Tests never touch a non-loopback address. In a user's clone there is no ../shared; the tests that need
it skip with that reason.
"""

from __future__ import annotations

import contextlib
import functools
import http.server
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from enso_ng.cli import cli

SHARED_DATASETS = Path(__file__).resolve().parents[1].parent / "shared" / "datasets"


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:
        pass


@contextlib.contextmanager
def serve(directory: Path, handler: type = QuietHandler) -> Iterator[str]:
    """Serve ``directory`` on 127.0.0.1 (a free port) for the duration of the block; yield the base URL."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(handler, directory=str(directory)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def invoke(workspace: Path, *args: str) -> Result:
    """Run ``enso -q --workspace WORKSPACE ARGS`` in-process."""
    return CliRunner().invoke(cli, ["-q", "--workspace", str(workspace), *args], catch_exceptions=False)


@pytest.fixture(scope="session")
def mirror() -> Iterator[str]:
    """A mirror root (``URL/HOST/PATH``) served from ../shared/datasets, which holds raw.githubusercontent.com."""
    if not SHARED_DATASETS.is_dir():
        pytest.skip(f"needs ../shared/datasets beside the repo (not found at {SHARED_DATASETS})")
    with serve(SHARED_DATASETS) as base:
        yield base


@pytest.fixture(scope="session")
def trec_workspace(tmp_path_factory, mirror) -> Path:
    """A workspace with TREC downloaded and featurized with bert and tfidf (built once per session)."""
    root = tmp_path_factory.mktemp("trec")
    for args in (["download", "trec", "--mirror", mirror], ["featurize", "-f", "bert", "-f", "tfidf"]):
        result = invoke(root, *args)
        assert result.exit_code == 0, result.output
    return root


@pytest.fixture(scope="session")
def trec_run(trec_workspace) -> Path:
    """A small finished experiment on TREC: 2 sizes x 2 splits x 2 featurizers x 2 models."""
    result = invoke(trec_workspace, "experiment", "--sizes", "30,120", "--splits", "2", "--name", "small")
    assert result.exit_code == 0, result.output
    return trec_workspace / "results" / "small"
