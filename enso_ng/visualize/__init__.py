"""Stage 4: plots and summaries of ``results/<run>/``."""

from enso_ng.visualize.curves import learning_curves, save
from enso_ng.visualize.summary import Cell, best_table, format_table, load_results, summarize

__all__ = ["Cell", "best_table", "format_table", "learning_curves", "load_results", "save", "summarize"]
