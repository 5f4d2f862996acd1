"""Bars at one training size, grouped by dataset: the quick answer to "which one, at my budget?"."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

from enso_ng.errors import EnsoError
from enso_ng.visualize.style import Palette, series_colours, width
from enso_ng.visualize.summary import Cell


def bars_at_size(cells: list[Cell], metric: str, size: int, title: str, colours: Palette | None = None) -> plt.Figure:
    """One group of bars per dataset, a bar per featurizer x model, the 95% CI as an error bar."""
    chosen = [c for c in cells if c.train_size == size]
    if not chosen:
        sizes = sorted({c.train_size for c in cells})
        raise EnsoError(f"no results at size {size} (sizes: {', '.join(map(str, sizes))})")
    datasets = sorted({c.dataset for c in chosen})
    colours = colours or series_colours(cells)
    series = [s for s in colours if any((c.featurizer, c.model) == s for c in chosen)]
    bar = 0.8 / len(series)
    fig, ax = plt.subplots(figsize=(width(max(6.0, 1.2 + len(datasets) * len(series) * 0.35)), 4.2))
    for i, key in enumerate(series):
        heights, lows, highs, xs = [], [], [], []
        for j, dataset in enumerate(datasets):
            cell = next((c for c in chosen if c.dataset == dataset and (c.featurizer, c.model) == key), None)
            if cell is None:
                continue
            xs.append(j - 0.4 + bar * (i + 0.5))
            heights.append(cell.mean)
            lows.append(cell.mean - cell.ci_low)
            highs.append(cell.ci_high - cell.mean)
        if xs:
            ax.bar(xs, heights, bar, yerr=np.array([lows, highs]), capsize=2, color=colours[key], label=" + ".join(key))
    ax.set_xticks(range(len(datasets)), datasets, rotation=20, ha="right")
    ax.set_ylabel(metric)
    ax.set_xlabel("dataset")
    ax.set_title(f"{title}: {metric} at {size} training examples (mean, 95% CI)")
    ax.grid(True, axis="y", alpha=0.3)
    ax.legend(loc="center left", bbox_to_anchor=(1.0, 0.5), frameon=False, title="featurizer + model")
    fig.tight_layout()
    return fig
