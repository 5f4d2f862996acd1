"""Stage 4: plots, tables and the report of ``results/<run>/``.

Imported lazily: ``enso experiment`` prints its summary through :mod:`enso_ng.visualize.summary`, which
needs no plotting library, so a run never waits for (or needs) matplotlib.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

from enso_ng.visualize.summary import Cell, best_table, format_table, load_results, summarize

#: drawing needs matplotlib: imported on first use (``draw`` itself lives in :mod:`enso_ng.visualize.draw`)
_LAZY = {
    "learning_curves": "enso_ng.visualize.curves",
    "save": "enso_ng.visualize.curves",
    "Options": "enso_ng.visualize.draw",
    "resolve_run": "enso_ng.visualize.draw",
}

__all__ = [
    "Cell",
    "Options",
    "best_table",
    "format_table",
    "learning_curves",
    "load_results",
    "resolve_run",
    "save",
    "summarize",
]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'enso_ng.visualize' has no attribute {name!r}")
