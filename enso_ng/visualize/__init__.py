"""Stage 4: plots, tables and the report of ``results/<run>/``."""

from enso_ng.visualize.curves import learning_curves, save
from enso_ng.visualize.draw import Options, draw, resolve_run
from enso_ng.visualize.summary import Cell, best_table, format_table, load_results, summarize

__all__ = ["Cell", "Options", "best_table", "draw", "format_table", "learning_curves", "load_results",
           "resolve_run", "save", "summarize"]
