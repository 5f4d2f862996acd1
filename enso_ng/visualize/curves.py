"""Learning curves: score against training size, one panel per dataset, a line per featurizer x model."""

from __future__ import annotations

import math
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only; never needs a display
import matplotlib.pyplot as plt  # noqa: E402

from enso_ng.visualize.summary import Cell  # noqa: E402
from enso_ng.workspace import atomic_path  # noqa: E402


def learning_curves(cells: list[Cell], metric: str, title: str) -> plt.Figure:
    """Mean across split seeds as a line, its 95% confidence interval as a band; log-scaled sizes."""
    datasets = sorted({c.dataset for c in cells})
    series = sorted({(c.featurizer, c.model) for c in cells})
    columns = min(3, len(datasets))
    rows = math.ceil(len(datasets) / columns)
    fig, axes = plt.subplots(rows, columns, figsize=(4.8 * columns + 2.2, 3.6 * rows), squeeze=False)
    colours = plt.get_cmap("tab10")
    for ax, dataset in zip(axes.flat, datasets):
        for i, (featurizer, model) in enumerate(series):
            points = sorted((c for c in cells if c.dataset == dataset and (c.featurizer, c.model) == (featurizer, model)),
                            key=lambda c: c.train_size)
            if not points:
                continue
            x = [c.train_size for c in points]
            ax.plot(x, [c.mean for c in points], marker="o", markersize=3, color=colours(i % 10),
                    label=f"{featurizer} + {model}")
            ax.fill_between(x, [c.ci_low for c in points], [c.ci_high for c in points], color=colours(i % 10), alpha=0.2)
        ax.set_xscale("log")
        sizes = sorted({c.train_size for c in cells if c.dataset == dataset})
        ax.set_xticks(sizes, [str(s) for s in sizes])
        ax.minorticks_off()
        ax.set_title(dataset)
        ax.set_xlabel("labelled training examples")
        ax.set_ylabel(metric)
        ax.grid(True, which="both", alpha=0.3)
    for ax in list(axes.flat)[len(datasets):]:
        ax.set_visible(False)
    handles, labels = axes.flat[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="center left", bbox_to_anchor=(1.0, 0.5), frameon=False)
    fig.suptitle(f"{title}: {metric} (mean and 95% CI across splits)")
    fig.tight_layout()
    return fig


def save(fig: plt.Figure, path: Path) -> Path:
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format=path.suffix.lstrip("."), dpi=120, bbox_inches="tight")
    plt.close(fig)
    return path
